"""What a saved result must hold for ``report`` and ``diff`` to read it, checked once, on
loading (:func:`sockbench.report.document.load`), whatever the format asked for.

The renderers read a document through ``.get`` with defaults, so a skeleton rendered as
``status ?`` and a damaged one failed, or not, depending on which renderer touched the
damage first. Here every key a renderer or ``diff`` reads has a type: the sections every
version of ``sockbench.result/1`` has written are required, the rest checked where present,
and each histogram summary's histogram must decode. The first problem is one line naming where it is
(``totals.requests: expected an integer, got "many"``); the loader puts the file in front.

Not the full JSON Schema (docs/result.schema.json): it needs jsonschema, which only the
tests install, and it rejects results of earlier versions of schema 1 that still render
(their ``generator`` lacks keys added since). Keys nothing reads are not checked, and
unknown keys are allowed: schema 1 only ever adds keys.

The records (:mod:`sockbench.core.records`) stay the one description of the documents;
this is the reader's lenient projection of it, held to it by a test
(tests/report/test_shape_schema.py): every key checked here is a key of the generated
schema, and no check refuses a value the schema allows there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sockbench.core.kinds import Workload
from sockbench.core.status import RunStatus
from sockbench.endpoints import Proto

#: A check of one value at one place (``totals.requests``): returns, or raises Problem.
Check = Callable[[object, str], None]


class Problem(Exception):
    """The first thing wrong with a document: where it is and what is wrong."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}" if where else what)
        self.where = where
        self.what = what


def _got(value: object) -> str:
    """A value as the message shows it: short, and never a Python type's name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return '"' + shown.replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    return "an object"


def _key(where: str, key: str) -> str:
    plain = key.replace("_", "a").isalnum() and key.isascii()
    if not plain:
        return f'{where}["{key}"]'
    return f"{where}.{key}" if where else key


def signed_integer(value: object, where: str) -> None:
    """An integer, of either sign (a difference: bytes lost may be below 0)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem(where, f"expected an integer, got {_got(value)}")


def integer(value: object, where: str) -> None:
    """An integer of 0 or more (a count: requests, bytes, µs)."""
    signed_integer(value, where)
    if isinstance(value, int) and value < 0:
        raise Problem(where, f"expected 0 or more, got {value}")


def positive_integer(value: object, where: str) -> None:
    """An integer of 1 or more (clients, pipeline depth)."""
    integer(value, where)
    if value == 0:
        raise Problem(where, "expected 1 or more, got 0")


