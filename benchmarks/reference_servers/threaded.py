"""Reference ``threaded`` echo: one thread per connection, blocking recv/sendall."""

import threading

from _listen import blocking_echo, listener

sock = listener()
while True:
    conn, _ = sock.accept()
    threading.Thread(target=blocking_echo, args=(conn,), daemon=True).start()
