"""Exceptions that reach the user as one line on stderr and exit code 2.

The lowest layer: it imports nothing of sockbench, so every layer may raise them.
"""


class SockbenchError(Exception):
    """Bad input or an unusable environment: reported as one line, exit code 2.

    Raise it with a message a user can act on ("port 9000 is in use; pick another
    with --bind"), never with a traceback's worth of detail.
    """

    exit_code = 2


class ConfigError(SockbenchError):
    """An option or combination of options is invalid."""


class TargetError(SockbenchError):
    """The target cannot be reached or used (refused, wrong kind of socket, bad path)."""
