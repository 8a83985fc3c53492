"""Every metric sockbench reports, defined once: the registry (pure).

Each :class:`Metric` says what ``--check``, ``diff``, the verdicts, the summary table,
the CSV, a compare's ``repeats`` and the charts need to know about it: its names, where
a result document keeps it, its unit, which way is better, how it reads (a formatter's
name: core formats nothing) and how noisy it is, and which of those views show it.

The trade-off: a view cannot read a number its own way any more (a column that wants
a different default has to say so in the entry), and an entry carries fields some views
ignore. In return a metric is one entry, read the same by all of them, and adding one
is that entry, plus its computation in ``core/result.py`` when a result does not hold
it yet. Registry order is display order: summary columns, diff
tables, repeats keys and CSV columns appended after the fixed ones follow it.

Families with a parameter are built on lookup: any latency percentile (``p99.999``),
the connect histogram's (``connect.p99``), ``min``/``mean``/``max`` of either, one
kind of error (``errors.timeout``), and one kind of request's part of a metric that
says so (``request_kinds``: ``kind.get.rps``, ``kind.set.p99``, ``kind.get.errors``),
read where the result keeps each kind (:data:`KIND_PLACES`).

The time series are the same metrics: an entry names its key in an interval row
(``interval``: ``rps``, ``p99``, ...), and the timeline charts and the live view read
each row (or the last one) through it (:meth:`Metric.per_interval`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sockbench.core.tls import HANDSHAKE_US


class Better(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


class Noise(StrEnum):
    """What deciding a best needs (docs/reports.md, *Best values, significance and noise*)."""

    #: Does not move between runs of the same thing (server threads): one run names a best.
    STEADY = "steady"
    #: Moves between runs: a best only from repeats, by Welch's t on the logarithms.
    NOISY = "noisy"
    #: Moves and is often 0 (errors, loss): a mean and its interval, never a ratio test.
    OFTEN_ZERO = "often_zero"


class Unit(StrEnum):
    RPS = "req/s"
    US = "µs"
    COUNT = "count"
    RATIO = "ratio"  # a fraction: 0.01 is 1 %
    PERCENT = "%"  # of one core: 100 is a core
    BYTES = "B"


class Format(StrEnum):
    """The report formatter a metric's value goes through (``report/numbers.py``)."""

    RATE = "rate"
    US = "us"
    INT = "int"
    DECIMAL1 = "decimal1"
    MIB = "mib"
    FRACTION = "fraction"


class View(StrEnum):
    """Where a metric is shown or read."""

    CHECK = "check"  # --check METRIC OP VALUE
    SUMMARY = "summary"  # a column of the summary table, run and compare
    VERDICT = "verdict"  # the Significance table: a leader per workload
    DIFF = "diff"  # a table of `sockbench diff`
    REPEATS = "repeats"  # a compare's `repeats`: the spread over repeats
    CSV = "csv"  # a CSV column (after the fixed ones, where the layout does not place it)


Reader = Callable[[Mapping[str, Any]], float | None]


