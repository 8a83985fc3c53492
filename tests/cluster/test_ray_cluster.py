"""Workers as Ray actors on a local 3-node cluster: placement, exact merges, clocks, faults."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import trio

from sockbench.core.progress import Tick
from sockbench.core.spec.run import RunSpec
from sockbench.core.spec.server import Target
from sockbench.core.warmup import MIN_ROWS
from sockbench.endpoints import Endpoint
from sockbench.engine.backends.cluster import KEEP_LOOPBACK_ENV, open_cluster
from sockbench.engine.orchestration.coordinator import DriveOutcome, coordinate
from sockbench.engine.orchestration.runner import run
from sockbench.errors import TargetError
from sockbench.machine import build_run_spec
from tests.cluster.conftest import NODES
from tests.support.counting_echo import CountingEcho
from tests.support.schema import validate_result
from tests.support.settled_warmup import settle_at_the_minimum

pytestmark = pytest.mark.e2e  # a Ray cluster, real processes and sockets (make unit skips it)

PAYLOAD = 64
CLIENTS = 12
SHIFT_NS = 7_000_000_000  # node clocks 7 s ahead: a window not translated would miss it


@pytest.fixture(scope="module")
def echo() -> Iterator[CountingEcho]:
    with CountingEcho(PAYLOAD) as server:
        yield server


def _config(address: str, port: int, **kw: Any) -> RunSpec:
    options: dict[str, Any] = dict(
        proto="", clients=CLIENTS, duration_s=1.0, warmup_s=0.5, payload=PAYLOAD, timeout_s=1.0,
        target=f"tcp://127.0.0.1:{port}", server_model=None, out_dir=None, workers="auto",
        cluster=f"ray:{address}",
    )  # fmt: skip
    return build_run_spec({**options, **kw})


def _drive(
    config: RunSpec, shifts: dict[int, int] | None = None, **kw: Any
) -> tuple[DriveOutcome, Any]:
    assert isinstance(config.server, Target)
    endpoint: Endpoint = config.server.endpoint
    with open_cluster(config, endpoint, shifts) as (settled, backend):
        outcome = trio.run(
            functools.partial(
                coordinate, settled, endpoint, workers=settled.sizing.workers, backend=backend, **kw
            )
        )
    return outcome, backend


def test_workers_land_on_every_node_and_add_up(ray_cluster: str, echo: CountingEcho) -> None:
    ticks: list[Tick] = []
    outcome, backend = _drive(_config(ray_cluster, echo.port), progress=ticks.append)
    assert outcome.status == "completed"
    assert outcome.workers == NODES  # --workers auto: one per CPU of the cluster
    assert outcome.nodes is not None
    assert len({n["node_id"] for n in outcome.nodes}) == NODES
    assert {n["workers"] for n in outcome.nodes} == {1}
    tally = outcome.tally
    assert sum(n["requests"] for n in outcome.nodes) == tally.requests > 0
    assert sum(n["clients"] for n in outcome.nodes) == CLIENTS == tally.connections
    assert tally.errors == {}
    # The server's own count of replies sent inside the window differs from the
    # generator's only by requests in flight at either edge (one per client per edge),
    # and by what a node sent in the error of its clock's offset at either edge: a node
    # on this host has offset 0, estimated within its uncertainty.
    window = outcome.window
    assert window is not None
    served = echo.replies_between(window.measure_start_ns, window.measure_end_ns)
    length_us = (window.measure_end_ns - window.measure_start_ns) / 1000
    clock_slop = sum(
        2 * n["requests"] * n["clock_uncertainty_us"] / length_us for n in outcome.nodes
    )
    assert abs(served - tally.requests) <= 2 * CLIENTS + clock_slop
    assert backend.setup_s > 0
    # --metrics-port's node label: each interval's rows merged per node add up to it.
    measured = [t for t in ticks if t.row is not None]
    assert measured
    for tick in measured:
        assert tick.row is not None
        assert len(tick.by_node) == NODES  # a worker on each node
        assert sum(row.requests for _, row in tick.by_node) == tick.row.requests
    assert {node for node, _ in measured[-1].by_node} == {n["node_id"] for n in outcome.nodes}


def test_clock_offset_of_a_shifted_node_is_found(ray_cluster: str, echo: CountingEcho) -> None:
    outcome, backend = _drive(_config(ray_cluster, echo.port), shifts={1: SHIFT_NS})
    shifted_node = backend.where[1][0]
    for node, clock in backend.clocks.items():
        true_offset = SHIFT_NS if node == shifted_node else 0  # one host: one real clock
        assert abs(clock.offset_ns - true_offset) <= clock.uncertainty_ns
        assert 0 < clock.uncertainty_ns < 50_000_000
    # The shifted node got its window in its own clock, so it measured like the others.
    assert outcome.status == "completed"
    assert outcome.nodes is not None
    assert all(n["requests"] > 0 for n in outcome.nodes)
    row = next(n for n in outcome.nodes if n["node_id"] == shifted_node)
    assert abs(row["clock_offset_us"] * 1000 - SHIFT_NS) <= row["clock_uncertainty_us"] * 1000 + 1


def _actor_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any("ray::WorkerActor" in part for part in proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def _wait_until_no_actors(timeout_s: float = 30.0) -> bool:
    """Earlier runs' actors are killed asynchronously: wait until they are gone."""
    deadline = time.monotonic() + timeout_s
    while _actor_processes():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_killed_actor_keeps_the_other_nodes(ray_cluster: str, echo: CountingEcho) -> None:
    assert _wait_until_no_actors()
    killed: list[int] = []

    def kill_one(tick: Tick) -> None:
        if tick.phase == "measuring" and not killed:
            victim = _actor_processes()[0]
            victim.kill()
            killed.append(victim.pid)

    config = _config(ray_cluster, echo.port, duration_s=3.0, interval_s=0.5)
    outcome = run(config, command="test", progress=kill_one)
    result = validate_result(outcome.result)
    assert killed
    assert result["status"] == "worker_failed"
    nodes = result["generator"]["nodes"]
    dead = [n for n in nodes if n["failed_workers"]]
    assert len(dead) == 1
    alive = [n for n in nodes if not n["failed_workers"]]
    assert len(alive) == NODES - 1 and all(n["requests"] > 0 for n in alive)
    assert result["totals"]["requests"] == sum(n["requests"] for n in nodes)
    died = [w for w in result["warnings"] if "died during the run" in w]
    assert died and f"({dead[0]['node_id'][:8]})" in died[0]


