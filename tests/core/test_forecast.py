"""Warnings predicted from the settings and the machine, and read from a result (pure)."""

from __future__ import annotations

from sockbench.core.forecast import measured_warnings, predicted_warnings
from sockbench.core.machine import Machine
from tests.support.specs import spec_of

IDLE = Machine(frozenset({0, 1}), 2, nofile_limit=1 << 20, load_average=0.1)


def _kinds(machine: Machine = IDLE, **options: object) -> list[str]:
    return [w.kind for w in predicted_warnings(spec_of({"workers": "1", **options}, machine))]


def test_a_quiet_run_predicts_nothing() -> None:
    assert _kinds(clients=100) == []


def test_server_descriptor_limit() -> None:
    small = Machine(frozenset({0, 1}), 2, nofile_limit=200)
    [warning] = predicted_warnings(spec_of({"clients": 300, "workers": "1"}, small))
    assert warning.kind == "descriptor_limit"
    assert "descriptor limit 200" in warning.message
    assert "--server prefork --server-processes 2" in warning.advice
    # prefork over enough processes fits
    assert _kinds(small, clients=300, server_model="prefork", server_processes=2) == []


def test_threadpool_threads_fewer_than_clients() -> None:
    assert _kinds(clients=10, server_model="threadpool", server_threads=4) == ["threadpool_queue"]
    assert _kinds(clients=4, server_model="threadpool", server_threads=4) == []


def test_ephemeral_ports_against_source_addresses() -> None:
    narrow = Machine(frozenset({0, 1}), 2, port_range=(60000, 60099))
    assert _kinds(narrow, clients=150, source_ips="127.0.0.2") == ["ephemeral_ports"]
    assert _kinds(narrow, clients=150, source_ips="127.0.0.2-127.0.0.3") == []


def test_busy_machine() -> None:
    busy = Machine(frozenset({0, 1}), 2, load_average=2.5)
    assert _kinds(busy, clients=1) == ["busy_machine"]


WAITING = spec_of({"clients": 50_000, "timeout_s": 1.0})


def test_littles_law_when_clients_wait_near_the_timeout() -> None:
    [warning] = measured_warnings(WAITING, {"throughput_rps": 47_000.0})
    assert warning.kind == "littles_law"
    assert "wait about 1.06 s per request" in warning.message
    assert "raise --timeout" in warning.advice
    assert measured_warnings(WAITING, {"throughput_rps": 500_000.0}) == []


def test_littles_law_against_the_timeout_before_load() -> None:
    """50,000 closed-loop clients within --timeout 1 s need 50k req/s: said up front; the
    default timeout grows with the clients, so the defaults do not trip it."""
    assert _kinds(clients=50_000, timeout_s=1) == ["littles_law"]
    assert _kinds(clients=50_000) == []
    assert _kinds(clients=50_000, timeout_s=1, rate=1000) == []  # open loop: no queue
    config = spec_of({"clients": 200_000, "workers": "14", "force": True}, IDLE)
    assert config.sizing.timeout_s == 80.0
    assert spec_of({"clients": 20_000}, IDLE).sizing.timeout_s == 10.0


def test_small_descriptor_limit_picks_processes_and_workers_from_clients() -> None:
    """A limit of 200 descriptors: 150 connections per process, so 300 clients take two
    server processes and two workers, and 2,000 take 14 workers, said up front."""
    small = Machine(frozenset({0, 1}), 2, nofile_limit=200)
    config = spec_of({"clients": 300, "server_model": "prefork"}, small)
    assert (config.sizing.server_processes, config.sizing.workers) == (2, 2)
    assert predicted_warnings(config) == []
    many = spec_of({"clients": 2000, "server_model": "prefork"}, small)
    assert (many.sizing.server_processes, many.sizing.workers) == (14, 14)
    [warning] = predicted_warnings(many)
    assert warning.kind == "workers_share_cpus"
    assert "14 generator processes share 2 CPU(s)" in warning.message
    assert "hold about 143 connections (descriptor limit 200)" in warning.message


def test_auto_workers_past_the_per_cpu_cap_only_so_far() -> None:
    """Past 20 per CPU (40 workers of 150 connections here) auto refuses, before load."""
    import pytest

    from sockbench.errors import ConfigError

    small = Machine(frozenset({0, 1}), 2, nofile_limit=200)
    assert spec_of({"clients": 6000}, small).sizing.workers == 40
    with pytest.raises(ConfigError, match=r"needs 41 generator processes .* pass --force"):
        spec_of({"clients": 6001}, small)
    assert spec_of({"clients": 6001, "force": True}, small).sizing.workers == 41


def _churn(per_s: float, sources: int = 1, **errors: int) -> list[str]:
    spec = spec_of({"mode": "churn", "source_ips": f"127.0.0.2-127.0.0.{sources + 1}"})
    totals = {"connections_per_s": per_s, "errors": errors}
    return [w.message for w in measured_warnings(spec, totals)]


def test_time_wait_says_how_far_over_the_ports_a_churn_run_went() -> None:
    """Ports held 60 s each against 28,232 per address: "near" when over half, "N× the"
    with the kernel's reuse named when over all of them, nothing when it ran out (that
    has its own warning) or stayed under half."""
    assert _churn(200.0) == []  # 12,000 held: under half
    [near] = _churn(300.0)  # 18,000
    assert "18,000 ports in TIME_WAIT" in near and "64% of the 28,232" in near
    assert "tcp_tw_reuse" not in near
    [over] = _churn(10_000.0)  # 600,000
    assert "21.3× the 28,232 ephemeral ports of 1 source address" in over
    assert "tcp_tw_reuse" in over
    [two] = _churn(1_000.0, sources=2)  # 60,000 against 56,464
    assert "1.1× the 56,464 ephemeral ports of 2 source addresses" in two
    assert _churn(10_000.0, no_ephemeral_port=3) == []


def test_a_socket_buffer_over_the_kernels_cap_is_said_with_what_each_socket_gets() -> None:
    capped = Machine(frozenset({0, 1}), 2, socket_buffer_max=212_992)
    [warning] = predicted_warnings(spec_of({"workers": "1", "socket_buffer": "1M"}, capped))
    assert warning.kind == "socket_buffer_capped"
    assert "(208 KiB, net.core.rmem_max/wmem_max): each client socket gets 416 KiB, not 2 MiB" in (
        warning.message
    )
    assert "net.core.rmem_max=1048576" in warning.advice
    assert _kinds(capped, socket_buffer="128k") == []
    assert _kinds(IDLE, socket_buffer="1M") == []  # the cap not known: nothing to say
