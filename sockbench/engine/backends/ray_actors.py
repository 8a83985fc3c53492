"""Workers as Ray actors spread over a cluster's nodes.

Ray places the actors and carries the control messages; the load goes straight
from each node to the target over ordinary sockets. Each actor runs the same
:func:`~sockbench.engine.worker.run.run_worker` as a worker process, in a trio loop
on a thread of its own, so that Ray can call its other methods (go, stop, the
clock) while it loads.

Trade-offs:

- Messages flow back by long polling (``next`` waits up to ``POLL_S`` for
  anything queued): one Ray call per batch rather than per message, at the cost
  of a thread per worker in the coordinator, blocked in ``ray.get``.
- Monotonic clocks differ between hosts, so before load the coordinator measures
  each node's offset (:mod:`sockbench.core.clocks`) and hands each worker the
  window in its node's clock. Nodes on one host share a clock; the estimate is
  then about zero, within its uncertainty.
- ``SPREAD`` asks Ray to put workers on different nodes when it can; with one CPU
  reserved per worker, ``--workers`` cannot exceed the cluster's CPUs.

This module imports Ray: only :mod:`sockbench.engine.backends.cluster` imports it, and only
for ``--cluster``.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import ray
import ray.exceptions
import trio

from sockbench import __version__
from sockbench.core.clocks import ClockOffset, ClockSample, estimate_offset
from sockbench.core.nodes import Seat, node_rows
from sockbench.core.spec.run import RunSpec
from sockbench.core.tally import Tally
from sockbench.endpoints import Endpoint
from sockbench.engine.backends import WorkerLink
from sockbench.engine.backends.cluster import KEEP_LOOPBACK_ENV, head_address, is_loopback
from sockbench.engine.backends.messages import (
    Connected,
    Done,
    Draining,
    Interval,
    ProtocolError,
    WarmupInterval,
)
from sockbench.engine.backends.processes import WORKER_STOP_GRACE_S
from sockbench.engine.io.sampling import TreeSampler
from sockbench.engine.worker.run import Window, WindowMove, WorkOrder, run_worker, tally_of
from sockbench.errors import ConfigError, TargetError
from sockbench.servers.preflight import check_target

log = logging.getLogger(__name__)
POLL_S = 0.5
PLACE_TIMEOUT_S = 60.0
CLOCK_SAMPLES = 8
ACTOR_CONCURRENCY = 4  # the worker's own thread, plus next/go/stop/clock calls
WATCH_S = 0.2  # how often an actor looks whether its node's raylet is still there
#: An actor whose raylet died exits once the coordinator has had this long to read its
#: last message, or once the coordinator has not called it for ORPHAN_S (it is gone).
HANDOVER_S = 1.0
ORPHAN_S = 10.0


def shifted(window: Window, offset_ns: int) -> Window:
    return Window(
        window.start_ns + offset_ns,
        window.measure_start_ns + offset_ns,
        window.measure_end_ns + offset_ns,
    )


def ray_address(cluster: str) -> str:
    """``ray`` joins the running cluster; ``ray:HOST:PORT`` the one at that address."""
    _, _, address = cluster.partition(":")
    return address or "auto"


def join(cluster: str, timeout_s: float) -> None:
    """Connect this process to the cluster (once: later runs reuse the connection).

    The head (named, or the one ``ray`` finds on this host) is asked first, bounded by
    ``timeout_s``, whether it speaks as Ray's GCS does: Ray itself would retry a closed
    port or a wrong server for minutes. A loopback head keeps this process on loopback.
    """
    if ray.is_initialized():
        return
    head = head_address(cluster) or _running_head(cluster)
    if head is not None:
        if is_loopback(head[0]):
            _keep_loopback()
        problem = probe_head(*head, timeout_s)
        if problem:
            raise TargetError(f"--cluster {cluster}: cannot join the Ray cluster: {problem}")
    _errors_to_log()
    try:
        ray.init(
            address=ray_address(cluster),
            logging_level=logging.ERROR,
            log_to_driver=False,
            include_dashboard=False,
        )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TargetError(f"--cluster {cluster}: cannot join the Ray cluster: {first}") from None


def _errors_to_log() -> None:
    """What the cluster reports to this driver (a raylet that died, with its last 20 log
    lines), Ray prints on stdout, into the report or JSON there: it goes to the log."""
    from ray._private import worker as ray_worker

    def to_log(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        for line in data.get("lines", ()):
            log.info("ray (%s): %s", data.get("pid", "?"), line)

    ray_worker.print_to_stdstream = to_log  # looked up on each error by Ray's listener


def _running_head(cluster: str) -> tuple[str, int] | None:
    """The head plain ``ray`` joins, found as Ray finds it (``RAY_ADDRESS``, then the last
    ``ray start`` on this host, then any head running here); None if Ray's way changed."""
    try:
        from ray._private.services import get_ray_address_from_environment

        address = get_ray_address_from_environment("auto", None)
    except ConnectionError:
        raise TargetError(
            f"--cluster {cluster}: no Ray cluster runs on this host; start one "
            "(ray start --head), or name its head: --cluster ray:HOST:PORT"
        ) from None
    except (ImportError, AttributeError, TypeError):
        return None
    if "://" in address:  # a Ray client address: Ray's to judge
        return None
    try:
        return head_address(f"ray:{address}")
    except ValueError:
        return None


