"""What every reference server shares: ``tcp:PORT`` or ``unix:PATH`` -> a listener.

Prints ``READY`` once listening, so the benchmark knows when to start the client.
"""

from __future__ import annotations

import os
import socket
import sys


def listener() -> socket.socket:
    kind, _, where = sys.argv[1].partition(":")
    if kind == "unix":
        if os.path.exists(where):
            os.unlink(where)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(where)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", int(where)))
    sock.listen(4096)
    print("READY", flush=True)
    return sock


def nodelay(conn: socket.socket) -> None:
    if conn.family != socket.AF_UNIX:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def blocking_echo(conn: socket.socket) -> None:
    """The threaded and threadpool references' connection loop."""
    with conn:
        nodelay(conn)
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except ConnectionError:  # a client that leaves with a reset
            pass
