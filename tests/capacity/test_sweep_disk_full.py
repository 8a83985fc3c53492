"""A disk that fills during a sweep: the sweep goes on, its document goes to the fallback
file after every step, one line says where, and it exits 74 (as run and compare do)."""

from __future__ import annotations

import errno
import json
import tempfile
from pathlib import Path

import pytest

from sockbench.core.schemas import SWEEP_SCHEMA
from sockbench.core.status import EXIT_WRITE_FAILED
from sockbench.report import files

pytestmark = pytest.mark.e2e  # a real sweep, in-process


def test_a_full_disk_keeps_the_sweep_in_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out, spare = tmp_path / "out", tmp_path / "spare"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    real = files.write_atomic

    def full(path: Path, text: str) -> None:
        if out in path.parents:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, text)

    monkeypatch.setattr(files, "write_atomic", full)
    from sockbench.cli import main

    monkeypatch.setattr(
        "sys.argv",
        ["sockbench", "sweep", "--server", "asyncio", "--clients", "2", "--rate", "200,400",
         "--duration", "0.5", "--warmup", "0.2", "--out", str(out), "--quiet"],
    )  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == EXIT_WRITE_FAILED, err
    [line] = [x for x in err.splitlines() if x.startswith("sockbench: error:")]
    assert "No space left on device" in line and "saved in" in line
    [fallback] = spare.glob("sockbench-sweep-*.json")
    doc = json.loads(fallback.read_text())
    assert doc["schema"] == SWEEP_SCHEMA
    assert [s["rate"] for s in doc["curves"][0]["steps"]] == [200, 400]  # both steps kept
