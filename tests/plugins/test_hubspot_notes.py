"""HubSpot notes: activities written as notes associated with contacts, and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import hub.http
from hub import plugins
from hub.connector import Page, Record, WriteOp
from hub.errors import ConfigError
from hub.mapping import load_mapping_file
from hub.sandbox.fake import sandbox_settings
from plugins.hubspot.connector import HubSpot
from plugins.hubspot.fake import FakeHubSpot, iso

TOKEN = "pat-na1-notes-test"
BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "hubspot.yaml"
NOTE_TO_CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait of the HTTP layer, recorded instead of slept (the retry policy is untouched)."""
    recorded: list[float] = []
    monkeypatch.setattr(hub.http, "sleep", recorded.append)
    return recorded


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot(token=TOKEN)


def connect(fake: FakeHubSpot, **settings: Any) -> HubSpot:
    return HubSpot(HubSpot.Settings(**{**sandbox_settings(fake), **settings}), transport=fake.transport())


def contacts(fake: FakeHubSpot, n: int) -> list[str]:
    return [fake.insert("contacts", {"email": f"person{i}@example.com"}) for i in range(n)]


def note(key: str, contact: str | None, i: int = 0, **fields: Any) -> WriteOp:
    values = {"hs_note_body": f"Comment {i}", "hs_timestamp": iso(BASE + timedelta(minutes=i)),
              "seamless_activity_type": "form_submission", **fields}
    if contact is not None:
        values["contact_id"] = contact
    return WriteOp(key=key, target_id=None, fields=values)


def posts(fake: FakeHubSpot, path: str, mark: int = 0) -> list[Any]:
    return [body for method, p, body in list(fake.bodies)[mark:] if method == "POST" and p == path]


def live(pages: list[Page]) -> list[Record]:
    return [r for p in pages for r in p.records if not r.deleted]


def test_notes_stream_is_declared_like_the_others() -> None:
    spec = HubSpot.stream("notes")
    assert (spec.primary_key, spec.cursor_field, spec.batch_size) == ("id", "hs_lastmodifieddate", 100)
    assert spec.capabilities == HubSpot.stream("contacts").capabilities


def test_150_notes_are_created_in_two_calls_with_their_contact_association(fake: FakeHubSpot) -> None:
    people = contacts(fake, 3)
    ops = [note(f"act-{i}", people[i % 3], i) for i in range(150)]
    results = connect(fake).write("notes", ops)
    assert [r.status for r in results] == ["created"] * 150
    assert [r.key for r in results] == [op.key for op in ops]
    sent = posts(fake, "/crm/v3/objects/notes/batch/create")
    assert [len(b["inputs"]) for b in sent] == [100, 50]
    assert not posts(fake, "/crm/v3/objects/notes/batch/upsert")
    first = sent[0]["inputs"][0]
    assert first["associations"] == [{"to": {"id": people[0]}, "types": [NOTE_TO_CONTACT]}]
    assert "contact_id" not in first["properties"]  # an association, never a property
    assert first["properties"]["seamless_hub_id"] == "act-0"
    for i, result in enumerate(results):
        assert fake.associations(result.target_id) == [people[i % 3]]
        props = fake.record("notes", result.target_id)["properties"]
        assert props["seamless_hub_id"] == f"act-{i}" and props["hs_note_body"] == f"Comment {i}"


def test_full_and_incremental_reads_carry_the_associated_contact(fake: FakeHubSpot) -> None:
    people = contacts(fake, 2)
    # no overlap: the next incremental read starts where the full read began
    conn = connect(fake, page_size=20, search_page_size=20, full_read_overlap_seconds=0)
    written = conn.write("notes", [note(f"act-{i}", people[i % 2], i) for i in range(45)])
    lonely = fake.insert("notes", {"hs_note_body": "<p>Typed in HubSpot</p>"})  # no contact, no type

    mark = len(fake.bodies)
    pages = list(conn.read("notes", None))
    got = {r.id: r for r in live(pages)}
    assert set(got) == {r.target_id for r in written} | {lonely}
    for i, result in enumerate(written):
        record = got[result.target_id]
        assert record.data["contact_id"] == people[i % 2]
        assert record.data["hs_timestamp"] == iso(BASE + timedelta(minutes=i))
        assert record.updated_at is not None
    assert got[lonely].data["contact_id"] is None
    assert got[lonely].data["seamless_activity_type"] == "note"  # HubSpot's own notes are notes
    lists = [p for m, p, _ in list(fake.bodies)[mark:] if m == "GET"]
    assert lists and set(lists) == {"/crm/v3/objects/notes"}

    # Changes: one note edited and re-associated in HubSpot, one new note with a contact.
    fake.advance_clock(120)
    moved = written[3].target_id
    fake.update("notes", moved, {"hs_note_body": "Edited"})
    fake.associate(moved, people[1])
    added = fake.insert("notes", {"hs_note_body": "New"}, contacts=[people[0]])
    mark = len(fake.bodies)
    changes = list(conn.read("notes", pages[-1].state))
    changed = {r.id: r for r in live(changes)}
    # (a note written in the very millisecond the full read began may be read again: GTE)
    assert set(changed) - {lonely} == {moved, added}
    assert changed[added].data["contact_id"] == people[0]
    assert changed[moved].data["contact_id"] == people[1]  # first association: people[1] was there
    assert changed[moved].data["hs_note_body"] == "Edited"
    # search answers carry no associations: one v4 batch read per page of changes
    reads = posts(fake, "/crm/v4/associations/notes/contacts/batch/read", mark)
    assert len(reads) == 1 and {i["id"] for i in reads[0]["inputs"]} - {lonely} == {moved, added}

    # Nothing changed: nothing read, and no association lookup for an empty page.
    mark = len(fake.bodies)
    assert live(list(conn.read("notes", changes[-1].state))) == []
    assert not posts(fake, "/crm/v4/associations/notes/contacts/batch/read", mark)


