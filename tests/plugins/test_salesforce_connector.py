"""The Salesforce connector against its stateful fake: auth, reads, resumable states, writes, limits."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.sandbox.serve import serve_in_thread
import yaml

import hub.http
import plugins.salesforce as salesforce_plugin
from hub.connector import Page, Record, WriteOp
from hub.errors import AuthError, ConfigError, MissingSecretError, RateLimitedError, RetriableError, VendorError
from hub.sandbox import Fault
from hub.sandbox.fake import sandbox_settings
from plugins.salesforce.connector import FIELDS, Salesforce, SalesforceSettings
from plugins.salesforce.fake import FakeSalesforce, sf_time

REPO = Path(__file__).resolve().parents[2]
SECRET = "8C1F2A9D0B7E6C5A4F3E2D1C0B9A8F7E6D5C4B3A2F1E0D9C8B7A6F5E4D3C2B1A"
REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJo7Xr34yOQ7GCFUN5DnNPxzDIoGoWi4evqOl_QTA13wxZ8OiF"
V = "/services/data/v60.0"


class Recorder(httpx.BaseTransport):
    """Passes requests to the fake and keeps them, to look at what the connector sent."""

    def __init__(self, fake: FakeSalesforce) -> None:
        self.inner = fake.transport()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.inner.handle_request(request)

    def calls(self, method: str, suffix: str) -> list[httpx.Request]:
        return [r for r in self.sent if r.method == method and r.url.path.rstrip("/").endswith(suffix)]

    def bodies(self, method: str, suffix: str) -> list[Any]:
        return [json.loads(r.content) for r in self.calls(method, suffix)]

    def soql(self) -> list[str]:
        return [r.url.params["q"] for r in self.sent if r.url.path.endswith("/query")]


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait of the HTTP layer, recorded instead of slept (the retry policy is untouched)."""
    recorded: list[float] = []
    monkeypatch.setattr(hub.http, "sleep", recorded.append)
    return recorded


@pytest.fixture
def fake() -> FakeSalesforce:
    return FakeSalesforce(token=SECRET, refresh_token=REFRESH)


def connect(fake: FakeSalesforce, transport: httpx.BaseTransport | None = None, **settings: Any) -> Salesforce:
    config = SalesforceSettings(**{**sandbox_settings(fake), **settings})
    return Salesforce(config, transport=transport or fake.transport())


def live(pages: list[Page]) -> list[Record]:
    return [r for p in pages for r in p.records if not r.deleted]


def tombstones(pages: list[Page]) -> list[Record]:
    return [r for p in pages for r in p.records if r.deleted]


def seed(fake: FakeSalesforce, n: int, at: datetime, stream: str = "Contact", step: float = 1.0) -> list[str]:
    ids = []
    for i in range(n):
        count = len(fake.table(stream))
        fields = {"LastName": f"Person {count}", "Email": f"p{count}@example.com"} if stream == "Contact" \
            else {"Name": f"Company {count}"}
        ids.append(fake.insert(stream, fields, at=at + timedelta(seconds=i * step)))
    return ids


def upsert(key: str, **fields: Any) -> WriteOp:
    return WriteOp(key=key, target_id=None, fields=fields)


def stamp(moment: datetime) -> str:
    """A checkpoint timestamp as the connector keeps them (Salesforce stores whole seconds)."""
    return sf_time(moment.replace(microsecond=0)).replace("+0000", "Z")


# -- settings, plugin, mapping ---------------------------------------------------------------------
def test_missing_credentials_name_the_key_and_env_var(fake: FakeSalesforce) -> None:
    base = {"base_url": fake.base_url, "client_id": "id"}
    with pytest.raises(MissingSecretError) as caught:
        Salesforce(SalesforceSettings(**base), transport=fake.transport())
    assert "HUB_CONNECTORS__SALESFORCE__SETTINGS__REFRESH_TOKEN" in str(caught.value)
    assert "connectors.salesforce.settings.refresh_token" in str(caught.value)
    with pytest.raises(MissingSecretError) as caught:
        Salesforce(SalesforceSettings(**base, flow="client_credentials"), transport=fake.transport())
    assert "CLIENT_SECRET" in str(caught.value)
    with pytest.raises(MissingSecretError) as caught:
        Salesforce(SalesforceSettings(base_url=fake.base_url, refresh_token="r"), instance="sf_jp",
                   transport=fake.transport())
    assert "HUB_CONNECTORS__SF_JP__SETTINGS__CLIENT_ID" in str(caught.value)


def test_settings_contract() -> None:
    settings = SalesforceSettings(instance_url="https://acme.my.salesforce.com/", client_id="id",
                                  client_secret=SECRET, refresh_token=REFRESH)
    assert settings.base_url == "https://acme.my.salesforce.com" == settings.login_url
    assert (settings.api_version, settings.flow) == ("60.0", "refresh_token")
    assert settings.external_id_field == "Seamless_Hub_Id__c"
    assert settings.query_batch_size == 2000 and settings.secret_values() == [SECRET, REFRESH]
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert SECRET not in text and REFRESH not in text
    assert SalesforceSettings(base_url="https://x", api_version="v59.0").api_version == "59.0"
    for bad in ({}, {"base_url": "https://x", "query_batch_size": 100}, {"base_url": "https://x", "api_version": "60"},
                {"base_url": "https://x", "flow": "password"}, {"base_url": "https://x", "colour": "red"}):
        with pytest.raises(ValueError):
            SalesforceSettings(**bad)


