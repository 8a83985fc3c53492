"""Any command as a server model: started fresh per run, awaited, stopped, its tree measured.

``--server-cmd 'socat TCP-LISTEN:{port},fork,reuseaddr PIPE'`` (run) or
``--server-cmd socat='...'`` (compare) names a command template
(:class:`~sockbench.core.spec.server.Command`); each run fills in
``{port}`` (a port free on 127.0.0.1 a moment before), ``{host}`` (127.0.0.1)
and ``{path}`` (a Unix socket path in the run's private directory), starts it
and waits until it serves. The load still goes only to loopback or that path.

Trade-offs:

- **No shell unless needed.** A command without shell syntax is split with
  :func:`shlex.split` and executed directly, so the sampled tree and the exit
  code are the server's own; one with pipes, ``$VARS``, ``&&`` or globs runs
  under ``/bin/sh -c``, which costs one small extra process in the numbers.
- **Its own session.** A terminal's Ctrl-C must not kill the server under a run
  that is still measuring; the run stops it. Stopping signals the whole process
  group and every descendant found (SIGTERM, then SIGKILL after a grace), so
  forked workers go too. Its life is tied to the run's (:mod:`.guard`): a run
  killed outright (SIGKILL) still takes it and its session along. A server that
  daemonizes into another session escapes the sampling, the stop and the guard:
  the run says so when its endpoint is still served after the stop (the result's
  ``server.escaped`` and a ``server_escaped`` warning, with the pid) or when its
  command exited before it was ready; run it in the foreground.
- **Readiness by observation.** TCP and Unix streams: a connection is accepted
  (the probe connection is closed at once). UDP: a socket of the process tree is
  bound to the port (read from /proc, the server sees nothing). Unix datagrams:
  the socket file exists. ``--ready-line TEXT`` also waits for TEXT on its stdout,
  which must then be flushed (``setvbuf``/``fflush``, ``python -u``). The probe
  polls with a backoff from 5 to 100 ms, bounded by ``--ready-timeout``; SIGINT or
  SIGTERM stops the wait, and the server (:class:`StartInterrupted`, exit 130/143).
- **Logs straight to files**, never a pipe: a chatty server can neither block on
  a full pipe nor cost the generator CPU copying its output.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from sockbench.core.spec.server import Command
from sockbench.endpoints import Endpoint, Proto
from sockbench.errors import SockbenchError
from sockbench.servers.guard import Guard, die_with_parent
from sockbench.servers.listeners import holders

LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 5.0
INTERRUPTED_GRACE_S = 1.0  # a server stopped by the user's signal while it starts
STDOUT_NAME = "server-stdout.log"
STDERR_NAME = "server-stderr.log"
TAIL_LINES = 5
_SHELL_SYNTAX = re.compile(r"[|&;<>()$`*?\[\]#~\n]|^\w+=")
_POLL_FIRST_S, _POLL_MAX_S = 0.005, 0.1


#: What stops a server's start: the first signal's number once one came, else 0.
Interrupted = Callable[[], int]


class StartInterrupted(SockbenchError):
    """SIGINT/SIGTERM while the server was starting: it was stopped, nothing ran.
    Exits 128 + the signal (130, 143), as a shell reports it."""

    def __init__(self, signum: int, what: str) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted ({name}) while waiting for {what} to serve; it was stopped")
        self.exit_code = 128 + signum


def argv_for(command: str) -> list[str]:
    """Run directly when it is plain words; through ``/bin/sh -c`` when it uses shell syntax."""
    if _SHELL_SYNTAX.search(command):
        return ["/bin/sh", "-c", command]
    return shlex.split(command)


def free_port(proto: Proto) -> int:
    """A port nobody holds on 127.0.0.1 now (the server binds it a moment later)."""
    kind = socket.SOCK_STREAM if proto.is_stream else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class ServerLogs:
    """Where a server's stdout and stderr go: ``prefix`` + file name, or a temporary
    folder until :meth:`keep` moves them into a run folder."""

    def __init__(self, prefix: str | None) -> None:
        self._tmp = (
            tempfile.TemporaryDirectory(prefix="sockbench-logs-") if prefix is None else None
        )
        self.prefix = f"{self._tmp.name}/" if self._tmp else prefix or ""
        self.stdout = Path(self.prefix + STDOUT_NAME)
        self.stderr = Path(self.prefix + STDERR_NAME)

    def open(self, path: Path) -> int:
        # O_EXCL|O_NOFOLLOW: never write through a symlink or over someone's file.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            return os.open(path, flags, 0o644)
        except OSError as exc:
            raise SockbenchError(f"cannot create {path}: {exc.strerror}") from None

    def keep(self, folder: Path | None) -> None:
        """Move temporary logs into ``folder`` (dropped when there is none)."""
        if self._tmp is None:
            return
        if folder is not None:
            for path in (self.stdout, self.stderr):
                if path.exists():
                    shutil.move(path, folder / path.name)
        self._tmp.cleanup()


class ExternalServer:
    """A running external command: where it serves, its tree, how it ended."""

    def __init__(
        self, proc: subprocess.Popen[bytes], spec: Command, endpoint: Endpoint, **run: Any
    ) -> None:
        self._proc = proc
        self.pid = proc.pid
        self.spec = spec
        self.model = spec.name
        self.endpoint = endpoint
        self.command: str = run["command"]
        self.argv: list[str] = run["argv"]
        self.logs: ServerLogs = run["logs"]
        self.died_by_itself = False
        self.stopped_with: str | None = None
        self.escaped: str | None = None  # what still serves its endpoint after the stop
        self._said_offset = 0
        self._said_tail = b""

    def returncode(self) -> int | None:
        """None while it runs; its exit code once it ended (negative: killed by that signal)."""
        return self._proc.poll()

    def stderr_tail(self, lines: int = TAIL_LINES) -> list[str]:
        """Its last non-empty stderr lines."""
        try:
            with open(self.logs.stderr, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
                text = f.read().decode(errors="replace")
        except OSError:
            return []
        return [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]

    def last_words(self) -> str:
        tail = self.stderr_tail()
        return f"; last stderr: {' | '.join(tail)}" if tail else "; its stderr is empty"

    def said(self, text: str) -> bool:
        """Whether ``text`` has appeared on its stdout (read incrementally from the log)."""
        try:
            with open(self.logs.stdout, "rb") as f:
                f.seek(self._said_offset)
                chunk = f.read(1 << 20)
        except OSError:
            return False
        self._said_offset += len(chunk)
        needle = text.encode()
        window = self._said_tail + chunk
        self._said_tail = window[-len(needle) :]
        return needle in window

    def tree(self) -> list[psutil.Process]:
        """The process and its descendants, as far as they can be seen now."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def stop(self, grace: float = STOP_GRACE_S) -> int:
        """SIGTERM the group and the tree, SIGKILL what is left after ``grace`` s; reap."""
        proc = self._proc
        if self.stopped_with is not None:
            return proc.wait()
        self.died_by_itself = proc.poll() is not None
        tree = self.tree()[1:]
        self.stopped_with = "itself" if self.died_by_itself else "SIGTERM"
        _signal_all(self.pid, tree, signal.SIGTERM)
        deadline = time.monotonic() + grace
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        if not _wait_gone(tree, deadline) or proc.poll() is None:
            if not self.died_by_itself:
                self.stopped_with = f"SIGKILL after {grace:g} s"
            _signal_all(self.pid, tree, signal.SIGKILL)
            _wait_gone(tree, time.monotonic() + 2.0)
        code = proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
        self.escaped = escaped(self)
        return code

    def death_note(self) -> str:
        return (
            f"server command {self.model!r} exited with code {self.returncode()} "
            f"during the run{self.last_words()}"
        )

    def to_json(self) -> dict[str, Any]:
        """What the result's ``server`` object records about the command."""
        doc: dict[str, Any] = {
            "command": self.command,
            "argv": self.argv,
            "template": self.spec.template,
            "exit_code": self.returncode(),
            "stopped": self.stopped_with,
            "stdout": self.logs.stdout.name,
            "stderr": self.logs.stderr.name,
        }
        if self.died_by_itself:
            doc["error"] = self.death_note()
        if self.escaped:
            doc["escaped"] = self.escaped
        return doc


