"""Identity resolution inside the engine: the match model, review queue, and an admin's
explain / merge / split decisions (sticky, audited, pushed to every tool by the next sync)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from sqlalchemy import func, select

from hub import decisions, processing, resolution
from hub.decisions import DecisionError
from hub.identity.features import extract
from hub.sandbox import demo_data
from hub.store.models import (
    AuditLog,
    Entity,
    IdentityBlock,
    IdentityDecision,
    IdentityFeatures,
    IdentityModel,
    IdentityReview,
    Link,
)

Hub = Any


def _people(h: Hub) -> int:
    with h.store.session() as s:
        return s.scalar(select(func.count()).select_from(Entity).where(Entity.type == "person", Entity.merged_into.is_(None))) or 0


def _twins(h: Hub) -> tuple[str, str]:
    """Two records of different people sharing a mobile (a family phone) and a name (同姓同名):
    the deterministic layer links them — the mistake an admin corrects with a split."""
    hs = h.hubspot.insert("contacts", {"firstname": "太郎", "lastname": "山田", "email": "taro@a.example.jp", "mobilephone": "090-1234-5678"})
    zd = h.zendesk.insert("users", {"name": "山田 太郎", "email": "taro.yamada@b.example.jp", "phone": "090-1234-5678"})
    return f"hubspot:{hs}", f"zendesk:{zd}"


def test_split_is_sticky_and_restores_both_people_in_every_tool(hub: Hub) -> None:
    h_ref, z_ref = _twins(hub)
    assert hub.sync().status == "ok"
    assert _people(hub) == 1
    with hub.engine.manual() as ctx:
        out = decisions.split(ctx, [z_ref], actor="alice", note="father and son")
    assert out["new_entity_id"] != out["entity_id"]
    assert _people(hub) == 2
    report = hub.sync()
    assert report.status == "ok", report.errors
    # each tool held only one of the two: it now holds both
    assert report.written["hubspot"]["created"] == 1 and report.written["zendesk"]["created"] == 1
    assert sorted(c["properties"]["email"] for c in hub.hubspot.records("contacts")) == ["taro.yamada@b.example.jp", "taro@a.example.jp"]
    assert sorted(u["email"] for u in hub.zendesk.records("users")) == ["taro.yamada@b.example.jp", "taro@a.example.jp"]
    # the shared mobile never joins them again, and nothing ping-pongs
    again = hub.sync()
    assert again.writes == 0 and again.entities_merged == 0
    assert _people(hub) == 2
    with hub.store.session() as s:
        assert s.scalar(select(IdentityDecision.kind)) == "cannot"
        audit = s.execute(select(AuditLog.actor, AuditLog.action).where(AuditLog.action == "split")).one()
        assert tuple(audit) == ("alice", "split")
    with hub.engine.manual() as ctx:
        why = decisions.explain(ctx, h_ref, z_ref)
    assert why["same_entity"] is False
    assert why["decisions"][0]["kind"] == "cannot" and why["decisions"][0]["note"] == "father and son"
    assert {"kind": "phone", "value": "+819012345678"} in why["shared_identifiers"]


def test_merge_undoes_a_split_and_is_audited(hub: Hub) -> None:
    h_ref, z_ref = _twins(hub)
    hub.sync()
    with hub.engine.manual() as ctx:
        decisions.split(ctx, [z_ref], actor="alice")
    hub.sync()
    assert _people(hub) == 2
    with hub.engine.manual() as ctx:
        out = decisions.merge(ctx, h_ref, z_ref, actor="bob")
    assert out["merged"]
    with hub.store.session() as s:
        kinds = s.scalars(select(IdentityDecision.kind)).all()
        assert "cannot" not in kinds and "must" in kinds
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "merge")) == "bob"
        manual = s.scalars(select(Link.manual)).all()
        assert any(manual)
    assert _people(hub) == 1


def test_decisions_name_what_is_wrong(hub: Hub) -> None:
    h_ref, z_ref = _twins(hub)
    hub.sync()
    with hub.engine.manual() as ctx:
        eid = decisions.find(ctx, h_ref).entity_id
        with pytest.raises(DecisionError, match="not a whole person"):
            decisions.split(ctx, [eid], actor="x")
        with pytest.raises(DecisionError, match="nothing known as 'hubspot:999'"):
            decisions.explain(ctx, "hubspot:999", z_ref)
        with pytest.raises(DecisionError, match="no record"):
            decisions.split(ctx, [h_ref, z_ref], actor="x")
        with pytest.raises(DecisionError, match="no review pair 42"):
            decisions.decide_review(ctx, 42, True, actor="x")


def test_a_record_that_loses_its_link_is_put_before_a_person_not_split(hub: Hub) -> None:
    hs = hub.hubspot.insert("contacts", {"firstname": "花子", "lastname": "佐藤", "email": "hanako@c.example.jp"})
    zd = hub.zendesk.insert("users", {"name": "佐藤 花子", "email": "hanako@c.example.jp"})
    hub.sync()
    assert _people(hub) == 1
    # the e-mail was a typo on someone else's record: the only evidence is gone
    hub.zendesk.advance_clock(5)  # Zendesk keeps whole seconds: the change must be visibly later
    hub.zendesk.update("users", zd, {"email": "hanako.kato@d.example.jp", "name": "加藤 花子"})
    report = hub.sync()
    assert report.identity_reviews == 1
    assert _people(hub) == 1  # nothing is split behind the admin's back
    # ... and nothing spreads either way while the question is open, however often it syncs
    for _ in range(2):
        assert hub.sync().writes == 0
    assert [c["properties"]["email"] for c in hub.hubspot.records("contacts")] == ["hanako@c.example.jp"]
    assert [u["email"] for u in hub.zendesk.records("users")] == ["hanako.kato@d.example.jp"]
    with hub.engine.manual() as ctx:
        [pair] = decisions.reviews(ctx)
    assert pair["kind"] == "unlink" and "email hanako@c.example.jp" in pair["evidence"]["guard"]
    assert f"zendesk:users:{zd}" in pair["question"]
    with hub.engine.manual() as ctx:
        out = decisions.decide_review(ctx, pair["id"], False, actor="dana")
    assert out["new_entity_id"]
    assert _people(hub) == 2
    hub.sync()
    assert sorted(u["email"] for u in hub.zendesk.records("users")) == ["hanako.kato@d.example.jp", "hanako@c.example.jp"]
    assert sorted(c["properties"]["email"] for c in hub.hubspot.records("contacts")) == ["hanako.kato@d.example.jp", "hanako@c.example.jp"]
    assert hub.sync().writes == 0
    assert hs


def test_accepting_an_unlink_question_lets_the_change_flow(hub: Hub) -> None:
    hub.hubspot.insert("contacts", {"firstname": "花子", "lastname": "佐藤", "email": "hanako@c.example.jp"})
    zd = hub.zendesk.insert("users", {"name": "佐藤 花子", "email": "hanako@c.example.jp"})
    hub.sync()
    hub.zendesk.advance_clock(5)  # Zendesk keeps whole seconds: the change must be visibly later
    hub.zendesk.update("users", zd, {"email": "hanako.kato@d.example.jp", "name": "加藤 花子"})  # married
    hub.sync()
    with hub.engine.manual() as ctx:
        [pair] = decisions.reviews(ctx)
        assert decisions.decide_review(ctx, pair["id"], True, actor="dana")["kept_together"]
    hub.sync()
    [contact] = hub.hubspot.records("contacts")
    assert contact["properties"]["lastname"] == "加藤" and contact["properties"]["email"] == "hanako.kato@d.example.jp"
    assert _people(hub) == 1
    assert hub.sync().writes == 0


def test_a_family_mailbox_links_no_one(hub: Hub) -> None:
    hub.hubspot.insert("contacts", {"firstname": "太郎", "lastname": "山田", "email": "yamada-ke@example.jp"})
    hub.zendesk.insert("users", {"name": "山田 花子", "email": "yamada-ke@example.jp"})
    report = hub.sync()
    assert _people(hub) == 2  # one e-mail, two names: a family's mailbox, not an identifier
    # neither tool can hold the other with the same address: said, not overwritten
    assert report.dead_letters == 2
    assert [u["name"] for u in hub.zendesk.records("users")] == ["山田 花子"]


def _demo_world(h: Hub, n: int = 300, seed: int = 0) -> demo_data.DemoData:
    data = demo_data.generate(n, seed=seed)
    demo_data.seed_fakes(data, h.hubspot, h.zendesk)
    return data


def test_first_sync_learns_the_model_and_links_what_identifiers_miss(hub: Hub) -> None:
    _demo_world(hub)
    # one person, two mailboxes, the office line in both tools: no identifier links them
    hs = hub.hubspot.insert("contacts", {
        "firstname": "慎之介", "lastname": "御手洗", "firstname_kana": "シンノスケ", "lastname_kana": "ミタライ",
        "email": "s.mitarai@kotobuki-kogyo.example.jp", "phone": "06-6123-4567", "company": "寿工業株式会社",
    })
    zd = hub.zendesk.insert("users", {
        "name": "御手洗 慎之介", "email": "shinnosuke.m@gmail.com", "phone": "０６－６１２３－４５６７",
        "user_fields": {"family_name_kana": "ミタライ", "given_name_kana": "シンノスケ"},
    })
    report = hub.sync()
    assert report.status == "ok", report.errors
    with hub.store.session() as s:
        model = s.execute(select(IdentityModel.n_records, IdentityModel.model)).one()
        assert model.n_records >= 300 and model.model["m"]
        assert s.scalar(select(func.count()).select_from(IdentityBlock)) > 1000
    with hub.engine.manual() as ctx:
        why = decisions.explain(ctx, f"hubspot:{hs}", f"zendesk:{zd}")
    assert why["same_entity"], why
    assert not why["shared_identifiers"]
    assert any(h["rule"] == "probabilistic" and h["probability"] >= 0.9 for h in why["history"])
    assert why["probabilistic"]["fields"]["phone"]["weight"] > 0
    # the queue holds only pairs the model was unsure of or a guard held back, with evidence
    with hub.engine.manual() as ctx:
        pending = decisions.reviews(ctx)
    assert all(0.5 <= r["probability"] < 0.9 or r["evidence"]["guard"] for r in pending)
    assert all(r["evidence"]["fields"] for r in pending)


def _mitarai(h: Hub, private: str = "shinnosuke.m@gmail.com") -> tuple[str, str]:
    """One person, two mailboxes, the office line in both tools: no identifier links them."""
    hs = h.hubspot.insert("contacts", {
        "firstname": "慎之介", "lastname": "御手洗", "firstname_kana": "シンノスケ", "lastname_kana": "ミタライ",
        "email": "s.mitarai@kotobuki-kogyo.example.jp", "phone": "06-6123-4567", "company": "寿工業株式会社",
    })
    zd = h.zendesk.insert("users", {
        "name": "御手洗 慎之介", "email": private, "phone": "０６－６１２３－４５６７",
        "user_fields": {"family_name_kana": "ミタライ", "given_name_kana": "シンノスケ"},
    })
    return f"hubspot:{hs}", f"zendesk:{zd}"


def test_a_store_larger_than_the_training_sample_is_learnt_on_a_sample_and_every_pair_scored(hub: Hub) -> None:
    hub.engine.workspace.config.identity.train_sample = 150
    _demo_world(hub)
    h_ref, z_ref = _mitarai(hub, "s.mitarai@gmail.com")
    report = hub.sync()
    assert report.status == "ok", report.errors
    with hub.store.session() as s:
        learnt_on = s.scalar(select(IdentityModel.n_records))
        stored = s.scalar(select(func.count()).select_from(IdentityFeatures))
    read = report.streams["hubspot/contacts"]["read"] + report.streams["zendesk/users"]["read"]
    assert 120 <= learnt_on <= 180 < read
    assert stored == read  # every record's features, sampled or not
    with hub.engine.manual() as ctx:
        why = decisions.explain(ctx, h_ref, z_ref)
    assert why["same_entity"], why
    assert any(h["rule"] == "probabilistic" and h["probability"] >= 0.9 for h in why["history"])
    sampled = resolution._sampler(read, 150)
    assert sampled is not None and not all(map(sampled, why["probabilistic"]["records"])), "decided by the sample's batch run"
    assert hub.sync().writes == 0


def test_a_training_cut_short_keeps_no_model_and_the_next_sync_trains_again(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.engine.workspace.config.identity.train_sample = 150
    _demo_world(hub)
    h_ref, z_ref = _mitarai(hub, "s.mitarai@gmail.com")
    applied = []
    apply = processing.Chunk.apply

    def dies_after_the_sample(self: processing.Chunk, pairs: list[Any]) -> None:
        applied.append(len(pairs))
        if len(applied) > 1:  # the sample's decisions are in; the rest of the store is not
            raise RuntimeError("killed")
        apply(self, pairs)

    monkeypatch.setattr(processing.Chunk, "apply", dies_after_the_sample)
    with pytest.raises(RuntimeError, match="killed"):
        hub.sync()
    with hub.store.session() as s:
        assert s.scalar(select(func.count()).select_from(IdentityModel)) == 0
    monkeypatch.undo()
    assert hub.sync().status == "ok"
    with hub.engine.manual() as ctx:
        assert decisions.explain(ctx, h_ref, z_ref)["same_entity"]
    with hub.store.session() as s:
        assert s.scalar(select(func.count()).select_from(IdentityModel)) == 1


def test_namesakes_at_other_companies_wait_for_review_instead_of_merging(hub: Hub) -> None:
    _demo_world(hub)
    # 同姓同名 at one address and one landline (a family business?), each with a mobile of their own
    a = hub.hubspot.insert("contacts", {
        "firstname": "美穂", "lastname": "藤田", "firstname_kana": "ミホ", "lastname_kana": "フジタ", "email": "miho.fujita@seiryu-hoken.example.jp",
        "phone": "092-259-2008", "mobilephone": "070-9590-1414", "zip": "812-0027", "state": "福岡県", "city": "福岡市博多区", "address": "下川端町1-1",
    })
    b = hub.hubspot.insert("contacts", {
        "firstname": "美穂", "lastname": "藤田", "firstname_kana": "ミホ", "lastname_kana": "フジタ", "email": "miho.fujita@musashino-denki.example.jp",
        "phone": "092-259-2008", "mobilephone": "080-4315-2830", "zip": "812-0027", "state": "福岡県", "city": "福岡市博多区", "address": "下川端町1-1",
    })
    hub.sync()
    with hub.engine.manual() as ctx:
        why = decisions.explain(ctx, f"hubspot:{a}", f"hubspot:{b}")
        pending = decisions.reviews(ctx)
    assert not why["same_entity"], why
    pair = [r for r in pending if {r["a"]["record"], r["b"]["record"]} == {f"hubspot:contacts:{a}", f"hubspot:contacts:{b}"}]
    assert pair and pair[0]["evidence"]["guard"] == "different mobile numbers"


def test_a_new_record_is_scored_against_the_store_incrementally(hub: Hub) -> None:
    _demo_world(hub)
    hub.sync()
    contact = next(c for c in hub.hubspot.records("contacts") if c["properties"].get("lastname_kana") and c["properties"].get("phone"))
    p = contact["properties"]
    # the same person reaches Zendesk from another mailbox, with the office line and kana only
    hub.zendesk.insert("users", {
        "name": f"{p['lastname']} {p['firstname']}", "email": "someone.else@example.net", "phone": p["phone"],
        "user_fields": {"family_name_kana": p["lastname_kana"], "given_name_kana": p.get("firstname_kana", "")},
    })
    before = _people(hub)
    report = hub.sync()
    assert report.status == "ok", report.errors
    with hub.engine.manual() as ctx:
        why = decisions.explain(ctx, f"hubspot:{contact['id']}", "someone.else@example.net")
    assert why["probabilistic"]["probability"] >= 0.5, why
    # linked at once, or waiting for review: never silently a stranger
    assert why["same_entity"] or why["reviews"], why
    assert _people(hub) in (before, before + 1)


def test_review_accept_and_reject(hub: Hub) -> None:
    _demo_world(hub, 500)
    hub.sync()
    with hub.engine.manual() as ctx:
        pending = decisions.reviews(ctx)
    assert len(pending) >= 2
    first, second = pending[0], pending[1]
    before = _people(hub)
    with hub.engine.manual() as ctx:
        decisions.decide_review(ctx, first["id"], True, actor="carol")
        decisions.decide_review(ctx, second["id"], False, actor="carol", note="different companies")
    assert _people(hub) == before - 1
    with hub.engine.manual() as ctx:
        left = {r["id"] for r in decisions.reviews(ctx)}
        with pytest.raises(DecisionError, match="already"):
            decisions.decide_review(ctx, second["id"], True, actor="carol")
    assert first["id"] not in left and second["id"] not in left
    with hub.store.session() as s:
        statuses = {i: st for i, st in s.execute(select(IdentityReview.id, IdentityReview.status).where(IdentityReview.id.in_([first["id"], second["id"]])))}
    assert statuses == {first["id"]: "accepted", second["id"]: "rejected"}
    # the rejected pair stays apart through later syncs
    hub.sync()
    with hub.engine.manual() as ctx:
        why = decisions.explain(ctx, second["a"]["record"], second["b"]["record"])
    assert not why["same_entity"] and why["decisions"][0]["kind"] == "cannot"


def test_stored_features_are_decoded_and_made_again_only_when_other_settings_made_them(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    _demo_world(hub)  # enough people for a model: records are keyed from then on
    hub.sync()
    home = resolution.resolver_config(hub.engine.workspace.config.identity, "JP")
    abroad = dataclasses.replace(home, default_region="US")
    made: list[str] = []
    monkeypatch.setattr(resolution, "extract", lambda rec, config: made.append(rec["record_id"]) or extract(rec, config))
    with hub.store.session() as s:
        rows = dict(itertools.islice(resolution.person_records(s), 30))
        stored = resolution.stored_features(s, rows, home)
        assert not made  # decoded: nothing normalised again
        again = resolution.stored_features(s, rows, abroad)
    assert sorted(made) == sorted(map(str, rows))  # the store's JP features are not used for US settings
    assert stored == {rid: extract(rec, home) for rid, rec in rows.items()}
    assert again == {rid: extract(rec, abroad) for rid, rec in rows.items()}


def test_scoring_with_the_usable_keys_counted_at_once_equals_scoring_key_by_key(hub: Hub) -> None:
    _demo_world(hub)
    hub.sync()
    config = resolution.resolver_config(hub.engine.workspace.config.identity, "JP")
    with hub.store.session() as s:
        model = resolution.load_model(s)
        rows = dict(itertools.islice(resolution.person_records(s), 300))
        feats = resolution.stored_features(s, rows, config)
        keys = {rid: resolution.block_keys(f) for rid, f in feats.items()}
        usable = resolution._usable_keys(s, config)
        counted = {k for (k,) in s.execute(select(IdentityBlock.key).group_by(IdentityBlock.key).having(func.count() > 1))}
        assert set(usable.tolist()) == {k for k in counted if s.scalar(select(func.count()).where(IdentityBlock.key == k)) <= resolution.block_cap(k, config)}
        one_by_one = resolution._score(s, model, config, feats, keys)
        at_once = resolution._score(s, model, config, feats, keys, usable_keys=usable)
    assert one_by_one and [(p.a, p.b, p.probability, p.link) for p in at_once] == [(p.a, p.b, p.probability, p.link) for p in one_by_one]
