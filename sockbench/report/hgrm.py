"""HdrHistogram's classic percentile distribution (``.hgrm``), as the Java library prints it.

Values are recorded in µs and printed in ms (scaling ratio 1000), which is what
HdrHistogram's plotter and most tooling expect of an ``.hgrm`` file. We format the
rows ourselves instead of calling ``hdrh``'s ``output_percentile_distribution``:
that one wants a binary stream, labels the footer ``TotalCount`` instead of
``Total count`` and walks different percentile levels (see :mod:`.percentiles`).

A stream (``--mode stream``) times no requests: it has no histogram, and an empty one
would read as a run with no replies. ``sockbench report -f hgrm`` refuses it in one line
(:func:`check_histogram`); the renderer, if reached (``run --format hgrm``), writes that
line as an ``.hgrm`` comment instead of an empty distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sockbench.core.spec.rules import HGRM_REFUSED, STREAM_NO_HISTOGRAM
from sockbench.errors import SockbenchError
from sockbench.report import percentiles
from sockbench.report.document import RESULT_SCHEMA, Doc, cell_key, cells, get, is_compare

#: Divides µs into the ms the file is written in.
SCALING_RATIO = 1000.0
TICKS_PER_HALF_DISTANCE = 5
HEADER = f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}\n\n"


def is_stream(result: Doc) -> bool:
    """A ``--mode stream`` result: it moves bytes and times no request."""
    return bool(result.get("stream")) or get(result, "config", "mode") == "stream"


def check_histogram(doc: Doc) -> None:
    """A run that has a latency histogram to render; SockbenchError (``HGRM_REFUSED``,
    the line ``run --format hgrm`` refuses a stream with: one line, exit 2) for a
    stream's result. A compare's stream cells get the reason as a comment instead
    (:func:`render`)."""
    if doc.get("schema") == RESULT_SCHEMA and is_stream(doc):
        raise SockbenchError(HGRM_REFUSED)


def render(doc: Doc) -> str:
    """The latency distribution of a run, or of every cell of a compare with a
    ``# cell: model proto clients payload`` line before each; for a stream (no
    histogram), ``STREAM_NO_HISTOGRAM`` as a comment line, never an empty distribution."""
    if not is_compare(doc):
        return distribution(doc)
    parts = []
    for result in cells(doc):
        key = cell_key(result)
        header = f"# cell: {key.model} {key.proto} {key.clients} {key.payload}"
        if key.repeat:
            header += f" repeat={key.repeat}"
        parts.append(header + "\n" + distribution(result))
    return "\n".join(parts) if parts else "# no cells\n"


def distribution(result: Doc) -> str:
    """A result's round-trip distribution, or why it has none (a stream): a run's, or a
    compare cell's ``.hgrm`` file."""
    if is_stream(result):
        return f"# {STREAM_NO_HISTOGRAM}\n"
    return render_histogram(result.get("latency_us"))


def render_histogram(
    summary: Mapping[str, Any] | None, scaling_ratio: float = SCALING_RATIO
) -> str:
    """One HistSummary's histogram as an ``.hgrm`` text (header only when it is empty)."""
    hist = percentiles.decode(summary)
    if hist is None:
        return HEADER
    digits = int(hist.significant_figures)
    lines = [HEADER]
    for step in percentiles.percentile_distribution(hist, TICKS_PER_HALF_DISTANCE):
        value = fixed(step.value / scaling_ratio, digits, 12)
        fraction = step.percentile / 100.0
        row = f"{value} {fixed(fraction, 12, 2)} {step.total_count:10d}"
        if step.percentile != 100.0:
            row += " " + fixed(1.0 / (1.0 - fraction), 2, 14)
        lines.append(row + "\n")
    mean, stddev = percentiles.mean_stddev(hist)
    max_value = hist.get_max_value() / scaling_ratio
    total = int(hist.get_total_count())
    lines.append(
        f"#[Mean    = {fixed(mean / scaling_ratio, digits, 12)}, "
        f"StdDeviation   = {fixed(stddev / scaling_ratio, digits, 12)}]\n"
        f"#[Max     = {fixed(max_value, digits, 12)}, Total count    = {total:12d}]\n"
        f"#[Buckets = {hist.bucket_count:12d}, SubBuckets     = {hist.sub_bucket_count:12d}]\n"
    )
    return "".join(lines)


def fixed(value: float, digits: int, width: int) -> str:
    """``%{width}.{digits}f`` as Java's Formatter writes it.

    Java rounds the shortest decimal representation of the double half-up, where
    Python rounds its exact binary value; they differ on ties such as
    0.9997802734375, which Java prints as 0.999780273438.
    """
    quantum = Decimal(1).scaleb(-digits)
    rounded = Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)
    return f"{rounded:>{width}f}"
