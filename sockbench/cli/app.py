"""The typer application and the entry point that turns errors into one line and exit 2."""

from __future__ import annotations

import shlex
import sys

import typer

from sockbench.errors import SockbenchError

app = typer.Typer(
    name="sockbench",
    help="Load-test TCP, UDP and Unix socket servers; compare server models.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def command_line() -> str:
    return shlex.join(["sockbench", *sys.argv[1:]])


def main() -> None:
    """Entry point: bad input becomes one line on stderr and exit code 2, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except SockbenchError as exc:
        print(f"sockbench: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("sockbench: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `sockbench`: show the help
            print(exc.format_message(), file=sys.stderr)
            sys.exit(2)
        print(f"sockbench: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2 if exc.exit_code == 1 else exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
