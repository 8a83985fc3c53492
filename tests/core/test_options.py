"""The option table: one declaration per option, defaults that survive the command line."""

from __future__ import annotations

import inspect

import pytest

from sockbench.cli.params import declare
from sockbench.options import LISTS, OPTIONS, convert_all, options_for

COMMANDS = ("run", "compare", "serve")


@pytest.mark.parametrize("command", COMMANDS)
def test_flags_and_names_are_unique_per_command(command: str) -> None:
    options = list(options_for(command))
    flags = [flag for option in options for flag in option.flags]
    assert len(flags) == len(set(flags))
    assert len({o.name for o in options}) == len(options)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_default_survives_the_command_line(command: str) -> None:
    """What typer hands the command when no flag is given converts without an error."""

    def fn(**values: object) -> None:
        pass

    signature = inspect.signature(declare(command)(fn))
    values = {name: p.default for name, p in signature.parameters.items()}
    assert set(values) == {o.name for o in options_for(command)}
    assert all(v is None or isinstance(v, str | bool) for v in values.values())
    converted = convert_all(command, values)
    for name in LISTS.get(command, ()):
        assert isinstance(converted[name], tuple)
        # --models is empty until the plan picks built-ins (none when --model names one)
        assert converted[name] or name == "models"


def test_short_flags_follow_the_tools_users_know() -> None:
    short = {f: o.name for o in OPTIONS for f in o.flags if not f.startswith("--")}
    assert short == {
        "-c": "clients", "-d": "duration_s", "-R": "rate", "-P": "pipeline", "-t": "workers",
        "-i": "interval_s", "-J": "json_stdout", "-q": "quiet", "-v": "verbose",
    }  # fmt: skip
