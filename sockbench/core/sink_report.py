"""The wire format between a sink-mode datagram server and a stream-mode client.

A sink server counts datagrams per sender and answers none, except the control
datagram :data:`REPORT_REQUEST`, which it answers with :func:`encode_report` of that
sender's count and bytes since its last report. Both sides import it from here, so
the engine does not depend on the servers package.
"""

from __future__ import annotations

REPORT_REQUEST = b"\x00sockbench:report?"
REPORT_PREFIX = b"\x00sockbench:report="


def encode_report(count: int, nbytes: int) -> bytes:
    """The reply to :data:`REPORT_REQUEST`: ``REPORT_PREFIX`` then ``"<count> <bytes>"``."""
    return REPORT_PREFIX + f"{count} {nbytes}".encode()


def decode_report(data: bytes) -> tuple[int, int] | None:
    """``(count, bytes)`` from a report datagram, or None when ``data`` is not one."""
    if not data.startswith(REPORT_PREFIX):
        return None
    fields = data[len(REPORT_PREFIX) :].split(b" ")
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        return None
    return int(fields[0]), int(fields[1])
