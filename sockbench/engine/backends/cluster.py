"""``--cluster``: join a Ray cluster and place the workers there, importing Ray only then."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sockbench.core.clocks import uncertainty_too_large
from sockbench.core.spec.run import RunSpec
from sockbench.core.warning import RunWarning, WarningKind
from sockbench.endpoints import Endpoint
from sockbench.engine.backends import WorkerBackend
from sockbench.errors import ConfigError

if TYPE_CHECKING:
    from sockbench.engine.backends.ray_actors import RayWorkers

INSTALL_HINT = "pip install 'sockbench[ray]'"


def require_ray() -> None:
    """Fail before anything starts when ``--cluster`` is given and Ray is not installed."""
    _ray_actors()


def _ray_actors() -> ModuleType:
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
    assert spec.generator.cluster is not None
    ray_actors = _ray_actors()
    ray_actors.join(spec.generator.cluster)
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
    """
    summary = {
        **(generator or {}),
        "workers": sum(n["workers"] for n in nodes),
        "saturated": any(n["saturated"] for n in nodes),
        "cluster_setup_s": round(getattr(backend, "setup_s", 0.0), 3),
        "nodes": nodes,
    }
    return summary, _node_warnings(nodes, warmup_s)


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
