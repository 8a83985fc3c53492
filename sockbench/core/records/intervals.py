"""A line of ``sockbench run --format jsonl`` (``sockbench.intervals/1``): an interval
object per measured ``--interval``, then one result object (built in ``cli/lines.py``)."""

from __future__ import annotations

from typing import Literal, NotRequired

from typing_extensions import TypedDict

from sockbench.core.records.fields import Count, NonNegative, Timestamp, closed, record


@closed
class IntervalLine(TypedDict):
    type: Literal["interval"]
    time: Timestamp
    """wall-clock time (UTC, ISO 8601, milliseconds) the interval was reported"""
    window_s: float
    """seconds since the measurement window started (after --ramp and --warmup): the end
    of this interval, on the run's monotonic clock"""
    phase: Literal["measuring"]
    elapsed_s: NonNegative
    """seconds since the clients were up, --ramp and --warmup included"""
    remaining_s: NonNegative
    """seconds left in the measurement window"""
    requests: Count
    """replies completed in the window so far (not in this interval alone); --mode stream,
    which has no requests: messages (--payload bytes, or datagrams) written so far, read
    with --reverse"""
    rps: NonNegative
    """replies per second in this interval; --mode stream: those messages per second"""
    p99_us: Count
    """this interval's p99 latency in µs; 0 when no reply completed in it"""
    errors: Count
    """requests with no valid reply in the window so far, every kind"""
    connections: Count
    """client connections open; 0 while a --ramp brings them up (not counted)"""
    by_kind: list[tuple[str, NonNegative, Count]]
    """protocols with several kinds of request (redis, memcache): [kind, rps, p99_us] of
    this interval, per kind; empty otherwise"""
    sent_bytes: NotRequired[int | None]
    """--mode stream: bytes written in this interval; null otherwise"""
    sent_bps: NotRequired[float | None]
    """--mode stream: the sender's bits per second in this interval; null otherwise"""
    received_bps: NotRequired[float | None]
    """--mode stream: the receiver's bits per second in this interval, where known; null
    otherwise"""
    read_bytes: NotRequired[int | None]
    """--mode stream --reverse/--bidir: the bytes the clients read from the server in this
    interval (iperf3's RX-C); null otherwise"""
    read_bps: NotRequired[float | None]
    """--mode stream --reverse/--bidir: their bits per second; null otherwise"""
    hits: NotRequired[int | None]
    """--protocol redis/memcache: keys found in this interval by the requests that read
    keys (GET, each key of a multi-get); null where none reads keys"""
    misses: NotRequired[int | None]
    """...and keys they did not find in this interval; null where none reads keys"""


@record
class TaggedResult(TypedDict):
    schema: Literal["sockbench.result/1"]


@closed
class ResultLine(TypedDict):
    type: Literal["result"]
    result: TaggedResult
    """the run's result document, valid against result.schema.json (sockbench.result/1), as
    --json writes it"""


#: Every line is one or the other.
IntervalsLine = IntervalLine | ResultLine
