"""Clock offsets between hosts, estimated the way NTP does (pure).

Monotonic clocks are per host: their zero is each host's boot, so a window in the
coordinator's clock means nothing on another node. The coordinator asks a node
for its clock a few times; each answer was read somewhere between sending the
question and getting the reply, so assuming it was read half-way gives an offset
that is wrong by at most half that round trip. The sample with the smallest round
trip is kept: queueing in the channel only ever adds delay, and rarely does so
symmetrically. Trade-off: asymmetric one-way delays stay invisible (as in NTP);
the bound reported is still honest, since the true offset lies inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockSample:
    """One round trip: the coordinator's clock at sending and receiving, the node's in between."""

    sent_ns: int
    remote_ns: int
    received_ns: int

    @property
    def rtt_ns(self) -> int:
        return self.received_ns - self.sent_ns


@dataclass(frozen=True)
class ClockOffset:
    """``node clock = coordinator clock + offset_ns``, true to within ``uncertainty_ns``."""

    offset_ns: int
    uncertainty_ns: int

    def to_node(self, coordinator_ns: int) -> int:
        return coordinator_ns + self.offset_ns


ZERO_OFFSET = ClockOffset(0, 0)


def estimate_offset(samples: Sequence[ClockSample]) -> ClockOffset:
    """The offset from the sample with the smallest round trip; uncertainty is half of it."""
    if not samples:
        raise ValueError("estimating a clock offset needs at least one sample")
    best = min(samples, key=lambda s: s.rtt_ns)
    if best.rtt_ns < 0:
        raise ValueError("a clock sample was received before it was sent")
    midpoint = best.sent_ns + best.rtt_ns // 2
    return ClockOffset(best.remote_ns - midpoint, -(-best.rtt_ns // 2))


def uncertainty_too_large(uncertainty_ns: int, warmup_s: float) -> bool:
    """More than 1 % of the warm-up: node windows may then start visibly apart."""
    return uncertainty_ns > 0.01 * warmup_s * 1e9
