"""A user's command as a server: templates, readiness, stopping the whole tree, failures."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import psutil
import pytest

from sockbench.core.spec.server import Command, named_commands, server_command
from sockbench.endpoints import Endpoint, Proto
from sockbench.errors import ConfigError, SockbenchError
from sockbench.servers.external import ServerLogs, argv_for, open_external
from tests.support import processes

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it

SUPPORT = Path(__file__).resolve().parents[1] / "support"
PY = sys.executable
needs_socat = pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")
SOCAT_TCP = "socat TCP-LISTEN:{port},fork,reuseaddr PIPE"


def _echo_once(endpoint: Endpoint, data: bytes = b"ping") -> bytes:
    with socket.socket(endpoint.family, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(endpoint.sockaddr)
        sock.sendall(data)
        return sock.recv(len(data))


def _gone(procs: list[psutil.Process]) -> bool:
    return not any(processes.alive(p) for p in procs)


def _tcp() -> Endpoint:
    return Endpoint(Proto.TCP, "127.0.0.1", 0)


def _start(spec: Command) -> None:
    with open_external(spec, _tcp(), logs=ServerLogs(None)):
        pass


def test_template_fills_only_its_three_names() -> None:
    spec = server_command(None, "sh -c 'awk {print} {port} {host}' # {path} {other}")
    filled = spec.fill(Endpoint(Proto.TCP, "127.0.0.1", 4000))
    assert filled == "sh -c 'awk {print} 4000 127.0.0.1' #  {other}"
    assert spec.name == "sh"
    unix = server_command("u", "socat UNIX-LISTEN:{path} PIPE")
    assert (
        unix.fill(Endpoint(Proto.UNIX, path="/tmp/x.sock")) == "socat UNIX-LISTEN:/tmp/x.sock PIPE"
    )


def test_template_must_say_where_to_serve() -> None:
    with pytest.raises(ConfigError, match=r"has no \{port\}, which tcp needs"):
        server_command("a", "socat TCP-LISTEN:9000 PIPE").check(Proto.TCP)
    with pytest.raises(ConfigError, match=r"has no \{path\}, which unix needs"):
        server_command("a", SOCAT_TCP).check(Proto.UNIX)


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("./echo 4000", ["./echo", "4000"]),
        ("socat 'TCP-LISTEN:1,fork' PIPE", ["socat", "TCP-LISTEN:1,fork", "PIPE"]),
        ("cd /srv && ./echo 1", ["/bin/sh", "-c", "cd /srv && ./echo 1"]),
        ("PORT=1 ./server", ["/bin/sh", "-c", "PORT=1 ./server"]),
        ("./server $HOME", ["/bin/sh", "-c", "./server $HOME"]),
    ],
)
def test_shell_only_for_shell_syntax(command: str, argv: list[str]) -> None:
    assert argv_for(command) == argv


@pytest.mark.parametrize(
    ("models", "lines", "message"),
    [
        (["socat"], [], "NAME=COMMAND"),
        (["=x {port}"], [], "NAME=COMMAND"),
        (["a b=x {port}"], [], "letters, digits"),
        (["a=  "], [], "empty"),
        (["a=x '{port}"], [], "cannot parse"),
        ([], ["ready"], "applies to --server-cmd"),
        (["a=x {port}", "b=y {port}"], ["one", "two"], "name the model"),
    ],
)
def test_bad_model_options(models: list[str], lines: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        named_commands(models, lines)


def test_ready_line_for_every_model_or_one() -> None:
    a, b = named_commands(["a=x {port}", "b=y=1 {port}"], ["up", "b=b is up"])
    assert (a.template, a.ready_line) == ("x {port}", "up")
    assert (b.template, b.ready_line) == ("y=1 {port}", "b is up")


@needs_socat
def test_serves_then_stops_its_whole_tree(tmp_path: Path) -> None:
    logs = ServerLogs(f"{tmp_path}/cell.")
    with open_external(server_command("socat", SOCAT_TCP), _tcp(), logs=logs) as server:
        assert server.endpoint.port > 0
        assert server.command == f"socat TCP-LISTEN:{server.endpoint.port},fork,reuseaddr PIPE"
        assert server.argv[0] == "socat"  # no shell in between
        # A connection held open keeps a forked socat child alive until the stop.
        held = socket.create_connection(server.endpoint.sockaddr, timeout=5)
        held.sendall(b"x")
        assert held.recv(1) == b"x"
        tree = server.tree()
        assert len(tree) >= 2
    held.close()
    assert _gone(tree)
    assert server.to_json()["stopped"] == "SIGTERM"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cell.server-stderr.log",
        "cell.server-stdout.log",
    ]


@needs_socat
@pytest.mark.parametrize(
    ("proto", "template"),
    [
        (Proto.UDP, "socat UDP-RECVFROM:{port},fork PIPE"),
        (Proto.UNIX, "socat UNIX-LISTEN:{path},fork PIPE"),
        (Proto.UNIX_DGRAM, "socat UNIX-RECVFROM:{path},fork PIPE"),
    ],
)
def test_ready_for_each_transport(proto: Proto, template: str, tmp_path: Path) -> None:
    bind = (
        Endpoint(proto, path=str(tmp_path / "s.sock"))
        if proto.is_unix
        else Endpoint(proto, "127.0.0.1", 0)
    )
    with open_external(server_command("s", template), bind, logs=ServerLogs(None)) as server:
        if proto is Proto.UNIX:
            assert _echo_once(server.endpoint) == b"ping"
        elif proto is Proto.UDP:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(5)
                sock.sendto(b"ping", server.endpoint.sockaddr)
                assert sock.recv(16) == b"ping"
        else:
            assert os.path.exists(server.endpoint.path)


def test_ready_line_waits_for_the_text(tmp_path: Path) -> None:
    script = tmp_path / "slow_start.py"
    script.write_text(
        "import socket, sys, time\n"
        "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
        "time.sleep(0.3)  # listening, not ready yet: loading, warming caches\n"
        "print('ready to serve', flush=True)\n"
        "while True:\n"
        "    c, _ = s.accept()\n"
        "    c.sendall(c.recv(4))\n"
        "    c.close()\n"
    )
    spec = server_command("py", f"{PY} {script} {{port}}", ready_line="ready to serve")
    with open_external(spec, _tcp(), logs=ServerLogs(f"{tmp_path}/")) as server:
        # The port accepted 0.3 s earlier; readiness waited for the line.
        assert "ready to serve" in (tmp_path / "server-stdout.log").read_text()
        assert _echo_once(server.endpoint) == b"ping"


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("missing", None, r"cannot start server command 'missing' \(\S+/no-such-server\): "
         r"No such file or directory"),
        ("bad", "import sys\nsys.exit('bad config')\n",
         r"server command 'bad' exited with code 1 before it was ready; last stderr: bad config"),
        ("mute", "import sys, time\nprint('starting', file=sys.stderr, flush=True)\n"
         "time.sleep(60)\n",
         r"'mute' was not ready within 0.5 s \(127.0.0.1:\d+ was not served\); "
         r"last stderr: starting"),
    ],
)  # fmt: skip
def test_failed_start_is_reported_and_leaves_nothing(
    name: str, body: str | None, message: str, tmp_path: Path
) -> None:
    script = tmp_path / "no-such-server"
    if body is not None:
        script = tmp_path / "server.py"
        script.write_text(body)
    command = f"{PY} {script} {{port}}" if body else f"{script} {{port}}"
    with pytest.raises(SockbenchError, match=message):
        _start(server_command(name, command, ready_timeout_s=0.5))
    assert not processes.mentioning(str(tmp_path))


def test_sigkill_after_the_grace_for_a_server_ignoring_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, socket, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
        "time.sleep(60)\n"
    )
    spec = server_command("stubborn", f"{PY} {script} {{port}}")
    with open_external(spec, _tcp(), logs=ServerLogs(None)) as server:
        tree = server.tree()
        server.stop(grace=0.3)
    assert _gone(tree)
    assert server.to_json()["stopped"] == "SIGKILL after 0.3 s"
    assert server.returncode() == -9


def test_death_mid_run_is_recorded(tmp_path: Path) -> None:
    spec = server_command("crash", f"{PY} {SUPPORT / 'crash_echo.py'} {{port}} 1")
    with open_external(spec, _tcp(), logs=ServerLogs(None)) as server:
        assert _echo_once(server.endpoint) == b"ping"
        server._proc.wait(10)  # it exits after its first reply
    doc = server.to_json()
    assert doc["exit_code"] == 3 and doc["stopped"] == "itself"
    assert doc["error"] == (
        "server command 'crash' exited with code 3 during the run; "
        "last stderr: crash_echo: giving up after 1 replies"
    )


@needs_socat
def test_pinned_with_its_children(tmp_path: Path) -> None:
    cpu = max(os.sched_getaffinity(0))
    spec = server_command("socat", SOCAT_TCP)
    with open_external(spec, _tcp(), logs=ServerLogs(None), cpus=(cpu,)) as server:
        held = socket.create_connection(server.endpoint.sockaddr, timeout=5)
        held.sendall(b"x")
        held.recv(1)
        tree = server.tree()
        assert len(tree) >= 2
        assert all(p.cpu_affinity() == [cpu] for p in tree)
        held.close()
