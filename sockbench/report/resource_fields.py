"""Where a run ran: server and generator resources, cluster nodes and the environment.

These are read as the result stores them and shown as sentences (``CPU 97.5 % mean,
RSS 12 MiB; 4 threads``); the few of them compared across cells (server CPU, RSS,
threads) are also registry metrics, shown as summary columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sockbench.report import numbers
from sockbench.report.content import Align, Table
from sockbench.report.document import Doc, get
from sockbench.report.summary_table import SATURATED


def resource_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = []
    server: Mapping[str, Any] | None = result.get("server_resources")
    if server:
        found = server.get("process")  # a target it did not start: the process sampled
        fields.append(
            (
                "server",
                (f"{found}: " if found else "")
                + f"CPU {numbers.fmt_percent(server.get('cpu_percent_mean'))} mean, "
                f"{numbers.fmt_percent(server.get('cpu_percent_max'))} max; "
                f"RSS {numbers.fmt_bytes(server.get('rss_bytes_max'))}; "
                f"{_plural(server.get('threads_max'), 'thread')}; "
                f"{_plural(server.get('fds_max'), 'fd')}",
            )
        )
    gen: Mapping[str, Any] | None = result.get("generator")
    if gen:
        text = (
            f"CPU {numbers.fmt_percent(gen.get('cpu_percent_mean'))} mean, "
            f"{numbers.fmt_percent(gen.get('cpu_percent_max'))} max over "
            f"{_plural(gen.get('workers'), 'worker')}"
        )
        if gen.get("loop_busy_percent"):
            text += f"; loop busy {numbers.fmt_percent(gen['loop_busy_percent'])}"
        if gen.get("saturated"):
            text += f"; {SATURATED} (see the warning)"
        fields.append(("generator", text))
    return tuple(fields)


def node_table(result: Doc) -> Table | None:
    """One row per cluster node the generator ran on (``generator.nodes``), if any."""
    nodes: Sequence[Mapping[str, Any]] = get(result, "generator", "nodes") or ()
    if not nodes:
        return None
    rows = tuple(
        (
            str(n["node_id"])[:8],
            str(n["host"]),
            numbers.fmt_int(n["workers"])
            + (f" ({n['failed_workers']} died)" if n.get("failed_workers") else ""),
            numbers.fmt_int(n["clients"]),
            numbers.fmt_int(n["requests"]),
            numbers.fmt_int(n["errors"]),
            numbers.fmt_percent(n.get("cpu_percent_mean"))
            + (f" {SATURATED}" if n.get("saturated") else ""),
            numbers.fmt_bytes(n.get("rss_bytes_max")),
            f"{n['clock_offset_us']:+.0f}±{n['clock_uncertainty_us']:.0f}",
        )
        for n in nodes
    )
    headers = ("node", "host", "workers", "clients", "requests", "errors", "CPU", "RSS",
               "clock µs")  # fmt: skip
    align: tuple[Align, ...] = ("l", "l", *(("r",) * 7))
    return Table(headers, rows, align)


def _plural(n: int | None, noun: str) -> str:
    return f"{numbers.fmt_int(n)} {noun}{'' if n == 1 else 's'}"


def environment_fields(doc: Doc) -> tuple[tuple[str, str], ...]:
    env: Mapping[str, Any] = doc.get("environment") or {}
    load = env.get("loadavg")
    versions = ", ".join(
        f"{name} {env[name]}" for name in ("sockbench", "trio", "hdrhistogram") if env.get(name)
    )
    if env.get("sockbench_build") == "compiled":  # pure: the default, left unsaid
        versions = f"{versions} (sockbench compiled with mypyc)"
    cpu = str(env.get("cpu_model") or "?")
    if env.get("cpu_count"):
        cpu += f" ({env['cpu_count']} CPUs)"
    return (
        ("host", str(env.get("hostname") or "?")),
        ("os", " ".join(str(env[k]) for k in ("os", "kernel") if env.get(k)) or "?"),
        ("python", str(env.get("python") or "?")),
        ("cpu", cpu),
        ("load average", " ".join(f"{x:.2f}" for x in load) if load else numbers.DASH),
        ("versions", versions or numbers.DASH),
    )
