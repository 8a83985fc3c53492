"""The HTML report's charts, drawn with matplotlib and returned as SVG documents.

Figures are built with ``matplotlib.figure.Figure`` directly, never through pyplot:
no global figure registry to leak into or to close, no GUI backend to select, and
the CLI's process state is left alone. SVG keeps lines sharp at any zoom and is
small for line charts; text stays text (``svg.fonttype: none``) and the hash salt
and dropped date make the output byte-for-byte reproducible.

Each function takes already-grouped data and returns one SVG string; choosing
which charts a document gets is :mod:`sockbench.report.html`'s business.

matplotlib (with fontTools and pillow, about 95 MB of a 240 MB install) is the ``plot``
extra: without it every chart is a one-line SVG saying how to get charts, and the rest
of the HTML report is unchanged.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, ParamSpec

try:
    import matplotlib
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    PLOTTING = True
except ImportError:  # the plot extra is not installed
    PLOTTING = False

from sockbench.core.metrics import Metric, metric
from sockbench.report import numbers, percentiles

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "sockbench",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.grid": True,
    "grid.alpha": 0.35,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
}
WIDE = (7.2, 3.6)
#: The timeline's series, registry metrics read from each interval row
#: (:meth:`~sockbench.core.metrics.Metric.per_interval`): the rate on top, and below
#: the latencies, each in its line style (colour says which model).
TIMELINE_RATE = metric("rps")
TIMELINE_LATENCIES: tuple[tuple[Metric, Literal["-", "--"]], ...] = (
    (metric("p99"), "-"),
    (metric("p50"), "--"),
)
#: The timeline's latency legend: (label, line style).
LATENCY_STYLES = tuple((m.title, style) for m, style in TIMELINE_LATENCIES)
TALL = (7.2, 4.6)
#: Percentile tick labels of the classic HdrHistogram plot, at x = 1/(1-p).
PERCENTILE_TICKS: tuple[tuple[float, str], ...] = (
    (50.0, "50"),
    (90.0, "90"),
    (99.0, "99"),
    (99.9, "99.9"),
    (99.99, "99.99"),
    (99.999, "99.999"),
)


@dataclass(frozen=True)
class Series:
    """One line: its label, colour and points."""

    label: str
    color: str
    x: Sequence[float]
    y: Sequence[float]
    dashed: bool = False


#: matplotlib's tab10, so colours are the same with or without it.
TAB10 = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
#: What a chart is without matplotlib: the report still renders, and says why.
NO_PLOTTING = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="720" height="40" viewBox="0 0 720 40">'
    '<text x="8" y="25" font-family="sans-serif" font-size="14">no chart: matplotlib is '
    "not installed (pip install matplotlib: the plot extra)</text></svg>"
)
P = ParamSpec("P")


def palette(names: Sequence[str]) -> dict[str, str]:
    """A stable colour per name (tab10 in sorted order), shared by every chart."""
    return {name: TAB10[i % len(TAB10)] for i, name in enumerate(sorted(set(names)))}


def drawn(draw: Callable[P, str]) -> Callable[P, str]:
    """``draw``, or where matplotlib is not installed, :data:`NO_PLOTTING`."""

    @functools.wraps(draw)
    def chart(*args: P.args, **kwargs: P.kwargs) -> str:
        return draw(*args, **kwargs) if PLOTTING else NO_PLOTTING

    return chart


@contextmanager
def _figure(
    size: tuple[float, float], rows: int = 1, cols: int = 1
) -> Iterator[tuple[Figure, list[Axes]]]:
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=size, layout="constrained")
        axes = list(fig.subplots(rows, cols, squeeze=False).flat)
        yield fig, axes


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _us_axis(ax: Axes, log: bool) -> None:
    """Latency on y, labelled "57 µs", "1.2 ms". Call after plotting: a log axis
    places its labelled ticks from the data's range."""
    if log:
        ax.set_yscale("log")
        _log_ticks(ax)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: numbers.fmt_us(v)))
    if log:
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda _v, _pos: ""))


#: Mantissas of labelled log ticks, from sparse to dense; the first to give
#: :data:`MIN_Y_LABELS` labels in view wins.
LOG_MANTISSAS: tuple[tuple[int, ...], ...] = ((1,), (1, 2, 5), (1, 2, 3, 5, 7), tuple(range(1, 10)))
MIN_Y_LABELS = 3


