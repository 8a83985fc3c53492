"""The host: binding, the errors a user sees for unusable addresses, signals, cleanup."""

from __future__ import annotations

import os
import signal
import socket
import stat
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers_support import has_ipv6_loopback

from sockbench.core.spec.server import BuiltIn
from sockbench.endpoints import Endpoint, Proto
from sockbench.errors import ConfigError
from sockbench.servers import registry
from sockbench.servers.context import ServeContext, StopSignal
from sockbench.servers.host import check_options, serve_forever
from sockbench.servers.registry import ModelInfo
from sockbench.servers.sockets import BACKLOG, open_listener

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

UNIX_PROTOS = [Proto.UNIX, Proto.UNIX_DGRAM]


IP_HOSTS = [
    "127.0.0.1",
    pytest.param("::1", marks=pytest.mark.skipif(not has_ipv6_loopback(), reason="no ::1 here")),
]


def never_ready(endpoint: Endpoint) -> None:
    raise AssertionError(f"serve_forever should have failed before serving on {endpoint}")


def serve_in_thread(model: str, bind: Endpoint) -> tuple[Endpoint, StopSignal, threading.Thread]:
    stop = StopSignal()
    ready = threading.Event()
    bound: list[Endpoint] = []

    def on_ready(endpoint: Endpoint) -> None:
        bound.append(endpoint)
        ready.set()

    thread = threading.Thread(
        target=serve_forever,
        args=(BuiltIn(model), bind),
        kwargs={"on_ready": on_ready, "stop": stop},
    )
    thread.start()
    assert ready.wait(5)
    return bound[0], stop, thread


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """Register a model whose ``serve`` each test sets (module ``sb_fake_model``)."""
    module = types.ModuleType("sb_fake_model")
    monkeypatch.setitem(sys.modules, "sb_fake_model", module)
    monkeypatch.setitem(registry.MODELS, "fake", ModelInfo("fake", "sb_fake_model", "test"))
    yield module


def test_serve_forever_reports_the_real_port_and_stops(sock_dir: Path) -> None:
    endpoint, stop, thread = serve_in_thread("selectors", Endpoint(Proto.TCP, "127.0.0.1", 0))
    assert endpoint.port != 0
    with socket.create_connection(endpoint.sockaddr, timeout=2) as conn:  # type: ignore[arg-type]
        conn.sendall(b"ping")
        assert conn.recv(10) == b"ping"
    stop.set()
    thread.join(3)
    assert not thread.is_alive()


@pytest.mark.parametrize("proto", UNIX_PROTOS, ids=lambda p: p.value)
def test_unix_socket_file_is_removed_at_exit(proto: Proto, sock_dir: Path) -> None:
    path = sock_dir / "s.sock"
    endpoint, stop, thread = serve_in_thread("threaded", Endpoint(proto, path=str(path)))
    assert endpoint.path == str(path)
    assert stat.S_ISSOCK(path.lstat().st_mode)
    stop.set()
    thread.join(3)
    assert not path.exists()


def test_signal_stops_the_server_and_handlers_are_restored(fake_model: types.ModuleType) -> None:
    def serve(listener: socket.socket, ctx: ServeContext) -> None:
        ctx.ready()
        os.kill(os.getpid(), signal.SIGTERM)
        assert ctx.stop.wait(2)

    fake_model.serve = serve
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    serve_forever(BuiltIn("fake"), Endpoint(Proto.TCP, "127.0.0.1", 0), on_ready=lambda ep: None)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_socket_file_is_removed_when_the_model_fails(
    fake_model: types.ModuleType, sock_dir: Path
) -> None:
    def serve(listener: socket.socket, ctx: ServeContext) -> None:
        raise RuntimeError("model bug")

    fake_model.serve = serve
    path = sock_dir / "s.sock"
    with pytest.raises(RuntimeError, match="model bug"):
        serve_forever(BuiltIn("fake"), Endpoint(Proto.UNIX, path=str(path)), on_ready=never_ready)
    assert not path.exists()


def test_a_file_that_replaced_our_socket_is_left_alone(
    fake_model: types.ModuleType, sock_dir: Path
) -> None:
    path = sock_dir / "s.sock"

    def serve(listener: socket.socket, ctx: ServeContext) -> None:
        path.unlink()
        path.write_text("someone else's")

    fake_model.serve = serve
    serve_forever(BuiltIn("fake"), Endpoint(Proto.UNIX, path=str(path)), on_ready=lambda ep: None)
    assert path.read_text() == "someone else's"


@pytest.mark.parametrize("proto", UNIX_PROTOS, ids=lambda p: p.value)
def test_stale_socket_file_is_reported_not_deleted(proto: Proto, sock_dir: Path) -> None:
    path = sock_dir / "stale.sock"
    dead = socket.socket(socket.AF_UNIX, proto.socktype)
    dead.bind(str(path))
    dead.close()  # a server that died without removing its socket
    with pytest.raises(ConfigError) as err:
        serve_forever(BuiltIn("selectors"), Endpoint(proto, path=str(path)), on_ready=never_ready)
    assert str(err.value) == (
        f"unix socket {path} exists but no server answers (stale file from a dead server?); "
        "remove it or choose another path"
    )
    assert stat.S_ISSOCK(path.lstat().st_mode)


@pytest.mark.parametrize("proto", UNIX_PROTOS, ids=lambda p: p.value)
@pytest.mark.parametrize("other", UNIX_PROTOS, ids=lambda p: p.value)
def test_socket_of_a_live_server_is_in_use(proto: Proto, other: Proto, sock_dir: Path) -> None:
    path = sock_dir / "live.sock"
    with socket.socket(socket.AF_UNIX, other.socktype) as live:
        live.bind(str(path))
        if other.is_stream:
            live.listen()
        with pytest.raises(ConfigError, match="is in use by a running server"):
            serve_forever(
                BuiltIn("selectors"), Endpoint(proto, path=str(path)), on_ready=never_ready
            )
    assert path.exists()


