"""Options from a scenario file (TOML) and from ``SOCKBENCH_*`` variables (pure).

A benchmark worth keeping is worth reviewing: a scenario file holds a run's or a
compare's options, checked in beside the code it measures, as k6 and Locust take a
script or a file. CI sets a value for every job with an environment variable instead.
Both only supply values the command line did not give, in this order of precedence:

    command line  >  SOCKBENCH_<FLAG>  >  the file's [<command>] table  >  its top level
    >  the option's default

A file's keys are the long flags without their dashes (``clients``, ``server-cmd``;
``server_cmd`` reads the same; a switch is ``batch = false`` or ``no-batch = true``); a
variable is ``SOCKBENCH_`` and the flag in capitals (``SOCKBENCH_CLIENTS=100``,
``SOCKBENCH_SERVER_CMD``, ``SOCKBENCH_BATCH=false``). Top-level keys serve every
command that takes them, so one file can hold a ``run`` and the ``compare`` of the same
servers; a key no command takes is a typo, and refused with one line naming it, as a
key in a command's own table that the command does not take is.

Values arrive as typed as TOML makes them and become what the command line would have
given (text, a bool for a switch, a list of texts for a repeatable option), so they
meet the same parsers and bounds, and the same one-line errors, naming where they came
from.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from sockbench.core.spec.option import CommandName, Option, declare, optional, text
from sockbench.errors import ConfigError

ENV_PREFIX = "SOCKBENCH_"
ENV_CONFIG = f"{ENV_PREFIX}CONFIG"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

#: Every command takes it; it is read before the others (:func:`scenario_values`).
CONFIG: Option[str | None] = replace(declare(
    None, "--config", metavar="FILE",
    help=f"read options from this TOML scenario file (or ${ENV_CONFIG}); the command line "
    f"and {ENV_PREFIX}<FLAG> variables override it",
    parse=optional(text),
    commands=frozenset({"run", "compare", "serve", "report", "diff", "sweep", "search"}),
), name="config")  # fmt: skip


def key_of(option: Option[Any]) -> str | None:
    """``server-cmd`` for ``--server-cmd``; None for an option with no long flag (``-J``)
    or an argument (report's PATH), which a scenario cannot give."""
    if option.positional or not option.flag.startswith("--"):
        return None
    return option.flag[2:]


def scenario_values(
    command: CommandName,
    options: Iterable[Option[Any]],
    every_key: Iterable[str],
    document: Mapping[str, object],
    source: str,
) -> dict[str, object]:
    """The values ``document`` (a parsed TOML file) gives ``command``'s options, keyed by
    option name. ``every_key``: the keys some command takes (the rest are typos)."""
    by_key = {key: o for o in options if (key := key_of(o)) is not None}
    known = set(every_key)
    values: dict[str, object] = {}
    own = document.get(command, {})
    if not isinstance(own, Mapping):
        raise ConfigError(f"{source}: [{command}] must be a table of options")
    for table, strict in ((document, False), (own, True)):
        for raw, value in table.items():
            if table is document and isinstance(value, Mapping):
                _check_table(raw, source)
                continue
            key = raw.replace("_", "-")
            option, negated = _lookup(by_key, key)
            if option is None:
                if strict or key not in known:
                    where = f"[{command}] " if strict else ""
                    raise _unknown(f"{source}: {where}{raw!r}", key, by_key if strict else known)
                continue  # another command's: the same file serves it
            given = _as_given(option, value, f"{source}: {raw}")
            values[option.name] = not given if negated else given
    return values


def _lookup(by_key: Mapping[str, Option[Any]], key: str) -> tuple[Option[Any] | None, bool]:
    """The option ``key`` names, and whether it is a switch's ``no-`` form
    (``no-batch = true`` is ``--no-batch``)."""
    if key in by_key:
        return by_key[key], False
    negated = by_key.get(key.removeprefix("no-")) if key.startswith("no-") else None
    if negated is not None and negated.is_switch:
        return negated, True
    return None, False


def environment_values(
    command: CommandName, options: Iterable[Option[Any]], environ: Mapping[str, str]
) -> dict[str, object]:
    """The values ``SOCKBENCH_<FLAG>`` variables give ``command``'s options; a variable
    naming no option of this command is left alone (CI sets them for every job)."""
    values: dict[str, object] = {}
    for option in options:
        key = key_of(option)
        if key is None:
            continue
        name = ENV_PREFIX + key.upper().replace("-", "_")
        if name in environ:
            values[option.name] = _as_given(option, environ[name], name)
    return values


def _check_table(name: str, source: str) -> None:
    commands = CONFIG.commands
    if name not in commands:
        raise _unknown(f"{source}: table [{name}]", name, commands, what="table")


def _unknown(where: str, key: str, known: Iterable[str], what: str = "option") -> ConfigError:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{where} is not a sockbench {what}{hint}")


def _as_given(option: Option[Any], value: object, where: str) -> object:
    """``value`` as the command line would give it: a bool for a switch, a list of texts
    for a repeatable option, else text (a list joined by commas for a comma-separated
    one: compare's axes, --percentiles, --server-cpus)."""
    if option.is_switch:
        return _switch(value, where)
    if isinstance(value, bool):
        raise ConfigError(f"{where} = {str(value).lower()}: {option.flag} is not a switch")
    if isinstance(value, Mapping):
        raise ConfigError(f"{where}: {option.flag} takes a value, not a table")
    if option.repeatable:
        items = value if isinstance(value, list) else [value]
        return [_text(item, where, option) for item in items]
    if isinstance(value, list):
        if not option.takes_list:
            raise ConfigError(f"{where}: {option.flag} takes one value, not a list")
        return ",".join(_text(item, where, option) for item in value)
    return _text(value, where, option)


def _text(value: object, where: str, option: Option[Any]) -> str:
    if isinstance(value, bool | list | Mapping):
        raise ConfigError(f"{where}: {option.flag} takes text or numbers, not {value!r}")
    return str(value)


def _switch(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    spelled = str(value).strip().lower()
    if spelled in _TRUE:
        return True
    if spelled in _FALSE:
        return False
    raise ConfigError(f"{where} = {value!r}: give true or false")
