"""A live progress view fed by the engine's :class:`~sockbench.core.progress.Tick`\\ s.

The engine calls a progress function about once per second from its own loop; a
:class:`LiveProgress` is such a function. It redraws a small rich panel in place:
what is running ("cell 3/24: asyncio tcp 64 B 100 clients"), the phase with elapsed
and remaining time, the current req/s, the p99 of the last interval, errors and
connections; after the window, while a drain lasts, what ended since and what is still
open (:class:`~sockbench.core.progress.DrainProgress`).

The view is for people watching a terminal. It is off with ``--quiet`` and when
stdout is not a terminal or one that cannot redraw (``TERM=dumb``), so CI logs and pipes
get no cursor movement or redraws: :func:`is_plain` and :func:`live_enabled` decide,
:func:`open_live_progress` is the one call a command needs.

With ``history`` (a function writing a tick as one line), every tick's line is printed
above the panel as it comes, once: when the panel goes, the interval lines stay on
screen, as iperf3 and wrk2 leave theirs (``sockbench run``; a compare keeps its cell
lines instead).

Refreshing happens only when a tick arrives (``auto_refresh=False``): no thread is
started, so nothing races the engine's trio loop or its signal handling.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from sockbench.core.metrics import KIND_PREFIX, Metric, Unit, metric
from sockbench.core.progress import ProgressFn, Tick
from sockbench.report import numbers
from sockbench.report.stream_fields import tick_rates

WARMING = ("ramp", "warmup")  # the phases before the window: ticks that count nothing
#: What the panel shows, registry metrics: the last interval's rate and p99, read from
#: it as from an interval row (``Tick.interval``), and the window's errors and requests.
RATE, P99 = metric("rps"), metric("p99")
ERRORS, REQUESTS = metric("errors"), metric("requests")


#: A tick as one plain line (``sockbench.cli.lines.tick_line``).
HistoryFn = Callable[[Tick], str]


def is_plain(console: Console) -> bool:
    """Whether ``console`` takes plain output: not a terminal (a pipe, a file, a CI log),
    or a dumb one (``TERM=dumb``), where a live view would show nothing until the end."""
    return not console.is_terminal or console.is_dumb_terminal


def live_enabled(console: Console, quiet: bool = False) -> bool:
    """Whether a live view belongs on ``console``: not asked to be quiet, and a terminal
    that can redraw."""
    return not quiet and not is_plain(console)


@contextlib.contextmanager
def _logs_above(console: Console) -> Iterator[None]:
    """``-v``'s log lines on a terminal go through the panel's console while it is live:
    rich then draws them above the panel. Through a console of their own (stderr, the same
    terminal) they would land inside the panel, which the next redraw half erases."""
    import logging

    from rich.logging import RichHandler

    handlers = [h for h in logging.getLogger().handlers if isinstance(h, RichHandler)]
    before = [h.console for h in handlers]
    for handler in handlers:
        handler.console = console
    try:
        yield
    finally:
        for handler, was in zip(handlers, before, strict=True):
            handler.console = was


class LiveProgress:
    """A redrawn-in-place progress panel; call it with Ticks (it is a ``ProgressFn``).

    Use it as a context manager. ``label`` says what is running and can change between
    runs (:meth:`set_label`); :meth:`print` writes a line above the panel, which stays
    at the bottom. With ``transient`` (the default) the panel is erased on exit so the
    final report starts on a clean screen. With ``history``, each tick is also printed
    above the panel as the line ``history`` makes of it, and those lines stay.
    ``window_after_s`` (the ramp and warm-up before the window, where known) keeps a
    measured interval's time at its end (``Tick.shown_s``: a stream's last row comes in
    after the window).
    """

    def __init__(
        self,
        console: Console | None = None,
        label: str = "",
        *,
        transient: bool = True,
        history: HistoryFn | None = None,
        window_after_s: float | None = None,
    ) -> None:
        self.console = console or Console()
        self.label = label
        self.tick: Tick | None = None
        self.transient = transient
        self.history = history
        self.window_after_s = window_after_s
        self._live: Live | None = None
        self._logs: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        self._label_since = time.monotonic()

    def __enter__(self) -> LiveProgress:
        self._logs = _logs_above(self.console)
        self._logs.__enter__()
        self._live = Live(
            self.renderable(),
            console=self.console,
            auto_refresh=False,
            transient=self.transient,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start(refresh=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self._logs.__exit__(exc_type, exc, tb)

    def __call__(self, tick: Tick) -> None:
        self.tick = tick
        if self.history is not None and self._live is not None:
            try:  # above the panel, where it stays
                self.print(Text(self.history(tick), no_wrap=True, overflow="ellipsis"))
            except Exception:  # a drawing problem must never stop a benchmark
                self.history = None
        self.refresh()

    def set_label(self, label: str) -> None:
        """Show ``label`` and forget the last tick (a new run is starting)."""
        self.label = label
        self.tick = None
        self._label_since = time.monotonic()
        self.refresh()

    def print(self, *objects: RenderableType) -> None:
        """Print above the live panel (or plainly, when it is not running)."""
        self.console.print(*objects)

    def refresh(self) -> None:
        if self._live is None:
            return
        try:
            self._live.update(self.renderable(), refresh=True)
        except Exception:  # a drawing problem must never stop a benchmark
            self._live.stop()
            self._live = None

    def renderable(self) -> RenderableType:
        """The panel as it looks now."""
        title = Text(self.label or "sockbench", style="bold")
        tick = self.tick
        if tick is None:
            waited = time.monotonic() - self._label_since
            text = "starting the server and connecting"
            if waited >= 1:
                text += f" ({waited:.0f} s)"
            return Group(title, Text(text + " …", style="dim"))
        elapsed = tick.shown_s(self.window_after_s)
        total = max(elapsed + tick.remaining_s, 1e-9)
        clock = Table.grid(padding=(0, 1))
        clock.add_row(
            Text(f"{tick.phase_name:<9}", style="cyan"),
            ProgressBar(total=total, completed=min(elapsed, total), width=28),
            Text(f"{elapsed:5.1f} s elapsed, {tick.remaining_s:5.1f} s left"),
        )
        connections = (  # none counted while a --ramp brings clients up
            f"connections {numbers.fmt_int(tick.connections)}" if tick.connections else ""
        )
        if tick.drain is not None:  # after the window: what is still open, how long at most
            return Group(title, clock, Text(tick.drain.text()))
        if tick.phase in WARMING and tick.settling is None:  # nothing counted: no rate of 0
            text = f"not counted (warm-up is kept out)  {connections}".rstrip()
            return Group(title, clock, Text(text, style="dim"))
        if tick.phase in WARMING:  # --warmup auto: the interval's numbers, never counted
            line = Text(f"{_shown(RATE, tick.interval)} {RATE.title}", style="dim")
            line.append(f"  {P99.title} {_shown(P99, tick.interval)}  {tick.warmup_state}")
            line.append(f"  {connections}".rstrip())
            return Group(title, clock, line)
        row = tick.interval
        line = Text()
        stream = tick_rates(tick)  # a stream: iperf3's transfer and bit rate, no req/s or p99
        if stream is not None:
            line.append(stream, style="bold")
        else:
            line.append(f"{_shown(RATE, row)} {RATE.title}", style="bold")
            line.append(f"  {P99.title} {_shown(P99, row)}")
        line.append(f"  {ERRORS.title} ")
        line.append(_formatted(ERRORS, tick.errors), style="red" if tick.errors else "")
        if connections:
            line.append(f"  {connections}")
        # A stream's count is of messages (--payload bytes), not of requests it has none of.
        counted = "messages" if stream is not None else REQUESTS.title
        line.append(f"  {counted} {_formatted(REQUESTS, tick.requests)}", style="dim")
        if not tick.by_kind:
            return Group(title, clock, line)
        kinds = Text()
        for i, (kind, _, _) in enumerate(tick.by_kind):
            rate, p99 = (metric(f"{KIND_PREFIX}{kind}.{m.name}") for m in (RATE, P99))
            kinds.append("  " if i else "")
            kinds.append(f"{kind} ", style="cyan")
            kinds.append(f"{_shown(rate, row)} {RATE.title} {P99.title} {_shown(p99, row)}")
        return Group(title, clock, line, kinds)


def _shown(m: Metric, row: Mapping[str, Any]) -> str:
    """A metric of the last interval as it reads."""
    return _formatted(m, m.per_interval(row))


def _formatted(m: Metric, value: float | None) -> str:
    """As the metric's formatter writes it; a latency of an interval with no reply
    (recorded as 0) is a dash."""
    if m.unit is Unit.US and not value:
        return numbers.DASH
    return numbers.FORMATTERS[m.fmt](value)


def _ignore(tick: Tick) -> None:
    return None


@contextlib.contextmanager
def open_live_progress(
    enabled: bool,
    label: str = "",
    console: Console | None = None,
    history: HistoryFn | None = None,
    window_after_s: float | None = None,
) -> Iterator[ProgressFn]:
    """A progress function for ``runner.run(progress=...)``: a live panel while the
    ``with`` block runs when ``enabled`` (leaving each tick's ``history`` line above it;
    ``window_after_s``: :class:`LiveProgress`'s), a function that does nothing otherwise.

    ``enabled`` is usually ``live_enabled(console, quiet)``::

        console = Console()
        with open_live_progress(live_enabled(console, quiet), "asyncio tcp 100 clients",
                                console) as progress:
            outcome = runner.run(config, command=..., progress=progress)
    """
    if not enabled:
        yield _ignore
        return
    with LiveProgress(console, label, history=history, window_after_s=window_after_s) as live:
        yield live
