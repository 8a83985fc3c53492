"""A protocol plugin that fails: refused before load where it can be told, else the run
stops as failed and still writes what it measured, with a warning naming the fault
(issue 33, item 2). Before, each of these ended in a traceback, exit 1 and no result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sockbench.core.exchange import RequestWindow, StreamExchange
from sockbench.core.protocols import ProtocolOptions, build_protocol
from sockbench.core.protocols.contract import ProtocolFault, fault_line
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.worker.workload import ProtocolMatcher
from sockbench.errors import ConfigError
from tests.support.builds import type_error
from tests.support.drivers import BOTH_DRIVERS
from tests.support.runs import run_engine

PLUGINS = """
NEED_MORE = 0


class Base:
    name = "p"

    def __init__(self, options):
        self.calls = 0

    def request(self, client, seq):
        return b"hello\\n"

    def check_reply(self, buf, start, end):
        nl = buf.find(b"\\n", start, end)
        return NEED_MORE if nl < 0 else nl + 1 - start


class RaisesLater(Base):
    def request(self, client, seq):
        self.calls += 1
        if self.calls > 3:
            raise RuntimeError("boom from plugin")
        return b"hello\\n"


class ReturnsStr(Base):
    def request(self, client, seq):
        self.calls += 1
        return b"hello\\n" if self.calls <= 2 else "hello\\n"


class ReturnsNone(Base):
    def request(self, client, seq):
        self.calls += 1
        return b"hello\\n" if self.calls <= 2 else None


class KindOut(Base):
    kinds = ("a", "b")

    def kind(self, client, seq):
        return "a"

    def kind_index(self, client, seq):
        self.calls += 1
        return 0 if self.calls <= 2 else 7


class KindNameOut(Base):
    kinds = ("a", "b")

    def kind(self, client, seq):
        self.calls += 1
        return "a" if self.calls <= 2 else "zzz"


class KindAtEnd(Base):
    kinds = ("a", "b")

    def kind(self, client, seq):
        return "a"

    def kind_index(self, client, seq):
        self.calls += 1
        return 0 if self.calls <= 2 else 2  # len(kinds): no kind's, counted under none


class KindsFromOut(KindAtEnd):
    def kind_index(self, client, seq):
        return 0

    def kinds_from(self, client, seq, count):
        self.calls += 1
        return [0] * count if self.calls <= 1 else [-1] * count


class OneMore(Base):
    def check_reply(self, buf, start, end):
        nl = buf.find(b"\\n", start, end)
        return NEED_MORE if nl < 0 else nl + 2 - start


class SetupLater(Base):
    def setup(self, connection):
        self.calls += 1
        if self.calls > 1:
            raise ValueError("no setup for you")
        return None


class FixedStr(Base):
    fixed = "hello\\n"


class FixedOther(Base):
    fixed = b"other\\n"


class KindOutAtOnce(Base):
    kinds = ("a",)

    def kind(self, client, seq):
        return "a"

    def kind_index(self, client, seq):
        return 3


class NegativeReplySize(Base):
    reply_size = -1


class InterruptsLater(Base):
    def request(self, client, seq):
        self.calls += 1
        if self.calls > 3:
            raise KeyboardInterrupt
        return b"hello\\n"


class ExitsAtInit(Base):
    def __init__(self, options):
        raise SystemExit(0)


class ExitsAtRequest(Base):
    def request(self, client, seq):
        raise SystemExit(0)
"""


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    path = tmp_path / "plugins.py"
    path.write_text(PLUGINS)
    return path


# --- refused before load: one line, exit 2 -------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("FixedStr", "fixed must be bytes or None, got str"),
        ("FixedOther", "fixed must be the one request it always returns"),
        ("KindOutAtOnce", "kind_index() returned 3, not an index into its 1 kinds"),
        ("NegativeReplySize", "reply_size must be a whole number of bytes, got -1"),
    ],
)
def test_what_can_be_checked_is_refused_when_the_protocol_is_built(
    plugins: Path, name: str, said: str
) -> None:
    with pytest.raises(ConfigError, match=r"^protocol .*: ") as caught:
        build_protocol(f"{plugins}:{name}", ProtocolOptions())
    assert said in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.unit
@pytest.mark.parametrize("code", [0, 3, "bye"])
def test_a_plugin_that_exits_at_import_is_a_config_error(tmp_path: Path, code: object) -> None:
    """SystemExit(0) ended sockbench silently with 0; SystemExit(3) read as a failed check."""
    path = tmp_path / "leaves.py"
    path.write_text(f"raise SystemExit({code!r})\n")
    with pytest.raises(ConfigError, match=r"leaves.py failed to load: SystemExit: "):
        build_protocol(f"{path}:X", ProtocolOptions())


@pytest.mark.unit
def test_a_plugin_that_exits_when_built_or_called_is_a_config_error(plugins: Path) -> None:
    with pytest.raises(ConfigError, match="failed to start: SystemExit: 0"):
        build_protocol(f"{plugins}:ExitsAtInit", ProtocolOptions())
    with pytest.raises(ConfigError, match="failed on its first request: SystemExit: 0"):
        build_protocol(f"{plugins}:ExitsAtRequest", ProtocolOptions())


@pytest.mark.unit
def test_the_exit_of_a_plugin_at_import_is_exit_2_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the CLI's entry, in this process (it fails before any load)."""
    from sockbench.cli import main

    path = tmp_path / "leaves.py"
    path.write_text("raise SystemExit(0)\n")
    argv = ["sockbench", "run", "--target", "tcp://127.0.0.1:9", "--protocol", f"{path}:X"]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == f"sockbench: error: protocol plugin {path} failed to load: SystemExit: 0"