def _signal_all(pgid: int, tree: list[psutil.Process], sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for proc in tree:  # descendants that left the group
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass


def _wait_gone(procs: list[psutil.Process], deadline: float) -> bool:
    """Wait until none of ``procs`` runs (zombies count as gone: their parent reaps them)."""
    delay = _POLL_FIRST_S
    while True:
        alive = []
        for p in procs:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.Error:
                pass
        procs = alive
        if not procs:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, _POLL_MAX_S)


@contextmanager
def open_external(
    spec: Command,
    bind: Endpoint,
    *,
    logs: ServerLogs,
    cpus: tuple[int, ...] = (),
    interrupted: Interrupted | None = None,
) -> Iterator[ExternalServer]:
    """Start ``spec`` serving ``bind`` (port 0: a free one), yield it once ready, stop it at exit.

    Raises :class:`SockbenchError` with its exit code and last stderr lines when it
    cannot be started, exits before it is ready, or is not ready in time, and
    :class:`StartInterrupted` when ``interrupted()`` names a signal during the wait.
    The server's life is tied to this process's (:mod:`.guard`): killed outright, this
    process still takes it along.
    """
    spec.check(bind.proto)
    if not bind.proto.is_unix and not bind.port:
        bind = bind.with_port(free_port(bind.proto))
    command = spec.fill(bind)
    argv = argv_for(command)
    out_fd, err_fd = logs.open(logs.stdout), logs.open(logs.stderr)
    guard = Guard()  # before the server: no moment where our death would leave it behind
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,  # never written: a server that reads stdin just waits
            stdout=out_fd,
            stderr=err_fd,
            start_new_session=True,
            preexec_fn=die_with_parent(_pinned(cpus)),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        guard.release()
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SockbenchError(
            f"cannot start server command {spec.name!r} ({argv[0]}): {detail}"
        ) from None
    finally:
        os.close(out_fd)
        os.close(err_fd)
    guard.watch(proc.pid)
    server = ExternalServer(proc, spec, bind, command=command, argv=argv, logs=logs)
    grace = STOP_GRACE_S
    try:
        try:
            _await_ready(server, interrupted)
        except StartInterrupted:
            grace = INTERRUPTED_GRACE_S
            raise
        yield server
    finally:
        server.stop(grace)
        guard.release()


