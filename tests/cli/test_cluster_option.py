"""--cluster: Ray is imported only when asked for, and its absence or a bad value is one line."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.e2e  # real processes (make unit skips it)

# Run sockbench's CLI in-process in a fresh interpreter, then report what it imported.
_RUN_AND_LIST = """
import sys
{before}
from sockbench.cli import app
try:
    app({args!r}, standalone_mode=False)
except SystemExit:
    pass
print("ray imported:", "ray" in sys.modules)
"""


def _python(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_run_without_cluster_never_imports_ray() -> None:
    args = ["run", "--clients", "2", "--duration", "0.3", "--warmup", "0", "--out", "",
            "--quiet", "--format", "text"]  # fmt: skip
    done = _python(_RUN_AND_LIST.format(before="", args=args))
    assert done.returncode == 0, done.stderr
    assert "ray imported: False" in done.stdout


def test_missing_ray_is_one_line_and_exit_2() -> None:
    # sys.modules[name] = None makes `import name` fail as if it were not installed.
    code = "import sys; sys.modules['ray'] = None\nfrom sockbench.cli import main\nmain()"
    done = _python(code, "run", "--cluster", "ray", "--clients", "2", "--duration", "1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "sockbench: error: --cluster ray needs Ray, which is not installed here: pip install ray"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("dask", "--cluster must be 'ray' or 'ray:HOST:PORT', got 'dask'"),
        ("ray:10.0.0.5", "expected ray:HOST:PORT"),
        ("ray:host:99999", "expected ray:HOST:PORT"),
        # Not Ray's "auto": that would join whatever cluster another user runs here.
        ("ray:", "--cluster 'ray:' names no head: give ray:HOST:PORT, or ray for the cluster"),
    ],
)
def test_bad_cluster_values(value: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sockbench", "compare", "--cluster", value, "--duration", "1"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("sockbench: error: ") and message in line


def _join_cluster(head: str, target_port: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sockbench", "run", "--cluster", f"ray:{head}", "--target",
         f"tcp://127.0.0.1:{target_port}", "--clients", "2", "--duration", "1", "--out", "",
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _the_error(stderr: str) -> str:
    """The one line besides warnings (a busy machine is said before the join)."""
    [line] = [x for x in stderr.splitlines() if not x.startswith("sockbench: warning: ")]
    return line


def test_a_closed_head_is_one_line_and_exit_2() -> None:
    with socket.create_server(("127.0.0.1", 0)) as target:
        proc = _join_cluster("127.0.0.1:1", target.getsockname()[1])
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stderr
    assert _the_error(stderr) == (
        "sockbench: error: --cluster ray:127.0.0.1:1: cannot join the Ray cluster: "
        "cannot connect to 127.0.0.1:1: Connection refused"
    )


@pytest.mark.parametrize(
    ("how", "code", "said"),
    [
        (
            "--cluster-timeout",
            2,
            "nothing answered at 127.0.0.1:{port} within 1 s (--cluster-timeout)",
        ),
        (signal.SIGINT, 130, "interrupted (SIGINT) while joining the Ray cluster; nothing ran"),
        (signal.SIGTERM, 143, "interrupted (SIGTERM) while joining the Ray cluster; nothing ran"),
    ],
    ids=["timeout", "SIGINT", "SIGTERM"],
)
def test_a_head_that_never_answers_is_left_in_time(
    how: str | signal.Signals, code: int, said: str
) -> None:
    """A head that takes the connection and says nothing (Ray would wait for minutes): the
    join ends at --cluster-timeout, or at once on SIGINT/SIGTERM, in one line."""
    with (
        socket.create_server(("127.0.0.1", 0)) as head,
        socket.create_server(("127.0.0.1", 0)) as target,
    ):
        port = head.getsockname()[1]
        bound = "1s" if how == "--cluster-timeout" else "30s"  # a signal comes long before
        proc = _join_cluster(
            f"127.0.0.1:{port}", target.getsockname()[1], "--cluster-timeout", bound
        )
        try:
            head.settimeout(30)
            conn, _ = head.accept()  # sockbench is joining now
            asked = time.monotonic()
            if isinstance(how, signal.Signals):
                proc.send_signal(how)
            _, stderr = proc.communicate(timeout=30)
            took = time.monotonic() - asked
            conn.close()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == code, stderr
    assert _the_error(stderr) == (
        f"sockbench: error: --cluster ray:127.0.0.1:{port}: "
        + ("cannot join the Ray cluster: " if code == 2 else "")
        + said.format(port=port)
    )
    assert took < 1 + 3  # the bound, and some slack for a loaded machine


def test_plain_ray_probes_the_head_ray_would_join(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--cluster ray`` knows its head only once Ray is imported: found as Ray finds it,
    so that a loopback one stays loopback and an absent one is probed, not waited for."""
    from sockbench.engine.backends import ray_actors

    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6390")
    assert ray_actors._running_head("ray") == ("127.0.0.1", 6390)
    monkeypatch.setenv("RAY_ADDRESS", "ray://127.0.0.1:10001")  # a Ray client: Ray's to judge
    assert ray_actors._running_head("ray") is None
