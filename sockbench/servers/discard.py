"""The sink's stream path: read and discard as cheaply as Python can, count, report.

Every stream-capable model uses it, so a comparison between models in
``--mode stream`` measures their I/O strategy, not different ways of discarding.

A :class:`Discarder` moves what a socket holds into a pipe with ``os.splice`` and
from the pipe to ``/dev/null`` the same way: the bytes never reach user space,
which is the kernel's copy into a Python buffer saved. Measured on loopback TCP
against a 1 MiB writer, alternated (docs/performance.md, "Streams"): splice with
a 64 KiB pipe 46-48 Gbit/s at 86-98 ms of server CPU per GiB, ``recv_into`` a 64
KiB buffer 37-40 Gbit/s at 111-129 ms/GiB, a 256 KiB pipe or buffer slower (the
pages stop fitting the CPU's cache). Where ``os.splice`` is missing (not Linux)
or fails, it reads into one 64 KiB buffer instead, shared by every connection of
the process: its content is never looked at, so readers overwriting each other
are harmless.

At EOF (the client's half-close) the sink answers with
:func:`~sockbench.core.sink_report.encode_report` of ``(reads, bytes)`` for that
connection, then closes: see :mod:`sockbench.core.sink_report`.

Over TLS (``--server-tls``) the socket carries records, not the stream: a connection is
read through TLS into the shared buffer instead (:meth:`Discarder.discard_from`), and
the client's ``close_notify`` is its half-close (a read of 0 bytes, as EOF).
"""

from __future__ import annotations

import os
import socket
import ssl

from sockbench.core.sink_report import encode_report

DISCARD_READ = 64 * 1024
_F_SETPIPE_SZ = 1031

_shared: list[bytearray] = []
#: "Nothing yet" from a non-blocking socket: BlockingIOError, or over TLS a partial record
#: (want read) or a write that must be retried (want write), which are no subclasses of it.
NOT_YET = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def discard_buffer() -> bytearray:
    """This process's one read-and-forget buffer (created on first use)."""
    if not _shared:
        _shared.append(bytearray(DISCARD_READ))
    return _shared[0]


class Discarder:
    """Discards what one socket at a time holds: one pipe, used by one thread.

    The pipe is empty between calls (each call drains what it put in), so one
    Discarder serves every connection of a single-threaded loop in turn.
    """

    __slots__ = ("_null", "_r", "_w")

    def __init__(self) -> None:
        self._r = self._w = self._null = -1
        if not hasattr(os, "splice"):
            return
        try:
            self._r, self._w = os.pipe()
            self._null = os.open(os.devnull, os.O_WRONLY)
            import fcntl

            fcntl.fcntl(self._w, _F_SETPIPE_SZ, DISCARD_READ)
        except OSError:  # out of descriptors, or a pipe size refused: read instead
            self.close()

    def discard(self, fd: int) -> int:
        """Discard what socket ``fd`` has (up to :data:`DISCARD_READ`); 0 at EOF.

        Raises what a read would: BlockingIOError on a non-blocking socket with
        nothing to read, OSError when the connection broke.
        """
        if self._w < 0:
            return os.readv(fd, [discard_buffer()])
        n = os.splice(fd, self._w, DISCARD_READ)
        left = n
        while left:
            left -= os.splice(self._r, self._null, left)
        return n

    def discard_from(self, sock: socket.socket) -> int:
        """:meth:`discard` for ``sock``: over TLS, through TLS (its close_notify reads 0,
        as EOF; a partial record raises ``ssl.SSLWantReadError``: see :data:`NOT_YET`)."""
        if isinstance(sock, ssl.SSLSocket):
            return sock.recv_into(discard_buffer())
        return self.discard(sock.fileno())

    def close(self) -> None:
        for fd in (self._r, self._w, self._null):
            if fd >= 0:
                os.close(fd)
        self._r = self._w = self._null = -1


def discard_blocking(conn: socket.socket) -> None:
    """Discard ``conn`` (blocking) to EOF, then answer with the count. Never raises."""
    discarder = Discarder()
    reads = nbytes = 0
    try:
        while n := discarder.discard_from(conn):
            reads += 1
            nbytes += n
        conn.sendall(encode_report(reads, nbytes))
    except OSError:  # reset by the peer, or shut down because the server stops
        pass
    finally:
        discarder.close()
