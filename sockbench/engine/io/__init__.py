"""The host's I/O, below everything else in the engine.

Sockets (:mod:`.sockio`), trio's epoll in one hop (:mod:`.trio_host`), precise sleeps
(:mod:`.timing`), what an ``OSError`` counts as (:mod:`.error_kinds`), signals
(:mod:`.interrupts`), descriptor limits (:mod:`.limits`) and process sampling
(:mod:`.sampling`).
"""
