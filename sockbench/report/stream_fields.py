"""The *Stream* section of a ``--mode stream`` run: iperf3's sender and receiver lines.

A stream has no single throughput: what was sent and what the sink read differ, so
each side gets its own line (bytes, bit/s, messages/s), then the spread over streams
and, for a few streams, one row each. ``--reverse`` shows the other direction's lines
(the server's send, the clients' reads), and ``--bidir`` both, tagged as iperf3 tags
them: ``TX-C`` what the clients sent, ``RX-C`` what they received.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sockbench.core.progress import Tick
from sockbench.core.stream_meter import per_client_spread
from sockbench.report import numbers
from sockbench.report.content import Align, Table
from sockbench.report.document import Doc, cell_key, get


def stream_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    """Bulk transfer, the iperf3 way: a sender line and a receiver line, each with its
    own bytes, bit rate and message rate, then the spread of the rate over streams.

    The receiver line is the sink's own count: the server tells each stream what it
    read (TCP and Unix streams when they half-close, datagrams on request; see
    :mod:`sockbench.core.sink_report`). A server that does not report (an external
    one) leaves it "not reported" rather than "0 B".
    """
    s: Mapping[str, Any] = result["stream"]
    if "sender" not in s:
        return _old_stream_fields(result)
    direction = s.get("direction", "forward")
    fields: list[tuple[str, str]] = []
    if direction != "reverse":
        payload = get(result, "config", "payload")
        fields = _forward_fields(s, "TX-C " if direction == "bidir" else "", payload)
    if "reverse" in s:
        fields += _reverse_fields(s["reverse"], "RX-C " if direction == "bidir" else "")
    return tuple(fields)


def stream_rates(result: Doc) -> tuple[float | None, float | None, float | None]:
    """A stream's bit rates over the window, as iperf3 tags them: ``TX-C`` what the clients
    sent, what the server took of it (None: not reported), ``RX-C`` what the clients read
    from the server (--reverse, --bidir); a side the direction does not use is None."""
    s: Mapping[str, Any] = result.get("stream") or {}
    direction = s.get("direction", "forward")
    sent = get(s, "sender", "bps") if direction != "reverse" else None
    took = get(s, "receiver", "bps") if direction != "reverse" else None
    return sent, took, get(s, "reverse", "receiver", "bps")


def rates_line(result: Doc) -> str:
    """``TX-C 9.1 Gbit/s (server took 9.0 Gbit/s)``, ``RX-C 6.6 Gbit/s`` or both (--bidir):
    a stream cell's line in a compare's progress."""
    sent, took, read = stream_rates(result)
    parts = []
    if sent is not None:
        parts.append(f"TX-C {numbers.fmt_bps(sent)}")
        if took is not None:
            parts[-1] += f" (server took {numbers.fmt_bps(took)})"
    if read is not None:
        parts.append(f"RX-C {numbers.fmt_bps(read)}")
    return ", ".join(parts)


def compare_stream_table(results: Sequence[Doc]) -> Table | None:
    """A compare of streams: per cell its direction and iperf3's TX-C and RX-C bit rates
    (what the clients sent, what the server took of it, what the clients read); None
    where no cell is a stream."""
    streams = [r for r in results if r.get("stream")]
    if not streams:
        return None
    rows = []
    for r in streams:
        key = cell_key(r)
        rates = (numbers.fmt_bps(v) if v is not None else numbers.DASH for v in stream_rates(r))
        direction = str(get(r, "stream", "direction") or "forward")
        rows.append((key.model, key.proto, numbers.fmt_int(key.clients),
                     numbers.fmt_payload(key.payload), direction, *rates))  # fmt: skip
    headers = ("model", "proto", "clients", "payload", "direction", "TX-C bit/s",
               "server took bit/s", "RX-C bit/s")  # fmt: skip
    return Table(
        headers=headers,
        rows=tuple(rows),
        align=("l", "l", "r", "r", "l", "r", "r", "r"),
        row_keys=tuple(cell_key(r).label for r in streams),
    )


def _forward_fields(s: Mapping[str, Any], tag: str, payload: Any) -> list[tuple[str, str]]:
    sender, receiver = s["sender"], s.get("receiver")
    fields = [(f"{tag}sender", _side(sender))]
    if receiver is None:
        fields.append((f"{tag}receiver", "not reported: the server does not count what it read"))
    else:
        text = _side(receiver)
        if s.get("streams_reported", 0) < s.get("streams", 0):
            text += f" ({s['streams_reported']} of {s['streams']} streams reported)"
        fields.append((f"{tag}receiver", text))
    return fields + _spread(*per_client_rates(s, payload))


def _reverse_fields(r: Mapping[str, Any], tag: str) -> list[tuple[str, str]]:
    """The server's send (its own count, and where each byte of it went: before the
    window, in it, in flight at its end, lost) and the clients' reads in the window."""
    sent = r.get("server_sent_bytes")
    fmt = numbers.fmt_bytes
    if sent is None:
        server = "not reported: the server does not say what it sent (only the reads are known)"
        if r["streams_reported"]:
            server += f"; {r['streams_reported']} of {r['streams']} streams reported"
    else:
        server = (
            f"{fmt(sent)} = {fmt(r['before_bytes'])} before the window + "
            f"{fmt(r['receiver']['bytes'])} in it + {fmt(r['after_bytes'])} in flight at its "
            f"end + {fmt(r['lost_bytes'])} lost"
        )
        if r.get("generator_drops"):
            server += (
                f" ({numbers.fmt_int(r['generator_drops'])} datagrams of it dropped at the "
                "clients' own sockets, their buffers full: the generator's loss)"
            )
    return [(f"{tag}sender (server)", server), (f"{tag}receiver", _side(r["receiver"]))]


