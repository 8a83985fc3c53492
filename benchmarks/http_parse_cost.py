"""What --protocol http's response framer costs per call on the common reply, beside the
redis and memcache parsers on theirs and the fixed --expect matcher (A B A B, timeit).

    .venv/bin/python benchmarks/http_parse_cost.py [--number N] [--rounds R] [--against FILE]

Prints ns per call, median of the rounds, for each parser and its ratio to the fixed
matcher; read the ratios on a busy machine, not the ns. Then the framer and ``reply_kind``
per reply walking a stream of 30 replies whose heads repeat (one path), take turns (three
paths: heads differing in ``Content-Length``, ``ETag`` and status), take turns with two
``Date`` values (the worst case of a second's turn: each reply's head is not the last
one's), or never repeat (a header that differs in each): what the repeated-head memo
(core/protocols/http_head.py) saves, and what it costs where it cannot help.
``--against`` another version's ``http_head.py``: each stream is walked by both,
alternated in one process, and their best rounds compared.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import timeit
from collections.abc import Callable
from typing import Any

from sockbench.core.expect import Exact
from sockbench.core.protocols import ProtocolOptions, build_protocol

NGINX_200 = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 06 Dec 2026 12:09:44 GMT\r\n"
    b"Content-Type: text/html\r\nContent-Length: 6\r\nLast-Modified: Sun, 06 Dec 2026 "
    b'12:09:44 GMT\r\nConnection: keep-alive\r\nETag: "6b155088-6"\r\n'
    b"Accept-Ranges: bytes\r\n\r\nhello\n"
)


def cases() -> dict[str, tuple[Callable[[bytearray, int, int], int], bytes]]:
    http = build_protocol("http", ProtocolOptions())
    redis = build_protocol("redis", ProtocolOptions(value_size=100))
    memcache = build_protocol("memcache", ProtocolOptions(value_size=100))
    bulk = b"$100\r\n" + redis.request(0, 0)[-102:-2] + b"\r\n"  # the value its SETs write
    value = memcache.request(0, 0).split(b"\r\n")[1]
    hit = b"VALUE key:000000000001 0 100\r\n" + value + b"\r\nEND\r\n"
    kind = http.reply_kind
    assert kind is not None

    def http_and_kind(buf: bytearray, start: int, end: int) -> int:
        got = http.check_reply(buf, start, end)
        kind(buf, start)
        return got

    return {
        "fixed --expect (+PONG)": (Exact(b"+PONG\r\n").check, b"+PONG\r\n"),
        "redis GET hit (100 B)": (redis.check_reply, bulk),
        "memcache GET hit (100 B)": (memcache.check_reply, hit),
        "http nginx 200 (framing)": (http.check_reply, NGINX_200),
        "http nginx 200 (framing + kind)": (http_and_kind, NGINX_200),
    }


def streams() -> dict[str, bytearray]:
    """30 replies each: one path, three paths in turn, and heads that never repeat."""
    paths = [
        NGINX_200,
        NGINX_200.replace(b"Length: 6", b"Length: 7").replace(b"hello\n", b"hello!\n"),
        NGINX_200.replace(b"200 OK", b"404 No").replace(b"6b155088-6", b"6b155088-8"),
    ]
    varying = [NGINX_200.replace(b"nginx/1.22.1", b"%012d" % i) for i in range(30)]
    later = NGINX_200.replace(b"12:09:44 GMT\r\nContent-Type", b"12:09:45 GMT\r\nContent-Type")
    return {
        "http stream, one path": bytearray(NGINX_200 * 30),
        "http stream, three paths in turn": bytearray(b"".join(paths * 10)),
        "http stream, the Date turns each": bytearray((NGINX_200 + later) * 15),
        "http stream, heads never repeat": bytearray(b"".join(varying)),
    }


def walk(check: Callable[[bytearray, int, int], int], kind: Callable[[bytearray, int], int],
         buf: bytearray) -> None:  # fmt: skip
    start, end = 0, len(buf)
    while start < end:
        got = check(buf, start, end)
        kind(buf, start)
        start += got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", help="another version's http_head.py, for the streams")
    args = parser.parse_args()
    found = cases()
    times: dict[str, list[float]] = {name: [] for name in found}
    for _ in range(args.rounds):
        for name, (check, reply) in found.items():
            buf = bytearray(reply)
            end = len(buf)
            assert check(buf, 0, end) == end, name
            took = timeit.timeit(
                "check(buf, 0, end)",
                globals={"check": check, "buf": buf, "end": end},
                number=args.number,
            )
            times[name].append(took / args.number * 1e9)
    http = build_protocol("http", ProtocolOptions())
    assert http.reply_kind is not None
    framers = {"": (http.check_reply, http.reply_kind)}
    if args.against:
        other = other_head(args.against)
        framers["against"] = (other.reply_length, other.reply_kind)
    against: dict[str, list[float]] = {name: [] for name in streams()}
    times.update({name: [] for name in streams()})
    calls = max(1, args.number // 30)
    for turn in range(args.rounds):
        for name, buf in streams().items():
            for which in sorted(framers, reverse=bool(turn % 2)):  # A B, then B A
                check, kind = framers[which]
                took = timeit.timeit(lambda: walk(check, kind, buf), number=calls)  # noqa: B023
                (against if which else times)[name].append(took / (calls * 30) * 1e9)
    anchor = statistics.median(times["fixed --expect (+PONG)"])
    for name, ns in times.items():
        median = statistics.median(ns)
        print(f"{name:34} {median:8.0f} ns  {median / anchor:5.2f}x")
    if args.against:
        print(f"this tree's RepeatedHead / {args.against}'s, each stream's best of {args.rounds}:")
        for name, ns in against.items():
            mine, theirs = min(times[name]), min(ns)
            print(f"{name:34} {mine:8.0f} / {theirs:.0f} ns  {mine / theirs:5.2f}")


def other_head(path: str) -> Any:
    """A ``RepeatedHead`` of another version's ``http_head.py`` (over this tree's
    http.py), so the streams alternate the two in one process, where a loaded machine's
    noise hits both alike (``git show REV:sockbench/core/protocols/http_head.py``)."""
    spec = importlib.util.spec_from_file_location("other_http_head", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RepeatedHead()


if __name__ == "__main__":
    main()
