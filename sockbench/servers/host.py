"""Run one server model in the foreground until SIGTERM or SIGINT.

The host owns everything a model should not have to care about: validating the
choice, binding the listening socket (with the errors a user can act on),
signals, and removing the Unix socket file it created. The model only serves.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from sockbench.core.spec.server import BuiltIn
from sockbench.endpoints import Endpoint, Proto
from sockbench.errors import ConfigError
from sockbench.servers.certs import server_context
from sockbench.servers.context import ServeContext, StopSignal
from sockbench.servers.registry import ModelInfo, get_model, load
from sockbench.servers.sockets import open_listener

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def check_options(spec: BuiltIn, proto: Proto) -> ModelInfo:
    """The model of ``spec``, if it exists here and serves ``proto``; else :class:`ConfigError`.

    Called by ``sockbench.servers.chosen.check_server`` for run, compare and serve and by
    :func:`serve_forever`; the numbers in ``spec`` were checked by the option layer
    (:mod:`sockbench.core.spec`), with the user's flag names.
    """
    info = get_model(spec.model)
    if proto not in info.protos:
        supported = ", ".join(sorted(p.value for p in info.protos))
        raise ConfigError(
            f"server model {info.name!r} does not serve {proto.value}; it serves {supported}"
        )
    return info


def serve_forever(
    spec: BuiltIn,
    bind: Endpoint,
    *,
    on_ready: Callable[[Endpoint], None],
    stop: StopSignal | None = None,
) -> None:
    """Serve ``bind`` as ``spec`` says until SIGTERM/SIGINT (or ``stop`` is set), then return.

    ``on_ready`` is called once with the address actually bound, when the model
    serves. Signal handlers are installed only when called from the main thread;
    elsewhere pass ``stop`` to end the server. Raises :class:`ConfigError` (one
    line) when the model or the address cannot be used.
    """
    info = check_options(spec, bind.proto)
    serve = load(info)
    own_stop = stop is None
    stop = StopSignal() if stop is None else stop
    try:
        with _stop_on_signals(stop):
            listener = open_listener(bind, reuse_port=info.reuse_port and not bind.proto.is_unix)
            try:
                ctx = ServeContext(
                    proto=bind.proto,
                    endpoint=listener.endpoint,
                    spec=spec,
                    options=info.options,
                    stop=stop,
                    ready=_once(lambda: on_ready(listener.endpoint)),
                    tls=server_context(spec.tls_cert) if spec.tls else None,
                )
                serve(listener.sock, ctx)
            finally:
                listener.close()
    finally:
        if own_stop:
            stop.close()


def _once(fn: Callable[[], None]) -> Callable[[], None]:
    done = False

    def call() -> None:
        nonlocal done
        if not done:
            done = True
            fn()

    return call


@contextmanager
def _stop_on_signals(stop: StopSignal) -> Iterator[None]:
    """Turn SIGTERM/SIGINT into ``stop.set()``; a second one interrupts a model that hangs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
