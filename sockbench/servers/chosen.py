"""The one entry point a run opens its server by, whichever was chosen.

A :class:`~sockbench.core.spec.server.BuiltIn` model starts in a child process
(:mod:`.launcher`), your :class:`~sockbench.core.spec.server.Command` starts in its own
session (:mod:`.external`), and a :class:`~sockbench.core.spec.server.Target` is only
checked to answer (:mod:`.preflight`). Each yields the same :class:`OpenServer`, so the
engine never asks which it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from sockbench.core.spec.server import BuiltIn, Command, Server, Target
from sockbench.core.spec.tls import TlsSettings
from sockbench.endpoints import Endpoint, Proto
from sockbench.servers.certs import make_cert
from sockbench.servers.external import ExternalServer, Interrupted, ServerLogs, open_external
from sockbench.servers.host import check_options
from sockbench.servers.launcher import ServerProcess, open_server
from sockbench.servers.preflight import check_target

log = logging.getLogger(__name__)


@dataclass
class OpenServer:
    """Where the load goes, and the process serving it (None for a target)."""

    endpoint: Endpoint
    process: ServerProcess | ExternalServer | None = None
    logs: ServerLogs | None = None  # a command's stdout and stderr, until the caller keeps them
    ca_pem: str | None = None  # --server-tls: the CA of the certificate the model serves

    def died(self) -> bool:
        return self.process is not None and self.process.returncode() is not None

    def to_json(self) -> dict[str, Any]:
        """What the result's ``server`` object adds for a command (its argv, exit, logs)."""
        return self.process.to_json() if isinstance(self.process, ExternalServer) else {}


def check_server(server: Server, proto: Proto) -> None:
    """ConfigError unless ``server`` can serve ``proto`` here (a model that exists, is
    installed, serves it; a command that can be told where); before anything starts."""
    if isinstance(server, BuiltIn):
        check_options(server, proto)
    elif isinstance(server, Command):
        server.check(proto)


@contextmanager
def open_chosen(
    server: Server,
    proto: Proto,
    private_dir: str,
    *,
    cpus: tuple[int, ...] = (),
    preflight: bool = True,
    interrupted: Interrupted | None = None,
    tls: TlsSettings | None = None,
) -> Iterator[OpenServer]:
    """Start ``server`` (or check that a target answers, unless not ``preflight``), yield
    it once it serves, stop it at exit. A started server listens on loopback, or on a
    Unix socket in ``private_dir``; a command is pinned to ``cpus``. ``interrupted()``
    (the first signal's number, else 0) stops the wait for a server to serve; ``tls``: a
    tls:// target's preflight is a handshake."""
    if isinstance(server, Target):
        if preflight:
            log.info("preflight: checking that %s answers", server.endpoint)
            check_target(server.endpoint, tls)
        yield OpenServer(server.endpoint)
        return
    bind = (
        Endpoint(proto, path=f"{private_dir}/server.sock")
        if proto.is_unix
        else Endpoint(proto, "127.0.0.1", 0)
    )
    if isinstance(server, BuiltIn):
        cert = make_cert(private_dir) if server.tls else None
        if cert is not None:
            server = replace(server, tls_cert=cert.path)
        with open_server(server, bind, interrupted=interrupted) as process:
            if cert is None:
                yield OpenServer(process.endpoint, process)
            else:
                yield OpenServer(process.endpoint.with_tls(), process, ca_pem=cert.ca_pem)
        return
    logs = ServerLogs(server.logs)
    with open_external(server, bind, logs=logs, cpus=cpus, interrupted=interrupted) as external:
        yield OpenServer(external.endpoint, external, logs)
