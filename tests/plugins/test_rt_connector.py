"""The Request Tracker connector against its stateful fake: reads, writes, retries, secrets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

import httpx
import pluggy
import pydantic
import pytest

import plugins.rt as rt_plugin
from hub import hookspecs
from hub import http as hub_http
from hub.connector import Page, WriteOp
from hub.errors import AuthError, ConfigError, ConnectorError, MissingSecretError
from hub.sandbox import FakeVendor, Fault
from hub.testing import ConnectorSuite
from plugins.rt import RT, FakeRT, RTSettings
from plugins.rt.connector import priority_band

TOKEN = "1-42-rtSecretToken9f8e7d6c"


@pytest.fixture
def fake() -> FakeRT:
    return FakeRT(token=TOKEN, timezone="America/New_York")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch, fake: FakeRT) -> list[float]:
    """Waits recorded instead of slept; the fake's clock moves on by as much."""
    waits: list[float] = []

    def record(seconds: float) -> None:
        waits.append(seconds)
        fake.advance_clock(seconds)

    monkeypatch.setattr(hub_http, "sleep", record)
    return waits


def make(fake: FakeRT, transport: httpx.BaseTransport | None = None, **overrides: Any) -> RT:
    values: dict[str, Any] = {"base_url": fake.base_url, "token": TOKEN, **overrides}
    return RT(RTSettings(**values), transport=transport or fake.transport())


@pytest.fixture
def rt(fake: FakeRT, sleeps: list[float]) -> Iterator[RT]:
    connector = make(fake, page_size=3)
    yield connector
    connector.close()


def read_all(connector: RT, stream: str, state: dict[str, Any] | None = None) -> list[Page]:
    pages = []
    for page in connector.read(stream, state):
        pages.append(page)
        assert len(pages) < 500, "the read does not end"
    return pages


def ids(pages: list[Page]) -> list[str]:
    return [r.id for p in pages for r in p.records]


def calls(fake: FakeRT, path_part: str, method: str = "GET") -> int:
    return sum(1 for m, p, _ in fake.requests if path_part in p and m == method)


def seed_users(fake: FakeRT, n: int, prefix: str = "user") -> list[str]:
    return [fake.insert("users", {"Name": f"{prefix}{i}", "EmailAddress": f"{prefix}{i}@example.com",
                                  "RealName": f"User {i}"}) for i in range(n)]


def seed_tickets(fake: FakeRT, n: int, requestor: str | None = None) -> list[str]:
    return [fake.insert("tickets", {"Subject": f"Ticket {i}", "Requestor": [requestor] if requestor else [],
                                    "Content": f"Body {i}"}) for i in range(n)]


# -- plugin and settings -------------------------------------------------------------------------
def test_plugin_registers_connector_and_sandbox() -> None:
    pm = pluggy.PluginManager("seamless_hub")
    pm.add_hookspecs(hookspecs)
    pm.register(rt_plugin, name="rt")
    connectors: list[type] = []
    sandboxes: list[tuple[str, type]] = []
    pm.hook.hub_register_connectors(register=connectors.append)
    pm.hook.hub_register_sandboxes(register=lambda name, cls: sandboxes.append((name, cls)))
    assert connectors == [RT] and sandboxes == [("rt", FakeRT)]
    assert RT.name == "rt" and RT.kind == "helpdesk"
    assert [s.name for s in RT.streams] == ["users", "tickets", "correspondence"]
    assert RT.stream("tickets").batch_size >= 1 and not RT.stream("correspondence").can(rt_plugin.connector.UPSERT)


def test_settings_normalise_base_url_and_validate() -> None:
    assert RTSettings(base_url="https://rt.example.com/REST/2.0/", token=TOKEN).base_url == "https://rt.example.com"
    assert RTSettings(base_url="https://x.example.com/rt/", token=TOKEN).base_url == "https://x.example.com/rt"
    settings = RTSettings(base_url="http://127.0.0.1:9", token=TOKEN)
    assert (settings.page_size, settings.queue, settings.timezone) == (100, "General", None)
    with pytest.raises(pydantic.ValidationError):
        RTSettings(base_url="http://127.0.0.1:9", page_size=500)
    with pytest.raises(pydantic.ValidationError, match="time zone"):
        RTSettings(base_url="http://127.0.0.1:9", timezone="Mars/Olympus")


