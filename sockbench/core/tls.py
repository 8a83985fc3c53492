"""What a TLS client decides, apart from the bytes it moves (pure).

The drivers move ciphertext between a socket and an ``ssl.SSLObject``'s memory BIOs
(:mod:`sockbench.engine.io.tls`); what each outcome means is decided here: the next step
of a handshake, whether it was a resumption, and which kind of error a failure is
counted as. The trade-off: OpenSSL says why a handshake failed only in its reason
string (``CERTIFICATE_VERIFY_FAILED``, ``TLSV1_ALERT_PROTOCOL_VERSION``), so the
kinds are read from those names; a reason not named here is ``tls_protocol``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

#: The kinds a TLS failure is counted as (``totals.errors``, ``--check errors.KIND``).
TLS_CERTIFICATE = "tls_certificate"  # the server's certificate did not verify
TLS_VERSION = "tls_version"  # no protocol version both sides accept
TLS_ALERT = "tls_alert"  # the server refused the handshake with an alert
TLS_PROTOCOL = "tls_protocol"  # what came back was not TLS (or not TLS as expected)
TLS_CLOSED = "tls_closed"  # the server closed the connection during the handshake
TLS_TIMEOUT = "tls_timeout"  # the handshake took longer than --connect-timeout
#: Where a result keeps the handshakes' times (beside ``connect_us``).
HANDSHAKE_US = "handshake_us"
TLS_KINDS = (TLS_CERTIFICATE, TLS_VERSION, TLS_ALERT, TLS_PROTOCOL, TLS_CLOSED, TLS_TIMEOUT)

#: What each kind means and what to change (the warnings' advice).
ADVICE = {
    TLS_CERTIFICATE: "the server's certificate did not verify (an unknown CA, an expired "
    "certificate, another name): give its CA with --tls-ca, the name it was issued for with "
    "--tls-sni, or skip the check with --tls-insecure",
    TLS_VERSION: "no TLS version both sides accept: change --tls-version (1.2 or 1.3) or "
    "the server's",
    TLS_ALERT: "the server refused the handshake with an alert: check what it requires "
    "(--tls-alpn, --tls-sni, a client certificate)",
    TLS_PROTOCOL: "what came back was not TLS: if the server speaks plain TCP, use tcp://",
    TLS_CLOSED: "the server closed connections during the handshake: check that it speaks "
    "TLS on this port (its log says why)",
    TLS_TIMEOUT: "handshakes took longer than --connect-timeout: the server is overloaded "
    "or does not answer TLS; raise --connect-timeout or lower --clients",
}

# Reason names (OpenSSL's, upper case) by the kind they are counted as, in the order
# they are looked at: a version alert is a version error before it is an alert.
_VERSION = (
    "PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE", "VERSION_TOO_LOW",
    "VERSION_TOO_HIGH", "WRONG_SSL_VERSION",
)  # fmt: skip
_CERTIFICATE = ("CERTIFICATE_VERIFY_FAILED",)
_CLOSED = ("UNEXPECTED_EOF", "EOF_WHILE_READING")


class Step(IntEnum):
    """What a handshake does next."""

    SEND = 0  # write the bytes the TLS object produced to the socket, then look again
    READ = 1  # wait for the peer's bytes and feed them in
    DONE = 2  # the handshake is over: the connection carries the exchange's bytes


def handshake_step(finished: bool, outgoing: int) -> Step:
    """After a ``do_handshake`` call: send what it produced first (``outgoing`` bytes, the
    last flight included), then it is done, or it waits for the peer."""
    if outgoing:
        return Step.SEND
    return Step.DONE if finished else Step.READ


def error_kind(reason: str | None, *, verify_failed: bool = False, eof: bool = False) -> str:
    """The kind a failed handshake (or a failed record later) is counted as.

    ``reason``: OpenSSL's reason name, if it gave one; ``verify_failed``: the
    certificate did not verify; ``eof``: the peer closed the connection.
    """
    name = (reason or "").upper()
    if verify_failed or any(r in name for r in _CERTIFICATE):
        return TLS_CERTIFICATE
    if any(r in name for r in _VERSION):
        return TLS_VERSION
    if "ALERT" in name:
        return TLS_ALERT
    if eof or any(r in name for r in _CLOSED):
        return TLS_CLOSED
    return TLS_PROTOCOL


def failed_handshakes(errors: Mapping[str, int]) -> tuple[int, str] | None:
    """How many TLS failures ``errors`` counts, and the most frequent kind's advice;
    None when it counts none."""
    counted = {kind: errors.get(kind, 0) for kind in TLS_KINDS if errors.get(kind, 0)}
    if not counted:
        return None
    worst = max(counted, key=lambda kind: counted[kind])
    return sum(counted.values()), ADVICE[worst]


def negotiated(version: str | None, cipher: str | None, alpn: str | None) -> str:
    """What a handshake agreed on, as the result counts it: ``TLSv1.3
    TLS_AES_256_GCM_SHA384``, with ``alpn h2`` when a protocol was selected."""
    said = f"{version or '?'} {cipher or '?'}"
    return f"{said} alpn {alpn}" if alpn else said


def handshake_name(resumed: bool) -> str:
    """How a handshake is counted: ``resumed`` (a session ticket or ID was accepted) or
    ``full`` (a new session: certificate and key exchange)."""
    return "resumed" if resumed else "full"


class Closing(IntEnum):
    """What a stream's end over TLS does next (``--mode stream``: TCP's half-close)."""

    READ_FIRST = 0  # TLS holds the peer's bytes: read them out, they are the stream's
    SEND = 1  # send close_notify, then read on until the peer's report and its close


def closing_step(tls_holds_bytes: bool) -> Closing:
    """Before a client ends its half of a stream with ``close_notify``: read out what TLS
    holds first, then send it.

    The trade-off: Python's ``unwrap`` sends the alert and then reads for the peer's;
    OpenSSL fails on the application data it then finds (TLS 1.2:
    ``APPLICATION_DATA_AFTER_CLOSE_NOTIFY``) or drops it (1.3), so a source's bytes
    already in TLS would be lost from the count. Read out first, nothing is there for
    it to find, and reads after our alert go on in both versions (OpenSSL 3) until the
    peer's report and its own close_notify; that closure (or the connection's end) is the
    end of the stream, as TCP's FIN is.
    """
    return Closing.READ_FIRST if tls_holds_bytes else Closing.SEND


def fetch_session(resume: bool, resumed: bool, held: bool) -> bool:
    """Whether to read a closing connection's session for the client's next connection:
    with ``--tls-resume``, unless its handshake resumed the session the client holds
    (that one is offered again, as ``openssl s_time -reuse`` does)."""
    return resume and not (resumed and held)
