"""The warnings that follow from a run's numbers alone, as tables of rules (pure).

Each :class:`Rule` is a predicate over what it reads and the warning it gives (kind,
message from the facts, advice). A table rather than a function of ``if`` blocks:
each rule is read, tested and added on its own (``tests/core/test_warning_rules.py``
runs them as tables), and the order of a table is the order of its warnings. The
price is a lambda per rule where an ``if`` would do; a rule whose message needs more
than a line gets a named helper.

Two tables, by when their facts exist: :data:`RULES` read the merged tally and how
the run ended (:class:`Facts`), before the result is built; :data:`RATE_RULES` read
the built result (:class:`ResultFacts`: the rate not kept, sending late), so a result
lists :func:`run_warnings`' before :func:`rate_warnings`'. Those predicted before
load are :mod:`sockbench.core.forecast`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from sockbench.core.exchange import STARVED
from sockbench.core.protocols.http import CLIENT_ERRORS
from sockbench.core.shortfall import SEND_LAG_P99_MAX_US, late_sender_advice, rate_shortfall
from sockbench.core.status import RunStatus
from sockbench.core.tally import Tally
from sockbench.core.tls import failed_handshakes
from sockbench.core.units import format_us
from sockbench.core.validity import validity_warning
from sockbench.core.warning import RunWarning, WarningKind


@dataclass(frozen=True)
class Facts:
    """What the rules read: the merged tally, how the run ended, which workers died
    (and, on a cluster, the node each worker ran on)."""

    tally: Tally
    status: str
    failed_workers: tuple[int, ...] = ()
    nodes: Mapping[int, str] = field(default_factory=dict)
    silent: tuple[int, ...] = ()  # of failed_workers: failed for sending nothing, not exiting


@dataclass(frozen=True)
class ResultFacts:
    """What the rate rules read: the built result document."""

    doc: Mapping[str, Any]

    @cached_property
    def shortfall(self) -> RunWarning | None:
        """Who fell behind, when an open-loop run that ran to its end served less than it
        asked (:func:`sockbench.core.shortfall.rate_shortfall`); None otherwise."""
        ran = self.doc["status"] in (RunStatus.COMPLETED, RunStatus.DEGRADED)
        return rate_shortfall(self.doc) if ran else None

    @cached_property
    def not_valid(self) -> RunWarning | None:
        """The ``not_valid`` warning when the result's validity section says so."""
        return validity_warning(self.doc)

    @cached_property
    def run_errors(self) -> dict[str, int]:
        """Errors by kind over the whole run: the warm-up's and the window's."""
        totals = self.doc["totals"]
        both = {**totals.get("warmup_errors", {})}
        for kind, n in totals.get("errors", {}).items():
            both[kind] = both.get(kind, 0) + n
        return both

    @cached_property
    def tls_failed(self) -> tuple[int, str] | None:
        """TLS failures (warm-up's and the window's) and what to change; None if none."""
        return failed_handshakes(self.run_errors)

    @property
    def closed_unanswered(self) -> int:
        """A tcp:// target that answered nothing usable: it closed or reset every
        connection, or answered what did not match, as a TLS server does with bytes that
        are not TLS (an alert, nginx's 400): how many times; 0 otherwise."""
        totals, target = self.doc["totals"], (self.doc.get("config") or {}).get("target") or ""
        if totals.get("requests") or not target.startswith("tcp://"):
            return 0
        errors = self.run_errors
        idle = int(totals.get("closed_idle") or 0)  # closes with no request sent yet
        closed = sum(errors.get(kind, 0) for kind in ("closed", "reset", "mismatch")) + idle
        return closed if closed and closed == sum(errors.values()) + idle else 0

    @property
    def client_errors(self) -> tuple[int, int]:
        """``--protocol http``: the window's requests answered with a 4xx status, and all
        it answered; (0, answered) for another protocol."""
        config, totals = self.doc.get("config") or {}, self.doc["totals"]
        answered = int(totals.get("requests") or 0)
        if config.get("protocol") != "http":
            return 0, answered
        kind = (totals.get("by_kind") or {}).get(CLIENT_ERRORS) or {}
        return int(kind.get("requests") or 0), answered

    @property
    def listen_drops(self) -> int:
        """Handshake packets the target's full accept queue dropped over the run (0: none,
        or not known)."""
        return int((self.doc.get("accept_queue") or {}).get("drops") or 0)

    @property
    def reconnects(self) -> int:
        """Connections past each client's first, when a run that kept its connections
        (``--mode echo``) reconnected often enough to change what it measured: more than
        once per client, and at least once per :data:`REQUESTS_PER_RECONNECT` answered
        requests (nginx's default of a new connection per 1,000 is not); 0 otherwise."""
        config, totals = self.doc.get("config") or {}, self.doc["totals"]
        ran = self.doc["status"] in (RunStatus.COMPLETED, RunStatus.DEGRADED)
        requests = int(totals.get("requests") or 0)
        if not ran or not requests or config.get("mode") != "echo":
            return 0
        clients = int(config.get("clients") or 0)
        extra = int(totals.get("connections") or 0) - clients
        return extra if extra > clients and extra * REQUESTS_PER_RECONNECT >= requests else 0

    @cached_property
    def connection_ends(self) -> tuple[dict[str, int], int]:
        """What ended the window's connections: the requests that failed with theirs, by
        kind (the target's closes and resets, the clients' --timeout), and how many the
        target ended with nothing in flight (idle)."""
        totals = self.doc["totals"]
        failed = totals.get("requests_failed", totals.get("errors") or {})
        under = {kind: failed[kind] for kind in (*ENDED_BY_TARGET, "timeout") if failed.get(kind)}
        return under, int(totals.get("closed_idle") or 0)

    @property
    def generator_lag_p99_us(self) -> int:
        """How late the generator sent while it could have (its scheduler lag, else its
        send lag), p99 in µs; 0 when not measured."""
        lag = self.doc.get("scheduler_lag_us") or self.doc.get("send_lag_us")
        return int(lag["p99"]) if lag else 0


