"""Echo servers that misbehave on purpose, run as real processes by the tests.

    python -m tests.support.faulty_server --proto udp --behaviour drop10
    python -m tests.support.faulty_server --proto tcp --behaviour delay --delay-ms 20
    python -m tests.support.faulty_server --proto tcp --behaviour delay --slow-every 50
    python -m tests.support.faulty_server --proto unix-dgram --path /tmp/s --behaviour drop10
    python -m tests.support.faulty_server --proto udp --behaviour silent

Prints ``READY <port>`` (``READY <path>`` for unix-dgram) once listening; exits on
SIGTERM. ``silent`` accepts or reads everything and never answers.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket


class Freeze:
    """Hold every reply due in [first data + at, first data + at + length) until the end."""

    def __init__(self, at: float, length: float) -> None:
        self.at = at
        self.length = length
        self.first: float | None = None

    def hold(self) -> float:
        """Seconds to hold a reply made now."""
        now = asyncio.get_running_loop().time()
        if self.first is None:
            self.first = now
        start = self.first + self.at
        return start + self.length - now if start <= now < start + self.length else 0.0


class SlowEvery:
    """Every ``every``-th message of the whole server is answered ``delay`` late."""

    def __init__(self, every: int, delay: float) -> None:
        self.every = every
        self.delay = delay
        self.seen = 0

    def hold(self) -> float:
        self.seen += 1
        return self.delay if self.every and self.seen % self.every == 0 else 0.0


class DelayedEcho(asyncio.Protocol):
    def __init__(
        self,
        delay: float,
        garbage: bool,
        freeze: Freeze | None = None,
        slow: SlowEvery | None = None,
        silent: bool = False,
        extra: bytes = b"",
        reply_size: int = 0,
    ) -> None:
        self.delay = delay
        self.garbage = garbage
        self.freeze = freeze
        self.slow = slow
        self.silent = silent
        self.extra = extra
        self.reply_size = reply_size  # answer every read with this many bytes instead

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.silent:
            return
        reply = (bytes(len(data)) if self.garbage else data) + self.extra
        if self.reply_size:
            reply = b"x" * self.reply_size
        delay = self.delay + (self.freeze.hold() if self.freeze else 0.0)
        delay += self.slow.hold() if self.slow else 0.0
        if delay:
            asyncio.get_running_loop().call_later(delay, self._write, reply)
        else:
            self.transport.write(reply)

    def _write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)


class DroppingEcho(asyncio.DatagramProtocol):
    """Echo every datagram except every ``drop_every``-th one."""

    def __init__(
        self, drop_every: int, delay: float, silent: bool = False, garbage: bool = False
    ) -> None:
        self.drop_every = drop_every
        self.delay = delay
        self.silent = silent
        self.garbage = garbage  # keep the 8-byte sequence number, zero the rest
        self.seen = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen += 1
        if self.silent or (self.drop_every and self.seen % self.drop_every == 0):
            return
        if self.garbage:
            data = data[:8] + bytes(len(data) - 8)
        if self.delay:
            asyncio.get_running_loop().call_later(self.delay, self.transport.sendto, data, addr)
        else:
            self.transport.sendto(data, addr)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proto", choices=["tcp", "udp", "unix-dgram"], default="tcp")
    parser.add_argument("--path", help="unix-dgram: the socket path to bind")
    parser.add_argument(
        "--behaviour",
        choices=["drop10", "delay", "garbage", "freeze", "silent", "overlong"],
        required=True,
    )
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--slow-every", type=int, default=0, help="delay: every Nth is slow")
    parser.add_argument("--slow-ms", type=float, default=500.0)
    parser.add_argument("--reply-size", type=int, default=0, help="tcp: answer N bytes")
    parser.add_argument("--freeze-at", type=float, default=1.0, help="seconds after first data")
    parser.add_argument("--freeze-for", type=float, default=0.5)
    args = parser.parse_args()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    delay = args.delay_ms / 1000
    silent = args.behaviour == "silent"
    if args.proto == "tcp":
        sock = socket.create_server(("127.0.0.1", 0), backlog=4096)
        freeze = Freeze(args.freeze_at, args.freeze_for) if args.behaviour == "freeze" else None
        slow = SlowEvery(args.slow_every, args.slow_ms / 1000) if args.slow_every else None
        extra = b"!" if args.behaviour == "overlong" else b""
        server = await loop.create_server(
            lambda: DelayedEcho(
                delay,
                args.behaviour == "garbage",
                freeze,
                slow,
                silent=silent,
                extra=extra,
                reply_size=args.reply_size,
            ),
            sock=sock,
        )
        address = str(sock.getsockname()[1])
    else:
        if args.proto == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            address = str(sock.getsockname()[1])
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(args.path)
            address = args.path
        drop = 10 if args.behaviour == "drop10" else 0
        transport, _ = await loop.create_datagram_endpoint(
            lambda: DroppingEcho(drop, delay, silent=silent, garbage=args.behaviour == "garbage"),
            sock=sock,
        )
    print(f"READY {address}", flush=True)
    await stop.wait()
    if args.proto == "tcp":
        server.close()
    else:
        transport.close()


if __name__ == "__main__":
    asyncio.run(main())
