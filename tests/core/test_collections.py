"""A sync runs with the cyclic garbage collector mostly out of the way, and leaves nothing behind."""

from __future__ import annotations

import gc
import weakref

from hub.engine import fewer_collections


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_a_run_frees_its_own_cycles_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_freeze_count() > 0 and gc.get_threshold() != before
        dead = weakref.ref(_Node())
        alive = _Node()
    # garbage of the run is gone before the next run could freeze it with the living
    assert dead() is None
    assert alive.me is alive
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
