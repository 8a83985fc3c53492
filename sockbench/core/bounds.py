"""Upper and lower bounds of every size, count and duration a user can type (pure).

Each check is one small function that raises :class:`ConfigError` with one line,
so the option declaration can call it however it is organised. The bounds are
what the protocol or a 2026 machine allows, not taste:

- a UDP datagram carries at most 65,507 bytes (65,535 minus the IPv4 and UDP headers);
- a stream message (``--payload``, ``--send-file``, ``--expect-size``) at most
  :data:`MAX_STREAM_MESSAGE` (16 MiB): each client holds a reply buffer of that size,
  and a benchmark of bigger messages measures memory copies, not the server;
- ``--clients`` at most :data:`MAX_CLIENTS`: one descriptor each, and the automatic
  source addresses stay inside 127.0.0.0/24;
- ``--workers`` at most :data:`WORKERS_PER_CPU` per usable CPU, unless ``--force``:
  more processes than that only take turns on the cores and measure the scheduler;
- seconds must be finite; a run lasts at most :data:`MAX_RUN_S` (a week), a reply
  waits at most :data:`MAX_TIMEOUT_S`, an interval is at least :data:`MIN_INTERVAL_S`
  (finer ones cost more CPU than they measure: 1 ms intervals cut throughput ~10×);
- ``--rate`` between :data:`MIN_RATE` and :data:`MAX_RATE` requests/s.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sockbench.errors import ConfigError

MIB = 1024 * 1024
UDP_MAX_PAYLOAD = 65_507
MAX_STREAM_MESSAGE = 16 * MIB
MAX_CLIENTS = 1_000_000
WORKERS_PER_CPU = 4
MAX_RUN_S = 7 * 24 * 3600.0
MAX_TIMEOUT_S = 3600.0
MIN_INTERVAL_S = 0.1
MIN_RATE = 0.01
MAX_RATE = 100_000_000.0


def _size_text(n: int) -> str:
    return f"{n // MIB} MiB" if n % MIB == 0 else f"{n} bytes"


def check_seconds(
    value: float, flag: str, *, maximum: float, minimum: float = 0.0, zero_ok: bool = False
) -> float:
    """A finite number of seconds in ``(minimum, maximum]`` (``[0, maximum]`` if ``zero_ok``)."""
    if not math.isfinite(value):
        raise ConfigError(f"{flag} must be a finite number of seconds, got {value}")
    if zero_ok:
        if value < 0:
            raise ConfigError(f"{flag} cannot be negative, got {value:g}")
        if value == 0:
            return value
    elif value <= 0:
        raise ConfigError(f"{flag} must be greater than 0, got {value:g}")
    if value < minimum:
        raise ConfigError(f"{flag} must be at least {minimum:g} s, got {value:g}")
    if value > maximum:
        raise ConfigError(f"{flag} {value:g} s is over the limit of {maximum:g} s")
    return value


def seconds_within(
    maximum: float, *, minimum: float = 0.0, zero_ok: bool = False
) -> Callable[[float, str], float]:
    """:func:`check_seconds` with its limits fixed: the bound an option declares."""

    def check(value: float, flag: str) -> float:
        return check_seconds(value, flag, maximum=maximum, minimum=minimum, zero_ok=zero_ok)

    return check


def stream_message(size: int, flag: str) -> int:
    """A size that only a stream carries (``--expect-size``, ``--send-file``)."""
    return check_message_size(size, flag, datagram=False)


def check_rate(rate: float, flag: str = "--rate") -> float:
    if not math.isfinite(rate):
        raise ConfigError(f"{flag} must be a finite number per second, got {rate}")
    if not rate > 0:
        raise ConfigError(f"{flag} must be greater than 0, got {rate:g}")
    if rate < MIN_RATE:
        raise ConfigError(f"{flag} must be at least {MIN_RATE:g} per second, got {rate:g}")
    if rate > MAX_RATE:
        raise ConfigError(f"{flag} {rate:g} is over the limit of {MAX_RATE:,.0f} per second")
    return rate


def check_message_size(size: int, flag: str, *, datagram: bool) -> int:
    """A message of ``size`` bytes fits the protocol (a datagram) or the stream cap."""
    limit = UDP_MAX_PAYLOAD if datagram else MAX_STREAM_MESSAGE
    if size > limit:
        kind = "the datagram limit" if datagram else "the stream message limit"
        raise ConfigError(f"{flag} {size} is over {kind} of {_size_text(limit)}")
    return size


def check_clients(clients: int) -> int:
    if clients < 1:
        raise ConfigError(f"--clients must be at least 1, got {clients}")
    if clients > MAX_CLIENTS:
        raise ConfigError(f"--clients {clients:,} is over the limit of {MAX_CLIENTS:,}")
    return clients


def check_workers(workers: int, cpus: int, *, force: bool) -> int:
    """At most :data:`WORKERS_PER_CPU` per CPU, unless forced."""
    limit = WORKERS_PER_CPU * max(1, cpus)
    if workers > limit and not force:
        raise ConfigError(
            f"--workers {workers} is more than {limit} ({WORKERS_PER_CPU} per CPU on {cpus}); "
            "they would take turns on the cores and measure the scheduler; pass --force to "
            "run them anyway"
        )
    return workers
