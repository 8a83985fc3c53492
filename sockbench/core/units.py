"""Option values as users type them: counts, seconds, numbers and sizes (pure).

Each parser takes what the command line gave (text) or what a caller passed
already typed, and the flag it came from, so an error names both the flag and
the forms it accepts.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from sockbench.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


# A sign is accepted so that "-3" reaches the option's bounds check, which says why not.
_NUMBER = re.compile(r"^\s*(-?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9]+))\s*([a-zµ]*)\s*$", re.I)
#: Counts and rates: decimal multipliers, as wrk and redis-benchmark users type them.
_COUNT_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}
_SECOND_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "m": 60.0, "h": 3600.0}
COUNT_FORMS = "a whole number like 100, 10k or 2M"
NUMBER_FORMS = "a number like 2500, 0.5, 10k or 1.5M"
SECONDS_FORMS = "a duration like 500ms, 10s, 2m, 1h30m, or seconds like 0.5"
#: ``1h30m``, ``2m30s``, ``1s500ms``: two or more parts, largest unit first (as Go and
#: systemd write durations).
_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|us|µs|s)", re.I)
_COMPOUND = re.compile(r"^\s*(?:\d+(?:\.\d+)?(?:h|ms|m|us|µs|s)){2,}\s*$", re.I)


def _invalid(flag: str, value: object, expected: str) -> ConfigError:
    return ConfigError(f"invalid value for '{flag}': {str(value)!r}; expected {expected}")


def _scaled(value: object, flag: str, units: dict[str, float], expected: str) -> float:
    """``value`` times its unit's factor; ConfigError naming ``flag`` and ``expected``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _NUMBER.match(str(value))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in units:
        try:  # 1e-3, 2e9, inf, nan: a plain float, left to the option's bounds to judge
            return float(str(value))
        except ValueError:
            raise _invalid(flag, value, expected) from None
    return float(match.group(1).replace("_", "")) * units[unit]


