"""``--bitrate`` (iperf3's ``-b``): a datagram stream paced in bits/s, as the run's
``--rate`` in datagrams/s derived from it and ``--payload`` (issue 30, item 3; pure)."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.errors import ConfigError
from tests.support.specs import spec_of

UDP_STREAM: dict[str, Any] = {"mode": "stream", "proto": "udp", "payload": "1k"}


def test_a_bitrate_paces_the_stream_in_datagrams_per_second() -> None:
    spec = spec_of({**UDP_STREAM, "bitrate": "100M"})
    assert spec.load.rate == 100e6 / 8 / 1024  # 12,207.03 datagrams/s of 1 KiB
    config = spec.to_json()
    assert (config["rate"], config["bitrate"]) == (spec.load.rate, 100e6)


def test_without_a_bitrate_the_config_has_no_bitrate_key() -> None:
    assert "bitrate" not in spec_of({**UDP_STREAM, "rate": "1000"}).to_json()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"mode": "stream", "proto": "tcp"}, "--bitrate paces --mode stream over datagrams"),
        ({"mode": "echo", "proto": "udp"}, "--bitrate paces --mode stream over datagrams"),
        ({**UDP_STREAM, "rate": "1000"}, "give --rate (datagrams/s) or --bitrate (bits/s)"),
    ],
)
def test_a_bitrate_where_it_does_not_apply_is_one_line(options: dict[str, Any], said: str) -> None:
    with pytest.raises(ConfigError, match=said.replace("(", r"\(").replace(")", r"\)")):
        spec_of({**options, "bitrate": "100M"})


@pytest.mark.parametrize("bitrate", ["1", "1e20", "inf"])
def test_a_bitrate_beyond_the_rate_limits_says_so(bitrate: str) -> None:
    with pytest.raises(ConfigError, match="--bitrate"):
        spec_of({**UDP_STREAM, "bitrate": bitrate})


@pytest.mark.parametrize("bitrate", ["0", "-5", "nan", "fast"])
def test_a_bitrate_that_is_no_positive_number_is_refused(bitrate: str) -> None:
    with pytest.raises(ConfigError, match="--bitrate"):
        spec_of({**UDP_STREAM, "bitrate": bitrate})
