"""Does a run's result support its own numbers? The result's ``validity`` section (pure).

The trade-off: every test reads what a result keeps anyway (its interval rows and their
histograms, the send lag, the counts of requests due and sent), so none costs anything
while the run is measured and an old result can be judged again; in exchange each sees
the run at the grain of an ``--interval``, never a single request, and a short run
(fewer than :data:`~sockbench.core.series_tests.MIN_INTERVALS` intervals) gets
``unknown``, not ``valid``. The tests (docs/validity.md says what each can and cannot
tell):

- **percentiles**: a 95 % interval for each recorded percentile
  (:mod:`sockbench.core.percentile_ci`);
- **stationarity**: Mann-Kendall on the per-interval throughput, p50 and p99
  (:mod:`sockbench.core.series_tests`): a server still warming up, or degrading (the
  median moves with a server's service time while a busy machine's spikes still own
  its p99);
- **independence**: the lag-1 autocorrelation of those series; correlated intervals
  widen the percentile intervals (batch means), and a note says so;
- **starved**: no connection went without a reply through the whole window (a target
  that serves a few connections at a time leaves the others waiting; their clients
  measure nothing there);
- **unserved**: every client had a request of the window answered (closed-loop echo
  mode, where each one sends throughout): a target at its connection limit (redis's
  ``maxclients``) refuses the rest, and the numbers are the served clients' alone;
- **drops** (datagrams): the generator's own sockets dropped none
  (:mod:`sockbench.core.socket_drops`): a reply the kernel dropped there is counted lost,
  and that loss is the generator's;
- **arrivals** (open loop): the generator sent what was due (whether it fell behind or
  the sends waited for a slot the target held), without lagging while it could send
  (:mod:`sockbench.core.shortfall`'s rules), and for ``--arrival poisson`` the
  per-interval counts disperse as a Poisson process's do. When it fails, the tail (p99
  and up) is marked unreliable. Where it passes, a single percentile is still marked
  unreliable when the generator's own send lag at that percentile is over the same
  1 ms and over half the latency there (:func:`generator_bound`): a stall of a few
  tens of milliseconds moves no p99 of the lag, yet owns the p99.9 of the latency.

The verdict is ``not valid`` when the run did not complete, measured nothing, trends,
did not follow its schedule, starved connections, served only some of its clients, or
dropped replies at its own sockets; otherwise ``unknown`` when a trend could not be
tested (too few intervals), else ``valid``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hdrh.histogram import HdrHistogram

from sockbench.core.exchange import STARVED
from sockbench.core.histogram import decode
from sockbench.core.percentile_ci import PercentileInterval, percentile_interval
from sockbench.core.series_tests import (
    CORRELATED,
    MIN_INTERVALS,
    Dispersion,
    Trend,
    lag1_autocorrelation,
    mann_kendall,
    poisson_dispersion,
)
from sockbench.core.shortfall import (
    ACHIEVED_RATE_MIN,
    SEND_LAG_P99_MAX_US,
    generator_fell_short,
    generator_lagged,
    scheduled_rps,
    served_ratio,
    slots,
)
from sockbench.core.socket_drops import generator_drops
from sockbench.core.status import RunStatus
from sockbench.core.units import DEFAULT_PERCENTILES, format_us, percentile_key
from sockbench.core.warning import RunWarning, WarningKind

VALIDITY_SCHEMA = "sockbench.validity/1"
CONFIDENCE = 0.95
#: A row shorter than this fraction of ``--interval`` (the window's last, cut short) is
#: left out of the series: its rate is right, but its p99 rests on few samples.
SHORT_ROW = 0.5
#: Percentiles from this one up are the tail a lagging generator makes unreliable.
TAIL_FROM = 99.0
#: A latency percentile whose send lag at the same percentile is over this share of it
#: (and over :data:`~sockbench.core.shortfall.SEND_LAG_P99_MAX_US`) is the generator's.
GENERATOR_SHARE_MAX = 0.5


class Verdict(StrEnum):
    VALID = "valid"
    NOT_VALID = "not valid"
    UNKNOWN = "unknown"


class Test(StrEnum):
    """Which test a reason comes from; its advice is :data:`ADVICE`'s (how the run ended
    has a warning of its own)."""

    STATUS = "status"
    STATIONARITY = "stationarity"
    ARRIVALS = "arrivals"
    DROPS = "drops"
    STARVED = "starved"
    UNSERVED = "unserved"


ADVICE: dict[Test, str] = {
    Test.STATIONARITY: (
        "the server was still warming up or was degrading: lengthen --warmup, or look "
        "for a leak or a growing queue; docs/validity.md"
    ),
    Test.ARRIVALS: (
        "the target was not sent the schedule asked for, so the tail is not that "
        "schedule's: add --workers (and --client-cpus) where the generator fell behind, "
        "lower --rate where the target did; docs/validity.md"
    ),
    Test.STARVED: (
        "the target served some connections and left the others waiting: check its limits "
        "(threads, descriptors, accept backlog), or lower --clients; docs/validity.md"
    ),
    Test.UNSERVED: (
        "the target refused or dropped the other clients (see the errors and what it "
        "replied): check its connection limit (redis maxclients, memcached -c, nginx "
        "worker_connections, its accept backlog), or lower --clients; docs/validity.md"
    ),
    Test.DROPS: (
        "the generator read its replies slower than they came: add --workers (and "
        "--client-cpus), lower --rate or --clients, or give its sockets room for bursts "
        "(--socket-buffer); docs/validity.md"
    ),
}
#: A reason in a few words, where its text is too long for a table's cell.
SHORT: dict[Test, str] = {
    Test.ARRIVALS: "schedule not followed",
    Test.DROPS: "generator dropped replies",
    Test.STARVED: "connections starved",
    Test.UNSERVED: "clients unserved",
}


@dataclass(frozen=True)
class Reason:
    test: Test
    text: str

    def to_json(self) -> dict[str, str]:
        return {"test": self.test.value, "text": self.text}


@dataclass(frozen=True)
class Series:
    """The per-interval series the tests read: rows shorter than :data:`SHORT_ROW` of an
    interval left out, p50 and p99 only from rows that recorded a latency."""

    rps: tuple[float, ...]
    p50: tuple[float, ...]
    p99: tuple[float, ...]
    counts: tuple[int, ...]
    seconds: tuple[float, ...]
    histograms: tuple[HdrHistogram, ...]


def series_of(rows: Sequence[Mapping[str, Any]], interval_s: float) -> Series:
    """The series of a result's ``intervals``."""
    kept, previous = [], 0.0
    for row in rows:
        t = float(row.get("t") or 0.0)
        if t - previous >= SHORT_ROW * interval_s:
            kept.append((row, t - previous))
        previous = t
    return Series(
        rps=tuple(float(r.get("rps") or 0.0) for r, _ in kept),
        p50=tuple(float(r["p50"]) for r, _ in kept if r.get("p50")),
        p99=tuple(float(r["p99"]) for r, _ in kept if r.get("p99")),
        counts=tuple(int(r.get("requests") or 0) for r, _ in kept),
        seconds=tuple(s for _, s in kept),
        histograms=tuple(decode(r["histogram"]) for r, _ in kept if r.get("histogram")),
    )


