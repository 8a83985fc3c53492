"""Text and markdown output against stored golden files.

Regenerate after an intended change with ``SOCKBENCH_UPDATE_GOLDEN=1 pytest tests/report``
and review the diff.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from sockbench.report import render
from tests.report.conftest import GOLDEN

UPDATE = os.environ.get("SOCKBENCH_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize(("fmt", "ext"), [("text", "txt"), ("md", "md")])
def test_golden(any_doc: tuple[str, dict[str, Any]], fmt: str, ext: str) -> None:
    name, doc = any_doc
    path = GOLDEN / f"{name}.{ext}"
    output = render(doc, fmt)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(output, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with SOCKBENCH_UPDATE_GOLDEN=1"
    assert output == path.read_text(encoding="utf-8")
