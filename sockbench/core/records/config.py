"""What a result says about its run: ``config`` (every option) and ``server``."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from annotated_types import Gt, Len, Lt, MinLen
from pydantic import StringConstraints
from typing_extensions import TypedDict

from sockbench.core.kinds import Arrival, ExpectKind, StreamDirection, Workload
from sockbench.core.records.fields import AtLeastOne, Count, NonNegative, Positive, record
from sockbench.endpoints import Proto


@record
class HttpConfig(TypedDict):
    method: Annotated[str, MinLen(1)]
    paths: Annotated[list[str], Len(1)]
    headers: list[str]
    body: str | None


@record
class TlsConfig(TypedDict):
    verify: bool
    """false: --tls-insecure, certificates were not checked"""
    ca_file: str | None
    """--tls-ca; null: the system's CAs, or a built-in model's own"""
    server_name: str | None
    """--tls-sni; null: the target's host"""
    alpn: list[str]
    version: Literal["1.2", "1.3"] | None
    """--tls-version: only that one; null: either"""
    resume: bool
    """--tls-resume"""


@record
class Config(TypedDict):
    proto: Proto
    clients: AtLeastOne
    duration_s: Positive
    warmup_s: NonNegative
    payload: AtLeastOne
    timeout_s: Positive
    target: str | None
    server_model: str | None
    mode: NotRequired[Workload]
    rate: NotRequired[float | None]
    arrival: NotRequired[Arrival]
    seed: NotRequired[Count]
    pipeline: NotRequired[AtLeastOne]
    requests: NotRequired[AtLeastOne | None]
    interval_s: NotRequired[Positive]
    workers: NotRequired[AtLeastOne]
    protocol: NotRequired[str]
    ratio: NotRequired[Annotated[list[Count], Len(2, 2)]]
    key_space: NotRequired[AtLeastOne]
    key_pattern: NotRequired[Annotated[str, StringConstraints(pattern=r"^[RSGPZ](:[RSGPZ])?$")]]
    value_size: NotRequired[AtLeastOne]
    http: NotRequired[HttpConfig]
    cluster: NotRequired[str | None]
    ramp_s: NotRequired[NonNegative]
    connect_rate: NotRequired[Positive | None]
    key_minimum: NotRequired[Count]
    key_prefix: NotRequired[str]
    zipf: NotRequired[Annotated[float, Gt(0), Lt(5)]]
    value_size_max: NotRequired[AtLeastOne]
    multi_key: NotRequired[AtLeastOne]
    commands: NotRequired[list[Annotated[str, MinLen(1)]]]
    command_ratios: NotRequired[list[AtLeastOne]]
    command_key_patterns: NotRequired[list[Annotated[str, StringConstraints(pattern=r"^[RSGPZ]$")]]]
    """--command-key-pattern: each --command template's key pattern, in order (absent: each
    takes the key_pattern letter)"""
    tls: NotRequired[TlsConfig]
    """A TLS run's client settings (a tls:// target, or --server-tls); absent otherwise
    (docs/tls.md)"""
    server_tls: NotRequired[bool]
    """--server-tls: the built-in model served TLS"""
    direction: NotRequired[StreamDirection]
    """--mode stream only: forward, reverse (--reverse) or bidir (--bidir)"""
    request: NotRequired[str | None]
    """--send / --send-file: the request's bytes as latin-1 text, one character a byte
    (null: the protocol builds its requests)"""
    expect: NotRequired[ExpectKind]
    """how a reply is told complete: echo, exact (--expect), size (--expect-size), until
    (--expect-until)"""
    expect_value: NotRequired[str | int | None]
    """--expect's bytes as latin-1 text, --expect-size's count, --expect-until's delimiter"""
    socket_buffer: NotRequired[AtLeastOne | None]
    """--socket-buffer: each client socket's SO_RCVBUF and SO_SNDBUF asked (null: the
    kernel's default); the kernel doubles it, up to net.core.rmem_max/wmem_max"""


@record
class Server(TypedDict):
    model: str | None
    target: str
    command: NotRequired[str]
    argv: NotRequired[list[str]]
    template: NotRequired[str]
    exit_code: NotRequired[int | None]
    stopped: NotRequired[str | None]
    stdout: NotRequired[str]
    stderr: NotRequired[str]
    error: NotRequired[str]
    escaped: NotRequired[str]
    """a --server-cmd that daemonized: what still serves its endpoint after the stop, and
    the pid"""
