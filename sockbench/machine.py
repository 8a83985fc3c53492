"""The part of option checking that reads this machine and the files options name.

:mod:`sockbench.config` is pure: it checks values against a :class:`Machine` it is
given. This module reads those facts once (CPU affinity, core count) and the
content of ``--send-file``, and :func:`build_run_config` joins the two for callers
that start from option values: the CLI, compare and tests.
"""

from __future__ import annotations

import os
import resource
import tempfile
from collections.abc import Mapping

from sockbench.config import RunConfig, validate_run
from sockbench.core.machine import LINUX_PORT_RANGE, Machine
from sockbench.errors import ConfigError


def read_machine() -> Machine:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return Machine(
        usable_cpus=frozenset(os.sched_getaffinity(0)),
        cpu_count=os.cpu_count() or 1,
        nofile_limit=hard if hard != resource.RLIM_INFINITY else 1 << 20,
        port_range=_port_range(),
        load_average=os.getloadavg()[0],
        runtime_dir=os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir(),
    )


def _port_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            low, high = f.read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return LINUX_PORT_RANGE


def read_files(values: Mapping[str, object]) -> dict[str, bytes]:
    """The content of every file an option names (today: ``--send-file``)."""
    path = values.get("send_file")
    if path is None:
        return {}
    import stat

    from sockbench.core import bounds

    try:
        with open(str(path), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # never /dev/zero
                raise ConfigError(f"--send-file {path} is not a regular file")
            data = f.read(bounds.MAX_STREAM_MESSAGE + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read --send-file {path}: {exc.strerror}") from None
    bounds.check_message_size(len(data), "--send-file size", datagram=False)
    return {str(path): data}


def build_run_config(**values: object) -> RunConfig:
    """A checked :class:`RunConfig` from option values keyed by option name.

    The run's protocol is built once here, so a plugin that is missing or fails says
    so in one line before any connection is made.
    """
    from sockbench.engine.workload import build_exchange

    config = validate_run(values, read_machine(), files=read_files(values))
    build_exchange(config)
    return config
