"""A short, bounded check that an external target answers before load starts."""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import ssl
import stat
import time
from dataclasses import replace

from sockbench.core.spec.tls import TlsSettings
from sockbench.core.tls import ADVICE
from sockbench.core.units import format_us
from sockbench.endpoints import Endpoint
from sockbench.errors import TargetError
from sockbench.servers.certs import client_context, ssl_error_kind

STREAM_ATTEMPTS = 5
RETRY_PAUSE_S = 0.2
ATTEMPT_TIMEOUT_S = 2.0  # a connect, and a TLS handshake after it
#: What the ssl module puts before OpenSSL's words: ``_ssl.c:989: ``.
_SOURCE_LINE = re.compile(r"^\s*_?ssl\.c:\d+:\s*")
DATAGRAM_WAIT_S = 0.5


def check_target(endpoint: Endpoint, tls: TlsSettings | None = None) -> None:
    """One line (a TargetError) unless ``endpoint`` answers; over TLS, unless a handshake
    with ``tls`` succeeds (a certificate, a version, a server that does not speak TLS:
    known before any load)."""
    if endpoint.proto.is_stream:
        _check_stream(endpoint, tls if endpoint.tls else None)
    else:
        _check_datagram(endpoint)


def _check_stream(endpoint: Endpoint, tls: TlsSettings | None) -> None:
    last: OSError | None = None
    started = time.monotonic()
    for attempt in range(STREAM_ATTEMPTS):
        if attempt:
            time.sleep(RETRY_PAUSE_S)
        try:
            with socket.socket(endpoint.family, socket.SOCK_STREAM) as sock:
                sock.settimeout(ATTEMPT_TIMEOUT_S)
                sock.connect(endpoint.sockaddr)
                if tls is not None:
                    _check_handshake(sock, endpoint, tls)
                return
        except ssl.SSLError as exc:
            raise _tls_failed(endpoint, exc) from None
        except OSError as exc:
            last = exc
    took = format_us((time.monotonic() - started) * 1e6)
    raise TargetError(
        f"cannot connect to {endpoint.url()}: {_reason(last)} "
        f"(tried {STREAM_ATTEMPTS} times over {took})"
    )


def _check_handshake(sock: socket.socket, endpoint: Endpoint, tls: TlsSettings) -> None:
    """A TLS handshake on ``sock``, connected. A server that took the connection and
    sends nothing back is one line at once: trying again would wait as long again."""
    try:
        with client_context(tls).wrap_socket(sock, server_hostname=tls.name_for(endpoint.host)):
            pass
    except TimeoutError:
        plain = replace(endpoint, tls=False).url()
        raise TargetError(
            f"TLS handshake with {endpoint.url()} timed out: the server accepted the TCP "
            f"connection but did not answer the handshake in {ATTEMPT_TIMEOUT_S:g} s, as a "
            f"server that does not speak TLS does; if it speaks plain TCP, use {plain}"
        ) from None


def _reason(exc: OSError | None) -> str:
    """Why a connection failed, in lower case, without the ``_ssl.c:989:`` that OpenSSL's
    errors begin with (its source file and line: nothing a user can act on)."""
    said = exc.strerror if exc is not None and exc.strerror else str(exc)
    return _SOURCE_LINE.sub("", said).strip().lower()


def _tls_failed(endpoint: Endpoint, exc: ssl.SSLError) -> TargetError:
    kind = ssl_error_kind(exc)
    said = exc.verify_message if isinstance(exc, ssl.SSLCertVerificationError) else exc.reason
    return TargetError(
        f"TLS handshake with {endpoint.url()} failed ({kind}: {(said or 'no reason').lower()}); "
        f"{ADVICE[kind]}"
    )


def _check_datagram(endpoint: Endpoint) -> None:
    """Send one probe; an ICMP port-unreachable comes back as ECONNREFUSED.

    Silence is not an error: a datagram server that drops the probe is still a target.
    """
    if endpoint.proto.is_unix:
        if not _is_socket(endpoint.path):
            raise TargetError(f"cannot reach {endpoint.url()}: no socket at that path")
        return
    with socket.socket(endpoint.family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(endpoint.sockaddr)
            sock.send(b"\xff" * 8)
            ready, _, _ = select.select([sock], [], [], DATAGRAM_WAIT_S)
            if ready:
                sock.recv(65536)
        except ConnectionRefusedError:
            raise TargetError(
                f"cannot reach {endpoint.url()}: nothing listens there (port unreachable)"
            ) from None
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED:
                raise TargetError(f"cannot reach {endpoint.url()}: connection refused") from None
            raise TargetError(f"cannot reach {endpoint.url()}: {exc.strerror}") from None


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False
