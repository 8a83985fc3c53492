"""sockbench: load-test TCP, UDP and Unix socket servers and compare server models."""

__version__ = "0.1.0"
