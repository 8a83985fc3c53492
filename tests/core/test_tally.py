"""Tally.request_reply: what ``issued is None`` stood for, named once (pure)."""

from __future__ import annotations

from dataclasses import replace

from sockbench.core.tally import Tally, merge_tallies

STREAM = replace(Tally.empty(), requests=5)  # --mode stream: sinks report, nothing is issued
EXCHANGES = replace(Tally.empty(), requests=3, issued=4, failed={"timeout": 1})


def test_request_reply_is_whether_requests_were_issued_and_accounted() -> None:
    assert not STREAM.request_reply and EXCHANGES.request_reply
    assert replace(Tally.empty(), issued=0).request_reply  # none issued is still an exchange
    # Stream mode has no accounting to balance; exchanges must add up.
    assert STREAM.balanced and EXCHANGES.balanced
    assert not replace(EXCHANGES, issued=5).balanced


def test_merged_tallies_are_request_reply_only_when_every_one_is() -> None:
    both = merge_tallies([EXCHANGES, EXCHANGES])
    assert both.request_reply and both.issued == 8 and both.balanced
    mixed = merge_tallies([EXCHANGES, STREAM])
    assert not mixed.request_reply and mixed.issued is None
