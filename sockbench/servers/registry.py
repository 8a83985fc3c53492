"""The one list of server models. Adding a model is one module plus one entry here.

A model is a module with ``serve(listener, ctx) -> None`` (see :mod:`.context`).
Modules are imported lazily by :func:`load`, so ``sockbench --help`` does not pay
for trio, asyncio and uvloop, and a missing optional package only matters to
the model that needs it.
"""

from __future__ import annotations

import importlib
import importlib.util
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import cast

from sockbench.endpoints import Proto
from sockbench.errors import ConfigError
from sockbench.servers.context import ServeContext

ServeFn = Callable[[socket.socket, ServeContext], None]

ALL_PROTOS = frozenset(Proto)


@dataclass(frozen=True)
class ModelInfo:
    """One registered model.

    ``options`` are passed to the module as ``ctx.options``, so one module can back
    several entries (``asyncio`` and ``uvloop`` differ only in the event loop).
    ``reuse_port`` asks the host to set SO_REUSEPORT on TCP/UDP listeners so the
    model's worker processes can bind the same port.
    """

    name: str
    module: str
    summary: str
    protos: frozenset[Proto] = ALL_PROTOS
    requires: str | None = None
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    reuse_port: bool = False


def _entries(*infos: ModelInfo) -> dict[str, ModelInfo]:
    return {info.name: info for info in infos}


MODELS: dict[str, ModelInfo] = _entries(
    ModelInfo(
        "threaded",
        "sockbench.servers.threaded",
        "blocking sockets, one thread per connection",
    ),
    ModelInfo(
        "threadpool",
        "sockbench.servers.threadpool",
        "blocking sockets served by a bounded thread pool; extra connections queue",
    ),
    ModelInfo(
        "selectors",
        "sockbench.servers.selector_loop",
        "one thread, non-blocking sockets, selectors.DefaultSelector (epoll)",
    ),
    ModelInfo(
        "asyncio",
        "sockbench.servers.asyncio_loop",
        "asyncio Protocols on the standard event loop",
        options=MappingProxyType({"loop": "asyncio"}),
    ),
    ModelInfo(
        "uvloop",
        "sockbench.servers.asyncio_loop",
        "asyncio Protocols on uvloop (libuv)",
        requires="uvloop",
        options=MappingProxyType({"loop": "uvloop"}),
    ),
    ModelInfo(
        "trio",
        "sockbench.servers.trio_server",
        "trio tasks: serve_listeners for streams, one task for datagrams",
    ),
    ModelInfo(
        "prefork",
        "sockbench.servers.prefork",
        "N worker processes, each a selectors loop; SO_REUSEPORT for TCP/UDP",
        reuse_port=True,
    ),
)


def unavailable_reason(info: ModelInfo) -> str | None:
    """Why ``info`` cannot run here (a missing optional package), or None when it can."""
    if info.requires is None:
        return None
    try:
        found = importlib.util.find_spec(info.requires) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return (
        f"server model {info.name!r} needs the optional package {info.requires}: "
        f"pip install {info.requires}"
    )


def get_model(name: str) -> ModelInfo:
    """The entry for ``name``; :class:`ConfigError` when unknown or not runnable here."""
    info = MODELS.get(name.strip().lower())
    if info is None:
        raise ConfigError(f"unknown server model {name!r}; choose one of {', '.join(MODELS)}")
    reason = unavailable_reason(info)
    if reason is not None:
        raise ConfigError(reason)
    return info


def available_models() -> list[ModelInfo]:
    """Every model that can run here, in registry order."""
    return [info for info in MODELS.values() if unavailable_reason(info) is None]


def load(info: ModelInfo) -> ServeFn:
    """Import the model's module and return its ``serve`` function."""
    module = importlib.import_module(info.module)
    serve = getattr(module, "serve", None)
    if not callable(serve):
        raise TypeError(f"server model module {info.module} has no serve() function")
    return cast(ServeFn, serve)
