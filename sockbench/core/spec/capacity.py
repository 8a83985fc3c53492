"""``sweep`` and ``search``: runs at several open-loop rates, and what they add to a
run's options (pure).

Both take every option of ``run`` but those the rates decide (``--rate``, ``--requests``,
``--check``, ``--json``, ``--format``: :attr:`~.option.Option.one_run`), so a flag reads
the same in all three and is declared once. What they add is declared here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sockbench.core import bounds
from sockbench.core.checks import parse_check
from sockbench.core.rates import parse_rates
from sockbench.core.search import DEFAULT_PRECISION
from sockbench.core.spec.formats import SweepFormat
from sockbench.core.spec.option import (
    AT_RATES,
    COMPARE,
    SEARCH,
    SWEEP,
    CommandName,
    check_names,
    member,
    option,
    option_names,
    optional,
    parse_record,
    switch,
    texts,
)
from sockbench.core.units import parse_count, parse_number
from sockbench.errors import ConfigError


def parse_slos(value: object, flag: str) -> tuple[str, ...]:
    """``--slo`` expressions, each checked now (the grammar and metric names of --check)."""
    slos = texts(value, flag)
    for expr in slos:
        parse_check(expr)
    return slos


def parse_fraction(value: object, flag: str) -> float:
    """``5%`` or ``0.05``."""
    text = str(value).strip()
    if text.endswith("%"):
        return parse_number(text[:-1], flag) / 100
    return parse_number(text, flag)


def _below_one(value: float, flag: str) -> None:
    if not value < 1:
        raise ConfigError(f"{flag} must be under 100%, got {value:.0%}")


@dataclass(frozen=True)
class AtRates:
    """What a sweep and a search share."""

    slos: tuple[str, ...] = option(
        (), "--slo",
        help="a service-level objective every rate is judged by, repeatable, in --check's "
        "words: 'p99 < 5ms', 'errors == 0', 'achieved >= 99%'",
        parse=parse_slos, repeatable=True, metavar="EXPR", commands=AT_RATES,
    )  # fmt: skip
    keep_server: bool = option(
        False, "--keep-server",
        help="one server for every rate (default: a fresh built-in server per rate)",
        parse=switch, commands=AT_RATES,
    )  # fmt: skip
    fmt: SweepFormat = member(
        SweepFormat.TABLE, "--format", help="what to print at the end", commands=AT_RATES
    )


@dataclass(frozen=True)
class SweepOptions:
    rates: tuple[float, ...] = option(
        (), "--rate", "-R", help="the rates: 1k,2k,5k or 1k:20k:1k (start:stop:step) or "
        "1k:64k:x2 (geometric)", parse=parse_rates, commands=SWEEP, metavar="RATES",
        default_help="required", commas=True,
    )  # fmt: skip
    stop_after_fail: int = option(
        2, "--stop-after-fail",
        help="stop once this many rates in a row fail (an --slo, or the rate not served) "
        "or cannot be offered (0: run every rate)",
        parse=parse_count, minimum=0, commands=SWEEP | COMPARE,
    )  # fmt: skip


@dataclass(frozen=True)
class SearchOptions:
    rate_min: float = option(
        1000.0, "--rate-min", help="the first rate tried; the search doubles from it: 1k",
        parse=parse_number, bound=bounds.check_rate, commands=SEARCH | COMPARE,
    )  # fmt: skip
    rate_max: float | None = option(
        None, "--rate-max", help="never try above this rate: 200k",
        parse=optional(parse_number), bound=bounds.check_rate, commands=SEARCH | COMPARE,
        default_help="none",
    )  # fmt: skip
    precision: float = option(
        DEFAULT_PRECISION, "--precision", metavar="PERCENT",
        help="stop when the highest pass and the lowest fail are this close: 5%",
        parse=parse_fraction, positive=True, bound=_below_one, commands=SEARCH | COMPARE,
        default_help=f"{DEFAULT_PRECISION:.0%}",
    )  # fmt: skip
    confirm: bool = option(
        True, "--confirm", help="run the answer once more and say if the repeat disagrees",
        parse=switch, commands=SEARCH | COMPARE,
    )  # fmt: skip


SWEEP_RECORDS = (SweepOptions, AtRates)
SEARCH_RECORDS = (SearchOptions, AtRates)
_OWN: dict[CommandName, tuple[type[AtRates] | type[SweepOptions] | type[SearchOptions], ...]] = {
    "sweep": SWEEP_RECORDS,
    "search": SEARCH_RECORDS,
}


@dataclass(frozen=True)
class SweepSpec:
    shared: AtRates
    sweep: SweepOptions


@dataclass(frozen=True)
class SearchSpec:
    shared: AtRates
    search: SearchOptions


def own_values(command: CommandName, values: Mapping[str, object]) -> dict[str, object]:
    """The values of ``command``'s own options (the rest are the run's)."""
    names = option_names(_OWN[command], command)
    return {k: v for k, v in values.items() if k in names}


def parse_sweep(values: Mapping[str, object]) -> SweepSpec:
    check_names(values, SWEEP_RECORDS, "sweep")
    sweep = parse_record(SweepOptions, values, "sweep", {})
    if not sweep.rates:
        raise ConfigError("sweep needs --rate: 1k,2k,5k or 1k:20k:1k or 1k:64k:x2")
    return SweepSpec(parse_record(AtRates, values, "sweep", {}), sweep)


def parse_search(values: Mapping[str, object]) -> SearchSpec:
    check_names(values, SEARCH_RECORDS, "search")
    shared = parse_record(AtRates, values, "search", {})
    if not shared.slos:
        raise ConfigError("search needs at least one --slo, like --slo 'p99 < 5ms'")
    return SearchSpec(shared, search_options(values, "search"))


def search_options(values: Mapping[str, object], command: CommandName) -> SearchOptions:
    """A search's settings as ``command`` (search, compare) takes them, checked."""
    search = parse_record(SearchOptions, values, command, {})
    if search.rate_max is not None and search.rate_max < search.rate_min:
        raise ConfigError(f"--rate-max {search.rate_max:g} is below --rate-min {search.rate_min:g}")
    return search
