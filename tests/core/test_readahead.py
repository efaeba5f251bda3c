"""Read-ahead of connector pages: order, errors at the right item, and a clean stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from hub.readahead import read_ahead


def test_items_arrive_in_order_and_ahead_of_the_consumer() -> None:
    produced: list[int] = []

    def pages() -> Iterator[int]:
        for i in range(5):
            produced.append(i)
            yield i

    got = []
    for item in read_ahead(pages(), depth=2):
        time.sleep(0.02)  # the consumer is slower: the producer runs ahead, bounded by depth
        got.append(item)
        assert len(produced) - len(got) <= 3
    assert got == [0, 1, 2, 3, 4]


def test_an_error_is_raised_after_the_items_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("vendor answered 500")

    got = []
    with pytest.raises(RuntimeError, match="vendor answered 500"):
        for item in read_ahead(pages()):
            got.append(item)
    assert got == [1, 2]


def test_breaking_off_closes_the_source_and_stops_the_thread() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def pages() -> Iterator[int]:
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    before = threading.active_count()
    it = read_ahead(pages(), depth=2)
    for item in it:
        if item == 3:
            break
    it.close()  # what a for loop's end does to a generator it abandons
    assert closed.wait(2), "the page source was not closed"
    assert len(produced) < 10, "the producer kept reading after the consumer stopped"
    deadline = time.monotonic() + 2
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
