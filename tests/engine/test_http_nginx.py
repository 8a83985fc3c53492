"""--protocol http against a real nginx, counted against nginx's own access log.

Each test starts a private nginx (tests/support/nginx.py) whose log line is
``status connection connection_requests uri``; it logs each request as it ends, so once
the run is over the log holds every request nginx served: the window's, and with
``--warmup 0`` nothing else (the fixture's readiness probe asks for /probe).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sockbench.report import render
from tests.conftest import _free_port, _wait_answer
from tests.support.drivers import BOTH_DRIVERS
from tests.support.nginx import private_nginx
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e  # a real nginx and sockets (make unit skips it)

SERVER = """
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
        location = /boom {{ return 503; }}
        location = /close {{ keepalive_timeout 0; return 200 "bye"; }}
        location = /few {{ keepalive_requests 10; return 200 "few"; }}
        location = /idle {{ keepalive_timeout 50ms; return 200 "idle"; }}
        # gzip drops the length, and with chunking off nginx frames the body by closing.
        location /gz/ {{ gzip on; gzip_min_length 1; chunked_transfer_encoding off; }}
        # gzip drops the length, and nginx sends the body chunked.
        location /gzc/ {{ gzip on; gzip_min_length 1; alias {dir}/www/gz/; }}
    }}
"""


@dataclass
class Nginx:
    port: int
    log: Path

    def served(self) -> list[tuple[str, str, int]]:
        """(status, connection, request number on it) per request nginx logged."""
        rows = [line.split() for line in self.log.read_text().splitlines()]
        return [(status, conn, int(n)) for status, conn, n, uri in rows if uri != "/probe"]


@pytest.fixture
def nginx(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Nginx]:
    """A private nginx; ``@pytest.mark.parametrize("nginx", [N], indirect=True)`` gives
    it N worker_connections (1,024 otherwise)."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hello\n")
    (tmp_path / "www" / "gz").mkdir()
    (tmp_path / "www" / "gz" / "index.html").write_text("hello, compressed\n" * 4)
    port = _free_port()
    with private_nginx(
        tmp_path,
        SERVER.format(dir=tmp_path, port=port),
        "$status $connection $connection_requests $request_uri",
        lambda: _wait_answer(port, b"GET /probe HTTP/1.0\r\n\r\n", b"HTTP/1.1 404", "nginx"),
        getattr(request, "param", 1024),
    ) as log:
        yield Nginx(port, log)


def _http_run(nginx: Nginx, **options: Any) -> dict[str, Any]:
    return run_result(
        target=f"tcp://127.0.0.1:{nginx.port}", proto="", server_model=None, protocol="http",
        **{"clients": 4, "duration_s": 1.0, "warmup_s": 0.0, **options},
    )  # fmt: skip


@BOTH_DRIVERS
def test_keep_alive_counts_each_status_class_as_nginx_logs_it(nginx: Nginx, batch: bool) -> None:
    """Three paths in turn on kept-alive connections: 200, 404 and 503 (nginx's own
    error page). Every 5xx is its request's protocol_error under 5xx; the connections
    stay (one per client, as nginx's $connection says); the counts are nginx's."""
    result = _http_run(nginx, http_path=["/index.html", "/missing", "/boom"], batch=batch)
    totals = result["totals"]
    by_kind = totals["by_kind"]
    served = nginx.served()
    statuses = Counter(status for status, _, _ in served)
    assert by_kind["2xx"]["requests"] == statuses["200"] > 100
    assert by_kind["4xx"]["requests"] == statuses["404"] > 100
    assert by_kind["5xx"]["errors"] == {"protocol_error": statuses["503"]}
    assert totals["errors"] == {"protocol_error": statuses["503"]}
    assert totals["requests_issued"] == len(served)
    assert len({conn for _, conn, _ in served}) == 4  # kept alive: never reconnected
    assert max(n for _, _, n in served) > 100
    assert "protocol http GET /index.html (+2 paths)" in render(result, "text")
    # The 404s are no error, but a warning says how many (wrk's "Non-2xx or 3xx").
    refused, answered = by_kind["4xx"]["requests"], totals["requests"]
    share = f"{refused:,} of the {answered:,} requests ({refused / answered:.1%})"
    assert share in _warned(result)["client_errors"]


def test_pipelined_requests_are_answered_in_order_as_nginx_logs_them(nginx: Nginx) -> None:
    """Four deep, with a gzipped body nginx sends chunked among a plain one and a 404."""
    paths = ["/index.html", "/missing", "/gzc/index.html"]
    gzip = ["Accept-Encoding: gzip"]
    result = _http_run(nginx, http_path=paths, header=gzip, pipeline=4, clients=2)
    by_kind = result["totals"]["by_kind"]
    statuses = Counter(status for status, _, _ in nginx.served())
    assert by_kind["2xx"]["requests"] == statuses["200"] > 100
    assert by_kind["4xx"]["requests"] == statuses["404"] > 100
    assert result["totals"]["errors"] == {} and result["config"]["pipeline"] == 4
    assert result["config"]["http"] == {
        "method": "GET", "paths": paths, "headers": gzip, "body": None
    }  # fmt: skip


