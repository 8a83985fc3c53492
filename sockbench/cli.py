"""The command line: parse options, call the library, print. Nothing else lives here."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from sockbench import __version__
from sockbench.errors import SockbenchError

app = typer.Typer(
    name="sockbench",
    help="Load-test TCP, UDP and Unix socket servers; compare server models.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _command_line() -> str:
    return shlex.join(["sockbench", *sys.argv[1:]])


@app.command()
def run(
    proto: Annotated[str, typer.Option(help="tcp, udp, unix or unix-dgram")] = "",
    clients: Annotated[int, typer.Option(help="concurrent clients (connections)")] = 1,
    duration: Annotated[float, typer.Option(help="measured seconds")] = 10.0,
    warmup: Annotated[float, typer.Option(help="seconds of load kept out of the results")] = 2.0,
    payload: Annotated[str, typer.Option(help="message size: 64, 1k, 64KiB")] = "64",
    timeout: Annotated[float, typer.Option(help="seconds before a reply counts lost")] = 1.0,
    target: Annotated[
        str | None, typer.Option(help="external server: tcp://HOST:PORT, udp://..., unix:///PATH")
    ] = None,
    server: Annotated[str, typer.Option(help="server model to start when no --target")] = "asyncio",
    json_path: Annotated[
        str | None, typer.Option("--json", help="also write the result JSON here ('-' = stdout)")
    ] = None,
    out: Annotated[
        str, typer.Option(help="folder that receives a result folder per run")
    ] = "results",
    workers: Annotated[
        str, typer.Option(help="worker processes, or 'auto' (from cores and clients)")
    ] = "auto",
    allow_remote: Annotated[
        bool, typer.Option(help="allow a non-loopback target (you must own it)")
    ] = False,
) -> None:
    """Drive concurrent clients against a server and record latency histograms."""
    from sockbench.config import build_run_config
    from sockbench.core.units import parse_size
    from sockbench.engine.runner import run as run_benchmark
    from rich.console import Console

    from sockbench.report.terminal import print_report

    config = build_run_config(
        proto=proto,
        clients=clients,
        duration_s=duration,
        warmup_s=warmup,
        payload=parse_size(payload, "--payload"),
        timeout_s=timeout,
        target=target,
        server_model=server,
        allow_remote=allow_remote,
        json_path=json_path,
        out_dir=out or None,
        workers=workers,
    )
    outcome = run_benchmark(config, command=_command_line())
    to_stderr = json_path == "-"
    print_report(outcome.result, Console(stderr=to_stderr))
    if outcome.folder is not None:
        typer.echo(f"results: {outcome.folder}", err=to_stderr)
    raise typer.Exit(outcome.exit_code)


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
    from sockbench.servers.host import serve_forever

    endpoint = parse_bind(bind, parse_proto(proto))

    def ready(actual: object) -> None:
        typer.echo(f"sockbench: {model} serving {actual} ({mode}); Ctrl-C to stop")

    serve_forever(model, endpoint, mode=mode, threads=threads, processes=processes, on_ready=ready)


@app.command()
def models() -> None:
    """List the server models and the protocols each serves."""
    from rich.console import Console
    from rich.table import Table

    from sockbench.servers.registry import MODELS, unavailable_reason

    table = Table("model", "protocols", "available", "what it is", title="server models")
    for info in MODELS.values():
        protos = ", ".join(p.value for p in sorted(info.protos, key=list(type(p)).index))
        reason = unavailable_reason(info)
        table.add_row(info.name, protos, "yes" if reason is None else f"no: {reason}", info.summary)
    Console().print(table)


@app.command()
def version() -> None:
    """Print the sockbench version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point: bad input becomes one line on stderr and exit code 2, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except SockbenchError as exc:
        print(f"sockbench: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("sockbench: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `sockbench`: show the help
            print(exc.format_message(), file=sys.stderr)
            sys.exit(2)
        print(f"sockbench: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2 if exc.exit_code == 1 else exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
