"""A disk that fills during `compare` (issue 33): the compare goes on, every cell is kept,
the document is saved in the fallback file, one line says where, and the exit code is 74
(as `run`). The full disk is a writer that raises ENOSPC once the folder "fills": the
real compare code, in-process, with the stand-in engine of tests/compare."""

from __future__ import annotations

import errno
import json
import os
import re
import sys
from pathlib import Path

import pytest

import sockbench.compare.folder as folder_module
from sockbench.cli.app import main
from sockbench.compare import run_compare
from sockbench.core.status import EXIT_WRITE_FAILED
from tests.compare.test_execute import FakeEngine, _plan

pytestmark = pytest.mark.slow  # whole compare documents and reports, in-process


def _disk_fills(monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """The compare folder takes ``after`` files, then every write fails with ENOSPC."""
    real = folder_module.write_atomic
    writes = [0]

    def write(path: Path, text: str) -> None:
        writes[0] += 1
        if writes[0] > after:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, text)

    monkeypatch.setattr(folder_module, "write_atomic", write)


def test_every_cell_is_kept_in_the_fallback(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    _disk_fills(monkeypatch, after=2)  # the empty document, then cell 1's; its .hgrm fails
    engine = FakeEngine()
    outcome = run_compare(_plan(), tmp_path / "cmp", command="c", run=engine)
    assert len(engine.calls) == 4  # the compare went on
    assert outcome.exit_code == EXIT_WRITE_FAILED
    assert outcome.failures and "No space left on device" in outcome.failures[0]
    assert outcome.fallback is not None and outcome.fallback.parent == tmp_path
    saved = json.loads(outcome.fallback.read_text())
    assert saved["status"] == "completed" and len(saved["cells"]) == 4
    assert "repeats" in saved


def test_the_cli_says_where_in_one_line_and_exits_74(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr("sockbench.engine.orchestration.runner.run", FakeEngine())
    _disk_fills(monkeypatch, after=1)  # the first cell's results.json fails
    out = tmp_path / "cmp"
    monkeypatch.setattr(
        sys, "argv",
        ["sockbench", "compare", "--models", "threaded,asyncio", "--proto", "tcp",
         "--clients", "5", "--duration", "1", "--warmup", "0", "--quiet", "--out", str(out)],
    )  # fmt: skip
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == EXIT_WRITE_FAILED
    err = [
        line
        for line in capsys.readouterr().err.splitlines()
        if not line.startswith(("sockbench: warning:", "warning:"))
    ]
    assert len(err) == 1 and err[0].startswith("sockbench: error: cannot write "), err
    match = re.search(r"saved in (\S+)$", err[0])
    assert match, err
    saved = json.loads(Path(match.group(1)).read_text())
    assert [c["cell"]["index"] for c in saved["cells"]] == [1, 2]