def _keep_loopback() -> None:
    """What :func:`~sockbench.engine.backends.cluster.require_ray` sets before Ray is
    imported, for a Ray imported before (its ``ray`` head was not known then)."""
    os.environ[KEEP_LOOPBACK_ENV] = "0"
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False


#: HTTP/2's client preface and an empty SETTINGS frame: a gRPC server (Ray's GCS) answers
#: with a SETTINGS frame of its own (frame type 4 in the 9-byte header).
_H2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_H2_SETTINGS = 4


def probe_head(host: str, port: int, timeout_s: float) -> str | None:
    """None when ``host:port`` answers as a Ray head's GCS (gRPC) does; else what it did."""
    where = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(_H2_HELLO)
            header = b""
            while len(header) < 9:
                got = sock.recv(9 - len(header))
                if not got:
                    break
                header += got
    except TimeoutError:
        return f"nothing answered at {where} within {timeout_s:g} s (--cluster-timeout)"
    except OSError as exc:
        return f"cannot connect to {where}: {exc.strerror or exc}"
    if len(header) < 9 or header[3] != _H2_SETTINGS:
        return f"{where} does not answer as a Ray head (its GCS port, ray start --port) does"
    return None


def cluster_cpus() -> int:
    return int(ray.cluster_resources().get("CPU", 0))


class _QueueControl:
    """The worker's Control inside an actor: messages out through a queue, go and stop in."""

    def __init__(self, outbox: queue.SimpleQueue[tuple[Any, ...]]) -> None:
        self.outbox = outbox
        self.stop = trio.Event()
        self.start = WindowMove()
        self.end = WindowMove()
        self.window: Window | None = None
        self._window_set = trio.Event()

    async def connected(self, connections: int) -> Window:
        self.outbox.put(("connected", connections))
        await self._window_set.wait()
        assert self.window is not None
        return self.window

    def interval(self, row: Any) -> None:
        self.outbox.put(("interval", row))

    def warmup_interval(self, row: Any) -> None:
        self.outbox.put(("warmup_interval", row))

    def draining(self, turn: int, progress: Any) -> None:
        self.outbox.put(("draining", turn, progress))

    def open(self, window: Window) -> None:
        self.window = window
        self._window_set.set()


