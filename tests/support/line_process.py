"""A test's helper process that says what happens on its stdout, one line per event."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable

from tests.conftest import ROOT

WAIT_S = 60.0  # a loaded 2-core machine: generous, and only the failure case waits it out


class LineProcess:
    """``python -m MODULE ARGS`` in its own session; its lines, as they come, kept."""

    def __init__(self, module: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = int(self.wait_for(lambda line: line.startswith("READY ")).split()[1])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._seen:
                self.lines.append(line.strip())
                self._seen.notify_all()

    def wait_for(self, match: Callable[[str], bool] | str, timeout: float = WAIT_S) -> str:
        """The first line (ever) that ``match``es; a string matches itself."""
        test = (lambda line: line == match) if isinstance(match, str) else match
        with self._seen:
            for _ in range(2):
                found = next((ln for ln in self.lines if test(ln)), None)
                if found is not None:
                    return found
                if not self._seen.wait_for(lambda: any(test(ln) for ln in self.lines), timeout):
                    break
        raise AssertionError(f"the process never said {match!r}; it said {self.lines[-5:]}")
