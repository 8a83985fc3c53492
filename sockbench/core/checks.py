"""``--check``: what must hold for a run to pass, evaluated against its result (pure).

``p99 < 5ms``, ``errors == 0``, ``errors.timeout == 0``, ``rps >= 10k``,
``loss < 0.1%``, ``achieved >= 99%``, ``connect.p99 < 20ms``, ``kind.get.p99 < 1ms``
(one kind of request: the registry's ``kind.KIND.NAME``). A check is parsed
before any load (a malformed one is exit 2) and evaluated on the finished result;
every check is kept in the result with the value it measured, passed or not, so a
CI log says by how much a threshold was missed. Latency values take the same
units as durations (``500us``, ``5ms``, ``1s``; a bare number is seconds), counts
and rates the same as ``--rate`` (``10k``), fractions a percent (``0.1%``).

Latencies are compared in whole microseconds, the unit the histograms record, so a
boundary holds exactly: ``p99 <= 9159us``, ``<= 9.159ms`` and ``<= 0.009159s`` all
pass when p99 is 9,159 µs. The threshold is parsed in decimal to an integer
(:func:`sockbench.core.units.parse_microseconds`) and compared with the histogram's
integer value (the mean, which may hold a fraction of a µs, against the same
integer); a threshold finer than 1 µs is refused before any load. The result keeps
the value in seconds.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sockbench.core.kinds import ERROR_KINDS, is_error_kind
from sockbench.core.metrics import Metric, View, check_names, lookup, metric
from sockbench.core.units import parse_microseconds, parse_number
from sockbench.errors import ConfigError

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_CHECK = re.compile(r"^\s*([A-Za-z_][\w.]*?)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")
#: The check that reads the result's validity verdict (docs/validity.md), written alone.
VALID = "valid"
EXAMPLES = "like 'p99 < 5ms', 'errors == 0', 'rps >= 10k', 'loss < 0.1%' or 'achieved >= 99%'"


@dataclass(frozen=True)
class Check:
    """One parsed ``--check``: ``metric op threshold``, threshold in the metric's unit.

    A latency's threshold is ``threshold_us``, exact whole microseconds, and that is
    what is compared; ``threshold`` is the same in seconds, for reading.
    """

    expr: str
    metric: str  # the registry's name: latency.p99, connect.p99.9, rps, errors.timeout, ...
    op: str
    threshold: float
    unit: str  # "s" for latencies, "" for counts and rates, "ratio" for fractions
    threshold_us: int | None = None  # latencies only

    @property
    def needs_datagrams(self) -> bool:
        return metric(self.metric).datagrams

    @property
    def needs_tcp(self) -> bool:
        return metric(self.metric).tcp

    @property
    def needs_rate(self) -> bool:
        return metric(self.metric).open_loop

    @property
    def request_kind(self) -> str:
        """The kind of request it reads (``kind.get.p99``: ``get``); "" for all of them."""
        return metric(self.metric).request_kind

    @property
    def needs_lookups(self) -> bool:
        """Whether it reads hits or misses, which only requests that read keys count."""
        return metric(self.metric).lookups


@dataclass(frozen=True)
class CheckResult:
    check: Check
    value: float | None  # None: the run measured nothing to compare
    passed: bool
    shown: str = ""  # the metric's own words for it (``valid``: the verdict), if any

    @property
    def measured(self) -> str:
        """The value as people read it: ``3.21 ms``, ``12,345``, ``0.10%``."""
        if self.shown:
            return self.shown
        value, unit = self.value, self.check.unit
        if value is None:
            return "nothing measured"
        if unit == "ratio":
            return f"{value:.2%}"
        if unit == "s":
            for scale, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
                if value >= scale or name == "µs":
                    return f"{value / scale:.3g} {name}"
        return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"

    def to_json(self) -> dict[str, Any]:
        return {
            "expr": self.check.expr,
            "metric": self.check.metric,
            "value": self.value,
            "unit": self.check.unit,
            "measured": self.measured,
            "passed": self.passed,
        }


def _fraction(text: str, expr: str) -> float:
    if text.endswith("%"):
        return parse_number(text[:-1], f"--check {expr!r}") / 100
    return parse_number(text, f"--check {expr!r}")


def _metric(name: str, expr: str) -> Metric:
    """The registry's metric ``--check`` reads, or ConfigError."""
    found = lookup(name)
    if found is None or View.CHECK not in found.views:
        raise ConfigError(f"--check {expr!r}: unknown metric {name!r}; use {check_names()}")
    family, dot, kind = found.name.partition(".")
    if family == "errors" and dot and not is_error_kind(kind):
        # A typo (errors.timout) would read 0 and pass every run.
        close = difflib.get_close_matches(kind, sorted(ERROR_KINDS), n=1)
        hint = f"did you mean errors.{close[0]}? " if close else ""
        raise ConfigError(
            f"--check {expr!r}: unknown error kind {kind!r}; {hint}kinds are "
            f"{', '.join(sorted(ERROR_KINDS))} (or an errno name, like econnreset)"
        )
    return found