@dataclass(frozen=True)
class Metric:
    """One metric: how it is named, found, read, shown and judged."""

    name: str  # canonical: what --check records as its `metric`
    title: str  # as shown: "req/s", "p99"
    path: tuple[str, ...]  # where a result keeps it (or what it is computed from)
    unit: Unit
    better: Better | None
    fmt: Format
    noise: Noise
    views: frozenset[View]
    key: str  # its key in `diff --format json` and a compare's `repeats`
    csv: str = ""  # its CSV column
    aliases: tuple[str, ...] = ()  # other names --check accepts
    read: Reader | None = None  # derived values (ratios); None: the value at `path`
    summed: bool = False  # `path` holds counts by kind (errors): the value is their sum
    open_loop: bool = False  # only with --rate
    datagrams: bool = False  # only over udp and unix-dgram
    tcp: bool = False  # only over tcp (a target's accept queue)
    per_kind: bool = False  # NAME.KIND reads one kind of error (errors.timeout)
    request_kinds: bool = False  # kind.KIND.NAME reads one kind of request (kind.get.p99)
    request_kind: str = ""  # the kind of request it reads (kind.get.p99: "get"); "" all
    lookups: bool = False  # counted where requests read keys (hits, misses: a GET's)
    # Where an interval row keeps it (docs/result.md, `intervals`); () where rows do not.
    interval: tuple[str, ...] = ()
    # Latencies: where the histogram summary is and its stat ("p99", "max"), the
    # percentile if any.
    histogram: tuple[str, ...] = ()
    stat: str = ""
    percentile: float | None = None
    # How --check shows the value measured, where a number would not say it (``valid``);
    # None: the number, in the metric's unit.
    shown: Callable[[Mapping[str, Any]], str] | None = None

    def value(self, doc: Mapping[str, Any]) -> float | None:
        """Its value in a result document as stored (an int stays an int); None: absent.
        A latency its summary does not store (``p99.999``) is read from the histogram."""
        if self.read is not None:
            return self.read(doc)
        found = get(doc, *self.path)
        if self.summed:
            return sum(int(n) for n in (found or {}).values())
        if isinstance(found, int | float) and not isinstance(found, bool):
            return found
        return self.recorded_us(doc) if self.histogram else None

    def per_interval(self, row: Mapping[str, Any]) -> float | None:
        """Its value in one interval row (a result's ``intervals``, or the live view's last
        interval); None where rows do not keep it."""
        found = get(row, *self.interval) if self.interval else None
        return found if isinstance(found, int | float) and not isinstance(found, bool) else None

    def recorded_us(self, doc: Mapping[str, Any]) -> int | float | None:
        """A latency as its histogram recorded it, whole µs (the mean may hold a fraction);
        None when it recorded nothing. A percentile comes from the histogram itself, so
        any one can be asked for, not only those the summary stores."""
        summary = get(doc, *self.histogram) or {}
        if not summary.get("count") or (self.percentile is not None and "histogram" not in summary):
            return None
        if self.percentile is None:  # min, mean, max
            value: int | float = summary[self.stat]
            return value
        # hdrh and numpy only here: the registry is imported by every report and the CLI.
        from sockbench.core.histogram import decode

        return int(decode(summary["histogram"]).get_value_at_percentile(self.percentile))

    @property
    def check_unit(self) -> str:
        """The unit of a ``--check`` threshold: ``s``, ``ratio``, or ``""`` (counts, rates)."""
        return {Unit.US: "s", Unit.RATIO: "ratio"}.get(self.unit, "")


def get(doc: Mapping[str, Any], *path: str) -> Any:
    """``doc[a][b]...`` with None for any missing or null step."""
    node: Any = doc
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _loss(doc: Mapping[str, Any]) -> float | None:
    """Lost over the datagrams that ended (sent less those still in flight)."""
    d = doc.get("datagrams") or {}
    done = d.get("sent", 0) - d.get("in_flight", 0)
    return d.get("lost", 0) / done if done else None


def _valid(doc: Mapping[str, Any]) -> float | None:
    """1 unless the result's validity section says ``not valid`` (``unknown``, a run too
    short to test, is 1: docs/validity.md); None for a result without one."""
    verdict = get(doc, "validity", "verdict")
    return None if verdict is None else float(verdict != "not valid")


def _verdict(doc: Mapping[str, Any]) -> str:
    from sockbench.core.validity import verdict_text  # it reads results through this module

    return verdict_text(get(doc, "validity"), short=True) or "nothing measured"


ALL = frozenset(View)
SHOWN = frozenset({View.CHECK, View.SUMMARY, View.DIFF, View.REPEATS})


def _latency(stat: str, title: str, views: frozenset[View], *, in_rows: bool = False) -> Metric:
    """A stat of the round-trip histogram as its summary stores it (``p99``, ``max``);
    ``in_rows``: each interval row keeps it too, under the same key."""
    return Metric(
        name=f"latency.{stat.replace('_', '.')}", title=title, path=("latency_us", stat),
        unit=Unit.US, better=Better.LOWER, fmt=Format.US, noise=Noise.NOISY, views=views,
        key=f"{stat}_us", aliases=(title,), request_kinds=True,
        interval=(stat,) if in_rows else (), histogram=("latency_us",), stat=stat,
        percentile=float(stat[1:].replace("_", ".")) if stat.startswith("p") else None,
    )  # fmt: skip


def _lag(histogram: str, title: str) -> Metric:
    """Open loop: the p99 of how late sends went (``send_lag``) or of the generator's own
    part (``scheduler_lag``): the result's histogram, and each interval row's p99 (what
    --metrics-port exports per interval); no view shows it yet."""
    return Metric(
        name=f"{histogram}.p99", title=title, path=(f"{histogram}_us", "p99"), unit=Unit.US,
        better=Better.LOWER, fmt=Format.US, noise=Noise.NOISY, views=frozenset(),
        key=f"{histogram}_p99_us", open_loop=True, interval=(f"{histogram}_p99",),
        histogram=(f"{histogram}_us",), stat="p99", percentile=99.0,
    )  # fmt: skip


