"""What differs between the pure and the compiled build (``make compiled``) as a test sees it.

The same source runs in both, and results do not differ; two things a test may touch do:

- a compiled function's or class's insides (a closure's cells, a duck-typed fake where
  the source declares a type: mypyc checks declared types where a value enters), which
  a test of the pure build may look at: :data:`pure_only`;
- the text of a ``TypeError`` raised on a wrong value from a plugin: the interpreter's
  own where it used the value, mypyc's at the typed boundary it crossed:
  :func:`type_error`.
"""

from __future__ import annotations

import pytest

from sockbench import build

COMPILED = build.compiled()

pure_only = pytest.mark.skipif(
    COMPILED, reason="looks inside the pure build (the compiled one runs the same source)"
)


def type_error(pure: str, compiled: str) -> str:
    """The text a wrong value's ``TypeError`` has in the build that runs."""
    return compiled if COMPILED else pure
