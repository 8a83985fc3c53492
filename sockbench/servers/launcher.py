"""Run a server model in a child process for the length of a benchmark.

A separate process keeps the server's CPU, GIL and fds out of the load
generator's measurements, and lets it be pinned to its own cores. The child
announces the address it really bound on stdout (``READY <url>``); its stderr
goes to an anonymous temp file, which can never fill up and block it, and whose
last lines explain a failure. Its stdin is a pipe we never write to: when this
process dies, however it dies, the pipe closes and the child stops itself.
"""

from __future__ import annotations

import logging
import os
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sockbench.core.spec.server import BuiltIn
from sockbench.endpoints import Endpoint, parse_bind
from sockbench.errors import SockbenchError
from sockbench.servers.external import Interrupted, StartInterrupted
from sockbench.servers.guard import die_with_parent
from sockbench.servers.host import check_options
from sockbench.servers.spec import to_argv

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 5.0
_POLL_S = 0.1  # how soon a signal stops the wait for READY
_ERROR_PREFIX = "sockbench: error: "
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class ServerProcess:
    """A running server child: where it listens, and how to stop it."""

    def __init__(
        self, proc: subprocess.Popen[bytes], stderr: IO[bytes], model: str, endpoint: Endpoint
    ) -> None:
        self._proc = proc
        self._stderr = stderr
        self.pid = proc.pid
        self.model = model
        self.endpoint = endpoint

    def returncode(self) -> int | None:
        """None while it runs; its exit code once it died (negative: killed by that signal)."""
        return self._proc.poll()

    def stderr_tail(self, limit: int = 4096) -> str:
        """The last ``limit`` bytes the server wrote to stderr."""
        try:
            size = self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, size - limit))
            return self._stderr.read().decode(errors="replace")
        except ValueError:  # already closed
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; always reap. Returns the exit code."""
        proc = self._proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        return proc.returncode


@contextmanager
def open_server(
    spec: BuiltIn,
    bind: Endpoint,
    *,
    ready_timeout: float = 10.0,
    interrupted: Interrupted | None = None,
) -> Iterator[ServerProcess]:
    """Start ``spec`` on ``bind`` in a child process, yield it once it serves, stop it at exit.

    Raises :class:`ConfigError` before spawning anything for a model that cannot serve
    here, and :class:`SockbenchError` with the child's own one-line error when it exits
    before being ready (address in use, stale socket, CPUs its cgroup forbids, ...).
    """
    check_options(spec, bind.proto)
    cmd = [
        sys.executable, "-m", "sockbench.servers.child", *to_argv(spec),
        "--proto", bind.proto.value, "--bind", bind.url(), "--exit-with-parent",
    ]  # fmt: skip
    env = dict(os.environ)
    # The child must import this very sockbench, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            # Our end of its stdin closes when we die, however we die: the child then stops.
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            # Ctrl-C reaches the terminal's whole process group; the server must not die
            # under a run that is still measuring: the launcher stops it when the run ends.
            start_new_session=True,
            preexec_fn=die_with_parent(),  # and the kernel kills it if we die before it reads
        )
        server = ServerProcess(proc, stderr, spec.model, bind)
        log.info("server %s starting (pid %d): %s", spec.model, proc.pid, shlex.join(cmd[1:]))
        try:
            server.endpoint = _await_ready(server, proc, ready_timeout, interrupted)
            log.info("server %s ready at %s", spec.model, server.endpoint)
            yield server
        finally:
            code = server.stop()
            log.info("server %s stopped (exit code %s)", spec.model, code)


def _await_ready(
    server: ServerProcess,
    proc: subprocess.Popen[bytes],
    timeout: float,
    interrupted: Interrupted | None = None,
) -> Endpoint:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    poller = select.poll()  # a load generator's fds may well be above select()'s 1023
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SockbenchError(
                f"server model {server.model!r} was not ready within {timeout:g} s"
                + _last_words(server)
            )
        signum = interrupted() if interrupted is not None else 0
        if signum:
            raise StartInterrupted(signum, f"server model {server.model!r}")
        if not poller.poll(int(min(remaining, _POLL_S) * 1000) + 1):
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise _died(server, proc)
        line += chunk
    text = line.decode(errors="replace").strip()
    if not text.startswith("READY "):
        raise SockbenchError(f"server model {server.model!r} said {text!r} instead of READY")
    return parse_bind(text[len("READY ") :], server.endpoint.proto)


def _died(server: ServerProcess, proc: subprocess.Popen[bytes]) -> SockbenchError:
    try:
        code = proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        code = None
    lines = [ln for ln in server.stderr_tail().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(_ERROR_PREFIX)]
    if errors:
        return SockbenchError(errors[-1][len(_ERROR_PREFIX) :])
    return SockbenchError(
        f"server model {server.model!r} exited (code {code}) before it was ready"
        + _last_words(server)
    )


def _last_words(server: ServerProcess) -> str:
    lines = [ln for ln in server.stderr_tail().splitlines() if ln.strip()]
    return f": {lines[-1].strip()}" if lines else ""
