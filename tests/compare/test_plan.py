"""Building a compare's matrix: parsing, validation, pinning and the interleaved order."""

from __future__ import annotations

import re

import pytest

from sockbench.compare import build_plan, order_cells, parse_counts, resolve_pinning
from sockbench.core.spec.option import split_list
from sockbench.endpoints import Proto
from sockbench.errors import ConfigError

TCP, UDP = Proto.TCP, Proto.UDP


def test_lists_parse_and_drop_duplicates() -> None:
    assert parse_counts("10, 100,1000,10", "--clients") == (10, 100, 1000)
    assert split_list("a,b", "--server") == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10,,100", "empty item"),
        ("", "is empty"),
        ("10,abc", "'abc'; expected a whole number"),
        ("10,0", "at least 1"),
        ("1.5", "expected a whole number"),
    ],
)
def test_bad_counts_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_counts(text, "--clients")


def test_order_is_interleaved_and_rotated() -> None:
    models = ("a", "b", "c")
    order = order_cells(models, (TCP, UDP), (64,), (10, 100), repeat=2)
    assert len(order) == 3 * 2 * 2 * 2
    # Each workload runs every model back to back, never model after model.
    groups = [order[i : i + 3] for i in range(0, len(order), 3)]
    for group in groups:
        assert sorted(m for m, *_ in group) == ["a", "b", "c"]
        assert len({(p, pl, c, r) for _, p, pl, c, r in group}) == 1
    firsts = [group[0][0] for group in groups]
    # The starting model rotates from one workload to the next, across repeats too.
    assert firsts == ["a", "b", "c", "a", "b", "c", "a", "b"]
    assert [r for *_, r in order] == [1] * 12 + [2] * 12


def test_pinning_auto_splits_usable_cpus() -> None:
    assert resolve_pinning("auto", "auto", {0, 1}) == ((0,), (1,))
    assert resolve_pinning("auto", "auto", {0, 1, 2, 3}) == ((0, 1), (2, 3))
    assert resolve_pinning("auto", "auto", {3}) == ((), ())
    assert resolve_pinning("none", "auto", {0, 1}) == ((), ())
    assert resolve_pinning("auto", "off", {0, 1}) == ((), ())


def test_pinning_explicit_and_rest() -> None:
    cpus = [0, 1, 2, 3]  # pure: the usable CPUs are an argument, not this machine's
    first, last = str(cpus[0]), str(cpus[-1])
    usable = set(cpus)
    server, client = resolve_pinning(first, "auto", usable)
    assert server == (cpus[0],) and client == tuple(cpus[1:])
    server, client = resolve_pinning("auto", last, usable)
    assert client == (cpus[-1],) and cpus[-1] not in server
    with pytest.raises(ConfigError, match="share CPU"):
        resolve_pinning(first, f"{first},{last}", usable)
    with pytest.raises(ConfigError, match="leaves no CPU"):
        resolve_pinning(",".join(map(str, cpus)), "auto", usable)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"server_model": "threaded,nginx"}, "unknown --server 'nginx'"),
        ({"proto": "tcp,sctp"}, "unknown --proto 'sctp'"),
        ({"clients": "10,x"}, "--clients': 'x'; expected a whole number"),
        ({"payload": "64,12x"}, "malformed --payload"),
        ({"proto": "udp", "payload": "4"}, "too small for datagrams"),
        ({"duration_s": 0.0}, "--duration must be greater than 0"),
        ({"repeat": 0}, "--repeat must be between"),
        ({"workers": "4", "clients": "2,10"}, "--workers 4 is more than --clients 2"),
        ({"clients": "30000", "workers": "1"}, "file descriptors"),
        ({"server_cpus": "x"}, "malformed --server-cpus"),
        ({"server_tls": True, "proto": "tcp,udp"}, "--server-tls serves TLS over tcp, not udp"),
        (
            {"server_tls": True, "proto": "tcp", "server_cmds": ("mine=echo {port}",)},
            "--server-tls applies to a built-in model",
        ),
        ({"mode": "stream", "reverse": True}, "a udp stream is paced by --rate"),
        ({"proto": "tcp", "reverse": True}, "--reverse applies to --mode stream"),
        ({"proto": "tcp", "mode": "stream", "reverse": True, "bidir": True}, "not both"),
        (
            {"proto": "tcp", "mode": "stream", "sweep": "1k,2k"},
            "drop --mode stream or the --capacity/--sweep",
        ),
    ],
)
def test_bad_options_are_one_line_config_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        build_plan(options)
    assert "\n" not in str(info.value)


def test_unavailable_optional_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sockbench.servers import registry

    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="needs the optional package uvloop"):
        build_plan({"server_model": "asyncio,uvloop", "proto": "tcp", "clients": "1"})


def test_plan_cells_carry_configs() -> None:
    plan = build_plan(
        {
            "server_model": "threaded,asyncio",
            "proto": "tcp",
            "clients": "5,60",
            "payload": "64,1k",
            "duration_s": 1,
            "warmup_s": 0,
            "repeat": 2,
            "server_cpus": "none",
            "client_cpus": "none",
        }
    )
    assert len(plan.cells) == 2 * 2 * 2 * 2
    assert [c.index for c in plan.cells] == list(range(1, 17))
    cell = plan.cells[0]
    assert cell.spec.server_name == cell.model
    assert cell.spec.output.out_dir is None  # cells write no run folders of their own
    assert cell.spec.load.clients == cell.clients and cell.spec.request.payload == cell.payload
    assert cell.stem == f"tcp-{cell.payload}-c{cell.clients}-{cell.model}-r1"
    assert {c.payload for c in plan.cells} == {64, 1024}
    assert plan.cells[-1].label(2).endswith("repeat 2/2")
    assert plan.to_json()["cells"] == 16


