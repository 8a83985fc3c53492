"""Signals while the run's loop is stuck (pure: the handler called as the interpreter
calls it, with the frame it interrupted): in a plugin the next one raises there; in
sockbench's own code, the third one the loop never saw leaves the process."""

from __future__ import annotations

import pytest

from sockbench.engine.io import interrupts
from sockbench.engine.io.interrupts import Interrupts

pytestmark = pytest.mark.unit


class Left(Exception):
    """os._exit, which would end the test process."""


def _stuck(monkeypatch: pytest.MonkeyPatch) -> tuple[Interrupts, list[float]]:
    clock = [100.0]
    monkeypatch.setattr(interrupts.time, "monotonic", lambda: clock[0])
    signals = Interrupts()
    signals._wake = lambda n: None  # the loop is stuck: it never runs what it was sent

    def leave(code: int) -> None:
        raise Left(code)

    monkeypatch.setattr(interrupts.os, "_exit", leave)
    return signals, clock


def test_stuck_in_own_code_the_third_signal_leaves(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    signals, clock = _stuck(monkeypatch)
    monkeypatch.setattr(interrupts, "_in_foreign_code", lambda frame: False)
    signals._handle(2, None)
    clock[0] += 1.5
    signals._handle(2, None)  # the second: stuck, but one more chance
    clock[0] += 0.5
    with pytest.raises(Left) as left:
        signals._handle(2, None)
    assert left.value.args == (130,)
    assert "could not act on 3 signals in 2.0 s" in capfd.readouterr().err


def test_a_loop_that_keeps_up_never_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    signals, clock = _stuck(monkeypatch)
    seen: list[int] = []
    signals._wake = seen.append
    monkeypatch.setattr(interrupts, "_in_foreign_code", lambda frame: False)
    for _ in range(5):
        signals._handle(15, None)
        signals._seen = signals.count  # the loop ran each callback
        clock[0] += 2.0
    assert seen == [1, 2, 3, 4, 5]


def test_stuck_in_a_plugin_the_second_signal_raises_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signals, clock = _stuck(monkeypatch)
    monkeypatch.setattr(interrupts, "_in_foreign_code", lambda frame: True)
    signals._handle(2, None)
    clock[0] += 1.5
    with pytest.raises(interrupts.LoopStuck):
        signals._handle(2, None)
