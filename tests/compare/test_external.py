"""Your own server as a model: `compare --server-cmd NAME=CMD` and `run --server-cmd`, end to end.

Real commands on loopback: socat, a C echo server compiled here (skipped without a
C compiler), and Python scripts that fail on purpose.
"""

from __future__ import annotations

import csv
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import psutil
import pytest

from tests.compare.test_cli import ROOT, SCHEMA, SHORT, _sockbench
from tests.support import processes

SUPPORT = ROOT / "tests" / "support"
SOCAT = "socat TCP-LISTEN:{port},fork,reuseaddr PIPE"
PY = sys.executable

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed"),
]


@pytest.fixture(scope="module")
def c_echo(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """tests/support/echo.c compiled, or None without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    binary = tmp_path_factory.mktemp("c-echo") / "echo"
    subprocess.run([cc, "-O2", "-o", str(binary), str(SUPPORT / "echo.c")], check=True)
    return binary


def _cells(out: Path) -> dict[tuple[str, int], dict[str, Any]]:
    doc = json.loads((out / "results.json").read_text())
    return {(c["cell"]["model"], c["cell"]["clients"]): c for c in doc["cells"]}


def test_builtin_against_socat_and_c_echo(tmp_path: Path, c_echo: Path | None) -> None:
    out = tmp_path / "cmp"
    models = ["--server-cmd", f"socat={SOCAT}"]
    if c_echo is not None:
        models += ["--server-cmd", f"c-echo={c_echo} {{port}}"]
        models += ["--ready-line", "c-echo=listening on"]
    proc = _sockbench(
        "compare", "--server", "selectors", *models, "--proto", "tcp", "--clients", "5",
        *SHORT, "--out", str(out), "--quiet", timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    names = ["selectors", "socat"] + (["c-echo"] if c_echo else [])
    cells = _cells(out)
    assert sorted(cells) == sorted((m, 5) for m in names)  # the matrix: tests/compare
    for (model, _), result in cells.items():
        jsonschema.validate(result, SCHEMA)
        assert result["status"] == "completed", result["warnings"]
        assert result["totals"]["requests"] > 0
        resources = result["server_resources"]
        assert resources["samples"] >= 1 and resources["rss_bytes_max"] > 0
        assert resources["cpu_percent_mean"] > 0, (model, resources)
        assert resources["threads_max"] >= 1 and resources["fds_max"] >= 1
        server = result["server"]
        assert server["model"] == model
        if model == "selectors":
            assert "command" not in server
            continue
        port = server["target"].rsplit(":", 1)[1]
        assert server["command"] == server["template"].replace("{port}", port)
        assert server["stopped"] == "SIGTERM"
        stem = f"tcp-64-c{result['cell']['clients']}-{model}-r1"
        assert server["stdout"] == f"{stem}.server-stdout.log"
        assert (out / server["stdout"]).is_file() and (out / server["stderr"]).is_file()
    if c_echo is not None:
        assert (out / "tcp-64-c5-c-echo-r1.server-stdout.log").read_text().startswith("listening")
    doc = json.loads((out / "results.json").read_text())
    assert doc["plan"]["models"] == names
    assert doc["plan"]["commands"]["socat"] == SOCAT
    page = (out / "report.html").read_text()
    assert html.escape(SOCAT) in page and "Server commands" in page
    assert SOCAT in (out / "report.md").read_text()
    with open(out / "summary.csv", newline="") as f:
        assert {row["model"] for row in csv.DictReader(f)} == set(names)


def test_failing_commands_are_reported_and_the_compare_goes_on(tmp_path: Path) -> None:
    never = tmp_path / "never_ready.py"
    never.write_text(
        "import sys, time\nprint('loading', file=sys.stderr, flush=True)\ntime.sleep(60)\n"
    )
    out = tmp_path / "cmp"
    proc = _sockbench(
        "compare",
        "--server-cmd", f"ok={SOCAT}",
        "--server-cmd", f"nostart={tmp_path}/no-such-server {{port}}",
        "--server-cmd", f"early={PY} -c \"import sys; sys.exit('bad config')\" {{port}}",
        "--server-cmd", f"never={PY} {never} {{port}}",
        "--server-cmd", f"crash={PY} {SUPPORT / 'crash_echo.py'} {{port}} 2000",
        "--ready-timeout", "3", "--proto", "tcp", "--clients", "5",
        "--duration", "2", "--warmup", "0", "--out", str(out), "--quiet", timeout=240,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # docs/compare.md: a cell failed
    cells = _cells(out)
    assert len(cells) == 5
    for result in cells.values():
        jsonschema.validate(result, SCHEMA)
    assert cells["ok", 5]["status"] == "completed"
    errors = {m: cells[m, 5]["cell"].get("error", "") for m, _ in cells}
    for model in ("nostart", "early", "never", "crash"):
        assert cells[model, 5]["status"] == "server_died", model
    assert "cannot start server command 'nostart'" in errors["nostart"]
    assert "No such file or directory" in errors["nostart"]
    assert errors["early"] == (
        "server command 'early' exited with code 1 before it was ready; last stderr: bad config"
    )
    assert errors["never"].startswith("server command 'never' was not ready within 3 s")
    assert errors["never"].endswith("last stderr: loading")
    assert errors["crash"] == (
        "server command 'crash' exited with code 3 during the run; "
        "last stderr: crash_echo: giving up after 2000 replies"
    )
    crash = cells["crash", 5]
    assert crash["server"]["exit_code"] == 3 and crash["server"]["stopped"] == "itself"
    assert errors["crash"] in crash["warnings"]
    for model in ("early", "never"):
        assert cells[model, 5]["server"]["template"]
    assert (out / "tcp-64-c5-never-r1.server-stderr.log").read_text() == "loading\n"
    assert not processes.mentioning(str(tmp_path)), "a command outlived its cell"


def test_ctrl_c_mid_external_cell_leaves_no_process(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = [
        "compare", "--server-cmd", f"socat={SOCAT}", "--proto", "tcp", "--clients", "5",
        "--duration", "30", "--warmup", "0", "--out", str(out), "--quiet",
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "sockbench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    seen: dict[int, psutil.Process] = {}
    try:
        # Mid-cell: socat has forked a child per connected client.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            tree = _descendants(proc.pid)
            seen.update((p.pid, p) for p in tree)
            if sum(1 for p in tree if _name(p) == "socat") >= 4:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "compare ended before it could be interrupted"
        assert any(_name(p) == "socat" for p in seen.values())
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["status"] == "interrupted"
    assert [c["status"] for c in doc["cells"]] == ["interrupted"]
    assert doc["cells"][0]["server"]["stopped"] == "SIGTERM"
    left = [p for p in seen.values() if processes.alive(p)]
    for p in left:
        p.kill()
    assert not left, f"processes left behind: {left}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--server-cmd", "socat"], "--server-cmd expects NAME=COMMAND"),
        (["--server-cmd", f"asyncio={SOCAT}"], "built-in model's name"),
        (["--server-cmd", f"a={SOCAT}", "--server-cmd", f"a={SOCAT}"], "given twice"),
        (["--server-cmd", "a=socat TCP-LISTEN:9000 PIPE"], "has no {port}, which tcp needs"),
        (["--server-cmd", f"a={SOCAT}", "--proto", "unix"], "has no {path}, which unix needs"),
        (["--ready-line", "up"], "--ready-line applies to --server-cmd"),
        (["--server-cmd", f"a={SOCAT}", "--ready-timeout", "0"], "--ready-timeout must be greater"),
    ],
)
def test_bad_model_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    proc = _sockbench("compare", "--proto", "tcp", *args, "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sockbench: error: "), proc.stderr
    assert message in lines[0]
    assert not out.exists()


def test_run_server_cmd_with_ready_line(tmp_path: Path, c_echo: Path | None) -> None:
    if c_echo is None:
        pytest.skip("no C compiler")
    proc = _sockbench(
        "run", "--server-cmd", f"{c_echo} {{port}}", "--ready-line", "listening on",
        "--clients", "4", *SHORT, "--out", str(tmp_path), "--format", "text", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (folder,) = tmp_path.iterdir()
    assert folder.name.endswith("-tcp-echo-c4")
    result = json.loads((folder / "result.json").read_text())
    jsonschema.validate(result, SCHEMA)
    assert result["status"] == "completed"
    assert result["server"]["model"] == "echo"
    assert result["server"]["command"].startswith(str(c_echo))
    assert result["config"]["external"]["ready_line"] == "listening on"
    assert result["server_resources"]["samples"] >= 1
    assert (folder / "server-stdout.log").read_text().startswith("listening on 127.0.0.1:")
    assert (folder / "server-stderr.log").is_file()


def test_run_server_cmd_dying_mid_run_exits_1(tmp_path: Path) -> None:
    proc = _sockbench(
        "run", "--server-name", "crash",
        "--server-cmd", f"{PY} {SUPPORT / 'crash_echo.py'} {{port}} 500",
        "--clients", "2", "--duration", "5", "--warmup", "0", "--out", str(tmp_path),
        "--format", "text", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "server command 'crash' exited with code 3 during the run" in proc.stdout
    assert "giving up after 500 replies" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--server-cmd", SOCAT, "--target", "tcp://127.0.0.1:9"], "--target or --server-cmd"),
        (["--ready-line", "up"], "--ready-line applies to --server-cmd"),
        (["--server-cmd", "socat -"], "has no {port}"),
    ],
)
def test_run_bad_server_cmd(args: list[str], message: str, tmp_path: Path) -> None:
    proc = _sockbench("run", *args, "--out", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"sockbench: error: {_line(proc.stderr)}"]
    assert message in proc.stderr
    assert not any(tmp_path.iterdir())


def _line(stderr: str) -> str:
    return stderr.strip().removeprefix("sockbench: error: ")


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _name(p: psutil.Process) -> str:
    try:
        return p.name()
    except psutil.Error:
        return ""


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_run_server_cmd_speaks_the_users_protocol(tmp_path: Path) -> None:
    """--send/--expect apply to a --server-cmd as to a --target: redis answers PING."""
    proc = _sockbench(
        "run", "--server-cmd", "redis-server --port {port} --bind {host} --save '' --appendonly no",
        "--send", r"PING\r\n", "--expect", r"+PONG\r\n", "--clients", "4", *SHORT,
        "--out", "", "--json", str(tmp_path / "r.json"), "--quiet", "--format", "text",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["status"] == "completed"
    assert result["server"]["model"] == "redis-server"
    assert result["server"]["argv"][-4:] == ["--save", "", "--appendonly", "no"]
    assert result["totals"]["requests"] > 0 and not result["totals"]["errors"]
    assert result["server_resources"]["threads_max"] >= 1
