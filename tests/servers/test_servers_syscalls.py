"""The echo path's syscall budget: no memory-mapping call per request under steady load.

A model that allocates per request in a way glibc serves with ``mmap`` pays
``mmap`` + ``munmap`` (and often ``mremap`` and a page fault) for every message:
the asyncio model once ran at a third of its speed that way, and only in some
processes, depending on their allocation history. Timing cannot catch that on a
shared machine; counting the server's syscalls with ``strace -c`` can, exactly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sockbench.endpoints import Proto
from tests.servers.servers_support import bind_for, model_params
from tests.support.strace import StraceUnavailable, echo_syscalls, sends

REQUESTS = 2000
MEMORY_CALLS = ("mmap", "munmap", "mremap", "brk")
# Far below one call per request, far above the few calls a Python process makes
# now and then (a new pymalloc arena, a grown dict).
MEMORY_BUDGET = REQUESTS // 20
MMAP_THRESHOLD = 128 * 1024

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed"),
]


@pytest.mark.parametrize("model", model_params())
@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UNIX, Proto.UDP], ids=lambda p: p.value)
def test_echo_path_makes_no_memory_syscall_per_request(
    model: str, proto: Proto, sock_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if proto is Proto.UDP and model not in ("asyncio", "uvloop"):
        pytest.skip("this model reads datagrams into a reused buffer: nothing to allocate")
    # glibc's mmap threshold starts at 128 KiB and rises only when a larger mapped
    # block is freed, so whether a big allocation maps depends on the process's past.
    # Pinned at its starting value, every server is in the worst case, every time.
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD))
    try:
        counts = echo_syscalls(model, bind_for(proto, sock_dir), REQUESTS)
    except StraceUnavailable as exc:
        pytest.skip(str(exc))
    # strace may detach before it reports the last few calls: most, not all.
    assert sends(counts) >= REQUESTS * 9 // 10, f"strace saw too few sends: {counts}"
    memory = {name: counts[name] for name in MEMORY_CALLS if name in counts}
    assert sum(memory.values()) <= MEMORY_BUDGET, (
        f"{model} over {proto.value}: {memory} for {REQUESTS} requests "
        f"(budget {MEMORY_BUDGET}); all calls: {counts}"
    )
