"""The HTML report: structure and offline-ness in Python, rendering in headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image as mpimg

from sockbench.report import charts, load, render
from sockbench.report.document import cells, model_name
from tests.report.conftest import DOCUMENTS, html_of

pytestmark = pytest.mark.slow  # renders whole HTML reports with charts: make unit skips it

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_NO_CHROMIUM = "chromium is not installed (make system-deps installs it)"


def needs_chromium(test: Any) -> Any:
    """A test that drives a real browser: skipped without one, and by make unit."""
    return pytest.mark.e2e(pytest.mark.skipif(CHROMIUM is None, reason=_NO_CHROMIUM)(test))


SVG_NS = "{http://www.w3.org/2000/svg}"

COMPARE_CHARTS = {
    "spectrum-tcp-64-c10",
    "spectrum-tcp-64-c100",
    "spectrum-udp-64-c10",
    "spectrum-udp-64-c100",
    "scaling-tcp-64",
    "scaling-udp-64",
    "resources-tcp-64",
    "resources-udp-64",
    "timeline-tcp-64-c100",
    "timeline-udp-64-c100",
}


@dataclass
class Page(HTMLParser):
    """What the tests need from a report: charts, summary rows, external references."""

    charts: dict[str, str] = field(default_factory=dict)
    summary_rows: int = 0
    references: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    _chart: str | None = None
    _stack: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        for name in ("src", "href"):
            if a.get(name):
                self.references.append(str(a[name]))
        if tag == "figure" and "chart" in (a.get("class") or "").split():
            self._chart = a.get("data-chart") or ""
        if tag == "img" and self._chart is not None:
            self.charts[self._chart] = str(a.get("src"))
        if tag == "table" and a.get("id") == "summary":
            self._stack.append("summary")
        elif tag == "tbody" and self._stack == ["summary"]:
            self._stack.append("tbody")
        elif tag == "tr" and self._stack == ["summary", "tbody"]:
            self.summary_rows += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._chart = None
        if tag == "table" and self._stack:
            self._stack.clear()


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def svg_of(src: str) -> ET.Element:
    prefix = "data:image/svg+xml;base64,"
    assert src.startswith(prefix)
    return ET.fromstring(base64.b64decode(src[len(prefix) :]))


def data_lines(svg: ET.Element, colors: set[str]) -> int:
    """Clipped paths stroked in a series colour: the plotted lines, not axes or grid."""
    count = 0
    for path in svg.iter(f"{SVG_NS}path"):
        style = path.get("style") or ""
        stroke = re.search(r"stroke: (#[0-9a-f]{6})", style)
        if path.get("clip-path") and stroke and stroke.group(1) in colors:
            count += 1
    return count


def test_compare_structure(compare_doc: dict[str, Any]) -> None:
    html = html_of("compare-small")
    page = parse(html)
    assert set(page.charts) == COMPARE_CHARTS
    assert page.summary_rows == len(cells(compare_doc))
    assert 'class="r best"' in html
    models = {model_name(c) for c in cells(compare_doc)}
    colors = set(charts.palette(sorted(models)).values())
    for name, src in page.charts.items():
        lines = data_lines(svg_of(src), colors)
        # Spectra: a line per model; scaling/resources: a line per model per panel.
        assert lines >= (2 if name.startswith("resources-udp") else 3), name


def test_run_structure(tcp_doc: dict[str, Any], udp_doc: dict[str, Any]) -> None:
    page = parse(html_of("result-tcp"))
    assert set(page.charts) == {"spectrum-tcp-64-c100", "timeline-tcp-64-c100"}
    assert page.summary_rows == 1
    # An open-loop UDP run plots latency, service time and send lag on its spectrum.
    page = parse(html_of("result-udp"))
    colors = set(charts.palette(["latency", "service time", "send lag"]).values())
    assert data_lines(svg_of(page.charts["spectrum-udp-64-c50"]), colors) == 3


def test_offline(any_doc: tuple[str, dict[str, Any]]) -> None:
    html = html_of(any_doc[0])
    page = parse(html)
    assert all(ref.startswith("data:") for ref in page.references), page.references
    assert not {"script", "link", "iframe", "object"} & page.tags
    assert "@import" not in html and "url(http" not in html


def test_without_matplotlib_the_report_renders_and_says_why(
    compare_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """matplotlib is the plot extra: without it each chart is a line saying so, and the
    tables are the same."""
    monkeypatch.setattr(charts, "PLOTTING", False)
    page = parse(render(compare_doc, "html"))
    assert set(page.charts) == COMPARE_CHARTS
    for src in page.charts.values():
        text = "".join(svg_of(src).itertext())
        assert "matplotlib is not installed (pip install matplotlib: the plot extra)" in text
    assert page.summary_rows == len(cells(compare_doc))


def test_escapes_document_text(tcp_doc: dict[str, Any]) -> None:
    doc = {**tcp_doc, "command": "sockbench run <script>alert(1)</script>", "warnings": ["a<b"]}
    html = render(doc, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html and "a&lt;b" in html


def test_repeats_and_gaps(compare_doc: dict[str, Any]) -> None:
    """Repeats share a chart (spectra merged, scaling by median); missing interval
    values leave gaps instead of failing."""
    repeats = []
    for cell in cells(compare_doc):
        again = json.loads(json.dumps(cell))
        again["cell"]["repeat"] = 1
        for row in again["intervals"][:3]:
            row["p50"] = row["p99"] = None
        repeats.append(again)
    doc = {**compare_doc, "cells": cells(compare_doc) + repeats}
    page = parse(render(doc, "html"))
    assert set(page.charts) == COMPARE_CHARTS
    assert page.summary_rows == 2 * len(cells(compare_doc))


def test_a_24_cell_compare_renders_every_row_and_chart(
    compare_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row and every chart's place; the charts' drawing is the other tests' (without
    matplotlib each is a placeholder in the same place: seconds less). Its speed is not
    asserted here (a loaded machine took over 20 s): tests check what is drawn,
    benchmarks how fast."""
    monkeypatch.setattr(charts, "PLOTTING", False)
    extra = []
    for cell in cells(compare_doc):
        bigger = json.loads(json.dumps(cell))
        bigger["cell"]["clients"] = bigger["config"]["clients"] = 1000
        extra.append(bigger)
    doc = {**compare_doc, "cells": cells(compare_doc) + extra}
    page = parse(render(doc, "html"))
    assert page.summary_rows == 24
    assert len(page.charts) == 6 + 2 + 2 + 4