#: Reconnects are worth a warning from one per this many answered requests: a connect
#: costs about what a request does, so past 1 % they are a part of the load the run's
#: numbers do not show (a closed-loop latency starts after its connection's connect).
REQUESTS_PER_RECONNECT = 100

#: The error kinds that are the target ending a connection under a request.
ENDED_BY_TARGET = ("closed", "reset", "broken_pipe")

#: A dropped handshake's first retry comes after the initial retransmission timeout: 1 s.
SYN_RETRY_US = 1_000_000

F = TypeVar("F")  # what a table of rules reads: Facts or ResultFacts


@dataclass(frozen=True)
class Rule(Generic[F]):
    """One warning: when it applies, what it says and what to do (from the facts)."""

    kind: WarningKind
    applies: Callable[[F], bool]
    message: Callable[[F], str]
    advice: str | Callable[[F], str] = ""

    def warning(self, facts: F) -> RunWarning | None:
        if not self.applies(facts):
            return None
        advice = self.advice if isinstance(self.advice, str) else self.advice(facts)
        return RunWarning(self.kind, self.message(facts), advice)


def _died(facts: Facts) -> str:
    """Which workers died, and which were failed for sending nothing (a stopped or stuck
    process is not dead: it may still hold its sockets)."""

    def named(workers: list[int]) -> str:
        return ", ".join(
            f"{i} on node {facts.nodes[i]}" if i in facts.nodes else str(i) for i in workers
        )

    dead = [i for i in facts.failed_workers if i not in facts.silent]
    silent = [i for i in facts.failed_workers if i in facts.silent]
    parts = [f"worker(s) {named(dead)} died during the run"] if dead else []
    if silent:
        parts.append(
            f"worker(s) {named(silent)} stopped answering (sent nothing for the interval, "
            "the drain and a grace after the window) and were failed"
        )
    return "; ".join(parts)


def _ports(facts: Facts) -> int:
    """Connects that found no ephemeral port, in the window and before it."""
    kind = "no_ephemeral_port"
    return facts.tally.errors.get(kind, 0) + facts.tally.warmup_errors.get(kind, 0)


def _unsolicited(facts: Facts) -> int:
    datagrams = facts.tally.datagrams
    return datagrams.unsolicited if datagrams is not None else 0


def _not_taken(facts: Facts) -> tuple[int, int]:
    """``--mode stream`` over TCP: (bytes the target took, bytes written) in the window,
    over the streams whose take is known (a sink's count, else what TCP acknowledged)."""
    tally = facts.tally
    if tally.datagrams is not None:
        return 0, 0
    pairs = zip(tally.client_bytes, tally.client_received, strict=False)
    known = [(s, r) for s, r in pairs if r is not None]
    return sum(r for _, r in known), sum(s for s, _ in known)


def _not_taken_message(facts: Facts) -> str:
    took, written = _not_taken(facts)
    return (
        f"the target took {took:,} of the {written:,} bytes written in the window "
        f"({100 * took / written:.1f} %); the rest waited in socket buffers, so the "
        "throughput counts only what it took (a sockbench sink's count, else what TCP "
        "acknowledged)"
    )


