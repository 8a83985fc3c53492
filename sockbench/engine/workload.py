"""What each request is and what its reply must look like, from a RunConfig."""

from __future__ import annotations

from sockbench.config import RunConfig
from sockbench.core.protocols import Exchange, ProtocolOptions, build_protocol
from sockbench.core.protocols.simple import payload_bytes

__all__ = ["build_exchange", "payload_bytes", "protocol_options", "request_bytes"]


def protocol_options(config: RunConfig) -> ProtocolOptions:
    return ProtocolOptions(
        payload=config.payload,
        request=config.request,
        expect=config.expect,
        expect_value=config.expect_value,
        value_size=config.value_size,
        key_space=config.key_space,
        key_pattern=config.key_pattern,
        ratio=config.ratio,
    )


def build_exchange(config: RunConfig) -> Exchange:
    """The run's protocol (checked when the config was built, so this does not fail)."""
    return build_protocol(config.protocol, protocol_options(config))


def request_bytes(config: RunConfig) -> bytes:
    """The one request of fixed-request workloads (churn, stream)."""
    return config.request if config.request is not None else payload_bytes(config.payload)
