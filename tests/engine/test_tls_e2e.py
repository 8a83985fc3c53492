"""TLS end to end: a built-in model with --server-tls, and an https nginx counted against
its access log, on both drivers; bad TLS input is one line before any load, or counted
by kind (e2e: real servers, real sockets, short windows)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from sockbench.errors import ConfigError, TargetError
from sockbench.machine import build_run_spec
from sockbench.report import render
from tests.conftest import _free_port
from tests.support.drivers import BOTH_DRIVERS
from tests.support.nginx_tls import HttpsNginx, https_nginx
from tests.support.runs import BASE, run_result

pytestmark = pytest.mark.e2e

SHORT: dict[str, Any] = {"duration_s": 0.3, "warmup_s": 0.0, "clients": 2}


def _tls_run(**options: Any) -> dict[str, Any]:
    return run_result(**{**SHORT, "server_tls": True, **options})


def _handshakes(result: dict[str, Any]) -> tuple[int, int, int]:
    tls = result["tls"]
    assert tls["handshakes"] == tls["full"] + tls["resumed"] == result["handshake_us"]["count"]
    return tls["handshakes"], tls["full"], tls["resumed"]


@BOTH_DRIVERS
def test_pipelined_requests_larger_than_a_record_echo_whole(batch: bool) -> None:
    """70 kB requests, two in flight: each spans five TLS records, a send the socket
    does not take whole, and reads that leave decrypted bytes behind (the pump's backlog)."""
    result = _tls_run(payload=70_000, pipeline=2, batch=batch)
    assert result["totals"]["errors"] == {} and result["totals"]["requests"] > 0
    assert _handshakes(result) == (2, 2, 0)  # one per client, kept alive
    assert result["config"]["server_tls"] and result["server"]["target"].startswith("tls://")
    assert result["tls"]["verified"]
    [(agreed, count)] = result["tls"]["negotiated"].items()
    assert agreed.startswith("TLSv1.3 TLS_") and count == 2  # 1.3 unless --tls-version
    assert "handshake" in render(result, "text")


@pytest.mark.parametrize(
    ("model", "direction", "version"),
    [
        ("threaded", {}, "1.3"),  # the blocking sink, read through TLS
        ("selectors", {"reverse": True}, "1.2"),  # the source's bytes in TLS at our alert
        ("trio", {"bidir": True}, "1.3"),  # SSLStream both ways
    ],
    ids=["forward-threaded", "reverse-selectors-tls1.2", "bidir-trio"],
)
def test_a_stream_over_tls_ends_with_close_notify_and_is_accounted_exactly(
    model: str, direction: dict[str, bool], version: str
) -> None:
    """The client's close_notify is the half-close: the sink or source reports over TLS
    and every identity of a TCP stream holds exactly (run_engine asserts the rows and the
    source's count; the sink's count is the receiver's, to the byte)."""
    result = _tls_run(mode="stream", server_model=model, tls_version=version, **direction)
    stream = result["stream"]
    assert result["totals"]["errors"] == {} and _handshakes(result) == (2, 2, 0)
    assert all(agreed.startswith(f"TLSv{version}") for agreed in result["tls"]["negotiated"])
    if not direction.get("reverse"):
        assert stream["receiver"]["bytes"] == stream["sender"]["bytes"] > 0
        assert stream["streams_reported"] == 2  # every sink answered
    if direction:
        reverse = stream["reverse"]
        assert reverse["streams_reported"] == 2 and reverse["lost_bytes"] == 0
        assert reverse["receiver"]["bytes"] > 0


def test_open_loop_over_tls_keeps_its_schedule() -> None:
    result = _tls_run(rate=400.0, server_model="trio")
    totals = result["totals"]
    assert totals["errors"] == {} and totals["requests"] == totals["requests_issued"] == 120


@pytest.mark.parametrize("resume", [False, True], ids=["full", "resumed"])
def test_churn_counts_full_handshakes_and_resumptions(resume: bool) -> None:
    """A connection per request: without --tls-resume every handshake is full; with it,
    each client's first is full and the rest resume the session it kept (TLS 1.2's
    session here, and 1.3's ticket in the nginx and s_time runs)."""
    version = "1.2" if resume else "1.3"
    result = _tls_run(mode="churn", tls_resume=resume, server_model="threaded",
                      tls_version=version)  # fmt: skip
    handshakes, full, resumed = _handshakes(result)
    assert [agreed.split()[0] for agreed in result["tls"]["negotiated"]] == [f"TLSv{version}"]
    assert result["totals"]["errors"] == {}
    assert handshakes == result["totals"]["requests"] > 2  # loose: the machine may be busy
    assert (full, resumed) == ((2, handshakes - 2) if resume else (handshakes, 0))


@BOTH_DRIVERS
def test_https_nginx_serves_what_it_logs(tmp_path: Path, batch: bool) -> None:
    with https_nginx(tmp_path) as nginx:
        result = run_result(
            **SHORT, target=f"tls://127.0.0.1:{nginx.port}", proto="", server_model=None,
            protocol="http", tls_ca=str(nginx.ca), batch=batch, tls_alpn="h2,http/1.1",
        )  # fmt: skip
        served = nginx.served()
    totals = result["totals"]
    assert totals["by_kind"]["2xx"]["requests"] == totals["requests_issued"] == len(served) > 0
    assert Counter(status for status, _, _, _ in served) == {"200": len(served)}
    assert len({conn for _, conn, _, _ in served}) == _handshakes(result)[1] == 2
    [agreed] = result["tls"]["negotiated"]  # nginx without http2 picks http/1.1 of the two
    assert agreed.startswith("TLSv1.3 ") and agreed.endswith(" alpn http/1.1")


def test_a_ca_that_did_not_sign_is_counted_as_certificate_errors(tmp_path: Path) -> None:
    """A built-in model is not checked before the run: its clients count the kind."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    result = _tls_run(tls_ca=str(other), duration_s=0.3, connect_timeout_s=1.0)
    errors = Counter(result["totals"]["errors"]) + Counter(result["totals"]["warmup_errors"])
    assert set(errors) == {"tls_certificate"} and result["totals"]["requests"] == 0
    kinds = {w["kind"] for w in result["warning_details"]}
    assert "tls_failed" in kinds


def _target(nginx: HttpsNginx, port: int | None = None, **options: Any) -> dict[str, Any]:
    return run_result(**{**SHORT, "target": f"tls://127.0.0.1:{port or nginx.port}", "proto": "",
                         "server_model": None, "duration_s": 0.3, **options})  # fmt: skip


@pytest.mark.parametrize(
    ("nginx_options", "options", "says"),
    [
        ({"expired": True}, {"tls_ca": "CA"}, "(tls_certificate: certificate has expired)"),
        ({}, {"tls_ca": "OTHER"}, "(tls_certificate: unable to get local issuer"),
        ({"protocols": "TLSv1.3"}, {"tls_ca": "CA", "tls_version": "1.2"}, "(tls_version: "),
        ({}, {"tls_ca": "CA", "plain": True}, "(tls_protocol: wrong_version_number); what "
         "came back was not TLS: if the server speaks plain TCP, use tcp://"),
    ],
    ids=["expired", "wrong-ca", "version", "plain-tcp"],
)  # fmt: skip
def test_a_tls_target_that_cannot_be_trusted_is_one_line_before_any_load(
    tmp_path: Path, nginx_options: dict[str, Any], options: dict[str, Any], says: str
) -> None:
    """The preflight's handshake fails: a TargetError (one line, exit 2) names the kind,
    what OpenSSL said and what to change; nothing reached nginx's HTTP."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with https_nginx(tmp_path, **nginx_options) as nginx:
        named = {"CA": str(nginx.ca), "OTHER": str(other)}
        options = {k: named.get(v, v) for k, v in options.items()}
        port = nginx.plain_port if options.pop("plain", False) else None
        with pytest.raises(TargetError) as failed:
            _target(nginx, port, **options)
        # No request was served (the plain port answers the ClientHello with a 400).
        assert [row for row in nginx.served() if row[0] == "200"] == []
    assert says in str(failed.value) and "\n" not in str(failed.value)


def test_tls_behind_tcp_is_said(tmp_path: Path) -> None:
    """An https nginx behind tcp:// answers the echo's bytes with its 400 (plain HTTP sent to
    an HTTPS port): no reply matches, and the result says the target may speak TLS."""
    with https_nginx(tmp_path) as nginx:
        result = _target(nginx, target=f"tcp://127.0.0.1:{nginx.port}")
    assert result["totals"]["requests"] == 0 and "tls" not in result
    advice = [w["advice"] for w in result["warning_details"] if w["kind"] == "closed_unanswered"]
    assert advice and "tls://" in advice[0]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"target": "tls://127.0.0.1:9", "tls_ca": "/nonexistent/ca.pem"},
         "cannot read --tls-ca /nonexistent/ca.pem"),
        ({"target": "tls://127.0.0.1:9", "tls_ca": "README.md"}, "holds no PEM certificate"),
        ({"tls_insecure": True}, "--tls-insecure applies to a TLS target"),
        ({"target": "tcp://127.0.0.1:9", "tls_resume": True}, "--tls-resume applies to a TLS"),
        ({"server_tls": True, "proto": "unix"}, "--server-tls serves TLS over tcp, not unix"),
    ],
)  # fmt: skip
def test_bad_tls_options_are_one_line(options: dict[str, Any], says: str) -> None:
    """Refused as ConfigError before anything starts: the CLI prints it as one line and
    exits 2 (tests/cli/test_bad_input.py)."""
    with pytest.raises(ConfigError) as refused:
        build_run_spec({**BASE, **options})
    assert says in str(refused.value) and "\n" not in str(refused.value)


