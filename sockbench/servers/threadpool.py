"""``threadpool``: blocking sockets served by a bounded pool of ``ctx.threads`` workers.

The bounded cousin of ``threaded``: thread count (and memory) stays fixed no
matter how many clients connect, at the price of queueing. A connection holds
its worker until it closes, so with more connections than workers the extra
ones are accepted by the kernel and by us, then wait in the executor's queue,
unserved, until a worker frees up: their clients see connect succeed but no
reply (the latency this model trades for bounded threads). Size ``--threads``
above the expected number of concurrent connections unless that queueing is
what you want to measure.

Datagrams: one reader thread reads and applies the mode (so sink counts stay in
arrival order), the pool workers send the replies. At most ``4 * threads``
replies wait for a worker; beyond that the reader waits and the kernel drops
what overflows the socket buffer, as UDP does.
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sockbench.servers._blocking import (
    Connections,
    accept_until_stopped,
    run_datagram_reader,
    serve_stream,
)
from sockbench.servers.behaviour import Payload
from sockbench.servers.context import ServeContext
from sockbench.servers.replies import send_datagram


def serve(listener: socket.socket, ctx: ServeContext) -> None:
    with ThreadPoolExecutor(ctx.threads, thread_name_prefix="sockbench-pool") as pool:
        if ctx.proto.is_stream:
            _serve_streams(listener, ctx, pool)
        else:
            _serve_datagrams(listener, ctx, pool)


def _serve_streams(listener: socket.socket, ctx: ServeContext, pool: ThreadPoolExecutor) -> None:
    conns = Connections()
    stop = ctx.stop

    def run(conn: socket.socket) -> None:
        try:
            if not stop.is_set():
                serve_stream(conn, ctx.behaviour, ctx.tls)
        finally:
            conns.close(conn)

    def handle(conn: socket.socket) -> None:
        conns.add(conn)
        pool.submit(run, conn)

    ctx.ready()
    try:
        accept_until_stopped(listener, stop, handle)
    finally:
        conns.shutdown_all()  # wakes the workers; queued ones find the stop and leave
        pool.shutdown(wait=True, cancel_futures=True)
        conns.close_all()  # cancelled before a worker ever saw them


def _serve_datagrams(listener: socket.socket, ctx: ServeContext, pool: ThreadPoolExecutor) -> None:
    slots = threading.BoundedSemaphore(4 * ctx.threads)

    def send(data: bytes, addr: Any) -> None:
        try:
            send_datagram(listener, data, addr, ctx.stop)
        finally:
            slots.release()

    def reply(out: Payload, addr: Any) -> None:
        slots.acquire()
        # The reader's buffer is reused for the next datagram: the worker needs a copy.
        pool.submit(send, bytes(out), addr)

    run_datagram_reader(listener, ctx, reply)
