"""What a fake sink of a pure test need not look at, or sees one request at a time.

An exchange tells its sink (``sockbench.core.exchange.Sink``) of error replies' texts,
of clients served at the finish and of connections the target ended idle; a fake that
checks other things inherits these as no-ops from :class:`QuietSink`, so a new call of
the sink is added here once, not in each fake. A run of requests answered together
(``completed_run``) reaches a fake as one ``completed`` call per request, in order.
"""

from __future__ import annotations


class QuietSink:
    """The Sink calls a fake does not check, as no-ops; a run, as its requests."""

    def completed(
        self, latency_ns: int, service_ns: int, sent: int, got: int, kind: int = -1, misses: int = 0
    ) -> None:
        raise NotImplementedError  # each fake has its own

    def completed_run(
        self,
        latency_ns: int,
        service_ns: int,
        sent: int,
        got: int,
        count: int,
        kinds: list[int] | None,
        misses: list[int] | None,
    ) -> None:
        """Each request of the run told alone (its bytes the run's shared out evenly, the
        same size each where the fakes look; a kind's misses all on its first request)."""
        left = list(misses or ())
        for i in range(count):
            kind = -1 if kinds is None else kinds[i]
            missed = left[kind] if left else 0
            if left:
                left[kind] = 0
            self.completed(latency_ns, service_ns, sent // count, got // count, kind, missed)

    def error_reply(self, reply: bytes) -> None:
        pass

    def client_served(self) -> None:
        pass

    def closed_idle(self, at_ns: int) -> None:
        pass
