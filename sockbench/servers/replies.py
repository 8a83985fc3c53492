"""Sending datagram replies: drop what one client cannot take, wait when we are the bottleneck.

Shared by every model, so they all answer datagrams by the same rule and a
comparison between them is fair.
"""

from __future__ import annotations

import select
import socket
import time
from typing import Any

from sockbench.servers.behaviour import Payload
from sockbench.servers.context import StopSignal

SEND_WAIT_S = 1.0  # longest a reply waits for room in our own send buffer
SEND_TRIES = 16


def send_datagram(sock: socket.socket, data: Payload, addr: Any, stop: StopSignal) -> None:
    """Send one datagram reply without letting one client stall the server.

    UDP drops at the receiver, so a UDP reply that cannot go out now is dropped.
    Unix datagrams are reliable instead: each reply is charged to the *server's*
    send buffer until that client reads it. EAGAIN then means either "our buffer
    is full of replies not read yet" (wait for room: backpressure, as a stream
    would get) or "this client's queue is full" (drop: a client that stops
    reading must not stall the others). The socket polls writable in the second
    case, not in the first; since other threads or workers may refill the buffer
    between our poll and our retry, only two EAGAINs in a row while it polls
    writable count as the client's queue being full.
    """
    try:
        sock.sendto(data, socket.MSG_DONTWAIT, addr)
        return
    except BlockingIOError:
        if sock.family != socket.AF_UNIX:
            return
    except OSError:  # the client is gone (ECONNREFUSED, ENOENT): nobody to answer
        return
    deadline = time.monotonic() + SEND_WAIT_S
    room_but_refused = 0
    for _ in range(SEND_TRIES):
        if writable_now(sock):
            room_but_refused += 1
            if room_but_refused == 2:
                return
        else:
            room_but_refused = 0
            if not wait_for_room(sock, stop, deadline - time.monotonic()):
                return
        try:
            sock.sendto(data, socket.MSG_DONTWAIT, addr)
            return
        except BlockingIOError:
            continue
        except OSError:
            return


def writable_now(sock: socket.socket) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    return bool(poller.poll(0))


def wait_for_room(sock: socket.socket, stop: StopSignal, timeout: float = SEND_WAIT_S) -> bool:
    """Wait up to ``timeout`` until ``sock`` polls writable; False on timeout or stop."""
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    poller.register(stop.fileno(), select.POLLIN)
    events = poller.poll(max(0, int(timeout * 1000)))
    return not stop.is_set() and any(fd == sock.fileno() for fd, _ in events)
