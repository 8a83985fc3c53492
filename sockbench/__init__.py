"""sockbench: load-test TCP, UDP and Unix socket servers and compare server models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sockbench")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
