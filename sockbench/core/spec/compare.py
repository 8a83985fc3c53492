"""compare's own options: the matrix's axes and what runs in its cells (pure).

Each axis is the option a run takes, as a comma-separated list (:func:`listed`): its
flag, help, parser and bounds are the run's, declared once, on the run's field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sockbench.core.rates import parse_rates
from sockbench.core.spec.capacity import SearchOptions, SweepOptions, parse_slos
from sockbench.core.spec.generator import Generator
from sockbench.core.spec.load import CLIENTS, PROTO, Load
from sockbench.core.spec.option import (
    COMPARE,
    field_of,
    listed,
    option,
    optional,
    options_of,
    text,
    texts,
)
from sockbench.core.spec.output import REPEAT, Output
from sockbench.core.spec.request import PAYLOAD, Request
from sockbench.core.spec.server import SERVER, ServerOptions
from sockbench.core.spec.tls import TlsOptions
from sockbench.endpoints import Proto
from sockbench.errors import ConfigError

DEFAULT_MODELS = ("threaded", "selectors", "asyncio")


@dataclass(frozen=True)
class Axes:
    """A cell per combination: every model of ``server_model`` and of the commands, every
    ``proto``, ``clients`` and ``payload``."""

    server_model: tuple[str | None, ...] = field_of(
        listed(
            SERVER, default=None, commands=COMPARE, help="built-in server models",
        default_help=f"{','.join(DEFAULT_MODELS)}; none with --server-cmd",
            renamed={"compare": ("--models",)},
        )
    )  # fmt: skip
    proto: tuple[Proto | None, ...] = field_of(listed(PROTO, default="tcp,udp", commands=COMPARE))
    clients: tuple[int, ...] = field_of(listed(CLIENTS, default="10,100,1000", commands=COMPARE))
    payload: tuple[int, ...] = field_of(listed(PAYLOAD, default="64", commands=COMPARE))


@dataclass(frozen=True)
class CompareOptions:
    server_cmds: tuple[str, ...] = option(
        (), "--server-cmd", help="your own server as a model, repeatable: NAME='CMD with {port}'",
        parse=texts, repeatable=True, metavar="NAME=CMD", commands=COMPARE,
        renamed={"compare": ("--model",)},
    )  # fmt: skip
    ready_lines: tuple[str, ...] = option(
        (), "--ready-line",
        help="a --server-cmd is ready once its stdout shows TEXT (NAME=TEXT: that one), "
        "repeatable",
        parse=texts, repeatable=True, metavar="TEXT", commands=COMPARE,
    )  # fmt: skip
    repeat: int = field_of(REPEAT)
    folder: str | None = option(
        None, "--out", metavar="FOLDER",
        help="folder to write (new or empty)", parse=optional(text),
        commands=COMPARE, default_help="results/compare-TIMESTAMP",
    )  # fmt: skip
    capacity: tuple[str, ...] = option(
        (), "--capacity",
        help="find each cell's capacity at this SLO instead of one run, repeatable, as "
        "search --slo: 'p99 < 5ms' (tune with --rate-min, --rate-max, --precision)",
        parse=parse_slos, repeatable=True, metavar="EXPR", commands=COMPARE,
    )  # fmt: skip
    sweep: tuple[float, ...] = option(
        (), "--sweep", help="run each cell at these open-loop rates instead of once, as "
        "sweep --rate: 1k:20k:1k, 1k,2k,5k or 1k:64k:x2", parse=parse_rates,
        metavar="RATES", commands=COMPARE, default_help="none", commas=True,
    )  # fmt: skip


#: The records ``compare`` takes its options from, in the order ``compare --help`` lists them.
COMPARE_RECORDS = (
    Axes, CompareOptions, SearchOptions, SweepOptions, Load, Request, ServerOptions, TlsOptions,
    Generator, Output,
)  # fmt: skip


def check_tuning(own: CompareOptions, given: Mapping[str, object]) -> None:
    """A search's settings (:class:`SearchOptions`: ``--rate-min``, ``--rate-max``,
    ``--precision``, ``--confirm``) tune ``--capacity``, a sweep's (:class:`SweepOptions`:
    ``--stop-after-fail``) ``--sweep``: given without it (``given``: the values given, by
    option name), one is refused, naming what it needs, where it would change nothing."""
    for record, chosen, needs in (
        (SearchOptions, own.capacity, "compare --capacity EXPR (a search per cell)"),
        (SweepOptions, own.sweep, "compare --sweep RATES (a sweep per cell)"),
    ):
        if chosen:
            continue
        for opt in options_of(record):
            if opt.taken_by("compare") and opt.name in given:
                off = opt.is_switch and given[opt.name] is False
                flag = f"--no-{opt.flag.removeprefix('--')}" if off else opt.flag
                raise ConfigError(f"{flag} applies to {needs}; add it or drop {flag}")
