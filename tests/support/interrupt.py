"""Stopping a sockbench process under test with a signal, never leaving it behind."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable


def interrupt_when(
    proc: subprocess.Popen[str],
    seen: Callable[[str], bool],
    sig: signal.Signals = signal.SIGINT,
    timeout: float = 20,
) -> tuple[str, str]:
    """Read ``proc``'s stdout until a line makes ``seen`` true, send ``sig``, and return the
    rest of its stdout and its stderr; killed if it has not exited by then."""
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if seen(line):
                break
        proc.send_signal(sig)
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
