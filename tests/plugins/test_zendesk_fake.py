"""The Zendesk sandbox fake answers the way Zendesk documents its API."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import hub.sandbox.fake as base_fake
import plugins.zendesk.fake as fake_module
from plugins.zendesk.fake import SANDBOX_EMAIL, FakeZendesk, epoch

EMAIL = "agent@example.com"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def fake() -> FakeZendesk:
    return FakeZendesk()


@pytest.fixture
def client(fake: FakeZendesk) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=fake.base_url, transport=fake.transport(), auth=(f"{EMAIL}/token", fake.token)
    ) as c:
        yield c


def finish(client: httpx.Client, response: httpx.Response) -> dict[str, Any]:
    """Submit-then-poll: the job as the first poll reports it."""
    assert response.status_code == 200, response.text
    job = response.json()["job_status"]
    assert job["status"] == "queued" and job["results"] is None
    polled = client.get(f"/api/v2/job_statuses/{job['id']}.json").json()["job_status"]
    assert polled["status"] == "completed"
    return polled


def seed_users(fake: FakeZendesk, n: int) -> list[str]:
    return [fake.insert("users", {"name": f"User {i}", "email": f"user{i}@example.com"}) for i in range(n)]


# -- auth and basics -----------------------------------------------------------------------------
def test_auth_wrong_token_missing_token_and_anonymous_me(fake: FakeZendesk) -> None:
    with httpx.Client(base_url=fake.base_url, transport=fake.transport()) as anon:
        me = anon.get("/api/v2/users/me.json")
        assert me.status_code == 200
        assert me.json()["user"]["id"] is None and me.json()["user"]["role"] == "anonymous"
        denied = anon.get("/api/v2/user_fields.json")
        assert denied.status_code == 401 and denied.json() == {"error": "Couldn't authenticate you"}
    with httpx.Client(base_url=fake.base_url, transport=fake.transport(), auth=(f"{EMAIL}/token", "nope")) as bad:
        assert bad.get("/api/v2/users/me.json").status_code == 401
    with httpx.Client(base_url=fake.base_url, transport=fake.transport(), auth=(EMAIL, fake.token)) as password:
        assert password.get("/api/v2/users/me.json").status_code == 401  # only token auth
    token = base64.b64encode(f"someone@else.org/token:{fake.token}".encode()).decode()
    with httpx.Client(base_url=fake.base_url, transport=fake.transport()) as raw:
        me = raw.get("/api/v2/users/me", headers={"Authorization": f"Basic {token}"})
    assert me.json()["user"]["email"] == "someone@else.org" and me.json()["user"]["role"] == "admin"


def test_sandbox_settings_give_the_connector_its_email(fake: FakeZendesk) -> None:
    assert fake.extra_settings() == {"email": SANDBOX_EMAIL}


def test_unknown_route_and_record(client: httpx.Client) -> None:
    assert client.get("/api/v2/nothing.json").status_code == 404
    missing = client.get("/api/v2/users/424242.json")
    assert missing.status_code == 404 and missing.json() == {"error": "RecordNotFound", "description": "Not found"}


# -- data API ------------------------------------------------------------------------------------
def test_record_shapes_and_data_api(fake: FakeZendesk) -> None:
    org = fake.insert("organizations", {"name": "Acme", "domain_names": ["acme.jp"],
                                        "organization_fields": {"name_kana": "アクメ"}})
    uid = fake.insert("users", {"name": "Taro", "email": "taro@acme.jp", "phone": "+81312345678",
                                "organization_id": org, "user_fields": {"lifecycle": "lead"}})
    tid = fake.insert("tickets", {"subject": "Help", "description": "Broken", "requester_id": uid,
                                  "status": "open", "priority": "high", "via": {"channel": "email"}})
    user = fake.table("users")[uid]
    assert set(user) == {
        "id", "url", "name", "email", "phone", "organization_id", "role", "external_id", "tags",
        "user_fields", "notes", "details", "time_zone", "locale", "active", "verified",
        "created_at", "updated_at",
    }
    assert user["id"] == int(uid) and user["organization_id"] == int(org) and user["role"] == "end-user"
    assert user["user_fields"] == {"family_name_kana": None, "given_name_kana": None, "lifecycle": "lead"}
    assert TIMESTAMP.match(user["created_at"]) and TIMESTAMP.match(user["updated_at"])
    organization = fake.table("organizations")[org]
    assert set(organization) == {
        "id", "url", "name", "domain_names", "external_id", "details", "notes", "tags",
        "organization_fields", "created_at", "updated_at", "deleted_at",
    }
    ticket = fake.table("tickets")[tid]
    assert set(ticket) == {
        "id", "url", "subject", "description", "status", "priority", "type", "via", "requester_id",
        "submitter_id", "assignee_id", "organization_id", "tags", "created_at", "updated_at", "due_at",
    }
    assert ticket["organization_id"] == int(org)  # filed under the requester's organization

    fake.advance_clock(5)
    fake.update("users", uid, {"user_fields": {"family_name_kana": "ヤマダ"}, "ignored": 1})
    user = fake.table("users")[uid]
    assert user["user_fields"] == {"family_name_kana": "ヤマダ", "given_name_kana": None, "lifecycle": "lead"}
    assert epoch(user["updated_at"]) >= epoch(user["created_at"]) + 5 and "ignored" not in user

    fake.delete("users", uid)
    fake.delete("organizations", org)
    fake.delete("tickets", tid)
    assert fake.table("users")[uid]["active"] is False
    assert TIMESTAMP.match(fake.table("organizations")[org]["deleted_at"])
    assert fake.table("tickets")[tid]["status"] == "deleted"


def test_data_api_stores_messy_data_as_given_but_the_api_refuses_it(fake: FakeZendesk, client: httpx.Client) -> None:
    messy = fake.insert("users", {"name": "Taro ", "email": " Taro@Example.JP", "phone": "090 1234 5678"})
    assert fake.table("users")[messy]["email"] == " Taro@Example.JP"
    fake.update("users", messy, {"user_fields.lifecycle": "customer"})  # dotted, as `sandbox edit` passes
    assert fake.table("users")[messy]["user_fields"]["lifecycle"] == "customer"
    # The API matches the messy address (trimmed, case-insensitive) instead of duplicating it...
    job = finish(client, client.post("/api/v2/users/create_or_update_many.json",
                                     json={"users": [{"name": "Taro", "email": "taro@example.jp"}]}))
    assert job["results"][0]["status"] == "Updated" and str(job["results"][0]["id"]) == messy
    # ...and refuses what Zendesk refuses.
    taken = client.post("/api/v2/users.json", json={"user": {"name": "B", "email": "TARO@example.jp"}})
    assert taken.status_code == 422 and taken.json()["details"]["email"][0]["error"] == "DuplicateValue"
    fake.insert("organizations", {"name": "Acme"})
    job = finish(client, client.post("/api/v2/organizations/create_many.json",
                                     json={"organizations": [{"name": " ACME"}]}))
    assert job["results"][0]["error"] == "DuplicateValue"
    with pytest.raises(KeyError):
        fake.update("users", "999999", {"name": "Nobody"})


def test_state_persists_between_processes(tmp_path: Path) -> None:
    path = tmp_path / "zendesk.json"
    first = FakeZendesk(state_path=path)
    uid = first.insert("users", {"name": "Persisted", "email": "p@example.com"})
    with httpx.Client(base_url=first.base_url, transport=first.transport(), auth=(f"{EMAIL}/token", first.token)) as c:
        finish(c, c.post("/api/v2/users/create_or_update_many.json",
                         json={"users": [{"name": "Via API", "email": "api@example.com"}]}))
    second = FakeZendesk(state_path=path)
    assert {u["email"] for u in second.records("users")} == {"p@example.com", "api@example.com"}
    assert second.table("users")[uid]["name"] == "Persisted"


def test_a_burst_of_inserts_is_saved_once_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "zendesk.json"
    seeding = FakeZendesk(state_path=path)
    ids = [seeding.insert("users", {"name": f"S{i}", "email": f"s{i}@example.com"}) for i in range(20)]
    assert seeding.dirty  # not rewritten 20 times
    base_fake._save_unsaved()  # what the atexit hook does (or an explicit save, or the next request)
    assert [str(u["id"]) for u in FakeZendesk(state_path=path).records("users")] == ids


# -- incremental exports -------------------------------------------------------------------------
def test_cursor_export_pages_resumes_and_sees_later_changes(fake: FakeZendesk, client: httpx.Client) -> None:
    ids = seed_users(fake, 5)
    first = client.get("/api/v2/incremental/users/cursor.json", params={"start_time": 0, "per_page": 2}).json()
    assert [str(u["id"]) for u in first["users"]] == ids[:2]
    assert first["end_of_stream"] is False and first["after_cursor"] and first["before_cursor"]
    assert first["after_url"].endswith(f"cursor={first['after_cursor']}&per_page=2")
    seen, cursor, body = [*first["users"]], first["after_cursor"], first
    while not body["end_of_stream"]:
        body = client.get("/api/v2/incremental/users/cursor.json", params={"cursor": cursor, "per_page": 2}).json()
        seen += body["users"]
        cursor = body["after_cursor"]
    assert [str(u["id"]) for u in seen] == ids
    # A record changed after the cursor was issued comes after it, even within the same second.
    fake.update("users", ids[0], {"name": "Renamed"})
    later = client.get("/api/v2/incremental/users/cursor.json", params={"cursor": cursor}).json()
    assert [u["name"] for u in later["users"]] == ["Renamed"] and later["end_of_stream"] is True
    # Nothing new: the same position comes back.
    idle = client.get("/api/v2/incremental/users/cursor.json", params={"cursor": later["after_cursor"]}).json()
    assert idle["users"] == [] and idle["after_cursor"] == later["after_cursor"] and idle["end_of_stream"]


def test_cursor_export_start_time_per_page_cap_and_bad_cursor(fake: FakeZendesk, client: httpx.Client) -> None:
    seed_users(fake, 3)
    fake.advance_clock(120)
    late = fake.insert("users", {"name": "Late", "email": "late@example.com"})
    since = epoch(fake.table("users")[late]["updated_at"])
    body = client.get("/api/v2/incremental/users/cursor.json", params={"start_time": since}).json()
    assert [str(u["id"]) for u in body["users"]] == [late]
    capped = client.get("/api/v2/incremental/users/cursor.json", params={"start_time": 0, "per_page": 5000}).json()
    assert len(capped["users"]) == 4 and capped["end_of_stream"] is True
    empty = client.get("/api/v2/incremental/users/cursor.json", params={"start_time": since + 3600}).json()
    assert empty["users"] == [] and empty["after_cursor"] is None and empty["end_of_stream"] is True
    bad = client.get("/api/v2/incremental/users/cursor.json", params={"cursor": "!!!"})
    assert bad.status_code == 400
    assert client.get("/api/v2/incremental/users/cursor.json").status_code == 400


def test_ticket_cursor_export_includes_deleted_tickets(fake: FakeZendesk, client: httpx.Client) -> None:
    uid = seed_users(fake, 1)[0]
    created = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "Hi", "comment": {"body": "Body"},
                                                                  "requester_id": int(uid)}})
    assert created.status_code == 201
    ticket = created.json()["ticket"]
    assert ticket["description"] == "Body" and ticket["via"] == {"channel": "api"} and ticket["status"] == "new"
    fake.delete("tickets", str(ticket["id"]))
    assert client.get(f"/api/v2/tickets/{ticket['id']}.json").status_code == 404
    body = client.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}).json()
    assert [(t["id"], t["status"]) for t in body["tickets"]] == [(ticket["id"], "deleted")]
    invalid = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "No body"}})
    assert invalid.status_code == 422 and invalid.json()["error"] == "RecordInvalid"


def test_organization_time_based_export(fake: FakeZendesk, client: httpx.Client) -> None:
    ids = []
    for i in range(5):
        ids.append(fake.insert("organizations", {"name": f"Org {i}"}))
        fake.advance_clock(10)
    times = [epoch(fake.table("organizations")[i]["updated_at"]) for i in ids]
    body = client.get("/api/v2/incremental/organizations.json", params={"start_time": 0, "per_page": 2}).json()
    assert [str(o["id"]) for o in body["organizations"]] == ids[:2]
    assert body["count"] == 2 and body["end_time"] == times[1] and body["end_of_stream"] is False
    assert body["next_page"].endswith(f"start_time={times[1]}")
    # The next page starts at end_time: the record of that second comes again (documented).
    nxt = client.get("/api/v2/incremental/organizations.json", params={"start_time": body["end_time"], "per_page": 2}).json()
    assert [str(o["id"]) for o in nxt["organizations"]] == ids[1:3]
    last = client.get("/api/v2/incremental/organizations.json", params={"start_time": times[3], "per_page": 10}).json()
    assert [str(o["id"]) for o in last["organizations"]] == ids[3:]
    assert last["end_of_stream"] is True and last["end_time"] == times[4]
    assert client.get("/api/v2/incremental/organizations.json").status_code == 400


def test_organization_export_never_splits_a_second_and_always_advances(fake: FakeZendesk, client: httpx.Client) -> None:
    same = [fake.insert("organizations", {"name": f"Same {i}"}) for i in range(3)]  # one second
    fake.advance_clock(10)
    later = fake.insert("organizations", {"name": "Later"})
    start = epoch(fake.table("organizations")[same[0]]["updated_at"])
    body = client.get("/api/v2/incremental/organizations.json", params={"start_time": start, "per_page": 1}).json()
    # All of start_time's second plus the next second, so end_time moves forward.
    assert [str(o["id"]) for o in body["organizations"]] == [*same, later]
    assert body["end_time"] > start and body["end_of_stream"] is True


# -- bulk writes and jobs ------------------------------------------------------------------------
def test_create_or_update_many_matches_by_email_and_external_id(fake: FakeZendesk, client: httpx.Client) -> None:
    existing = fake.insert("users", {"name": "Old", "email": "old@example.com"})
    linked = fake.insert("users", {"name": "Linked", "email": "linked@example.com", "external_id": "ext-1"})
    job = finish(client, client.post("/api/v2/users/create_or_update_many.json", json={"users": [
        {"name": "Old Renamed", "email": "OLD@example.com"},
        {"name": "Linked Renamed", "external_id": "ext-1", "email": "linked2@example.com"},
        {"name": "New", "email": "new@example.com", "external_id": "ext-2",
         "user_fields": {"lifecycle": "customer"}},
    ]}))
    assert job["total"] == 3 and job["progress"] == 3 and job["message"].startswith("Completed at ")
    assert [r["status"] for r in job["results"]] == ["Updated", "Updated", "Created"]
    assert [str(r["id"]) for r in job["results"][:2]] == [existing, linked]
    assert job["results"][2]["email"] == "new@example.com" and job["results"][2]["external_id"] == "ext-2"
    assert fake.table("users")[linked]["email"] == "linked2@example.com"
    assert len(fake.records("users")) == 3
    # The same request again: nothing new is created.
    again = finish(client, client.post("/api/v2/users/create_or_update_many.json", json={"users": [
        {"name": "New", "email": "new@example.com", "external_id": "ext-2"}]}))
    assert again["results"][0]["status"] == "Updated" and len(fake.records("users")) == 3


def test_bulk_limit_is_100(client: httpx.Client) -> None:
    users = [{"name": f"U{i}", "email": f"u{i}@example.com"} for i in range(101)]
    refused = client.post("/api/v2/users/create_or_update_many.json", json={"users": users})
    assert refused.status_code == 400 and refused.json()["error"] == "TooManyItems"
    ids = ",".join(str(i) for i in range(1, 102))
    assert client.delete("/api/v2/users/destroy_many.json", params={"ids": ids}).status_code == 400
    assert client.post("/api/v2/users/create_or_update_many.json", json={"users": users[:100]}).status_code == 200


def test_job_results_report_invalid_records_by_index(client: httpx.Client) -> None:
    job = finish(client, client.post("/api/v2/users/create_or_update_many.json", json={"users": [
        {"name": "Good", "email": "good@example.com"},
        {"name": "Bad", "email": "bad@example"},
        {"name": "Stage", "email": "s@example.com", "user_fields": {"lifecycle": "whale"}},
    ]}))
    good, bad, stage = job["results"]
    assert good["status"] == "Created"
    assert bad == {"index": 1, "status": "Failed", "error": "UserCreateError",
                   "details": "Email: bad@example is not properly formatted"}
    assert stage["index"] == 2 and stage["details"].startswith("Lifecycle:")


def test_single_record_validation_error_shape(fake: FakeZendesk, client: httpx.Client) -> None:
    response = client.post("/api/v2/users.json", json={"user": {"name": "X", "email": "x"}})
    assert response.status_code == 422
    assert response.json() == {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {"email": [{"description": "Email: x is not properly formatted", "error": "InvalidValue"}]},
    }
    created = client.post("/api/v2/users.json", json={"user": {"name": "Y", "email": "y@example.com"}})
    assert created.status_code == 201
    uid = created.json()["user"]["id"]
    assert client.put(f"/api/v2/users/{uid}.json", json={"user": {"phone": "+8190"}}).json()["user"]["phone"] == "+8190"
    assert client.get(f"/api/v2/users/{uid}.json").json()["user"]["phone"] == "+8190"


def test_update_many_and_destroy_many(fake: FakeZendesk, client: httpx.Client) -> None:
    a, b = seed_users(fake, 2)
    job = finish(client, client.put("/api/v2/users/update_many.json", json={"users": [
        {"id": int(a), "notes": "vip"}, {"id": 424242, "notes": "ghost"}, {"id": int(b), "email": "broken"}]}))
    ok, missing, invalid = job["results"]
    assert ok == {"id": int(a), "action": "update", "success": True, "status": "Updated"}
    assert missing["success"] is False and missing["error"] == "RecordNotFound" and missing["index"] == 1
    assert invalid["success"] is False and "not properly formatted" in invalid["details"]
    assert fake.table("users")[a]["notes"] == "vip"
    gone = finish(client, client.delete("/api/v2/users/destroy_many.json", params={"ids": f"{a},424242"}))
    assert gone["results"][0] == {"id": int(a), "action": "delete", "success": True, "status": "Deleted"}
    assert gone["results"][1]["status"] == "Failed"
    assert fake.table("users")[a]["active"] is False


def test_organization_bulk_create_search_and_update(fake: FakeZendesk, client: httpx.Client) -> None:
    fake.insert("organizations", {"name": "Taken"})
    job = finish(client, client.post("/api/v2/organizations/create_many.json", json={"organizations": [
        {"name": "Fresh", "external_id": "org-1", "organization_fields": {"corporate_number": "1234567890123"}},
        {"name": "taken", "external_id": "org-2"},
    ]}))
    created, taken = job["results"]
    assert set(created) == {"id", "index"} and created["index"] == 0
    assert taken["index"] == 1 and taken["status"] == "Failed" and "already been taken" in taken["details"]
    by_ext = client.get("/api/v2/organizations/search.json", params={"external_id": "org-1"}).json()
    assert [o["id"] for o in by_ext["organizations"]] == [created["id"]] and by_ext["count"] == 1
    by_name = client.get("/api/v2/organizations/search.json", params={"name": "TAKEN"}).json()
    assert [o["name"] for o in by_name["organizations"]] == ["Taken"]
    updated = finish(client, client.put("/api/v2/organizations/update_many.json", json={"organizations": [
        {"id": created["id"], "organization_fields": {"name_kana": "フレッシュ"}}]}))
    assert updated["results"][0]["status"] == "Updated"
    fields = client.get(f"/api/v2/organizations/{created['id']}.json").json()["organization"]["organization_fields"]
    assert fields == {"name_kana": "フレッシュ", "corporate_number": "1234567890123"}


def test_show_many_reports_every_known_job(client: httpx.Client) -> None:
    jobs = [client.post("/api/v2/users/create_or_update_many.json",
                        json={"users": [{"name": f"J{i}", "email": f"j{i}@example.com"}]}).json()["job_status"]
            for i in range(3)]
    body = client.get("/api/v2/job_statuses/show_many.json",
                      params={"ids": ",".join([j["id"] for j in jobs] + ["0" * 32])}).json()
    assert [s["id"] for s in body["job_statuses"]] == [j["id"] for j in jobs]
    assert {s["status"] for s in body["job_statuses"]} == {"completed"}
    assert all(s["url"].endswith(f"/api/v2/job_statuses/{s['id']}.json") for s in body["job_statuses"])


def test_field_definitions(client: httpx.Client) -> None:
    user_fields = client.get("/api/v2/user_fields.json").json()["user_fields"]
    assert [(f["key"], f["type"]) for f in user_fields] == [
        ("family_name_kana", "text"), ("given_name_kana", "text"), ("lifecycle", "dropdown")]
    assert [o["value"] for o in user_fields[2]["custom_field_options"]] == ["lead", "customer", "other"]
    org_fields = client.get("/api/v2/organization_fields.json").json()["organization_fields"]
    assert [f["key"] for f in org_fields] == ["name_kana", "corporate_number"]


# -- limits --------------------------------------------------------------------------------------
def test_rate_limits_answer_429_with_retry_after() -> None:
    fake = FakeZendesk(rate_limit=3, incremental_rate_limit=1)
    with httpx.Client(base_url=fake.base_url, transport=fake.transport(), auth=(f"{EMAIL}/token", fake.token)) as c:
        assert c.get("/api/v2/incremental/users/cursor.json", params={"start_time": 0}).status_code == 200
        limited = c.get("/api/v2/incremental/users/cursor.json", params={"start_time": 0})
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json() == {"error": "APIRateLimitExceeded",
                                  "description": "Number of allowed API requests per minute exceeded"}
        assert c.get("/api/v2/user_fields.json").status_code == 200  # the account limit is not reached yet
        assert c.get("/api/v2/user_fields.json").status_code == 429
        fake.advance_clock(float(limited.headers["Retry-After"]))
        assert c.get("/api/v2/incremental/users/cursor.json", params={"start_time": 0}).status_code == 200


def test_job_limit_counts_queued_jobs() -> None:
    fake = FakeZendesk(max_queued_jobs=2)
    with httpx.Client(base_url=fake.base_url, transport=fake.transport(), auth=(f"{EMAIL}/token", fake.token)) as c:
        body = {"users": [{"name": "Q", "email": "q@example.com"}]}
        ids = [c.post("/api/v2/users/create_or_update_many.json", json=body).json()["job_status"]["id"] for _ in range(2)]
        refused = c.post("/api/v2/users/create_or_update_many.json", json=body)
        assert refused.status_code == 429 and refused.json()["error"] == "TooManyJobs"
        c.get("/api/v2/job_statuses/show_many.json", params={"ids": ",".join(ids)})
        assert c.post("/api/v2/users/create_or_update_many.json", json=body).status_code == 200


# -- scale: a request costs what it returns, not the size of the account --------------------------
class CountingTable(dict):  # type: ignore[type-arg]
    """A record table that counts how many records the handlers look at."""

    touched = 0

    def __getitem__(self, key: str) -> Any:
        self.touched += 1
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.touched += 1
        return super().get(key, default)

    def values(self) -> Any:
        self.touched += len(self)
        return super().values()

    def items(self) -> Any:
        self.touched += len(self)
        return super().items()

    def __iter__(self) -> Any:
        self.touched += len(self)
        return super().__iter__()


def counting(fake: FakeZendesk, stream: str) -> CountingTable:
    table = CountingTable(fake.state["records"][stream])
    fake.state["records"][stream] = table
    return table


def export_all(client: httpx.Client, stream: str, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """Every record a cursor export gives from start_time=0, and the number of requests."""
    url = f"/api/v2/incremental/{stream}/cursor.json"
    body = client.get(url, params={"start_time": 0, "per_page": per_page}).json()
    seen, requests = list(body[stream]), 1
    while not body["end_of_stream"]:
        body = client.get(url, params={"cursor": body["after_cursor"], "per_page": per_page}).json()
        seen += body[stream]
        requests += 1
    return seen, requests


def test_cursor_export_paging_is_linear_not_quadratic(fake: FakeZendesk, client: httpx.Client) -> None:
    n, per_page = 10_000, 250
    for i in range(n):
        fake.insert("users", {"name": f"U{i}", "email": f"u{i}@example.com"})
    table = counting(fake, "users")
    seen, requests = export_all(client, "users", per_page)
    assert len(seen) == n and requests == n // per_page  # the last full page says end_of_stream
    # Each record is looked at once (plus one look-ahead a page): scanning from the start for
    # every page would look at n * requests / 2 = 200,000.
    assert table.touched <= n + 2 * requests
    # Records changed again leave superseded log entries behind: stepped over, not rescanned.
    changed = [str(u["id"]) for u in seen[::2]]
    for rid in changed:
        fake.update("users", rid, {"notes": "again"})
    table.touched = 0
    again, _ = export_all(client, "users", per_page)
    assert [str(u["id"]) for u in again] == [str(u["id"]) for u in seen[1::2]] + changed
    assert table.touched <= n + 2 * n // per_page
    # A cursor deep into the log costs one page, not the records before it.
    table.touched = 0
    deep = client.get("/api/v2/incremental/users/cursor.json", params={"start_time": 0, "per_page": 1}).json()
    tail = client.get("/api/v2/incremental/users/cursor.json", params={"cursor": deep["after_cursor"], "per_page": 1})
    assert tail.json()["users"][0]["id"] == again[1]["id"] and table.touched <= 6


def test_organization_export_paging_is_linear_not_quadratic(fake: FakeZendesk, client: httpx.Client) -> None:
    n = 3_000
    for i in range(n):
        fake.insert("organizations", {"name": f"Org {i}"})
        if i % 100 == 99:
            fake.advance_clock(1)
    table = counting(fake, "organizations")
    start_time, seen, requests = 0, set(), 0
    while True:
        params = {"start_time": start_time, "per_page": 100}
        body = client.get("/api/v2/incremental/organizations.json", params=params).json()
        seen |= {o["id"] for o in body["organizations"]}
        requests += 1
        if body["end_of_stream"]:
            break
        start_time = body["end_time"]
    assert len(seen) == n
    # Sorting every organization for each page would look at n * requests (about 90,000).
    assert table.touched <= 2 * n + 2 * requests * 100


def test_bulk_writes_and_jobs_look_up_by_index(fake: FakeZendesk, client: httpx.Client) -> None:
    for i in range(5_000):
        fake.insert("users", {"name": f"U{i}", "email": f"u{i}@example.com", "external_id": f"e{i}"})
    table = counting(fake, "users")
    job = finish(client, client.post("/api/v2/users/create_or_update_many.json", json={"users": [
        {"name": "By email", "email": "U17@Example.com"}, {"name": "By external id", "external_id": "e4321"},
        {"name": "New", "email": "new@example.com"}]}))
    assert [r["status"] for r in job["results"]] == ["Updated", "Updated", "Created"]
    assert [r["id"] for r in job["results"][:2]] == [10018, 14322]
    updated = finish(client, client.put("/api/v2/users/update_many.json", json={"users": [
        {"id": 10001 + i, "notes": "n"} for i in range(0, 5_000, 50)]}))
    assert {r["status"] for r in updated["results"]} == {"Updated"}
    assert table.touched < 1_000  # a few looks per record written, none per record stored


def test_export_order_survives_updates_deletes_compaction_and_reloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    monkeypatch.setattr(fake_module, "COMPACT_MIN_STALE", 8)  # compact often
    rng = random.Random(7)
    path = tmp_path / "zendesk.json"
    fake = FakeZendesk(state_path=path)
    orgs: list[str] = []
    users: list[str] = []
    for step in range(600):
        roll = rng.random()
        if roll < 0.3 or not users:
            users.append(fake.insert("users", {"name": f"U{step}", "email": f"u{step}@example.com"}))
        elif roll < 0.45:
            orgs.append(fake.insert("organizations", {"name": f"O{step}"}))
        elif roll < 0.8:
            fake.update("users", rng.choice(users), {"notes": f"n{step}"})
        elif roll < 0.9 and orgs:
            fake.update("organizations", rng.choice(orgs), {"notes": f"n{step}"})
        else:
            fake.delete("users", rng.choice(users))
        if rng.random() < 0.1:
            fake.advance_clock(1)
    fake.save()

    def check(fake: FakeZendesk) -> None:
        changes = fake.state["changes"]["users"]
        expected = sorted(changes, key=changes.__getitem__)  # the order of the last changes
        with httpx.Client(base_url=fake.base_url, transport=fake.transport(), auth=(f"{EMAIL}/token", fake.token)) as c:
            for per_page in (1, 7, 1000):
                seen, _ = export_all(c, "users", per_page)
                assert [str(u["id"]) for u in seen] == expected
            for start_time in sorted({epoch(o["updated_at"]) for o in fake.table("organizations").values()}):
                for per_page in (1, 3, 50):
                    fast = fake._time_page("organizations", start_time, per_page)
                    assert fast == fake._time_page_sorted("organizations", start_time, per_page)
            since = sorted({epoch(u["updated_at"]) for u in fake.table("users").values()})
            middle = since[len(since) // 2]
            params = {"start_time": middle, "per_page": 1000}
            body = c.get("/api/v2/incremental/users/cursor.json", params=params).json()
            assert [str(u["id"]) for u in body["users"]] == [
                rid for rid in expected if epoch(fake.table("users")[rid]["updated_at"]) >= middle
            ]

    check(fake)
    reloaded = FakeZendesk(state_path=path)
    check(reloaded)
    # The indexes are rebuilt on load: an address already in use is matched, not duplicated.
    live = next(u for u in reloaded.table("users").values() if u["active"])
    with httpx.Client(base_url=reloaded.base_url, transport=reloaded.transport(),
                      auth=(f"{EMAIL}/token", reloaded.token)) as c:
        job = finish(c, c.post("/api/v2/users/create_or_update_many.json",
                               json={"users": [{"name": "Same", "email": live["email"].upper()}]}))
    assert job["results"][0] == {"id": live["id"], "status": "Updated", "email": live["email"].upper(),
                                 "external_id": None}


def test_a_state_saved_under_a_clock_that_ran_ahead_still_exports_correctly(tmp_path: Path) -> None:
    path = tmp_path / "zendesk.json"
    ahead = FakeZendesk(state_path=path)
    ahead.advance_clock(3600)
    early = [ahead.insert("organizations", {"name": f"Ahead {i}"}) for i in range(3)]
    ahead.save()
    fake = FakeZendesk(state_path=path)  # its clock is an hour behind the records
    late = [fake.insert("organizations", {"name": f"Now {i}"}) for i in range(3)]
    assert not fake._derived().logs["organizations"].in_time_order
    with httpx.Client(base_url=fake.base_url, transport=fake.transport(), auth=(f"{EMAIL}/token", fake.token)) as c:
        body = c.get("/api/v2/incremental/organizations.json", params={"start_time": 0, "per_page": 10}).json()
        assert [str(o["id"]) for o in body["organizations"]] == late + early
        since = epoch(fake.table("organizations")[early[0]]["updated_at"])
        orgs = c.get("/api/v2/incremental/organizations.json", params={"start_time": since}).json()
        assert [str(o["id"]) for o in orgs["organizations"]] == early
