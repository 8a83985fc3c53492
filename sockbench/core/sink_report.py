"""The wire format between a sink-mode server and a stream-mode client (pure).

A sink counts what it reads and answers with :func:`encode_report` of
``(count, bytes)``: the only reply it ever sends.

* Datagrams (UDP, unix-dgram): counters per sender; the control datagram
  :data:`REPORT_REQUEST` asks for them (``count`` is datagrams), and resets them.
* Streams (TCP, unix stream): counters per connection; the client's half-close
  (``shutdown(SHUT_WR)``) asks for them, and the sink answers, then closes.
  ``count`` is the number of reads, so ``bytes / count`` says how much each read got.

Why the half-close: a byte stream has no spare in-band signal, and framing the
payload would make the sink parse what it should only discard. EOF is the one
marker TCP and Unix streams already carry, and it comes after every byte the
client wrote, so the count that answers it is final: nothing is left in a
socket buffer, sender bytes == receiver bytes exactly unless the connection
broke. A peer that is not a sockbench sink closes (or says something else) and
the client then reports the receiver as unknown. Both sides import this module,
so the engine does not depend on the servers package.
"""

from __future__ import annotations

REPORT_REQUEST = b"\x00sockbench:report?"
REPORT_PREFIX = b"\x00sockbench:report="
REPORT_MAX = len(REPORT_PREFIX) + 2 * 20 + 1  # two 64-bit counts and a space


def encode_report(count: int, nbytes: int) -> bytes:
    """The reply to :data:`REPORT_REQUEST` or to a half-close: ``REPORT_PREFIX``
    then ``"<count> <bytes>"``."""
    return REPORT_PREFIX + f"{count} {nbytes}".encode()


def decode_report(data: bytes) -> tuple[int, int] | None:
    """``(count, bytes)`` from a report, or None when ``data`` is not exactly one."""
    if not data.startswith(REPORT_PREFIX):
        return None
    fields = data[len(REPORT_PREFIX) :].split(b" ")
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        return None
    return int(fields[0]), int(fields[1])


def window_received(reported: int, before: int, in_window: int) -> int:
    """How many of the bytes a stream client wrote inside the window the sink read.

    A stream delivers in order, so the sink's first ``before`` bytes are the
    warm-up's, the next ``in_window`` the window's; whatever it did not read
    (a broken connection) is missing from the end.
    """
    return max(0, min(reported, before + in_window) - before)
