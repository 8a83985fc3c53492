"""A whole run: start or check the server, drive the clients, build the result.

Writing the result is the caller's (the CLI's, through :mod:`sockbench.report.files`),
so a signal during the write meets the same handler as one during the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from sockbench.config import RunConfig
from sockbench.core.degraded import degraded_reason
from sockbench.core.forecast import predicted_warnings
from sockbench.core.progress import ProgressFn
from sockbench.core.result import Measurement, build_result, run_warnings
from sockbench.core.status import RunStatus, result_exit_code
from sockbench.core.warning import RunWarning, WarningKind
from sockbench.endpoints import Endpoint
from sockbench.engine.backends import WorkerBackend
from sockbench.engine.cluster import node_summary, open_cluster, require_ray, worker_names
from sockbench.engine.coordinator import coordinate
from sockbench.engine.interrupts import Interrupts
from sockbench.engine.limits import check_descriptors
from sockbench.engine.preflight import check_target
from sockbench.engine.sampling import TreeSampler
from sockbench.engine.worker import Window
from sockbench.environment import collect_environment
from sockbench.machine import read_machine
from sockbench.servers.external import ExternalServer, ServerLogs, open_external
from sockbench.servers.launcher import ServerProcess, open_server

log = logging.getLogger(__name__)
PRIVATE_PREFIX = "sockbench-"
_PRIVATE_NAME = re.compile(rf"^{PRIVATE_PREFIX}(\d+)-")
SATURATION = 0.9  # of the generator's CPU capacity


@dataclass(frozen=True)
class RunOutcome:
    result: dict[str, Any]
    server_logs: ServerLogs | None  # an external server's, until the caller keeps them
    exit_code: int
    folder: Path | None = None  # set by whoever saves the result (report.files)


@contextlib.contextmanager
def _private_dir() -> Iterator[str]:
    """A short private directory for Unix socket paths, removed however the run ends
    (except by SIGKILL: :func:`remove_stale_dirs` cleans those up on a later run)."""
    remove_stale_dirs()
    with tempfile.TemporaryDirectory(prefix=f"{PRIVATE_PREFIX}{os.getpid()}-") as path:
        yield path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_dirs(base: str | None = None) -> list[str]:
    """Remove our private dirs whose run is gone (named with its pid, owned by us)."""
    base = base or tempfile.gettempdir()
    removed: list[str] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        match = _PRIVATE_NAME.match(entry.name)
        if not match or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except OSError:
            continue
        if not _alive(int(match.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


def _embedded_bind(config: RunConfig, private: str) -> Endpoint:
    if config.proto.is_unix:
        return Endpoint(config.proto, path=f"{private}/server.sock")
    return Endpoint(config.proto, "127.0.0.1", 0)


def _generator_summary(
    sampler: TreeSampler, window: Window | None, workers: int, cores: int
) -> dict[str, Any] | None:
    """The generator's own CPU, and whether it ran out of it (then it measured itself)."""
    summary = sampler.summary(*_bounds(window))
    if summary is None:
        return None
    # Each worker is one trio thread: it saturates at one core, whatever the machine has.
    capacity = 100.0 * min(workers, cores)
    return {
        **summary.to_json(),
        "workers": workers,
        "cores": cores,
        "saturated": summary.cpu_percent_mean >= SATURATION * capacity,
    }


def _wall_clock(window: Window | None) -> float | None:
    """``time.time()`` of the start of measurement (for the interval log's StartTime)."""
    if window is None:
        return None
    return round(time.time() - (time.monotonic_ns() - window.measure_start_ns) / 1e9, 3)


def _bounds(window: Window | None) -> tuple[int, int]:
    return (window.measure_start_ns, window.measure_end_ns) if window else (0, 2**63)


def _saturation_warning(generator: dict[str, Any]) -> RunWarning:
    return RunWarning(
        WarningKind.GENERATOR_SATURATED,
        f"the load generator used {generator['cpu_percent_mean']:.0f}% CPU with "
        f"{generator['workers']} worker(s) on {generator['cores']} core(s): this run measured "
        "the client as much as the server",
        "add --workers (and cores), or lower --clients or --rate",
    )


