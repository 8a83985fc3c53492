"""What each request is and what its reply must look like, from a run's spec.

The protocol is the spec's, built once per process (:class:`~sockbench.core.spec.request.
ProtocolChoice`): here only the echo protocol's own fast matchers are made.
"""

from __future__ import annotations

from collections.abc import Callable

from sockbench.core.expect import Echo, Exact, ReplyMatcher, Size, Until
from sockbench.core.protocols.simple import payload_bytes
from sockbench.core.spec.request import ProtocolChoice

__all__ = [
    "fixed_reply",
    "payload_bytes",
    "reply_matcher",
    "request_bytes",
]


def request_bytes(protocol: ProtocolChoice) -> bytes:
    """The one request of fixed-request workloads (churn, stream)."""
    options = protocol.options
    return options.request if options.request is not None else payload_bytes(options.payload)


def reply_matcher(protocol: ProtocolChoice) -> ReplyMatcher:
    """How replies are matched: the echo protocol's own fast matchers, else the protocol's
    ``check_reply`` (as a matcher, so the one exchange core serves every protocol)."""
    if protocol.name != "echo":
        return ProtocolMatcher(protocol.adapter().check_reply)
    value = protocol.options.expect_value
    if protocol.options.expect == "exact":
        assert isinstance(value, bytes)
        return Exact(value)
    if protocol.options.expect == "size":
        assert isinstance(value, int)
        return Size(value)
    if protocol.options.expect == "until":
        assert isinstance(value, bytes)
        return Until(value)
    return Echo(request_bytes(protocol))


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
