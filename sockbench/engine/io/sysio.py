"""The pump's ``send``, ``recv_into`` and ``epoll_wait``: through a C shim where the
compiled build has one, through the socket and select modules where not.

The trade-off: ``socket.send`` and ``recv_into`` parse their arguments the old way, go
through the socket module's timeout machinery and release and retake the GIL around the
call. The pump's sockets are non-blocking and never wait, so that buys nothing there,
and it costs about 200 ns a call, 400 ns a request (``benchmarks/sysio_cost.py``: a
loop of 100-byte sends and receives over a socket pair, 2,657 ns a turn with the socket
methods, 2,258 with the shim). In an HTTP request through the compiled build that is
an eighth of the user-space CPU. The shim (``_sysio.c``) is C, so it is built with the
compiled build and never otherwise: ``pip install .`` stays pure Python, and the pure
build calls the socket's own methods (:func:`stream` returns the socket itself), exactly
as before.

The shim keeps the GIL for a call that cannot block and releases it for a poll that
waits. Its errors are the socket module's (an ``OSError`` subclass by errno; ``EINTR``
retried after the signal handlers ran). It does not own a descriptor: the socket or
epoll object it came from still closes it, and the pump drops the shim's object first.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pathlib import Path

_sysio: ModuleType | None
try:
    from sockbench.engine.io import _sysio
except ImportError:  # the pure build
    _sysio = None


class Stream(Protocol):
    """What the pump reads and writes a connection through."""

    def send(self, data: bytes | bytearray | memoryview, /) -> int: ...

    def recv_into(self, buffer: bytearray | memoryview, /) -> int: ...


Poll = Callable[[float, int], list[tuple[int, int]]]


def shimmed() -> bool:
    """True when the C shim is built (the compiled build)."""
    return _sysio is not None


def stream(sock: Stream) -> Stream:
    """What the pump sends and receives ``sock``'s bytes through: the shim on a
    socket's descriptor, anything else itself (a TLS connection's bytes go through its
    own ``send`` and ``recv_into``)."""
    if _sysio is None or not isinstance(sock, socket.socket):
        return sock
    shim: Stream = _sysio.Stream(sock.fileno())
    return shim


def poller(epoll: select.epoll) -> Poll:
    """``epoll.poll``, or the shim's on the same descriptor: ``poll(timeout, maxevents)``."""
    if _sysio is None:
        return epoll.poll
    poll: Poll = _sysio.Epoll(epoll.fileno()).poll
    return poll


def build_shim(where: Path) -> ModuleType:
    """Compile the shim from ``_sysio.c`` into ``where`` as setup.py does and import it
    (:func:`sockbench.build.build_c`), outside a compiled build: its tests and
    ``benchmarks/sysio_cost.py`` try it whatever build runs (needs a C compiler and
    Python's headers). Imported here only when called: a run never builds."""
    from sockbench.build import build_c

    return build_c("sockbench.engine.io._sysio", where)
