"""`sockbench diff`: two fixtures, one clearly faster, one within noise; refusal across hosts."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sockbench.core.spec.diff import split_sides
from sockbench.errors import SockbenchError
from sockbench.report.diff import check_comparable, differences, render
from tests.report.conftest import RESULT_TCP


def runs(tcp_doc: dict[str, Any], rps: list[float], p99: float = 3000.0) -> list[dict[str, Any]]:
    out = []
    for value in rps:
        doc = copy.deepcopy(tcp_doc)
        doc["totals"]["throughput_rps"] = value
        doc["latency_us"]["p99"] = p99 * 1000.0 / value * 66.0
        out.append(doc)
    return out


def save(folder: Path, docs: list[dict[str, Any]]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, doc in enumerate(docs):
        path = folder / f"r{i}.json"
        path.write_text(json.dumps(doc))
        paths.append(str(path))
    return paths


def sockbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sockbench", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.e2e  # runs `sockbench diff` in a process
def test_clearly_faster_is_significant(tcp_doc: dict[str, Any], tmp_path: Path) -> None:
    a = save(tmp_path / "a", runs(tcp_doc, [66_000, 66_500, 65_800]))
    b = save(tmp_path / "b", runs(tcp_doc, [80_000, 80_400, 79_600]))
    result = sockbench("diff", *a, "--vs", *b)
    assert result.returncode == 0, result.stderr
    req_s = result.stdout.split("req/s\n-----\n")[1].split("\n\n")[0]
    assert "1.21× faster" in req_s and " significant" in req_s
    assert "not significant" not in req_s
    p99 = result.stdout.split("p99\n---\n")[1]
    assert "faster" in p99.splitlines()[1]


@pytest.mark.e2e  # runs `sockbench diff` in a process
def test_within_noise_is_not_significant(tcp_doc: dict[str, Any], tmp_path: Path) -> None:
    a = save(tmp_path / "a", runs(tcp_doc, [66_000, 70_000, 62_000]))
    b = save(tmp_path / "b", runs(tcp_doc, [67_000, 63_000, 69_500]))
    result = sockbench("diff", *a, "--vs", *b, "-f", "md")
    assert result.returncode == 0, result.stderr
    assert "not significant" in result.stdout.split("## req/s")[1].split("## ")[0]


def test_two_single_runs_get_a_ratio_and_a_note(tcp_doc: dict[str, Any]) -> None:
    [a], [b] = runs(tcp_doc, [60_000]), runs(tcp_doc, [72_000])
    text = render([a], [b], ("a", "b"), "text")
    assert "1.20× faster" in text and "n/a" in text
    assert "no significance can be claimed" in text
    doc = json.loads(render([a], [b], ("a", "b"), "json"))
    assert doc["schema"] == "sockbench.diff/1"
    assert doc["metrics"]["throughput_rps"][0]["significant"] is None
    html = render([a], [b], ("a", "b"), "html")
    assert html.startswith("<!DOCTYPE html>") and "1.20× faster" in html


def open_loop(tcp_doc: dict[str, Any], offered: list[float]) -> list[dict[str, Any]]:
    out = runs(tcp_doc, [value * 0.99 for value in offered])
    for doc, value in zip(out, offered, strict=True):
        doc["totals"].update(requested_rps=2000, offered_rps=value, achieved_ratio=0.99)
    return out


def test_open_loop_runs_diff_their_offered_rate(tcp_doc: dict[str, Any]) -> None:
    a, b = open_loop(tcp_doc, [1990, 1992, 1989]), open_loop(tcp_doc, [1500, 1502, 1498])
    text = render(a, b, ("a", "b"), "text")
    offered = text.split("offered req/s\n-------------\n")[1].split("\n\n")[0]
    assert "1.33× slower" in offered and " significant" in offered
    assert [
        r["a"] for r in json.loads(render(a, b, ("a", "b"), "json"))["metrics"]["offered_rps"]
    ] == [[1990, 1992, 1989]]
    # Closed-loop runs have no offered rate: no table for it.
    assert "offered" not in render(
        runs(tcp_doc, [60_000]), runs(tcp_doc, [72_000]), ("a", "b"), "text"
    )


@pytest.mark.e2e  # runs `sockbench diff` in a process
def test_refuses_across_hosts_unless_forced(tcp_doc: dict[str, Any], tmp_path: Path) -> None:
    other = copy.deepcopy(tcp_doc)
    other["environment"]["hostname"] = "bench-02"
    b = save(tmp_path / "b", [other])
    result = sockbench("diff", str(RESULT_TCP), *b)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("sockbench: error: A and B ran on different hosts")
    assert "--force" in result.stderr
    forced = sockbench("diff", "--force", str(RESULT_TCP), *b)
    assert forced.returncode == 0, forced.stderr


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        (("environment", "cpu_count"), 64, "CPU counts"),
        (("environment", "sockbench"), "2.0.0", "sockbench major versions"),
    ],
)
def test_refuses_other_cpu_counts_and_major_versions(
    tcp_doc: dict[str, Any], path: tuple[str, str], value: object, words: str
) -> None:
    other = copy.deepcopy(tcp_doc)
    other[path[0]][path[1]] = value
    with pytest.raises(SockbenchError, match=words):
        check_comparable([tcp_doc], [other])


def test_compare_folders_are_matched_cell_by_cell(compare_doc: dict[str, Any]) -> None:
    text = render([compare_doc], [compare_doc], ("a", "b"), "text")
    req_s = text.split("req/s\n-----\n")[1].split("\n\n")[0]
    assert len(req_s.splitlines()) == 1 + 12 + 1  # header, 12 cells, note
    assert "same" in req_s


def test_sides() -> None:
    assert split_sides(["a", "b"]) == (("a",), ("b",))
    assert split_sides(["a1", "a2", "--vs", "b1"]) == (("a1", "a2"), ("b1",))
    with pytest.raises(SockbenchError, match="two paths"):
        split_sides(["a", "b", "c"])
    with pytest.raises(SockbenchError, match="each side"):
        split_sides(["a", "--vs"])


def test_a_run_that_measured_zero_gets_a_ratio_and_a_note(tcp_doc: dict[str, Any]) -> None:
    a = runs(tcp_doc, [60_000, 61_000, 59_000])
    b = runs(tcp_doc, [72_000, 71_000, 73_000])
    b[0]["totals"]["throughput_rps"] = 0.0
    text = render(a, b, ("a", "b"), "text")
    req_s = text.split("req/s\n-----\n")[1].split("\n\n")[0]
    assert "n/a" in req_s
    assert "needs every run above 0" in text
    assert "no significance can be claimed" not in text


def _ran(tcp_doc: dict[str, Any], **config: object) -> dict[str, Any]:
    doc = copy.deepcopy(tcp_doc)
    doc["config"].update(config)
    return doc


def test_a_stream_and_a_request_reply_run_are_refused_either_way(tcp_doc: dict[str, Any]) -> None:
    """A stream's req/s counts --payload messages and its latencies are zeros: echo first
    raised ZeroDivisionError, stream first printed "5639.27× slower"."""
    stream = _ran(tcp_doc, mode="stream")
    for a, b, shown in (
        (tcp_doc, stream, "A echo, B stream"),
        (stream, tcp_doc, "A stream, B echo"),
    ):
        for fmt in ("text", "json"):
            with pytest.raises(SockbenchError) as refused:
                render([a], [b], ("a", "b"), fmt)
            assert str(refused.value).startswith(
                f"A and B are not comparable: their modes differ ({shown})"
            )
    assert "same" in render([stream], [stream], ("a", "b"), "text")  # two streams compare


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ({"proto": "udp"}, "transport (A tcp, B udp)"),
        ({"protocol": "redis"}, "protocol (A echo, B redis)"),
        ({"mode": "churn"}, "mode (A echo, B churn)"),
        ({"clients": 50}, "client count (A 100, B 50)"),
        ({"rate": 2000}, "open or closed loop (A closed loop, B open loop at 2,000/s)"),
    ],
)
def test_runs_that_differ_in_what_they_ran_are_diffed_with_a_warning(
    tcp_doc: dict[str, Any], config: dict[str, object], said: str
) -> None:
    other = _ran(tcp_doc, **config)
    assert differences([tcp_doc], [other]) == (
        f"A and B differ in {said}: the change is not the server's alone; diff like with like",
    )
    assert f"note: A and B differ in {said}" in render([tcp_doc], [other], ("a", "b"), "text")
    doc = json.loads(render([tcp_doc], [other], ("a", "b"), "json"))
    assert doc["differences"] == list(differences([tcp_doc], [other]))
    assert differences([tcp_doc], [copy.deepcopy(tcp_doc)]) == ()


def test_b_measuring_zero_has_no_factor(tcp_doc: dict[str, Any]) -> None:
    """mean(B) of 0 made a ratio of 0, and "how many times slower" a ZeroDivisionError."""
    [a], [b] = runs(tcp_doc, [60_000]), runs(tcp_doc, [60_000])
    b["totals"]["throughput_rps"] = 0.0
    req_s = render([a], [b], ("a", "b"), "text").split("req/s\n-----\n")[1].split("\n\n")[0]
    assert req_s.splitlines()[1].split()[-2:] == ["—", "n/a"]


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Three short real runs on the built-in asyncio server, saved as result files."""
    from tests.support.runs import run_result

    folder = tmp_path_factory.mktemp("real")
    made = {}
    for name, options in (
        ("echo", {}),
        ("stream", {"mode": "stream"}),
        ("udp", {"proto": "udp"}),
    ):
        result = run_result(clients=2, duration_s=0.5, warmup_s=0.0, **options)
        path = folder / f"{name}.json"
        path.write_text(json.dumps(result))
        made[name] = str(path)
    return made


