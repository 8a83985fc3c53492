"""What a run writes and shows, and the thresholds it must meet; where ``report`` and
``diff`` write: the options (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sockbench.core.live_metrics import parse_address
from sockbench.core.spec.exports import EXPORT_FORMATS, Export, parse_exports
from sockbench.core.spec.formats import ReportFormat
from sockbench.core.spec.option import (
    COMPARE,
    REPORT_DIFF,
    RUN,
    RUN_COMPARE,
    RUN_COMPARE_SERVE,
    declare,
    field_of,
    lowered,
    nullable,
    option,
    optional,
    switch,
    text,
    texts,
    values_of,
)
from sockbench.core.units import DEFAULT_PERCENTILES, parse_count, parse_percentiles
from sockbench.errors import ConfigError

#: ``--format``: the rich table, a report renderer (:class:`ReportFormat`), or jsonl:
#: a JSON object per interval on stdout, then the result.
FORMAT_CHOICES = ("table", *values_of(ReportFormat), "jsonl")

#: ``-o``: where ``report`` and ``diff`` write what they render.
WRITE_TO = declare(
    None, "--output", "-o", metavar="FILE",
    help="write to this file ('-' = stdout)", parse=optional(text),
    commands=REPORT_DIFF, default_help="stdout",
)  # fmt: skip

#: The most repeats ``--repeat`` takes.
MAX_REPEAT = 100


def _repeats(value: int, flag: str) -> None:
    if not 1 <= value <= MAX_REPEAT:
        raise ConfigError(f"{flag} must be between 1 and {MAX_REPEAT}, got {value}")


#: ``--repeat N``: compare's whole matrix, or run's one run (:attr:`Output.repeat`), N times.
REPEAT = declare(
    1, "--repeat", metavar="N", help="run the whole matrix N times", parse=parse_count,
    bound=_repeats, commands=COMPARE,
)  # fmt: skip


@dataclass(frozen=True)
class Output:
    percentiles: tuple[float, ...] = option(
        DEFAULT_PERCENTILES, "--percentiles", help="latency percentiles to report and record",
        parse=parse_percentiles, commands=RUN_COMPARE, commas=True,
        default_help=",".join(f"{p:g}" for p in DEFAULT_PERCENTILES),
    )  # fmt: skip
    # --check expressions, as given; each is parsed when the run is checked.
    checks: tuple[str, ...] = option(
        (), "--check",
        help="a threshold the run must meet, repeatable: 'p99 < 5ms', 'errors == 0', "
        "'rps >= 10k', 'loss < 0.1%'; a miss exits 3",
        parse=texts, repeatable=True, metavar="EXPR", commands=RUN_COMPARE, one_run=True,
    )  # fmt: skip
    json_path: str | None = option(
        None, "--json", metavar="FILE", help="also write the result JSON here ('-' = stdout)",
        parse=optional(text), one_run=True,
    )  # fmt: skip
    json_stdout: bool = option(
        False, "-J", help="the result JSON to stdout: the same as --json -", parse=switch,
        one_run=True,
    )  # fmt: skip
    exports: tuple[Export, ...] = option(
        (), "--export", metavar="FORMAT=FILE",
        help="also write the result in FORMAT to FILE, repeatable, as hyperfine's --export-*: "
        f"--export html=r.html --export csv=r.csv (FORMAT: {', '.join(EXPORT_FORMATS)})",
        parse=parse_exports, repeatable=True, one_run=True,
    )  # fmt: skip
    # run --repeat N: the same run N times, a fresh built-in server each, a folder each
    # (run-...-1, -2, ...), then the median and spread of req/s and p99 (compare.repeat_run).
    repeat: int = field_of(
        replace(
            REPEAT, commands=RUN, one_run=True,
            help="the same run N times, a fresh built-in server each time, each in its own "
            "folder (run-...-1, -2, ...); then the median and spread of req/s and p99",
        )
    )  # fmt: skip
    out_dir: str | None = option(
        nullable("results"), "--out", metavar="FOLDER",
        help="folder that receives a result folder per run ('' = none)", parse=optional(text),
    )  # fmt: skip
    fmt: str = option(
        "table", "--format", help="summary format", parse=lowered, choices=FORMAT_CHOICES,
        one_run=True,
    )  # fmt: skip
    quiet: bool = option(
        False, "--quiet", "-q", help="no progress while it runs", parse=switch,
        commands=RUN_COMPARE,
    )  # fmt: skip
    verbose: bool = option(
        False, "--verbose", "-v", help="log what happens: server start and stop, workers, phases",
        parse=switch, commands=RUN_COMPARE_SERVE,
    )  # fmt: skip
    log_file: str | None = option(
        None, "--log-file", metavar="FILE",
        help="also write that log to this file", parse=optional(text),
        commands=RUN_COMPARE_SERVE,
    )  # fmt: skip
    # OpenMetrics for Prometheus while the run (a compare: every cell; a sweep or a search:
    # every step) goes; docs/metrics.md.
    metrics_address: tuple[str, int] | None = option(
        None, "--metrics-port", metavar="[HOST:]PORT",
        help="serve OpenMetrics at http://127.0.0.1:PORT/metrics while it runs, for "
        "Prometheus and Grafana (0: a free port, printed); another HOST needs --allow-remote",
        parse=optional(parse_address), commands=RUN_COMPARE,
    )  # fmt: skip
