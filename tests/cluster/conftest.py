"""A local Ray cluster of three 1-CPU nodes, all on 127.0.0.1, shared by a test module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# Before Ray is imported: Ray otherwise swaps 127.0.0.1 for this host's outward address,
# and every node and driver must stay on loopback.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

NODES = 3
#: Kills a node's raylet: the shared cluster has a node fewer after it, so it runs last.
TAKES_A_NODE = "test_a_node_whose_raylet_dies_degrades_the_run_and_its_actor_stops"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whatever order the module lists its tests in, the one that takes a node out runs
    after every other (a test appended after it waited 60 s for a worker it could not place)."""
    items.sort(key=lambda item: item.name == TAKES_A_NODE)


@pytest.fixture(scope="module")
def ray_cluster(local_cluster: Any) -> str:
    """The cluster's address (HOST:PORT), with this process already joined to it."""
    return str(local_cluster.address)


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[Any]:
    """The ``ray.cluster_utils.Cluster`` itself (its nodes' processes), this process joined."""
    import logging

    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    try:
        for _ in range(NODES - 1):
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level=logging.ERROR, log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
