"""`sockbench serve` and `sockbench models`: the server models on their own."""

from __future__ import annotations

from typing import Annotated

import typer

from sockbench import __version__
from sockbench.cli.app import app


@app.command()
def serve(
    model: Annotated[str, typer.Option(help="server model (see `sockbench models`)")] = "asyncio",
    proto: Annotated[str, typer.Option(help="tcp, udp, unix or unix-dgram")] = "tcp",
    bind: Annotated[str, typer.Option(help="HOST:PORT, or a Unix socket path")] = "127.0.0.1:9000",
    mode: Annotated[str, typer.Option(help="echo, or sink (read and discard)")] = "echo",
    threads: Annotated[int, typer.Option("--server-threads", help="threadpool size")] = 64,
    processes: Annotated[
        int, typer.Option("--server-processes", help="prefork processes (0 = one per core)")
    ] = 0,
) -> None:
    """Run one server model in the foreground until Ctrl-C."""
    from sockbench.endpoints import parse_bind, parse_proto
    from sockbench.engine.limits import raise_nofile_limit
    from sockbench.servers.host import serve_forever

    endpoint = parse_bind(bind, parse_proto(proto))
    raise_nofile_limit()  # a server holds a descriptor per connection

    def ready(actual: object) -> None:
        typer.echo(f"sockbench: {model} serving {actual} ({mode}); Ctrl-C to stop")

    serve_forever(model, endpoint, mode=mode, threads=threads, processes=processes, on_ready=ready)


@app.command()
def models() -> None:
    """List the server models and the protocols each serves."""
    from rich.console import Console
    from rich.table import Table

    from sockbench.endpoints import Proto
    from sockbench.servers.registry import MODELS, unavailable_reason

    table = Table("model", "protocols", "available", "what it is", title="server models")
    for info in MODELS.values():
        protos = ", ".join(p.value for p in Proto if p in info.protos)
        reason = unavailable_reason(info)
        table.add_row(info.name, protos, "yes" if reason is None else f"no: {reason}", info.summary)
    Console().print(table)


@app.command()
def version() -> None:
    """Print the sockbench version."""
    typer.echo(__version__)
