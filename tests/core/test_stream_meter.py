"""``--mode stream``'s interval accounting (issue 30): rows that add up to the totals
exactly, wherever the cuts fall, and a receiver's side only where it was known (pure)."""

from __future__ import annotations

from sockbench.core.histogram import encode, new_histogram
from sockbench.core.intervals import IntervalRow, merge_rows
from sockbench.core.stream_meter import StreamCut, StreamMeter, settled


def test_cuts_add_up_to_the_totals_and_warm_up_bytes_never_count() -> None:
    meter = StreamMeter(clients=2, payload=1000)
    meter.wrote(0, 5000, in_window=False)  # the warm-up's
    meter.wrote(0, 2500, in_window=True)
    meter.wrote(1, 1200, in_window=True)
    meter.took(0, 5000 + 2000)  # the peer took the warm-up's 5000, then 2000 of the window's
    meter.took(1, 1200)
    first = meter.cut()
    assert first == StreamCut(sent_bytes=3700, received_bytes=3200, messages=3)
    meter.wrote(1, 2600, in_window=True)
    meter.took(0, 5000 + 2500)
    meter.took(1, 3000)
    second = meter.cut()
    assert second == StreamCut(sent_bytes=2600, received_bytes=2300, messages=3)
    meter.finish(0, 2500)
    meter.finish(1, 3800)
    last = meter.cut()
    assert last == StreamCut(sent_bytes=0, received_bytes=800, messages=0)
    cuts = (first, second, last)
    assert sum(c.sent_bytes for c in cuts) == meter.sent_total == 6300
    assert sum(c.received_bytes or 0 for c in cuts) == meter.received_total == 6300
    # Messages: whole payloads of all the bytes written, as each cut saw them (6 of 6300).
    assert sum(c.messages for c in cuts) == meter.messages == 6


def test_a_finished_client_keeps_its_final_count() -> None:
    meter = StreamMeter(clients=1, payload=1)
    meter.wrote(0, 100, in_window=True)
    meter.finish(0, 100)
    meter.took(0, None)  # a probe read after the socket closed: ignored
    assert meter.received == [100]


def test_a_receiver_unknown_at_one_cut_is_unknown_from_there_on() -> None:
    """UDP and Unix streams: the sink counts only at the end. A last row holding the whole
    window's received bytes is the bug of issue 30, so there is no received side at all."""
    meter = StreamMeter(clients=1, payload=100)
    meter.sent_datagram(0, 100)
    assert meter.cut() == StreamCut(sent_bytes=100, received_bytes=None, messages=1)
    meter.sent_datagram(0, 100)
    meter.finish(0, 200)
    assert meter.cut() == StreamCut(sent_bytes=100, received_bytes=None, messages=1)


def test_a_final_count_below_what_was_acknowledged_drops_the_received_side() -> None:
    meter = StreamMeter(clients=1, payload=10)
    meter.wrote(0, 100, in_window=True)
    meter.took(0, 90)
    assert meter.cut().received_bytes == 90
    meter.finish(0, 50)  # a broken connection: the sink read less than TCP acknowledged
    assert meter.cut().received_bytes is None


EMPTY = encode(new_histogram())


def _row(t: float, sent: int, received: int | None) -> IntervalRow:
    return IntervalRow(
        t - 1, t, 0, 0, 0.0, 0, 0, 0, EMPTY, sent_bytes=sent, received_bytes=received
    )


def test_settled_keeps_the_received_side_only_where_every_row_has_it() -> None:
    whole = (_row(1, 10, 8), _row(2, 10, 12))
    assert settled(whole) == whole
    broken = settled((_row(1, 10, 8), _row(2, 10, None)))
    assert [r.received_bytes for r in broken] == [None, None]
    assert [r.sent_bytes for r in broken] == [10, 10]


def test_a_row_reports_bytes_and_bits_per_second_and_merges_by_adding() -> None:
    doc = _row(1, 1_000_000, None).to_json()
    assert (doc["sent_bytes"], doc["sent_bps"]) == (1_000_000, 8_000_000.0)
    assert (doc["received_bytes"], doc["received_bps"]) == (None, None)
    assert "sent_bytes" not in IntervalRow(0, 1, 0, 0, 0.0, 0, 0, 0, "").to_json()
    [merged] = merge_rows([[_row(1, 10, 8)], [_row(1, 5, 7)]])
    assert (merged.sent_bytes, merged.received_bytes) == (15, 15)
    [partly] = merge_rows([[_row(1, 10, 8)], [_row(1, 5, None)]])
    assert (partly.sent_bytes, partly.received_bytes) == (15, None)
