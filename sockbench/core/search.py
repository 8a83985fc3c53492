"""Capacity search: the highest open-loop rate at which every SLO holds (pure, sans-IO).

The driver asks :meth:`CapacitySearch.next_rate`, runs that rate (a full run: warm-up,
window, drain), judges the result (:func:`judge`) and hands the verdict back with
:meth:`CapacitySearch.record`; the search never runs anything itself, so every rule
below is tested with plain verdicts.

The method is mutilate's ``--search`` and Nighthawk's adaptive controller, in three
phases:

1. **Ramp**: from ``rate_min``, double until a rate fails (or ``rate_max`` passes).
2. **Bisect** between the highest pass and the lowest fail until they are within
   ``precision`` of each other (5 % by default): the answer is the highest pass.
3. **Confirm**: run the answer once more. A repeat that fails says the answer sits on
   the knee's noise; the search says so and does not hide it.

The trade-off is time against certainty: each step costs a full run, and a 5 % bracket
from 1k to a 100k capacity takes about 7 ramp steps and 5 bisections. A rate where the
generator could not keep the schedule (its send lag or CPU, :func:`judge`) tells
nothing about the server, so it is an **invalid** step, never a failure (run once more
first: a passing hiccup of the machine is not the generator's limit): the search
stops going up there (a faster rate would be no more measurable) and bisects below it,
and when the top of its bracket is invalid it reports the capacity as *at least* the
highest pass, limited by the generator, with advice, never a false capacity.

A step whose run was degraded because (nearly) every request failed in a way no load
explains (wrong replies, error replies, closes: :func:`unusable`) is **unusable**: the
target answered nothing usable, which says nothing of its capacity. Before any rate
passed it ends the search (``unusable``): no capacity is claimed, and the search takes
its run's status (``degraded``, :func:`search_status`) and exit code. After a rate
passed, it is that rate's failure: the target served less, and its errors say why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sockbench.core.checks import Check, evaluate
from sockbench.core.document import Result
from sockbench.core.shortfall import (
    ACHIEVED_RATE_MIN,
    LAGGING,
    generator_fell_short,
    generator_lagged,
    late_sender_advice,
    served_ratio,
)
from sockbench.core.socket_drops import generator_drops
from sockbench.core.status import (
    EXIT_FAILED,
    EXIT_NO_CAPACITY,
    EXIT_OK,
    RunStatus,
    exit_code,
)
from sockbench.errors import ConfigError

DEFAULT_PRECISION = 0.05


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    #: The generator could not offer the rate: the step says nothing about the server.
    INVALID = "invalid"
    #: The target answered nothing usable (its run degraded, (nearly) every request
    #: failed, and not for lagging): the step says nothing about its capacity.
    UNUSABLE = "unusable"


class Phase(StrEnum):
    RAMP = "ramp"
    BISECT = "bisect"
    CONFIRM = "confirm"


class Found(StrEnum):
    """How a search ended."""

    #: Bracketed: the highest pass is within the precision of the lowest fail.
    CAPACITY = "capacity"
    #: Even ``rate_min`` failed an SLO: the capacity is below what was tried.
    BELOW_MIN = "below_min"
    #: ``rate_max`` passed: the capacity is at least that.
    ABOVE_MAX = "above_max"
    #: The generator could not offer the rates above the highest pass.
    GENERATOR_LIMITED = "generator_limited"
    #: Stopped early (a signal, a server that died); the bracket is what was known then.
    STOPPED = "stopped"
    #: The target answered nothing usable before any rate passed: no capacity to claim,
    #: its run was degraded (:func:`unusable`).
    UNUSABLE = "unusable"


#: A search's exit code by how it ended: 0 only for a capacity, or a bound the user set
#: (``--rate-max``); a code of its own when even the lowest rate failed; 1 when the
#: generator, or a stop, left no answer (a signal's own code wins over these).
SEARCH_EXIT_CODES: dict[Found, int] = {
    Found.CAPACITY: EXIT_OK,
    Found.ABOVE_MAX: EXIT_OK,
    Found.BELOW_MIN: EXIT_NO_CAPACITY,
    Found.GENERATOR_LIMITED: EXIT_FAILED,
    Found.STOPPED: EXIT_FAILED,
    Found.UNUSABLE: exit_code(RunStatus.DEGRADED),  # its run's: as `run` exits on it
}


def search_status(found: Found) -> RunStatus:
    """The status a search's document takes from how it ended: ``degraded`` when the
    target answered nothing usable (:data:`Found.UNUSABLE`), as its run was; otherwise
    it completed (a signal's ``interrupted`` is the driver's to set)."""
    return RunStatus.DEGRADED if found is Found.UNUSABLE else RunStatus.COMPLETED


@dataclass(frozen=True)
class Judgement:
    """One run, judged: its verdict and why (the SLOs that failed, or the generator)."""

    verdict: Verdict
    reasons: tuple[str, ...] = ()


#: Judged at every step, whatever the SLOs: a capacity is a rate served, and a rate the
#: target did not serve is past it however its latencies read over a short window.
KEPT_THE_RATE = f"achieved >= {ACHIEVED_RATE_MIN:.0%}"


def judge(slos: Sequence[Check], doc: Mapping[str, Any]) -> Judgement:
    """A run's verdict against ``slos`` and :data:`KEPT_THE_RATE`.

    Invalid, whatever the SLOs say, when the generator never offered the rate
    (:func:`~sockbench.core.shortfall.generator_fell_short`). A server that died or a
    degraded run fails. Otherwise it passes when the rate was served and every SLO
    holds. A failure is invalid too when the generator sent late while free to send or
    used all its CPU (less its spin): a busy generator reads replies late as well, so
    what failed may be its own delay; or when its own sockets dropped datagrams, which
    count as the target's loss. A pass despite that stands: the server did at least
    that well.
    """
    if generator_fell_short(doc):
        advice = late_sender_advice(doc, lower=_LOWER)
        return Judgement(Verdict.INVALID, (f"the generator could not offer the rate; {advice}",))
    useless = unusable(doc)
    if useless is not None:
        return Judgement(Verdict.UNUSABLE, (useless,))
    if doc.get("status") in (RunStatus.SERVER_DIED, RunStatus.DEGRADED):
        return Judgement(Verdict.FAIL, (f"status {doc['status']}",))
    failed = tuple(
        f"{r.check.expr} (measured {r.measured})" for r in evaluate(list(slos), doc) if not r.passed
    )
    if not any(c.metric == "achieved" for c in slos):
        failed = (*_rate_not_served(doc), *failed)
    if not failed:
        return Judgement(Verdict.PASS)
    why = _generator_fault(doc)
    if why is not None:
        return Judgement(
            Verdict.INVALID,
            (
                *failed,
                f"but the generator {why}, so the failure may be its own; "
                f"{late_sender_advice(doc, lower=_LOWER)}",
            ),
        )
    return Judgement(Verdict.FAIL, failed)


_LOWER = "--rate-max"  # what a search lowers where run lowers --rate

#: A degraded run whose good replies are at most this share of its requests answered
#: nothing usable (:func:`unusable`).
USABLE_MIN = 0.01


def unusable(doc: Mapping[str, Any]) -> str | None:
    """Why a run says nothing about its target's capacity, or None when it may.

    A run marked degraded in which (nearly) every request failed (at most
    :data:`USABLE_MIN` answered well, inside the window or its drain), and failed in a
    way no load explains: wrong replies (``mismatch``), error replies, closes, resets,
    refused connects. The target answered nothing usable at this rate, and would at any
    rate: a wrong ``--protocol``, an echo server asked for memcache. Requests that timed
    out, or were still open when the drain ended, are the backlog of a target behind its
    rate (:data:`~sockbench.core.shortfall.LAGGING`): that is a capacity, and fails.
    """
    if doc.get("status") != RunStatus.DEGRADED:
        return None
    totals = doc.get("totals") or {}
    errors = {k: int(n) for k, n in (totals.get("errors") or {}).items() if n}
    wrong = sum(n for kind, n in errors.items() if kind not in LAGGING)
    good = max(int(totals.get("requests") or 0), int(totals.get("served") or 0))
    if not wrong or good > USABLE_MIN * (good + sum(errors.values())):
        return None
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(errors.items(), key=lambda kv: -kv[1]))
    return (
        f"the target answered nothing usable: status degraded, {sum(errors.values()):,} "
        f"errors ({kinds}) and {good:,} requests answered well, which says nothing of its "
        "capacity; check --target and --protocol against what it speaks (the run's "
        "errors by kind, and what it replied)"
    )


def _generator_fault(doc: Mapping[str, Any]) -> str | None:
    """What the generator did that may have failed a step itself, or None."""
    if generator_lagged(doc):
        return "sent late"
    if Result(doc).saturated:
        return "used all its CPU"
    dropped = generator_drops(doc)
    return f"dropped {dropped:,} datagrams at its own sockets" if dropped else None


def _rate_not_served(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """:data:`KEPT_THE_RATE`, against what the schedule asked of the window (a Poisson
    schedule's count varies by its square root: ``--rate`` alone would fail it by chance)."""
    ratio = served_ratio(doc)
    if ratio is not None and ratio >= ACHIEVED_RATE_MIN:
        return ()
    measured = "nothing measured" if ratio is None else f"{ratio:.2%}"
    return (f"{KEPT_THE_RATE} (measured {measured})",)


@dataclass(frozen=True)
class Step:
    rate: float
    phase: Phase
    judgement: Judgement


@dataclass(frozen=True)
class SearchOutcome:
    found: Found
    highest_pass: float | None
    lowest_fail: float | None  # an SLO failed here
    lowest_invalid: float | None  # the generator could not offer this
    confirmed: bool | None  # None: no confirmation ran
    steps: tuple[Step, ...]

    @property
    def capacity(self) -> float | None:
        """The answer: the highest rate that passed (a lower bound unless ``CAPACITY``)."""
        return self.highest_pass


@dataclass
class CapacitySearch:
    rate_min: float
    precision: float = DEFAULT_PRECISION
    rate_max: float | None = None
    confirm: bool = True
    steps: list[Step] = field(default_factory=list)
    _pass: float | None = None
    _fail: float | None = None
    _invalid: float | None = None
    _confirmed: bool | None = None
    _stopped: bool = False
    _unusable: float | None = None  # the target answered nothing usable here, none passed
    _again: float | None = None  # an invalid rate to run once more (a passing hiccup)
    _retried: set[tuple[float, Phase]] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.rate_min > 0:
            raise ConfigError(f"--rate-min must be above 0, got {self.rate_min:g}")
        if not 0 < self.precision < 1:
            raise ConfigError(f"--precision must be between 0 and 100 %, got {self.precision}")
        if self.rate_max is not None and self.rate_max < self.rate_min:
            raise ConfigError("--rate-max must be at least --rate-min")

    @property
    def _top(self) -> float | None:
        """The lowest rate known not to pass (failed or not measurable)."""
        tops = [r for r in (self._fail, self._invalid) if r is not None]
        return min(tops) if tops else None

    def _narrow(self) -> bool:
        top = self._top
        return (
            self._pass is not None and top is not None and top <= self._pass * (1 + self.precision)
        )

    @property
    def phase(self) -> Phase | None:
        """What the next step is for; None once the search is over."""
        if self._stopped or self._confirmed is not None or self._unusable is not None:
            return None
        if self._pass is None and self._fail is not None:
            return None  # even the lowest failed
        if self._pass is None and self._invalid is not None and self._invalid <= self.rate_min:
            return None  # not even the lowest could be offered
        if self._top is None:
            if self.rate_max is not None and self._pass is not None and self._pass >= self.rate_max:
                return Phase.CONFIRM if self.confirm else None
            return Phase.RAMP
        if not self._narrow():
            return Phase.BISECT
        return Phase.CONFIRM if self.confirm and self._pass is not None else None

    def next_rate(self) -> float | None:
        """The rate to run next, or None when the search is over."""
        phase = self.phase
        if phase is None:
            return None
        if self._again is not None:
            return self._again
        if phase is Phase.CONFIRM:
            assert self._pass is not None
            return self._pass
        if phase is Phase.RAMP:
            rate = self.rate_min if self._pass is None else self._pass * 2
            return min(rate, self.rate_max) if self.rate_max is not None else rate
        low = self._pass if self._pass is not None else self.rate_min
        top = self._top
        assert top is not None
        if self._pass is None:  # only invalid steps so far: come down towards rate_min
            return max(self.rate_min, top / 2)
        return (low + top) / 2

    def record(self, rate: float, judgement: Judgement) -> None:
        """What running ``rate`` (the last :meth:`next_rate`) gave."""
        phase = self.phase
        if phase is None:
            raise ValueError("the search is over")
        self.steps.append(Step(rate, phase, judgement))
        verdict = judgement.verdict
        self._again = None
        if verdict is Verdict.INVALID and (rate, phase) not in self._retried:
            # Once more before it counts: a machine's hiccup is not the generator's limit.
            self._retried.add((rate, phase))
            self._again = rate
        elif phase is Phase.CONFIRM:
            self._confirmed = verdict is Verdict.PASS
        elif verdict is Verdict.PASS:
            self._pass = max(rate, self._pass or rate)
        elif verdict is Verdict.UNUSABLE and self._pass is None:
            self._unusable = rate  # nothing to bracket: the search is over
        elif verdict in (Verdict.FAIL, Verdict.UNUSABLE):
            # Past a rate it served, a target that then answered nothing usable failed here.
            self._fail = rate if self._fail is None else min(rate, self._fail)
        else:
            self._invalid = rate if self._invalid is None else min(rate, self._invalid)

    def stop(self) -> None:
        """End the search early (a signal, a server that died)."""
        self._stopped = True

    def outcome(self) -> SearchOutcome:
        return SearchOutcome(
            self._found(), self._pass, self._fail, self._invalid, self._confirmed,
            tuple(self.steps),
        )  # fmt: skip

    def _found(self) -> Found:
        if self._unusable is not None:
            return Found.UNUSABLE
        if self._pass is None:
            if self._fail is not None:
                return Found.BELOW_MIN
            return Found.GENERATOR_LIMITED if self._invalid is not None else Found.STOPPED
        if self._stopped and not self._narrow():
            return Found.STOPPED
        if self._top is None:
            return Found.ABOVE_MAX if self.rate_max is not None else Found.STOPPED
        if self._fail is not None and self._fail == self._top:
            return Found.CAPACITY
        return Found.GENERATOR_LIMITED
