"""The Request Tracker sandbox fake answers the way RT 5's REST 2.0 API does."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.sandbox import Fault
from hub.sandbox.fake import sandbox_settings
from plugins.rt.fake import MAX_PER_PAGE, FakeRT

W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def fake() -> FakeRT:
    return FakeRT(timezone="Asia/Tokyo")


@pytest.fixture
def client(fake: FakeRT) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url + "/REST/2.0", transport=fake.transport(),
                      headers={"Authorization": f"token {fake.token}"}) as c:
        yield c


def jq(*limits: dict[str, Any]) -> str:
    return json.dumps(list(limits))


def names(body: dict[str, Any]) -> list[str]:
    return [i["id"] for i in body["items"]]


# -- auth and basics -----------------------------------------------------------------------------
def test_auth_token_basic_and_refusals(fake: FakeRT) -> None:
    with httpx.Client(base_url=fake.base_url, transport=fake.transport()) as anon:
        denied = anon.get("/REST/2.0/rt")
        assert denied.status_code == 401 and denied.json() == {"message": "Unauthorized"}
        assert anon.get("/REST/2.0/rt", headers={"Authorization": "token nope"}).status_code == 401
        assert anon.get("/REST/2.0/rt", auth=("root", fake.token)).status_code == 200
        assert anon.get("/REST/2.0/rt", auth=("root", "wrong")).status_code == 401
        assert anon.get("/REST/2.0/rt", auth=("Nobody", fake.token)).status_code == 401


def test_version_queues_unknown_routes_and_sandbox_settings(fake: FakeRT, client: httpx.Client) -> None:
    assert client.get("/rt").json()["Version"].startswith("5.")
    queues = client.get("/queues/all").json()
    assert queues["total"] == 2 and queues["items"][0] == {"type": "queue", "id": "1",
                                                           "_url": f"{fake.base_url}/REST/2.0/queue/1"}
    assert client.get("/queue/General").json()["id"] == 1
    assert client.get("/nothing").json() == {"message": "no route for GET /REST/2.0/nothing"}
    assert client.get("/ticket/999").status_code == 404
    assert sandbox_settings(fake) == {"base_url": fake.base_url, "username": "root"}


def test_injected_faults(fake: FakeRT, client: httpx.Client) -> None:
    fake.inject(Fault(429, retry_after=3, path_contains="/tickets"))
    busy = client.get("/tickets")
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "3"
    assert client.get("/tickets").status_code == 200


# -- users ---------------------------------------------------------------------------------------
def test_user_create_answers_like_rt(fake: FakeRT, client: httpx.Client) -> None:
    created = client.post("/user", json={"Name": "alice", "EmailAddress": "alice@example.com", "RealName": "Alice",
                                         "Bogus": "ignored", "CustomFields": {"Furigana": "アリス"}})
    assert created.status_code == 201
    assert created.json() == {"type": "user", "id": "alice", "_url": f"{fake.base_url}/REST/2.0/user/alice"}
    uid = created.headers["Location"].rsplit("/", 1)[1]
    assert created.headers["Location"] == f"/REST/2.0/user/{uid}"
    doc = client.get(f"/user/{uid}").json()
    assert doc["id"] == int(uid) and doc["Name"] == "alice" and doc["Privileged"] == 0 and doc["Disabled"] == "0"
    assert "City" not in doc and W3C.match(doc["LastUpdated"])  # empty columns are left out
    assert doc["CustomFields"][0]["name"] == "Furigana" and doc["CustomFields"][0]["values"] == ["アリス"]
    assert client.get("/user/alice").json()["id"] == int(uid)
    for body, message in (
        ({"Name": "alice"}, "Name in use"),
        ({"Name": "bob", "EmailAddress": "ALICE@example.com"}, "Email address in use"),
        ({"Name": "carol", "EmailAddress": "not an email"}, "Invalid syntax for email address"),
        ({"RealName": "no name"}, "Must specify 'Name' attribute"),
    ):
        refused = client.post("/user", json=body)
        assert (refused.status_code, refused.json()) == (400, {"message": message})
    by_email = client.post("/user", json={"EmailAddress": "dave@example.com"})
    assert by_email.json()["id"] == "dave@example.com"  # RT's Name defaults to the email address


def test_user_update_reports_each_field_and_applies_the_rest(fake: FakeRT, client: httpx.Client) -> None:
    fake.insert("users", {"Name": "other", "EmailAddress": "other@example.com"})
    uid = fake.insert("users", {"Name": "alice", "EmailAddress": "alice@example.com", "City": "Tokyo"})
    before = fake.table("users")[uid]["LastUpdated"]
    fake.advance_clock(2)
    answer = client.put(f"/user/{uid}", json={"City": "Osaka", "EmailAddress": "other@example.com", "RealName": "A"})
    assert answer.status_code == 200
    assert answer.json() == [  # one message per field, the refused one included, and still 200
        "User alice: Email address in use",
        "User alice: RealName changed from (no value) to 'A'",
        "User alice: City changed from 'Tokyo' to 'Osaka'",
    ]
    user = fake.table("users")[uid]
    assert (user["City"], user["EmailAddress"]) == ("Osaka", "alice@example.com") and user["LastUpdated"] > before
    missing = client.put("/user/99999", json={"City": "x"})
    assert (missing.status_code, missing.json()) == (404, {"message": "Resource does not exist; use POST to create"})


def test_user_search_json_limits_fields_and_what_rt_ignores(fake: FakeRT, client: httpx.Client) -> None:
    a = fake.insert("users", {"Name": "a", "EmailAddress": "A@example.com", "City": "Tokyo"})
    b = fake.insert("users", {"Name": "b", "EmailAddress": "b@example.com", "City": "Osaka"})
    fake.insert("users", {"Name": "c", "EmailAddress": "c@example.net", "City": "Tokyo"})
    found = client.get("/users", params={"query": jq({"field": "EmailAddress", "operator": "=",
                                                      "value": "a@EXAMPLE.com"}), "fields": "id,Name"}).json()
    assert found["items"] == [{"type": "user", "id": int(a), "_url": f"{fake.base_url}/REST/2.0/user/a", "Name": "a"}]
    either = client.get("/users", params={"query": jq({"field": "Name", "value": "a"}, {"field": "Name", "value": "b"},
                                                      {"field": "City", "value": "Osaka"})}).json()
    assert names(either) == ["b"]  # (Name = a OR Name = b) AND City = Osaka; users' ids are their names
    both = client.post("/users", json=[{"field": "EmailAddress", "operator": "LIKE", "value": "example.com"},
                                       {"field": "EmailAddress", "operator": "LIKE", "value": "b@",
                                        "entry_aggregator": "AND"}]).json()
    assert names(both) == ["b"]
    ignored = client.get("/users", params={"query": jq({"field": "LastUpdated", "operator": ">=",
                                                        "value": "2999-01-01 00:00:00"},
                                                       {"field": "id", "value": b})}).json()
    assert ignored["total"] == 6  # RT ignores limits on fields users cannot be searched by
    fake.delete("users", b)
    assert "b" not in names(client.get("/users").json())
    assert "b" in names(client.get("/users", params={"find_disabled_rows": 1}).json())
    shown = client.get("/users", params={"fields": "Name,LastUpdated,Disabled,City", "orderby": "id"}).json()["items"]
    assert shown[0]["Disabled"] == "" and W3C.match(shown[0]["LastUpdated"]) and shown[0]["City"] == ""


def test_users_order_by_last_updated_and_page(fake: FakeRT, client: httpx.Client) -> None:
    for i in range(3):
        fake.advance_clock(1)
        fake.insert("users", {"Name": f"u{i}", "EmailAddress": f"u{i}@example.com"})
    fake.advance_clock(1)
    fake.update("users", fake.insert("users", {"Name": "z"}), {})
    fake.advance_clock(1)
    fake.update("users", "21", {"City": "Nara"})  # u1 becomes the newest
    newest = client.get("/users", params={"orderby": ["LastUpdated", "id"], "order": ["DESC", "DESC"],
                                          "per_page": 2}).json()
    assert names(newest) == ["u1", "z"] and newest["pages"] == 4 and newest["total"] == 7
    assert "page=2" in newest["next_page"] and "prev_page" not in newest
    last = client.get("/users", params={"orderby": ["LastUpdated", "id"], "order": ["DESC", "DESC"],
                                        "per_page": 2, "page": 4}).json()
    assert last["count"] == 1 and "next_page" not in last and "page=3" in last["prev_page"]


# -- tickets -------------------------------------------------------------------------------------
def test_ticket_create_shapes_and_errors(fake: FakeRT, client: httpx.Client) -> None:
    created = client.post("/ticket", json={"Queue": "General", "Subject": "Printer on fire",
                                           "Requestor": ["alice@example.com"], "Content": "Help!",
                                           "Priority": 50, "Due": "2030-01-31 09:00:00",
                                           "CustomFields": {"Product": "Printer"}})
    assert created.status_code == 201 and created.json()["id"] == "1"
    assert created.headers["Location"] == "/REST/2.0/ticket/1"
    alice = fake.records("users")[-1]
    assert alice["EmailAddress"] == "alice@example.com"  # RT creates a user for an unknown requestor
    doc = client.get("/ticket/1").json()
    assert doc["id"] == 1 and doc["Priority"] == "50" and doc["Due"] == "2030-01-31T09:00:00Z"
    assert doc["Resolved"] == "1970-01-01T00:00:00Z" and doc["Owner"]["id"] == "Nobody"
    assert doc["Requestor"] == [{"type": "user", "id": "alice@example.com",
                                 "_url": f"{fake.base_url}/REST/2.0/user/alice@example.com"}]
    assert doc["Queue"]["id"] == "1" and doc["CustomFields"][0]["values"] == ["Printer"]
    history = client.get("/ticket/1/history", params={"fields": "Type,Creator"}).json()
    assert [t["Type"] for t in history["items"]] == ["Create"]
    for body, status, message in (
        ({"Queue": "Nope", "Subject": "x"}, 403, "No permission to create tickets in the queue 'Nope'"),
        ({"Subject": "x"}, 400, "Could not create ticket. Queue not set"),
        ({"Queue": "General", "Status": "bogus"}, 400, "Status 'bogus' isn't a valid status for tickets in this queue."),
        ({"Queue": "General", "Due": "soon"}, 400, "Couldn't parse date 'soon'"),
    ):
        refused = client.post("/ticket", json=body)
        assert (refused.status_code, refused.json()) == (status, {"message": message})


def test_ticket_update_correspond_and_transactions(fake: FakeRT, client: httpx.Client) -> None:
    tid = fake.insert("tickets", {"Subject": "VPN", "Requestor": ["bob@example.com"], "Content": "down"})
    bob = fake.table("tickets")[tid]["Requestor"][0]
    first = fake.transactions(tid)[0]
    assert first["Type"] == "Create" and first["Creator"] == bob  # a customer writing in
    fake.advance_clock(1)
    answer = client.put(f"/ticket/{tid}", json={"Status": "bogus", "Subject": "VPN down", "Owner": "root"})
    assert answer.json() == ["Ticket 1: Subject changed from 'VPN' to 'VPN down'",
                             "Ticket 1: Status 'bogus' isn't a valid status for this ticket.",
                             "Ticket 1: Owner changed from '6' to '14'"]
    reply = client.post(f"/ticket/{tid}/correspond", json={"Content": "Looking", "ContentType": "text/plain"})
    assert reply.status_code == 201 and reply.json() == ["Correspondence added"]
    txn = reply.headers["Location"].rsplit("/", 1)[1]
    assert fake.table("tickets")[tid]["Status"] == "open"  # an answer opens a new ticket
    shown = client.get(f"/transaction/{txn}").json()
    assert shown["Type"] == "Correspond" and shown["Object"]["id"] == tid and shown["Creator"]["id"] == "root"
    assert client.post(f"/ticket/{tid}/correspond", json={}).status_code == 400
    corr = client.get("/transactions", params={
        "query": jq({"field": "Type", "value": "Create"}, {"field": "Type", "value": "Correspond"},
                    {"field": "ObjectType", "value": "RT::Ticket"}, {"field": "id", "operator": ">", "value": 0}),
        "orderby": "id", "fields": "Type,ObjectId,Creator,Created", "fields[Creator]": "id,Name"}).json()
    assert [(t["Type"], t["ObjectId"], t["Creator"]["id"]) for t in corr["items"]] == [
        ("Create", tid, int(bob)), ("Correspond", tid, 14)]
    texts = client.get("/attachments", params={
        "query": jq({"field": "TransactionId", "operator": "IN", "value": [int(t["id"]) for t in corr["items"]]}),
        "fields": "TransactionId,Content"}).json()
    assert [a["Content"] for a in texts["items"]] == ["down", "Looking"]
    assert [r["Type"] for r in fake.records("correspondence")] == ["Create", "Correspond"]
    assert len(fake.transactions(tid)) > 2  # field changes are transactions too, not correspondence


def test_ticketsql_subset(fake: FakeRT, client: httpx.Client) -> None:
    a = fake.insert("tickets", {"Subject": "alpha", "Requestor": ["x@example.com"], "Priority": 10})
    fake.advance_clock(60)
    b = fake.insert("tickets", {"Subject": "beta", "Queue": "Support", "Priority": 70})
    fake.advance_clock(60)
    c = fake.insert("tickets", {"Subject": "gamma", "Status": "resolved"})

    def search(query: str, **params: Any) -> list[str]:
        body = client.get("/tickets", params={"query": query, **params}).json()
        return names(body)

    assert search("id > 0") == [a, b, c]
    assert search("Priority > 5 AND (Queue = 'Support' OR Requestor = 'x@example.com')") == [a, b]
    assert search("Subject LIKE 'ph' OR Status = '__Inactive__'") == [a, c]
    assert search("Requestor.EmailAddress = 'X@EXAMPLE.COM'") == [a]
    assert search("Status != 'resolved'", orderby="Priority", order="DESC") == [b, a]
    created_b = fake.table("tickets")[b]["Created"]  # UTC; RT reads TicketSQL dates in Tokyo time
    local_b = client.get(f"/ticket/{b}").json()["Created"]
    assert local_b.replace("T", " ").rstrip("Z") == created_b
    tokyo = (datetime.fromisoformat(created_b) + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S")
    assert search(f"Created >= '{tokyo}'") == [b, c]
    assert search(f"Created >= '{created_b}'") == [a, b, c]  # the UTC time read as Tokyo time: 9h earlier
    assert search(f"LastUpdated > '{tokyo}' AND LastUpdated < '2999-01-01'") == [c]
    assert b in search(f"Created = '{tokyo[:10]}'")  # '=': that whole (Tokyo) day
    assert search(f"Created = '{tokyo[:10]}' AND Created < '2000-01-01'") == []
    fake.delete("tickets", c)
    assert search("id > 0") == [a, b]  # deleted tickets are never listed
    for bad in ("Subject = 'x' AND", "Nope = 'x'", "Subject = unquoted", "(id > 0"):
        refused = client.get("/tickets", params={"query": bad})
        assert refused.status_code == 400 and refused.json()["message"]


def test_ticket_search_fields_and_paging(fake: FakeRT, client: httpx.Client) -> None:
    for i in range(130):
        fake.insert("tickets", {"Subject": f"t{i}", "Requestor": ["r@example.com"], "Owner": "root"})
    body = client.get("/tickets", params={
        "query": "id > 0", "per_page": 500, "page": 2, "orderby": "id",
        "fields": "Subject,Owner,Requestor,Queue,Due,CustomFields",
        "fields[Owner]": "id,Name", "fields[Requestor]": "id,EmailAddress", "fields[Queue]": "Name"}).json()
    assert (body["per_page"], body["page"], body["pages"], body["count"], body["total"]) == (MAX_PER_PAGE, 2, 2, 30, 130)
    item = body["items"][0]
    assert item["id"] == "101" and item["Subject"] == "t100" and item["Due"] == "1970-01-01T00:00:00Z"
    assert item["Owner"]["id"] == 14 and item["Owner"]["Name"] == "root"
    assert item["Requestor"][0]["EmailAddress"] == "r@example.com" and isinstance(item["Requestor"][0]["id"], int)
    assert item["Queue"]["Name"] == "General"
    assert {cf["name"] for cf in item["CustomFields"]} == {"Product", "Tags", "HubKey"}
    assert client.get("/tickets", params={"query": "id > 0"}).json()["per_page"] == 20


# -- data API and persistence --------------------------------------------------------------------
def test_data_api_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "rt.json"
    fake = FakeRT(state_path=path)
    uid = fake.insert("users", {"Name": "ｔａｒｏ ", "EmailAddress": "Taro@Example.JP"})  # stored as given
    tid = fake.insert("tickets", {"Subject": "s", "Requestor": [uid], "Content": "c"})
    reply = fake.insert("correspondence", {"Ticket": tid, "Content": "r", "Creator": "14"})
    fake.update("tickets", tid, {"Priority": 90})
    with pytest.raises(ValueError):
        fake.update("correspondence", reply, {"Content": "changed"})
    with pytest.raises(KeyError):
        fake.update("users", "4242", {"City": "x"})
    again = FakeRT(state_path=path)
    assert again.table("users")[uid]["Name"] == "ｔａｒｏ "
    assert again.table("tickets")[tid]["Priority"] == 90
    assert [r["id"] for r in again.records("correspondence")] == [int(reply) - 1, int(reply)]
    assert again.content(reply) == "r"
