"""The warnings that follow from a run's numbers alone, as a table of rules (pure).

Each :class:`Rule` is a predicate over the run's :class:`Facts` and the warning it
gives (kind, message from the facts, advice). A table rather than a function of
``if`` blocks: each rule is read, tested and added on its own (``tests/core/
test_warning_rules.py`` runs them as a table), and the order of the table is the
order of the warnings. The price is a lambda per rule where an ``if`` would do;
a rule whose message needs more than a line gets a named helper.

Warnings that need the finished document (the rate not kept, sending late) are
:func:`sockbench.core.result.rate_warnings`; those predicted before load are
:mod:`sockbench.core.forecast`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sockbench.core.status import RunStatus
from sockbench.core.tally import Tally
from sockbench.core.warning import RunWarning, WarningKind


@dataclass(frozen=True)
class Facts:
    """What the rules read: the merged tally, how the run ended, which workers died
    (and, on a cluster, the node each worker ran on)."""

    tally: Tally
    status: str
    failed_workers: tuple[int, ...] = ()
    nodes: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """One warning: when it applies, what it says (from the facts), what to do."""

    kind: WarningKind
    applies: Callable[[Facts], bool]
    message: Callable[[Facts], str]
    advice: str = ""

    def warning(self, facts: Facts) -> RunWarning | None:
        return (
            RunWarning(self.kind, self.message(facts), self.advice) if self.applies(facts) else None
        )


def _died(facts: Facts) -> str:
    names = ", ".join(
        f"{i} on node {facts.nodes[i]}" if i in facts.nodes else str(i)
        for i in facts.failed_workers
    )
    return f"worker(s) {names} died during the run"


def _ports(facts: Facts) -> int:
    """Connects that found no ephemeral port, in the window and before it."""
    kind = "no_ephemeral_port"
    return facts.tally.errors.get(kind, 0) + facts.tally.warmup_errors.get(kind, 0)


def _unfinished(facts: Facts) -> int:
    return facts.tally.failed.get("unfinished", 0)


BUG = "please report this as a bug"

RULES: tuple[Rule, ...] = (
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
        lambda f: f.tally.requests == 0,
        lambda f: "no request completed in the measurement window",
        "check the target and --timeout",
    ),
    Rule(
        WarningKind.CLAMPED,
        lambda f: bool(f.tally.clamped),
        lambda f: (
            f"{f.tally.clamped} samples fell outside 1 µs..60 s and were clamped into that range"
        ),
    ),
    Rule(
        WarningKind.EPHEMERAL_PORTS,
        lambda f: bool(_ports(f)),
        lambda f: (
            f"ran out of ephemeral ports {_ports(f)} times (EADDRNOTAVAIL): closed "
            "connections hold their port in TIME_WAIT for 60 s"
        ),
        "spread clients over more addresses with --source-ips 127.0.0.2-127.0.0.9, "
        "widen net.ipv4.ip_local_port_range, or lower the connection rate",
    ),
    Rule(
        WarningKind.UNBALANCED,
        lambda f: f.tally.datagrams is not None and not f.tally.datagrams.balanced,
        lambda f: "datagram accounting does not balance",
        BUG,
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
            f"{f.tally.in_flight} requests were still in flight when the run stopped "
            "early; their outcome is unknown"
        ),
    ),
    Rule(
        WarningKind.UNFINISHED,
        lambda f: bool(_unfinished(f)),
        lambda f: (
            f"{_unfinished(f)} requests were still open when --drain ended, before "
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
) -> list[RunWarning]:
    """Warnings that follow from the numbers alone, each with advice, in :data:`RULES`'
    order. ``nodes`` names the cluster node each worker ran on, to say where one died."""
    facts = Facts(tally, status, tuple(failed_workers or ()), nodes or {})
    return [w for rule in RULES if (w := rule.warning(facts)) is not None]
