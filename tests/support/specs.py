"""Run specs for tests, from option values keyed by option name (pure: no file, no host)."""

from __future__ import annotations

from collections.abc import Mapping

from sockbench.core.machine import Machine
from sockbench.core.spec.run import RunSpec, parse_run, validate_run
from sockbench.machine import NAMES

MACHINE = Machine(usable_cpus=frozenset({0, 1, 2, 3}), cpu_count=4)


def spec_of(
    values: Mapping[str, object], machine: Machine = MACHINE, *, send_file: bytes | None = None
) -> RunSpec:
    """What ``sockbench run`` checks ``values`` into, on ``machine``."""
    return validate_run(parse_run(values, NAMES), machine, send_file=send_file)
