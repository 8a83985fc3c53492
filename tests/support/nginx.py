"""A private nginx for a test: ``daemon off``, one process, a generated config in a tmp
dir, 127.0.0.1 and free ports, the access log in the tmp dir in the test's own format.

nginx logs each request as it ends, so once a run is over its log holds every request it
served. The test gives its ``server`` blocks and a probe that says when nginx answers.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PRIVATE = """
daemon off;
master_process off;
worker_processes 1;
{main}pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections {connections}; }}
http {{
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{http}
}}
"""


def private_config(folder: Path, http: str, connections: int = 1024, main: str = "") -> str:
    """A private nginx's whole ``nginx.conf`` (the tests' and the benchmarks'): one process
    in the foreground, its pid, logs and temp files in ``folder``; ``http`` is the http
    block's own directives and ``server`` blocks, ``main`` any more top-level lines."""
    return PRIVATE.format(dir=folder, http=http, connections=connections, main=main)


@contextmanager
def private_nginx(
    folder: Path,
    servers: str,
    log_format: str,
    wait_ready: Callable[[], None],
    connections: int = 1024,
) -> Iterator[Path]:
    """nginx serving ``servers`` (``server { ... }`` blocks) from ``folder``, until the
    block ends; yields its access log. ``wait_ready`` returns once it answers;
    ``connections``: its worker_connections, its listening sockets' included."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        pytest.skip("nginx is not installed (make system-deps installs it)")
    config = folder / "nginx.conf"
    http = (
        f"    log_format counts '{log_format}';\n"
        f"    access_log {folder}/access.log counts;\n"
        f"    keepalive_requests 1000000;\n{servers}"
    )
    config.write_text(private_config(folder, http, connections))
    proc = subprocess.Popen(
        [binary, "-c", str(config), "-p", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ready()
        yield folder / "access.log"
    finally:
        proc.terminate()
        proc.wait(10)
