"""The sync engine end to end against the sandbox fakes (SQLite, and PostgreSQL in CI)."""

from __future__ import annotations

from sqlalchemy import func, select

from hub import views
from hub.store.models import DeadLetter, Entity, Link

from typing import Any as Hub


def people(h: Hub) -> list[Entity]:
    with h.store.session() as s:
        return list(s.scalars(select(Entity).where(Entity.type == "person", Entity.merged_into.is_(None))))


def seed_basic(h: Hub) -> dict[str, str]:
    ids = {}
    ids["org_hs"] = h.hubspot.insert("companies", {"name": "株式会社さくら商事", "domain": "sakura-shoji.example.jp"})
    ids["both_hs"] = h.hubspot.insert(
        "contacts",
        {"firstname": "太郎", "lastname": "山田", "lastname_kana": "やまだ", "email": "Taro.Yamada@sakura-shoji.example.jp",
         "phone": "03-1234-5678", "lifecyclestage": "salesqualifiedlead", "associatedcompanyid": ids["org_hs"]},
    )
    ids["hs_only"] = h.hubspot.insert("contacts", {"firstname": "John", "lastname": "Smith", "email": "john@acme.example.com", "lifecyclestage": "lead"})
    ids["both_zd"] = h.zendesk.insert("users", {"name": "山田 太郎", "email": "taro.yamada@sakura-shoji.example.jp ".strip(), "phone": "+81 3 1234 5678"})
    ids["zd_only"] = h.zendesk.insert("users", {"name": "佐藤 花子", "email": "hanako@example.jp", "phone": "０９０－１１１１－２２２２"})
    ids["ticket"] = h.zendesk.insert(
        "tickets", {"subject": "請求書の再発行について", "description": "…", "requester_id": int(ids["both_zd"]), "status": "open", "priority": "high", "via": {"channel": "email"}}
    )
    return ids


def test_two_tools_become_one_set_of_people(hub: Hub) -> None:
    ids = seed_basic(hub)
    report = hub.sync()
    assert report.status == "ok", report.errors
    assert report.read["hubspot"] == 3 and report.read["zendesk"] == 3
    assert len(people(hub)) == 3
    assert report.written["hubspot"]["created"] == 1  # 佐藤 花子 into HubSpot
    assert report.written["zendesk"]["created"] >= 2  # John Smith and the company into Zendesk
    hs = {r["properties"].get("email"): r for r in hub.hubspot.records("contacts")}
    assert "hanako@example.jp" in hs and hs["hanako@example.jp"]["properties"]["mobilephone"] == "+819011112222"
    zd = {u["email"]: u for u in hub.zendesk.records("users")}
    assert zd["john@acme.example.com"]["name"] == "John Smith"
    # the merged person's 360° view: both records, the ticket, provenance
    eid = views.find_entity(hub.store, "taro.yamada@sakura-shoji.example.jp")
    view = views.person(hub.store, eid)  # type: ignore[arg-type]
    assert {s["connector"] for s in view["sources"]} == {"hubspot", "zendesk"}
    assert view["golden"]["family_name_kana"] == "ヤマダ"
    assert view["tickets"][0]["subject"] == "請求書の再発行について" and view["tickets"][0]["status"] == "open"
    assert view["organization"]["name"] == "株式会社さくら商事"
    assert view["provenance"]["family_name"]["source"].startswith(("hubspot", "zendesk"))
    # the Zendesk copy of the company exists and the user was associated with it
    zorgs = {o["name"]: o for o in hub.zendesk.records("organizations")}
    assert "株式会社さくら商事" in zorgs
    assert ids


def test_second_sync_writes_nothing(hub: Hub) -> None:
    seed_basic(hub)
    first = hub.sync()
    assert first.writes > 0
    second = hub.sync()
    assert second.writes == 0, [vars(p) for p in hub.sync(plan=True).plan]
    third = hub.sync()
    assert third.writes == 0 and third.read.get("hubspot", 0) == 0