def test_a_target_no_node_reaches_is_one_line_before_load(ray_cluster: str) -> None:
    with CountingEcho(PAYLOAD) as server:
        port = server.port  # closed below: nothing listens there any more
    config = _config(ray_cluster, port)
    assert isinstance(config.server, Target)
    unreachable = r"^from node \S+ \([0-9a-f]{8}\): cannot connect"
    with (
        pytest.raises(TargetError, match=unreachable),
        open_cluster(config, config.server.endpoint),
    ):
        pytest.fail("placed workers for an unreachable target")


def test_compare_over_the_cluster(
    ray_cluster: str, sockbench_cmd: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    done = subprocess.run(
        [*sockbench_cmd, "compare", "--server", "asyncio,selectors", "--proto", "tcp",
         "--clients", "3", "--duration", "0.5", "--warmup", "0.3", "--cluster",
         f"ray:{ray_cluster}", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "results.json").read_text())
    assert len(doc["cells"]) == 2
    for cell in doc["cells"]:
        validate_result(cell)
        nodes = cell["generator"]["nodes"]
        assert len({n["node_id"] for n in nodes}) == NODES
        assert sum(n["requests"] for n in nodes) == cell["totals"]["requests"] > 0


def test_ctrl_c_stops_every_actor(
    ray_cluster: str, echo: CountingEcho, sockbench_cmd: list[str], tmp_path: Path
) -> None:
    assert _wait_until_no_actors()
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [*sockbench_cmd, "run", "--cluster", f"ray:{ray_cluster}", "--target",
         f"tcp://127.0.0.1:{echo.port}", "--clients", "6", "--duration", "60", "--warmup", "0.2",
         "--json", str(out), "--out", ""],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(_actor_processes()) < NODES and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_actor_processes()) == NODES, "the actors never started"
        before = len(echo.sent_ns)
        while len(echo.sent_ns) == before and time.monotonic() < deadline:
            time.sleep(0.1)  # wait for load to flow
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert validate_result(json.loads(out.read_text()))["status"] == "interrupted"
    assert _wait_until_no_actors(), "actors outlived the interrupted run"


