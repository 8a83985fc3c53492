"""Servers whose truth past the knee is known from their own logs (issue 25).

    python -m tests.support.knee_servers slow --service-ms 5 --size 64 --log FILE
    python -m tests.support.knee_servers nth --every 10 --answer error --log FILE
    python -m tests.support.knee_servers silent-after --after 1.5
    python -m tests.support.knee_servers idle-close --idle-ms 50 --log FILE

- ``slow``: a thread per TCP connection, each request of ``--size`` bytes answered
  (echoed) ``--service-ms`` after it was read, so capacity is connections / service
  time (4 connections x 5 ms: 800 req/s). On SIGTERM it writes the wall-clock time
  (``time.time()``) of every reply it sent to ``--log``, one per line.
- ``nth``: a line server for ``examples/kv_plugin.py``: ``OK`` to every line, but every
  ``--every``-th reply on a connection is ``ERR full`` (``--answer error``, a
  well-framed error) or ``???`` (``--answer garbage``, malformed). On SIGTERM it writes
  ``lines errors garbage``: what it received and answered so, in all.
- ``silent-after``: a UDP echo that stops answering ``--after`` seconds after its
  first datagram.
- ``late-accept``: a TCP echo (a thread per connection) listening with a backlog of
  ``--backlog`` that accepts nothing until the kernel has dropped a handshake at its
  full queue (its own count, ``SO_MEMINFO``), then everything. On SIGTERM it writes that
  count, read again, to ``--log``.
- ``idle-close``: a TCP echo (a thread per connection) that closes a connection once it
  has been idle ``--idle-ms``, a fresh one included, as uvicorn's keep-alive timeout
  does. On SIGTERM it writes ``connections idle_closes``: what it accepted and closed so.

Each prints ``READY <port>`` once listening on 127.0.0.1 and exits on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from sockbench.engine.io.kernel_drops import receive_drops

Handler = Callable[[bytes, Callable[[bytes], None]], bytes]


def _serve(listener: socket.socket, handler: Callable[[], Handler]) -> None:
    """Accept forever, a thread per connection: each read goes to the connection's own
    ``handler()``, which sends what it answers and returns the bytes it did not use."""

    def serve(conn: socket.socket) -> None:
        handle = handler()
        with conn:
            buf = b""
            try:
                while data := conn.recv(65536):
                    buf = handle(buf + data, conn.sendall)
            except OSError:
                return

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def _slow(size: int, service_s: float, log: list[float]) -> Callable[[], Handler]:
    def handler() -> Handler:
        def handle(buf: bytes, send: Callable[[bytes], None]) -> bytes:
            while len(buf) >= size:
                request, buf = buf[:size], buf[size:]
                time.sleep(service_s)
                send(request)
                log.append(time.time())
            return buf

        return handle

    return handler


def _nth(every: int, answer: bytes, counts: list[int]) -> Callable[[], Handler]:
    lock = threading.Lock()

    def handler() -> Handler:
        replies = 0

        def handle(buf: bytes, send: Callable[[bytes], None]) -> bytes:
            nonlocal replies
            out = []
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.startswith(b"HELLO"):
                    out.append(b"OK\n")  # the setup: not counted
                    continue
                replies += 1
                odd = replies % every == 0
                out.append(answer if odd else b"OK\n")
                with lock:
                    counts[0] += 1
                    counts[1 if answer.startswith(b"ERR") else 2] += odd
            send(b"".join(out))
            return buf

        return handle

    return handler


def _serve_silent_after(sock: socket.socket, after_s: float) -> None:
    first: float | None = None
    while True:
        data, addr = sock.recvfrom(65536)
        now = time.monotonic()
        first = now if first is None else first
        if now - first < after_s:
            sock.sendto(data, addr)


def _echo(buf: bytes, send: Callable[[bytes], None]) -> bytes:
    send(buf)
    return b""


def _serve_idle_close(listener: socket.socket, idle_s: float, counts: list[int]) -> None:
    """Echo, closing each connection idle ``idle_s`` (a fresh one too); ``counts``:
    [connections, idle closes]."""

    def serve(conn: socket.socket) -> None:
        conn.settimeout(idle_s)
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except TimeoutError:
                counts[1] += 1
            except OSError:
                return

    while True:
        conn, _ = listener.accept()
        counts[0] += 1
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def _serve_late(listener: socket.socket) -> None:
    """Accept once the full queue has dropped a handshake (bounded: 10 s)."""
    deadline = time.monotonic() + 10
    while not receive_drops(listener) and time.monotonic() < deadline:
        time.sleep(0.001)
    _serve(listener, lambda: _echo)


def main() -> None:
    parser = argparse.ArgumentParser()
    kinds = ["slow", "nth", "silent-after", "late-accept", "idle-close"]
    parser.add_argument("kind", choices=kinds)
    parser.add_argument("--idle-ms", type=float, default=50.0)
    parser.add_argument("--service-ms", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--answer", choices=["error", "garbage"], default="error")
    parser.add_argument("--after", type=float, default=1.0)
    parser.add_argument("--backlog", type=int, default=128)
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    times: list[float] = []
    counts = [0, 0, 0]
    stream = args.kind != "silent-after"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if stream else socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    if stream:
        sock.listen(args.backlog)

    def stop(signum: int, frame: FrameType | None) -> None:
        if args.log is not None:
            if args.kind == "slow":
                args.log.write_text("".join(f"{t!r}\n" for t in list(times)))
            elif args.kind == "late-accept":
                args.log.write_text(f"{receive_drops(sock)}\n")
            elif args.kind == "idle-close":
                args.log.write_text(f"{counts[0]} {counts[1]}\n")
            else:
                args.log.write_text(" ".join(map(str, counts)) + "\n")
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"READY {sock.getsockname()[1]}", flush=True)
    if args.kind == "slow":
        _serve(sock, _slow(args.size, args.service_ms / 1000, times))
    elif args.kind == "nth":
        answer = b"ERR full\n" if args.answer == "error" else b"???\n"
        _serve(sock, _nth(args.every, answer, counts))
    elif args.kind == "late-accept":
        _serve_late(sock)
    elif args.kind == "idle-close":
        _serve_idle_close(sock, args.idle_ms / 1000, counts)
    else:
        _serve_silent_after(sock, args.after)


if __name__ == "__main__":
    main()
