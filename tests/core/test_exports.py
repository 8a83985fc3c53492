"""``run --export FORMAT=FILE``: parsed and refused before any load (pure), and written by
the one writer beside the run folder and ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sockbench.core.spec.exports import EXPORT_FORMATS, Export, numbered, parse_exports
from sockbench.errors import ConfigError
from sockbench.report import render
from sockbench.report.files import save_result

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "report" / "fixtures" / "result-tcp.json"


def test_exports_are_each_format_and_its_file_in_order() -> None:
    exports = parse_exports(("html=r.html", "MD=out/r.md", "json=r.json"), "--export")
    assert exports == (Export("html", "r.html"), Export("md", "out/r.md"),
                       Export("json", "r.json"))  # fmt: skip
    assert parse_exports(exports, "--export") == exports  # already typed, from Python
    assert parse_exports(None, "--export") == ()
    assert EXPORT_FORMATS == ("text", "md", "csv", "hgrm", "html", "json")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (("pdf=r.pdf",), "unknown --export format 'pdf' in 'pdf=r.pdf'; choose one of text"),
        (("html",), "--export wants FORMAT=FILE"),
        (("html=",), "--export wants FORMAT=FILE"),
        (("csv=-",), "--export csv=-: stdout is --format csv, not an export"),
        (("json=-",), "stdout is --json -"),
        (("md=r", "csv=r"), "--export md=r and --export csv=r write the same file"),
    ],
)
def test_a_bad_export_is_one_line(given: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_exports(given, "--export")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_repetitions_file_is_numbered_before_its_extension() -> None:
    assert numbered("report.html", 2) == "report-2.html"
    assert numbered("out.d/report", 3) == "out.d/report-3"
    assert numbered("a/.hidden", 1) == "a/.hidden-1"


def test_exports_are_written_as_report_renders_them(tmp_path: Path) -> None:
    doc = json.loads(FIXTURE.read_text())
    exports = (Export("md", str(tmp_path / "r.md")), Export("csv", str(tmp_path / "r.csv")),
               Export("json", str(tmp_path / "r.json")))  # fmt: skip
    saved = save_result(doc, None, None, exports)
    assert not saved.failures
    assert (tmp_path / "r.md").read_text() == render(doc, "md")
    assert (tmp_path / "r.csv").read_text() == render(doc, "csv")
    assert json.loads((tmp_path / "r.json").read_text()) == doc


def test_an_export_that_fails_keeps_the_result_in_the_fallback(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    doc = json.loads(FIXTURE.read_text())
    saved = save_result(doc, None, None, (Export("md", "/dev/full"),))
    assert saved.failures and "cannot write --export /dev/full" in saved.failures[0]
    assert saved.fallback is not None and json.loads(saved.fallback.read_text()) == doc
