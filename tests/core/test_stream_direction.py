"""``--reverse`` and ``--bidir`` (iperf3's -R and --bidir; issue 30, item 1): the options'
rules, the reads' accounting and the result's ``stream.reverse`` (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.core.kinds import ServerBehaviour, StreamDirection
from sockbench.core.spec.server import BuiltIn
from sockbench.core.stream_meter import (
    AFTER,
    BEFORE,
    INSIDE,
    ReadCount,
    StreamMeter,
    phase_of,
    read_summary,
)
from sockbench.errors import ConfigError
from tests.support.specs import spec_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("options", "direction", "behaviour"),
    [
        ({}, StreamDirection.FORWARD, ServerBehaviour.SINK),
        ({"reverse": True}, StreamDirection.REVERSE, ServerBehaviour.SOURCE),
        ({"bidir": True}, StreamDirection.BIDIR, ServerBehaviour.SOURCE),
    ],
)
def test_a_direction_picks_the_built_in_servers_behaviour(
    options: dict[str, Any], direction: StreamDirection, behaviour: ServerBehaviour
) -> None:
    spec = spec_of({"mode": "stream", **options})
    assert spec.load.direction is direction
    assert isinstance(spec.server, BuiltIn) and spec.server.behaviour is behaviour
    assert spec.to_json()["direction"] == direction.value


def test_only_a_stream_has_a_direction_in_its_config() -> None:
    assert "direction" not in spec_of({}).to_json()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"reverse": True}, "--reverse applies to --mode stream"),
        ({"bidir": True, "mode": "churn"}, "--bidir applies to --mode stream"),
        ({"reverse": True, "bidir": True, "mode": "stream"}, "not both"),
    ],
)
def test_a_direction_where_it_does_not_apply_is_one_line(
    options: dict[str, Any], said: str
) -> None:
    with pytest.raises(ConfigError, match=said):
        spec_of(options)


def test_a_read_counts_in_the_phase_it_arrived_in() -> None:
    assert [phase_of(t, 10, 20) for t in (9, 10, 19, 20)] == [BEFORE, INSIDE, INSIDE, AFTER]


def test_reads_cut_into_rows_that_add_up_and_count_as_messages_when_reversed() -> None:
    meter = StreamMeter(clients=2, payload=100, reading=True, sending=False)
    meter.read(0, 5000, BEFORE)  # the warm-up's: in no row
    meter.read(0, 1000, INSIDE)
    meter.read(1, 250, INSIDE)
    first = meter.cut()
    meter.read(1, 750, INSIDE)
    meter.read(0, 300, AFTER)  # in flight at the window's end: in no row
    second = meter.cut()
    assert (first.read_bytes, second.read_bytes) == (1250, 750)
    assert (first.messages, second.messages) == (12, 8)  # whole payloads read
    assert first.sent_bytes == second.sent_bytes == 0
    meter.source_finished(0, 6300)
    meter.source_finished(1, None)
    assert meter.read_counts() == (ReadCount(5000, 1000, 300, 6300), ReadCount(0, 1000, 0, None))


def test_a_forward_meter_reads_nothing() -> None:
    meter = StreamMeter(clients=1, payload=1)
    assert meter.cut().read_bytes is None and meter.read_counts() == ()


def test_read_summary_closes_sent_equals_read_plus_in_flight_plus_lost() -> None:
    reads = (ReadCount(100, 800, 50, 1000), ReadCount(0, 400, 0, 450))
    r = read_summary(reads, seconds=2.0, payload=50)
    assert r["receiver"] == {"bytes": 1200, "seconds": 2.0, "bps": 4800.0, "messages_per_s": 12.0}
    assert (r["before_bytes"], r["after_bytes"]) == (100, 50)
    assert (r["server_sent_bytes"], r["lost_bytes"]) == (1450, 100)  # 50 + 50 lost
    assert r["server_sent_bytes"] == 100 + 1200 + 50 + r["lost_bytes"]
    assert [s["server_sent_bytes"] for s in r["per_stream"]] == [1000, 450]
    assert r["generator_drops"] == 0


def test_what_the_clients_own_sockets_dropped_is_summed_apart_from_lost() -> None:
    meter = StreamMeter(clients=2, payload=50, reading=True)
    meter.source_finished(0, 100, dropped=2)
    meter.source_finished(1, None, dropped=3)
    assert [r.dropped for r in meter.read_counts()] == [2, 3]
    assert read_summary(meter.read_counts(), 1.0, 50)["generator_drops"] == 5


def test_a_server_that_does_not_say_what_it_sent_leaves_it_unknown() -> None:
    r = read_summary((ReadCount(0, 10, 0, None), ReadCount(0, 20, 0, 20)), 1.0, 1)
    assert r["server_sent_bytes"] is None and r["lost_bytes"] is None
    assert (r["streams"], r["streams_reported"]) == (2, 1)
    assert r["receiver"]["bytes"] == 30
