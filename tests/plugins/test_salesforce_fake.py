"""The Salesforce sandbox fake answers like the REST API documents (no connector involved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.sandbox.fake import sandbox_settings
from plugins.salesforce.fake import KEY_PREFIX, FakeSalesforce, checksum, make_id, parse_time, to_id18

V = "/services/data/v60.0"


@pytest.fixture
def fake() -> FakeSalesforce:
    return FakeSalesforce()


def token(fake: FakeSalesforce, **form: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "client_id": fake.client_id, "client_secret": fake.token,
            "refresh_token": fake.refresh_token, **form}
    with httpx.Client(transport=fake.transport(), base_url=fake.base_url) as client:
        return client.post("/services/oauth2/token", data={k: v for k, v in data.items() if v is not None})


@pytest.fixture
def api(fake: FakeSalesforce) -> httpx.Client:
    access = token(fake).json()["access_token"]
    return httpx.Client(transport=fake.transport(), base_url=fake.base_url,
                        headers={"Authorization": f"Bearer {access}"})


def query(api: httpx.Client, soql: str, **headers: str) -> httpx.Response:
    return api.get(f"{V}/query", params={"q": soql}, headers=headers)


def upsert(api: httpx.Client, obj: str, records: list[dict[str, Any]], ext: str = "Seamless_Hub_Id__c",
           all_or_none: bool = False) -> httpx.Response:
    body = {"allOrNone": all_or_none, "records": [{"attributes": {"type": obj}, **r} for r in records]}
    return api.patch(f"{V}/composite/sobjects/{obj}/{ext}", json=body)


def ago(fake: FakeSalesforce, **delta: float) -> datetime:
    return fake.now() - timedelta(**delta)


# -- ids, data API ------------------------------------------------------------------------------
def test_ids_are_18_characters_with_key_prefix_and_checksum(fake: FakeSalesforce) -> None:
    ids = {obj: fake.insert(obj, {"LastName": "X"} if obj in ("Lead", "Contact") else {}) for obj in KEY_PREFIX}
    for obj, record_id in ids.items():
        assert len(record_id) == 18 and record_id.startswith(KEY_PREFIX[obj])
        assert checksum(record_id[:15]) == record_id[15:]
        assert to_id18(record_id[:15]) == record_id  # the 15-character form is the same record
    assert make_id("003", 62) != make_id("003", 63) and to_id18("not-an-id") is None
    assert fake.record("Lead", ids["Lead"][:15])["Id"] == ids["Lead"]


def test_data_api_keeps_salesforce_bookkeeping(fake: FakeSalesforce) -> None:
    at = ago(fake, hours=1).replace(microsecond=456_000)
    opp = fake.insert("Opportunity", {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-06-30"}, at=at)
    record = fake.record("Opportunity", opp)
    assert record["SystemModstamp"].endswith(".000+0000")  # stored to the second
    assert parse_time(record["CreatedDate"]) == at.replace(microsecond=0)
    assert (record["IsClosed"], record["IsWon"], record["Probability"]) == (False, False, 10)
    fake.update("Opportunity", opp, {"StageName": "Closed Won"})
    record = fake.record("Opportunity", opp)
    assert (record["IsClosed"], record["IsWon"]) == (True, True)
    assert record["SystemModstamp"] > record["CreatedDate"]
    case = fake.insert("Case", {"Subject": "Broken", "Status": "Closed"})
    assert fake.record("Case", case)["IsClosed"] and fake.record("Case", case)["ClosedDate"]
    assert fake.record("Case", case)["CaseNumber"] == "00001001"
    lead = fake.insert("Lead", {"LastName": "山田", "FirstName": "太郎", "Company": "X"})
    assert fake.record("Lead", lead)["Name"] == "太郎 山田"
    assert fake.record("Lead", lead)["Status"] == "Open - Not Contacted"
    with pytest.raises(ValueError):
        fake.insert("Lead", {"Favourite__c": "x"})
    with pytest.raises(ValueError):
        fake.insert("Lead", {"SystemModstamp": "2024-01-01T00:00:00Z"})  # read-only
    fake.delete("Lead", lead)
    assert fake.find("Lead", "LastName", "山田") is None and fake.deleted_records("Lead")[0]["Id"] == lead
    fake.undelete("Lead", lead)
    assert fake.find("Lead", "LastName", "山田")["Id"] == lead


def test_touch_gives_many_records_one_timestamp(fake: FakeSalesforce) -> None:
    ids = [fake.insert("Account", {"Name": f"Co {i}"}, at=ago(fake, hours=2, seconds=-i)) for i in range(5)]
    at = ago(fake, minutes=5)
    fake.touch("Account", ids, at=at)
    assert {fake.record("Account", i)["SystemModstamp"] for i in ids} == {at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}


def test_state_survives_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "salesforce.json"
    first = FakeSalesforce(state_path=path)
    lead = first.insert("Lead", {"LastName": "Sato", "Company": "K"})
    first.add_field("Lead", "Nickname__c")
    second = FakeSalesforce(state_path=path)
    assert second.record("Lead", lead)["LastName"] == "Sato"
    assert second.insert("Lead", {"LastName": "Ito", "Nickname__c": "I"}) != lead


def test_sandbox_settings_carry_working_credentials(fake: FakeSalesforce) -> None:
    settings = sandbox_settings(fake)
    assert settings["base_url"] == fake.base_url and settings["flow"] == "refresh_token"
    granted = token(fake, client_secret=settings["client_secret"], refresh_token=settings["refresh_token"])
    assert granted.status_code == 200


# -- OAuth ----------------------------------------------------------------------------------------
def test_token_endpoint_issues_tokens_for_both_flows(fake: FakeSalesforce) -> None:
    refreshed = token(fake)
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert body["token_type"] == "Bearer" and body["instance_url"] == fake.base_url
    assert {"access_token", "id", "issued_at", "signature"} <= set(body) and "expires_in" not in body
    credentials = token(fake, grant_type="client_credentials", refresh_token=None)
    assert credentials.status_code == 200 and credentials.json()["access_token"] != body["access_token"]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_id": "nope"}, "invalid_client_id"),
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"refresh_token": "old"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "client_secret": "wrong"}, "invalid_client"),
    ],
)
def test_token_endpoint_refusals(fake: FakeSalesforce, form: dict[str, str], error: str) -> None:
    response = token(fake, **form)
    assert response.status_code == 400 and response.json()["error"] == error
    assert fake.token not in response.text


def test_client_credentials_need_the_flow_enabled() -> None:
    fake = FakeSalesforce(client_credentials=False)
    response = token(fake, grant_type="client_credentials")
    assert response.json() == {"error": "invalid_grant", "error_description": "no client credentials user enabled"}


def test_sessions_expire_with_invalid_session_id(fake: FakeSalesforce, api: httpx.Client) -> None:
    assert api.get(f"{V}/limits").status_code == 200
    fake.expire_tokens()
    refused = api.get(f"{V}/limits")
    assert refused.status_code == 401
    assert refused.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    anonymous = httpx.Client(transport=fake.transport(), base_url=fake.base_url)
    assert anonymous.get(f"{V}/limits").status_code == 401


def test_token_ttl_runs_on_the_fake_clock() -> None:
    fake = FakeSalesforce(token_ttl=60)
    access = token(fake).json()["access_token"]
    client = httpx.Client(transport=fake.transport(), base_url=fake.base_url,
                          headers={"Authorization": f"Bearer {access}"})
    assert client.get(f"{V}/limits").status_code == 200
    fake.advance_clock(61)
    assert client.get(f"{V}/limits").status_code == 401


# -- limits ---------------------------------------------------------------------------------------
def test_every_data_response_reports_api_usage(fake: FakeSalesforce, api: httpx.Client) -> None:
    first = api.get(f"{V}/limits")
    second = api.get(f"{V}/sobjects/Lead/describe")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/15000"
    assert first.json()["DailyApiRequests"] == {"Max": 15000, "Remaining": 14999}
    assert api.get(f"{V}/nowhere").headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_request_limit_exceeded_is_a_403(fake: FakeSalesforce, api: httpx.Client) -> None:
    fake.inject_request_limit(times=1)
    refused = api.get(f"{V}/limits")
    assert refused.status_code == 403
    assert refused.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert api.get(f"{V}/limits").status_code == 200
    fake.set_api_usage(100, limit=100)
    assert api.get(f"{V}/limits").status_code == 403
    fake.advance_clock(24 * 3600 + 1)  # the allocation is a rolling 24 hours
    freed = api.get(f"{V}/limits")
    assert freed.status_code == 200 and freed.headers["Sforce-Limit-Info"] == "api-usage=1/100"


# -- describe -------------------------------------------------------------------------------------
def test_describe_lists_standard_and_custom_fields(api: httpx.Client) -> None:
    body = api.get(f"{V}/sobjects/Contact/describe").json()
    fields = {f["name"]: f for f in body["fields"]}
    assert body["keyPrefix"] == "003"
    assert fields["Seamless_Hub_Id__c"]["externalId"] and fields["Seamless_Hub_Id__c"]["unique"]
    assert fields["LastNameKana__c"]["custom"] and not fields["LastName"]["custom"]
    assert not fields["SystemModstamp"]["updateable"] and not fields["SystemModstamp"]["createable"]
    assert fields["LastName"]["nillable"] is False and fields["Email"]["type"] == "email"
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert api.get(f"{V}/sobjects/Widget__c/describe").status_code == 404
    names = [s["name"] for s in api.get(f"{V}/sobjects").json()["sobjects"]]
    assert names == ["Lead", "Contact", "Account", "Opportunity", "Case"]


# -- SOQL -----------------------------------------------------------------------------------------
def test_query_filters_orders_and_pages(fake: FakeSalesforce, api: httpx.Client) -> None:
    t0 = ago(fake, hours=3)
    ids = [fake.insert("Account", {"Name": f"Co {i:04d}"}, at=t0 + timedelta(seconds=i // 1000)) for i in range(4500)]
    soql = "SELECT Id, Name, SystemModstamp FROM Account ORDER BY SystemModstamp ASC, Id ASC"
    first = query(api, soql).json()
    assert first["totalSize"] == 4500 and not first["done"] and len(first["records"]) == 2000
    assert first["records"][0]["attributes"] == {"type": "Account", "url": f"{V}/sobjects/Account/{ids[0]}"}
    assert list(first["records"][0]) == ["attributes", "Id", "Name", "SystemModstamp"]
    assert first["nextRecordsUrl"].startswith(f"{V}/query/01g") and first["nextRecordsUrl"].endswith("-2000")
    second = api.get(first["nextRecordsUrl"]).json()
    third = api.get(second["nextRecordsUrl"]).json()
    assert third["done"] and "nextRecordsUrl" not in third
    assert [r["Id"] for r in first["records"] + second["records"] + third["records"]] == ids
    # batchSize is a hint clamped to 200..2000
    assert len(query(api, soql, **{"Sforce-Query-Options": "batchSize=500"}).json()["records"]) == 500
    assert len(query(api, soql, **{"Sforce-Query-Options": "batchSize=10"}).json()["records"]) == 200
    since = (t0 + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    tail = query(api, f"SELECT Id FROM Account WHERE SystemModstamp >= {since} ORDER BY SystemModstamp, Id").json()
    assert [r["Id"] for r in tail["records"]] == ids[3000:3000 + 1500][:2000]
    limited = query(api, "select id, name from account where Name = 'co 0007' limit 5").json()  # case-insensitive
    assert [r["Id"] for r in limited["records"]] == [ids[7]]
    desc = query(api, "SELECT Name FROM Account WHERE Name IN ('Co 0001', 'Co 0002') ORDER BY Name DESC").json()
    assert [r["Name"] for r in desc["records"]] == ["Co 0002", "Co 0001"]


def test_query_snapshot_and_deleted_records(fake: FakeSalesforce, api: httpx.Client) -> None:
    ids = [fake.insert("Lead", {"LastName": f"L{i}", "Company": "C"}, at=ago(fake, hours=1)) for i in range(3)]
    fake.delete("Lead", ids[1])
    rows = query(api, "SELECT Id, LastName FROM Lead ORDER BY Id").json()["records"]
    assert [r["Id"] for r in rows] == [ids[0], ids[2]]  # query (not queryAll) leaves the recycle bin out


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id, Favourite__c FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Widget__c", "INVALID_TYPE"),
        ("DELETE FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE SystemModstamp >= '2024-01-01'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE SystemModstamp >= 2024-01-01 12:00", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE LastName = Sato", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE LastName = 'a' OR LastName = 'b'", "MALFORMED_QUERY"),
    ],
)
def test_query_errors(api: httpx.Client, soql: str, code: str) -> None:
    response = query(api, soql)
    assert response.status_code == 400 and response.json()[0]["errorCode"] == code


def test_idle_query_locators_expire(fake: FakeSalesforce, api: httpx.Client) -> None:
    for i in range(450):
        fake.insert("Contact", {"LastName": f"C{i}"})
    first = query(api, "SELECT Id FROM Contact", **{"Sforce-Query-Options": "batchSize=200"}).json()
    fake.advance_clock(15 * 60 + 1)
    expired = api.get(first["nextRecordsUrl"])
    assert expired.status_code == 400 and expired.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    again = query(api, "SELECT Id FROM Contact", **{"Sforce-Query-Options": "batchSize=200"}).json()
    fake.expire_query_locators()
    assert api.get(again["nextRecordsUrl"]).status_code == 400


# -- getDeleted -----------------------------------------------------------------------------------
def test_get_deleted_window_is_minute_granular_and_half_open(fake: FakeSalesforce, api: httpx.Client) -> None:
    now = fake.now()
    ids = [fake.insert("Contact", {"LastName": f"C{i}"}, at=now - timedelta(hours=2)) for i in range(3)]
    minute = now.replace(second=0, microsecond=0)
    fake.delete("Contact", ids[0], at=minute - timedelta(minutes=30, seconds=-10))
    fake.delete("Contact", ids[1], at=minute - timedelta(minutes=10))
    start = (minute - timedelta(minutes=30)).replace(second=42)  # seconds are ignored
    params = {"start": start.isoformat(), "end": (minute - timedelta(minutes=10)).isoformat()}
    body = api.get(f"{V}/sobjects/Contact/deleted/", params=params).json()
    assert [d["id"] for d in body["deletedRecords"]] == [ids[0]]  # ids[1] is at `end`: next window
    assert body["deletedRecords"][0]["deletedDate"].endswith("+0000")
    assert body["latestDateCovered"] == (minute - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    assert "earliestDateAvailable" in body
    future = {"start": params["end"], "end": (minute + timedelta(hours=1)).isoformat()}
    body = api.get(f"{V}/sobjects/Contact/deleted/", params=future).json()
    assert [d["id"] for d in body["deletedRecords"]] == [ids[1]]
    assert parse_time(body["latestDateCovered"]) == fake.now().replace(second=0, microsecond=0)  # never the future


def test_purging_the_delete_log_moves_earliest_date_available(fake: FakeSalesforce, api: httpx.Client) -> None:
    minute = fake.now().replace(second=0, microsecond=0)
    lead = fake.insert("Lead", {"LastName": "L", "Company": "C"}, at=minute - timedelta(hours=2))
    fake.delete("Lead", lead, at=minute - timedelta(hours=1))
    params = {"start": (minute - timedelta(hours=3)).isoformat(), "end": minute.isoformat()}
    before = api.get(f"{V}/sobjects/Lead/deleted/", params=params).json()
    assert [d["id"] for d in before["deletedRecords"]] == [lead]
    assert parse_time(before["earliestDateAvailable"]) < minute - timedelta(hours=3)
    assert fake.purge_deleted(minute - timedelta(minutes=30)) == 1 and fake.record("Lead", lead) is None
    after = api.get(f"{V}/sobjects/Lead/deleted/", params=params).json()
    assert after["deletedRecords"] == []
    assert parse_time(after["earliestDateAvailable"]) == minute - timedelta(minutes=30)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (timedelta(minutes=-5), timedelta(minutes=-5)),  # start must precede end
        (timedelta(minutes=-5, seconds=30), timedelta(minutes=-5, seconds=50)),  # same minute
        (timedelta(days=-16), timedelta(minutes=-1)),  # beyond the delete log
    ],
)
def test_get_deleted_refuses_bad_windows(
    fake: FakeSalesforce, api: httpx.Client, start: timedelta, end: timedelta
) -> None:
    minute = fake.now().replace(second=0, microsecond=0)
    params = {"start": (minute + start).isoformat(), "end": (minute + end).isoformat()}
    response = api.get(f"{V}/sobjects/Lead/deleted/", params=params)
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


# -- sObject Collections --------------------------------------------------------------------------
def test_upsert_creates_then_updates_by_external_id(fake: FakeSalesforce, api: httpx.Client) -> None:
    first = upsert(api, "Contact", [{"Seamless_Hub_Id__c": "ent-1", "LastName": "Sato"},
                                    {"Seamless_Hub_Id__c": "ent-2", "LastName": "Ito", "Email": "ito@example.com"}])
    assert first.status_code == 200
    results = first.json()
    assert [(r["success"], r["created"], r["errors"]) for r in results] == [(True, True, []), (True, True, [])]
    assert all(r["id"].startswith("003") for r in results)
    again = upsert(api, "Contact", [{"Seamless_Hub_Id__c": "ENT-1", "Title": "CTO"}]).json()  # case-insensitive
    assert again == [{"id": results[0]["id"], "success": True, "errors": [], "created": False}]
    assert fake.record("Contact", results[0]["id"])["Title"] == "CTO"
    assert len(fake.records("Contact")) == 2


def test_upsert_per_record_errors(fake: FakeSalesforce, api: httpx.Client) -> None:
    taken = fake.insert("Lead", {"LastName": "Taken", "Company": "C", "Seamless_Hub_Id__c": "owned"})
    results = upsert(api, "Lead", [
        {"Seamless_Hub_Id__c": "ok", "LastName": "Fine", "Company": "C"},
        {"Seamless_Hub_Id__c": "no-name", "FirstName": "Only"},
        {"Seamless_Hub_Id__c": "bad-mail", "LastName": "M", "Company": "C", "Email": "not-an-email"},
        {"Seamless_Hub_Id__c": "twice", "LastName": "A", "Company": "C"},
        {"Seamless_Hub_Id__c": "twice", "LastName": "B", "Company": "C"},
        {"Seamless_Hub_Id__c": "ro", "LastName": "R", "Company": "C", "IsConverted": True},
    ]).json()
    assert [r["success"] for r in results] == [True, False, False, False, False, False]
    assert results[1]["errors"] == [{"statusCode": "REQUIRED_FIELD_MISSING",
                                     "message": "Required fields are missing: [LastName, Company]",
                                     "fields": ["LastName", "Company"]}]
    assert results[2]["errors"] == [{"statusCode": "INVALID_EMAIL_ADDRESS",
                                     "message": "Email: invalid email address: not-an-email", "fields": ["Email"]}]
    assert results[3]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    assert results[3]["errors"][0]["message"] == "Duplicate external id specified: twice"
    assert results[5]["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert results[5]["errors"][0]["fields"] == ["IsConverted"]
    # Setting a unique value another record holds: DUPLICATE_VALUE naming that record.
    other = fake.insert("Lead", {"LastName": "Other", "Company": "C"})
    clash = api.patch(f"{V}/composite/sobjects", json={"records": [
        {"attributes": {"type": "Lead"}, "id": other, "Seamless_Hub_Id__c": "OWNED"}]}).json()
    message = f"duplicate value found: Seamless_Hub_Id__c duplicates value on record with id: {taken}"
    assert clash[0]["errors"] == [{"statusCode": "DUPLICATE_VALUE", "fields": [], "message": message}]
    assert len(fake.records("Lead")) == 3


def test_whole_request_refusals(fake: FakeSalesforce, api: httpx.Client) -> None:
    too_many = upsert(api, "Account", [{"Seamless_Hub_Id__c": f"k{i}", "Name": "N"} for i in range(201)])
    assert too_many.status_code == 400 and too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    unknown = upsert(api, "Account", [{"Seamless_Hub_Id__c": "k", "Name": "N", "Favourite__c": "x"}])
    assert unknown.status_code == 400
    assert unknown.json() == [{"message": "No such column 'Favourite__c' on sobject of type Account",
                               "errorCode": "INVALID_FIELD"}]
    typed = upsert(api, "Account", [{"Seamless_Hub_Id__c": "k", "Name": "N", "NumberOfEmployees": "many"}])
    assert typed.status_code == 400 and typed.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    no_ext = upsert(api, "Account", [{"Name": "N"}], ext="Missing__c")
    assert no_ext.status_code == 404 and no_ext.json()[0]["errorCode"] == "NOT_FOUND"
    not_ext = upsert(api, "Account", [{"Name": "N"}], ext="Name")
    assert not_ext.status_code == 400
    wrong_type = api.patch(f"{V}/composite/sobjects/Account/Seamless_Hub_Id__c",
                           json={"records": [{"attributes": {"type": "Contact"}, "LastName": "x"}]})
    assert wrong_type.status_code == 400
    assert fake.records("Account") == []


def test_update_and_delete_by_id(fake: FakeSalesforce, api: httpx.Client) -> None:
    account = fake.insert("Account", {"Name": "Acme"})
    contact = fake.insert("Contact", {"LastName": "Sato"})
    gone = fake.insert("Contact", {"LastName": "Gone"})
    fake.delete("Contact", gone)
    records = [
        {"attributes": {"type": "Contact"}, "id": contact[:15], "AccountId": account, "Title": "CEO"},
        {"attributes": {"type": "Contact"}, "id": gone, "Title": "x"},
        {"attributes": {"type": "Contact"}, "id": "garbage", "Title": "x"},
        {"attributes": {"type": "Contact"}, "id": contact, "AccountId": "001000000000000AAA"},
        {"attributes": {"type": "Contact"}, "id": contact, "LastName": None},
    ]
    results = api.patch(f"{V}/composite/sobjects", json={"allOrNone": False, "records": records}).json()
    assert results[0] == {"id": contact, "success": True, "errors": []}
    assert [r["errors"][0]["statusCode"] for r in results[1:]] == [
        "ENTITY_IS_DELETED", "MALFORMED_ID", "INVALID_CROSS_REFERENCE_KEY", "REQUIRED_FIELD_MISSING"]
    assert results[3]["errors"][0]["fields"] == ["AccountId"]
    assert fake.record("Contact", contact)["AccountId"] == account
    deleted = api.delete(f"{V}/composite/sobjects", params={"ids": f"{contact},{gone}", "allOrNone": "false"}).json()
    assert deleted[0] == {"id": contact, "success": True, "errors": []}
    assert deleted[1]["errors"] == [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]
    many = ",".join([account] * 201)
    assert api.delete(f"{V}/composite/sobjects", params={"ids": many}).json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_all_or_none_rolls_everything_back(fake: FakeSalesforce, api: httpx.Client) -> None:
    results = upsert(api, "Contact", [{"Seamless_Hub_Id__c": "a", "LastName": "A"},
                                      {"Seamless_Hub_Id__c": "b", "Email": "b@example.com"}], all_or_none=True).json()
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert fake.records("Contact") == []


def test_error_shapes_for_unknown_routes(api: httpx.Client) -> None:
    response = api.get(f"{V}/sobjects/Lead/nothing/here")
    assert response.status_code == 404
    assert response.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    garbage = api.patch(f"{V}/composite/sobjects", content=b"{not json", headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400 and garbage.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_data_api_times_are_utc(fake: FakeSalesforce) -> None:
    record_id = fake.insert("Lead", {"LastName": "T", "Company": "C"}, at=datetime(2024, 5, 1, 21, 0, 7, tzinfo=UTC))
    assert fake.record("Lead", record_id)["SystemModstamp"] == "2024-05-01T21:00:07.000+0000"
