"""How a run ended, and the one map from that to the process's exit code (pure).

``run`` and ``compare`` both exit through :func:`exit_code`, so a status means the
same to a shell script whichever command produced it. Adding a status is one member
here plus its line in :data:`EXIT_CODES`. Every ``EXIT_*`` code is in the one table of
docs/reliability.md (*Exit codes*), and a test holds that table to these constants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1  # the run could not measure all it was asked to
EXIT_USAGE = 2  # bad input or an unusable environment, before any load
EXIT_CHECK_FAILED = 3  # the run completed and a --check did not hold
EXIT_NO_CAPACITY = 4  # a search: even its lowest rate failed an SLO
EXIT_WRITE_FAILED = 74  # EX_IOERR: measured, but the result file failed (saved elsewhere)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM: an interrupted run stopped by SIGTERM instead
# 128 + SIGPIPE: stdout's reader left (`| head`), as a shell reports for `yes | head`. The
# run itself still wrote its result folder; a run that failed keeps its own code instead.
EXIT_BROKEN_PIPE = 141


class RunStatus(StrEnum):
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    SERVER_DIED = "server_died"
    WORKER_FAILED = "worker_failed"
    DEGRADED = "degraded"  # ran to its end, but the target answered nothing or stopped


EXIT_CODES: dict[RunStatus, int] = {
    RunStatus.COMPLETED: EXIT_OK,
    RunStatus.INTERRUPTED: EXIT_INTERRUPTED,
    RunStatus.SERVER_DIED: EXIT_FAILED,
    RunStatus.WORKER_FAILED: EXIT_FAILED,
    RunStatus.DEGRADED: EXIT_FAILED,
}


def exit_code(status: str) -> int:
    """The exit code of a run that ended with ``status``."""
    return EXIT_CODES[RunStatus(status)]


def result_exit_code(result: Mapping[str, Any]) -> int:
    r"""A result's exit code: its status's, or :data:`EXIT_CHECK_FAILED` when it completed
    and one of its ``--check``\ s did not hold (an interrupted run's checks do not count)."""
    code = exit_code(result["status"])
    if code == EXIT_OK and not all(c["passed"] for c in result.get("checks") or ()):
        return EXIT_CHECK_FAILED
    return code


def closed_output_code(code: int) -> int:
    """The exit code when stdout's reader left after a run that would exit ``code``: its
    own failure (a check, an interruption) wins, a success becomes :data:`EXIT_BROKEN_PIPE`."""
    return EXIT_BROKEN_PIPE if code == EXIT_OK else code


def combined_exit_code(codes: Iterable[int]) -> int:
    """One exit code for several runs (a compare's cells): an interruption wins, then
    the highest code, so one failed cell is never hidden by the others' success."""
    distinct = set(codes)
    if EXIT_INTERRUPTED in distinct:
        return EXIT_INTERRUPTED
    return max(distinct, default=EXIT_OK)