REGISTRY: tuple[Metric, ...] = (
    Metric(
        name="rps", title="req/s", path=("totals", "throughput_rps"), unit=Unit.RPS,
        better=Better.HIGHER, fmt=Format.RATE, noise=Noise.NOISY, views=ALL,
        key="throughput_rps", csv="throughput_rps", request_kinds=True, interval=("rps",),
    ),
    Metric(
        name="requests", title="requests", path=("totals", "requests"), unit=Unit.COUNT,
        better=Better.HIGHER, fmt=Format.INT, noise=Noise.NOISY,
        views=frozenset({View.CHECK, View.CSV}), key="requests", csv="requests",
        request_kinds=True, interval=("requests",),
    ),
    Metric(
        name="offered", title="offered req/s", path=("totals", "offered_rps"), unit=Unit.RPS,
        better=Better.HIGHER, fmt=Format.RATE, noise=Noise.NOISY,
        views=frozenset({View.CHECK, View.DIFF, View.CSV}), key="offered_rps",
        csv="offered_rps", open_loop=True, interval=("offered_rps",),
    ),
    _lag("send_lag", "send lag p99"),
    _lag("scheduler_lag", "generator lag p99"),
    _latency("p50", "p50", SHOWN, in_rows=True),
    _latency("p99", "p99", SHOWN | {View.VERDICT}, in_rows=True),
    _latency("p99_9", "p99.9", SHOWN),
    _latency("max", "max", frozenset({View.CHECK, View.SUMMARY}), in_rows=True),
    Metric(
        name="errors", title="errors", path=("totals", "errors"), unit=Unit.COUNT,
        better=Better.LOWER, fmt=Format.INT, noise=Noise.OFTEN_ZERO,
        views=frozenset({View.CHECK, View.SUMMARY, View.REPEATS, View.CSV}), key="errors",
        csv="errors", summed=True, per_kind=True, request_kinds=True, interval=("errors",),
    ),
    Metric(
        name="hits", title="hits", path=("totals", "hits"), unit=Unit.COUNT,
        better=Better.HIGHER, fmt=Format.INT, noise=Noise.NOISY,
        views=frozenset({View.CHECK}), key="hits", csv="hits", request_kinds=True,
        interval=("hits",), lookups=True,
    ),
    Metric(
        name="misses", title="misses", path=("totals", "misses"), unit=Unit.COUNT,
        better=Better.LOWER, fmt=Format.INT, noise=Noise.OFTEN_ZERO,
        views=frozenset({View.CHECK}), key="misses", csv="misses", request_kinds=True,
        interval=("misses",), lookups=True,
    ),
    Metric(
        name="lost", title="lost", path=("datagrams", "lost"), unit=Unit.COUNT,
        better=Better.LOWER, fmt=Format.INT, noise=Noise.OFTEN_ZERO,
        views=frozenset({View.SUMMARY}), key="lost",
    ),
    Metric(
        name="server.cpu", title="server CPU %", path=("server_resources", "cpu_percent_mean"),
        unit=Unit.PERCENT, better=Better.LOWER, fmt=Format.DECIMAL1, noise=Noise.NOISY,
        views=frozenset({View.SUMMARY}), key="server_cpu_percent_mean",
    ),
    Metric(
        name="server.rss", title="RSS MiB", path=("server_resources", "rss_bytes_max"),
        unit=Unit.BYTES, better=Better.LOWER, fmt=Format.MIB, noise=Noise.NOISY,
        views=frozenset({View.SUMMARY}), key="server_rss_bytes_max",
    ),
    Metric(
        name="server.threads", title="threads", path=("server_resources", "threads_max"),
        unit=Unit.COUNT, better=Better.LOWER, fmt=Format.INT, noise=Noise.STEADY,
        views=frozenset({View.SUMMARY}), key="server_threads_max",
    ),
    Metric(
        name="loss", title="loss", path=("datagrams", "lost"), unit=Unit.RATIO,
        better=Better.LOWER, fmt=Format.FRACTION, noise=Noise.OFTEN_ZERO,
        views=frozenset({View.CHECK}), key="loss", read=_loss, datagrams=True,
    ),
    Metric(
        name="unsolicited", title="unsolicited", path=("datagrams", "unsolicited"),
        unit=Unit.COUNT, better=Better.LOWER, fmt=Format.INT, noise=Noise.OFTEN_ZERO,
        views=frozenset({View.CHECK, View.CSV}), key="datagrams_unsolicited",
        csv="datagrams_unsolicited", datagrams=True,
    ),
    Metric(
        name="generator_drops", title="generator drops", path=("datagrams", "generator_drops"),
        unit=Unit.COUNT, better=Better.LOWER, fmt=Format.INT, noise=Noise.OFTEN_ZERO,
        views=frozenset({View.CHECK, View.CSV}), key="datagrams_generator_drops",
        csv="datagrams_generator_drops", datagrams=True,
    ),
    Metric(
        name="target_drops", title="target drops", path=("datagrams", "target_drops"),
        unit=Unit.COUNT, better=Better.LOWER, fmt=Format.INT, noise=Noise.OFTEN_ZERO,
        views=frozenset({View.CHECK, View.CSV}), key="datagrams_target_drops",
        csv="datagrams_target_drops", datagrams=True,
    ),
    Metric(
        name="listen_drops", title="listen drops", path=("accept_queue", "drops"),
        unit=Unit.COUNT, better=Better.LOWER, fmt=Format.INT, noise=Noise.OFTEN_ZERO,
        views=frozenset({View.CHECK, View.CSV}), key="accept_queue_drops",
        csv="accept_queue_drops", tcp=True,
    ),
    Metric(
        name="achieved", title="achieved", path=("totals", "achieved_ratio"), unit=Unit.RATIO,
        better=Better.HIGHER, fmt=Format.FRACTION, noise=Noise.NOISY,
        views=frozenset({View.CHECK}), key="achieved_ratio", open_loop=True,
    ),
    Metric(
        name="generator.cpu", title="generator CPU %", path=("generator", "cpu_percent_mean"),
        unit=Unit.PERCENT, better=Better.LOWER, fmt=Format.DECIMAL1, noise=Noise.NOISY,
        views=frozenset({View.CHECK}), key="generator_cpu_percent_mean",
    ),
    Metric(
        name="generator.busy", title="generator busy %", path=("generator", "loop_busy_percent"),
        unit=Unit.PERCENT, better=Better.LOWER, fmt=Format.DECIMAL1, noise=Noise.NOISY,
        views=frozenset({View.CHECK}), key="generator_loop_busy_percent",
    ),
    Metric(
        name="valid", title="valid", path=("validity", "verdict"), unit=Unit.COUNT,
        better=Better.HIGHER, fmt=Format.INT, noise=Noise.STEADY,
        views=frozenset({View.CHECK}), key="valid", read=_valid, shown=_verdict,
    ),
)  # fmt: skip

