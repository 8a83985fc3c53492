"""What a result counted: ``totals``, ``datagrams``, the latency histograms, the
per-interval rows and ``stream``."""

from __future__ import annotations

from typing import NotRequired

from typing_extensions import TypedDict

from sockbench.core.kinds import StreamDirection
from sockbench.core.records.fields import Count, NonNegative, Positive, record


@record
class KindTotals(TypedDict):
    requests: Count
    throughput_rps: NonNegative
    errors: dict[str, Count]
    hits: NotRequired[Count]
    misses: NotRequired[Count]


@record
class Totals(TypedDict):
    requests: Count
    bytes_sent: Count
    bytes_received: Count
    throughput_rps: NonNegative
    throughput_bps: NotRequired[NonNegative]
    connections: NotRequired[Count]
    errors: dict[str, Count]
    warmup_errors: NotRequired[dict[str, Count]]
    clamped_samples: NotRequired[Count]
    requested_rps: NotRequired[Positive]
    achieved_ratio: NotRequired[NonNegative]
    offered_rps: NotRequired[NonNegative]
    connections_per_s: NotRequired[NonNegative]
    by_kind: NotRequired[dict[str, KindTotals]]
    drain_s: NotRequired[NonNegative]
    requests_issued: NotRequired[Count]
    requests_failed: NotRequired[dict[str, Count]]
    in_flight: NotRequired[Count]
    served: NotRequired[Count]
    served_from_warmup: NotRequired[Count]
    drained: NotRequired[Count]
    connect_ramp_s: NotRequired[NonNegative]
    connect_rate_per_s: NotRequired[NonNegative | None]
    hits: NotRequired[Count]
    """keys found by the window's completed requests that read keys (GET, each key of a
    multi-get)"""
    misses: NotRequired[Count]
    """keys those requests did not find (redis nil, memcached END with no VALUE)"""
    clients_served: NotRequired[Count]
    """clients with at least one request of the window answered (in it or its drain):
    fewer than config.clients when the target refused, starved or never took some (over
    TCP and unix streams, not --mode stream)"""
    closed_idle: NotRequired[Count]
    """connections the target ended (a close, a reset) with nothing in flight, in the
    window: no request failed, so no error, and the client reconnected (a keep-alive
    timeout shorter than a client's gap between requests, a server out of connection
    slots closing idle ones); absent: none"""
    error_replies: NotRequired[dict[str, Count]]
    """what the window's requests that failed on an error reply (protocol_error) were
    told, by the reply's first line: the target's reason ('-ERR max number of clients
    reached'); at most 8 texts, the rest under '(other texts)'"""


@record
class Datagrams(TypedDict):
    sent: Count
    received: Count
    lost: Count
    duplicates: Count
    reordered: Count
    late: NotRequired[Count]
    in_flight: Count
    unfinished: NotRequired[Count]
    unsolicited: NotRequired[Count]
    generator_drops: NotRequired[Count]
    """datagrams the kernel dropped at the generator's own sockets, their receive buffers
    full, over the run (warm-up and drain included)"""
    target_drops: NotRequired[Count]
    """datagrams the kernel dropped at the target's socket over the run (absent: not known,
    the target is not a UDP socket on this machine)"""


@record
class Histogram(TypedDict):
    count: Count
    min: Count
    p50: Count
    p90: Count
    p99: Count
    p99_9: Count
    p99_99: Count
    max: Count
    mean: NonNegative
    stdev: NonNegative
    histogram: str
    """HdrHistogram compressed base64 encoding (V2), microseconds, range 1 us..60 s, 3
    significant digits"""
    percentiles: NotRequired[dict[str, Count]]
    """the --percentiles asked for (default 50,90,99,99.9,99.99), keyed like "99.9", in
    microseconds"""


@record
class KindInterval(TypedDict):
    requests: Count
    rps: NonNegative
    p99: Count
    hits: NotRequired[Count]
    """a kind that reads keys (GET): keys its requests completed in the interval found"""
    misses: NotRequired[Count]
    """...and did not find"""


@record
class Interval(TypedDict):
    t: NonNegative
    requests: Count
    errors: Count
    rps: NonNegative
    p50: Count
    p99: Count
    max: Count
    histogram: NotRequired[str]
    sent_bytes: NotRequired[Count]
    sent_bps: NotRequired[NonNegative]
    received_bytes: NotRequired[Count | None]
    received_bps: NotRequired[NonNegative | None]
    read_bytes: NotRequired[Count]
    """--mode stream --reverse/--bidir: bytes the clients read from the server in the
    interval (iperf3's RX-C)"""
    read_bps: NotRequired[NonNegative]
    by_kind: NotRequired[dict[str, KindInterval]]
    hits: NotRequired[Count]
    """--protocol redis/memcache: keys found by the interval's completed requests that read
    keys (every kind's); the rows' and the drain_interval's add up to totals.hits"""
    misses: NotRequired[Count]
    """...and keys they did not find; they add up to totals.misses"""
    offered: NotRequired[Count]
    """open loop (--rate): requests sent in the interval; the rows' add up to the sends
    totals.offered_rps counts over the window"""
    offered_rps: NotRequired[NonNegative]
    """open loop: those sends per second (the schedule's rate where the generator kept up)"""
    send_lag_p99: NotRequired[Count]
    """open loop: p99 of how late the requests answered in the interval were sent after
    their due time, µs (send_lag_us, per interval)"""
    scheduler_lag_p99: NotRequired[Count]
    """open loop: p99 of the generator's own part of the lateness of the sends in the
    interval, µs (scheduler_lag_us, per interval)"""


@record
class PerClient(TypedDict):
    min: NonNegative
    median: NonNegative
    max: NonNegative


@record
class StreamSide(TypedDict):
    bytes: Count
    seconds: NonNegative
    bps: NonNegative
    messages_per_s: NonNegative


@record
class StreamBytes(TypedDict):
    sent_bytes: Count
    received_bytes: Count | None


@record
class StreamRead(TypedDict):
    read_bytes: Count
    before_bytes: Count
    after_bytes: Count
    server_sent_bytes: Count | None


@record
class StreamReverse(TypedDict):
    """What the clients read from the server in the window (receiver), before and after it
    (in flight at its end), and what the server said it sent (null: not reported, an
    external target); server_sent_bytes = before_bytes + receiver.bytes + after_bytes +
    lost_bytes, per stream and in total (lost_bytes 0 over tcp/unix)"""

    receiver: StreamSide
    before_bytes: Count
    after_bytes: Count
    server_sent_bytes: Count | None
    lost_bytes: int | None
    generator_drops: NotRequired[Count]
    """datagrams the kernel dropped at the clients' own sockets, their receive buffers full,
    over the run: part of lost_bytes, and the generator's loss, not the path's"""
    streams: Count
    streams_reported: Count
    per_stream: list[StreamRead]


@record
class Stream(TypedDict):
    total_bps: NonNegative
    total_messages_per_s: NonNegative
    per_client_bps: PerClient
    per_client_messages_per_s: PerClient
    sender: NotRequired[StreamSide]
    receiver: NotRequired[StreamSide | None]
    streams: NotRequired[Count]
    streams_reported: NotRequired[Count]
    per_stream: NotRequired[list[StreamBytes]]
    direction: NotRequired[StreamDirection]
    """forward (the clients send), reverse (--reverse: the server sends), bidir (--bidir:
    both)"""
    reverse: NotRequired[StreamReverse]
    """--reverse/--bidir: what the clients read from the server; absent otherwise"""
