"""The kintone connector against its stateful fake: reads, resumable states, cursors, writes, failures."""

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

from hub.connector import Page, WriteOp
from hub.errors import AuthError, ConfigError, MissingSecretError, RetriableError, VendorError
from hub.sandbox import Fault
from hub.sandbox.fake import sandbox_settings
from plugins.kintone.connector import Kintone, KintoneSettings, kintone_stream
from plugins.kintone.fake import FakeKintone

TOKEN = "kintone-token-0a1b2c3d4e5f60718293a4b5"
OTHER_TOKEN = "kintone-token-ffeeddccbbaa99887766554"
BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


class Recorder(httpx.BaseTransport):
    """Passes requests to the fake and keeps them, to look at what the connector sent."""

    def __init__(self, fake: FakeKintone) -> None:
        self.inner = fake.transport()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.inner.handle_request(request)

    def queries(self) -> list[str]:
        return [r.url.params["query"] for r in self.sent if r.url.path.endswith("/records.json") and r.method == "GET"]

    def bodies(self, method: str, suffix: str) -> list[Any]:
        return [httpx.Response(200, content=r.content).json() for r in self.sent
                if r.method == method and r.url.path.endswith(suffix)]


@pytest.fixture
def fake() -> FakeKintone:
    return FakeKintone(token=TOKEN)


def connect(fake: FakeKintone, transport: httpx.BaseTransport | None = None, **settings: Any) -> Kintone:
    config = Kintone.Settings(**{**sandbox_settings(fake), **settings})
    return Kintone(config, transport=transport or fake.transport())


def seed(fake: FakeKintone, n: int, at: datetime = BASE, stream: str = "customers", step: float = 60.0) -> list[str]:
    name = "姓" if stream == "customers" else "会社名"
    return [fake.insert(stream, {name: f"R{i}"}, at=at + timedelta(seconds=i * step)) for i in range(n)]


def ids(pages: list[Page]) -> list[str]:
    return [r.id for p in pages for r in p.records]


def upsert(key: str, **fields: Any) -> WriteOp:
    return WriteOp(key=key, target_id=None, fields=fields)


def calls(fake: FakeKintone, method: str, suffix: str) -> list[Any]:
    return [body for m, path, body in fake.bodies if m == method and path.endswith(suffix)]


# -- settings, class, plugin, mapping ------------------------------------------------------------
def test_missing_token_names_the_key_and_env_var(fake: FakeKintone) -> None:
    with pytest.raises(MissingSecretError) as caught:
        Kintone(Kintone.Settings(base_url=fake.base_url, apps={"customers": 12}), transport=fake.transport())
    assert "HUB_CONNECTORS__KINTONE__SETTINGS__API_TOKEN" in str(caught.value)
    assert "connectors.kintone.settings.api_token" in str(caught.value)


def test_settings() -> None:
    settings = KintoneSettings(base_url="https://acme.cybozu.com/", api_token=f" {TOKEN} , {OTHER_TOKEN} ",
                               apps={"customers": 12, "companies": {"id": "13", "update_key": "顧客コード"}})
    assert settings.base_url == "https://acme.cybozu.com"
    assert settings.apps["customers"].update_key == "seamless_hub_id"
    assert (settings.apps["companies"].id, settings.apps["companies"].update_key) == (13, "顧客コード")
    assert settings.api_token is not None and settings.api_token.get_secret_value() == f"{TOKEN},{OTHER_TOKEN}"
    assert set(settings.secret_values()) == {f"{TOKEN},{OTHER_TOKEN}", TOKEN, OTHER_TOKEN}
    assert (settings.updated_time_field, settings.read_mode, settings.page_size) == ("更新日時", "seek", 500)
    for text in (repr(settings), str(settings), str(settings.model_dump())):
        assert TOKEN not in text and OTHER_TOKEN not in text
    with pytest.raises(ValueError, match="at most 9"):
        KintoneSettings(base_url="https://a.cybozu.com", api_token=",".join(f"t{i}" for i in range(10)))
    with pytest.raises(ValueError):
        KintoneSettings(base_url="https://a.cybozu.com", page_size=501)
    with pytest.raises(ValueError, match="both name app 12"):
        KintoneSettings(base_url="https://a.cybozu.com", apps={"customers": 12, "companies": 12})


