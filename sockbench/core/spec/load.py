"""How much load, of which kind, for how long: the options as given (pure).

``duration_s`` and ``timeout_s`` are what the user asked for (None: not given); what a
run uses is decided with the transport and the client count by
:mod:`sockbench.core.spec.sizing`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sockbench.core import bounds
from sockbench.core.kinds import Arrival, StreamDirection, Workload
from sockbench.core.spec.option import (
    RUN_COMPARE,
    RUN_SERVE,
    Option,
    blank_or,
    choice_of,
    declare,
    field_of,
    member,
    option,
    optional,
    switch,
    values_of,
)
from sockbench.core.stopping import UntilTarget, parse_until
from sockbench.core.units import parse_count, parse_number, parse_seconds
from sockbench.core.warmup import DEFAULT_MAX_S, AutoWarmup, parse_warmup, warmup_max_s
from sockbench.endpoints import Proto

#: Shared with compare's axes (:mod:`sockbench.core.spec.compare`), where it is a list.
PROTO: Option[Proto | None] = declare(
    None, "--proto", help="transport", parse=blank_or(choice_of(Proto)),
    choices=values_of(Proto), commands=RUN_SERVE, default_help="from --target, else tcp",
    defaults={"serve": "tcp"},
)  # fmt: skip
CLIENTS: Option[int] = declare(
    1, "--clients", "-c", help="concurrent clients (connections): 100, 5k", parse=parse_count,
    minimum=1, bound=lambda n, flag: bounds.check_clients(n),
)  # fmt: skip

WARMUP_DEFAULT_S: float | AutoWarmup = 2.0


@dataclass(frozen=True)
class Load:
    proto: Proto | None = field_of(PROTO)
    clients: int = field_of(CLIENTS)
    duration_s: float | None = option(
        None, "--duration", "-d", help="measured time: 10s, 2m, 500ms",
        parse=optional(parse_seconds), positive=True,
        bound=bounds.seconds_within(bounds.MAX_RUN_S), commands=RUN_COMPARE,
        default_help="10s, or until --requests", defaults={"compare": 10.0},
    )  # fmt: skip
    # A fixed warm-up, or auto (core/warmup.py): until the interval series settles.
    warmup_s: float | AutoWarmup = option(
        WARMUP_DEFAULT_S, "--warmup",
        help="load kept out of the results: 2s, 500ms; or auto (until throughput and p99 "
        f"settle, MSER-5, docs/validity.md), auto:30s to bound it (auto alone: "
        f"auto:{DEFAULT_MAX_S:g}s)",
        parse=parse_warmup, minimum=0, metavar="SECONDS|auto[:MAX]", default_help="2s",
        bound=bounds.seconds_within(bounds.MAX_RUN_S, zero_ok=True), commands=RUN_COMPARE,
    )  # fmt: skip
    # Clients (closed loop) or the rate (--rate) rise over this, unmeasured.
    ramp_s: float = option(
        0.0, "--ramp",
        help="bring clients up linearly over this long (with --rate: raise the rate "
        "linearly, as Locust -r); kept out of the results, like --warmup: 10s",
        parse=parse_seconds, minimum=0,
        bound=bounds.seconds_within(bounds.MAX_RUN_S, zero_ok=True),
    )  # fmt: skip
    connect_rate: float | None = option(
        None, "--connect-rate",
        help="at most this many new connections per second (tcpkali): 5k",
        parse=optional(parse_number), positive=True, bound=bounds.check_rate,
    )  # fmt: skip
    timeout_s: float | None = option(
        None, "--timeout", help="give up on a reply after this long",
        parse=optional(parse_seconds), positive=True,
        bound=bounds.seconds_within(bounds.MAX_TIMEOUT_S), commands=RUN_COMPARE,
        default_help="10s over tcp/unix (clients/2500 s past 25k clients), "
        "1s over udp/unix-dgram",
    )  # fmt: skip
    # A connect, its wait for a free connect slot included, gives up after this long; so
    # clients that cannot connect hold the start this long at most (engine/clients/context).
    connect_timeout_s: float = option(
        10.0, "--connect-timeout",
        help="give up on a connect after this long: clients that cannot connect hold the "
        "start this long at most, then retry during the run",
        parse=parse_seconds, positive=True, bound=bounds.seconds_within(bounds.MAX_TIMEOUT_S),
        commands=RUN_COMPARE,
    )  # fmt: skip
    # Follow the window's open requests this long (None: --timeout).
    drain_s: float | None = option(
        None, "--drain", help="seconds to follow the window's open requests after it",
        parse=optional(parse_seconds), minimum=0, default_help="--timeout",
        bound=bounds.seconds_within(bounds.MAX_TIMEOUT_S, zero_ok=True),
    )  # fmt: skip
    mode: Workload = option(
        Workload.ECHO, "--mode",
        help="echo (request/reply), churn (a connection per request), stream",
        parse=choice_of(Workload), choices=values_of(Workload), commands=RUN_COMPARE,
    )  # fmt: skip
    rate: float | None = option(
        None, "--rate", "-R", help="open loop: total requests/s over all clients: 10k",
        parse=optional(parse_number), positive=True, bound=bounds.check_rate, one_run=True,
    )  # fmt: skip
    # iperf3's -b: a datagram stream's rate in bits/s; the run's --rate is derived from it
    # and --payload (rules.with_bitrate), so everything downstream paces in messages/s.
    bitrate: float | None = option(
        None, "--bitrate", "-b",
        help="--mode stream over udp: total bits/s over all clients, iperf3's -b, instead "
        "of --rate: 100M, 1.5G",
        parse=optional(parse_number), positive=True, one_run=True,
    )  # fmt: skip
    # iperf3's -R and --bidir (-R is --rate here, wrk2's spelling): the server model is
    # then a source (servers/source.py); a --target must send a stream of its own.
    reverse: bool = option(
        False, "--reverse",
        help="--mode stream: the server sends and the clients read (iperf3's -R)",
        parse=switch, commands=RUN_COMPARE,
    )  # fmt: skip
    bidir: bool = option(
        False, "--bidir",
        help="--mode stream: both ways at once, on each connection (tcp, unix) or as two "
        "flows per client (udp, unix-dgram; --rate/--bitrate paces each way)",
        parse=switch, commands=RUN_COMPARE,
    )  # fmt: skip
    # How --rate spaces the requests (core/schedule.py); closed loop has no schedule.
    arrival: Arrival = member(
        Arrival.UNIFORM, "--arrival",
        help="open loop: uniform (evenly spaced, least queueing) or poisson (independent "
        "exponential gaps per client, as mutilate and Lancet: bursts that raise the tail)",
    )  # fmt: skip
    seed: int = option(
        0, "--seed", help="seeds the run's random choices (poisson gaps, the clients' "
        "phases, random keys), so another run repeats them: 42", parse=parse_count,
        minimum=0,
    )  # fmt: skip
    pipeline: int = option(
        1, "--pipeline", "-P", help="requests in flight per connection", parse=parse_count,
        minimum=1,
    )  # fmt: skip
    requests: int | None = option(
        None, "--requests", help="stop after this many requests", parse=optional(parse_count),
        minimum=1, one_run=True,
    )  # fmt: skip
    # Stop once this percentile's 95 % interval is this narrow; --duration is the maximum.
    until: UntilTarget | None = option(
        None, "--until",
        help="measure until that percentile's 95 % interval is this narrow, --duration at "
        "most (docs/validity.md): 'p99 ±2%', 'p99 +-5%'",
        parse=optional(parse_until), one_run=True,
    )  # fmt: skip
    interval_s: float = option(
        1.0, "--interval", "-i", help="one interval of the time series: 1s, 500ms",
        parse=parse_seconds, positive=True,
        bound=bounds.seconds_within(bounds.MAX_RUN_S, minimum=bounds.MIN_INTERVAL_S),
    )  # fmt: skip

    @property
    def warmup_max_s(self) -> float:
        """The longest the warm-up can last: the fixed one, or ``--warmup auto``'s maximum."""
        return warmup_max_s(self.warmup_s)

    @property
    def auto_warmup(self) -> AutoWarmup | None:
        return self.warmup_s if isinstance(self.warmup_s, AutoWarmup) else None

    @property
    def direction(self) -> StreamDirection:
        """Which way a stream goes (forward unless --reverse or --bidir)."""
        if self.bidir:
            return StreamDirection.BIDIR
        return StreamDirection.REVERSE if self.reverse else StreamDirection.FORWARD

    @property
    def ramps_clients(self) -> bool:
        """Whether clients come up over the ramp (closed loop); with --rate the rate ramps."""
        return self.ramp_s > 0 and self.rate is None