def test_class_attributes() -> None:
    assert Salesforce.name == "salesforce" and Salesforce.kind == "crm"
    assert [s.name for s in Salesforce.streams] == ["Lead", "Contact", "Account", "Opportunity", "Case"]
    for spec in Salesforce.streams:
        assert (spec.primary_key, spec.cursor_field, spec.batch_size) == ("Id", "SystemModstamp", 200)
    assert Salesforce.stream("Lead").can(Salesforce.stream("Lead").capabilities)
    from hub.connector import DELETE, TOMBSTONES, UPSERT
    assert Salesforce.stream("Opportunity").can(UPSERT) and Salesforce.stream("Opportunity").can(DELETE)
    assert not Salesforce.stream("Case").can(UPSERT) and Salesforce.stream("Case").can(TOMBSTONES)
    with pytest.raises(ConfigError):
        Salesforce.stream("Task")


def test_plugin_registers_connector_and_sandbox() -> None:
    from hub import plugins

    loaded = plugins.load()
    if "salesforce" not in loaded.connectors:  # not yet in DEFAULT_PLUGINS / the entry points
        loaded = plugins.load(extra=[salesforce_plugin])
    assert loaded.connectors["salesforce"] is Salesforce
    assert loaded.sandboxes["salesforce"] is FakeSalesforce
    assert not [e for e in loaded.errors if "salesforce" in e.plugin]


def test_mapping_loads_and_names_only_fields_the_connector_reads_and_the_fake_knows() -> None:
    from hub import plugins
    from hub.mapping import load_mapping_file

    raw = yaml.safe_load((REPO / "mappings" / "salesforce.yaml").read_text(encoding="utf-8"))
    assert raw["connector"] == "salesforce" and list(raw["streams"]) == list(FIELDS)
    fake = FakeSalesforce()
    for stream, spec in raw["streams"].items():
        known = set(fake._fields(stream))
        for field in spec["fields"]:
            assert field["field"] in FIELDS[stream] or field["field"] == "Seamless_Hub_Id__c", (stream, field)
            assert field["field"] in known, (stream, field["field"])
            if stream == "Case":
                assert field.get("direction") == "in", field
    loaded = plugins.load()
    mapping, issues = load_mapping_file(REPO / "mappings" / "salesforce.yaml", loaded.transforms,
                                        streams=[s.name for s in Salesforce.streams])
    assert mapping is not None and issues == []
    lead = mapping.to_canonical("Lead", {"Status": "Working - Contacted", "HasOptedOutOfEmail": True,
                                         "LastNameKana__c": "やまだ", "Company": "山田商事",
                                         "PostalCode": "１００－０００１"}, connector="salesforce")
    assert lead["lifecycle_stage"] == {"stage": "mql", "vendor_value": "Working - Contacted"}
    assert lead["consents"]["email"]["status"] == "opted_out"
    assert lead["family_name_kana"] == "ヤマダ" and lead["custom"] == {"salesforce": {"company": "山田商事"}}
    assert lead["addresses"][0]["postal_code"] == "100-0001"
    assert "Status" not in mapping.to_vendor("Lead", lead)  # lead status is read, never written
    statuses = {(c, w): mapping.to_canonical("Opportunity", {"IsClosed": c, "IsWon": w})["status"]
                for c, w in ((False, False), (True, False), (True, True))}
    assert statuses == {(False, False): "open", (True, False): "lost", (True, True): "won"}
    deal = mapping.to_canonical("Opportunity", {"StageName": "Proposal/Price Quote", "Amount": 1500000.0,
                                                "CurrencyIsoCode": "JPY", "CloseDate": "2024-06-30",
                                                "AccountId": "0015g0000000001AAA"}, connector="salesforce")
    assert deal["stage"] == {"stage": "quote", "vendor_value": "Proposal/Price Quote"}
    assert deal["organization_id"] == "@salesforce:Account:0015g0000000001AAA"
    mapping.validate("Opportunity", deal)
    assert mapping.to_vendor("Opportunity", {"stage": {"stage": "deal"}})["StageName"] == "Negotiation/Review"
    ticket = mapping.to_canonical("Case", {"Status": "Waiting on Vendor", "IsClosed": False, "Priority": "High",
                                           "Origin": "Email", "IsEscalated": True, "ContactId": "0035g0000000002AAA"},
                                  connector="salesforce")
    assert (ticket["status"], ticket["vendor_status"], ticket["priority"], ticket["channel"], ticket["escalated"]) == (
        "open", "Waiting on Vendor", "high", "email", True)
    assert mapping.to_canonical("Case", {"Status": "Resolved", "IsClosed": True})["status"] == "closed"
    mapping.validate("Case", ticket)


