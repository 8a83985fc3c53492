"""Closed loop at ``--pipeline N``: the slots a read's replies free are filled in one write,
as memtier and wrk fill theirs (a send per request cost 2.2x the CPU per request:
benchmarks/pipelined_sends.py), and every request is still counted once."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from sockbench.endpoints import Proto
from sockbench.engine.clients.pump import Pump
from tests.engine.test_connectors import REQUESTS, _run

pytestmark = pytest.mark.e2e  # real sockets


def test_a_pipeline_is_refilled_in_one_write_per_read(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    write = Pump._write

    def counted(self: Pump, conn: Any, data: bytes) -> bool:
        writes.append(len(data))
        return write(self, conn, data)

    monkeypatch.setattr(Pump, "_write", counted)
    recorder, _ = trio.run(_run, Proto.TCP, {"pipeline": 8})
    assert not recorder.errors and not recorder.failures
    assert recorder.requests == REQUESTS == recorder.window.issued
    assert sum(writes) == REQUESTS * 64  # every request's bytes, each written once
    # The echo answers each read in one write, so most reads bring several replies.
    assert len(writes) < REQUESTS / 2, f"{len(writes)} writes for {REQUESTS} requests"
