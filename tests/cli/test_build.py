"""Which build runs, and an in-place compiled build's sources edited since (sockbench/build.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sockbench import build

pytestmark = pytest.mark.unit

SUFFIX = ".cpython-311-x86_64-linux-gnu.so"


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "sockbench"
    (package / "core").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("")  # a checkout
    monkeypatch.setattr(build, "PACKAGE", package)
    return package


def _touch(path: Path, at: float) -> None:
    path.write_bytes(b"")
    os.utime(path, (at, at))


def test_a_source_edited_after_the_build_is_named_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _package(tmp_path, monkeypatch)
    _touch(package / f"{build.LIBRARY}{SUFFIX}", 1000)
    for name, edited in (("exchange", 900), ("expect", 1100)):
        _touch(package / "core" / f"{name}{SUFFIX}", 800)  # shims: older than their code
        _touch(package / "core" / f"{name}.py", edited)
    _touch(package / "core" / "spec.py", 2000)  # not compiled: never stale
    assert build.stale() == ["sockbench/core/expect.py"]
    monkeypatch.setattr(build, "compiled", lambda: True)
    assert build.describe() == (
        "compiled with mypyc; 1 source(s) edited since, not running until `make compiled` "
        "(or `make pure`): sockbench/core/expect.py"
    )


def test_without_a_compiled_build_nothing_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _package(tmp_path, monkeypatch)
    _touch(package / "core" / "exchange.py", 2000)
    assert build.stale() == []
    monkeypatch.setattr(build, "compiled", lambda: False)
    assert build.describe() == "pure Python" and build.name() == "pure"


def test_the_build_that_runs_is_the_one_the_exchange_was_loaded_from() -> None:
    import sockbench.core.exchange as exchange

    assert build.compiled() is (not exchange.__file__.endswith(".py"))
    assert build.name() == ("compiled" if build.compiled() else "pure")


def test_an_installed_compiled_build_is_never_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel's files have no build order to read (pip may date the sources later):
    outside a checkout, nothing is called stale."""
    package = _package(tmp_path, monkeypatch)
    (tmp_path / "pyproject.toml").unlink()
    _touch(package / f"{build.LIBRARY}{SUFFIX}", 1000)
    _touch(package / "core" / f"exchange{SUFFIX}", 1000)
    _touch(package / "core" / "exchange.py", 2000)
    assert build.stale() == []