def test_class_attributes_follow_kintones_contract() -> None:
    assert Kintone.name == "kintone" and Kintone.kind == "sfa"
    assert Kintone.rate_limit is not None
    assert (Kintone.rate_limit.requests, Kintone.rate_limit.per_seconds) == (10_000, 86_400.0)
    assert [s.name for s in Kintone.streams] == ["customers", "companies"]
    for spec in Kintone.streams:
        assert (spec.primary_key, spec.cursor_field, spec.batch_size) == ("$id", "更新日時", 100)
        assert spec.can(spec.capabilities) and not spec.can(spec.capabilities.TOMBSTONES)
    with pytest.raises(ConfigError):
        Kintone.stream("deals")


def test_an_admin_declares_streams_for_more_apps(fake: FakeKintone) -> None:
    sales = Kintone.extend("kintone_sales", "deals", kintone_stream("activities", cursor_field="Updated_datetime"))
    assert issubclass(sales, Kintone) and sales.name == "kintone_sales"
    assert [s.name for s in sales.streams] == ["customers", "companies", "deals", "activities"]
    assert sales.stream("activities").cursor_field == "Updated_datetime"
    assert Kintone.streams == (kintone_stream("customers"), kintone_stream("companies"))  # untouched
    with pytest.raises(ValueError, match="already has"):
        Kintone.extend("twice", "customers")
    # An app configured for a stream nobody declared is refused with the way out.
    with pytest.raises(ConfigError) as caught:
        connect(fake, apps={"customers": 12, "deals": 21})
    assert "'deals'" in str(caught.value) and "Kintone.extend" in str(caught.value)
    # A declared stream without an app fails when used, naming the key to set.
    conn = connect(fake, apps={"customers": 12})
    with pytest.raises(ConfigError, match="settings.apps.companies"):
        list(conn.read("companies", None))


def test_plugin_registers_connector_and_sandbox() -> None:
    from hub import plugins

    import plugins.kintone as kintone_plugin

    loaded = plugins.load()
    if "kintone" not in loaded.connectors:  # not yet among DEFAULT_PLUGINS / entry points
        loaded = plugins.load(extra=[kintone_plugin])
    assert loaded.connectors["kintone"] is Kintone
    assert loaded.sandboxes["kintone"] is FakeKintone
    assert not [e for e in loaded.errors if "kintone" in e.plugin]


def test_mapping_loads_and_uses_the_fakes_field_codes() -> None:
    from hub import plugins
    from hub.mapping import load_mapping_file

    import plugins.kintone as kintone_plugin

    path = REPO / "mappings" / "kintone.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert raw["connector"] == "kintone"
    fake = FakeKintone()
    for stream, spec in raw["streams"].items():
        known = fake.fields(stream)
        for field in spec["fields"]:
            assert field["field"] in known, (stream, field["field"])
    loaded = plugins.load()
    transforms = loaded.transforms if "kintone" in loaded.connectors else plugins.load(extra=[kintone_plugin]).transforms
    mapping, issues = load_mapping_file(path, transforms, streams=[s.name for s in Kintone.streams])
    assert mapping is not None and issues == []
    person = mapping.to_canonical("customers", {
        "姓": "山田", "名": "太郎", "姓かな": "やまだ", "名かな": "ﾀﾛｳ", "メールアドレス": "Taro@Example.JP",
        "携帯番号": "090-1234-5678", "電話番号": "03-1234-5678", "郵便番号": "５３０－９５８６",
        "顧客ランク": "既存顧客", "seamless_hub_id": "ent-1",
    }, connector="kintone")
    assert (person["family_name_kana"], person["given_name_kana"]) == ("ヤマダ", "タロウ")
    assert person["emails"] == [{"address": "taro@example.jp"}]
    assert {"type": "mobile", "number": "+819012345678"} in person["phones"]
    assert person["addresses"][0]["postal_code"] == "530-9586"
    assert person["lifecycle_stage"] == {"stage": "customer", "vendor_value": "既存顧客"}
    assert person["id"] == "ent-1"
    org = mapping.to_canonical("companies", {"会社名": "サイボウズ株式会社", "法人番号": "１２３４５６７８９０１２３",
                                             "ドメイン": "Cybozu.co.jp"}, connector="kintone")
    assert org["identifiers"] == [{"scheme": "jp_corporate_number", "value": "1234567890123"}]
    assert org["domains"] == ["cybozu.co.jp"]