@dataclass(frozen=True)
class Stationarity:
    """Trend tests of throughput, p50 and p99; None where a series is too short."""

    intervals: int
    rps: Trend | None
    p99: Trend | None
    p50: Trend | None = None

    @property
    def testable(self) -> bool:
        return self.rps is not None

    def reasons(self) -> list[Reason]:
        out = []
        for name, trend in (("throughput", self.rps), ("p50", self.p50), ("p99", self.p99)):
            if trend is not None and trend.flagged:
                way = "rose" if trend.change > 0 else "fell"
                out.append(
                    Reason(
                        Test.STATIONARITY,
                        f"{name} {way} {abs(trend.change):.0%} over the window "
                        f"(Mann-Kendall p = {trend.p_value:.2g})",
                    )
                )
        return out

    def to_json(self) -> dict[str, Any]:
        verdict = "not enough intervals"
        if self.testable:
            verdict = "trend" if self.reasons() else "stationary"
        return {
            "verdict": verdict,
            "intervals": self.intervals,
            "min_intervals": MIN_INTERVALS,
            "rps": _trend_json(self.rps),
            "p50": _trend_json(self.p50),
            "p99": _trend_json(self.p99),
        }


def _trend_json(trend: Trend | None) -> dict[str, Any] | None:
    if trend is None:
        return None
    return {
        "change": round(trend.change, 4),
        "p_value": round(trend.p_value, 6),
        "z": round(trend.z, 4),
        "flagged": trend.flagged,
    }


