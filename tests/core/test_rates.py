"""``sweep --rate``: the three spellings of a list of rates, exact, and their errors."""

from __future__ import annotations

import pytest

from sockbench.core.rates import MAX_RATES, format_rate, parse_rates
from sockbench.errors import ConfigError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "rates"),
    [
        ("1k,2k,5k,10k", (1000, 2000, 5000, 10_000)),
        ("5k, 1k", (5000, 1000)),  # a list runs in the order given
        ("1k:5k:1k", (1000, 2000, 3000, 4000, 5000)),
        ("1k:4.5k:1k", (1000, 2000, 3000, 4000)),  # the stop is a bound, not a step
        ("0.1k:1k:0.1k", tuple(100 * i for i in range(1, 11))),  # exact: ends on 1000
        ("1k:64k:x2", (1000, 2000, 4000, 8000, 16_000, 32_000, 64_000)),
        ("1k:4k:x1.5", (1000, 1500, 2250, 3375)),
        ("2500", (2500,)),
        ("1k:1k:1", (1000,)),
    ],
)
def test_spellings(text: str, rates: tuple[float, ...]) -> None:
    assert parse_rates(text) == rates


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "needs rates"),
        ("1k:2k", "start:stop:step"),
        ("1k:2k:3k:4k", "start:stop:step"),
        ("2k:1k:1", "ends below"),
        ("1k:2k:0", "step must be above 0"),
        ("1k:2k:x1", "above x1"),
        ("1:100k:1", f"more than {MAX_RATES} rates"),
        ("1k,1k", "twice"),
        ("fast", "expected a number"),
        ("0,1k", "greater than 0"),
        ("nan", "not a finite rate"),
        ("1k,inf", "not a finite rate"),
        ("1k:inf:1k", "not a finite rate"),
        ("1k:2k:nan", "not a finite rate"),
        ("1k:2k:xinf", "not a finite rate"),
    ],
)
def test_bad_rates_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_rates(text)


def test_format_reads_back_exactly() -> None:
    assert [format_rate(r) for r in (1500.0, 2500.5, 1e6, 0.25)] == [
        "1500",
        "2500.5",
        "1000000",
        "0.25",
    ]


def test_grouped_format_separates_thousands_as_the_other_counts_of_a_table() -> None:
    assert [format_rate(r, grouped=True) for r in (1500.0, 2500.5, 1e6, 0.25, 750.0)] == [
        "1,500",
        "2,500.5",
        "1,000,000",
        "0.25",
        "750",
    ]
