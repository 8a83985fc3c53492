"""The connection lifecycle, fed events and made-up times by hand: one case per rule."""

from __future__ import annotations

import pytest

from sockbench.core.exchange import MISMATCHED, TIMEOUT, RequestWindow
from sockbench.core.lifecycle import (
    BACKING_OFF,
    CONNECT,
    CONNECTING,
    FIRST_BACKOFF_NS,
    MAX_BACKOFF_NS,
    OPEN,
    RETIRE,
    RETIRED,
    SERVE,
    SETTING_UP,
    WAIT,
    ConnectionLifecycle,
)

MS = 1_000_000
S = 1_000 * MS
START, END = 10 * S, 20 * S  # the measurement window


def window(**kw: int) -> RequestWindow:
    return RequestWindow(1 * S, measure_start_ns=START, measure_end_ns=END, **kw)


def life(draw: float = 0.0, win: RequestWindow | None = None) -> ConnectionLifecycle:
    """A lifecycle whose jitter always draws ``draw`` (0: the shortest wait, delay/2)."""
    return ConnectionLifecycle(win or window(), rand=lambda: draw)


def opened(lc: ConnectionLifecycle, served: int = 0) -> ConnectionLifecycle:
    lc.connected()
    assert lc.opened(served) == SERVE and lc.state == OPEN
    return lc


def waits(lc: ConnectionLifecycle, now: int, failures: int) -> list[int]:
    """How long each of ``failures`` failed connects in a row makes the client wait."""
    found = []
    for _ in range(failures):
        assert lc.connect_failed(now) == WAIT and lc.state == BACKING_OFF
        found.append(lc.wake_ns - now)
        now = lc.wake_ns
    return found


# -- connecting ---------------------------------------------------------------------------


def test_a_new_client_connects_then_sets_up_then_serves() -> None:
    lc = life()
    assert lc.state == CONNECTING and lc.connections == 0
    lc.connected()
    assert lc.state == SETTING_UP
    assert lc.opened(served=7) == SERVE
    assert lc.state == OPEN and lc.connections == 1 and lc.served_mark == 7


def test_failed_connects_wait_twice_as_long_each_time_up_to_a_second() -> None:
    # delay 10, 20, 40 ... ms, capped at 1 s; with the draw at 1 the wait is the delay.
    found = waits(life(draw=1.0), 11 * S, 9)
    assert found == [10 * MS, 20 * MS, 40 * MS, 80 * MS, 160 * MS, 320 * MS, 640 * MS, S, S]
    assert FIRST_BACKOFF_NS == 10 * MS and MAX_BACKOFF_NS == S


def test_each_wait_is_drawn_between_half_the_delay_and_the_delay() -> None:
    assert waits(life(draw=0.0), 11 * S, 3) == [5 * MS, 10 * MS, 20 * MS]
    assert waits(life(draw=0.5), 11 * S, 3) == [7_500_000, 15 * MS, 30 * MS]


def test_a_first_connect_that_fails_before_the_run_starts_keeps_trying() -> None:
    """Before the gate opens the window has no end yet: nothing is closed."""
    lc = ConnectionLifecycle(RequestWindow(1 * S), rand=lambda: 0.0)
    assert lc.connect_failed(123) == WAIT and lc.wake_ns == 123 + 5 * MS


def test_a_failed_connect_after_the_window_closed_retires_the_client() -> None:
    lc = life()
    assert lc.connect_failed(END - 1) == WAIT
    assert lc.connect_failed(END) == RETIRE and lc.state == RETIRED and lc.retired


def test_a_failed_connect_retires_once_the_request_limit_is_reached() -> None:
    win = window(limit=1)
    lc = life(win=win)
    assert lc.connect_failed(11 * S) == WAIT
    assert win.admit(11 * S) == 1  # another client's request takes the last one
    assert lc.connect_failed(12 * S) == RETIRE