@BOTH_DRIVERS
def test_a_close_the_reply_announces_is_a_reconnect_not_an_error(nginx: Nginx, batch: bool) -> None:
    """/close answers with ``Connection: close`` and closes: with the paths in turn, each
    connection serves /index.html then /close, and sockbench reconnects after it with no
    error (before, the request sent behind it on the closing connection failed)."""
    result = _http_run(nginx, http_path=["/index.html", "/close"], batch=batch)
    totals = result["totals"]
    served = nginx.served()
    assert totals["errors"] == {} and totals["warmup_errors"] == {}
    assert totals["by_kind"]["2xx"]["requests"] == totals["requests_issued"] == len(served)
    connections = Counter(conn for _, conn, _ in served)
    assert len(connections) >= len(served) // 2 > 100  # at most two requests on each
    warned = _warned(result)
    assert "the target announced its closes in its replies" in warned["reconnects"]
    assert "client_errors" not in warned  # every reply a 200


@BOTH_DRIVERS
def test_connections_nginx_ends_idle_are_reconnects_not_errors(nginx: Nginx, batch: bool) -> None:
    """/idle keeps a connection alive 50 ms; each client's requests come 200 ms apart
    (--rate 20 over 4): nginx ends every connection idle between them, and no request
    fails for it. Each is a reconnect, counted as the target's idle close, not an error;
    every request is one nginx logged; the warning names the keep-alive timeout."""
    result = _http_run(nginx, http_path=["/idle"], rate=20.0, batch=batch)
    totals = result["totals"]
    assert totals["errors"] == {} and totals["warmup_errors"] == {}
    assert totals["by_kind"]["2xx"]["requests"] == totals["requests_issued"] == len(nginx.served())
    assert totals["closed_idle"] >= totals["requests"] // 2 > 4
    warned = _warned(result)["reconnects"]
    assert "with nothing in flight (idle)" in warned and "keepalive_timeout" in warned


def _warned(result: dict[str, Any]) -> dict[str, str]:
    """The result's warnings by kind: message; advice."""
    return {w["kind"]: f"{w['message']}; {w['advice']}" for w in result["warning_details"]}


@pytest.mark.parametrize("nginx", [8], indirect=True)
def test_nginx_out_of_connections_ends_idle_ones_and_the_run_says_so(nginx: Nginx) -> None:
    """nginx with 8 worker_connections (one its listening socket's) and 16 clients: to
    accept a connection it closes an idle kept-alive one, so a request sent on that one
    is closed or reset unserved, and its client reconnects. Every request issued is one
    nginx logged or one counted failed, and the reconnects warning names the cause."""
    result = _http_run(nginx, clients=16, duration_s=0.5)
    totals = result["totals"]
    served = nginx.served()
    errors = totals["errors"]
    assert set(errors) <= {"closed", "reset"} and sum(errors.values()) > 16
    assert totals["by_kind"]["2xx"]["requests"] == len(served)
    assert totals["requests_issued"] == len(served) + sum(errors.values())
    assert totals["connections"] >= len({conn for _, conn, _ in served}) > 16
    warned = _warned(result)["reconnects"]
    assert f"16 clients opened {totals['connections']:,} connections" in warned
    assert "nginx at worker_connections" in warned


@BOTH_DRIVERS
def test_requests_pipelined_behind_a_close_go_out_again_on_the_next_connection(
    nginx: Nginx, batch: bool
) -> None:
    """nginx closes after ten requests on a connection (keepalive_requests 10), saying so
    on the tenth reply, and serves none of the requests pipelined behind it: sockbench
    sends those again on the next connection, so none is an error and each is served
    once (sockbench's issued is nginx's count), on connections of ten requests."""
    result = _http_run(nginx, http_path=["/few"], pipeline=4, duration_s=0.5, batch=batch)
    totals = result["totals"]
    served = nginx.served()
    assert totals["errors"] == {} and totals["warmup_errors"] == {}
    assert totals["by_kind"]["2xx"]["requests"] == totals["requests_issued"] == len(served)
    per_connection = Counter(conn for _, conn, _ in served)
    assert len(served) > 100 and max(per_connection.values()) == 10
    assert sum(n == 10 for n in per_connection.values()) >= len(per_connection) - 4


def test_a_body_framed_by_the_close_completes_when_the_close_comes(nginx: Nginx) -> None:
    """gzip without chunking: nginx sends no length and closes to end the body; each
    reply completes at the close, none is an error, and the counts are nginx's."""
    result = _http_run(nginx, http_path=["/gz/index.html"], header=["Accept-Encoding: gzip"])
    totals = result["totals"]
    served = nginx.served()
    assert totals["errors"] == {} and totals["warmup_errors"] == {}
    assert totals["by_kind"]["2xx"]["requests"] == totals["requests_issued"] == len(served)
    assert len({conn for _, conn, _ in served}) == len(served) > 100  # one request each
