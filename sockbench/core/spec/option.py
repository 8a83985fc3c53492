"""An option is declared once, on the field it fills: type, default, flags, help, bounds (pure).

The trade-off: the records of :mod:`sockbench.core.spec` are read by reflection
(:func:`options_of`), here and in :mod:`sockbench.cli.params`, and nowhere else; in
exchange no option's name, flag or default is written twice. A field's type is the
option's type; :func:`option` gives it an :class:`Option` that says how text (or an
already typed value from Python) becomes that type and what bounds it must keep.

An option that reads differently in one command (compare's default, a flag's older
spelling) says so on its declaration (``defaults``, ``renamed``), never in a table
keyed by its name.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypedDict, TypeVar, Unpack

from sockbench.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)
R = TypeVar("R", bound="DataclassInstance")

CommandName = Literal["run", "compare", "serve", "report", "diff", "sweep", "search"]
#: Runs at several open-loop rates: they take every option ``run`` takes but those the
#: rates decide (:attr:`Option.one_run`), and options of their own.
AT_RATES: frozenset[CommandName] = frozenset({"sweep", "search"})
SWEEP: frozenset[CommandName] = frozenset({"sweep"})
SEARCH: frozenset[CommandName] = frozenset({"search"})
RUN: frozenset[CommandName] = frozenset({"run"})
COMPARE: frozenset[CommandName] = frozenset({"compare"})
SERVE: frozenset[CommandName] = frozenset({"serve"})
REPORT: frozenset[CommandName] = frozenset({"report"})
DIFF: frozenset[CommandName] = frozenset({"diff"})
RUN_COMPARE: frozenset[CommandName] = frozenset({"run", "compare"})
RUN_SERVE: frozenset[CommandName] = frozenset({"run", "serve"})
RUN_COMPARE_SERVE: frozenset[CommandName] = frozenset({"run", "compare", "serve"})
REPORT_DIFF: frozenset[CommandName] = frozenset({"report", "diff"})
NONE: Mapping[Any, Any] = MappingProxyType({})
_OPTION = "sockbench.option"


@dataclass(frozen=True)
class Vocabulary:
    """Choices only a layer above core knows (the server models of servers/registry.py).

    The caller names them (:data:`Names`): core checks the value and the CLI lists them,
    and neither names a model itself.
    """

    what: str


#: What the caller knows of each vocabulary: its names, in the order help lists them.
Names = Mapping[Vocabulary, Sequence[str]]
SERVER_MODELS = Vocabulary("server models")


@dataclass(frozen=True)
class Protocols:
    """The ``--protocol`` values an option applies to: these built-ins, and any plugin
    where ``plugins`` (a plugin is called with the run's options, docs/protocols.md).
    Given with another protocol, the option is refused in one line that says this
    (:func:`sockbench.core.spec.rules.check_applies`), never ignored."""

    names: tuple[str, ...]
    plugins: bool = False

    def __str__(self) -> str:
        """``--protocol redis or memcache (or a plugin)``."""
        *most, last = self.names
        named = f"{', '.join(most)} or {last}" if most else last
        return f"--protocol {named}" + (" (or a plugin)" if self.plugins else "")


@dataclass(frozen=True)
class Option(Generic[T]):
    """How one option reads: its field's name is its keyword, its type the field's."""

    flags: tuple[str, ...]  # long flag first; a positional argument's: its name (PATH)
    help: str
    default: T
    parse: Callable[[object, str], T]  # text or an already typed value -> T
    choices: tuple[str, ...] | Vocabulary = ()
    minimum: float | None = None  # the value must be at least this
    positive: bool = False  # the value must be greater than 0
    bound: Callable[[Any, str], object] | None = None  # further bounds (core.bounds)
    commands: frozenset[CommandName] = RUN
    metavar: str | None = None
    default_help: str | None = None  # what the default means, when no value shows it
    repeatable: bool = False  # given any number of times: a tuple of texts
    many: bool = False  # a comma-separated list (compare's axes, :func:`listed`)
    # One value its parser reads as a comma-separated list (--percentiles 50,99): as
    # :attr:`many`, a scenario file may give it as a list (:attr:`takes_list`).
    commas: bool = False
    positional: bool = False  # an argument, not a flag, and required (report's PATH)
    one_run: bool = False  # run's alone: sweep and search decide it (--rate, --check)
    protocols: Protocols | None = None  # applies to these --protocol values alone (None: any)
    # A command's own default, as typed; older flags a command still accepts, with a warning.
    defaults: Mapping[CommandName, object] = field(default_factory=dict, hash=False)
    renamed: Mapping[CommandName, tuple[str, ...]] = field(default_factory=dict, hash=False)
    name: str = ""  # the field's, set by options_of

    @property
    def flag(self) -> str:
        return self.flags[0]

    @property
    def is_switch(self) -> bool:
        return isinstance(self.default, bool)

    @property
    def takes_list(self) -> bool:
        """Whether its value is a comma-separated list (:attr:`many` or :attr:`commas`),
        which a scenario file's TOML list gives joined by commas."""
        return self.many or self.commas

    def field(self) -> T:
        """The dataclass field this option declares (its default is the option's)."""
        result: T = field(default=self.default, metadata={_OPTION: self})
        return result

    def taken_by(self, command: CommandName) -> bool:
        """Whether ``command`` takes this option: declared for it, or a run's that a
        command of runs at several rates (:data:`AT_RATES`) takes too."""
        if command in self.commands:
            return True
        return command in AT_RATES and "run" in self.commands and not self.one_run

    def default_in(self, command: CommandName) -> object:
        return self.defaults.get(command, self.default)

    def convert(self, value: object, names: Names, flag: str | None = None) -> T:
        """The typed value; ConfigError naming ``flag`` (the one typed) and what it accepts."""
        flag = flag or self.flag
        typed = self.bounded(value, flag)
        known = names[self.choices] if isinstance(self.choices, Vocabulary) else self.choices
        if known and isinstance(typed, str) and typed not in known:
            raise unknown_choice(flag, value, known)
        if known and isinstance(typed, tuple):  # a list's items (compare's axes)
            for item in typed:
                if isinstance(item, str) and item not in known:
                    raise unknown_choice(flag, item, known)
        return typed

    def bounded(self, value: object, flag: str) -> T:
        """Parsed and within its bounds; whether it is one of the choices is not checked."""
        typed = self.parse(value, flag)
        if isinstance(typed, int | float) and not isinstance(typed, bool):
            self._check_bounds(typed, flag)
        return typed

    def _check_bounds(self, value: float, flag: str) -> None:
        if self.positive and not value > 0:
            raise ConfigError(f"{flag} must be greater than 0, got {value:g}")
        if self.minimum == 0 and value < 0:
            raise ConfigError(f"{flag} cannot be negative, got {value:g}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{flag} must be at least {self.minimum:g}, got {value:g}")
        if self.bound is not None:
            self.bound(value, flag)
        if isinstance(value, float) and not math.isfinite(value):
            # nan passes every comparison; inf overflows an int
            raise ConfigError(f"{flag} must be a finite number, got {value}")


class How(TypedDict, total=False):
    """How an option reads besides its default, flags, help and parser: :class:`Option`'s
    other fields, each optional where it is declared."""

    choices: tuple[str, ...] | Vocabulary
    minimum: float | None
    positive: bool
    bound: Callable[[Any, str], object] | None
    commands: frozenset[CommandName]
    metavar: str | None
    default_help: str | None
    repeatable: bool
    commas: bool
    positional: bool
    one_run: bool
    protocols: Protocols | None
    defaults: Mapping[CommandName, object]
    renamed: Mapping[CommandName, tuple[str, ...]]


def declare(
    default: T, *flags: str, help: str, parse: Callable[[object, str], T], **how: Unpack[How]
) -> Option[T]:
    """An option to share between fields (:func:`field_of`), as compare's axes do."""
    return Option(flags, help, default, parse, **how)


def option(
    default: T, *flags: str, help: str, parse: Callable[[object, str], T], **how: Unpack[How]
) -> T:
    """A field that declares its option: ``clients: int = option(1, "--clients", ...)``."""
    return declare(default, *flags, help=help, parse=parse, **how).field()


def member(default: E, *flags: str, help: str, **how: Unpack[How]) -> E:
    """A field whose option is a member of ``default``'s enum, given by its value:
    ``fmt: ReportFormat = member(ReportFormat.TEXT, "--format", ...)``."""
    kind = type(default)
    declared = declare(default, *flags, help=help, parse=choice_of(kind), **how)
    return replace(declared, choices=values_of(kind)).field()


def field_of(shared: Option[T]) -> T:
    """A field that declares ``shared``, an option two records take (compare's axes)."""
    return shared.field()


def options_of(record: type[DataclassInstance]) -> Iterator[Option[Any]]:
    """The options declared on ``record``'s fields, in field order, each with its name."""
    for f in fields(record):
        declared = f.metadata.get(_OPTION)
        if declared is not None:
            yield replace(declared, name=f.name)


def parse_record(
    record: type[R],
    values: Mapping[str, object],
    command: CommandName,
    names: Names,
    spelled: Mapping[str, str] = NONE,
) -> R:
    """``record`` from the values of its options in ``command`` (missing: the default;
    a positional argument must be given).

    ``spelled`` names the flag a value was given with, where it was an older spelling,
    so an error names what the user typed. A field whose option ``command`` does not take
    keeps its default.
    """
    typed: dict[str, Any] = {}  # each value is its field's type: its option's parse made it
    for opt in options_of(record):
        if not opt.taken_by(command):
            continue
        if opt.name in values:
            value = values[opt.name]
        elif opt.positional:
            raise ConfigError(f"{command} needs {opt.flag}: {opt.help}")
        else:
            value = opt.default_in(command)
        typed[opt.name] = opt.convert(value, names, spelled.get(opt.name))
    return record(**typed)


def option_names(records: Sequence[type[DataclassInstance]], command: CommandName) -> set[str]:
    return {o.name for r in records for o in options_of(r) if o.taken_by(command)}


def check_names(
    values: Mapping[str, object], records: Sequence[type[DataclassInstance]], command: CommandName
) -> None:
    """A key that is no option of ``command`` is a programming error, not a user's."""
    unknown = set(values) - option_names(records, command)
    assert not unknown, f"not options of {command}: {sorted(unknown)}"


# Parsers: each takes text from the command line or an already typed value from Python.


def text(value: object, flag: str) -> str:
    return str(value)


def switch(value: object, flag: str) -> bool:
    return bool(value)


def texts(value: object, flag: str) -> tuple[str, ...]:
    """A repeatable option's values, in the order given."""
    if value is None:
        return ()
    items = value if isinstance(value, tuple | list) else (value,)
    return tuple(str(item) for item in items)


def filled(what: str) -> Callable[[object, str], str]:
    """Text that says something: blank text (``--target ''``) is refused, saying ``what``
    to give, where the option's default would have stood in for it unsaid."""

    def parse_filled(value: object, flag: str) -> str:
        given = str(value)
        if not given.strip():
            raise ConfigError(f"{flag} is empty: give {what}")
        return given

    return parse_filled


def given_options(record: DataclassInstance, given: Collection[str]) -> Iterator[Option[Any]]:
    """The options of ``record`` that were given: named in ``given`` (the values a command
    got, a default typed out among them) or holding another value than their default."""
    for opt in options_of(type(record)):
        if opt.name in given or getattr(record, opt.name) != opt.default:
            yield opt


def nullable(default: T) -> T | None:
    """A default that is not None, for an option None may also be given to."""
    return default


def optional(parse: Callable[[object, str], T]) -> Callable[[object, str], T | None]:
    """``parse``, with None (not given) kept as None."""

    @functools.wraps(parse)
    def parse_optional(value: object, flag: str) -> T | None:
        return None if value is None else parse(value, flag)

    return parse_optional


def unknown_choice(flag: str, value: object, choices: Sequence[str]) -> ConfigError:
    return ConfigError(f"unknown {flag} {value!r}; choose one of {', '.join(choices)}")


def choice(value: object, flag: str) -> str | None:
    """A name among an option's choices, as given but trimmed and lower case; '' is none.

    Whether it is one of them :meth:`Option.convert` checks, with the option's choices.
    """
    if value is None or not str(value).strip():
        return None
    return str(value).strip().lower()


def lowered(value: object, flag: str) -> str:
    """A name among an option's choices that is never empty (``--format``)."""
    return str(value).strip().lower()


def choice_of(kind: type[E]) -> Callable[[object, str], E]:
    """A member of the enum ``kind``, by its value."""

    def parse_choice(value: object, flag: str) -> E:
        try:
            return kind(str(value).strip().lower())
        except ValueError:
            raise unknown_choice(flag, value, values_of(kind)) from None

    return parse_choice


def blank_or(parse: Callable[[object, str], T]) -> Callable[[object, str], T | None]:
    """``parse``, with None or blank text (not given) as None."""

    @functools.wraps(parse)
    def parse_unless_blank(value: object, flag: str) -> T | None:
        return None if value is None or not str(value).strip() else parse(value, flag)

    return parse_unless_blank


def values_of(kind: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in kind)


def split_list(text: str, flag: str) -> list[str]:
    """``a,b,c`` -> items; ConfigError for an empty list or an empty item. Duplicates drop."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip():
        raise ConfigError(f"{flag} is empty; give a comma-separated list")
    if any(not p for p in parts):
        raise ConfigError(f"malformed {flag} {text!r}: empty item in the list")
    return list(dict.fromkeys(parts))


def listed(
    of: Option[T],
    *,
    default: str | None,
    commands: frozenset[CommandName],
    help: str | None = None,
    default_help: str | None = None,
    renamed: Mapping[CommandName, tuple[str, ...]] = NONE,
) -> Option[tuple[T, ...]]:
    """``of`` as a comma-separated list (compare's axes): each item parsed and bounded as
    ``of`` says, duplicates dropped. ``default`` is the list as typed (None: empty)."""

    @functools.wraps(of.parse)
    def parse_list(value: object, flag: str) -> tuple[T, ...]:
        if value is None:
            return ()
        items: Sequence[object] = (
            split_list(value, flag)
            if isinstance(value, str)
            else value
            if isinstance(value, tuple | list)
            else (value,)
        )
        return tuple(dict.fromkeys(of.bounded(item, flag) for item in items))

    return Option(
        of.flags, help or of.help, parse_list(default, of.flag), parse_list, of.choices,
        commands=commands, metavar=of.metavar, default_help=default_help or default,
        many=True, renamed=renamed,
    )  # fmt: skip
