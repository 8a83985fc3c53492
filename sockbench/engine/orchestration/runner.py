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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from sockbench.core.forecast import predicted_warnings
from sockbench.core.listen_queue import run_section
from sockbench.core.progress import ProgressFn, Tick
from sockbench.core.result import build_result
from sockbench.core.socket_drops import drops_between
from sockbench.core.spec.run import RunSpec
from sockbench.core.status import RunStatus, result_exit_code
from sockbench.core.warning import RunWarning
from sockbench.engine.backends import WorkerBackend
from sockbench.engine.backends.cluster import open_cluster, require_ray
from sockbench.engine.io.interrupts import Interrupts
from sockbench.engine.io.kernel_drops import target_counts
from sockbench.engine.io.limits import check_descriptors
from sockbench.engine.io.sampling import TreeSampler
from sockbench.engine.orchestration.coordinator import coordinate
from sockbench.engine.orchestration.measurement import Measured, measurement, window_bounds
from sockbench.environment import collect_environment
from sockbench.servers.chosen import OpenServer, open_chosen
from sockbench.servers.external import ServerLogs
from sockbench.servers.listeners import describe, target_process

log = logging.getLogger(__name__)
PRIVATE_PREFIX = "sockbench-"
_PRIVATE_NAME = re.compile(rf"^{PRIVATE_PREFIX}(\d+)-")


@dataclass(frozen=True)
class RunOutcome:
    result: dict[str, Any]
    server_logs: ServerLogs | None  # an external server's, until the caller keeps them
    exit_code: int
    folder: Path | None = None  # set by whoever saves the result (report.files)


@dataclass(frozen=True)
class KeptServer:
    """A server opened once for several runs (``sweep --keep-server``), with the private
    directory its Unix socket lives in."""

    server: OpenServer
    private: str


@contextlib.contextmanager
def keep_server(spec: RunSpec, interrupts: Interrupts | None = None) -> Iterator[KeptServer]:
    """Open ``spec``'s server for runs to share (:func:`run`'s ``server``); stop it at exit.
    A signal counted by ``interrupts`` while the server starts stops it
    (:class:`~sockbench.servers.external.StartInterrupted`, exit 130/143)."""
    with _private_dir() as private, _open(spec, private, interrupts) as server:
        yield KeptServer(server, private)


def _open(
    spec: RunSpec, private: str, interrupts: Interrupts | None
) -> contextlib.AbstractContextManager[OpenServer]:
    def interrupted() -> int:
        return interrupts.received[0] if interrupts and interrupts.received else 0

    return open_chosen(
        spec.server, spec.proto, private, cpus=spec.sizing.server_cpus,
        preflight=not spec.generator.cluster,  # a cluster checks it from every node
        interrupted=interrupted, tls=spec.tls,
    )  # fmt: skip


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


def run(
    spec: RunSpec,
    *,
    command: str,
    progress: ProgressFn | None = None,
    interrupts: Interrupts | None = None,
    warn: Callable[[RunWarning], None] | None = None,
    server: KeptServer | None = None,
) -> RunOutcome:
    """Run the benchmark ``spec`` describes; the result is returned, not written.

    ``progress`` is called from the run's loop about once per interval with a
    :class:`~sockbench.core.progress.Tick`; it must return quickly. ``interrupts``,
    installed by the caller, counts SIGINT/SIGTERM for the whole run (a signal that
    came while the server started stops the run as soon as it begins). Without one, the
    run installs its own for its length. ``warn`` gets the warnings the settings predict
    (:mod:`sockbench.core.forecast`) once the server is up or the target answered, before
    load; they are kept in the result either way. ``server``: one already open
    (:func:`keep_server`), used and left running; otherwise ``spec``'s is opened for
    this run alone.
    """
    if interrupts is None:
        own = Interrupts()
        with own.installed():
            return run(
                spec, command=command, progress=progress, interrupts=own, warn=warn,
                server=server,
            )  # fmt: skip
    cores = _prepare_generator(spec)
    started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    environment = collect_environment()
    with contextlib.ExitStack() as stack:
        kept = server or stack.enter_context(keep_server(spec, interrupts))
        private, opened = kept.private, kept.server
        # Said once the input is known good (server up, target answering), before load.
        predicted = predicted_warnings(spec)
        if warn is not None:
            for warning in predicted:
                warn(warning)
        measured = _measure(stack, spec, opened, private, progress, interrupts)
    result = build_result(
        measurement(measured, opened, predicted, cores, command, environment, started_at)
    )
    code = result_exit_code(result)
    if result["status"] == RunStatus.INTERRUPTED and interrupts.exit_code:
        code = interrupts.exit_code  # 143 for SIGTERM, as a shell reports it
    return RunOutcome(result, opened.logs if server is None else None, code)


def _prepare_generator(spec: RunSpec) -> int:
    """Check what the generator needs before anything starts, pin it; the cores it has."""
    if spec.generator.cluster:
        require_ray(spec.generator.cluster)  # before the server starts or anything is said
    else:  # a cluster's nodes have their own limits
        check_descriptors(-(-spec.load.clients // spec.sizing.workers))
    if spec.sizing.client_cpus:
        os.sched_setaffinity(0, spec.sizing.client_cpus)
    return len(os.sched_getaffinity(0))


def _with_cpu(
    progress: ProgressFn | None, server: TreeSampler | None, generator: TreeSampler
) -> ProgressFn | None:
    """``progress``, its ticks carrying the latest CPU samples of both sides."""
    if progress is None:
        return None
    view = progress

    def tick(t: Tick) -> None:
        view(
            replace(
                t,
                server_cpu_percent=server.latest_cpu_percent if server else None,
                generator_cpu_percent=generator.latest_cpu_percent,
            )
        )

    return tick


def _measure(
    stack: contextlib.ExitStack,
    spec: RunSpec,
    server: OpenServer,
    private: str,
    progress: ProgressFn | None,
    interrupts: Interrupts,
) -> Measured:
    """Place the workers, drive the clients over the window, sample both sides' CPU."""
    if server.ca_pem is not None:  # --server-tls: trust the model's own CA
        spec = spec.trusting(server.ca_pem)
    process = server.process
    # A target it did not start is sampled too, where its server can be seen (listeners.py).
    sampled = process.pid if process else target_process(server.endpoint)
    server_sampler = stack.enter_context(TreeSampler(sampled)) if sampled else None
    backend: WorkerBackend | None = None
    if spec.generator.cluster:
        spec, backend = stack.enter_context(open_cluster(spec, server.endpoint))
    generator = stack.enter_context(TreeSampler(os.getpid(), exclude=sampled))
    settled = spec
    before = target_counts(server.endpoint)
    drive = trio.run(
        lambda: coordinate(
            settled,
            server.endpoint,
            workers=settled.sizing.workers,
            server_died=server.died if process else None,
            reply_dir=private,
            progress=_with_cpu(progress, server_sampler, generator),
            interrupts=interrupts,
            backend=backend,
        )
    )
    summary = server_sampler.summary(*window_bounds(drive.window)) if server_sampler else None
    resources = summary.to_json() if summary else None
    if resources is not None and process is None and sampled:
        resources["process"] = describe(sampled)  # which one it found
    log.info("run %s after %.2f s measured", drive.status, drive.measured_s)
    after = target_counts(server.endpoint)
    drops = drops_between(before.datagram_drops, after.datagram_drops)
    queue = run_section(before.accept_queue, after.accept_queue)
    return Measured(spec, drive, resources, generator, backend, drops, queue)
