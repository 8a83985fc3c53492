"""Running a plan with a stand-in engine: failures, Ctrl-C, repeats, saturation, files."""

from __future__ import annotations

import copy
import csv
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from sockbench.compare import build_plan, run_compare
from sockbench.compare.summary import repeat_stats
from sockbench.core.progress import ProgressFn
from sockbench.core.spec.run import RunSpec
from sockbench.engine.orchestration.runner import RunOutcome
from sockbench.errors import SockbenchError

pytestmark = pytest.mark.slow  # writes whole compare folders, charts included: make unit skips it

FIXTURE = Path(__file__).parents[1] / "report" / "fixtures" / "compare-small" / "results.json"
TEMPLATES = {c["config"]["proto"]: c for c in json.loads(FIXTURE.read_text())["cells"]}


class FakeEngine:
    """Returns stored results shaped like runner.run's, and pins itself like it."""

    def __init__(
        self,
        fail: frozenset[int] = frozenset(),
        stop_at: int = 0,
        ctrl_c_at: int = 0,
        saturated: frozenset[int] = frozenset(),
        crash: frozenset[int] = frozenset(),
        sigterm_at: int = 0,
    ) -> None:
        self.sigterm_at = sigterm_at
        self.calls: list[RunSpec] = []
        self.fail, self.stop_at, self.ctrl_c_at = fail, stop_at, ctrl_c_at
        self.saturated, self.crash = saturated, crash

    def __call__(
        self,
        config: RunSpec,
        *,
        command: str,
        progress: ProgressFn | None = None,
        interrupts: object = None,
    ) -> RunOutcome:
        self.calls.append(config)
        n = len(self.calls)
        if config.sizing.client_cpus:
            os.sched_setaffinity(0, config.sizing.client_cpus)
        if n == self.ctrl_c_at:
            raise KeyboardInterrupt
        if n == self.sigterm_at:
            os.kill(os.getpid(), signal.SIGTERM)
        if n in self.fail:
            raise SockbenchError("server model 'threaded' exited (code 1) before it was ready")
        if n in self.crash:
            raise OSError(24, "Too many open files")
        result = copy.deepcopy(TEMPLATES[config.proto.value])
        result.pop("cell", None)
        result["config"] = config.to_json()
        result["server"]["model"] = config.server_name
        result["command"] = command
        result["totals"]["throughput_rps"] = 1000.0 * n
        result["generator"]["saturated"] = n in self.saturated
        status, code = ("interrupted", 130) if n == self.stop_at else ("completed", 0)
        result["status"] = status
        return RunOutcome(result, None, code)