def _unfinished(facts: Facts) -> int:
    return facts.tally.failed.get("unfinished", 0)


def _fault(facts: Facts) -> str:
    """A protocol's fault (its first worker's line; each worker stops on its own)."""
    faults = facts.tally.faults
    more = f" (and in {len(faults) - 1} more worker(s))" if len(faults) > 1 else ""
    return f"{faults[0]}{more}; the run stopped there as failed, with what it measured"


BUG = "please report this as a bug"

RULES: tuple[Rule[Facts], ...] = (
    Rule(
        WarningKind.PROTOCOL_FAILED,
        lambda f: bool(f.tally.faults),
        _fault,
        "fix the protocol (docs/protocols.md: request() returns non-empty bytes, "
        "kind_index() an index into kinds, check_reply() at most the bytes it is given); "
        "the engine calls it on the hot path without checking each value",
    ),
    Rule(
        WarningKind.WORKER_DIED,
        lambda f: bool(f.failed_workers),
        _died,
        "their clients are missing from the numbers",
    ),
    Rule(
        WarningKind.INTERRUPTED,
        lambda f: f.status == RunStatus.INTERRUPTED,
        lambda f: "the run was interrupted",
        "numbers cover the part that ran",
    ),
    Rule(
        WarningKind.SERVER_DIED,
        lambda f: f.status == RunStatus.SERVER_DIED,
        lambda f: "the server process died during the run",
        "numbers cover the time before",
    ),
    Rule(
        WarningKind.NOTHING_MEASURED,
        # A degraded run's own warning says it already (core/degraded.py).
        lambda f: f.tally.requests == 0 and f.status != RunStatus.DEGRADED,
        lambda f: "no request completed in the measurement window",
        "check the target and --timeout",
    ),
    Rule(
        WarningKind.CLAMPED,
        lambda f: bool(f.tally.clamped),
        lambda f: (
            f"{f.tally.clamped:,} samples fell outside 1 µs..60 s and were clamped into that range"
        ),
    ),
    Rule(
        WarningKind.EPHEMERAL_PORTS,
        lambda f: bool(_ports(f)),
        lambda f: (
            f"ran out of ephemeral ports {_ports(f):,} times (EADDRNOTAVAIL): closed "
            "connections hold their port in TIME_WAIT for 60 s"
        ),
        "spread clients over more addresses with --source-ips 127.0.0.2-127.0.0.9, "
        "widen net.ipv4.ip_local_port_range, or lower the connection rate",
    ),
    Rule(
        WarningKind.STARVED,
        lambda f: bool(f.tally.errors.get(STARVED)),
        lambda f: (
            f"{f.tally.errors[STARVED]:,} connection(s) were not served through the window: "
            "each had a request, sent before the window began, still unanswered at its end, "
            "so its client measured little or nothing there; the target took the connection "
            "but did not serve it (out of descriptors, a full accept queue, a stalled worker)"
        ),
        "check the server's limits (ulimit -n, its accept backlog) and its health, or "
        "lower --clients",
    ),
    Rule(
        WarningKind.UNBALANCED,
        lambda f: f.tally.datagrams is not None and not f.tally.datagrams.balanced,
        lambda f: "datagram accounting does not balance",
        BUG,
    ),
    Rule(
        WarningKind.UNSOLICITED,
        lambda f: bool(_unsolicited(f)),
        lambda f: (
            f"the target sent {_unsolicited(f):,} datagrams that answer no request (a "
            "number never sent, or too short to carry one); they are counted apart as "
            "'unsolicited', not as errors"
        ),
        "check the target: it sends more than it is asked (a second reply, or datagrams "
        "of its own)",
    ),
    Rule(
        WarningKind.NOT_TAKEN,
        lambda f: _not_taken(f)[0] < _not_taken(f)[1],
        _not_taken_message,
        "check that the target reads what it is sent, as fast as it is sent; a target that "
        "stops reading is not measured by bytes written",
    ),
    Rule(
        WarningKind.UNBALANCED,
        lambda f: not f.tally.balanced,
        lambda f: "request accounting does not balance",
        BUG,
    ),
    Rule(
        WarningKind.IN_FLIGHT,
        lambda f: bool(f.tally.in_flight),
        lambda f: (
            f"{f.tally.in_flight:,} requests were still in flight when the run stopped "
            "early; their outcome is unknown"
        ),
    ),
    Rule(
        WarningKind.UNFINISHED,
        lambda f: bool(_unfinished(f)),
        lambda f: (
            f"{_unfinished(f):,} requests were still open when --drain ended, before "
            "their --timeout; they are counted as 'unfinished'"
        ),
        "drop --drain (it defaults to --timeout) to follow every request to its end",
    ),
)


