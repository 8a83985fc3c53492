"""The model registry: one entry per model, lazy imports, clear errors."""

from __future__ import annotations

import pytest

from sockbench.endpoints import Proto
from sockbench.errors import ConfigError
from sockbench.servers import registry
from sockbench.servers.registry import (
    MODELS,
    ModelInfo,
    available_models,
    get_model,
    load,
    unavailable_reason,
)

pytestmark = pytest.mark.unit  # pure: make unit runs it

EXPECTED = {"threaded", "threadpool", "selectors", "asyncio", "uvloop", "trio", "prefork"}


def test_every_model_is_registered_and_serves_every_proto() -> None:
    assert set(MODELS) == EXPECTED
    for name, info in MODELS.items():
        assert info.name == name
        assert info.protos == frozenset(Proto)
        assert info.summary


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_available_models_load_a_serve_function(name: str) -> None:
    info = MODELS[name]
    if unavailable_reason(info):
        pytest.skip(unavailable_reason(info) or "")
    assert callable(load(info))


def test_uvloop_is_the_asyncio_module_with_another_loop() -> None:
    assert MODELS["uvloop"].module == MODELS["asyncio"].module
    assert MODELS["uvloop"].options["loop"] == "uvloop"
    assert MODELS["asyncio"].options["loop"] == "asyncio"
    assert MODELS["uvloop"].requires == "uvloop"


def test_only_prefork_shares_its_port() -> None:
    assert {name for name, info in MODELS.items() if info.reuse_port} == {"prefork"}


def test_unknown_model() -> None:
    with pytest.raises(ConfigError) as err:
        get_model("forking")
    assert str(err.value) == (
        "unknown server model 'forking'; choose one of "
        "threaded, threadpool, selectors, asyncio, uvloop, trio, prefork"
    )


def test_names_are_case_insensitive() -> None:
    assert get_model(" Selectors ") is MODELS["selectors"]


def test_unavailable_model(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = ModelInfo(
        "fancy", "sockbench.servers.threaded", "needs a package", requires="no_such_pkg_sb"
    )
    monkeypatch.setitem(registry.MODELS, "fancy", fake)
    assert unavailable_reason(fake) == (
        "server model 'fancy' needs the optional package no_such_pkg_sb: pip install no_such_pkg_sb"
    )
    with pytest.raises(ConfigError, match="pip install no_such_pkg_sb"):
        get_model("fancy")
    assert fake not in available_models()


def test_model_infos_are_hashable() -> None:
    assert len({*MODELS.values()}) == len(MODELS)


def test_load_rejects_a_module_without_serve() -> None:
    with pytest.raises(TypeError, match="no serve"):
        load(ModelInfo("broken", "sockbench.servers.behaviour", "not a model"))