# -- full reads ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["seek", "cursor"])
def test_full_read_terminates_and_ends_with_an_incremental_state(fake: FakeKintone, mode: str) -> None:
    expected = seed(fake, 23)
    recorder = Recorder(fake)
    before = datetime.now(UTC)
    pages = list(connect(fake, recorder, read_mode=mode, page_size=10).read("customers", None))
    assert [len(p.records) for p in pages] == [10, 10, 3]
    assert ids(pages) == expected
    assert [p.state["phase"] for p in pages[:-1]] == ["full", "full"]
    assert [p.state["after_id"] for p in pages[:-1]] == [int(expected[9]), int(expected[19])]
    final = pages[-1].state
    assert set(final) == {"since", "seen"} and final["seen"] == []
    since = datetime.fromisoformat(final["since"])
    assert since.second == 0 and before - timedelta(seconds=121) <= since <= before - timedelta(seconds=59)
    record = pages[0].records[0]
    assert record.data["$id"] == record.id == expected[0] and record.data["$revision"] == "1"
    assert record.data["姓"] == "R0" and record.data["顧客ランク"] == ""  # {code: value}, flattened
    assert record.updated_at == BASE and not record.deleted
    if mode == "seek":
        assert recorder.queries() == ["order by $id asc limit 10", f"$id > {expected[9]} order by $id asc limit 10",
                                      f"$id > {expected[19]} order by $id asc limit 10"]
    else:
        [created] = recorder.bodies("POST", "/records/cursor.json")
        assert created == {"app": 12, "query": "order by $id asc", "size": 10}
        assert fake.open_cursors() == 0  # read to the end: released


def test_reads_never_use_offset_and_take_at_most_500(fake: FakeKintone) -> None:
    seed(fake, 1201, step=0)
    recorder = Recorder(fake)
    conn = connect(fake, recorder)
    assert len(ids(list(conn.read("customers", None)))) == 1201
    assert len(ids(list(conn.read("customers", {"since": "2024-05-01T12:00:00Z", "seen": []})))) == 1201
    queries = recorder.queries()
    assert len(queries) == 6
    for query in queries:
        assert "offset" not in query and query.endswith("limit 500")
    cursor = connect(fake, recorder, read_mode="cursor")
    assert len(ids(list(cursor.read("customers", None)))) == 1201
    assert all(b["size"] <= 500 and "limit" not in b["query"] for b in recorder.bodies("POST", "/records/cursor.json"))


@pytest.mark.parametrize("mode", ["seek", "cursor"])
def test_full_read_resumes_from_any_page_state(fake: FakeKintone, mode: str) -> None:
    expected = seed(fake, 25)
    conn = connect(fake, read_mode=mode, page_size=7)
    pages = list(conn.read("customers", None))
    for i, page in enumerate(pages[:-1]):
        resumed = list(conn.read("customers", page.state))
        assert ids(pages[: i + 1]) + ids(resumed) == expected
        assert resumed[-1].state == pages[-1].state  # same "started", so the same next since
    assert fake.open_cursors() == 0


def test_empty_app_yields_one_page_with_the_state(fake: FakeKintone) -> None:
    for mode in ("seek", "cursor"):
        pages = list(connect(fake, read_mode=mode).read("companies", None))
        assert len(pages) == 1 and pages[0].records == [] and "since" in pages[0].state


# -- incremental reads ---------------------------------------------------------------------------
def test_incremental_reads_only_changes_after_edits(fake: FakeKintone) -> None:
    rids = seed(fake, 20)
    recorder = Recorder(fake)
    conn = connect(fake, recorder)
    state = list(conn.read("customers", None))[-1].state
    fake.update("customers", rids[3], {"役職": "部長"})
    fake.update("customers", rids[7], {"部署": "営業部"})
    new = fake.insert("customers", {"姓": "新規"})
    fake.delete("customers", rids[9])  # kintone keeps no tombstones: nothing to read
    recorder.sent.clear()
    pages = list(conn.read("customers", state))
    changed = [r for p in pages for r in p.records]
    assert [r.id for r in changed] == [rids[3], rids[7], new]
    assert changed[0].data["役職"] == "部長" and changed[0].data["$revision"] == "2"
    assert recorder.queries()[0] == f'更新日時 >= "{state["since"]}" order by 更新日時 asc, $id asc limit 500'
    again = list(conn.read("customers", pages[-1].state))
    assert ids(again) == []


def test_companies_read_incrementally_too(fake: FakeKintone) -> None:
    rids = seed(fake, 3, stream="companies")
    conn = connect(fake)
    state = list(conn.read("companies", None))[-1].state
    fake.update("companies", rids[1], {"会社名": "改名株式会社"})
    changed = [r for p in conn.read("companies", state) for r in p.records]
    assert [(r.id, r.data["会社名"]) for r in changed] == [(rids[1], "改名株式会社")]


