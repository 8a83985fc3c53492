"""The ``sockbench`` command's entry point, kept light: Ctrl-C while the command line is
still loading (importing it takes about a quarter of a second) exits 130 with one line,
as it does once loaded (:func:`sockbench.cli.app.main`), never with a traceback.

The console script and ``python -m sockbench`` both call :func:`main`. Before its
``try`` there is only the interpreter's start and this module's two imports (the
``sockbench`` package and the exit codes: a few milliseconds, the standard library's).
"""

from __future__ import annotations

import sys

from sockbench.core.status import EXIT_INTERRUPTED


def main() -> None:
    """Load the command line and run it; a KeyboardInterrupt that reaches here (Ctrl-C
    while it loads) is one line on stderr and exit code 130."""
    try:
        from sockbench.cli import main as command

        command()
    except KeyboardInterrupt:
        print("sockbench: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
