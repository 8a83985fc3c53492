"""How clients come up: ``--ramp`` and ``--connect-rate`` as a worker applies them."""

from __future__ import annotations

from sockbench.config import RunConfig
from sockbench.core.schedule import StartSchedule


def clients_ramp(config: RunConfig) -> bool:
    """Whether clients come up over the ramp (closed loop); with --rate the rate ramps."""
    return config.ramp_s > 0 and config.rate is None


def start_schedule(config: RunConfig, clients_here: int) -> StartSchedule:
    """When each of a worker's clients first connects, after the gate's origin."""
    return StartSchedule(
        here=clients_here,
        clients=config.clients,
        ramp_ns=int(config.ramp_s * 1e9) if clients_ramp(config) else 0,
        connect_rate=config.connect_rate,
    )
