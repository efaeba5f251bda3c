"""The Zendesk connector against its stateful fake: reads, writes, retries, limits, secrets."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pluggy
import pydantic
import pytest
import uvicorn

import plugins.zendesk as zendesk_plugin
from hub import hookspecs
from hub import http as hub_http
from hub.connector import Page, Record, WriteOp, WriteResult
from hub.errors import AuthError, ConfigError, ConnectorError, MissingSecretError, VendorError
from hub.sandbox import Fault
from plugins.zendesk import FakeZendesk, Zendesk, ZendeskSettings
from plugins.zendesk.connector import _Job, _Plan

TOKEN = "zd-Secret-Token-9f8e7d"
EMAIL = "agent@example.com"
SHOW_MANY = "/api/v2/job_statuses/show_many.json"


@pytest.fixture
def fake() -> FakeZendesk:
    return FakeZendesk(token=TOKEN)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch, fake: FakeZendesk) -> list[float]:
    """Every wait of the HTTP layer and the connector, recorded instead of slept; the fake's
    clock moves on by as much, so a Retry-After really lets its rate window pass."""
    waits: list[float] = []

    def record(seconds: float) -> None:
        waits.append(seconds)
        fake.advance_clock(seconds)

    monkeypatch.setattr(hub_http, "sleep", record)
    return waits


def make(fake: FakeZendesk, transport: httpx.BaseTransport | None = None, **overrides: Any) -> Zendesk:
    values: dict[str, Any] = {
        "base_url": fake.base_url,
        "email": EMAIL,
        "api_token": TOKEN,
        "incremental_rpm": 0,
        "job_poll_interval": 0.0,
        **overrides,
    }
    return Zendesk(ZendeskSettings(**values), transport=transport or fake.transport())


@pytest.fixture
def zd(fake: FakeZendesk, sleeps: list[float]) -> Iterator[Zendesk]:
    connector = make(fake, page_size=3)
    yield connector
    connector.close()


def read_all(connector: Zendesk, stream: str, state: dict[str, Any] | None = None) -> list[Page]:
    return list(connector.read(stream, state))


def ids(pages: list[Page]) -> list[str]:
    return [r.id for p in pages for r in p.records]


def calls(fake: FakeZendesk, path_part: str, method: str | None = None) -> int:
    return sum(1 for m, p, _ in fake.requests if path_part in p and (method is None or m == method))


def seed_users(fake: FakeZendesk, n: int) -> list[str]:
    return [
        fake.insert("users", {"name": f"User {i}", "email": f"user{i}@example.com",
                              "user_fields": {"lifecycle": "lead"}})
        for i in range(n)
    ]


def ops(n: int, prefix: str = "k", start: int = 0) -> list[WriteOp]:
    return [
        WriteOp(f"{prefix}{i}", None, {"name": f"Person {i}", "email": f"{prefix}{i}@example.com"})
        for i in range(start, start + n)
    ]


# -- plugin and settings -------------------------------------------------------------------------
def test_plugin_registers_connector_and_sandbox() -> None:
    pm = pluggy.PluginManager("seamless_hub")
    pm.add_hookspecs(hookspecs)
    pm.register(zendesk_plugin, name="zendesk")
    connectors: list[type] = []
    sandboxes: list[tuple[str, type]] = []
    pm.hook.hub_register_connectors(register=connectors.append)
    pm.hook.hub_register_sandboxes(register=lambda name, cls: sandboxes.append((name, cls)))
    assert connectors == [Zendesk] and sandboxes == [("zendesk", FakeZendesk)]
    assert Zendesk.name == "zendesk" and Zendesk.kind == "helpdesk"
    assert [s.name for s in Zendesk.streams] == ["users", "organizations", "tickets"]


def test_settings_derive_base_url_and_validate() -> None:
    settings = ZendeskSettings(subdomain="acme", email=EMAIL, api_token=TOKEN)
    assert settings.base_url == "https://acme.zendesk.com"
    assert (settings.page_size, settings.incremental_rpm, settings.job_poll_interval) == (1000, 10, 1.0)
    assert ZendeskSettings(base_url="http://127.0.0.1:9/", email=EMAIL).base_url == "http://127.0.0.1:9"
    with pytest.raises(pydantic.ValidationError, match="subdomain"):
        ZendeskSettings(email=EMAIL, api_token=TOKEN)
    with pytest.raises(pydantic.ValidationError):
        ZendeskSettings(subdomain="acme", page_size=5000)


def test_missing_credentials_name_what_to_set() -> None:
    with pytest.raises(MissingSecretError, match="HUB_CONNECTORS__ZENDESK__SETTINGS__API_TOKEN"):
        Zendesk(ZendeskSettings(subdomain="acme", email=EMAIL))
    with pytest.raises(MissingSecretError, match="connectors.zendesk.settings.email"):
        Zendesk(ZendeskSettings(subdomain="acme", api_token=TOKEN))


def test_token_is_not_in_settings_repr() -> None:
    settings = ZendeskSettings(subdomain="acme", email=EMAIL, api_token=TOKEN)
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert TOKEN not in text


# -- check and discover --------------------------------------------------------------------------
def test_check_accepts_good_credentials_and_reports_bad_ones(fake: FakeZendesk, sleeps: list[float]) -> None:
    with make(fake) as good:
        result = good.check()
        assert result.ok and EMAIL in result.message
    with make(fake, api_token="wrong-token-abc") as bad:
        result = bad.check()
        assert not result.ok and "wrong-token-abc" not in result.message

    def anonymous(request: httpx.Request) -> httpx.Response:
        del request.headers["Authorization"]  # as if a proxy dropped the credentials
        return fake.handle(request)

    with make(fake, transport=httpx.MockTransport(anonymous)) as dropped:
        result = dropped.check()
        assert not result.ok and "anonymous" in result.message


def test_discover_lists_standard_and_custom_fields(zd: Zendesk) -> None:
    fields = zd.discover()
    users = {f.name: f for f in fields["users"]}
    assert {"name", "email", "phone", "organization_id", "tags"} <= users.keys()
    assert users["user_fields.lifecycle"].custom and users["user_fields.lifecycle"].type == "enum"
    assert users["user_fields.family_name_kana"].label == "Family name (kana)"
    assert not users["updated_at"].writable
    orgs = {f.name for f in fields["organizations"] if f.custom}
    assert orgs == {"organization_fields.name_kana", "organization_fields.corporate_number"}
    assert all(not f.writable for f in fields["tickets"])


# -- reads ---------------------------------------------------------------------------------------
def test_full_read_pages_until_end_of_stream(zd: Zendesk, fake: FakeZendesk) -> None:
    seeded = seed_users(fake, 10)
    pages = read_all(zd, "users")
    assert [len(p.records) for p in pages] == [3, 3, 3, 1]
    assert ids(pages) == seeded
    assert calls(fake, "/incremental/users/cursor") == 4
    first = pages[0].records[0]
    assert isinstance(first, Record) and first.updated_at is not None and first.updated_at.tzinfo is not None
    assert first.data["user_fields"]["lifecycle"] == "lead" and first.deleted is False
    assert all(set(p.state) == {"cursor"} for p in pages)


def test_resume_from_every_page_state_has_no_gap_and_no_duplicate(zd: Zendesk, fake: FakeZendesk) -> None:
    seeded = seed_users(fake, 10)
    pages = read_all(zd, "users")
    done = 0
    for page in pages:
        done += len(page.records)
        assert ids(read_all(zd, "users", page.state)) == seeded[done:]


def test_incremental_read_returns_only_changed_records(zd: Zendesk, fake: FakeZendesk) -> None:
    seeded = seed_users(fake, 5)
    state = read_all(zd, "users")[-1].state
    fake.update("users", seeded[3], {"phone": "+81312345678"})
    fake.update("users", seeded[0], {"user_fields": {"lifecycle": "customer"}})
    new = fake.insert("users", {"name": "Newcomer", "email": "new@example.com"})
    pages = read_all(zd, "users", state)
    assert ids(pages) == [seeded[3], seeded[0], new]
    assert pages[0].records[1].data["user_fields"]["lifecycle"] == "customer"
    # Nothing changed since: one empty page, and the state still resumes from the same place.
    idle = read_all(zd, "users", pages[-1].state)
    assert ids(idle) == [] and idle[-1].state == pages[-1].state


def test_deactivated_users_deleted_tickets_and_orgs_come_as_tombstones(zd: Zendesk, fake: FakeZendesk) -> None:
    org = fake.insert("organizations", {"name": "Gone KK"})
    users = seed_users(fake, 2)
    ticket = fake.insert("tickets", {"subject": "S", "description": "D", "requester_id": users[0]})
    states = {s: read_all(zd, s)[-1].state for s in ("users", "tickets", "organizations")}
    fake.advance_clock(5)
    fake.delete("users", users[1])
    fake.delete("tickets", ticket)
    fake.delete("organizations", org)
    user_records = [r for p in read_all(zd, "users", states["users"]) for r in p.records]
    assert [(r.id, r.deleted) for r in user_records] == [(users[1], True)]
    ticket_records = [r for p in read_all(zd, "tickets", states["tickets"]) for r in p.records]
    assert [(r.id, r.deleted) for r in ticket_records] == [(ticket, True)]
    org_records = [r for p in read_all(zd, "organizations", states["organizations"]) for r in p.records]
    assert (org, True) in [(r.id, r.deleted) for r in org_records]


def test_organizations_time_based_read_and_resume(zd: Zendesk, fake: FakeZendesk) -> None:
    seeded = []
    for i in range(7):
        seeded.append(fake.insert("organizations", {"name": f"Org {i}", "organization_fields": {"name_kana": "オーグ"}}))
        fake.advance_clock(2)
    pages = read_all(zd, "organizations")
    assert ids(pages) == seeded  # each once, although every page starts at the last one's second
    assert all(set(p.state) == {"start_time", "seen"} for p in pages)
    assert calls(fake, "/incremental/organizations") == len(pages)
    done: list[str] = []
    for page in pages:
        done += [r.id for r in page.records]
        # The boundary second comes again from Zendesk, but the state passes over what was read.
        assert done + ids(read_all(zd, "organizations", page.state)) == seeded
    assert ids(read_all(zd, "organizations", pages[-1].state)) == []
    fake.advance_clock(5)
    fake.update("organizations", seeded[2], {"notes": "changed"})
    changed = [r for p in read_all(zd, "organizations", pages[-1].state) for r in p.records]
    assert seeded[2] in [r.id for r in changed]
    assert {r.id: r.data for r in changed}[seeded[2]]["notes"] == "changed"


def test_an_organization_changed_again_in_the_last_second_read_comes_again(zd: Zendesk, fake: FakeZendesk) -> None:
    org = fake.insert("organizations", {"name": "Same second"})
    state = read_all(zd, "organizations")[-1].state
    fake.update("organizations", org, {"notes": "changed"})  # most likely within that second
    pages = read_all(zd, "organizations", state)
    assert [(r.id, r.data["notes"]) for p in pages for r in p.records] == [(org, "changed")]


def test_read_unknown_stream_is_a_config_error(zd: Zendesk) -> None:
    with pytest.raises(ConfigError, match="has no stream"):
        read_all(zd, "macros")


# -- writes --------------------------------------------------------------------------------------
def test_create_or_update_round_trip(zd: Zendesk, fake: FakeZendesk) -> None:
    org = fake.insert("organizations", {"name": "Acme"})
    batch = [
        WriteOp("p1", None, {"name": "山田 太郎", "email": "taro@example.jp", "organization_id": org,
                             "user_fields.family_name_kana": "ヤマダ", "user_fields": {"lifecycle": "lead"}}),
        WriteOp("p2", None, {"name": "Jane Roe", "email": "jane@example.com", "tags": ["vip"]}),
    ]
    results = zd.write("users", batch)
    assert [(r.key, r.status) for r in results] == [("p1", "created"), ("p2", "created")]
    stored = {r.id: r.data for p in read_all(zd, "users") for r in p.records}
    taro = stored[results[0].target_id]  # type: ignore[index]
    assert taro["external_id"] == "p1" and taro["organization_id"] == int(org)
    assert taro["user_fields"] == {"family_name_kana": "ヤマダ", "given_name_kana": None, "lifecycle": "lead"}
    assert stored[results[1].target_id]["tags"] == ["vip"]  # type: ignore[index]
    # Known records are updated by id.
    update = zd.write("users", [WriteOp("p2", results[1].target_id, {"notes": "called back", "id": "ignored"})])
    assert update == [WriteResult("p2", "updated", results[1].target_id)]
    assert fake.table("users")[results[1].target_id]["notes"] == "called back"  # type: ignore[index]
    assert calls(fake, "/users/update_many", "PUT") == 1


def test_rewriting_the_same_batch_creates_no_duplicate(zd: Zendesk, fake: FakeZendesk) -> None:
    batch = ops(5)
    first = zd.write("users", batch)
    second = zd.write("users", batch)
    assert {r.status for r in first} == {"created"} and {r.status for r in second} == {"updated"}
    assert [r.target_id for r in first] == [r.target_id for r in second]
    assert len(fake.records("users")) == 5
    # A user that already exists in Zendesk (same email, no external id yet) is adopted, not doubled.
    fake.insert("users", {"name": "Pre-existing", "email": "pre@example.com"})
    adopted = zd.write("users", [WriteOp("k-pre", None, {"name": "Pre", "email": "pre@example.com"})])
    assert adopted[0].status == "updated" and len(fake.records("users")) == 6


def test_no_call_carries_more_than_100_records(zd: Zendesk, fake: FakeZendesk) -> None:
    results = zd.write("users", ops(250))
    assert len(results) == 250 and {r.status for r in results} == {"created"}
    deletes = [WriteOp(r.key, r.target_id, {}, action="delete") for r in results[:150]]
    assert {r.status for r in zd.write("users", deletes)} == {"deleted"}
    sizes = [len(body["users"]) for m, p, body in fake.bodies if m in ("POST", "PUT") and isinstance(body, dict)]
    assert sizes == [100, 100, 50]
    destroy = [r for r in fake.requests if "destroy_many" in r[1]]
    assert len(destroy) == 2


def test_write_batches_submits_first_then_polls_together(zd: Zendesk, fake: FakeZendesk) -> None:
    batches = [ops(60, prefix=f"b{n}-") for n in range(5)]
    before = len(fake.requests)
    results = list(zd.write_batches("users", batches))
    assert [[r.key for r in batch] for batch in results] == [[op.key for op in batch] for batch in batches]
    assert all(r.status == "created" for batch in results for r in batch)
    submits = calls(fake, "create_or_update_many", "POST")
    polls = calls(fake, SHOW_MANY)
    assert submits == 3 and polls == 1  # 300 records in calls of 100, filled across batches
    assert len(fake.requests) - before == submits + polls
    assert calls(fake, "/job_statuses/", "GET") == polls  # never one call per job


def test_write_batches_fill_each_call_across_batches_and_kinds(zd: Zendesk, fake: FakeZendesk) -> None:
    known = [r.target_id for r in zd.write("users", ops(90, prefix="old-"))]
    before = len(fake.requests)
    # Ten batches of nine updates and one create: one call per kind, not two per batch.
    batches = [
        [WriteOp(f"old-{i}", known[i], {"notes": f"batch {n}"}) for i in range(9 * n, 9 * n + 9)]
        + [WriteOp(f"new-{n}", None, {"name": f"New {n}", "email": f"new-{n}@example.com"})]
        for n in range(10)
    ]
    results = list(zd.write_batches("users", batches))
    assert [[(r.key, r.status) for r in batch] for batch in results] == [
        [(op.key, "updated" if op.target_id else "created") for op in batch] for batch in batches
    ]
    assert [r.target_id for batch in results for r in batch[:9]] == known
    assert fake.table("users")[known[89]]["notes"] == "batch 9"  # type: ignore[index]
    sent = [(m, p) for m, p, _ in fake.requests[before:]]
    assert sorted(sent) == sorted([("PUT", "/api/v2/users/update_many.json"),
                                   ("POST", "/api/v2/users/create_or_update_many.json"), ("GET", SHOW_MANY)])


def test_write_batches_keeps_at_most_30_jobs_in_flight(fake: FakeZendesk, sleeps: list[float]) -> None:
    limited = FakeZendesk(token=TOKEN, max_queued_jobs=30)
    with make(limited) as connector:
        batches = [ops(100, start=100 * n) for n in range(35)]
        results = list(connector.write_batches("users", batches))
    assert [[r.key for r in batch] for batch in results] == [[op.key for op in batch] for batch in batches]
    assert all(r.status == "created" for batch in results for r in batch)
    assert not [r for r in limited.requests if r[2] == 429]
    assert calls(limited, SHOW_MANY) == 2


def test_429_retry_after_is_honoured(zd: Zendesk, fake: FakeZendesk, sleeps: list[float]) -> None:
    seed_users(fake, 2)
    fake.inject(Fault(429, retry_after=7, path_contains="/incremental/users"))
    fake.inject(Fault(429, retry_after=3, path_contains="create_or_update_many"))
    assert len(ids(read_all(zd, "users"))) == 2
    assert zd.write("users", ops(1))[0].status == "created"
    assert 7 in sleeps and 3 in sleeps


def test_fake_rate_limit_is_ridden_out_with_retry_after(fake: FakeZendesk, sleeps: list[float]) -> None:
    fake.incremental_rate_limit = 2  # the sleeps fixture moves this fake's clock
    seed_users(fake, 10)
    with make(fake, page_size=2) as connector:
        assert len(ids(read_all(connector, "users"))) == 10
    assert any(status == 429 for _, _, status in fake.requests)
    assert sleeps and all(0 < s <= 60 for s in sleeps)


def test_5xx_is_retried(zd: Zendesk, fake: FakeZendesk) -> None:
    fake.inject(Fault(503, times=2, path_contains="create_or_update_many"))
    fake.inject(Fault(502, times=1, path_contains=SHOW_MANY))
    assert [r.status for r in zd.write("users", ops(3))] == ["created"] * 3
    assert calls(fake, "create_or_update_many") == 3
    assert len(fake.records("users")) == 3


def test_one_invalid_email_fails_only_that_record(zd: Zendesk, fake: FakeZendesk) -> None:
    batch = ops(10)
    batch[4] = WriteOp("k4", None, {"name": "Broken", "email": "broken@@example"})
    results = zd.write("users", batch)
    failed = [r for r in results if not r.ok]
    assert [r.key for r in failed] == ["k4"]
    assert failed[0].field == "email" and "broken@@example is not properly formatted" in (failed[0].error or "")
    assert [r.status for r in results[:4] + results[5:]] == ["created"] * 9
    assert len(fake.records("users")) == 9


def test_custom_field_error_names_the_custom_field(zd: Zendesk) -> None:
    result = zd.write("users", [WriteOp("x", None, {"name": "X", "email": "x@example.com",
                                                    "user_fields": {"lifecycle": "whale"}})])[0]
    assert result.status == "failed" and result.field == "user_fields.lifecycle"


def test_delete_users(zd: Zendesk, fake: FakeZendesk) -> None:
    created = zd.write("users", ops(2))
    state = read_all(zd, "users")[-1].state
    results = zd.write("users", [
        WriteOp("k0", created[0].target_id, {}, action="archive"),
        WriteOp("never-synced", None, {}, action="delete"),
    ])
    assert results[0] == WriteResult("k0", "deleted", created[0].target_id)
    assert results[1].status == "failed" and "no target id" in (results[1].error or "")
    tombstones = [r for p in read_all(zd, "users", state) for r in p.records]
    assert [(r.id, r.deleted) for r in tombstones] == [(created[0].target_id, True)]


def test_organization_writes_stay_idempotent_when_the_name_is_taken(zd: Zendesk, fake: FakeZendesk) -> None:
    existing = fake.insert("organizations", {"name": "Acme KK"})
    fake.insert("organizations", {"name": "Other KK", "external_id": "someone-else"})
    batch = [
        WriteOp("org-1", None, {"name": "Acme KK", "domain_names": ["acme.jp"],
                                "organization_fields.corporate_number": "1234567890123"}),
        WriteOp("org-2", None, {"name": "Fresh KK"}),
        WriteOp("org-3", None, {"name": "Other KK"}),
    ]
    first = zd.write("organizations", batch)
    assert [(r.key, r.status) for r in first[:2]] == [("org-1", "updated"), ("org-2", "created")]
    assert first[0].target_id == existing
    assert first[2].status == "failed" and first[2].field == "name" and "taken" in (first[2].error or "")
    acme = fake.table("organizations")[existing]
    assert acme["external_id"] == "org-1" and acme["domain_names"] == ["acme.jp"]
    assert acme["organization_fields"]["corporate_number"] == "1234567890123"
    second = zd.write("organizations", batch[:2])  # a retried batch
    assert [r.status for r in second] == ["updated", "updated"]
    assert [r.target_id for r in second] == [r.target_id for r in first[:2]]
    assert len(fake.records("organizations")) == 3
    update = zd.write("organizations", [WriteOp("org-2", first[1].target_id, {"notes": "n"})])
    assert update[0].status == "updated"


def test_tickets_are_read_only(zd: Zendesk) -> None:
    with pytest.raises(ConfigError, match="read-only"):
        zd.write("tickets", [WriteOp("t", None, {"subject": "x"})])


def test_incremental_budget_applies_to_exports_only(fake: FakeZendesk, sleeps: list[float]) -> None:
    seed_users(fake, 8)
    with make(fake, page_size=2, incremental_rpm=2) as connector:
        assert len(read_all(connector, "users")) == 4
        budget = connector.incremental_budget
        assert budget is not None and budget.waited > 0 and sleeps
        waited, slept = budget.waited, len(sleeps)
        connector.write("users", ops(3))
        assert budget.waited == waited and len(sleeps) == slept  # and the job, done at once, is not waited for
    with make(fake, incremental_rpm=0) as unlimited:
        assert unlimited.incremental_budget is None


# -- secrets -------------------------------------------------------------------------------------
def test_api_token_never_appears_in_errors(fake: FakeZendesk, sleeps: list[float]) -> None:
    credential = base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
    with make(fake) as connector:
        fake.inject(Fault(400, body={"error": f"echo {TOKEN} {credential}"}, path_contains="/incremental/"))
        with pytest.raises(VendorError) as bad_request:
            read_all(connector, "users")
        fake.inject(Fault(200, raw=f"<html>{TOKEN}</html>".encode(), path_contains="/incremental/"))
        with pytest.raises(VendorError) as garbage:
            read_all(connector, "users")
        fake.inject(Fault(500, times=hub_http.MAX_ATTEMPTS, body={"error": TOKEN}, path_contains="/incremental/"))
        with pytest.raises(ConnectorError) as exhausted:
            read_all(connector, "users")
        for exc in (bad_request.value, garbage.value, exhausted.value):
            assert TOKEN not in str(exc) and credential not in str(exc) and TOKEN not in repr(exc)
    wrong = "Wrong-Token-Value-42"
    with make(fake, api_token=wrong) as refused:
        with pytest.raises(AuthError) as denied:
            read_all(refused, "users")
        assert wrong not in str(denied.value) and wrong not in repr(refused.settings)


# -- a real HTTP round trip ----------------------------------------------------------------------
@pytest.fixture
def served(fake: FakeZendesk, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake.asgi(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_fake_served_over_real_http(fake: FakeZendesk, served: str, sleeps: list[float]) -> None:
    settings = ZendeskSettings(base_url=served, email=EMAIL, api_token=TOKEN, incremental_rpm=0, job_poll_interval=0)
    with Zendesk(settings) as connector:
        assert connector.check().ok
        created = connector.write("users", ops(2))
        assert [r.status for r in created] == ["created", "created"]
        pages = read_all(connector, "users")
    assert ids(pages) == [r.target_id for r in created]
    assert any(p == SHOW_MANY for _, p, _ in fake.requests)


# -- request counts and waits --------------------------------------------------------------------
@pytest.mark.parametrize(("users", "page_size", "requests"), [(2500, 1000, 3), (2000, 1000, 2), (0, 1000, 1)])
def test_a_full_read_makes_one_export_request_per_page(
    fake: FakeZendesk, no_sleep: list[float], users: int, page_size: int, requests: int
) -> None:
    for i in range(users):
        fake.insert("users", {"name": f"U{i}", "email": f"u{i}@example.com"})
    with make(fake, page_size=page_size) as connector:
        pages = read_all(connector, "users")
    # ceil(users / page_size): a full last page already says end_of_stream, so no empty page
    # follows; only an empty account takes one request to learn that it is empty.
    assert len(fake.requests) == requests == len(pages)
    assert len(ids(pages)) == users and no_sleep == []


def test_sandbox_write_batches_never_sleep_when_jobs_complete_at_once(fake: FakeZendesk, no_sleep: list[float]) -> None:
    batches = [ops(100, prefix=f"b{n}-") for n in range(35)]
    with make(fake, job_poll_interval=1.0) as connector:  # the default interval
        results = list(connector.write_batches("users", batches))
    assert len(results) == 35 and {r.status for batch in results for r in batch} == {"created"}
    assert no_sleep == []
    # One submit per 100 records; one poll per window of 30 jobs in flight: ceil(35 / 30).
    assert calls(fake, "create_or_update_many", "POST") == 35
    assert calls(fake, SHOW_MANY) == 2 and len(fake.requests) == 37


def test_unfinished_jobs_are_polled_again_after_a_wait(fake: FakeZendesk, sleeps: list[float]) -> None:
    # The first poll finds the job still running; only then does the connector wait.
    fake.inject(Fault(200, body={"job_statuses": []}, path_contains="show_many"))
    with make(fake, job_poll_interval=2.0) as connector:
        results = connector.write("users", ops(3))
    assert [r.status for r in results] == ["created"] * 3
    assert sleeps == [2.0] and calls(fake, SHOW_MANY) == 2


def test_show_many_asks_about_at_most_100_jobs_a_call(fake: FakeZendesk, no_sleep: list[float]) -> None:
    asked: list[int] = []

    def recording(request: httpx.Request) -> httpx.Response:
        if "show_many" in request.url.path:
            asked.append(len(request.url.params["ids"].split(",")))
        return fake.handle(request)

    with make(fake, transport=httpx.MockTransport(recording)) as connector:
        jobs = []
        for n in range(150):
            job = _Job("upsert")
            job.add(_Plan(ops(1, start=n), [None]), 0, {"name": f"P{n}", "email": f"p{n}@example.com"})
            connector._submit("users", job)
            jobs.append(job)
        connector._poll(jobs, "users")
    assert asked == [100, 50] and all(job.status and job.status["status"] == "completed" for job in jobs)
    assert no_sleep == []
