"""A protocol plugin whose requests take the generator 500 µs of CPU each to build: a
generator limited by construction, under 2,000 req/s a worker, whatever the target can do.
The time is spent, not slept: a generator out of CPU is what sockbench must recognise.

    --protocol tests/support/slow_requests.py:SlowRequests

It speaks the line protocol of ``knee_servers nth`` (a line out, ``OK`` back). Loaded
from its file, as every plugin is, so it imports nothing of the tests.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

BUILD_S = 0.0005
PLUGIN = f"{Path(__file__)}:SlowRequests"


class SlowRequests:
    name = "slow-requests"

    def __init__(self, options: Any) -> None:
        pass

    def request(self, client: int, seq: int) -> bytes:
        end = time.perf_counter() + BUILD_S
        while time.perf_counter() < end:  # holds the worker's loop and a core meanwhile
            pass
        return b"GET k%d\n" % seq

    def check_reply(self, buf: bytearray, start: int, end: int) -> int:
        nl = buf.find(b"\n", start, end)
        if nl < 0:
            return 0
        return nl + 1 - start if buf.startswith(b"OK", start, nl) else -1
