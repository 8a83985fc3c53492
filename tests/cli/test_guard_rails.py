"""Guard rails: a run whose numbers could not mean what it asks for is refused up front."""

from __future__ import annotations

import pytest

from sockbench.errors import ConfigError
from sockbench.machine import build_run_spec
from tests.support.runs import BASE

pytestmark = pytest.mark.unit  # builds specs only: no socket, no process


@pytest.mark.parametrize("protocol", ["redis", "memcache"])
@pytest.mark.parametrize("model", ["asyncio", "threaded"])
def test_a_key_value_protocol_against_a_built_in_model_is_refused(
    protocol: str, model: str
) -> None:
    # The built-in models echo: a redis run against one would measure an echo server.
    with pytest.raises(ConfigError, match=f"--protocol {protocol} needs a server that speaks"):
        build_run_spec({**BASE, "protocol": protocol, "server_model": model})


@pytest.mark.parametrize(
    "server",
    [
        {"target": "tcp://127.0.0.1:6379", "server_model": None},
        {"server_cmd": "redis-server --port {port}", "server_model": None},
    ],
)
def test_a_key_value_protocol_against_a_server_of_yours_is_accepted(
    server: dict[str, object],
) -> None:
    spec = build_run_spec({**BASE, "protocol": "redis", **server})
    assert spec.request.protocol == "redis"


@pytest.mark.parametrize("protocol", ["echo", "line", "length-prefixed:u32"])
def test_protocols_an_echo_server_answers_stay_allowed_against_built_in_models(
    protocol: str,
) -> None:
    assert build_run_spec({**BASE, "protocol": protocol}).request.protocol == protocol
