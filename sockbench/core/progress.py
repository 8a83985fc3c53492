"""What the engine tells a progress view once per interval (a value, no I/O, pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Tick:
    """One progress update. Counts are for the measurement window so far.

    ``phase`` is ``"warmup"`` or ``"measuring"``; ``elapsed_s``/``remaining_s`` count
    the whole run after connecting (warm-up plus measurement).
    """

    phase: str
    elapsed_s: float
    remaining_s: float
    requests: int
    rps: float
    p99_us: int
    errors: int
    connections: int
    # Protocols with several kinds of request: (kind, req/s, p99 µs) of the last interval.
    by_kind: tuple[tuple[str, float, int], ...] = ()


ProgressFn = Callable[[Tick], None]
