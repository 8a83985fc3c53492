"""Reading result documents and flattening them into cells.

Every renderer accepts a run result or a compare document. Rather than each one
branching on the schema, they all go through :func:`cells`, which presents a run as
a compare of one cell; the cost is a little indirection, the gain is that a single
run and a 24-cell sweep take the same code path and look alike.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdrh.codec import HdrCookieException, HdrHistogramSettingsException, HdrLengthException

from sockbench.core.metrics import get as get
from sockbench.core.schemas import COMPARE_SCHEMA as COMPARE_SCHEMA
from sockbench.core.schemas import RESULT_SCHEMA as RESULT_SCHEMA
from sockbench.core.schemas import SWEEP_SCHEMA as SWEEP_SCHEMA
from sockbench.errors import SockbenchError
from sockbench.report import shape

Doc = Mapping[str, Any]


def load(path: str | Path) -> dict[str, Any]:
    """Read a result or compare document from a file or from the folder holding it.

    Accepts ``result.json``/``results.json``/``sweep.json`` files, a run folder
    (``result.json`` inside), a compare folder (``results.json`` inside) and a sweep or
    search folder (``sweep.json``). Raises SockbenchError
    with a one-line message when nothing usable is there.
    """
    target = Path(path)
    try:
        target.stat()
    except FileNotFoundError:
        pass  # said below, with the other cases
    except (OSError, ValueError) as exc:  # a name too long, a loop of links, a NUL
        raise SockbenchError(f"{str(target)[:200]}: cannot read: {_one_line(exc)[:200]}") from None
    if target.is_dir():
        names = ("result.json", "results.json", "sweep.json")
        found = [target / n for n in names if (target / n).is_file()]
        if not found:
            raise SockbenchError(
                f"{target}: no result.json, results.json or sweep.json in this folder"
            )
        target = found[0]
    elif not target.exists():
        raise SockbenchError(f"{target}: no such file or folder")
    elif not target.is_file():  # /dev/zero would be read until memory ran out
        raise SockbenchError(f"{target}: not a regular file; give a result file or its folder")
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SockbenchError(f"{target}: cannot read: {_one_line(exc)}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SockbenchError(
            f"{target}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from exc
    except RecursionError:  # a result is a few levels deep; thousands are no result
        raise SockbenchError(f"{target}: JSON nested too deeply to be a sockbench result") from None
    if not isinstance(doc, dict):
        raise SockbenchError(f"{target}: expected a JSON object, got {type(doc).__name__}")
    schema = doc.get("schema")
    reader = READERS.get(schema) if isinstance(schema, str) else None
    if reader is None:
        raise SockbenchError(
            f"{target}: unknown schema {schema!r} (expected {' or '.join(READERS)})"
        )
    return reader(doc, target)


def _read_result_1(doc: dict[str, Any], source: Path) -> dict[str, Any]:
    with _checked(source):
        shape.check_result(doc)
    return doc


def _read_compare_1(doc: dict[str, Any], source: Path) -> dict[str, Any]:
    if not isinstance(doc.get("cells"), list):
        raise SockbenchError(f"{source}: a {COMPARE_SCHEMA} document needs a list of cells")
    for i, cell in enumerate(doc["cells"]):
        if not isinstance(cell, dict):
            kind = "a list" if isinstance(cell, list) else json.dumps(cell)[:40]
            raise SockbenchError(
                f"{source}: cell {i} is {kind}, not a result object; the document is damaged"
            )
    with _checked(source):
        shape.COMPARE(doc, "")
        for i, cell in enumerate(doc["cells"]):
            shape.check_result(cell, f"cells[{i}]")
    return doc


@contextmanager
def _checked(source: Path) -> Iterator[None]:
    """A document that is not what the reports read (:mod:`sockbench.report.shape`): one
    line naming the file, where in it, and what is wrong."""
    try:
        yield
    except shape.Problem as problem:
        raise SockbenchError(f"{source}: {problem}") from None


def _read_sweep_1(doc: dict[str, Any], source: Path) -> dict[str, Any]:
    if not isinstance(doc.get("curves"), list):
        raise SockbenchError(f"{source}: a {SWEEP_SCHEMA} document needs a list of curves")
    with _checked(source):
        shape.SWEEP(doc, "")
    return doc


#: One reader per schema id. A ``/2`` adds its reader here (upgrading or reading it
#: as it needs); every renderer keeps taking the one in-memory shape.
READERS: dict[str, Callable[[dict[str, Any], Path], dict[str, Any]]] = {
    RESULT_SCHEMA: _read_result_1,
    COMPARE_SCHEMA: _read_compare_1,
    SWEEP_SCHEMA: _read_sweep_1,
}


#: What a renderer raises on a document that passed :mod:`sockbench.report.shape` but is
#: damaged where that does not look (a key no check covers): a wrong type, a missing key,
#: an undecodable histogram (hdrh's and zlib's errors), nesting deeper than Python recurses.
DAMAGED: tuple[type[BaseException], ...] = (
    KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError,
    RecursionError, zlib.error, HdrCookieException, HdrLengthException,
    HdrHistogramSettingsException,
)  # fmt: skip


@contextmanager
def reading(what: object) -> Iterator[None]:
    """Turn a damaged document's failure while it is read or rendered into one line; the
    line never names Python's exception (a user reads it, not a programmer)."""
    try:
        yield
    except DAMAGED as exc:
        if isinstance(exc, KeyError) and exc.args:  # str() of a KeyError is the key alone
            detail = f"no {exc.args[0]!r} where one was expected"
        else:
            detail = " ".join(str(exc).split())[:200] or "a value of the wrong kind"
        raise SockbenchError(f"{what}: not a complete sockbench result ({detail})") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or "unreadable"


def is_compare(doc: Doc) -> bool:
    return doc.get("schema") == COMPARE_SCHEMA


def cells(doc: Doc) -> list[Doc]:
    """The run results of a document: the cells of a compare, or the run itself."""
    if is_compare(doc):
        return list(doc.get("cells") or [])
    return [doc]


@dataclass(frozen=True)
class CellKey:
    """What identifies a cell in a compare grid."""

    model: str
    proto: str
    clients: int
    payload: object
    repeat: int

    @property
    def label(self) -> str:
        return f"{self.model} {self.proto} c={self.clients} payload={self.payload}"


def model_name(result: Doc) -> str:
    """The server model of a result, or a name for the external target it hit."""
    cell = result.get("cell") or {}
    for value in (
        cell.get("model"),
        (result.get("server") or {}).get("model"),
        (result.get("config") or {}).get("server_model"),
    ):
        if value:
            return str(value)
    return "external"


def cell_key(result: Doc) -> CellKey:
    cell = result.get("cell") or {}
    config = result.get("config") or {}

    def pick(name: str) -> Any:
        value = cell.get(name)
        return config.get(name) if value is None else value

    return CellKey(
        model=model_name(result),
        proto=str(pick("proto") or "?"),
        clients=int(pick("clients") or 0),
        payload=pick("payload"),
        repeat=int(cell.get("repeat") or 0),
    )


def target(result: Doc) -> str:
    server = result.get("server") or {}
    config = result.get("config") or {}
    return str(server.get("target") or config.get("target") or "?")
