"""`sockbench run`: parse options, call the engine, print the summary."""

from __future__ import annotations

from typing import Annotated

import typer

from sockbench.cli.app import app, command_line


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
    source_ips: Annotated[
        str, typer.Option(help="addresses clients bind to: auto, 127.0.0.2-127.0.0.9, a,b")
    ] = "auto",
    allow_remote: Annotated[
        bool, typer.Option(help="allow a non-loopback target (you must own it)")
    ] = False,
) -> None:
    """Drive concurrent clients against a server and record latency histograms."""
    from rich.console import Console

    from sockbench.config import build_run_config
    from sockbench.core.units import parse_size
    from sockbench.engine.runner import run as run_benchmark
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
        source_ips=source_ips,
    )
    outcome = run_benchmark(config, command=command_line())
    to_stderr = json_path == "-"
    print_report(outcome.result, Console(stderr=to_stderr))
    if outcome.folder is not None:
        typer.echo(f"results: {outcome.folder}", err=to_stderr)
    raise typer.Exit(outcome.exit_code)
