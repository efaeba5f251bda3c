"""Read-only views of the store for the CLI: status, runs, a person's 360° view."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from hub.context import iso
from hub.golden import unpack_provenance
from hub.processing import surviving_entity
from hub.store import Store
from hub.store.models import (
    AuditLog,
    Cursor,
    DeadLetter,
    Entity,
    Identifier,
    IdentityDecision,
    IdentityModel,
    IdentityReview,
    Link,
    Run,
    SourceRecord,
)
from hub.transforms import normalize_email


def status(store: Store) -> dict[str, Any]:
    """Counts per entity type and connector, cursors, open dead letters, the last run."""
    with store.session() as s:
        entities = dict(
            s.execute(
                select(Entity.type, func.count()).where(Entity.merged_into.is_(None), Entity.deleted.is_(False)).group_by(Entity.type)
            ).all()
        )
        records = [
            {"connector": c, "stream": st, "records": n}
            for c, st, n in s.execute(
                select(SourceRecord.connector, SourceRecord.stream, func.count()).group_by(SourceRecord.connector, SourceRecord.stream)
            ).all()
        ]
        pending = s.scalar(select(func.count()).select_from(SourceRecord).where(SourceRecord.status == "pending")) or 0
        dirty = s.scalar(select(func.count()).select_from(Entity).where(Entity.dirty.is_(True), Entity.merged_into.is_(None))) or 0
        dlq = s.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.status == "open")) or 0
        cursors = [{"connector": c.connector, "stream": c.stream, "state": c.state, "updated_at": iso(c.updated_at)} for c in s.scalars(select(Cursor))]
        last = s.scalars(select(Run).where(Run.kind == "sync").order_by(Run.started_at.desc()).limit(1)).first()
        model = s.execute(select(IdentityModel.n_records, IdentityModel.created_at).order_by(IdentityModel.id.desc()).limit(1)).first()
        identity = {
            "model": {"records": model.n_records, "trained_at": iso(model.created_at)} if model else None,
            "reviews_open": s.scalar(select(func.count()).select_from(IdentityReview).where(IdentityReview.status == "open")) or 0,
            "decisions": s.scalar(select(func.count()).select_from(IdentityDecision)) or 0,
        }
        return {
            "entities": entities,
            "source_records": records,
            "pending_records": pending,
            "pending_outbound": dirty,
            "dead_letters_open": dlq,
            "cursors": cursors,
            "last_run": _run(last) if last else None,
            "identity": identity,
        }


def _run(run: Run) -> dict[str, Any]:
    stats = run.stats or {}
    return {
        "run_id": run.id,
        "status": run.status,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "read": stats.get("read", {}),
        "written": stats.get("written", {}),
        "dead_letters": stats.get("dead_letters", 0),
        "seconds": stats.get("seconds"),
        "error": run.error,
    }


def runs(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    with store.session() as s:
        return [_run(r) for r in s.scalars(select(Run).where(Run.kind == "sync").order_by(Run.started_at.desc()).limit(limit))]


def find_entity(store: Store, key: str, entity_type: str = "person") -> str | None:
    """An entity id from an id, an email address or a tool's record id (``hubspot:123``)."""
    with store.session() as s:
        eid: str | None = None
        if s.get(Entity, key) is not None:
            eid = key
        elif "@" in key:
            try:
                email = normalize_email(key)
            except ValueError:
                return None
            eid = s.scalar(
                select(Identifier.entity_id).where(Identifier.entity_type == entity_type, Identifier.kind == "email", Identifier.value == email).limit(1)
            )
        elif ":" in key:
            connector, sid = key.split(":", 1)
            eid = s.scalar(
                select(Link.entity_id)
                .join(SourceRecord, SourceRecord.id == Link.source_record_id)
                .where(SourceRecord.connector == connector, SourceRecord.source_id == sid)
                .limit(1)
            )
        return surviving_entity(s, eid) if eid else None


