"""A built-in server's settings as the argv of its own process, and back.

The launcher hands a :class:`~sockbench.core.spec.server.BuiltIn` to the child process
as argv (:func:`to_argv`) and the child rebuilds the same value (:func:`from_arguments`),
so the settings travel as one.
"""

from __future__ import annotations

import argparse

from sockbench.core.kinds import ServerBehaviour
from sockbench.core.spec.server import DEFAULT_THREADS, BuiltIn


def to_argv(spec: BuiltIn) -> list[str]:
    """The options :func:`add_arguments` parses back into ``spec``."""
    argv = ["--model", spec.model, "--behaviour", spec.behaviour.value]
    argv += ["--threads", str(spec.threads), "--processes", str(spec.processes)]
    if spec.cpus:
        argv += ["--cpus", ",".join(str(c) for c in spec.cpus)]
    if spec.tls:
        argv += ["--tls-cert", spec.tls_cert]
    return argv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True)
    parser.add_argument("--behaviour", default=ServerBehaviour.ECHO.value)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--processes", type=int, default=0)
    parser.add_argument(
        "--cpus", default="", help="pin the server (and all it starts) to these CPUs: 0,2,3"
    )
    parser.add_argument("--tls-cert", default="", help="serve TLS with this key and chain (PEM)")


def from_arguments(args: argparse.Namespace) -> BuiltIn:
    """The spec :func:`to_argv` wrote (the launcher's own argv: trusted)."""
    cpus = tuple(int(c) for c in args.cpus.split(",") if c)
    return BuiltIn(
        args.model, ServerBehaviour(args.behaviour), args.threads, args.processes, cpus,
        tls=bool(args.tls_cert), tls_cert=args.tls_cert,
    )  # fmt: skip
