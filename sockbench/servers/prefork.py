"""``prefork``: N worker processes, each running the ``selectors`` loop.

The way past one core and the GIL: each worker is a full process (its own
interpreter, memory and selector), and connections are spread by the kernel.
For TCP/UDP every worker binds its own socket on the same port with
SO_REUSEPORT, so the kernel hashes each connection (or UDP sender) to one
worker's queue; for Unix sockets, which have no SO_REUSEPORT, the workers share
the one bound socket inherited through fork() and race to accept (or recvfrom).
A connection costs a selector registration in one worker; the model costs N
processes up front.

Sink mode on unix-dgram: the workers share one socket, so one sender's
datagrams are spread over several workers and a report covers only the
worker that answered it. Use ``--processes 1`` where exact sink counts matter.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import select
import signal
import socket
import sys
import time
import traceback
from typing import NoReturn

from sockbench.errors import SockbenchError
from sockbench.servers import selector_loop
from sockbench.servers.context import ServeContext, StopSignal
from sockbench.servers.sockets import bind_reuseport

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 2.0
_PR_SET_PDEATHSIG = 1


def serve(listener: socket.socket, ctx: ServeContext) -> None:
    count = ctx.processes or os.cpu_count() or 1
    shared = ctx.proto.is_unix
    ready_r, ready_w = os.pipe()
    pids: list[int] = []
    try:
        # Signals stay blocked across fork() until each worker has its own handlers.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            for _ in range(count):
                pid = os.fork()
                if pid == 0:
                    _worker(listener, ctx, shared, ready_r, ready_w)
                pids.append(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        os.close(ready_w)
        ready_w = -1
        if not _await_ready(ready_r, count, ctx.stop):
            return
        if not shared:
            # The workers hold the port now; ours would take a share of the
            # connections and never accept them.
            listener.close()
        ctx.ready()
        _supervise(ctx.stop, pids)
    finally:
        _stop_workers(pids)
        for fd in (ready_r, ready_w):
            if fd >= 0:
                os.close(fd)


def _worker(
    listener: socket.socket, ctx: ServeContext, shared: bool, ready_r: int, ready_w: int
) -> NoReturn:
    """Run one worker in the forked child; never returns, never runs the parent's cleanup."""
    code = 1
    try:
        os.close(ready_r)
        ctx.stop.close()  # the parent's pipe: this worker gets its own
        stop = StopSignal()
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda signum, frame: stop.set())
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        _die_with_parent(stop)
        if shared:
            sock = listener
        else:
            listener.close()
            sock = bind_reuseport(ctx.endpoint)
        selector_loop.serve(
            sock,
            dataclasses.replace(ctx, stop=stop, ready=lambda: _report(ready_w, "ok")),
        )
        code = 0
    except SockbenchError as exc:
        _report(ready_w, f"error {exc}")
    except BaseException:
        traceback.print_exc()
        _report(ready_w, "error a prefork worker crashed (traceback above)")
    finally:
        os._exit(code)


def _report(fd: int, line: str) -> None:
    os.write(fd, line.encode() + b"\n")


def _die_with_parent(stop: StopSignal) -> None:
    """Ask Linux to SIGTERM this worker if the parent dies without stopping it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        stop.set()


def _await_ready(fd: int, count: int, stop: StopSignal) -> bool:
    """Wait until ``count`` workers said ``ok``; False when stopped meanwhile."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(stop.fileno(), select.POLLIN)
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = b""
    ready = 0
    while ready < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SockbenchError(f"prefork workers not ready within {READY_TIMEOUT_S:g} s")
        events = poller.poll(int(remaining * 1000) + 1)
        if stop.is_set():
            return False
        if not any(ready_fd == fd for ready_fd, _ in events):
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise SockbenchError("prefork workers exited before they were ready")
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.startswith(b"error "):
                raise SockbenchError(line[len(b"error ") :].decode(errors="replace"))
            ready += 1
    return True


def _supervise(stop: StopSignal, pids: list[int]) -> None:
    """Wait for the stop, reaping (and reporting) workers that die meanwhile."""
    while not stop.wait(0.5):
        for pid in list(pids):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                pids.remove(pid)
                print(
                    f"sockbench: prefork worker {pid} exited "
                    f"(status {os.waitstatus_to_exitcode(status)})",
                    file=sys.stderr,
                    flush=True,
                )
        if not pids:
            raise SockbenchError("every prefork worker exited; the server cannot serve")


def _stop_workers(pids: list[int]) -> None:
    """SIGTERM every worker, give them STOP_TIMEOUT_S to close, then SIGKILL; reap all."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while pids and time.monotonic() < deadline:
        for pid in list(pids):
            if os.waitpid(pid, os.WNOHANG)[0]:
                pids.remove(pid)
        if pids:
            time.sleep(0.01)
    for pid in pids:
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    pids.clear()


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
