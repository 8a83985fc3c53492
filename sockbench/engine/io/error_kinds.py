"""Naming the ways a request can fail, so errors are counted by kind."""

from __future__ import annotations

import errno
import ssl

from sockbench.servers.certs import ssl_error_kind


class PeerClosed(Exception):
    """The server closed the connection (EOF) before the reply was complete."""


class Mismatch(Exception):
    """The reply did not meet the expectation (echo, exact bytes, size or delimiter)."""


class ProtocolError(Exception):
    """The server answered with an error reply (Redis ``-ERR``, memcached ``SERVER_ERROR``)."""


class TlsFailed(OSError):
    """A TLS handshake (or a record after it) failed; the argument is the kind it counts
    as (:mod:`sockbench.core.tls`). An OSError, as the socket's own errors are: the
    drivers end a connection on either the same way."""

    @property
    def kind(self) -> str:
        return str(self.args[0])


_BY_ERRNO = {
    errno.ECONNRESET: "reset",
    errno.ECONNREFUSED: "refused",
    errno.EPIPE: "broken_pipe",
    errno.ETIMEDOUT: "timeout",
    errno.ECONNABORTED: "aborted",
    errno.EADDRNOTAVAIL: "no_ephemeral_port",
    errno.EADDRINUSE: "address_in_use",
    errno.EMFILE: "too_many_open_files",
    errno.ENFILE: "too_many_open_files",
    errno.ENOBUFS: "no_buffer_space",
    errno.EHOSTUNREACH: "unreachable",
    errno.ENETUNREACH: "unreachable",
    errno.ENOENT: "no_such_socket",
    errno.EAGAIN: "backlog_full",
}


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, PeerClosed):
        return "closed"
    if isinstance(exc, Mismatch):
        return "mismatch"
    if isinstance(exc, ProtocolError):
        return "protocol_error"
    if isinstance(exc, TlsFailed):
        return exc.kind
    if isinstance(exc, ssl.SSLError):  # an OSError whose errno is OpenSSL's, not the kernel's
        return ssl_error_kind(exc)
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return "timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        return _BY_ERRNO.get(exc.errno, errno.errorcode.get(exc.errno, "oserror").lower())
    return type(exc).__name__.lower()