def _window_of(control: _QueueControl) -> tuple[int, int]:
    """The window the worker measured, in its clock: as handed to it, or moved by the
    coordinator (``--warmup auto``'s start, ``--until``'s end) and as long as asked."""
    window = control.window
    assert window is not None
    start, end = window.measure_start_ns, window.measure_end_ns
    moved_start = control.start.at_ns
    if moved_start is not None and moved_start < start:
        start, end = moved_start, moved_start + end - start
    moved_end = control.end.at_ns
    return start, end if moved_end is None else min(end, moved_end)


class WorkerActor:
    """One worker on a node. ``clock_shift_ns`` shifts every clock read it reports (tests)."""

    def __init__(self, clock_shift_ns: int = 0) -> None:
        self._shift = clock_shift_ns
        self._outbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._control: _QueueControl | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._started = threading.Event()
        self._raylet = os.getppid()  # Ray starts each worker process from its node's raylet
        self._called = time.monotonic()  # the coordinator's last call
        self._handed_over: float | None = None  # when the worker's last message went out
        self._stop_asked = False
        threading.Thread(target=self._watch_raylet, name="raylet-watch", daemon=True).start()

    def _watch_raylet(self) -> None:
        """A node whose raylet died keeps its actors running, and Ray can no longer kill
        them: say so to the coordinator (the run is degraded), let the worker measure to
        its end, and exit once the coordinator has its last message or stopped calling."""
        lost = False
        while True:
            time.sleep(WATCH_S)
            if not lost and os.getppid() != self._raylet:
                lost = True
                self._outbox.put(("lost",))
            now = time.monotonic()
            handed = self._handed_over is not None and now - self._handed_over >= HANDOVER_S
            if lost and ((self._stop_asked and handed) or now - self._called >= ORPHAN_S):
                os._exit(0)

    def describe(self) -> tuple[str, str, str]:
        """(node id, host name, sockbench version) of this actor."""
        self._called = time.monotonic()
        return ray.get_runtime_context().get_node_id(), socket.gethostname(), __version__

    def clock(self) -> int:
        self._called = time.monotonic()
        return time.monotonic_ns() + self._shift

    def preflight(self, endpoint: Endpoint) -> str | None:
        try:
            check_target(endpoint)
        except TargetError as exc:
            return str(exc)
        return None

    def start(self, order: WorkOrder) -> None:
        threading.Thread(target=trio.run, args=(self._main, order), daemon=True).start()
        self._started.wait()

    async def _main(self, order: WorkOrder) -> None:
        control = _QueueControl(self._outbox)
        self._control = control
        self._token = trio.lowlevel.current_trio_token()
        self._started.set()
        try:
            with TreeSampler(os.getpid()) as sampler:
                recorder = await run_worker(order, control)
            summary = sampler.summary(*_window_of(control)) if control.window else None
            tally = tally_of(recorder, order)
            self._outbox.put(("done", tally, summary.to_json() if summary else None))
        except BaseException as exc:
            self._outbox.put(("error", f"{type(exc).__name__}: {exc}"))
            raise

    def _call(self, fn: Any, *args: Any) -> None:
        if self._token is None:
            return
        try:
            trio.from_thread.run_sync(fn, *args, trio_token=self._token)
        except trio.RunFinishedError:
            pass

    def go(self, window: Window) -> None:
        """``window`` is in this node's clock, as reported; the worker reads the real one."""
        self._called = time.monotonic()
        assert self._control is not None
        self._call(self._control.open, shifted(window, -self._shift))

    def stop(self) -> None:
        self._called = time.monotonic()
        self._stop_asked = True
        if self._control is not None:
            self._call(self._control.stop.set)

    def start_at(self, start_ns: int) -> None:
        """``start_ns`` is in this node's clock, as :meth:`go`'s window."""
        self._called = time.monotonic()
        if self._control is not None:
            self._call(self._control.start.move, start_ns - self._shift)

    def end_at(self, end_ns: int) -> None:
        """``end_ns`` is in this node's clock, as :meth:`go`'s window."""
        self._called = time.monotonic()
        if self._control is not None:
            self._call(self._control.end.move, end_ns - self._shift)

    def next(self, wait_s: float) -> list[tuple[Any, ...]]:
        """What the worker sent since the last call; waits up to ``wait_s`` for something."""
        self._called = time.monotonic()
        try:
            batch = [self._outbox.get(timeout=wait_s)]
        except queue.Empty:
            return []
        while True:
            try:
                batch.append(self._outbox.get_nowait())
            except queue.Empty:
                break
        if any(kind in ("done", "error") for kind, *_ in batch):
            self._handed_over = time.monotonic()
        return batch


