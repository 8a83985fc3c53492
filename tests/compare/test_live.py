"""The live progress view, fed synthetic Ticks (the engine's own are tested with it)."""

from __future__ import annotations

import io

from rich.console import Console

from sockbench.core.progress import Tick
from sockbench.report.live import LiveProgress, live_enabled, open_live_progress


def _tick(**changes: object) -> Tick:
    values: dict[str, object] = {
        "phase": "measuring",
        "elapsed_s": 3.0,
        "remaining_s": 7.0,
        "requests": 123_456,
        "rps": 41_152.0,
        "p99_us": 1234,
        "errors": 3,
        "connections": 100,
    }
    values.update(changes)
    return Tick(**values)  # type: ignore[arg-type]


def _terminal() -> Console:
    return Console(record=True, force_terminal=True, width=120, file=io.StringIO())


def test_renders_label_time_rate_p99_and_errors() -> None:
    console = _terminal()
    with LiveProgress(console, "cell 3/24: asyncio tcp 64 B 100 clients", transient=False) as live:
        live(_tick(phase="warmup", elapsed_s=0.5, remaining_s=9.5, rps=900.0, p99_us=0))
        live(_tick())
    text = console.export_text()
    assert "cell 3/24: asyncio tcp 64 B 100 clients" in text
    assert "measuring" in text and "3.0 s elapsed" in text and "7.0 s left" in text
    assert "41,152 req/s" in text
    assert "p99 1.23 ms" in text
    assert "errors 3" in text and "connections 100" in text
    assert "warm-up" in text  # the first frame, kept because transient=False


def test_label_change_forgets_the_last_tick() -> None:
    console = _terminal()
    live = LiveProgress(console, "cell 1/2: threaded tcp 64 B 10 clients")
    live(_tick())
    live.set_label("cell 2/2: asyncio tcp 64 B 10 clients")
    text = console.export_text() + _plain(live)
    assert "cell 2/2: asyncio" in text
    assert "starting the server" in _plain(live)


def _plain(live: LiveProgress) -> str:
    out = Console(record=True, width=120, file=io.StringIO())
    out.print(live.renderable())
    return out.export_text()


def test_transient_panel_is_erased_and_lines_print_above() -> None:
    console = _terminal()
    with LiveProgress(console, "cell 1/1: selectors udp 64 B 10 clients") as live:
        live(_tick())
        live.print("cell 1/1 done: 41,152 req/s")
    assert "cell 1/1 done: 41,152 req/s" in console.export_text()


def test_disabled_when_quiet_or_not_a_terminal() -> None:
    pipe = Console(file=io.StringIO())  # not a TTY, as in CI or `| tee`
    assert not live_enabled(pipe)
    assert not live_enabled(_terminal(), quiet=True)
    assert live_enabled(_terminal())
    sink = io.StringIO()
    quiet = Console(file=sink, force_terminal=True)
    with open_live_progress(False, "run", quiet) as progress:
        progress(_tick())
    assert sink.getvalue() == ""


def test_open_live_progress_draws_when_enabled() -> None:
    console = _terminal()
    with open_live_progress(True, "asyncio tcp 64 B 100 clients", console) as progress:
        progress(_tick(rps=12_345.0))
    assert "12,345 req/s" in console.export_text()


def test_a_drawing_failure_does_not_raise() -> None:
    console = _terminal()
    with LiveProgress(console, "x") as live:
        live(_tick(rps=111.0))
        live.renderable = lambda: 1 / 0  # type: ignore[assignment, method-assign, return-value]
        live(_tick())  # swallowed; the view switches itself off
        live(_tick())
        assert live.tick == _tick()  # the ticks still arrive
    drawn = console.export_text()
    assert "111 req/s" in drawn  # drawn before the failure
    assert "41,152 req/s" not in drawn  # and nothing after it


def test_shows_rate_and_p99_per_kind_of_request() -> None:
    console = _terminal()
    with LiveProgress(console, "redis", transient=False) as live:
        live(_tick(by_kind=(("set", 3_741.0, 850), ("get", 37_411.0, 0))))
    text = console.export_text()
    assert "set 3,741 req/s p99 850 µs" in text
    assert "get 37,411 req/s p99 —" in text or "get 37,411 req/s p99 -" in text


def test_a_tick_is_its_last_interval_as_a_row_the_registry_reads() -> None:
    from sockbench.core.metrics import metric

    tick = _tick(by_kind=(("set", 3_741.0, 850),))
    assert tick.interval == {
        "rps": 41_152.0, "p99": 1234, "by_kind": {"set": {"rps": 3_741.0, "p99": 850}},
    }  # fmt: skip
    assert metric("rps").per_interval(tick.interval) == 41_152.0
    assert metric("kind.set.p99").per_interval(tick.interval) == 850
    assert metric("errors").per_interval(tick.interval) is None  # the window's, not the row's


def test_log_lines_print_above_the_panel_while_it_is_live() -> None:
    """-v on a terminal: a log record goes through the panel's console, which draws it
    above the panel; after the panel, through the handler's own console again."""
    import logging

    from rich.logging import RichHandler

    own = Console(record=True, width=120, file=io.StringIO())
    handler = RichHandler(console=own, show_path=False)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        console = _terminal()
        with LiveProgress(console, "x", transient=False) as live:
            live(_tick())
            logging.getLogger("sockbench.test").warning("server started on port 1234")
        assert "server started on port 1234" in console.export_text()
        assert own.export_text() == "" and handler.console is own
    finally:
        root.removeHandler(handler)
