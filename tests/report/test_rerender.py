"""`sockbench report FOLDER` reproduces the files a run or a compare wrote, byte for byte."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sockbench.compare.folder import write_reports
from sockbench.report import load
from sockbench.report.files import write_run_folder
from tests.report.conftest import COMPARE, RESULT_TCP

pytestmark = pytest.mark.slow  # whole reports with charts: `make unit` skips it


def report(path: Path, fmt: str) -> bytes:
    result = subprocess.run(
        [sys.executable, "-m", "sockbench", "report", str(path), "-f", fmt],
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.fixture(scope="module")
def compare_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compare folder with the reports a compare writes (HTML charts included: seconds
    of rendering, so once for the tests of this module)."""
    folder = tmp_path_factory.mktemp("cmp")
    shutil.copy(COMPARE / "results.json", folder / "results.json")
    write_reports(folder, load(folder))
    return folder


@pytest.mark.parametrize(("fmt", "name"), [("md", "report.md"), ("html", "report.html"),
                                           ("csv", "summary.csv")])  # fmt: skip
def test_compare_folder_rerenders_byte_for_byte(compare_folder: Path, fmt: str, name: str) -> None:
    assert report(compare_folder, fmt) == (compare_folder / name).read_bytes()


def test_compare_sections_survive_a_rerender(compare_folder: Path) -> None:
    md = report(compare_folder, "md").decode()
    assert "## Generator saturated" in md


def test_run_folder_rerenders_byte_for_byte(tmp_path: Path) -> None:
    folder = write_run_folder(json.loads(RESULT_TCP.read_text()), str(tmp_path))
    assert report(folder, "hgrm") == (folder / "latency.hgrm").read_bytes()
    assert report(folder, "md") == report(folder / "result.json", "md")
    assert report(folder, "html") == (folder / "report.html").read_bytes()
