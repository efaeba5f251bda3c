"""The HubSpot sandbox fake answers like HubSpot's CRM API v3 (shapes, limits, errors, state)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.sandbox import Fault
from hub.sandbox.fake import sandbox_settings
from plugins.hubspot.fake import SEARCH_CAP, FakeHubSpot, iso

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CONTACTS = "/crm/v3/objects/contacts"


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot(token="pat-test-token")


@pytest.fixture
def api(fake: FakeHubSpot) -> httpx.Client:
    with httpx.Client(
        transport=fake.transport(), base_url=fake.base_url, headers={"Authorization": f"Bearer {fake.token}"}
    ) as client:
        yield client


def upsert_input(key: str, **props: Any) -> dict[str, Any]:
    return {"idProperty": "seamless_hub_id", "id": key, "properties": props}


def search_body(**kw: Any) -> dict[str, Any]:
    return {"filterGroups": [], "sorts": [], "properties": ["email"], "limit": 10, "after": "0", **kw}


# -- authentication & errors ---------------------------------------------------------------
def test_missing_or_wrong_token_is_401_in_hubspots_error_shape(fake: FakeHubSpot) -> None:
    with httpx.Client(transport=fake.transport(), base_url=fake.base_url) as anonymous:
        missing = anonymous.get(CONTACTS)
        wrong = anonymous.get(CONTACTS, headers={"Authorization": "Bearer not-the-token"})
    for response in (missing, wrong):
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error"
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"] and len(body["correlationId"]) == 36
        assert "not-the-token" not in response.text


def test_unknown_route_and_bad_json_answer_in_hubspot_shape(api: httpx.Client) -> None:
    assert api.get("/crm/v3/objects/deals").json()["status"] == "error"
    bad = api.post(f"{CONTACTS}/batch/read", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


# -- list, get ----------------------------------------------------------------------------
def test_list_pages_by_id_with_requested_properties(fake: FakeHubSpot, api: httpx.Client) -> None:
    ids = [fake.insert("contacts", {"email": f"p{i}@example.com", "firstname": f"P{i}"}) for i in range(5)]
    first = api.get(CONTACTS, params={"limit": 2, "properties": "email,phone"}).json()
    assert [r["id"] for r in first["results"]] == ids[:2]
    props = first["results"][0]["properties"]
    assert props["email"] == "p0@example.com"
    assert props["phone"] is None  # asked for, no value: null like HubSpot
    assert "firstname" not in props  # not asked for
    assert {"createdate", "hs_object_id", "lastmodifieddate"} <= set(props)  # always returned
    after = first["paging"]["next"]["after"]
    rest = api.get(CONTACTS, params={"limit": 100, "after": after}).json()
    assert [r["id"] for r in rest["results"]] == ids[2:]
    assert "paging" not in rest
    # Default properties when none are named.
    assert {"firstname", "lastname", "email"} <= set(rest["results"][0]["properties"])


def test_list_limit_above_100_is_refused(api: httpx.Client) -> None:
    assert api.get(CONTACTS, params={"limit": 101}).status_code == 400


def test_archived_records_only_come_from_archived_true(fake: FakeHubSpot, api: httpx.Client) -> None:
    keep = fake.insert("contacts", {"email": "keep@example.com"})
    gone = fake.insert("contacts", {"email": "gone@example.com"})
    fake.archive("contacts", gone, at=BASE)
    live = api.get(CONTACTS).json()["results"]
    archived = api.get(CONTACTS, params={"archived": "true"}).json()["results"]
    assert [r["id"] for r in live] == [keep]
    assert [r["id"] for r in archived] == [gone]
    assert archived[0]["archived"] is True and archived[0]["archivedAt"] == iso(BASE)
    assert api.get(f"{CONTACTS}/{gone}").status_code == 404
    assert api.get(f"{CONTACTS}/{gone}", params={"archived": "true"}).status_code == 200


def test_get_by_id_and_by_unique_property(fake: FakeHubSpot, api: httpx.Client) -> None:
    rid = fake.insert("contacts", {"email": "Taro@Example.com", "seamless_hub_id": "ent-1"})
    assert api.get(f"{CONTACTS}/{rid}").json()["properties"]["email"] == "taro@example.com"  # lower-cased
    assert api.get(f"{CONTACTS}/ent-1", params={"idProperty": "seamless_hub_id"}).json()["id"] == rid
    assert api.get(f"{CONTACTS}/TARO@example.com", params={"idProperty": "email"}).json()["id"] == rid
    missing = api.get(f"{CONTACTS}/999")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


# -- search ---------------------------------------------------------------------------------
def test_search_filters_sorts_and_pages(fake: FakeHubSpot, api: httpx.Client) -> None:
    for i in range(5):
        fake.insert("contacts", {"email": f"s{i}@example.com", "lastname": "Yamada" if i % 2 else "Sato"},
                    at=BASE + timedelta(minutes=i))
    since = str(int((BASE + timedelta(minutes=1)).timestamp() * 1000))
    body = search_body(
        filterGroups=[{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": since}]}],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
        limit=3,
    )
    page = api.post(f"{CONTACTS}/search", json=body).json()
    assert page["total"] == 4
    assert [r["properties"]["email"] for r in page["results"]] == [f"s{i}@example.com" for i in (4, 3, 2)]
    assert page["paging"]["next"]["after"] == "3"
    last = api.post(f"{CONTACTS}/search", json={**body, "after": "3"}).json()
    assert [r["properties"]["email"] for r in last["results"]] == ["s1@example.com"]
    assert "paging" not in last
    # EQ on a string property ignores case; filter groups are ORed.
    eq = search_body(filterGroups=[
        {"filters": [{"propertyName": "lastname", "operator": "EQ", "value": "yamada"}]},
        {"filters": [{"propertyName": "email", "operator": "EQ", "value": "s0@example.com"}]},
    ])
    assert api.post(f"{CONTACTS}/search", json=eq).json()["total"] == 3
    # An ISO value works on datetime properties too; LT excludes the boundary.
    lt = search_body(filterGroups=[{"filters": [
        {"propertyName": "lastmodifieddate", "operator": "LT", "value": iso(BASE + timedelta(minutes=2))}]}])
    assert api.post(f"{CONTACTS}/search", json=lt).json()["total"] == 2
    # Archived records leave search.
    fake.archive("contacts", page["results"][0]["id"])
    assert api.post(f"{CONTACTS}/search", json=body).json()["total"] == 3


def test_search_limit_is_200_at_most(api: httpx.Client) -> None:
    assert api.post(f"{CONTACTS}/search", json=search_body(limit=200)).status_code == 200
    refused = api.post(f"{CONTACTS}/search", json=search_body(limit=201))
    assert refused.status_code == 400 and refused.json()["category"] == "VALIDATION_ERROR"


def test_search_cannot_page_past_the_cap(api: httpx.Client) -> None:
    assert FakeHubSpot().search_cap == SEARCH_CAP == 10_000
    fake = FakeHubSpot(search_cap=5)
    for i in range(10):
        fake.insert("contacts", {"email": f"c{i}@example.com"})
    with httpx.Client(transport=fake.transport(), base_url=fake.base_url,
                      headers={"Authorization": "Bearer sandbox-token"}) as client:
        first = client.post(f"{CONTACTS}/search", json=search_body(limit=4)).json()
        assert first["total"] == 10
        clipped = client.post(f"{CONTACTS}/search", json=search_body(limit=4, after="4")).json()
        assert len(clipped["results"]) == 1  # result 5 is the last reachable
        assert clipped["paging"]["next"]["after"] == "8"  # offered anyway, as HubSpot does
        refused = client.post(f"{CONTACTS}/search", json=search_body(limit=4, after="5"))
    assert refused.status_code == 400
    assert refused.json()["category"] == "VALIDATION_ERROR"


# -- batch writes ---------------------------------------------------------------------------
def test_batch_upsert_creates_then_updates_by_unique_property(fake: FakeHubSpot, api: httpx.Client) -> None:
    created = api.post(f"{CONTACTS}/batch/upsert", json={"inputs": [
        upsert_input("ent-1", email="a@example.com", firstname="A"),
        upsert_input("ent-2", email="b@example.com"),
    ]})
    assert created.status_code == 200
    body = created.json()
    assert body["status"] == "COMPLETE" and body["startedAt"] and body["completedAt"]
    assert [r["new"] for r in body["results"]] == [True, True]
    first = body["results"][0]
    assert first["properties"]["seamless_hub_id"] == "ent-1"
    assert first["properties"]["firstname"] == "A"
    again = api.post(f"{CONTACTS}/batch/upsert", json={"inputs": [upsert_input("ent-1", firstname="Aki")]}).json()
    assert again["results"][0]["new"] is False
    assert again["results"][0]["id"] == first["id"]
    stored = fake.record("contacts", first["id"])
    assert stored["properties"]["firstname"] == "Aki"
    assert stored["properties"]["lastmodifieddate"] == stored["updatedAt"] >= first["updatedAt"]
    assert len(fake.records("contacts")) == 2
    # Upsert by email works too (HubSpot's built-in unique contact property).
    by_email = api.post(f"{CONTACTS}/batch/upsert", json={"inputs": [
        {"idProperty": "email", "id": "B@example.com", "properties": {"lastname": "Bee"}}]}).json()
    assert by_email["results"][0]["new"] is False
    assert fake.find("contacts", "email", "b@example.com")["properties"]["lastname"] == "Bee"


def test_batch_upsert_refuses_non_unique_or_unknown_id_property(api: httpx.Client) -> None:
    not_unique = api.post(f"{CONTACTS}/batch/upsert", json={"inputs": [
        {"idProperty": "firstname", "id": "x", "properties": {}}]})
    assert not_unique.status_code == 400
    unknown = api.post(f"{CONTACTS}/batch/upsert", json={"inputs": [
        {"idProperty": "nope", "id": "x", "properties": {}}]})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"


def test_more_than_100_inputs_is_a_validation_error(api: httpx.Client) -> None:
    inputs = [upsert_input(f"k{i}", email=f"u{i}@example.com") for i in range(101)]
    for action in ("upsert", "update", "archive", "read", "create"):
        response = api.post(f"{CONTACTS}/batch/{action}", json={"inputs": inputs, "properties": [],
                                                                 "propertiesWithHistory": []})
        assert response.status_code == 400, action
        assert response.json()["category"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("props", "code", "name"),
    [
        ({"email": "not-an-email"}, "INVALID_EMAIL", "email"),
        ({"favourite_colour": "blue"}, "PROPERTY_DOESNT_EXIST", "favourite_colour"),
        ({"lifecyclestage": "prospect"}, "INVALID_OPTION", "lifecyclestage"),
        ({"hs_email_optout": "true"}, "READ_ONLY_VALUE", "hs_email_optout"),
        ({"lastmodifieddate": "2024-01-01T00:00:00Z"}, "READ_ONLY_VALUE", "lastmodifieddate"),
    ],
)
def test_one_invalid_value_fails_the_whole_batch(
    fake: FakeHubSpot, api: httpx.Client, props: dict[str, str], code: str, name: str
) -> None:
    response = api.post(f"{CONTACTS}/batch/upsert", json={"inputs": [
        upsert_input("ok-1", email="fine@example.com"), upsert_input("bad", **props)]})
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["context"]["propertyName"] == [name]
    assert body["message"].startswith("Property values were not valid")
    assert fake.records("contacts") == []  # all or nothing


def test_an_email_another_contact_has_is_a_409_conflict(fake: FakeHubSpot, api: httpx.Client) -> None:
    existing = fake.insert("contacts", {"email": "taken@example.com"})
    response = api.post(f"{CONTACTS}/batch/upsert", json={"inputs": [upsert_input("k", email="TAKEN@example.com")]})
    assert response.status_code == 409
    assert response.json()["category"] == "CONFLICT"
    assert response.json()["message"] == f"Contact already exists. Existing ID: {existing}"
    twice = api.post(f"{CONTACTS}/batch/create", json={"inputs": [
        {"properties": {"email": "x@example.com"}, "associations": []},
        {"properties": {"email": "x@example.com"}, "associations": []}]})
    assert twice.status_code == 409


def test_batch_update_reports_unknown_ids_with_207(fake: FakeHubSpot, api: httpx.Client) -> None:
    rid = fake.insert("contacts", {"email": "u@example.com"})
    response = api.post(f"{CONTACTS}/batch/update", json={"inputs": [
        {"id": rid, "properties": {"jobtitle": "CTO", "phone": ""}},
        {"id": "424242", "properties": {"jobtitle": "x"}},
    ]})
    assert response.status_code == 207
    body = response.json()
    assert [r["id"] for r in body["results"]] == [rid]
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"]["ids"] == ["424242"]
    assert fake.record("contacts", rid)["properties"]["jobtitle"] == "CTO"
    duplicate = api.post(f"{CONTACTS}/batch/update", json={"inputs": [
        {"id": rid, "properties": {}}, {"id": rid, "properties": {}}]})
    assert duplicate.status_code == 400


def test_empty_string_clears_a_property(fake: FakeHubSpot, api: httpx.Client) -> None:
    rid = fake.insert("contacts", {"email": "c@example.com", "phone": "03-1234-5678"})
    api.post(f"{CONTACTS}/batch/update", json={"inputs": [{"id": rid, "properties": {"phone": ""}}]})
    assert "phone" not in fake.record("contacts", rid)["properties"]
    read = api.get(f"{CONTACTS}/{rid}", params={"properties": "phone"}).json()
    assert read["properties"]["phone"] is None


def test_batch_read_and_archive(fake: FakeHubSpot, api: httpx.Client) -> None:
    a = fake.insert("contacts", {"email": "a@example.com"})
    b = fake.insert("contacts", {"email": "b@example.com"})
    read = api.post(f"{CONTACTS}/batch/read", json={
        "inputs": [{"id": a}, {"id": b}, {"id": "999"}], "properties": ["email"], "propertiesWithHistory": []})
    assert read.status_code == 207
    assert sorted(r["properties"]["email"] for r in read.json()["results"]) == ["a@example.com", "b@example.com"]
    archived = api.post(f"{CONTACTS}/batch/archive", json={"inputs": [{"id": a}, {"id": "999"}]})
    assert archived.status_code == 204 and archived.content == b""
    assert fake.record("contacts", a)["archived"] is True
    assert fake.record("contacts", a)["archivedAt"]
    # Archiving again is not an error.
    assert api.post(f"{CONTACTS}/batch/archive", json={"inputs": [{"id": a}]}).status_code == 204


def test_companies_use_hs_lastmodifieddate(fake: FakeHubSpot, api: httpx.Client) -> None:
    response = api.post("/crm/v3/objects/companies/batch/create", json={"inputs": [
        {"properties": {"name": "Example KK", "domain": "example.co.jp", "industry": "COMPUTER_SOFTWARE"},
         "associations": []}]})
    assert response.status_code == 201
    props = response.json()["results"][0]["properties"]
    assert props["hs_lastmodifieddate"] and "lastmodifieddate" not in props
    refused = api.post("/crm/v3/objects/companies/batch/create", json={"inputs": [
        {"properties": {"industry": "Software"}, "associations": []}]})
    assert refused.json()["errors"][0]["code"] == "INVALID_OPTION"


def test_properties_list_has_custom_and_unique_properties(api: httpx.Client) -> None:
    contacts = {p["name"]: p for p in api.get("/crm/v3/properties/contacts").json()["results"]}
    assert contacts["seamless_hub_id"]["hasUniqueValue"] is True
    assert contacts["seamless_hub_id"]["hubspotDefined"] is False
    assert contacts["firstname_kana"]["hubspotDefined"] is False
    assert contacts["lifecyclestage"]["type"] == "enumeration"
    assert [o["value"] for o in contacts["lifecyclestage"]["options"]][:2] == ["subscriber", "lead"]
    assert contacts["lastmodifieddate"]["modificationMetadata"]["readOnlyValue"] is True
    companies = {p["name"] for p in api.get("/crm/v3/properties/companies").json()["results"]}
    assert {"name_kana", "corporate_number", "seamless_hub_id", "hs_lastmodifieddate"} <= companies
    assert api.get("/crm/v3/properties/contacts/nope").status_code == 404


# -- public data API, clock, persistence -------------------------------------------------------
def test_insert_update_archive_set_timestamps(fake: FakeHubSpot) -> None:
    rid = fake.insert("contacts", {"email": "t@example.com"}, at=BASE)
    record = fake.record("contacts", rid)
    assert record == {
        "id": rid,
        "properties": {"createdate": iso(BASE), "email": "t@example.com", "lastmodifieddate": iso(BASE),
                       "hs_object_id": rid},
        "createdAt": iso(BASE),
        "updatedAt": iso(BASE),
        "archived": False,
        "archivedAt": None,
    }
    later = BASE + timedelta(hours=1)
    fake.update("contacts", rid, {"firstname": "T"}, at=later)
    assert fake.record("contacts", rid)["properties"]["lastmodifieddate"] == iso(later)
    assert fake.record("contacts", rid)["createdAt"] == iso(BASE)
    fake.archive("contacts", rid)
    assert fake.record("contacts", rid)["archived"] is True
    with pytest.raises(ValueError, match="does not exist"):
        fake.insert("contacts", {"favourite_colour": "blue"})
    with pytest.raises(KeyError):
        fake.update("contacts", rid, {"firstname": "archived already"})
    # The fake's own writes stamp its clock in HubSpot's format.
    assert iso(fake.now()).endswith("Z") and len(iso(fake.now())) == len("2024-05-01T12:34:56.789Z")


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "hubspot.json"
    first = FakeHubSpot(state_path=path)
    rid = first.insert("companies", {"name": "Persisted KK"})
    with httpx.Client(transport=first.transport(), base_url=first.base_url,
                      headers={"Authorization": "Bearer sandbox-token"}) as client:
        client.post(f"{CONTACTS}/batch/upsert", json={"inputs": [upsert_input("e1", email="p@example.com")]})
    second = FakeHubSpot(state_path=path)
    assert second.record("companies", rid)["properties"]["name"] == "Persisted KK"
    assert second.find("contacts", "seamless_hub_id", "e1") is not None
    assert second.insert("contacts", {"email": "n@example.com"}) not in (rid,)


def test_rate_limit_answers_429_like_hubspot() -> None:
    fake = FakeHubSpot(rate_limit=(2, 10.0))
    with httpx.Client(transport=fake.transport(), base_url=fake.base_url,
                      headers={"Authorization": "Bearer sandbox-token"}) as client:
        statuses = [client.get(CONTACTS).status_code for _ in range(3)]
        limited = client.get(CONTACTS)
    assert statuses == [200, 200, 429]
    assert 0 < float(limited.headers["Retry-After"]) <= 10
    body = limited.json()
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."


def test_faults_are_injected_before_anything_else(fake: FakeHubSpot, api: httpx.Client) -> None:
    fake.inject(Fault(503, times=2, retry_after=3, path_contains="/search"))
    assert api.post(f"{CONTACTS}/search", json=search_body()).status_code == 503
    assert api.get(CONTACTS).status_code == 200  # other paths unaffected
    second = api.post(f"{CONTACTS}/search", json=search_body())
    assert second.status_code == 503 and second.headers["Retry-After"] == "3"
    assert api.post(f"{CONTACTS}/search", json=search_body()).status_code == 200


def test_sandbox_settings_point_a_connector_at_the_fake(fake: FakeHubSpot) -> None:
    assert sandbox_settings(fake) == {"base_url": "https://api.hubapi.com", "access_token": "pat-test-token"}


# -- scale: indexes instead of scans ------------------------------------------------------------
class CountingTable(dict):
    """A record table that counts the records handed out (lookups and iteration)."""

    touched = 0

    def __getitem__(self, key: str) -> Any:
        CountingTable.touched += 1
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        CountingTable.touched += 1
        return super().get(key, default)

    def values(self) -> Any:
        for value in super().values():
            CountingTable.touched += 1
            yield value

    def items(self) -> Any:
        for item in super().items():
            CountingTable.touched += 1
            yield item


def bulk(fake: FakeHubSpot, n: int, *, at: datetime | None = None, per_ms: int = 1) -> list[str]:
    """``n`` contacts, ``per_ms`` of them sharing each millisecond from ``at`` (default: now)."""
    start = at or BASE
    return [
        fake.insert("contacts", {"email": f"b{i}@example.com", "seamless_hub_id": f"k{i}"},
                    at=start + timedelta(milliseconds=i // per_ms))
        for i in range(n)
    ]


def test_paging_a_big_portal_touches_each_record_once_not_once_per_page(fake: FakeHubSpot) -> None:
    n = 20_000
    ids = bulk(fake, n, per_ms=3)
    fake.state["records"]["contacts"] = CountingTable(fake.table("contacts"))
    CountingTable.touched = 0
    seen, after, pages = [], None, 0
    while True:
        request = httpx.Request("GET", f"{fake.base_url}{CONTACTS}",
                                params={"limit": 100, "properties": "email", **({"after": after} if after else {})},
                                headers={"Authorization": f"Bearer {fake.token}"})
        body = fake.handle(request).json()
        seen += [r["id"] for r in body["results"]]
        pages += 1
        after = (body.get("paging") or {}).get("next", {}).get("after")
        if not after:
            break
    assert seen == ids and pages == n // 100
    assert CountingTable.touched <= n + 2 * pages  # a scan per page would touch n * pages = 4,000,000
    # Search pages through an index too: the incremental read's query, 200 at a time up to the cap.
    CountingTable.touched = 0
    since = str(int(BASE.timestamp() * 1000) + 1000)
    found, after_offset = [], 0
    while after_offset < fake.search_cap:
        request = httpx.Request("POST", f"{fake.base_url}{CONTACTS}/search", json=search_body(
            filterGroups=[{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": since}]}],
            sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], limit=200,
            after=str(after_offset)), headers={"Authorization": f"Bearer {fake.token}"})
        page = fake.handle(request).json()
        assert page["total"] == n - 3000
        found += [r["id"] for r in page["results"]]
        after_offset += 200
    assert found == ids[3000:3000 + fake.search_cap]
    assert CountingTable.touched <= fake.search_cap + 100


def test_indexed_search_answers_exactly_what_a_scan_does() -> None:
    fake = FakeHubSpot()
    # Shared timestamps, updates that move records (also into the past), archives.
    ids = bulk(fake, 300, per_ms=4)
    for i, rid in enumerate(ids[::7]):
        fake.update("contacts", rid, {"firstname": f"U{i}"}, at=BASE + timedelta(milliseconds=(i * 13) % 90))
    for rid in ids[5::11]:
        fake.archive("contacts", rid)
    scan = FakeHubSpot()
    scan.state = fake.state
    scan._rebuild_indexes()
    scan._indexed_search = lambda *args: None  # type: ignore[method-assign]
    ms = int(BASE.timestamp() * 1000)
    bodies = []
    for op, value, high in [("GTE", ms + 20, None), ("GT", ms + 20, None), ("EQ", ms + 30, None),
                            ("LT", ms + 40, None), ("LTE", ms + 40, None), ("BETWEEN", ms + 10, ms + 50),
                            ("GTE", iso(BASE + timedelta(milliseconds=33)), None), ("GTE", ms + 10**6, None)]:
        flt = {"propertyName": "lastmodifieddate", "operator": op, "value": str(value)}
        if high is not None:
            flt["highValue"] = str(high)
        for sorts in ([], [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                      [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}], ["-lastmodifieddate"]):
            for after, limit in ((0, 7), (5, 50), (60, 200), (250, 10), (0, 0)):
                bodies.append(search_body(filterGroups=[{"filters": [flt]}], sorts=sorts, limit=limit,
                                          after=str(after)))
    bodies.append(search_body(limit=30, after="100"))  # no filter: all live records by id
    bodies.append(search_body(filterGroups=[{"filters": [
        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(ms + 10)},
        {"propertyName": "lastmodifieddate", "operator": "LT", "value": str(ms + 40)}]}], limit=100))
    auth = {"Authorization": "Bearer sandbox-token"}
    for body in bodies:
        request = httpx.Request("POST", f"{fake.base_url}{CONTACTS}/search", json=body, headers=auth)
        assert fake._indexed_search("contacts", body, int(body["after"]), 1) is not None or body.get("query")
        indexed, scanned = fake.handle(request), scan.handle(request)
        assert indexed.status_code == scanned.status_code == 200
        assert indexed.json() == scanned.json(), body


def test_indexes_follow_updates_archives_and_upserts(fake: FakeHubSpot, api: httpx.Client) -> None:
    a = fake.insert("contacts", {"email": "a@example.com", "seamless_hub_id": "k-a"})
    b = fake.insert("contacts", {"email": "b@example.com"})
    fake.update("contacts", a, {"email": "A2@Example.com", "seamless_hub_id": ""})
    assert fake.find("contacts", "email", "a@example.com") is None
    assert fake.find("contacts", "email", "a2@example.com")["id"] == a
    assert fake.find("contacts", "seamless_hub_id", "k-a") is None
    # A freed value can be taken; a held one cannot (409), whatever the case of the email.
    upserted = api.post(f"{CONTACTS}/batch/upsert", json={"inputs": [upsert_input("k-a", email="a@example.com")]})
    assert upserted.status_code == 200 and upserted.json()["results"][0]["new"] is True
    c = upserted.json()["results"][0]["id"]
    taken = api.post(f"{CONTACTS}/batch/update", json={"inputs": [{"id": c, "properties": {"email": "B@example.com"}}]})
    assert taken.status_code == 409
    # Archived records leave the live list and the unique checks, and page from archived=true.
    fake.archive("contacts", b)
    assert api.post(f"{CONTACTS}/batch/update", json={
        "inputs": [{"id": c, "properties": {"email": "b@example.com"}}]}).status_code == 200
    assert [r["id"] for r in api.get(CONTACTS).json()["results"]] == [a, c]
    assert [r["id"] for r in api.get(CONTACTS, params={"archived": "true"}).json()["results"]] == [b]
    assert api.get(f"{CONTACTS}/b@example.com", params={"idProperty": "email"}).json()["id"] == c
    assert api.get(f"{CONTACTS}/b@example.com", params={"idProperty": "email", "archived": "true"}).json()["id"] == b
    # Any property can be looked up (indexed on first use, then kept in sync).
    fake.update("contacts", a, {"jobtitle": "CTO"})
    assert fake.find("contacts", "jobtitle", "CTO")["id"] == a
    fake.update("contacts", c, {"jobtitle": "CTO"})
    fake.update("contacts", a, {"jobtitle": "CEO"})
    assert fake.find("contacts", "jobtitle", "CTO")["id"] == c
    # Search sees the new modification times at once.
    newest = api.post(f"{CONTACTS}/search", json=search_body(
        sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}], limit=1)).json()
    assert newest["total"] == 2 and newest["results"][0]["id"] == a


def test_sorted_index_matches_a_plain_sorted_list() -> None:
    import random

    from plugins.hubspot.fake import _SortedInts

    class Small(_SortedInts):
        LOAD = 4  # many buckets: splits and merges happen

    rng = random.Random(3)
    index, model = Small(rng.sample(range(1000), 50)), []
    model = sorted(index)
    for _ in range(3000):
        value = rng.randrange(1000)
        if rng.random() < 0.55:
            index.add(value)
            model.append(value)
            model.sort()
        else:
            assert index.discard(value) == (value in model)
            if value in model:
                model.remove(value)
        probe, skip = rng.randrange(-5, 1005), rng.randrange(0, 20)
        assert len(index) == len(model)
        assert index.rank(probe) == sum(v < probe for v in model)
        assert list(index.iter_from(probe, skip=skip)) == [v for v in model if v >= probe][skip:]
        assert list(index.iter_below(probe)) == [v for v in reversed(model) if v < probe]
        assert (probe in index) == (probe in model)
    assert list(index) == model and list(index.iter_below(None)) == model[::-1]


def test_seeding_saves_once_not_per_insert_and_reloads_with_indexes(tmp_path: Path) -> None:
    path = tmp_path / "hubspot.json"
    fake = FakeHubSpot(state_path=path)
    saves = []
    original = fake.save
    fake.save = lambda: (saves.append(1), original())[1]  # type: ignore[method-assign]
    ids = bulk(fake, 300)
    assert len(saves) <= 2  # the first insert saves at once; the burst after it waits
    fake.save()
    again = FakeHubSpot(state_path=path)
    assert [r["id"] for r in again.records("contacts")] == ids
    assert again.find("contacts", "seamless_hub_id", "k299")["id"] == ids[-1]
    with httpx.Client(transport=again.transport(), base_url=again.base_url,
                      headers={"Authorization": "Bearer sandbox-token"}) as client:
        page = client.post(f"{CONTACTS}/search", json=search_body(
            filterGroups=[{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                        "value": iso(BASE + timedelta(milliseconds=290))}]}],
            sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], limit=200)).json()
        assert [r["id"] for r in page["results"]] == ids[290:]
        # An HTTP write is on disk before its answer.
        client.post(f"{CONTACTS}/batch/upsert", json={"inputs": [upsert_input("late", email="late@example.com")]})
    assert FakeHubSpot(state_path=path).find("contacts", "seamless_hub_id", "late") is not None


def test_unsaved_inserts_are_saved_at_exit(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "hubspot.json"
    root = Path(__file__).resolve().parents[2]
    script = (
        "from plugins.hubspot.fake import FakeHubSpot\n"
        f"fake = FakeHubSpot(state_path={str(path)!r})\n"
        "for i in range(50):\n"
        "    fake.insert('contacts', {'email': f'x{i}@example.com'})\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=root, check=True, timeout=60)
    assert len(FakeHubSpot(state_path=path).records("contacts")) == 50
