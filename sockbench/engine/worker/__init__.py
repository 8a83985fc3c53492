"""One worker: its share of the clients, from connect through the window to the drain.

:func:`.run.run_worker` is the same wherever a backend runs it (this loop, a child
process, a Ray actor); :mod:`.workload` makes each request and its matcher, :mod:`.ramp`
staggers the clients' starts.
"""
