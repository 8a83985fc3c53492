"""The entry point: Ctrl-C while the command line loads is one line and exit 130, not
a traceback from an import (``sockbench/console.py``)."""

from __future__ import annotations

import importlib.abc
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

import pytest

from sockbench import console

ROOT = Path(__file__).parents[2]


class _InterruptedImport(importlib.abc.MetaPathFinder):
    """Ctrl-C arriving while ``name`` is imported, as it does in a command's first
    quarter second."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == self.name:
            raise KeyboardInterrupt
        return None


def _exit_of_main() -> object:
    """:func:`console.main`'s exit code; a KeyboardInterrupt it lets out (a traceback, on
    the command line) fails the test instead of stopping pytest."""
    try:
        with pytest.raises(SystemExit) as exit_:
            console.main()
    except KeyboardInterrupt:
        pytest.fail("the KeyboardInterrupt escaped console.main: a traceback")
    return exit_.value.code


@pytest.mark.unit
def test_ctrl_c_while_the_command_line_loads_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "sockbench.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptedImport("sockbench.cli"), *sys.meta_path])
    assert _exit_of_main() == 130
    assert capsys.readouterr().err == "sockbench: interrupted\n"


@pytest.mark.unit
def test_ctrl_c_that_escapes_a_command_is_the_same_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sockbench.cli.main", interrupted)
    assert _exit_of_main() == 130
    assert capsys.readouterr().err == "sockbench: interrupted\n"


@pytest.mark.unit
def test_the_script_and_python_m_both_start_in_the_console_module() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert scripts == {"sockbench": "sockbench.console:main"}
    main = (ROOT / "sockbench" / "__main__.py").read_text(encoding="utf-8")
    assert "from sockbench.console import main" in main


@pytest.mark.e2e
def test_the_console_module_imports_nothing_of_the_command_line() -> None:
    """What it imports before its ``try`` is outside the handler: the package and the
    exit codes only, not typer, click, rich or the commands."""
    code = (
        "import sys, sockbench.console\n"
        "heavy = ('typer', 'click', 'rich', 'numpy', 'trio', 'sockbench.cli')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or "
        "m.startswith('sockbench.cli')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