@pytest.mark.parametrize("mode", ["seek", "cursor"])
def test_many_records_sharing_a_minute_no_gap_no_duplicate_from_any_page(fake: FakeKintone, mode: str) -> None:
    seed(fake, 3, at=BASE - timedelta(hours=1))  # older than the state: never read
    t1, t2, t3 = (BASE + timedelta(minutes=m) for m in (1, 2, 3))
    expected = seed(fake, 25, at=t1, step=0) + seed(fake, 7, at=t2, step=0) + seed(fake, 5, at=t3, step=0)
    conn = connect(fake, read_mode=mode, page_size=10)
    start = {"since": "2024-05-01T12:00:00Z", "seen": []}
    pages = list(conn.read("customers", start))
    emitted = ids(pages)
    assert sorted(emitted, key=int) == sorted(expected, key=int) and len(emitted) == len(set(emitted))
    final = pages[-1].state
    assert final["since"] == "2024-05-01T12:03:00Z" and len(final["seen"]) == 5
    for i, page in enumerate(pages):
        before = ids(pages[: i + 1])
        after = ids(list(conn.read("customers", page.state)))
        assert not set(before) & set(after), f"duplicate after resuming from page {i}"
        assert sorted(before + after, key=int) == sorted(expected, key=int), f"gap after resuming from page {i}"
    assert fake.open_cursors() == 0


def test_a_record_changed_again_within_the_boundary_minute_is_read_again(fake: FakeKintone) -> None:
    rids = seed(fake, 3, at=BASE, step=0)
    conn = connect(fake)
    state = list(conn.read("customers", {"since": "2024-05-01T11:59:00Z", "seen": []}))[-1].state
    assert state["since"] == "2024-05-01T12:00:00Z" and len(state["seen"]) == 3
    fake.update("customers", rids[1], {"役職": "課長"}, at=BASE + timedelta(seconds=40))  # still 12:00
    assert fake.values("customers", rids[1])["更新日時"] == "2024-05-01T12:00:00Z"
    again = [r for p in conn.read("customers", state) for r in p.records]
    assert [(r.id, r.data["役職"]) for r in again] == [(rids[1], "課長")]


def test_records_changed_while_reading_are_not_lost(fake: FakeKintone) -> None:
    rids = seed(fake, 30, step=0)
    conn = connect(fake, page_size=10)
    reader = conn.read("customers", {"since": "2024-05-01T11:00:00Z", "seen": []})
    first = next(reader)
    fake.update("customers", first.records[0].id, {"役職": "moved to the end"}, at=BASE + timedelta(minutes=5))
    fake.delete("customers", rids[12])  # an unread record leaves: nothing shifts
    emitted = [r.id for r in first.records] + ids(list(reader))
    assert set(emitted) == set(rids) - {rids[12]}
    assert emitted.count(first.records[0].id) == 2  # read again, after its change


def test_an_english_app_needs_its_updated_time_field_code() -> None:
    fake = FakeKintone(token=TOKEN, language="en")
    seed(fake, 2)
    conn = connect(fake)  # the sandbox settings name Updated_datetime
    state = list(conn.read("customers", None))[-1].state
    assert ids(list(conn.read("customers", {"since": "2024-05-01T11:00:00Z", "seen": []}))) == ["1", "2"]
    wrong = connect(fake, updated_time_field="更新日時")
    with pytest.raises(ConfigError) as caught:
        list(wrong.read("customers", state))
    assert "Updated_datetime" in str(caught.value) and "updated_time_field" in str(caught.value)
    per_app = connect(fake, updated_time_field="更新日時",
                      apps={"customers": {"id": 12, "updated_time_field": "Updated_datetime"}})
    assert ids(list(per_app.read("customers", {"since": "2024-05-01T11:00:00Z", "seen": []}))) == ["1", "2"]


# -- cursors -------------------------------------------------------------------------------------
def test_an_expired_cursor_is_recreated_after_the_last_record(fake: FakeKintone) -> None:
    expected = seed(fake, 35)
    recorder = Recorder(fake)
    reader = connect(fake, recorder, read_mode="cursor", page_size=10).read("customers", None)
    first = next(reader)
    fake.advance_clock(601)  # the engine took eleven minutes over the first page
    rest = list(reader)
    assert ids([first, *rest]) == expected
    created = recorder.bodies("POST", "/records/cursor.json")
    assert [b["query"] for b in created] == ["order by $id asc", f"$id > {expected[9]} order by $id asc"]
    assert ("GET", "/k/v1/records/cursor.json", 404) in fake.requests
    assert fake.open_cursors() == 0