# -- full read -------------------------------------------------------------------------------------
def test_full_read_pages_through_everything_and_resumes_from_every_page(fake: FakeSalesforce) -> None:
    ids = seed(fake, 450, at=fake.now() - timedelta(hours=2))
    recorder = Recorder(fake)
    conn = connect(fake, recorder, query_batch_size=200)
    pages = list(conn.read("Contact", None))
    assert [len(p.records) for p in pages] == [200, 200, 50]
    assert [r.id for r in live(pages)] == ids
    final = pages[-1].state
    assert set(final) == {"since", "seen", "deleted_since", "deleted_seen"} and "phase" not in final
    assert final["since"] == pages[-1].records[-1].data["SystemModstamp"].replace("+0000", "Z")
    # One query, then the locator; the query asks for the mapped fields, oldest change first.
    assert len(recorder.soql()) == 1
    soql = recorder.soql()[0]
    assert soql.startswith("SELECT Id, SystemModstamp, FirstName, LastName, LastNameKana__c")
    assert soql.endswith("FROM Contact ORDER BY SystemModstamp ASC, Id ASC") and "WHERE" not in soql
    assert "Seamless_Hub_Id__c" in soql
    query = next(r for r in recorder.sent if r.url.path.endswith("/query"))
    assert query.headers["Sforce-Query-Options"] == "batchSize=200"
    assert len(recorder.calls("GET", "-200")) == 1 and len(recorder.calls("GET", "-400")) == 1
    record = pages[0].records[0]
    assert record.updated_at is not None and record.updated_at.tzinfo is not None
    assert record.data["Email"] == "p0@example.com" and record.data["Phone"] is None
    assert "attributes" not in record.data and not record.deleted
    for i, page in enumerate(pages[:-1]):
        resumed = list(conn.read("Contact", page.state))
        before = [r.id for p in pages[: i + 1] for r in p.records]
        assert before + [r.id for r in live(resumed)] == ids, f"gap or duplicate resuming after page {i}"
        assert tombstones(resumed) == []


def test_empty_org_yields_one_page_with_a_state(fake: FakeSalesforce) -> None:
    pages = list(connect(fake).read("Account", None))
    assert len(pages) == 1 and pages[0].records == [] and pages[0].state["since"] is None
    assert pages[0].state["deleted_since"]


def test_many_records_sharing_a_timestamp_no_gap_no_duplicate_from_any_page() -> None:
    fake = FakeSalesforce(batch_cap=7)  # Salesforce may answer fewer records than asked for
    base = fake.now() - timedelta(hours=1)
    seed(fake, 3, at=base - timedelta(hours=1))  # older than the state: never read
    t1, t2, t3 = (base + timedelta(seconds=s) for s in (1, 2, 3))
    expected = seed(fake, 25, at=t1, step=0) + seed(fake, 7, at=t2, step=0) + seed(fake, 5, at=t3, step=0)
    conn = connect(fake)
    start = {"since": stamp(base), "seen": [], "deleted_since": stamp(fake.now() - timedelta(minutes=5))}
    pages = list(conn.read("Contact", start))
    emitted = [r.id for r in live(pages)]
    assert sorted(emitted) == sorted(expected) and len(emitted) == len(set(emitted))
    assert pages[-1].state["since"] == stamp(t3) and len(pages[-1].state["seen"]) == 5
    assert len(pages) > 6
    for i, page in enumerate(pages):
        before = [r.id for p in pages[: i + 1] for r in p.records if not r.deleted]
        after = [r.id for r in live(list(conn.read("Contact", page.state)))]
        assert not set(before) & set(after), f"duplicate after resuming from page {i}"
        assert sorted(before + after) == sorted(expected), f"gap after resuming from page {i}"


def test_bulk_touch_across_page_boundaries(fake: FakeSalesforce) -> None:
    ids = seed(fake, 500, at=fake.now() - timedelta(hours=3))
    conn = connect(fake, query_batch_size=200)
    state = list(conn.read("Contact", None))[-1].state
    bulk = fake.now() - timedelta(minutes=30)
    fake.touch("Contact", ids[100:450], at=bulk)  # a bulk job: 350 records, one SystemModstamp
    pages = list(conn.read("Contact", state))
    assert sorted(r.id for r in live(pages)) == sorted(ids[100:450])
    assert pages[-1].state["since"] == stamp(bulk) and len(pages[-1].state["seen"]) == 350
    for i, page in enumerate(pages[:-2]):
        before = [r.id for p in pages[: i + 1] for r in p.records]
        after = [r.id for r in live(list(conn.read("Contact", page.state)))]
        assert sorted(before + after) == sorted(ids[100:450]) and not set(before) & set(after)