# --- headless Chromium -------------------------------------------------------------

# Injected by the test, not shipped: the report itself has no script at all.
PROBE_HEAD = (
    "<script>window.__errors=[];addEventListener('error',function(e){"
    "window.__errors.push(String(e.message||(e.target&&e.target.src)||e))},true);</script>"
)
PROBE_BODY = """<script>
addEventListener('load', function () {
  var figs = document.querySelectorAll('figure.chart'), rects = [], loaded = 0;
  figs.forEach(function (f) {
    var img = f.querySelector('img'), r = img.getBoundingClientRect();
    if (img.complete && img.naturalWidth > 0) loaded++;
    rects.push([f.dataset.chart, r.left + scrollX, r.top + scrollY, r.width, r.height]);
  });
  var b = document.body;
  b.dataset.charts = String(figs.length);
  b.dataset.loaded = String(loaded);
  b.dataset.rows = String(document.querySelectorAll('#summary tbody tr').length);
  b.dataset.height = String(document.documentElement.scrollHeight);
  b.dataset.rects = JSON.stringify(rects);
  b.dataset.errors = JSON.stringify(window.__errors);
  if (window.__errors.length === 0) b.dataset.ok = '1';
});
</script>"""


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        *args,
    ]
    # Its own process group, so a hung browser is ended with all of its children.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish in 90 s: {' '.join(args)}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def console_errors(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if ":CONSOLE" in line or "Uncaught" in line or "Refused to" in line
    ]


