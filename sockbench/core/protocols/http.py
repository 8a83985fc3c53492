"""HTTP/1.1: request bytes and a response framer (pure, sans-IO).

:func:`build_requests` makes each request's bytes once: the request line (``--http-method``,
each ``--http-path``), ``Host`` from the target (unless a ``--header`` gives one), the
``--header`` lines, and ``--body``/``--body-file`` with its ``Content-Length``. The
requests never change during a run, so a request costs a tuple index.

:func:`http_reply_length` frames one response at ``buf[start:end]`` by its head: a
status line (``HTTP/1.x SSS reason``), headers up to the empty line, then a body of
``Content-Length`` bytes, or ``Transfer-Encoding: chunked`` chunks ended by a zero-size
chunk and its trailers; a response to HEAD, and every 1xx, 204 and 304, has no body.
Interim 1xx responses (``100 Continue``) are part of the reply they precede. A 5xx is
``error_reply(length)``: its request's ``protocol_error``, the connection stays in step.
Anything off the grammar (a bad status line, two different ``Content-Length``, a
chunk size that is not hex, a head over 64 KiB) is ``MALFORMED``.

Trade-off: it is stateless, as the contract asks, so a response arriving in pieces is
rescanned from its status line; the head's header names are matched on one lower-cased
copy of the head (one C call), which keeps the common reply (a head of a few hundred
bytes with ``Content-Length``) at three ``find`` calls, one ``lower`` and an ``int``.
A head seen before costs less again: :mod:`~sockbench.core.protocols.http_head` keeps
it as a memo (and holds the protocol object, :class:`~.http_head.Http`).

A response whose body runs to the connection's close (no ``Content-Length``, not
chunked) cannot be framed by its bytes: it stays ``NEED_MORE``, and the close ends it
(:func:`http_reply_at_close`, which the exchange asks when the peer closed).

Kinds are the status classes: :data:`KINDS` (``2xx`` ... ``5xx``), and ``unanswered``
for a request that got no response (a timeout, a reset); :func:`status_kind` is the
class of the response a framed reply ends with.
"""

from __future__ import annotations

from dataclasses import dataclass

from sockbench.core.pickling import PicklesByFields
from sockbench.core.protocols.contract import CLOSES, MALFORMED, NEED_MORE, error_reply
from sockbench.errors import ConfigError

MAX_HEAD = 64 * 1024  # nginx's large_client_header_buffers are 4 x 8k: this is generous
MAX_BODY = 1 << 30
#: The kind of a reply whose status is a client error (404, 401, 400, ...): a kind, not an
#: error (the target answered, and the connection stays), so a ``client_errors`` warning
#: says when the window had any (core/warning_rules.py).
CLIENT_ERRORS = "4xx"
KINDS = ("2xx", "3xx", CLIENT_ERRORS, "5xx", "unanswered")
UNANSWERED = 4  # the kind a request is noted with until its response says otherwise
METHODS_WITH_BODY = frozenset(("POST", "PUT", "PATCH"))

_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_CRLF2 = b"\r\n\r\n"
# "SSS " of a status line whose response has a body: the fast path's one look-up.
_BODY_STATUSES = frozenset(b"%d " % code for code in range(200, 600) if code not in (204, 304))


@dataclass(frozen=True)
class HttpOptions(PicklesByFields):
    """What ``--protocol http`` is built from; :func:`parse_header` and friends checked it."""

    method: str = "GET"
    paths: tuple[str, ...] = ("/",)
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    host: str = "localhost"


HTTP_DEFAULTS = HttpOptions()


def check_method(method: str) -> str:
    """A method is an HTTP token (``GET``, ``POST``, ``PURGE``): no spaces."""
    if not method or not all(ord(c) < 128 and ord(c) in _TOKEN for c in method):
        raise ConfigError(
            f"malformed --http-method {method!r}; give one word of letters like GET or POST"
        )
    return method