@dataclass(frozen=True)
class Arrivals:
    """Open loop: whether the generator followed its schedule.

    ``followed`` is False when less than was due was sent, or the generator sent late
    while it could send, or (``--arrival poisson``) the per-interval counts were not
    Poisson. ``dispersion`` is None where it was not tested, and ``note`` says why.
    """

    schedule: str
    sent_ratio: float | None
    lag_p99_us: int | None
    dispersion: Dispersion | None
    reasons: tuple[Reason, ...]
    note: str = ""

    @property
    def followed(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "followed": self.followed,
            "tail_reliable": self.followed,
            "sent_ratio": None if self.sent_ratio is None else round(self.sent_ratio, 4),
            "generator_lag_p99_us": self.lag_p99_us,
            "dispersion_index": None
            if self.dispersion is None
            else round(self.dispersion.index, 4),
            "dispersion_p": None if self.dispersion is None else round(self.dispersion.p_value, 6),
            "note": self.note,
        }


def arrivals(doc: Mapping[str, Any], series: Series) -> Arrivals | None:
    """The arrival test of an open-loop request/reply run; None otherwise."""
    config, totals = doc.get("config") or {}, doc.get("totals") or {}
    offered, due = totals.get("offered_rps"), scheduled_rps(doc)
    if not config.get("rate") or offered is None or not due:
        return None
    schedule = str(config.get("arrival") or "uniform")
    lag = (doc.get("scheduler_lag_us") or doc.get("send_lag_us") or {}).get("p99")
    reasons = []
    if generator_fell_short(doc):
        reasons.append(
            Reason(
                Test.ARRIVALS,
                f"the generator sent {offered:,.0f} req/s of the {due:,.0f} due: it fell "
                "behind its schedule",
            )
        )
    elif offered < due * ACHIEVED_RATE_MIN:
        held = slots(doc)
        why = (
            "the rest waited for a --pipeline slot, as the target's replies lagged "
            + (f"({held.text()})" if held is not None else "(past its capacity)")
            if held is None or held.held
            else "the generator kept its schedule and the replies were quick enough for "
            f"the slots ({held.text()}), so neither held the rest back"
        )
        reasons.append(
            Reason(Test.ARRIVALS, f"{offered / due:.0%} of the requests due were sent: {why}")
        )
    elif generator_lagged(doc):
        reasons.append(
            Reason(
                Test.ARRIVALS,
                f"the generator sent late (p99 {format_us(int(lag or 0))} behind its "
                "schedule while it could send)",
            )
        )
    dispersion, note = None, ""
    if schedule == "poisson":
        kept_up = (served_ratio(doc) or 0.0) >= ACHIEVED_RATE_MIN
        dispersion = poisson_dispersion(series.counts, series.seconds) if kept_up else None
        if not kept_up:
            note = "counts not tested: the replies did not keep up with the arrivals"
        elif dispersion is None:
            note = f"counts not tested: fewer than {MIN_INTERVALS} intervals"
        elif not dispersion.poisson:
            reasons.append(
                Reason(
                    Test.ARRIVALS,
                    f"requests per interval were not Poisson (dispersion index "
                    f"{dispersion.index:.2f}, p = {dispersion.p_value:.2g})",
                )
            )
    return Arrivals(
        schedule, offered / due, None if lag is None else int(lag), dispersion, tuple(reasons), note
    )


