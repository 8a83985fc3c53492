"""Both client drivers, so the accuracy tests never let them drift apart.

``batch=True`` is the pump (every echo-mode client of a worker in one task, the
default); ``batch=False`` is the reference driver, a trio task per client (``--no-batch``).
"""

from __future__ import annotations

import pytest

BOTH_DRIVERS = pytest.mark.parametrize("batch", [True, False], ids=["pump", "task-per-client"])
