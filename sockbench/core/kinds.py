"""The vocabulary of a run's options: what the clients do and what a reply must be (pure)."""

from __future__ import annotations

from enum import StrEnum


class Workload(StrEnum):
    """``--mode``: what each client does."""

    ECHO = "echo"  # request, then wait for its reply
    CHURN = "churn"  # a new connection per request
    STREAM = "stream"  # one-way, as fast as possible (or at --rate over datagrams)


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


class Arrival(StrEnum):
    """``--arrival``: how an open-loop run spaces its requests in time (core/schedule.py)."""

    UNIFORM = "uniform"  # evenly spaced: exactly 1/rate apart over the run
    POISSON = "poisson"  # independent: exponential gaps, a Poisson process of the rate