def test_a_retried_cursor_read_starts_a_new_cursor(fake: FakeKintone, no_sleep: list[float]) -> None:
    expected = seed(fake, 30)
    reader = connect(fake, read_mode="cursor", page_size=10).read("customers", None)
    first = next(reader)
    fake.inject(Fault(503, times=1, path_contains="/records/cursor.json"))
    rest = list(reader)
    assert ids([first, *rest]) == expected  # no page skipped, none twice
    assert len(calls(fake, "POST", "/records/cursor.json")) == 2
    assert no_sleep and fake.open_cursors() == 0


def test_no_cursor_left_on_the_domain_falls_back_to_seek(fake: FakeKintone, no_sleep: list[float]) -> None:
    expected = seed(fake, 12)
    with httpx.Client(base_url=fake.base_url, transport=fake.transport(), headers={"X-Cybozu-API-Token": TOKEN}) as other:
        for _ in range(10):  # other integrations hold every cursor of the domain
            assert other.post("/k/v1/records/cursor.json", json={"app": 12}).status_code == 200
    recorder = Recorder(fake)
    pages = list(connect(fake, recorder, read_mode="cursor", page_size=5).read("customers", None))
    assert ids(pages) == expected
    refused = [s for m, p, s in fake.requests if m == "POST" and p.endswith("/records/cursor.json")]
    assert refused[-1] == 429 and refused.count(429) == 1 and no_sleep == []  # not waited for: seek at once
    assert recorder.queries()[0] == "order by $id asc limit 5"


def test_an_abandoned_cursor_read_releases_its_cursor(fake: FakeKintone) -> None:
    seed(fake, 30)
    reader = connect(fake, read_mode="cursor", page_size=10).read("customers", None)
    next(reader)
    assert fake.open_cursors() == 1
    reader.close()
    assert fake.open_cursors() == 0
    assert ("DELETE", "/k/v1/records/cursor.json", 200) in fake.requests


# -- writes --------------------------------------------------------------------------------------
def test_upsert_round_trip_and_idempotent_re_upsert(fake: FakeKintone) -> None:
    conn = connect(fake)
    batch = [upsert("ent-1", 姓="山田", 名="太郎", 顧客ランク="見込み"), upsert("ent-2", 姓="佐藤", メールアドレス="s@example.jp")]
    created = conn.write("customers", batch)
    assert [r.status for r in created] == ["created", "created"] and all(r.target_id for r in created)
    values = fake.values("customers", created[0].target_id)
    assert (values["seamless_hub_id"], values["姓"], values["顧客ランク"]) == ("ent-1", "山田", "見込み")
    again = conn.write("customers", batch)
    assert [(r.status, r.target_id) for r in again] == [("updated", r.target_id) for r in created]
    assert len(fake.records("customers")) == 2
    [put] = calls(fake, "PUT", "/records.json")[:1]
    assert put["upsert"] is True and put["app"] == 12
    assert put["records"][0] == {"updateKey": {"field": "seamless_hub_id", "value": "ent-1"},
                                 "record": {"姓": {"value": "山田"}, "名": {"value": "太郎"}, "顧客ランク": {"value": "見込み"}}}
    # A known kintone id is updated by id; None clears a field; a read record round-trips.
    by_id = conn.write("customers", [WriteOp("ent-1", created[0].target_id, {"役職": "部長", "名": None})])
    assert (by_id[0].status, by_id[0].target_id) == ("updated", created[0].target_id)
    values = fake.values("customers", created[0].target_id)
    assert (values["役職"], values["名"]) == ("部長", "")
    [record] = [r for p in conn.read("customers", None) for r in p.records if r.id == created[0].target_id]
    assert record.data["役職"] == "部長" and record.data["seamless_hub_id"] == "ent-1"
    company = conn.write("companies", [upsert("org-1", 会社名="サイボウズ株式会社", 法人番号=1234567890123)])
    assert company[0].status == "created"
    assert fake.values("companies", company[0].target_id)["法人番号"] == "1234567890123"