def person(store: Store, entity_id: str) -> dict[str, Any]:
    """The 360° view: golden record, linked source records, per-field provenance, activity."""
    with store.session() as s:
        ent = s.get(Entity, entity_id)
        if ent is None:
            raise KeyError(entity_id)
        sources = [
            {
                "connector": r.connector,
                "stream": r.stream,
                "source_id": r.source_id,
                "updated_at": iso(r.source_updated_at),
                "deleted": r.deleted,
                "link_rule": rule,
                "canonical": r.canonical,
            }
            for r, rule in s.execute(
                select(SourceRecord, Link.rule)
                .join(Link, Link.source_record_id == SourceRecord.id)
                .where(Link.entity_id == entity_id)
                .order_by(SourceRecord.connector, SourceRecord.stream)
            ).all()
        ]
        provenance = {
            name: {
                "value": ent.data.get(name),
                "source": f"{p['connector']}/{p['stream']}/{p['source_id']}",
                "observed_at": p.get("observed_at"),
                "rule": p.get("rule"),
            }
            for name, p in unpack_provenance(ent.provenance).items()
        }
        related = s.scalars(
            select(Entity).where(Entity.person_id == entity_id, Entity.merged_into.is_(None)).order_by(Entity.created_at)
        ).all()
        org = None
        if ent.data.get("organization_id"):
            o = s.get(Entity, ent.data["organization_id"])
            org = {"id": o.id, "name": o.data.get("name")} if o else None
        merged = [e for e in s.scalars(select(Entity.id).where(Entity.merged_into == entity_id))]
        return {
            "id": ent.id,
            "type": ent.type,
            "deleted": ent.deleted,
            "golden": ent.data,
            "organization": org,
            "sources": sources,
            "provenance": provenance,
            "tickets": [{"id": e.id, **{k: e.data.get(k) for k in ("subject", "status", "priority", "channel", "opened_at")}} for e in related if e.type == "ticket"],
            "activities": [{"id": e.id, **{k: e.data.get(k) for k in ("type", "subject", "occurred_at")}} for e in related if e.type == "activity"],
            "merged_from": merged,
        }


def dead_letters(store: Store, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
    with store.session() as s:
        q = select(DeadLetter).order_by(DeadLetter.id)
        if status:
            q = q.where(DeadLetter.status == status)
        return [
            {
                "id": d.id,
                "run_id": d.run_id,
                "connector": d.connector,
                "stream": d.stream,
                "source_id": d.source_id,
                "field": d.field,
                "stage": d.stage,
                "reason": d.reason,
                "status": d.status,
                "attempts": d.attempts,
                "created_at": iso(d.created_at),
            }
            for d in s.scalars(q.limit(limit))
        ]


def _select_letters(ids: list[int], all_open: bool) -> Any:
    q = select(DeadLetter).where(DeadLetter.status == "open")
    if not all_open:
        q = q.where(DeadLetter.id.in_(ids))
    return q


def retry_dead_letters(store: Store, ids: list[int], *, all_open: bool = False) -> int:
    """Queue dead letters again: map failures re-process the record, write failures re-diff the entity."""
    with store.begin() as s:
        letters = list(s.scalars(_select_letters(ids, all_open)))
        for d in letters:
            if d.stage == "write" and d.payload and d.payload.get("entity_id"):
                ent = s.get(Entity, d.payload["entity_id"])
                if ent is not None:
                    ent.dirty = True
            else:
                s.execute(
                    SourceRecord.__table__.update()
                    .where(
                        SourceRecord.connector == d.connector,
                        SourceRecord.stream == d.stream,
                        or_(SourceRecord.source_id == d.source_id, SourceRecord.source_id.is_(None)),
                    )
                    .values(status="pending")
                )
            d.status = "retried"
            d.attempts += 1
        if letters:
            s.add(AuditLog(actor="admin", action="dlq.retry", subject=None, detail={"ids": [d.id for d in letters]}))
        return len(letters)


def drop_dead_letters(store: Store, ids: list[int], *, all_open: bool = False) -> int:
    with store.begin() as s:
        letters = list(s.scalars(_select_letters(ids, all_open)))
        for d in letters:
            d.status = "dropped"
        if letters:
            s.add(AuditLog(actor="admin", action="dlq.drop", subject=None, detail={"ids": [d.id for d in letters]}))
        return len(letters)
