"""Stored fixtures for the report tests (regenerate with ``make_fixtures.py``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from sockbench.report import load, render

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
RESULT_TCP = FIXTURES / "result-tcp.json"
RESULT_UDP = FIXTURES / "result-udp.json"
COMPARE = FIXTURES / "compare-small"
#: Every stored document, by a short name used in golden file names and test ids.
DOCUMENTS = {"result-tcp": RESULT_TCP, "result-udp": RESULT_UDP, "compare-small": COMPARE}


@pytest.fixture(params=sorted(DOCUMENTS))
def any_doc(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    name: str = request.param
    return name, load(DOCUMENTS[name])


@pytest.fixture(scope="session")
def compare_doc() -> dict[str, Any]:
    return load(COMPARE)


@pytest.fixture(scope="session")
def tcp_doc() -> dict[str, Any]:
    return load(RESULT_TCP)


@pytest.fixture(scope="session")
def udp_doc() -> dict[str, Any]:
    return load(RESULT_UDP)


@functools.cache
def html_of(name: str) -> str:
    """The HTML report of a stored document, rendered once per test session."""
    return render(load(DOCUMENTS[name]), "html")
