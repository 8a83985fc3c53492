"""typer parameters generated from the options declared on the spec's fields.

A command is written as ``def run(values, spelled)`` and decorated with
:func:`declare`, which gives it the signature typer reads: one keyword parameter per
option (:func:`sockbench.core.spec.commands.options_for`), annotated with its flags and
help, plus a hidden one per older spelling of a flag; a positional option (report's
PATH) is a required typer argument instead. The command gets the values that
were given (text, or a bool for switches), keyed by option name, and which were given
with an older spelling; they are converted and checked by :mod:`sockbench.core.spec`, so
errors are the same one-line messages whether they come from the command line or Python.
"""

from __future__ import annotations

import inspect
import os
import tomllib
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer

from sockbench.core.spec.commands import RECORDS, options_for
from sockbench.core.spec.option import CommandName, Option, Vocabulary
from sockbench.core.spec.scenario import (
    CONFIG,
    ENV_CONFIG,
    environment_values,
    key_of,
    scenario_values,
)
from sockbench.core.units import (
    format_seconds,
    parse_count,
    parse_number,
    parse_percentiles,
    parse_seconds,
    parse_size,
)
from sockbench.errors import ConfigError

#: A scenario is a page of options; a file far larger is a wrong path.
MAX_SCENARIO_BYTES = 1024 * 1024

Command = Callable[[dict[str, object], dict[str, str]], None]

_METAVARS: dict[object, str] = {
    parse_count: "N",
    parse_number: "NUMBER",
    parse_seconds: "SECONDS",
    parse_size: "BYTES",
    parse_percentiles: "P,P,...",
}


def _help(option: Option[Any], command: CommandName) -> str:
    text = option.help + (", comma-separated" if option.many and "comma" not in option.help else "")
    default = option.default_in(command)
    if option.default_help and command not in option.defaults:
        text += f" [default: {option.default_help}]"
    elif default not in (None, "") and not option.is_switch:
        text += f" [default: {_shown(option, default)}]"
    return text


def _shown(option: Option[Any], default: object) -> str:
    """A default as it would be typed: ``2s``, not ``2.0`` beside ``10s``."""
    if inspect.unwrap(option.parse) is parse_seconds and isinstance(default, int | float):
        return format_seconds(default)
    return f"{default:g}" if isinstance(default, float) else str(default)


def _metavar(option: Option[Any]) -> str:
    if option.metavar:
        return option.metavar
    if option.choices:
        names = _names(option.choices) if isinstance(option.choices, Vocabulary) else option.choices
        return f"[{'|'.join(names)}]" + (",..." if option.many else "")
    name = _METAVARS.get(inspect.unwrap(option.parse), "TEXT")
    return f"{name},..." if option.many else name


def _completer(option: Option[Any]) -> Callable[[str], list[str]] | None:
    """Tab-completion of an option's choices (``--server up<TAB>``); a comma-separated
    list completes its last item (``--server threaded,up<TAB>``)."""
    if not option.choices:
        return None
    choices = option.choices

    def complete(incomplete: str) -> list[str]:
        names = _names(choices) if isinstance(choices, Vocabulary) else choices
        done, _, last = incomplete.rpartition(",") if option.many else ("", "", incomplete)
        prefix = f"{done}," if done else ""
        return [prefix + name for name in names if name.startswith(last)]

    return complete


def _names(vocabulary: Vocabulary) -> tuple[str, ...]:
    from sockbench.machine import NAMES

    return tuple(NAMES[vocabulary])


