"""docs/*.schema.json, generated from the records (``sockbench schema NAME`` prints one).

pydantic writes the JSON Schema; this module only decides its frame (``$id``, title,
description) and its house style: no generated titles (a key's name says it), and
descriptions on one line however their docstrings wrap. Imported only by
``sockbench schema`` and the tests: it loads pydantic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from sockbench.core.records.compare import CompareDoc
from sockbench.core.records.intervals import IntervalsLine
from sockbench.core.records.result import ResultDoc
from sockbench.core.records.sweep import SweepDoc
from sockbench.core.schemas import COMPARE_SCHEMA, INTERVALS_SCHEMA, RESULT_SCHEMA, SWEEP_SCHEMA

DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class Document:
    """A document sockbench writes: its records' root, and its schema's frame."""

    root: Any  # a TypedDict, or a union of them
    schema_id: str
    title: str
    description: str


DOCUMENTS: dict[str, Document] = {
    "result": Document(
        ResultDoc,
        RESULT_SCHEMA,
        "sockbench run result",
        "One run of `sockbench run`. Keys are only ever added in later versions of schema 1, "
        "never changed or removed.",
    ),
    "compare": Document(
        CompareDoc,
        COMPARE_SCHEMA,
        "sockbench compare document",
        "results.json of a `sockbench compare` folder. Keys are only ever added in later "
        "versions of schema 1, never changed or removed. Each cell is a full "
        "sockbench.result/1 document (docs/result.schema.json) with a `cell` object added.",
    ),
    "sweep": Document(
        SweepDoc,
        SWEEP_SCHEMA,
        "sockbench sweep document",
        "sweep.json of a `sockbench sweep` or `sockbench search` folder, and of `compare "
        "--sweep` / `compare --capacity`: one curve per workload, each step a run at one "
        "open-loop rate whose full sockbench.result/1 document is in the folder named by "
        "`result`. Keys are only ever added in later versions of schema 1, never changed or "
        "removed.",
    ),
    "intervals": Document(
        IntervalsLine,
        INTERVALS_SCHEMA,
        "sockbench --format jsonl line",
        "One line of `sockbench run --format jsonl` on stdout: an `interval` object per "
        "measured --interval as the run goes, then one `result` object. Warm-up and ramp "
        "intervals are left out: they count nothing (warm-up is kept out of every measured "
        "number), so every interval line is one of the result's `intervals`. Keys are only "
        "ever added in later versions of schema 1, never changed or removed.",
    ),
}


class _HouseStyle(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of document ``name`` (a key of :data:`DOCUMENTS`)."""
    document = DOCUMENTS[name]
    generated = TypeAdapter(document.root).json_schema(schema_generator=_HouseStyle)
    generated.pop("title", None)
    generated.pop("description", None)
    frame = {
        "$schema": DIALECT,
        "$id": document.schema_id,
        "title": document.title,
        "description": document.description,
    }
    return {**frame, **_tidy(_inline_enums(generated))}


def _inline_enums(schema: dict[str, Any]) -> dict[str, Any]:
    """Write each enum where it is used: pydantic makes a definition of every enum the
    records take from the code (RunStatus, Proto, ...), named after its class; a reader of
    the schema wants the values at the key."""
    defs = schema.get("$defs", {})
    enums = {f"#/$defs/{name}": d for name, d in defs.items() if "enum" in d}

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        found = enums.get(node.get("$ref", ""))
        if found is not None:
            plain = {k: v for k, v in found.items() if k not in ("title", "description")}
            node = {**plain, **{k: v for k, v in node.items() if k != "$ref"}}
        return {key: inline(value) for key, value in node.items()}

    kept = {name: d for name, d in defs.items() if f"#/$defs/{name}" not in enums}
    inlined: dict[str, Any] = inline({k: v for k, v in schema.items() if k != "$defs"})
    return {"$defs": inline(kept), **inlined} if kept else inlined


def _tidy(node: Any) -> Any:
    """Drop each record's generated title; put each description on one line."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    tidy = {key: _tidy(value) for key, value in node.items() if key != "title"}
    if isinstance(tidy.get("description"), str):
        tidy["description"] = " ".join(tidy["description"].split())
    return tidy


@cache  # a second of pydantic's work for the four, asked for by many tests
def schema_text(name: str) -> str:
    """docs/NAME.schema.json's exact text."""
    return json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n"