@pytest.fixture
def redis_tls(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """redis-server with only a TLS port (Debian's 7.0 is built with TLS), and its CA."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (make system-deps installs it)")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(tmp_path / "cert.pem"), "--tls-key-file", str(tmp_path / "key.pem"),
         "--tls-ca-cert-file", str(tmp_path / "ca.pem"), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while _redis_info(port, tmp_path / "ca.pem") is None:
            assert time.monotonic() < deadline, "redis-server (TLS) did not answer in 10 s"
            time.sleep(0.05)
        yield port, tmp_path / "ca.pem"
    finally:
        proc.terminate()
        proc.wait(10)


def _redis_info(port: int, ca: Path) -> dict[str, str] | None:
    """INFO stats over TLS (None while it does not answer)."""
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=2) as sock,
            context.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"INFO stats\r\n")
            reply = b""
            # A bulk string: $LENGTH\r\n, then that many bytes and \r\n.
            while b"\r\n" not in reply or len(reply) < _bulk_end(reply):
                chunk = tls.recv(65536)
                if not chunk:
                    return None
                reply += chunk
    except OSError:
        return None
    pairs = (line.split(":", 1) for line in reply.decode().splitlines() if ":" in line)
    return dict(pairs)


def _bulk_end(reply: bytes) -> int:
    head, _, _ = reply.partition(b"\r\n")
    return len(head) + 2 + int(head[1:]) + 2


def test_redis_over_tls_serves_what_it_counts(redis_tls: tuple[int, Path]) -> None:
    port, ca = redis_tls
    before = _redis_info(port, ca)
    assert before is not None
    result = run_result(**SHORT, target=f"tls://127.0.0.1:{port}", proto="", server_model=None,
                        protocol="redis", tls_ca=str(ca))  # fmt: skip
    after = _redis_info(port, ca)
    assert after is not None
    totals = result["totals"]
    assert totals["errors"] == {} and totals["requests"] == totals["requests_issued"] > 0
    # Every command sockbench sent, and the INFO that read the count (nothing else came).
    processed = int(after["total_commands_processed"]) - int(before["total_commands_processed"])
    assert processed == totals["requests"] + 1
    assert _handshakes(result) == (2, 2, 0)
