"""Which clients a worker's connect lines speak of, where a run has several workers."""

from __future__ import annotations

import pytest

from sockbench.endpoints import Endpoint, Proto
from sockbench.engine.worker.run import WorkOrder, _worker_label
from sockbench.machine import build_run_spec
from tests.support.runs import BASE

pytestmark = pytest.mark.unit


def _order(clients: int, share: int, index: int, first: int) -> WorkOrder:
    spec = build_run_spec(
        {**BASE, "target": "tcp://127.0.0.1:9", "server_model": None, "proto": "",
         "clients": clients}
    )  # fmt: skip
    endpoint = Endpoint(Proto.TCP, "127.0.0.1", 9)
    return WorkOrder(spec, endpoint, share, index=index, first_client=first)


def test_one_worker_with_every_client_needs_no_label() -> None:
    assert _worker_label(_order(30_000, 30_000, 0, 0)) == ""


def test_each_of_several_workers_names_its_own_clients() -> None:
    assert _worker_label(_order(30_000, 15_000, 0, 0)) == (
        " (worker 0: clients 1-15,000 of 30,000)"
    )
    assert _worker_label(_order(30_000, 15_000, 1, 15_000)) == (
        " (worker 1: clients 15,001-30,000 of 30,000)"
    )
