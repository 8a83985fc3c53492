"""Per-node rows of a cluster run (pure): where each worker ran, grouped by node."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sockbench.core.clocks import ClockOffset
from sockbench.core.tally import Tally

SATURATION = 0.9  # of a node's capacity for our workers, as on one host


@dataclass(frozen=True)
class Seat:
    """Where one worker ran: its node, that node's CPUs, its clients and the node's clock."""

    node_id: str
    host: str
    node_cpus: int
    clients: int
    clock: ClockOffset
    cpu_percent_mean: float | None = None
    rss_bytes_max: int | None = None


def node_rows(
    seats: Sequence[Seat], tallies: Mapping[int, Tally], failed: Sequence[int]
) -> list[dict[str, Any]]:
    """One row per node, in order of first appearance; requests add up to the run's totals.

    Saturation is judged per node: a node whose workers used 90 % of the cores they
    could use measured itself, whatever the other nodes did.
    """
    rows: dict[str, dict[str, Any]] = {}
    for i, seat in enumerate(seats):
        row = rows.setdefault(
            seat.node_id,
            {
                "node_id": seat.node_id,
                "host": seat.host,
                "workers": 0,
                "failed_workers": 0,
                "clients": 0,
                "requests": 0,
                "errors": 0,
                "cpu_percent_mean": None,
                "rss_bytes_max": None,
                "saturated": False,
                "clock_offset_us": round(seat.clock.offset_ns / 1e3, 1),
                "clock_uncertainty_us": round(seat.clock.uncertainty_ns / 1e3, 1),
                "_cpus": seat.node_cpus,
            },
        )
        row["workers"] += 1
        row["clients"] += seat.clients
        row["failed_workers"] += i in failed
        tally = tallies.get(i)
        if tally is not None:
            row["requests"] += tally.requests
            row["errors"] += sum(tally.errors.values())
        if seat.cpu_percent_mean is not None:
            row["cpu_percent_mean"] = round(
                (row["cpu_percent_mean"] or 0) + seat.cpu_percent_mean, 1
            )
        if seat.rss_bytes_max is not None:
            row["rss_bytes_max"] = (row["rss_bytes_max"] or 0) + seat.rss_bytes_max
    for row in rows.values():
        capacity = 100.0 * min(row["workers"], row.pop("_cpus"))
        row["saturated"] = (row["cpu_percent_mean"] or 0) >= SATURATION * capacity
    return list(rows.values())