# -- incremental read, tombstones ------------------------------------------------------------------
def test_incremental_read_returns_changes_then_tombstones(fake: FakeSalesforce) -> None:
    ids = seed(fake, 20, at=fake.now() - timedelta(hours=2))
    fake.delete("Contact", ids[19], at=fake.now() - timedelta(hours=1))  # before the full read: no tombstone
    recorder = Recorder(fake)
    conn = connect(fake, recorder)
    state = list(conn.read("Contact", None))[-1].state
    fake.advance_clock(60)
    fake.update("Contact", ids[3], {"FirstName": "Changed"})
    fake.update("Contact", ids[7], {"Title": "CTO"})
    fake.delete("Contact", ids[11])
    fake.advance_clock(120)  # getDeleted covers whole minutes up to now
    recorder.sent.clear()
    pages = list(conn.read("Contact", state))
    changed = live(pages)
    assert [r.id for r in changed] == [ids[3], ids[7]]
    assert changed[0].data["FirstName"] == "Changed" and changed[1].data["Title"] == "CTO"
    since = state["since"][:19] + "Z"
    where = f"FROM Contact WHERE SystemModstamp >= {since} ORDER BY SystemModstamp ASC, Id ASC"
    assert recorder.soql()[0].endswith(where)
    assert pages[-2].state["phase"] == "tombstones"
    dead = tombstones(pages)
    assert [r.id for r in dead] == [ids[11]] and dead[0].deleted
    assert dead[0].updated_at is not None and dead[0].data["Id"] == ids[11]
    window = recorder.calls("GET", "/sobjects/Contact/deleted")[0].url.params
    assert window["start"] == datetime.fromisoformat(state["deleted_since"]).strftime("%Y-%m-%dT%H:%M:00+00:00")
    assert window["start"].endswith(":00+00:00") and window["end"].endswith(":00+00:00")
    final = pages[-1].state
    assert "phase" not in final and final["deleted_since"] > state["deleted_since"]
    # Nothing changed since: only the boundary records are looked at again, nothing comes back.
    fake.advance_clock(120)
    again = list(conn.read("Contact", final))
    assert live(again) == [] and tombstones(again) == []


def test_a_read_interrupted_before_the_tombstones_resumes_with_them(fake: FakeSalesforce) -> None:
    ids = seed(fake, 3, at=fake.now() - timedelta(hours=2))
    conn = connect(fake)
    state = list(conn.read("Contact", None))[-1].state
    fake.advance_clock(60)
    fake.delete("Contact", ids[0])
    fake.advance_clock(120)
    reader = conn.read("Contact", state)
    first = next(reader)
    assert first.state["phase"] == "tombstones"
    resumed = list(conn.read("Contact", first.state))
    assert [r.id for r in tombstones(resumed)] == [ids[0]] and live(resumed) == []


def test_tombstone_window_older_than_the_delete_log_is_clamped_with_a_warning(
    fake: FakeSalesforce, caplog: pytest.LogCaptureFixture
) -> None:
    ids = seed(fake, 2, at=fake.now() - timedelta(days=20))
    fake.delete("Contact", ids[0], at=fake.now() - timedelta(days=1))
    long_ago = stamp(fake.now() - timedelta(days=20))
    old = {"since": long_ago, "seen": [], "deleted_since": long_ago}
    with caplog.at_level(logging.WARNING):
        pages = list(connect(fake).read("Contact", old))
    assert [r.id for r in tombstones(pages)] == [ids[0]]
    assert "may be missed" in caplog.text and "15 days" in caplog.text
    assert not [r for r in fake.requests if r[2] >= 400]


def test_a_purged_delete_log_is_reported(fake: FakeSalesforce, caplog: pytest.LogCaptureFixture) -> None:
    ids = seed(fake, 2, at=fake.now() - timedelta(hours=1))
    conn = connect(fake)
    state = list(conn.read("Contact", None))[-1].state
    fake.advance_clock(60)
    fake.delete("Contact", ids[0])
    fake.advance_clock(120)
    assert fake.purge_deleted() == 1
    with caplog.at_level(logging.WARNING):
        pages = list(conn.read("Contact", state))
    assert tombstones(pages) == [] and "purged its delete log" in caplog.text


def test_a_query_locator_that_dies_mid_read_is_replaced(fake: FakeSalesforce) -> None:
    ids = seed(fake, 450, at=fake.now() - timedelta(hours=2), step=0)  # one timestamp for all
    recorder = Recorder(fake)
    reader = connect(fake, recorder, query_batch_size=200).read("Contact", None)
    first = next(reader)
    fake.advance_clock(16 * 60)  # the locator idles out
    rest = list(reader)
    emitted = [r.id for r in first.records + live(rest)]
    assert sorted(emitted) == sorted(ids) and len(emitted) == len(set(emitted))
    assert len(recorder.soql()) == 2


