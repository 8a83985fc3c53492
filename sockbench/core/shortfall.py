"""Why an open-loop run served less than it asked: the target, the generator, or failures.

The achieved rate is the replies received inside the window over the asked rate, so
a shortfall has three causes, and each wants a different change:

- **failures**: requests went out but came back lost, wrong or as error replies; the
  achieved rate counts only good replies (``errors`` says which). Timeouts are not
  among them: a reply later than ``--timeout`` is the backlog of a target behind;
- **the generator** fell behind: it sent fewer requests in the window than were due,
  while it was free to send them (its own send lag, or its CPU, was the limit);
- **the target** fell behind: the generator kept its schedule as far as the
  connections let it (requests waited for a ``--pipeline`` slot, not for the
  generator), and the replies lagged. That is the knee a load test looks for.

The cause is read from the result alone (pure), so it is tested with made-up totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sockbench.core.document import Result
from sockbench.core.socket_drops import loss_advice
from sockbench.core.units import format_us
from sockbench.core.warning import RunWarning, WarningKind
from sockbench.endpoints import Proto

ACHIEVED_RATE_MIN = 0.99
#: The generator's own lateness (scheduler lag) beyond which it could not keep time.
SEND_LAG_P99_MAX_US = 1000
#: Below this share of its time busy, a generator that sent late was kept off its CPU by
#: other processes: more workers would not help, a quieter machine (or pinning) would.
OWN_LOOP_BUSY_MIN_PERCENT = 50.0


#: Failures that are the backlog itself: replies too slow for --timeout, or the drain's end.
LAGGING_WORDS = {
    "timeout": "got no reply within --timeout",
    "unfinished": "were still open when --drain ended",
}
LAGGING = frozenset(LAGGING_WORDS)


def _failed_counts(totals: Mapping[str, Any], lagging: bool) -> dict[str, int]:
    """Failed requests by kind, most first: the backlog's (``lagging``) or the rest."""
    failed = totals.get("requests_failed") or {}
    return {
        kind: int(n)
        for kind, n in sorted(failed.items(), key=lambda kv: -kv[1])
        if n and (kind in LAGGING) == lagging
    }


def scheduled_rps(doc: Mapping[str, Any]) -> float | None:
    """Open loop: what the schedule asked of the window, per second.

    ``--rate``, to within a request, for uniform arrivals. A Poisson schedule's count in a
    window varies by its square root (1 % at 10,000 requests), so for ``--arrival
    poisson`` it is the requests the schedule put in the window: every one is issued, late
    or never sent ones as failures (``totals.requests_issued``).
    """
    requested = Result(doc).requested_rps
    if requested is None:
        return None
    issued = (doc.get("totals") or {}).get("requests_issued")
    seconds = doc.get("duration_s")
    if (doc.get("config") or {}).get("arrival") == "poisson" and issued and seconds:
        return float(issued / seconds)
    return float(requested)


def served_ratio(doc: Mapping[str, Any]) -> float | None:
    """Open loop: what was served over what the schedule asked of the window
    (:func:`scheduled_rps`); None in closed loop."""
    scheduled = scheduled_rps(doc)
    served = Result(doc).served_rps
    if not scheduled or served is None:
        return None
    return float(served) / scheduled


_DATAGRAMS = frozenset(p.value for p in Proto if not p.is_stream)


def in_flight_cap(doc: Mapping[str, Any]) -> str | None:
    """Open loop over streams: the round trip ``--clients`` × ``--pipeline`` allow each
    request at the rate due, set against the mean the replies took; None where there is
    no such cap (datagrams: nothing waits for a slot) or nothing to tell it from.

    By Little's law the requests in flight are the rate times the mean round trip, so
    ``clients × pipeline`` slots carry the rate only while the round trip stays under
    their number over the rate: 100 connections at 100,000 req/s with ``--pipeline 1``
    leave each request 1 ms. Past it, requests wait for a slot: the target was slower
    than that, which may be its capacity, or only too few slots to offer it the rate.
    """
    config = doc.get("config") or {}
    clients, pipeline = int(config.get("clients") or 0), int(config.get("pipeline") or 1)
    due = scheduled_rps(doc)
    mean_us = (doc.get("service_time_us") or {}).get("mean")
    if not clients or not due or mean_us is None or config.get("proto") in _DATAGRAMS:
        return None
    allowed_us = clients * pipeline / due * 1e6
    return (
        f"{clients:,} clients × --pipeline {pipeline} leave each request "
        f"{format_us(allowed_us)} for its round trip at this rate, and the replies took "
        f"{format_us(float(mean_us))} on average"
    )


