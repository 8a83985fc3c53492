"""``--cluster``: join a Ray cluster and place the workers there, importing Ray only then."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING

from sockbench.config import RunConfig
from sockbench.endpoints import Endpoint
from sockbench.errors import ConfigError

if TYPE_CHECKING:
    from sockbench.engine.ray_workers import RayWorkers

INSTALL_HINT = "pip install 'sockbench[ray]'"


def _ray_workers() -> ModuleType:
    try:
        from sockbench.engine import ray_workers
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "ray":
            raise
        raise ConfigError(
            f"--cluster ray needs Ray, which is not installed here: {INSTALL_HINT}"
        ) from None
    return ray_workers


@contextmanager
def open_cluster(
    config: RunConfig, endpoint: Endpoint, clock_shift_ns: Mapping[int, int] | None = None
) -> Iterator[tuple[RunConfig, RayWorkers]]:
    """Join ``config.cluster``; yield the config with its worker count resolved and the backend.

    ``--workers auto`` is one worker per CPU the cluster offers (at most one per client).
    """
    assert config.cluster is not None
    ray_workers = _ray_workers()
    ray_workers.join(config.cluster)
    cpus = ray_workers.cluster_cpus()
    workers = config.workers or max(1, min(cpus, config.clients))
    if workers > cpus:
        raise ConfigError(
            f"--workers {workers} is more than the {cpus} CPUs the Ray cluster offers "
            "(one per worker); lower --workers or add nodes"
        )
    config = dataclasses.replace(config, workers=workers)
    with ray_workers.place_workers(config, endpoint, workers, clock_shift_ns) as backend:
        yield config, backend
