"""Field timestamps are stored packed (the time most fields share once) and read as before."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.golden import resolve
from hub.processing import BASE_TS, Row, _observation, _track_fields, pack_field_ts

T1, T2, T3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"


def row(canonical: dict | None, field_ts: dict | None, updated: datetime) -> Row:
    return Row(1, "hubspot", "contacts", "7", {}, updated, False, canonical, field_ts, [], {})


def times(field_ts: dict, names: tuple[str, ...]) -> dict:
    return {n: field_ts.get(n) or field_ts[BASE_TS] for n in names}


def test_pack_keeps_only_the_fields_with_their_own_time() -> None:
    assert pack_field_ts({"a": T1, "b": T1, "c": T2}) == {BASE_TS: T1, "c": T2}
    # packing again (a write adds fields' times to a packed record) keeps the base
    assert pack_field_ts({BASE_TS: T1, "c": T2, "d": T1, "e": T3}) == {BASE_TS: T1, "c": T2, "e": T3}
    assert pack_field_ts({}) == {}


def test_unchanged_fields_keep_their_time_and_changed_ones_take_the_new_read() -> None:
    stored = pack_field_ts({"job_title": T1, "department": T1, "given_name": T2})
    old = {"job_title": "Manager", "department": "Sales", "given_name": "Ken"}
    r = row(old, stored, datetime(2024, 3, 1, tzinfo=UTC))
    field_ts, echo = _track_fields(r, {**old, "job_title": "Director"}, None)
    assert times(field_ts, tuple(old)) == {"job_title": T3, "department": T1, "given_name": T2} and not echo
    assert len(field_ts) == 3  # the base and two fields of their own
    # the golden record sees the same per-field times a full map would give
    r.canonical, r.field_ts = {**old, "job_title": "Director"}, field_ts
    g = resolve("person", [_observation(r)])
    assert {n: p.observed_at for n, p in g.provenance.items()} == {"job_title": T3, "department": T1, "given_name": T2}


def test_a_full_map_stored_before_packing_reads_the_same() -> None:
    full = {"job_title": T1, "department": T2}
    r = row({"job_title": "Manager", "department": "Sales"}, full, datetime(2024, 3, 1, tzinfo=UTC))
    g = resolve("person", [_observation(r)])
    assert {n: p.observed_at for n, p in g.provenance.items()} == full
    field_ts, _ = _track_fields(r, {"job_title": "Manager", "department": "Sales", "given_name": "Ken"}, None)
    assert pack_field_ts(field_ts) == field_ts
    assert times(field_ts, ("job_title", "department", "given_name")) == {"job_title": T1, "department": T2, "given_name": T3}
