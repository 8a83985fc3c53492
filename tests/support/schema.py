"""Every result a test produces is checked against docs/result.schema.json."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "result.schema.json"


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)  # type: ignore[no-any-return]


def validate_result(doc: dict[str, Any]) -> dict[str, Any]:
    """Validate ``doc`` as it would be read back from its JSON file; returns it."""
    _validator().validate(json.loads(json.dumps(doc)))
    return doc