def run_warnings(
    tally: Tally,
    status: str,
    failed_workers: list[int] | None = None,
    nodes: Mapping[int, str] | None = None,
    silent: list[int] | None = None,
) -> list[RunWarning]:
    """Warnings that follow from the numbers alone, each with advice, in :data:`RULES`'
    order. ``nodes`` names the cluster node each worker ran on, to say where one died;
    ``silent``: the failed workers that stopped answering rather than exiting."""
    facts = Facts(tally, status, tuple(failed_workers or ()), nodes or {}, tuple(silent or ()))
    return _fired(RULES, facts)


def _shortfall(facts: ResultFacts) -> RunWarning:
    assert facts.shortfall is not None  # the rule applies only then
    return facts.shortfall


def _tls_failed(facts: ResultFacts) -> tuple[int, str]:
    assert facts.tls_failed is not None  # the rule applies only then
    return facts.tls_failed


def _listen_drops(facts: ResultFacts) -> str:
    """The accept queue overflowed: how often, its backlog, and what a client saw."""
    queue = facts.doc["accept_queue"]
    connect_p99 = int((facts.doc.get("connect_us") or {}).get("p99") or 0)
    seen = f" (connect p99 {format_us(connect_p99)})" if connect_p99 >= SYN_RETRY_US else ""
    return (
        f"the target's accept queue was full: the kernel dropped {facts.listen_drops:,} "
        "handshake packets at its listening socket over the run, warm-up included (backlog "
        f"{queue['backlog']:,}); each is sent again after a timeout (a SYN 1 s later, then "
        f"2 s after that), so those connects, or their first replies, waited that long{seen}"
    )


def _client_errors(facts: ResultFacts) -> str:
    """How many replies refused their request as the client's error, of all answered."""
    refused, answered = facts.client_errors
    return (
        f"the target answered {refused:,} of the {answered:,} requests "
        f"({refused / max(answered, 1):.1%}) with a 4xx status, a client error (404 not "
        "found, 401 or 403 refused, 400 bad request): those count as served, in the rate "
        "and the latencies, though it refused them, and as no error (a 5xx is one)"
    )


def _reconnects(facts: ResultFacts) -> str:
    """How often the clients reconnected, what ended their connections (the target, under
    a request or idle; their own --timeout), and where the connects' time went: into the
    open loop's latencies, or into none."""
    doc = facts.doc
    totals, config = doc["totals"], doc["config"]
    under, idle = facts.connection_ends
    timed_out = under.get("timeout", 0)
    ended = ", ".join(f"{kind} {n:,}" for kind, n in under.items() if kind != "timeout")
    causes = [
        f"requests ended with their connection: {ended} (the target)" if ended else "",
        f"timeout {timed_out:,} (--timeout)" if timed_out else "",
        f"the target ended {idle:,} with nothing in flight (idle)" if idle else "",
    ]
    connect_p50 = int((doc.get("connect_us") or {}).get("p50") or 0)
    cost = f" (connect p50 {format_us(connect_p50)})" if connect_p50 else ""
    where = (
        f"each reconnect's time{cost} is in the latencies of the requests due meanwhile"
        if config.get("rate")
        else "a closed-loop latency starts after its connection is up, so the connects' "
        f"time{cost} is in no latency, only in the lower rate"
    )
    requests = int(totals["requests"])
    each = requests / facts.reconnects
    per = f"one per {each:,.0f}" if each >= 2 else f"for {requests:,}"
    # Neither a failure nor an idle close: each close was announced in a reply, which
    # completes (HTTP's Connection: close, an HTTP/1.0 reply without keep-alive).
    said = "; ".join(c for c in causes if c) or (
        "no request failed with its connection and none ended idle: the target announced "
        "its closes in its replies (Connection: close, or HTTP/1.0 without keep-alive)"
    )
    return (
        f"the clients reconnected often: {config['clients']:,} clients opened "
        f"{totals['connections']:,} connections over the run, warm-up included, {per} "
        f"requests answered; in the window, {said}; {where}"
    )