def signed_number(value: object, where: str) -> None:
    """A finite number, of either sign (a value a --check measured)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(where, f"expected a number, got {_got(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise Problem(where, f"expected a finite number, got {_got(value)}")


def number(value: object, where: str) -> None:
    """A finite number of 0 or more (a rate, seconds, a percentage)."""
    signed_number(value, where)
    if isinstance(value, int | float) and value < 0:
        raise Problem(where, f"expected 0 or more, got {_got(value)}")


def text(value: object, where: str) -> None:
    if not isinstance(value, str):
        raise Problem(where, f"expected text, got {_got(value)}")


def boolean(value: object, where: str) -> None:
    if not isinstance(value, bool):
        raise Problem(where, f"expected true or false, got {_got(value)}")


def anything(value: object, where: str) -> None:
    """Read as text wherever it is shown (``str(value)``): any value will do."""


@dataclass(frozen=True)
class one_of:
    """Text naming one member of ``values`` (a status, a mode, a proto)."""

    values: type[StrEnum]

    def __call__(self, value: object, where: str) -> None:
        text(value, where)
        allowed = tuple(str(member) for member in self.values)
        if value not in allowed:
            raise Problem(where, f"expected one of {', '.join(allowed)}, got {_got(value)}")


def size(value: object, where: str) -> None:
    """A payload: bytes, 1 or more (or, in a compare's plan and cells, as it was given)."""
    if not isinstance(value, str):
        positive_integer(value, where)


@dataclass(frozen=True)
class nullable:
    """null, or a value ``inner`` passes."""

    inner: Check

    def __call__(self, value: object, where: str) -> None:
        if value is not None:
            self.inner(value, where)


@dataclass(frozen=True)
class list_of:
    """A list whose every item passes ``item``."""

    item: Check

    def __call__(self, value: object, where: str) -> None:
        if not isinstance(value, list):
            raise Problem(where, f"expected a list, got {_got(value)}")
        for i, each in enumerate(value):
            self.item(each, f"{where}[{i}]")


@dataclass(frozen=True)
class map_of:
    """An object whose every value passes ``item`` (errors by kind, histograms by kind)."""

    item: Check

    def __call__(self, value: object, where: str) -> None:
        for key, each in _object(value, where).items():
            self.item(each, _key(where, str(key)))


def _object(value: object, where: str) -> dict[object, object]:
    if not isinstance(value, dict):
        raise Problem(where, f"expected an object, got {_got(value)}")
    return value


@dataclass(frozen=True)
class Record:
    """An object with ``required`` keys and ``optional`` ones, each with its check; other
    keys are allowed (schema 1 only ever adds keys)."""

    required: Mapping[str, Check] = field(default_factory=dict)
    optional: Mapping[str, Check] = field(default_factory=dict)

    def __call__(self, value: object, where: str) -> None:
        found = _object(value, where)
        for key, check in self.required.items():
            if key not in found:
                raise Problem(_key(where, key), "missing (not a complete sockbench result)")
            check(found[key], _key(where, key))
        for key, check in self.optional.items():
            if key in found:
                check(found[key], _key(where, key))


def _all(check: Check, keys: Iterable[str]) -> dict[str, Check]:
    return dict.fromkeys(keys, check)


def encoded_histogram(value: object, where: str) -> None:
    """HdrHistogram's compressed base64 encoding, as the HTML and ``.hgrm`` reports and
    every percentile a summary does not store (``diff``, ``--check``) decode it."""
    if not isinstance(value, str):
        raise Problem(where, f"expected text, got {_got(value)}")
    if not value:
        return  # an empty histogram's place; a count above 0 needs one (histogram below)
    from hdrh.histogram import HdrHistogram  # numpy and hdrh: only when a report is read

    try:
        HdrHistogram.decode(value)
    except Exception:  # hdrh's, zlib's, base64's errors: edited text fails any of them
        raise Problem(where, "not a readable HdrHistogram encoding (damaged or edited)") from None


def histogram(value: object, where: str) -> None:
    """A histogram summary (``latency_us``): its stats, and the histogram they came from."""
    _SUMMARY(value, where)
    found = _object(value, where)
    if found["count"] and not found["histogram"]:
        raise Problem(_key(where, "histogram"), f"empty, but count is {found['count']}")


_SUMMARY = Record(
    required={"count": integer, "min": integer, "max": integer, "mean": number,
              "histogram": encoded_histogram},
    optional={**_all(number, ("stdev", "p50", "p90", "p99", "p99_9", "p99_99")),
              "percentiles": map_of(number)},
)  # fmt: skip

_ERRORS = map_of(integer)

CONFIG = Record(
    required={"proto": one_of(Proto), "clients": positive_integer,
              "payload": size},
    optional={"mode": one_of(Workload), "protocol": text, "rate": nullable(number),
              "pipeline": positive_integer, "requests": nullable(positive_integer),
              "workers": positive_integer, "direction": text, "target": nullable(text),
              "server_model": nullable(text), "request": nullable(text),
              "expect": nullable(text), "ratio": list_of(integer),
              **_all(nullable(number), ("duration_s", "warmup_s", "ramp_s", "interval_s"))},
)  # fmt: skip

ENVIRONMENT = Record(
    optional={"hostname": nullable(text), "cpu_count": nullable(integer),
              "sockbench": nullable(text), "cpu_model": nullable(text),
              "loadavg": nullable(list_of(number))},
)  # fmt: skip

SERVER = Record(optional={"model": nullable(text), "target": nullable(text)})

_KIND_TOTALS = Record(
    required={"requests": integer, "throughput_rps": number, "errors": _ERRORS},
    optional=_all(integer, ("hits", "misses")),
)

TOTALS = Record(
    required={"requests": integer, "bytes_sent": integer, "bytes_received": integer,
              "throughput_rps": number, "errors": _ERRORS},
    optional={
        **_all(integer, ("connections", "clamped_samples", "requests_issued", "in_flight",
                         "served", "served_from_warmup", "drained", "hits", "misses",
                         "clients_served", "closed_idle")),
        **_all(number, ("throughput_bps", "requested_rps", "achieved_ratio", "offered_rps",
                        "connections_per_s", "drain_s", "connect_ramp_s")),
        "connect_rate_per_s": nullable(number),
        **_all(_ERRORS, ("warmup_errors", "requests_failed", "error_replies")),
        "by_kind": map_of(_KIND_TOTALS),
    },
)  # fmt: skip

DATAGRAMS = Record(
    required=_all(integer, ("sent", "received", "lost", "in_flight")),
    optional=_all(integer, ("duplicates", "reordered", "late", "unfinished", "unsolicited",
                            "generator_drops", "target_drops")),
)  # fmt: skip

INTERVAL = Record(
    required={"t": number},
    optional={
        **_all(integer, ("requests", "errors", "p50", "p99", "max", "sent_bytes", "read_bytes",
                         "hits", "misses", "offered", "send_lag_p99", "scheduler_lag_p99")),
        **_all(number, ("rps", "sent_bps", "read_bps", "offered_rps")),
        "received_bytes": nullable(integer),
        "received_bps": nullable(number),
        "histogram": text,
        "by_kind": map_of(Record(optional={**_all(integer, ("requests", "p99", "hits", "misses")),
                                           "rps": number})),
    },
)  # fmt: skip

_STREAM_SIDE = Record(required=_all(number, ("bytes", "seconds", "bps", "messages_per_s")))
_PER_CLIENT = Record(optional=_all(number, ("min", "median", "max")))

STREAM = Record(
    optional={
        **_all(number, ("total_bps", "total_messages_per_s")),
        **_all(_PER_CLIENT, ("per_client_bps", "per_client_messages_per_s")),
        "sender": _STREAM_SIDE,
        "receiver": nullable(_STREAM_SIDE),
        **_all(integer, ("streams", "streams_reported")),
        "per_stream": list_of(Record(optional={"sent_bytes": integer,
                                               "received_bytes": nullable(integer)})),
        "direction": text,
        "reverse": Record(
            required={"receiver": _STREAM_SIDE},
            optional={**_all(integer, ("before_bytes", "after_bytes", "streams",
                                       "streams_reported", "generator_drops")),
                      "server_sent_bytes": nullable(integer),
                      "lost_bytes": nullable(signed_integer)},
        ),
    },
)  # fmt: skip

_RESOURCES = _all(nullable(number), ("cpu_percent_mean", "cpu_percent_max", "rss_bytes_max",
                                     "threads_max", "fds_max"))  # fmt: skip
RESOURCES = Record(optional={**_RESOURCES, "process": text})

_NODE = Record(
    required={"node_id": anything, "host": anything, "workers": integer, "clients": integer,
              "requests": integer, "errors": integer},
    optional={"failed_workers": integer, "cpu_percent_mean": nullable(number),
              "rss_bytes_max": nullable(number), "saturated": boolean},
)  # fmt: skip

GENERATOR = Record(
    optional={
        **_RESOURCES,
        "loop_busy_percent": nullable(number),
        "workers": integer,
        "saturated": boolean,
        "nodes": list_of(_NODE),
    }
)

_CHECK = Record(
    required={"expr": text, "passed": boolean},
    optional={"value": nullable(signed_number), "measured": text},
)

VALIDITY = Record(
    optional={
        "verdict": text,
        "reasons": list_of(Record(required={"text": text}, optional={"test": text})),
        "notes": list_of(text),
        "percentiles": map_of(Record(optional={"relative": nullable(number)})),
        "arrivals": nullable(Record(optional={"tail_reliable": nullable(boolean)})),
    },
)  # fmt: skip

TLS = Record(
    optional={**_all(integer, ("handshakes", "full", "resumed")), "verified": boolean,
              "negotiated": map_of(integer)},
)  # fmt: skip

#: What a compare adds to each of its cells.
CELL = Record(
    optional={"model": text, "proto": text, "clients": integer, "repeat": integer,
              "payload": size, "error": text},
)  # fmt: skip

RESULT = Record(
    required={
        "status": one_of(RunStatus),
        "started_at": text,
        "duration_s": number,
        "config": CONFIG,
        "environment": ENVIRONMENT,
        "server": SERVER,
        "totals": TOTALS,
        "datagrams": nullable(DATAGRAMS),
        "latency_us": histogram,
        "connect_us": histogram,
        "warnings": list_of(anything),
    },
    optional={
        "sockbench_version": text,
        "interrupted": boolean,
        "command": text,
        **_all(nullable(histogram), ("handshake_us", "service_time_us", "send_lag_us",
                                     "scheduler_lag_us")),
        "latency_by_kind_us": map_of(histogram),
        "intervals": list_of(INTERVAL),
        "drain_interval": INTERVAL,
        "stream": STREAM,
        "server_resources": nullable(RESOURCES),
        "generator": nullable(GENERATOR),
        "warning_details": list_of(Record(required={"kind": text, "message": text})),
        "checks": list_of(_CHECK),
        "tls": TLS,
        "accept_queue": Record(optional=_all(integer, ("backlog", "sockets", "drops"))),
        "validity": VALIDITY,
        "warmup": Record(optional={"chosen_s": number}),
        "until": Record(),
        "cell": CELL,
    },
)  # fmt: skip


def check_result(doc: Mapping[str, object], where: str = "") -> None:
    """Raise :class:`Problem` for the first thing in a ``sockbench.result/1`` document (or
    a compare's cell, ``where`` being ``cells[3]``) that a report or ``diff`` could not
    read; return when there is none."""
    RESULT(doc, where)


#: The keys of a compare document itself (its cells are results: :func:`check_result`).
COMPARE = Record(
    optional={"environment": ENVIRONMENT, "command": text, "created_at": text,
              "status": text},
)  # fmt: skip


_SEARCH = Record(
    optional={"found": text, "confirmed": nullable(boolean), "precision": number,
              **_all(nullable(number), ("capacity_rps", "highest_pass_rps", "lowest_fail_rps",
                                        "lowest_invalid_rps", "rate_min", "rate_max"))},
)  # fmt: skip

_STEP = Record(
    required={"rate": number, "verdict": text},
    optional={"result": text, "status": text, "phase": text, "reasons": list_of(anything),
              "row": map_of(nullable(number))},
)  # fmt: skip

#: A sweep or search document (``sockbench.sweep/1``): its curves, each step a run at a rate.
SWEEP = Record(
    required={"curves": list_of(Record(required={"label": text, "steps": list_of(_STEP)},
                                       optional={"search": _SEARCH}))},
    optional={"kind": text, "command": text, "started_at": text, "status": text,
              "elapsed_s": number, "slos": list_of(text), "columns": list_of(text)},
)  # fmt: skip
