"""GitHub-flavoured markdown: the same sections as the text report, as tables.

Pipes inside values are escaped so a command line or an error kind cannot break a
table; best values are bold, which survives every markdown viewer.
"""

from __future__ import annotations

from collections.abc import Sequence

from sockbench.report.content import Section, Table
from sockbench.report.document import Doc, is_compare
from sockbench.report.sections import sections


def render(doc: Doc) -> str:
    """The report of a run result or compare document as a markdown page."""
    title = "sockbench compare report" if is_compare(doc) else "sockbench run report"
    return page(title, sections(doc))


def page(title: str, parts: Sequence[Section]) -> str:
    """A titled page of sections (a report, or ``sockbench diff``)."""
    return "\n\n".join([f"# {title}", *(render_section(s) for s in parts)]) + "\n"


def render_section(section: Section) -> str:
    blocks = [f"## {section.title}"]
    if section.fields:
        blocks.append("\n".join(f"- **{_escape(k)}**: {_value(k, v)}" for k, v in section.fields))
    if section.table is not None:
        blocks.append(render_table(section.table))
        if section.table.best and section.note:
            blocks.append(f"_Bold: {section.note}._")
    blocks.extend(f"Note: {_escape(note)}." for note in section.notes)
    if section.items:
        blocks.append("\n".join(f"- {_escape(item)}" for item in section.items))
    return "\n\n".join(blocks)


def render_table(table: Table) -> str:
    def line(values: tuple[str, ...] | list[str]) -> str:
        return "| " + " | ".join(values) + " |"

    rule = ["---:" if a == "r" else ":---" for a in table.align]
    lines = [line([_escape(h) for h in table.headers]), line(rule)]
    for r, row in enumerate(table.rows):
        values = []
        for c, value in enumerate(row):
            text = _escape(value)
            values.append(f"**{text}**" if (r, c) in table.best else text)
        lines.append(line(values))
    return "\n".join(lines)


def _value(key: str, value: str) -> str:
    # A command is shown verbatim in a code span, where `*` and `_` need no escaping.
    if key == "command" and value and "`" not in value:
        return f"`{value}`"
    return _escape(value)


def _escape(text: str) -> str:
    for char in ("\\", "|", "*", "_", "`", "<"):
        text = text.replace(char, "\\" + char)
    return text