def test_incremental_read_pages_look_up_associations_once_per_page(fake: FakeHubSpot) -> None:
    people = contacts(fake, 1)
    conn = connect(fake, search_page_size=10, full_read_overlap_seconds=0)
    state = list(conn.read("notes", None))[-1].state
    fake.advance_clock(120)
    with fake.freeze_clock():  # one timestamp for all: the checkpoint pages inside it
        ids = [fake.insert("notes", {"hs_note_body": f"n{i}"}, contacts=people) for i in range(25)]
    mark = len(fake.bodies)
    pages = list(conn.read("notes", state))
    assert sorted(r.id for r in live(pages)) == sorted(ids)
    assert {r.data["contact_id"] for r in live(pages)} == {people[0]}
    reads = posts(fake, "/crm/v4/associations/notes/contacts/batch/read", mark)
    assert [len(b["inputs"]) for b in reads] == [10, 10, 5]


def test_rewriting_the_same_notes_creates_no_duplicate(fake: FakeHubSpot) -> None:
    people = contacts(fake, 2)
    conn = connect(fake)
    batch = [note(f"act-{i}", people[i % 2], i) for i in range(5)]
    first = conn.write("notes", batch)
    second = conn.write("notes", batch)  # a retried run: the notes exist under these keys
    assert [r.status for r in first] == ["created"] * 5
    assert [r.status for r in second] == ["updated"] * 5
    assert [r.target_id for r in second] == [r.target_id for r in first]
    assert len(fake.records("notes")) == 5
    for i, result in enumerate(first):
        assert fake.associations(result.target_id) == [people[i % 2]]  # still one association
    # the create met the unique key (409) and fell back to upsert + associating
    assert len(posts(fake, "/crm/v3/objects/notes/batch/upsert")) == 1
    # a batch mixing existing and new notes also ends with each note once
    mixed = batch[:2] + [note("act-new", people[0], 9)]
    results = conn.write("notes", mixed)
    assert [r.status for r in results] == ["updated", "updated", "created"]
    assert len(fake.records("notes")) == 6
    assert fake.associations(results[2].target_id) == [people[0]]


def test_a_note_without_hs_timestamp_fails_alone(fake: FakeHubSpot) -> None:
    people = contacts(fake, 1)
    ops = [note("act-0", people[0], 0), note("act-1", people[0], 1), note("act-2", people[0], 2)]
    del ops[1].fields["hs_timestamp"]
    results = connect(fake).write("notes", ops)
    assert [r.status for r in results] == ["created", "failed", "created"]
    assert results[1].field == "hs_timestamp"
    assert "required" in (results[1].error or "")
    assert len(fake.records("notes")) == 2


def test_an_unknown_contact_fails_only_that_note(fake: FakeHubSpot) -> None:
    people = contacts(fake, 1)
    ops = [note("act-0", people[0], 0), note("act-1", "999999", 1), note("act-2", None, 2)]
    results = connect(fake).write("notes", ops)
    assert [r.status for r in results] == ["created", "failed", "created"]
    assert "999999" in (results[1].error or "")
    assert fake.associations(results[2].target_id) == []


def test_updating_contact_id_re_points_the_association(fake: FakeHubSpot) -> None:
    people = contacts(fake, 3)
    conn = connect(fake)
    [created] = conn.write("notes", [note("act-0", people[0])])
    fake.associate(created.target_id, people[2])  # a second contact, added in HubSpot
    [updated] = conn.write("notes", [WriteOp("act-0", created.target_id, {"contact_id": people[1]})])
    assert (updated.status, updated.target_id) == ("updated", created.target_id)
    assert fake.associations(created.target_id) == [people[1]]
    record = next(r for r in live(list(conn.read("notes", None))) if r.id == created.target_id)
    assert record.data["contact_id"] == people[1]
    # an update without contact_id leaves the association alone
    conn.write("notes", [WriteOp("act-0", created.target_id, {"hs_note_body": "Edited"})])
    assert fake.associations(created.target_id) == [people[1]]


