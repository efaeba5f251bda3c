"""An admin's identity decisions: explain, merge, split, review — sticky and audited.

A decision is kept between source records (``identity_decisions``): ``must`` for a merge,
``cannot`` for a split or a rejected review pair. The engine honours them on every later sync:
no identifier, hub key or match probability joins records a person split apart. Each decision
changes entities and golden records at once and marks them for outbound, so the next sync
pushes the consequences to every tool (a split person gets a record of its own again in the
tools that had only the merged one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select, update

from hub import resolution
from hub.context import RunContext
from hub.errors import UsageError
from hub.processing import Chunk, surviving_entity
from hub.store.bulk import bulk_insert
from hub.store.models import (
    AuditLog,
    Entity,
    Identifier,
    IdentityDecision,
    IdentityReview,
    Ledger,
    Link,
    SourceRecord,
    utcnow,
)
from hub.transforms import normalize_email


class DecisionError(UsageError):
    """A decision that cannot be made as asked (unknown record, nothing to split...)."""


@dataclass(frozen=True)
class Target:
    """What a reference names: an entity, and the source records meant (all of it, or one)."""

    ref: str
    entity_id: str
    records: tuple[int, ...]
    whole: bool  # the reference named the entity, not one of its records


# -- finding what a reference names --------------------------------------------------------------
def _records_of(ctx: RunContext, eid: str) -> tuple[int, ...]:
    q = select(Link.source_record_id).where(Link.entity_id == eid).order_by(Link.source_record_id)
    return tuple(ctx.session.scalars(q))


def find(ctx: RunContext, ref: str) -> Target:
    """Resolve ``ref``: an entity id, an e-mail address, ``connector:id`` or ``connector:stream:id``."""
    s = ctx.session
    ent = s.get(Entity, ref)
    if ent is not None:
        eid = surviving_entity(ctx.session, ref)
        return Target(ref, eid, _records_of(ctx, eid), True)
    if "@" in ref:
        try:
            email = normalize_email(ref)
        except ValueError:
            raise DecisionError(f"{ref!r} is not a valid e-mail address") from None
        eid = s.scalar(select(Identifier.entity_id).where(Identifier.kind == "email", Identifier.value == email).limit(1))
        if eid is None:
            raise DecisionError(f"no person with e-mail {email}")
        eid = surviving_entity(ctx.session, eid)
        return Target(ref, eid, _records_of(ctx, eid), True)
    parts = ref.split(":")
    if len(parts) in (2, 3):
        q = select(SourceRecord.id, SourceRecord.stream, Link.entity_id).join(Link, Link.source_record_id == SourceRecord.id)
        q = q.where(SourceRecord.connector == parts[0], SourceRecord.source_id == parts[-1])
        if len(parts) == 3:
            q = q.where(SourceRecord.stream == parts[1])
        found = s.execute(q).all()
        if len(found) > 1:
            streams = ", ".join(f"{parts[0]}:{r.stream}:{parts[-1]}" for r in found)
            raise DecisionError(f"{ref!r} names several records; say which: {streams}")
        if found:
            return Target(ref, surviving_entity(ctx.session, found[0].entity_id), (found[0].id,), False)
    raise DecisionError(f"nothing known as {ref!r} (use an entity id, an e-mail, connector:id or connector:stream:id)")


def _describe(ctx: RunContext, rids: tuple[int, ...]) -> list[dict[str, Any]]:
    q = (
        select(SourceRecord.id, SourceRecord.connector, SourceRecord.stream, SourceRecord.source_id, Link.rule, Link.evidence, Link.manual)
        .join(Link, Link.source_record_id == SourceRecord.id)
        .where(SourceRecord.id.in_(rids))
        .order_by(SourceRecord.id)
    )
    return [
        {"record": f"{r.connector}:{r.stream}:{r.source_id}", "record_id": r.id, "linked_by": r.rule, "manual": r.manual}
        for r in ctx.session.execute(q)
    ]


def _canonical(ctx: RunContext, rids: tuple[int, ...]) -> dict[int, dict[str, Any]]:
    """What each record says of the person itself (the hub's own writes read back left out)."""
    q = select(SourceRecord.id, SourceRecord.canonical, SourceRecord.echo).where(SourceRecord.id.in_(rids), SourceRecord.deleted.is_(False))
    return {rid: resolution.record_of(rid, c, echo) for rid, c, echo in ctx.session.execute(q) if c}


# -- explain ------------------------------------------------------------------------------------------
def explain(ctx: RunContext, a: str, b: str) -> dict[str, Any]:
    """The evidence for (or against) ``a`` and ``b`` being one person.

    Shared identifiers (the deterministic rule), the merges that joined their entities, manual
    decisions, a review pair waiting, and the match model's per-field weights for the closest
    pair of their records.
    """
    s = ctx.session
    ta, tb = find(ctx, a), find(ctx, b)
    out: dict[str, Any] = {
        "a": {"ref": a, "entity_id": ta.entity_id, "records": _describe(ctx, ta.records)},
        "b": {"ref": b, "entity_id": tb.entity_id, "records": _describe(ctx, tb.records)},
        "same_entity": ta.entity_id == tb.entity_id,
    }
    ids_a = {(k, v) for k, v in s.execute(select(Identifier.kind, Identifier.value).where(Identifier.source_record_id.in_(ta.records)))}
    ids_b = {(k, v) for k, v in s.execute(select(Identifier.kind, Identifier.value).where(Identifier.source_record_id.in_(tb.records)))}
    out["shared_identifiers"] = [{"kind": k, "value": v} for k, v in sorted(ids_a & ids_b)]
    ents = {ta.entity_id, tb.entity_id}
    merges = s.execute(select(AuditLog.at, AuditLog.actor, AuditLog.action, AuditLog.subject, AuditLog.detail).where(AuditLog.action.in_(("merge", "split")), AuditLog.subject.in_(ents)).order_by(AuditLog.id))
    out["history"] = [{"at": str(m.at), "by": m.actor, "action": m.action, "entity": m.subject, **(m.detail or {})} for m in merges]
    pair = or_(
        IdentityDecision.a.in_(ta.records) & IdentityDecision.b.in_(tb.records),
        IdentityDecision.a.in_(tb.records) & IdentityDecision.b.in_(ta.records),
    )
    out["decisions"] = [
        {"kind": d.kind, "by": d.decided_by, "at": str(d.decided_at), "records": [d.a, d.b], "note": d.note}
        for d in s.scalars(select(IdentityDecision).where(pair))
    ]
    rpair = or_(
        IdentityReview.a.in_(ta.records) & IdentityReview.b.in_(tb.records),
        IdentityReview.a.in_(tb.records) & IdentityReview.b.in_(ta.records),
    )
    out["reviews"] = [{"id": r.id, "status": r.status, "probability": round(r.probability, 4)} for r in s.scalars(select(IdentityReview).where(rpair))]
    model = resolution.load_model(s)
    if model is None:
        out["probabilistic"] = None
        out["note"] = "no match model yet: it is learnt once the workspace holds enough people (identity.train_after)"
        return out
    config = resolution.resolver_config(ctx.config.identity, ctx.config.default_region)
    ca, cb = _canonical(ctx, ta.records), _canonical(ctx, tb.records)
    best: dict[str, Any] | None = None
    for ra, x in ca.items():
        for rb, y in cb.items():
            if ra == rb:
                continue
            ex = resolution.explain_pair(model, config, x, y)
            if best is None or ex["match_weight"] > best["match_weight"]:
                best = {**ex, "records": [ra, rb]}
    out["probabilistic"] = best
    return out


# -- merge and split --------------------------------------------------------------------------------
def _decide(ctx: RunContext, a: int, b: int, kind: str, actor: str, note: str | None) -> None:
    lo, hi = min(a, b), max(a, b)
    s = ctx.session
    s.execute(delete(IdentityDecision).where(IdentityDecision.a == lo, IdentityDecision.b == hi))
    bulk_insert(s, IdentityDecision, [{"entity_type": "person", "a": lo, "b": hi, "kind": kind, "decided_by": actor, "decided_at": utcnow(), "note": note}])


def merge(ctx: RunContext, a: str, b: str, *, actor: str, note: str | None = None) -> dict[str, Any]:
    """``b``'s person becomes part of ``a``'s (sticky: an earlier split between them is undone)."""
    ta, tb = find(ctx, a), find(ctx, b)
    if not ta.records or not tb.records:
        raise DecisionError("both sides need at least one linked source record")
    s = ctx.session
    for x in ta.records:  # undo splits between the two
        for y in tb.records:
            s.execute(delete(IdentityDecision).where(IdentityDecision.a == min(x, y), IdentityDecision.b == max(x, y), IdentityDecision.kind == "cannot"))
    _decide(ctx, ta.records[0], tb.records[0], "must", actor, note)
    _close_reviews(ctx, ta.records, tb.records, "accepted", actor)
    if ta.entity_id == tb.entity_id:
        return {"entity_id": ta.entity_id, "merged": None, "note": "already one person; the decision is kept"}
    chunk = Chunk(ctx, "person", [])
    chunk.actor = actor
    chunk._merge(ta.entity_id, tb.entity_id, "manual", {"note": note} if note else None)
    s.execute(update(Link).where(Link.source_record_id.in_(tb.records)).values(rule="manual", manual=True))
    chunk._recompute()
    chunk._flush_entities()
    return {"entity_id": ta.entity_id, "merged": tb.entity_id}


def split(ctx: RunContext, refs: list[str], *, actor: str, note: str | None = None) -> dict[str, Any]:
    """The named source records leave their person and become a person of their own.

    Sticky: a ``cannot`` decision is kept between every moved and every remaining record.
    """
    targets = [find(ctx, r) for r in refs]
    whole = [t.ref for t in targets if t.whole]
    if whole:
        raise DecisionError(f"name source records to split off, not a whole person: {', '.join(whole)} (see `hub person show`)")
    eids = {t.entity_id for t in targets}
    if len(eids) != 1:
        raise DecisionError("the records to split off belong to different people already")
    eid = eids.pop()
    moved = tuple(sorted({r for t in targets for r in t.records}))
    remaining = tuple(r for r in _records_of(ctx, eid) if r not in moved)
    if not remaining:
        raise DecisionError("that would leave the person with no record; name fewer records")
    for x in moved:
        for y in remaining:
            _decide(ctx, x, y, "cannot", actor, note)
    _close_reviews(ctx, moved, remaining, "rejected", actor)
    s = ctx.session
    chunk = Chunk(ctx, "person", [])
    chunk.actor = actor
    new = chunk._new_entity({})
    chunk._flush_links_and_rows()
    s.execute(update(Link).where(Link.source_record_id.in_(moved)).values(entity_id=new, rule="manual", manual=True, evidence={"split_from": eid}))
    s.execute(update(Identifier).where(Identifier.source_record_id.in_(moved)).values(entity_id=new))
    # the tool records that moved take their ledger rows along: the hub keeps writing them as
    # the new person, and recreates the old person where it had only that record
    for r in s.execute(select(SourceRecord.connector, SourceRecord.stream, SourceRecord.source_id).where(SourceRecord.id.in_(moved))):
        s.execute(
            update(Ledger)
            .where(Ledger.entity_id == eid, Ledger.connector == r.connector, Ledger.stream == r.stream, Ledger.target_id == r.source_id)
            .values(entity_id=new)
        )
    # people, activities and tickets referring to the person keep pointing at the original
    _release(ctx, moved, {eid, new}, chunk)
    bulk_insert(s, AuditLog, [{"at": utcnow(), "actor": actor, "action": "split", "subject": eid, "detail": {"new_entity": new, "records": list(moved), "note": note}}])
    return {"entity_id": eid, "new_entity_id": new, "moved": _describe(ctx, moved)}


def _release(ctx: RunContext, rids: tuple[int, ...], eids: set[str], chunk: Chunk | None = None) -> None:
    """Records held while their link was in review feed and receive their person again."""
    ctx.session.execute(update(SourceRecord).where(SourceRecord.id.in_(rids), SourceRecord.status == "held").values(status="mapped"))
    chunk = chunk or Chunk(ctx, "person", [])
    chunk.affected |= eids
    chunk._recompute()
    chunk._flush_entities()
    # the tools must be brought in line even where the golden record itself did not change
    ctx.session.execute(update(Entity).where(Entity.id.in_(eids), Entity.merged_into.is_(None)).values(dirty=True))


# -- review ------------------------------------------------------------------------------------------
def _close_reviews(ctx: RunContext, xs: tuple[int, ...], ys: tuple[int, ...], status: str, actor: str) -> None:
    pair = or_(IdentityReview.a.in_(xs) & IdentityReview.b.in_(ys), IdentityReview.a.in_(ys) & IdentityReview.b.in_(xs))
    ctx.session.execute(
        update(IdentityReview).where(pair, IdentityReview.status == "open").values(status=status, decided_by=actor, decided_at=utcnow())
    )


def reviews(ctx: RunContext, *, status: str = "open", limit: int = 50) -> list[dict[str, Any]]:
    """Pairs waiting for a person (most likely first), with both records and their evidence.

    A pair whose records are one person by now (another link joined them) is closed on the way.
    """
    s = ctx.session
    rows = list(s.scalars(select(IdentityReview).where(IdentityReview.status == status).order_by(IdentityReview.probability.desc(), IdentityReview.id)))
    if not rows:
        return []
    rids = tuple({r for row in rows for r in (row.a, row.b)})
    ent = {rid: surviving_entity(ctx.session, eid) for rid, eid in s.execute(select(Link.source_record_id, Link.entity_id).where(Link.source_record_id.in_(rids)))}
    canon = _canonical(ctx, rids)
    names = {d["record_id"]: d["record"] for d in _describe(ctx, rids)}
    out: list[dict[str, Any]] = []
    shown: set[tuple[str, str]] = set()
    for row in rows:
        ea, eb = ent.get(row.a) or "", ent.get(row.b) or ""
        if status == "open" and row.kind == "link" and ea and ea == eb:
            row.status, row.decided_by, row.decided_at = "linked", "resolver", utcnow()
            continue
        people = (min(ea, eb), max(ea, eb))
        if people in shown:
            continue  # the same two people through other records of theirs: decided together
        shown.add(people)
        if len(out) < limit:
            out.append({
                "id": row.id,
                "kind": row.kind,
                "question": "one person?" if row.kind == "link" else f"does {names.get((row.evidence or {}).get('record'))} still belong to this person?",
                "probability": round(row.probability, 4),
                "status": row.status,
                "a": {"record": names.get(row.a), "entity_id": ent.get(row.a), "person": _summary(canon.get(row.a))},
                "b": {"record": names.get(row.b), "entity_id": ent.get(row.b), "person": _summary(canon.get(row.b))},
                "evidence": row.evidence,
            })
    return out


def _summary(c: dict[str, Any] | None) -> dict[str, Any]:
    if not c:
        return {}
    keys = ("family_name", "given_name", "family_name_kana", "given_name_kana")
    out: dict[str, Any] = {k: c[k] for k in keys if c.get(k)}
    out["emails"] = [e.get("address") for e in c.get("emails") or () if isinstance(e, dict)]
    out["phones"] = [p.get("number") for p in c.get("phones") or () if isinstance(p, dict)]
    addr = next((a for a in c.get("addresses") or () if isinstance(a, dict)), None)
    if addr:
        out["address"] = " ".join(str(addr[k]) for k in ("postal_code", "region", "locality", "street") if addr.get(k))
    return {k: v for k, v in out.items() if v}


def decide_review(ctx: RunContext, review_id: int, accept: bool, *, actor: str, note: str | None = None) -> dict[str, Any]:
    """Accept (merge the two people) or reject (keep them apart for good) a review pair."""
    row = ctx.session.get(IdentityReview, review_id)
    if row is None:
        raise DecisionError(f"no review pair {review_id} (see `hub identity review`)")
    if row.status != "open":
        raise DecisionError(f"review pair {review_id} was already {row.status}")
    a, b = _record_ref(ctx, row.a), _record_ref(ctx, row.b)
    if row.kind == "unlink":  # accept: it stays with its person; reject: it leaves
        moved = (row.evidence or {}).get("record", row.b)
        if accept:
            _decide(ctx, row.a, row.b, "must", actor, note)
            _release(ctx, (moved,), {find(ctx, a).entity_id})
            result: dict[str, Any] = {"kept_together": [a, b]}
        else:
            result = split(ctx, [_record_ref(ctx, moved)], actor=actor, note=note)
    elif accept:
        result = merge(ctx, a, b, actor=actor, note=note)
    else:
        _decide(ctx, row.a, row.b, "cannot", actor, note)
        bulk_insert(ctx.session, AuditLog, [{"at": utcnow(), "actor": actor, "action": "reject", "subject": str(review_id), "detail": {"records": [row.a, row.b], "note": note}}])
        result = {"kept_apart": [a, b]}
    row.status, row.decided_by, row.decided_at = ("accepted" if accept else "rejected"), actor, utcnow()
    return {"review": review_id, **result}


def _record_ref(ctx: RunContext, rid: int) -> str:
    r = ctx.session.execute(select(SourceRecord.connector, SourceRecord.stream, SourceRecord.source_id).where(SourceRecord.id == rid)).one()
    return f"{r.connector}:{r.stream}:{r.source_id}"
