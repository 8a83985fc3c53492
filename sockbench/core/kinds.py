"""The vocabulary of a run's options: what the clients do and what a reply must be (pure)."""

from __future__ import annotations

import errno
from enum import StrEnum

from sockbench.core.tls import TLS_KINDS


class Workload(StrEnum):
    """``--mode``: what each client does."""

    ECHO = "echo"  # request, then wait for its reply
    CHURN = "churn"  # a new connection per request
    STREAM = "stream"  # one-way, as fast as possible (or at --rate over datagrams)


class StreamDirection(StrEnum):
    """``--mode stream``'s direction: ``--reverse``, ``--bidir`` (iperf3's -R, --bidir)."""

    FORWARD = "forward"  # the clients send, the server reads (the default)
    REVERSE = "reverse"  # the server sends, the clients read
    BIDIR = "bidir"  # both at once: on each connection (tcp, unix), or two flows (datagrams)

    @property
    def sends(self) -> bool:
        """Whether the clients send."""
        return self is not StreamDirection.REVERSE

    @property
    def reads(self) -> bool:
        """Whether the clients read a stream the server sends."""
        return self is not StreamDirection.FORWARD


class ExpectKind(StrEnum):
    """How a reply is recognised and checked."""

    ECHO = "echo"  # the reply repeats the request
    EXACT = "exact"  # --expect: these bytes exactly
    SIZE = "size"  # --expect-size: any reply of this many bytes
    UNTIL = "until"  # --expect-until: up to and including a delimiter


class ServerBehaviour(StrEnum):
    """What a server does with the bytes it receives (``serve --behaviour``)."""

    ECHO = "echo"  # reply with exactly the bytes received (RFC 862)
    SINK = "sink"  # read and discard; datagrams are counted per sender
    SOURCE = "source"  # a sink that also sends: a stream, or a paced flow per sender


class Arrival(StrEnum):
    """``--arrival``: how an open-loop run spaces its requests in time (core/schedule.py)."""

    UNIFORM = "uniform"  # evenly spaced: exactly 1/rate apart over the run
    POISSON = "poisson"  # independent: exponential gaps, a Poisson process of the rate


#: The kinds of error a result counts (``totals.errors``, ``--check 'errors.KIND ...'``):
#: how a request ended without a valid reply (core/exchange.py), how a connection or a
#: send failed (engine/io/error_kinds.py names an errno; one it does not name is counted
#: as errno's own name, lower case: :data:`ERRNO_KINDS`).
ERROR_KINDS = frozenset(
    {
        # a request's end (core/exchange.py)
        "timeout", "unfinished", "lost", "mismatch", "protocol_error", "aborted",
        # a connection's or a send's failure (engine/io/error_kinds.py, engine/clients)
        "closed", "reset", "refused", "broken_pipe", "no_ephemeral_port", "address_in_use",
        "too_many_open_files", "no_buffer_space", "unreachable", "no_such_socket",
        "backlog_full", "connect_timeout", "send_buffer_full", "no_report", "sink_stopped",
        "oserror",
        # a TLS handshake's or record's failure (core/tls.py)
        *TLS_KINDS,
    }
)  # fmt: skip
ERRNO_KINDS = frozenset(name.lower() for name in errno.errorcode.values())


def is_error_kind(name: str) -> bool:
    """Whether a result can count errors of kind ``name`` (``errors.timout`` cannot)."""
    return name in ERROR_KINDS or name in ERRNO_KINDS
