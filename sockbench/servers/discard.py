"""The sink's stream path: read and discard as cheaply as Python can, count, report.

Every stream-capable model uses it, so a comparison between models in
``--mode stream`` measures their I/O strategy, not different read sizes.

Reads go into one buffer per process, shared by every connection and thread:
its content is never looked at, so concurrent ``recv_into`` calls overwriting
each other are harmless, and 10,000 connections cost no 10,000 buffers.
:data:`DISCARD_READ` is 64 KiB: measured on loopback TCP against a 1 MiB writer,
larger reads were slower (the copy target no longer stays in the CPU's cache)
and ``os.splice`` into a pipe to ``/dev/null`` was no faster (two syscalls per
chunk instead of one copy); see docs/performance.md, "Streams".

At EOF (the client's half-close) the sink answers with
:func:`~sockbench.core.sink_report.encode_report` of ``(reads, bytes)`` for that
connection, then closes: see :mod:`sockbench.core.sink_report`.
"""

from __future__ import annotations

import socket

from sockbench.core.sink_report import encode_report

DISCARD_READ = 64 * 1024

_shared: list[bytearray] = []


def discard_buffer() -> bytearray:
    """This process's one discard buffer (created on first use; a fork's child shares
    the parent's copy-on-write, which it then overwrites privately)."""
    if not _shared:
        _shared.append(bytearray(DISCARD_READ))
    return _shared[0]


def discard_blocking(conn: socket.socket) -> None:
    """Read ``conn`` (blocking) to EOF, then answer with the count. Never raises."""
    buf = discard_buffer()
    recv_into = conn.recv_into
    reads = nbytes = 0
    try:
        while n := recv_into(buf):
            reads += 1
            nbytes += n
        conn.sendall(encode_report(reads, nbytes))
    except OSError:  # reset by the peer, or shut down because the server stops
        pass
