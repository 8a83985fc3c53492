"""Number formatting shared by every renderer: one place decides how a value reads.

Three significant digits and a unit for durations, thousands separators for counts,
iperf3's decimal bit rates: every format shows the same digits because they all
format through here. A missing value is a dash, never "0" or "None".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sockbench.core.metrics import Format
from sockbench.core.units import format_us

DASH = "—"


def fmt_us(us: float | None) -> str:
    """A duration in µs as :func:`~sockbench.core.units.format_us` words it ("57 µs",
    "1.23 ms", "2.5 s"); a dash for missing values."""
    if us is None or (isinstance(us, float) and not math.isfinite(us)):
        return DASH
    return format_us(us)


def fmt_int(value: float | None) -> str:
    """An integer with thousands separators ("1,234,567"); a dash when missing."""
    if value is None:
        return DASH
    return f"{round(value):,}"


def fmt_rate(rps: float | None) -> str:
    """Requests per second: separators above 100, one decimal below."""
    if rps is None:
        return DASH
    return f"{rps:,.0f}" if abs(rps) >= 100 else f"{rps:,.1f}"


def fmt_bytes(n: float | None) -> str:
    """A byte count in binary units: "512 B", "1.5 KiB", "12.3 MiB"."""
    if n is None:
        return DASH
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            # .3g would print 1,000-1,023 MiB as "1.02e+03 MiB"
            if unit == "B" or abs(value) >= 999.5:
                return f"{value:,.0f} {unit}"
            return f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def fmt_bps(bps: float | None) -> str:
    """Bits per second in decimal units, as iperf3 prints them: "14.6 Mbit/s"."""
    if bps is None:
        return DASH
    for unit, factor in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= factor:
            return f"{bps / factor:.3g} {unit}"
    return f"{bps:.0f} bit/s"


def fmt_percent(value: float | None) -> str:
    """A CPU percentage with one decimal ("97.5 %")."""
    return DASH if value is None else f"{value:.1f} %"


def fmt_payload(payload: object) -> str:
    """A payload size as given by the config: bytes for integers, as-is otherwise."""
    if isinstance(payload, bool) or payload is None:
        return DASH
    if isinstance(payload, int):
        return f"{payload} B" if payload < 1024 else fmt_bytes(payload)
    return str(payload)


def fmt_mib(n: float | None) -> str:
    """Bytes as MiB with one decimal, unit-less for a column titled in MiB ("12.3")."""
    return DASH if n is None else f"{n / 2**20:.1f}"


def fmt_decimal1(value: float | None) -> str:
    """One decimal, unit-less ("97.5")."""
    return DASH if value is None else f"{value:.1f}"


def fmt_fraction(value: float | None) -> str:
    """A fraction as a percentage with one decimal ("38.5%")."""
    return DASH if value is None else f"{value:.1%}"


#: How a metric's value reads, by the format its registry entry names.
FORMATTERS: dict[Format, Callable[[Any], str]] = {
    Format.RATE: fmt_rate,
    Format.US: fmt_us,
    Format.INT: fmt_int,
    Format.DECIMAL1: fmt_decimal1,
    Format.MIB: fmt_mib,
    Format.FRACTION: fmt_fraction,
}