def _parameters(option: Option[Any], command: CommandName) -> Iterator[inspect.Parameter]:
    """The option's parameter, and a hidden one for each older spelling of its flag."""
    if option.positional:  # required: no default; a repeatable one takes one or more
        typed = list[str] if option.repeatable else str
        info = typer.Argument(help=option.help, metavar=option.flag, show_default=False)
        yield _keyword(option.name, Annotated[typed, info], inspect.Parameter.empty)
        return
    if option.is_switch:
        long, *short = option.flags
        # --x/--no-x, so a script can switch a default-on option off; a lone -J stays one flag.
        # None when not given, so a scenario file or a variable can set it.
        paired = long.startswith("--")
        names = [f"{long}/--no-{long[2:]}", *short] if paired else option.flags
        default = option.default_in(command)
        shown = f" [default: {'' if default else 'no-'}{long[2:]}]" if paired else ""
        switch = Annotated[
            bool | None, typer.Option(*names, help=option.help + shown, show_default=False)
        ]
        yield _keyword(option.name, switch, None)
        return
    kind: Any = list[str] | None if option.repeatable else str | None
    help_text = option.help if option.repeatable else _help(option, command)
    info = typer.Option(
        *option.flags, help=help_text, metavar=_metavar(option), show_default=False,
        autocompletion=_completer(option),
    )  # fmt: skip
    yield _keyword(option.name, Annotated[kind, info], None)
    for i, flag in enumerate(option.renamed.get(command, ())):
        old = typer.Option(flag, hidden=True, metavar=_metavar(option), show_default=False)
        yield _keyword(_renamed(option, i), Annotated[kind, old], None)


def _keyword(name: str, annotation: Any, default: object) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _renamed(option: Option[Any], i: int) -> str:
    return f"{option.name}__renamed_{i}"


def given(
    command: CommandName, values: dict[str, object], warn: Callable[[str], None]
) -> tuple[dict[str, object], dict[str, str]]:
    """The values typer passed that were given (None: not given), each under its option's
    name, and the older flag each was given with, if any (said once, through ``warn``)."""
    out: dict[str, object] = {}
    spelled: dict[str, str] = {}
    for option in options_for(command):
        value = values.get(option.name)
        for i, flag in enumerate(option.renamed.get(command, ())):
            old = values.get(_renamed(option, i))
            if old is None:
                continue
            if value is not None:
                raise ConfigError(f"give {option.flag} or its old name {flag}, not both")
            warn(f"{flag} is deprecated; use {option.flag}")
            value, spelled[option.name] = old, flag
        if value is not None:
            out[option.name] = value
    return out, spelled


def declare(command: CommandName) -> Callable[[Command], Callable[..., None]]:
    """Give ``fn(values, spelled)`` one typer option per option of ``command``, and
    ``--config``: values the command line did not give come from the scenario file and
    ``SOCKBENCH_*`` variables (:mod:`sockbench.core.spec.scenario`)."""

    def decorate(fn: Command) -> Callable[..., None]:
        def typer_command(**values: object) -> None:
            config = values.pop(CONFIG.name, None)
            typed, spelled = given(command, values, _warn)
            fn({**_scenario(command, config), **typed}, spelled)

        options = [*options_for(command), CONFIG]
        params = [p for o in options for p in _parameters(o, command)]
        typer_command.__name__, typer_command.__doc__ = fn.__name__, fn.__doc__
        typer_command.__dict__["__signature__"] = inspect.Signature(params)
        return typer_command

    return decorate


def _scenario(command: CommandName, config: object) -> dict[str, object]:
    """The values ``--config FILE`` (or ``$SOCKBENCH_CONFIG``) and ``SOCKBENCH_<FLAG>``
    variables give, the variables over the file."""
    options = list(options_for(command))
    path = str(config) if config else os.environ.get(ENV_CONFIG)
    values: dict[str, object] = {}
    if path:
        keys = {k for c in RECORDS for o in options_for(c) if (k := key_of(o)) is not None}
        values.update(scenario_values(command, options, keys, _read_toml(path), path))
    values.update(environment_values(command, options, os.environ))
    return values


def _read_toml(path: str) -> dict[str, object]:
    """A scenario file, or one line saying why it cannot be read."""
    from sockbench.machine import read_regular_file

    data = read_regular_file(path, "--config", MAX_SCENARIO_BYTES + 1)
    if len(data) > MAX_SCENARIO_BYTES:
        raise ConfigError(f"--config {path} is over {MAX_SCENARIO_BYTES // 1024} KiB: no scenario")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path} is not valid TOML: {exc}") from None


def _warn(text: str) -> None:
    typer.echo(f"sockbench: warning: {text}", err=True)
