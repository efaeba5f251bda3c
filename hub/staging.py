"""Staging: raw vendor records into the store, with their hash, and cursors per stream."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.connector import Record
from hub.store.bulk import bulk_insert, bulk_update
from hub.store.models import Cursor, SourceRecord, utcnow


def content_hash(data: dict[str, Any], deleted: bool = False) -> str:
    """A stable hash of a vendor record's content (key order does not matter)."""
    blob = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return hashlib.blake2b(blob + (b"\x01" if deleted else b"\x00"), digest_size=16).hexdigest()


def stage(session: Session, connector: str, stream: str, records: Sequence[Record], run_id: str) -> int:
    """Upsert a page of records; unchanged ones (same hash) are skipped. Returns how many changed."""
    latest: dict[str, Record] = {}
    for rec in records:  # a page may repeat a record (time-based exports): the last one wins
        latest[rec.id] = rec
    if not latest:
        return 0
    rows = session.connection().execute(
        select(SourceRecord.id, SourceRecord.source_id, SourceRecord.hash).where(
            SourceRecord.connector == connector,
            SourceRecord.stream == stream,
            SourceRecord.source_id.in_(list(latest)),
        )
    ).all()
    existing = {r.source_id: r for r in rows}
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for sid, rec in latest.items():
        digest = content_hash(rec.data, rec.deleted)
        row = existing.get(sid)
        if row is not None and row.hash == digest:
            continue
        values = {
            "payload": rec.data,
            "hash": digest,
            "source_updated_at": rec.updated_at,
            "deleted": rec.deleted,
            "status": "pending",
            "staged_at": now,
            "run_id": run_id,
        }
        if row is None:
            inserts.append({"connector": connector, "stream": stream, "source_id": sid, **values})
        else:
            updates.append({"id": row.id, **values})
    if inserts:
        bulk_insert(session, SourceRecord, inserts)
    if updates:
        bulk_update(session, SourceRecord, updates)
    return len(inserts) + len(updates)


def load_cursor(session: Session, connector: str, stream: str) -> dict[str, Any] | None:
    row = session.get(Cursor, (connector, stream))
    return dict(row.state) if row else None


def save_cursor(session: Session, connector: str, stream: str, state: dict[str, Any]) -> None:
    row = session.get(Cursor, (connector, stream))
    if row is None:
        session.add(Cursor(connector=connector, stream=stream, state=state, updated_at=utcnow()))
    else:
        row.state = state
        row.updated_at = utcnow()
