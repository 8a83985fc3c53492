"""The option layer's edge: what only this host can say, read once, and the checks that need it.

:mod:`sockbench.core.spec` is pure: it checks values against the :class:`Machine` facts
and the ``--send-file`` content it is given. This module reads those facts (CPU
affinity, core count, limits) and the file, names the server models installed here
(which core does not know), and finishes the checks only this host can answer: whether a
built-in model runs here and serves the transport, and the protocol, built here once (a
plugin is imported) so a missing or failing one is one line before any connection. The
CLI, compare and tests start from option values here.
"""

from __future__ import annotations

import os
import resource
import ssl
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sockbench.core import bounds
from sockbench.core.machine import LINUX_PORT_RANGE, Machine
from sockbench.core.protocols import is_builtin
from sockbench.core.spec import rules
from sockbench.core.spec.option import NONE, SERVER_MODELS, Names, check_names
from sockbench.core.spec.run import RUN_RECORDS, RunSpec, parse_run, validate_run
from sockbench.core.spec.serve import ServeSpec, validate_serve
from sockbench.core.spec.tls import check_ca_pem
from sockbench.errors import ConfigError
from sockbench.servers.chosen import check_server
from sockbench.servers.registry import MODELS

#: The vocabularies core leaves to this host: the server models, in the registry's order.
NAMES: Names = {SERVER_MODELS: tuple(MODELS)}
TLS_CA_LIMIT = 1 << 20  # a CA bundle is far smaller (Debian's: ~200 KiB)


def read_machine() -> Machine:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return Machine(
        usable_cpus=frozenset(os.sched_getaffinity(0)),
        cpu_count=os.cpu_count() or 1,
        nofile_limit=hard if hard != resource.RLIM_INFINITY else 1 << 20,
        port_range=_port_range(),
        load_average=os.getloadavg()[0],
        runtime_dir=os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir(),
        socket_buffer_max=_socket_buffer_max(),
    )


PROC_SYS = Path("/proc/sys")


def _sysctl(name: str) -> tuple[int, ...] | None:
    """A kernel setting's numbers (``net.core.rmem_max``); None where it cannot be read."""
    try:
        return tuple(int(n) for n in (PROC_SYS / name.replace(".", "/")).read_text().split())
    except (OSError, ValueError):
        return None


def _socket_buffer_max() -> int | None:
    """The lower of net.core.rmem_max and wmem_max: what a socket may ask for."""
    values = []
    for name in ("rmem_max", "wmem_max"):
        found = _sysctl(f"net.core.{name}")
        if found is None or len(found) != 1:
            return None
        values.append(found[0])
    return min(values)


def _port_range() -> tuple[int, int]:
    found = _sysctl("net.ipv4.ip_local_port_range")
    return (found[0], found[1]) if found is not None and len(found) == 2 else LINUX_PORT_RANGE


def read_send_file(path: str | None, flag: str = "--send-file") -> bytes | None:
    """The content of ``--send-file`` (or another request file, ``flag``): a regular file,
    within the stream message bound."""
    if path is None:
        return None
    data = read_regular_file(path, flag, bounds.MAX_STREAM_MESSAGE + 1)
    bounds.check_message_size(len(data), f"{flag} size", datagram=False)
    return data


def read_tls_ca(path: str | None) -> str | None:
    """The PEM text of ``--tls-ca``: a regular file holding a certificate."""
    if path is None:
        return None
    pem = check_ca_pem(read_regular_file(path, "--tls-ca", TLS_CA_LIMIT).decode("latin-1"), path)
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"--tls-ca {path}: not a usable CA certificate ({exc})") from None
    return pem


def read_regular_file(path: str, flag: str, limit: int) -> bytes:
    """Up to ``limit`` bytes of the regular file ``path``; one line naming ``flag`` for
    anything else (a FIFO, a device, a folder, a file that cannot be read)."""
    try:
        # O_NONBLOCK: a FIFO opens at once (a blocking open waits for a writer, for ever)
        # and is refused below with /dev/zero; a regular file reads as ever.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # never /dev/zero, a FIFO
                raise ConfigError(
                    f"{flag} {path} is not a regular file (a FIFO or a device has no "
                    "end to read to, or none yet); give a regular file"
                )
            return f.read(limit)
    except OSError as exc:
        raise ConfigError(f"cannot read {flag} {path}: {exc.strerror}") from None


def build_run_spec(values: Mapping[str, object], machine: Machine | None = None) -> RunSpec:
    """A checked :class:`RunSpec` from option values keyed by option name (missing: the
    default), for this host (``machine``: read now when not given)."""
    check_names(values, RUN_RECORDS, "run")
    options = parse_run(values, NAMES)
    spec = validate_run(
        options,
        machine or read_machine(),
        send_file=read_send_file(options.request.send_file),
        http_files=(
            read_send_file(options.request.body_file, "--body-file"),
            read_send_file(options.request.http_paths_file, "--http-paths-file"),
        ),
        tls_ca=read_tls_ca(options.tls.tls_ca),
    )
    check_server(spec.server, spec.proto)
    spec.protocol.adapter()  # built once in this process; see core.spec.request
    if not is_builtin(spec.protocol.name):  # a plugin's kinds are known now it is built
        rules.check_thresholds(spec.output.checks, spec.proto, spec.load.rate, spec.protocol)
    return spec


def build_serve_spec(values: Mapping[str, object], spelled: Mapping[str, str] = NONE) -> ServeSpec:
    """``sockbench serve``'s options, checked for this host."""
    spec = validate_serve(values, read_machine(), NAMES, spelled)
    check_server(spec.server, spec.bind.proto)
    return spec