def _log_ticks(ax: Axes) -> None:
    """At least three labelled values on a log y axis, however narrow the data.

    Matplotlib labels decades only, so latencies within one decade (a p50 of
    200 µs and a p99 of 600 µs) get a single "1 ms" label or none. Denser 1-2-5
    mantissas come first; if even 1..9 leaves fewer than three in view, the view
    widens to the neighbouring ticks.
    """
    ax.autoscale_view()
    low, high = ax.get_ylim()
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 or high <= low:
        return
    decades = range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 2)
    for mantissas in LOG_MANTISSAS:
        grid = sorted(m * 10.0**e for e in decades for m in mantissas)
        ticks = [t for t in grid if low <= t <= high]
        if len(ticks) >= MIN_Y_LABELS:
            break
    else:
        below = max(t for t in grid if t <= low)
        ticks = [t for t in grid if t >= below][:MIN_Y_LABELS]
        ticks = sorted({*ticks, *(t for t in grid if below <= t <= high)})
        while ticks[-1] < high:
            ticks.append(min(t for t in grid if t > ticks[-1]))
        ax.set_ylim(ticks[0] / 1.05, ticks[-1] * 1.05)
    ax.yaxis.set_major_locator(FixedLocator(ticks))


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")


@drawn
def spectrum(title: str, series: Sequence[Series]) -> str:
    """Latency by percentile on the 1/(1-p) log axis, one line per series."""
    with _figure(WIDE) as (fig, (ax,)):
        top = 1.0
        for s in series:
            xs = [percentiles.inverse_tail(p) for p in s.x]
            if xs:
                top = max(top, xs[-1])
            ax.step(xs, s.y, where="post", label=s.label, color=s.color)
        ax.set_xscale("log")
        ticks = [(percentiles.inverse_tail(p), label) for p, label in PERCENTILE_TICKS]
        ax.set_xlim(1.0, max(100.0, min(top, ticks[-1][0])) * 1.2)
        ax.xaxis.set_major_locator(FixedLocator([x for x, _ in ticks]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, pos: dict(ticks).get(v, "")))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("percentile (%)")
        ax.set_ylabel("latency")
        _us_axis(ax, log=True)
        ax.set_title(title, loc="left")
        _legend(ax)
        return _svg(fig)


def _clients_axis(ax: Axes, clients: Sequence[float]) -> None:
    values = sorted(set(clients))
    if values and values[-1] / max(values[0], 1) >= 10:
        ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(values))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("clients")


@drawn
def scaling(title: str, throughput: Sequence[Series], p99: Sequence[Series]) -> str:
    """Throughput and p99 latency against the number of clients, side by side."""
    with _figure(WIDE, cols=2) as (fig, (left, right)):
        for s in throughput:
            left.plot(s.x, s.y, marker="o", label=s.label, color=s.color)
        for s in p99:
            right.plot(s.x, s.y, marker="o", label=s.label, color=s.color)
        all_x = [x for s in [*throughput, *p99] for x in s.x]
        for ax in (left, right):
            _clients_axis(ax, all_x)
        left.set_ylabel("requests/s")
        left.set_ylim(bottom=0)
        left.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _short(v)))
        right.set_ylabel("p99 latency")
        _us_axis(right, log=False)
        right.set_ylim(bottom=0)
        left.set_title("throughput", loc="left")
        right.set_title("p99 latency", loc="left")
        fig.suptitle(title, x=0.01, ha="left")
        _legend(left)
        return _svg(fig)


@drawn
def resources(title: str, cpu: Sequence[Series], rss: Sequence[Series]) -> str:
    """Server CPU (mean %) and peak RSS against the number of clients."""
    with _figure(WIDE, cols=2) as (fig, (left, right)):
        for s in cpu:
            left.plot(s.x, s.y, marker="o", label=s.label, color=s.color)
        for s in rss:
            right.plot(s.x, s.y, marker="o", label=s.label, color=s.color)
        all_x = [x for s in [*cpu, *rss] for x in s.x]
        for ax in (left, right):
            _clients_axis(ax, all_x)
            ax.set_ylim(bottom=0)
        left.set_ylabel("CPU % (mean)")
        right.set_ylabel("RSS MiB (peak)")
        left.set_title("server CPU", loc="left")
        right.set_title("server memory", loc="left")
        fig.suptitle(title, x=0.01, ha="left")
        _legend(left)
        return _svg(fig)


