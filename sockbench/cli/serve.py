"""`sockbench serve` and `sockbench models`: the server models on their own."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from typing import Annotated

import typer

from sockbench import __version__
from sockbench.cli.app import app, setup_logging
from sockbench.cli.examples import epilog
from sockbench.cli.params import declare
from sockbench.core.spec.server import BuiltIn
from sockbench.endpoints import Endpoint
from sockbench.errors import ConfigError


@app.command(epilog=epilog("serve"))
@declare("serve")
def serve(values: dict[str, object], spelled: dict[str, str]) -> None:
    """Run one server model in the foreground until Ctrl-C."""
    from sockbench.engine.io.limits import raise_nofile_limit
    from sockbench.machine import build_serve_spec
    from sockbench.servers.host import serve_forever

    spec = build_serve_spec(values, spelled)
    setup_logging(spec.output.verbose, spec.output.log_file)
    raise_nofile_limit()  # a server holds a descriptor per connection
    with tempfile.TemporaryDirectory(prefix="sockbench-serve-") as folder:
        server, trust = _with_certificate(spec.server, folder)

        def ready(actual: Endpoint) -> None:
            where = actual.with_tls() if server.tls else actual
            typer.echo(
                f"sockbench: {server.model} serving {where} ({server.behaviour}){trust}; "
                "Ctrl-C to stop"
            )

        serve_forever(server, spec.bind, on_ready=ready)


def _with_certificate(server: BuiltIn, folder: str) -> tuple[BuiltIn, str]:
    """--server-tls: the server with a certificate made now, and where its CA is (said on
    the ready line, for --tls-ca); as it was otherwise."""
    if not server.tls:
        return server, ""
    from sockbench.servers.certs import make_cert

    cert = make_cert(folder)
    ca = os.path.join(folder, "ca.pem")
    with open(ca, "w", encoding="ascii") as f:
        f.write(cert.ca_pem)
    return replace(server, tls_cert=cert.path), f", its CA in {ca}"


@app.command()
def models() -> None:
    """List the server models and the protocols each serves."""
    from rich.console import Console

    from sockbench.cli.output import print_section
    from sockbench.endpoints import Proto
    from sockbench.report.content import Section, Table
    from sockbench.servers.registry import MODELS, unavailable_reason

    rows = tuple(
        (
            info.name,
            ", ".join(p.value for p in Proto if p in info.protos),
            "yes" if reason is None else f"no: {reason}",
            info.summary,
        )
        for info in MODELS.values()
        for reason in (unavailable_reason(info),)
    )
    headers = ("model", "protocols", "available", "what it is")
    table = Table(headers, rows, ("l", "l", "l", "l"))
    print_section(Section("Server models", key="models", table=table), Console())


@app.command()
def version() -> None:
    """Print the sockbench version."""
    typer.echo(__version__)


#: The documents sockbench writes, each with its JSON Schema generated from its records
#: (core/records/generate.py's DOCUMENTS; named here too, so --help need not load pydantic).
SCHEMAS = ("result", "compare", "sweep", "intervals")


@app.command()
def schema(
    document: Annotated[
        str,
        typer.Argument(
            help="result (sockbench.result/1), compare (results.json), sweep (sweep.json) "
            "or intervals (a --format jsonl line)",
            autocompletion=lambda incomplete: [s for s in SCHEMAS if s.startswith(incomplete)],
        ),
    ] = "result",
) -> None:
    """Print the JSON Schema of a document sockbench writes (the result by default),
    generated from its typed records: docs/NAME.schema.json is this output."""
    if document not in SCHEMAS:
        raise ConfigError(f"no schema {document!r}; give one of {', '.join(SCHEMAS)}")
    from sockbench.core.records.generate import schema_text  # loads pydantic: here only

    typer.echo(schema_text(document), nl=False)
