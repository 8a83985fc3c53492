"""--cluster: Ray is imported only when asked for, and its absence or a bad value is one line."""

from __future__ import annotations

import subprocess
import sys

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
        "sockbench: error: --cluster ray needs Ray, which is not installed here: "
        "pip install 'sockbench[ray]'"
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