def run(
    config: RunConfig,
    *,
    command: str,
    progress: ProgressFn | None = None,
    interrupts: Interrupts | None = None,
    warn: Callable[[RunWarning], None] | None = None,
) -> RunOutcome:
    """Run the benchmark ``config`` describes; the result is returned, not written.

    ``progress`` is called from the run's loop about once per interval with a
    :class:`~sockbench.core.progress.Tick`; it must return quickly. ``interrupts``,
    installed by the caller, counts SIGINT/SIGTERM for the whole run (a signal that
    came while the server started stops the run as soon as it begins). Without one, the
    run installs its own for its length. ``warn`` gets the warnings the settings predict
    (:mod:`sockbench.core.forecast`) once the server is up or the target answered, before
    load; they are kept in the result either way.
    """
    if interrupts is None:
        own = Interrupts()
        with own.installed():
            return run(config, command=command, progress=progress, interrupts=own, warn=warn)
    if config.cluster:
        require_ray()  # before the server starts or anything is said
    else:  # a cluster's nodes have their own limits
        check_descriptors(-(-config.clients // config.workers))
    if config.client_cpus:
        os.sched_setaffinity(0, config.client_cpus)
    cores = len(os.sched_getaffinity(0))
    started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    environment = collect_environment()
    server_resources: dict[str, Any] | None = None
    logs = ServerLogs(config.server_logs) if config.external else None
    with contextlib.ExitStack() as stack:
        private = stack.enter_context(_private_dir())
        server: ServerProcess | ExternalServer | None = None
        spec = config.server_spec
        if config.external is not None and logs is not None:
            server = stack.enter_context(
                open_external(
                    config.external, _embedded_bind(config, private), logs=logs,
                    cpus=config.server_cpus,
                )
            )  # fmt: skip
            endpoint = server.endpoint
            server_sampler = stack.enter_context(TreeSampler(server.pid))
        elif spec is not None:
            server = stack.enter_context(open_server(spec, _embedded_bind(config, private)))
            endpoint = server.endpoint
            server_sampler = stack.enter_context(TreeSampler(server.pid))
        else:
            assert config.target is not None
            endpoint = config.target
            if not config.cluster:  # a cluster checks the target from every node
                log.info("preflight: checking that %s answers", endpoint)
                check_target(endpoint)
        # Said once the input is known good (server up, target answering), before load.
        predicted = predicted_warnings(config.to_json(), read_machine())
        if warn is not None:
            for warning in predicted:
                warn(warning)
        backend: WorkerBackend | None = None
        if config.cluster:
            config, backend = stack.enter_context(open_cluster(config, endpoint))
        generator_sampler = stack.enter_context(
            TreeSampler(os.getpid(), exclude=server.pid if server else None)
        )
        watch = server
        settled = config
        outcome = trio.run(
            lambda: coordinate(
                settled,
                endpoint,
                workers=settled.workers,
                server_died=(lambda: watch.returncode() is not None) if watch else None,
                reply_dir=private,
                progress=progress,
                interrupts=interrupts,
                backend=backend,
            )
        )
        if server is not None:
            summary = server_sampler.summary(*_bounds(outcome.window))
            server_resources = summary.to_json() if summary else None
    log.info("run %s after %.2f s measured", outcome.status, outcome.measured_s)
    generator = _generator_summary(generator_sampler, outcome.window, outcome.workers, cores)
    tally = outcome.tally
    status = outcome.status
    degraded = degraded_reason(tally) if status == RunStatus.COMPLETED else None
    if degraded is not None:
        status = RunStatus.DEGRADED
    warnings = [
        *predicted,
        *run_warnings(tally, status, outcome.failed_workers, worker_names(backend)),
    ]
    if degraded is not None:
        warnings.insert(
            len(predicted),
            RunWarning(
                WarningKind.DEGRADED,
                f"the run is marked degraded: {degraded}",
                "check the target: it died, stopped, or answered nothing usable",
            ),
        )
    if outcome.nodes is not None:
        generator, node_warnings = node_summary(generator, outcome.nodes, backend, config.warmup_s)
        warnings += node_warnings
    elif generator and generator["saturated"]:
        warnings.append(_saturation_warning(generator))
    external = server.to_json() if isinstance(server, ExternalServer) else {}
    if "error" in external:
        warnings.append(RunWarning(WarningKind.SERVER_DIED, external["error"]))
    result = build_result(
        Measurement(
            config=config.to_json(),
            command=command,
            environment=environment,
            server={
                "model": config.server_model if server else None,
                "target": endpoint.url(),
                "cpus": sorted(config.server_cpus) or None,
                **external,
            },
            started_at=started_at,
            duration_s=outcome.measured_s,
            status=status,
            tally=tally,
            warnings=warnings,
            server_resources=server_resources,
            generator=generator,
            measurement_started_at_s=_wall_clock(outcome.window),
        )
    )
    code = result_exit_code(result)
    if status == RunStatus.INTERRUPTED and interrupts.exit_code:
        code = interrupts.exit_code  # 143 for SIGTERM, as a shell reports it
    return RunOutcome(result, logs, code)
