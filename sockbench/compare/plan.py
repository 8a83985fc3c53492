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

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sockbench.core.forecast import predicted_warnings
from sockbench.core.kinds import Workload
from sockbench.core.machine import Machine
from sockbench.core.spec.capacity import SearchOptions, SweepOptions, search_options
from sockbench.core.spec.compare import (
    COMPARE_RECORDS,
    DEFAULT_MODELS,
    Axes,
    CompareOptions,
    check_tuning,
)
from sockbench.core.spec.load import CLIENTS
from sockbench.core.spec.option import NONE, check_names, parse_record, split_list
from sockbench.core.spec.output import Output
from sockbench.core.spec.run import RunOptions, RunSpec, parse_run, validate_run
from sockbench.core.spec.server import Command, ServerOptions, named_commands
from sockbench.core.warning import WarningKind
from sockbench.endpoints import Proto
from sockbench.engine.io.limits import check_descriptors
from sockbench.errors import ConfigError
from sockbench.machine import NAMES, read_machine
from sockbench.report import numbers as stats
from sockbench.servers.chosen import check_server
from sockbench.servers.registry import MODELS

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
    spec: RunSpec

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
    external: tuple[Command, ...] = ()
    # What the compare shows and logs (--quiet, -v, --log-file).
    output: Output = field(default_factory=Output)
    folder: str | None = None  # --out
    # --capacity or --sweep: each cell is a search or a sweep, not one run (None: one run).
    at_rates: AtRates | None = None

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
            "commands": {e.name: e.template for e in self.external} or None,
        }


