"""A TCP echo server that freezes once, for a known time, and says when it did.

    python -m tests.support.freezing_echo --freeze-at 1.0 --freeze-for 1.0

Prints ``READY <port>`` once listening on 127.0.0.1 (port 0: the kernel picks). The
freeze starts ``--freeze-at`` seconds after the first bytes arrive and lasts
``--freeze-for``: every reply made in it is held until its end, then they all go out
at once (the reads go on, so what a client sends in the freeze is answered when it
thaws). It prints ``FROZEN <ns>`` as the freeze starts and ``THAWED <ns>`` once the held
replies are written, each with ``time.monotonic_ns()`` (the same clock as sockbench's
on one host), so a test waits on them and computes what the freeze should cost from
when it really happened. Exits on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
import time


class Freezer:
    """The one freeze of the server: its start and end, and the replies it holds."""

    def __init__(self, at_s: float, length_s: float) -> None:
        self.at_s = at_s
        self.length_s = length_s
        self.started = False  # the first bytes came: the freeze is scheduled
        self.frozen = False
        self.held: list[tuple[asyncio.Transport, bytes]] = []

    def reply(self, transport: asyncio.Transport, data: bytes) -> None:
        if not self.started:
            self.started = True
            loop = asyncio.get_running_loop()
            loop.call_later(self.at_s, self._freeze)
        if self.frozen:
            self.held.append((transport, data))
        else:
            transport.write(data)

    def _freeze(self) -> None:
        self.frozen = True
        _say(f"FROZEN {time.monotonic_ns()}")
        asyncio.get_running_loop().call_later(self.length_s, self._thaw)

    def _thaw(self) -> None:
        self.frozen = False
        held, self.held = self.held, []
        for transport, data in held:
            if not transport.is_closing():
                transport.write(data)
        _say(f"THAWED {time.monotonic_ns()}")


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Echo(asyncio.Protocol):
    def __init__(self, freezer: Freezer) -> None:
        self.freezer = freezer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.freezer.reply(self.transport, data)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--freeze-at", type=float, default=1.0, help="seconds after first data")
    parser.add_argument("--freeze-for", type=float, default=1.0)
    args = parser.parse_args()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    freezer = Freezer(args.freeze_at, args.freeze_for)
    sock = socket.create_server(("127.0.0.1", 0), backlog=4096)
    server = await loop.create_server(lambda: Echo(freezer), sock=sock)
    _say(f"READY {sock.getsockname()[1]}")
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