def generator_behind(doc: Mapping[str, Any]) -> bool:
    """Whether the generator, free to send, sent late: its scheduler lag, or its CPU."""
    lag = doc.get("scheduler_lag_us") or {}
    return int(lag.get("p99") or 0) > SEND_LAG_P99_MAX_US or Result(doc).saturated


def generator_lagged(doc: Mapping[str, Any]) -> bool:
    """Whether the generator sent late while free to send: latencies include its delay."""
    lag = doc.get("scheduler_lag_us") or {}
    return int(lag.get("p99") or 0) > SEND_LAG_P99_MAX_US


def late_sender_advice(doc: Mapping[str, Any], lower: str = "--rate") -> str:
    """What to change when the generator sent late or fell short.

    A generator whose loop was busy most of the time is at its own limit: more workers
    (and cores) help. One whose loop was mostly idle yet sent late was waiting for a CPU
    that other processes held (a loaded machine, or a vCPU's steal): more workers would
    add to that contention, so the advice names the machine, with its load average.
    Without the loop's measure (older results) the generator's own limit is assumed.
    """
    busy = (doc.get("generator") or {}).get("loop_busy_percent")
    if busy is None or busy >= OWN_LOOP_BUSY_MIN_PERCENT:
        return f"add --workers, or lower {lower}"
    environment = doc.get("environment") or {}
    load = (environment.get("loadavg") or [None])[0]
    cores = environment.get("cpu_count")
    held = f" (load average {load:.1f} on {cores} cores)" if load is not None and cores else ""
    return (
        f"its loop was busy only {busy:.0f}% of the time, so other processes held its CPU"
        f"{held}: run on a quiet machine, or pin it apart with --client-cpus"
    )


def generator_fell_short(doc: Mapping[str, Any]) -> bool:
    """Whether the generator itself sent less than the schedule asked (it was behind, and
    fewer requests went out in the window than were due): the rate was never offered."""
    offered, scheduled = Result(doc).offered_rps, scheduled_rps(doc)
    short = offered is None or (scheduled is not None and offered < scheduled * ACHIEVED_RATE_MIN)
    return generator_behind(doc) and short


def rate_shortfall(doc: Mapping[str, Any]) -> RunWarning | None:
    """The ``rate_not_kept`` warning, naming who fell behind; None when the rate held."""
    result, totals = Result(doc), doc["totals"]
    ratio = result.achieved_ratio
    if ratio is None:
        return None
    served = float(result.served_rps or 0.0)
    requested = scheduled_rps(doc) or 0.0
    head = f"served {served:,.0f} req/s of the {requested:,.0f} requested ({ratio:.1%})"
    if requested != result.requested_rps:  # Poisson arrivals: what was due in the window
        ratio = served / requested if requested else 1.0
        head = (
            f"served {served:,.0f} req/s of the {requested:,.0f} due ({ratio:.1%}; "
            f"poisson arrivals at --rate {result.requested_rps or 0:,.0f})"
        )
    if ratio >= ACHIEVED_RATE_MIN:
        return None
    seconds = max(float(doc.get("duration_s") or 0.0), 1e-9)
    failed = _failed_counts(totals, lagging=False)
    failed_rps = sum(failed.values()) / seconds
    if failed_rps >= (requested - served) / 2:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in failed.items())
        lost = "lost" in failed and max(failed, key=failed.__getitem__) == "lost"
        return RunWarning(
            WarningKind.RATE_NOT_KEPT,
            f"{head}: requests failed ({kinds}), and only good replies count",
            loss_advice(doc.get("datagrams") or {})
            if lost
            else "the target answered wrongly or with errors: see errors by kind",
        )
    offered = result.offered_rps
    sent = f", sent {offered:,.0f} req/s" if offered is not None else ""
    if generator_fell_short(doc):
        return RunWarning(
            WarningKind.RATE_NOT_KEPT,
            f"{head}{sent}: the generator fell behind (it sent late while it could send, "
            "or used all its CPU), so this measured the generator as much as the target",
            late_sender_advice(doc),
        )
    lagging = _failed_counts(totals, lagging=True)
    timed_out = "".join(f"; {n:,} {LAGGING_WORDS[kind]}" for kind, n in sorted(lagging.items()))
    cap = in_flight_cap(doc)
    return RunWarning(
        WarningKind.RATE_NOT_KEPT,
        f"{head}{sent}: the target fell behind (its replies lagged while the generator "
        f"kept its schedule{timed_out})",
        "latencies count from each request's due time, so they include the backlog: "
        "this rate is past the target's capacity at these settings"
        + (
            f" ({cap}); if the target serves more at once, raise --pipeline or --clients"
            if cap
            else ""
        ),
    )
