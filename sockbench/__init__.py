"""sockbench: load-test TCP, UDP and Unix socket servers and compare server models."""

from typing import Any


def __getattr__(name: str) -> Any:
    """``__version__``, looked up on first use: importlib.metadata costs 40 ms to import,
    60 % of a built-in server's start, which never asks."""
    if name != "__version__":
        raise AttributeError(f"module 'sockbench' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("sockbench")
    except PackageNotFoundError:  # run from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
