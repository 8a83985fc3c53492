"""How clients come up: ``--ramp`` and ``--connect-rate`` as a worker applies them."""

from __future__ import annotations

from sockbench.core.schedule import StartSchedule
from sockbench.core.spec.load import Load


def start_schedule(load: Load, clients_here: int) -> StartSchedule:
    """When each of a worker's clients first connects, after the gate's origin."""
    return StartSchedule(
        here=clients_here,
        clients=load.clients,
        ramp_ns=int(load.ramp_s * 1e9) if load.ramps_clients else 0,
        connect_rate=load.connect_rate,
    )
