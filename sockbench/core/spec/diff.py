"""``sockbench diff``: the two sides, B against A, and how to write the diff (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sockbench.core.spec.formats import DiffFormat
from sockbench.core.spec.option import (
    DIFF,
    check_names,
    field_of,
    member,
    option,
    parse_record,
    switch,
    texts,
)
from sockbench.core.spec.output import WRITE_TO
from sockbench.errors import ConfigError

#: What separates the sides when a side has repeats: ``A1 A2 A3 --vs B1 B2 B3``.
VS = "--vs"


@dataclass(frozen=True)
class DiffOptions:
    paths: tuple[str, ...] = option(
        (), "PATH",
        help="A, then B: result.json files, run folders or compare folders; repeats of "
        f"a side go after it, separated by {VS} (A1 A2 A3 {VS} B1 B2 B3)",
        parse=texts, positional=True, repeatable=True, commands=DIFF,
    )  # fmt: skip
    fmt: DiffFormat = member(DiffFormat.TEXT, "--format", "-f", help="diff format", commands=DIFF)
    output: str | None = field_of(WRITE_TO)
    force: bool = option(
        False, "--force", help="compare across hosts, CPU counts or sockbench major versions",
        parse=switch, commands=DIFF,
    )  # fmt: skip


#: The records ``diff`` takes its options from, in the order ``diff --help`` lists them.
DIFF_RECORDS = (DiffOptions,)


@dataclass(frozen=True)
class DiffSpec:
    """What ``sockbench diff`` compares (B against A) and how it writes the diff."""

    a: tuple[str, ...]
    b: tuple[str, ...]
    options: DiffOptions


def parse_diff(values: Mapping[str, object]) -> DiffSpec:
    """``sockbench diff``'s options, checked: one-line ConfigError for a bad one."""
    check_names(values, DIFF_RECORDS, "diff")
    options = parse_record(DiffOptions, values, "diff", {})
    a, b = split_sides(options.paths)
    return DiffSpec(a, b, options)


def split_sides(paths: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``A B`` or ``A1 A2 ... --vs B1 B2 ...``."""
    if VS in paths:
        at = list(paths).index(VS)
        side_a, side_b = tuple(paths[:at]), tuple(paths[at + 1 :])
        if not side_a or not side_b or VS in side_b:
            raise ConfigError(f"diff: give at least one path on each side of {VS}")
        return side_a, side_b
    if len(paths) != 2:
        raise ConfigError(
            f"diff takes two paths, A and B (got {len(paths)}); for repeats separate the "
            f"sides with {VS}: A1 A2 A3 {VS} B1 B2 B3"
        )
    return tuple(paths[:1]), tuple(paths[1:])
