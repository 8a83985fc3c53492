"""``--cluster``: join a Ray cluster and place the workers there, importing Ray only then."""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any

from sockbench.core.clocks import uncertainty_too_large
from sockbench.core.spec.run import RunSpec
from sockbench.core.warning import RunWarning, WarningKind
from sockbench.endpoints import Endpoint
from sockbench.engine.backends import WorkerBackend
from sockbench.errors import ConfigError, SockbenchError, TargetError

if TYPE_CHECKING:
    from sockbench.engine.backends.ray_actors import RayWorkers

INSTALL_HINT = "pip install ray"  # the ray extra; sockbench is installed from a checkout
#: Read by Ray when it is imported: "0" keeps a loopback address loopback. Ray otherwise
#: swaps 127.0.0.1 for this host's outward address, where a loopback head never answers.
KEEP_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
JOIN_POLL_S = 0.05  # how soon a signal or the deadline is seen while joining
JOIN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class JoinInterrupted(SockbenchError):
    """SIGINT or SIGTERM while joining the cluster: nothing ran; 128 + the signal."""

    def __init__(self, cluster: str, signum: int) -> None:
        super().__init__(
            f"--cluster {cluster}: interrupted ({signal.Signals(signum).name}) while joining "
            "the Ray cluster; nothing ran"
        )
        self.exit_code = 128 + signum


def require_ray(cluster: str | None = None) -> None:
    """Fail before anything starts when ``--cluster`` is given and Ray is not installed."""
    _ray_actors(cluster)


def head_address(cluster: str) -> tuple[str, int] | None:
    """``ray:HOST:PORT``'s (host, port); None for ``ray`` (this host's running cluster)."""
    _, _, address = cluster.partition(":")
    if not address:
        return None
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ray_actors(cluster: str | None = None) -> ModuleType:
    head = head_address(cluster) if cluster else None
    if head and is_loopback(head[0]) and "ray" not in sys.modules:
        os.environ[KEEP_LOOPBACK_ENV] = "0"  # before Ray is imported: it reads it then
    try:
        from sockbench.engine.backends import ray_actors
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "ray":
            raise
        raise ConfigError(
            f"--cluster ray needs Ray, which is not installed here: {INSTALL_HINT}"
        ) from None
    return ray_actors


@contextmanager
def open_cluster(
    spec: RunSpec, endpoint: Endpoint, clock_shift_ns: Mapping[int, int] | None = None
) -> Iterator[tuple[RunSpec, RayWorkers]]:
    """Join ``--cluster``; yield the spec with its worker count resolved and the backend.

    ``--workers auto`` is one worker per CPU the cluster offers (at most one per client).
    """
    cluster = spec.generator.cluster
    assert cluster is not None
    ray_actors = _ray_actors(cluster)
    _join(ray_actors, cluster, spec.generator.cluster_timeout_s)
    cpus = ray_actors.cluster_cpus()
    workers = spec.sizing.workers or max(1, min(cpus, spec.load.clients))
    if workers > cpus:
        raise ConfigError(
            f"--workers {workers} is more than the {cpus} CPUs the Ray cluster offers "
            "(one per worker); lower --workers or add nodes"
        )
    spec = spec.with_workers(workers)
    with ray_actors.place_workers(spec, endpoint, workers, clock_shift_ns) as backend:
        yield spec, backend


def _join(ray_actors: ModuleType, cluster: str, timeout_s: float) -> None:
    """``ray_actors.join`` on a thread of its own, waited for at most ``timeout_s``.

    Ray connects in C++ and retries an absent head for minutes, holding the thread that
    asked; from here the main thread stays free: SIGINT or SIGTERM ends the join at once
    (:class:`JoinInterrupted`), and the deadline is one line. A join left behind dies
    with the process, which ends on either.
    """
    finished = threading.Event()
    failures: list[BaseException] = []

    def attempt() -> None:
        try:
            ray_actors.join(cluster, timeout_s)
        except BaseException as exc:  # handed to the main thread
            failures.append(exc)
        finally:
            finished.set()

    deadline = time.monotonic() + timeout_s
    with _signals_noted() as received:
        threading.Thread(target=attempt, name="sockbench-ray-join", daemon=True).start()
        while not finished.wait(JOIN_POLL_S):
            if received:
                raise JoinInterrupted(cluster, received[0])
            if time.monotonic() >= deadline:
                raise TargetError(
                    f"--cluster {cluster}: could not join the Ray cluster within {timeout_s:g} s "
                    "(--cluster-timeout): is its head at that address, and this host one of "
                    "its nodes?"
                )
        if received:  # it came as the join ended: the user still asked to stop
            raise JoinInterrupted(cluster, received[0])
    if failures:
        raise failures[0]


