"""The frozen records that cross to worker processes and back pickle by their fields:
the same record after a round trip, built again through its constructor (a class that
mypyc compiled cannot be restored attribute by attribute: sockbench/core/pickling.py)."""

from __future__ import annotations

import pickle

import pytest

from sockbench.core.datagrams import DatagramCounts
from sockbench.core.expect import Echo, Exact, Size, Until
from sockbench.core.histogram import new_histogram, summarize
from sockbench.core.pickling import PicklesByFields
from sockbench.core.protocols.http import HttpOptions
from sockbench.core.protocols.keys import Zipf
from sockbench.core.protocols.mix import KindFormat, ProtocolOptions
from sockbench.errors import ConfigError

hist = new_histogram()
hist.record_value(42)

RECORDS: list[PicklesByFields] = [
    DatagramCounts(sent=10, received=7, lost=2, in_flight=1, unsolicited=3),
    Exact(b"+PONG\r\n"),
    Echo(b"ping"),
    Size(6),
    Until(b"\r\n", 4096),
    summarize(hist),
    HttpOptions(),
    Zipf(1000, 0.99),
    ProtocolOptions(value_size=32, key_space=100_000, ratio=(1, 10)),
    KindFormat("get", b"get %(k)s\r\n", lookups=1),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_a_record_is_the_same_after_a_round_trip(record: PicklesByFields) -> None:
    again = pickle.loads(pickle.dumps(record))
    assert again == record and type(again) is type(record)


def test_it_is_rebuilt_through_its_constructor_so_its_checks_run_again() -> None:
    """A pickle holds the class and its fields, and is rebuilt by calling the class, not
    restored attribute by attribute: values its checks reject cannot come out of one."""
    rebuild, (cls, values) = Until(b"|", 16).__reduce__()
    assert cls is Until and values == {"delim": b"|", "max_size": 16}
    with pytest.raises(ConfigError, match="delimiter must not be empty"):
        rebuild(cls, {**values, "delim": b""})