def test_the_command_line_joins_a_loopback_cluster(
    ray_cluster: str, echo: CountingEcho, sockbench_cmd: list[str], tmp_path: Path
) -> None:
    # Without what conftest sets for this process: sockbench keeps a loopback head
    # loopback itself (Ray would swap 127.0.0.1 for the outward address, and hang).
    env = {k: v for k, v in os.environ.items() if k != KEEP_LOOPBACK_ENV}
    out = tmp_path / "r.json"
    done = subprocess.run(
        [*sockbench_cmd, "run", "--cluster", f"ray:{ray_cluster}", "--target",
         f"tcp://127.0.0.1:{echo.port}", "--clients", "6", "--duration", "0.5", "--warmup", "0",
         "--json", str(out), "--out", "", "--quiet"],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = validate_result(json.loads(out.read_text()))
    assert result["status"] == "completed"
    nodes = result["generator"]["nodes"]
    assert len({n["node_id"] for n in nodes}) == NODES
    assert sum(n["requests"] for n in nodes) == result["totals"]["requests"] > 0
    assert sum(n["clients"] for n in nodes) == 6


# It takes a node out of the shared cluster for good: conftest.TAKES_A_NODE runs it last.
def test_a_node_whose_raylet_dies_degrades_the_run_and_its_actor_stops(
    local_cluster: Any, echo: CountingEcho
) -> None:
    assert _wait_until_no_actors()
    victim = next(iter(local_cluster.worker_nodes))  # not the head: the cluster lives on
    raylet = victim.all_processes["raylet"][0].process
    killed: list[int] = []

    def kill_raylet(tick: Tick) -> None:
        if tick.phase == "measuring" and not killed:
            raylet.kill()
            killed.append(raylet.pid)

    config = _config(local_cluster.address, echo.port, duration_s=1.5, interval_s=0.5)
    outcome = run(config, command="test", progress=kill_raylet)
    result = validate_result(outcome.result)
    assert killed
    assert result["status"] == "degraded"
    nodes = result["generator"]["nodes"]
    # Its actor outlived the raylet and measured to the end: its numbers are kept.
    assert len(nodes) == NODES and all(n["requests"] > 0 and not n["failed_workers"] for n in nodes)
    assert result["totals"]["requests"] == sum(n["requests"] for n in nodes)
    left = [w for w in result["warnings"] if "left the Ray cluster" in w]
    assert len(left) == 1 and f"({victim.node_id[:8]})" in left[0]
    # Ray can no longer kill it (its raylet is gone): it stopped itself once done.
    assert _wait_until_no_actors(), "an actor outlived the run"


def test_until_ends_every_node_on_the_same_boundary(ray_cluster: str, echo: CountingEcho) -> None:
    """--until on a cluster: the stop is told to each actor in its node's clock (node 1
    runs 7 s ahead), so every node's window ends on the boundary the rule chose."""
    config = _config(ray_cluster, echo.port, duration_s=20.0, interval_s=0.2, until="p50 ±50%")
    outcome, _ = _drive(config, shifts={1: SHIFT_NS})
    assert outcome.status == "completed"
    assert outcome.until_stop is not None and outcome.until_stop.stop
    assert outcome.window is not None
    # Ended by the rule, before --duration: when is the rows' noise's (a fresh clone's
    # run needed 10.6 s for p50 ±50 %, past the half of 20 s this bound once asked).
    assert outcome.measured_s < 20.0 - 1.0
    end_s = (outcome.window.measure_end_ns - outcome.window.measure_start_ns) / 1e9
    assert end_s == pytest.approx(round(end_s / 0.2) * 0.2, abs=1e-6)  # on the grid
    assert outcome.nodes is not None and all(n["requests"] > 0 for n in outcome.nodes)
    # Every worker ended there (one told late would end when told: measured_s says so).
    assert outcome.tally.intervals[-1].t == pytest.approx(end_s) == outcome.measured_s
    assert outcome.tally.balanced and outcome.tally.in_flight == 0


def test_warmup_auto_starts_every_node_on_the_same_boundary(
    ray_cluster: str, echo: CountingEcho, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--warmup auto on a cluster: the warm-up rows of every node merge per interval, and
    the start is told to each actor in its node's clock (node 1 runs 7 s ahead), so every
    node's window starts on the warm-up's grid, after the rows the rule read, and lasts
    --duration."""
    settle_at_the_minimum(monkeypatch)  # this test is of the plumbing, not the rule
    config = _config(ray_cluster, echo.port, duration_s=0.5, interval_s=0.1, warmup_s="auto:5s")
    outcome, _ = _drive(config, shifts={1: SHIFT_NS})
    assert outcome.status == "completed"
    warmup, window = outcome.warmup, outcome.window
    assert warmup is not None and window is not None and warmup.settled
    # Decided after 20 rows, started 0.5 s ahead at least (CLUSTER_LEAD_S), on the grid.
    assert MIN_ROWS * 0.1 + 0.5 <= warmup.chosen_s + 1e-9 < 5.0
    assert warmup.chosen_s == pytest.approx(round(warmup.chosen_s / 0.1) * 0.1, abs=1e-6)
    assert len(warmup.rows) == round(warmup.chosen_s / 0.1)  # every row merged, on the grid
    assert outcome.nodes is not None and all(n["requests"] > 0 for n in outcome.nodes)
    assert [round(row.t, 6) for row in outcome.tally.intervals] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert outcome.measured_s == pytest.approx(0.5)
    assert outcome.tally.balanced and outcome.tally.in_flight == 0
