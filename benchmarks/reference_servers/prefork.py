"""Reference ``prefork`` echo: N forked processes (argument 2, default 2) share one listener.

Each process runs the reference ``selectors`` loop on the inherited socket.
"""

import os
import runpy
import sys

import _listen

sock = _listen.listener()
_listen.listener = lambda: sock  # the workers serve the socket bound here
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 2):
    if os.fork() == 0:
        runpy.run_path(os.path.join(os.path.dirname(__file__), "selectors_echo.py"))
        os._exit(0)
os.wait()
