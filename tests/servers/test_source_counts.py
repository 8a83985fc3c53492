"""A source's count at the half-close, over TLS: a write TLS did not finish goes first,
counted once (unit: no socket; the e2e runs are in tests/engine/test_tls_e2e.py)."""

from __future__ import annotations

import pytest

from sockbench.core.sink_report import decode_source_report
from sockbench.servers.source import StreamCounts

pytestmark = pytest.mark.unit

CHUNK = memoryview(b"s" * 1000)


@pytest.mark.parametrize("unfinished", [False, True])
def test_the_closing_bytes_finish_the_unfinished_write_then_report_it(unfinished: bool) -> None:
    counts = StreamCounts()
    counts.sent, counts.unfinished = 5000, unfinished
    counts.read(7)
    out = counts.closing(CHUNK)
    head = len(CHUNK) if unfinished else 0
    assert out[:head] == CHUNK[:head]  # the retry starts with the very chunk TLS holds
    assert decode_source_report(out[head:]) == (1, 7, 5000 + head)
    assert counts.sent == 5000 + head and not counts.unfinished