def test_the_first_connect_and_a_reconnect_fail_by_the_same_rule() -> None:
    first, again = life(), opened(life())
    assert again.dropped(None, 0, 11 * S, 11 * S) == CONNECT
    assert first.connect_failed(12 * S) == again.connect_failed(12 * S) == WAIT
    assert first.wake_ns == again.wake_ns


# -- the back-off on a drop ---------------------------------------------------------------


def test_a_connection_the_target_ended_having_served_nothing_waits_before_the_next() -> None:
    lc = opened(life(), served=40)
    assert lc.dropped("closed", 40, 11 * S, 11 * S) == WAIT
    assert lc.state == BACKING_OFF and lc.wake_ns == 11 * S + 5 * MS


def test_target_that_keeps_closing_at_once_makes_each_wait_longer() -> None:
    lc = life(draw=1.0)
    now, found = 11 * S, []
    for _ in range(4):
        opened(lc, served=40)
        assert lc.dropped("reset", 40, now, now) == WAIT
        found.append(lc.wake_ns - now)
        now = lc.wake_ns
    assert found == [10 * MS, 20 * MS, 40 * MS, 80 * MS]


def test_a_connection_that_served_reconnects_at_once_and_forgets_the_back_off() -> None:
    lc = life(draw=1.0)
    waits(lc, 11 * S, 3)  # 10, 20, 40 ms
    opened(lc, served=40)
    assert lc.dropped("closed", 41, 12 * S, 12 * S) == CONNECT
    assert lc.state == CONNECTING and lc.delay_ns == 0
    assert waits(lc, 12 * S, 1) == [10 * MS]  # from the start again


