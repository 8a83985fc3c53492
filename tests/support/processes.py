"""Finding the processes a test started, to prove none outlived what should have stopped it."""

from __future__ import annotations

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