def _side(side: Mapping[str, Any]) -> str:
    """``8 GiB, 9.1 Gbit/s, 139,000 msg/s over 1.00 s`` for one side of a stream."""
    return (
        f"{numbers.fmt_bytes(side['bytes'])}, {numbers.fmt_bps(side['bps'])}, "
        f"{numbers.fmt_rate(side['messages_per_s'])} msg/s over {side['seconds']:.2f} s"
    )


def per_client_rates(
    s: Mapping[str, Any], payload: Any
) -> tuple[str, Mapping[str, Any], Mapping[str, Any]]:
    """Which side the per-client spread is of (``received`` or ``sent``), and its bits/s
    and messages/s ``{min, median, max}``.

    Where every stream reported, it is what each stream's sink received, over the
    receiver line's seconds (they run to the last report), so one stream's figures are
    the receiver line's; the result's ``per_client_*`` divide those bytes by the
    sender's seconds. Otherwise it is what was sent, as the result keeps it.
    """
    stored = s["per_client_bps"], s["per_client_messages_per_s"]
    per_stream = s.get("per_stream") or []
    received = [p.get("received_bytes") for p in per_stream]
    receiver: Mapping[str, Any] = s.get("receiver") or {}
    # The seconds its bit/s was worked out over (the document keeps them rounded to the µs).
    seconds = receiver["bytes"] * 8 / receiver["bps"] if receiver.get("bps") else None
    if not received:  # saved before per_stream: the result's, labelled as it was then
        return ("sent" if s.get("receiver") is None else "received"), *stored
    if not all(isinstance(n, int) for n in received):  # a stream's sink did not report
        return "sent", *stored
    if not isinstance(payload, int) or payload <= 0 or not seconds:
        return "received", *stored
    return "received", *per_client_spread(received, seconds, payload)


def _spread(side: str, bps: Mapping[str, Any], mps: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (
            f"per client ({side})",
            f"min {numbers.fmt_bps(bps['min'])}, median {numbers.fmt_bps(bps['median'])}, "
            f"max {numbers.fmt_bps(bps['max'])}",
        ),
        (
            f"msg/s per client ({side})",
            f"min {numbers.fmt_rate(mps['min'])}, median {numbers.fmt_rate(mps['median'])}, "
            f"max {numbers.fmt_rate(mps['max'])}",
        ),
    ]


