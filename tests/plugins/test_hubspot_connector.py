"""The HubSpot connector against its stateful fake: reads, resumable states, writes, failures."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.sandbox.serve import serve_in_thread
import yaml

import hub.http
from hub.connector import Page, Record, WriteOp
from hub.errors import AuthError, ConfigError, MissingSecretError, RetriableError, VendorError
from hub.sandbox import Fault
from hub.sandbox.fake import sandbox_settings
from plugins.hubspot.connector import ASSOCIATIONS, PROPERTIES, HubSpot
from plugins.hubspot.fake import FakeHubSpot, iso

TOKEN = "pat-na1-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


class Recorder(httpx.BaseTransport):
    """Passes requests to the fake and keeps them, to look at what the connector sent."""

    def __init__(self, fake: FakeHubSpot) -> None:
        self.inner = fake.transport()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.inner.handle_request(request)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait of the HTTP layer, recorded instead of slept (the retry policy is untouched)."""
    recorded: list[float] = []
    monkeypatch.setattr(hub.http, "sleep", recorded.append)
    return recorded


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot(token=TOKEN)


def connect(fake: FakeHubSpot, transport: httpx.BaseTransport | None = None, **settings: Any) -> HubSpot:
    config = HubSpot.Settings(**{**sandbox_settings(fake), **settings})
    return HubSpot(config, transport=transport or fake.transport())


def live(pages: list[Page]) -> list[Record]:
    return [r for p in pages for r in p.records if not r.deleted]


def tombstones(pages: list[Page]) -> list[Record]:
    return [r for p in pages for r in p.records if r.deleted]


def seed(fake: FakeHubSpot, n: int, at: datetime = BASE, stream: str = "contacts", step: float = 1.0) -> list[str]:
    ids = []
    for i in range(n):
        n = len(fake.records(stream))
        fields = {"email": f"user{n}@example.com"} if stream == "contacts" else {"name": f"Co {n}"}
        ids.append(fake.insert(stream, fields, at=at + timedelta(seconds=i * step)))
    return ids


def upsert(key: str, **fields: Any) -> WriteOp:
    return WriteOp(key=key, target_id=None, fields=fields)


def calls(fake: FakeHubSpot, suffix: str) -> list[Any]:
    return [body for method, path, body in fake.bodies if method == "POST" and path.endswith(suffix)]


# -- settings, plugin, mapping ---------------------------------------------------------------
def test_missing_token_names_the_key_and_env_var(fake: FakeHubSpot) -> None:
    with pytest.raises(MissingSecretError) as caught:
        HubSpot(HubSpot.Settings(), transport=fake.transport())
    assert "HUB_CONNECTORS__HUBSPOT__SETTINGS__ACCESS_TOKEN" in str(caught.value)
    assert "connectors.hubspot.settings.access_token" in str(caught.value)


def test_class_attributes_follow_hubspots_contract() -> None:
    assert HubSpot.name == "hubspot" and HubSpot.kind == "crm"
    limit = HubSpot.rate_limit
    assert limit is not None and (limit.requests, limit.per_seconds) == (100, 10.0)
    contacts, companies = HubSpot.stream("contacts"), HubSpot.stream("companies")
    assert (contacts.cursor_field, companies.cursor_field) == ("lastmodifieddate", "hs_lastmodifieddate")
    assert contacts.batch_size == companies.batch_size == 100
    settings = HubSpot.Settings(access_token="x")
    assert settings.base_url == "https://api.hubapi.com"
    assert (settings.id_property, settings.page_size) == ("seamless_hub_id", 100)
    with pytest.raises(ValueError):
        HubSpot.Settings(access_token="x", page_size=101)
    with pytest.raises(ConfigError):
        HubSpot.stream("deals")


def test_plugin_registers_connector_and_sandbox() -> None:
    from hub import plugins

    loaded = plugins.load()
    assert loaded.connectors["hubspot"] is HubSpot
    assert loaded.sandboxes["hubspot"] is FakeHubSpot
    assert not [e for e in loaded.errors if e.plugin == "hubspot"]


