"""Keep the cyclic garbage collector's full passes out of the measurement.

CPython's collector stops the thread while it walks its generations. A full (oldest
generation) pass walks every tracked object the process holds: the imported modules,
trio's and sockbench's own state, each client's. In a worker that is tens of
milliseconds, taken whenever enough objects have survived the younger passes. That
is a stall of the generator: an open-loop run at 20k req/s on a quiet machine showed
a 31 ms full pass as a 31 ms send lag, its p99.9 latency 58 ms against 3.5 ms in
runs without one, and the server's arrival gaps a coefficient of variation of 1.7
for a Poisson schedule.

Trade-off: ``gc.freeze()`` once the clients are set up moves every tracked object
into a permanent generation that no pass walks, so a full pass only walks what was
made since, as a young one does. The collector stays on: a cycle made during the run
is still collected. Freezing is a splice of the collector's lists, not a walk, so it
costs nothing however big the heap; there is no ``gc.collect()`` first, which in a
process that holds much (a long sweep, a test session) took long enough to move the
window's start by a quarter second. The price: garbage that was awaiting a pass when
the heap froze is kept until the run's end, when unfreezing hands everything back to
the collector, so a process that runs many (a sweep, the tests) keeps none of it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze the heap for the ``with`` block, unfreeze it on the way out."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