PER_STREAM_ROWS = 16  # iperf3 lists every stream; beyond this the spread says enough


def stream_table(result: Doc) -> Table | None:
    """One row per stream and a total, sender and receiver side by side (iperf3's
    ``[ 5]`` ... ``[SUM]`` lines); None for results without them or too many streams."""
    s: Mapping[str, Any] = result["stream"]
    per_stream = s.get("per_stream")
    if not per_stream or len(per_stream) > PER_STREAM_ROWS or s.get("direction") == "reverse":
        return None
    sender, receiver = s["sender"], s.get("receiver") or {}

    def row(name: str, sent: int, got: int | None) -> tuple[str, ...]:
        return (
            name,
            numbers.fmt_bytes(sent),
            numbers.fmt_bps(sent * 8 / sender["seconds"]) if sender["seconds"] else numbers.DASH,
            numbers.fmt_bytes(got) if got is not None else numbers.DASH,
            numbers.fmt_bps(got * 8 / receiver["seconds"])
            if got is not None and receiver.get("seconds")
            else numbers.DASH,
        )

    rows = [row(str(i), p["sent_bytes"], p["received_bytes"]) for i, p in enumerate(per_stream)]
    rows.append(row("total", sender["bytes"], receiver.get("bytes")))
    return Table(
        headers=("stream", "sent", "sender bit/s", "received", "receiver bit/s"),
        rows=tuple(rows),
        align=("l", "r", "r", "r", "r"),
    )


#: A stream interval row's sides (docs/result.md, ``intervals``): the columns that show
#: them, and the row's keys of their bytes and bits/s; the receiver's are null where
#: not known per interval.
Side = tuple[str, str, str, str]
SIDES: tuple[Side, ...] = (
    ("sent", "sender bit/s", "sent_bytes", "sent_bps"),
    ("received", "receiver bit/s", "received_bytes", "received_bps"),
    ("RX-C received", "RX-C bit/s", "read_bytes", "read_bps"),
)


def stream_rows(result: Doc) -> list[Mapping[str, Any]]:
    """A stream run's interval rows that count bytes (none for results saved before)."""
    rows: list[Mapping[str, Any]] = result.get("intervals") or []
    return rows if rows and "sent_bytes" in rows[0] else []


def measured_sides(rows: list[Mapping[str, Any]], direction: str = "forward") -> tuple[Side, ...]:
    """The sides every row has: the sender's, the receiver's where it was known, and the
    clients' reads (--reverse, --bidir); a --reverse run's sends (none) left out."""
    sides = SIDES[2:] if direction == "reverse" else SIDES
    return tuple(side for side in sides if all(row.get(side[2]) is not None for row in rows))


def stream_pace(config: Mapping[str, Any]) -> str:
    """How a datagram stream was paced, for the workload line: ``paced at 100 Mbit/s
    (12,207 msg/s)`` with ``--bitrate``, else ``paced at 20,000 msg/s``."""
    rate = f"{numbers.fmt_rate(config['rate'])} msg/s"
    bitrate = config.get("bitrate")
    return f"paced at {numbers.fmt_bps(bitrate)} ({rate})" if bitrate else f"paced at {rate}"


def tick_rates(tick: Tick) -> str | None:
    """A stream's last interval as iperf3 prints it, for the progress line and the live
    panel: ``1.54 GiB  13.2 Gbit/s sent  13.1 Gbit/s received`` (the receiver's where it
    is known per interval), then ``13.4 Gbit/s RX-C`` (--bidir); ``1.54 GiB  13.2 Gbit/s
    RX-C`` for --reverse (the clients send nothing); None for a tick of a run that is no
    stream."""
    if tick.sent_bytes is None:
        return None
    if tick.read_bytes is not None and not tick.sent_bytes:
        return f"{numbers.fmt_bytes(tick.read_bytes)}  {numbers.fmt_bps(tick.read_bps)} RX-C"
    line = f"{numbers.fmt_bytes(tick.sent_bytes)}  {numbers.fmt_bps(tick.sent_bps)} sent"
    if tick.received_bps is not None:
        line += f"  {numbers.fmt_bps(tick.received_bps)} received"
    if tick.read_bps is not None:
        line += f"  {numbers.fmt_bps(tick.read_bps)} RX-C"
    return line


