"""Entry point of a server process started by :mod:`.launcher` (or by hand).

``python -m sockbench.servers.child --model M --proto P --bind ADDR`` serves until
SIGTERM/SIGINT and exits 0. Its stdout carries exactly one line, ``READY <url>``
with the address actually bound, so the parent knows when and where to connect;
errors go to stderr as ``sockbench: error: <message>`` with exit code 2.

With ``--exit-with-parent`` it also stops when its stdin reaches end of file:
the launcher holds the other end of that pipe, so a load generator killed
without cleanup (SIGKILL, OOM) does not leave a server running. A pipe is used
rather than PR_SET_PDEATHSIG, which fires when the *thread* that spawned us
exits, and launchers may run in short-lived worker threads.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

from sockbench.endpoints import Endpoint, parse_bind, parse_proto
from sockbench.errors import ConfigError, SockbenchError
from sockbench.servers.context import StopSignal
from sockbench.servers.host import serve_forever
from sockbench.servers.spec import add_arguments, from_arguments


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sockbench.servers.child")
    add_arguments(parser)
    parser.add_argument("--proto", required=True)
    parser.add_argument("--bind", required=True)
    parser.add_argument(
        "--exit-with-parent", action="store_true", help="stop when stdin reaches end of file"
    )
    return parser


def _announce(endpoint: Endpoint) -> None:
    sys.stdout.write(f"READY {endpoint.url()}\n")
    sys.stdout.flush()


def _stop_at_stdin_eof(stop: StopSignal) -> None:
    def watch() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop.set()

    threading.Thread(target=watch, name="sockbench-parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    spec = from_arguments(args)
    try:
        if spec.cpus:
            # Pinned before anything starts, so every thread and worker inherits it.
            try:
                os.sched_setaffinity(0, spec.cpus)
            except OSError as exc:
                raise ConfigError(
                    f"cannot pin the server to CPUs {args.cpus}: {exc.strerror}"
                ) from None
        proto = parse_proto(args.proto)
        stop = StopSignal()
        if args.exit_with_parent:
            _stop_at_stdin_eof(stop)
        serve_forever(spec, parse_bind(args.bind, proto), on_ready=_announce, stop=stop)
    except SockbenchError as exc:
        print(f"sockbench: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:  # a second SIGINT/SIGTERM while stopping
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