def test_missing_credentials_name_what_to_set() -> None:
    with pytest.raises(MissingSecretError, match="HUB_CONNECTORS__RT__SETTINGS__TOKEN"):
        RT(RTSettings(base_url="http://127.0.0.1:9"))
    with pytest.raises(MissingSecretError, match="connectors.rt.settings.token"):
        RT(RTSettings(base_url="http://127.0.0.1:9", username="root"))  # a username alone is not enough


def test_token_is_not_in_settings_repr() -> None:
    settings = RTSettings(base_url="http://127.0.0.1:9", token=TOKEN, password="pw-secret-123")
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert TOKEN not in text and "pw-secret-123" not in text


def test_token_header_and_basic_auth_fallback(fake: FakeRT, sleeps: list[float]) -> None:
    sent: list[httpx.Request] = []

    def spy(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return fake.handle(request)

    with make(fake, transport=httpx.MockTransport(spy)) as conn:
        assert conn.check().ok
    assert sent[0].headers["Authorization"] == f"token {TOKEN}"
    with make(fake, token="", username="root", password=TOKEN) as basic:
        result = basic.check()
        assert result.ok and "as root" in result.message


# -- check and discover --------------------------------------------------------------------------
def test_check_accepts_good_credentials_and_reports_bad_ones(fake: FakeRT, sleeps: list[float]) -> None:
    with make(fake) as good:
        result = good.check()
        assert result.ok and "RT 5.0.3" in result.message
    with make(fake, token="1-42-wrongwrongwrong") as bad:
        result = bad.check()
        assert not result.ok and "refused" in result.message and "wrongwrong" not in result.message


def test_discover_lists_standard_and_custom_fields(rt: RT) -> None:
    fields = rt.discover()
    users = {f.name: f for f in fields["users"]}
    assert {"Name", "EmailAddress", "RealName", "WorkPhone", "MobilePhone", "Zip"} <= users.keys()
    assert not users["LastUpdated"].writable and users["RealName"].writable
    assert users["CF.Furigana"].custom and users["CF.Furigana"].label == "Reading of the name (katakana)"
    tickets = {f.name: f for f in fields["tickets"]}
    assert tickets["CF.Product"].type == "enum" and tickets["CF.Tags"].type == "array"
    assert {"RequestorId", "PriorityBand", "Due"} <= tickets.keys()
    assert all(not f.writable for f in fields["correspondence"])


def test_read_unknown_stream_is_a_config_error(rt: RT) -> None:
    with pytest.raises(ConfigError, match="users, tickets, correspondence"):
        list(rt.read("queues", None))


# -- tickets -------------------------------------------------------------------------------------
def test_ticket_pages_carry_the_fields_without_one_request_per_ticket(fake: FakeRT, sleeps: list[float]) -> None:
    alice = fake.insert("users", {"Name": "alice", "EmailAddress": "alice@example.com"})
    seeded = seed_tickets(fake, 250, requestor=alice)
    with make(fake) as conn:
        pages = read_all(conn, "tickets")
    assert ids(pages) == seeded
    assert calls(fake, "/tickets") == 4 and calls(fake, "/ticket/") == 0  # newest + 3 pages, no GET per ticket
    first = pages[0].records[0]
    assert first.data["Subject"] == "Ticket 0" and first.data["Queue"] == "General"
    assert first.data["RequestorId"] == alice and first.data["Requestor"] == ["alice@example.com"]
    assert first.data["Owner"] is None and first.data["Due"] is None  # Nobody; 1970 means unset
    assert first.updated_at is not None and first.updated_at.tzinfo is not None


def test_ticket_read_resumes_from_every_page_with_no_gap_and_no_duplicate(rt: RT, fake: FakeRT) -> None:
    seeded = []
    for _ in range(4):
        seeded += seed_tickets(fake, 2)
        fake.advance_clock(1)
    pages = read_all(rt, "tickets")
    assert ids(pages) == seeded
    done = 0
    for page in pages:
        done += len(page.records)
        assert ids(read_all(rt, "tickets", page.state)) == seeded[done:]


def test_many_tickets_sharing_one_second_neither_gap_nor_duplicate(rt: RT, fake: FakeRT) -> None:
    early = seed_tickets(fake, 2)
    fake.advance_clock(1)
    with fake.freeze_clock():
        same = seed_tickets(fake, 10)  # more than three pages of 3 at one LastUpdated second
    fake.advance_clock(1)
    late = seed_tickets(fake, 2)
    pages = read_all(rt, "tickets")
    assert ids(pages) == early + same + late
    done = 0
    for page in pages:  # a crash after any page resumes exactly after it
        done += len(page.records)
        assert ids(read_all(rt, "tickets", page.state)) == (early + same + late)[done:]
    # and a resume in the middle of the tie, one page at a time
    state: dict[str, Any] | None = None
    got: list[str] = []
    for _ in range(20):
        page = next(iter(rt.read("tickets", state)))
        got += [r.id for r in page.records]
        if page.state == state:
            break
        state = page.state
    assert got == early + same + late


def test_incremental_ticket_read_after_edits(rt: RT, fake: FakeRT) -> None:
    seeded = seed_tickets(fake, 5)
    state = read_all(rt, "tickets")[-1].state
    fake.advance_clock(2)
    fake.update("tickets", seeded[3], {"Status": "resolved"})
    fake.insert("correspondence", {"Ticket": seeded[0], "Content": "Any news?"})
    new = seed_tickets(fake, 1)[0]
    pages = read_all(rt, "tickets", state)
    assert ids(pages) == [seeded[0], seeded[3], new]  # in id order
    resolved = [r for p in pages for r in p.records][1]
    assert resolved.data["Status"] == "resolved" and resolved.data["Resolved"]
    idle = read_all(rt, "tickets", pages[-1].state)  # nothing changed: one empty page, same state
    assert ids(idle) == [] and idle[-1].state == pages[-1].state


def test_ticket_changed_during_the_read_loses_no_other_ticket(fake: FakeRT, sleeps: list[float]) -> None:
    seeded = []
    for _ in range(9):
        seeded += seed_tickets(fake, 1)
        fake.advance_clock(1)
    pages_read = 0

    def meddle(request: httpx.Request) -> httpx.Response:
        nonlocal pages_read
        response = fake.handle(request)
        if request.url.path.endswith("/tickets") and request.url.params.get("orderby") == "id":
            pages_read += 1
            if pages_read == 1:  # an agent answers the oldest ticket while the hub reads on
                fake.advance_clock(1)
                fake.update("tickets", seeded[0], {"Subject": "Edited meanwhile"})
        return response

    with make(fake, transport=httpx.MockTransport(meddle), page_size=3) as conn:
        pages = read_all(conn, "tickets")
        assert ids(pages) == seeded  # nothing shifted out of reach, nothing twice
        later = read_all(conn, "tickets", pages[-1].state)
    assert ids(later) == [seeded[0]] and later[0].records[0].data["Subject"] == "Edited meanwhile"


def test_ticket_dates_are_asked_in_rt_s_time_zone(fake: FakeRT, sleeps: list[float]) -> None:
    """RT reads TicketSQL dates in the user's zone (here New York): the connector measures the
    offset once, or takes it from the settings, and never asks from later than its checkpoint."""
    seeded = seed_tickets(fake, 3)
    with make(fake, page_size=2) as conn:
        state = read_all(conn, "tickets")[-1].state
        fake.advance_clock(5)
        fake.update("tickets", seeded[1], {"Subject": "changed"})
        assert ids(read_all(conn, "tickets", state)) == [seeded[1]]
        assert conn._measure_offset() in (timedelta(hours=-5), timedelta(hours=-4))
    searches = sum(1 for _, p, _ in fake.requests if p.endswith("/tickets"))
    assert 10 <= searches <= 16  # 2 reads of 2 searches each, and about 7 to measure, once
    before = len(fake.requests)
    with make(fake, page_size=2, timezone="America/New_York") as told:
        assert ids(read_all(told, "tickets", state)) == [seeded[1]]
        assert told._offset is told._NOT_MEASURED
    assert len(fake.requests) - before <= 3  # the newest change and the pages: no measuring
    with make(fake, page_size=2, timezone="UTC") as wrong:  # a wrong zone asks from too late...
        assert ids(read_all(wrong, "tickets", state)) == []  # ...which is why it is measured


def test_ticket_read_in_utc_rt(sleeps: list[float]) -> None:
    fake = FakeRT(token=TOKEN, timezone="UTC")
    seeded = seed_tickets(fake, 4)
    with make(fake, page_size=3) as conn:
        state = read_all(conn, "tickets")[-1].state
        fake.advance_clock(3)
        fake.update("tickets", seeded[2], {"Priority": 80})
        pages = read_all(conn, "tickets", state)
        assert ids(pages) == [seeded[2]] and pages[0].records[0].data["PriorityBand"] == "high"
        assert conn._measure_offset() == timedelta(0)


def test_priority_bands() -> None:
    assert [priority_band(p) for p in (None, 0, 29, 30, 50, 59, 60, 89, 90, 100, 250)] == [
        None, "low", "low", "normal", "normal", "normal", "high", "high", "urgent", "urgent", "urgent"]


# -- users ---------------------------------------------------------------------------------------
def test_user_full_read_skips_rt_system_users_and_resumes(rt: RT, fake: FakeRT) -> None:
    seeded = seed_users(fake, 7)
    pages = read_all(rt, "users")
    assert ids(pages) == ["14", *seeded]  # root is a person; RT_System and Nobody are not
    assert {r.data["Name"] for p in pages for r in p.records}.isdisjoint({"RT_System", "Nobody"})
    assert [r for p in pages for r in p.records][1].data["EmailAddress"] == "user0@example.com"
    assert "scan_page" in pages[0].state and "scan_page" not in pages[-1].state
    assert ids(read_all(rt, "users", pages[1].state)) == [r.id for p in pages[2:] for r in p.records]
    assert ids(read_all(rt, "users", pages[-1].state)) == []  # nothing changed since the scan began


def test_incremental_user_read_after_edits_oldest_change_first(rt: RT, fake: FakeRT) -> None:
    seeded = seed_users(fake, 6)
    state = read_all(rt, "users")[-1].state
    fake.advance_clock(1)
    fake.update("users", seeded[4], {"City": "Osaka"})
    fake.advance_clock(1)
    fake.update("users", seeded[1], {"RealName": "Renamed"})
    new = seed_users(fake, 1, prefix="new")[0]
    pages = read_all(rt, "users", state)
    assert ids(pages) == [seeded[4], seeded[1], new]
    assert pages[0].records[0].data["City"] == "Osaka"
    searches = calls(fake, "/users")
    assert ids(read_all(rt, "users", pages[-1].state)) == []
    assert calls(fake, "/users") - searches == 1  # newest first: one page reaches the checkpoint


def test_users_sharing_one_second_neither_gap_nor_duplicate(rt: RT, fake: FakeRT) -> None:
    state = read_all(rt, "users")[-1].state
    fake.advance_clock(1)
    with fake.freeze_clock():
        first = seed_users(fake, 7, prefix="a")
        pages = read_all(rt, "users", state)  # read while that second still goes on
        second = seed_users(fake, 2, prefix="b")  # the same second, after the read
    assert ids(pages) == first
    assert ids(read_all(rt, "users", pages[-1].state)) == second
    done = 0
    for page in pages:
        done += len(page.records)
        assert ids(read_all(rt, "users", page.state)) == first[done:] + second


def test_users_changed_during_the_newest_first_scan_are_not_lost(fake: FakeRT, sleeps: list[float]) -> None:
    seeded = seed_users(fake, 3)
    with make(fake, page_size=2) as conn:
        state = read_all(conn, "users")[-1].state
        fake.advance_clock(1)
        changed = [fake.insert("users", {"Name": f"c{i}", "EmailAddress": f"c{i}@example.com"}) for i in range(5)]
        pages_seen = 0

        def meddle(request: httpx.Request) -> httpx.Response:
            nonlocal pages_seen
            response = fake.handle(request)
            if request.url.path.endswith("/users"):
                pages_seen += 1
                if pages_seen == 1:  # someone edits an old user between page 1 and page 2
                    fake.advance_clock(1)
                    fake.update("users", seeded[0], {"City": "Kyoto"})
            return response

        with make(fake, transport=httpx.MockTransport(meddle), page_size=2) as busy:
            pages = read_all(busy, "users", state)
        got = ids(pages)
        assert got[:5] == changed and seeded[0] not in got  # changed after the scan passed it
        assert ids(read_all(conn, "users", pages[-1].state)) == [seeded[0]]  # so it comes next time


# -- correspondence -------------------------------------------------------------------------------
def test_correspondence_links_to_the_person_who_wrote_it(rt: RT, fake: FakeRT) -> None:
    alice = fake.insert("users", {"Name": "alice", "EmailAddress": "alice@example.com"})
    ticket = fake.insert("tickets", {"Subject": "Printer on fire", "Requestor": [alice], "Content": "Help!"})
    fake.update("tickets", ticket, {"Status": "open"})  # a field change: not correspondence
    reply = fake.insert("correspondence", {"Ticket": ticket, "Content": "We are on it.", "Creator": "14"})
    pages = read_all(rt, "correspondence")
    records = [r for p in pages for r in p.records]
    assert [r.data["Type"] for r in records] == ["Create", "Correspond"] and records[1].id == reply
    create, answer = (r.data for r in records)
    assert (create["Creator"], create["Direction"], create["Content"]) == (alice, "inbound", "Help!")
    assert (answer["Creator"], answer["Direction"], answer["Content"]) == ("14", "outbound", "We are on it.")
    assert answer["Subject"] == "Printer on fire" and answer["Ticket"] == ticket
    assert answer["Url"].endswith(f"/Ticket/Display.html?id={ticket}#txn-{reply}")
    assert pages[-1].state == {"after": int(reply)}


def test_correspondence_pages_cost_three_requests_and_resume(rt: RT, fake: FakeRT) -> None:
    tickets = seed_tickets(fake, 4)
    for ticket in tickets:
        fake.insert("correspondence", {"Ticket": ticket, "Content": f"reply on {ticket}"})
    before = len(fake.requests)
    pages = read_all(rt, "correspondence")
    assert len(ids(pages)) == 8 and len(set(ids(pages))) == 8
    assert len(fake.requests) - before == 3 * 3  # 3 pages (3, 3, 2), each: transactions, bodies, tickets
    state = pages[0].state
    assert ids(read_all(rt, "correspondence", state)) == ids(pages)[3:]
    fake.insert("correspondence", {"Ticket": tickets[0], "Content": "later"})
    again = read_all(rt, "correspondence", pages[-1].state)
    assert [r.data["Content"] for p in again for r in p.records] == ["later"]
    assert read_all(rt, "correspondence", again[-1].state)[-1].records == []


# -- writes: users -------------------------------------------------------------------------------
def test_user_create_update_and_idempotent_retry(rt: RT, fake: FakeRT) -> None:
    op = WriteOp("hub-1", None, {"EmailAddress": "taro@example.jp", "RealName": "山田 太郎", "WorkPhone": "+81312345678"})
    [created] = rt.write("users", [op])
    assert created.status == "created" and created.target_id and created.target_id.isdigit()
    user = fake.table("users")[created.target_id]
    assert (user["Name"], user["RealName"]) == ("taro@example.jp", "山田 太郎")  # RT's Name defaults to the email
    [again] = rt.write("users", [op])  # a retried create (the answer was lost): no duplicate
    assert (again.status, again.target_id) == ("updated", created.target_id)
    assert sum(1 for u in fake.records("users") if u["EmailAddress"] == "taro@example.jp") == 1
    [changed] = rt.write("users", [WriteOp("hub-1", created.target_id, {"City": "Sapporo", "id": "999"})])
    assert changed.status == "updated" and fake.table("users")[created.target_id]["City"] == "Sapporo"
    [by_case] = rt.write("users", [WriteOp("hub-2", None, {"EmailAddress": "TARO@example.jp", "Lang": "ja"})])
    assert (by_case.status, by_case.target_id) == ("updated", created.target_id)  # RT matches emails ignoring case


def test_user_errors_fail_only_their_record(rt: RT, fake: FakeRT) -> None:
    seed_users(fake, 1, prefix="taken")
    batch = [
        WriteOp("ok-1", None, {"EmailAddress": "fine1@example.com"}),
        WriteOp("bad-email", None, {"EmailAddress": "not-an-email-address", "RealName": "Bad"}),
        WriteOp("bad-name", None, {"Name": "taken0", "EmailAddress": "other@example.com"}),
        WriteOp("ok-2", None, {"EmailAddress": "fine2@example.com"}),
    ]
    results = rt.write("users", batch)
    assert [r.status for r in results] == ["created", "failed", "updated", "created"]
    assert results[1].error == "Invalid syntax for email address" and results[1].field == "EmailAddress"
    # the name "taken0" is RT's already: that create became an update of that user. An update
    # RT refuses in part (the email is another user's) fails, naming the field:
    [clash] = rt.write("users", [WriteOp("k", results[0].target_id, {"EmailAddress": "fine2@example.com",
                                                                    "City": "Nagoya"})])
    assert clash.status == "failed" and clash.field == "EmailAddress" and "Email address in use" in (clash.error or "")
    assert fake.table("users")[results[0].target_id]["City"] == "Nagoya"  # RT applied the rest
    [missing] = rt.write("users", [WriteOp("k2", "99999", {"City": "Nowhere"})])
    assert missing.status == "failed" and "does not exist" in (missing.error or "")
    [deleted] = rt.write("users", [WriteOp("k3", results[0].target_id, {}, "delete")])
    assert deleted.status == "failed" and "does not delete" in (deleted.error or "")


# -- writes: tickets -----------------------------------------------------------------------------
def test_ticket_create_and_update(rt: RT, fake: FakeRT) -> None:
    alice = fake.insert("users", {"Name": "alice", "EmailAddress": "alice@example.com"})
    [created] = rt.write("tickets", [WriteOp("t-1", None, {
        "Subject": "VPN down", "RequestorId": alice, "PriorityBand": "high", "Content": "Since this morning",
        "Due": "2030-01-31T09:00:00Z", "CF.Product": "VPN",
    })])
    assert created.status == "created"
    ticket = fake.table("tickets")[created.target_id]
    assert (ticket["Queue"], ticket["Requestor"], ticket["Priority"], ticket["Due"]) == (1, [int(alice)], 75,
                                                                                         "2030-01-31 09:00:00")
    assert ticket["CustomFields"] == {"Product": ["VPN"]}
    assert fake.content(fake.transactions(created.target_id)[0]["id"]) == "Since this morning"
    [updated] = rt.write("tickets", [WriteOp("t-1", created.target_id, {"Status": "stalled", "Queue": "Support",
                                                                        "Owner": "root", "Content": "ignored"})])
    assert updated.status == "updated"
    ticket = fake.table("tickets")[created.target_id]
    assert (ticket["Status"], ticket["Queue"], ticket["Owner"]) == ("stalled", 2, 14)


def test_ticket_errors_fail_only_their_record(rt: RT, fake: FakeRT) -> None:
    [first] = rt.write("tickets", [WriteOp("t-0", None, {"Subject": "exists"})])
    results = rt.write("tickets", [
        WriteOp("t-1", None, {"Subject": "no such queue", "Queue": "Nope"}),
        WriteOp("t-2", first.target_id, {"Status": "bogus", "Subject": "renamed"}),
        WriteOp("t-3", None, {"Subject": "fine"}),
        WriteOp("t-4", None, {"Subject": "bad band", "PriorityBand": "extreme"}),
    ])
    assert [r.status for r in results] == ["failed", "failed", "created", "failed"]
    assert results[0].error == "No permission to create tickets in the queue 'Nope'" and results[0].field == "Queue"
    assert results[1].field == "Status" and "isn't a valid status" in (results[1].error or "")
    assert fake.table("tickets")[first.target_id]["Subject"] == "renamed"  # RT applied the rest
    assert "PriorityBand" in (results[3].error or "")


def test_correspondence_is_read_only(rt: RT) -> None:
    with pytest.raises(ConfigError, match="read-only"):
        rt.write("correspondence", [WriteOp("k", None, {"Content": "x"})])


# -- retries and errors --------------------------------------------------------------------------
def test_429_and_5xx_are_retried(rt: RT, fake: FakeRT, sleeps: list[float]) -> None:
    seeded = seed_tickets(fake, 2)
    fake.inject(Fault(429, retry_after=7, path_contains="/tickets"))
    fake.inject(Fault(503, times=2, path_contains="/tickets"))
    assert ids(read_all(rt, "tickets")) == seeded
    assert 7 in sleeps and len(sleeps) >= 3
    fake.inject(Fault(502, path_contains="/user"))
    [result] = rt.write("users", [WriteOp("k", None, {"EmailAddress": "retry@example.com"})])
    assert result.status == "created"


def test_bad_token_stops_the_read(fake: FakeRT, sleeps: list[float]) -> None:
    with make(fake, token="1-42-nopenopenope") as bad, pytest.raises(AuthError) as caught:
        list(bad.read("tickets", None))
    assert caught.value.status == 401 and "Unauthorized" in str(caught.value)
    with make(fake, token="1-42-nopenopenope") as bad, pytest.raises(AuthError):
        bad.write("users", [WriteOp("k", None, {"EmailAddress": "x@example.com"})])  # not a per-record failure


def test_token_never_appears_in_errors(fake: FakeRT, sleeps: list[float]) -> None:
    with make(fake) as conn:
        fake.inject(Fault(400, body={"message": f"echo {TOKEN}"}, path_contains="/tickets"))
        with pytest.raises(ConnectorError) as caught:
            list(conn.read("tickets", None))
        assert TOKEN not in str(caught.value) and TOKEN not in (caught.value.body or "")
        fake.inject(Fault(200, raw=f"<html>{TOKEN}</html>".encode(), path_contains="/users"))
        with pytest.raises(ConnectorError) as caught:
            list(conn.read("users", None))
        assert TOKEN not in str(caught.value)
        fake.inject(Fault(500, times=hub_http.MAX_ATTEMPTS, body={"message": TOKEN}, path_contains="/transactions"))
        with pytest.raises(ConnectorError) as caught:
            list(conn.read("correspondence", None))
        assert TOKEN not in str(caught.value)
        fake.inject(Fault(400, body={"message": f"bad {TOKEN}"}, path_contains="/user"))
        [failed] = conn.write("users", [WriteOp("k", "14", {"City": "x"})])
        assert failed.status == "failed" and TOKEN not in (failed.error or "")


# -- the conformance kit -------------------------------------------------------------------------
class TestRTConformance(ConnectorSuite):
    """The standard battery. Ticket creates are idempotent through a key custom field (the fake
    defines ``HubKey``); correspondence is RT's transactions, which never change."""

    connector = RT
    fake = FakeRT
    settings: ClassVar[dict[str, Any]] = {"ticket_key_field": "HubKey"}
    invalid: ClassVar[dict[str, dict[str, Any]]] = {"tickets": {"Queue": "No such queue"}}

    def update_in_vendor(self, fake: FakeVendor, stream: str, record_id: str, fields: dict[str, Any]) -> None:
        if stream == "correspondence":
            pytest.skip("RT transactions never change: a reply is a new record (read by transaction id)")
        if stream == "tickets" and not fields:  # nothing maps out to tickets: an agent renames it
            fields = {"Subject": f"Renamed by an agent at {fake.now().isoformat()} ({record_id})"}
        super().update_in_vendor(fake, stream, record_id, fields)

