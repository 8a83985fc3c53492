"""Bad input: one clear line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.refusals import refusal

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

FIXTURE = "tests/report/fixtures/result-tcp.json"
COMPARE_FIXTURE = "tests/report/fixtures/compare-small"
# Nothing listens at port 9 (discard): every case refused is refused before the preflight.
REDIS = ["run", "--protocol", "redis", "--target", "tcp://127.0.0.1:9"]
PLUGIN = ["run", "--protocol", "examples/kv_plugin.py:KeyValue", "--target", "tcp://127.0.0.1:9"]


def _sockbench(cmd: list[str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Refused by the option parser or sockbench's checks, before any load.
USAGE = [
    (["run", "--proto", "sctp"], "unknown --proto 'sctp'"),
    (["run", "--server", "nginx", "--duration", "1"], "unknown --server 'nginx'"),
    (["run", "--target", "tcp//127.0.0.1:80"], "malformed target"),
    (["run", "--target", "tcp://127.0.0.1"], "malformed target"),
    (["run", "--target", "tcp://192.0.2.1:80"], "not a loopback address"),
    (["run", "--clients", "0"], "--clients must be at least 1"),
    (["run", "--duration", "0"], "--duration must be greater than 0"),
    (["run", "--duration", "-3"], "--duration must be greater than 0"),
    (["run", "--proto", "udp", "--payload", "65508"], "over the datagram limit of 65507"),
    (["run", "--payload", "12x"], "malformed --payload"),
    (["run", "--socket-buffer", "0"], "--socket-buffer must be at least 1"),
    (["run", "--socket-buffer", "2G"], "--socket-buffer 2,147,483,648 is over 1 GiB"),
    (["run", "--socket-buffer", "lots"], "malformed --socket-buffer 'lots'"),
    (["run", "--workers", "1", "--clients", "30000"], "file descriptors"),
    (["run", "--clients", "lots"], "invalid value for '--clients'"),
    (["run", "--no-such-option"], "no such option"),
    (["run", "--protocol", "smtp"], "unknown --protocol 'smtp'"),
    (["run", "--protocol", "missing.py:P"], "protocol plugin missing.py: no such file"),
    (["run", "--protocol", "no_such_mod:P"], "no module named 'no_such_mod'"),
    (["run", "--protocol", "examples/kv_plugin.py:Nope"], "has no 'Nope'"),
    (["run", "--protocol", "redis", "--ratio", "1-10"], "malformed --ratio"),
    (["run", "--protocol", "redis", "--key-pattern", "X"], "unknown --key-pattern"),
    (
        ["run", "--protocol", "memcache", "--command", "GET __key__"],
        "--command applies to --protocol redis, not --protocol memcache",
    ),
    (["run", "--protocol", "redis", "--key-space", "0"], "--key-space must be"),
    (["run", "--protocol", "memcache", "--value-size", "0"], "--value-size must be"),
    (["run", "--protocol", "redis", "--send", "PING"], "makes its own requests"),
    (["run", "--protocol", "redis", "--proto", "udp"], "--protocol applies to"),
    (["run", "--protocol", "line", "--expect", "x", "--send", "y"], "checks its own replies"),
]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--proto", "sctp"], "unknown --proto 'sctp'"),  # the option parser's
        (["run", "--clients", "0"], "--clients must be at least 1"),  # sockbench's check
        (["run", "--no-such-flag"], "no such option"),  # typer's own
    ],
)
def test_bad_input_from_a_process_is_one_line_and_exit_2(
    sockbench_cmd: list[str], args: list[str], message: str
) -> None:
    proc = _sockbench(sockbench_cmd, *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message.lower() in lines[0].lower()
    assert lines[0].startswith("sockbench: error: ")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_refusing_target(sockbench_cmd: list[str], closed_port: int) -> None:
    proc = _sockbench(sockbench_cmd, "run", "--target", f"tcp://127.0.0.1:{closed_port}")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    said = re.fullmatch(
        f"sockbench: error: cannot connect to tcp://127.0.0.1:{closed_port}: connection "
        r"refused \(tried 5 times over (\d+) ms\)",
        line,
    )
    assert said is not None, line
    assert 800 <= int(said[1]) < 5000  # the time it took: four pauses of 0.2 s, and more


def test_a_tls_target_that_never_answers_the_handshake_is_one_line_at_once(
    sockbench_cmd: list[str], busy_port: int
) -> None:
    """The kernel accepts the connection (the socket listens) and nothing answers the
    ClientHello, as a plain server waits for its first line: one attempt's timeout, not
    five, the likely cause, and none of OpenSSL's ``_ssl.c:989:``."""
    started = time.monotonic()
    proc = _sockbench(
        sockbench_cmd, "run", "--target", f"tls://127.0.0.1:{busy_port}", "--tls-insecure",
        "--out", "", "-d", "1s", "--warmup", "0",
    )  # fmt: skip
    took = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"sockbench: error: TLS handshake with tls://127.0.0.1:{busy_port} timed out: the "
        "server accepted the TCP connection but did not answer the handshake in 2 s, as a "
        f"server that does not speak TLS does; if it speaks plain TCP, use "
        f"tcp://127.0.0.1:{busy_port}"
    ]
    assert took < 8, took  # five attempts took 11 s


