"""The *Run* and *Datagrams* sections' fields: what ran, what it served, what failed.

Each line is written the way it is checked: the request accounting and the datagram
accounting as the identities they must satisfy (``issued = completed + failed + in
flight``), so a line that does not add up says by how much. Rates read through the
typed result (:class:`sockbench.core.document.Result`), one definition each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sockbench.core.document import Result
from sockbench.core.stopping import until_text
from sockbench.core.warmup import warmup_text
from sockbench.report import numbers
from sockbench.report.document import Doc, cell_key, get, model_name, target
from sockbench.report.stream_fields import stream_pace
from sockbench.report.validity_fields import verdict_fields


def _protocol(config: Mapping[str, Any]) -> str:
    name = str(config.get("protocol") or "echo")
    http = config.get("http")
    if http is not None:  # the method, the first path and how many more
        more = len(http["paths"]) - 1
        rest = f" (+{more} path{'' if more == 1 else 's'})" if more else ""
        return f"protocol {name} {http['method']} {http['paths'][0]}{rest}"
    if config.get("ratio") is None:
        return f"protocol {name}"
    sets, gets = config["ratio"]
    if config.get("commands"):
        templates = config["commands"]
        keys_of = config.get("command_key_patterns") or [""] * len(templates)
        mix = "commands " + ", ".join(
            f"{template.split()[0]} x{n}" + (f" ({keys})" if keys else "")
            for template, n, keys in zip(templates, config["command_ratios"], keys_of, strict=True)
        )
    else:
        mix = f"SET:GET {sets}:{gets}"
    pattern = str(config.get("key_pattern"))
    if "Z" in pattern:
        pattern += f", zipf {config.get('zipf')}"
    keys = f"{numbers.fmt_int(config.get('key_space'))} keys ({pattern})"
    if config.get("key_minimum"):
        keys += f" from {numbers.fmt_int(config['key_minimum'])}"
    size = numbers.fmt_payload(config.get("value_size"))
    if config.get("value_size_max"):
        size = f"{size} to {numbers.fmt_payload(config['value_size_max'])}"
    many = f", {config['multi_key']} keys per GET" if config.get("multi_key") else ""
    return f"protocol {name} {mix}, {keys}, {size} values{many}"


def _workload(result: Doc) -> str:
    config: Mapping[str, Any] = result.get("config") or {}
    key = cell_key(result)
    mode = config.get("mode") or "echo"
    protocol = config.get("protocol") or "echo"
    # Echo mode with a protocol talks that protocol: the request does not come back.
    parts = [
        key.proto if mode == "echo" and protocol != "echo" else f"{key.proto} {mode}",
        f"{numbers.fmt_int(key.clients)} client{'' if key.clients == 1 else 's'}",
    ]
    if protocol != "echo":
        parts.append(_protocol(config))
    elif config.get("request") is not None:
        parts.append(f"request {_shown(config['request'])}")
        expect, value = config.get("expect") or "echo", config.get("expect_value")
        if expect == "exact":
            parts.append(f"expecting {_shown(value)}")
        elif expect == "size":
            parts.append(f"expecting {value} bytes")
        elif expect == "until":
            parts.append(f"expecting a reply ending {_shown(value)}")
        else:
            parts.append("expecting the request back")
    else:
        parts.append(f"payload {numbers.fmt_payload(key.payload)}")
    if config.get("rate") and config.get("mode") == "stream":
        parts.append(stream_pace(config))
    elif config.get("rate"):
        parts.append(f"open loop at {numbers.fmt_rate(config['rate'])} req/s")
    if (config.get("pipeline") or 1) > 1:
        parts.append(f"pipeline {config['pipeline']}")
    return ", ".join(parts)


def _shown(value: Any) -> str:
    """Request or reply bytes (stored as latin-1 text) as a quoted, escaped literal."""
    text = repr(str(value).encode("latin-1"))[1:]
    return text if len(text) <= 40 else text[:37] + "..."


def _errors(result: Doc) -> str:
    errors, total = Result(result).errors, Result(result).error_total
    if not total:
        return "none"
    kinds = ", ".join(f"{k} {numbers.fmt_int(v)}" for k, v in sorted(errors.items()) if v)
    return f"{numbers.fmt_int(total)} ({kinds})"


def _error_replies(totals: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """``"-ERR max number of clients reached" 107``: what the target's error replies said,
    the most frequent first (core/error_replies.py)."""
    said: Mapping[str, int] = totals.get("error_replies") or {}
    if not said:
        return ()
    texts = sorted(said.items(), key=lambda item: -item[1])
    return (("replied", "; ".join(f"{text!r} {numbers.fmt_int(n)}" for text, n in texts)),)


def _duration(result: Doc) -> str:
    text = f"{result.get('duration_s') or 0:.2f} s measured"
    ramp, warmup = get(result, "config", "ramp_s"), get(result, "config", "warmup_s")
    if result.get("warmup"):  # --warmup auto: the one it chose (config has its maximum)
        warmup = result["warmup"]["chosen_s"]
    kept_out = [
        f"{name} {value:g} s" for name, value in (("ramp", ramp), ("warm-up", warmup)) if value
    ]
    return f"{text} ({', '.join(kept_out)})" if kept_out else text


def _until(result: Doc) -> tuple[tuple[str, str], ...]:
    """``stopped after 7.0 s: p99 ±4.1 % (asked ±5 %)``: a run with --until."""
    section = result.get("until")
    if not section:
        return ()
    return (("until", until_text(section, get(result, "config", "duration_s"))),)


def _warmup(result: Doc) -> tuple[tuple[str, str], ...]:
    """``settled after 2.60 s (transient 1.00 s; MSER-5 on rps and p99)``: --warmup auto."""
    section = result.get("warmup")
    if not section:
        return ()
    return (("warm-up", warmup_text(section)),)


def _connections(totals: Mapping[str, Any]) -> str:
    """``200,000 (up in 3.21 s: 62,305/s)``: the count, how fast the clients came up, and
    how many connections the target ended idle in the window, if any."""
    text = numbers.fmt_int(totals.get("connections"))
    ramp, rate = totals.get("connect_ramp_s"), totals.get("connect_rate_per_s")
    if ramp is not None:
        text += f" (up in {ramp:.2f} s" + (f": {rate:,.0f}/s)" if rate else ")")
    if idle := totals.get("closed_idle"):
        text += f"; {numbers.fmt_int(idle)} ended idle by the target in the window"
    return text


def _accept_queue(result: Doc) -> tuple[tuple[str, str], ...]:
    """``dropped 1,318 handshake packets, its backlog of 8 full (over the run, warm-up
    included)``: only when the target's accept queue overflowed (a warning says why)."""
    queue = result.get("accept_queue") or {}
    drops = queue.get("drops")
    if not drops:
        return ()
    return (
        (
            "accept queue",
            f"dropped {numbers.fmt_int(drops)} handshake packets, its backlog of "
            f"{numbers.fmt_int(queue.get('backlog'))} full (over the run, warm-up included)",
        ),
    )


