"""Feeding a reply parser its bytes cut at every place (pure test helpers)."""

from __future__ import annotations

from collections.abc import Callable

from sockbench.core.expect import ReplyBuffer

Check = Callable[[bytearray, int, int], int]


def feed(check: Check, stream: bytes, cuts: list[int]) -> list[bytes | str]:
    """Deliver ``stream`` in pieces ending at ``cuts`` and collect what ``check`` takes.

    A negative code ends the list: -1 as "mismatch", -2 as "error"; bytes left over
    at the end show as "partial".
    """
    rb = ReplyBuffer(size=16, min_free=4)
    out: list[bytes | str] = []
    pos = 0
    for cut in [*cuts, len(stream)]:
        while pos < cut:
            space = rb.space()
            n = min(len(space), cut - pos)
            space[:n] = stream[pos : pos + n]
            del space
            rb.commit(n)
            pos += n
            while True:
                size = check(rb.data, rb.start, rb.end)
                if size < 0:
                    return [*out, "mismatch" if size == -1 else "error"]
                if size == 0:
                    break
                out.append(bytes(rb.data[rb.start : rb.start + size]))
                rb.start += size
    if len(rb):
        out.append("partial")
    return out


def all_splits(check: Check, stream: bytes) -> set[tuple[bytes | str, ...]]:
    """Results for every single cut and every pair of cuts: they must all agree."""
    results = set()
    n = len(stream)
    for i in range(n + 1):
        for j in range(i, n + 1):
            results.add(tuple(feed(check, stream, [i, j])))
    return results