def check_path(path: str) -> str:
    """A request target in origin form: starts with '/', no spaces or control bytes."""
    if not path.startswith("/") or any(c.isspace() or ord(c) < 32 or c == "\x7f" for c in path):
        raise ConfigError(
            f"malformed --http-path {path!r}; give a path starting with '/' and without spaces"
        )
    return path


def parse_header(line: str) -> tuple[str, str]:
    """``Name: value`` -> (name, value); a name must be a token, a value one line."""
    name, sep, value = line.partition(":")
    name, value = name.strip(), value.strip()
    if (
        not sep
        or not name
        or not all(ord(c) < 128 and ord(c) in _TOKEN for c in name)
        or "\r" in value
        or "\n" in value
    ):
        raise ConfigError(f"malformed --header {line!r}; expected 'Name: value' like 'Accept: */*'")
    return name, value


def paths_from_file(data: bytes) -> tuple[str, ...]:
    """``--http-paths-file``: one path a line; blank lines and ``#`` comments skipped."""
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ConfigError("--http-paths-file is not UTF-8 text; give one path a line") from None
    paths = tuple(
        check_path(line.strip()) for line in lines if line.strip() and not line.startswith("#")
    )
    if not paths:
        raise ConfigError("--http-paths-file holds no path; give one path a line, like /index.html")
    return paths


def check_body(body: str | None, body_file: bytes | None) -> bytes | None:
    if body is not None and body_file is not None:
        raise ConfigError("give --body or --body-file, not both")
    return body.encode() if body is not None else body_file


def build_request(options: HttpOptions, path: str) -> bytes:
    """One request's bytes for ``path``."""
    names = {name.lower() for name, _ in options.headers}
    lines = [f"{options.method} {path} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {options.host}")
    lines.extend(f"{name}: {value}" for name, value in options.headers)
    body = options.body or b""
    if "content-length" not in names and (body or options.method in METHODS_WITH_BODY):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def build_requests(options: HttpOptions) -> tuple[bytes, ...]:
    return tuple(build_request(options, path) for path in options.paths)


def _status(buf: bytearray, pos: int, end: int) -> int:
    """The status code of the status line at ``pos`` (its CRLF is before ``end``), or -1."""
    if not buf.startswith((b"HTTP/1.1 ", b"HTTP/1.0 "), pos, end):
        return -1
    code = buf[pos + 9 : pos + 12]
    if not code.isdigit() or buf[pos + 12] not in b" \r" or not 100 <= int(code) <= 599:
        return -1
    return int(code)


def _content_length(head: bytearray) -> int:
    """The ``content-length`` of a lower-cased head (each header between CRLFs):
    -1 when absent, -2 when malformed or given twice with different values."""
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        return -1
    found = -1
    while at >= 0:
        stop = head.find(b"\r\n", at + 2)
        value = head[at + 17 : stop].strip(b" \t")
        if not value.isdigit() or (found >= 0 and int(value) != found):
            return -2
        found = int(value)
        at = head.find(b"\r\ncontent-length:", stop)
    return found


def _chunked_length(buf: bytearray, pos: int, end: int) -> int:
    """Where the chunked body at ``pos`` ends (after its trailers), NEED_MORE or MALFORMED."""
    while True:
        nl = buf.find(b"\r\n", pos, end)
        if nl < 0:
            return NEED_MORE if end - pos < MAX_HEAD else MALFORMED
        size_text = bytes(buf[pos:nl]).partition(b";")[0].strip(b" \t")
        if not size_text or not all(c in _HEX for c in size_text) or len(size_text) > 8:
            return MALFORMED
        size = int(size_text, 16)
        if size == 0:
            # Trailers: header lines up to an empty one.
            pos = nl + 2
            while True:
                if end - pos >= 2 and buf[pos] == 13 and buf[pos + 1] == 10:
                    return pos + 2
                nl = buf.find(b"\r\n", pos, end)
                if nl < 0:
                    return NEED_MORE if end - pos < MAX_HEAD else MALFORMED
                if buf.find(b":", pos, nl) < 0:
                    return MALFORMED
                pos = nl + 2
        pos = nl + 4 + size  # the chunk's data and its CRLF
        if pos > end:
            return NEED_MORE
        if not buf.startswith(b"\r\n", pos - 2, pos):
            return MALFORMED


