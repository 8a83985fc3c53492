"""typer parameters generated from the option table (:mod:`sockbench.options`).

A command is written as ``def run(**values)`` and decorated with
:func:`declare`, which gives it the signature typer reads: one keyword parameter
per option, annotated with its flags and help. Every value reaches the command as
typed (text, or a bool for switches) and is converted by :mod:`sockbench.config`,
so errors are the same one-line messages whether they come from the command line
or from Python.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from sockbench.core.units import (
    parse_count,
    parse_number,
    parse_percentiles,
    parse_seconds,
    parse_size,
)
from sockbench.options import LISTS, Option, default, options_for

F = TypeVar("F", bound=Callable[..., Any])


_METAVARS: dict[object, str] = {
    parse_count: "N",
    parse_number: "NUMBER",
    parse_seconds: "SECONDS",
    parse_size: "BYTES",
    parse_percentiles: "P,P,...",
}


def _help(option: Option, default: object, many: bool) -> str:
    text = option.help + (", comma-separated" if many and "comma" not in option.help else "")
    if default == option.default and option.default_help:
        text += f" [default: {option.default_help}]"
    elif default not in (None, "") and not option.is_switch:
        text += f" [default: {default}]"
    return text


def _metavar(option: Option, many: bool) -> str:
    if option.metavar:
        return option.metavar
    if option.choices:
        return f"[{'|'.join(option.choices)}]" + (",..." if many else "")
    name = _METAVARS.get(option.parse, "TEXT")
    return f"{name},..." if many else name


def _parameter(option: Option, default: object, many: bool) -> inspect.Parameter:
    if option.is_switch:
        long, *short = option.flags
        # --x/--no-x, so a script can switch a default-on option off; a lone -J stays one flag.
        names = [f"{long}/--no-{long[2:]}", *short] if long.startswith("--") else option.flags
        annotation: Any = Annotated[bool, typer.Option(*names, help=option.help)]
    elif option.repeatable:
        info = typer.Option(*option.flags, help=option.help, metavar=_metavar(option, False))
        annotation = Annotated[list[str] | None, info]
        default = None
    else:
        info = typer.Option(
            *option.flags,
            help=_help(option, default, many),
            metavar=_metavar(option, many),
            show_default=False,
        )
        annotation = Annotated[str | None, info]
        default = None if default is None else str(default)
    return inspect.Parameter(
        option.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def declare(command: str) -> Callable[[F], F]:
    """Give ``fn(**values)`` one typer option per option of ``command``."""
    lists = LISTS.get(command, ())

    def decorate(fn: F) -> F:
        params = [_parameter(o, default(o, command), o.name in lists) for o in options_for(command)]
        fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        return fn

    return decorate
