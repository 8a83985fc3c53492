"""What each request is and what its reply must look like, from a RunConfig."""

from __future__ import annotations

from collections.abc import Callable

from sockbench.config import RunConfig
from sockbench.core.expect import Echo, Exact, ReplyMatcher, Size, Until
from sockbench.core.protocols import Exchange, ProtocolOptions, build_protocol
from sockbench.core.protocols.simple import payload_bytes

__all__ = [
    "build_exchange",
    "fixed_reply",
    "payload_bytes",
    "protocol_options",
    "reply_matcher",
    "request_bytes",
]


def protocol_options(config: RunConfig) -> ProtocolOptions:
    return ProtocolOptions(
        payload=config.payload,
        request=config.request,
        expect=config.expect,
        expect_value=config.expect_value,
        value_size=config.value_size,
        key_space=config.key_space,
        key_pattern=config.key_pattern,
        ratio=config.ratio,
    )


def build_exchange(config: RunConfig) -> Exchange:
    """The run's protocol (checked when the config was built, so this does not fail)."""
    return build_protocol(config.protocol, protocol_options(config))


def request_bytes(config: RunConfig) -> bytes:
    """The one request of fixed-request workloads (churn, stream)."""
    return config.request if config.request is not None else payload_bytes(config.payload)


def reply_matcher(config: RunConfig) -> ReplyMatcher:
    """How replies are matched: the echo protocol's own fast matchers, else the protocol's
    ``check_reply`` (as a matcher, so the one exchange core serves every protocol)."""
    if config.protocol != "echo":
        return ProtocolMatcher(build_exchange(config).check_reply)
    request = request_bytes(config)
    value = config.expect_value
    if config.expect == "exact":
        assert isinstance(value, bytes)
        return Exact(value)
    if config.expect == "size":
        assert isinstance(value, int)
        return Size(value)
    if config.expect == "until":
        assert isinstance(value, bytes)
        return Until(value)
    return Echo(request)


def fixed_reply(matcher: ReplyMatcher) -> tuple[bytes | None, int]:
    """``(expected bytes or None, size)`` when every reply has one known size, else (None, 0)."""
    if isinstance(matcher, Exact):
        return matcher.expected, len(matcher.expected)
    if isinstance(matcher, Size):
        return None, matcher.size
    return None, 0


class ProtocolMatcher:
    """A protocol's ``check_reply`` where the exchange core expects a matcher.

    ``check_reply``'s ``MALFORMED`` is the matchers' ``MISMATCH`` (-1); its
    ``ERROR_REPLY`` (-2) the exchange counts as ``protocol_error``.
    """

    __slots__ = ("check",)

    def __init__(self, check: Callable[[bytearray, int, int], int]) -> None:
        self.check = check