def test_writes_send_at_most_100_records_a_call(fake: FakeKintone) -> None:
    existing = seed(fake, 150)
    conn = connect(fake)
    ops = [upsert(f"new-{i}", 姓=f"N{i}") for i in range(250)]
    ops += [WriteOp(f"old-{i}", rid, {"役職": "x"}) for i, rid in enumerate(existing)]
    ops += [WriteOp(f"gone-{i}", rid, {}, "delete") for i, rid in enumerate(existing[:120])]
    results = conn.write("customers", ops)
    assert [r.key for r in results] == [op.key for op in ops]  # one result per op, in order
    assert [r.status for r in results] == ["created"] * 250 + ["updated"] * 150 + ["deleted"] * 120
    puts = calls(fake, "PUT", "/records.json")
    assert [len(b["records"]) for b in puts] == [100, 100, 50, 100, 50]
    deletes = [r for r in fake.requests if r[0] == "DELETE"]
    assert len(deletes) == 2
    assert len(fake.records("customers")) == 150 + 250 - 120


def test_one_invalid_record_in_ten_fails_alone(fake: FakeKintone) -> None:
    ops = [upsert(f"ent-{i}", 姓=f"P{i}", 顧客ランク="見込み") for i in range(10)]
    ops[3] = upsert("ent-3", 姓="P3", 顧客ランク="VIP")
    results = connect(fake).write("customers", ops)
    assert [r.status for r in results] == ["created"] * 3 + ["failed"] + ["created"] * 6
    failed = results[3]
    assert failed.field == "顧客ランク"
    assert failed.error == 'CB_VA01 顧客ランク: "VIP"は選択肢にありません。'
    assert len(fake.records("customers")) == 9
    puts = calls(fake, "PUT", "/records.json")
    assert [len(b["records"]) for b in puts] == [10, 9]  # the refused call, then the nine again


def test_several_invalid_records_and_the_required_field(fake: FakeKintone) -> None:
    ops = [upsert("org-0", 会社名="A"), upsert("org-1", ドメイン="b.jp"), upsert("org-2", 会社名="C"),
           upsert("org-3", 会社名="")]
    results = connect(fake).write("companies", ops)
    assert [r.status for r in results] == ["created", "failed", "created", "failed"]
    assert results[1].field == results[3].field == "会社名" and "必須です。" in (results[1].error or "")


def test_updates_by_id_leave_the_key_alone_and_the_same_key_twice_is_split(fake: FakeKintone) -> None:
    owner = fake.insert("customers", {"姓": "先客", "seamless_hub_id": "ent-9"})
    conn = connect(fake)
    mixed = conn.write("customers", [WriteOp("ent-1", None, {"姓": "A"}), WriteOp("ent-2", owner, {"姓": "B"})])
    assert [r.status for r in mixed] == ["created", "updated"]
    assert fake.values("customers", owner)["seamless_hub_id"] == "ent-9"  # a record linked by id keeps its key
    twice = conn.write("customers", [upsert("ent-5", 姓="One"), upsert("ent-5", 姓="Two")])
    assert [r.status for r in twice] == ["created", "updated"] and twice[0].target_id == twice[1].target_id
    assert fake.find("customers", "seamless_hub_id", "ent-5")["姓"]["value"] == "Two"
    assert not [r for r in fake.requests if r[2] >= 400]


def test_revision_conflict_and_missing_records_fail_alone(fake: FakeKintone) -> None:
    rids = seed(fake, 4)
    fake.update("customers", rids[1], {"役職": "someone else"})  # now at revision 2
    ops = [WriteOp("a", rids[0], {"役職": "x", "$revision": "1"}), WriteOp("b", rids[1], {"役職": "y", "$revision": "1"}),
           WriteOp("c", rids[2], {"役職": "z"}), WriteOp("d", "9999", {"役職": "w"})]
    results = connect(fake).write("customers", ops)
    assert [r.status for r in results] == ["updated", "failed", "updated", "failed"]
    assert (results[1].error or "").startswith("GAIA_CO02") and (results[3].error or "").startswith("GAIA_RE01")
    assert fake.values("customers", rids[1])["役職"] == "someone else"
    assert fake.values("customers", rids[2])["役職"] == "z"


def test_deletes(fake: FakeKintone) -> None:
    rids = seed(fake, 3)
    results = connect(fake).write("customers", [WriteOp("a", rids[0], {}, "delete"), WriteOp("b", rids[1], {}, "archive"),
                                                WriteOp("c", "9999", {}, "delete"), WriteOp("d", None, {}, "delete")])
    assert [r.status for r in results] == ["deleted", "deleted", "deleted", "failed"]  # 9999: gone already
    assert [r["$id"]["value"] for r in fake.records("customers")] == [rids[2]]