def test_mapping_reads_only_properties_the_connector_asks_for_and_the_fake_knows() -> None:
    raw = yaml.safe_load((REPO / "mappings" / "hubspot.yaml").read_text(encoding="utf-8"))
    assert raw["connector"] == "hubspot"
    streams = ("contacts", "companies", "notes")
    known = {s: {p["name"] for p in FakeHubSpot().state["properties"][s]} for s in streams}
    for stream, spec in raw["streams"].items():
        for field in spec["fields"]:
            if stream in ASSOCIATIONS and field["field"] == ASSOCIATIONS[stream].field:
                continue  # a synthetic field the connector fills from associations
            # the id property is requested from settings.id_property, not PROPERTIES
            assert field["field"] in PROPERTIES[stream] or field["field"] == "seamless_hub_id", (stream, field["field"])
            assert field["field"] in known[stream], (stream, field["field"])
    mapping = pytest.importorskip("hub.mapping")
    transforms = pytest.importorskip("hub.transforms")
    loaded, issues = mapping.load_mapping_file(
        REPO / "mappings" / "hubspot.yaml", {t.name: t for t in transforms.BUILTINS}, streams=list(streams)
    )
    assert loaded is not None and issues == []
    person = loaded.to_canonical("contacts", {"lifecyclestage": "evangelist", "hs_email_optout": "true",
                                              "associatedcompanyid": "12"}, connector="hubspot")
    assert person["lifecycle_stage"] == {"stage": "promoter", "vendor_value": "evangelist"}
    assert person["consents"]["email"]["status"] == "opted_out"


# -- full read -------------------------------------------------------------------------------
def test_full_read_pages_through_everything_and_ends_with_an_incremental_state(fake: FakeHubSpot) -> None:
    ids = seed(fake, 250)
    recorder = Recorder(fake)
    before = datetime.now(UTC)
    pages = list(connect(fake, recorder).read("contacts", None))
    assert [len(p.records) for p in pages] == [100, 100, 50]
    assert [r.id for r in live(pages)] == ids
    assert [p.state["phase"] for p in pages[:-1]] == ["full", "full"]
    final = pages[-1].state
    assert final["seen"] == [] and set(final) == {"since", "seen"}
    # The next incremental read starts a minute before the scan did.
    since = datetime.fromisoformat(final["since"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=61) <= since <= before - timedelta(seconds=59)
    first = recorder.sent[0].url.params
    assert first["limit"] == "100" and first["archived"] == "false"
    asked = first["properties"].split(",")
    assert {"associatedcompanyid", "lastmodifieddate", "firstname_kana", "seamless_hub_id"} <= set(asked)
    assert recorder.sent[1].url.params["after"] == pages[0].state["after"]
    record = pages[0].records[0]
    assert record.updated_at == BASE and record.updated_at.tzinfo is not None
    assert record.data["email"] == "user0@example.com"
    assert record.data["phone"] is None  # asked for, empty: None, not missing
    assert record.deleted is False


def test_full_read_resumes_from_any_page_state(fake: FakeHubSpot) -> None:
    ids = seed(fake, 250)
    conn = connect(fake)
    pages = list(conn.read("contacts", None))
    for i, page in enumerate(pages[:-1]):
        resumed = list(conn.read("contacts", page.state))
        before = [r.id for p in pages[: i + 1] for r in p.records]
        assert before + [r.id for r in live(resumed)] == ids
        assert resumed[-1].state == pages[-1].state  # same "started", so the same next since


def test_empty_portal_yields_one_page_with_the_state(fake: FakeHubSpot) -> None:
    pages = list(connect(fake).read("companies", None))
    assert len(pages) == 1 and pages[0].records == [] and "since" in pages[0].state


# -- incremental read ------------------------------------------------------------------------
def test_incremental_returns_only_changes_and_tombstones(fake: FakeHubSpot) -> None:
    ids = seed(fake, 20)
    fake.archive("contacts", ids[19], at=BASE + timedelta(hours=1))  # before the full read: no tombstone
    recorder = Recorder(fake)
    conn = connect(fake, recorder)
    state = list(conn.read("contacts", None))[-1].state
    fake.update("contacts", ids[3], {"firstname": "Changed"})
    fake.update("contacts", ids[7], {"jobtitle": "CTO"})
    fake.archive("contacts", ids[11])
    recorder.sent.clear()
    pages = list(conn.read("contacts", state))
    changed = live(pages)
    assert [r.id for r in changed] == [ids[3], ids[7]]
    assert changed[0].data["firstname"] == "Changed"
    assert changed[1].updated_at >= changed[0].updated_at  # oldest first
    dead = tombstones(pages)
    assert [r.id for r in dead] == [ids[11]]
    archived_at = fake.record("contacts", ids[11])["archivedAt"]
    assert dead[0].updated_at == datetime.fromisoformat(archived_at.replace("Z", "+00:00"))
    # The search asked for changes since the saved state, oldest first.
    search = next(r for r in recorder.sent if r.url.path.endswith("/search"))
    body = httpx.Response(200, content=search.content).json()
    since_ms = int(datetime.fromisoformat(state["since"].replace("Z", "+00:00")).timestamp() * 1000)
    assert body["filterGroups"] == [{"filters": [
        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since_ms)}]}]
    assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert body["limit"] <= 200
    # Tombstones come from the archived list.
    assert any(r.url.params.get("archived") == "true" for r in recorder.sent)
    # Nothing changed since: nothing comes back, tombstones included.
    again = list(conn.read("contacts", pages[-1].state))
    assert live(again) == [] and tombstones(again) == []