def parse_counts(text: str, flag: str) -> tuple[int, ...]:
    """``10,100,1000`` -> counts, each a whole number of at least 1 (as ``--clients``)."""
    return tuple(dict.fromkeys(CLIENTS.bounded(p, flag) for p in split_list(text, flag)))


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
    values: Mapping[str, object],
    machine: Machine | None = None,
    spelled: Mapping[str, str] = NONE,
) -> Plan:
    """Check every option of a compare and lay out its cells; ConfigError with one line.

    ``values`` are compare's options by name (:mod:`sockbench.core.spec.compare`); each
    cell's run is checked by :func:`~sockbench.core.spec.run.validate_run` as one run's
    is, against ``machine`` (read once, here, when not given). ``spelled`` names the
    older flag a value was given with, for the errors.
    """
    machine = machine or read_machine()
    check_names(values, COMPARE_RECORDS, "compare")
    axes = parse_record(Axes, values, "compare", NAMES, spelled)
    own = parse_record(CompareOptions, values, "compare", NAMES, spelled)
    shared = parse_run(values, NAMES, "compare", spelled)
    at_rates = _at_rates(own, values)
    if at_rates is not None:
        if own.repeat != 1:
            raise ConfigError(
                "--repeat runs the matrix again; with --capacity or --sweep each cell already "
                "runs many times (a search confirms its answer): drop --repeat"
            )
        # Every cell is checked as the open-loop run its first step is.
        shared = replace(shared, load=replace(shared.load, rate=at_rates.first_rate))
    flag = spelled.get("server_cmds", "--server-cmd")
    ready_timeout_s = shared.server_options.ready_timeout_s
    commands = _commands_by_name(
        named_commands(own.server_cmds, own.ready_lines, ready_timeout_s, flag=flag), flag
    )
    builtin = tuple(m for m in axes.server_model if m) or (() if commands else DEFAULT_MODELS)
    models = builtin + tuple(commands)
    protos = tuple(p for p in axes.proto if p is not None)
    if shared.tls.server_tls and values.get("proto") is None:
        protos = (Proto.TCP,)  # TLS is over TCP: the default tcp,udp would be refused
    _check_streams(shared, protos, at_rates)
    total = len(models) * len(protos) * len(axes.clients) * len(axes.payload) * own.repeat
    if total > MAX_CELLS:
        raise ConfigError(f"the matrix has {total:,} cells; the limit is {MAX_CELLS:,}")
    specs: dict[tuple[str, Proto, int, int], RunSpec] = {}
    for model in models:
        for proto in protos:
            for payload in axes.payload:
                for n in axes.clients:
                    spec = validate_run(_cell(shared, model, commands, proto, n, payload), machine)
                    check_server(spec.server, proto)
                    specs[model, proto, payload, n] = spec
    for spec in specs.values():
        if not spec.generator.cluster:  # a cluster's nodes have their own limits
            check_descriptors(-(-spec.load.clients // spec.sizing.workers))
    cells = [
        Cell(i, model, proto, n, payload, r, specs[model, proto, payload, n])
        for i, (model, proto, payload, n, r) in enumerate(
            order_cells(models, protos, axes.payload, axes.clients, own.repeat), start=1
        )
    ]
    first = next(iter(specs.values()))
    return Plan(
        models=models,
        protos=protos,
        clients=axes.clients,
        payloads=axes.payload,
        repeat=own.repeat,
        duration_s=first.sizing.duration_s,
        warmup_s=first.load.warmup_max_s,
        timeout_s=first.sizing.timeout_s,
        server_cpus=first.sizing.server_cpus,
        client_cpus=first.sizing.client_cpus,
        workers="auto" if shared.generator.workers is None else str(shared.generator.workers),
        cells=tuple(cells),
        external=tuple(commands.values()),
        output=shared.output,
        folder=own.folder,
        at_rates=at_rates,
    )


@dataclass(frozen=True)
class AtRates:
    """``compare --capacity`` (a search per cell) or ``--sweep`` (a sweep per cell)."""

    slos: tuple[str, ...]
    search: SearchOptions | None
    sweep: SweepOptions | None

    @property
    def first_rate(self) -> float:
        if self.search is not None:
            return self.search.rate_min
        assert self.sweep is not None
        return self.sweep.rates[0]


def _at_rates(own: CompareOptions, values: Mapping[str, object]) -> AtRates | None:
    if own.capacity and own.sweep:
        raise ConfigError(
            "give --capacity (a search per cell) or --sweep (rates per cell), not both"
        )
    check_tuning(own, values)
    if own.capacity:
        return AtRates(own.capacity, search_options(values, "compare"), None)
    if own.sweep:
        sweep = parse_record(SweepOptions, values, "compare", NAMES)
        return AtRates((), None, replace(sweep, rates=own.sweep))
    return None


def _check_streams(shared: RunOptions, protos: tuple[Proto, ...], at_rates: AtRates | None) -> None:
    """A compare of streams (--mode stream, --reverse, --bidir) runs byte streams as fast
    as they go: a datagram stream is paced by --rate, which a compare's cells do not take,
    and --capacity/--sweep step through rates."""
    if shared.load.mode != Workload.STREAM:
        return
    if at_rates is not None:
        raise ConfigError(
            "--capacity and --sweep step through open-loop rates, and a compare's tcp and "
            "unix streams send as fast as they can: drop --mode stream or the --capacity/--sweep"
        )
    datagrams = [p.value for p in protos if not p.is_stream]
    if datagrams:
        raise ConfigError(
            f"compare --mode stream runs tcp and unix streams; a {'/'.join(datagrams)} stream "
            "is paced by --rate, which compare does not take: give --proto tcp or tcp,unix"
        )


def _cell(
    shared: RunOptions,
    model: str,
    commands: Mapping[str, Command],
    proto: Proto,
    clients: int,
    payload: int,
) -> RunOptions:
    """A cell's run: the shared options with its workload and its server (a built-in
    model, or a ``--server-cmd`` command); it writes no run folder of its own."""
    return replace(
        shared,
        load=replace(shared.load, proto=proto, clients=clients),
        request=replace(shared.request, payload=payload),
        server_options=_server(shared.server_options, commands.get(model), model),
        output=replace(shared.output, out_dir=None),
    )


def _server(shared: ServerOptions, command: Command | None, model: str) -> ServerOptions:
    if command is None:
        return replace(shared, server_model=model)
    return replace(
        shared,
        server_cmd=command.template,
        server_name=command.name,
        ready_line=command.ready_line,
    )


def _commands_by_name(commands: tuple[Command, ...], flag: str) -> dict[str, Command]:
    """Commands by name; a name may not repeat nor shadow a built-in model."""
    out: dict[str, Command] = {}
    for command in commands:
        if command.name.lower() in MODELS:
            raise ConfigError(f"{flag} {command.name} is a built-in model's name; pick another")
        if command.name in out:
            raise ConfigError(f"{flag} {command.name} is given twice")
        out[command.name] = command
    return out


def predicted_cell_warnings(plan: Plan) -> list[str]:
    """What :func:`~sockbench.core.forecast.predicted_warnings` says of each cell, said
    before the first cell runs: one line per cell and limit, labelled with the cell (once
    per cell, not per repeat); a busy machine is the machine's, said once."""
    lines: dict[str, None] = {}
    for cell in plan.cells:
        if cell.repeat != 1:
            continue
        for warning in predicted_warnings(cell.spec):
            if warning.kind is WarningKind.BUSY_MACHINE:
                lines.setdefault(warning.text())
            else:
                lines.setdefault(f"[{cell.label()}] {warning.text()}")
    return list(lines)