def common_body(buf: bytearray, start: int, head_end: int) -> int:
    """The body size of the common reply whose head is ``buf[start:head_end + 4]``
    (HTTP/1.1, a status of 200-599 with a body, one ``Content-Length``, not chunked, the
    head within ``MAX_HEAD``), on one lower-cased copy of its head; -1 for any other."""
    if head_end > start and buf.startswith(b"HTTP/1.1 ", start, head_end):
        head = buf[start : head_end + 2].lower()
        at = head.find(b"\r\ncontent-length: ")
        if at > 0:
            nl = head.find(b"\r\n", at + 18)
            value = head[at + 18 : nl]
            if (
                value.isdigit()
                and bytes(head[9:13]) in _BODY_STATUSES
                and b"\r\ntransfer-encoding:" not in head
                and head.find(b"\r\ncontent-length:", nl) < 0
                and head_end + 4 - start <= MAX_HEAD
            ):
                return int(value)
    return -1


def http_reply_length(buf: bytearray, start: int, end: int) -> int:
    """Length of the HTTP/1.x response at ``buf[start:end]`` (with any 1xx before it),
    ``NEED_MORE``, ``MALFORMED`` or, for a 5xx, ``error_reply(length)``.

    The common reply (:func:`common_body`) is taken on one lower-cased copy of its head
    with a few ``find`` calls; anything else goes to the general walk
    (:func:`general_reply_length`), which answers the same for every input (tested on
    every cut and with hypothesis).
    """
    head_end = buf.find(_CRLF2, start, end)
    size = common_body(buf, start, head_end)
    if size >= 0:
        stop = head_end + 4 + size
        if stop > end:
            return NEED_MORE if size <= MAX_BODY else MALFORMED
        return stop - start if buf[start + 9] != 53 else error_reply(stop - start)  # b"5"
    return general_reply_length(buf, start, end)


def general_reply_length(buf: bytearray, start: int, end: int, head_request: bool = False) -> int:
    """:func:`http_reply_length` for any response, walked in full.

    ``head_request``: it answers a HEAD, so it has no body whatever its headers say.
    """
    pos = start
    while True:
        if end - pos < 12:
            # Too short for a status line: wrong already if its first bytes are.
            have = bytes(buf[pos : min(end, pos + 9)])
            if b"HTTP/1.1 ".startswith(have) or b"HTTP/1.0 ".startswith(have):
                return NEED_MORE
            return MALFORMED
        head_end = buf.find(_CRLF2, pos, end)
        if head_end < 0:
            if not buf.startswith((b"HTTP/1.1 ", b"HTTP/1.0 "), pos, end):
                return MALFORMED
            return NEED_MORE if end - pos < MAX_HEAD else MALFORMED
        body = head_end + 4
        if body - pos > MAX_HEAD:
            return MALFORMED
        status = _status(buf, pos, head_end + 2)
        if status < 0:
            return MALFORMED
        if status < 200:
            if status == 101:  # switching protocols: not HTTP/1.1 any more
                return MALFORMED
            pos = body  # an interim response: the final one follows
            continue
        break
    head = buf[pos : head_end + 2].lower()  # each header between CRLFs
    if head.find(b"\r\ntransfer-encoding:") >= 0:
        if not _chunked(head):
            return MALFORMED  # another coding: the body's end cannot be known
        if head_request or status == 204 or status == 304:
            stop = body
        else:
            stop = _chunked_length(buf, body, end)
            if stop <= 0:
                return stop
    else:
        length = _content_length(head)
        if length == -2 or length > MAX_BODY:
            return MALFORMED
        if head_request or status == 204 or status == 304:
            stop = body
        elif length < 0:
            return NEED_MORE  # framed by the connection's close
        else:
            stop = body + length
            if stop > end:
                return NEED_MORE
    return error_reply(stop - start) if status >= 500 else stop - start


