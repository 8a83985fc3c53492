"""load(): accepted paths and one-line errors for everything else."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sockbench.errors import SockbenchError
from sockbench.report import COMPARE_SCHEMA, RESULT_SCHEMA, load
from tests.report.conftest import COMPARE, DOCUMENTS, RESULT_TCP

RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_loads_result_file_run_folder_and_compare_folder(tmp_path: Path) -> None:
    assert load(RESULT_TCP)["schema"] == RESULT_SCHEMA
    run = tmp_path / "run-1"
    run.mkdir()
    (run / "result.json").write_text(RESULT_TCP.read_text())
    assert load(run)["schema"] == RESULT_SCHEMA
    assert load(str(run))["schema"] == RESULT_SCHEMA
    assert load(COMPARE)["schema"] == COMPARE_SCHEMA
    assert load(COMPARE / "results.json")["schema"] == COMPARE_SCHEMA


def _error(path: Path) -> str:
    with pytest.raises(SockbenchError) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message
    assert info.value.exit_code == 2
    return message


def test_missing_path(tmp_path: Path) -> None:
    message = _error(tmp_path / "nope.json")
    assert "nope.json" in message and "no such file" in message


def test_folder_without_result(tmp_path: Path) -> None:
    assert "no result.json, results.json or sweep.json" in _error(tmp_path)


def test_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "result.json"
    bad.write_text("{not json\n\n at all")
    message = _error(bad)
    assert "not JSON" in message and "line 1" in message


def test_not_an_object(tmp_path: Path) -> None:
    bad = tmp_path / "result.json"
    bad.write_text("[1, 2]")
    assert "expected a JSON object" in _error(bad)


@pytest.mark.parametrize("schema", [None, "sockbench.result/2", "other"])
def test_unknown_schema(tmp_path: Path, schema: str | None) -> None:
    bad = tmp_path / "result.json"
    bad.write_text(json.dumps({"schema": schema} if schema else {"totals": {}}))
    message = _error(bad)
    assert "unknown schema" in message and RESULT_SCHEMA in message


def test_not_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "result.json"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    assert "cannot read" in _error(bad)


def test_stored_compare_documents_match_the_compare_schema() -> None:
    from tests.support.schema import validate_compare

    validate_compare(load(COMPARE), cells=False)  # stub cells: only the compare keys


def test_schema_ids_are_defined_once() -> None:
    import json
    from pathlib import Path

    from sockbench.core import schemas

    docs = Path(__file__).resolve().parents[2] / "docs"
    for name, ident in (("result", schemas.RESULT_SCHEMA), ("compare", schemas.COMPARE_SCHEMA)):
        assert json.loads((docs / f"{name}.schema.json").read_text())["$id"] == ident
    assert RESULT_SCHEMA is schemas.RESULT_SCHEMA and COMPARE_SCHEMA is schemas.COMPARE_SCHEMA


def test_load_dispatches_on_the_schema_id(tmp_path: Path) -> None:
    bad = tmp_path / "results.json"
    bad.write_text('{"schema": "sockbench.compare/1", "cells": 3}')
    with pytest.raises(SockbenchError, match="needs a list of cells"):
        load(bad)
    future = tmp_path / "result.json"
    future.write_text('{"schema": "sockbench.result/2"}')
    with pytest.raises(SockbenchError, match=r"unknown schema 'sockbench\.result/2'"):
        load(future)


# Every result is checked once, on loading, for every format and for diff
# (sockbench/report/shape.py): a damaged or skeleton document is one line naming the file,
# where in it and what is wrong, never an exception's name.

#: A Python exception's name in a message (``TypeError``, ``HdrLengthException``).
EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b")


def _damaged(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    doc = json.loads(RESULT_TCP.read_text())
    change(doc)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    return path


def _set(*path: str | int, value: object) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        node: Any = doc
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return change


def _drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        node: Any = doc
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]

    return change


DAMAGE: list[tuple[Callable[[dict[str, Any]], object], str]] = [
    (_set("totals", "requests", value="many"), 'totals.requests: expected an integer, got "many"'),
    (
        _set("totals", "throughput_rps", value=float("nan")),
        "totals.throughput_rps: expected a finite",
    ),
    (_set("totals", "errors", "timeout", value=-3), "totals.errors.timeout: expected 0 or more"),
    (_set("latency_us", "histogram", value="garbage!!"), "latency_us.histogram: not a readable"),
    (_set("latency_us", "histogram", value=""), "latency_us.histogram: empty, but count is 664526"),
    (_set("connect_us", value=None), "connect_us: expected an object, got null"),
    (_drop("latency_us"), "latency_us: missing"),
    (_drop("totals", "errors"), "totals.errors: missing"),
    (_set("config", "mode", value="bogus"), "config.mode: expected one of echo, churn, stream"),
    (_set("config", "clients", value=0), "config.clients: expected 1 or more, got 0"),
    (_set("status", value=7), "status: expected text, got 7"),
    (_set("datagrams", value=[]), "datagrams: expected an object, got a list"),
    (_set("intervals", 2, "rps", value=None), "intervals[2].rps: expected a number, got null"),
    (_set("environment", "cpu_count", value=[16]), "environment.cpu_count: expected an integer"),
    (_set("generator", "saturated", value="yes"), "generator.saturated: expected true or false"),
]


@pytest.mark.parametrize(("change", "said"), DAMAGE, ids=[said.split(":")[0] for _, said in DAMAGE])
def test_a_damaged_result_is_refused_naming_where(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], said: str
) -> None:
    path = _damaged(tmp_path, change)
    message = _error(path)
    assert message.startswith(f"{path}: {said}"), message
    assert not EXCEPTION_NAME.search(message), message


def test_a_skeleton_result_is_refused(tmp_path: Path) -> None:
    skeleton = tmp_path / "s.json"
    skeleton.write_text('{"schema": "sockbench.result/1"}')
    assert _error(skeleton).startswith(f"{skeleton}: status: missing")


def test_a_compare_cell_is_checked_as_a_result(tmp_path: Path) -> None:
    doc = json.loads((COMPARE / "results.json").read_text())
    doc["cells"][3]["totals"]["requests"] = 1.5
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    assert _error(path) == f"{path}: cells[3].totals.requests: expected an integer, got 1.5"


def test_every_stored_document_still_loads() -> None:
    """The fixtures (results of earlier versions of schema 1) and the results committed
    under results/ pass the check they are loaded through."""
    committed = ("*/results.json", "*/sweep.json", "*_run.json")
    stored = [*DOCUMENTS.values(), *(p for pattern in committed for p in RESULTS.glob(pattern))]
    assert len(stored) >= 8
    for path in stored:
        assert load(path)["schema"]


@pytest.mark.parametrize(
    "command",
    [["report", "-f", fmt] for fmt in ("text", "md", "csv", "hgrm", "html")]
    + [["diff", str(RESULT_TCP)]],
    ids=lambda c: " ".join(c[:3]) if c[0] == "report" else "diff",
)
@pytest.mark.parametrize(
    ("change", "said"),
    [DAMAGE[0], DAMAGE[3], (lambda doc: [doc.pop(k) for k in list(doc)[1:]], "status: missing")],
    ids=["requests", "histogram", "skeleton"],
)
def test_the_same_refusal_for_every_format_and_diff(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    change: Callable[[dict[str, Any]], object],
    said: str,
) -> None:
    """Once each format (and diff) read what it needed, a corrupt histogram exited 0 with
    text and csv but 2 with html, and a string count 2 (naming TypeError) but 0 with csv."""
    from sockbench.cli import main

    path = _damaged(tmp_path, change)
    monkeypatch.setattr("sys.argv", ["sockbench", *command, str(path)])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    assert exited.value.code == 2
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(f"sockbench: error: {path}: {said}"), line
    assert not EXCEPTION_NAME.search(line), line


@pytest.mark.parametrize(
    "failure",
    [KeyError("requests"), KeyError(), TypeError("unsupported operand"), ZeroDivisionError("x")],
    ids=["key", "bare-key", "type", "zero"],
)
def test_what_the_check_misses_is_still_one_line_without_an_exception_name(
    failure: BaseException,
) -> None:
    """The renderers' last net (``reading``): a damage the load check does not look for."""
    from sockbench.report.document import reading

    with pytest.raises(SockbenchError) as info, reading("r.json"):
        raise failure
    message = str(info.value)
    assert message.startswith("r.json: not a complete sockbench result (")
    assert not EXCEPTION_NAME.search(message), message