@pytest.mark.e2e  # real runs, then `sockbench diff` in a process
def test_real_echo_and_stream_runs_are_refused_even_forced(real_runs: dict[str, str]) -> None:
    echo, stream = real_runs["echo"], real_runs["stream"]
    for args in ((echo, stream), (stream, echo), ("--force", echo, stream)):
        result = sockbench("diff", *args)
        assert result.returncode == 2, result.stdout
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("sockbench: error: A and B are not comparable: their modes differ")
        assert "Error" not in line


@pytest.mark.e2e  # real runs, then `sockbench diff` in a process
def test_real_tcp_and_udp_runs_are_diffed_with_a_warning(real_runs: dict[str, str]) -> None:
    result = sockbench("diff", real_runs["echo"], real_runs["udp"])
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "sockbench: warning: A and B differ in transport (A tcp, B udp): the change is not "
        "the server's alone; diff like with like"
    ]
    assert "req/s" in result.stdout


def test_a_sweep_is_refused_not_diffed_into_empty_tables() -> None:
    """A sweep.json read as one run matched nothing: a header, no table, exit 0."""
    from sockbench.report import load

    sweep = load(Path(__file__).resolve().parents[2] / "results" / "capacity-models")
    with pytest.raises(SockbenchError, match=r"^A is a sweep or search \(sweep.json\)"):
        render([sweep], [sweep], ("a", "b"), "text")
