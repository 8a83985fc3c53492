"""TLS's pure decisions: error kinds, the handshake's steps, the options and what they
decide (unit); the warnings are in tests/core/test_warning_rules.py's tables."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.core import tls
from sockbench.core.forecast import predicted_warnings
from sockbench.core.kinds import is_error_kind
from sockbench.core.result import tls_section
from sockbench.core.spec.tls import TlsOptions, tls_settings
from sockbench.core.warning import WarningKind
from sockbench.endpoints import Proto, parse_target
from sockbench.errors import ConfigError
from tests.support.specs import spec_of


@pytest.mark.parametrize(
    ("reason", "verify_failed", "eof", "kind"),
    [
        ("CERTIFICATE_VERIFY_FAILED", True, False, tls.TLS_CERTIFICATE),
        (None, True, False, tls.TLS_CERTIFICATE),
        ("TLSV1_ALERT_PROTOCOL_VERSION", False, False, tls.TLS_VERSION),  # before "ALERT"
        ("UNSUPPORTED_PROTOCOL", False, False, tls.TLS_VERSION),
        ("NO_PROTOCOLS_AVAILABLE", False, False, tls.TLS_VERSION),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", False, False, tls.TLS_ALERT),
        ("TLSV1_ALERT_NO_APPLICATION_PROTOCOL", False, False, tls.TLS_ALERT),
        ("WRONG_VERSION_NUMBER", False, False, tls.TLS_PROTOCOL),  # a plain TCP peer
        ("RECORD_LAYER_FAILURE", False, False, tls.TLS_PROTOCOL),
        ("UNEXPECTED_EOF_WHILE_READING", False, False, tls.TLS_CLOSED),
        (None, False, True, tls.TLS_CLOSED),
        (None, False, False, tls.TLS_PROTOCOL),
    ],
)
def test_a_failure_is_counted_by_what_openssl_said(
    reason: str | None, verify_failed: bool, eof: bool, kind: str
) -> None:
    assert tls.error_kind(reason, verify_failed=verify_failed, eof=eof) == kind
    assert is_error_kind(kind)  # --check errors.KIND accepts it


@pytest.mark.parametrize(
    ("finished", "outgoing", "step"),
    [
        (False, 517, tls.Step.SEND),  # the ClientHello
        (False, 0, tls.Step.READ),  # wait for the server's flight
        (True, 80, tls.Step.SEND),  # the client's Finished goes out before it is done
        (True, 0, tls.Step.DONE),
    ],
)
def test_a_handshake_sends_what_it_made_before_it_waits_or_ends(
    finished: bool, outgoing: int, step: tls.Step
) -> None:
    assert tls.handshake_step(finished, outgoing) == step


def test_failed_handshakes_are_summed_with_the_most_frequent_kind_s_advice() -> None:
    assert tls.failed_handshakes({"reset": 3}) is None
    counted = tls.failed_handshakes({tls.TLS_PROTOCOL: 2, tls.TLS_CERTIFICATE: 5, "reset": 1})
    assert counted == (7, tls.ADVICE[tls.TLS_CERTIFICATE])
    assert set(tls.ADVICE) == set(tls.TLS_KINDS)


def test_tls_targets_are_tcp_said_as_tls() -> None:
    endpoint = parse_target("tls://localhost:8443")
    assert (endpoint.proto, endpoint.host, endpoint.port, endpoint.tls) == (
        Proto.TCP, "127.0.0.1", 8443, True
    )  # fmt: skip
    assert endpoint.url() == "tls://127.0.0.1:8443" == str(endpoint.with_port(8443))
    assert not parse_target("tcp://127.0.0.1:1").tls
    assert parse_target("tcp://127.0.0.1:1").with_tls().url() == "tls://127.0.0.1:1"


def _spec(**values: Any) -> Any:
    return spec_of({"target": "tls://127.0.0.1:8443", **values})


def test_the_options_decide_one_settings_record() -> None:
    spec = _spec(tls_sni="example.test", tls_alpn="h2, http/1.1", tls_version="TLSv1.3",
                 tls_resume=True)  # fmt: skip
    assert spec.tls is not None
    assert (spec.tls.server_name, spec.tls.alpn, spec.tls.version) == (
        "example.test", ("h2", "http/1.1"), "1.3"
    )  # fmt: skip
    assert spec.tls.resume and spec.tls.verify
    assert spec.to_json()["tls"]["alpn"] == ["h2", "http/1.1"]
    assert spec.to_json()["server_tls"] is False
    assert spec_of({}).tls is None and "tls" not in spec_of({}).to_json()
    assert _spec(tls_insecure=True).tls.verify is False  # type: ignore[union-attr]
    built_in = spec_of({"server_tls": True})
    assert built_in.tls is not None and built_in.to_json()["server_tls"] is True
    trusted = built_in.trusting("PEM")
    assert trusted.tls is not None and trusted.tls.ca_pem == "PEM"
    insecure = spec_of({"server_tls": True, "tls_insecure": True})
    assert insecure.trusting("PEM") is insecure  # --tls-insecure stays as it was asked
    [said] = [w for w in predicted_warnings(insecure) if w.kind == WarningKind.TLS_NOT_VERIFIED]
    assert "NOT verified (--tls-insecure)" in said.message and "--tls-ca" in said.advice
    assert not [w for w in predicted_warnings(built_in) if w.kind.startswith("tls")]


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"target": "tcp://127.0.0.1:1", "tls_sni": "x"}, "--tls-sni applies to a TLS target"),
        ({"tls_resume": True, "tls_insecure": True}, "--tls-insecure, --tls-resume apply to"),
        ({"target": "tls://127.0.0.1:1", "tls_version": "1.1"}, "--tls-version '1.1': choose"),
        ({"target": "tls://127.0.0.1:1", "tls_alpn": "h2,,x"}, "--tls-alpn 'h2,,x'"),
        ({"target": "tls://127.0.0.1:1", "tls_sni": " "}, "--tls-sni must not be empty"),
        ({"target": "tls://127.0.0.1:1", "server_tls": True}, "--server-tls applies to a"),
        ({"server_tls": True, "proto": "udp"}, "--server-tls serves TLS over tcp"),
    ],
)
def test_tls_options_that_cannot_apply_are_one_line(values: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match="^" + says.replace("(", r"\(")):
        spec_of(values)


def test_a_ca_and_insecure_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="give --tls-ca or --tls-insecure, not both"):
        tls_settings(TlsOptions(tls_ca="ca.pem", tls_insecure=True), True, "PEM")


def test_the_result_counts_full_and_resumed_handshakes_and_what_they_agreed_on() -> None:
    agreed = tls.negotiated("TLSv1.3", "TLS_AES_128_GCM_SHA256", "h2")
    assert agreed == "TLSv1.3 TLS_AES_128_GCM_SHA256 alpn h2"
    assert tls.negotiated("TLSv1.2", None, None) == "TLSv1.2 ?"
    assert tls_section({"full": 2, "resumed": 6}, True, {agreed: 8}) == {
        "handshakes": 8, "full": 2, "resumed": 6, "resumed_ratio": 0.75, "verified": True,
        "negotiated": {agreed: 8},
    }  # fmt: skip
    assert tls_section({}, False)["resumed_ratio"] is None


@pytest.mark.parametrize(
    ("holds", "step"), [(True, tls.Closing.READ_FIRST), (False, tls.Closing.SEND)]
)
def test_a_stream_over_tls_reads_out_what_tls_holds_before_its_close_notify(
    holds: bool, step: tls.Closing
) -> None:
    assert tls.closing_step(holds) is step


@pytest.mark.parametrize("direction", [{}, {"reverse": True}, {"bidir": True}])
@pytest.mark.parametrize("where", [{"target": "tls://127.0.0.1:8443"}, {"server_tls": True}])
def test_a_stream_runs_over_tls_every_way(
    direction: dict[str, bool], where: dict[str, object]
) -> None:
    spec = spec_of({"mode": "stream", **where, **direction})
    assert spec.tls is not None and spec.load.mode.value == "stream"


@pytest.mark.parametrize(
    ("resume", "resumed", "held", "fetched"),
    [
        (False, False, False, False),  # no --tls-resume: never read (0.2 ms a read)
        (True, False, False, True),  # the first connection's session
        (True, True, True, False),  # it resumed the one held: offered again
        (True, False, True, True),  # the server would not resume it: the new one
    ],
)
def test_a_session_is_read_only_where_the_next_connection_needs_a_new_one(
    resume: bool, resumed: bool, held: bool, fetched: bool
) -> None:
    assert tls.fetch_session(resume, resumed, held) is fetched
