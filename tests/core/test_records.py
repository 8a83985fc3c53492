"""The schema files are generated from the typed records (sockbench/core/records): each
committed docs/NAME.schema.json is exactly what the records generate, so neither can
change without the other. After changing a record: ``sockbench schema NAME >
docs/NAME.schema.json`` (docs/result.md, *The JSON Schema*)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from sockbench.core.records.generate import DOCUMENTS, schema_text
from tests.conftest import ROOT


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_committed_schema_is_the_generated_one(name: str) -> None:
    committed = (ROOT / "docs" / f"{name}.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(name), (
        f"docs/{name}.schema.json is stale: run `sockbench schema {name} > "
        f"docs/{name}.schema.json` and commit it"
    )


@pytest.mark.parametrize("name", DOCUMENTS)
def test_each_generated_schema_is_a_valid_2020_12_schema(name: str) -> None:
    schema = json.loads(schema_text(name))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"sockbench.{name}/1"


def test_descriptions_are_one_line_however_their_docstrings_wrap() -> None:
    assert "\\n" not in schema_text("result")
    until = json.loads(schema_text("result"))["properties"]["until"]["description"]
    assert until.startswith("--until: the percentile and width asked, whether the run")


def test_each_documents_schema_tag_is_its_constant() -> None:
    """The records spell each ``schema`` value as a Literal; it is the one in core/schemas."""
    from typing import get_args, get_type_hints

    from sockbench.core.records.compare import CompareDoc
    from sockbench.core.records.result import ResultDoc
    from sockbench.core.records.sweep import SweepDoc
    from sockbench.core.records.validity import Validity
    from sockbench.core.schemas import COMPARE_SCHEMA, RESULT_SCHEMA, SWEEP_SCHEMA
    from sockbench.core.validity import VALIDITY_SCHEMA

    for record, constant in (
        (ResultDoc, RESULT_SCHEMA),
        (CompareDoc, COMPARE_SCHEMA),
        (SweepDoc, SWEEP_SCHEMA),
        (Validity, VALIDITY_SCHEMA),
    ):
        assert get_args(get_type_hints(record)["schema"]) == (constant,)


def _committed_result() -> dict[str, Any]:
    """A committed run's result (a compare cell), fresh for each test to change."""
    return copy.deepcopy(_COMMITTED)


_COMMITTED = json.loads((ROOT / "results" / "compare-tcp-vs-unix" / "results.json").read_text())[
    "cells"
][0]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("status",), "finished"),  # not a RunStatus
        (("config", "proto"), "sctp"),  # not a Proto
        (("totals", "requests"), -1),  # a count
        (("latency_us", "p99"), 1.5),  # microseconds are integers
    ],
)
def test_the_generated_result_schema_rejects_what_the_code_never_writes(
    where: tuple[str, ...], value: object
) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(schema_text("result")))
    doc = _committed_result()
    validator.validate(doc)
    *parents, key = where
    node = doc
    for parent in parents:
        node = node[parent]
    node[key] = value
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)


def test_a_result_reads_typed_through_its_record() -> None:
    """``Result(doc).record`` is the document itself, typed by ResultDoc (for mypy)."""
    from sockbench.core.document import Result

    cell = _committed_result()
    typed = Result(cell).record
    assert typed is cell
    assert typed["totals"]["requests"] == Result(cell).metric("requests")
    assert typed["latency_us"]["p99"] >= typed["latency_us"]["p50"]


def test_nothing_on_a_runs_path_loads_pydantic() -> None:
    """The records load pydantic: outside them, only ``sockbench schema`` imports them at
    runtime (inside its function); elsewhere they are types for mypy (``if
    TYPE_CHECKING:``), so ``--help`` and the workers start as fast as before."""
    import ast

    package = ROOT / "sockbench"
    at_runtime = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        if (package / "core" / "records") in path.parents or not (
            "pydantic" in text or "core.records" in text
        ):
            continue
        tree = ast.parse(text, str(path))
        typing_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
            for node in ast.walk(block)
        }
        function_of = {
            id(node): function.name
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef)
            for node in ast.walk(function)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            loads = any(n.startswith(("pydantic", "sockbench.core.records")) for n in names)
            if loads and id(node) not in typing_only:
                where = function_of.get(id(node), "<module>")
                at_runtime.append(f"{path.relative_to(ROOT)}: {where}")
    assert at_runtime == ["sockbench/cli/serve.py: schema"]
