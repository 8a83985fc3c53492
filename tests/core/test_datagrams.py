import pytest

from sockbench.core import datagrams as dg
from sockbench.core.datagrams import DatagramCounts, DatagramLedger

MS = 1_000_000


def test_every_datagram_is_in_exactly_one_state() -> None:
    ledger = DatagramLedger(timeout_ns=100 * MS)
    for seq in range(10):
        ledger.on_send(seq, seq * MS)
    for seq in (0, 1, 2, 5):
        assert ledger.on_reply(seq) == dg.RECEIVED
    assert ledger.on_reply(4) == dg.REORDERED
    assert ledger.on_reply(4) == dg.DUPLICATE
    assert ledger.expire(108 * MS) == 4  # 3, 6, 7 and 8; 9 is due at 109 ms
    counts = ledger.counts()
    assert counts.balanced
    assert counts == DatagramCounts(
        sent=10, received=5, lost=4, duplicates=1, reordered=1, late=0, in_flight=1
    )


def test_reply_after_deadline_is_late_and_stays_lost() -> None:
    ledger = DatagramLedger(timeout_ns=10)
    ledger.on_send(0, 0)
    assert ledger.expire(10) == 1
    assert ledger.on_reply(0) == dg.LATE
    c = ledger.counts()
    assert (c.received, c.lost, c.late, c.in_flight) == (0, 1, 1, 0)
    assert c.balanced


def test_warmup_and_unknown_sequence_numbers() -> None:
    ledger = DatagramLedger(timeout_ns=10, first_seq=100)
    ledger.on_send(100, 0)
    assert ledger.on_reply(99) == dg.WARMUP
    assert ledger.on_reply(101) == dg.UNKNOWN
    assert ledger.counts() == DatagramCounts(sent=1, in_flight=1)


def test_sequence_numbers_must_be_consecutive() -> None:
    ledger = DatagramLedger(timeout_ns=10)
    ledger.on_send(0, 0)
    with pytest.raises(ValueError):
        ledger.on_send(2, 0)


def test_drop_every_tenth_gives_ten_percent_loss() -> None:
    ledger = DatagramLedger(timeout_ns=5)
    for seq in range(1000):
        ledger.on_send(seq, seq * 10)
        if seq % 10 != 9:
            ledger.on_reply(seq)
        ledger.expire(seq * 10 + 5)
    c = ledger.counts()
    assert (c.sent, c.received, c.lost, c.in_flight) == (1000, 900, 100, 0)


def test_counts_add_up() -> None:
    a = DatagramCounts(sent=3, received=2, lost=1)
    b = DatagramCounts(sent=5, received=4, in_flight=1)
    assert a + b == DatagramCounts(sent=8, received=6, lost=1, in_flight=1)
    assert (a + b).balanced
