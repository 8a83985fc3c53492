"""`sockbench run`: parse options, call the engine, print the summary."""

from __future__ import annotations

from typing import Annotated

import typer

from sockbench.cli.app import app, command_line


@app.command()
def run(
    proto: Annotated[str, typer.Option(help="tcp, udp, unix or unix-dgram")] = "",
    clients: Annotated[int, typer.Option(help="concurrent clients (connections)")] = 1,
    duration: Annotated[
        float | None, typer.Option(help="measured seconds [default: 10, or until --requests]")
    ] = None,
    warmup: Annotated[float, typer.Option(help="seconds of load kept out of the results")] = 2.0,
    payload: Annotated[str, typer.Option(help="message size: 64, 1k, 64KiB")] = "64",
    timeout: Annotated[float, typer.Option(help="seconds before a reply counts lost")] = 1.0,
    target: Annotated[
        str | None, typer.Option(help="external server: tcp://HOST:PORT, udp://..., unix:///PATH")
    ] = None,
    mode: Annotated[
        str, typer.Option(help="echo (request/reply), churn (a connection per request), stream")
    ] = "echo",
    rate: Annotated[
        float | None,
        typer.Option(help="open loop: total requests/s over all clients"),
    ] = None,
    pipeline: Annotated[
        int, typer.Option(help="requests in flight per connection (with --rate)")
    ] = 1,
    requests: Annotated[int | None, typer.Option(help="stop after this many requests")] = None,
    interval: Annotated[float, typer.Option(help="seconds per interval of the time series")] = 1.0,
    send: Annotated[str | None, typer.Option(help=r"request bytes; escapes \r \n \t \xHH")] = None,
    send_file: Annotated[str | None, typer.Option(help="request bytes from a file")] = None,
    expect: Annotated[str | None, typer.Option(help="the exact reply (escapes allowed)")] = None,
    expect_size: Annotated[int | None, typer.Option(help="any reply of this many bytes")] = None,
    expect_until: Annotated[
        str | None, typer.Option(help="a reply ending with this delimiter")
    ] = None,
    server: Annotated[str, typer.Option(help="server model to start when no --target")] = "asyncio",
    server_threads: Annotated[int, typer.Option(help="threadpool model: pool size")] = 64,
    server_processes: Annotated[
        int, typer.Option(help="prefork model: processes (0 = one per core)")
    ] = 0,
    server_cpus: Annotated[str, typer.Option(help="pin the server to CPUs: 0, 0-3, 0,2")] = "",
    client_cpus: Annotated[str, typer.Option(help="pin the load generator to CPUs")] = "",
    workers: Annotated[
        str, typer.Option(help="worker processes, or 'auto' (from cores and clients)")
    ] = "auto",
    source_ips: Annotated[
        str, typer.Option(help="addresses clients bind to: auto, 127.0.0.2-127.0.0.9, a,b")
    ] = "auto",
    json_path: Annotated[
        str | None, typer.Option("--json", help="also write the result JSON here ('-' = stdout)")
    ] = None,
    out: Annotated[
        str, typer.Option(help="folder that receives a result folder per run ('' = none)")
    ] = "results",
    fmt: Annotated[
        str,
        typer.Option("--format", help="summary format: table (rich), text, md, csv, hgrm, html"),
    ] = "table",
    quiet: Annotated[bool, typer.Option(help="no live progress view")] = False,
    batch: Annotated[
        bool,
        typer.Option(help="closed loop: serve all of a worker's connections from one epoll pump"),
    ] = True,
    busy_poll: Annotated[
        bool, typer.Option(help="the pump spins instead of sleeping: lowest latency, a full core")
    ] = False,
    allow_remote: Annotated[
        bool, typer.Option(help="allow a non-loopback target (you must own it)")
    ] = False,
) -> None:
    """Drive concurrent clients against a server and record latency histograms."""
    from rich.console import Console

    from sockbench.config import (
        MAX_DURATION_WITH_REQUESTS_S,
        build_run_config,
        parse_cpus,
        parse_exchange,
    )
    from sockbench.core.units import parse_size
    from sockbench.engine.runner import run as run_benchmark
    from sockbench.errors import ConfigError
    from sockbench.report import FORMATS, render
    from sockbench.report.live import live_enabled, open_live_progress
    from sockbench.report.terminal import print_report

    if fmt != "table" and fmt not in FORMATS:
        raise ConfigError(f"unknown --format {fmt!r}; choose table or one of {', '.join(FORMATS)}")

    request, expect_kind, expect_value = parse_exchange(
        send, send_file, expect, expect_size, expect_until
    )
    if duration is None:
        duration = MAX_DURATION_WITH_REQUESTS_S if requests is not None else 10.0
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
        mode=mode,
        rate=rate,
        pipeline=pipeline,
        requests=requests,
        interval_s=interval,
        request=request,
        expect=expect_kind,
        expect_value=expect_value,
        server_threads=server_threads,
        server_processes=server_processes,
        server_cpus=parse_cpus(server_cpus, "--server-cpus"),
        client_cpus=parse_cpus(client_cpus, "--client-cpus"),
        batch=batch,
        busy_poll=busy_poll,
    )
    to_stderr = json_path == "-"
    console = Console(stderr=to_stderr)
    label = f"{config.server_model or config.target} {config.proto.value} {config.clients} clients"
    with open_live_progress(live_enabled(console, quiet), label, console) as progress:
        outcome = run_benchmark(config, command=command_line(), progress=progress)
    if fmt == "table":
        print_report(outcome.result, console)
    else:
        console.file.write(render(outcome.result, fmt))
    if outcome.folder is not None:
        typer.echo(f"results: {outcome.folder}", err=to_stderr)
    raise typer.Exit(outcome.exit_code)
