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
from dataclasses import dataclass

from sockbench.config import RunConfig, validate_run
from sockbench.core.forecast import predicted_warnings
from sockbench.core.machine import Machine
from sockbench.core.warning import WarningKind
from sockbench.endpoints import Proto, parse_proto
from sockbench.engine.limits import check_descriptors
from sockbench.errors import ConfigError
from sockbench.options import convert_all, split_list
from sockbench.report import numbers as stats
from sockbench.servers.external import ExternalCommand, parse_model_options

DEFAULT_MODELS = ("threaded", "selectors", "asyncio")
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
    external: tuple[ExternalCommand, ...] = ()

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
    from sockbench.options import OPTIONS

    [clients] = [o for o in OPTIONS if o.name == "clients"]
    return tuple(dict.fromkeys(int(clients.convert(p)) for p in split_list(text, flag)))  # type: ignore[call-overload]


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


def build_plan(values: Mapping[str, object], machine: Machine | None = None) -> Plan:
    """Check every option of a compare and lay out its cells; ConfigError with one line.

    ``values`` are compare's options by name (:mod:`sockbench.options`); each cell's
    run options are checked by :func:`sockbench.config.validate_run` as one run's are.
    """
    if machine is None:
        from sockbench.machine import read_machine

        machine = read_machine()
    v = convert_all("compare", dict(values))
    external = parse_model_options(
        list(v.pop("external_models")),  # type: ignore[call-overload]
        list(v.pop("ready_lines")),  # type: ignore[call-overload]
        float(v["ready_timeout_s"]),  # type: ignore[arg-type]
    )
    builtin = tuple(str(m).lower() for m in v.pop("models"))  # type: ignore[attr-defined]
    builtin = builtin or (() if external else DEFAULT_MODELS)
    commands = _external_models(external)
    model_names = builtin + tuple(commands)
    proto_list = tuple(dict.fromkeys(parse_proto(str(p)) for p in v.pop("proto")))  # type: ignore[attr-defined]
    client_counts: tuple[int, ...] = v.pop("clients")  # type: ignore[assignment]
    payload_sizes: tuple[int, ...] = v.pop("payload")  # type: ignore[assignment]
    repeat = int(v.pop("repeat"))  # type: ignore[call-overload]
    v.pop("compare_out"), v.pop("quiet")
    if not 1 <= repeat <= MAX_REPEAT:
        raise ConfigError(f"--repeat must be between 1 and {MAX_REPEAT}, got {repeat}")
    total = len(model_names) * len(proto_list) * len(client_counts) * len(payload_sizes) * repeat
    if total > MAX_CELLS:
        raise ConfigError(f"the matrix has {total:,} cells; the limit is {MAX_CELLS:,}")
    configs: dict[tuple[str, Proto, int, int], RunConfig] = {}
    for model in model_names:
        for proto in proto_list:
            for payload in payload_sizes:
                for n in client_counts:
                    configs[model, proto, payload, n] = validate_run(
                        {
                            **v,
                            "proto": proto.value,
                            "clients": n,
                            "payload": payload,
                            **_server(model, commands),
                            "out_dir": "",  # the compare writes its own folder
                        },
                        machine,
                    )
    for config in configs.values():
        if not config.cluster:  # a cluster's nodes have their own limits
            check_descriptors(-(-config.clients // config.workers))
    cells = [
        Cell(i, model, proto, n, payload, r, configs[model, proto, payload, n])
        for i, (model, proto, payload, n, r) in enumerate(
            order_cells(model_names, proto_list, payload_sizes, client_counts, repeat), start=1
        )
    ]
    first = next(iter(configs.values()))
    return Plan(
        models=model_names,
        protos=proto_list,
        clients=client_counts,
        payloads=payload_sizes,
        repeat=repeat,
        duration_s=first.duration_s,
        warmup_s=first.warmup_s,
        timeout_s=first.timeout_s,
        server_cpus=first.server_cpus,
        client_cpus=first.client_cpus,
        workers=str(v["workers"]),
        cells=tuple(cells),
        external=tuple(commands.values()),
    )


def _server(model: str, commands: Mapping[str, ExternalCommand]) -> dict[str, object]:
    """The run options that start ``model``: a built-in one, or a ``--model`` command."""
    spec = commands.get(model)
    if spec is None:
        return {"server_model": model}
    return {"server_cmd": spec.template, "server_name": spec.name, "ready_line": spec.ready_line}


def _external_models(external: tuple[ExternalCommand, ...]) -> dict[str, ExternalCommand]:
    """``--model NAME=CMD`` by name; a name may not repeat nor shadow a built-in model."""
    from sockbench.servers.registry import MODELS

    out: dict[str, ExternalCommand] = {}
    for spec in external:
        if spec.name.lower() in MODELS:
            raise ConfigError(f"--model {spec.name} is a built-in model's name; pick another")
        if spec.name in out:
            raise ConfigError(f"--model {spec.name} is given twice")
        out[spec.name] = spec
    return out


def predicted_cell_warnings(plan: Plan, machine: Machine) -> list[str]:
    """What :func:`~sockbench.core.forecast.predicted_warnings` says of each cell, said
    before the first cell runs: one line per cell and limit, labelled with the cell (once
    per cell, not per repeat); a busy machine is the machine's, said once."""
    lines: dict[str, None] = {}
    for cell in plan.cells:
        if cell.repeat != 1:
            continue
        for warning in predicted_warnings(cell.config.to_json(), machine):
            if warning.kind is WarningKind.BUSY_MACHINE:
                lines.setdefault(warning.text())
            else:
                lines.setdefault(f"[{cell.label()}] {warning.text()}")
    return list(lines)
