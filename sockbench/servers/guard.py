"""A server's guard: when the run that started it dies, however it dies, the server goes too.

A command server runs in its own session (a terminal's Ctrl-C must not kill it under a
run that is still measuring), so nothing of the run's reaches it when the run is
SIGKILLed. Two things tie its life to the run's, neither of which can be missed:

- the server itself gets ``PR_SET_PDEATHSIG`` (SIGKILL) before it executes
  (:func:`die_with_parent`), so the kernel kills it when the run dies;
- this guard, a small process in a session of its own (a kill of the run's process
  group does not reach it), holds the read end of a pipe whose write end only the
  run holds. The run writes the server's pid, then ``done`` once it has stopped the
  server itself. End of file without ``done`` means the run died: the guard then
  stops every process of the server's session (its forked workers, and children that
  left its process group), SIGTERM and, after a grace, SIGKILL.

A server that daemonizes (``setsid`` into a session of its own) escapes both; the run
says so in its result when it can see it (:mod:`.external`).

This file runs as a script with the standard library alone (``python -I -S guard.py``),
so the guard starts in milliseconds and imports nothing of sockbench.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO

GRACE_S = 2.0
DONE = b"done"
_PR_SET_PDEATHSIG = 1


class Guard:
    """The run's end of a guard process: :meth:`watch` a server, :meth:`release` it once
    stopped. Without a guard (it could not start) both do nothing."""

    def __init__(self) -> None:
        self._pipe: IO[bytes] | None = None
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a kill of the run's process group must miss it
            )
            self._pipe = self._proc.stdin
        except OSError:
            self._proc = None

    def watch(self, pid: int) -> None:
        """Stop ``pid``'s session if this process dies before :meth:`release`."""
        self._say(f"{pid}\n".encode())

    def release(self) -> None:
        """The server was stopped by the run: the guard leaves it alone and exits."""
        self._say(DONE + b"\n")
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._proc is not None:
            try:
                self._proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def _say(self, data: bytes) -> None:
        if self._pipe is None:
            return
        try:
            self._pipe.write(data)
            self._pipe.flush()
        except OSError:  # the guard is gone: the PDEATHSIG still holds
            self._pipe = None


def die_with_parent(then: Callable[[], object] | None = None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGKILL the child when this process dies
    (``PR_SET_PDEATHSIG``), then runs ``then``. Only from the main thread: the death
    signal follows the thread that forked, and another thread may end before the run."""
    steps: list[Callable[[], object]] = []
    if threading.current_thread() is threading.main_thread():
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            prctl = None
        if prctl is not None:
            parent = os.getpid()

            def pdeathsig() -> None:
                prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                if os.getppid() != parent:  # the run died before the death signal was set
                    os._exit(1)

            steps.append(pdeathsig)
    if then is not None:
        steps.append(then)
    if not steps:
        return None

    def preexec() -> None:
        for step in steps:
            step()

    return preexec


def session_members(sid: int) -> list[int]:
    """Pids of the live (not zombie) processes in session ``sid``, read from /proc."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        # state, ppid, pgrp, session
        if len(fields) > 3 and fields[0] != b"Z" and int(fields[3]) == sid:
            pids.append(int(name))
    return pids


def stop_session(sid: int, grace_s: float = GRACE_S) -> None:
    """SIGTERM every process of session ``sid``, SIGKILL those left after ``grace_s``."""
    deadline = time.monotonic() + grace_s
    sig = signal.SIGTERM
    while True:
        members = session_members(sid)
        if not members:
            return
        if time.monotonic() >= deadline:
            sig = signal.SIGKILL
        for pid in members:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        if sig == signal.SIGKILL and time.monotonic() >= deadline + grace_s:
            return
        time.sleep(0.02)


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    said = b""
    while True:
        chunk = os.read(0, 4096)
        if not chunk:
            break
        said += chunk
    words = said.split()
    if not words or words[-1] == DONE or not words[0].isdigit():
        return  # stopped by the run, or the run died before the server started
    stop_session(int(words[0]))


if __name__ == "__main__":
    main()
    sys.exit(0)
