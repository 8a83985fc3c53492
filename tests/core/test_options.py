"""The options declared on the spec's fields: one declaration each, defaults that survive
the command line, older spellings that still work with a warning."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from sockbench.cli.params import declare, given
from sockbench.core.spec.commands import RECORDS, options_for
from sockbench.core.spec.compare import Axes
from sockbench.core.spec.option import CommandName, options_of, parse_record
from sockbench.errors import ConfigError
from sockbench.machine import NAMES

COMMANDS: tuple[CommandName, ...] = ("run", "compare", "serve", "report", "diff")
#: The commands that start a server or a load: the ones with --server.
LOADS: tuple[CommandName, ...] = ("run", "compare", "serve")
#: A value for each positional argument, which has no default: typer requires it.
GIVEN: dict[str, object] = {"path": "result.json", "paths": ["a.json", "b.json"]}


@pytest.mark.parametrize("command", COMMANDS)
def test_flags_and_names_are_unique_per_command(command: CommandName) -> None:
    options = list(options_for(command))
    flags = [f for o in options for f in (*o.flags, *o.renamed.get(command, ()))]
    assert len(flags) == len(set(flags))
    assert len({o.name for o in options}) == len(options)


def _typer_defaults(command: CommandName) -> dict[str, object]:
    def fn(values: dict[str, object], spelled: dict[str, str]) -> None:
        pass

    signature = inspect.signature(declare(command)(fn))
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_every_default_survives_the_command_line(command: CommandName) -> None:
    """What typer hands the command when no flag is given parses without an error."""
    defaults = _typer_defaults(command)
    positional = {o.name for o in options_for(command) if o.positional}
    names = {o.name for o in options_for(command)}
    assert names - positional <= set(defaults)
    assert not positional & set(defaults)  # required
    assert all(v is None or isinstance(v, bool) for v in defaults.values())
    values, spelled = given(command, defaults | {n: GIVEN[n] for n in positional}, pytest.fail)
    assert spelled == {}
    for record in RECORDS[command]:
        parse_record(record, values, command, NAMES)
    if command == "compare":
        axes = parse_record(Axes, values, command, NAMES)
        # --server is empty until the plan picks built-ins (none with --server-cmd)
        assert axes.proto and axes.clients and axes.payload and axes.server_model == ()


def test_a_declared_default_is_its_fields() -> None:
    for records in RECORDS.values():
        for record in records:
            fields = {f.name: f.default for f in dataclasses.fields(record)}
            for option in options_of(record):
                assert fields[option.name] == option.default


def test_short_flags_follow_the_tools_users_know() -> None:
    short = {
        f: o.name
        for c in COMMANDS
        for o in options_for(c)
        for f in o.flags
        if not f.startswith("--") and not o.positional
    }
    assert short == {
        "-c": "clients", "-d": "duration_s", "-R": "rate", "-P": "pipeline", "-t": "workers",
        "-i": "interval_s", "-J": "json_stdout", "-q": "quiet", "-v": "verbose",
        "-f": "fmt", "-o": "output", "-b": "bitrate", "-H": "header",
    }  # fmt: skip


def test_the_server_model_flag_reads_the_same_in_every_command() -> None:
    for command in LOADS:
        [server] = [o for o in options_for(command) if o.name == "server_model"]
        assert server.flag == "--server"
    run_cmd = [o for o in options_for("run") if o.name == "server_cmd"]
    compare_cmds = [o for o in options_for("compare") if o.name == "server_cmds"]
    assert [o.flag for o in run_cmd + compare_cmds] == ["--server-cmd", "--server-cmd"]


@pytest.mark.parametrize(
    ("command", "old", "name", "new"),
    [
        ("compare", "--models", "server_model", "--server"),
        ("compare", "--model", "server_cmds", "--server-cmd"),
        ("serve", "--model", "server_model", "--server"),
    ],
)
def test_old_spellings_still_work_with_a_warning(
    command: CommandName, old: str, name: str, new: str
) -> None:
    [option] = [o for o in options_for(command) if o.name == name]
    assert option.renamed[command] == (old,)
    hidden = f"{name}__renamed_0"
    assert hidden in _typer_defaults(command)
    said: list[str] = []
    values, spelled = given(command, {hidden: "x"}, warn=said.append)
    assert (values, spelled) == ({name: "x"}, {name: old})
    assert said == [f"{old} is deprecated; use {new}"]
    with pytest.raises(ConfigError, match=f"give {new} or its old name {old}, not both"):
        given(command, {name: "y", hidden: "x"}, warn=said.append)
