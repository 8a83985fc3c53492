"""``validity`` (``sockbench.validity/1``): whether a result supports its own numbers."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from annotated_types import Ge, Le, Len
from typing_extensions import TypedDict

from sockbench.core.kinds import Arrival
from sockbench.core.records.fields import AtLeastOne, Count, NonNegative, record
from sockbench.core.validity import Test, Verdict


@record
class Reason(TypedDict):
    test: Test
    text: str


@record
class PercentileInterval(TypedDict):
    value: Count
    low: Count | None
    high: Count | None
    relative: NonNegative | None
    """the larger side's distance from value over value (0.03: ±3 %); null when a side is
    unbounded"""
    order_statistic: Annotated[list[Count | None], Len(2, 2)]
    batch_means: Annotated[list[Count], Len(2, 2)] | None
    batches: Count
    reliable: bool
    """false for p99 and up when the generator did not follow its schedule, and for a
    percentile where the generator's own send lag is over 1 ms and half the latency"""
    generator_lag_us: NotRequired[Count | None]
    """open loop: the generator's send lag at this percentile where it makes the
    percentile unreliable (over 1 ms and over half the latency there), else null"""


@record
class Trend(TypedDict):
    change: float
    """how far Sen's line moved from the first interval to the last, over where it started
    (0.12: rose 12 %, -0.4: fell 40 %)"""
    p_value: Annotated[float, Ge(0), Le(1)]
    """Mann-Kendall, two-sided, corrected for ties and lag-1 autocorrelation"""
    z: float
    flagged: bool
    """p_value < 0.01 and |change| >= 5 %"""


@record
class Stationarity(TypedDict):
    verdict: Literal["stationary", "trend", "not enough intervals"]
    intervals: Count
    min_intervals: AtLeastOne
    rps: Trend | None
    p50: Trend | None
    p99: Trend | None


@record
class Independence(TypedDict):
    rps_lag1: float | None
    p99_lag1: float | None
    correlated: bool


@record
class Arrivals(TypedDict):
    schedule: Arrival
    followed: bool | None
    tail_reliable: bool | None
    sent_ratio: float | None
    generator_lag_p99_us: Count | None
    dispersion_index: float | None
    dispersion_p: float | None
    note: str


@record
class Validity(TypedDict):
    schema: Literal["sockbench.validity/1"]
    verdict: Verdict
    """not valid: the run did not complete, measured nothing, trends, or did not follow its
    schedule; unknown: too few intervals to test for a trend; --check valid fails only on
    not valid"""
    reasons: list[Reason]
    notes: list[str]
    confidence: float
    percentiles: dict[str, PercentileInterval]
    """keyed like latency_us.percentiles ("99.9"), microseconds"""
    stationarity: Stationarity
    independence: Independence
    arrivals: Arrivals | None
