"""Output files (issue 33): every writer goes through report/files.py's checked writer,
which never replaces a device, a FIFO, a socket or a symlink; a FIFO that sockbench does
not already hold open is refused before any load (opening it waits for a reader, forever
if none comes); result files honour the umask; nothing measured is lost."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sockbench.report import files
from tests.faults.conftest import Target, load_result

FIXTURE = Path(__file__).parents[1] / "report" / "fixtures" / "result-tcp.json"
#: Every subprocess here is bounded: a regression that blocks on a FIFO fails, never hangs.
BOUND_S = 20
QUICK = ("--clients", "1", "--duration", "0.3", "--warmup", "0")


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _cli(
    cmd: list[str], *args: str, umask: int | None = None, fds: tuple[int, ...] = ()
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=BOUND_S, pass_fds=fds,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _one_error(done: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    said = done.stderr.strip().splitlines()
    lines = [line for line in said if not line.startswith("sockbench: warning:")]  # a busy host
    assert done.returncode == code, done.stderr
    assert len(lines) == 1 and lines[0].startswith("sockbench: error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _specials(tmp_path: Path) -> dict[str, Path]:
    """A character device (root: mknod), a FIFO, a bound Unix socket, a symlink to a file."""
    made = {}
    if os.geteuid() == 0:
        made["device"] = tmp_path / "dev"
        os.mknod(made["device"], stat.S_IFCHR | 0o666, os.makedev(1, 3))  # as /dev/null
    made["fifo"] = tmp_path / "fifo"
    os.mkfifo(made["fifo"])
    made["socket"] = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(made["socket"]))
    (tmp_path / "real.md").write_text("old\n")
    made["symlink"] = tmp_path / "link.md"
    made["symlink"].symlink_to(tmp_path / "real.md")
    return made


def _kind(path: Path) -> int:
    return stat.S_IFMT(os.lstat(path).st_mode)


def _quick_run(
    cmd: list[str], probe: Target, *args: str, umask: int | None = None
) -> subprocess.CompletedProcess[str]:
    quick = ("--target", probe.url, *QUICK)
    return _cli(cmd, "run", "--quiet", *quick, *args, umask=umask)


def _into_pipe(cmd: list[str], probe: Target, write: int) -> subprocess.CompletedProcess[str]:
    """``run --json /dev/fd/N``, N the write end of a pipe the run inherits (as ``>(jq)``)."""
    quick = ("--target", probe.url, *QUICK)
    return _cli(cmd, "run", "--quiet", *quick, "--out", "", "--json", f"/dev/fd/{write}",
                fds=(write,))  # fmt: skip


# --- item 1: `diff -o` and `report -o` never replace a special file ---------------------


@pytest.mark.e2e
@pytest.mark.parametrize("command", ["diff", "report"])
def test_o_never_replaces_a_special_file(sockbench_cmd, tmp_path, command) -> None:
    made = _specials(tmp_path)
    kinds = {name: _kind(path) for name, path in made.items()}
    sources = [str(FIXTURE)] * (2 if command == "diff" else 1)
    for name, path in made.items():
        done = _cli(sockbench_cmd, command, *sources, "-o", str(path))
        if name == "device":  # written through, as /dev/null takes it
            assert done.returncode == 0, done.stderr
        elif name == "symlink":  # refused: its target is never overwritten
            _one_error(done, 2, "symlink", "real.md")
            assert (tmp_path / "real.md").read_text() == "old\n"
        elif name == "fifo":
            _one_error(done, 2, "FIFO", "reader")
        else:
            _one_error(done, 2, "socket")
        assert _kind(path) == kinds[name], f"{name} was replaced"


@pytest.mark.unit
@pytest.mark.timeout(10, method="signal")
def test_write_atomic_replaces_neither_a_fifo_nor_a_symlink_s_target(tmp_path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        files.write_atomic(fifo, "x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    (tmp_path / "real").write_text("old")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OSError, match="symlink"):
        files.write_atomic(tmp_path / "link", "new")
    assert os.path.islink(tmp_path / "link") and (tmp_path / "real").read_text() == "old"
    files.write_text(str(tmp_path / "new"), "new")  # a new path, through a linked folder
    (tmp_path / "folder").symlink_to(tmp_path, target_is_directory=True)
    files.write_atomic(tmp_path / "folder" / "new", "newer")
    assert (tmp_path / "new").read_text() == "newer"


# --- item 4: result files honour the umask --------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(("mask", "mode"), [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path, monkeypatch, mask, mode) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    doc = json.loads(FIXTURE.read_text())
    with _umask(mask):
        files.write_text(str(tmp_path / "r.json"), "{}")
        saved = files.save_result(doc, str(tmp_path / "runs"), str(tmp_path / "no" / "x.json"))
    assert stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode) == mode
    assert saved.folder is not None
    assert stat.S_IMODE(os.stat(saved.folder).st_mode) == 0o777 & ~mask
    for written in saved.folder.iterdir():
        assert stat.S_IMODE(os.stat(written).st_mode) == mode, written


@pytest.mark.unit
def test_the_fallback_honours_the_umask(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    doc = json.loads(FIXTURE.read_text())
    with _umask(0o077):
        saved = files.save_result(doc, None, "/dev/full")
    assert saved.fallback is not None
    assert stat.S_IMODE(os.stat(saved.fallback).st_mode) == 0o600


@pytest.mark.unit
def test_a_replaced_file_keeps_its_own_mode(tmp_path) -> None:
    path = tmp_path / "r.json"
    path.write_text("old")
    path.chmod(0o640)
    with _umask(0o022):
        files.write_text(str(path), "new")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 and path.read_text() == "new"


@pytest.mark.e2e
def test_a_secret_request_is_not_world_readable(target, sockbench_cmd, tmp_path) -> None:
    probe: Target = target()
    done = _quick_run(
        sockbench_cmd, probe, "--send", "AUTH secret\r\n",
        "--json", str(tmp_path / "r.json"), "--out", str(tmp_path / "runs"), umask=0o077,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr  # the probe echoes; the mode is the point
    assert stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode) == 0o600
    (folder,) = (tmp_path / "runs").iterdir()
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert {stat.S_IMODE(os.stat(p).st_mode) for p in folder.iterdir()} == {0o600}


# --- item 5: a FIFO nobody reads is refused before any load; nothing is lost ------------


def _no_load(probe: Target) -> None:
    assert not any(line.startswith("ACCEPT") for line in probe.lines)


@pytest.mark.e2e
@pytest.mark.parametrize("flag", ["--json", "--log-file", "--send-file"])
def test_a_fifo_is_refused_before_any_load(target, sockbench_cmd, tmp_path, flag) -> None:
    probe: Target = target()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = _quick_run(sockbench_cmd, probe, "--out", "", flag, str(fifo))
    _one_error(done, 2, flag, "FIFO")
    _no_load(probe)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.e2e
def test_a_pipe_it_holds_open_is_written_through(target, sockbench_cmd) -> None:
    """``--json >(jq .)`` or ``/dev/stdout | jq``: a pipe sockbench already holds."""
    probe: Target = target()
    read, write = os.pipe()
    try:
        done = _into_pipe(sockbench_cmd, probe, write)
        os.close(write)
        write = -1
        with os.fdopen(read, encoding="utf-8") as f:
            read = -1
            assert json.loads(f.read())["status"] == "completed"
        assert done.returncode == 0, done.stderr
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)


@pytest.mark.e2e
def test_a_pipe_whose_reader_left_keeps_the_result(target, sockbench_cmd) -> None:
    """The pipe was held open at the check, but no one reads it at the end: exit 74 and
    the fallback file, never a wait or a lost result."""
    probe: Target = target()
    read, write = os.pipe()
    os.close(read)
    try:
        done = _into_pipe(sockbench_cmd, probe, write)
    finally:
        os.close(write)
    line = _one_error(done, 74, f"/dev/fd/{write}")
    match = re.search(r"saved in (\S+)", line)
    assert match, line
    fallback = Path(match.group(1))
    try:
        assert load_result(fallback)["status"] == "completed"
    finally:
        fallback.unlink()


@pytest.mark.unit
@pytest.mark.timeout(10, method="signal")  # the old code blocked in open() for ever
def test_writing_a_fifo_without_reader_fails_at_once(tmp_path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError) as raised:
        files.write_text(str(fifo), "x")
    assert raised.value.errno in (errno.ENXIO, errno.EEXIST)
