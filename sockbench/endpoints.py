"""Socket addresses as users write them, parsed and checked once (pure).

``tcp://127.0.0.1:9000``, ``tls://127.0.0.1:8443``, ``udp://[::1]:53``,
``unix:///run/app.sock`` and ``unix-dgram:///tmp/app.sock`` name a target (``tls://`` is
TCP with TLS over it: the transport stays ``tcp``, the endpoint says ``tls``);
``sockbench serve --bind`` takes the same forms or a bare ``HOST:PORT`` / path. Load
goes to loopback addresses and Unix paths only: a load generator pointed at someone
else's host by a typo is an accident we refuse to make easy.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from enum import StrEnum

from sockbench.errors import ConfigError

SUN_PATH_MAX = 107  # sizeof(sun_path) - 1 on Linux
TLS_SCHEME = "tls"


class Proto(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    UNIX = "unix"
    UNIX_DGRAM = "unix-dgram"

    @property
    def is_stream(self) -> bool:
        return self in (Proto.TCP, Proto.UNIX)

    @property
    def is_unix(self) -> bool:
        return self in (Proto.UNIX, Proto.UNIX_DGRAM)

    @property
    def socktype(self) -> int:
        return socket.SOCK_STREAM if self.is_stream else socket.SOCK_DGRAM


def parse_proto(text: str) -> Proto:
    try:
        return Proto(text.strip().lower())
    except ValueError:
        choices = ", ".join(p.value for p in Proto)
        raise ConfigError(f"unknown protocol {text!r}; choose one of {choices}") from None


@dataclass(frozen=True)
class Endpoint:
    """One socket address: an IP host and port, or a Unix socket path."""

    proto: Proto
    host: str = ""
    port: int = 0
    path: str = ""
    tls: bool = False  # TLS over this TCP connection (a ``tls://`` target)

    @property
    def family(self) -> int:
        if self.proto.is_unix:
            return socket.AF_UNIX
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    @property
    def sockaddr(self) -> tuple[str, int] | str:
        return self.path if self.proto.is_unix else (self.host, self.port)

    def with_port(self, port: int) -> Endpoint:
        return Endpoint(self.proto, self.host, port, self.path, self.tls)

    def with_tls(self) -> Endpoint:
        """The same TCP address, spoken to over TLS."""
        assert self.proto is Proto.TCP, self
        return Endpoint(self.proto, self.host, self.port, self.path, True)

    def url(self) -> str:
        if self.proto.is_unix:
            return f"{self.proto.value}://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = TLS_SCHEME if self.tls else self.proto.value
        return f"{scheme}://{host}:{self.port}"

    def __str__(self) -> str:
        return self.url()


def _split_host_port(text: str, what: str) -> tuple[str, int]:
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ConfigError(f"malformed {what} {text!r}; expected [IPv6]:PORT")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ConfigError(f"malformed {what} {text!r}; expected HOST:PORT")
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(
            f"malformed {what} {text!r}: port {port_text!r} is not a number"
        ) from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"malformed {what} {text!r}: port {port} is outside 0-65535")
    return host, port


def _loopback_host(host: str, what: str, allow_remote: bool) -> str:
    """Resolve ``host`` to a numeric address, refusing non-loopback ones unless allowed."""
    if host == "localhost":
        host = "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"{what} host {host!r} must be a numeric IP address or 'localhost'"
        ) from None
    if not addr.is_loopback and not allow_remote:
        raise ConfigError(
            f"{what} {host} is not a loopback address; sockbench only loads 127.0.0.0/8, ::1 "
            "and Unix sockets unless you pass --allow-remote"
        )
    return str(addr)


def _check_path(path: str, what: str) -> str:
    if not path:
        raise ConfigError(f"malformed {what}: empty Unix socket path")
    if len(path.encode()) > SUN_PATH_MAX:
        raise ConfigError(
            f"{what} path is {len(path.encode())} bytes; Unix socket paths are limited to "
            f"{SUN_PATH_MAX} bytes (sun_path); use a shorter path"
        )
    return path


def parse_target(text: str, *, allow_remote: bool = False) -> Endpoint:
    """Parse ``PROTO://HOST:PORT`` or ``unix[-dgram]://PATH`` into an :class:`Endpoint`."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise ConfigError(
            f"malformed target {text!r}; expected tcp://HOST:PORT, tls://HOST:PORT, "
            "udp://HOST:PORT, unix:///PATH or unix-dgram:///PATH"
        )
    tls = scheme.strip().lower() == TLS_SCHEME
    proto = Proto.TCP if tls else parse_proto(scheme)
    if proto.is_unix:
        return Endpoint(proto, path=_check_path(rest, "target"))
    host, port = _split_host_port(rest, "target")
    if port == 0:
        raise ConfigError(f"malformed target {text!r}: port 0 cannot be connected to")
    return Endpoint(proto, _loopback_host(host, "target", allow_remote), port, tls=tls)


def parse_bind(text: str, proto: Proto) -> Endpoint:
    """Parse a server's bind address: ``HOST:PORT`` or a Unix path, with or without ``PROTO://``.

    Port 0 asks the kernel for a free port. Any local address may be bound.
    """
    scheme, sep, rest = text.partition("://")
    if sep:
        if parse_proto(scheme) != proto:
            raise ConfigError(f"bind address {text!r} does not match --proto {proto.value}")
        text = rest
    if proto.is_unix:
        return Endpoint(proto, path=_check_path(text, "bind"))
    host, port = _split_host_port(text, "bind address")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        raise ConfigError(f"bind host {host!r} must be a numeric IP address") from None
    return Endpoint(proto, host, port)
