"""What a run's result is built from: its numbers, the generator's CPU, every warning.

Split from :mod:`.runner`, which runs; this judges what was run: whether the target
degraded, whether the generator ran out of CPU (then it measured itself), what the
cluster's nodes and a command that died add.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sockbench.core.degraded import asked_s, degraded_advice, degraded_reason
from sockbench.core.result import Measurement, run_warnings
from sockbench.core.spec.run import RunSpec
from sockbench.core.status import RunStatus
from sockbench.core.warmup import unsettled_warning
from sockbench.core.warning import RunWarning, WarningKind
from sockbench.engine.backends import WorkerBackend
from sockbench.engine.backends.cluster import node_summary, worker_names
from sockbench.engine.io.sampling import TreeSampler
from sockbench.engine.orchestration.coordinator import DriveOutcome
from sockbench.engine.worker.run import Window
from sockbench.servers.chosen import OpenServer

SATURATION = 0.9  # of the generator's CPU capacity


@dataclass(frozen=True)
class Measured:
    """What driving the clients gave: the numbers, and the samplers' view of it."""

    spec: RunSpec  # with a cluster's worker count, once it joined
    drive: DriveOutcome
    server_resources: dict[str, Any] | None
    generator: TreeSampler
    backend: WorkerBackend | None
    target_drops: int | None = None  # UDP: dropped at the target's socket over the run
    accept_queue: dict[str, int] | None = None  # TCP: the target's (core/listen_queue)


def measurement(
    measured: Measured,
    server: OpenServer,
    predicted: list[RunWarning],
    cores: int,
    command: str,
    environment: dict[str, Any],
    started_at: str,
) -> Measurement:
    """What the result is built from: the numbers, their status, and every warning."""
    drive, spec = measured.drive, measured.spec
    generator = _generator_summary(
        measured.generator, drive.window, drive.workers, cores, drive.tally.loop_busy_percent
    )
    status = drive.status
    asked = asked_s(spec.sizing.duration_s, spec.load.requests, drive.until_stop is not None)
    degraded = (
        degraded_reason(drive.tally, asked, drive.measured_s)
        if status == RunStatus.COMPLETED
        else None
    )
    warnings = [*predicted]
    if degraded is not None:
        status = RunStatus.DEGRADED
        warnings.append(
            RunWarning(
                WarningKind.DEGRADED,
                f"the run is marked degraded: {degraded}",
                degraded_advice(drive.tally),
            )
        )
    auto, warmup = spec.load.auto_warmup, drive.warmup
    measured_window = status in (RunStatus.COMPLETED, RunStatus.DEGRADED)
    if auto is not None and warmup is not None and not warmup.settled and measured_window:
        warnings.append(unsettled_warning(auto))
    names = worker_names(measured.backend)
    warnings += run_warnings(
        drive.tally, status, drive.failed_workers, names, silent=drive.silent_workers
    )
    if drive.nodes is not None:
        generator, node_warnings = node_summary(
            generator, drive.nodes, measured.backend, spec.load.warmup_max_s
        )
        warnings += node_warnings
        if status == RunStatus.COMPLETED and any(
            w.kind == WarningKind.DEGRADED for w in node_warnings
        ):
            status = RunStatus.DEGRADED  # a node left the cluster during the run
    elif generator and generator["saturated"]:
        warnings.append(_saturation_warning(generator))
    external = server.to_json()
    if "error" in external:
        warnings.append(RunWarning(WarningKind.SERVER_DIED, external["error"]))
    if "escaped" in external:
        note, advice = external["escaped"].split("; ", 1)
        warnings.append(RunWarning(WarningKind.SERVER_ESCAPED, note, advice))
    return Measurement(
        spec=spec,
        command=command,
        environment=environment,
        server={
            "model": spec.server_name,
            "target": server.endpoint.url(),
            "cpus": sorted(spec.sizing.server_cpus) or None,
            **external,
        },
        started_at=started_at,
        duration_s=drive.measured_s,
        status=status,
        tally=drive.tally,
        warnings=warnings,
        server_resources=measured.server_resources,
        generator=generator,
        measurement_started_at_s=_wall_clock(drive.window),
        until_needed_s=drive.measured_s
        if drive.until_stop is not None and status == RunStatus.COMPLETED
        else None,
        warmup=drive.warmup,
        target_drops=measured.target_drops,
        accept_queue=measured.accept_queue,
    )


def _generator_summary(
    sampler: TreeSampler, window: Window | None, workers: int, cores: int, loop_busy: float
) -> dict[str, Any] | None:
    """The generator's own CPU, and whether it ran out of it (then it measured itself).

    A worker is one thread: it is saturated when its loop is never idle
    (``loop_busy``, the busiest worker's share; timing.LoopClock). Its process's CPU says
    less: it counts the spin before each due time (a full core at 8,000 due times a
    second, far from the limit) and cannot see a loop waiting for a CPU others hold. A
    run measured without the loop's clock (0) is judged by its CPU, as before.
    """
    summary = sampler.summary(*window_bounds(window))
    if summary is None:
        return None
    # Each worker is one trio thread: it saturates at one core, whatever the machine has.
    capacity = 100.0 * min(workers, cores)
    by_cpu = summary.cpu_percent_mean >= SATURATION * capacity
    return {
        **summary.to_json(),
        "loop_busy_percent": loop_busy,
        "workers": workers,
        "cores": cores,
        "saturated": loop_busy >= SATURATION * 100 if loop_busy else by_cpu,
    }


def _wall_clock(window: Window | None) -> float | None:
    """``time.time()`` of the start of measurement (for the interval log's StartTime)."""
    if window is None:
        return None
    return round(time.time() - (time.monotonic_ns() - window.measure_start_ns) / 1e9, 3)


def window_bounds(window: Window | None) -> tuple[int, int]:
    return (window.measure_start_ns, window.measure_end_ns) if window else (0, 2**63)


def _saturation_warning(generator: dict[str, Any]) -> RunWarning:
    loop = generator.get("loop_busy_percent")
    how = (
        f"the load generator's busiest worker was busy {loop:.0f}% of the time"
        if loop
        else f"the load generator used {generator['cpu_percent_mean']:.0f}% CPU"
    )
    return RunWarning(
        WarningKind.GENERATOR_SATURATED,
        f"{how} with {generator['workers']} worker(s) on {generator['cores']} core(s): "
        "this run measured the client as much as the server",
        "add --workers (and cores), or lower --clients or --rate",
    )