BY_NAME: dict[str, Metric] = {name: m for m in REGISTRY for name in (m.name, *m.aliases)}
#: Where a latency family's histogram summary is, by the family's name.
HISTOGRAMS = {"latency": "latency_us", "connect": "connect_us", "handshake": HANDSHAKE_US}
#: Where a result keeps one kind of request's part of what it keeps at ``totals.X`` and
#: ``latency_us`` (docs/result.md): ``totals.by_kind.KIND.X``, ``latency_by_kind_us.KIND``;
#: an interval row keeps it at ``by_kind.KIND.X`` (requests, rps, p99, hits, misses).
KIND_PLACES: dict[str, tuple[str, ...]] = {
    "totals": ("totals", "by_kind"),
    "latency_us": ("latency_by_kind_us",),
}
KIND_PREFIX = "kind."
#: What the reports show of each kind of request, in order: the *Commands* table's
#: columns and the CSV's per-kind ones (``get_requests`` ... ``get_mean_us``).
KIND_METRICS = ("requests", "rps", "errors", "p50", "p90", "p99", "p99.9", "max", "mean")
#: ...and, where a kind reads keys (a GET: ``hits`` and ``misses`` in ``totals.by_kind``),
#: its keys found and missed, after them.
LOOKUP_METRICS = ("hits", "misses")
LATENCY_STATS = ("min", "mean", "max")
_PERCENTILE = re.compile(r"^p(\d+(?:[._]\d+)?)$")


def in_view(view: View) -> tuple[Metric, ...]:
    """The metrics a view shows, in registry order."""
    return tuple(m for m in REGISTRY if view in m.views)


def metric(name: str) -> Metric:
    """A metric by any name ``--check`` accepts; KeyError for an unknown one."""
    found = lookup(name)
    if found is None:
        raise KeyError(name)
    return found


