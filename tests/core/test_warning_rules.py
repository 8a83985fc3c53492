"""run_warnings as a table: each rule fires on its facts and stays silent otherwise (pure)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from sockbench.core.datagrams import DatagramCounts
from sockbench.core.status import RunStatus
from sockbench.core.tally import Tally
from sockbench.core.warning import WarningKind
from sockbench.core.warning_rules import RULES, Facts, run_warnings

#: A run that went well: one request, accounted for, nothing clamped, nothing open.
CLEAN = replace(Tally.empty(), requests=1, issued=1)

#: (case, changes to CLEAN, status, failed workers, nodes, [(kind, in message, in advice)])
CASES: list[tuple[str, dict[str, Any], str, list[int] | None, dict[int, str] | None,
                  list[tuple[WarningKind, str, str]]]] = [
    ("clean", {}, RunStatus.COMPLETED, None, None, []),
    ("workers died", {}, RunStatus.WORKER_FAILED, [1, 2], {1: "node-a"}, [
        (WarningKind.WORKER_DIED, "worker(s) 1 on node node-a, 2 died", "clients are missing"),
    ]),
    ("interrupted", {}, RunStatus.INTERRUPTED, None, None, [
        (WarningKind.INTERRUPTED, "the run was interrupted", "the part that ran"),
    ]),
    ("server died", {}, RunStatus.SERVER_DIED, None, None, [
        (WarningKind.SERVER_DIED, "the server process died", "the time before"),
    ]),
    ("nothing measured", {"requests": 0, "issued": 0}, RunStatus.COMPLETED, None, None, [
        (WarningKind.NOTHING_MEASURED, "no request completed", "--timeout"),
    ]),
    ("clamped", {"clamped": 7}, RunStatus.COMPLETED, None, None, [
        (WarningKind.CLAMPED, "7 samples fell outside 1 µs..60 s", ""),
    ]),
    ("ports", {"errors": {"no_ephemeral_port": 2}, "warmup_errors": {"no_ephemeral_port": 1}},
     RunStatus.COMPLETED, None, None, [
        (WarningKind.EPHEMERAL_PORTS, "ran out of ephemeral ports 3 times", "--source-ips"),
    ]),
    ("datagrams off", {"datagrams": DatagramCounts(sent=3, received=1)}, RunStatus.COMPLETED,
     None, None, [(WarningKind.UNBALANCED, "datagram accounting does not balance", "a bug")]),
    ("requests off", {"issued": 5}, RunStatus.COMPLETED, None, None, [
        (WarningKind.UNBALANCED, "request accounting does not balance", "a bug"),
    ]),
    ("in flight", {"issued": 3, "in_flight": 2}, RunStatus.INTERRUPTED, None, None, [
        (WarningKind.INTERRUPTED, "interrupted", ""),
        (WarningKind.IN_FLIGHT, "2 requests were still in flight", ""),
    ]),
    ("unfinished", {"issued": 5, "failed": {"unfinished": 4}}, RunStatus.COMPLETED, None, None, [
        (WarningKind.UNFINISHED, "4 requests were still open when --drain ended", "drop --drain"),
    ]),
    ("in table order", {"requests": 0, "issued": 0, "clamped": 1}, RunStatus.SERVER_DIED, [0],
     None, [
        (WarningKind.WORKER_DIED, "worker(s) 0 died", ""),
        (WarningKind.SERVER_DIED, "", ""),
        (WarningKind.NOTHING_MEASURED, "", ""),
        (WarningKind.CLAMPED, "1 samples", ""),
    ]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "status", "failed", "nodes", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rules(
    changes: dict[str, Any],
    status: str,
    failed: list[int] | None,
    nodes: dict[int, str] | None,
    expected: list[tuple[WarningKind, str, str]],
) -> None:
    found = run_warnings(replace(CLEAN, **changes), status, failed, nodes)
    assert [w.kind for w in found] == [kind for kind, _, _ in expected]
    for warning, (_, message, advice) in zip(found, expected, strict=True):
        assert message in warning.message and advice in warning.advice


def test_every_rule_fires_in_some_case() -> None:
    fired: set[int] = set()
    for _, changes, status, failed, nodes, _ in CASES:
        facts = Facts(replace(CLEAN, **changes), status, tuple(failed or ()), nodes or {})
        fired |= {i for i, rule in enumerate(RULES) if rule.applies(facts)}
    assert fired == set(range(len(RULES)))
