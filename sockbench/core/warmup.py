"""``--warmup auto``: end the warm-up once the interval series has settled (pure).

The trade-off: the rule is MSER-5 (White 1997; Hoad, Robinson and Davies 2010 found it
the most robust of the truncation rules they compared) on the warm-up's own interval rows,
asked after each merged row. It batches each series (throughput and p99 per interval) in
means of 5 intervals, and picks the truncation ``d`` (in batches) that minimises the
squared standard error of the mean of what is left, ``var(rest) / len(rest)``. A
transient (a cold cache, a JIT, a pool still growing) inflates that error while it is
kept, so ``d`` lands where it ends; on a series that has not settled yet (still rising),
``d`` lands near the end. The warm-up is taken as settled when, for every series, ``d``
is in the first half of the batches (:data:`MIN_BATCHES` of them at least, so
:data:`MIN_ROWS` intervals: 2 s at ``--interval 100ms``, 20 s at 1 s) and what is left
has no Mann-Kendall trend at :data:`TREND_ALPHA` (a slow drift buried in noise can
leave MSER's ``d`` early). It costs nothing per request (the rows are cut anyway) and
asks no threshold of the user; what it cannot see is a change slower than the series it
has, and the minimum makes the shortest auto warm-up :data:`MIN_ROWS` intervals, however
steady the target is from the start.

The window then starts on the next boundary of the warm-up's grid that every worker can
still hear of (:func:`~sockbench.core.intervals.boundary_ahead`); the warm-up's maximum
(``auto:30s``) bounds it: there the window starts anyway and the result says the warm-up
did not settle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sockbench.core import bounds
from sockbench.core.intervals import IntervalRow
from sockbench.core.series_tests import grouped, mann_kendall
from sockbench.core.significance import t_quantile
from sockbench.core.units import format_seconds, parse_seconds
from sockbench.core.warning import RunWarning, WarningKind
from sockbench.errors import ConfigError

BATCH = 5  # intervals per batch mean: MSER-5
MIN_BATCHES = 4  # before any decision: the rest then has 2 batches at least
MIN_ROWS = BATCH * MIN_BATCHES
DEFAULT_MAX_S = 60.0  # ``--warmup auto`` alone: ``auto:60s``
SERIES = ("rps", "p99")  # what must have settled, per merged interval row
#: What is left after the truncation must show no Mann-Kendall trend at this level: looser
#: than the window's test (series_tests.TREND_ALPHA, and no minimum change), since here a
#: false alarm costs a batch more of warm-up, a miss a window on a moving target.
TREND_ALPHA = 0.05
#: ... over the rest averaged down to this many points at most (Mann-Kendall is
#: quadratic: 100 points take milliseconds, and a long warm-up is asked every 5 rows).
TREND_POINTS = 100
_AUTO = "auto"


@dataclass(frozen=True)
class AutoWarmup:
    """``--warmup auto:MAX``: warm up until the series settles, ``max_s`` at most."""

    max_s: float = DEFAULT_MAX_S

    def __str__(self) -> str:
        return f"{_AUTO}:{format_seconds(self.max_s)}"


def parse_warmup(value: object, flag: str = "--warmup") -> float | AutoWarmup:
    """``2s`` -> 2.0; ``auto`` -> AutoWarmup(60.0); ``auto:30s`` -> AutoWarmup(30.0)."""
    if isinstance(value, AutoWarmup):
        return value
    text = str(value).strip()
    if not text.lower().startswith(_AUTO):
        return parse_seconds(value, flag)
    rest = text[len(_AUTO) :]
    if not rest:
        return AutoWarmup()
    if not rest.startswith(":"):
        raise ConfigError(f"{flag} {text!r}: give a duration (2s), 'auto' or 'auto:30s'")
    max_s = parse_seconds(rest[1:], flag)
    return AutoWarmup(bounds.check_seconds(max_s, f"{flag} auto:", maximum=bounds.MAX_RUN_S))


def warmup_max_s(warmup: float | AutoWarmup) -> float:
    """The longest the warm-up can last: the fixed one, or auto's maximum."""
    return warmup.max_s if isinstance(warmup, AutoWarmup) else warmup


def mser(series: Sequence[float], batch: int = BATCH) -> int | None:
    """MSER-``batch``'s truncation of ``series``, in batches: the ``d`` that minimises
    ``var(z[d:]) / len(z[d:])`` over the batch means ``z`` (a trailing part batch is left
    for later), keeping 2 batches at least; the earliest on a tie. None for fewer than 3
    batches. One pass from the end (suffix sums): an hour of 100 ms rows is 7,200
    batches, asked every 5 rows."""
    count = len(series) // batch
    if count < 3:
        return None
    z = [math.fsum(series[i * batch : (i + 1) * batch]) / batch for i in range(count)]
    scale = max(abs(x) for x in z) or 1.0  # sums of squares of values near 1: no overflow
    total = squares = 0.0
    errors = [math.inf] * count
    for d in range(count - 1, -1, -1):
        x = z[d] / scale
        total += x
        squares += x * x
        k = count - d
        if k >= 2:
            errors[d] = max(0.0, squares / k - (total / k) ** 2) / k
    best = min(errors) + 1e-12  # ties within rounding (the values are scaled to 1 at most)
    return next(d for d, error in enumerate(errors) if error <= best)


@dataclass(frozen=True)
class SeriesVerdict:
    """One series' truncation (in intervals; None: too few yet) and whether it settled."""

    name: str
    truncation: int | None
    settled: bool


