"""The schema files are generated from the typed records (sockbench/core/records): each
committed docs/NAME.schema.json is exactly what the records generate, so neither can
change without the other. After changing a record: ``sockbench schema NAME >
docs/NAME.schema.json`` (docs/result.md, *The JSON Schema*)."""

from __future__ import annotations

import json

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
    schema = json.loads(schema_text("result"))
    compare = json.loads((ROOT / "results" / "compare-models" / "results.json").read_text())
    doc = compare["cells"][0]  # a committed run's result
    jsonschema.validate(doc, schema)
    *parents, key = where
    node = doc
    for parent in parents:
        node = node[parent]
    node[key] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
