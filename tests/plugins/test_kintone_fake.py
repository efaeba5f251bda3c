"""The kintone sandbox fake answers the way cybozu documents the kintone REST API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from plugins.kintone.fake import APP_IDS, FakeKintone, QueryError, parse_query, text

TOKEN = "kintone-fake-token-0123456789"
BASE = datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC)
CUSTOMERS, COMPANIES = APP_IDS["customers"], APP_IDS["companies"]
MINUTE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$")


@pytest.fixture
def fake() -> FakeKintone:
    return FakeKintone(token=TOKEN)


@pytest.fixture
def client(fake: FakeKintone) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, transport=fake.transport(),
                      headers={"X-Cybozu-API-Token": TOKEN}) as c:
        yield c


def seed(fake: FakeKintone, n: int, stream: str = "customers", at: datetime = BASE) -> list[str]:
    name = "姓" if stream == "customers" else "会社名"
    return [fake.insert(stream, {name: f"R{i}"}, at=at + timedelta(minutes=i)) for i in range(n)]


def query(client: httpx.Client, q: str, app: int = CUSTOMERS, **params: Any) -> httpx.Response:
    return client.get("/k/v1/records.json", params={"app": app, "query": q, **params})


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["$id"]["value"] for r in response.json()["records"]]


def put(client: httpx.Client, records: list[dict[str, Any]], *, upsert: bool = False, app: int = CUSTOMERS) -> httpx.Response:
    body: dict[str, Any] = {"app": app, "records": records}
    if upsert:
        body["upsert"] = True
    return client.put("/k/v1/records.json", json=body)


# -- auth ----------------------------------------------------------------------------------------
def test_api_token_auth(fake: FakeKintone) -> None:
    def call(token: str | None, method: str = "GET", **kw: Any) -> httpx.Response:
        headers = {"X-Cybozu-API-Token": token} if token is not None else {}
        with httpx.Client(base_url=fake.base_url, transport=fake.transport(), headers=headers) as c:
            return c.request(method, "/k/v1/records.json", **kw)

    anonymous = call(None, params={"app": CUSTOMERS})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "CB_AU01"
    wrong = call("not-a-token", params={"app": CUSTOMERS})
    assert wrong.status_code == 400 and wrong.json()["code"] == "GAIA_IA02"
    assert "not-a-token" not in wrong.text
    assert set(wrong.json()) == {"code", "id", "message"}
    # One app's token: the other app is GAIA_NO01; a view-only token cannot write.
    fake.grant("customers-view", apps=[CUSTOMERS], permissions=["view"])
    fake.grant("companies-all", apps=[COMPANIES])
    assert call("customers-view", params={"app": CUSTOMERS}).status_code == 200
    other = call("customers-view", params={"app": COMPANIES})
    assert other.status_code == 403 and other.json()["code"] == "GAIA_NO01"
    denied = call("customers-view", "PUT", json={"app": CUSTOMERS, "records": []})
    assert denied.status_code == 403 and denied.json()["code"] == "GAIA_NO01"
    # Several tokens, comma-separated, one per app; any unknown one fails the request.
    assert call("customers-view, companies-all", params={"app": COMPANIES}).status_code == 200
    assert call("customers-view,nope", params={"app": CUSTOMERS}).json()["code"] == "GAIA_IA02"


def test_sandbox_settings_point_at_the_fake_apps(fake: FakeKintone) -> None:
    assert fake.extra_settings() == {"api_token": TOKEN, "apps": {"customers": 12, "companies": 13}}
    english = FakeKintone(token=TOKEN, language="en", guest_space=7)
    assert english.extra_settings() == {"api_token": TOKEN, "apps": {"customers": 12, "companies": 13},
                                        "updated_time_field": "Updated_datetime", "guest_space_id": 7}


def test_unknown_route_app_and_record(client: httpx.Client) -> None:
    assert client.get("/k/v1/nothing.json").status_code == 404
    missing_app = client.get("/k/v1/app.json", params={"id": 999})
    assert missing_app.status_code == 404 and missing_app.json()["code"] == "GAIA_AP01"
    no_app = client.get("/k/v1/records.json")
    assert no_app.status_code == 400 and no_app.json()["errors"] == {"app": {"messages": ["必須です。"]}}
    missing = client.get("/k/v1/record.json", params={"app": CUSTOMERS, "id": 5})
    assert missing.status_code == 404 and missing.json()["code"] == "GAIA_RE01"


# -- apps ----------------------------------------------------------------------------------------
def test_app_and_form_fields(client: httpx.Client) -> None:
    app = client.get("/k/v1/app.json", params={"id": CUSTOMERS}).json()
    assert app["appId"] == "12" and app["name"] == "顧客管理"
    props = client.get("/k/v1/app/form/fields.json", params={"app": CUSTOMERS}).json()["properties"]
    for code in ("会社名", "姓", "名", "姓かな", "名かな", "メールアドレス", "電話番号", "携帯番号", "郵便番号",
                 "都道府県", "市区町村", "住所", "部署", "役職", "顧客ランク", "seamless_hub_id"):
        assert props[code]["code"] == code
    assert {props[c]["type"] for c in ("レコード番号", "作成日時", "更新日時")} == {
        "RECORD_NUMBER", "CREATED_TIME", "UPDATED_TIME"}
    assert props["顧客ランク"]["type"] == "DROP_DOWN"
    assert list(props["顧客ランク"]["options"]) == ["見込み", "商談中", "既存顧客", "その他"]
    assert props["seamless_hub_id"]["unique"] is True
    companies = client.get("/k/v1/app/form/fields.json", params={"app": COMPANIES}).json()["properties"]
    assert {"会社名", "会社名かな", "法人番号", "ドメイン", "電話番号", "seamless_hub_id"} <= set(companies)
    assert companies["会社名"]["required"] is True


def test_english_environment_names_system_fields_in_english() -> None:
    fake = FakeKintone(token=TOKEN, language="en")
    rid = fake.insert("customers", {"姓": "Smith"}, at=BASE)
    values = fake.values("customers", rid)
    assert values["Updated_datetime"] == "2024-05-01T12:00:00Z" and values["Record_number"] == rid
    assert "更新日時" not in values


# -- data API ------------------------------------------------------------------------------------
def test_data_api_shapes_timestamps_and_revisions(fake: FakeKintone) -> None:
    rid = fake.insert("customers", {"姓": "山田", "名": "太郎", "顧客ランク": "見込み"}, at=BASE)
    record = fake.record("customers", rid)
    assert record is not None
    assert record["$id"] == {"type": "__ID__", "value": rid}
    assert record["$revision"] == {"type": "__REVISION__", "value": "1"}
    assert record["姓"] == {"type": "SINGLE_LINE_TEXT", "value": "山田"}
    assert record["レコード番号"]["value"] == rid
    # kintone keeps record timestamps to the minute.
    assert record["作成日時"]["value"] == record["更新日時"]["value"] == "2024-05-01T12:00:00Z"
    fake.update("customers", rid, {"役職": "部長"}, at=BASE + timedelta(minutes=3, seconds=29))
    values = fake.values("customers", rid)
    assert (values["役職"], values["$revision"], values["更新日時"]) == ("部長", "2", "2024-05-01T12:03:00Z")
    assert values["作成日時"] == "2024-05-01T12:00:00Z"
    assert fake.find("customers", "役職", "部長")["$id"]["value"] == rid
    now = fake.insert("companies", {"会社名": "サイボウズ"})
    assert MINUTE.match(fake.values("companies", now)["更新日時"])
    with pytest.raises(ValueError, match="no field"):
        fake.insert("customers", {"favourite": "x"})
    fake.delete("customers", rid)
    assert fake.record("customers", rid) is None
    with pytest.raises(KeyError):
        fake.update("customers", rid, {"姓": "x"})


def test_record_ids_are_per_app(fake: FakeKintone) -> None:
    assert [fake.insert("customers", {}), fake.insert("companies", {}), fake.insert("customers", {})] == ["1", "1", "2"]


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "kintone.json"
    first = FakeKintone(state_path=path, token=TOKEN)
    rid = first.insert("customers", {"姓": "保存"})
    first.save()
    second = FakeKintone(state_path=path, token=TOKEN)
    assert second.values("customers", rid)["姓"] == "保存"
    assert second.insert("customers", {}) == str(int(rid) + 1)


# -- queries -------------------------------------------------------------------------------------
def test_query_defaults_limits_and_errors(fake: FakeKintone, client: httpx.Client) -> None:
    seed(fake, 120)
    default = query(client, "")
    assert ids(default)[:3] == ["120", "119", "118"] and len(ids(default)) == 100  # $id desc, limit 100
    assert len(ids(query(client, "limit 500"))) == 120
    too_many = query(client, "limit 501")
    assert too_many.status_code == 400 and too_many.json()["code"] == "GAIA_QU01"
    assert ids(query(client, "order by $id asc limit 5 offset 10000")) == []
    too_far = query(client, "order by $id asc limit 5 offset 10001")
    assert too_far.status_code == 400 and too_far.json()["code"] == "GAIA_QU02"
    unknown = query(client, 'Updated_datetime > "2024-01-01T00:00:00Z"')
    assert unknown.status_code == 400 and unknown.json()["code"] == "GAIA_IQ11"
    assert "Updated_datetime" in unknown.json()["message"]
    syntax = query(client, "$id >")
    assert syntax.status_code == 400 and syntax.json()["code"] == "CB_VA01"
    assert syntax.json()["errors"] == {"query": {"messages": ["クエリ記法が間違っています。"]}}
    counted = query(client, "$id <= 10 limit 3", totalCount="true").json()
    assert counted["totalCount"] == "10" and len(counted["records"]) == 3
    assert query(client, "limit 1").json()["totalCount"] is None


def test_query_comparisons_on_id_and_timestamps(fake: FakeKintone, client: httpx.Client) -> None:
    seed(fake, 10)  # 12:00 ... 12:09, one a minute
    assert ids(query(client, "$id > 7 order by $id asc")) == ["8", "9", "10"]
    assert ids(query(client, '更新日時 >= "2024-05-01T12:08:00Z" order by $id asc')) == ["9", "10"]
    # Offsets are honoured: 21:05 in Tokyo is 12:05 UTC.
    assert ids(query(client, '更新日時 = "2024-05-01T21:05:00+09:00"')) == ["6"]
    assert ids(query(client, '更新日時 < "2024-05-01T21:02:00+0900" order by $id asc')) == ["1", "2"]
    keyset = '(更新日時 = "2024-05-01T12:03:00Z" and $id > 3) or 更新日時 > "2024-05-01T12:07:00Z" order by 更新日時 asc, $id asc'
    assert ids(query(client, keyset)) == ["4", "9", "10"]
    assert ids(query(client, '$id in ("2", "4") or 姓 = "R6" order by $id desc')) == ["7", "4", "2"]
    assert ids(query(client, '姓 like "R" and $id != 1 and $id < 4 order by $id asc')) == ["2", "3"]


def test_order_by_several_fields(fake: FakeKintone, client: httpx.Client) -> None:
    for i in range(6):
        fake.insert("customers", {"姓": f"R{i}"}, at=BASE + timedelta(minutes=i % 2))
    ordered = ids(query(client, "order by 更新日時 asc, $id desc"))
    assert ordered == ["5", "3", "1", "6", "4", "2"]


def test_fields_parameter_limits_the_answer(fake: FakeKintone, client: httpx.Client) -> None:
    seed(fake, 1)
    record = query(client, "", **{"fields[0]": "姓", "fields[1]": "$id"}).json()["records"][0]
    assert set(record) == {"姓", "$id"}


def test_parse_query() -> None:
    parsed = parse_query('(a = "x" and $id > 3) or b in ("1","2") order by a asc, $id desc limit 10 offset 5')
    assert parsed.order == [("a", "asc"), ("$id", "desc")] and (parsed.limit, parsed.offset) == (10, 5)
    assert sorted(set(parsed.field_codes())) == ["$id", "a", "b"]
    assert parse_query("order by 更新日時").order == [("更新日時", "desc")]  # kintone's default direction
    assert parse_query('a = "say \\"hi\\""').where == ("cmp", "a", "=", 'say "hi"')
    for bad in ("a =", "limit x", "a = 1 limit 1 offset", "(a = 1", "a ~ 1", "and"):
        with pytest.raises(QueryError):
            parse_query(bad)


# -- writes --------------------------------------------------------------------------------------
def test_add_records_validates_all_or_nothing(fake: FakeKintone, client: httpx.Client) -> None:
    good = client.post("/k/v1/records.json", json={"app": CUSTOMERS, "records": [
        {"姓": {"value": "山田"}}, {"姓": {"value": "佐藤"}, "seamless_hub_id": {"value": "k-1"}}]})
    assert good.status_code == 200 and good.json() == {"ids": ["1", "2"], "revisions": ["1", "1"]}
    bad = client.post("/k/v1/records.json", json={"app": CUSTOMERS, "records": [
        {"姓": {"value": "A"}}, {"顧客ランク": {"value": "VIP"}}, {"seamless_hub_id": {"value": "k-1"}},
        {"seamless_hub_id": {"value": "k-2"}}, {"seamless_hub_id": {"value": "k-2"}}]})
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "CB_VA01" and body["message"] == "入力内容が正しくありません。"
    assert body["errors"] == {
        "records[1].顧客ランク.value": {"messages": ['"VIP"は選択肢にありません。']},
        "records[2].seamless_hub_id.value": {"messages": ["値がほかのレコードと重複しています。"]},
        "records[4].seamless_hub_id.value": {"messages": ["値がほかのレコードと重複しています。"]},
    }
    assert len(fake.records("customers")) == 2  # nothing of the refused request was written
    required = client.post("/k/v1/records.json", json={"app": COMPANIES, "records": [{"ドメイン": {"value": "x.jp"}}]})
    assert required.json()["errors"] == {"records[0].会社名.value": {"messages": ["必須です。"]}}
    unknown = client.post("/k/v1/records.json", json={"app": CUSTOMERS, "records": [{"favourite": {"value": "x"}}]})
    assert unknown.status_code == 400 and unknown.json()["code"] == "GAIA_FC01" and "favourite" in unknown.json()["message"]
    long_key = client.post("/k/v1/records.json", json={"app": CUSTOMERS, "records": [{"seamless_hub_id": {"value": "k" * 65}}]})
    assert long_key.json()["errors"] == {"records[0].seamless_hub_id.value": {"messages": ["64文字より短くなければなりません。"]}}


def test_writes_take_at_most_100_records(client: httpx.Client) -> None:
    added = client.post("/k/v1/records.json", json={"app": CUSTOMERS, "records": [{} for _ in range(101)]})
    assert added.status_code == 400 and added.json()["errors"] == {"records": {"messages": ["一度に100件までのレコードを追加できます。"]}}
    updated = put(client, [{"id": i, "record": {}} for i in range(101)])
    assert updated.json()["errors"] == {"records": {"messages": ["一度に100件までのレコードを更新できます。"]}}
    deleted = client.delete("/k/v1/records.json", params={"app": CUSTOMERS, **{f"ids[{i}]": i for i in range(101)}})
    assert deleted.json()["errors"] == {"ids": {"messages": ["一度に100件までのレコードを削除できます。"]}}


def test_update_by_id_revision_and_missing_record(fake: FakeKintone, client: httpx.Client) -> None:
    rid = fake.insert("customers", {"姓": "山田"}, at=BASE)
    done = put(client, [{"id": rid, "revision": 1, "record": {"役職": {"value": "課長"}}}])
    assert done.json() == {"records": [{"id": rid, "revision": "2"}]}
    assert fake.values("customers", rid)["役職"] == "課長" and fake.values("customers", rid)["姓"] == "山田"
    stale = put(client, [{"id": rid, "revision": 1, "record": {"役職": {"value": "部長"}}}])
    assert stale.status_code == 409 and stale.json()["code"] == "GAIA_CO02"
    missing = put(client, [{"id": rid, "record": {"役職": {"value": "x"}}}, {"id": 999, "record": {}}])
    assert missing.status_code == 404 and missing.json()["code"] == "GAIA_RE01" and "999" in missing.json()["message"]
    assert fake.values("customers", rid)["役職"] == "課長"  # all or nothing
    # System fields in an update are ignored; the update time moves on.
    put(client, [{"id": rid, "record": {"更新日時": {"value": "2000-01-01T00:00:00Z"}, "レコード番号": {"value": "9"}}}])
    values = fake.values("customers", rid)
    assert values["更新日時"] != "2000-01-01T00:00:00Z" and values["レコード番号"] == rid


def test_upsert_by_update_key(fake: FakeKintone, client: httpx.Client) -> None:
    existing = fake.insert("customers", {"姓": "山田", "seamless_hub_id": "ent-1"})
    answer = put(client, [
        {"updateKey": {"field": "seamless_hub_id", "value": "ent-1"}, "record": {"役職": {"value": "部長"}}},
        {"updateKey": {"field": "seamless_hub_id", "value": "ent-2"}, "record": {"姓": {"value": "佐藤"}}},
    ], upsert=True)
    assert answer.status_code == 200, answer.text
    assert answer.json()["records"] == [
        {"id": existing, "revision": "2", "operation": "UPDATE"},
        {"id": "2", "revision": "1", "operation": "INSERT"},
    ]
    assert fake.values("customers", "2")["seamless_hub_id"] == "ent-2"  # the key is set on insert
    # Without upsert, a key nobody has is a missing record.
    missing = put(client, [{"updateKey": {"field": "seamless_hub_id", "value": "ent-9"}, "record": {}}])
    assert missing.status_code == 404 and missing.json()["code"] == "GAIA_RE01"
    # Only a field with "prohibit duplicate values" can be the updateKey.
    not_unique = put(client, [{"updateKey": {"field": "姓", "value": "山田"}, "record": {}}], upsert=True)
    assert not_unique.status_code == 400 and list(not_unique.json()["errors"]) == ["records[0].updateKey.field"]
    fake.remove_field("customers", "seamless_hub_id")
    gone = put(client, [{"updateKey": {"field": "seamless_hub_id", "value": "ent-1"}, "record": {}}], upsert=True)
    assert list(gone.json()["errors"]) == ["records[0].updateKey.field"]
    both = put(client, [{"id": 1, "updateKey": {"field": "姓", "value": "x"}, "record": {}}])
    assert list(both.json()["errors"]) == ["records[0].id"]


def test_delete_records(fake: FakeKintone, client: httpx.Client) -> None:
    rids = seed(fake, 3)
    missing = client.delete("/k/v1/records.json", params={"app": CUSTOMERS, "ids[0]": rids[0], "ids[1]": 99})
    assert missing.status_code == 404 and missing.json()["code"] == "GAIA_RE01"
    assert len(fake.records("customers")) == 3
    done = client.delete("/k/v1/records.json", params={"app": CUSTOMERS, "ids[0]": rids[0], "ids[1]": rids[2]})
    assert done.status_code == 200 and done.json() == {}
    assert [r["$id"]["value"] for r in fake.records("customers")] == [rids[1]]
    stale = client.request("DELETE", "/k/v1/records.json", json={"app": CUSTOMERS, "ids": [rids[1]], "revisions": [5]})
    assert stale.status_code == 409 and stale.json()["code"] == "GAIA_CO02"


# -- cursors -------------------------------------------------------------------------------------
def test_cursor_pages_to_the_end_and_releases_itself(fake: FakeKintone, client: httpx.Client) -> None:
    seed(fake, 7)
    created = client.post("/k/v1/records/cursor.json",
                          json={"app": CUSTOMERS, "query": "$id > 2 order by $id asc", "size": 2})
    assert created.status_code == 200
    cursor = created.json()
    assert cursor["totalCount"] == "5" and fake.open_cursors() == 1
    pages = []
    while True:
        page = client.get("/k/v1/records/cursor.json", params={"id": cursor["id"]}).json()
        pages.append([r["$id"]["value"] for r in page["records"]])
        if not page["next"]:
            break
    assert pages == [["3", "4"], ["5", "6"], ["7"]]
    assert fake.open_cursors() == 0
    gone = client.get("/k/v1/records/cursor.json", params={"id": cursor["id"]})
    assert gone.status_code == 404 and gone.json()["code"] == "GAIA_RE03"


def test_cursor_rules(fake: FakeKintone, client: httpx.Client) -> None:
    big = client.post("/k/v1/records/cursor.json", json={"app": CUSTOMERS, "size": 501})
    assert big.status_code == 400 and list(big.json()["errors"]) == ["size"]
    limited = client.post("/k/v1/records/cursor.json", json={"app": CUSTOMERS, "query": "limit 10"})
    assert limited.status_code == 400 and list(limited.json()["errors"]) == ["query"]
    opened = [client.post("/k/v1/records/cursor.json", json={"app": CUSTOMERS}).json()["id"] for _ in range(10)]
    full = client.post("/k/v1/records/cursor.json", json={"app": CUSTOMERS})
    assert full.status_code == 429 and full.json()["code"] == "GAIA_TM12"
    assert client.request("DELETE", "/k/v1/records/cursor.json", json={"id": opened[0]}).json() == {}
    assert client.post("/k/v1/records/cursor.json", json={"app": CUSTOMERS}).status_code == 200
    again = client.delete("/k/v1/records/cursor.json", params={"id": opened[0]})
    assert again.status_code == 404 and again.json()["code"] == "GAIA_RE03"


def test_cursor_expires_ten_minutes_after_its_last_use(fake: FakeKintone, client: httpx.Client) -> None:
    seed(fake, 5)
    cursor = client.post("/k/v1/records/cursor.json", json={"app": CUSTOMERS, "size": 1}).json()["id"]
    fake.advance_clock(590)
    assert client.get("/k/v1/records/cursor.json", params={"id": cursor}).status_code == 200  # touched again
    fake.advance_clock(590)
    assert client.get("/k/v1/records/cursor.json", params={"id": cursor}).status_code == 200
    fake.advance_clock(601)
    expired = client.get("/k/v1/records/cursor.json", params={"id": cursor})
    assert expired.status_code == 404 and expired.json()["code"] == "GAIA_RE03"
    assert fake.open_cursors() == 0


# -- guest spaces, faults --------------------------------------------------------------------------
def test_guest_space_apps_answer_only_under_the_guest_path() -> None:
    fake = FakeKintone(token=TOKEN, guest_space=5)
    with httpx.Client(base_url=fake.base_url, transport=fake.transport(), headers={"X-Cybozu-API-Token": TOKEN}) as c:
        wrong = c.get("/k/v1/records.json", params={"app": CUSTOMERS})
        assert wrong.status_code == 520 and wrong.json()["code"] == "GAIA_IL23"
        assert c.get("/k/guest/5/v1/records.json", params={"app": CUSTOMERS}).status_code == 200


def test_added_fields_reach_existing_records(fake: FakeKintone, client: httpx.Client) -> None:
    rid = fake.insert("customers", {"姓": "山田"})
    fake.add_field("customers", text("顧客コード", unique=True))
    assert fake.values("customers", rid)["顧客コード"] == ""
    upsert = put(client, [{"updateKey": {"field": "顧客コード", "value": "C-1"}, "record": {}}], upsert=True)
    assert upsert.json()["records"][0]["operation"] == "INSERT"
