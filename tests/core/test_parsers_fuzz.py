"""Property tests of every parser of user input: any text either parses or raises the
one-line :class:`ConfigError`, never anything else (no ValueError, no IndexError, no
OverflowError), and what parses is within bounds."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockbench.core import bounds
from sockbench.core.expect import parse_escapes
from sockbench.core.machine import Machine
from sockbench.core.spec.generator import Generator
from sockbench.core.spec.option import parse_record
from sockbench.core.spec.sizing import parse_cpus, parse_source_ips, workers_for
from sockbench.core.units import parse_size
from sockbench.endpoints import Proto, parse_bind, parse_target
from sockbench.errors import ConfigError

# Text that looks like what the parsers expect, mixed with anything at all.
_PIECES = st.sampled_from(
    ["0", "1", "64", "9" * 30, "-", ",", ".", ":", "//", "k", "KiB", "g", "x", "\\x", "\\",
     "127.0.0.1", "::1", "tcp://", "udp://", "unix://", "[", "]", " ", "\x00", "é", "1e9"]
)  # fmt: skip
TEXT = st.one_of(st.text(max_size=40), st.lists(_PIECES, max_size=8).map("".join))
EXAMPLES = settings(max_examples=200, deadline=None)


def _parses_or_config_error(parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc)
        return None


@EXAMPLES
@given(TEXT)
def test_sizes(text: str) -> None:
    size = _parses_or_config_error(lambda: parse_size(text, "--payload"))
    assert size is None or size >= 0


@EXAMPLES
@given(TEXT)
def test_cpu_lists(text: str) -> None:
    cpus = _parses_or_config_error(lambda: parse_cpus(text, "--server-cpus", frozenset({0, 1})))
    assert cpus is None or all(c >= 0 for c in cpus)


@EXAMPLES
@given(TEXT, st.booleans())
def test_targets(text: str, remote: bool) -> None:
    _parses_or_config_error(lambda: parse_target(text, allow_remote=remote))


@EXAMPLES
@given(TEXT, st.integers(min_value=1, max_value=bounds.MAX_CLIENTS))
def test_source_addresses(text: str, clients: int) -> None:
    ips = _parses_or_config_error(lambda: parse_source_ips(text, clients, None))
    assert ips is None or len(ips) <= 1025 * (text.count(",") + 1)


@EXAMPLES
@given(TEXT)
def test_send_escapes(text: str) -> None:
    _parses_or_config_error(lambda: parse_escapes(text))


@EXAMPLES
@given(TEXT, st.integers(min_value=1, max_value=bounds.MAX_CLIENTS), st.booleans())
def test_workers(text: str, clients: int, force: bool) -> None:
    machine = Machine(usable_cpus=frozenset({0, 1}), cpu_count=2)

    def workers() -> int:
        asked = parse_record(Generator, {"workers": text}, "run", {}).workers
        return workers_for(asked, clients, (), machine, force=force)

    n = _parses_or_config_error(workers)
    assert n is None or 1 <= n <= clients


@EXAMPLES
@given(st.floats(allow_nan=True, allow_infinity=True), st.booleans())
def test_seconds(value: float, zero_ok: bool) -> None:
    check = lambda: bounds.check_seconds(  # noqa: E731
        value, "--duration", maximum=bounds.MAX_RUN_S, zero_ok=zero_ok
    )
    seconds = _parses_or_config_error(check)
    assert seconds is None or (math.isfinite(seconds) and 0 <= seconds <= bounds.MAX_RUN_S)


@EXAMPLES
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_rates(value: float) -> None:
    rate = _parses_or_config_error(lambda: bounds.check_rate(value))
    assert rate is None or bounds.MIN_RATE <= rate <= bounds.MAX_RATE


def test_a_huge_cpu_range_is_refused_without_being_expanded() -> None:
    # Found by this fuzz test in a fresh-clone run: "0-999...9" was expanded into a set
    # and took the machine's memory.
    for text in ("0-" + "9" * 30, "1-99999999999", "5", "0-1,7"):
        with pytest.raises(ConfigError, match="cannot use"):
            parse_cpus(text, "--server-cpus", frozenset({0, 1}))
    assert parse_cpus("0-1", "--server-cpus", frozenset({0, 1})) == (0, 1)


# Issue 33: values that were accepted and then raised, or could never be measured.


@EXAMPLES
@given(st.one_of(TEXT, st.sampled_from(["inf", "-inf", "nan", "1e400", "1e308k"])))
def test_counts(text: str) -> None:
    """A count is a whole finite number or one ConfigError (``-c inf`` overflowed int())."""
    from sockbench.core.units import parse_count

    n = _parses_or_config_error(lambda: parse_count(text, "--clients"))
    assert n is None or isinstance(n, int)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("errors.timout == 0", "unknown error kind 'timout'; did you mean errors.timeout?"),
        ("errors.nosuchthing < 1", "unknown error kind 'nosuchthing'"),
        ("p99 < -1ms", "the threshold is negative"),
        ("errors >= -1", "the threshold is negative"),
        ("rps >= nan", "the threshold must be a finite number"),
        ("rps >= inf", "the threshold must be a finite number"),
        ("loss < nan%", "the threshold must be a finite number"),
        ("p99 < 0", "no measured value is below 0"),
    ],
)
def test_checks_that_could_never_pass_or_fail_are_refused(expr: str, message: str) -> None:
    from sockbench.core.checks import parse_check

    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        parse_check(expr)


@pytest.mark.parametrize(
    "expr", ["errors.timeout == 0", "errors.reset < 5", "errors.econnreset == 0", "p99 <= 0"]
)
def test_checks_of_known_kinds_and_zero_are_accepted(expr: str) -> None:
    from sockbench.core.checks import parse_check

    assert parse_check(expr).threshold >= 0


@pytest.mark.parametrize(
    ("bind", "refused"),
    [("127.0.0.1:0", False), ("[::1]:0", False), ("0.0.0.0:0", True), ("[::]:0", True),
     ("192.0.2.1:0", True)],
)  # fmt: skip
@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UDP])
def test_serve_binds_loopback_unless_allowed(bind: str, refused: bool, proto: Proto) -> None:
    from sockbench.core.spec.serve import check_bind

    endpoint = parse_bind(bind, proto)
    check_bind(endpoint, allow_remote=True)
    if refused:
        with pytest.raises(ConfigError, match="pass --allow-remote"):
            check_bind(endpoint, allow_remote=False)
    else:
        check_bind(endpoint, allow_remote=False)


def test_value_size_is_bounded_where_the_value_is_built() -> None:
    from sockbench.core.protocols.mix import ProtocolOptions, check_key_options, value_bytes

    with pytest.raises(ConfigError, match="--value-size 107374182400 is over the stream"):
        check_key_options(ProtocolOptions(key_space=100, value_size=100 * 1024**3))
    with pytest.raises(ConfigError, match="--value-size 107374182400 is over the stream"):
        check_key_options(ProtocolOptions(key_space=100, value_size_max=100 * 1024**3))
    check_key_options(ProtocolOptions(key_space=100, value_size=bounds.MAX_STREAM_MESSAGE))
    assert value_bytes(40) == b"abcdefghijklmnopqrstuvwxyz0123456789abcd"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("127.0.0.9-127.0.0.1", "ends before it starts"),
        ("127.0.0.1-::1", "mixes IPv4 and IPv6"),
        ("127.0.0.1-127.0.8.1", "holds over 1,025 addresses"),
    ],
)
def test_a_bad_source_range_says_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ConfigError, match=f"^--source-ips range '{text}' {why}$"):
        parse_source_ips(text, 4, None)
