"""A ``--server-cmd`` that daemonizes: ``daemon_server.py PORT EVENTS [exit]``.

Its grandchild leaves the session (``setsid``) and the tree (its parent exits), echoes
on PORT and appends ``pid N`` to EVENTS once it listens. The parent then waits for ever,
or with ``exit`` exits 0 at once, as a classic daemon does.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time


def echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def main() -> None:
    port, events = int(sys.argv[1]), sys.argv[2]
    listening = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork():  # the double fork: its child is nobody's descendant but init's
            os._exit(0)
        listener = socket.create_server(("127.0.0.1", port))
        with open(events, "a") as f:
            f.write(f"pid {os.getpid()}\n")
        os.write(listening[1], b"x")
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=echo, args=(conn,), daemon=True).start()
    os.read(listening[0], 1)
    if sys.argv[3:] == ["exit"]:
        return
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
