"""A whole run: start or check the server, drive the clients, build and write the result."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from sockbench.config import RunConfig
from sockbench.core.result import build_result, run_warnings
from sockbench.endpoints import Endpoint
from sockbench.engine.coordinator import coordinate
from sockbench.engine.limits import check_descriptors
from sockbench.engine.preflight import check_target
from sockbench.environment import collect_environment
from sockbench.output import write_json, write_run_folder
from sockbench.servers.launcher import ServerProcess, open_server

EXIT_INTERRUPTED = 130
EXIT_SERVER_DIED = 1


@dataclass(frozen=True)
class RunOutcome:
    result: dict[str, Any]
    folder: Path | None
    exit_code: int


@contextlib.contextmanager
def _private_dir() -> Iterator[str]:
    """A short private directory for Unix socket paths, removed however the run ends."""
    with tempfile.TemporaryDirectory(prefix="sockbench-") as path:
        yield path


def _embedded_bind(config: RunConfig, private: str) -> Endpoint:
    if config.proto.is_unix:
        return Endpoint(config.proto, path=f"{private}/server.sock")
    return Endpoint(config.proto, "127.0.0.1", 0)


def run(config: RunConfig, *, command: str) -> RunOutcome:
    """Run the benchmark ``config`` describes and write its result files."""
    check_descriptors(-(-config.clients // config.workers))
    started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    environment = collect_environment()
    with contextlib.ExitStack() as stack:
        private = stack.enter_context(_private_dir())
        server: ServerProcess | None = None
        if config.target is None:
            assert config.server_model is not None
            server = stack.enter_context(
                open_server(config.server_model, _embedded_bind(config, private))
            )
            endpoint = server.endpoint
        else:
            endpoint = config.target
            check_target(endpoint)
        watch = server
        outcome = trio.run(
            lambda: coordinate(
                config,
                endpoint,
                workers=config.workers,
                server_died=(lambda: watch.returncode() is not None) if watch else None,
                reply_dir=private,
            )
        )
    tally = outcome.tally
    result = build_result(
        config=config.to_json(),
        command=command,
        environment=environment,
        server={"model": config.server_model if server else None, "target": endpoint.url()},
        started_at=started_at,
        duration_s=outcome.measured_s,
        status=outcome.status,
        tally=tally,
        warnings=run_warnings(tally, outcome.status, outcome.failed_workers),
    )
    folder = write_run_folder(result, config.out_dir) if config.out_dir else None
    if config.json_path:
        write_json(result, config.json_path)
    exit_code = {"interrupted": EXIT_INTERRUPTED, "server_died": EXIT_SERVER_DIED}.get(
        outcome.status, 0
    )
    return RunOutcome(result, folder, exit_code)