def test_companies_read_incrementally_on_hs_lastmodifieddate(fake: FakeHubSpot) -> None:
    ids = seed(fake, 3, stream="companies")
    conn = connect(fake)
    state = list(conn.read("companies", None))[-1].state
    fake.update("companies", ids[1], {"name": "Renamed KK"})
    changed = live(list(conn.read("companies", state)))
    assert [(r.id, r.data["name"]) for r in changed] == [(ids[1], "Renamed KK")]
    assert "hs_lastmodifieddate" in changed[0].data


def test_many_records_sharing_a_timestamp_no_gap_no_duplicate_from_any_page(fake: FakeHubSpot) -> None:
    seed(fake, 3, at=BASE - timedelta(hours=1))  # older than the state: never read
    t1, t2, t3 = (BASE + timedelta(seconds=s) for s in (1, 2, 3))
    expected = seed(fake, 25, at=t1, step=0) + seed(fake, 7, at=t2, step=0) + seed(fake, 5, at=t3, step=0)
    conn = connect(fake, search_page_size=10)
    start = {"since": iso(BASE), "seen": []}
    pages = list(conn.read("contacts", start))
    emitted = [r.id for r in live(pages)]
    assert sorted(emitted) == sorted(expected) and len(emitted) == len(set(emitted))
    assert pages[-1].state["since"] == iso(t3) and len(pages[-1].state["seen"]) == 5
    for i, page in enumerate(pages):
        before = [r.id for p in pages[: i + 1] for r in p.records if not r.deleted]
        after = [r.id for r in live(list(conn.read("contacts", page.state)))]
        assert not set(before) & set(after), f"duplicate after resuming from page {i}"
        assert sorted(before + after) == sorted(expected), f"gap after resuming from page {i}"


