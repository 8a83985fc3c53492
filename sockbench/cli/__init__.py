"""The command line: parse options, call the library, print. Nothing else lives here.

One module per command; importing this package registers them all on :data:`app`.
"""

import sockbench.cli.compare  # noqa: F401  (registers `sockbench compare`)
from sockbench.cli import diff, report, run, search, serve, sweep
from sockbench.cli.app import app, main

__all__ = ["app", "diff", "main", "report", "run", "search", "serve", "sweep"]
