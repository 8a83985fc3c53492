"""Parsing of sizes and durations as users type them (pure)."""

from __future__ import annotations

import re

from sockbench.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(i?b?)\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str, what: str = "size") -> int:
    """Bytes in ``64``, ``1k``, ``64KiB``, ``2M``; binary multipliers (k = 1024) as in iperf3."""
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(f"malformed {what} {text!r}; expected a byte count like 64, 1k or 64KiB")
    number, unit, _ = match.groups()
    return int(number) * _FACTORS[unit.lower()]


def format_size(n: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} B"
