"""Every result a test produces is checked against docs/result.schema.json, every compare
document against docs/compare.schema.json (and each of its cells against the run schema),
every sweep document against docs/sweep.schema.json."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA_FILE = DOCS / "result.schema.json"
COMPARE_SCHEMA_FILE = DOCS / "compare.schema.json"
SWEEP_SCHEMA_FILE = DOCS / "sweep.schema.json"


@cache
def _validator(path: Path = SCHEMA_FILE) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)  # type: ignore[no-any-return]


def validate_result(doc: dict[str, Any]) -> dict[str, Any]:
    """Validate ``doc`` as it would be read back from its JSON file; returns it."""
    _validator().validate(json.loads(json.dumps(doc)))
    return doc


def validate_compare(doc: dict[str, Any], cells: bool = True) -> dict[str, Any]:
    """Validate a compare document and (unless ``cells`` is False: hand-made fixtures)
    each of its cells; returns it."""
    saved = json.loads(json.dumps(doc))
    _validator(COMPARE_SCHEMA_FILE).validate(saved)
    for cell in saved["cells"] if cells else ():
        _validator().validate(cell)
    return doc


def validate_sweep(doc: dict[str, Any]) -> dict[str, Any]:
    """Validate a sweep or search document (docs/sweep.schema.json); returns it."""
    _validator(SWEEP_SCHEMA_FILE).validate(json.loads(json.dumps(doc)))
    return doc
