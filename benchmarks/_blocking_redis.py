"""Python's floor for one client: a blocking ``sendall`` + ``recv_into`` loop against redis.

Run by ``vs_redis_benchmark.py`` (``--floor``) in its own pinned process, in the same
rotation as sockbench and redis-benchmark: what the least a Python client can do costs
(no event loop, no accounting beyond one clock read per reply), so a one-client ratio
can be read against it. Prints ``{"rps", "p50_us", "p99_us"}`` as JSON.

    python benchmarks/_blocking_redis.py PORT TEST SECONDS [VALUE_SIZE KEY_SPACE [BURN_US]]

``BURN_US`` (``vcpu_wakeup.py``): after each send, spin that long on the clock before
the blocking ``recv``, touching no socket: what keeping the client's CPU busy, and
nothing else, does to a round trip.
"""

from __future__ import annotations

import json
import random
import socket
import sys
import time
from collections.abc import Callable


def request_maker(test: str, value_size: int, key_space: int) -> Callable[[], bytes]:
    rnd = random.Random(0).random
    if test == "ping":
        return lambda: b"PING\r\n"
    if test == "get":
        fmt = b"*2\r\n$3\r\nGET\r\n$16\r\nkey:%012d\r\n"
        return lambda: fmt % int(rnd() * key_space)
    value = b"x" * value_size
    fmt = b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$" + b"%d" % value_size + b"\r\n"
    tail = value.replace(b"%", b"%%") + b"\r\n"
    fmt += tail
    return lambda: fmt % int(rnd() * key_space)


def reply_done(buf: bytearray, got: int) -> bool:
    """Whether ``buf[:got]`` holds one whole reply (+, - or a bulk string)."""
    nl = buf.find(b"\r\n", 0, got)
    if nl < 0:
        return False
    if buf[0] != ord("$") or buf[1] == ord("-"):
        return True
    return got >= nl + 2 + int(buf[1:nl]) + 2


def main() -> None:
    port, test, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    value_size = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    key_space = int(sys.argv[5]) if len(sys.argv) > 5 else 100_000
    burn_ns = int(float(sys.argv[6]) * 1000) if len(sys.argv) > 6 else 0
    make = request_maker(test, value_size, key_space)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray(1 << 16)
    view = memoryview(buf)
    latencies = []
    clock = time.monotonic_ns
    end = clock() + int(seconds * 1e9)
    start = clock()
    while start < end:
        sock.sendall(make())
        if burn_ns:
            until = clock() + burn_ns
            while clock() < until:
                pass
        got = sock.recv_into(buf)
        while not reply_done(buf, got):
            got += sock.recv_into(view[got:])
        now = clock()
        latencies.append(now - start)
        start = now
    latencies.sort()
    n = len(latencies)
    print(
        json.dumps(
            {
                "rps": n / seconds,
                "p50_us": latencies[n // 2] / 1e3,
                "p99_us": latencies[n * 99 // 100] / 1e3,
            }
        )
    )


if __name__ == "__main__":
    main()
