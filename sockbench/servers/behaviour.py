"""What a server does with the bytes it receives, independent of how it does I/O (pure).

Every model shares this, so a comparison between models measures their I/O
strategy and nothing else.

* ``echo`` (default, RFC 862): reply with exactly the bytes received.
* ``sink``: streams read and discard. Datagrams are counted per sender and not
  answered, except the control datagram :data:`REPORT_REQUEST`, answered with
  :func:`encode_report` of that sender's ``count`` and ``bytes`` since its last
  report (its counters then reset). A load generator learns this way how many of
  its datagrams the server really received, without any reply traffic.
* ``source`` (``--reverse``, ``--bidir``): a sink that also sends: a stream to each
  connection (:mod:`.source`), a paced flow of datagrams to each sender that asks for
  one (:mod:`.datagram_source`); its reports add the bytes it sent.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from sockbench.core.kinds import ServerBehaviour
from sockbench.core.sink_report import REPORT_REQUEST, encode_report

if TYPE_CHECKING:
    from sockbench.servers.context import StopSignal

Payload = bytes | bytearray | memoryview
DatagramResponder = Callable[[Payload, Hashable], Payload | None]


class SinkLedger:
    """Per-sender datagram counters for sink mode. Not thread-safe: one reader owns it."""

    __slots__ = ("_senders",)

    def __init__(self) -> None:
        self._senders: dict[Hashable, list[int]] = {}

    def __call__(self, data: Payload, sender: Hashable) -> bytes | None:
        """Count ``data`` from ``sender``; return the reply to send, if any."""
        if len(data) == len(REPORT_REQUEST) and data == REPORT_REQUEST:
            count, nbytes = self._senders.pop(sender, (0, 0))
            return encode_report(count, nbytes) if sender else None
        entry = self._senders.get(sender)
        if entry is None:
            self._senders[sender] = [1, len(data)]
        else:
            entry[0] += 1
            entry[1] += len(data)
        return None

    def counts(self, sender: Hashable) -> tuple[int, int]:
        count, nbytes = self._senders.get(sender, (0, 0))
        return count, nbytes


def _echo(data: Payload, sender: Hashable) -> Payload | None:
    # An unbound Unix datagram client has no address to answer to.
    return data if sender else None


def datagram_responder(
    behaviour: ServerBehaviour, sock: socket.socket | None = None, stop: StopSignal | None = None
) -> DatagramResponder:
    """A fresh ``respond(data, sender) -> reply | None`` for one datagram socket's reader
    (a source sends its flows through ``sock`` until ``stop``: both needed for one)."""
    if behaviour is ServerBehaviour.ECHO:
        return _echo
    if behaviour is ServerBehaviour.SOURCE:
        assert sock is not None and stop is not None, "a source sends through its socket"
        from sockbench.servers.datagram_source import DatagramSource

        return DatagramSource(sock, stop)
    return SinkLedger()
