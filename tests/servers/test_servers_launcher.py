"""The launcher and the child entry point: spawn, READY, errors, pinning, stop."""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from sockbench.core.spec.server import BuiltIn
from sockbench.endpoints import Endpoint, Proto
from sockbench.errors import ConfigError, SockbenchError
from sockbench.servers import launcher
from sockbench.servers.launcher import ServerProcess, open_server

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

TCP_ANY_PORT = Endpoint(Proto.TCP, "127.0.0.1", 0)


@pytest.fixture
def no_spawn(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing should have been spawned")

    monkeypatch.setattr(launcher.subprocess, "Popen", refuse)


@pytest.mark.usefixtures("no_spawn")
def test_an_unknown_model_fails_before_any_spawn() -> None:
    # Numbers and CPUs are checked by sockbench.config (tests/core/test_config.py).
    with (
        pytest.raises(ConfigError, match="unknown server model 'nope'; choose one of"),
        open_server(BuiltIn("nope"), TCP_ANY_PORT),
    ):
        pass


def test_server_reports_its_real_endpoint_and_stops_with_zero() -> None:
    with open_server(BuiltIn("selectors"), TCP_ANY_PORT) as server:
        assert server.model == "selectors"
        assert server.endpoint.proto is Proto.TCP
        assert server.endpoint.host == "127.0.0.1" and server.endpoint.port > 0
        assert server.returncode() is None
        assert server.stop() == 0
        assert server.stop() == 0  # idempotent
    assert not psutil.pid_exists(server.pid) or psutil.Process(server.pid).status() == "zombie"


def test_address_in_use_is_the_childs_one_line_error() -> None:
    with open_server(BuiltIn("threaded"), TCP_ANY_PORT) as first:
        port = first.endpoint.port
        second = open_server(BuiltIn("threaded"), TCP_ANY_PORT.with_port(port))
        with pytest.raises(SockbenchError) as err, second:
            pass
    assert str(err.value) == f"127.0.0.1:{port} is already in use; pick another port with --bind"


def test_stale_unix_socket_is_the_childs_one_line_error(sock_dir: Path) -> None:
    path = sock_dir / "stale.sock"
    socket.socket(socket.AF_UNIX).bind(str(path))
    stale = open_server(BuiltIn("trio"), Endpoint(Proto.UNIX, path=str(path)))
    with pytest.raises(SockbenchError, match="exists but no server answers"), stale:
        pass


def test_cpu_pinning_reaches_the_server_and_its_workers() -> None:
    cpu = min(os.sched_getaffinity(0))
    with open_server(BuiltIn("prefork", processes=2, cpus=(cpu,)), TCP_ANY_PORT) as server:
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 2
        for pid in [server.pid, *(w.pid for w in workers)]:
            assert os.sched_getaffinity(pid) == {cpu}


def test_ready_timeout_kills_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        spawned.append(proc)
        return proc  # type: ignore[no-any-return]

    monkeypatch.setattr(launcher.subprocess, "Popen", recording_popen)
    hurried = open_server(BuiltIn("threaded"), TCP_ANY_PORT, ready_timeout=0.001)
    with pytest.raises(SockbenchError, match=r"was not ready within 0\.001 s"), hurried:
        pass
    assert spawned and spawned[0].returncode is not None


def test_stop_escalates_to_sigkill() -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
         " print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    with tempfile.TemporaryFile() as stderr:
        server = ServerProcess(stubborn, stderr, "stubborn", TCP_ANY_PORT)
        started = time.monotonic()
        assert server.stop(timeout=0.3) == -signal.SIGKILL
        assert time.monotonic() - started < 3


def test_returncode_tells_a_dead_server() -> None:
    with open_server(BuiltIn("asyncio"), TCP_ANY_PORT) as server:
        os.kill(server.pid, signal.SIGKILL)
        deadline = time.monotonic() + 3
        while server.returncode() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.returncode() == -signal.SIGKILL


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sockbench.servers.child", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_child_prints_one_ready_line_then_exits_zero_on_sigterm() -> None:
    proc = child("--model", "threaded", "--proto", "udp", "--bind", "127.0.0.1:0")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"READY udp://127\.0\.0\.1:\d+\n", line), line
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert out == "" and err == ""


def test_child_error_is_one_line_and_exit_2() -> None:
    proc = child("--model", "nope", "--proto", "tcp", "--bind", "127.0.0.1:0")
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert out == ""
    assert err.startswith("sockbench: error: unknown server model 'nope'; choose one of ")
    assert err.count("\n") == 1


@pytest.mark.parametrize("model", ["selectors", "prefork"])
def test_server_stops_when_its_launcher_is_killed(model: str) -> None:
    script = (
        "import sys, time\n"
        "from sockbench.endpoints import Endpoint, Proto\n"
        "from sockbench.servers.launcher import open_server\n"
        "from sockbench.core.spec.server import BuiltIn\n"
        f"spec = BuiltIn({model!r}, processes=2)\n"
        "with open_server(spec, Endpoint(Proto.TCP, '127.0.0.1', 0)) as s:\n"
        "    print(s.pid, flush=True)\n"
        "    time.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        server = psutil.Process(int(parent.stdout.readline()))
        tree = [server, *server.children()]
    finally:
        parent.kill()  # no cleanup runs in the launcher
        parent.wait()
    _, alive = psutil.wait_procs(tree, timeout=5)
    assert alive == []


def test_launcher_works_in_a_process_with_many_fds() -> None:
    """A load generator holds thousands of sockets: no select() with its 1024-fd ceiling."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"needs more than 1200 fds, the limit is {soft}")
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with open_server(BuiltIn("selectors"), TCP_ANY_PORT) as server:
            assert server.endpoint.port > 0
    finally:
        for fd in filler:
            os.close(fd)