def test_refusing_udp_target(sockbench_cmd: list[str], closed_port: int) -> None:
    proc = _sockbench(sockbench_cmd, "run", "--target", f"udp://127.0.0.1:{closed_port}")
    assert proc.returncode == 2
    assert "nothing listens there" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_serve_on_a_bind_address_in_use(sockbench_cmd: list[str], busy_port: int) -> None:
    proc = _sockbench(sockbench_cmd, "serve", "--bind", f"127.0.0.1:{busy_port}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "in use" in lines[0]


def test_serve_unknown_model(sockbench_cmd: list[str]) -> None:
    proc = _sockbench(sockbench_cmd, "serve", "--server", "nope", "--bind", "127.0.0.1:0")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "sockbench: error: unknown --server 'nope'; choose one of threaded, threadpool, "
        "selectors, asyncio, uvloop, trio, prefork"
    ]


def test_serve_model_is_its_old_spelling(sockbench_cmd: list[str]) -> None:
    """``serve --model`` is ``--server`` now, as in run and compare: it still works, with a
    one-line warning, and an error names the flag typed."""
    proc = _sockbench(sockbench_cmd, "serve", "--model", "nope", "--bind", "127.0.0.1:0")
    assert proc.returncode == 2
    warning, error = proc.stderr.strip().splitlines()
    assert warning == "sockbench: warning: --model is deprecated; use --server"
    assert "unknown --model 'nope'; choose one of threaded" in error


