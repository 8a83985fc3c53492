"""Warnings as typed records: what happened, why it matters, what to change (pure).

A kind lets reports group them and ``--check`` filter them without matching text;
``text()`` is the sentence shown to people and kept in the result's ``warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class WarningKind(StrEnum):
    WORKER_DIED = "worker_died"
    PROTOCOL_FAILED = "protocol_failed"
    INTERRUPTED = "interrupted"
    SERVER_DIED = "server_died"
    SERVER_ESCAPED = "server_escaped"  # a --server-cmd that daemonized: still serving
    NOTHING_MEASURED = "nothing_measured"
    CLAMPED = "clamped"
    EPHEMERAL_PORTS = "ephemeral_ports"
    UNBALANCED = "unbalanced"
    UNSOLICITED = "unsolicited"
    NOT_TAKEN = "not_taken"  # --mode stream: the peer took less than was written
    IN_FLIGHT = "in_flight"
    UNFINISHED = "unfinished"
    RATE_NOT_KEPT = "rate_not_kept"
    SENT_LATE = "sent_late"
    GENERATOR_SATURATED = "generator_saturated"
    CLOCK_UNCERTAIN = "clock_uncertain"  # a cluster node's clock offset is known too loosely
    CELL_FAILED = "cell_failed"
    DEGRADED = "degraded"
    DESCRIPTOR_LIMIT = "descriptor_limit"
    THREADPOOL_QUEUE = "threadpool_queue"
    LITTLES_LAW = "littles_law"
    BUSY_MACHINE = "busy_machine"
    WORKERS_SHARE_CPUS = "workers_share_cpus"
    WARMUP_UNSETTLED = "warmup_unsettled"  # --warmup auto reached its maximum
    WORKERS_PAST_CORES = "workers_past_cores"  # open loop: more workers than cores to spin on
    NOT_VALID = "not_valid"  # the result's validity section found it not valid
    TLS_NOT_VERIFIED = "tls_not_verified"  # --tls-insecure: certificates were not checked
    TLS_FAILED = "tls_failed"  # TLS handshakes (or records) failed, by kind
    CLOSED_UNANSWERED = "closed_unanswered"  # a tcp:// target answered nothing usable
    STARVED = "starved"  # connections that got no reply in the whole window
    SOCKET_BUFFER_CAPPED = "socket_buffer_capped"  # --socket-buffer over net.core.rmem_max
    LISTEN_DROPS = "listen_drops"  # the target's accept queue was full: connects dropped
    RECONNECTS = "reconnects"  # the target ended keep-alive connections: clients reconnected
    CLIENT_ERRORS = "client_errors"  # --protocol http: replies with a 4xx status


@dataclass(frozen=True)
class RunWarning:
    kind: WarningKind
    message: str  # what happened
    advice: str = ""  # what to change; empty when nothing can be

    def text(self) -> str:
        return f"{self.message}; {self.advice}" if self.advice else self.message

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "message": self.message, "advice": self.advice}
