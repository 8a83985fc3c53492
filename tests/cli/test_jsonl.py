"""``--format jsonl``: each measured interval a line of docs/intervals.schema.json, with
its wall-clock time and its place in the window; warm-up and ramp ticks left out."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

from sockbench.cli.lines import JsonLines, interval_line
from sockbench.core.progress import EXPORTED, OTHER_PHASES_ONLY, Tick
from sockbench.core.records.intervals import IntervalLine

pytestmark = pytest.mark.unit  # a StringIO, no process

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "intervals.schema.json").read_text(encoding="utf-8")
)


def _tick(phase: str = "measuring", elapsed_s: float = 3.5, **kw: object) -> Tick:
    values: dict[str, object] = dict(
        phase=phase, elapsed_s=elapsed_s, remaining_s=1.5, requests=41_152, rps=20_576.0,
        p99_us=1230, errors=3, connections=100, by_kind=(("set", 1_870.5, 850),),
    )  # fmt: skip
    values.update(kw)
    return Tick(**values)  # type: ignore[arg-type]


def test_a_line_has_its_wall_clock_time_and_seconds_into_the_window() -> None:
    line = interval_line(_tick(elapsed_s=3.5), window_after_s=2.0, now_s=1_796_000_000.25)
    assert line["time"] == "2026-11-30T00:53:20.250+00:00"
    assert datetime.fromisoformat(str(line["time"])).timestamp() == 1_796_000_000.25
    assert line["window_s"] == 1.5
    assert line["requests"] == 41_152 and line["phase"] == "measuring"


def test_every_line_is_valid_against_the_published_schema() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    validator.check_schema(SCHEMA)
    sink = io.StringIO()
    lines = JsonLines(sink, window_after_s=1.0)
    lines(_tick())
    lines(_tick(by_kind=(), p99_us=0, rps=0.0))
    lines(_tick(by_kind=(("get", 10.0, 80),), hits=9, misses=1))  # keys read (redis GETs)
    for text in sink.getvalue().splitlines():
        validator.validate(json.loads(text))
    validator.validate({"type": "result", "result": {"schema": "sockbench.result/1"}})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"type": "interval", "phase": "warmup"})


def test_the_schema_names_every_field_of_a_tick() -> None:
    published = IntervalLine.__required_keys__ | IntervalLine.__optional_keys__
    # but those that go to --metrics-port, or only a warm-up or drain tick has, not to a line
    left_out = set(EXPORTED) | set(OTHER_PHASES_ONLY)
    assert {f.name for f in dataclasses.fields(Tick)} - left_out <= published
    assert set(interval_line(_tick(), 0.0, 0.0)) <= published


@pytest.mark.parametrize("phase", ["warmup", "ramp", "draining"])
def test_warm_up_ramp_and_drain_ticks_are_left_out_they_are_no_interval(phase: str) -> None:
    sink = io.StringIO()
    JsonLines(sink, window_after_s=2.0)(_tick(phase=phase, elapsed_s=1.0, requests=0, rps=0.0))
    assert sink.getvalue() == ""