def test_server_tls_makes_every_cell_tls_over_tcp_by_default() -> None:
    """--server-tls without --proto: tcp alone (the default tcp,udp would be refused)."""
    plan = build_plan({"server_model": "asyncio,trio", "clients": "2", "server_tls": True})
    assert plan.protos == (TCP,) and len(plan.cells) == 2
    for cell in plan.cells:
        assert cell.spec.tls is not None and cell.spec.to_json()["server_tls"] is True


def test_each_cells_predicted_limits_are_said_before_load() -> None:
    """threadpool's 64 threads with 100 clients, a server limited to 200 descriptors with
    300: each cell's warning names the cell; the busy machine is said once."""
    from sockbench.compare.plan import predicted_cell_warnings
    from sockbench.core.machine import Machine

    machine = Machine(frozenset({0, 1}), 2, nofile_limit=200, load_average=5.0)
    plan = build_plan(
        {"server_model": "threadpool,asyncio", "proto": "tcp", "clients": "10,100,300", "repeat": 2,
         "server_cpus": "none", "client_cpus": "none", "workers": "1"},
        machine,
    )  # fmt: skip
    lines = predicted_cell_warnings(plan)  # on the machine the plan was checked against
    assert sum(line.startswith("the machine is busy") for line in lines) == 1
    threads = [line for line in lines if "serves 64 connections at once" in line]
    assert [line.split("]")[0] for line in threads] == [
        "[threadpool tcp 64 B 100 clients",
        "[threadpool tcp 64 B 300 clients",
    ]
    fds = [line for line in lines if "descriptor limit 200" in line]
    assert {line.split("]")[0] for line in fds} == {
        "[threadpool tcp 64 B 300 clients",
        "[asyncio tcp 64 B 300 clients",
    }
    assert len(lines) == 5  # once per cell, not per repeat


def test_an_old_spelling_is_named_in_its_errors() -> None:
    """compare's --models and --model NAME=CMD still work (the CLI warns); an error names
    the flag the user typed."""
    with pytest.raises(ConfigError, match="unknown --models 'nginx'"):
        build_plan({"server_model": "threaded,nginx"}, spelled={"server_model": "--models"})
    with pytest.raises(ConfigError, match="--model expects NAME=COMMAND"):
        build_plan({"server_cmds": ("socat",)}, spelled={"server_cmds": "--model"})
    with pytest.raises(ConfigError, match="--server-cmd expects NAME=COMMAND"):
        build_plan({"server_cmds": ("socat",)})


@pytest.mark.parametrize("direction", ["reverse", "bidir"])
def test_reverse_and_bidir_reach_every_cell(direction: str) -> None:
    """compare --mode stream --reverse/--bidir: each cell is a stream that way."""
    plan = build_plan(
        {"server_model": "threaded,asyncio", "proto": "tcp,unix", "clients": "2",
         "mode": "stream", direction: True, "server_cpus": "none", "client_cpus": "none"}
    )  # fmt: skip
    assert len(plan.cells) == 4
    assert {c.spec.load.direction.value for c in plan.cells} == {direction}
    assert all(c.spec.load.mode.value == "stream" for c in plan.cells)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate_max": "1k"}, "--rate-max applies to compare --capacity EXPR (a search per "
         "cell); add it or drop --rate-max"),
        ({"rate_min": "1k"}, "--rate-min applies to compare --capacity"),
        ({"precision": "5%"}, "--precision applies to compare --capacity"),
        ({"confirm": True}, "--confirm applies to compare --capacity"),
        ({"confirm": False}, "--no-confirm applies to compare --capacity"),
        ({"stop_after_fail": "-1"}, "--stop-after-fail applies to compare --sweep RATES (a "
         "sweep per cell); add it or drop --stop-after-fail"),
        ({"sweep": "1k,2k", "rate_max": "5k"}, "--rate-max applies to compare --capacity"),
        ({"capacity": ("p99 < 1ms",), "stop_after_fail": "3"},
         "--stop-after-fail applies to compare --sweep"),
    ],
)  # fmt: skip
def test_a_capacity_or_sweep_setting_without_it_is_refused(
    options: dict[str, object], message: str
) -> None:
    """compare --rate-max 1k (or --stop-after-fail -1) ran one run per cell, the setting
    ignored: each needs the --capacity or --sweep it tunes."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_plan({"server_model": "asyncio", "proto": "tcp", "clients": "2", **options})


def test_a_capacity_or_sweep_setting_is_taken_with_it() -> None:
    base = {"server_model": "asyncio", "proto": "tcp", "clients": "2"}
    search = build_plan({**base, "capacity": ("p99 < 1ms",), "rate_max": "5k", "confirm": False})
    assert search.at_rates is not None and search.at_rates.search is not None
    assert (search.at_rates.search.rate_max, search.at_rates.search.confirm) == (5000.0, False)
    sweep = build_plan({**base, "sweep": "1k,2k", "stop_after_fail": "3"})
    assert sweep.at_rates is not None and sweep.at_rates.sweep is not None
    assert sweep.at_rates.sweep.stop_after_fail == 3