def probed_page(tmp_path: Path, name: str) -> tuple[Path, dict[str, str]]:
    html = (
        html_of(name)
        .replace("<head>", "<head>" + PROBE_HEAD, 1)
        .replace("</body>", PROBE_BODY + "</body>", 1)
    )
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    # The same width as the screenshot, so the layout (and the chart positions) match.
    result = chromium(
        ["--dump-dom", "--window-size=1280,2000", page.as_uri()], tmp_path / "profile"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert not console_errors(result.stderr), console_errors(result.stderr)
    body = re.search(r"<body([^>]*)>", result.stdout)
    assert body, result.stdout[:500]
    attrs = {k: v for k, v in re.findall(r'data-([a-z]+)="([^"]*)"', body.group(1))}
    return page, {k: v.replace("&quot;", '"') for k, v in attrs.items()}


def screenshot(tmp_path: Path, page: Path, height: int) -> np.ndarray:
    png = tmp_path / "report.png"
    result = chromium(
        [f"--screenshot={png}", f"--window-size=1280,{height}", page.as_uri()],
        tmp_path / "profile",
    )
    assert result.returncode == 0 and png.exists(), result.stderr[-2000:]
    assert not console_errors(result.stderr), console_errors(result.stderr)
    pixels: np.ndarray = mpimg.imread(png)
    return pixels[..., :3]


def ink(region: np.ndarray) -> tuple[float, float]:
    """Pixel standard deviation and share of non-white pixels."""
    grey = region.mean(axis=2)
    return float(grey.std()), float((grey < 0.95).mean())


@needs_chromium
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_renders_in_chromium(tmp_path: Path, name: str) -> None:
    doc = load(DOCUMENTS[name])
    page, dom = probed_page(tmp_path, name)
    assert dom.get("ok") == "1", dom.get("errors")
    n_charts = len(parse(html_of(name)).charts)
    assert int(dom["charts"]) == n_charts and int(dom["loaded"]) == n_charts
    assert int(dom["rows"]) == len(cells(doc))

    height = min(int(dom["height"]), 16_000)
    pixels = screenshot(tmp_path, page, height)
    assert pixels.shape[1] == 1280
    std, share = ink(pixels)
    assert std > 0.05 and share > 0.02, "screenshot looks blank"
    for chart, left, top, width, height_px in json.loads(dom["rects"]):
        assert width > 300 and height_px > 150, chart
        region = pixels[int(top) : int(top + height_px), int(left) : int(left + width)]
        assert region.size, f"{chart} is outside the screenshot"
        std, share = ink(region)
        assert std > 0.05 and share > 0.01, f"{chart} looks blank (std {std:.3f}, ink {share:.3f})"


def narrow_run(tcp_doc: dict[str, Any]) -> dict[str, Any]:
    """The stored run with every latency inside one decade (200-600 µs): the case where
    a decade-only log axis had one labelled tick or none."""
    from hdrh.histogram import HdrHistogram

    rng = np.random.default_rng(7)
    hist = HdrHistogram(1, 60_000_000, 3)
    for v in np.clip(rng.lognormal(np.log(300), 0.15, 5000), 200, 600).astype(int):
        hist.record_value(int(v))
    doc = {k: v for k, v in tcp_doc.items() if k not in ("service_time_us", "send_lag_us")}
    doc["latency_us"] = {**tcp_doc["latency_us"], "histogram": hist.encode().decode()}
    return doc


SVG_NS = "{http://www.w3.org/2000/svg}"


def y_labels(svg: str) -> list[str]:
    """The labelled y ticks of a matplotlib SVG (text kept as text, svg.fonttype none)."""
    root = ET.fromstring(svg)
    labels = []
    for group in root.iter(f"{SVG_NS}g"):
        if (group.get("id") or "").startswith("ytick_"):
            labels += [
                t.text.strip() for t in group.iter(f"{SVG_NS}text") if t.text and t.text.strip()
            ]
    return labels


def test_spectrum_has_three_y_labels_within_one_decade(tcp_doc: dict[str, Any]) -> None:
    page = parse(render(narrow_run(tcp_doc), "html"))
    spectra = [src for name, src in page.charts.items() if name.startswith("spectrum")]
    assert spectra
    for src in spectra:
        svg = base64.b64decode(src.split(",", 1)[1]).decode()
        labels = y_labels(svg)
        assert len(labels) >= 3, labels
        assert all(label.endswith("µs") or label.endswith("ms") for label in labels)


def test_timeline_has_a_percentile_legend(tcp_doc: dict[str, Any]) -> None:
    page = parse(render(tcp_doc, "html"))
    [src] = [src for name, src in page.charts.items() if name.startswith("timeline")]
    svg = base64.b64decode(src.split(",", 1)[1]).decode()
    legends = [ET.tostring(g, encoding="unicode") for g in ET.fromstring(svg).iter(f"{SVG_NS}g")
               if (g.get("id") or "").startswith("legend_")]  # fmt: skip
    assert any(">p99<" in g and ">p50<" in g for g in legends)
    assert "p99 solid" not in svg


@needs_chromium
def test_run_chart_y_labels_in_chromium(tmp_path: Path, tcp_doc: dict[str, Any]) -> None:
    page = parse(render(narrow_run(tcp_doc), "html"))
    [src] = [src for name, src in page.charts.items() if name.startswith("spectrum")]
    chart = tmp_path / "spectrum.svg"
    chart.write_bytes(base64.b64decode(src.split(",", 1)[1]))
    dom = chromium(["--dump-dom", chart.as_uri()], tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    # What chromium parsed, not what we wrote: three or more labelled y ticks.
    assert len(y_labels(dom.stdout.strip())) >= 3
    png = tmp_path / "spectrum.png"
    shot = chromium([f"--screenshot={png}", "--window-size=720,360", chart.as_uri()],
                    tmp_path / "profile")  # fmt: skip
    assert shot.returncode == 0 and png.exists(), shot.stderr[-2000:]
    std, share = ink(mpimg.imread(png)[..., :3])
    assert std > 0.05 and share > 0.01, "screenshot looks blank"