_RemoteWorker = ray.remote(num_cpus=1, max_concurrency=ACTOR_CONCURRENCY)(WorkerActor)


class _ActorLink:
    def __init__(self, actor: Any, clock: ClockOffset) -> None:
        self.actor = actor
        self.clock = clock
        self.resources: dict[str, Any] | None = None
        self.lost = False  # its node's raylet died during the run
        self._buffer: deque[tuple[Any, ...]] = deque()

    async def receive(self) -> object:
        message = await self._next()
        while message[0] == "lost":
            self.lost = True
            message = await self._next()
        if message[0] == "error":
            raise EOFError(message[1])
        if message[0] == "done":
            self.resources = message[2]
            return Done(message[1])
        if message[0] == "connected":
            return Connected(message[1])
        if message[0] == "interval":
            return Interval(message[1])
        if message[0] == "warmup_interval":
            return WarmupInterval(message[1])
        if message[0] == "draining":
            return Draining(message[1], message[2])
        raise ProtocolError(f"unexpected message from a worker actor: {message!r}")

    async def _next(self) -> tuple[Any, ...]:
        while not self._buffer:
            try:
                batch = await trio.to_thread.run_sync(
                    ray.get, self.actor.next.remote(POLL_S), abandon_on_cancel=True
                )
            except ray.exceptions.RayError as exc:
                raise EOFError(f"worker actor lost: {type(exc).__name__}") from None
            self._buffer.extend(batch)
        return self._buffer.popleft()

    def go(self, window: Window) -> None:
        self.actor.go.remote(shifted(window, self.clock.offset_ns))

    def stop(self) -> None:
        self.actor.stop.remote()

    def start_at(self, start_ns: int) -> None:
        self.actor.start_at.remote(start_ns + self.clock.offset_ns)

    def end_at(self, end_ns: int) -> None:
        self.actor.end_at.remote(end_ns + self.clock.offset_ns)


def _sample_clock(actor: Any) -> ClockSample:
    sent = time.monotonic_ns()
    remote = ray.get(actor.clock.remote())
    return ClockSample(sent, int(remote), time.monotonic_ns())


