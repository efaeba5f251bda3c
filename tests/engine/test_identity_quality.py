"""How well a sync resolves people, scored against the demo world's ground truth.

The demo world spreads ~500 people over HubSpot and Zendesk with the traps of real data:
namesakes (同姓同名) at other companies, colleagues behind one main line, the same person under
two e-mails bridged only by a phone written differently in each tool, US numbers without +1 in a
Japanese workspace, full-width digits, kana readings. Pairwise precision must be perfect (a wrong
merge sends one customer's data to another); recall must stay high.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import select

from hub.sandbox import demo_data
from hub.store.models import Entity, Link, SourceRecord

Hub = Any


def _final(s: Any, eid: str) -> str:
    while (merged := s.scalar(select(Entity.merged_into).where(Entity.id == eid))) is not None:
        eid = merged
    return eid


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demo_world_people_resolve_without_a_wrong_merge(hub: Hub, seed: int) -> None:
    data = demo_data.generate(500, seed=seed)
    ids = demo_data.seed_fakes(data, hub.hubspot, hub.zendesk)
    assert hub.sync().status == "ok"
    truth = {(tool, str(vid)): key for tool, m in ids.items() for key, vid in m.items() if key in data.truth}
    with hub.store.session() as s:
        q = (
            select(SourceRecord.connector, SourceRecord.source_id, Link.entity_id)
            .join(Link, Link.source_record_id == SourceRecord.id)
            .where(SourceRecord.stream.in_(("contacts", "users")))
        )
        entity = {(c, sid): _final(s, e) for c, sid, e in s.execute(q) if (c, sid) in truth}
    assert len(entity) == len(truth)
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(entity), 2):
        same_person, same_entity = truth[a] == truth[b], entity[a] == entity[b]
        tp += same_person and same_entity
        fp += same_entity and not same_person
        fn += same_person and not same_entity
    assert fp == 0, f"{fp} wrong merges"
    assert tp / (tp + fn) >= 0.98, {"tp": tp, "fn": fn}
    for a_key, b_key in data.traps["same_name"] + data.traps["shared_main_phone"]:
        a_rec = next(r for r, k in truth.items() if k == a_key)
        b_rec = next(r for r, k in truth.items() if k == b_key)
        assert entity[a_rec] != entity[b_rec], (a_key, b_key)
