"""The RT connector against a real Request Tracker 5 (``scripts/rt.sh start`` prints RT_URL and
RT_TOKEN; CI starts it). The server may hold data from earlier runs: every record written here
has a fresh name, and reads are checked for what this run wrote."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from hub.connector import Page, WriteOp
from plugins.rt import RT, RTSettings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> dict[str, str]:
    url, token = os.environ.get("RT_URL"), os.environ.get("RT_TOKEN")
    if not url or not token:
        if os.environ.get("CI"):
            pytest.fail("CI must start RT: scripts/rt.sh start (and export RT_URL and RT_TOKEN)")
        pytest.skip("no RT server: run `bash scripts/rt.sh start` and export RT_URL and RT_TOKEN")
    return {"base_url": url, "token": token}


def connect(server: dict[str, str], **overrides: Any) -> RT:
    return RT(RTSettings(**{**server, "ticket_key_field": "HubKey", **overrides}))


@pytest.fixture
def rt(server: dict[str, str]) -> Iterator[RT]:
    with connect(server) as connector:
        yield connector


def read(conn: RT, stream: str, state: dict[str, Any] | None = None) -> list[Page]:
    pages = list(conn.read(stream, state))
    assert pages, "a read yields at least one page"
    return pages


def by_id(pages: list[Page]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for page in pages:
        for record in page.records:
            assert record.id not in out, f"{record.id} came twice in one read"
            out[record.id] = record.data
    return out


def test_check_and_discover(rt: RT, server: dict[str, str]) -> None:
    result = rt.check()
    assert result.ok and "RT 5." in result.message
    with connect(server, token="1-14-00000000000000000000000000000000") as bad:
        refused = bad.check()
    assert not refused.ok and "00000000000000" not in refused.message
    fields = rt.discover()
    assert {"EmailAddress", "RealName", "WorkPhone"} <= {f.name for f in fields["users"]}
    tickets = {f.name: f for f in fields["tickets"]}
    assert {"Subject", "Status", "RequestorId"} <= tickets.keys()
    assert tickets["CF.HubKey"].custom  # created by scripts/rt.sh


def test_write_then_read_back_incrementally(rt: RT, server: dict[str, str]) -> None:
    tag = uuid.uuid4().hex[:10]
    users_state = read(rt, "users")[-1].state
    tickets_state = read(rt, "tickets")[-1].state
    corr_state = read(rt, "correspondence")[-1].state

    # a user, created twice (a retried batch): one user
    op = WriteOp(f"hub-{tag}", None, {"EmailAddress": f"taro.{tag}@example.jp", "RealName": "山田 太郎",
                                      "WorkPhone": "+81312345678", "City": "Tokyo"})
    [created] = rt.write("users", [op])
    assert created.status == "created" and created.target_id and created.target_id.isdigit()
    [again] = rt.write("users", [op])
    assert (again.status, again.target_id) == ("updated", created.target_id)

    # a ticket from that user, with an answer from the agent (root)
    ticket_op = WriteOp(f"hub-t-{tag}", None, {"Subject": f"Printer on fire {tag}", "RequestorId": created.target_id,
                                               "Content": f"It is on fire ({tag})", "PriorityBand": "high"})
    [ticket] = rt.write("tickets", [ticket_op])
    assert ticket.status == "created"
    [ticket_again] = rt.write("tickets", [ticket_op])  # found by its HubKey: no second ticket
    assert (ticket_again.status, ticket_again.target_id) == ("updated", ticket.target_id)
    answer = rt.http.post(f"/REST/2.0/ticket/{ticket.target_id}/correspond",
                          json={"Content": f"We are on it ({tag})", "ContentType": "text/plain"})
    assert answer.status_code == 201

    users = by_id(read(rt, "users", users_state))
    assert users[created.target_id]["EmailAddress"] == f"taro.{tag}@example.jp"
    assert users[created.target_id]["RealName"] == "山田 太郎"

    ticket_pages = read(rt, "tickets", tickets_state)
    tickets = by_id(ticket_pages)
    mine = tickets[ticket.target_id]
    assert (mine["Subject"], mine["RequestorId"], mine["Priority"], mine["PriorityBand"]) == (
        f"Printer on fire {tag}", created.target_id, 75, "high")
    assert mine["Status"] == "open" and mine["Queue"] == "General"  # RT opened it on the answer
    # nothing changed since: the next read returns none of those tickets again
    assert ticket.target_id not in by_id(read(rt, "tickets", ticket_pages[-1].state))

    corr = [r for p in read(rt, "correspondence", corr_state) for r in p.records if r.data["Ticket"] == ticket.target_id]
    assert [r.data["Type"] for r in corr] == ["Create", "Correspond"]
    create, reply = (r.data for r in corr)
    assert create["Content"] == f"It is on fire ({tag})" and reply["Content"] == f"We are on it ({tag})"
    assert create["Subject"] == reply["Subject"] == f"Printer on fire {tag}"
    root = rt.http.get("/REST/2.0/user/root").json()
    assert reply["Creator"] == str(root["id"]) and reply["Direction"] == "outbound"  # the API user wrote both

    # the user changed, then read again incrementally
    state = read(rt, "users", users_state)[-1].state
    [updated] = rt.write("users", [WriteOp(f"hub-{tag}", created.target_id, {"City": "Osaka", "Lang": "ja"})])
    assert updated.status == "updated"
    changed = by_id(read(rt, "users", state))
    assert changed[created.target_id]["City"] == "Osaka"


def test_a_bad_write_fails_only_that_record(rt: RT) -> None:
    tag = uuid.uuid4().hex[:10]
    results = rt.write("users", [
        WriteOp(f"ok-{tag}", None, {"EmailAddress": f"ok.{tag}@example.com"}),
        WriteOp(f"bad-{tag}", None, {"EmailAddress": "not-an-email-address", "Name": f"bad-{tag}"}),
        WriteOp(f"ok2-{tag}", None, {"EmailAddress": f"ok2.{tag}@example.com"}),
    ])
    assert [r.status for r in results] == ["created", "failed", "created"]
    assert results[1].error == "Invalid syntax for email address" and results[1].field == "EmailAddress"
    # an update RT refuses in part: 200 from RT, a failure here, naming the field
    [clash] = rt.write("users", [WriteOp(f"ok-{tag}", results[0].target_id,
                                         {"EmailAddress": f"ok2.{tag}@example.com", "City": "Kobe"})])
    assert clash.status == "failed" and clash.field == "EmailAddress" and "in use" in (clash.error or "")
    tickets = rt.write("tickets", [
        WriteOp(f"tq-{tag}", None, {"Subject": f"nowhere {tag}", "Queue": f"NoSuchQueue{tag}"}),
        WriteOp(f"tok-{tag}", None, {"Subject": f"fine {tag}"}),
    ])
    assert [r.status for r in tickets] == ["failed", "created"]
    assert "No permission to create tickets in the queue" in (tickets[0].error or "")


def test_rt_time_zone_is_measured(server: dict[str, str]) -> None:
    """RT reads TicketSQL dates in the user's zone: give root Asia/Tokyo for a moment and check
    that the connector measures +9h and still reads exactly the tickets changed."""
    with connect(server) as admin:
        root = admin.http.get("/REST/2.0/user/root").json()
        admin.write("tickets", [WriteOp(f"tz-{uuid.uuid4().hex[:8]}", None, {"Subject": "tz reference"})])
        state = read(admin, "tickets")[-1].state
        admin.http.put("/REST/2.0/user/root", json={"Timezone": "Asia/Tokyo"})
        try:
            with connect(server) as tokyo:
                [made] = tokyo.write("tickets", [WriteOp(f"tz-{uuid.uuid4().hex[:8]}", None, {"Subject": "tz"})])
                got = by_id(read(tokyo, "tickets", state))
                assert tokyo._measure_offset() == timedelta(hours=9)
            assert made.target_id in got
            with connect(server, timezone="Asia/Tokyo") as told:  # configured: nothing to measure
                assert made.target_id in by_id(read(told, "tickets", state))
                assert told._offset is told._NOT_MEASURED
        finally:
            admin.http.put("/REST/2.0/user/root", json={"Timezone": root.get("Timezone") or ""})