def parse_count(value: object, flag: str = "count") -> int:
    """A whole number: ``100``, ``10k``, ``2M`` (k = 1000)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _scaled(value, flag, _COUNT_UNITS, COUNT_FORMS)
    if not math.isfinite(number) or number != int(number):
        raise _invalid(flag, value, COUNT_FORMS)
    return int(number)


def parse_number(value: object, flag: str = "number") -> float:
    """A number: ``2500``, ``0.5``, ``10k`` (k = 1000)."""
    return _scaled(value, flag, _COUNT_UNITS, NUMBER_FORMS)


def parse_seconds(value: object, flag: str = "duration") -> float:
    """Seconds: ``500ms``, ``10s``, ``2m``, ``250us``, ``1h30m``; a bare number is seconds."""
    if isinstance(value, str) and _COMPOUND.match(value):
        return _compound_seconds(value, flag)
    return _scaled(value, flag, _SECOND_UNITS, SECONDS_FORMS)


def _compound_seconds(text: str, flag: str) -> float:
    """``1h30m`` as 5400.0: each unit once, the largest first (``30m1h`` is a typo)."""
    total, last = Decimal(0), math.inf
    for number, unit in _PART.findall(text):
        factor = _SECOND_UNITS[unit.lower()]
        if factor >= last:
            raise _invalid(flag, text, SECONDS_FORMS + " (the largest unit first, each once)")
        total += Decimal(number) * Decimal(repr(factor))
        last = factor
    return float(total)


def format_seconds(seconds: float) -> str:
    """A default as it would be typed: ``2s``, ``500ms``, ``0s``, ``90s``."""
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def format_us(us: float) -> str:
    """A duration in µs as every report and message reads it: a readable unit and three
    significant digits ("57 µs", "1.23 ms", "12.3 ms", "2.5 s"). The one place a duration
    is worded, so a message and the table beside it show the same digits."""
    if abs(us) < 999.5:
        return f"{us:.0f} µs"
    ms = float(f"{us / 1e3:.3g}")  # rounded first: 999.6 ms is "1 s", not "1e+03 ms"
    if abs(ms) < 1000:
        return f"{ms:.3g} ms"
    s = float(f"{us / 1e6:.3g}")
    return f"{s:.3g} s" if abs(s) < 1000 else f"{s:.0f} s"


#: Microseconds per unit of :data:`_SECOND_UNITS`, as exact integers.
_MICROSECOND_UNITS = {
    "": 10**6, "s": 10**6, "ms": 10**3, "us": 1, "µs": 1, "m": 60 * 10**6, "h": 3600 * 10**6,
}  # fmt: skip


def parse_microseconds(value: object, flag: str = "duration") -> int:
    """A duration as an exact whole number of microseconds, the unit latencies are
    recorded in: ``9159us``, ``9.159ms``, ``0.009159s`` and ``0.009159`` (a bare
    number is seconds) are all 9159.

    The arithmetic is decimal, so no spelling lands a float's rounding error away
    from another. A duration finer than 1 µs (``0.5us``, ``1.0005ms``) is refused
    with a ConfigError naming the whole microseconds either side, not rounded: a
    threshold that silently moved would move the boundary it states.
    """
    if isinstance(value, bool):
        raise _invalid(flag, value, SECONDS_FORMS)
    text = repr(value) if isinstance(value, float) else str(value)
    match = _NUMBER.match(text)
    unit = match.group(2).lower() if match else ""
    try:
        if match and unit in _MICROSECOND_UNITS:
            number = Decimal(match.group(1).replace("_", "")) * _MICROSECOND_UNITS[unit]
        else:  # 1e-3: a plain number, in seconds
            number = Decimal(text.strip()) * _MICROSECOND_UNITS[""]
    except InvalidOperation:
        raise _invalid(flag, value, SECONDS_FORMS) from None
    if not number.is_finite():
        raise _invalid(flag, value, SECONDS_FORMS)
    whole = int(number)
    if number != whole:
        below, above = math.floor(number), math.ceil(number)
        raise ConfigError(
            f"invalid value for '{flag}': {text!r} is {number.normalize():f} µs; latencies are "
            f"whole microseconds, so write {below}us or {above}us"
        )
    return whole


DEFAULT_PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99)


def parse_percentiles(value: object, flag: str = "--percentiles") -> tuple[float, ...]:
    """``50,90,99,99.9,99.99,99.999`` -> sorted percentiles, each strictly between 0 and 100."""
    if isinstance(value, tuple | list):
        items = [str(v) for v in value]
    else:
        items = [p.strip() for p in str(value).split(",")]
    try:
        percentiles = sorted({float(p) for p in items})
    except ValueError:
        raise _invalid(flag, value, "percentiles like 50,90,99,99.9,99.99") from None
    if not percentiles or not all(0 < p < 100 for p in percentiles):
        raise _invalid(flag, value, "percentiles between 0 and 100, like 50,99,99.9")
    return tuple(percentiles)


def percentile_key(percentile: float) -> str:
    """``99.9`` -> ``"99.9"``, ``50.0`` -> ``"50"``: the key in a result's ``percentiles``."""
    return f"{percentile:g}"


def parse_size(text: object, what: str = "size") -> int:
    """Bytes in ``64``, ``1k``, ``1.5k``, ``64KiB``, ``2M``; binary multipliers (k = 1024)
    as in iperf3. A fraction must come to whole bytes (``1.5k`` is 1536; ``1.1k`` is
    refused, not rounded)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError(
            f"malformed {what} {text!r}; expected a byte count like 64, 1k, 1.5k or 64KiB"
        )
    number, unit, _ = match.groups()
    size = Decimal(number) * _FACTORS[unit.lower()]
    if size != size.to_integral_value():
        raise ConfigError(f"{what} {text!r} is {size} bytes; give a whole number of bytes")
    return int(size)


def format_size(n: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} B"
