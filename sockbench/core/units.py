"""Option values as users type them: counts, seconds, numbers and sizes (pure).

Each parser takes what the command line gave (text) or what a caller passed
already typed, and the flag it came from, so an error names both the flag and
the forms it accepts.
"""

from __future__ import annotations

import re

from sockbench.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(i?b?)\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _invalid(flag: str, value: object, expected: str) -> ConfigError:
    return ConfigError(f"invalid value for '{flag}': {str(value)!r} is not {expected}")


def parse_count(value: object, flag: str = "count") -> int:
    """A whole number: ``100``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip().replace("_", ""))
    except ValueError:
        raise _invalid(flag, value, "a whole number, like 100") from None


def _float(value: object, flag: str, expected: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip().replace("_", ""))
    except ValueError:
        raise _invalid(flag, value, expected) from None


def parse_number(value: object, flag: str = "number") -> float:
    """A number: ``2500``, ``0.5``."""
    return _float(value, flag, "a number, like 2500 or 0.5")


def parse_seconds(value: object, flag: str = "duration") -> float:
    """Seconds: ``10``, ``0.5``."""
    return _float(value, flag, "a duration in seconds, like 10 or 0.5")


def parse_size(text: object, what: str = "size") -> int:
    """Bytes in ``64``, ``1k``, ``64KiB``, ``2M``; binary multipliers (k = 1024) as in iperf3."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError(f"malformed {what} {text!r}; expected a byte count like 64, 1k or 64KiB")
    number, unit, _ = match.groups()
    return int(number) * _FACTORS[unit.lower()]


def format_size(n: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} B"