#: Every bad input the reliability probe found (issue 15): bounds, non-finite numbers,
#: mismatched source addresses and unusable output paths. All refused before any load.
OUT_OF_BOUNDS = [
    (["run", "--payload", "100g"], "over the stream message limit of 16 MiB"),
    (["run", "--send-file", "/dev/zero"], "--send-file /dev/zero is not a regular file"),
    (["run", "--send-file", "/nonexistent/x"], "cannot read --send-file"),
    (["run", "--clients", "1000000000"], "--clients 1,000,000,000 is over the limit"),
    (["run", "--clients", "1000", "--workers", "999"], "pass --force"),
    (["run", "--clients", "900000"], "pass --force"),
    (["run", "--duration", "inf"], "--duration must be a finite number"),
    (["run", "--duration", "1e300"], "--duration 1e+300 s is over the limit"),
    (["run", "--warmup", "nan"], "--warmup must be a finite number"),
    (["run", "--warmup", "inf"], "--warmup must be a finite number"),
    (["run", "--warmup", "-1"], "--warmup cannot be negative"),
    (["run", "--timeout", "inf"], "--timeout must be a finite number"),
    (["run", "--timeout", "0"], "--timeout must be greater than 0"),
    (["run", "--interval", "inf"], "--interval must be a finite number"),
    (["run", "--interval", "1e-10"], "--interval must be at least 0.1 s"),
    (["run", "--interval", "1e-3"], "--interval must be at least 0.1 s"),
    (["run", "--rate", "inf"], "--rate must be a finite number"),
    (["run", "--rate", "2e9"], "over the limit of 100,000,000"),
    (["run", "--rate", "1e-9"], "--rate must be at least 0.01"),
    (["run", "--rate", "nan"], "--rate must be"),
    (["run", "--send", "x", "--expect-size", "1000000000000"], "--expect-size 1000000000000"),
    (["run", "--source-ips", "::1"], "is IPv6 and the embedded server"),
    (["run", "--proto", "unix", "--source-ips", "127.0.0.2"], "not Unix sockets"),
    (["run", "--json", "/"], "is a folder; give a file name"),
    (["run", "--json", "/dev/null/x"], "cannot write --json"),
    (["run", "--out", "/dev/null"], "exists and is not a folder"),
    (["run", "--export", "pdf=r.pdf"], "unknown --export format 'pdf' in 'pdf=r.pdf'"),
    (["run", "--export", "html"], "--export wants FORMAT=FILE (html=report.html)"),
    (["run", "--export", "html=/dev/null/x"], "cannot write --export /dev/null/x"),
    (["run", "--export", "md=r", "--export", "csv=r"], "write the same file"),
    (["compare", "--export", "md=r.md"], "no such option: --export"),
    (["run", "--json", "r", "--export", "md=r"], "--json r and --export md=r write the same"),
    (["run", "--repeat", "0"], "--repeat must be between 1 and 100, got 0"),
    (["run", "--repeat", "101"], "--repeat must be between 1 and 100, got 101"),
    (["run", "--repeat", "2", "-J"], "--repeat 2 writes 2 results, not one JSON on stdout"),
    (["compare", "--repeat", "0"], "--repeat must be between 1 and 100, got 0"),
    (["sweep", "--rate", "1k", "--repeat", "2"], "no such option: --repeat"),
    (["compare", "--duration", "inf"], "--duration must be a finite number"),
    (["compare", "--warmup", "nan"], "--warmup must be a finite number"),
    (["compare", "--clients", "10", "--workers", "999"], "--workers 999"),
    (["report", "/nonexistent.json"], "no such file or folder"),
    # report's and diff's options are checked before any file is read
    (["report", "r.json", "-f", "pdf"], "unknown --format 'pdf'; choose one of text, md,"),
    (["diff", "a", "b", "--format", "csv"], "unknown --format 'csv'; choose one of text,"),
    (["diff", "a", "b", "c"], "diff takes two paths, A and B (got 3)"),
    (["diff", "a", "--vs"], "give at least one path on each side of --vs"),
    # sweep and search: their own options, and every run option, before any load
    (["sweep"], "sweep needs --rate"),
    (["sweep", "--rate", "1k:2k"], "is not a range: give start:stop:step"),
    (["sweep", "--rate", "1:100k:1"], "more than 200 rates"),
    (["sweep", "--rate", "1k,2k", "--slo", "p99 < 5 parsecs"], "--check 'p99 < 5 parsecs'"),
    (["sweep", "--rate", "1k", "--clients", "0"], "--clients must be at least 1"),
    (["sweep", "--rate", "1k", "--stop-after-fail", "-1"], "--stop-after-fail"),
    (["sweep", "--rate", "1k", "--check", "p99 < 1ms"], "no such option: --check"),
    (["search"], "search needs at least one --slo"),
    (["search", "--slo", "p42x < 1ms"], "unknown metric 'p42x'"),
    (["search", "--slo", "p99 < 1ms", "--rate-min", "0"], "--rate-min must be greater"),
    (
        ["search", "--slo", "p99 < 1ms", "--rate-min", "5k", "--rate-max", "1k"],
        "--rate-max 1000 is below --rate-min 5000",
    ),
    (["search", "--slo", "p99 < 1ms", "--precision", "150%"], "--precision must be under"),
    (["search", "--slo", "p99 < 1ms", "--rate", "1k"], "no such option: --rate"),
    (["compare", "--capacity", "p99 < 1ms", "--sweep", "1k"], "not both"),
    (["compare", "--capacity", "p99 < 1ms", "--repeat", "2"], "drop --repeat"),
    (["compare", "--capacity", "p99 < fast"], "invalid value for '--check': 'fast'"),
    (["compare", "--sweep", "1k:2k:x0.5"], "above x1"),
    (
        ["compare", "--capacity", "p99 < 1ms", "--rate-min", "5k", "--rate-max", "1k"],
        "--rate-max 1000 is below",
    ),
    # issue 33: tracebacks (non-finite counts, a NaN drain after the server started,
    # an unopenable log file), unbounded value sizes, checks that could never fail
    # or never pass, and a server open to other hosts
    (["run", "-c", "inf"], "invalid value for '--clients': 'inf'"),
    (["run", "-c", "nan"], "invalid value for '--clients': 'nan'"),
    (["run", "--seed", "inf"], "invalid value for '--seed': 'inf'"),
    (["run", "--drain", "nan"], "--drain must be a finite number"),
    (["run", "--drain", "1e9"], "--drain 1e+09 s is over the limit of 3600 s"),
    (["run", "--log-file", "/"], "--log-file '/': cannot open it (is a directory)"),
    (["run", "--log-file", "/nonexistent/x.log"], "cannot open it (no such file"),
    (["serve", "--log-file", "/"], "--log-file '/': cannot open it"),
    (["search", "--slo", "p99 < 1ms", "--log-file", "/"], "--log-file '/': cannot open"),
    (
        ["run", "--protocol", "redis", "--value-size", "100g"],
        "--value-size 107374182400 is over the stream message limit of 16 MiB",
    ),
    (["run", "--protocol", "memcache", "--value-size", "17m"], "limit of 16 MiB"),
    (["compare", "--payload", "64,100g"], "--payload 107374182400 is over the stream"),
    (
        ["run", "--check", "errors.timout == 0"],
        "unknown error kind 'timout'; did you mean errors.timeout?",
    ),
    (["search", "--slo", "errors.refussed < 1"], "unknown error kind 'refussed'"),
    (["run", "--check", "p99 < -1ms"], "the threshold is negative"),
    # checks the run cannot measure: they ran the load, then exit 3 "nothing measured"
    (["run", "--check", "p99 < 0ms"], "no measured value is below 0"),
    (["compare", "--check", "errors < 0"], "no measured value is below 0"),
    (["run", "--check", "kind.get.p99 < 1ms"], "--protocol echo has one kind of request"),
    (["compare", "--check", "kind.get.p99 < 1ms"], "--protocol echo has one kind"),
    (["run", "--check", "hits > 0"], "--protocol echo counts no hits or misses"),
    (["compare", "--check", "misses == 0"], "--protocol echo counts no hits or misses"),
    (
        [*REDIS, "--check", "kind.gets.p99 < 1ms"],
        "--protocol redis has no kind of request 'gets'; its kinds are set, get",
    ),
    (
        [*PLUGIN, "--check", "kind.get.p99 < 1ms"],
        "has no kind of request 'get'; its kinds are put, fetch",
    ),
    # two things a program reads on stdout: the result JSON and the jsonl stream
    (["run", "-J", "--format", "jsonl"], "-J and --format jsonl both write to stdout"),
    (["run", "--json", "-", "--format", "jsonl"], "--json - and --format jsonl both write"),
    (["run", "--check", "rps >= nan"], "the threshold must be a finite number"),
    (["run", "--check", "loss < inf%"], "the threshold must be a finite number"),
    (["serve", "--bind", "0.0.0.0:0"], "--bind 0.0.0.0 listens on every interface"),
    (["serve", "--bind", "[::]:0"], "--bind :: listens on every interface"),
    (["serve", "--proto", "udp", "--bind", "0.0.0.0:0"], "pass --allow-remote"),
    (["serve", "--bind", "192.0.2.1:0"], "192.0.2.1 listens on a non-loopback address"),
    (["diff", FIXTURE, FIXTURE, "-o", "/"], "-o / is a folder; give a file name"),
    (["diff", FIXTURE, FIXTURE, "-o", "/proc/sockbench-x.md"], "kernel's proc filesystem"),
    (["run", "--json", "/proc/version"], "/proc is on the kernel's proc filesystem"),
    (["run", "--out", "/sys/sockbench-x"], "/sys is on the kernel's sysfs filesystem"),
    # options that did not apply, accepted and ignored: the run went on without them
    (["run", "--requests", "50", "--mode", "stream"], "--mode stream sends none"),
    (
        ["run", "--mode", "stream", "--format", "hgrm"],
        "--format hgrm: a stream (--mode stream) times no requests",
    ),
    (
        ["run", "--mode", "stream", "--export", "hgrm=x.hgrm"],
        "--export hgrm=x.hgrm: a stream (--mode stream) times no requests",
    ),
    (["run", "--ratio", "1:1"], "--ratio applies to --protocol redis or memcache (or a "
     "plugin), not --protocol echo"),
    (["run", "--zipf", "0"], "--zipf applies to --protocol redis or memcache"),
    (["run", "--zipf", "5"], "--zipf applies to --protocol redis or memcache"),
    (["run", "--key-prefix", ""], "--key-prefix applies to --protocol redis or memcache"),
    (["run", "--http-method", "GET"], "--http-method applies to --protocol http, not "
     "--protocol echo"),
    ([*REDIS, "--header", "A: b"], "--header applies to --protocol http, not --protocol "
     "redis"),
    (["run", "--protocol", "http", "--target", "tcp://127.0.0.1:9", "--key-space", "5"],
     "--key-space applies to --protocol redis or memcache (or a plugin), not --protocol "
     "http"),
    (["sweep", "--rate", "1k", "--ratio", "1:1"], "--ratio applies to --protocol redis"),
    ([*REDIS, "--zipf", "0"], "--zipf must be between 0 and 5"),
    ([*REDIS, "--zipf", "5"], "--zipf must be between 0 and 5"),
    (["compare", "--rate-max", "1k"], "--rate-max applies to compare --capacity EXPR"),
    (["compare", "--stop-after-fail", "-1"], "--stop-after-fail applies to compare --sweep"),
    (["compare", "--sweep", "1k", "--rate-min", "1k"], "--rate-min applies to compare "
     "--capacity"),
    ([*REDIS, "--payload", "1k"], "--payload applies to --protocol echo, line or "
     "length-prefixed (or a plugin), not --protocol redis"),
    (["run", "--target", ""], "--target is empty: give tcp://HOST:PORT"),
    (["run", "--server", ""], "--server is empty: give a server model"),
    (["serve", "--server", " "], "--server is empty: give a server model"),
    (["serve", "--bind", ""], "--bind is empty: give HOST:PORT or a Unix socket path"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), [*USAGE, *OUT_OF_BOUNDS])
