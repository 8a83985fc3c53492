"""A run on a terminal leaves its interval lines on screen when the live panel goes, once
each (as iperf3 and wrk2 do); a dumb terminal gets the plain lines instead of a panel."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from sockbench.cli.lines import tick_line
from sockbench.core.progress import Tick
from sockbench.report.live import LiveProgress, is_plain, live_enabled, open_live_progress

pytestmark = pytest.mark.unit  # a console on a StringIO, no process

_CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


def screen(raw: str) -> list[str]:
    """What a terminal shows after ``raw``: the cursor movements rich's Live uses (up,
    erase line, carriage return) applied, colours and cursor visibility dropped."""
    lines = [""]
    row = col = 0
    i = 0
    while i < len(raw):
        match = _CSI.match(raw, i)
        if match:
            arg, op = match.groups()
            if op == "A":
                row = max(0, row - int(arg or 1))
            elif op == "K":
                lines[row] = lines[row][:col] if arg in ("", "0") else ""
            elif op == "G":
                col = int(arg or 1) - 1
            i = match.end()
            continue
        ch = raw[i]
        i += 1
        if ch == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif ch == "\r":
            col = 0
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + ch + line[col + 1 :]
            col += 1
    return [line.rstrip() for line in lines if line.strip()]


def _tick(phase: str, elapsed_s: float, rps: float) -> Tick:
    return Tick(
        phase=phase, elapsed_s=elapsed_s, remaining_s=3.0 - elapsed_s, requests=0, rps=rps,
        p99_us=1234 if rps else 0, errors=0, connections=4,
    )  # fmt: skip


TICKS = [
    _tick("warmup", 1.0, 0.0),
    _tick("measuring", 2.0, 41_152.0),
    _tick("measuring", 3.0, 40_000.0),
]


def _terminal(term: str = "xterm-256color") -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100, _environ={"TERM": term})


def test_the_interval_lines_stay_on_screen_once_each_when_the_panel_goes() -> None:
    console = _terminal()
    with open_live_progress(True, "asyncio tcp 4 clients", console, history=tick_line) as live:
        for tick in TICKS:
            live(tick)
    shown = screen(console.file.getvalue())  # type: ignore[attr-defined]
    assert shown == [tick_line(t) for t in TICKS]  # in order, once each, the panel gone


def test_without_history_the_panel_leaves_nothing() -> None:
    console = _terminal()
    with LiveProgress(console, "cell 1/2") as live:
        for tick in TICKS:
            live(tick)
    assert screen(console.file.getvalue()) == []  # type: ignore[attr-defined]


def test_a_dumb_terminal_is_plain_a_pipe_too_and_gets_no_live_panel() -> None:
    dumb = _terminal("dumb")
    assert is_plain(dumb) and not live_enabled(dumb)
    assert is_plain(Console(file=io.StringIO()))
    assert not is_plain(_terminal()) and live_enabled(_terminal())


def test_a_warning_said_during_the_panel_goes_above_it_and_stays_whole() -> None:
    from sockbench.cli.run import _warner
    from sockbench.core.warning import RunWarning, WarningKind

    console = _terminal()
    with open_live_progress(True, "asyncio tcp 4 clients", console, history=tick_line) as live:
        live(TICKS[0])
        _warner(live)(RunWarning(WarningKind.CLAMPED, "the machine is busy", "run on an idle one"))
        live(TICKS[1])
    shown = screen(console.file.getvalue())  # type: ignore[attr-defined]
    warning = "sockbench: warning: the machine is busy; run on an idle one"
    assert shown == [tick_line(TICKS[0]), warning, tick_line(TICKS[1])]


def test_a_warm_up_panel_shows_no_rate_it_has_not_counted() -> None:
    console = _terminal()
    live = LiveProgress(console, "asyncio tcp 4 clients")
    live.tick = TICKS[0]  # warm-up: the engine counts nothing before the window
    out = Console(file=io.StringIO(), width=100)
    out.print(live.renderable())
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "not counted (warm-up is kept out)  connections 4" in text
    assert "req/s" not in text and "requests 0" not in text
