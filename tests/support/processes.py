"""Finding the processes a test started, to prove none outlived what should have stopped it;
and signalling one when its output reaches a point (an observable event, not a sleep)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import psutil


def alive(p: psutil.Process) -> bool:
    """Running, and not a zombie (a zombie is already dead; its parent reaps it)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def command_line(p: psutil.Process) -> str:
    """``p``'s command line; empty for one that exited meanwhile (a zombie, or gone): a
    short-lived child must not fail a look for the others."""
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def mentioning(text: str) -> list[psutil.Process]:
    """Live processes with ``text`` in their command line (a test's own temp path)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if any(text in part for part in p.info["cmdline"] or ()) and alive(p):
            found.append(p)
    return found


def signal_at_line(
    proc: subprocess.Popen[str], marker: str, sig: int = signal.SIGINT, timeout: float = 60
) -> str:
    """Send ``sig`` to ``proc`` once a line of its stdout holds ``marker`` (or at its end),
    wait for it to exit, and return its stderr; it is killed if it outlives the test."""
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if marker in line:
                break
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return stderr


@contextmanager
def stopped(proc: subprocess.Popen[str]) -> Iterator[None]:
    """``proc`` stopped (SIGSTOP) for the block: its sockets fill as the kernel delivers
    to them, nothing reads. Continued (SIGCONT) after it, however the block ends."""
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)
