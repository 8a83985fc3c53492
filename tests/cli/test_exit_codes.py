"""One table of exit codes (docs/reliability.md), held to the code's map; the others link it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sockbench.core import status

pytestmark = pytest.mark.unit  # reads files only

DOCS = Path(__file__).parents[2]


def _documented_codes() -> set[int]:
    text = (DOCS / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    codes: set[int] = set()
    for row in rows[1:]:  # the header row names the columns
        first = row.split("|")[1]
        codes.update(int(n) for n in re.findall(r"\d+", first))
    return codes


def test_the_table_in_reliability_md_has_every_exit_code_of_the_code_and_no_other() -> None:
    constants = {
        value
        for name, value in vars(status).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    assert set(status.EXIT_CODES.values()) <= constants
    assert _documented_codes() == constants


@pytest.mark.parametrize("doc", ["README.md", "docs/compare.md", "docs/design.md"])
def test_the_other_docs_link_the_table_instead_of_keeping_their_own(doc: str) -> None:
    text = (DOCS / doc).read_text(encoding="utf-8")
    assert "reliability.md#exit-codes" in text
    assert not re.search(r"^\| *(exit )?code *\|", text, re.M), f"{doc} keeps its own table"
