"""A TCP echo server that exits with code 3 after a number of replies: a server dying mid-run.

    python tests/support/crash_echo.py PORT REPLIES

Stands in for the user's server that crashes under load; a real process, so the
run sees a real exit code and real stderr.
"""

from __future__ import annotations

import os
import selectors
import socket
import sys


def main() -> None:
    port, limit = int(sys.argv[1]), int(sys.argv[2])
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    replies = 0
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is listener:
                conn, _ = listener.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(sock)
                sock.close()
                continue
            sock.send(data)
            replies += 1
            if replies >= limit:
                print(f"crash_echo: giving up after {replies} replies", file=sys.stderr, flush=True)
                os._exit(3)


if __name__ == "__main__":
    main()
