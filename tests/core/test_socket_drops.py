"""The kernel's drop counts, read from /proc/net/udp's text (pure)."""

from __future__ import annotations

from sockbench.core.socket_drops import (
    drops_between,
    listener_drops,
    loss_advice,
    proc_address,
    proc_table,
)

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"  # noqa: E501


def line(local: str, remote: str, drops: int) -> str:
    return (
        f"  12: {local} {remote} 07 00000000:00000000 00:00000000 00000000     0        0 "
        f"3078135 2 000000000cb11737 {drops}\n"
    )


def test_addresses_are_written_as_the_kernel_writes_them() -> None:
    assert proc_address("127.0.0.1") == "0100007F"
    assert proc_address("127.0.0.2") == "0200007F"
    assert proc_address("::1") == "00000000000000000000000001000000"
    assert (proc_table("127.0.0.1"), proc_table("::1")) == ("udp", "udp6")


def test_the_targets_unconnected_sockets_on_its_port_are_summed() -> None:
    table = HEADER + "".join(
        [
            line("0100007F:1F90", "00000000:0000", 7),  # the target, on its address
            line("00000000:1F90", "00000000:0000", 5),  # a second one, on every address
            line("0100007F:1F91", "00000000:0000", 100),  # another port
            line("0200007F:1F90", "00000000:0000", 100),  # another address
            line("0100007F:D046", "0100007F:1F90", 100),  # a client connected to it
        ]
    )
    assert listener_drops(table, "127.0.0.1", 0x1F90) == 12


def test_a_target_not_listed_is_not_known_not_zero() -> None:
    table = HEADER + line("0100007F:1F91", "00000000:0000", 3)
    assert listener_drops(table, "127.0.0.1", 0x1F90) is None
    assert listener_drops(HEADER, "::1", 80) is None


def test_ipv6_targets_and_wildcards() -> None:
    zero = "0" * 32
    table = HEADER + line(f"{zero}:0050", f"{zero}:0000", 4)
    assert listener_drops(table, "::1", 80) == 4


def test_a_runs_drops_are_the_difference_unless_the_socket_was_replaced() -> None:
    assert drops_between(10, 25) == 15
    assert drops_between(10, 10) == 0
    assert drops_between(10, 3) is None  # a new socket: its count started again
    assert drops_between(None, 3) is None and drops_between(3, None) is None


def test_the_advice_on_loss_follows_where_the_kernel_dropped_it() -> None:
    assert "add --workers" in loss_advice({"generator_drops": 5, "target_drops": 9})
    target = loss_advice({"generator_drops": 0, "target_drops": 9})
    assert target.startswith("the target's socket dropped 9 datagrams") and "--rate" in target
    assert "neither the target's socket nor the generator's" in loss_advice(
        {"generator_drops": 0, "target_drops": 0}
    )
    assert loss_advice({}).startswith("lost datagrams were dropped by the target or a socket")
