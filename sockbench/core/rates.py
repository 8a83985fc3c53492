"""A list of open-loop rates, as ``sweep --rate`` takes it (pure).

Three spellings, the ones mutilate's ``--scan`` and a shell loop would give:

- ``1k,2k,5k,10k``: exactly these, in this order;
- ``1k:20k:1k``: start, stop, step, both ends included when the step lands on them
  (1k, 2k, ..., 20k);
- ``1k:64k:x2``: geometric, each rate ``x2`` the one before (1k, 2k, 4k, ..., 64k).

The arithmetic is exact (fractions, not a float accumulated step by step), so
``0.1k:1k:0.1k`` ends on 1000, not on 999.9999 or one step short. A range is bounded at
:data:`MAX_RATES` rates: a sweep is a run per rate, and a typo (``1:100k:1``) would
otherwise queue a day of them.
"""

from __future__ import annotations

import math
from fractions import Fraction

from sockbench.core.bounds import check_rate
from sockbench.core.units import parse_number
from sockbench.errors import ConfigError

MAX_RATES = 200
_DENOMINATOR = 1_000_000
FORMS = "like 1k,2k,5k (a list), 1k:20k:1k (start:stop:step) or 1k:64k:x2 (geometric)"


def _exact(text: str, flag: str) -> Fraction:
    """``0.1k`` as exactly 100: rates are exact to 1e-6 per second, as schedules take them."""
    number = parse_number(text, flag)
    if not math.isfinite(number):
        raise ConfigError(f"{flag} {text.strip()!r} is not a finite rate; give rates {FORMS}")
    return Fraction(number).limit_denominator(_DENOMINATOR)


def _rate(text: str, flag: str) -> Fraction:
    rate = _exact(text, flag)
    check_rate(float(rate), flag)
    return rate


def parse_rates(text: object, flag: str = "--rate") -> tuple[float, ...]:
    """The rates ``text`` names, in the order a sweep runs them (a tuple: already typed)."""
    if isinstance(text, tuple):
        return tuple(float(r) for r in text)
    spec = str(text).strip()
    if not spec:
        raise ConfigError(f"{flag} needs rates, {FORMS}")
    if ":" not in spec:
        rates = [_rate(part, flag) for part in spec.split(",")]
    else:
        parts = spec.split(":")
        if len(parts) != 3:
            raise ConfigError(f"{flag} {spec!r} is not a range: give start:stop:step, {FORMS}")
        start, stop = _rate(parts[0], flag), _rate(parts[1], flag)
        if stop < start:
            raise ConfigError(f"{flag} {spec!r} ends below where it starts")
        rates = _range(start, stop, parts[2].strip(), spec, flag)
    if len(set(rates)) != len(rates):
        raise ConfigError(f"{flag} {spec!r} names a rate twice")
    return tuple(float(r) for r in rates)


def _range(start: Fraction, stop: Fraction, step: str, spec: str, flag: str) -> list[Fraction]:
    geometric = step[:1] in ("x", "*")
    factor = _exact(step[1:], flag) if geometric else None
    if factor is not None and factor <= 1:
        raise ConfigError(f"{flag} {spec!r}: a geometric step must be above x1")
    increment = None if geometric else _exact(step, flag)
    if increment is not None and increment <= 0:
        raise ConfigError(f"{flag} {spec!r}: the step must be above 0")
    rates: list[Fraction] = []
    rate = start
    while rate <= stop:
        rates.append(rate)
        if len(rates) > MAX_RATES:
            raise ConfigError(
                f"{flag} {spec!r} is more than {MAX_RATES} rates, a run each: take a larger step"
            )
        rate = rate * factor if factor is not None else start + len(rates) * (increment or 0)
    return rates


def format_rate(rate: float, *, grouped: bool = False) -> str:
    """``1500`` -> ``1500``, ``2500.5`` -> ``2500.5``: a rate as a folder name reads it back
    exactly; ``grouped``, as a table or a line shows it beside other counts (``102,400``)."""
    return f"{rate:{',' if grouped else ''}.6f}".rstrip("0").rstrip(".")
