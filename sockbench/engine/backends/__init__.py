"""Where workers run: the interface the coordinator drives, whatever carries the messages.

Two implementations: child processes on this host over pipes
(:class:`~sockbench.engine.backends.processes.ProcessWorkers`) and Ray actors spread over
a cluster's nodes (:class:`~sockbench.engine.backends.ray_actors.RayWorkers`). A worker
sends :class:`~sockbench.engine.backends.messages.Connected`, then an ``Interval`` per interval as
it measures, and finally ``Done``; the coordinator answers with :meth:`WorkerLink.go` and may call
:meth:`WorkerLink.stop` at any time. The window handed to ``go`` is in the
coordinator's clock; a link to another host translates it to the node's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from sockbench.core.tally import Tally
from sockbench.engine.worker.run import Window, WorkOrder


class WorkerLink(Protocol):
    """One running worker, as the coordinator sees it."""

    async def receive(self) -> object:
        """The worker's next message; EOFError or OSError once the worker is gone."""
        ...

    def go(self, window: Window) -> None:
        """Start loading on ``window`` (coordinator clock). Never raises."""
        ...

    def stop(self) -> None:
        """End the run early; the worker still sends ``done``. Never raises."""
        ...

    def start_at(self, start_ns: int) -> None:
        """Start the window at ``start_ns`` (coordinator clock), before the one handed to
        ``go``, lasting as long (``--warmup auto``). Never raises."""
        ...

    def end_at(self, end_ns: int) -> None:
        """End the window at ``end_ns`` (coordinator clock), before the one handed to
        ``go``, through the window's own end and drain (``--until``). Never raises."""
        ...


class WorkerBackend(Protocol):
    """Starts workers for a run and stops whatever is left of them afterwards."""

    #: How long to wait for workers to report after a stop (shortened by a second signal).
    stop_grace_s: float

    def start(self, orders: Sequence[WorkOrder]) -> AbstractAsyncContextManager[list[WorkerLink]]:
        """One link per order, in order; leaving the context ends every worker."""
        ...

    def nodes(
        self, tallies: Mapping[int, Tally], failed: Sequence[int], window: Window | None
    ) -> list[dict[str, Any]] | None:
        """Per node of a cluster: where the workers ran and what each measured; None locally."""
        ...

    def worker_nodes(self) -> Sequence[str] | None:
        """The node each worker runs on, by index (a cluster node's id); None locally."""
        ...
