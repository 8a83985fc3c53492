"""A private nginx (tests/support/nginx.py) serving HTTPS, with certificates trustme
makes (valid or expired), and the same site without TLS on a second port. Its access
log line is
``status connection connection_requests uri ssl_session_reused``, each request logged as
it ends, so after a run the log holds every request nginx served.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.support.nginx import private_nginx

SERVERS = """
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.pem;
        ssl_protocols {protocols};
        ssl_session_cache shared:tls:1m;
        root {dir}/www;
    }}
    server {{
        listen 127.0.0.1:{plain_port};  # the same, without TLS
        root {dir}/www;
    }}
"""
LOG_FORMAT = "$status $connection $connection_requests $request_uri $ssl_session_reused"
PAST = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


@dataclass
class HttpsNginx:
    port: int
    log: Path
    ca: Path  # the CA that signed its certificate (PEM)
    plain_port: int  # plain HTTP, no TLS

    def served(self) -> list[tuple[str, str, int, str]]:
        """(status, connection, request number on it, session reused "r" or ".")."""
        rows = [line.split() for line in self.log.read_text().splitlines()]
        return [(s, conn, int(n), reused) for s, conn, n, uri, reused in rows if uri != "/probe"]


@contextmanager
def https_nginx(
    folder: Path, *, expired: bool = False, protocols: str = "TLSv1.2 TLSv1.3"
) -> Iterator[HttpsNginx]:
    ca = trustme.CA()
    not_after = {"not_after": PAST} if expired else {}
    cert = ca.issue_cert("127.0.0.1", "localhost", **not_after)
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    (folder / "www").mkdir()
    (folder / "www" / "index.html").write_text("hello\n")
    port, plain_port = _free_ports(2)
    servers = SERVERS.format(dir=folder, port=port, plain_port=plain_port, protocols=protocols)
    with private_nginx(folder, servers, LOG_FORMAT, lambda: _wait_tls(port)) as log:
        yield HttpsNginx(port, log, folder / "ca.pem", plain_port)


def _free_ports(n: int) -> list[int]:
    probes = [socket.socket() for _ in range(n)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _wait_tls(port: int) -> None:
    """Until nginx answers a TLS handshake (certificates unchecked: only that it serves)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + 10
    while True:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=1) as sock,
                context.wrap_socket(sock) as tls,
            ):
                tls.sendall(b"GET /probe HTTP/1.0\r\n\r\n")
                if tls.recv(64).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("nginx (https) did not answer in 10 s")
        time.sleep(0.05)
