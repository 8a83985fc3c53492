"""Typed access to a result document, as pyperf's ``Benchmark`` wraps its JSON (pure).

A result stays the plain JSON mapping it is written as (renderers, ``--check`` and
scripts all read the same thing, and nothing has to be converted to be saved); this
view only names what code keeps asking of it, so ``Result(doc).served_rps`` replaces
``doc["totals"]["throughput_rps"]`` and every metric reads through the registry
(:mod:`sockbench.core.metrics`). Absent keys read as None, never as an exception:
documents from older versions lack some.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sockbench.core.metrics import get, metric
from sockbench.core.status import RunStatus

if TYPE_CHECKING:  # the records load pydantic; a type needs none of it at runtime
    from sockbench.core.records.result import ResultDoc


@dataclass(frozen=True)
class Result:
    """One run's result (``sockbench.result/1``), or one cell of a compare."""

    doc: Mapping[str, Any]

    @property
    def record(self) -> ResultDoc:
        """The same mapping, typed by its record (sockbench/core/records/result.py, the
        source of docs/result.schema.json): mypy checks each key and its type. Only for a
        document of this version (one just built, or validated): an older one may lack a
        key its record requires, where the properties below read None."""
        return cast("ResultDoc", self.doc)

    def metric(self, name: str) -> float | None:
        """A metric by any name ``--check`` accepts (``p99``, ``rps``, ``errors.timeout``);
        None where the result does not hold it; KeyError for an unknown name."""
        return metric(name).value(self.doc)

    @property
    def status(self) -> str | None:
        """``completed``, ``degraded``, ...; None in documents that do not say."""
        status = self.doc.get("status")
        return None if status is None else str(status)

    @property
    def completed(self) -> bool:
        """Ran to its end (a document without a status did)."""
        return (self.status or RunStatus.COMPLETED) == RunStatus.COMPLETED

    @property
    def saturated(self) -> bool:
        """Its load generator ran out of CPU: it measured the client, not the server."""
        return bool(get(self.doc, "generator", "saturated"))

    @property
    def served_rps(self) -> float | None:
        """Good replies received inside the window, per second (docs/result.md, *Rates*)."""
        return self.metric("rps")

    @property
    def offered_rps(self) -> float | None:
        """Open loop: requests sent inside the window, per second."""
        return self.metric("offered")

    @property
    def requested_rps(self) -> float | None:
        """Open loop: the ``--rate`` asked for."""
        value = get(self.doc, "totals", "requested_rps")
        return value if isinstance(value, int | float) else None

    @property
    def achieved_ratio(self) -> float | None:
        """Open loop: served over requested."""
        return self.metric("achieved")

    @property
    def errors(self) -> Mapping[str, int]:
        """Errors by kind (measurement window and drain)."""
        found: Mapping[str, int] = get(self.doc, "totals", "errors") or {}
        return found

    @property
    def error_total(self) -> int:
        return int(self.metric("errors") or 0)
