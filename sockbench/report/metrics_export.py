"""``--metrics-port``: OpenMetrics at ``/metrics`` while a run or a compare goes (thin I/O).

:class:`MetricsExporter` is a progress function (``ProgressFn``): fed the run's ticks, it
keeps each run's :class:`~sockbench.core.live_metrics.RunState` and serves what
:func:`~sockbench.core.live_metrics.families` makes of them, through prometheus_client's
HTTP server on its own thread. A tick replaces the states (a tuple, swapped whole), so a
scrape on that thread reads one consistent snapshot without a lock.

It binds 127.0.0.1 unless told otherwise (``HOST:PORT``, with ``--allow-remote``) and stops
with the run: use it as a context manager around the run. A scraper that came regularly
gets one more scrape, for the run's last values, if it has not had them yet (at most
:data:`~sockbench.core.live_metrics.MAX_FINAL_WAIT_S`). The end waits until that scrape's
reply is written, not just read: the request threads are daemons, and a process that left
while one was still writing would cut the last values off.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from sockbench.core.live_metrics import (
    MAX_FINAL_WAIT_S,
    RunState,
    check_remote,
    families,
    final_wait_s,
    fold,
    run_state,
)
from sockbench.core.progress import ProgressFn, Tick
from sockbench.errors import ConfigError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from prometheus_client.metrics_core import Metric as PromMetric

    from sockbench.core.spec.run import RunSpec


class MetricsExporter:
    """Serves the series of the runs it was told of (:meth:`start_run`) and fed."""

    def __init__(self, host: str, port: int, percentiles: Sequence[float]) -> None:
        self.host = host
        self.requested_port = port
        self.port = port
        self.percentiles = tuple(percentiles)
        self._states: tuple[RunState, ...] = ()
        self._server: tuple[WSGIServer, threading.Thread] | None = None
        # What scrapes read, and when (the server's thread writes, under the condition).
        self._scraped = threading.Condition()
        self._scraped_at: list[float] = []
        self._served: tuple[RunState, ...] | None = None
        self._delivered: tuple[RunState, ...] | None = None
        self._reading = threading.local()  # what this request thread's scrape read

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def __enter__(self) -> MetricsExporter:
        from prometheus_client import CollectorRegistry, make_wsgi_app

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self._serve))
        try:
            server, thread = _serve_forever(
                self.host, self.requested_port, self._delivering(make_wsgi_app(registry))
            )
        except OSError as exc:  # taken, or an address this host does not have
            raise ConfigError(
                f"--metrics-port {self.host}:{self.requested_port}: {exc.strerror or exc}"
            ) from None
        self._server = server, thread
        self.port = int(server.server_address[1])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        running, self._server = self._server, None
        if running is not None:
            self._last_scrape()
            server, thread = running
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def _serve(self) -> tuple[RunState, ...]:
        """The states a scrape reads now (on the server's thread)."""
        states = self._reading.states = self._states
        with self._scraped:
            self._scraped_at = [*self._scraped_at[-1:], time.monotonic()]
            self._served = states
            self._scraped.notify_all()
        return states

    def _delivering(self, app: WSGIApplication) -> WSGIApplication:
        """``app``, telling the exporter which states a reply carried once it is written
        (wsgiref closes the reply's body after its last byte is sent)."""

        def delivered() -> None:
            with self._scraped:
                self._delivered = getattr(self._reading, "states", None)
                self._scraped.notify_all()

        def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            self._reading.states = None
            return _Closing(app(environ, start_response), delivered)

        return wrapped

    def _last_scrape(self) -> None:
        """Before stopping: give a scraper that comes regularly the time to read the last
        values, if it has not (:func:`~sockbench.core.live_metrics.final_wait_s`), and a
        reply that carries them the time to be written."""
        with self._scraped:
            wait = final_wait_s(self._scraped_at, time.monotonic())
            if self._scraped.wait_for(lambda: self._served is self._states, timeout=wait):
                self._scraped.wait_for(
                    lambda: self._delivered is self._states, timeout=MAX_FINAL_WAIT_S
                )

    def start_run(self, spec: RunSpec, run_id: str) -> None:
        """A run (a compare's cell) begins: its series start at 0; earlier runs' stay. A
        ``run_id`` given before gets a ``-2``, ``-3``... (two series with the same labels
        would make the scrape invalid)."""
        taken = {state.labels.run_id for state in self._states}
        unique, n = run_id, 1
        while unique in taken:
            n += 1
            unique = f"{run_id}-{n}"
        self._states = (*self._states, run_state(spec, unique))

    def __call__(self, tick: Tick) -> None:
        if not self._states:
            return
        *done, current = self._states
        self._states = (*done, fold(current, tick, self.percentiles))


class _Closing(list[bytes]):
    """A WSGI reply body, read whole, that calls ``on_close`` when the server closes it
    (a list, so that wsgiref still writes a Content-Length)."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        try:
            super().__init__(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        self.on_close = on_close

    def close(self) -> None:
        self.on_close()


def _serve_forever(
    host: str, port: int, app: WSGIApplication
) -> tuple[WSGIServer, threading.Thread]:
    """prometheus_client's ``start_http_server`` without TLS, serving ``app``: a thread per
    request, no request log, on a daemon thread of its own."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client.exposition import ThreadingWSGIServer

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """A scrape is not news."""

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = make_server(host, port, app, Server, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


class _Collector:
    """A prometheus_client collector over the exporter's states."""

    def __init__(self, states: Callable[[], Sequence[RunState]]) -> None:
        self.states = states

    def collect(self) -> Iterator[PromMetric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for family in families(self.states()):
            names = [k for k, _ in family.samples[0].labels] if family.samples else []
            made: CounterMetricFamily | GaugeMetricFamily
            if family.kind == "counter":
                made = CounterMetricFamily(family.name, family.help, labels=names, unit=family.unit)
            else:
                made = GaugeMetricFamily(family.name, family.help, labels=names, unit=family.unit)
            for sample in family.samples:
                made.add_metric([v for _, v in sample.labels], sample.value)
            yield made


def run_id() -> str:
    """A new run's ``run_id`` label: when it started (UTC) and this process."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}"


def watch_steps(
    exporter: MetricsExporter | None,
) -> Callable[[RunSpec, str], ProgressFn | None] | None:
    """A sweep's or a search's steps (a compare's ``--capacity``/``--sweep`` cells' too),
    each exported as a run of its own: its ``run_id`` the command's, then the step's name
    (``...-step3``, ``...-cell2-step3``), and its rate as ``sockbench_requested_rate``."""
    if exporter is None:
        return None
    command_id = run_id()

    def watch(spec: RunSpec, name: str) -> ProgressFn:
        exporter.start_run(spec, f"{command_id}-{name}")
        return exporter

    return watch


def tee(*views: ProgressFn | None) -> ProgressFn | None:
    """One progress function feeding each of ``views`` that is not None (None if none is)."""
    present = [v for v in views if v is not None]
    if len(present) <= 1:
        return present[0] if present else None

    def both(tick: Tick) -> None:
        for view in present:
            view(tick)

    return both


@contextlib.contextmanager
def open_exporter(
    address: tuple[str, int] | None,
    percentiles: Sequence[float],
    say: Callable[[str], None],
    *,
    allow_remote: bool = False,
) -> Iterator[MetricsExporter | None]:
    """The exporter while the ``with`` block runs when ``address`` is given (``say`` is told
    its URL), None otherwise. A non-loopback address needs ``allow_remote``."""
    if address is None:
        yield None
        return
    check_remote(address, allow_remote)
    with MetricsExporter(*address, percentiles) as exporter:
        say(f"metrics: {exporter.url}")
        yield exporter
