"""The typer application and the entry point that turns errors into one line and exit 2."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperGroup

from sockbench import __version__, build
from sockbench.core.status import EXIT_BROKEN_PIPE
from sockbench.errors import ConfigError, SockbenchError


class OutputClosed(Exception):
    """The reader of stdout left (``sockbench run | head``); ``code`` is the exit code."""

    def __init__(self, code: int = EXIT_BROKEN_PIPE) -> None:
        super().__init__(code)
        self.code = code


class _Commands(TyperGroup):
    """click turns a closed pipe into a quiet exit 1, like a failed run; this makes it
    :class:`OutputClosed` first, so :func:`main` can exit as other tools do (141)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise OutputClosed() from None

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command, its arguments shown as click and man pages write them (``PATH``,
        ``PATH...``), not typer's ``{PATH}`` and ``PATH <str>``: the help text says what
        a PATH may be, and a Python type name tells a user nothing."""
        command = super().get_command(ctx, cmd_name)
        for param in getattr(command, "params", ()):
            if isinstance(param, TyperArgument):
                plain = param.name.upper() if param.metavar is None else param.metavar
                shown = plain + ("..." if param.nargs != 1 else "")
                param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
                param._usage_display_name = _says(shown)  # type: ignore[method-assign]
                param._rich_display_name = _says(shown)  # type: ignore[method-assign]
        return command


def _says(text: str) -> Callable[[], str]:
    return lambda: text


app = typer.Typer(
    cls=_Commands,
    name="sockbench",
    help="Load-test TCP, UDP and Unix socket servers; compare server models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"sockbench {__version__} ({build.describe()})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", is_eager=True, callback=_print_version, help="print the version"
        ),
    ] = False,
) -> None:
    """Load-test TCP, UDP and Unix socket servers; compare server models."""


def command_line() -> str:
    return shlex.join(["sockbench", *sys.argv[1:]])


def main() -> None:
    """Entry point: bad input becomes one line on stderr and exit code 2, never a traceback."""
    try:
        code = app(standalone_mode=False)
        sys.stdout.flush()  # a reader gone shows here, not as a traceback at exit
    except OutputClosed as closed:
        _quiet_stdout()
        sys.exit(closed.code)
    except SockbenchError as exc:
        print(f"sockbench: error: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("sockbench: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # `sockbench run | head`: the reader left; say nothing more
        _quiet_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `sockbench`: show the help
            print(exc.format_message(), file=sys.stderr)
            sys.exit(2)
        print(f"sockbench: error: {_one_line(exc.format_message())}", file=sys.stderr)
        sys.exit(2 if exc.exit_code == 1 else exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(message: str) -> str:
    """The message on one line, whatever the user typed into it (``report $'a\rb'``):
    a line break in it is escaped, as ``repr`` writes it."""
    if len(f"{message}x".splitlines()) == 1:
        return message
    return "".join(repr(ch)[1:-1] if len(f"{ch}x".splitlines()) > 1 else ch for ch in message)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: what is still buffered for the gone reader is dropped
    instead of failing again when the interpreter flushes it at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


#: A log line where no terminal shows it: ``--log-file``, and ``-v`` into a pipe.
PLAIN_LOG = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_TIME = "%H:%M:%S"


def setup_logging(verbose: object, log_file: object) -> None:
    """``-v``: what happens (server, workers, phases) on stderr; ``--log-file``: also there.

    Off by default: a benchmark's own output is its report, and a log line printed
    while measuring costs the generator time.
    """
    import logging

    handlers: list[logging.Handler] = []
    if verbose:
        from rich.console import Console
        from rich.logging import RichHandler

        from sockbench.report.live import is_plain

        stderr = Console(stderr=True)
        terminal: logging.Handler
        if is_plain(stderr):  # a log or a pipe: one plain line per record, no layout
            terminal = logging.StreamHandler(sys.stderr)
            terminal.setFormatter(logging.Formatter(PLAIN_LOG, datefmt=LOG_TIME))
        else:
            terminal = RichHandler(console=stderr, show_path=False)
            terminal.setFormatter(logging.Formatter("%(message)s"))
        handlers.append(terminal)
    if log_file:
        from sockbench.report.files import refuse_fifo

        refuse_fifo(str(log_file), "--log-file")  # opening one would wait for a reader
        try:
            file_handler = logging.FileHandler(str(log_file), encoding="utf-8")
        except (OSError, ValueError) as exc:  # a folder, a missing folder, a read-only mount
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(
                f"--log-file {str(log_file)!r}: cannot open it ({reason}); give a file in a "
                "folder you can write"
            ) from None
        file_handler.setFormatter(logging.Formatter(PLAIN_LOG))
        handlers.append(file_handler)
    if handlers:
        logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
