"""What a fake sink of a pure test need not look at.

An exchange tells its sink (``sockbench.core.exchange.Sink``) of error replies' texts,
of clients served at the finish and of connections the target ended idle; a fake that
checks other things inherits these as no-ops from :class:`QuietSink`, so a new call of
the sink is added here once, not in each fake.
"""

from __future__ import annotations


class QuietSink:
    """The Sink calls a fake does not check, as no-ops."""

    def error_reply(self, reply: bytes) -> None:
        pass

    def client_served(self) -> None:
        pass

    def closed_idle(self, at_ns: int) -> None:
        pass
