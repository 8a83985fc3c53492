"""The resource sampler reads CPU time to the nanosecond, so a tree of light processes counts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import psutil
import pytest

from sockbench.core.spec.server import server_command
from sockbench.endpoints import Endpoint, Proto
from sockbench.engine.io.sampling import TreeSampler, descendants, process_cpu_s
from sockbench.servers.external import ServerLogs, open_external

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it


def test_process_clock_matches_own_cpu_time() -> None:
    mine = process_cpu_s(os.getpid())
    assert mine is not None
    assert abs(mine - time.process_time()) < 0.05


def _on_cpu_s(pids: list[int]) -> float:
    """Nanosecond run time of each process's main thread (a reference the kernel keeps apart)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")
def test_fork_per_connection_tree_is_not_read_as_idle() -> None:
    """socat forks a child per connection; 60 children each spend a few ms per second,
    which /proc/PID/stat's 10 ms ticks showed as 0 % CPU (socat at 100 clients: 0.0 %)."""
    spec = server_command("socat", "socat TCP-LISTEN:{port},fork,reuseaddr,backlog=512 PIPE")
    bind = Endpoint(Proto.TCP, "127.0.0.1", 0)
    with open_external(spec, bind, logs=ServerLogs(None)) as server:
        conns = [socket.create_connection(server.endpoint.sockaddr, timeout=5) for _ in range(60)]
        for conn in conns:
            conn.sendall(b"x")
            assert conn.recv(1) == b"x"
        pids = [p.pid for p in server.tree()]
        assert len(pids) >= 61  # plus, for a moment, the readiness probe's child
        with TreeSampler(server.pid, interval_s=0.25) as sampler:
            before = _on_cpu_s(pids)
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                for conn in conns:
                    conn.sendall(b"0123456789abcdef")
                    conn.recv(16)
            reference = (_on_cpu_s(pids) - before) / 2.0 * 100
        for conn in conns:
            conn.close()
    summary = sampler.summary()
    assert summary is not None and summary.threads_max >= 61
    assert reference > 1.0  # the children did work
    # Same tree, same time: the sampler sees most of what the kernel counted.
    assert summary.cpu_percent_mean > 0.5 * reference, (summary, reference)


def test_descendants_are_the_tree_psutil_finds_and_an_excluded_branch_is_left_out() -> None:
    """The tree is read from /proc/PID/task/TID/children, not from every process on the
    machine; it is the same tree psutil finds, grandchildren included."""
    # A child shell with two sleeping children of its own, and a lone sleeper beside it.
    branch = subprocess.Popen(
        ["sh", "-c", "sleep 30 & sleep 30 & echo up; wait"], stdout=subprocess.PIPE
    )
    lone = subprocess.Popen(["sleep", "30"])
    try:
        assert branch.stdout is not None and branch.stdout.readline() == b"up\n"
        me = os.getpid()
        found = descendants(me)
        assert sorted(found) == sorted(p.pid for p in psutil.Process(me).children(recursive=True))
        assert {branch.pid, lone.pid} <= set(found) and len(descendants(branch.pid)) == 2
        sampled = {p.pid for p in TreeSampler(me, exclude=branch.pid)._tree()}
        assert me in sampled and lone.pid in sampled
        assert sampled.isdisjoint({branch.pid, *descendants(branch.pid)})
    finally:
        for proc in (branch, lone):
            for kid in descendants(proc.pid):
                os.kill(kid, 9)
            proc.kill()
            proc.wait()


def test_a_tree_slow_to_read_is_read_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read that costs 20 ms of the sampling thread's CPU, at a 0.05 s interval, would
    take 40 % of a core; the sampler waits 50 times its cost instead (MAX_SAMPLING_SHARE),
    and a window's summary still finds the samples around it."""
    from sockbench.engine.io import sampling

    read = TreeSampler._read

    def slow(self: TreeSampler) -> object:
        spent = time.thread_time() + 0.02
        while time.thread_time() < spent:
            pass
        return read(self)

    monkeypatch.setattr(TreeSampler, "_read", slow)
    start = time.monotonic_ns()
    with TreeSampler(os.getpid(), interval_s=0.05) as sampler:
        time.sleep(1.5)
    assert sampler.longest_wait_s >= 0.02 / sampling.MAX_SAMPLING_SHARE >= 0.4
    assert 1 <= len(sampler.samples) <= 5  # not the 30 of a 0.05 s interval
    assert sampler.summary(start, start + 10**9) is not None
