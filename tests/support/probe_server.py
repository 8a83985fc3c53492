"""A TCP echo server that reports what happens to it, one line per event on stdout.

    python -m tests.support.probe_server [--port P] [--accept-first N]

Prints ``READY <port>``, then ``ACCEPT <n>`` for each connection accepted (n counts
them), ``CLOSED <n>`` for each that ended, and ``ECHO <n>`` when the number of reads
echoed reaches 1, 10, 100, 1000 and 10000. Tests wait on these lines instead of
sleeping. ``--accept-first N`` stops accepting after N connections (with a backlog
of 1, later clients hang in connect): a run held in its connecting phase.
``--close-at-once`` closes every connection as soon as it is accepted.
``--ignore-first N`` reads the first N connections' bytes and never answers them (a
target that took a connection but does not serve it).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys

MILESTONES = {1, 10, 100, 1000, 10000}


class Probe:
    def __init__(self, close_at_once: bool = False, ignore_first: int = 0) -> None:
        self.accepted = self.closed = self.echoed = 0
        self.close_at_once = close_at_once
        self.ignore_first = ignore_first

    def say(self, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.say(f"ACCEPT {self.accepted}")
        if self.close_at_once:
            writer.close()
            return
        ignored = self.accepted <= self.ignore_first
        try:
            while data := await reader.read(65536):
                if ignored:
                    continue
                writer.write(data)
                self.echoed += 1
                if self.echoed in MILESTONES:
                    self.say(f"ECHO {self.echoed}")
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
            self.closed += 1
            self.say(f"CLOSED {self.closed}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--accept-first", type=int, default=0)
    parser.add_argument("--close-at-once", action="store_true")
    parser.add_argument("--ignore-first", type=int, default=0)
    args = parser.parse_args()
    probe = Probe(args.close_at_once, args.ignore_first)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    if args.accept_first:
        sock.listen(1)
        sock.setblocking(False)
        probe.say(f"READY {sock.getsockname()[1]}")
        tasks = set()
        for _ in range(args.accept_first):
            conn, _ = await loop.sock_accept(sock)
            reader, writer = await asyncio.open_connection(sock=conn)
            tasks.add(loop.create_task(probe.serve(reader, writer)))
        await stop.wait()
        return
    server = await asyncio.start_server(probe.serve, sock=sock)
    probe.say(f"READY {sock.getsockname()[1]}")
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