def _threshold(threshold: float, op: str, expr: str) -> float:
    """A threshold a measured value can be compared with: finite, not negative, and not
    one no value meets (``< 0``: no measured value is negative)."""
    if not math.isfinite(threshold):
        raise ConfigError(f"--check {expr!r}: the threshold must be a finite number")
    if threshold < 0:
        raise ConfigError(
            f"--check {expr!r}: the threshold is negative, and no measured value is; "
            "the check could never pass (or never fail)"
        )
    if threshold == 0 and op == "<":
        raise ConfigError(
            f"--check {expr!r}: no measured value is below 0, so the check could never "
            "pass; did you mean <= 0 or == 0?"
        )
    return threshold


def parse_check(expr: str) -> Check:
    """One ``--check`` expression, or a one-line ConfigError saying what is accepted."""
    if expr.strip().lower() == VALID:  # a verdict: `valid` is `valid == 1`
        return Check(expr.strip(), VALID, "==", 1.0, "")
    match = _CHECK.match(expr)
    if not match:
        raise ConfigError(f"malformed --check {expr!r}; expected METRIC OP VALUE, {EXAMPLES}")
    name, op, text = match.groups()
    found = _metric(name, expr)
    if found.percentile is not None and not 0 < found.percentile < 100:
        raise ConfigError(f"--check {expr!r}: a percentile is between 0 and 100, exclusive")
    unit = found.check_unit
    flag = "--check"
    threshold_us = parse_microseconds(text, flag) if unit == "s" else None
    if threshold_us is not None:
        threshold = threshold_us / 1e6
    elif unit == "ratio":
        threshold = _fraction(text, expr)
    else:
        threshold = parse_number(text, flag)
    _threshold(threshold, op, expr)
    return Check(expr.strip(), found.name, op, threshold, unit, threshold_us)


def measure(check: Check, doc: Mapping[str, Any]) -> float | None:
    """The value ``check`` compares, from a result document (None: nothing measured)."""
    found = metric(check.metric)
    if found.histogram:
        us = found.recorded_us(doc)
        return None if us is None else float(us) / 1e6
    value = found.value(doc)
    return None if value is None else float(value)


def evaluate(checks: list[Check], doc: Mapping[str, Any]) -> list[CheckResult]:
    """Every check against ``doc``; one that measured nothing fails."""
    out = []
    for check in checks:
        if check.threshold_us is not None:  # a latency: whole µs against recorded µs
            us = metric(check.metric).recorded_us(doc)
            value = None if us is None else float(us) / 1e6
            passed = us is not None and OPS[check.op](us, check.threshold_us)
        else:
            value = measure(check, doc)
            passed = value is not None and OPS[check.op](value, check.threshold)
        shown = metric(check.metric).shown
        out.append(CheckResult(check, value, passed, shown(doc) if shown else ""))
    return out


def summary(results: Iterable[Mapping[str, Any]]) -> str | None:
    """The closing line of the checks of ``results`` (a run's, or a compare's cells):
    ``2 of 3 checks failed`` or ``all 3 checks passed``; None when none was asked for."""
    passed = [bool(c["passed"]) for result in results for c in result.get("checks") or ()]
    if not passed:
        return None
    failed = passed.count(False)
    noun = "check" if len(passed) == 1 else "checks"
    if failed:
        return f"{failed} of {len(passed)} {noun} failed"
    return f"the {noun} passed" if len(passed) == 1 else f"all {len(passed)} checks passed"
