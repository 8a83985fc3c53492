"""The sweep report's latency–load chart, rendered in headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sockbench.core.spec.formats import SweepFormat
from sockbench.report.sweep import render
from tests.capacity.test_sweep_report import _search_doc
from tests.report.test_html import (
    PROBE_BODY,
    PROBE_HEAD,
    chromium,
    console_errors,
    ink,
    needs_chromium,
    screenshot,
)

pytestmark = pytest.mark.slow


@needs_chromium
def test_the_latency_load_chart_renders(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    html = render(_search_doc(), SweepFormat.HTML)
    page.write_text(
        html.replace("<head>", "<head>" + PROBE_HEAD, 1).replace(
            "</body>", PROBE_BODY + "</body>", 1
        ),
        encoding="utf-8",
    )
    result = chromium(["--dump-dom", "--window-size=1280,2000", page.as_uri()], tmp_path / "p")
    assert result.returncode == 0 and not console_errors(result.stderr), result.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", result.stdout)
    assert body, result.stdout[:500]
    dom = {
        k: v.replace("&quot;", '"')
        for k, v in re.findall(r'data-([a-z]+)="([^"]*)"', body.group(1))
    }
    assert dom.get("ok") == "1" and dom["charts"] == "1" and dom["loaded"] == "1", dom
    pixels = screenshot(tmp_path, page, min(int(dom["height"]), 4000))
    [(name, left, top, width, height)] = json.loads(dom["rects"])
    assert name == "latency-load" and width > 300 and height > 150
    std, share = ink(pixels[int(top) : int(top + height), int(left) : int(left + width)])
    assert std > 0.05 and share > 0.01, f"the chart looks blank (std {std:.3f}, ink {share:.3f})"
