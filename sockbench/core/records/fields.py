"""The building blocks of every record: a record's openness, and the constrained numbers.

A record is ``open`` (readers must ignore keys they do not know: schema 1 only ever
adds keys) unless the hand-written schema closed it; a ``closed`` one rejects unknown
keys. Attribute docstrings are the schema's descriptions (pydantic reads them), so a
key and its meaning sit on adjacent lines; the generator joins their wrapped lines.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Gt
from pydantic import ConfigDict, WithJsonSchema, with_config

record = with_config(ConfigDict(use_attribute_docstrings=True))
closed = with_config(ConfigDict(use_attribute_docstrings=True, extra="forbid"))

#: An integer count, never negative.
Count = Annotated[int, Ge(0)]
#: An integer of at least 1 (clients, workers, repeats).
AtLeastOne = Annotated[int, Ge(1)]
#: A number never negative (seconds, rates, bits per second).
NonNegative = Annotated[float, Ge(0)]
#: A number above 0 (a duration asked for, a rate).
Positive = Annotated[float, Gt(0)]
#: Wall-clock time as ISO 8601 text (UTC).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
