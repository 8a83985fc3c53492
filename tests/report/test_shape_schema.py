"""report/shape.py reads what core/records describes: every key the loader checks is a key
of the generated JSON Schema (docs/*.schema.json), with a type the check accepts wherever
the schema allows it. The loader is lenient by design (earlier versions of schema 1 still
load), so it may check fewer keys; it must never refuse a document the schema allows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sockbench.report import shape
from tests.conftest import ROOT

#: The JSON types a value passing each plain check may have.
LEAVES: dict[object, set[str]] = {
    shape.integer: {"integer"},
    shape.signed_integer: {"integer"},
    shape.positive_integer: {"integer"},
    shape.number: {"integer", "number"},
    shape.signed_number: {"integer", "number"},
    shape.text: {"string"},
    shape.encoded_histogram: {"string"},
    shape.boolean: {"boolean"},
    shape.size: {"integer", "string"},
}
ANY_TYPE = {"integer", "number", "string", "boolean", "object", "array", "null"}


def _alternatives(node: dict[str, Any], defs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``node``'s alternatives, references followed (anyOf / oneOf flattened)."""
    if "$ref" in node:
        yield from _alternatives(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    elif "anyOf" in node or "oneOf" in node:
        for each in node.get("anyOf", node.get("oneOf")):
            yield from _alternatives(each, defs)
    else:
        yield node


def _types(node: dict[str, Any]) -> set[str]:
    if "const" in node or "enum" in node:
        values = [node["const"]] if "const" in node else node["enum"]
        return {{str: "string", bool: "boolean", int: "integer", float: "number"}.get(
            type(v), "null") for v in values}  # fmt: skip
    kind = node.get("type", ANY_TYPE)
    return {kind} if isinstance(kind, str) else set(kind)


def mismatches(
    check: object, node: dict[str, Any], defs: dict[str, Any], where: str
) -> Iterator[str]:
    """Where ``check`` would refuse a value ``node`` allows, or checks a key it lacks."""
    if check is shape.anything:
        return
    alternatives = list(_alternatives(node, defs))
    allowed = set().union(*(_types(a) for a in alternatives))
    if isinstance(check, shape.nullable):
        check = check.inner
        allowed.discard("null")
        alternatives = [a for a in alternatives if _types(a) != {"null"}]
    if check is shape.histogram:
        check = shape._SUMMARY
    if isinstance(check, shape.Record):
        if allowed - {"object"}:
            yield f"{where}: the schema allows {sorted(allowed)}"
        for alt in alternatives:
            properties = alt.get("properties", {})
            for key in check.required.keys() - set(alt.get("required", ())):
                yield f"{where}.{key}: required here, optional in the schema"
            for key, inner in {**check.required, **check.optional}.items():
                if key not in properties:
                    yield f"{where}.{key}: not in the schema"
                else:
                    yield from mismatches(inner, properties[key], defs, f"{where}.{key}")
        return
    if isinstance(check, shape.list_of | shape.map_of):
        wanted = "array" if isinstance(check, shape.list_of) else "object"
        if allowed - {wanted}:
            yield f"{where}: the schema allows {sorted(allowed)}"
        for alt in alternatives:
            inner = alt.get("items" if wanted == "array" else "additionalProperties", {})
            yield from mismatches(check.item, inner, defs, f"{where}[]")
        return
    leaf = {"string"} if isinstance(check, shape.one_of) else LEAVES.get(check)
    assert leaf is not None, f"{where}: a check the test does not know: {check!r}"
    if allowed - leaf:
        yield f"{where}: the schema allows {sorted(allowed - leaf)}, the check refuses it"


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "docs" / f"{name}.schema.json").read_text())
    return loaded


@pytest.mark.parametrize(
    ("name", "check", "path"),
    [
        ("result", shape.RESULT, ()),
        ("compare", shape.COMPARE, ()),
        ("compare", shape.CELL, ("cells", "items", "cell")),
        ("sweep", shape.SWEEP, ()),
    ],
)
def test_the_loader_checks_only_what_the_schema_has_as_the_schema_has_it(
    name: str, check: shape.Record, path: tuple[str, ...]
) -> None:
    schema = _schema(name)
    defs = schema.get("$defs", {})
    node: dict[str, Any] = schema
    for step in path:
        node = next(_alternatives(node, defs))
        node = node["properties"][step] if step != "items" else node["items"]
    found = list(mismatches(check, node, defs, name))
    if check is shape.RESULT:  # what a compare adds to a cell: checked as the compare's
        found.remove(f"{name}.cell: not in the schema")
    assert found == []


def test_a_mismatch_is_found() -> None:
    node = {"type": "object", "properties": {"n": {"type": "number"}}}
    assert list(
        mismatches(shape.Record(optional={"n": shape.integer, "m": shape.text}), node, {}, "x")
    ) == [
        "x.n: the schema allows ['number'], the check refuses it",
        "x.m: not in the schema",
    ]
    nullable = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert list(mismatches(shape.text, nullable, {}, "y")) == [
        "y: the schema allows ['null'], the check refuses it"
    ]
    assert list(mismatches(shape.nullable(shape.text), nullable, {}, "y")) == []
