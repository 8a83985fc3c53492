"""The part of option checking that reads this machine and the files options name.

:mod:`sockbench.config` is pure: it checks values against a :class:`Machine` it is
given. This module reads those facts once (CPU affinity, core count) and the
content of ``--send-file``, and :func:`build_run_config` joins the two for callers
that start from option values: the CLI, compare and tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sockbench.config import Machine, RunConfig, validate_run
from sockbench.errors import ConfigError


def read_machine() -> Machine:
    return Machine(
        usable_cpus=frozenset(os.sched_getaffinity(0)),
        cpu_count=os.cpu_count() or 1,
    )


def read_files(values: Mapping[str, object]) -> dict[str, bytes]:
    """The content of every file an option names (today: ``--send-file``)."""
    path = values.get("send_file")
    if path is None:
        return {}
    try:
        with open(str(path), "rb") as f:
            return {str(path): f.read()}
    except OSError as exc:
        raise ConfigError(f"cannot read --send-file {path}: {exc.strerror}") from None


def build_run_config(**values: object) -> RunConfig:
    """A checked :class:`RunConfig` from option values keyed by option name.

    The run's protocol is built once here, so a plugin that is missing or fails says
    so in one line before any connection is made.
    """
    from sockbench.engine.workload import build_exchange

    config = validate_run(values, read_machine(), files=read_files(values))
    build_exchange(config)
    return config
