"""The run: four packages, each importing only those below it (``tests/core/test_layers.py``).

- :mod:`.orchestration`: a run's steps, the coordinator and its one window;
- :mod:`.backends`: where workers run (this loop, child processes, Ray actors), behind
  one interface, and the messages they send;
- :mod:`.worker`: one worker's share of the clients, from connect to drain;
- :mod:`.clients`: the drivers that move bytes (the pump, the reference drivers), the
  recorder they count into and the gate they start from;
- :mod:`.io`: sockets, sleeps, signals and the host's limits.
"""