def test_a_change_in_one_tool_reaches_the_other(hub: Hub) -> None:
    ids = seed_basic(hub)
    hub.sync()
    hub.sync()
    hub.zendesk.advance_clock(5)
    hub.zendesk.update("users", ids["both_zd"], {"phone": "080-9999-0000"})
    report = hub.sync()
    assert report.written["hubspot"]["updated"] == 1
    contact = next(r for r in hub.hubspot.records("contacts") if r["id"] == ids["both_hs"])
    assert contact["properties"]["mobilephone"] == "+818099990000"
    assert hub.sync().writes == 0


def test_newest_change_wins_and_echo_does_not_override(hub: Hub) -> None:
    ids = seed_basic(hub)
    hub.sync()
    hub.sync()
    # Zendesk changes the name first, HubSpot later: HubSpot's newer value wins in both tools
    hub.zendesk.update("users", ids["both_zd"], {"name": "山田 次郎"})
    hub.hubspot.advance_clock(10)
    hub.hubspot.update("contacts", ids["both_hs"], {"firstname": "三郎"})
    hub.sync()
    zd = next(u for u in hub.zendesk.records("users") if str(u["id"]) == ids["both_zd"])
    hs = next(r for r in hub.hubspot.records("contacts") if r["id"] == ids["both_hs"])
    assert hs["properties"]["firstname"] == "三郎"
    assert zd["name"] == "山田 三郎"
    assert hub.sync().writes == 0


def test_plan_writes_nothing_anywhere(hub: Hub) -> None:
    seed_basic(hub)
    before_hs, before_zd = hub.hubspot.records("contacts"), hub.zendesk.records("users")
    report = hub.sync(plan=True)
    actions = {(op.connector, op.action) for op in report.plan}
    assert ("hubspot", "create") in actions and ("zendesk", "create") in actions
    create = next(op for op in report.plan if op.connector == "hubspot" and op.action == "create")
    assert create.changes["email"] == [None, "hanako@example.jp"]
    assert hub.hubspot.records("contacts") == before_hs and hub.zendesk.records("users") == before_zd
    writes = [r for r in hub.hubspot.requests + hub.zendesk.requests if "batch" in r[1] or "many" in r[1]]
    assert writes == []
    with hub.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Entity)) == 0
    assert views.runs(hub.store) == []


def test_bad_records_go_to_the_dead_letter_store_and_the_run_goes_on(hub: Hub) -> None:
    seed_basic(hub)
    bad = hub.zendesk.insert("users", {"name": "Bad Phone", "email": "bad.phone@example.com", "phone": "call me maybe"})
    report = hub.sync()
    assert report.status == "dead_letters" and report.exit_code == 1
    with hub.store.session() as s:
        letters = list(s.scalars(select(DeadLetter)))
    assert len(letters) == 1
    d = letters[0]
    assert (d.connector, d.stream, d.source_id, d.field, d.stage) == ("zendesk", "users", bad, "phone", "map")
    assert "not a phone number" in d.reason
    assert len(people(hub)) == 3  # everyone else made it
    # fixed at the source, the record flows on the next sync
    hub.zendesk.update("users", bad, {"phone": "090-5555-6666"})
    assert hub.sync().status == "ok" and len(people(hub)) == 4


def test_vendor_rejection_is_dead_lettered_per_record(hub: Hub) -> None:
    # the portal has no kana property: HubSpot rejects the records that carry a reading
    hub.hubspot.remove_property("contacts", "lastname_kana")
    hub.zendesk.insert("users", {"name": "山田 太郎", "email": "taro@example.jp", "user_fields": {"family_name_kana": "ヤマダ"}})
    for i in range(5):
        hub.zendesk.insert("users", {"name": f"User {i}", "email": f"user{i}@example.com"})
    report = hub.sync()
    assert report.written["hubspot"]["created"] == 5
    assert report.written["hubspot"]["failed"] == 1
    with hub.store.session() as s:
        (d,) = s.scalars(select(DeadLetter)).all()
    assert (d.connector, d.stream, d.stage, d.field) == ("hubspot", "contacts", "write", "lastname_kana")
    assert d.payload["fields"]["email"] == "taro@example.jp"
    # the admin adds the property; retrying the dead letter writes the record
    hub.hubspot.add_property("contacts", "lastname_kana", "Last name (kana)")
    assert views.retry_dead_letters(hub.store, [d.id]) == 1
    report = hub.sync(pull=False)
    assert report.written["hubspot"]["created"] == 1 and report.dead_letters == 0