def tls_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    """``4 handshakes: 1 full, 3 resumed; certificates verified``: a TLS run's handshakes,
    and, loudly, when certificates were not checked (``--tls-insecure``)."""
    tls = result.get("tls")
    if not tls:
        return ()
    count = tls.get("handshakes")
    text = (
        f"{numbers.fmt_int(count)} handshake{'' if count == 1 else 's'}: "
        f"{numbers.fmt_int(tls.get('full'))} full, {numbers.fmt_int(tls.get('resumed'))} resumed; "
    )
    text += (
        "certificates verified"
        if tls.get("verified")
        else ("CERTIFICATES NOT VERIFIED (--tls-insecure)")
    )
    agreed = tls.get("negotiated") or {}
    if agreed:  # the most common first: ``TLSv1.3 TLS_AES_256_GCM_SHA384``
        text += "; " + ", ".join(sorted(agreed, key=lambda k: -agreed[k]))
    return (("tls", text),)


def run_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    totals: Mapping[str, Any] = result.get("totals") or {}
    fields = [
        ("status", str(result.get("status") or "?")),
        ("command", str(result.get("command") or "")),
        ("started", str(result.get("started_at") or "?")),
        ("target", target(result)),
        ("server model", model_name(result)),
        ("workload", _workload(result)),
        ("duration", _duration(result)),
        *_warmup(result),
        *_until(result),
    ]
    # A stream's sent and delivered numbers differ; its own section labels each.
    if not result.get("stream"):
        throughput = numbers.fmt_rate(Result(result).served_rps) + " req/s"
        if totals.get("throughput_bps") is not None:
            throughput += f", {numbers.fmt_bps(totals['throughput_bps'])}"
        fields += [
            ("requests", numbers.fmt_int(totals.get("requests"))),
            ("throughput", throughput),
            *_open_loop_rate(Result(result)),
            ("bytes", _request_bytes(totals)),
        ]
    fields += [
        ("connections", _connections(totals)),
        *_accept_queue(result),
        *tls_fields(result),
        ("errors", _errors(result)),
        *_error_replies(totals),
        *_request_accounting(totals),
        *verdict_fields(result),
    ]
    return tuple(fields)


