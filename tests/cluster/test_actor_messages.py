"""What a worker actor's queue holds reaches the coordinator as the messages of the
process backend (pure: the link's buffer, no cluster)."""

from __future__ import annotations

import pytest
import trio

from sockbench.core.clocks import ClockOffset
from sockbench.core.progress import DrainProgress
from sockbench.engine.backends.messages import Connected, Draining

pytestmark = pytest.mark.e2e  # imports ray: seconds, not a unit test's milliseconds


def test_a_drain_report_and_a_connect_come_through_as_messages() -> None:
    from sockbench.engine.backends.ray_actors import _ActorLink

    link = _ActorLink(actor=None, clock=ClockOffset(0, 0))
    progress = DrainProgress(answered=5, failed=1, in_flight=2, unsent=None, ends_in_s=3.0)
    link._buffer.extend([("connected", 4), ("draining", 2, progress)])

    async def both() -> list[object]:
        return [await link.receive(), await link.receive()]

    assert trio.run(both) == [Connected(4), Draining(2, progress)]
