"""Output paths: bad ones refused before any load, special files written through and
never replaced, and a result that cannot be written at the end saved elsewhere."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import Run, Target, load_result

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it


@contextlib.contextmanager
def _tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A small tmpfs at ``path`` (root only; the test is skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _quick(sockbench, probe: Target, *args: str) -> Run:
    return sockbench(
        "--target", probe.url, "--clients", "4", "--duration", "0.5", "--warmup", "0", *args
    )  # fmt: skip


def _refused_before_load(run: Run, probe: Target, message: str) -> None:
    assert run.finish() == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sockbench: error: "), run.stderr
    assert message in lines[0]
    assert not any(line.startswith("ACCEPT") for line in probe.lines)  # no load at all


def test_json_given_a_folder_is_refused_before_load(target, sockbench, tmp_path) -> None:
    probe = target()
    _refused_before_load(_quick(sockbench, probe, "--json", str(tmp_path)), probe, "is a folder")


def test_out_given_a_file_is_refused_before_load(target, sockbench, tmp_path) -> None:
    probe = target()
    (tmp_path / "f").write_text("x")
    _refused_before_load(
        _quick(sockbench, probe, "--out", str(tmp_path / "f")), probe, "is not a folder"
    )


def test_out_given_a_symlink_to_nowhere_is_refused_before_load(target, sockbench, tmp_path) -> None:
    probe = target()
    (tmp_path / "results").symlink_to(tmp_path / "gone")
    _refused_before_load(
        _quick(sockbench, probe, "--out", str(tmp_path / "results")), probe, "does not exist"
    )


@pytest.mark.parametrize("flag", ["--json", "--out", "--log-file", "--export"])
def test_a_read_only_folder_is_refused_before_load(target, sockbench, tmp_path, flag) -> None:
    probe = target()
    with _tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        path = {
            "--json": ro / "r.json", "--out": ro / "results", "--log-file": ro / "run.log",
            "--export": f"html={ro / 'r.html'}",
        }[flag]  # fmt: skip
        _refused_before_load(
            _quick(sockbench, probe, flag, str(path)), probe, "Read-only file system"
        )


@pytest.mark.parametrize("command", ["report", "diff"])
def test_report_and_diff_onto_a_read_only_mount_are_one_line(tmp_path, command) -> None:
    from tests.conftest import ROOT

    fixture = str(ROOT / "tests" / "report" / "fixtures" / "result-tcp.json")
    given = [fixture] if command == "report" else [fixture, fixture]
    with _tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        done = subprocess.run(
            [sys.executable, "-m", "sockbench", command, *given, "-o", str(ro / "out.txt")],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"sockbench: error: cannot write -o {ro / 'out.txt'}: Read-only file system"
    ]


def test_a_full_disk_is_refused_before_load(target, sockbench, tmp_path) -> None:
    probe = target()
    with _tmpfs(tmp_path / "full", "size=64k") as full:
        _refused_before_load(
            _quick(sockbench, probe, "--json", str(full / "r.json")), probe, "KiB free"
        )


def _fallback_of(run: Run) -> Path:
    match = re.search(r"the result JSON is saved in (\S+)", run.stderr)
    assert match, run.stderr
    return Path(match.group(1))


def test_a_disk_that_fills_during_the_run_keeps_the_result(target, sockbench, tmp_path) -> None:
    probe = target()
    with _tmpfs(tmp_path / "small", "size=2m") as small:
        run = sockbench(
            "--target", probe.url, "--clients", "4", "--duration", "60", "--warmup", "0",
            "--json", str(small / "r.json"), "--out", "",
        )  # fmt: skip
        probe.wait_for("ECHO 100")  # the paths were checked: the load is on
        with contextlib.suppress(OSError), open(small / "filler", "wb") as f:
            f.write(bytes(4 * 1024 * 1024))
        run.signal_group(2)
        assert run.finish() == 74
        fallback = _fallback_of(run)
        try:
            result = load_result(fallback)
            assert result["totals"]["requests"] > 0
            assert "p99" in run.stdout  # the summary was printed all the same
        finally:
            fallback.unlink()


def test_dev_full_is_written_through_and_never_replaced(target, sockbench) -> None:
    probe = target()
    run = _quick(sockbench, probe, "--json", "/dev/full", "--out", "")
    assert run.finish() == 74
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    fallback = _fallback_of(run)
    try:
        assert load_result(fallback)["status"] == "completed"
    finally:
        fallback.unlink()


def test_a_symlink_to_stdout_writes_to_stdout(target, sockbench, tmp_path) -> None:
    probe = target()
    link = tmp_path / "out.json"
    link.symlink_to("/proc/self/fd/1")
    run = _quick(sockbench, probe, "--json", str(link), "--out", "", "--format", "csv")
    assert run.finish() == 0
    assert os.path.islink(link)
    assert '"status": "completed"' in run.stdout


@pytest.mark.parametrize("flag", ["--json", "--export"])
@pytest.mark.parametrize("leads_to", ["a file", "nothing yet"])
def test_a_symlink_to_a_file_is_refused_before_load_and_its_target_left_alone(
    target, sockbench, tmp_path, flag, leads_to
) -> None:
    probe = target()
    real = tmp_path / "real.json"
    if leads_to == "a file":
        real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    path = str(link) if flag == "--json" else f"html={link}"
    _refused_before_load(
        _quick(sockbench, probe, flag, path, "--out", ""), probe, "is a symlink (to "
    )
    assert os.path.islink(link)
    assert real.read_text() == "old" if leads_to == "a file" else not real.exists()
