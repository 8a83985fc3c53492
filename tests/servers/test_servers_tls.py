"""Every server model serves TLS (``--server-tls``): one short case per model, against a
real server process on loopback, with a certificate made as a run makes it."""

from __future__ import annotations

import contextlib
import socket
import ssl
from pathlib import Path

import pytest
import trio
from servers_support import connect_stream, message, model_params

from sockbench.core.spec.server import BuiltIn
from sockbench.endpoints import Endpoint, Proto
from sockbench.servers.certs import make_cert
from sockbench.servers.launcher import open_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

CLIENTS = 20
MESSAGES = 3  # the second one is 20 kB: two TLS records, and a send the kernel may cut


async def _tls_client(endpoint: Endpoint, context: ssl.SSLContext, client: int) -> str | None:
    stream = trio.SSLStream(await connect_stream(endpoint), context, server_hostname="127.0.0.1")
    async with stream:
        for index in range(MESSAGES):
            sent = message(client, index)
            await stream.send_all(sent)
            got = bytearray()
            while len(got) < len(sent):
                chunk = await stream.receive_some(len(sent) - len(got))
                if not chunk:
                    break
                got += chunk
            if got != sent:
                return f"client {client} message {index}: {len(got)} of {len(sent)} bytes"
    return None


@pytest.mark.parametrize("model", model_params())
async def test_every_model_echoes_over_tls_and_outlives_a_client_that_is_not_tls(
    model: str, sock_dir: Path
) -> None:
    cert = make_cert(str(sock_dir))
    spec = BuiltIn(model, processes=2, tls=True, tls_cert=cert.path)
    with open_server(spec, Endpoint(Proto.TCP, "127.0.0.1", 0)) as server:
        endpoint = server.endpoint
        # Bytes that are not TLS: the server drops that connection, and serves on.
        with socket.create_connection(endpoint.sockaddr, timeout=5) as plain:
            plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
            with contextlib.suppress(ConnectionResetError):
                plain.recv(64)  # an alert, a close or a reset
        context = ssl.create_default_context(cadata=cert.ca_pem)
        errors: list[str] = []

        async def one(client: int) -> None:
            if (error := await _tls_client(endpoint, context, client)) is not None:
                errors.append(error)

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                for client in range(CLIENTS):
                    nursery.start_soon(one, client)
        assert errors == []
        assert server.returncode() is None, server.stderr_tail()
        assert server.stop() == 0, server.stderr_tail()
