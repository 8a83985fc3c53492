"""Fixed-request protocols: echo and ``--send``/``--expect``, line, length-prefixed (pure).

Each sends one request over and over and only frames or compares what comes back,
so the engine's fastest drivers can use the request as is (``fixed``) and, for
replies of one known size, read them without parsing (``reply_size``/``expected``).
"""

from __future__ import annotations

from sockbench.core.expect import DEFAULT_MAX_REPLY, Echo, Exact, ReplyMatcher, Size, Until
from sockbench.core.protocols.contract import MALFORMED, NEED_MORE
from sockbench.core.protocols.mix import ProtocolOptions
from sockbench.errors import ConfigError


def payload_bytes(size: int) -> bytes:
    """A deterministic, non-uniform payload, so a server that mangles bytes is caught."""
    return bytes((i * 7 + 13) % 256 for i in range(size))


class Fixed:
    """One request, replies checked by a :mod:`~sockbench.core.expect` matcher.

    This is what ``--send``/``--expect``/``--expect-size``/``--expect-until`` (and
    plain echo) build.
    """

    def __init__(self, request: bytes, matcher: ReplyMatcher, name: str = "echo") -> None:
        self.name = name
        self.fixed = request
        self.matcher = matcher
        self.check_reply = matcher.check
        if isinstance(matcher, Exact):
            self.expected: bytes | None = matcher.expected
            self.reply_size = len(matcher.expected)
        else:
            self.expected = None
            self.reply_size = matcher.size if isinstance(matcher, Size) else 0

    def request(self, client: int, seq: int) -> bytes:
        return self.fixed

    @classmethod
    def from_options(cls, options: ProtocolOptions) -> Fixed:
        request = options.request if options.request is not None else payload_bytes(options.payload)
        value = options.expect_value
        if options.expect == "exact":
            assert isinstance(value, bytes)
            return cls(request, Exact(value), "send/expect")
        if options.expect == "size":
            assert isinstance(value, int)
            return cls(request, Size(value), "send/expect-size")
        if options.expect == "until":
            assert isinstance(value, bytes)
            return cls(request, Until(value), "send/expect-until")
        return cls(request, Echo(request), "echo" if options.request is None else "send/echo")


def line_request(options: ProtocolOptions) -> bytes:
    """``--send`` ending in one newline, or ``--payload`` printable bytes with the newline."""
    if options.request is not None:
        body = options.request.rstrip(b"\r\n")
        if b"\n" in body:
            raise ConfigError("--protocol line sends one line: --send must not contain a newline")
        return body + b"\n"
    return bytes(33 + (i * 7) % 94 for i in range(max(0, options.payload - 1))) + b"\n"


class Line(Fixed):
    """Newline-delimited: the request is one line, any one line (up to 1 MiB) answers it."""

    def __init__(self, options: ProtocolOptions) -> None:
        super().__init__(line_request(options), Until(b"\n", DEFAULT_MAX_REPLY), "line")


class LengthPrefixed:
    """A big-endian u16/u32 length, then the body. With ``echo`` the reply must be the
    request; without, any well-framed message (up to 1 MiB) is a reply.

    The length is checked as soon as the header is in, so a server answering with
    the wrong size is a mismatch at once rather than a wait for bytes that never come.
    """

    def __init__(self, options: ProtocolOptions, width: int, echo: bool = True) -> None:
        body = options.request if options.request is not None else payload_bytes(options.payload)
        limit = (1 << (8 * width)) - 1
        if len(body) > limit:
            raise ConfigError(
                f"a {len(body)}-byte body does not fit a u{8 * width} length prefix "
                f"(at most {limit}); use length-prefixed:u32 or a smaller --payload"
            )
        self.name = f"length-prefixed:u{8 * width}"
        self.width = width
        self.echo = echo
        self.fixed = len(body).to_bytes(width, "big") + body
        self.max_size = len(self.fixed) if echo else width + DEFAULT_MAX_REPLY
        self.expected: bytes | None = self.fixed if echo else None
        self.reply_size = len(self.fixed) if echo else 0

    def request(self, client: int, seq: int) -> bytes:
        return self.fixed

    def check_reply(self, buf: bytearray, start: int, end: int) -> int:
        width = self.width
        if end - start < width:
            return NEED_MORE
        size = width + int.from_bytes(buf[start : start + width], "big")
        if size > self.max_size or (self.echo and size != self.max_size):
            return MALFORMED
        if end - start < size:
            return NEED_MORE
        if self.echo and not buf.startswith(self.fixed, start, start + size):
            return MALFORMED
        return size
