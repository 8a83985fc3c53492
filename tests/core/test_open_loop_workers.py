"""``--workers`` in open loop: no more workers than cores to spin on (issue 32), pure."""

from __future__ import annotations

import pytest

from sockbench.core.forecast import predicted_warnings
from sockbench.core.machine import Machine
from sockbench.core.spec.sizing import SpinCores, spin_cores
from tests.support.specs import spec_of

TWO = frozenset({0, 1})
#: A 16-core host whose affinity mask (a container, taskset) gives this process 2 of them.
MASKED = Machine(TWO, 16, load_average=0.1)
BIG = Machine(frozenset(range(16)), 16, load_average=0.1)


@pytest.mark.parametrize(
    ("server_cpus", "client_cpus", "shared", "count", "counted"),
    [
        ((), (1,), True, 1, "--client-cpus"),  # pinned: all of its CPUs, server or not
        ((0,), (), True, 1, "the affinity mask's 2 CPUs less --server-cpus"),
        ((), (), True, 1, "the affinity mask's 2 CPUs less one for the server on this machine"),
        ((), (), False, 2, "the affinity mask"),  # a remote target takes no core here
        ((0, 1), (), True, 1, "the affinity mask's 2 CPUs less one for the server on this machine"),
    ],
)
def test_spin_cores_counts_what_the_generator_may_use(
    server_cpus: tuple[int, ...],
    client_cpus: tuple[int, ...],
    shared: bool,
    count: int,
    counted: str,
) -> None:
    cores = spin_cores(TWO, server_cpus, client_cpus, shared_with_server=shared)
    assert cores == SpinCores(count, counted)


def test_one_cpu_is_still_one_core() -> None:
    assert spin_cores(frozenset({3}), (), (), shared_with_server=True).count == 1


def _workers(machine: Machine, **options: object) -> int:
    return spec_of({"clients": 5000, **options}, machine).sizing.workers


def test_auto_stops_at_the_cores_in_open_loop_only() -> None:
    """5,000 clients on a 16-core host with a 2-CPU mask: closed loop keeps the old rule
    (half of cpu_count, clients / 500: 8); open loop stops at the mask less the server's
    core (1), or at the generator's pinned CPUs."""
    assert _workers(MASKED) == 8
    assert _workers(MASKED, rate=100_000) == 1
    assert _workers(MASKED, rate=100_000, client_cpus="1", server_cpus="0") == 1
    assert _workers(BIG, rate=100_000) == 8  # 15 cores to spin on: the old rule is lower
    assert _workers(BIG, rate=100_000, client_cpus="0-2") == 3
    remote = {"target": "tcp://10.0.0.9:6379", "allow_remote": True}
    assert _workers(MASKED, rate=100_000, **remote) == 2
    assert spec_of({"clients": 5000}, MASKED).sizing.spin_cores is None


def test_descriptors_still_get_their_workers_and_a_warning() -> None:
    """150 connections per process: 600 open-loop clients need 4 workers whatever the
    cores; the warning says why and what to change."""
    small = Machine(TWO, 2, nofile_limit=200)
    spec = spec_of({"clients": 600, "rate": 1000, "server_model": "prefork"}, small)
    assert spec.sizing.workers == 4
    kinds = [w.kind for w in predicted_warnings(spec)]
    assert "workers_past_cores" in kinds
    [warning] = [w for w in predicted_warnings(spec) if w.kind == "workers_past_cores"]
    assert "--workers auto needs 4 to hold --clients 600" in warning.message
    assert "ulimit -Hn" in warning.advice


def test_asked_past_the_cores_runs_with_advice() -> None:
    spec = spec_of({"clients": 100, "rate": 50_000, "workers": "3"}, MASKED)
    assert spec.sizing.workers == 3  # a warning, not a refusal
    [warning] = predicted_warnings(spec)
    assert warning.kind == "workers_past_cores"
    assert warning.message.startswith(
        "3 open-loop generator processes and 1 core(s) for them to spin on (the affinity "
        "mask's 2 CPUs less one for the server on this machine): --workers 3 asked for them"
    )
    assert warning.advice.startswith("use --workers 1 (auto stops there)")
    one = {"clients": 100, "rate": 50_000, "workers": "1"}
    assert predicted_warnings(spec_of(one, MASKED)) == []
    # closed loop: workers overlap while replies travel, no warning
    assert predicted_warnings(spec_of({"clients": 100, "workers": "3"}, MASKED)) == []
