"""``sockbench schema NAME`` prints each document's schema, generated from its typed records
(sockbench/core/records): the same bytes as docs/NAME.schema.json (tests/core/test_records.py
holds the files to the records)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sockbench.cli import app
from sockbench.cli.serve import SCHEMAS
from tests.conftest import ROOT

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", SCHEMAS)
def test_each_schema_is_the_docs_file(name: str) -> None:
    done = CliRunner().invoke(app, ["schema", name])
    assert done.exit_code == 0, done.output
    assert done.output == (ROOT / "docs" / f"{name}.schema.json").read_text(encoding="utf-8")
    assert json.loads(done.output)["$id"] == f"sockbench.{name}/1"


def test_the_result_is_the_default() -> None:
    assert (
        CliRunner().invoke(app, ["schema"]).output
        == CliRunner().invoke(app, ["schema", "result"]).output
    )


def test_every_document_has_its_records_and_its_docs_file() -> None:
    """SCHEMAS (the CLI's list, kept free of pydantic) names exactly the generated ones."""
    from sockbench.core.records.generate import DOCUMENTS

    assert set(SCHEMAS) == set(DOCUMENTS)
    assert {p.name for p in (ROOT / "docs").glob("*.schema.json")} == {
        f"{name}.schema.json" for name in SCHEMAS
    }
