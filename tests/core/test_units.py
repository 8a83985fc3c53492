"""Option values as users type them (pure)."""

from __future__ import annotations

import pytest

from sockbench.core.units import format_us, parse_count, parse_number, parse_seconds
from sockbench.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "count"),
    [("100", 100), ("10k", 10_000), ("5K", 5_000), ("1.5k", 1_500), ("2M", 2_000_000),
     ("1_000", 1_000), (" 7 ", 7), (42, 42)],
)  # fmt: skip
def test_counts(text: object, count: int) -> None:
    assert parse_count(text, "--clients") == count


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("10s", 10.0), ("2m", 120.0), ("0.5", 0.5), ("10", 10.0),
     ("250us", 0.00025), ("250µs", 0.00025), ("1h", 3600.0), (3, 3.0), ("1h30m", 5400.0),
     ("2m30s", 150.0), ("1s500ms", 1.5), ("1m0.5s", 60.5), ("1H30M", 5400.0)],
)  # fmt: skip
def test_durations(text: object, seconds: float) -> None:
    assert parse_seconds(text, "--duration") == pytest.approx(seconds)


def test_rates() -> None:
    assert parse_number("10k", "--rate") == 10_000.0
    assert parse_number("2.5", "--rate") == 2.5


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_count, "lots", "invalid value for '--x': 'lots'; expected a whole number like 100"),
        (parse_count, "1.5", "expected a whole number"),
        (parse_count, "10q", "10k or 2M"),
        (parse_seconds, "10x", "expected a duration like 500ms, 10s, 2m"),
        (parse_seconds, "ms", "expected a duration"),
        (parse_number, "fast", "expected a number like 2500, 0.5, 10k"),
        (parse_seconds, "30m1h", "the largest unit first, each once"),
        (parse_seconds, "1m1m", "the largest unit first, each once"),
        (parse_seconds, "1h30", "expected a duration like"),
    ],
)
def test_errors_name_the_flag_and_what_it_accepts(parse: object, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(text, "--x")  # type: ignore[operator]


def test_percentiles() -> None:
    from sockbench.core.units import parse_percentiles, percentile_key

    assert parse_percentiles("99.9, 50,99.999") == (50.0, 99.9, 99.999)
    assert [percentile_key(p) for p in (50.0, 99.9, 99.999)] == ["50", "99.9", "99.999"]
    with pytest.raises(ConfigError, match="between 0 and 100"):
        parse_percentiles("50,100")
    with pytest.raises(ConfigError, match="percentiles like 50,90,99"):
        parse_percentiles("p99")


def test_a_negative_value_reaches_the_bounds_check() -> None:
    from sockbench.core.spec.load import Load
    from sockbench.core.spec.option import parse_record

    with pytest.raises(ConfigError, match="--duration must be greater than 0, got -3"):
        parse_record(Load, {"duration_s": "-3"}, "run", {})


@pytest.mark.parametrize(
    ("text", "size"),
    [("64", 64), ("1k", 1024), ("1.5k", 1536), ("64KiB", 65536), ("0.5m", 524288),
     ("2M", 2 * 1024**2), (" 1.5 KiB ", 1536), (100, 100)],
)  # fmt: skip
def test_sizes(text: object, size: int) -> None:
    from sockbench.core.units import parse_size

    assert parse_size(text, "--payload") == size


@pytest.mark.parametrize(("text", "message"), [("1.1k", "1126.4 bytes"), ("0.5", "0.5 bytes"),
                                               ("1.5q", "malformed")])  # fmt: skip
def test_sizes_are_whole_bytes(text: str, message: str) -> None:
    from sockbench.core.units import parse_size

    with pytest.raises(ConfigError, match=message):
        parse_size(text, "--payload")


def test_defaults_read_as_typed() -> None:
    from sockbench.core.units import format_seconds

    assert [format_seconds(s) for s in (2.0, 0.5, 0.0, 10.0, 90.0)] == [
        "2s", "500ms", "0s", "10s", "90s"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("us", "text"),
    [
        (0, "0 µs"), (57.4, "57 µs"), (999.4, "999 µs"), (999.5, "1 ms"), (1000, "1 ms"),
        (1234, "1.23 ms"), (12_345, "12.3 ms"), (999_499, "999 ms"), (999_500, "1 s"),
        (2_541_600, "2.54 s"), (1_234_567_890, "1230 s"), (-1500, "-1.5 ms"),
    ],
)  # fmt: skip
def test_one_wording_of_a_duration(us: float, text: str) -> None:
    """Messages and tables word a duration alike: three significant digits and a unit."""
    assert format_us(us) == text
