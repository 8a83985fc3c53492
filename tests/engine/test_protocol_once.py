"""The protocol is built once per process: where the options are checked, and once in
each worker process a pickled spec reaches (a plugin's code cannot travel by pickle)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from sockbench.engine.worker.run import _Shared
from sockbench.engine.worker.workload import reply_matcher
from sockbench.machine import build_run_spec

pytestmark = pytest.mark.unit

PLUGIN = """
from pathlib import Path

Path({log!r}).open("a").write("executed\\n")  # once per execution of this file


class Counted:
    name = "counted"

    def __init__(self, options):
        Path({log!r}).open("a").write("built\\n")

    def request(self, client, seq):
        return b"ping\\n"

    def check_reply(self, buf, start, end):
        return 0 if end - start < 5 else 5
"""


def test_a_plugin_runs_once_here_and_once_per_worker_process(tmp_path: Path) -> None:
    log = tmp_path / "log"
    plugin = tmp_path / "counted.py"
    plugin.write_text(PLUGIN.format(log=str(log)))
    spec = build_run_spec(
        {"target": "tcp://127.0.0.1:9", "protocol": f"{plugin}:Counted", "workers": "1"}
    )
    assert log.read_text().split() == ["executed", "built"]
    # The worker in this process, its shared request and matcher: the same protocol.
    _Shared.build(spec)
    reply_matcher(spec.protocol)
    assert spec.protocol.adapter() is spec.protocol.adapter()
    assert log.read_text().split() == ["executed", "built"]
    # A worker process gets the spec by pickle, without the built protocol: it builds it
    # once there (here: the same process standing in for it).
    copy = pickle.loads(pickle.dumps(spec))
    assert copy == spec
    _Shared.build(copy)
    reply_matcher(copy.protocol)
    assert log.read_text().split() == ["executed", "built"] * 2