def test_an_unknown_field_fails_only_the_records_that_set_it(fake: FakeKintone) -> None:
    results = connect(fake).write("customers", [upsert("ent-1", 姓="A"), upsert("ent-2", favourite="x")])
    assert [r.status for r in results] == ["created", "failed"]
    assert results[1].field == "favourite" and "GAIA_FC01" in (results[1].error or "")


def test_a_missing_upsert_key_field_is_a_configuration_error(fake: FakeKintone) -> None:
    fake.remove_field("customers", "seamless_hub_id")
    with pytest.raises(ConfigError) as caught:
        connect(fake).write("customers", [upsert("ent-1", 姓="A"), upsert("ent-2", 姓="B")])
    assert "seamless_hub_id" in str(caught.value) and "重複禁止" in str(caught.value)
    assert len(calls(fake, "PUT", "/records.json")) == 1  # no record-by-record retry of a config problem


def test_a_custom_update_key(fake: FakeKintone) -> None:
    from plugins.kintone.fake import text

    fake.add_field("customers", text("顧客コード", unique=True))
    conn = connect(fake, apps={"customers": {"id": 12, "update_key": "顧客コード"}})
    first = conn.write("customers", [upsert("C-1", 姓="A")])
    again = conn.write("customers", [upsert("C-1", 姓="B")])
    assert (first[0].status, again[0].status) == ("created", "updated")
    assert fake.values("customers", first[0].target_id)["顧客コード"] == "C-1"


# -- transient failures, auth, secrets -----------------------------------------------------------
def test_429_waits_what_retry_after_says(fake: FakeKintone, no_sleep: list[float]) -> None:
    seed(fake, 3)
    fake.inject(Fault(429, times=2, retry_after=7, body={"code": "GAIA_TO04", "message": "too many"}))
    pages = list(connect(fake).read("customers", None))
    assert len(ids(pages)) == 3
    assert no_sleep.count(7.0) == 2
    assert [s for _, _, s in fake.requests[:3]] == [429, 429, 200]


def test_503_and_database_locks_are_retried(fake: FakeKintone, no_sleep: list[float]) -> None:
    seed(fake, 3)
    fake.inject(Fault(503, times=2, path_contains="/records.json"))
    assert len(ids(list(connect(fake).read("customers", None)))) == 3
    fake.inject(Fault(409, times=1, body={"code": "GAIA_DA02", "message": "データベースのロックに失敗しました。"}))
    assert connect(fake).write("customers", [upsert("ent-1", 姓="A")])[0].status == "created"
    assert [s for m, p, s in fake.requests if m == "PUT"] == [409, 200]
    assert len(no_sleep) >= 3


def test_a_520_refusal_is_not_retried(no_sleep: list[float]) -> None:
    fake = FakeKintone(token=TOKEN, guest_space=5)
    conn = connect(fake, guest_space_id=None)
    with pytest.raises(VendorError) as caught:
        list(conn.read("customers", None))
    assert "GAIA_IL23" in str(caught.value) and caught.value.status == 520
    assert len(fake.requests) == 1 and no_sleep == []
    assert len(ids(list(connect(fake).read("customers", None)))) == 0  # /k/guest/5/v1/ answers


