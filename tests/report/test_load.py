"""load(): accepted paths and one-line errors for everything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sockbench.errors import SockbenchError
from sockbench.report import COMPARE_SCHEMA, RESULT_SCHEMA, load
from tests.report.conftest import COMPARE, RESULT_TCP


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
