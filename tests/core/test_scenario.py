"""Options from a scenario file and from SOCKBENCH_* variables (pure): what each key
becomes, and one line for every way a file can be wrong."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sockbench.core.spec.commands import RECORDS, options_for
from sockbench.core.spec.option import CommandName
from sockbench.core.spec.scenario import environment_values, key_of, scenario_values
from sockbench.errors import ConfigError

KEYS = {k for c in RECORDS for o in options_for(c) if (k := key_of(o)) is not None}


def from_file(command: CommandName, document: dict[str, Any]) -> dict[str, object]:
    return scenario_values(command, options_for(command), KEYS, document, "s.toml")


def test_keys_become_what_the_command_line_gives() -> None:
    doc = {
        "clients": 100, "duration": "10s", "warmup": 0.5, "no-batch": True,
        "check": ["p99 < 1ms", "errors == 0"], "server_cmd": "srv {port}",
    }  # fmt: skip
    assert from_file("run", doc) == {
        "clients": "100", "duration_s": "10s", "warmup_s": "0.5", "batch": False,
        "checks": ["p99 < 1ms", "errors == 0"], "server_cmd": "srv {port}",
    }  # fmt: skip


def test_a_command_s_table_overrides_the_top_level_and_others_are_left_alone() -> None:
    doc = {"clients": 4, "run": {"clients": 8}, "compare": {"server": ["threaded", "uvloop"]}}
    assert from_file("run", doc)["clients"] == "8"
    compare = from_file("compare", doc)
    assert compare["server_model"] == "threaded,uvloop"  # a listed option: joined by commas
    assert compare["clients"] == "4"


@pytest.mark.parametrize(
    ("command", "key", "listed", "typed"),
    [
        ("run", "percentiles", [50, 99.9], "50,99.9"),
        ("compare", "percentiles", [50, 99], "50,99"),
        ("run", "server-cpus", [0, 1], "0,1"),
        ("compare", "client-cpus", [1], "1"),
        ("run", "source-ips", ["127.0.0.2", "127.0.0.3"], "127.0.0.2,127.0.0.3"),
        ("run", "tls-alpn", ["h2", "http/1.1"], "h2,http/1.1"),
        ("compare", "sweep", ["1k", "2k"], "1k,2k"),
        ("sweep", "rate", ["1k", "2k", "5k"], "1k,2k,5k"),
    ],
)
def test_a_comma_separated_option_takes_a_list_as_its_comma_separated_text(
    command: CommandName, key: str, listed: list[object], typed: str
) -> None:
    """README: 'a repeatable option takes a list, as does a comma-separated one';
    ``percentiles = [50, 99]`` was refused as one value given a list."""
    [(name, value)] = from_file(command, {command: {key: listed}}).items()
    assert value == typed == from_file(command, {key: typed})[name]


def test_every_option_whose_value_is_a_comma_separated_list_takes_a_toml_list() -> None:
    """An option its help shows with a comma-separated value (``0,2``, ``h2,http/1.1``)
    says so on its declaration, or a scenario file could not give it as a list: every
    command's, sweep's ``--rate`` and search's options among them."""
    for command in RECORDS:
        for option in options_for(command):
            shown = f"{option.help} {option.metavar or ''} {option.default_help or ''}"
            if re.search(r"\w,\w|comma-separated", shown) and not option.repeatable:
                assert option.takes_list, (command, option.flag)


def test_a_top_level_key_another_command_takes_is_not_a_typo() -> None:
    assert "slo" not in from_file("run", {"slo": "p99 < 1ms"})  # search's, not run's


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"cleints": 4}, "'cleints' is not a sockbench option; did you mean 'clients'"),
        ({"run": {"slo": "p99 < 1ms"}}, r"\[run\] 'slo' is not a sockbench option"),
        ({"runn": {"clients": 4}}, r"table \[runn\] is not a sockbench table; did you mean 'run'"),
        ({"run": 4}, r"\[run\] must be a table"),
        ({"clients": True}, "--clients is not a switch"),
        ({"clients": [1, 2]}, "takes one value, not a list"),
        ({"batch": "maybe"}, "give true or false"),
        ({"check": [["x"]]}, "takes text or numbers"),
    ],
)
def test_a_wrong_file_is_one_line_naming_it(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_file("run", document)


def test_variables_name_the_flag_in_capitals() -> None:
    environ = {
        "SOCKBENCH_CLIENTS": "50", "SOCKBENCH_SERVER_CMD": "srv {port}",
        "SOCKBENCH_BATCH": "false", "SOCKBENCH_CHECK": "p99 < 1ms", "SOCKBENCH_NOPE": "1",
        "PATH": "/bin",
    }  # fmt: skip
    values = environment_values("run", options_for("run"), environ)
    assert values == {
        "clients": "50",
        "server_cmd": "srv {port}",
        "batch": False,
        "checks": ["p99 < 1ms"],
    }


def test_positional_and_short_only_options_have_no_key() -> None:
    assert {o.flag for o in options_for("run") if key_of(o) is None} == {"-J"}
    assert {o.flag for o in options_for("report") if key_of(o) is None} == {"PATH"}