def _pinned(cpus: tuple[int, ...]) -> Any:
    if not cpus:
        return None
    # Before exec, so every thread and process the server starts inherits it. The set was
    # checked against this process's CPUs (sockbench.core.spec.sizing); a cgroup that forbids some
    # makes the start fail with the reason.
    return lambda: os.sched_setaffinity(0, cpus)


def _await_ready(server: ExternalServer, interrupted: Interrupted | None = None) -> None:
    spec = server.spec
    deadline = time.monotonic() + spec.ready_timeout_s
    said = spec.ready_line is None
    delay = _POLL_FIRST_S
    while True:
        code = server.returncode()
        if code is not None:
            gone = escaped(server)
            raise SockbenchError(
                f"server command {spec.name!r} exited with code {code} before it was ready"
                + (f"; {gone}" if gone else server.last_words())
            )
        said = said or server.said(spec.ready_line or "")
        if said and _serves(server):
            return
        signum = interrupted() if interrupted is not None else 0
        if signum:
            raise StartInterrupted(signum, f"server command {spec.name!r}")
        if time.monotonic() >= deadline:
            waited = (
                f"no line with {spec.ready_line!r} on its stdout"
                if not said
                else f"{_describe(server.endpoint)} was not served"
            )
            raise SockbenchError(
                f"server command {spec.name!r} was not ready within "
                f"{spec.ready_timeout_s:g} s ({waited}){server.last_words()}"
            )
        time.sleep(delay)
        delay = min(delay * 2, _POLL_MAX_S)


def escaped(server: ExternalServer) -> str | None:
    """Once its tree is gone: what still serves its endpoint (it daemonized into a session
    of its own, out of reach of the stop and the guard), said with advice; None if nothing."""
    endpoint = server.endpoint
    if endpoint.proto is Proto.UDP:
        pids = holders("udp", endpoint.port)
        if not pids:
            return None
    else:
        if not _serves(server):
            return None
        pids = holders("tcp", endpoint.port) if not endpoint.proto.is_unix else []
    who = f" (pid {', '.join(map(str, pids))})" if pids else ""
    return (
        f"{_describe(endpoint)} is still served after the server command ended{who}: it "
        "daemonized, out of reach of the run's stop; stop it yourself, and run the server "
        "in the foreground"
    )


def _describe(endpoint: Endpoint) -> str:
    return endpoint.path if endpoint.proto.is_unix else f"{endpoint.host}:{endpoint.port}"


def _serves(server: ExternalServer) -> bool:
    endpoint = server.endpoint
    if endpoint.proto is Proto.UDP:
        return _tree_binds_udp(server, endpoint.port)
    if endpoint.proto.is_unix:
        try:
            if not stat.S_ISSOCK(os.stat(endpoint.path).st_mode):
                return False
        except OSError:
            return False
        if not endpoint.proto.is_stream:
            return True
    with socket.socket(endpoint.family, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(endpoint.sockaddr)
        except OSError:
            return False
    return True


def _tree_binds_udp(server: ExternalServer, port: int) -> bool:
    for proc in server.tree():
        try:
            if any(c.laddr and c.laddr.port == port for c in proc.net_connections("udp")):
                return True
        except psutil.Error:
            continue
    return False
