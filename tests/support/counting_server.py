"""Small servers for the line, length-prefixed and example-plugin protocols, counting
what they serve, run as real processes by the tests.

    python -m tests.support.counting_server --protocol line|u16|u32|kv|seq

Prints ``READY <port>`` once listening; on SIGTERM prints ``COUNTS <json>`` (requests
served, by kind) and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
from collections import Counter

COUNTS: Counter[str] = Counter()
STORE: dict[bytes, bytes] = {}


def _lines(buf: bytearray) -> list[bytes]:
    out = []
    while (nl := buf.find(b"\n")) >= 0:
        out.append(bytes(buf[: nl + 1]))
        del buf[: nl + 1]
    return out


def line_replies(buf: bytearray) -> bytes:
    lines = _lines(buf)
    COUNTS["line"] += len(lines)
    return b"".join(lines)  # echo each line


def kv_replies(buf: bytearray) -> bytes:
    out = []
    for line in _lines(buf):
        words = line.split()
        if words[:1] == [b"HELLO"]:
            COUNTS["hello"] += 1
            out.append(b"OK\n")
        elif words[:1] == [b"PUT"] and len(words) == 3:
            COUNTS["put"] += 1
            STORE[words[1]] = words[2]
            out.append(b"OK\n")
        elif words[:1] == [b"GET"] and len(words) == 2:
            COUNTS["fetch"] += 1
            value = STORE.get(words[1])
            out.append(b"VALUE " + value + b"\n" if value is not None else b"NONE\n")
        else:
            COUNTS["bad"] += 1
            out.append(b"ERR unknown command\n")
    return b"".join(out)


LAST_SEQ: dict[bytes, int] = {}


def seq_replies(buf: bytearray) -> bytes:
    """``SEQ <client> <seq>`` lines, answered ``OK``: counted ``in_order`` when each
    client's numbers come 0, 1, 2, ... across its connections, else ``out_of_order``."""
    out = []
    for line in _lines(buf):
        _, client, seq = line.split()
        expected = LAST_SEQ.get(client, -1) + 1
        COUNTS["in_order" if int(seq) == expected else "out_of_order"] += 1
        LAST_SEQ[client] = int(seq)
        out.append(b"OK\n")
    return b"".join(out)


def framed_replies(width: int) -> object:
    def replies(buf: bytearray) -> bytes:
        out = []
        while len(buf) >= width:
            size = width + int.from_bytes(buf[:width], "big")
            if len(buf) < size:
                break
            out.append(bytes(buf[:size]))
            del buf[:size]
        COUNTS["message"] += len(out)
        return b"".join(out)

    return replies


class Server(asyncio.Protocol):
    def __init__(self, replies: object) -> None:
        self.replies = replies
        self.buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        reply = self.replies(self.buf)  # type: ignore[operator]
        if reply:
            self.transport.write(reply)


async def main(protocol: str) -> None:
    replies = {
        "line": line_replies,
        "kv": kv_replies,
        "seq": seq_replies,
        "u16": framed_replies(2),
        "u32": framed_replies(4),
    }[protocol]
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await loop.create_server(lambda: Server(replies), sock=sock, backlog=1024)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(f"READY {sock.getsockname()[1]}", flush=True)
    await stop.wait()
    server.close()
    print(f"COUNTS {json.dumps(dict(COUNTS))}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=("line", "kv", "seq", "u16", "u32"), required=True)
    asyncio.run(main(parser.parse_args().protocol))