def interval_table(result: Doc) -> Table | None:
    """iperf3's interval lines: one row per ``--interval``, the bytes each side moved in
    it and their bit rate; None for a run that is no stream (or saved before streams
    had intervals)."""
    rows = stream_rows(result)
    if not rows:
        return None
    direction = get(result, "config", "direction") or "forward"
    if direction == "bidir":
        return _bidir_interval_table(rows)
    sides = measured_sides(rows, direction)
    headers = ("interval", *(title for side in sides for title in side[:2]))
    cells, start = [], 0.0
    for row in rows:
        line = [f"{start:.2f}-{row['t']:.2f} s"]
        for _, _, nbytes, bps in sides:
            line += [numbers.fmt_bytes(row[nbytes]), numbers.fmt_bps(row[bps])]
        cells.append(tuple(line))
        start = row["t"]
    right: tuple[Align, ...] = ("r",)
    return Table(headers=headers, rows=tuple(cells), align=("l", *right * (len(headers) - 1)))


def _bidir_interval_table(rows: list[Mapping[str, Any]]) -> Table:
    """``--bidir``'s interval lines as iperf3 prints them: per interval a ``TX-C`` line
    (what the clients sent; what the server took, where known) and an ``RX-C`` line
    (what they received)."""
    cells, start = [], 0.0
    fmt_bytes, fmt_bps = numbers.fmt_bytes, numbers.fmt_bps
    for row in rows:
        span = f"{start:.2f}-{row['t']:.2f} s"
        took = row.get("received_bps")
        cells.append(
            (
                span,
                "TX-C",
                fmt_bytes(row["sent_bytes"]),
                fmt_bps(row["sent_bps"]),
                numbers.DASH if took is None else fmt_bps(took),
            )
        )
        cells.append((span, "RX-C", fmt_bytes(row["read_bytes"]), fmt_bps(row["read_bps"]), ""))
        start = row["t"]
    return Table(
        headers=("interval", "", "transfer", "bit/s", "peer took bit/s"),
        rows=tuple(cells),
        align=("l", "l", "r", "r", "r"),
    )


def _old_stream_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    """Results saved before the sink reported streams: the sender line from the totals."""
    s: Mapping[str, Any] = result["stream"]
    totals: Mapping[str, Any] = result.get("totals") or {}
    seconds = float(result.get("duration_s") or 0.0)
    payload = get(result, "config", "payload")
    datagrams: Mapping[str, Any] = result.get("datagrams") or {}
    sent_bytes = totals.get("bytes_sent")
    sent_messages = datagrams.get("sent") if datagrams else _messages(sent_bytes, payload)
    fields = [("sender", _transfer(sent_bytes, sent_messages, seconds))]
    if datagrams:
        received = _transfer(totals.get("bytes_received"), datagrams.get("received"), seconds)
        fields.append(("receiver", received))
    else:
        fields.append(("receiver", "not reported: a TCP sink does not count what it read"))
    bps, mps = s["per_client_bps"], s["per_client_messages_per_s"]
    return tuple(fields + _spread("received" if datagrams else "sent", bps, mps))


def _messages(n_bytes: Any, payload: Any) -> int | None:
    if not isinstance(n_bytes, int) or not isinstance(payload, int) or payload <= 0:
        return None
    return n_bytes // payload


def _transfer(n_bytes: Any, messages: Any, seconds: float) -> str:
    """``8 GiB, 9.1 Gbit/s, 139,000 msg/s`` for one side of a stream."""
    if seconds <= 0 or n_bytes is None:
        return f"{numbers.fmt_bytes(n_bytes)}"
    rate = numbers.fmt_rate(messages / seconds) if messages is not None else numbers.DASH
    return f"{numbers.fmt_bytes(n_bytes)}, {numbers.fmt_bps(n_bytes * 8 / seconds)}, {rate} msg/s"
