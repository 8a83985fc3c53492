"""The messages a worker process and its coordinator exchange over a pipe.

worker -> coordinator: :class:`Connected`, then (``--warmup auto``) :class:`WarmupInterval`
per warm-up interval, :class:`Interval` per interval, :class:`Draining` per interval of
the drain, then :class:`Done`; coordinator ->
worker: :class:`Go`, :class:`StartAt` to start the window earlier (``--warmup auto``),
:class:`EndAt` to end it earlier (``--until``), and :class:`Stop` to end early.
They are pickled by :mod:`multiprocessing`; :func:`receive` is the one place that
reads and checks them, so an unexpected message is an error with a name, not an
``assert`` that ``python -O`` would skip.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing.connection import Connection

import trio

from sockbench.core.intervals import IntervalRow
from sockbench.core.progress import DrainProgress
from sockbench.core.tally import Tally
from sockbench.engine.worker.run import Window


@dataclass(frozen=True)
class Connected:
    connections: int


@dataclass(frozen=True)
class Interval:
    row: IntervalRow


@dataclass(frozen=True)
class WarmupInterval:
    """A warm-up row (``--warmup auto``): for the rule, never merged into the window's."""

    row: IntervalRow


@dataclass(frozen=True)
class Draining:
    """The drain's ``turn``-th interval: where it stands (live progress only)."""

    turn: int
    progress: DrainProgress


@dataclass(frozen=True)
class Done:
    tally: Tally


@dataclass(frozen=True)
class Go:
    window: Window


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class EndAt:
    """End the window at ``end_ns`` instead (``--until``), as at its own end."""

    end_ns: int


@dataclass(frozen=True)
class StartAt:
    """Start the window at ``start_ns`` instead (``--warmup auto``): the warm-up settled."""

    start_ns: int


ToCoordinator = Connected | WarmupInterval | Interval | Draining | Done
ToWorker = Go | Stop | StartAt | EndAt
Message = ToCoordinator | ToWorker


class ProtocolError(Exception):
    """The other end sent something that is not a message of this protocol."""


async def receive(conn: Connection) -> Message:
    """The next message; EOFError/OSError when the other end is gone."""
    await trio.lowlevel.wait_readable(conn.fileno())
    message = conn.recv()
    if not isinstance(message, ToCoordinator | ToWorker):
        raise ProtocolError(f"unexpected message on the worker pipe: {message!r}")
    return message


def send(conn: Connection, message: Message) -> bool:
    """Send ``message``; False when the other end is gone (its reader reports that)."""
    try:
        conn.send(message)
    except OSError:  # BrokenPipeError, ConnectionResetError: it exited or was killed
        return False
    return True