# --- the exchange: a reply longer than the bytes it was given -------------------------


@pytest.mark.unit
def test_check_reply_past_the_bytes_it_was_given_is_a_protocol_fault() -> None:
    """It was a BufferError in the engine, a read or two later (the buffer's start past
    its end)."""
    window = RequestWindow(10**9, clients=1)
    window.set_times(0, 10**12, None)
    recorder = WorkerRecorder(1, window)
    ex = StreamExchange(
        window, recorder, ProtocolMatcher(lambda buf, start, end: end - start + 1), 6
    )
    ex.issue(10, 10)
    space = ex.space()
    space[:6] = b"hello\n"
    with pytest.raises(ProtocolFault, match="returned a reply of 7 bytes where it was given 6"):
        ex.received(6, 20)


@pytest.mark.unit
def test_a_plugins_kind_outside_its_kinds_is_a_protocol_fault(plugins: Path) -> None:
    """Checked in the plugin's adapter, not in the engine: built-ins' are not wrapped."""
    name = build_protocol(f"{plugins}:KindNameOut", ProtocolOptions())
    with pytest.raises(ProtocolFault, match=r"kind\(0, 2\) returned 'zzz', not one of its"):
        name.kind_index(0, 2)  # the smoke test's two calls were the good ones
    with pytest.raises(ProtocolFault, match=r"kind\(0, 3\) returned 'zzz'"):
        name.kinds_from(0, 3, 2)  # its batches too
    batched = build_protocol(f"{plugins}:KindsFromOut", ProtocolOptions())
    with pytest.raises(ProtocolFault, match=r"kinds_from\(0, 1, 2\) returned -1 among"):
        batched.batch_from(0, 1, 2, b"")
    redis = build_protocol("redis", ProtocolOptions())
    # (compiled, a lambda has no __qualname__: it is no wrapper of checked_kinds either)
    assert getattr(redis.kind_index, "__qualname__", "") != "checked_kinds.<locals>.kind_index"


@pytest.mark.unit
def test_the_fault_line_names_the_plugin_and_where_in_its_code(plugins: Path) -> None:
    adapter = build_protocol(f"{plugins}:RaisesLater", ProtocolOptions())
    for _ in range(2):  # the third call after the check's
        adapter.request(0, 0)
    with pytest.raises(RuntimeError) as caught:
        adapter.request(0, 0)
    line = fault_line(adapter, caught.value)
    assert line.startswith(f"the protocol plugin {plugins}:RaisesLater failed during the run:")
    assert "RuntimeError: boom from plugin (in request() at plugins.py:" in line
    # Raised by sockbench on what the plugin returned: no frame of the plugin's.
    assert "raised by sockbench on a value the protocol returned" in fault_line(
        adapter, TypeError("a bytes-like object is required, not 'str'")
    )


# --- during the run: stopped as failed, what was measured kept ------------------------

RUNTIME = [
    ("RaisesLater", "RuntimeError: boom from plugin (in request() at plugins.py:"),
    (
        "ReturnsStr",
        type_error(
            "TypeError: a bytes-like object is required, not 'str'",
            "TypeError: bytes object expected; got str",
        ),
    ),
    (
        "ReturnsNone",
        type_error(
            "TypeError: object of type 'NoneType' has no len()",
            "TypeError: bytes object expected; got None",
        ),
    ),
    ("KindOut", "returned 7, not an index into its 2 kinds"),
    # a kind outside ``kinds`` was counted under none and the run completed
    ("KindNameOut", "returned 'zzz', not one of its kinds ('a', 'b')"),
    ("KindAtEnd", "returned 2, not an index into its 2 kinds"),
    ("OneMore", "check_reply() returned a reply of 7 bytes where it was given 6"),
    ("SetupLater", "ValueError: no setup for you (in setup() at plugins.py:"),
    # not Ctrl-C (the run's handler makes that a stop): the plugin's own raise
    ("InterruptsLater", "KeyboardInterrupt (in request() at plugins.py:"),
]


@pytest.mark.e2e
@BOTH_DRIVERS
@pytest.mark.parametrize(("name", "said"), RUNTIME)
def test_a_plugin_failing_during_the_run_stops_it_as_failed_and_keeps_the_result(
    plugins: Path, name: str, said: str, batch: bool
) -> None:
    outcome = run_engine(
        protocol=f"{plugins}:{name}", clients=2, warmup_s=0, duration_s=5, batch=batch
    )
    result = outcome.result  # schema-valid, and every request accounted for (run_engine)
    assert result["status"] == "worker_failed"
    assert outcome.exit_code == 1
    assert result["duration_s"] < 4  # stopped at the fault, not at the window's end
    [first] = [w for w in result["warning_details"] if w["kind"] == "protocol_failed"]
    assert f"the protocol plugin {plugins}:{name}" in first["message"]
    assert said in first["message"]
    assert "docs/protocols.md" in first["advice"]


@pytest.mark.e2e
def test_every_worker_stops_and_the_command_writes_its_result(
    plugins: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    done = subprocess.run(
        [
            sys.executable, "-m", "sockbench", "run", "--quiet", "--protocol",
            f"{plugins}:RaisesLater", "--workers", "2", "--clients", "4", "--duration", "20",
            "--warmup", "0", "--out", "", "--json", str(out),
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    result = json.loads(out.read_text())
    assert result["status"] == "worker_failed"
    assert result["duration_s"] < 10  # both workers stopped, not only the first to fail
    totals = result["totals"]
    failed = sum(totals["requests_failed"].values())
    assert totals["requests_issued"] == totals["requests"] + failed + totals["in_flight"]
    [fault] = [w for w in result["warning_details"] if w["kind"] == "protocol_failed"]
    assert "boom from plugin" in fault["message"]