class RayWorkers:
    """The Ray backend: actors already placed, checked and clock-synchronised."""

    def __init__(
        self,
        actors: list[Any],
        where: list[tuple[str, str]],
        clocks: dict[str, ClockOffset],
        cpus: dict[str, int],
        setup_s: float,
    ) -> None:
        self.actors = actors
        self.where = where  # (node id, host) per worker
        self.clocks = clocks  # per node id
        self.cpus = cpus
        self.setup_s = setup_s
        self.stop_grace_s = WORKER_STOP_GRACE_S  # the coordinator shortens it when hurried
        self._links: list[_ActorLink] = []
        self._clients: list[int] = []

    @asynccontextmanager
    async def start(self, orders: Sequence[WorkOrder]) -> AsyncIterator[list[WorkerLink]]:
        self._clients = [order.clients for order in orders]
        self._links = [
            _ActorLink(actor, self.clocks[node])
            for actor, (node, _) in zip(self.actors, self.where, strict=True)
        ]
        started = [a.start.remote(o) for a, o in zip(self.actors, orders, strict=True)]
        try:
            await trio.to_thread.run_sync(ray.get, started)
        except ray.exceptions.RayError:
            pass  # an actor already gone: its link's first receive reports it
        try:
            yield list(self._links)
        finally:
            for link in self._links:
                link.stop()

    def nodes(
        self, tallies: Mapping[int, Tally], failed: Sequence[int], window: Window | None
    ) -> list[dict[str, Any]] | None:
        seats = []
        for i, (node, host) in enumerate(self.where):
            res = self._links[i].resources if i < len(self._links) else None
            seats.append(
                Seat(
                    node,
                    host,
                    self.cpus.get(node, 1),
                    self._clients[i] if i < len(self._clients) else 0,
                    self.clocks[node],
                    res["cpu_percent_mean"] if res else None,
                    res["rss_bytes_max"] if res else None,
                )
            )
        return node_rows(seats, tallies, failed)

    def worker_nodes(self) -> Sequence[str] | None:
        return [node for node, _ in self.where]

    @property
    def lost(self) -> list[tuple[str, str]]:
        """(node id, host) of each node whose raylet died during the run, once each."""
        gone = {self.where[i] for i, link in enumerate(self._links) if link.lost}
        return sorted(gone)

    def close(self) -> None:
        for actor in self.actors:
            try:
                ray.kill(actor)
            except ray.exceptions.RayError:
                pass


def _node_cpus() -> dict[str, int]:
    return {
        n["NodeID"]: int(n.get("Resources", {}).get("CPU", 1)) for n in ray.nodes() if n["Alive"]
    }


@contextmanager
def place_workers(
    spec: RunSpec,
    endpoint: Endpoint,
    workers: int,
    clock_shift_ns: Mapping[int, int] | None = None,
) -> Iterator[RayWorkers]:
    """Start ``workers`` actors, check each node's sockbench and its reach of the target,
    and measure each node's clock; every actor is killed when the context ends."""
    began = time.monotonic()
    shifts = clock_shift_ns or {}
    actors = [
        _RemoteWorker.options(scheduling_strategy="SPREAD").remote(shifts.get(i, 0))
        for i in range(workers)
    ]
    backend = RayWorkers(actors, [], {}, {}, 0.0)
    try:
        try:
            described = ray.get([a.describe.remote() for a in actors], timeout=PLACE_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            raise TargetError(
                f"Ray could not place {workers} workers within {PLACE_TIMEOUT_S:.0f} s "
                f"(the cluster offers {cluster_cpus()} CPUs, one per worker)"
            ) from None
        except ray.exceptions.RayError as exc:
            raise TargetError(_actor_failure(exc)) from None
        for node, host, version in described:
            if version != __version__:
                raise ConfigError(
                    f"node {host} ({node[:8]}) runs sockbench {version}, this host {__version__}; "
                    "install the same version on every node (see docs/distributed.md)"
                )
        problems = ray.get([a.preflight.remote(endpoint) for a in actors])
        for (node, host, _), problem in zip(described, problems, strict=True):
            if problem:
                raise TargetError(f"from node {host} ({node[:8]}): {problem}")
        first: dict[str, Any] = {}
        for actor, (node, _, _) in zip(actors, described, strict=True):
            first.setdefault(node, actor)
        clocks = {
            node: estimate_offset([_sample_clock(actor) for _ in range(CLOCK_SAMPLES)])
            for node, actor in first.items()
        }
        backend = RayWorkers(
            actors,
            [(node, host) for node, host, _ in described],
            clocks,
            _node_cpus(),
            time.monotonic() - began,
        )
        yield backend
    finally:
        backend.actors = actors
        backend.close()


def _actor_failure(exc: BaseException) -> str:
    text = str(exc)
    if "No module named 'sockbench" in text:
        return (
            "a Ray node cannot import sockbench: install it in every node's environment, "
            "or ship it with a runtime_env (see docs/distributed.md)"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"a sockbench worker failed to start on the Ray cluster: {first}"