def judge(name: str, series: Sequence[float]) -> SeriesVerdict:
    """Whether ``series`` (one value per interval) has settled: MSER's truncation in the
    first half of :data:`MIN_BATCHES` batches or more, and no trend flagged after it."""
    batches = len(series) // BATCH
    d = mser(series) if batches >= MIN_BATCHES else None
    if d is None:
        return SeriesVerdict(name, None, False)
    if 2 * d >= batches:
        return SeriesVerdict(name, d * BATCH, False)
    rest = series[d * BATCH : batches * BATCH]
    trend = mann_kendall(grouped(rest, TREND_POINTS))
    still = trend is None or trend.p_value >= TREND_ALPHA
    return SeriesVerdict(name, d * BATCH, still and _newest_fits(rest))


def _newest_fits(rest: Sequence[float]) -> bool:
    """Whether the newest batch's mean lies in the 95 % prediction interval of the batches
    before it: a transient that ends in the newest batch reads to MSER as one outlier
    batch (it then truncates nothing), and to Mann-Kendall as too few points to matter."""
    z = [math.fsum(rest[i : i + BATCH]) / BATCH for i in range(0, len(rest), BATCH)]
    *before, newest = z
    m = len(before)
    mean = math.fsum(before) / m
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in before) / (m - 1))
    return abs(newest - mean) <= t_quantile(m - 1) * sd * math.sqrt(1 + 1 / m) + 1e-9 * abs(mean)


@dataclass(frozen=True)
class WarmupDecision:
    """After ``rows`` warm-up intervals: whether every series settled, and where the
    latest transient ended (in intervals, None: not known yet)."""

    settled: bool
    rows: int
    transient: int | None
    verdicts: tuple[SeriesVerdict, ...] = ()


class WarmupMeter:
    """What the rule keeps between warm-up rows: each series' values so far."""

    def __init__(self) -> None:
        self.series: dict[str, list[float]] = {name: [] for name in SERIES}
        self.rows: list[IntervalRow] = []

    def add(self, row: IntervalRow) -> WarmupDecision:
        """Take the next merged warm-up row; whether the warm-up has settled now."""
        self.rows.append(row)
        for name, values in self.series.items():
            values.append(float(getattr(row, name)))
        return self.decision()

    def decision(self) -> WarmupDecision:
        n = len(self.rows)
        if n < MIN_ROWS or n % BATCH:  # a decision changes only with a whole batch
            return WarmupDecision(False, n, None)
        verdicts = tuple(judge(name, values) for name, values in self.series.items())
        served = any(row.requests for row in self.rows[-BATCH:])
        cuts = [v.truncation for v in verdicts if v.truncation is not None]
        settled = served and all(v.settled for v in verdicts)
        return WarmupDecision(settled, n, max(cuts) if cuts else None, verdicts)


def decide(rows: Sequence[IntervalRow]) -> WarmupDecision:
    """The rule over ``rows`` (merged warm-up rows, in order), as asked after the last."""
    meter = WarmupMeter()
    decision = WarmupDecision(False, 0, None)
    for row in rows:
        decision = meter.add(row)
    return decision


@dataclass(frozen=True)
class WarmupOutcome:
    """What an auto warm-up did: its merged rows, the rule's last decision, whether the
    window started on it (``settled``; False: at the maximum, or the run stopped first),
    and how long the warm-up lasted (``chosen_s``, from its start to the window's)."""

    rows: tuple[IntervalRow, ...]
    decision: WarmupDecision | None
    settled: bool
    chosen_s: float


def warmup_section(auto: AutoWarmup, outcome: WarmupOutcome) -> dict[str, Any]:
    """The result's ``warmup``: the maximum, whether the window started on the rule, the
    warm-up it started after, where the transient ended, and the warm-up's rows (t, rps,
    p50, p99; t from the warm-up's start)."""
    rows = outcome.rows
    interval_s = rows[0].t - rows[0].start_s if rows else 0.0
    transient = outcome.decision.transient if outcome.decision is not None else None
    return {
        "auto": True,
        "max_s": auto.max_s,
        "settled": outcome.settled,
        "chosen_s": round(outcome.chosen_s, 6),
        "transient_s": None if transient is None else round(transient * interval_s, 6),
        "rule": f"MSER-{BATCH} on {' and '.join(SERIES)}",
        "intervals": [{"t": row.t, "rps": row.rps, "p50": row.p50, "p99": row.p99} for row in rows],
    }


def warmup_text(section: Mapping[str, Any]) -> str:
    """``settled after 2.60 s (transient 1.00 s; MSER-5 on rps and p99)``, ``did not
    settle in 30 s (the maximum): the window started there``, or ``stopped after 1.20 s of
    warm-up, before it settled`` (interrupted, the server died)."""
    if section.get("settled"):
        transient = section.get("transient_s")
        part = f"transient {transient:.2f} s; " if transient is not None else ""
        return f"settled after {section['chosen_s']:.2f} s ({part}{section['rule']})"
    if section["chosen_s"] < section["max_s"]:  # the run stopped first
        return f"stopped after {section['chosen_s']:.2f} s of warm-up, before it settled"
    return f"did not settle in {section['max_s']:g} s (the maximum): the window started there"


def unsettled_warning(auto: AutoWarmup) -> RunWarning:
    """The warm-up reached its maximum before the series settled."""
    return RunWarning(
        WarningKind.WARMUP_UNSETTLED,
        f"--warmup {auto}: throughput or p99 was still moving at the warm-up's maximum; "
        "the window started there, on a target that may still be warming up",
        "raise the maximum (--warmup auto:MAX), or look at the result's warmup.intervals: "
        "a target that never settles is degrading, and its window is not valid either "
        "(docs/validity.md)",
    )