def test_bad_input_is_one_line_and_exit_2(
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert message.lower() in refusal(args, monkeypatch, capsys).lower()


def test_source_ips_of_the_other_family_than_the_target(
    sockbench_cmd: list[str], busy_port: int
) -> None:
    proc = _sockbench(sockbench_cmd, "run", "--target", f"tcp://127.0.0.1:{busy_port}",
                      "--source-ips", "::1")  # fmt: skip
    assert proc.returncode == 2
    assert "is IPv6 and tcp://127.0.0.1" in proc.stderr


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"schema": "sockbench.result/1", "totals": 3, "latency_us": []}'],
)
def test_report_on_a_damaged_file(sockbench_cmd: list[str], tmp_path: Path, content: str) -> None:
    path = tmp_path / "result.json"
    path.write_text(content)
    proc = _sockbench(sockbench_cmd, "report", str(path))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("sockbench: error: ")


@pytest.mark.parametrize("where", ["folder", "missing-parent-file"])
def test_report_output_to_a_bad_path(sockbench_cmd: list[str], tmp_path: Path, where: str) -> None:
    fixture = "tests/report/fixtures/result-tcp.json"
    out = tmp_path if where == "folder" else tmp_path / "f" / "x.md"
    if where != "folder":
        (tmp_path / "f").write_text("a file, not a folder")
    proc = _sockbench(sockbench_cmd, "report", fixture, "-o", str(out))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def _in_process(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[object, list[str]]:
    """``sockbench ARGS`` in this process: its exit code and its stderr's lines."""
    from sockbench.cli import main

    monkeypatch.setattr("sys.argv", ["sockbench", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, capsys.readouterr().err.strip().splitlines()


def _damaged(tmp_path: Path, name: str, change: Callable[[dict[str, Any]], object]) -> str:
    source = COMPARE_FIXTURE + "/results.json" if name.startswith("compare") else FIXTURE
    doc = json.loads(Path(source).read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _corrupt_histogram(doc: dict[str, Any]) -> None:
    doc["latency_us"]["histogram"] = doc["latency_us"]["histogram"][:60]


_HISTOGRAM_DAMAGED = "histogram.json: latency_us.histogram: not a readable HdrHistogram encoding"


@pytest.mark.parametrize(
    ("name", "change", "command", "message"),
    [
        # checked on loading: the same line whatever the format, never an exception's name
        ("histogram", _corrupt_histogram, ["report", "-f", "html"], _HISTOGRAM_DAMAGED),
        ("histogram", _corrupt_histogram, ["report", "-f", "hgrm"], _HISTOGRAM_DAMAGED),
        ("histogram", _corrupt_histogram, ["report", "-f", "csv"], _HISTOGRAM_DAMAGED),
        ("histogram", _corrupt_histogram, ["diff", FIXTURE], _HISTOGRAM_DAMAGED),
        ("compare-int", lambda d: d.update(cells=[1, "x"]), ["diff", COMPARE_FIXTURE], "cell 0"),
        ("compare-list", lambda d: d.update(cells=[[]]), ["report"], "cell 0 is a list"),
        (
            "compare-junk",
            lambda d: d["cells"][0].update(cell={"model": "m", "clients": "abc"}),
            ["diff", COMPARE_FIXTURE],
            'cells[0].cell.clients: expected an integer, got "abc"',
        ),
    ],
)
def test_a_damaged_document_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    change: Callable[[dict[str, Any]], object],
    command: list[str],
    message: str,
) -> None:
    path = _damaged(tmp_path, name, change)
    code, lines = _in_process([*command, path], monkeypatch, capsys)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("sockbench: error: ")
    assert message in lines[0], lines[0]


@pytest.mark.parametrize("command", [["report"], ["diff", FIXTURE]])
def test_deeply_nested_json_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    path = tmp_path / "deep.json"
    depth = 100_000  # past Python's recursion limit: json.loads raised RecursionError
    path.write_text('{"schema": "sockbench.result/1", "x": ' + "[" * depth + "]" * depth + "}")
    code, lines = _in_process([*command, str(path)], monkeypatch, capsys)
    assert code == 2, lines
    assert lines == [f"sockbench: error: {path}: JSON nested too deeply to be a sockbench result"]


@pytest.mark.skipif(
    not os.path.exists("/dev/full") or not stat.S_ISCHR(os.stat("/dev/full").st_mode),
    reason="needs /dev/full",
)
@pytest.mark.parametrize("command", [["report", FIXTURE], ["diff", FIXTURE, FIXTURE]])
def test_output_onto_a_full_device_is_one_line_and_exit_74(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """ENOSPC while writing ``-o``: one line and 74, the code of a result not written; and
    the device is written through, never replaced (diff's -o used to rename over it)."""
    code, lines = _in_process([*command, "-o", "/dev/full"], monkeypatch, capsys)
    assert code == 74, lines
    assert lines == ["sockbench: error: cannot write -o /dev/full: No space left on device"]
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
