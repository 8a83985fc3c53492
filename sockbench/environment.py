"""Where a run happened: host, kernel, CPU, Python and library versions."""

from __future__ import annotations

import os
import platform
import socket
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sockbench import __version__, build


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def collect_environment() -> dict[str, Any]:
    uname = platform.uname()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "hostname": socket.gethostname(),
        "os": uname.system,
        "kernel": uname.release,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "loadavg": load,
        "sockbench": __version__,
        "sockbench_build": build.name(),  # pure or compiled (sockbench/build.py)
        "trio": _version("trio"),
        "hdrhistogram": _version("hdrhistogram"),
    }
