"""What a result sampled of the machines: ``server_resources`` and ``generator``."""

from __future__ import annotations

from typing import Annotated, NotRequired

from annotated_types import Len
from typing_extensions import TypedDict

from sockbench.core.records.fields import AtLeastOne, Count, NonNegative, record


@record
class Resources(TypedDict):
    cpu_percent_mean: NonNegative
    cpu_percent_max: NonNegative
    cpu_user_percent_mean: NotRequired[NonNegative]
    cpu_system_percent_mean: NotRequired[NonNegative]
    rss_bytes_max: NonNegative
    threads_max: NonNegative
    fds_max: NonNegative
    samples: NotRequired[NonNegative]
    # A target sockbench did not start: which process it found serving it and sampled,
    # as ``redis-server (pid 1234)`` (servers/listeners.py).
    process: NotRequired[str]


@record
class Node(TypedDict):
    node_id: str
    host: str
    workers: AtLeastOne
    failed_workers: NotRequired[Count]
    clients: Count
    requests: Count
    errors: Count
    cpu_percent_mean: NonNegative | None
    rss_bytes_max: Count | None
    saturated: bool
    clock_offset_us: float
    clock_uncertainty_us: NonNegative


@record
class Generator(Resources):
    loop_busy_percent: NotRequired[NonNegative]
    workers: AtLeastOne
    cores: NotRequired[AtLeastOne]
    saturated: bool
    cluster_setup_s: NotRequired[NonNegative]
    nodes: NotRequired[Annotated[list[Node], Len(1)]]