@contextmanager
def _signals_noted() -> Iterator[list[int]]:
    """SIGINT/SIGTERM noted in the list while the block runs (on the main thread only)."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in JOIN_SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def worker_names(backend: WorkerBackend | None) -> dict[int, str] | None:
    """The node each worker ran on, for naming the ones that died (cluster backends)."""
    where: list[tuple[str, str]] | None = getattr(backend, "where", None)
    return {i: f"{host} ({node[:8]})" for i, (node, host) in enumerate(where)} if where else None


def node_summary(
    generator: dict[str, Any] | None,
    nodes: list[dict[str, Any]],
    backend: WorkerBackend | None,
    warmup_s: float,
) -> tuple[dict[str, Any], list[RunWarning]]:
    """The result's ``generator`` for a cluster run, and the warnings about its nodes.

    ``generator`` keeps the coordinator's own resources; saturation is judged per node.
    A node that left the cluster during the run (its raylet died) is a ``degraded``
    warning: the run that otherwise completed is then marked degraded.
    """
    summary = {
        **(generator or {}),
        "workers": sum(n["workers"] for n in nodes),
        "saturated": any(n["saturated"] for n in nodes),
        "cluster_setup_s": round(getattr(backend, "setup_s", 0.0), 3),
        "nodes": nodes,
    }
    return summary, [*_lost_warnings(backend, nodes), *_node_warnings(nodes, warmup_s)]


def _lost_warnings(backend: WorkerBackend | None, nodes: list[dict[str, Any]]) -> list[RunWarning]:
    """A node whose raylet died: its workers either measured to the end (Ray could not
    stop them: the run is degraded, their numbers kept) or died with it (worker_failed)."""
    lost: list[tuple[str, str]] = getattr(backend, "lost", None) or []
    died = {n["node_id"] for n in nodes if n["failed_workers"]}
    advice = "restart Ray on that node (ray start --address HEAD:PORT) before the next run"
    out = []
    for node, host in lost:
        name = f"node {host} ({node[:8]}) left the Ray cluster during the run (its raylet died)"
        if node in died:
            out.append(RunWarning(WarningKind.WORKER_DIED, name, advice))
        else:
            out.append(
                RunWarning(
                    WarningKind.DEGRADED,
                    f"the run is marked degraded: {name}; its workers measured to the end, "
                    "are counted, and then stopped themselves",
                    advice,
                )
            )
    return out


def _node_warnings(nodes: list[dict[str, Any]], warmup_s: float) -> list[RunWarning]:
    out = []
    for n in nodes:
        name = f"node {n['host']} ({n['node_id'][:8]})"
        if n["saturated"]:
            out.append(
                RunWarning(
                    WarningKind.GENERATOR_SATURATED,
                    f"{name} used {n['cpu_percent_mean']:.0f}% CPU with {n['workers']} "
                    "worker(s): it measured itself as much as the server",
                    "add nodes, or lower --clients or --rate",
                )
            )
        if uncertainty_too_large(int(n["clock_uncertainty_us"] * 1e3), warmup_s):
            out.append(
                RunWarning(
                    WarningKind.CLOCK_UNCERTAIN,
                    f"{name}'s clock offset is known only to ±{n['clock_uncertainty_us']:.0f} µs, "
                    f"over 1% of the {warmup_s:g} s warm-up: its window may start that far "
                    "from the others'",
                    "lengthen --warmup, or run the coordinator closer to the nodes",
                )
            )
    return out
