"""Reference ``selectors`` echo: one thread, non-blocking sockets, unsent bytes kept."""

import selectors

from _listen import listener, nodelay

sel = selectors.DefaultSelector()
sock = listener()
sock.setblocking(False)
sel.register(sock, selectors.EVENT_READ)
pending = {}  # conn -> bytes the kernel did not take yet

while True:
    for key, events in sel.select():
        conn = key.fileobj
        if conn is sock:
            try:
                conn, _ = sock.accept()
            except BlockingIOError:  # prefork: another process took it
                continue
            conn.setblocking(False)
            nodelay(conn)
            sel.register(conn, selectors.EVENT_READ)
            continue
        try:
            data = pending.pop(conn, b"") if events & selectors.EVENT_WRITE else conn.recv(65536)
            if not data and not events & selectors.EVENT_WRITE:
                raise ConnectionError
            sent = conn.send(data) if data else 0
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            sel.unregister(conn)
            conn.close()
            continue
        if sent < len(data):  # client slow: stop reading it until this goes out
            pending[conn] = data[sent:]
            sel.modify(conn, selectors.EVENT_WRITE)
        elif events & selectors.EVENT_WRITE:
            sel.modify(conn, selectors.EVENT_READ)