def lookup(name: str) -> Metric | None:
    """A metric by name or alias, any case: a registry entry, or one built for a family
    (``p99.999``, ``connect.p99``, ``latency.p99_9``, ``errors.timeout``,
    ``kind.get.p99``: a kind of request keeps its case, it names a key); None if none."""
    if name[: len(KIND_PREFIX)].lower() == KIND_PREFIX:
        kind, dot, rest = name[len(KIND_PREFIX) :].partition(".")
        base = lookup(rest) if kind and dot else None
        return _of_request_kind(base, kind) if base is not None and base.request_kinds else None
    lowered = name.lower()
    family, dot, stat = lowered.partition(".")
    if not dot or family not in (*HISTOGRAMS, "errors"):
        family, stat = "", lowered
    if family != "errors" and (_PERCENTILE.match(stat) or stat in LATENCY_STATS):
        return _latency_of(family or "latency", stat.replace("_", "."))
    if family == "errors":
        return _error_kind(BY_NAME["errors"], stat) if stat else None
    return BY_NAME.get(lowered)


def kind_metric_names(results: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """What the reports show of each kind: :data:`KIND_METRICS`, and
    :data:`LOOKUP_METRICS` where any of ``results`` counted keys read (``totals.hits``)."""
    reads = any(get(r, "totals", "hits") is not None for r in results)
    return KIND_METRICS + LOOKUP_METRICS if reads else KIND_METRICS


def kind_metrics(kind: str, names: tuple[str, ...] = KIND_METRICS) -> tuple[Metric, ...]:
    """``names`` (:data:`KIND_METRICS`) of one kind of request: ``kind.get.requests``, ..."""
    return tuple(metric(f"{KIND_PREFIX}{kind}.{name}") for name in names)


def _latency_of(family: str, stat: str) -> Metric:
    """``latency.p99`` is the registry's entry; ``connect.p99``, ``p90`` or ``p99.999`` a
    check-only metric of that histogram (its value as the summary stores it, ``p90``,
    else from the histogram, ``p99.999``; ``--check`` always reads the histogram)."""
    name = f"{family}.{stat}"
    if name in BY_NAME:
        return BY_NAME[name]
    histogram = HISTOGRAMS[family]
    short = name.removeprefix("latency.")
    return Metric(
        name=name, title=stat if family == "latency" else f"{family} {stat}",
        path=(histogram, stat.replace(".", "_")),
        unit=Unit.US, better=Better.LOWER, fmt=Format.US, noise=Noise.NOISY,
        views=frozenset({View.CHECK}), key=short.replace(".", "_") + "_us",
        request_kinds=family == "latency", histogram=(histogram,), stat=stat,
        percentile=float(stat[1:]) if stat.startswith("p") else None,
    )  # fmt: skip


def _of_request_kind(base: Metric, kind: str) -> Metric:
    """One kind of request's part of a metric (``kind.get.p99``), where the result keeps
    it (:data:`KIND_PLACES`): read by ``--check``, the CSV and the *Commands* table."""

    def moved(path: tuple[str, ...]) -> tuple[str, ...]:
        return (*KIND_PLACES[path[0]], kind, *path[1:]) if path else ()

    return replace(
        base,
        name=f"{KIND_PREFIX}{kind}.{base.name.removeprefix('latency.')}",
        title=f"{kind} {base.title}",
        path=moved(base.path),
        histogram=moved(base.histogram),
        interval=("by_kind", kind, *base.interval) if base.interval else (),
        views=frozenset({View.CHECK, View.CSV}),
        key=f"{kind}_{base.key}",
        csv=f"{kind}_{base.key}",
        aliases=(),
        per_kind=False,
        request_kinds=False,
        request_kind=kind,
    )


def _error_kind(base: Metric, kind: str) -> Metric:
    """One kind of a per-kind metric: ``errors.timeout``."""
    return replace(
        base,
        name=f"{base.name}.{kind}",
        title=f"{base.title} {kind}",
        path=(*base.path, kind),
        views=frozenset({View.CHECK}),
        key=f"{base.key}_{kind}",
        csv="",
        aliases=(),
        read=lambda doc: int(get(doc, *base.path, kind) or 0),
        summed=False,
        per_kind=False,
        request_kinds=False,
        interval=(),  # rows count errors, not their kinds
    )


def check_names() -> str:
    """What ``--check`` accepts, for an error message."""
    names = [
        f"{m.name}, {m.name}.KIND" if m.per_kind else m.name
        for m in in_view(View.CHECK)
        if not m.histogram
    ]
    *head, last = names
    return (
        f"p50..p99.999, min, mean, max, connect.p99, {', '.join(head)} or {last}; "
        f"{KIND_PREFIX}KIND.NAME for one kind of request ({KIND_PREFIX}get.p99)"
    )