def _plan(repeat: int = 1, clients: str = "5,60") -> Any:
    return build_plan(
        {
            "server_model": "threaded,asyncio",
            "proto": "tcp",
            "clients": clients,
            "duration_s": 1,
            "warmup_s": 0,
            "repeat": repeat,
        }
    )


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_writes_every_file_and_restores_affinity(tmp_path: Path) -> None:
    before = os.sched_getaffinity(0)
    plan = _plan()
    engine = FakeEngine()
    seen: list[int] = []
    outcome = run_compare(
        plan, tmp_path / "cmp", command="sockbench compare", run=engine,
        after_cell=lambda cell, result: seen.append(cell.index),
    )  # fmt: skip
    assert os.sched_getaffinity(0) == before
    assert outcome.exit_code == 0 and not outcome.interrupted
    assert seen == [1, 2, 3, 4]
    names = _files(outcome.folder)
    assert {"results.json", "summary.csv", "report.md", "report.html"} <= names
    assert {f"{c.stem}.hgrm" for c in plan.cells} <= names
    doc = json.loads((outcome.folder / "results.json").read_text())
    assert doc["schema"] == "sockbench.compare/1" and doc["status"] == "completed"
    assert [c["cell"]["index"] for c in doc["cells"]] == [1, 2, 3, 4]
    with (outcome.folder / "summary.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 4


def test_failed_cells_are_kept_and_the_compare_goes_on(tmp_path: Path) -> None:
    engine = FakeEngine(fail=frozenset({2}), crash=frozenset({3}))
    outcome = run_compare(_plan(), tmp_path / "cmp", command="c", run=engine)
    cells = outcome.doc["cells"]
    assert len(engine.calls) == 4 and len(cells) == 4
    assert [c["status"] for c in cells] == [
        "completed", "server_died", "worker_failed", "completed",
    ]  # fmt: skip
    assert "exited (code 1)" in cells[1]["cell"]["error"]
    assert "Too many open files" in cells[2]["cell"]["error"]
    assert cells[1]["totals"]["requests"] == 0
    assert outcome.exit_code == 1
    md = (outcome.folder / "report.md").read_text()
    # Markdown escapes the underscores; the failure and its reason are both in the report.
    assert "server\\_died" in md and "worker\\_failed" in md
    assert "measured nothing" in md


def test_an_interrupted_cell_stops_the_matrix(tmp_path: Path) -> None:
    before = os.sched_getaffinity(0)
    engine = FakeEngine(stop_at=2)
    outcome = run_compare(_plan(), tmp_path / "cmp", command="c", run=engine)
    assert outcome.interrupted and outcome.exit_code == 130
    assert len(engine.calls) == 2
    doc = json.loads((outcome.folder / "results.json").read_text())
    assert doc["status"] == "interrupted"
    assert [c["status"] for c in doc["cells"]] == ["completed", "interrupted"]
    assert (outcome.folder / "report.html").is_file()
    assert os.sched_getaffinity(0) == before


def test_ctrl_c_outside_a_run_keeps_the_cells_done(tmp_path: Path) -> None:
    engine = FakeEngine(ctrl_c_at=3)
    outcome = run_compare(_plan(), tmp_path / "cmp", command="c", run=engine)
    assert outcome.interrupted and outcome.exit_code == 130
    assert len(outcome.doc["cells"]) == 2
    assert len(list(outcome.folder.glob("*.hgrm"))) == 2


def test_sigterm_between_cells_stops_like_ctrl_c(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    outcome = run_compare(_plan(), tmp_path / "cmp", command="c", run=FakeEngine(sigterm_at=2))
    # The cell the signal came in is kept (the engine stops it), no further cell runs,
    # and the exit code is the shell's for SIGTERM.
    assert outcome.interrupted and outcome.exit_code == 143
    assert len(outcome.doc["cells"]) == 2
    assert signal.getsignal(signal.SIGTERM) == before


def test_reports_can_be_rewritten_from_results_json(tmp_path: Path) -> None:
    from sockbench.compare import rewrite_reports

    outcome = run_compare(_plan(repeat=2, clients="5"), tmp_path / "cmp", command="c",
                          run=FakeEngine())  # fmt: skip
    md = outcome.folder / "report.md"
    first = md.read_text()
    md.unlink()
    rewrite_reports(outcome.folder)
    assert md.read_text() == first


def test_repeats_give_median_and_spread(tmp_path: Path) -> None:
    plan = _plan(repeat=3, clients="5")
    outcome = run_compare(plan, tmp_path / "cmp", command="c", run=FakeEngine())
    cells = outcome.doc["cells"]
    assert sorted((c["cell"]["model"], c["cell"]["repeat"]) for c in cells) == [
        (m, r) for m in ("asyncio", "threaded") for r in (1, 2, 3)
    ]
    stats = {e["model"]: e for e in outcome.doc["repeats"]}
    rps = {m: sorted(1000.0 * (i + 1) for i, c in enumerate(cells)
                     if c["cell"]["model"] == m) for m in stats}  # fmt: skip
    for model, values in rps.items():
        spread = stats[model]["throughput_rps"]
        assert (spread["median"], spread["min"], spread["max"]) == (values[1], values[0], values[2])
        assert spread["mean"] == pytest.approx(sum(values) / 3)
        assert spread["ci95_low"] <= spread["mean"] <= spread["ci95_high"]
        assert stats[model]["repeats"] == stats[model]["completed"] == 3
    md = (outcome.folder / "report.md").read_text()
    assert "## Significance" in md
    assert md.index("## Significance") < md.index("## Environment")
    html = (outcome.folder / "report.html").read_text()
    assert 'data-section="significance"' in html
    assert html.index('data-section="significance"') < html.index('data-section="environment"')


def test_repeat_stats_skip_cells_that_did_not_complete(tmp_path: Path) -> None:
    outcome = run_compare(
        _plan(repeat=2, clients="5"),
        tmp_path / "cmp",
        command="c",
        run=FakeEngine(fail=frozenset({1})),
    )
    entries = repeat_stats(outcome.doc)
    failed_model = outcome.doc["cells"][0]["cell"]["model"]
    entry = next(e for e in entries if e["model"] == failed_model)
    assert entry["repeats"] == 2 and entry["completed"] == 1
    assert entry["throughput_rps"]["min"] == entry["throughput_rps"]["max"]


def test_saturated_generator_is_called_out(tmp_path: Path) -> None:
    outcome = run_compare(
        _plan(), tmp_path / "cmp", command="c", run=FakeEngine(saturated=frozenset({1, 4}))
    )
    md = (outcome.folder / "report.md").read_text()
    assert md.count("## Generator saturated") == 1 and "## Significance" not in md
    assert "measured the load generator, not the server" in md
    assert "--workers" in md and "fewer --clients" in md
    assert "2 of 4" in md


@pytest.mark.parametrize("existing", ["file.txt", None])
def test_out_must_be_new_or_empty(tmp_path: Path, existing: str | None) -> None:
    from sockbench.compare import choose_folder
    from sockbench.errors import ConfigError

    target = tmp_path / "out"
    target.mkdir()
    if existing:
        (target / existing).write_text("x")
        with pytest.raises(ConfigError, match="not an empty folder"):
            choose_folder(str(target))
    else:
        assert choose_folder(str(target)) == target
    default = choose_folder(None, base=str(tmp_path))
    assert default.name.startswith("compare-") and default.parent == tmp_path
