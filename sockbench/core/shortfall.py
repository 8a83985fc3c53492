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

import math
from collections.abc import Mapping
from dataclasses import dataclass
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


def requests_due(
    rate: float,
    seconds: float,
    *,
    bounded: bool = False,
    issued: int | None = None,
    clients: int = 1,
    round_trip_us: float = 0.0,
    poisson: bool = False,
) -> float:
    """Open loop: the requests a schedule of ``rate`` made due in a window of ``seconds``:
    ``rate × seconds`` (uniform arrivals: to within one request).

    ``bounded`` (``--requests``): the schedule had only ``issued`` requests (every one it
    made due before the run reached its limit, sent or not: an open loop issues each due
    request). Such a run's window lasts past its last request's due time: each client
    learns of the limit at its own next due time (up to ``clients`` slots of the schedule
    later), the run waits for the last reply (a round trip, ``round_trip_us``), and the
    schedule starts within one slot of the window. Over that tail the schedule made no
    request due that the run had, so it is not counted; past it, requests were late (they
    waited for a ``--pipeline`` slot, or for the generator) and the window lasted longer
    than the schedule needed: rate × seconds, less the tail, were due. A Poisson schedule's
    count varies by its square root, which the tail allows three times over.
    """
    scheduled = rate * seconds
    if not bounded or issued is None:
        return scheduled
    tail = clients + 1 + rate * round_trip_us / 1e6
    if poisson:
        tail += 3 * math.sqrt(scheduled)
    return min(scheduled, max(float(issued), scheduled - tail))


def scheduled_rps(doc: Mapping[str, Any]) -> float | None:
    """Open loop: what the schedule asked of the window, per second.

    ``--rate``, to within a request, for uniform arrivals. A Poisson schedule's count in a
    window varies by its square root (1 % at 10,000 requests), so for ``--arrival
    poisson`` it is the requests the schedule put in the window: every one is issued, late
    or never sent ones as failures (``totals.requests_issued``). A run bounded by
    ``--requests`` asked only what its schedule made due before it stopped
    (:func:`requests_due`).
    """
    requested = Result(doc).requested_rps
    if requested is None:
        return None
    config, totals = doc.get("config") or {}, doc.get("totals") or {}
    issued, seconds = totals.get("requests_issued"), doc.get("duration_s")
    poisson = config.get("arrival") == "poisson"
    if config.get("requests") is not None and issued is not None and seconds:
        due = requests_due(
            float(requested),
            float(seconds),
            bounded=True,
            issued=int(issued),
            clients=int(config.get("clients") or 1),
            round_trip_us=float((doc.get("service_time_us") or {}).get("p99") or 0.0),
            poisson=poisson,
        )
        if due < float(requested) * float(seconds):  # its limit came before the window end
            return due / float(seconds)
    if poisson and issued and seconds:
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
#: The share of the slots busy (mean round trip over the one they allow) from which a
#: shortfall may be theirs: past half, a round trip longer than its share holds the
#: next request of its connection often; at a tenth (replies of 76 µs where 1 ms is
#: allowed), requests did not wait for a slot.
SLOTS_BUSY_MIN = 0.5


@dataclass(frozen=True)
class Slots:
    """Open loop over streams: the requests ``clients × pipeline`` can hold in flight, the
    round trip that leaves each at the rate due, and the mean the replies took."""

    clients: int
    pipeline: int
    allowed_us: float
    mean_us: float

    @property
    def busy(self) -> float:
        """The share of the slots the replies kept busy at this rate (Little's law): the
        mean round trip over the one the slots allow."""
        return self.mean_us / self.allowed_us if self.allowed_us else math.inf

    @property
    def held(self) -> bool:
        """Whether the replies kept the slots busy enough (:data:`SLOTS_BUSY_MIN`) for
        requests to wait for one. Well under it the slots could carry the rate, so a
        shortfall is not theirs, and no reason may say it was."""
        return self.busy >= SLOTS_BUSY_MIN

    def text(self) -> str:
        return (
            f"{self.clients:,} clients × --pipeline {self.pipeline} leave each request "
            f"{format_us(self.allowed_us)} for its round trip at this rate, and the replies "
            f"took {format_us(self.mean_us)} on average"
        )


def slots(doc: Mapping[str, Any]) -> Slots | None:
    """The slots of an open loop over streams (:class:`Slots`); None where there are none
    (datagrams: nothing waits for a slot) or nothing to tell them from.

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
    return Slots(clients, pipeline, clients * pipeline / due * 1e6, float(mean_us))


def in_flight_cap(doc: Mapping[str, Any]) -> str | None:
    """The round trip the slots leave each request, against the replies' mean
    (:func:`slots`), in words; None where there are no slots."""
    found = slots(doc)
    return None if found is None else found.text()


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
    if requested != result.requested_rps:  # what the schedule made due in the window
        ratio = served / requested if requested else 1.0
        rate = f"--rate {result.requested_rps or 0:,.0f}"
        limit = (doc.get("config") or {}).get("requests")
        made = (
            f"poisson arrivals at {rate}"
            if limit is None
            else f"what {rate} made due, up to --requests {limit:,}"
        )
        head = f"served {served:,.0f} req/s of the {requested:,.0f} due ({ratio:.1%}; {made})"
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
    held = slots(doc)
    return RunWarning(
        WarningKind.RATE_NOT_KEPT,
        f"{head}{sent}: the target fell behind (its replies lagged while the generator "
        f"kept its schedule{timed_out})",
        "latencies count from each request's due time, so they include the backlog: "
        "this rate is past the target's capacity at these settings"
        + (
            f" ({held.text()}); if the target serves more at once, raise --pipeline or --clients"
            if held is not None and held.held
            else ""
        ),
    )
