"""What each request is and what its reply must look like, from a RunConfig."""

from __future__ import annotations

from sockbench.config import RunConfig
from sockbench.core.expect import Echo, Exact, ReplyMatcher, Size, Until


def payload_bytes(size: int) -> bytes:
    """A deterministic, non-uniform payload, so a server that mangles bytes is caught."""
    return bytes((i * 7 + 13) % 256 for i in range(size))


def request_bytes(config: RunConfig) -> bytes:
    return config.request if config.request is not None else payload_bytes(config.payload)


def reply_matcher(config: RunConfig) -> ReplyMatcher:
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