def _open_loop_rate(result: Result) -> tuple[tuple[str, str], ...]:
    """``requested 2,000 req/s, sent 770, served 770 (achieved 38.5%)``: who kept up.

    Only where the result says what was sent (results since served rates, issue 25)."""
    offered = result.offered_rps
    if offered is None:
        return ()
    text = (
        f"requested {numbers.fmt_rate(result.requested_rps)} req/s, sent "
        f"{numbers.fmt_rate(offered)}, served {numbers.fmt_rate(result.served_rps)}"
        f" (achieved {numbers.fmt_fraction(result.achieved_ratio or 0)})"
    )
    return (("rate", text),)


def _request_bytes(totals: Mapping[str, Any]) -> str:
    """What the answered requests carried each way; said so when some were not answered
    (a lost datagram's bytes went out, but are not in these counts)."""
    text = (
        f"{numbers.fmt_bytes(totals.get('bytes_sent'))} sent, "
        f"{numbers.fmt_bytes(totals.get('bytes_received'))} received"
    )
    unanswered = sum((totals.get("requests_failed") or {}).values()) + (
        totals.get("in_flight") or 0
    )
    return f"{text} by the answered requests" if unanswered else text


def _request_accounting(totals: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Every request issued in the window, as the identity it must satisfy."""
    issued = totals.get("requests_issued")
    if issued is None:
        return ()
    failed: Mapping[str, int] = totals.get("requests_failed") or {}
    completed, in_flight = totals.get("requests", 0), totals.get("in_flight", 0)
    text = (
        f"issued {numbers.fmt_int(issued)} = completed {numbers.fmt_int(completed)}"
        f" + failed {numbers.fmt_int(sum(failed.values()))}"
    )
    if in_flight:
        text += f" + in flight {numbers.fmt_int(in_flight)}"
    off = issued - completed - sum(failed.values()) - in_flight
    if off:
        text += f" (does not add up: off by {off:+,})"
    drain = totals.get("drain_s")
    if drain is not None:
        text += f"; drained {drain:.2f} s"
        drained = totals.get("drained")
        if drained:
            text += f" ({numbers.fmt_int(drained)} answered then, not in the rate)"
    return (("accounting", text),)


def _dropped(d: Mapping[str, int]) -> tuple[tuple[str, str], ...]:
    """Where the kernel dropped datagrams for want of room (sockbench.core.socket_drops):
    nothing when no count is known beyond the generator's zero (a result from before they
    were counted, a unix-dgram run, a target elsewhere that the generator kept up with)."""
    target, generator = d.get("target_drops"), d.get("generator_drops", 0)
    if target is None and not generator:
        return ()
    where = numbers.fmt_int(target) if target is not None else f"{numbers.DASH} (not known)"
    return (
        (
            "dropped",
            f"at the target's socket {where}, at the generator's {numbers.fmt_int(generator)}"
            " (buffers full; over the run, warm-up included)",
        ),
    )


def datagram_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    """UDP accounting, written as the identity it must satisfy."""
    d: Mapping[str, int] | None = result.get("datagrams")
    if not d:
        return ()
    sent, received = d.get("sent", 0), d.get("received", 0)
    lost, in_flight = d.get("lost", 0), d.get("in_flight", 0)
    unfinished = d.get("unfinished", 0)
    identity = (
        f"sent {numbers.fmt_int(sent)} = received {numbers.fmt_int(received)}"
        f" + lost {numbers.fmt_int(lost)}"
    )
    if unfinished:
        identity += f" + unfinished {numbers.fmt_int(unfinished)}"
    identity += f" + in flight {numbers.fmt_int(in_flight)}"
    off = sent - (received + lost + unfinished + in_flight)
    if off:
        identity += f" (does not add up: off by {off:+,})"
    loss = f"{100.0 * lost / sent:.3f} %" if sent else numbers.DASH
    return (
        ("accounting", identity),
        ("loss", loss),
        *_dropped(d),
        (
            "anomalies",
            f"duplicates {numbers.fmt_int(d.get('duplicates', 0))}, "
            f"reordered {numbers.fmt_int(d.get('reordered', 0))}, "
            f"late {numbers.fmt_int(d.get('late', 0))}"
            + (
                f", unsolicited {numbers.fmt_int(d['unsolicited'])}" if d.get("unsolicited") else ""
            ),
        ),
    )
