"""What a target's error replies said: the text kept, the table bounded (pure)."""

from __future__ import annotations

from collections import Counter

from sockbench.core.error_replies import MAX_TEXTS, OTHER, TEXT_BYTES, count, error_text, merged


def test_the_text_is_the_first_line() -> None:
    assert error_text(b"-ERR max number of clients reached\r\n") == (
        "-ERR max number of clients reached"
    )
    assert error_text(b"SERVER_ERROR out of memory\r\nEND\r\n") == "SERVER_ERROR out of memory"
    assert error_text(b"E\n") == "E"
    assert error_text(b"\r\n") == "(empty)"
    assert error_text(b"-ERR \xff\r\n") == "-ERR \ufffd"  # bytes that are not text: shown
    assert len(error_text(b"-" + b"x" * 500)) == TEXT_BYTES


def test_a_worker_keeps_a_few_texts_and_counts_the_rest_apart() -> None:
    texts: Counter[str] = Counter()
    for i in range(MAX_TEXTS + 3):
        count(texts, b"-ERR key %d\r\n" % i)
    count(texts, b"-ERR key 0\r\n")  # one already held still counts under its text
    assert len(texts) == MAX_TEXTS + 1 and texts[OTHER] == 3 and texts["-ERR key 0"] == 2
    assert sum(texts.values()) == MAX_TEXTS + 4


def test_workers_merged_keep_the_most_frequent_and_the_total() -> None:
    parts = [{f"t{i}": i + 1 for i in range(MAX_TEXTS)}, {"t0": 100, "u": 1, OTHER: 5}]
    both = merged(parts)
    assert next(iter(both)) == "t0" and both["t0"] == 101
    assert "u" not in both and both[OTHER] == 5 + 1
    assert sum(both.values()) == sum(sum(p.values()) for p in parts)
    assert merged([{"-ERR x": 3}]) == {"-ERR x": 3} and merged([]) == {}
