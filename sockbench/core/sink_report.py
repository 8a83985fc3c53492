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

A ``source`` (``--reverse``, ``--bidir``) is a sink that also writes: its reports add a
third count, the bytes it sent on that connection (:func:`encode_report` with ``sent``),
so the client can check ``sent (server) = received (client) + in flight`` exactly.

* Streams: the source writes :data:`SOURCE_BYTE` bytes, never a NUL, until the client's
  half-close; then it stops writing and answers with its report, which starts with a
  NUL (:data:`REPORT_PREFIX`): the report is whatever follows the stream's last NUL.
* Datagrams: :func:`encode_source_request` asks for a flow of ``payload``-byte
  datagrams at ``rate``/s for ``seconds`` (iperf3 says it on a control connection;
  here the client's first datagram says it, so a flow needs no second socket).
"""

from __future__ import annotations

REPORT_REQUEST = b"\x00sockbench:report?"
REPORT_PREFIX = b"\x00sockbench:report="
REPORT_MAX = len(REPORT_PREFIX) + 3 * 20 + 2  # three 64-bit counts and two spaces
SOURCE_REQUEST = b"\x00sockbench:source="
SOURCE_BYTE = b"s"  # what a stream source writes: never a NUL, so its report stands out


def encode_report(count: int, nbytes: int, sent: int | None = None) -> bytes:
    """The reply to :data:`REPORT_REQUEST` or to a half-close: ``REPORT_PREFIX``
    then ``"<count> <bytes>"``, and a source's ``" <sent>"``."""
    tail = "" if sent is None else f" {sent}"
    return REPORT_PREFIX + f"{count} {nbytes}{tail}".encode()


def decode_report(data: bytes) -> tuple[int, int] | None:
    """``(count, bytes)`` from a sink's report, or None when ``data`` is not exactly one."""
    fields = _counts(data, REPORT_PREFIX, 2)
    return None if fields is None else (fields[0], fields[1])


def decode_source_report(data: bytes) -> tuple[int, int, int] | None:
    """``(count, bytes, sent)`` from a source's report, or None when ``data`` is not one."""
    fields = _counts(data, REPORT_PREFIX, 3)
    return None if fields is None else (fields[0], fields[1], fields[2])


def encode_source_request(rate: float, payload: int, seconds: float) -> bytes:
    """Ask a datagram source for ``payload``-byte datagrams at ``rate``/s for ``seconds``
    (rate and seconds in thousandths: whole numbers on the wire)."""
    return SOURCE_REQUEST + f"{round(rate * 1000)} {payload} {round(seconds * 1000)}".encode()


def decode_source_request(data: bytes) -> tuple[float, int, float] | None:
    """``(rate, payload, seconds)`` from :func:`encode_source_request`; None otherwise."""
    fields = _counts(data, SOURCE_REQUEST, 3)
    return None if fields is None else (fields[0] / 1000, fields[1], fields[2] / 1000)


def _counts(data: bytes, prefix: bytes, n: int) -> tuple[int, ...] | None:
    """The ``n`` space-separated whole numbers after ``prefix``; None when not exactly so."""
    if not data.startswith(prefix) or len(data) > len(prefix) + n * 21:
        return None
    fields = bytes(data[len(prefix) :]).split(b" ")
    if len(fields) != n or not all(f.isdigit() for f in fields):
        return None
    return tuple(int(f) for f in fields)


def split_source_tail(tail: bytes) -> tuple[int, tuple[int, int, int] | None]:
    """A stream source's last bytes: how many of them were the stream's (before its
    report), and the report (None: no report came, every byte was the stream's)."""
    at = tail.rfind(b"\x00")
    if at < 0:
        return len(tail), None
    return at, decode_source_report(tail[at:])


def window_received(reported: int, before: int, in_window: int) -> int:
    """How many of the bytes a stream client wrote inside the window the sink read.

    A stream delivers in order, so the sink's first ``before`` bytes are the
    warm-up's, the next ``in_window`` the window's; whatever it did not read
    (a broken connection) is missing from the end.
    """
    return max(0, min(reported, before + in_window) - before)
