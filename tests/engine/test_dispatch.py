"""Which driver serves a workload, and how a failure is named: tables, without sockets."""

from __future__ import annotations

import errno
import inspect

import pytest
import trio

from sockbench.engine.clients import DRIVERS, bulk, churn, datagram, driver_for, reference
from sockbench.engine.clients.reference import SetupFailed, setup_error_kind
from sockbench.engine.io.error_kinds import Mismatch, PeerClosed, ProtocolError, error_kind
from sockbench.engine.worker import run as worker
from tests.support.specs import spec_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("mode", "stream_socket", "open_loop", "driver"),
    [
        ("echo", True, False, reference.closed_loop),
        ("echo", True, True, reference.open_loop),
        ("echo", False, False, datagram.closed_loop),
        ("echo", False, True, datagram.open_loop),
        ("churn", True, False, churn.churn),
        ("stream", True, False, bulk.tcp_bulk),
        ("stream", False, True, bulk.udp_bulk),
    ],
)
def test_each_workload_has_its_driver(
    mode: str, stream_socket: bool, open_loop: bool, driver: object
) -> None:
    assert driver_for(mode, stream_socket, open_loop) is driver
    assert inspect.iscoroutinefunction(driver)


@pytest.mark.parametrize(
    ("mode", "stream_socket", "open_loop"),
    [
        ("churn", True, True),  # churn is closed-loop (config refuses --rate)
        ("churn", False, False),  # churn needs a stream socket
        ("churn", False, True),
        ("stream", True, True),  # a stream socket sends as fast as it can: no --rate
        ("stream", False, False),  # datagrams stream at a --rate
        ("ping", True, False),
    ],
)
def test_a_workload_the_config_refuses_has_no_driver(
    mode: str, stream_socket: bool, open_loop: bool
) -> None:
    with pytest.raises(KeyError):
        driver_for(mode, stream_socket, open_loop)


def test_the_table_holds_the_seven_workloads_and_nothing_else() -> None:
    assert len(DRIVERS) == 7
    assert len(set(DRIVERS.values())) == 7  # no two workloads share a driver by mistake


@pytest.mark.parametrize(
    ("batch", "mode", "pumped"),
    [
        (True, "echo", True),  # the default: every echo-mode client through one pump
        (False, "echo", False),  # --no-batch: the reference driver, a task per client
        (True, "churn", False),
        (True, "stream", False),
    ],
)
def test_only_echo_mode_goes_through_the_pump(batch: bool, mode: str, pumped: bool) -> None:
    assert worker._pumped(spec_of({"batch": batch, "mode": mode})) is pumped


# -- error kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (PeerClosed(), "closed"),
        (Mismatch(), "mismatch"),
        (ProtocolError(), "protocol_error"),
        (TimeoutError(), "timeout"),  # a timeout of ours, no errno
        (ConnectionResetError(errno.ECONNRESET, "reset"), "reset"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "refused"),
        (BrokenPipeError(errno.EPIPE, "pipe"), "broken_pipe"),
        (TimeoutError(errno.ETIMEDOUT, "timed out"), "timeout"),  # the kernel's
        (OSError(errno.ECONNABORTED, "aborted"), "aborted"),
        (OSError(errno.EADDRNOTAVAIL, "no port"), "no_ephemeral_port"),
        (OSError(errno.EADDRINUSE, "in use"), "address_in_use"),
        (OSError(errno.EMFILE, "fds"), "too_many_open_files"),
        (OSError(errno.ENFILE, "fds"), "too_many_open_files"),
        (OSError(errno.ENOBUFS, "bufs"), "no_buffer_space"),
        (OSError(errno.EHOSTUNREACH, "host"), "unreachable"),
        (OSError(errno.ENETUNREACH, "net"), "unreachable"),
        (FileNotFoundError(errno.ENOENT, "no socket"), "no_such_socket"),
        (BlockingIOError(errno.EAGAIN, "backlog"), "backlog_full"),
        (OSError(errno.EACCES, "denied"), "eacces"),  # any other errno: its name
        (OSError(99999, "unknown"), "oserror"),  # an errno with no name
        (OSError("no errno"), "oserror"),  # no errno at all: the exception's class
        (ValueError("odd"), "valueerror"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_a_failure_is_counted_by_its_kind(exc: BaseException, kind: str) -> None:
    assert error_kind(exc) == kind


def test_a_failed_setup_is_named_by_its_reply_its_deadline_or_its_error() -> None:
    assert setup_error_kind(SetupFailed("protocol_error")) == "protocol_error"
    assert setup_error_kind(trio.TooSlowError()) == "timeout"
    assert setup_error_kind(PeerClosed()) == "closed"
    assert setup_error_kind(ConnectionResetError(errno.ECONNRESET, "reset")) == "reset"