@dataclass(frozen=True)
class Validity:
    """The whole assessment of one result."""

    verdict: Verdict
    reasons: tuple[Reason, ...]
    percentiles: tuple[PercentileInterval, ...]
    stationarity: Stationarity
    autocorrelation: tuple[float | None, float | None]  # of (rps, p99)
    arrivals: Arrivals | None
    notes: tuple[str, ...] = field(default=())
    #: percentile -> the generator's send lag there (µs), where it owns that percentile
    generator_bound: Mapping[float, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        tail_reliable = self.arrivals is None or self.arrivals.followed
        rps_rho, p99_rho = self.autocorrelation
        return {
            "schema": VALIDITY_SCHEMA,
            "verdict": self.verdict.value,
            "reasons": [r.to_json() for r in self.reasons],
            "notes": list(self.notes),
            "confidence": CONFIDENCE,
            "percentiles": {
                percentile_key(p.percentile): _interval_json(
                    p, tail_reliable, self.generator_bound.get(p.percentile)
                )
                for p in self.percentiles
            },
            "stationarity": self.stationarity.to_json(),
            "independence": {
                "rps_lag1": _rounded(rps_rho),
                "p99_lag1": _rounded(p99_rho),
                "correlated": _correlated(self.autocorrelation),
            },
            "arrivals": None if self.arrivals is None else self.arrivals.to_json(),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _correlated(rhos: tuple[float | None, float | None]) -> bool:
    return any(r is not None and r > CORRELATED for r in rhos)


def generator_bound(lag: HdrHistogram | None, p: PercentileInterval) -> int | None:
    """The generator's send lag at ``p``'s percentile (µs) where it is over 1 ms and over
    half the latency there, else None.

    Open-loop latency runs from the due time, so a request sent late carries its lag.
    The lag and the latency at one percentile are not one request's, but a lag that
    large at the same rank means that many of the slowest requests were late leaving:
    that percentile says how the generator kept its schedule, not how the target
    served it. Lower percentiles are the arrival test's (a lag p99 over 1 ms fails it).
    """
    if lag is None or not lag.get_total_count():
        return None
    at = int(lag.get_value_at_percentile(p.percentile))
    if at > SEND_LAG_P99_MAX_US and at > GENERATOR_SHARE_MAX * p.value:
        return at
    return None


def _lag_histogram(doc: Mapping[str, Any]) -> HdrHistogram | None:
    lag = doc.get("scheduler_lag_us") or doc.get("send_lag_us") or {}
    return decode(lag["histogram"]) if lag.get("histogram") and lag.get("count") else None


def _generator_note(bound: Mapping[float, int], percentiles: Sequence[PercentileInterval]) -> str:
    first = min(bound)
    value = next(p.value for p in percentiles if p.percentile == first)
    keys = ", ".join(f"p{percentile_key(q)}" for q in sorted(bound))
    return (
        f"{keys} unreliable: the generator's own send lag at p{percentile_key(first)} "
        f"({format_us(bound[first])}) is over half the latency there "
        f"({format_us(value)}), so it measured the generator's stalls there, not the "
        "target"
    )


def _interval_json(
    p: PercentileInterval, tail_reliable: bool, lag_bound_us: int | None
) -> dict[str, Any]:
    return {
        "value": p.value,
        "low": p.low,
        "high": p.high,
        "relative": _rounded(p.relative),
        "order_statistic": list(p.order_statistic),
        "batch_means": None if p.batch_means is None else list(p.batch_means),
        "batches": p.batches,
        "reliable": (tail_reliable or p.percentile < TAIL_FROM) and lag_bound_us is None,
        "generator_lag_us": lag_bound_us,
    }


def assess(doc: Mapping[str, Any]) -> Validity:
    """The validity of a built result (its intervals, histograms, totals and status)."""
    config = doc.get("config") or {}
    series = series_of(doc.get("intervals") or (), float(config.get("interval_s") or 1.0))
    stationarity = Stationarity(
        len(series.rps),
        mann_kendall(series.rps),
        mann_kendall(series.p99),
        mann_kendall(series.p50),
    )
    rhos = (lag1_autocorrelation(series.rps), lag1_autocorrelation(series.p99))
    arrived = arrivals(doc, series)
    latency = doc.get("latency_us") or {}
    total = decode(latency["histogram"]) if latency.get("count") else None
    wanted = [float(k) for k in (latency.get("percentiles") or {})] or list(DEFAULT_PERCENTILES)
    found = [percentile_interval(series.histograms, p, total) for p in wanted] if total else []
    reasons: list[Reason] = []
    status = str(doc.get("status") or RunStatus.COMPLETED)
    if status != RunStatus.COMPLETED:
        reasons.append(Reason(Test.STATUS, f"the run ended {status}"))
    elif not (doc.get("totals") or {}).get("requests"):  # a stream's are its messages
        reasons.append(Reason(Test.STATUS, "no request completed"))
    reasons += stationarity.reasons()
    reasons += arrived.reasons if arrived is not None else ()
    from_counts = (_generator_drops(doc), _starved(doc), _unserved(doc))
    reasons += [reason for reason in from_counts if reason is not None]
    notes = []
    if _correlated(rhos):
        notes.append(
            "intervals are correlated (lag-1 autocorrelation "
            + ", ".join(f"{n} {r:.2f}" for n, r in zip(("rps", "p99"), rhos, strict=True) if r)
            + "): the percentile intervals are widened for it"
        )
    if arrived is not None and arrived.note:
        notes.append(arrived.note)
    percentiles = tuple(p for p in found if p is not None)
    lag = _lag_histogram(doc) if arrived is not None and arrived.followed else None
    bound = {p.percentile: at for p in percentiles if (at := generator_bound(lag, p)) is not None}
    if bound:
        notes.append(_generator_note(bound, percentiles))
    if reasons:
        verdict = Verdict.NOT_VALID
    elif not stationarity.testable:
        verdict = Verdict.UNKNOWN
        notes.insert(0, not_enough(stationarity.intervals))
    else:
        verdict = Verdict.VALID
    return Validity(
        verdict, tuple(reasons), percentiles, stationarity, rhos, arrived, tuple(notes), bound
    )


def _starved_count(totals: Mapping[str, Any]) -> int:
    """Connections counted ``starved`` (an error, once per client)."""
    return int((totals.get("errors") or {}).get(STARVED) or 0)


def _starved(doc: Mapping[str, Any]) -> Reason | None:
    """Connections that got no reply in the whole window: their clients measured nothing
    there, so the latencies and the rate are the other connections' alone."""
    totals = doc.get("totals") or {}
    starved = _starved_count(totals)
    if not starved:
        return None
    connections = int(totals.get("connections") or 0)
    of = f" of the {connections:,}" if connections >= starved else ""
    return Reason(
        Test.STARVED,
        f"{starved:,}{of} connections got no reply in the whole window (starved): the "
        "latencies and the rate are the other connections' alone",
    )


def _unserved(doc: Mapping[str, Any]) -> Reason | None:
    """Clients with no request of the window answered, beyond those starved (which have
    their own reason): in a closed loop every client sends throughout, so each one that
    got nothing was refused, cut off or never connected. A run that served none, or did
    not complete, has its status's reason, which says it already."""
    config, totals = doc.get("config") or {}, doc.get("totals") or {}
    served, clients = totals.get("clients_served"), int(config.get("clients") or 0)
    closed_loop = config.get("mode", "echo") == "echo" and config.get("rate") is None
    if not served or not closed_loop or config.get("requests") is not None:
        return None
    if doc.get("status", RunStatus.COMPLETED) != RunStatus.COMPLETED:
        return None
    if clients - served <= _starved_count(totals):
        return None
    return Reason(
        Test.UNSERVED,
        f"only {served:,} of the {clients:,} clients had a request answered in the "
        "window: the latencies and the rate are theirs alone",
    )


def _generator_drops(doc: Mapping[str, Any]) -> Reason | None:
    """Datagrams the kernel dropped at the generator's own sockets: replies that came and
    were counted lost because the generator did not read them in time."""
    drops = generator_drops(doc)
    if not drops:
        return None
    return Reason(
        Test.DROPS,
        f"the generator's own sockets dropped {drops:,} datagrams, their receive "
        "buffers full (over the run): some of the loss counted is the generator's, "
        "not the target's",
    )


def not_enough(intervals: int) -> str:
    return f"not enough intervals: {intervals} of the {MIN_INTERVALS} a trend test needs"


def verdict_text(section: Mapping[str, Any] | None, short: bool = False) -> str | None:
    """``valid``, ``unknown: not enough intervals ...`` or ``not valid: <reasons>``, as the
    reports show it (``short``: each reason in a few words, as ``--check valid`` shows it
    in a table's cell); None without a section."""
    if not section:
        return None
    verdict = str(section.get("verdict"))
    if verdict == Verdict.NOT_VALID:
        reasons = section.get("reasons") or ()
        texts = [_short(r) if short else str(r["text"]) for r in reasons]
        return f"{verdict}: " + "; ".join(dict.fromkeys(texts))
    if verdict == Verdict.UNKNOWN and section.get("notes"):
        note = str(section["notes"][0])
        return f"{verdict}: " + (note.split(":")[0] if short else note)
    return verdict


def _short(reason: Mapping[str, Any]) -> str:
    """A reason in a few words: ``p99 rose 64%``, ``schedule not followed``."""
    test = reason.get("test")
    if test in SHORT:
        return SHORT[Test(test)]
    return str(reason["text"]).split(" over the window")[0].split(" (")[0]


def not_valid(doc: Mapping[str, Any]) -> bool:
    """Whether a result was judged not valid (a result without the section was not)."""
    return (doc.get("validity") or {}).get("verdict") == Verdict.NOT_VALID


def validity_warning(doc: Mapping[str, Any]) -> RunWarning | None:
    """The ``not_valid`` warning of a result judged not valid by a test, with the advice of
    each test that failed; None otherwise."""
    section = doc.get("validity") or {}
    if section.get("verdict") != Verdict.NOT_VALID:
        return None
    # How the run ended has its own warning (interrupted, server died, nothing measured).
    reasons = [r for r in section.get("reasons") or () if r["test"] != Test.STATUS]
    if not reasons:
        return None
    tests = dict.fromkeys(Test(r["test"]) for r in reasons)
    return RunWarning(
        WarningKind.NOT_VALID,
        "this run is not valid: " + "; ".join(str(r["text"]) for r in reasons),
        "; ".join(ADVICE[t] for t in tests),
    )
