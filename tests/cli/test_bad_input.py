"""Bad input: one clear line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)


def _sockbench(cmd: list[str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--proto", "sctp"], "unknown --proto 'sctp'"),
        (["run", "--server", "nginx", "--duration", "1"], "unknown server model 'nginx'"),
        (["run", "--target", "tcp//127.0.0.1:80"], "malformed target"),
        (["run", "--target", "tcp://127.0.0.1"], "malformed target"),
        (["run", "--target", "tcp://192.0.2.1:80"], "not a loopback address"),
        (["run", "--clients", "0"], "--clients must be at least 1"),
        (["run", "--duration", "0"], "--duration must be greater than 0"),
        (["run", "--duration", "-3"], "--duration must be greater than 0"),
        (["run", "--proto", "udp", "--payload", "65508"], "over the datagram limit of 65507"),
        (["run", "--payload", "12x"], "malformed --payload"),
        (["run", "--workers", "1", "--clients", "30000"], "file descriptors"),
        (["run", "--clients", "lots"], "invalid value for '--clients'"),
        (["run", "--no-such-option"], "no such option"),
        (["run", "--protocol", "smtp"], "unknown --protocol 'smtp'"),
        (["run", "--protocol", "missing.py:P"], "protocol plugin missing.py: no such file"),
        (["run", "--protocol", "no_such_mod:P"], "no module named 'no_such_mod'"),
        (["run", "--protocol", "examples/kv_plugin.py:Nope"], "has no 'Nope'"),
        (["run", "--protocol", "redis", "--ratio", "1-10"], "malformed --ratio"),
        (["run", "--protocol", "redis", "--key-pattern", "Z"], "unknown --key-pattern"),
        (["run", "--protocol", "redis", "--key-space", "0"], "--key-space must be"),
        (["run", "--protocol", "memcache", "--value-size", "0"], "--value-size must be"),
        (["run", "--protocol", "redis", "--send", "PING"], "makes its own requests"),
        (["run", "--protocol", "redis", "--proto", "udp"], "--protocol applies to"),
        (["run", "--protocol", "line", "--expect", "x", "--send", "y"], "checks its own replies"),
        (["run", "--pipeline", "2", "--no-batch"], "needs the batch pump"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    sockbench_cmd: list[str], args: list[str], message: str
) -> None:
    proc = _sockbench(sockbench_cmd, *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message.lower() in lines[0].lower()
    assert lines[0].startswith("sockbench: error: ")
    assert "Traceback" not in proc.stderr


def test_refusing_target(sockbench_cmd: list[str], closed_port: int) -> None:
    proc = _sockbench(sockbench_cmd, "run", "--target", f"tcp://127.0.0.1:{closed_port}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"sockbench: error: cannot connect to tcp://127.0.0.1:{closed_port}: connection refused "
        "(tried 5 times over 1 s)"
    ]


def test_refusing_udp_target(sockbench_cmd: list[str], closed_port: int) -> None:
    proc = _sockbench(sockbench_cmd, "run", "--target", f"udp://127.0.0.1:{closed_port}")
    assert proc.returncode == 2
    assert "nothing listens there" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_serve_on_a_bind_address_in_use(sockbench_cmd: list[str], busy_port: int) -> None:
    proc = _sockbench(sockbench_cmd, "serve", "--bind", f"127.0.0.1:{busy_port}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "in use" in lines[0]


def test_serve_unknown_model(sockbench_cmd: list[str]) -> None:
    proc = _sockbench(sockbench_cmd, "serve", "--model", "nope", "--bind", "127.0.0.1:0")
    assert proc.returncode == 2
    assert "unknown server model 'nope'" in proc.stderr
