"""A sync runs with the cyclic garbage collector mostly out of the way, and leaves nothing behind."""

from __future__ import annotations

import gc
import weakref
from collections import Counter
from collections.abc import Callable

import httpx

from hub.connector import WriteOp
from hub.engine import fewer_collections
from hub.http import HttpClient
from plugins.zendesk.connector import Zendesk, ZendeskSettings
from plugins.zendesk.fake import FakeZendesk


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


def _cyclic_garbage(run: Callable[[], object]) -> Counter[str]:
    """The types of the objects ``run`` leaves for the cyclic collector."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        return Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_a_response_and_its_body_are_freed_as_soon_as_they_are_dropped() -> None:
    # httpx's own read responses are cycles (response <-> its stream): a page waited for the collector
    client = HttpClient("https://api.vendor.test", connector="vendor", transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"results": [1] * 1000})))
    left = _cyclic_garbage(lambda: client.json(client.get("/page")))
    assert not {"Response", "BoundSyncStream"} & left.keys(), left


def test_zendesk_batches_leave_no_cycles_holding_their_ops() -> None:
    fake = FakeZendesk(token="zd-token")
    zd = Zendesk(ZendeskSettings(base_url=fake.base_url, email="a@example.com", api_token="zd-token", job_poll_interval=0.0), transport=fake.transport())
    batches = [[WriteOp(f"k{i}", None, {"name": f"Person {i}", "email": f"k{i}@example.com"}) for i in range(b * 100, b * 100 + 100)] for b in range(3)]
    left = _cyclic_garbage(lambda: list(zd.write_batches("users", batches)))
    assert not {"_Plan", "_Job", "WriteOp"} & left.keys(), left