@drawn
def timeline(title: str, rps: Sequence[Series], latency: Sequence[Series]) -> str:
    """Per-interval throughput (top) and latencies (bottom: :data:`TIMELINE_LATENCIES`,
    p99 and p50) over the run."""
    with _figure(TALL, rows=2) as (fig, (top, bottom)):
        for s in rps:
            top.plot(s.x, s.y, label=s.label, color=s.color)
        for s in latency:
            bottom.plot(s.x, s.y, label=s.label, color=s.color, linestyle="--" if s.dashed else "-")
        top.set_ylabel("requests/s")
        top.set_ylim(bottom=0)
        top.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _short(v)))
        bottom.set_ylabel("latency")
        _us_axis(bottom, log=False)
        bottom.set_ylim(bottom=0)
        # Colour says which model; line style which percentile, in a legend of its own.
        styles = [
            Line2D([], [], color="#555555", linestyle=ls, label=p) for p, ls in LATENCY_STYLES
        ]
        bottom.legend(handles=styles, loc="upper right", ncols=2)
        bottom.set_xlabel("seconds since measurement start")
        top.sharex(bottom)
        top.set_title(title, loc="left")
        _legend(top)
        return _svg(fig)


@drawn
def stream_timeline(title: str, series: Sequence[Series]) -> str:
    """A stream's bit rate per interval over the run, iperf3's interval lines as a chart:
    one colour per run, the receiver's line solid and the sender's dashed."""
    with _figure(WIDE) as (fig, (ax,)):
        for s in series:
            ax.plot(s.x, s.y, label=s.label, color=s.color, linestyle="--" if s.dashed else "-")
        ax.set_ylabel("bit rate")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: numbers.fmt_bps(v)))
        ax.set_xlabel("seconds since measurement start")
        ax.set_title(title, loc="left")
        _legend(ax)
        return _svg(fig)


def _short(v: float) -> str:
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:g}{suffix}"
    return f"{v:g}"


def series_from(
    points: Mapping[str, Sequence[tuple[float, float]]], colors: Mapping[str, str]
) -> list[Series]:
    """Series sorted by label, each from (x, y) points sorted by x."""
    out = []
    for label in sorted(points):
        pts = sorted(points[label])
        out.append(Series(label, colors[label], [p[0] for p in pts], [p[1] for p in pts]))
    return out


#: The latency–load curve's percentiles: (registry name, label, line style).
LOAD_PERCENTILES: tuple[tuple[str, str, Literal["-", "--", ":"]], ...] = (
    ("latency.p50", "p50", ":"),
    ("latency.p99", "p99", "-"),
    ("latency.p99.9", "p99.9", "--"),
)


@drawn
def latency_load(title: str, curves: Mapping[str, Sequence[Mapping[str, float | None]]]) -> str:
    """Latency against the rate served, one colour per curve (a model, or the one run)
    and a line style per percentile, on a log latency axis: the knee is where the lines
    turn up, as Gil Tene advises reading wrk2 runs at a range of fixed rates.

    ``curves``: per label, its points in the order of the rates asked (a sweep's rows,
    :func:`sockbench.core.sweep.row_of`, the invalid ones left out by the caller)."""
    colors = palette(list(curves))
    with _figure(WIDE) as (fig, (ax,)):
        for label, rows in sorted(curves.items()):
            for name, _p, style in LOAD_PERCENTILES:
                xy = [_point(r, name) for r in rows if r.get("rps") and r.get(name)]
                if xy:
                    ax.plot(
                        [x for x, _ in xy], [y for _, y in xy], marker="o", markersize=3,
                        color=colors[label], linestyle=style,
                        label=label if style == "-" and len(curves) > 1 else None,
                    )  # fmt: skip
        ax.set_xlabel("requests/s served")
        ax.set_ylabel("latency")
        ax.set_xlim(left=0)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _short(v)))
        _us_axis(ax, log=True)
        styles = [
            Line2D([], [], color="#555555", linestyle=s, label=p) for _n, p, s in LOAD_PERCENTILES
        ]
        ax.add_artist(ax.legend(handles=styles, loc="upper left", ncols=3))
        if len(curves) > 1:
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        ax.set_title(title, loc="left")
        return _svg(fig)


def _point(row: Mapping[str, float | None], name: str) -> tuple[float, float]:
    return float(row["rps"] or 0), float(row[name] or 0)