def test_search_never_pages_into_the_result_cap(fake: FakeHubSpot) -> None:
    capped = FakeHubSpot(token=TOKEN, search_cap=30)
    expected = []
    for i in range(50):  # 100 records, two per timestamp
        expected += seed(capped, 2, at=BASE + timedelta(seconds=i + 1), step=0)
    expected += seed(capped, 30, at=BASE + timedelta(minutes=5), step=0)  # exactly the cap at one instant
    expected += seed(capped, 4, at=BASE + timedelta(minutes=6))
    conn = connect(capped, search_page_size=10, search_result_cap=30)
    emitted = [r.id for r in live(list(conn.read("contacts", {"since": iso(BASE), "seen": []})))]
    assert sorted(emitted) == sorted(expected) and len(emitted) == len(set(emitted))
    assert not [r for r in capped.requests if r[2] == 400]
    searches = calls(capped, "/search")
    assert all(int(b["after"]) < 30 for b in searches)
    # The 30 records at one instant filled the cap: counted (EQ), then passed (GT).
    operators = [b["filterGroups"][0]["filters"][0]["operator"] for b in searches]
    assert "EQ" in operators and "GT" in operators


def test_more_records_at_one_timestamp_than_the_cap_is_a_clear_error() -> None:
    capped = FakeHubSpot(token=TOKEN, search_cap=30)
    seed(capped, 35, at=BASE + timedelta(seconds=1), step=0)
    conn = connect(capped, search_page_size=10, search_result_cap=30)
    with pytest.raises(VendorError) as caught:
        list(conn.read("contacts", {"since": iso(BASE), "seen": []}))
    message = str(caught.value)
    assert message.startswith("[hubspot/contacts]")
    assert "35 contacts share lastmodifieddate" in message and "full read" in message


def test_records_changed_while_reading_are_not_lost(fake: FakeHubSpot) -> None:
    """Offsets shift when a record read earlier changes mid-read; re-anchoring avoids the gap."""
    ids = seed(fake, 30)
    conn = connect(fake, search_page_size=10)
    reader = conn.read("contacts", {"since": iso(BASE - timedelta(seconds=1)), "seen": []})
    first = next(reader)
    fake.update("contacts", first.records[0].id, {"firstname": "Moved to the end"})
    rest = list(reader)
    emitted = [r.id for r in first.records + live(rest)]
    assert set(emitted) == set(ids)
    assert emitted.count(first.records[0].id) == 2  # read again, after its change


# -- writes ----------------------------------------------------------------------------------
def test_upsert_creates_then_updates_the_same_records(fake: FakeHubSpot) -> None:
    conn = connect(fake)
    created = conn.write("contacts", [upsert("ent-1", email="a@example.com", firstname="A"),
                                      upsert("ent-2", email="b@example.com", lastname="Bee")])
    assert [r.status for r in created] == ["created", "created"]
    assert all(r.target_id for r in created)
    stored = fake.record("contacts", created[0].target_id)
    assert stored["properties"]["seamless_hub_id"] == "ent-1"
    assert stored["properties"]["firstname"] == "A"
    again = conn.write("contacts", [upsert("ent-1", firstname="Aki"), upsert("ent-2", jobtitle="CEO")])
    assert [(r.status, r.target_id) for r in again] == [("updated", r.target_id) for r in created]
    by_id = conn.write("contacts", [WriteOp("ent-1", created[0].target_id, {"department": "R&D", "phone": None})])
    assert (by_id[0].status, by_id[0].target_id) == ("updated", created[0].target_id)
    props = fake.record("contacts", created[0].target_id)["properties"]
    assert (props["firstname"], props["department"]) == ("Aki", "R&D")
    assert len(fake.records("contacts")) == 2
    company = conn.write("companies", [upsert("org-1", name="Example KK", numberofemployees=120)])
    assert company[0].status == "created"
    assert fake.record("companies", company[0].target_id)["properties"]["numberofemployees"] == "120"


def test_rewriting_the_same_batch_creates_no_duplicate(fake: FakeHubSpot) -> None:
    conn = connect(fake)
    batch = [upsert(f"ent-{i}", email=f"p{i}@example.com") for i in range(5)]
    first = conn.write("contacts", batch)
    second = conn.write("contacts", batch)
    assert [r.status for r in first] == ["created"] * 5
    assert [r.status for r in second] == ["updated"] * 5
    assert [r.target_id for r in first] == [r.target_id for r in second]
    assert len(fake.records("contacts")) == 5


