"""``run --export FORMAT=FILE``: several report formats written at once, as hyperfine's
``--export-json``/``--export-markdown`` (pure).

Each ``--export`` names one format and the file it goes to; it is repeatable, so one run
writes its markdown, CSV and HTML reports together. The formats are the report renderers
(:class:`~sockbench.core.spec.formats.ReportFormat`) and ``json``, the result itself (as
``--json FILE`` writes it). A format unknown, a value without ``=``, stdout (``--format``
is for stdout) or one file given twice is refused here, before any load; whether each file
can be written is checked before the load too (``report.files.check_exports``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sockbench.core.spec.formats import ReportFormat
from sockbench.core.spec.option import texts, values_of
from sockbench.errors import ConfigError

#: The result JSON, beside the report formats.
JSON = "json"
#: What ``--export`` writes: every report format, and the result JSON.
EXPORT_FORMATS: tuple[str, ...] = (*values_of(ReportFormat), JSON)


@dataclass(frozen=True)
class Export:
    """One ``--export FORMAT=FILE``."""

    fmt: str
    path: str

    def __str__(self) -> str:
        return f"{self.fmt}={self.path}"


def parse_exports(value: object, flag: str) -> tuple[Export, ...]:
    """``--export`` values (``html=report.html``), or :class:`Export` s already typed."""
    if isinstance(value, tuple | list) and all(isinstance(v, Export) for v in value):
        exports = tuple(v for v in value if isinstance(v, Export))
    else:
        exports = tuple(_one(item, flag) for item in texts(value, flag))
    seen: dict[str, Export] = {}
    for export in exports:
        if export.path in seen:
            raise ConfigError(
                f"{flag} {seen[export.path]} and {flag} {export} write the same file; "
                "give each format its own"
            )
        seen[export.path] = export
    return exports


def _one(item: str, flag: str) -> Export:
    fmt, equals, path = item.partition("=")
    fmt = fmt.strip().lower()
    if not equals or not path:
        raise ConfigError(
            f"{flag} wants FORMAT=FILE (html=report.html), got {item!r}; "
            f"FORMAT is one of {', '.join(EXPORT_FORMATS)}"
        )
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(
            f"unknown {flag} format {fmt!r} in {item!r}; choose one of {', '.join(EXPORT_FORMATS)}"
        )
    if path == "-":
        stdout = "--json -" if fmt == JSON else f"--format {fmt}"
        raise ConfigError(f"{flag} {item}: stdout is {stdout}, not an export")
    return Export(fmt, path)


def numbered(path: str, n: int) -> str:
    """``report.html`` as the ``n``-th repetition's file: ``report-n.html``."""
    head, slash, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    named = f"{stem}-{n}.{ext}" if dot and stem else f"{name}-{n}"
    return f"{head}{slash}{named}"
