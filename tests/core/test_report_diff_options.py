"""`report` and `diff` read their options from declarations, as run does: the format
names are core's one list, a bad value is one ConfigError line, and the typer command's
parameters are generated from the declarations."""

from __future__ import annotations

import pytest
import typer.main
from typer.core import TyperArgument, TyperGroup, TyperOption

from sockbench.cli import app
from sockbench.core.spec.commands import options_for
from sockbench.core.spec.diff import DiffOptions, parse_diff
from sockbench.core.spec.formats import DiffFormat, ReportFormat
from sockbench.core.spec.option import CommandName, values_of
from sockbench.core.spec.output import FORMAT_CHOICES
from sockbench.core.spec.report import ReportOptions, parse_report
from sockbench.core.spec.scenario import CONFIG
from sockbench.errors import ConfigError
from sockbench.report import EXTENSIONS, FORMATS
from sockbench.report import diff as diff_report

pytestmark = pytest.mark.unit


def test_the_declarations_are_the_commands_options() -> None:
    report = {o.name: o for o in options_for("report")}
    diff = {o.name: o for o in options_for("diff")}
    assert list(report) == ["path", "fmt", "output"]
    assert list(diff) == ["paths", "fmt", "output", "force"]
    assert report["path"].positional and diff["paths"].positional and diff["paths"].repeatable
    assert report["fmt"].flags == diff["fmt"].flags == ("--format", "-f")
    assert report["output"] == diff["output"]  # one declaration, both commands
    assert report["output"].flags == ("--output", "-o")
    assert diff["force"].flags == ("--force",) and diff["force"].is_switch


def test_each_format_vocabulary_is_one_list() -> None:
    """The options' choices, the renderers and run's --format all read core's names."""
    [report_fmt] = [o for o in options_for("report") if o.name == "fmt"]
    [diff_fmt] = [o for o in options_for("diff") if o.name == "fmt"]
    assert report_fmt.choices == values_of(ReportFormat) == tuple(FORMATS) == tuple(EXTENSIONS)
    assert diff_fmt.choices == values_of(DiffFormat) == diff_report.FORMATS
    assert set(values_of(ReportFormat)) < set(FORMAT_CHOICES)  # run --format renders them too


def test_report_parses_to_its_record() -> None:
    assert parse_report({"path": "r.json"}) == ReportOptions("r.json", ReportFormat.TEXT, None)
    parsed = parse_report({"path": "r.json", "fmt": " MD ", "output": "-"})
    assert (parsed.fmt, parsed.output) == (ReportFormat.MD, "-")


def test_diff_parses_to_its_sides() -> None:
    spec = parse_diff({"paths": ["a1", "a2", "--vs", "b1"], "force": True, "fmt": "json"})
    assert (spec.a, spec.b) == (("a1", "a2"), ("b1",))
    assert spec.options == DiffOptions(("a1", "a2", "--vs", "b1"), DiffFormat.JSON, None, True)
    assert parse_diff({"paths": ("a", "b")}).options.fmt == DiffFormat.TEXT


@pytest.mark.parametrize(
    ("parse", "values", "message"),
    [
        (parse_report, {"path": "r.json", "fmt": "pdf"},
         "unknown --format 'pdf'; choose one of text, md, csv, hgrm, html"),
        (parse_report, {"fmt": "md"}, "report needs PATH"),
        (parse_diff, {"paths": ["a", "b"], "fmt": "csv"},
         "unknown --format 'csv'; choose one of text, md, html, json"),
        (parse_diff, {"paths": ["a"]}, "diff takes two paths, A and B (got 1)"),
        (parse_diff, {"paths": ["a", "--vs"]}, "give at least one path on each side of --vs"),
        (parse_diff, {}, "diff needs PATH"),
    ],
)  # fmt: skip
def test_a_bad_value_is_one_config_error_line(parse: object, values: dict[str, object],
                                               message: str) -> None:  # fmt: skip
    assert callable(parse)
    with pytest.raises(ConfigError) as error:
        parse(values)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("command", ["report", "diff"])
def test_the_typer_command_is_generated_from_the_declarations(command: CommandName) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    params = {p.name: p for p in group.commands[command].params}
    declared = list(options_for(command))
    assert list(params) == [*(o.name for o in declared), CONFIG.name]  # and --config
    for option in declared:
        param = params[option.name]
        if option.positional:
            assert isinstance(param, TyperArgument) and param.required
            assert param.nargs == (-1 if option.repeatable else 1)
            assert param.metavar == option.flag
        else:
            assert isinstance(param, TyperOption)
            long, *short = option.flags
            assert param.opts[1:] == short and param.opts[0] == long
            if option.choices:
                assert param.metavar == f"[{'|'.join(option.choices)}]"
            assert option.help in (param.help or "")