def test_batches_never_exceed_100_inputs(fake: FakeHubSpot) -> None:
    existing = seed(fake, 150)
    conn = connect(fake)
    ops = [upsert(f"new-{i}", email=f"new{i}@example.com") for i in range(250)]
    ops += [WriteOp(f"old-{i}", rid, {"jobtitle": "x"}) for i, rid in enumerate(existing)]
    ops += [WriteOp(f"old-{i}", rid, {}, "archive") for i, rid in enumerate(existing[:120])]
    results = conn.write("contacts", ops)
    assert len(results) == len(ops)
    assert [r.status for r in results] == ["created"] * 250 + ["updated"] * 150 + ["deleted"] * 120
    assert [r.key for r in results] == [op.key for op in ops]  # one result per op, in order
    for suffix, count in (("/batch/upsert", 3), ("/batch/update", 2), ("/batch/archive", 2)):
        bodies = calls(fake, suffix)
        assert len(bodies) == count
        assert all(len(b["inputs"]) <= 100 for b in bodies)


def test_reads_and_writes_make_the_fewest_requests_hubspot_allows(fake: FakeHubSpot) -> None:
    n = 1_050
    ids = [fake.insert("contacts", {"email": f"bulk{i}@example.com"}, at=BASE + timedelta(milliseconds=i))
           for i in range(n)]
    for rid in ids[:150]:
        fake.archive("contacts", rid, at=BASE + timedelta(hours=1))
    conn = connect(fake)

    def served(run: Any) -> tuple[Any, dict[str, int]]:
        mark = len(fake.requests)
        out = run()
        counts: dict[str, int] = {}
        for method, path, status in fake.requests[mark:]:
            assert status < 400, (method, path, status)
            key = f"{method} {path.removeprefix('/crm/v3/objects/contacts') or '/'}"
            counts[key] = counts.get(key, 0) + 1
        return out, counts

    # Full read: one list call per 100 live records, nothing else.
    pages, counts = served(lambda: list(conn.read("contacts", None)))
    assert len(live(pages)) == n - 150
    assert counts == {"GET /": -(-(n - 150) // 100)}
    # Incremental read with no change: one search, then the archived scan (100 a page).
    again, counts = served(lambda: list(conn.read("contacts", pages[-1].state)))
    assert counts == {"POST /search": 1, "GET /": 2}
    # Writes: one batch call per 100 operations of a kind, nothing else.
    results, counts = served(lambda: conn.write("contacts", [upsert(f"w-{i}", email=f"w{i}@example.com")
                                                              for i in range(n)]))
    assert {r.status for r in results} == {"created"} and counts == {"POST /batch/upsert": 11}
    updates = [WriteOp(f"w-{i}", r.target_id, {"jobtitle": "CTO"}) for i, r in enumerate(results)]
    results, counts = served(lambda: conn.write("contacts", updates))
    assert {r.status for r in results} == {"updated"} and counts == {"POST /batch/update": 11}


def test_the_same_key_twice_in_one_batch_goes_in_separate_calls(fake: FakeHubSpot) -> None:
    results = connect(fake).write("contacts", [upsert("ent-1", firstname="One"), upsert("ent-1", firstname="Two")])
    assert [r.status for r in results] == ["created", "updated"]
    assert fake.find("contacts", "seamless_hub_id", "ent-1")["properties"]["firstname"] == "Two"
    assert not [r for r in fake.requests if r[2] >= 400]


def test_one_invalid_email_fails_only_that_record(fake: FakeHubSpot) -> None:
    ops = [upsert(f"ent-{i}", email=f"ok{i}@example.com") for i in range(10)]
    ops[6] = upsert("ent-6", email="not-an-email")
    results = connect(fake).write("contacts", ops)
    assert [r.status for r in results] == ["created"] * 6 + ["failed"] + ["created"] * 3
    failed = results[6]
    assert failed.field == "email"
    assert "INVALID_EMAIL" in (failed.error or "") and "not-an-email is invalid" in (failed.error or "")
    assert len(fake.records("contacts")) == 9
    assert len(calls(fake, "/batch/upsert")) <= 9  # bisection, not one call per record


def test_an_email_owned_by_another_contact_fails_only_that_record(fake: FakeHubSpot) -> None:
    owner = fake.insert("contacts", {"email": "taken@example.com"})
    ops = [upsert("ent-1", email="a@example.com"), upsert("ent-2", email="taken@example.com"),
           upsert("ent-3", email="c@example.com"), upsert("ent-4", email="d@example.com")]
    results = connect(fake).write("contacts", ops)
    assert [r.status for r in results] == ["created", "failed", "created", "created"]
    assert results[1].error == f"Contact already exists. Existing ID: {owner}"


def test_unknown_property_names_the_field(fake: FakeHubSpot) -> None:
    results = connect(fake).write("companies", [upsert("org-1", name="Ok KK"), upsert("org-2", favourite="x")])
    assert [r.status for r in results] == ["created", "failed"]
    assert results[1].field == "favourite" and "PROPERTY_DOESNT_EXIST" in (results[1].error or "")


def test_update_of_a_record_gone_from_hubspot_fails_only_that_record(fake: FakeHubSpot) -> None:
    rid = fake.insert("contacts", {"email": "here@example.com"})
    ops = [WriteOp("a", rid, {"jobtitle": "x"}), WriteOp("b", "987654", {"jobtitle": "y"})]
    results = connect(fake).write("contacts", ops)
    assert [r.status for r in results] == ["updated", "failed"]
    assert "Could not get some CONTACT objects" in (results[1].error or "")


def test_archive_and_delete_then_read_the_tombstone(fake: FakeHubSpot) -> None:
    ids = seed(fake, 3)
    conn = connect(fake)
    state = list(conn.read("contacts", None))[-1].state
    results = conn.write("contacts", [WriteOp("a", ids[0], {}, "archive"), WriteOp("b", ids[1], {}, "delete"),
                                      WriteOp("c", None, {}, "delete")])
    assert [r.status for r in results] == ["deleted", "deleted", "failed"]
    assert fake.record("contacts", ids[0])["archived"] and fake.record("contacts", ids[1])["archived"]
    dead = tombstones(list(conn.read("contacts", state)))
    assert sorted(r.id for r in dead) == sorted(ids[:2]) and all(r.deleted for r in dead)


def test_missing_id_property_is_a_configuration_error(fake: FakeHubSpot) -> None:
    fake.remove_property("contacts", "seamless_hub_id")
    with pytest.raises(ConfigError) as caught:
        connect(fake).write("contacts", [upsert("ent-1", email="a@x.example"), upsert("ent-2", email="b@x.example")])
    assert "seamless_hub_id" in str(caught.value) and "unique" in str(caught.value)
    assert len(calls(fake, "/batch/upsert")) == 1  # no bisection for a portal-wide problem


# -- transient failures, secrets, garbage ------------------------------------------------------
HUBSPOT_429 = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
               "errorType": "RATE_LIMIT", "correlationId": "00000000-0000-4000-8000-000000000000",
               "policyName": "TEN_SECONDLY_ROLLING"}


def test_429_waits_what_retry_after_says(fake: FakeHubSpot, sleeps: list[float]) -> None:
    seed(fake, 3)
    fake.inject(Fault(429, times=2, retry_after=7, body=HUBSPOT_429))
    pages = list(connect(fake).read("contacts", None))
    assert len(live(pages)) == 3
    assert sleeps.count(7.0) == 2
    assert [s for _, _, s in fake.requests[:3]] == [429, 429, 200]


def test_5xx_is_retried(fake: FakeHubSpot, sleeps: list[float]) -> None:
    seed(fake, 3)
    fake.inject(Fault(502, times=3, path_contains="/search"))
    pages = list(connect(fake).read("contacts", {"since": iso(BASE), "seen": []}))
    assert len(live(pages)) == 3
    assert [s for m, p, s in fake.requests if p.endswith("/search")][:4] == [502, 502, 502, 200]
    assert len(sleeps) >= 3


def test_the_token_never_appears_in_errors_or_logs(fake: FakeHubSpot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    conn = connect(fake)
    fake.inject(Fault(401, body={"status": "error", "message": f"token {TOKEN} has expired",
                                 "category": "INVALID_AUTHENTICATION"}))
    with pytest.raises(AuthError) as refused:
        list(conn.read("contacts", None))
    fake.inject(Fault(500, times=50, body={"message": f"internal error while using {TOKEN}"}))
    with pytest.raises(RetriableError) as storm:
        conn.write("contacts", [upsert("ent-1", email="a@example.com")])
    fake.faults.clear()
    fake.inject(Fault(500, times=50, body={"message": f"internal error while using {TOKEN}"}))
    result = conn.check()
    assert not result.ok
    for text in (str(refused.value), str(storm.value), result.message, caplog.text):
        assert TOKEN not in text
    assert "***" in str(refused.value) and "***" in str(storm.value)
    fake.faults.clear()
    wrong = connect(fake, access_token="pat-na1-wrong")
    assert not wrong.check().ok
    with pytest.raises(AuthError):
        list(wrong.read("contacts", None))


def test_a_body_that_is_not_json_is_a_vendor_error_naming_the_stream(fake: FakeHubSpot) -> None:
    fake.inject(Fault(200, raw=b"<html>upstream maintenance</html>", path_contains="/crm/v3/objects/companies"))
    with pytest.raises(VendorError) as caught:
        list(connect(fake).read("companies", None))
    assert str(caught.value).startswith("[hubspot/companies]")
    assert "not JSON" in str(caught.value) and "upstream maintenance" in str(caught.value)


# -- check, discover -------------------------------------------------------------------------
def test_check_and_discover(fake: FakeHubSpot) -> None:
    recorder = Recorder(fake)
    conn = connect(fake, recorder)
    assert conn.check().ok
    assert recorder.sent[0].url.path == "/crm/v3/objects/contacts"
    assert recorder.sent[0].url.params["limit"] == "1"
    assert recorder.sent[0].headers["Authorization"] == f"Bearer {TOKEN}"
    fields = conn.discover()
    contacts = {f.name: f for f in fields["contacts"]}
    assert contacts["firstname_kana"].custom and contacts["firstname_kana"].writable
    assert not contacts["email"].custom
    assert not contacts["lastmodifieddate"].writable and not contacts["hs_email_optout"].writable
    assert contacts["lifecyclestage"].type == "enumeration" and contacts["email"].label == "Email"
    assert {"name_kana", "corporate_number"} <= {f.name for f in fields["companies"] if f.custom}


# -- over real HTTP ----------------------------------------------------------------------------
@pytest.fixture
def served(fake: FakeHubSpot) -> Iterator[str]:
    """The fake as an ASGI app under uvicorn on a free loopback port, stopped afterwards."""
    with serve_in_thread(fake.asgi()) as url:
        yield url


def test_the_fake_served_by_uvicorn_answers_real_http(fake: FakeHubSpot, served: str) -> None:
    conn = HubSpot(HubSpot.Settings(base_url=served, access_token=TOKEN))
    try:
        assert conn.check().ok
        written = conn.write("contacts", [upsert("ent-1", email="net@example.com", firstname="ネット")])
        assert written[0].status == "created"
        records = live(list(conn.read("contacts", None)))
        assert [(r.id, r.data["firstname"]) for r in records] == [(written[0].target_id, "ネット")]
    finally:
        conn.close()
    with httpx.Client(base_url=served) as anonymous:
        assert anonymous.get("/crm/v3/objects/contacts").status_code == 401
