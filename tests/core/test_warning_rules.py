"""run_warnings and rate_warnings as tables: each rule fires on its facts and stays silent
otherwise (pure)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from sockbench.core.datagrams import DatagramCounts
from sockbench.core.status import RunStatus
from sockbench.core.tally import Tally
from sockbench.core.warning import WarningKind
from sockbench.core.warning_rules import (
    RATE_RULES,
    RULES,
    Facts,
    ResultFacts,
    rate_warnings,
    run_warnings,
)

#: A run that went well: one request, accounted for, nothing clamped, nothing open.
CLEAN = replace(Tally.empty(), requests=1, issued=1)

#: (case, changes to CLEAN, status, failed workers, nodes, [(kind, in message, in advice)])
CASES: list[tuple[str, dict[str, Any], str, list[int] | None, dict[int, str] | None,
                  list[tuple[WarningKind, str, str]]]] = [
    ("clean", {}, RunStatus.COMPLETED, None, None, []),
    ("workers died", {}, RunStatus.WORKER_FAILED, [1, 2], {1: "node-a"}, [
        (WarningKind.WORKER_DIED, "worker(s) 1 on node node-a, 2 died", "clients are missing"),
    ]),
    ("protocol failed", {"faults": ("the protocol plugin p.py:P failed: E", "same")},
     RunStatus.WORKER_FAILED, None, None, [
        (WarningKind.PROTOCOL_FAILED, "p.py:P failed: E (and in 1 more worker(s))", "fix the"),
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
    ("degraded: its own warning says it", {"requests": 0, "issued": 0}, RunStatus.DEGRADED,
     None, None, []),
    ("clamped", {"clamped": 7}, RunStatus.COMPLETED, None, None, [
        (WarningKind.CLAMPED, "7 samples fell outside 1 µs..60 s", ""),
    ]),
    ("ports", {"errors": {"no_ephemeral_port": 2}, "warmup_errors": {"no_ephemeral_port": 1}},
     RunStatus.COMPLETED, None, None, [
        (WarningKind.EPHEMERAL_PORTS, "ran out of ephemeral ports 3 times", "--source-ips"),
    ]),
    ("starved", {"errors": {"starved": 1234}}, RunStatus.COMPLETED, None, None, [
        (WarningKind.STARVED, "1,234 connection(s) were not served through the window",
         "ulimit -n"),
    ]),
    ("datagrams off", {"datagrams": DatagramCounts(sent=3, received=1)}, RunStatus.COMPLETED,
     None, None, [(WarningKind.UNBALANCED, "datagram accounting does not balance", "a bug")]),
    ("unsolicited", {"datagrams": DatagramCounts(unsolicited=1234)}, RunStatus.COMPLETED,
     None, None, [(WarningKind.UNSOLICITED, "sent 1,234 datagrams that answer no", "target")]),
    ("not taken", {"client_bytes": (100, 50, 10), "client_received": (25, None, 10)},
     RunStatus.COMPLETED, None, None, [
        (WarningKind.NOT_TAKEN, "took 35 of the 110 bytes written in the window (31.8 %)",
         "reads what it is sent"),
    ]),
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


def _rate_doc(status: str = "completed", ratio: float = 1.0, **lags: int) -> dict[str, Any]:
    """A built open-loop result: 900 req/s served of 1,000 asked, ``ratio`` achieved."""
    return {
        "status": status,
        "duration_s": 10.0,
        "totals": {"achieved_ratio": ratio, "throughput_rps": 900.0, "requested_rps": 1000.0},
        **{name: {"p99": p99} for name, p99 in lags.items()},
    }


def _reconnect_doc(
    connections: int,
    failed: dict[str, int] | None = None,
    rate: float | None = None,
    mode: str = "echo",
    idle: int = 0,
    requests: int = 376_598,
) -> dict[str, Any]:
    """A completed run of 40 clients: ``failed`` requests ended with their connection,
    ``idle`` connections ended with nothing in flight."""
    return {
        "status": "completed",
        "config": {"mode": mode, "clients": 40, "rate": rate},
        "totals": {
            "requests": requests, "connections": connections, "errors": failed or {},
            "requests_failed": failed or {}, "closed_idle": idle,
        },
        "connect_us": {"p50": 255},
    }  # fmt: skip


def _http_doc(kinds: dict[str, int], protocol: str = "http") -> dict[str, Any]:
    """A completed run whose replies were these kinds (HTTP's: status classes)."""
    by_kind = {
        kind: {"requests": n, "throughput_rps": n, "errors": {}} for kind, n in kinds.items()
    }
    return {
        "status": "completed",
        "config": {"protocol": protocol, "mode": "echo", "clients": 10},
        "totals": {"requests": sum(kinds.values()), "connections": 10, "by_kind": by_kind},
    }


#: (case, document, [(kind, in message, in advice)])
RATE_CASES: list[tuple[str, dict[str, Any], list[tuple[WarningKind, str, str]]]] = [
    ("kept", _rate_doc(ratio=0.995, send_lag_us=100), []),
    ("closed loop", {"status": "completed", "totals": {}}, []),
    ("target behind", _rate_doc(ratio=0.9, send_lag_us=100), [
        (WarningKind.RATE_NOT_KEPT, "served 900 req/s of the 1,000 requested (90.0%): the target",
         "past the target's capacity"),
    ]),
    ("not kept, but interrupted", _rate_doc("interrupted", ratio=0.9), []),
    ("not kept, degraded", _rate_doc("degraded", ratio=0.9), [
        (WarningKind.RATE_NOT_KEPT, "the target fell behind", ""),
    ]),
    ("sent late", _rate_doc(send_lag_us=2500), [
        (WarningKind.SENT_LATE, "p99 2.5 ms behind schedule", "add --workers, or lower --rate"),
    ]),
    ("sent late from a busy generator", {
        **_rate_doc(send_lag_us=2500), "generator": {"loop_busy_percent": 93.0},
    }, [
        (WarningKind.SENT_LATE, "p99 2.5 ms behind schedule", "add --workers, or lower --rate"),
    ]),
    ("sent late from an idle loop: the machine's CPU was held", {
        **_rate_doc(send_lag_us=2500), "generator": {"loop_busy_percent": 6.0},
        "environment": {"loadavg": [6.14, 3.4, 2.9], "cpu_count": 2},
    }, [
        (WarningKind.SENT_LATE, "p99 2.5 ms behind schedule",
         "busy only 6% of the time, so other processes held its CPU (load average 6.1 on 2 "
         "cores): run on a quiet machine, or pin it apart with --client-cpus"),
    ]),
    ("the scheduler's lag first", _rate_doc(scheduler_lag_us=1500, send_lag_us=9000), [
        (WarningKind.SENT_LATE, "p99 1.5 ms behind", ""),
    ]),
    ("on time", _rate_doc(send_lag_us=1000), []),
    ("in table order", _rate_doc(ratio=0.5, scheduler_lag_us=3000), [
        (WarningKind.RATE_NOT_KEPT, "the generator fell behind", "add --workers"),
        (WarningKind.SENT_LATE, "p99 3 ms", ""),
    ]),
    ("not valid: a trend", {"status": "completed", "totals": {}, "validity": {
        "verdict": "not valid",
        "reasons": [{"test": "stationarity", "text": "p99 rose 30% over the window"}],
    }}, [
        (WarningKind.NOT_VALID, "this run is not valid: p99 rose 30%", "lengthen --warmup"),
    ]),
    ("tls handshakes failed", {"status": "degraded", "config": {}, "totals": {
        "requests": 0, "errors": {"tls_protocol": 3}, "warmup_errors": {"tls_protocol": 1},
    }}, [
        (WarningKind.TLS_FAILED, "4 TLS handshakes or records failed", "use tcp://"),
    ]),
    ("a tcp:// target that may speak tls", {"status": "degraded", "config": {
        "target": "tcp://127.0.0.1:1"}, "totals": {
        "requests": 0, "errors": {"closed": 8, "mismatch": 1}, "warmup_errors": {"reset": 1},
    }}, [
        (WarningKind.CLOSED_UNANSWERED, "(10 times)", "give --target tls://HOST:PORT"),
    ]),
    ("a tcp:// target that closed before a request went out", {"status": "degraded",
        "config": {"target": "tcp://127.0.0.1:1"}, "totals": {
        "requests": 0, "errors": {"closed": 2}, "closed_idle": 5,
    }}, [
        (WarningKind.CLOSED_UNANSWERED, "(7 times)", ""),
    ]),
    ("a tcp:// target that timed out is not said to speak tls", {
        "status": "degraded", "config": {"target": "tcp://127.0.0.1:1"},
        "totals": {"requests": 0, "errors": {"closed": 8, "timeout": 1}},
    }, []),
    ("the accept queue overflowed", {"status": "completed", "totals": {},
        "accept_queue": {"backlog": 8, "sockets": 1, "drops": 2213},
        "connect_us": {"p99": 1_030_000}}, [
        (WarningKind.LISTEN_DROPS,
         "dropped 2,213 handshake packets at its listening socket over the run, warm-up "
         "included (backlog 8); each is sent again after a timeout (a SYN 1 s later, then 2 s "
         "after that), so those connects, or their first replies, waited that long (connect "
         "p99 1.03 s)", "raise the target's listen backlog"),
    ]),
    ("the accept queue overflowed, connects fast: the ACK was dropped", {
        "status": "completed", "totals": {},
        "accept_queue": {"backlog": 8, "sockets": 1, "drops": 3}, "connect_us": {"p99": 90}}, [
        (WarningKind.LISTEN_DROPS, "replies, waited that long", "--connect-rate"),
    ]),
    ("the accept queue kept up, or its count is not known", {"status": "completed",
        "totals": {}, "accept_queue": {"backlog": 8, "sockets": 1, "drops": 0}}, []),
    ("the accept queue's drops not known", {"status": "completed", "totals": {},
        "accept_queue": {"backlog": 8, "sockets": 1}}, []),
    ("the target ended its keep-alive connections", _reconnect_doc(
        connections=28_061, failed={"closed": 23_555, "reset": 932}), [
        (WarningKind.RECONNECTS,
         "40 clients opened 28,061 connections over the run, warm-up included, one per 13 "
         "requests answered; in the window, requests ended with their connection: closed "
         "23,555, reset 932 (the target); a closed-loop latency starts after its connection "
         "is up, so the connects' time (connect p50 255 µs) is in no latency",
         "nginx at worker_connections, a proxy's or a pool's limit): raise its limit above "
         "--clients, or run fewer --clients; a server that ends connections on purpose"),
    ]),
    ("open loop: timeouts ended them, and the connects are in the latencies", _reconnect_doc(
        connections=5_040, failed={"timeout": 5_000}, rate=40_000.0), [
        (WarningKind.RECONNECTS, "; in the window, timeout 5,000 (--timeout); each "
         "reconnect's time (connect p50 255 µs) is in the latencies",
         "a timed-out request ends its connection: raise --timeout; a server that ends"),
    ]),
    ("open loop: the target closed connections idle past its keep-alive timeout",
     _reconnect_doc(connections=140, idle=96, rate=20.0, requests=80), [
        (WarningKind.RECONNECTS, "opened 140 connections over the run, warm-up included, for "
         "80 requests answered; in the window, the target ended 96 with nothing in flight "
         "(idle); each reconnect's", "timeout): at --rate 20 over 40 clients each sends every "
         "2 s: raise that timeout above it"),
    ]),
    ("a connection per 1,000 requests (nginx's keepalive_requests) is not worth one",
     _reconnect_doc(connections=416), []),
    ("reconnects, but not once per client", _reconnect_doc(connections=79), []),
    ("open loop past the slots: idle closes, but as many requests failed", _reconnect_doc(
        connections=9_574, failed={"closed": 5_010, "reset": 25}, idle=4_505, rate=20_000.0,
        requests=34_965), [
        (WarningKind.RECONNECTS, "the target ended 4,505 with nothing in flight (idle)",
         "raise its limit above --clients, or run fewer --clients; a server that ends"),
    ]),
    ("a keep-alive timeout's race fails a few requests: still the timeout", _reconnect_doc(
        connections=140, failed={"reset": 2}, idle=96, rate=20.0, requests=80), [
        (WarningKind.RECONNECTS, "reset 2 (the target)", "a server closes a connection idle "
         "past its keep-alive timeout"),
    ]),
    ("a connection per reply: --mode churn measures that", _reconnect_doc(
        connections=10_404, failed={"closed": 9_487, "reset": 879}, requests=10_365), [
        (WarningKind.RECONNECTS, "for 10,365 requests answered",
         "the target ended about a connection per reply: if it serves one request per "
         "connection, measure it with --mode churn"),
    ]),
    ("--mode churn reconnects by design", _reconnect_doc(connections=28_061, mode="churn"), []),
    ("closes announced in the replies (HTTP/1.0): no failure, none idle", _reconnect_doc(
        connections=2_017, requests=2_016, mode="echo"), [
        (WarningKind.RECONNECTS, "for 2,016 requests answered; in the window, no request "
         "failed with its connection and none ended idle: the target announced its closes "
         "in its replies (Connection: close, or HTTP/1.0 without keep-alive); a closed-loop",
         "a server that ends connections on purpose"),
    ]),
    ("http: every reply a 404", _http_doc({"2xx": 0, "4xx": 2016}), [
        (WarningKind.CLIENT_ERRORS, "the target answered 2,016 of the 2,016 requests "
         "(100.0%) with a 4xx status", "--http-path (a 404)"),
    ]),
    ("http: one 401 in a thousand is still said", _http_doc({"2xx": 999, "4xx": 1}), [
        (WarningKind.CLIENT_ERRORS, "1 of the 1,000 requests (0.1%)",
         "--check 'kind.4xx.requests == 0'"),
    ]),
    ("http: 2xx and 3xx only", _http_doc({"2xx": 900, "3xx": 100, "4xx": 0}), []),
    ("a kind named 4xx of another protocol is not http's", _http_doc({"4xx": 5}, "line"), []),
    ("not valid only by its status: that has its own warning", {
        "status": "interrupted", "totals": {}, "validity": {
            "verdict": "not valid",
            "reasons": [{"test": "status", "text": "the run ended interrupted"}],
        }}, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "expected"), [case[1:] for case in RATE_CASES], ids=[case[0] for case in RATE_CASES]
)
def test_rate_rules(doc: dict[str, Any], expected: list[tuple[WarningKind, str, str]]) -> None:
    found = rate_warnings(doc)
    assert [w.kind for w in found] == [kind for kind, _, _ in expected]
    for warning, (_, message, advice) in zip(found, expected, strict=True):
        assert message in warning.message and advice in warning.advice


def test_the_reconnects_advice_names_one_cause_of_the_idle_closes() -> None:
    """Slots or a keep-alive timeout, by whether requests failed beside the idle closes."""
    slots = _reconnect_doc(9_574, {"closed": 5_010}, 20_000.0, idle=4_505, requests=34_965)
    timeout = _reconnect_doc(140, {"reset": 2}, 20.0, idle=96, requests=80)
    [by_slots], [by_timeout] = rate_warnings(slots), rate_warnings(timeout)
    assert "keep-alive timeout" not in by_slots.advice and "slots" in by_slots.advice
    assert "slots" not in by_timeout.advice and "keep-alive timeout" in by_timeout.advice
    assert "--mode churn" not in by_timeout.advice  # a connection per reply, none failed


def test_every_rate_rule_fires_in_some_case() -> None:
    fired = {
        i
        for _, doc, _ in RATE_CASES
        for i, r in enumerate(RATE_RULES)
        if r.applies(ResultFacts(doc))
    }
    assert fired == set(range(len(RATE_RULES)))


def test_a_worker_failed_for_silence_is_not_said_to_have_died() -> None:
    """A SIGSTOPped worker is failed after its grace; it did not die (issue 33)."""
    [warning] = [
        w
        for w in run_warnings(Tally.empty(), RunStatus.WORKER_FAILED, [0, 1], silent=[1])
        if w.kind == WarningKind.WORKER_DIED
    ]
    assert warning.message == (
        "worker(s) 0 died during the run; worker(s) 1 stopped answering (sent nothing for "
        "the interval, the drain and a grace after the window) and were failed"
    )
