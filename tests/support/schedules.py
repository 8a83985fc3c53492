"""Reading open-loop schedules in tests: a client's due times, or the run's, up to a time."""

from __future__ import annotations

from sockbench.core.schedule import ClientArrivals, RateSchedule


def due_before(client: ClientArrivals, t_ns: int) -> list[int]:
    """The client's due times before ``t_ns``, asked for k = 0, 1, ... as the drivers do."""
    times = []
    k = 0
    while (due := client.due(k)) < t_ns:
        times.append(due)
        k += 1
    return times


def merged(schedule: RateSchedule, t_ns: int) -> list[int]:
    """Every client's due times before ``t_ns``, in order: the run's arrivals."""
    return sorted(t for i in range(schedule.clients) for t in due_before(schedule.client(i), t_ns))