def test_deleted_notes_come_back_as_tombstones(fake: FakeHubSpot) -> None:
    people = contacts(fake, 1)
    conn = connect(fake, full_read_overlap_seconds=0)
    written = conn.write("notes", [note(f"act-{i}", people[0], i) for i in range(3)])
    state = list(conn.read("notes", None))[-1].state
    [gone] = conn.write("notes", [WriteOp("act-1", written[1].target_id, {}, "delete")])
    assert gone.status == "deleted"
    pages = list(conn.read("notes", state))
    assert [r.id for p in pages for r in p.records if r.deleted] == [written[1].target_id]


def test_the_fake_refuses_contact_id_as_a_property(fake: FakeHubSpot) -> None:
    import httpx

    api = httpx.Client(transport=fake.transport(), base_url=fake.base_url, headers={"Authorization": f"Bearer {TOKEN}"})
    answer = api.post("/crm/v3/objects/notes/batch/create", json={"inputs": [
        {"properties": {"hs_timestamp": "1714564800000", "contact_id": "1"}}]})
    assert answer.status_code == 400 and "PROPERTY_DOESNT_EXIST" in answer.text
    answer = api.post("/crm/v3/objects/notes/batch/upsert", json={"inputs": [
        {"idProperty": "seamless_hub_id", "id": "k", "properties": {"hs_timestamp": "1714564800000"},
         "associations": [{"to": {"id": "1"}, "types": [NOTE_TO_CONTACT]}]}]})
    assert answer.status_code == 400 and "associations" in answer.json()["message"]


def test_discover_lists_notes_and_the_synthetic_contact_id(fake: FakeHubSpot) -> None:
    fields = {f.name: f for f in connect(fake).discover()["notes"]}
    assert {"hs_note_body", "hs_timestamp", "seamless_activity_type", "seamless_hub_id"} <= set(fields)
    assert fields["contact_id"].writable and fields["contact_id"].type == "association"
    assert not fields["hs_lastmodifieddate"].writable


def test_a_portal_without_the_activity_type_property_is_a_configuration_error(fake: FakeHubSpot) -> None:
    fake.remove_property("notes", "seamless_activity_type")
    people = contacts(fake, 1)
    with pytest.raises(ConfigError) as caught:
        connect(fake).write("notes", [note("act-0", people[0]), note("act-1", people[0], 1)])
    assert "seamless_activity_type" in str(caught.value)


def test_the_mapping_loads_and_maps_a_note_both_ways(fake: FakeHubSpot) -> None:
    mapping, issues = load_mapping_file(MAPPING, plugins.load().transforms, streams=[s.name for s in HubSpot.streams])
    assert issues == [] and mapping is not None
    assert mapping.streams["notes"].entity == "activity"
    golden = {"id": "ent-act-1", "type": "email", "person_id": "ent-person-7", "body": "Thanks for the reply",
              "occurred_at": "2024-05-01T03:04:05+00:00", "subject": "Re: invoice"}
    out = mapping.to_vendor("notes", golden, vendor_id=lambda stream, eid: "501" if eid == "ent-person-7" else None)
    assert out == {"seamless_activity_type": "email", "hs_note_body": "Thanks for the reply",
                   "hs_timestamp": "2024-05-01T03:04:05+00:00", "contact_id": "501"}

    # written through the connector and read back, it maps to the same activity
    contact = fake.insert("contacts", {"email": "p7@example.com"})
    conn = connect(fake)
    [result] = conn.write("notes", [WriteOp("ent-act-1", None, {**out, "contact_id": contact})])
    record = next(r for r in live(list(conn.read("notes", None))) if r.id == result.target_id)
    back = mapping.to_canonical("notes", record.data, connector="hubspot")
    mapping.validate("notes", back)
    assert back["person_id"] == f"@hubspot:contacts:{contact}"
    assert back["id"] == "ent-act-1" and back["type"] == "email" and back["body"] == golden["body"]
    assert mapping.diff("notes", golden, back, resolve=lambda ref: "ent-person-7") == {}

    # a note typed in HubSpot (no hub type, epoch-ms timestamp) is a valid activity of type note
    native = fake.insert("notes", {"hs_note_body": "Called back", "hs_timestamp": "1714532645000"},
                         contacts=[contact])
    record = next(r for r in live(list(conn.read("notes", None))) if r.id == native)
    activity = mapping.to_canonical("notes", record.data, connector="hubspot")
    mapping.validate("notes", activity)
    assert activity["type"] == "note" and "id" not in activity
    assert datetime.fromisoformat(activity["occurred_at"].replace("Z", "+00:00")) == datetime(
        2024, 5, 1, 3, 4, 5, tzinfo=UTC)
