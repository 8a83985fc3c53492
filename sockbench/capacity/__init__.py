"""Runs at several open-loop rates: ``sockbench sweep`` (a latency–load curve) and
``sockbench search`` (the capacity at an SLO).

Every step is one whole run (:func:`sockbench.engine.orchestration.runner.run`) saved as
its own result; which rate comes next and what a step's verdict is are decided in
``core`` (:mod:`sockbench.core.search`, :mod:`sockbench.core.sweep`). This package only
runs the steps in order, writes the folder as it goes, and stops when told.
"""
