"""A reply's bytes against a known one: :data:`starts_at`, the mix parsers' compare.

``starts_at(buf, prefix, start, end)`` answers ``buf.startswith(prefix, start, end)``.
Trade-off: in the compiled build it is C (``_match.c``), since ``bytearray.startswith``
parses its arguments the old way (``PyArg_ParseTuple``, then a slice index each) and is
looked up as a method at every call, about 60 ns once or twice a reply, some 5 % of a
pipelined redis GET's generator CPU; pure, it is that method itself, unbound, which
costs there what the bound call does. The answers are the same.
"""

from __future__ import annotations

from collections.abc import Callable

starts_at: Callable[[bytearray, bytes, int, int], bool]
try:
    from sockbench.core.protocols._match import starts_at
except ImportError:  # the pure build
    starts_at = bytearray.startswith