def test_a_connection_the_target_ended_idle_reconnects_when_the_next_request_is_due() -> None:
    """A keep-alive timeout is no refusal: no back-off, however often, and the connect
    waits for the request that needs it (open loop), or is made at once (closed loop)."""
    lc = life(draw=1.0)
    waits(lc, 11 * S, 3)  # 10, 20, 40 ms: the delay a refusal would have doubled
    opened(lc, served=40)  # served one, then timed out: the connect starts 1 ms early
    assert lc.dropped("closed", 41, 11 * S + 500 * MS, 12 * S, idle=True) == WAIT
    assert lc.state == BACKING_OFF and lc.wake_ns == 12 * S - MS and lc.delay_ns == 0
    for due in (12 * S, 13 * S, 14 * S):
        opened(lc, served=41)  # a fresh connection the target times out: nothing served
        assert lc.dropped("closed", 41, due - 500 * MS, due, idle=True) == WAIT
        assert lc.state == BACKING_OFF and lc.wake_ns == due and lc.delay_ns == 0
    opened(lc, served=41)
    assert lc.dropped("reset", 42, 15 * S, 15 * S, idle=True) == CONNECT  # closed loop
    opened(lc, served=42)
    assert lc.dropped("reset", 43, 16 * S, 16 * S + MS // 2, idle=True) == CONNECT  # in the lead


def test_an_idle_close_after_the_window_retires() -> None:
    lc = opened(life(), served=40)
    assert lc.dropped("closed", 41, 19 * S, 21 * S, idle=True) == RETIRE


def test_a_connection_that_served_nothing_after_failed_connects_waits_longer_still() -> None:
    """The delay is kept until a connection serves, not reset by a connect working."""
    lc = life(draw=1.0)
    waits(lc, 11 * S, 3)  # 10, 20, 40 ms
    opened(lc, served=40)
    assert lc.dropped("closed", 40, 12 * S, 12 * S) == WAIT
    assert lc.wake_ns - 12 * S == 80 * MS


@pytest.mark.parametrize("kind", [None, MISMATCHED, TIMEOUT])
def test_a_wrong_or_late_reply_is_an_answer_and_reconnects_at_once(kind: str | None) -> None:
    lc = life()
    waits(lc, 11 * S, 2)
    opened(lc, served=40)
    assert lc.dropped(kind, 40, 12 * S, 12 * S) == CONNECT and lc.delay_ns == 0


def test_a_failed_setup_waits_even_if_the_worker_served_meanwhile() -> None:
    """A setup that failed served nothing on its connection, whatever the others did."""
    lc = life()
    lc.connected()
    assert lc.setup_failed(11 * S, 11 * S) == WAIT
    assert lc.state == BACKING_OFF and lc.wake_ns == 11 * S + 5 * MS
    lc.connected()
    assert lc.setup_failed(12 * S, 12 * S) == WAIT and lc.wake_ns == 12 * S + 10 * MS
    assert lc.connections == 0  # only a set-up connection counts (the setup sees it)


# -- retiring -----------------------------------------------------------------------------


def test_a_drop_after_the_window_closed_retires_instead_of_reconnecting() -> None:
    lc = opened(life())
    assert lc.dropped("closed", 0, END + 1, END + 1) == RETIRE and lc.state == RETIRED


def test_open_loop_reconnects_after_the_window_for_a_request_due_inside_it() -> None:
    """The next request's mark decides: due before the end, it is still to be sent."""
    lc = opened(life())
    assert lc.dropped("closed", 1, END + 5 * MS, END - MS) == CONNECT
    opened(lc)
    assert lc.dropped("closed", 2, END + 6 * MS, END) == RETIRE


def test_a_failed_setup_with_nothing_left_to_reconnect_for_retires() -> None:
    lc = life()
    lc.connected()
    assert lc.setup_failed(END + 1, END + 1) == RETIRE


def test_the_window_closing_with_nothing_in_flight_retires_at_once() -> None:
    lc = opened(life())
    assert lc.window_closed(in_flight=0) == RETIRE and lc.finished and lc.retired


def test_the_window_closing_with_requests_in_flight_waits_for_them() -> None:
    lc = opened(life())
    assert lc.window_closed(in_flight=3) == SERVE and lc.finished and lc.state == OPEN
    assert lc.nothing_in_flight() == RETIRE and lc.state == RETIRED


def test_nothing_in_flight_before_the_window_closed_is_just_idle() -> None:
    lc = opened(life())
    assert lc.nothing_in_flight() == SERVE and lc.state == OPEN


def test_a_drop_while_finishing_retires() -> None:
    lc = opened(life())
    lc.window_closed(in_flight=2)
    assert lc.dropped(None, 5, 11 * S, 11 * S) == RETIRE


def test_requests_a_close_left_unserved_are_something_to_reconnect_for() -> None:
    """The window closed, and the close a reply announced left two requests unserved:
    the client reconnects to send them again, and retires once they ended."""
    lc = opened(life())
    lc.window_closed(in_flight=3)
    assert lc.dropped(None, 5, 11 * S, 11 * S, unserved=2) == CONNECT
    lc.connected()
    assert lc.opened(served=5, unserved=2) == SERVE and lc.state == OPEN
    assert lc.nothing_in_flight() == RETIRE


def test_a_client_whose_window_closed_while_it_reconnected_retires_as_it_opens() -> None:
    lc = opened(life())
    assert lc.dropped("closed", 0, 11 * S, 11 * S) == WAIT
    assert lc.window_closed(in_flight=0) == SERVE  # not connected: nothing to close yet
    lc.connected()
    assert lc.opened(served=0) == RETIRE


def test_a_client_whose_window_closed_while_it_reconnected_retires_if_the_connect_fails() -> None:
    lc = opened(life())
    lc.dropped("closed", 0, 11 * S, 11 * S)
    lc.window_closed(in_flight=0)
    assert lc.connect_failed(11 * S + 20 * MS) == RETIRE


def test_retire_is_said_once_and_nothing_follows_it() -> None:
    lc = opened(life())
    assert lc.window_closed(0) == RETIRE
    assert lc.window_closed(0) == SERVE
    assert lc.nothing_in_flight() == SERVE
    assert lc.dropped("closed", 0, END + 1, END + 1) == SERVE
    assert lc.connect_failed(END + 1) == SERVE
    assert lc.setup_failed(END + 1, END + 1) == SERVE
    lc.connected()
    assert lc.opened(0) == SERVE and lc.state == RETIRED and lc.connections == 1
