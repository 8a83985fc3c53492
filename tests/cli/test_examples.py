"""Every example in a command's ``--help`` parses and reaches the load (patched out), so
the examples cannot drift from the options."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from sockbench.cli.examples import EXAMPLES, epilog
from tests.cli.test_fuzz_commands import FIXTURE, Loaded, _invoke, patched  # noqa: F401

pytestmark = pytest.mark.unit

CASES = [(command, line) for command, examples in EXAMPLES.items() for _, line in examples]


@pytest.mark.parametrize(("command", "line"), CASES)
def test_each_example_reaches_the_load(patched: None, command: str, line: str) -> None:  # noqa: F811
    argv = shlex.split(line)
    assert argv[:2] == ["sockbench", command]
    # A saved result where the example names one (report and diff read it for real).
    argv = [FIXTURE if arg.endswith(".json") and command in ("report", "diff") else arg
            for arg in argv[1:]]  # fmt: skip
    if "--config" in argv:  # the scenario the example names
        (Path.cwd() / "bench.toml").write_text('clients = 50\nduration = "10s"\n')
    code, lines = _invoke(argv)
    assert code is Loaded or (code == 0 and command in ("report", "diff")), (argv, lines)


def test_every_command_with_options_has_examples() -> None:
    from sockbench.core.spec.commands import RECORDS

    assert set(EXAMPLES) == set(RECORDS)
    assert all(epilog(command).startswith("Examples:") for command in EXAMPLES)


def test_choices_tab_complete() -> None:
    """``--server uv<TAB>``, a list's last item, and ``--format``'s values."""
    from sockbench.cli.params import _completer
    from sockbench.core.spec.commands import options_for

    def complete(command: str, flag: str, incomplete: str) -> list[str]:
        [option] = [o for o in options_for(command) if o.flag == flag]  # type: ignore[arg-type]
        completer = _completer(option)
        assert completer is not None
        return completer(incomplete)

    assert complete("run", "--server", "uv") == ["uvloop"]
    assert complete("compare", "--server", "threaded,a") == ["threaded,asyncio"]
    assert complete("report", "--format", "h") == ["hgrm", "html"]
    assert "unix-dgram" in complete("run", "--proto", "u")


def test_help_shows_defaults_in_their_units_and_names_each_value() -> None:
    """``[default: 2s]`` beside ``10s``, never ``2.0``; no bare ``TEXT`` where a name says
    more (a file, a folder, a URL)."""
    from typer.testing import CliRunner

    from sockbench.cli import app

    text = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    assert "[default: 2s]" in text and "[default: 2.0]" not in text
    for flag, name in [("--json", "FILE"), ("--target", "URL"), ("--out", "FOLDER")]:
        assert f"{flag} {name}" in text, flag


@pytest.mark.parametrize(("command", "shown"), [("report", "PATH"), ("diff", "PATH...")])
def test_arguments_read_as_man_pages_write_them(command: str, shown: str) -> None:
    """``PATH`` and ``PATH...``, not typer's ``{PATH}`` and ``PATH <list[str]>``."""
    from typer.testing import CliRunner

    from sockbench.cli import app

    text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
    assert f"[OPTIONS] {shown}\n" in text and f"\n  {shown}  " in text
    assert "<" not in text.split("Options:")[0] and "{" not in text.split("\n")[0]