def http_reply_at_close(buf: bytearray, start: int, end: int) -> int:
    """What ``buf[start:end]`` is once the server closed the connection: a response
    framed by the close (its head in, no ``Content-Length``, not chunked) ends here, its
    length (``error_reply`` for a 5xx); anything else, 0 (not a reply)."""
    if end <= start or http_reply_length(buf, start, end) != NEED_MORE:
        return 0
    pos = start
    head_end = buf.find(_CRLF2, pos, end)
    while head_end >= 0 and buf[pos + 9] == 49:  # past any 1xx
        pos = head_end + 4
        head_end = buf.find(_CRLF2, pos, end)
    if head_end < 0:
        return 0
    head = buf[pos : head_end + 2].lower()
    if head.find(b"\r\ntransfer-encoding:") >= 0 or _content_length(head) >= 0:
        return 0  # framed by its bytes, and they did not all come
    return error_reply(end - start) if buf[pos + 9] == 53 else end - start  # b"5"


def _chunked(head: bytearray) -> bool:
    """Whether the (lower-cased) head's transfer codings end in ``chunked``."""
    codings: list[bytearray] = []
    at = head.find(b"\r\ntransfer-encoding:")
    while at >= 0:
        stop = head.find(b"\r\n", at + 2)
        codings.extend(c.strip(b" \t") for c in head[at + 20 : stop].split(b","))
        at = head.find(b"\r\ntransfer-encoding:", stop)
    return bool(codings) and codings[-1] == b"chunked"


def status_kind(buf: bytearray, start: int) -> int:
    """The kind (an index into :data:`KINDS`) of the framed reply at ``start``: the class
    of its final status, past any 1xx; with ``CLOSES`` when the server closes the
    connection after it (``Connection: close``, or HTTP/1.0 without ``keep-alive``)."""
    code = buf[start + 9]
    head_end = buf.find(_CRLF2, start)
    while code == 49:  # b"1": an interim response
        start = head_end + 4
        code = buf[start + 9]
        head_end = buf.find(_CRLF2, start)
    kind = code - 50  # b"2" -> 0 ... b"5" -> 3
    if buf.find(b"\r\nConnection: keep-alive\r\n", start, head_end + 2) >= 0:
        return kind  # nginx's: no copy
    tokens = _connection_tokens(buf[start : head_end + 2].lower())
    if b"close" in tokens or (buf[start + 7] == 48 and b"keep-alive" not in tokens):
        return kind | CLOSES  # buf[start + 7] == b"0": HTTP/1.0, which closes by default
    return kind


def _connection_tokens(head: bytearray) -> list[bytes]:
    """The ``Connection`` header's tokens in a lower-cased head."""
    tokens: list[bytes] = []
    at = head.find(b"\r\nconnection:")
    while at >= 0:
        stop = head.find(b"\r\n", at + 2)
        tokens.extend(bytes(t.strip(b" \t")) for t in head[at + 13 : stop].split(b","))
        at = head.find(b"\r\nconnection:", stop)
    return tokens


def http_options(
    method: str,
    paths: tuple[str, ...],
    headers: tuple[str, ...],
    body: str | None,
    body_file: bytes | None,
    host: str,
    paths_file: bytes | None = None,
) -> HttpOptions:
    """The ``--http-*``, ``--header`` and ``--body*`` options, checked (one line each);
    ``body_file`` and ``paths_file`` are the files' content."""
    listed = paths_from_file(paths_file) if paths_file is not None else ()
    return HttpOptions(
        method=check_method(method),
        paths=tuple(check_path(path) for path in paths) + listed or ("/",),
        headers=tuple(parse_header(line) for line in headers),
        body=check_body(body, body_file),
        host=host,
    )
