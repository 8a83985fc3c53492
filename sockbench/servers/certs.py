"""The TLS contexts both ends speak with, and a built-in model's certificate, made at its
start (``--server-tls``).

The trade-off: a fresh CA and a certificate for the loopback names per server (trustme,
a few milliseconds), instead of a key pair shipped with sockbench or one the user must
make: nothing to expire, nothing secret in the package, and the run trusts exactly
that CA and nothing else besides (engine/io/tls.py).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass

from sockbench.core import tls
from sockbench.core.spec.tls import TlsSettings

#: The names the certificate is good for: every address a built-in model listens on.
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")
CERT_FILE = "server-tls.pem"
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class ServerCert:
    """Where the server's key and certificate chain are (one PEM file), and its CA's PEM."""

    path: str
    ca_pem: str


def make_cert(folder: str) -> ServerCert:
    """A new CA, and a certificate it signed for :data:`LOOPBACK_NAMES`, in ``folder``."""
    import trustme  # only a server that serves TLS pays for cryptography's import

    ca = trustme.CA()
    cert = ca.issue_cert(*LOOPBACK_NAMES)
    path = os.path.join(folder, CERT_FILE)
    cert.private_key_and_cert_chain_pem.write_to_path(path)
    os.chmod(path, 0o600)
    return ServerCert(path, ca.cert_pem.bytes().decode("ascii"))


def server_context(path: str) -> ssl.SSLContext:
    """What a model serves TLS with: the key and chain in ``path``, TLS 1.2 and 1.3."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(path)
    return context


def client_context(settings: TlsSettings) -> ssl.SSLContext:
    """The one context a worker's clients share: whom they trust, what they offer."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if settings.verify:
        if settings.ca_pem is not None:
            context.load_verify_locations(cadata=settings.ca_pem)
        else:
            context.load_default_certs()
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = _VERSIONS[settings.version or "1.2"]
    context.maximum_version = _VERSIONS[settings.version or "1.3"]
    if settings.alpn:
        context.set_alpn_protocols(list(settings.alpn))
    return context


def ssl_error_kind(exc: ssl.SSLError) -> str:
    """The kind an error of the ssl module counts as (:func:`sockbench.core.tls.error_kind`)."""
    return tls.error_kind(
        exc.reason if isinstance(exc.reason, str) else None,
        verify_failed=isinstance(exc, ssl.SSLCertVerificationError),
        eof=isinstance(exc, ssl.SSLEOFError),
    )
