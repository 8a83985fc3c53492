"""A ``--server-cmd`` that is hard to stop: ``stubborn_server.py PORT EVENTS [never]``.

It ignores SIGTERM and forks a child that leaves its process group (not its session);
both append ``pid N`` to the EVENTS file. Then it echoes on PORT and appends ``conn``
per connection accepted, or with ``never`` it never listens at all.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time


def say(path: str, line: str) -> None:
    with open(path, "a") as f:
        f.write(line + "\n")


def echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def main() -> None:
    port, events = int(sys.argv[1]), sys.argv[2]
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        os.setpgid(0, 0)
        say(events, f"pid {os.getpid()}")
        while True:
            time.sleep(60)
    say(events, f"pid {os.getpid()}")
    if sys.argv[3:] == ["never"]:
        while True:
            time.sleep(60)
    listener = socket.create_server(("127.0.0.1", port))
    while True:
        conn, _ = listener.accept()
        say(events, "conn")
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
