"""The matrix of a compare: every option checked up front, cells in a fair order (pure).

Nothing runs until the whole matrix is known to be valid: an unknown model, a model
that cannot serve a protocol, a missing optional package, a malformed list or a
client count the descriptor limit cannot hold are all one-line :class:`ConfigError`\\ s
before the first server starts.

**Order.** Running model after model would give each model a different slice of
time: the machine warms up, a background job starts, the page cache fills. Cells are
therefore interleaved: for each repeat, for each workload (proto × payload ×
clients), every model runs once, and the order of the models rotates by one from
one workload to the next (and carries on rotating across repeats), so no model is
always first after a server restart or always last in a group.

**Pinning.** With two or more usable CPUs the server and the load generator get
disjoint CPU sets by default (lower half to the server, the rest to the
generator), so they do not steal each other's cycles and a cell's numbers do not
depend on where the scheduler put them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from sockbench.config import RunConfig, build_run_config, parse_cpus, parse_workers
from sockbench.core.units import parse_size
from sockbench.endpoints import Proto, parse_proto
from sockbench.engine.limits import check_descriptors
from sockbench.errors import ConfigError
from sockbench.report import stats

DEFAULT_MODELS = "threaded,selectors,asyncio"
DEFAULT_PROTOS = "tcp,udp"
DEFAULT_CLIENTS = "10,100,1000"
DEFAULT_PAYLOADS = "64"
#: Keywords of --server-cpus/--client-cpus besides a CPU list.
AUTO = "auto"
NO_PIN = ("none", "off", "")
MAX_REPEAT = 100
MAX_CELLS = 10_000


@dataclass(frozen=True)
class Cell:
    """One run of the matrix: a model under one workload, in one repeat."""

    index: int  # 1-based position in the run order
    model: str
    proto: Proto
    clients: int
    payload: int
    repeat: int  # 1..N
    config: RunConfig

    def label(self, repeats: int = 1) -> str:
        """``asyncio tcp 64 B 100 clients`` (plus ``repeat 2/3`` when there are repeats)."""
        text = (
            f"{self.model} {self.proto.value} {stats.fmt_payload(self.payload)} "
            f"{self.clients:,} client{'s' if self.clients != 1 else ''}"
        )
        return f"{text}, repeat {self.repeat}/{repeats}" if repeats > 1 else text

    @property
    def stem(self) -> str:
        """File name stem of the cell's files: ``tcp-64-c100-asyncio-r1``."""
        return f"{self.proto.value}-{self.payload}-c{self.clients}-{self.model}-r{self.repeat}"

    def to_json(self) -> dict[str, object]:
        """The ``cell`` object stored in the cell's result."""
        return {
            "model": self.model,
            "proto": self.proto.value,
            "clients": self.clients,
            "payload": self.payload,
            "repeat": self.repeat,
            "index": self.index,
        }


@dataclass(frozen=True)
class Plan:
    """A validated compare: the axes, the shared run options and the cells in run order."""

    models: tuple[str, ...]
    protos: tuple[Proto, ...]
    clients: tuple[int, ...]
    payloads: tuple[int, ...]
    repeat: int
    duration_s: float
    warmup_s: float
    timeout_s: float
    server_cpus: tuple[int, ...]
    client_cpus: tuple[int, ...]
    workers: str
    cells: tuple[Cell, ...]

    def to_json(self) -> dict[str, object]:
        """What the compare document records about how it ran."""
        return {
            "models": list(self.models),
            "protos": [p.value for p in self.protos],
            "clients": list(self.clients),
            "payloads": list(self.payloads),
            "repeat": self.repeat,
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "timeout_s": self.timeout_s,
            "server_cpus": list(self.server_cpus) or None,
            "client_cpus": list(self.client_cpus) or None,
            "workers": self.workers,
            "order": "interleaved: per repeat, per proto/payload/clients, models rotated",
            "cells": len(self.cells),
        }


def split_list(text: str, what: str) -> list[str]:
    """``a,b,c`` -> items; ConfigError for an empty list or an empty item. Duplicates drop."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip():
        raise ConfigError(f"{what} is empty; give a comma-separated list")
    if any(not p for p in parts):
        raise ConfigError(f"malformed {what} {text!r}: empty item in the list")
    return list(dict.fromkeys(parts))


def parse_counts(text: str, what: str) -> tuple[int, ...]:
    """``10,100,1000`` -> counts, each a whole number of at least 1."""
    counts: list[int] = []
    for part in split_list(text, what):
        try:
            n = int(part.replace("_", ""))
        except ValueError:
            raise ConfigError(
                f"malformed {what} {text!r}: {part!r} is not a whole number"
            ) from None
        if n < 1:
            raise ConfigError(f"{what} values must be at least 1, got {n}")
        counts.append(n)
    return tuple(dict.fromkeys(counts))


def parse_payloads(text: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(parse_size(p, "--payload") for p in split_list(text, "--payload")))


def resolve_pinning(
    server: str, client: str, usable: set[int] | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The server's and the generator's CPU sets from ``--server-cpus``/``--client-cpus``.

    Each is ``auto``, ``none`` or a list like ``0-3,5``. Two ``auto``\\ s split the CPUs
    this process may use (lower half to the server, at least one each) when there are
    two or more; one ``auto`` takes the CPUs the other side leaves; ``none`` leaves that
    side unpinned (and an ``auto`` opposite it too). Explicit sets must not overlap.
    """
    usable = set(os.sched_getaffinity(0)) if usable is None else usable
    s, c = server.strip().lower(), client.strip().lower()
    if s in NO_PIN or c in NO_PIN:
        return (
            () if s in NO_PIN or s == AUTO else parse_cpus(server, "--server-cpus"),
            () if c in NO_PIN or c == AUTO else parse_cpus(client, "--client-cpus"),
        )
    if s == AUTO and c == AUTO:
        cpus = sorted(usable)
        if len(cpus) < 2:
            return (), ()
        half = len(cpus) // 2
        return tuple(cpus[:half]), tuple(cpus[half:])
    server_cpus = () if s == AUTO else parse_cpus(server, "--server-cpus")
    client_cpus = () if c == AUTO else parse_cpus(client, "--client-cpus")
    if s == AUTO:
        server_cpus = tuple(sorted(usable - set(client_cpus)))
        if not server_cpus:
            raise ConfigError(
                f"--client-cpus {client} leaves no CPU for the server; name fewer, "
                "or pass --server-cpus none to let them share"
            )
    if c == AUTO:
        client_cpus = tuple(sorted(usable - set(server_cpus)))
        if not client_cpus:
            raise ConfigError(
                f"--server-cpus {server} leaves no CPU for the load generator; name fewer, "
                "or pass --client-cpus none to let them share"
            )
    shared = set(server_cpus) & set(client_cpus)
    if shared:
        raise ConfigError(
            f"--server-cpus and --client-cpus share CPU(s) {','.join(map(str, sorted(shared)))}; "
            "give disjoint sets, or 'none' for one side"
        )
    return server_cpus, client_cpus


