"""Bad input through the command line's own entry point, in the test's process.

Each case fails before any load, and a process apiece cost about a second of a loaded
machine's CPU (the imports), so tables of refusals run here; a few cases per table keep
a process of their own for the wiring a shell sees (exit code, stderr)."""

from __future__ import annotations

import pytest


def refusal(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    """``sockbench ARGS`` refused: exit code 2 and one line on stderr, ``sockbench: error:``
    first (an exception other than the exit fails the test, as a traceback would); that
    line."""
    from sockbench.cli import main

    monkeypatch.setattr("sys.argv", ["sockbench", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    stderr = capsys.readouterr().err
    assert exit_.value.code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("sockbench: error: "), lines[0]
    return lines[0]