def test_the_token_never_appears_in_errors_settings_or_logs(fake: FakeKintone, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.grant(OTHER_TOKEN, apps=[13])
    conn = connect(fake, api_token=f"{TOKEN},{OTHER_TOKEN}")
    fake.inject(Fault(400, body={"code": "GAIA_IA02", "message": f"token {OTHER_TOKEN} is not valid"}))
    with pytest.raises(AuthError) as refused:
        list(conn.read("customers", None))
    fake.inject(Fault(500, times=50, body={"message": f"internal error while using {TOKEN}"}))
    with pytest.raises(RetriableError) as storm:
        conn.write("customers", [upsert("ent-1", 姓="A")])
    fake.faults.clear()
    fake.inject(Fault(500, times=50, body={"message": f"internal error while using {TOKEN},{OTHER_TOKEN}"}))
    result = conn.check()
    fake.faults.clear()
    assert not result.ok
    for text in (str(refused.value), str(storm.value), refused.value.body or "", result.message, caplog.text,
                 repr(conn.settings), str(conn.settings)):
        assert TOKEN not in text and OTHER_TOKEN not in text
    assert "***" in str(refused.value) and "***" in str(storm.value)


def test_kintone_token_refusals_are_auth_errors(fake: FakeKintone) -> None:
    wrong = connect(fake, api_token="kintone-wrong-token-000000")
    with pytest.raises(AuthError) as caught:
        list(wrong.read("customers", None))
    assert "GAIA_IA02" in str(caught.value) and caught.value.status == 400
    result = wrong.check()
    assert not result.ok and "API token" in result.message
    fake.grant(OTHER_TOKEN, apps=[12], permissions=["view"])
    customers_only = connect(fake, api_token=OTHER_TOKEN)
    assert len(list(customers_only.read("customers", None))) == 1
    with pytest.raises(AuthError, match="GAIA_NO01"):
        customers_only.write("customers", [upsert("ent-1", 姓="A")])
    check = customers_only.check()
    assert not check.ok and "app 13 (companies)" in check.message


def test_an_unknown_app_id_is_a_configuration_error(fake: FakeKintone) -> None:
    conn = connect(fake, apps={"customers": 99})
    with pytest.raises(ConfigError, match="no app 99"):
        list(conn.read("customers", None))
    assert not conn.check().ok


def test_a_body_that_is_not_json_is_a_vendor_error_naming_the_stream(fake: FakeKintone) -> None:
    fake.inject(Fault(200, raw=b"<html>maintenance</html>", path_contains="/records.json"))
    with pytest.raises(VendorError) as caught:
        list(connect(fake).read("companies", None))
    assert str(caught.value).startswith("[kintone/companies]") and "not JSON" in str(caught.value)


# -- check, discover, guest spaces ---------------------------------------------------------------
def test_check_and_discover(fake: FakeKintone) -> None:
    recorder = Recorder(fake)
    conn = connect(fake, recorder)
    result = conn.check()
    assert result.ok and "customers = app 12 (顧客管理)" in result.message
    assert recorder.sent[0].url.path == "/k/v1/app.json" and recorder.sent[0].url.params["id"] == "12"
    assert recorder.sent[0].headers["X-Cybozu-API-Token"] == TOKEN
    fields = conn.discover()
    customers = {f.name: f for f in fields["customers"]}
    assert customers["顧客ランク"].type == "DROP_DOWN" and customers["顧客ランク"].custom and customers["顧客ランク"].writable
    assert customers["seamless_hub_id"].custom
    for system in ("レコード番号", "作成日時", "更新日時", "作成者", "更新者", "$id", "$revision"):
        assert not customers[system].custom and not customers[system].writable, system
    assert {"会社名", "法人番号", "ドメイン"} <= {f.name for f in fields["companies"] if f.custom}
    assert not connect(fake, apps={}).check().ok


def test_apps_in_a_guest_space() -> None:
    fake = FakeKintone(token=TOKEN, guest_space=5)
    recorder = Recorder(fake)
    conn = connect(fake, recorder)
    assert conn.check().ok
    assert conn.write("customers", [upsert("ent-1", 姓="A")])[0].status == "created"
    assert len(ids(list(conn.read("customers", None)))) == 1
    assert {r.url.path.split("/v1/")[0] for r in recorder.sent} == {"/k/guest/5"}


# -- over real HTTP ------------------------------------------------------------------------------
@pytest.fixture
def served(fake: FakeKintone) -> Iterator[str]:
    """The fake as an ASGI app under uvicorn on a free loopback port, stopped afterwards."""
    with serve_in_thread(fake.asgi()) as url:
        yield url


def test_the_fake_served_by_uvicorn_answers_real_http(fake: FakeKintone, served: str) -> None:
    conn = Kintone(Kintone.Settings(**{**sandbox_settings(fake), "base_url": served, "read_mode": "cursor"}))
    try:
        assert conn.check().ok
        written = conn.write("customers", [upsert("ent-1", 姓="ネット", 顧客ランク="商談中")])
        assert written[0].status == "created"
        records = [r for p in conn.read("customers", None) for r in p.records]
        assert [(r.id, r.data["姓"], r.data["顧客ランク"]) for r in records] == [(written[0].target_id, "ネット", "商談中")]
        changed = [r for p in conn.read("customers", {"since": "2000-01-01T00:00:00Z", "seen": []}) for r in p.records]
        assert [r.id for r in changed] == [written[0].target_id]
    finally:
        conn.close()
    with httpx.Client(base_url=served) as anonymous:
        assert anonymous.get("/k/v1/records.json", params={"app": 12}).status_code == 401


def test_built_directly_it_keeps_the_published_limit_and_none_means_none() -> None:
    fake = FakeKintone()
    assert connect(fake).http.budget is not None  # kintone publishes 10,000 requests a day
    settings = Kintone.Settings(**sandbox_settings(fake))
    assert Kintone(settings, transport=fake.transport(), budget=None).http.budget is None
