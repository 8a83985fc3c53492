"""What server to run: one value from the command line to the model's own context.

``sockbench serve``, ``run`` and ``compare`` build a :class:`ServerSpec` from checked
options (:mod:`sockbench.config`); the launcher hands it to the child process as
argv and the child rebuilds the same value, so the five settings travel as one.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from sockbench.servers.behaviour import ServerBehaviour

DEFAULT_MODEL = "asyncio"
DEFAULT_THREADS = 64  # the threadpool model's pool


@dataclass(frozen=True)
class ServerSpec:
    """A server model and its settings. ``processes`` 0: the model picks (one per core);
    ``cpus`` empty: not pinned."""

    model: str = DEFAULT_MODEL
    behaviour: ServerBehaviour = ServerBehaviour.ECHO
    threads: int = DEFAULT_THREADS
    processes: int = 0
    cpus: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        # Checked with the user's flag names by sockbench.config; here only guarded.
        assert self.threads >= 1 and self.processes >= 0, self

    def to_argv(self) -> list[str]:
        """The options :func:`add_arguments` parses back into this spec."""
        argv = ["--model", self.model, "--behaviour", self.behaviour.value]
        argv += ["--threads", str(self.threads), "--processes", str(self.processes)]
        if self.cpus:
            argv += ["--cpus", ",".join(str(c) for c in self.cpus)]
        return argv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True)
    parser.add_argument("--behaviour", default=ServerBehaviour.ECHO.value)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--processes", type=int, default=0)
    parser.add_argument(
        "--cpus", default="", help="pin the server (and all it starts) to these CPUs: 0,2,3"
    )


def from_arguments(args: argparse.Namespace) -> ServerSpec:
    """The spec :meth:`ServerSpec.to_argv` wrote (the launcher's own argv: trusted)."""
    cpus = tuple(int(c) for c in args.cpus.split(",") if c)
    return ServerSpec(
        args.model, ServerBehaviour(args.behaviour), args.threads, args.processes, cpus
    )
