"""``sockbench schema NAME`` prints each document's schema as shipped in the package: the
same bytes as docs/NAME.schema.json, so the wheel and the docs cannot differ."""

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


def test_every_schema_ships_in_the_package() -> None:
    """pyproject's package-data names each (a schema left out is missing from the wheel)."""
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = data["tool"]["setuptools"]["package-data"]["sockbench"]
    assert {f"{name}.schema.json" for name in SCHEMAS} <= set(shipped)
    assert {p.name for p in (ROOT / "docs").glob("*.schema.json")} == {
        f"{name}.schema.json" for name in SCHEMAS
    }
