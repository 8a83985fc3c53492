"""``threaded``: blocking sockets, one thread per connection.

The simplest model and often a fast one at low concurrency: every connection
gets straight-line blocking code and the kernel schedules the threads. Each
connection costs a thread (a stack, a kernel task, context switches), so it
degrades with thousands of mostly idle connections and with the GIL under
CPU-heavy replies. Datagrams are one blocking recvfrom/sendto loop.
"""

from __future__ import annotations

import socket
import threading

from sockbench.servers._blocking import (
    Connections,
    accept_until_stopped,
    reply_at_once,
    run_datagram_reader,
    serve_stream,
)
from sockbench.servers.context import ServeContext


def serve(listener: socket.socket, ctx: ServeContext) -> None:
    if not ctx.proto.is_stream:
        run_datagram_reader(listener, ctx, reply_at_once(listener, ctx))
        return
    conns = Connections()

    def run(conn: socket.socket) -> None:
        try:
            serve_stream(conn, ctx.behaviour, ctx.tls)
        finally:
            conns.close(conn)

    def handle(conn: socket.socket) -> None:
        thread = threading.Thread(target=run, args=(conn,), daemon=True)
        conns.add(conn, thread)
        try:
            thread.start()
        except RuntimeError:  # can't start new thread: shed this connection
            conns.close(conn)

    ctx.ready()
    try:
        accept_until_stopped(listener, ctx.stop, handle)
    finally:
        conns.shutdown_all()
        conns.join()
        conns.close_all()
