"""The compiled build's system-call shim (``sockbench/engine/io/_sysio.c``), built here
from its source whatever build runs (CI tests the pure build), against real sockets: it
must behave as the socket and select methods it replaces, and the pump must count every
request through it exactly as through them."""

from __future__ import annotations

import errno
import select
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio

from sockbench.endpoints import Proto
from sockbench.engine.io import sysio
from tests.engine.test_connectors import REQUESTS, _run

pytestmark = pytest.mark.e2e  # real sockets, a C compiler


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    if sysio._sysio is not None:  # the compiled build: test what it runs
        return sysio._sysio
    # Without a compiler or Python's headers it cannot be built here (nor would the
    # compiled build); with them, a build error fails the test.
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler (.ci/system-deps installs gcc): the shim is not built")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        pytest.skip("no Python.h for this interpreter: the shim is not built")
    return sysio.build_shim(tmp_path_factory.mktemp("sysio"))


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def test_send_and_recv_into_move_the_bytes_as_the_socket_methods_do(
    shim: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    out, into = shim.Stream(a.fileno()), shim.Stream(b.fileno())
    assert out.fileno() == out.fd == a.fileno()
    assert out.send(b"hello, ") == 7
    assert out.send(memoryview(b"xxworld")[2:]) == 5
    buf = bytearray(64)
    assert into.recv_into(memoryview(buf)[3:8]) == 5  # only what the view holds
    assert buf[3:8] == b"hello"
    assert into.recv_into(buf) == 7
    assert buf[:7] == b", world"


def test_nothing_to_read_or_no_room_is_blocking_io_error(
    shim: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    with pytest.raises(BlockingIOError):
        shim.Stream(b.fileno()).recv_into(bytearray(16))
    out = shim.Stream(a.fileno())
    chunk = b"x" * 65536
    with pytest.raises(BlockingIOError):
        for _ in range(10_000):  # a socket buffer is at most a few MiB
            out.send(chunk)


def test_a_closed_peer_reads_as_zero_then_fails_the_send(
    shim: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    b.close()
    assert shim.Stream(a.fileno()).recv_into(bytearray(16)) == 0
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        shim.Stream(a.fileno()).send(b"x")


def test_a_send_to_a_closed_peer_never_raises_sigpipe(shim: ModuleType) -> None:
    """MSG_NOSIGNAL: a process whose SIGPIPE is the default (not Python's ignore) still
    gets EPIPE, not death (a child: here the signal would end the test run)."""
    code = (
        "import importlib.util, signal, socket, sys\n"
        "spec = importlib.util.spec_from_file_location(sys.argv[1], sys.argv[2])\n"
        "shim = importlib.util.module_from_spec(spec); spec.loader.exec_module(shim)\n"
        "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
        "a, b = socket.socketpair(); b.close()\n"
        "try:\n    shim.Stream(a.fileno()).send(b'x')\n"
        "except BrokenPipeError:\n    print('EPIPE')\n"
    )
    argv = [sys.executable, "-c", code, shim.__name__, str(shim.__file__)]
    child = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert (child.returncode, child.stdout) == (0, "EPIPE\n")


def test_bad_arguments_are_the_usual_errors(shim: ModuleType) -> None:
    with pytest.raises(ValueError, match="never negative"):
        shim.Stream(-1)
    with pytest.raises(TypeError):
        shim.Stream("3")
    r, w = socket.socketpair()
    with r, w:
        with pytest.raises(TypeError):
            shim.Stream(w.fileno()).send("text")
        with pytest.raises(TypeError):
            shim.Stream(r.fileno()).recv_into(b"read-only")
        with pytest.raises(TypeError):
            shim.Epoll(r.fileno()).poll(0)
        with pytest.raises(ValueError, match="NaN"):
            shim.Epoll(r.fileno()).poll(float("nan"), 1)
    closed = socket.socket()
    fd = closed.fileno()
    closed.close()
    with pytest.raises(OSError) as raised:
        shim.Stream(fd).send(b"x")
    assert raised.value.errno in (errno.EBADF, errno.ENOTSOCK)


def test_poll_reads_what_select_epoll_reads(
    shim: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    with select.epoll() as ep:
        ep.register(a.fileno(), select.EPOLLIN | select.EPOLLOUT)
        ep.register(b.fileno(), select.EPOLLIN)
        poll = shim.Epoll(ep.fileno()).poll
        assert poll(0, 16) == ep.poll(0, 16) == [(a.fileno(), select.EPOLLOUT)]
        a.send(b"x")
        expected = sorted(ep.poll(0, 16))
        assert (
            sorted(poll(0, 16))
            == expected
            == sorted([(a.fileno(), select.EPOLLOUT), (b.fileno(), select.EPOLLIN)])
        )
        assert len(poll(0, 1)) == 1  # maxevents bounds the batch
        assert sorted(poll(0, -1)) == expected  # -1: no bound of the caller's


def test_a_wait_is_never_shorter_than_asked(
    shim: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair
    with select.epoll() as ep:
        ep.register(a.fileno(), select.EPOLLIN)
        start = time.monotonic()
        assert shim.Epoll(ep.fileno()).poll(0.0015, 8) == []  # rounded up to 2 ms
        assert time.monotonic() - start >= 0.0015


def test_a_wait_lets_other_threads_run(
    shim: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    """The GIL is released while epoll_wait blocks: the thread that wakes it can run.
    Held, the send below would wait out the 10 s poll, which would return nothing."""
    a, b = pair
    got: list[list[tuple[int, int]]] = []
    with select.epoll() as ep:
        ep.register(b.fileno(), select.EPOLLIN)
        waiter = threading.Thread(target=lambda: got.append(shim.Epoll(ep.fileno()).poll(10, 8)))
        start = time.monotonic()
        waiter.start()
        time.sleep(0.05)  # the waiter is (most likely) in epoll_wait by now
        a.send(b"x")
        waiter.join()
    assert got == [[(b.fileno(), select.EPOLLIN)]]
    assert time.monotonic() - start < 5


class _Alarm(Exception):
    pass


@contextmanager
def _alarm(handler: Any) -> Iterator[None]:
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _raise(signum: int, frame: object) -> None:
    raise _Alarm


def test_a_signal_during_a_wait_runs_its_handler(
    shim: ModuleType, pair: tuple[socket.socket, socket.socket]
) -> None:
    """EINTR: the handler runs at once; what it raises comes out of the poll, and a
    handler that returns ends the wait with no events (the pump's loop waits again)."""
    a, _ = pair
    calls: list[int] = []
    with select.epoll() as ep:
        ep.register(a.fileno(), select.EPOLLIN)
        poll = shim.Epoll(ep.fileno()).poll
        start = time.monotonic()
        with _alarm(_raise), pytest.raises(_Alarm):
            poll(10, 8)
        with _alarm(lambda signum, frame: calls.append(signum)):
            assert poll(10, 8) == []
    assert calls == [signal.SIGALRM]
    assert time.monotonic() - start < 5


class _Counting:
    """The shim, counting the objects the pump makes of it."""

    def __init__(self, shim: ModuleType) -> None:
        self.shim = shim
        self.streams = 0
        self.polls = 0

    def Stream(self, fd: int) -> Any:
        self.streams += 1
        return self.shim.Stream(fd)

    def Epoll(self, fd: int) -> Any:
        self.polls += 1
        return self.shim.Epoll(fd)


@pytest.mark.parametrize(
    ("proto", "options"),
    [
        (Proto.TCP, {}),
        (Proto.TCP, {"pipeline": 8}),
        (Proto.TCP, {"rate": 3000.0}),
        (Proto.UDP, {}),
        (Proto.UDP, {"rate": 3000.0}),
    ],
    ids=["tcp-closed", "tcp-pipeline", "tcp-open", "udp-closed", "udp-open"],
)
def test_the_pump_counts_every_request_through_the_shim(
    shim: ModuleType, monkeypatch: pytest.MonkeyPatch, proto: Proto, options: dict[str, Any]
) -> None:
    counting = _Counting(shim)
    monkeypatch.setattr(sysio, "_sysio", counting)
    recorder, control = trio.run(_run, proto, options)
    assert not recorder.errors and not recorder.failures
    assert recorder.requests == REQUESTS == recorder.window.issued
    assert counting.polls == 1 and counting.streams == control.connections > 0
