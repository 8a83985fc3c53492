"""Exceptions that reach the user as one line on stderr and exit code 2."""


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


from sockbench.core.status import EXIT_WRITE_FAILED  # noqa: E402  (74, EX_IOERR)


class ResultNotWritten(SockbenchError):
    """The run measured, but its result could not be written where asked (a disk that
    filled, a mount gone read-only): the summary was printed and the JSON saved to a
    fallback path. A distinct exit code, so a script knows its file is not there."""

    exit_code = EXIT_WRITE_FAILED

    def __init__(self, failures: list[str], fallback: object | None) -> None:
        where = f"the result JSON is saved in {fallback}" if fallback else "nothing was saved"
        super().__init__(f"{'; '.join(failures)}; {where}")