def _workers_for(text: str, clients: int, client_cpus: tuple[int, ...]) -> int:
    # auto_workers keeps half the cores for a server sharing the machine; a pinned
    # generator has its CPUs to itself, so it may use all of them.
    cpus = 2 * len(client_cpus) if client_cpus else None
    return parse_workers(text, clients, cpus)


def order_cells(
    models: tuple[str, ...],
    protos: tuple[Proto, ...],
    payloads: tuple[int, ...],
    clients: tuple[int, ...],
    repeat: int,
) -> list[tuple[str, Proto, int, int, int]]:
    """(model, proto, payload, clients, repeat) in run order: interleaved and rotated."""
    groups = [(p, pl, c) for p in protos for pl in payloads for c in clients]
    out: list[tuple[str, Proto, int, int, int]] = []
    turn = 0
    for r in range(1, repeat + 1):
        for proto, payload, n in groups:
            shift = turn % len(models)
            turn += 1
            for model in models[shift:] + models[:shift]:
                out.append((model, proto, payload, n, r))
    return out


def build_plan(
    *,
    models: str = DEFAULT_MODELS,
    protos: str = DEFAULT_PROTOS,
    clients: str = DEFAULT_CLIENTS,
    payloads: str = DEFAULT_PAYLOADS,
    duration_s: float = 10.0,
    warmup_s: float = 2.0,
    timeout_s: float = 1.0,
    repeat: int = 1,
    server_cpus: str = AUTO,
    client_cpus: str = AUTO,
    workers: str = "auto",
) -> Plan:
    """Check every option of a compare and lay out its cells; ConfigError with one line."""
    from sockbench.servers.host import check_options

    model_names = tuple(m.lower() for m in split_list(models, "--models"))
    proto_list = tuple(dict.fromkeys(parse_proto(p) for p in split_list(protos, "--proto")))
    client_counts = parse_counts(clients, "--clients")
    payload_sizes = parse_payloads(payloads)
    if not 1 <= repeat <= MAX_REPEAT:
        raise ConfigError(f"--repeat must be between 1 and {MAX_REPEAT}, got {repeat}")
    for model in model_names:
        for proto in proto_list:
            check_options(model, proto)  # unknown, unavailable (uvloop) or wrong proto
    pin_server, pin_client = resolve_pinning(server_cpus, client_cpus)
    n_workers = {n: _workers_for(workers, n, pin_client) for n in client_counts}
    for n, w in n_workers.items():
        check_descriptors(-(-n // w))
    total = len(model_names) * len(proto_list) * len(client_counts) * len(payload_sizes) * repeat
    if total > MAX_CELLS:
        raise ConfigError(f"the matrix has {total:,} cells; the limit is {MAX_CELLS:,}")
    configs: dict[tuple[str, Proto, int, int], RunConfig] = {}
    cells: list[Cell] = []
    for i, (model, proto, payload, n, r) in enumerate(
        order_cells(model_names, proto_list, payload_sizes, client_counts, repeat), start=1
    ):
        key = (model, proto, payload, n)
        if key not in configs:
            config = build_run_config(
                proto=proto.value,
                clients=n,
                duration_s=duration_s,
                warmup_s=warmup_s,
                payload=payload,
                timeout_s=timeout_s,
                target=None,
                server_model=model,
                out_dir=None,  # the compare writes its own folder, not one per cell
                workers=str(n_workers[n]),
            )
            configs[key] = dataclasses.replace(
                config, server_cpus=pin_server, client_cpus=pin_client
            )
        cells.append(Cell(i, model, proto, n, payload, r, configs[key]))
    return Plan(
        models=model_names,
        protos=proto_list,
        clients=client_counts,
        payloads=payload_sizes,
        repeat=repeat,
        duration_s=duration_s,
        warmup_s=warmup_s,
        timeout_s=timeout_s,
        server_cpus=pin_server,
        client_cpus=pin_client,
        workers=workers,
        cells=tuple(cells),
    )