def test_fields_the_org_lacks_are_not_selected(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeSalesforce(multi_currency=False)
    fake.remove_field("Contact", "LastNameKana__c")
    fake.insert("Opportunity", {"Name": "D", "StageName": "Prospecting", "CloseDate": "2024-06-30"})
    recorder = Recorder(fake)
    conn = connect(fake, recorder, extra_fields={"Contact": ["Birthdate__c"]})
    with caplog.at_level(logging.WARNING):
        assert len(live(list(conn.read("Opportunity", None)))) == 1
        list(conn.read("Contact", None))
        list(conn.read("Contact", None))
    assert "CurrencyIsoCode" not in recorder.soql()[0]
    assert "LastNameKana__c" not in recorder.soql()[1] and "FirstNameKana__c" in recorder.soql()[1]
    assert caplog.text.count("LastNameKana__c") == 1  # warned once per connector
    assert "Birthdate__c" in caplog.text
    assert len(recorder.calls("GET", "/sobjects/Contact/describe")) == 1  # describe is cached


# -- writes ----------------------------------------------------------------------------------------
def test_upsert_round_trip_and_idempotent_reupsert(fake: FakeSalesforce) -> None:
    recorder = Recorder(fake)
    conn = connect(fake, recorder)
    batch = [upsert("ent-1", LastName="佐藤", FirstName="花子", Email="hanako@example.com", HasOptedOutOfEmail="true"),
             upsert("ent-2", LastName="Ito", Department="R&D")]
    created = conn.write("Contact", batch)
    assert [r.status for r in created] == ["created", "created"]
    assert all(r.target_id and r.target_id.startswith("003") for r in created)
    stored = fake.record("Contact", created[0].target_id)
    assert stored["Seamless_Hub_Id__c"] == "ent-1" and stored["LastName"] == "佐藤"
    assert stored["HasOptedOutOfEmail"] is True
    body = recorder.bodies("PATCH", "/composite/sobjects/Contact/Seamless_Hub_Id__c")[0]
    assert body["allOrNone"] is False
    assert body["records"][0] == {"attributes": {"type": "Contact"}, "LastName": "佐藤", "FirstName": "花子",
                                  "Email": "hanako@example.com", "HasOptedOutOfEmail": True,
                                  "Seamless_Hub_Id__c": "ent-1"}
    again = conn.write("Contact", batch)
    assert [(r.status, r.target_id) for r in again] == [("updated", r.target_id) for r in created]
    assert len(fake.records("Contact")) == 2
    read_back = {r.data["Seamless_Hub_Id__c"]: r for r in live(list(conn.read("Contact", None)))}
    assert read_back["ent-1"].id == created[0].target_id and read_back["ent-2"].data["Department"] == "R&D"


def test_updates_with_a_known_id_go_by_id_and_leave_the_external_id_alone(fake: FakeSalesforce) -> None:
    account = fake.insert("Account", {"Name": "Acme"})
    user_made = fake.insert("Contact", {"LastName": "Made by a user"})
    recorder = Recorder(fake)
    results = connect(fake, recorder).write(
        "Contact", [WriteOp("ent-9", user_made, {"AccountId": account, "Title": "CFO", "Seamless_Hub_Id__c": "x"})])
    assert [(r.status, r.target_id) for r in results] == [("updated", user_made)]
    body = recorder.bodies("PATCH", "/composite/sobjects")[0]
    assert body == {"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "id": user_made, "AccountId": account, "Title": "CFO"}]}
    stored = fake.record("Contact", user_made)
    assert (stored["AccountId"], stored["Title"], stored["Seamless_Hub_Id__c"]) == (account, "CFO", None)


def test_no_call_carries_more_than_200_records(fake: FakeSalesforce) -> None:
    existing = seed(fake, 250, at=fake.now() - timedelta(hours=1), stream="Account")
    recorder = Recorder(fake)
    conn = connect(fake, recorder)
    ops = [upsert(f"new-{i}", Name=f"New {i}") for i in range(450)]
    ops += [WriteOp(f"old-{i}", rid, {"Phone": "03-1234-5678"}) for i, rid in enumerate(existing)]
    ops += [WriteOp(f"old-{i}", rid, {}, "delete") for i, rid in enumerate(existing[:210])]
    results = conn.write("Account", ops)
    assert [r.key for r in results] == [op.key for op in ops]  # one result per op, in order
    assert [r.status for r in results] == ["created"] * 450 + ["updated"] * 250 + ["deleted"] * 210
    upserts = recorder.bodies("PATCH", "/composite/sobjects/Account/Seamless_Hub_Id__c")
    updates = recorder.bodies("PATCH", "/composite/sobjects")
    deletes = recorder.calls("DELETE", "/composite/sobjects")
    assert [len(b["records"]) for b in upserts] == [200, 200, 50]
    assert [len(b["records"]) for b in updates] == [200, 50]
    assert [len(r.url.params["ids"].split(",")) for r in deletes] == [200, 10]
    assert all(r.url.params["allOrNone"] == "false" for r in deletes)
    assert not [r for r in fake.requests if r[2] >= 400]


def test_the_same_key_twice_in_one_batch_goes_in_separate_calls(fake: FakeSalesforce) -> None:
    results = connect(fake).write("Account", [upsert("org-1", Name="One"), upsert("ORG-1", Name="Two")])
    assert [r.status for r in results] == ["created", "updated"]
    assert fake.find("Account", "Seamless_Hub_Id__c", "org-1")["Name"] == "Two"


def test_per_record_errors_fail_only_their_record_and_name_the_field(fake: FakeSalesforce) -> None:
    fake.add_field("Lead", "Badge__c", unique=True)
    holder = fake.insert("Lead", {"LastName": "Holder", "Company": "C", "Badge__c": "B-1"})
    ops = [upsert(f"ok-{i}", LastName=f"Ok {i}", Company="C") for i in range(6)]
    ops[1] = upsert("no-company", LastName="NoCompany")
    ops[2] = upsert("bad-email", LastName="M", Company="C", Email="not-an-email")
    ops[3] = upsert("dup", LastName="D", Company="C", Badge__c="b-1")
    ops[4] = upsert("read-only", LastName="R", Company="C", IsConverted=True)
    results = connect(fake).write("Lead", ops)
    assert [r.status for r in results] == ["created", "failed", "failed", "failed", "failed", "created"]
    assert results[1].field == "Company"
    assert results[1].error == "REQUIRED_FIELD_MISSING: Required fields are missing: [Company]"
    assert results[2].field == "Email"
    assert results[2].error == "INVALID_EMAIL_ADDRESS: Email: invalid email address: not-an-email"
    assert results[3].field == "Badge__c" and holder in (results[3].error or "")
    assert results[4].field == "IsConverted" and "INVALID_FIELD_FOR_INSERT_UPDATE" in (results[4].error or "")
    assert len(fake.records("Lead")) == 3


def test_values_of_the_wrong_type_fail_their_record_before_sending(fake: FakeSalesforce) -> None:
    recorder = Recorder(fake)
    results = connect(fake, recorder).write("Opportunity", [
        upsert("d-1", Name="Deal", StageName="Prospecting", CloseDate="2024-06-30", Amount="1,500,000"),
        upsert("d-2", Name="Deal", StageName="Prospecting", CloseDate="2024-06-30", Amount="lots"),
        upsert("d-3", Name="Deal", StageName="Prospecting", CloseDate="someday"),
        upsert("d-4", Name="Deal", StageName="Closed Won", CloseDate="2024-06-30T09:00:00+09:00", Amount=12.5),
    ])
    assert [r.status for r in results] == ["created", "failed", "failed", "created"]
    assert (results[1].field, results[2].field) == ("Amount", "CloseDate")
    sent = recorder.bodies("PATCH", "/composite/sobjects/Opportunity/Seamless_Hub_Id__c")[0]["records"]
    assert [r["Seamless_Hub_Id__c"] for r in sent] == ["d-1", "d-4"]
    assert (sent[0]["Amount"], sent[1]["Amount"], sent[1]["CloseDate"]) == (1500000, 12.5, "2024-06-30")
    assert fake.find("Opportunity", "Seamless_Hub_Id__c", "d-4")["IsWon"] is True


def test_fields_the_org_lacks_are_dropped_and_a_stale_describe_fails_only_those_records(
    fake: FakeSalesforce, caplog: pytest.LogCaptureFixture
) -> None:
    conn = connect(fake)
    with caplog.at_level(logging.WARNING):
        results = conn.write("Contact", [upsert("a", LastName="A", Nickname__c="x")])
    assert results[0].status == "created" and "Nickname__c" in caplog.text
    fake.remove_field("Contact", "FirstNameKana__c")  # the org changed after describe was cached
    results = conn.write("Contact", [upsert("b", LastName="B", FirstNameKana__c="ビー"), upsert("c", LastName="C"),
                                     upsert("d", LastName="D", FirstNameKana__c="ディー")])
    assert [r.status for r in results] == ["failed", "created", "failed"]
    assert results[0].field == "FirstNameKana__c" and "INVALID_FIELD" in (results[0].error or "")


def test_missing_external_id_field_is_a_configuration_error(fake: FakeSalesforce) -> None:
    fake.remove_field("Account", "Seamless_Hub_Id__c")
    recorder = Recorder(fake)
    with pytest.raises(ConfigError) as caught:
        connect(fake, recorder).write("Account", [upsert("org-1", Name="A")])
    assert "Seamless_Hub_Id__c" in str(caught.value) and "External ID" in str(caught.value)
    assert caught.value.key == "connectors.salesforce.settings.external_id_field"
    assert recorder.calls("PATCH", "/composite/sobjects/Account/Seamless_Hub_Id__c") == []
    fake.add_field("Account", "Erp_Key__c", external_id=True)
    written = connect(fake, external_id_field="Erp_Key__c").write("Account", [upsert("org-1", Name="A")])
    assert written[0].status == "created" and fake.find("Account", "Erp_Key__c", "org-1")


def test_deletes_and_their_tombstones(fake: FakeSalesforce) -> None:
    ids = seed(fake, 4, at=fake.now() - timedelta(hours=1))
    fake.delete("Contact", ids[3], at=fake.now() - timedelta(minutes=30))
    conn = connect(fake)
    state = list(conn.read("Contact", None))[-1].state
    fake.advance_clock(60)
    results = conn.write("Contact", [WriteOp("a", ids[0], {}, "delete"), WriteOp("b", ids[1], {}, "archive"),
                                     WriteOp("c", ids[3], {}, "delete"), WriteOp("d", None, {}, "delete"),
                                     WriteOp("e", "003000000000000AAA", {}, "delete")])
    assert [r.status for r in results] == ["deleted", "deleted", "deleted", "failed", "failed"]
    assert "INVALID_CROSS_REFERENCE_KEY" in (results[4].error or "")
    fake.advance_clock(120)
    dead = tombstones(list(conn.read("Contact", state)))
    assert sorted(r.id for r in dead) == sorted(ids[:2])


def test_read_only_stream_refuses_writes(fake: FakeSalesforce) -> None:
    results = connect(fake).write("Case", [upsert("t-1", Subject="x")])
    assert results[0].status == "failed" and "read-only" in (results[0].error or "")


# -- limits ----------------------------------------------------------------------------------------
def test_request_limit_exceeded_is_retried_not_an_auth_failure(fake: FakeSalesforce, sleeps: list[float]) -> None:
    seed(fake, 3, at=fake.now() - timedelta(hours=1))
    conn = connect(fake)
    fake.inject_request_limit(times=3)
    pages = list(conn.read("Contact", None))
    assert len(live(pages)) == 3
    assert len(sleeps) == 3 and all(s > 0 for s in sleeps)
    assert [s for _, p, s in fake.requests if p.startswith("/services/data")][:4] == [403, 403, 403, 200]
    fake.inject_request_limit(times=100)
    with pytest.raises(RateLimitedError) as caught:
        conn.write("Contact", [upsert("ent-1", LastName="X")])
    assert not isinstance(caught.value, AuthError) and isinstance(caught.value, RetriableError)
    assert "REQUEST_LIMIT_EXCEEDED" in str(caught.value) and caught.value.status == 403


def test_high_api_usage_slows_the_connector_down(fake: FakeSalesforce, sleeps: list[float],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    seed(fake, 5, at=fake.now() - timedelta(hours=1))
    conn = connect(fake)
    list(conn.read("Contact", None))
    assert sleeps == [] and conn.api_usage is not None and conn.api_usage[1] == 15000
    fake.set_api_usage(13_600)  # above 90 % of 15,000
    with caplog.at_level(logging.WARNING):
        list(conn.read("Contact", None))
        list(conn.read("Contact", None))
    assert sleeps and all(s > 0 for s in sleeps)
    assert "slowing to 10 requests a minute" in caplog.text
    fake.set_api_usage(100)
    list(conn.read("Contact", None))  # back under: the budget is dropped
    sleeps.clear()
    list(conn.read("Contact", None))
    assert sleeps == []


def test_5xx_is_retried(fake: FakeSalesforce, sleeps: list[float]) -> None:
    seed(fake, 3, at=fake.now() - timedelta(hours=1))
    fake.inject(Fault(503, times=2, path_contains="/query"))
    assert len(live(list(connect(fake).read("Contact", None)))) == 3
    assert len(sleeps) >= 2


def test_a_body_that_is_not_json_is_a_vendor_error_naming_the_stream(fake: FakeSalesforce) -> None:
    fake.inject(Fault(200, raw=b"<html>Maintenance</html>", path_contains="/query"))
    with pytest.raises(VendorError) as caught:
        list(connect(fake).read("Account", None))
    assert str(caught.value).startswith("[salesforce/Account]") and "not JSON" in str(caught.value)


# -- authentication --------------------------------------------------------------------------------
@pytest.mark.parametrize("flow", ["refresh_token", "client_credentials"])
def test_expired_session_is_refreshed_once_and_the_request_retried(fake: FakeSalesforce, flow: str) -> None:
    ids = seed(fake, 450, at=fake.now() - timedelta(hours=1))
    recorder = Recorder(fake)
    conn = connect(fake, recorder, flow=flow, query_batch_size=200)
    reader = conn.read("Contact", None)
    first = next(reader)
    fake.expire_tokens()  # the session ends between two pages
    rest = list(reader)
    assert [r.id for r in first.records + live(rest)] == ids
    token_calls = recorder.calls("POST", "/services/oauth2/token")
    grants = [httpx.QueryParams(r.content.decode())["grant_type"] for r in token_calls]
    assert grants == [flow, flow]
    statuses = [s for _, p, s in fake.requests if p.startswith("/services/data")]
    assert statuses.count(401) == 1
    assert len(fake.tokens_issued) == 2
    assert recorder.sent[-1].headers["Authorization"] == f"Bearer {fake.tokens_issued[-1]}"


def test_a_token_refused_right_after_refresh_is_an_auth_error(fake: FakeSalesforce) -> None:
    conn = connect(fake)
    assert conn.check().ok
    session = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    fake.inject_fault(401, session, times=2, path_contains="/limits")
    with pytest.raises(AuthError):
        conn._request("GET", f"{V}/limits")
    assert len(fake.tokens_issued) == 2  # refreshed once, not in a loop


def test_a_403_that_is_not_a_limit_stays_an_auth_error(fake: FakeSalesforce, sleeps: list[float]) -> None:
    fake.inject_fault(403, [{"message": "The REST API is not enabled for this Organization.",
                             "errorCode": "API_DISABLED_FOR_ORG"}], path_contains="/query")
    with pytest.raises(AuthError) as caught:
        list(connect(fake).read("Lead", None))
    assert "API_DISABLED_FOR_ORG" in str(caught.value) and sleeps == []


def test_refused_grants_explain_what_to_fix(fake: FakeSalesforce) -> None:
    fake.revoke_refresh_token()
    conn = connect(fake, refresh_token=REFRESH)
    with pytest.raises(AuthError) as caught:
        list(conn.read("Lead", None))
    message = str(caught.value)
    assert "invalid_grant" in message and "connectors.salesforce.settings.refresh_token" in message
    assert REFRESH not in message and SECRET not in message
    result = conn.check()
    assert not result.ok and "invalid_grant" in result.message
    wrong = connect(fake, flow="client_credentials", client_secret="not-the-secret")
    assert "client_secret" in wrong.check().message
    disabled = FakeSalesforce(token=SECRET, client_credentials=False)
    assert "Run As" in connect(disabled, flow="client_credentials").check().message


def test_no_token_or_secret_in_errors_logs_or_repr(fake: FakeSalesforce, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    conn = connect(fake)
    assert conn.check().ok
    access = fake.tokens_issued[-1]
    leak = [{"message": f"bad session {access} for client {SECRET} / {REFRESH}", "errorCode": "UNKNOWN_EXCEPTION"}]
    fake.inject_fault(400, leak, path_contains="/query")
    with pytest.raises(VendorError) as refused:
        list(conn.read("Lead", None))
    fake.inject_fault(500, leak, times=50)
    with pytest.raises(RetriableError) as storm:
        conn.write("Lead", [upsert("ent-1", LastName="X", Company="C")])
    fake.faults.clear()
    fake.inject_fault(500, leak, times=50)
    result = conn.check()
    fake.faults.clear()
    texts = [str(refused.value), refused.value.body or "", str(storm.value), result.message, caplog.text,
             repr(conn.settings), str(conn.settings)]
    for text in texts:
        for secret in (access, SECRET, REFRESH):
            assert secret not in text
    assert "***" in str(refused.value) and "***" in str(storm.value)
    assert not result.ok


# -- check, discover -------------------------------------------------------------------------------
def test_check_and_discover(fake: FakeSalesforce) -> None:
    recorder = Recorder(fake)
    conn = connect(fake, recorder)
    result = conn.check()
    assert result.ok and "daily API requests used" in result.message
    token_call = recorder.calls("POST", "/services/oauth2/token")[0]
    form = httpx.QueryParams(token_call.content.decode())
    assert (form["grant_type"], form["client_id"]) == ("refresh_token", fake.client_id)
    assert token_call.headers.get("Authorization") is None
    limits = recorder.calls("GET", "/limits")[0]
    assert limits.url.path == f"{V}/limits" and limits.headers["Authorization"].startswith("Bearer 00D")
    fields = conn.discover()
    assert list(fields) == ["Lead", "Contact", "Account", "Opportunity", "Case"]
    lead = {f.name: f for f in fields["Lead"]}
    assert lead["LastNameKana__c"].custom and lead["LastNameKana__c"].writable
    assert not lead["Email"].custom and lead["Email"].type == "email"
    assert not lead["SystemModstamp"].writable and not lead["IsConverted"].writable
    assert lead["Seamless_Hub_Id__c"].custom and lead["Status"].label == "Lead Status"
    assert {"NameKana__c", "CorporateNumber__c"} <= {f.name for f in fields["Account"] if f.custom}


# -- over real HTTP --------------------------------------------------------------------------------
@pytest.fixture
def served(fake: FakeSalesforce) -> Iterator[str]:
    """The fake as an ASGI app under uvicorn on a free loopback port, stopped afterwards."""
    with serve_in_thread(fake.asgi()) as url:
        yield url


def test_the_fake_served_by_uvicorn_answers_real_http(fake: FakeSalesforce, served: str) -> None:
    settings = SalesforceSettings(**{**sandbox_settings(fake), "base_url": served})
    conn = Salesforce(settings)
    try:
        assert conn.check().ok
        written = conn.write("Contact", [upsert("ent-1", LastName="ネット", Email="net@example.com")])
        assert written[0].status == "created"
        pages = list(conn.read("Contact", None))
        assert [(r.id, r.data["LastName"]) for r in live(pages)] == [(written[0].target_id, "ネット")]
        fake.expire_tokens()
        assert conn.write("Contact", [WriteOp("ent-1", written[0].target_id, {}, "delete")])[0].status == "deleted"
    finally:
        conn.close()
    with httpx.Client(base_url=served) as anonymous:
        refused = anonymous.get(f"{V}/limits")
        assert refused.status_code == 401 and refused.json()[0]["errorCode"] == "INVALID_SESSION_ID"
