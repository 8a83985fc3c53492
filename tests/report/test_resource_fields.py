"""The Resources lines: a sampled external target's process is named before its CPU."""

from __future__ import annotations

from sockbench.report.resource_fields import resource_fields

SERVER = {
    "cpu_percent_mean": 97.5, "cpu_percent_max": 99.2, "rss_bytes_max": 14_848_000,
    "threads_max": 5, "fds_max": 29,
}  # fmt: skip


def test_an_external_targets_server_line_names_the_process_sampled() -> None:
    [(label, text)] = resource_fields(
        {"server_resources": {**SERVER, "process": "redis-server (pid 7)"}}
    )
    assert label == "server"
    assert text.startswith("redis-server (pid 7): CPU 97.5 % mean, 99.2 % max; RSS ")


def test_a_started_servers_line_is_its_numbers_alone() -> None:
    [(label, text)] = resource_fields({"server_resources": SERVER})
    assert label == "server" and text.startswith("CPU 97.5 % mean")
