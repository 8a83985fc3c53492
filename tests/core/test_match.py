"""The compiled build's reply compare (``sockbench/core/protocols/_match.c``), built here
from its source whatever build runs (CI tests the pure build): ``starts_at`` must answer
as ``bytearray.startswith``, which the pure build calls instead, on every input the mix
parsers give it; and those parsers must answer as the general ones through it."""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockbench.build import build_c
from sockbench.core.protocols import match
from sockbench.core.protocols.memcache import memcache_reply_length
from sockbench.core.protocols.memcache import mix_reply_parser as memcache_mix_parser
from sockbench.core.protocols.resp import mix_reply_parser, resp_reply_length

pytestmark = pytest.mark.e2e  # a C compiler, run as a process

Starts = Callable[[bytearray | bytes, bytes, int, int], bool]


@pytest.fixture(scope="module")
def starts_at(tmp_path_factory: pytest.TempPathFactory) -> Starts:
    if match.starts_at is not bytearray.startswith:  # the compiled build: test what it runs
        compiled: Starts = match.starts_at  # type: ignore[assignment]
        return compiled
    # Without a compiler or Python's headers it cannot be built here (nor would the
    # compiled build); with them, a build error fails the test.
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler (.ci/system-deps installs gcc): _match is not built")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        pytest.skip("no Python.h for this interpreter: _match is not built")
    module: ModuleType = build_c("sockbench.core.protocols._match", tmp_path_factory.mktemp("m"))
    built: Starts = module.starts_at
    return built


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=12),
    st.binary(max_size=5),
    st.integers(0, 14),
    st.integers(0, 14),
    st.booleans(),
)
def test_starts_at_answers_as_startswith(
    starts_at: Starts, data: bytes, prefix: bytes, start: int, end: int, as_bytes: bool
) -> None:
    """Whatever the bounds (an end past the bytes, an end before the start, an empty
    prefix), over a bytearray or bytes."""
    buf: bytearray | bytes = data if as_bytes else bytearray(data)
    assert starts_at(buf, prefix, start, end) == buf.startswith(prefix, start, end)


def test_starts_at_refuses_what_startswith_would_read_otherwise(starts_at: Starts) -> None:
    with pytest.raises(TypeError, match="prefix must be bytes"):
        starts_at(bytearray(b"ab"), bytearray(b"a"), 0, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="buf must be a bytearray or bytes"):
        starts_at(memoryview(b"ab"), b"a", 0, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="never negative"):
        starts_at(b"ab", b"a", -1, 2)
    with pytest.raises(TypeError, match="takes 4 arguments"):
        starts_at(b"ab", b"a", 0)  # type: ignore[call-arg]


_RESP = st.sampled_from(
    [b"+OK\r\n", b"$-1\r\n", b"$5\r\n", b"hello", b"abcde", b"\r\n", b"$", b"-", b"x"]
)
_MEMCACHE = st.sampled_from(
    [b"STORED\r\n", b"END\r\n", b"VALUE key:", b"0000000001", b" 0 5\r\n", b"abcde",
     b"\r\n", b"END", b"x", b"S"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_RESP, max_size=8).map(b"".join), st.lists(_MEMCACHE, max_size=8).map(b"".join))
def test_the_mix_parsers_answer_as_the_general_ones_through_it(
    starts_at: Starts, resp: bytes, memcache: bytes
) -> None:
    """The parsers bind the compare when built: with the C one bound (as compiled)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sockbench.core.protocols.resp.starts_at", starts_at)
        patch.setattr("sockbench.core.protocols.memcache.starts_at", starts_at)
        redis, memcached = mix_reply_parser(5), memcache_mix_parser(5)
    for data, check, general in (
        (resp, redis, resp_reply_length),
        (memcache, memcached, memcache_reply_length),
    ):
        buf = bytearray(data + b"$5\r\nhello\r\n")  # bytes past ``end`` are not read
        for end in range(len(data) + 1):
            assert check(buf, 0, end) == general(buf, 0, end)
