"""Frozen records that pickle by their fields, compiled or not.

The run spec crosses to worker processes by pickle, with the matchers and the protocol's
options inside it, and the datagram counts and summaries come back the same way. A frozen
dataclass pickles by default as its ``__dict__`` or slots, restored by setting each
attribute, which a class compiled by mypyc (``make compiled``) turns into its frozen
``__setattr__``: every worker died at its start. Trade-off: :class:`PicklesByFields`
rebuilds the record through its constructor from its ``init`` fields instead (validation
in ``__post_init__`` runs again, a few µs per record per worker start), the same pickle in
both builds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields


def _rebuilt(cls: Callable[..., object], values: dict[str, object]) -> object:
    return cls(**values)


class PicklesByFields:
    """Base of a frozen dataclass: unpickled by calling the class with its fields."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        record = fields(self)  # type: ignore[arg-type]  # every subclass is a dataclass
        return _rebuilt, (type(self), {f.name: getattr(self, f.name) for f in record if f.init})
