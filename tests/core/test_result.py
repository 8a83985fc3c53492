import json
from dataclasses import replace
from pathlib import Path

import jsonschema

from sockbench.core.datagrams import DatagramCounts
from sockbench.core.histogram import Recorder, encode
from sockbench.core.result import SCHEMA, Measurement, build_result, rate_warnings, run_warnings
from sockbench.core.status import RunStatus
from sockbench.core.tally import Tally, merge_tallies
from sockbench.environment import collect_environment
from tests.support.specs import spec_of

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "result.schema.json"


def _tally(values: list[int], errors: dict[str, int], datagrams: DatagramCounts | None) -> Tally:
    rec = Recorder()
    for v in values:
        rec.record(v)
    return Tally(
        requests=len(values),
        bytes_sent=64 * len(values),
        bytes_received=64 * len(values),
        connections=2,
        errors=errors,
        warmup_errors={},
        latency=encode(rec.histogram),
        connect=encode(Recorder().histogram),
        datagrams=datagrams,
    )


def test_merge_adds_counters_and_histograms() -> None:
    a = _tally([10, 20, 30], {"reset": 1}, DatagramCounts(sent=4, received=3, lost=1))
    b = _tally([40], {"reset": 2, "timeout": 1}, DatagramCounts(sent=1, received=1))
    m = merge_tallies([a, b])
    assert m.requests == 4
    assert m.errors == {"reset": 3, "timeout": 1}
    assert m.datagrams == DatagramCounts(sent=5, received=4, lost=1)
    assert m.connections == 4


def _result(tally: Tally, status: RunStatus = RunStatus.COMPLETED) -> dict[str, object]:
    return build_result(
        Measurement(
            spec=spec_of({"proto": "udp", "clients": 2, "workers": "1"}),
            command="sockbench run",
            environment=collect_environment(),
            server={"model": "asyncio", "target": "udp://127.0.0.1:1"},
            started_at="2026-11-24T12:00:00.000+00:00",
            duration_s=2.0,
            status=status,
            tally=tally,
            warnings=run_warnings(tally, status),
        )
    )


def test_result_has_the_documented_keys_and_validates() -> None:
    tally = _tally([100] * 10, {}, DatagramCounts(sent=10, received=10))
    doc = _result(tally)
    assert doc["schema"] == SCHEMA
    assert doc["totals"]["throughput_rps"] == 5.0  # type: ignore[index]
    assert doc["latency_us"]["p50"] == 100  # type: ignore[index]
    assert doc["interrupted"] is False
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.validate(json.loads(json.dumps(doc)), schema)


def test_interrupted_result_is_marked_and_warns() -> None:
    doc = _result(_tally([], {}, None), status=RunStatus.INTERRUPTED)
    assert doc["interrupted"] is True
    assert any("interrupted" in w for w in doc["warnings"])  # type: ignore[attr-defined]
    assert any("no request completed" in w for w in doc["warnings"])  # type: ignore[attr-defined]
    kinds = [w["kind"] for w in doc["warning_details"]]  # type: ignore[attr-defined]
    assert kinds == ["interrupted", "nothing_measured"]


def _rate_doc(ratio: float, lag_p99: int) -> dict[str, object]:
    return {
        "status": "completed",
        "totals": {"achieved_ratio": ratio, "throughput_rps": 900.0, "requested_rps": 1000.0},
        "send_lag_us": {"p99": lag_p99},
    }


def test_rate_warnings_say_when_the_schedule_was_not_kept() -> None:
    assert rate_warnings(_rate_doc(0.995, 100)) == []
    [slow] = rate_warnings(_rate_doc(0.9, 100))
    assert slow.kind == "rate_not_kept"
    assert "served 900 req/s of the 1,000 requested (90.0%)" in slow.text()
    [lag] = rate_warnings(_rate_doc(1.0, 2500))
    assert lag.kind == "sent_late"
    assert "p99 2.5 ms behind schedule" in lag.message and "--workers" in lag.advice


def test_achieved_counts_what_a_run_bounded_by_requests_had_due() -> None:
    """--rate 1000 --requests 100: all 100 served in a window of 101 ms is the rate kept
    (rate × window would be 101 due: 99.0 %); --requests 150 at the same pace, in a
    window of 150 ms, a third of them never sent, is not."""

    def achieved(requests: int, served: int, seconds: float) -> object:
        values = {"proto": "tcp", "clients": 1, "rate": 1000.0, "requests": requests}
        tally = replace(
            _tally([80] * served, {}, None), issued=requests, served=served, offered=served
        )
        doc = build_result(
            Measurement(
                spec=spec_of({**values, "workers": "1"}),
                command="sockbench run",
                environment={},
                server={"model": "asyncio", "target": "tcp://127.0.0.1:1"},
                started_at="2026-11-24T12:00:00.000+00:00",
                duration_s=seconds,
                status=RunStatus.COMPLETED,
                tally=tally,
            )
        )
        return doc["totals"]["achieved_ratio"]

    assert achieved(100, 100, 0.1012) == 1.0
    assert achieved(150, 100, 0.15) == round(100 / 150, 4)
    assert achieved(150, 100, 0.3) == round(100 / (300 - 2), 4)  # late: the window's due


def test_running_out_of_ports_is_one_warning_with_advice() -> None:
    tally = _tally([5], {"no_ephemeral_port": 300}, None)
    [warning] = run_warnings(tally, "completed")
    assert warning.kind == "ephemeral_ports"
    assert "ran out of ephemeral ports 300 times" in warning.message
    assert "--source-ips" in warning.advice
