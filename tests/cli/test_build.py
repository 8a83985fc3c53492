"""Which build runs, and an in-place compiled build's sources changed since (sockbench/build.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sockbench import build

pytestmark = pytest.mark.unit


def _checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package with two compiled sources, built as they are now (``hot.sources``)."""
    package = tmp_path / "sockbench"
    (package / "core").mkdir(parents=True)
    monkeypatch.setattr(build, "PACKAGE", package)
    for name in ("exchange", "expect"):
        (package / "core" / f"{name}.py").write_text(f"# {name}\n")
    build.record(["sockbench/core/exchange.py", "sockbench/core/expect.py"])  # as setup.py
    return package


def test_a_source_changed_after_the_build_is_named_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _checkout(tmp_path, monkeypatch)
    assert build.stale() == []
    (package / "core" / "expect.py").write_text("# expect, edited\n")
    (package / "core" / "exchange.py").write_text("# exchange\n")  # rewritten, the same
    (package / "core" / "spec.py").write_text("# not compiled: never stale\n")
    assert build.stale() == ["sockbench/core/expect.py"]
    monkeypatch.setattr(build, "compiled", lambda: True)
    assert build.describe() == (
        "compiled with mypyc; 1 source(s) edited since, not running until `make compiled` "
        "(or `make pure`): sockbench/core/expect.py"
    )


def test_a_compiled_source_gone_is_stale_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _checkout(tmp_path, monkeypatch)
    (package / "core" / "exchange.py").unlink()
    assert build.stale() == ["sockbench/core/exchange.py"]


def test_without_a_record_of_the_build_nothing_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pure checkout, or an installed wheel (no record: its sources do not change)."""
    package = _checkout(tmp_path, monkeypatch)
    (package / build.SOURCES).unlink()
    (package / "core" / "expect.py").write_text("# expect, edited\n")
    assert build.stale() == []
    monkeypatch.setattr(build, "compiled", lambda: False)
    assert build.describe() == "pure Python" and build.name() == "pure"


def test_the_build_that_runs_is_the_one_the_exchange_was_loaded_from() -> None:
    import sockbench.core.exchange as exchange

    assert build.compiled() is (not exchange.__file__.endswith(".py"))
    assert build.name() == ("compiled" if build.compiled() else "pure")