def _reconnect_advice(facts: ResultFacts) -> str:
    """What to change, by what ended the connections: a close per reply, the target out
    of connection slots (requests failed as it closed), or a keep-alive timeout (idle
    closes, hardly a request failed: at most one in ten of them). A keep-alive timeout
    shorter than a client's gap also ends a connection per reply, but fails nothing."""
    under, idle = facts.connection_ends
    config = facts.doc["config"]
    by_target = sum(n for kind, n in under.items() if kind != "timeout")
    timed_out_idle = idle > 10 * by_target
    per_reply = facts.reconnects * 3 >= 2 * int(facts.doc["totals"]["requests"])  # 2 in 3
    if per_reply and by_target and not timed_out_idle:
        advice = [
            "the target ended about a connection per reply: if it serves one request per "
            "connection, measure it with --mode churn (a connection per request, its connect "
            "timed), not with requests sent on a connection it is closing"
        ]
    elif by_target and not timed_out_idle:
        advice = [
            "a server out of connection slots ends idle keep-alive connections to take new "
            "ones (nginx at worker_connections, a proxy's or a pool's limit): raise its limit "
            "above --clients, or run fewer --clients"
        ]
    else:
        advice = []
    if "timeout" in under:
        advice.append("a timed-out request ends its connection: raise --timeout")
    if timed_out_idle and (rate := config.get("rate")):
        gap_us = config["clients"] / rate * 1e6
        advice.append(
            "a server closes a connection idle past its keep-alive timeout (nginx's "
            "keepalive_timeout, 75 s by default; uvicorn's and node's, 5 s; redis's "
            "timeout): at --rate "
            f"{rate:,g} over {config['clients']:,} clients each sends every "
            f"{format_us(gap_us)}: raise that timeout above it, or run fewer --clients"
        )
    advice.append(
        "a server that ends connections on purpose (a request limit per connection) is "
        "measured with its reconnects"
    )
    return "; ".join(advice)


def _not_valid(facts: ResultFacts) -> RunWarning:
    assert facts.not_valid is not None  # the rule applies only then
    return facts.not_valid


RATE_RULES: tuple[Rule[ResultFacts], ...] = (
    Rule(
        WarningKind.RATE_NOT_KEPT,
        lambda f: f.shortfall is not None,
        lambda f: _shortfall(f).message,
        lambda f: _shortfall(f).advice,  # what to change depends on who fell behind
    ),
    Rule(
        WarningKind.SENT_LATE,
        lambda f: f.generator_lag_p99_us > SEND_LAG_P99_MAX_US,
        lambda f: (
            f"the generator sent late: p99 {format_us(f.generator_lag_p99_us)} behind "
            "schedule while it could have sent, so latencies include its own delay"
        ),
        lambda f: late_sender_advice(f.doc),  # its own limit, or a busy machine's
    ),
    Rule(
        WarningKind.TLS_FAILED,
        lambda f: f.tls_failed is not None,
        lambda f: f"{_tls_failed(f)[0]:,} TLS handshakes or records failed",
        lambda f: _tls_failed(f)[1],
    ),
    Rule(
        WarningKind.CLOSED_UNANSWERED,
        lambda f: bool(f.closed_unanswered),
        lambda f: (
            "the target answered no request: it closed or reset each connection, or its "
            f"reply did not match ({f.closed_unanswered:,} times)"
        ),
        "if it speaks TLS, give --target tls://HOST:PORT (a TLS server closes, or answers "
        "an alert, on bytes that are not TLS)",
    ),
    Rule(
        WarningKind.LISTEN_DROPS,
        lambda f: bool(f.listen_drops),
        _listen_drops,
        "raise the target's listen backlog (net.core.somaxconn caps it), have it accept "
        "sooner, or bring the clients up more slowly (--ramp, --connect-rate)",
    ),
    Rule(
        WarningKind.RECONNECTS,
        lambda f: bool(f.reconnects),
        _reconnects,
        _reconnect_advice,
    ),
    Rule(
        WarningKind.CLIENT_ERRORS,
        lambda f: bool(f.client_errors[0]),
        _client_errors,
        "check what is asked: --http-path (a 404), --header (the Host, or the "
        "Authorization a 401 or 403 wants), --http-method and --body (a 400, 405 or 411); "
        "--check 'kind.4xx.requests == 0' fails a run that has any",
    ),
    Rule(
        WarningKind.NOT_VALID,
        lambda f: f.not_valid is not None,
        lambda f: _not_valid(f).message,
        lambda f: _not_valid(f).advice,  # each failed test's own
    ),
)


def rate_warnings(doc: Mapping[str, Any]) -> list[RunWarning]:
    """Open-loop warnings from a built result (the schedule not kept, sending late), in
    :data:`RATE_RULES`' order."""
    return _fired(RATE_RULES, ResultFacts(doc))


def _fired(rules: Iterable[Rule[F]], facts: F) -> list[RunWarning]:
    return [w for rule in rules if (w := rule.warning(facts)) is not None]
