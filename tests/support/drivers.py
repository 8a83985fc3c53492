"""Both client drivers, so the accuracy tests never let them drift apart.

``batch=True`` is the pump (every echo-mode client of a worker in one task, the
default); ``batch=False`` is the reference driver, a trio task per client (``--no-batch``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

BOTH_DRIVERS = pytest.mark.parametrize("batch", [True, False], ids=["pump", "task-per-client"])


def each_on_one_driver(name: str, values: Sequence[object]) -> pytest.MarkDecorator:
    """``name`` over ``values``, each on one driver, the two in turn: for a parameter the
    drivers' code does not branch on (the server model), where every value on both drivers
    would double the cost and test nothing more. Both drivers still meet several values."""
    cases = [
        pytest.param(value, i % 2 == 0, id=f"{value}-{('pump', 'task-per-client')[i % 2]}")
        for i, value in enumerate(values)
    ]
    return pytest.mark.parametrize((name, "batch"), cases)
