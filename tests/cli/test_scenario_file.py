"""``--config FILE`` and ``SOCKBENCH_*`` through the real command line, in process: what
the run is built with, and which value wins (the command line, then a variable, then
the file's [run] table, then its top level)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_fuzz_commands import Loaded, _invoke

pytestmark = pytest.mark.unit

SCENARIO = """\
clients = 4
duration = "1h30m"
check = ["p99 < 1ms", "errors == 0"]
slo = "p99 < 1ms"  # search's: left alone by run

[run]
clients = 8
server = "uvloop"
no-batch = true

[compare]
server = ["threaded", "uvloop"]
"""


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """The run spec each ``sockbench run`` reached the load with."""
    import sockbench.cli.run
    import sockbench.engine.orchestration.runner

    specs: list[Any] = []

    def load(spec: Any, **kwargs: object) -> None:
        specs.append(spec)
        raise Loaded

    monkeypatch.setattr(sockbench.engine.orchestration.runner, "run", load)
    monkeypatch.setattr(sockbench.cli.run, "setup_logging", lambda verbose, log_file: None)
    monkeypatch.chdir(tmp_path)
    for name in ("SOCKBENCH_CONFIG", "SOCKBENCH_CLIENTS"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "s.toml").write_text(SCENARIO)
    return specs


def test_the_file_gives_what_the_command_line_did_not(built: list[Any]) -> None:
    code, lines = _invoke(["run", "--config", "s.toml", "--out", ""])
    assert code is Loaded, lines
    [spec] = built
    assert spec.load.clients == 8  # [run] over the top level
    assert spec.load.duration_s == 5400.0
    assert spec.generator.batch is False
    assert spec.output.checks == ("p99 < 1ms", "errors == 0")


def test_the_command_line_then_a_variable_win(
    built: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCKBENCH_CONFIG", "s.toml")
    monkeypatch.setenv("SOCKBENCH_CLIENTS", "16")
    assert _invoke(["run", "--out", ""])[0] is Loaded
    assert _invoke(["run", "--out", "", "-c", "32"])[0] is Loaded
    assert [spec.load.clients for spec in built] == [16, 32]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cleints = 4\n", "s.toml: 'cleints' is not a sockbench option; did you mean 'clients'?"),
        ("clients = \n", "s.toml is not valid TOML"),
        ("clients = 0\n", "--clients must be at least 1"),
    ],
)
def test_a_wrong_file_is_one_line_and_exit_2(
    built: list[Any], tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "s.toml").write_text(text)
    code, lines = _invoke(["run", "--config", "s.toml"])
    assert (code, len(lines)) == (2, 1), lines
    assert lines[0].startswith("sockbench: error: ") and message in lines[0], lines
    assert not built


def test_a_missing_file_is_one_line(built: list[Any]) -> None:
    code, lines = _invoke(["run", "--config", "nope.toml"])
    assert (code, lines) == (
        2,
        ["sockbench: error: cannot read --config nope.toml: No such file or directory"],
    )
