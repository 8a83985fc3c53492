"""Facts about the machine that option checks and warnings depend on (pure data).

:mod:`sockbench.machine` reads them once; everything that decides with them takes
them as an argument, so those decisions are unit-tested with made-up machines.
"""

from __future__ import annotations

from dataclasses import dataclass

LINUX_PORT_RANGE = (32768, 60999)  # net.ipv4.ip_local_port_range's default


@dataclass(frozen=True)
class Machine:
    usable_cpus: frozenset[int]  # this process's affinity
    cpu_count: int
    nofile_limit: int = 1 << 20  # descriptors a process may raise itself to (hard limit)
    port_range: tuple[int, int] = LINUX_PORT_RANGE
    load_average: float = 0.0  # over the last minute
    runtime_dir: str = "/tmp"  # for sockets nobody named: $XDG_RUNTIME_DIR, else the temp dir
    # The most SO_RCVBUF and SO_SNDBUF may ask for (net.core.rmem_max, wmem_max: the lower);
    # None: not known.
    socket_buffer_max: int | None = None

    @property
    def ephemeral_ports(self) -> int:
        return self.port_range[1] - self.port_range[0] + 1
