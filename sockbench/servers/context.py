"""What a server model is given: the bound endpoint, its spec, and a way to learn it must stop.

Shutdown has to reach every kind of model: blocking threads, a selector loop,
asyncio, uvloop and trio. A self-pipe is the one primitive all of them can wait
on (select, ``loop.add_reader``, ``trio.lowlevel.wait_readable``), and writing to
it is async-signal-safe, so the SIGTERM/SIGINT handler does nothing but that.
``threading.Event`` is deliberately not used: setting it from a signal handler can
deadlock on its internal lock if the signal lands while the main thread holds it.
"""

from __future__ import annotations

import os
import select
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sockbench.core.kinds import ServerBehaviour
from sockbench.core.spec.server import BuiltIn
from sockbench.endpoints import Endpoint, Proto


class StopSignal:
    """A one-shot, level-triggered stop flag backed by a pipe.

    Once :meth:`set`, the read end stays readable forever (it is never drained), so
    any number of waiters, in any thread or event loop, see it.
    """

    __slots__ = ("_r", "_set", "_w")

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        self._set = False

    def set(self) -> None:
        """Request the stop. Safe to call from a signal handler, any thread, many times."""
        if self._set:
            return
        self._set = True
        try:
            os.write(self._w, b"x")
        except OSError:  # closed or full: a stop was already written
            pass

    def is_set(self) -> bool:
        return self._set

    def fileno(self) -> int:
        """The read end: readable once a stop was requested."""
        return self._r

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped or ``timeout`` seconds passed; return whether stopped."""
        if self._set:
            return True
        poller = select.poll()  # not select.select: the fd may be above 1023
        poller.register(self._r, select.POLLIN)
        ready = poller.poll(None if timeout is None else max(0, int(timeout * 1000)))
        return bool(ready) or self._set

    def close(self) -> None:
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class ServeContext:
    """Everything a model's ``serve(listener, ctx)`` needs besides the listening socket.

    ``endpoint`` is the address actually bound (the real port when 0 was asked for).
    ``options`` carries the registry entry's variant choices (e.g. ``{"loop": "uvloop"}``),
    so one module can implement several registry entries. A model calls ``ready()``
    once it is serving and returns after ``stop`` is set, having closed everything it opened.
    """

    proto: Proto
    endpoint: Endpoint
    spec: BuiltIn = field(default_factory=BuiltIn)
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    stop: StopSignal = field(default_factory=StopSignal, compare=False)
    ready: Callable[[], None] = field(default=_nothing, compare=False)
    # --server-tls: each connection speaks TLS with this context (servers/certs.py).
    tls: ssl.SSLContext | None = field(default=None, compare=False)

    @property
    def behaviour(self) -> ServerBehaviour:
        return self.spec.behaviour

    @property
    def threads(self) -> int:
        return self.spec.threads

    @property
    def processes(self) -> int:
        return self.spec.processes
