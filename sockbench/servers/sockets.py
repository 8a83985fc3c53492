"""Opening the listening socket, and turning every way that fails into one actionable line.

The host and the prefork workers both open listeners here, so the backlog, the
socket options and the error messages exist once. A Unix socket file is only
ever removed by the server that created it; anything else found at the path
(a live server, a stale socket, a regular file) is reported, never deleted.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from dataclasses import dataclass

from sockbench.endpoints import SUN_PATH_MAX, Endpoint
from sockbench.errors import ConfigError

# The kernel caps this at net.core.somaxconn; asking for less would make the
# benchmark measure our backlog instead of the model.
BACKLOG = max(socket.SOMAXCONN, 65535)
STREAM_BUFFER = 16 * 1024  # per-connection read buffer where each connection has its own
SHARED_BUFFER = 64 * 1024  # one reader serving every connection
DATAGRAM_MAX = 65536


def describe(endpoint: Endpoint) -> str:
    """``127.0.0.1:9000``, ``[::1]:9000`` or the Unix path, as a user wrote it."""
    if endpoint.proto.is_unix:
        return endpoint.path
    return endpoint.url().partition("://")[2]


@dataclass(frozen=True)
class Listener:
    """A bound (and, for streams, listening) socket and the address it really got."""

    sock: socket.socket
    endpoint: Endpoint
    # (st_dev, st_ino) of the socket file this server created, so that only that
    # very file is removed at exit, not whatever replaced it since.
    created: tuple[int, int] | None = None

    def close(self) -> None:
        self.sock.close()
        if self.created is None:
            return
        path = self.endpoint.path
        try:
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) == self.created:
                os.unlink(path)
        except FileNotFoundError:
            pass


def open_listener(bind: Endpoint, *, reuse_port: bool = False) -> Listener:
    """Bind ``bind`` (and listen, for streams); raise :class:`ConfigError` on any failure."""
    if bind.proto.is_unix:
        return _open_unix(bind)
    if reuse_port and bind.port:
        # SO_REUSEPORT would let us silently share a port another server holds
        # with the same option: probe with a plain bind first.
        with _ip_socket(bind, reuse_port=False) as probe:
            _bind_ip(probe, bind)
    sock = _ip_socket(bind, reuse_port=reuse_port)
    try:
        _bind_ip(sock, bind)
        if bind.proto.is_stream:
            sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    return Listener(sock, Endpoint(bind.proto, host, port))


def bind_reuseport(endpoint: Endpoint) -> socket.socket:
    """Another socket on ``endpoint``'s IP port, sharing it through SO_REUSEPORT (prefork)."""
    sock = _ip_socket(endpoint, reuse_port=True)
    try:
        _bind_ip(sock, endpoint)
        if endpoint.proto.is_stream:
            sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _ip_socket(bind: Endpoint, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(bind.family, bind.proto.socktype)
    if bind.proto.is_stream:
        # Restarting a server must not wait out TIME_WAIT. (Not for UDP: there it
        # would let two servers bind the same port.)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _bind_ip(sock: socket.socket, bind: Endpoint) -> None:
    where = describe(bind)
    try:
        sock.bind(bind.sockaddr)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"{where} is already in use; pick another port with --bind") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(
                f"cannot bind {where}: {bind.host} is not an address of this host"
            ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(
                f"cannot bind {where}: port {bind.port} needs privileges; use a port >= 1024"
            ) from None
        raise ConfigError(f"cannot bind {where}: {exc.strerror or exc}") from None


def _open_unix(bind: Endpoint) -> Listener:
    path = bind.path
    if len(path.encode()) > SUN_PATH_MAX:
        raise ConfigError(
            f"unix socket path is {len(path.encode())} bytes; paths are limited to "
            f"{SUN_PATH_MAX} bytes (sun_path); use a shorter path"
        )
    _check_existing(bind)
    sock = socket.socket(socket.AF_UNIX, bind.proto.socktype)
    created: tuple[int, int] | None = None
    try:
        try:
            sock.bind(path)
        except OSError as exc:
            raise _unix_bind_error(path, exc) from None
        st = os.lstat(path)
        created = (st.st_dev, st.st_ino)
        if bind.proto.is_stream:
            sock.listen(BACKLOG)
    except BaseException:
        Listener(sock, bind, created).close()
        raise
    return Listener(sock, bind, created)


def _check_existing(bind: Endpoint) -> None:
    path = bind.path
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _unix_bind_error(path, exc) from None
    if not stat.S_ISSOCK(st.st_mode):
        raise ConfigError(
            f"{path} exists and is not a socket; refusing to replace it: choose another path"
        )
    if _answers(bind):
        raise ConfigError(
            f"unix socket {path} is in use by a running server; stop it or choose another path"
        )
    # A socket nobody listens on is most likely left by a server that was killed,
    # but it may also belong to a server that is starting right now: we report it
    # instead of guessing, because deleting a live server's socket is silent breakage.
    raise ConfigError(
        f"unix socket {path} exists but no server answers (stale file from a dead server?); "
        "remove it or choose another path"
    )


def _answers(bind: Endpoint) -> bool:
    """Whether something is bound and listening at the Unix path ``bind.path``."""
    with socket.socket(socket.AF_UNIX, bind.proto.socktype) as probe:
        probe.setblocking(False)
        try:
            probe.connect(bind.path)
        except (BlockingIOError, InterruptedError):
            return True  # a listener whose backlog is full: alive
        except OSError as exc:
            # EPROTOTYPE: a live socket of the other type (stream vs datagram).
            return exc.errno == errno.EPROTOTYPE
    return True


def _unix_bind_error(path: str, exc: OSError) -> ConfigError:
    directory = os.path.dirname(os.path.abspath(path))
    if exc.errno == errno.EACCES or exc.errno == errno.EPERM:
        return ConfigError(
            f"cannot create unix socket {path}: permission denied in {directory}; "
            "choose a path in a directory you can write to"
        )
    if exc.errno == errno.ENOENT or exc.errno == errno.ENOTDIR:
        return ConfigError(
            f"cannot create unix socket {path}: directory {directory} does not exist"
        )
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            f"unix socket {path} already exists (another server started meanwhile?); "
            "choose another path"
        )
    if exc.errno == errno.EROFS:
        return ConfigError(f"cannot create unix socket {path}: {directory} is read-only")
    return ConfigError(f"cannot create unix socket {path}: {exc.strerror or exc}")
