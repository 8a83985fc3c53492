"""The documents sockbench writes, as typed records: the one source of their JSON Schemas.

Each document stays the plain dict its builder makes (``core/result.py`` and its
neighbours), written once per run; these TypedDicts describe those dicts key by key,
and :mod:`sockbench.core.records.generate` turns them into docs/*.schema.json with
pydantic. Building through pydantic models instead would make every builder convert,
import pydantic on the run's path, and risk the byte-identical output of committed
results for nothing a test cannot catch: every document the test suite makes is
validated against the generated schema, and a unit test holds the committed schema
files equal to what these records generate, so neither side can drift unseen.

The records import pydantic's config and field markers, so nothing on a run's path
imports this package at runtime (``TYPE_CHECKING`` only): ``sockbench --help`` and the
workers never load pydantic for it.
"""
