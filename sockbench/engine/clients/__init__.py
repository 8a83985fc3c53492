"""Client drivers: each only moves bytes and times in and out of the exchange core.

:class:`~.context.ClientContext` is all a driver is handed. The pump (:mod:`.pump`)
serves every echo-mode client of a worker together (the default); with ``--no-batch``
this table picks the reference driver, a trio task per client, as it does for the
churn and stream modes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sockbench.core.kinds import StreamDirection
from sockbench.engine.clients import bulk, churn, datagram, reader, reference
from sockbench.engine.clients.context import ClientContext

Driver = Callable[[ClientContext], Awaitable[None]]

# (mode, over a stream socket, open loop) -> driver
DRIVERS: dict[tuple[str, bool, bool], Driver] = {
    ("echo", True, False): reference.closed_loop,
    ("echo", True, True): reference.open_loop,
    ("echo", False, False): datagram.closed_loop,
    ("echo", False, True): datagram.open_loop,
    ("churn", True, False): churn.churn,
    ("stream", True, False): bulk.tcp_bulk,
    ("stream", False, True): bulk.udp_bulk,
}


# --mode stream the other way (--reverse) or both ways (--bidir): (direction, over a
# stream socket) -> driver
READERS: dict[tuple[StreamDirection, bool], Driver] = {
    (StreamDirection.REVERSE, True): reader.tcp_reverse,
    (StreamDirection.BIDIR, True): reader.tcp_bidir,
    (StreamDirection.REVERSE, False): reader.udp_reverse,
    (StreamDirection.BIDIR, False): reader.udp_bidir,
}


def driver_for(
    mode: str,
    stream_socket: bool,
    open_loop: bool,
    direction: StreamDirection = StreamDirection.FORWARD,
) -> Driver:
    if mode == "stream" and direction.reads:
        return READERS[direction, stream_socket]
    return DRIVERS[mode, stream_socket, open_loop]
