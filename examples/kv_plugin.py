"""An example protocol plugin: a tiny line-based key/value protocol.

    sockbench run --target tcp://127.0.0.1:7000 --protocol examples/kv_plugin.py:KeyValue

Requests are ``PUT key value`` and ``GET key`` lines, one PUT every ``PUT_EVERY``;
the server answers ``OK``, ``VALUE ...``, ``NONE`` or ``ERR ...``, one line each.
Every connection first says ``HELLO <n>`` (``setup``), which is answered but not
measured. sockbench calls the class with its options (``--key-space``,
``--value-size``, ``--payload``, ``--seed``, ...); see docs/protocols.md.

Nothing here touches a socket, so the protocol is tested with bytes alone.
"""

from __future__ import annotations

from typing import Any

NEED_MORE = 0
MALFORMED = -1
ERROR_REPLY = -2  # minus the error line's length: see docs/protocols.md
PUT_EVERY = 4
MAX_LINE = 4096


class KeyValue:
    name = "kv"
    kinds = ("put", "fetch")

    def __init__(self, options: Any) -> None:
        self.key_space = options.key_space
        self.value = b"v" * options.value_size

    def setup(self, connection: int) -> bytes:
        return b"HELLO %d\n" % connection

    def kind(self, client: int, seq: int) -> str:
        return "put" if seq % PUT_EVERY == 0 else "fetch"

    def request(self, client: int, seq: int) -> bytes:
        key = (client * 7919 + seq) % self.key_space
        if seq % PUT_EVERY == 0:
            return b"PUT k%d %s\n" % (key, self.value)
        return b"GET k%d\n" % key

    def check_reply(self, buf: bytearray, start: int, end: int) -> int:
        nl = buf.find(b"\n", start, end)
        if nl < 0:
            return NEED_MORE if end - start < MAX_LINE else MALFORMED
        if buf.startswith(b"ERR", start, nl):
            return ERROR_REPLY - (nl + 1 - start)  # this request failed; the stream is in step
        if buf.startswith((b"OK", b"VALUE ", b"NONE"), start, nl):
            return nl + 1 - start
        return MALFORMED
