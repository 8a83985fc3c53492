"""The source's stream path: write as fast as the socket takes it, discard what comes in.

``--reverse`` and ``--bidir`` (iperf3's ``-R`` and ``--bidir``) need a server that
sends. Every stream-capable model serves a ``source`` connection the same way, in its
own I/O style: it writes :data:`SOURCE_CHUNK` (``s`` bytes, never a NUL) whenever the
socket has room, each write counted by what the kernel took, and discards what the
client sends (the sink's :class:`~sockbench.servers.discard.Discarder`), so one
connection carries both directions. The client's half-close ends it: the source stops
writing, answers with :func:`~sockbench.core.sink_report.encode_report` of its reads,
bytes read and bytes sent, then closes. Every byte it counted as sent is then in the
client's socket or on the way there, so the client's count is exact.

Over TLS (``--server-tls``) the client's ``close_notify`` is the half-close, and a
non-blocking write that TLS could not finish must be retried with the same chunk
before anything else is written (OpenSSL refuses another: ``BAD_LENGTH``):
:class:`StreamCounts` keeps it unfinished until then, and counts it once done.

The trade-off: one write size (256 KiB, whole ``s`` bytes) for every model, not a
tuned one per model, so a comparison measures the models' I/O, not their chunking.
"""

from __future__ import annotations

import select
import socket
import ssl

from sockbench.core.sink_report import SOURCE_BYTE, encode_report
from sockbench.servers.discard import NOT_YET, Discarder

SOURCE_CHUNK = SOURCE_BYTE * (256 * 1024)


class StreamCounts:
    """One sink or source connection's counts: reads and bytes read, bytes sent (a
    source's); its report."""

    __slots__ = ("nbytes", "reads", "sent", "unfinished")

    def __init__(self) -> None:
        self.reads = self.nbytes = self.sent = 0
        self.unfinished = False  # over TLS: a write to retry with the same chunk

    def write(self, sock: socket.socket, chunk: memoryview) -> None:
        """Send ``chunk`` on the non-blocking ``sock``, counting what it took; over TLS a
        write not finished stays :attr:`unfinished` (retried with ``chunk``, counted once
        done). BlockingIOError and TLS's wants are no error here."""
        try:
            self.sent += sock.send(chunk)
            self.unfinished = False
        except NOT_YET:
            self.unfinished = isinstance(sock, ssl.SSLSocket)

    def closing(self, chunk: memoryview) -> bytes:
        """What to send at the half-close: the unfinished write's chunk first (counted
        now: TLS took part of it already, and a retry with a longer buffer that starts
        with it finishes it), then the report."""
        if not self.unfinished:
            return self.report()
        self.unfinished = False
        self.sent += len(chunk)
        return bytes(chunk) + self.report()

    def read(self, n: int) -> None:
        self.reads += 1
        self.nbytes += n

    def report(self, source: bool = True) -> bytes:
        return encode_report(self.reads, self.nbytes, self.sent if source else None)


def source_blocking(conn: socket.socket) -> None:
    """Serve one source connection from its own thread until the client's half-close
    (then answer with the counts), a failure, or the server's stop (which shuts the
    socket down: the poll wakes). Never raises.

    A blocking write could not notice the half-close, so the socket is non-blocking and
    one ``poll`` waits for either direction.
    """
    counts = StreamCounts()
    discarder = Discarder()
    view = memoryview(SOURCE_CHUNK)
    fd = conn.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLOUT)
    try:
        conn.setblocking(False)
        while True:
            events = poller.poll()[0][1]  # one fd registered: one entry
            if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    n = discarder.discard_from(conn)
                except NOT_YET:
                    n = -1
                if n == 0:
                    break
                if n > 0:
                    counts.read(n)
            if events & select.POLLOUT:
                counts.write(conn, view)
        conn.setblocking(True)
        conn.sendall(counts.closing(view))
    except OSError:  # reset by the peer, or shut down because the server stops
        pass
    finally:
        discarder.close()