def test_path_that_is_not_a_socket_is_never_deleted(sock_dir: Path) -> None:
    regular = sock_dir / "data.txt"
    regular.write_text("precious")
    (sock_dir / "adir").mkdir()
    (sock_dir / "link").symlink_to(regular)
    for name in ("data.txt", "adir", "link"):
        path = sock_dir / name
        with pytest.raises(ConfigError) as err:
            open_listener(Endpoint(Proto.UNIX, path=str(path)))
        assert str(err.value) == (
            f"{path} exists and is not a socket; refusing to replace it: choose another path"
        )
    assert regular.read_text() == "precious"
    assert (sock_dir / "adir").is_dir() and (sock_dir / "link").is_symlink()


def test_path_longer_than_sun_path() -> None:
    path = "/tmp/" + "x" * 103  # 108 bytes
    with pytest.raises(ConfigError) as err:
        open_listener(Endpoint(Proto.UNIX, path=path))
    assert str(err.value) == (
        "unix socket path is 108 bytes; paths are limited to 107 bytes (sun_path); "
        "use a shorter path"
    )


def test_missing_directory(sock_dir: Path) -> None:
    path = sock_dir / "nope" / "s.sock"
    with pytest.raises(ConfigError) as err:
        open_listener(Endpoint(Proto.UNIX, path=str(path)))
    assert str(err.value) == (
        f"cannot create unix socket {path}: directory {sock_dir / 'nope'} does not exist"
    )


def test_directory_without_write_permission(sock_dir: Path) -> None:
    """Root bypasses permissions, so the bind runs in a forked child that became nobody."""
    locked = sock_dir / "locked"
    locked.mkdir(mode=0o755)
    sock_dir.chmod(0o755)
    path = locked / "s.sock"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                open_listener(Endpoint(Proto.UNIX, path=str(path))).close()
                os.write(write_end, b"bound")
            except ConfigError as exc:
                os.write(write_end, str(exc).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as result:
        message = result.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    if message == "bound":
        pytest.skip("this user may write to a 0755 directory of another owner")
    assert message == (
        f"cannot create unix socket {path}: permission denied in {locked}; "
        "choose a path in a directory you can write to"
    )
    assert not path.exists()


@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UDP], ids=lambda p: p.value)
@pytest.mark.parametrize("host", IP_HOSTS)
def test_ip_address_in_use(proto: Proto, host: str) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, proto.socktype) as taken:
        taken.bind((host, 0))
        if proto.is_stream:
            taken.listen()
        port = taken.getsockname()[1]
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        for model in ("selectors", "prefork"):
            with pytest.raises(ConfigError) as err:
                serve_forever(BuiltIn(model), Endpoint(proto, host, port), on_ready=never_ready)
            assert str(err.value) == f"{shown} is already in use; pick another port with --bind"


@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UDP], ids=lambda p: p.value)
def test_prefork_does_not_join_a_port_shared_with_so_reuseport(proto: Proto) -> None:
    with socket.socket(socket.AF_INET, proto.socktype) as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        if proto.is_stream:
            taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match="already in use"):
            serve_forever(
                BuiltIn("prefork"), Endpoint(proto, "127.0.0.1", port), on_ready=never_ready
            )


def test_address_not_on_this_host() -> None:
    with pytest.raises(ConfigError, match=r"192\.0\.2\.1 is not an address of this host"):
        open_listener(Endpoint(Proto.TCP, "192.0.2.1", 0))


def test_listener_backlog_is_never_small() -> None:
    assert BACKLOG >= 65535
    listener = open_listener(Endpoint(Proto.TCP, "127.0.0.1", 0))
    try:
        assert listener.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        assert listener.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    finally:
        listener.close()


def test_check_options() -> None:
    assert check_options(BuiltIn("threaded"), Proto.TCP).name == "threaded"
    with pytest.raises(ConfigError, match="unknown server model 'nope'"):
        check_options(BuiltIn("nope"), Proto.TCP)


def test_stop_signal_is_level_triggered() -> None:
    stop = StopSignal()
    try:
        assert not stop.wait(0.01)
        stop.set()
        stop.set()
        assert stop.is_set() and stop.wait(0) and stop.wait(None)
    finally:
        stop.close()


def server_side_of(client: socket.socket) -> socket.socket | None:
    """The accepted socket (a dup) in this process whose peer is ``client``."""
    for name in os.listdir("/proc/self/fd"):
        try:
            fd = os.dup(int(name))
        except OSError:  # the listing's own fd, closed meanwhile
            continue
        try:
            candidate = socket.socket(fileno=fd)
        except OSError:  # not a socket
            os.close(fd)
            continue
        try:
            if (
                candidate.family == socket.AF_INET
                and candidate.getpeername() == client.getsockname()
            ):
                return candidate
        except OSError:
            pass
        candidate.close()
    return None


@pytest.mark.parametrize(
    "model", ["threaded", "threadpool", "selectors", "asyncio", "uvloop", "trio"]
)
def test_accepted_tcp_sockets_get_nodelay(model: str) -> None:
    if registry.unavailable_reason(registry.MODELS[model]):
        pytest.skip("model not installed")
    endpoint, stop, thread = serve_in_thread(model, Endpoint(Proto.TCP, "127.0.0.1", 0))
    try:
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=2) as client:
            client.sendall(b"x")
            assert client.recv(1) == b"x"
            accepted = server_side_of(client)
            assert accepted is not None
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        stop.set()
        thread.join(3)
