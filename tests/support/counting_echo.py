"""An echo server in a thread that notes when it sent each reply, to check the generator's count."""

from __future__ import annotations

import selectors
import socket
import threading
import time
from types import TracebackType


class CountingEcho:
    """Echoes fixed-size messages on 127.0.0.1; ``sent_ns`` holds each reply's monotonic time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent_ns: list[int] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def replies_between(self, start_ns: int, end_ns: int) -> int:
        return sum(1 for t in list(self.sent_ns) if start_ns <= t < end_ns)

    def __enter__(self) -> CountingEcho:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        pending: dict[socket.socket, bytes] = {}
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in sel.select(0.1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        conn, _ = sock.accept()
                        conn.setblocking(True)
                        sel.register(conn, selectors.EVENT_READ)
                        pending[conn] = b""
                        continue
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(sock)
                        sock.close()
                        pending.pop(sock, None)
                        continue
                    buf = pending[sock] + data
                    while len(buf) >= self.size:
                        message, buf = buf[: self.size], buf[self.size :]
                        self.sent_ns.append(time.monotonic_ns())
                        try:
                            sock.sendall(message)
                        except OSError:
                            break
                    pending[sock] = buf
            for sock in pending:
                sock.close()
