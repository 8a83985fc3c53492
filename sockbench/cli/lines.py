"""Progress for pipes and CI logs: one plain line, or one JSON object, per interval.

A terminal gets the live panel (:mod:`sockbench.report.live`); anything else (``| tee``,
a CI job, a file) gets what iperf3 prints: a line per ``--interval`` as the run goes,
flushed at once, no cursor movement, no trailing spaces. ``--format jsonl`` gets the
same ticks as JSON objects, one per line, for programs that follow a run.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import IO

from sockbench.core.progress import Tick
from sockbench.core.units import format_us
from sockbench.report.numbers import DASH
from sockbench.report.stream_fields import tick_rates


def tick_line(tick: Tick, window_after_s: float | None = None) -> str:
    """``[   3.0 s] measuring  41,152 req/s  p99 1.23 ms  errors 3  connections 100``;
    after the window, ``[   5.0 s] draining   answered 2,100  ...`` (``DrainProgress.text``);
    a --warmup auto tick: ``[   3.0 s] warm-up    40,961 req/s  p99 1.31 ms  not counted
    (settling)  connections 100``. A measured interval's time is never past its end
    (``Tick.shown_s``; ``window_after_s``: the ramp and warm-up before the window)."""
    at = f"[{tick.shown_s(window_after_s):6.1f} s] {tick.phase_name:<9}"
    if tick.phase in ("ramp", "warmup"):  # nothing is counted yet
        shown = f"  {_throughput(tick)}  {tick.warmup_state}" if tick.settling is not None else ""
        return f"{at}{shown}{_connections(tick)}".rstrip()
    if tick.drain is not None:
        return f"{at}  {tick.drain.text()}"
    return f"{at}  {_throughput(tick)}  errors {tick.errors:,}{_connections(tick)}"


def _throughput(tick: Tick) -> str:
    """``41,152 req/s  p99 1.23 ms``; a stream's iperf3 columns instead, the interval's
    transfer and bit rate (:func:`~sockbench.report.stream_fields.tick_rates`)."""
    rates = tick_rates(tick)
    return rates if rates is not None else f"{tick.rps:,.0f} req/s  p99 {_p99(tick)}"


def _p99(tick: Tick) -> str:
    # No latency in the interval (a stream run has none at all): a dash, not "0 µs".
    return format_us(tick.p99_us) if tick.p99_us else DASH


def _connections(tick: Tick) -> str:
    # A ramp's clients connect as it goes: the coordinator has no count of them to show.
    return f"  connections {tick.connections:,}" if tick.connections else ""


class PlainLines:
    """A progress function writing :func:`tick_line`\\ s to ``stream``
    (``window_after_s``: the ramp and warm-up before the window, ``--ramp`` plus
    ``--warmup``'s maximum, where it is known).

    A reader that goes away (``| head``) ends the lines, not the run: its result is
    still written to the run folder.
    """

    def __init__(self, stream: IO[str], window_after_s: float | None = None) -> None:
        self.stream: IO[str] | None = stream
        self.window_after_s = window_after_s

    def __call__(self, tick: Tick) -> None:
        self._write(tick_line(tick, self.window_after_s))

    def _write(self, line: str) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self.stream = None


class JsonLines(PlainLines):
    """A progress function writing each measured interval as one JSON object, a line of
    ``sockbench.intervals/1`` (docs/intervals.schema.json). Warm-up and ramp ticks count
    nothing, so they are left out: every line is an interval of the result.

    Each line says how far into the window it is: its interval's end, or where a tick
    carries no row, its time less ``window_after_s`` (``--ramp`` plus ``--warmup``).
    """

    window_after_s: float

    def __init__(self, stream: IO[str], window_after_s: float = 0.0) -> None:
        super().__init__(stream, window_after_s)

    def __call__(self, tick: Tick) -> None:
        if tick.phase == "measuring":
            self._write(json.dumps(interval_line(tick, self.window_after_s, time.time())))


def interval_line(tick: Tick, window_after_s: float, now_s: float) -> dict[str, object]:
    """A measured tick as its jsonl object: the wall-clock ``time`` (``now_s``, seconds
    since the epoch) and ``window_s``, the seconds since the window started, first."""
    wall = datetime.fromtimestamp(now_s, UTC).isoformat(timespec="milliseconds")
    # The interval's own end where the tick has it: --warmup auto moves the window's
    # start after ``window_after_s`` was known (ramp + the warm-up's maximum).
    since = tick.row.t if tick.row is not None else tick.elapsed_s - window_after_s
    window_s = round(max(0.0, since), 6)
    return {"type": "interval", "time": wall, "window_s": window_s, **tick.numbers()}


def without_trailing_spaces(text: str) -> str:
    return "".join(line.rstrip() + "\n" for line in text.splitlines())