def test_shared_landline_does_not_merge_but_mobile_bridges_two_emails(hub: Hub) -> None:
    hub.hubspot.insert("contacts", {"firstname": "一郎", "lastname": "田中", "email": "ichiro@corp.example.jp", "phone": "03-5555-0000"})
    hub.hubspot.insert("contacts", {"firstname": "二郎", "lastname": "鈴木", "email": "jiro@corp.example.jp", "phone": "03-5555-0000"})
    hub.hubspot.insert("contacts", {"firstname": "花子", "lastname": "佐藤", "email": "hanako@corp.example.jp", "mobilephone": "090-1234-5678"})
    hub.zendesk.insert("users", {"name": "佐藤 花子", "email": "hanako.private@mail.example.com", "phone": "+81 90 1234 5678"})
    report = hub.sync()
    assert report.entities_created + report.entities_merged >= 3
    assert len(people(hub)) == 3
    eid = views.find_entity(hub.store, "hanako.private@mail.example.com")
    view = views.person(hub.store, eid)  # type: ignore[arg-type]
    emails = {e["address"] for e in view["golden"]["emails"]}
    assert emails == {"hanako@corp.example.jp", "hanako.private@mail.example.com"}


def test_create_filter_and_read_only_rules(hub: Hub) -> None:
    from hub.templates import SANDBOX

    hub.reconfigure(
        SANDBOX.replace(
            "    rules:\n      person: {direction: both}\n      organization: {direction: both}\n    delete_policy: ignore\n  zendesk",
            "    rules:\n      person:\n        direction: both\n        create_when: [{field: lifecycle_stage.stage, at_least: sql}]\n"
            "      organization: {direction: read_only}\n    delete_policy: ignore\n  zendesk",
        )
    )
    hub.zendesk.insert("organizations", {"name": "Acme Corp.", "domain_names": ["acme.example.com"]})
    hub.zendesk.insert("users", {"name": "Lead Only", "email": "lead@acme.example.com", "user_fields": {"lifecycle": "lead"}})
    hub.zendesk.insert("users", {"name": "Big Customer", "email": "cust@acme.example.com", "user_fields": {"lifecycle": "customer"}})
    hub.sync()
    emails = {r["properties"].get("email") for r in hub.hubspot.records("contacts")}
    assert emails == {"cust@acme.example.com"}
    assert hub.hubspot.records("companies") == []


def test_tombstones_follow_the_delete_policy_and_the_brake(hub: Hub) -> None:
    from hub.templates import SANDBOX

    for i in range(12):
        hub.hubspot.insert("contacts", {"firstname": f"P{i}", "lastname": "Test", "email": f"p{i}@example.com"})
    hub.sync()
    assert len(hub.zendesk.records("users")) == 12
    hub.reconfigure(SANDBOX.replace("ticket: {direction: read_only}\n    delete_policy: ignore", "ticket: {direction: read_only}\n    delete_policy: archive"))
    target = hub.hubspot.find("contacts", "email", "p0@example.com")["id"]
    hub.hubspot.advance_clock(2)
    hub.hubspot.archive("contacts", target)
    report = hub.sync()
    assert report.written["zendesk"]["deleted"] == 1
    live = [u for u in hub.zendesk.records("users") if u.get("active", True)]
    assert len(live) == 11
    # now a mass deletion: the brake stops the run before anything is deleted
    hub.hubspot.advance_clock(2)
    for i in range(1, 12):
        hub.hubspot.archive("contacts", hub.hubspot.find("contacts", "email", f"p{i}@example.com")["id"])
    report = hub.sync()
    assert report.status == "failed" and "mass-delete brake" in report.errors[0]
    assert len([u for u in hub.zendesk.records("users") if u.get("active", True)]) == 11
    report = hub.sync(allow_mass_delete=True)
    assert report.written["zendesk"]["deleted"] == 11


def test_links_are_stable_across_runs(hub: Hub) -> None:
    seed_basic(hub)
    hub.sync()
    with hub.store.session() as s:
        before = dict(s.execute(select(Link.source_record_id, Link.entity_id)).all())
    hub.sync(full=True)
    with hub.store.session() as s:
        after = dict(s.execute(select(Link.source_record_id, Link.entity_id)).all())
    assert before.items() <= after.items()
