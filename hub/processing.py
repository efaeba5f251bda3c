"""Map staged records to canonical entities, link them to identities, recompute golden records.

Works on plain rows and bulk statements (SQLAlchemy Core): a chunk of a thousand records costs
a handful of queries, never one per record.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from hub import resolution
from hub.context import RunContext, as_utc, iso
from hub.errors import RecordError
from hub.golden import Observation, item_key, pack_provenance, resolve
from hub.linker import fold_name, identity_keys
from hub.mapping import parse_ref
from hub.store.bulk import bulk_insert, bulk_update, chunks
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
from schemas.canonical import ENTITIES

ROW_COLUMNS = (
    SourceRecord.id,
    SourceRecord.connector,
    SourceRecord.stream,
    SourceRecord.source_id,
    SourceRecord.payload,
    SourceRecord.source_updated_at,
    SourceRecord.deleted,
    SourceRecord.canonical,
    SourceRecord.field_ts,
    SourceRecord.echo,
    SourceRecord.retracted,
)


def process_pending(ctx: RunContext, entity: str, pairs: list[tuple[str, str]]) -> None:
    """Process every pending staged record of the (connector, stream) pairs mapping to ``entity``."""
    if not pairs:
        return
    where = or_(*(and_(SourceRecord.connector == c, SourceRecord.stream == s) for c, s in pairs))
    last = 0
    task = ctx.progress.task(f"resolve {entity}")
    while not ctx.stop.is_set():
        rows = ctx.session.connection().execute(
            select(*ROW_COLUMNS)
            .where(SourceRecord.status == "pending", SourceRecord.id > last, where)
            .order_by(SourceRecord.id)
            .limit(ctx.chunk)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        Chunk(ctx, entity, [Row(*r) for r in rows]).run()
        ctx.checkpoint()
        task.advance(len(rows))
    task.done()


def train_if_due(ctx: RunContext) -> None:
    """Learn the match model once the workspace holds enough people (see ``identity:``)."""
    ident = ctx.config.identity
    if not ident.probabilistic or ctx.stop.is_set():
        return
    if "identity_model" not in ctx.memo:
        ctx.memo["identity_model"] = resolution.load_model(ctx.session)
    if ctx.memo["identity_model"] is not None:
        return
    n = ctx.session.scalar(select(func.count()).select_from(Link).join(Entity, Entity.id == Link.entity_id).where(Entity.type == "person"))
    if (n or 0) >= ident.train_after:
        train(ctx)


def train(ctx: RunContext) -> dict[str, int]:
    """(Re)learn the match model on the person records (see :func:`resolution.train`) and apply
    what it decided, a slice at a time: probabilistic links merge entities, uncertain pairs wait
    for review."""
    config = resolution.resolver_config(ctx.config.identity, ctx.config.default_region)
    model, decided = resolution.train(ctx.session, config, ctx.config.identity.train_sample)
    merged, queued = ctx.report.entities_merged, ctx.report.identity_reviews
    task = ctx.progress.task("match people")
    for records, pairs in decided:
        if ctx.stop.is_set():
            break  # no model is kept: the next sync trains again
        chunk = Chunk(ctx, "person", [])
        chunk.apply(pairs)
        chunk._recompute()
        chunk._flush_entities()
        ctx.checkpoint()
        task.advance(records)
    else:
        ctx.memo["identity_model"] = model
        ctx.checkpoint()  # the model itself, kept once every decision is applied
    task.done()
    return {"records": model.n_records, "merged": ctx.report.entities_merged - merged, "review": ctx.report.identity_reviews - queued}


@dataclass
class Row:
    """A staged source record being processed (mutable copy of its columns)."""

    id: int
    connector: str
    stream: str
    source_id: str
    payload: dict[str, Any]
    source_updated_at: datetime | None
    deleted: bool
    canonical: dict[str, Any] | None
    field_ts: dict[str, Any] | None
    echo: list[Any] | None
    retracted: dict[str, Any] | None
    status: str = "pending"


@dataclass
class Ent:
    """An entity as the chunk sees it; flushed with bulk statements at the end."""

    id: str
    type: str
    data: dict[str, Any]
    merged_into: str | None = None
    deleted: bool = False
    version: int = 1
    created_at: datetime = field(default_factory=utcnow)
    new: bool = False  # not in the database yet
    fresh: bool = False  # created in this chunk: its golden record is computed for the first time
    changed: bool = False
    dirty: bool = False  # its golden record changed: outbound must look at it
    provenance: dict[str, Any] | None = None


class Chunk:
    """One chunk of pending source records of one entity type."""

    def __init__(self, ctx: RunContext, entity: str, rows: list[Row]) -> None:
        self.ctx = ctx
        self.s: Session = ctx.session
        self.entity = entity
        self.rows = rows
        self.entities: dict[str, Ent | None] = {}
        self.alias: dict[str, str] = {}  # merged entity -> surviving entity
        self.affected: set[str] = set()
        self.links: dict[int, list[Any]] = {}  # row id -> [entity_id, rule]
        self.new_links: list[dict[str, Any]] = []
        self.moved_links: dict[int, str] = {}
        self.actor = "resolver"
        self._cannot: dict[int, set[int]] | None = None  # record -> records a person split from it
        self._rid_entity: dict[int, str] = {}

    # -- orchestration -------------------------------------------------------------------
    def run(self) -> None:
        ids = [r.id for r in self.rows]
        for part in chunks(ids):
            q = select(Link.source_record_id, Link.entity_id, Link.rule).where(Link.source_record_id.in_(part))
            for rid, eid, rule in self.s.execute(q):
                self.links[rid] = [eid, rule]
        todo: list[tuple[Row, dict[str, Any]]] = []
        for row in self.rows:
            canonical = self._map(row)
            if canonical is None:
                continue
            if row.id in self.links and not row.deleted and _same(canonical, row.canonical):
                row.status = "mapped"  # e.g. the hub's own write read back: nothing to redo
                row.canonical = canonical
                continue
            todo.append((row, canonical))
        # a record the hub created carries the hub key: it finds the write intent even when a
        # crash kept the hub from learning the new record's id
        ledger = self._ledger({c["id"] for _, c in todo if isinstance(c.get("id"), str)})
        mapped: list[tuple[Row, dict[str, Any]]] = []
        for row, canonical in todo:
            link = self.links.get(row.id)
            led = ledger.get((row.connector, row.stream, link[0])) if link else None
            led = led or ledger.get((row.connector, row.stream, "target:" + row.source_id))
            led = led or ledger.get((row.connector, row.stream, str(canonical.get("id"))))
            field_ts, echo = _track_fields(row, canonical, led)
            row.retracted = _track_retractions(row, canonical, echo, self.entity)
            row.field_ts, row.echo, row.canonical = field_ts, sorted(echo), canonical
            mapped.append((row, canonical))
        self._link(mapped, ledger)
        if self.entity == "person":
            self._probabilistic(mapped)
            self._hold()
        self._flush_links_and_rows()
        self._recompute()
        self._flush_entities()

    def _map(self, row: Row) -> dict[str, Any] | None:
        if row.deleted:
            row.status = "mapped"
            return dict(row.canonical or {})
        rt = self.ctx.runtimes.get(row.connector)
        if rt is None:
            return None
        try:
            canonical = rt.mapping.to_canonical(row.stream, row.payload, connector=row.connector)
            rt.mapping.validate(row.stream, canonical)
        except RecordError as err:
            err.locate(connector=row.connector, stream=row.stream, source_id=row.source_id)
            self.ctx.dead_letter(err, stage="map", payload=row.payload)
            row.status = "failed"
            return None
        return canonical

    def _ledger(self, hub_keys: set[str]) -> dict[tuple[str, str, str], Any]:
        """Ledger rows (expected canonical) by (connector, stream, entity) and by target id."""
        out: dict[tuple[str, str, str], Any] = {}
        cols = (Ledger.connector, Ledger.stream, Ledger.entity_id, Ledger.target_id, Ledger.expected)
        # only the records still to process look their writes up (a record read back unchanged
        # was settled in run), each in its own tool stream: keyed by (connector, stream) the
        # queries use the ledger's indexes instead of scanning it once per chunk
        todo = [r for r in self.rows if r.status == "pending"]
        for connector, stream in sorted({(r.connector, r.stream) for r in todo}):
            scope = (Ledger.connector == connector, Ledger.stream == stream)
            mine = [r for r in todo if (r.connector, r.stream) == (connector, stream)]
            eids = sorted({self.links[r.id][0] for r in mine if r.id in self.links} | hub_keys)
            for part in chunks(eids):
                for led in self.s.connection().execute(select(*cols).where(*scope, Ledger.entity_id.in_(part))):
                    out[(led.connector, led.stream, led.entity_id)] = led
            targets = sorted({r.source_id for r in mine if r.id not in self.links})
            for part in chunks(targets):
                for led in self.s.connection().execute(select(*cols).where(*scope, Ledger.target_id.in_(part))):
                    out[(led.connector, led.stream, "target:" + str(led.target_id))] = led
        return out

    # -- entities --------------------------------------------------------------------------
    def _preload(self, eids: set[str]) -> None:
        """Load entities (and what they were merged into) in a few queries, not one each."""
        todo = sorted(e for e in eids if e and e not in self.entities)
        # provenance stays in the database unless a recompute replaces it (see _flush_entities)
        cols = (Entity.id, Entity.type, Entity.data, Entity.merged_into, Entity.deleted, Entity.version, Entity.created_at)
        while todo:
            found = []
            for part in chunks(todo):
                found.extend(self.s.connection().execute(select(*cols).where(Entity.id.in_(part))))
            for r in found:
                self.entities[r.id] = Ent(r.id, r.type, r.data, r.merged_into, r.deleted, r.version, r.created_at)
            for missing in set(todo) - {r.id for r in found}:
                self.entities[missing] = None
            todo = sorted({r.merged_into for r in found if r.merged_into and r.merged_into not in self.entities})

    def _entity(self, eid: str) -> Ent | None:
        if eid not in self.entities:
            self._preload({eid})
        return self.entities.get(eid)

    def _canon(self, eid: str) -> str:
        """The surviving entity for ``eid`` (following merges)."""
        for _ in range(64):
            if eid in self.alias:
                eid = self.alias[eid]
                continue
            ent = self._entity(eid)
            if ent is None or not ent.merged_into:
                return eid
            eid = ent.merged_into
        return eid

    def _new_entity(self, canonical: dict[str, Any]) -> str:
        # creation time first, then randomness (like UUIDv7): entities made together sit together
        # in the indexes keyed by entity, so a large sync appends to them instead of writing
        # to random pages of a store much larger than SQLite's cache
        eid = f"{time.time_ns():016x}{os.urandom(8).hex()}"
        self.entities[eid] = Ent(eid, self.entity, {k: v for k, v in canonical.items() if k != "id"}, version=0, new=True, fresh=True)
        self.ctx.report.entities_created += 1
        return eid

    # -- linking ---------------------------------------------------------------------------
    def _link(self, mapped: list[tuple[Row, dict[str, Any]]], ledger: dict[tuple[str, str, str], Any]) -> None:
        keys = {row.id: identity_keys(self.entity, c) for row, c in mapped if not row.deleted}
        index: dict[tuple[str, str], set[str]] = defaultdict(set)
        values = sorted({v for ks in keys.values() for k, v in ks if k != "hub"})
        for part in chunks(values):
            q = select(Identifier.kind, Identifier.value, Identifier.entity_id).where(
                Identifier.entity_type == self.entity, Identifier.value.in_(part)
            )
            for kind, value, eid in self.s.execute(q):
                index[(kind, value)].add(eid)
        wanted = {eid for found in index.values() for eid in found}
        wanted |= {link[0] for link in self.links.values()}
        wanted |= {v for ks in keys.values() for k, v in ks if k == "hub"}
        wanted |= {led.entity_id for led in ledger.values()}
        self._preload(wanted)
        ids = [row.id for row, _ in mapped]
        before: dict[int, set[tuple[str, str]]] = defaultdict(set)  # identifiers of linked records
        for part in chunks([i for i in ids if i in self.links]):
            for rid, kind, value in self.s.execute(select(Identifier.source_record_id, Identifier.kind, Identifier.value).where(Identifier.source_record_id.in_(part))):
                before[rid].add((kind, value))
        for part in chunks(ids):
            self.s.execute(delete(Identifier).where(Identifier.source_record_id.in_(part)))
        new_ids: list[dict[str, Any]] = []
        for row, canonical in mapped:
            link = self.links.get(row.id)
            current = self._canon(link[0]) if link else None
            if row.deleted:
                if current:
                    self.affected.add(current)
                continue
            cands: dict[str, str] = {}
            for kind, value in keys[row.id]:
                if kind == "hub":
                    if self._entity(value) is not None:
                        cands.setdefault(self._canon(value), "hub_key")
                    continue
                for eid in index.get((kind, value), ()):
                    target = self._canon(eid)
                    if target == current:
                        continue
                    if kind in ("phone", "email") and self._names_conflict(canonical, target):
                        continue  # a shared line or mailbox (family, team, switchboard) is no identity
                    cands.setdefault(target, kind)
            if not link:
                led = ledger.get((row.connector, row.stream, "target:" + row.source_id))
                if led is not None and self._entity(led.entity_id) is not None:
                    cands.setdefault(self._canon(led.entity_id), "ledger")
            if self.cannot:  # a person split these apart: no identifier joins them again
                cands = {e: r for e, r in cands.items() if not self.blocked(current, e, row.id)}
            if current:
                target, rule = current, link[1]  # type: ignore[index]
            elif cands:
                target = min(cands, key=self._age)
                rule = cands[target]
            else:
                target, rule = self._new_entity(canonical), "new"
            for other in cands:
                if self._canon(other) != target and not self.blocked(target, self._canon(other)):
                    self._merge(target, self._canon(other), cands[other])
            if link is None:
                self.links[row.id] = [target, rule]
                self.new_links.append({"source_record_id": row.id, "entity_id": target, "rule": rule, "evidence": {"keys": keys[row.id]}, "manual": False, "created_at": utcnow()})
            elif link[0] != target:
                link[0] = target
                self.moved_links[row.id] = target
            for kind, value in keys[row.id]:
                index[(kind, value)].add(target)
                new_ids.append({"entity_type": self.entity, "kind": kind, "value": value[:320], "entity_id": target, "source_record_id": row.id})
            row.status = "mapped"
            self.affected.add(target)
        if new_ids:
            for d in new_ids:  # a merge later in the chunk may have retired the entity
                d["entity_id"] = self._canon(d["entity_id"])
            bulk_insert(self.s, Identifier, new_ids)
        lost = {rid: old - set(keys[rid]) for rid, old in before.items() if rid in keys and {k for k in old - set(keys[rid]) if k[0] != "hub"}}
        if lost:
            self._evidence_gone(lost, keys, {row.id: c for row, c in mapped})

    def _evidence_gone(self, lost: dict[int, set[tuple[str, str]]], keys: dict[int, list[tuple[str, str]]], canon: dict[int, dict[str, Any]]) -> None:
        """A record whose edit replaced both the identifier that linked it (sharing none with its
        person any more) and the name is put before a person (review) and held meanwhile.

        A record stays the same record through ordinary edits — a new phone number, a new
        address — so those flow as usual; only an edit that changes who the record names is
        doubted, and never split silently: e-mails and names change for good reasons.
        """
        pairs: list[resolution.Scored] = []
        for rid, gone in lost.items():
            eid = self._canon(self.links[rid][0])
            if not _renamed(canon[rid], self._golden(eid)):
                continue
            own = [v for k, v in keys[rid] if k != "hub"]
            others = self.s.execute(
                select(Link.source_record_id).where(Link.entity_id == eid, Link.source_record_id != rid).order_by(Link.source_record_id)
            ).scalars().all()
            if not others:
                continue
            held = own and self.s.scalar(
                select(func.count()).select_from(Identifier).where(
                    Identifier.entity_type == self.entity, Identifier.value.in_(own), Identifier.entity_id == eid, Identifier.source_record_id != rid
                )
            )
            if held:
                continue
            why = "the identifier that linked it is gone: " + ", ".join(f"{k} {v}" for k, v in sorted(gone) if k != "hub")
            pairs.append(resolution.Scored(min(rid, others[0]), max(rid, others[0]), 0.0, False, {"guard": why, "record": rid}, kind="unlink"))
        self.ctx.report.identity_reviews += resolution.queue_reviews(self.s, pairs)

    def _hold(self) -> None:
        """Records whose link waits for a person ("does this record still belong?") neither feed
        their person's golden record nor receive it, so that neither side's data spreads to the
        other before the decision — however often the record is read again meanwhile."""
        q = select(IdentityReview.evidence).where(IdentityReview.status == "open", IdentityReview.kind == "unlink")
        held = {(ev or {}).get("record") for ev in self.s.execute(q).scalars()}
        for row in self.rows:
            if row.id in held and row.status == "mapped":
                row.status = "held"

    # -- manual decisions and the probabilistic layer -----------------------------------------
    @property
    def cannot(self) -> dict[int, set[int]]:
        """Records a person split apart (``hub identity split`` / a rejected review), both ways."""
        if self._cannot is None:
            self._cannot = {}
            q = select(IdentityDecision.a, IdentityDecision.b).where(IdentityDecision.entity_type == self.entity, IdentityDecision.kind == "cannot")
            for a, b in self.s.execute(q):
                self._cannot.setdefault(a, set()).add(b)
                self._cannot.setdefault(b, set()).add(a)
            rids = sorted(self._cannot)
            for part in chunks(rids):
                self._rid_entity.update(self._links_of(part))
        return self._cannot

    def _links_of(self, rids: Iterable[int]) -> dict[int, str]:
        q = select(Link.source_record_id, Link.entity_id).where(Link.source_record_id.in_(list(rids)))
        return {rid: eid for rid, eid in self.s.execute(q)}

    def _entity_of_record(self, rid: int) -> str | None:
        link = self.links.get(rid)
        eid = link[0] if link else self._rid_entity.get(rid)
        return self._canon(eid) if eid else None

    def blocked(self, a: str | None, b: str, rid: int | None = None) -> bool:
        """Whether entity ``a`` (or record ``rid``) holds a record split from one of ``b``'s."""
        cannot = self.cannot
        if not cannot:
            return False
        b = self._canon(b)
        mine = {x for x in cannot if a is not None and self._entity_of_record(x) == self._canon(a)}
        if rid is not None and rid in cannot:
            mine.add(rid)
        return any(self._entity_of_record(y) == b for x in mine for y in cannot[x])

    def _probabilistic(self, mapped: list[tuple[Row, dict[str, Any]]]) -> None:
        """Once a match model is trained, key the chunk's people and score them against the store."""
        ident = self.ctx.config.identity
        if not ident.probabilistic or not mapped:
            return
        config = resolution.resolver_config(ident, self.ctx.config.default_region)
        if "identity_model" not in self.ctx.memo:
            self.ctx.memo["identity_model"] = resolution.load_model(self.s)
        model = self.ctx.memo["identity_model"]
        if model is None:
            return  # not trained yet: the first training keys and scores everyone
        rows = [(row.id, None if row.deleted else resolution.record_of(row.id, canonical, row.echo)) for row, canonical in mapped]
        self.apply(resolution.score(self.s, model, config, rows))

    def apply(self, pairs: list[resolution.Scored]) -> None:
        """Merge the entities of linked pairs (unless a person split them) and queue the rest
        for review."""
        if not pairs:
            return
        rids = sorted({r for p in pairs for r in (p.a, p.b)} - set(self.links))
        for part in chunks(rids):
            self._rid_entity.update(self._links_of(part))
        self._preload(set(self._rid_entity.values()))
        review: list[resolution.Scored] = []
        for p in sorted(pairs, key=lambda p: -p.probability):  # strongest evidence first
            ea, eb = self._entity_of_record(p.a), self._entity_of_record(p.b)
            if ea is None or eb is None or ea == eb or self._entity(ea) is None or self._entity(eb) is None:
                continue
            if self.blocked(ea, eb):
                continue  # a person already said these are different people
            if not p.link:
                review.append(p)
                continue
            older, newer = sorted((ea, eb), key=self._age)
            self._merge(older, newer, "probabilistic", {"records": [p.a, p.b], "probability": round(p.probability, 4)})
        self.ctx.report.identity_reviews += resolution.queue_reviews(self.s, review)

    def _age(self, eid: str) -> tuple[datetime, str]:
        """Sort key: the older entity survives a merge (SQLite hands back naive UTC times)."""
        ent = self._entity(eid)
        return (as_utc(ent.created_at) if ent else None) or utcnow(), eid

    def _names_conflict(self, canonical: dict[str, Any], eid: str) -> bool:
        """Whether the record's names say it is not the person ``eid`` (one e-mail or mobile ->
        at most one person: the identity layer's guard, kana/romaji/variant kanji aware)."""
        if "resolver_config" not in self.ctx.memo:
            self.ctx.memo["resolver_config"] = resolution.resolver_config(self.ctx.config.identity, self.ctx.config.default_region)
        return resolution.names_conflict(canonical, self._golden(eid), self.ctx.memo["resolver_config"])

    def _golden(self, eid: str) -> dict[str, Any]:
        ent = self._entity(eid)
        return ent.data if ent else {}

    def _merge(self, target: str, other: str, rule: str, evidence: dict[str, Any] | None = None) -> None:
        """Fold entity ``other`` into ``target`` (links, identifiers, ledger); ids stay stable."""
        s = self.s
        s.execute(update(Link).where(Link.entity_id == other).values(entity_id=target))
        s.execute(update(Identifier).where(Identifier.entity_id == other).values(entity_id=target))
        taken = {(c, st) for c, st in s.execute(select(Ledger.connector, Ledger.stream).where(Ledger.entity_id == target))}
        for connector, stream in s.execute(select(Ledger.connector, Ledger.stream).where(Ledger.entity_id == other)).all():
            where = (Ledger.entity_id == other, Ledger.connector == connector, Ledger.stream == stream)
            if (connector, stream) in taken:
                s.execute(delete(Ledger).where(*where))
            else:
                s.execute(update(Ledger).where(*where).values(entity_id=target))
        ent = self._entity(other)
        if ent is not None:
            ent.merged_into = target
            ent.changed = True
        for link in self.links.values():
            if link[0] == other:
                link[0] = target
        for nl in self.new_links:
            if nl["entity_id"] == other:
                nl["entity_id"] = target
        self.alias[other] = target
        self.affected.discard(other)
        self.affected.add(target)
        detail = {"merged": other, "rule": rule, **(evidence or {})}
        bulk_insert(s, AuditLog, [{"at": utcnow(), "actor": self.actor, "action": "merge", "subject": target, "detail": detail}])
        self.ctx.report.entities_merged += 1

    # -- writes ----------------------------------------------------------------------------
    def _insert_new_entities(self) -> None:
        """Insert the entities made in this chunk as they are now (usually they are inserted
        once, golden record and provenance included, by :meth:`_flush_entities`)."""
        new_entities = [e for e in self.entities.values() if e is not None and e.new]
        if new_entities:
            bulk_insert(self.s, Entity, [self._entity_row(e) for e in new_entities])
            for e in new_entities:
                e.new = e.changed = False

    def _flush_links_and_rows(self) -> None:
        s = self.s
        if self.new_links:
            bulk_insert(s, Link, self.new_links)
        if self.moved_links:
            s.execute(
                update(Link).where(Link.source_record_id == bindparam("rid")).values(entity_id=bindparam("eid")),
                [{"rid": rid, "eid": eid} for rid, eid in self.moved_links.items()],
            )
        done = [r for r in self.rows if r.status != "pending"]
        if done:
            bulk_update(s, SourceRecord, [{"id": r.id, "status": r.status, "canonical": r.canonical, "field_ts": r.field_ts, "echo": r.echo, "retracted": r.retracted} for r in done],
            )

    def _flush_entities(self) -> None:
        self._insert_new_entities()
        rows = [e for e in self.entities.values() if e is not None and e.changed]
        if rows:
            bulk_update(self.s, Entity, [self._entity_row(e, update=True) for e in rows])

    @staticmethod
    def _entity_row(e: Ent, *, update: bool = False) -> dict[str, Any]:
        row = {
            "id": e.id,
            "data": e.data,
            "merged_into": e.merged_into,
            "deleted": e.deleted,
            "version": e.version,
            "person_id": e.data.get("requester_id") or e.data.get("person_id"),
            "updated_at": utcnow(),
        }
        if e.provenance is not None:  # None: not recomputed in this chunk, the stored one stays
            row["provenance"] = e.provenance
        if e.merged_into is not None or e.dirty or not update:
            row["dirty"] = e.merged_into is None  # else the stored flag stays (a write may still be owed)
        if not update:
            row.update(type=e.type, created_at=e.created_at, provenance=e.provenance)
        return row

    # -- golden records --------------------------------------------------------------------
    def _refer_to_own_kind(self, refs: set[str]) -> bool:
        """Whether any reference may name an entity of this chunk's own type."""
        for ref in refs:
            parsed = parse_ref(ref)
            if parsed is None:
                continue
            connector, stream, _ = parsed
            if not connector:  # an identity reference names a person
                if self.entity == "person":
                    return True
                continue
            rt = self.ctx.runtimes.get(connector)
            smap = rt.mapping.streams.get(stream) if rt is not None else None
            if smap is None or smap.entity == self.entity:
                return True
        return False

    def _recompute(self) -> None:
        if not self.affected:
            return
        eids = sorted(self.affected)
        obs: dict[str, list[Observation]] = defaultdict(list)
        # an entity made in this chunk usually holds only records of this chunk: they are in
        # memory, and reading them back with their JSON would cost more than resolving the golden
        # record. Counting its links (an index-only query) proves there are no others.
        mem: dict[str, list[Row]] = defaultdict(list)
        if any((ent := self.entities.get(e)) is not None and ent.fresh for e in eids):
            for row in self.rows:
                link = self.links.get(row.id)
                if link is not None and (ent := self.entities.get(eid := self._canon(link[0]))) is not None and ent.fresh:
                    mem[eid].append(row)
        fresh: set[str] = set()
        for part in chunks(sorted(mem)):
            q = select(Link.entity_id, func.count()).where(Link.entity_id.in_(part)).group_by(Link.entity_id)
            fresh.update(eid for eid, n in self.s.connection().execute(q) if n == len(mem[eid]))
        for eid in fresh:
            obs[eid] = [_observation(row) for row in mem[eid]]
        for part in chunks([e for e in eids if e not in fresh]):
            q = (
                select(
                    Link.entity_id,
                    SourceRecord.connector,
                    SourceRecord.stream,
                    SourceRecord.source_id,
                    SourceRecord.canonical,
                    SourceRecord.field_ts,
                    SourceRecord.echo,
                    SourceRecord.source_updated_at,
                    SourceRecord.deleted,
                    SourceRecord.retracted,
                )
                .join(SourceRecord, SourceRecord.id == Link.source_record_id)
                .where(Link.entity_id.in_(part), SourceRecord.status != "held")
            )
            for r in self.s.connection().execute(q):
                obs[r.entity_id].append(_observation(r))
        policy = self.ctx.config.conflict_policy.priority
        goldens = {eid: resolve(self.entity, obs[eid], policy) for eid in eids}
        wanted = {v for g in goldens.values() for v in g.data.values() if isinstance(v, str) and v.startswith("@")}
        if self._refer_to_own_kind(wanted):
            self._insert_new_entities()  # a reference to a record of this chunk finds its entity
        refs = resolve_refs(self.s, wanted)
        for eid in eids:
            ent = self._entity(eid)
            if ent is None:
                continue
            golden = goldens[eid]
            data = {k: (refs.get(v) if isinstance(v, str) and v.startswith("@") else v) for k, v in golden.data.items()}
            data = {k: v for k, v in data.items() if v is not None}
            data["source_refs"] = sorted(
                ({"system": o.connector, "object": o.stream, "id": o.source_id, "deleted": o.deleted} for o in obs[eid]),
                key=lambda r: (r["system"], r["object"], r["id"]),
            )
            deleted = any(o.deleted for o in obs[eid])
            fresh = ent.fresh
            if not fresh and data == ent.data and deleted == ent.deleted:
                continue
            if not fresh:
                self.ctx.report.entities_updated += 1
            self.ctx.report.conflicts_resolved += golden.conflicts
            # a new source reference alone (a tool's copy read back) gives no tool anything new
            ent.dirty = ent.dirty or fresh or deleted != ent.deleted or _without_refs(data) != _without_refs(ent.data)
            ent.data = data
            ent.deleted = deleted
            ent.version += 1
            ent.changed = True
            ent.provenance = pack_provenance(golden.provenance)


def _without_refs(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "source_refs"}


def _observation(r: Any) -> Observation:
    """What one source record (a chunk row or a stored row: the same columns) says for the golden record."""
    field_ts = r.field_ts or {}
    return Observation(
        r.connector,
        r.stream,
        r.source_id,
        {k: v for k, v in (r.canonical or {}).items() if k != "id"},
        field_ts,
        frozenset(r.echo or ()),
        # a field without a time of its own has the record's common one (see pack_field_ts)
        field_ts.get(BASE_TS) or iso(r.source_updated_at),
        r.deleted,
        r.retracted or {},
    )


def _renamed(record: dict[str, Any], golden: dict[str, Any]) -> bool:
    """Whether a person record now names someone other than its person's golden record does."""
    mine = {fold_name(record.get(k)) for k in ("family_name", "given_name")} - {""}
    theirs = {fold_name(golden.get(k)) for k in ("family_name", "given_name")} - {""}
    return bool(mine and theirs and mine != theirs)


def _same(new: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """Equal canonical records, ignoring the hub key a tool echoes back (it names the entity the
    record is already linked to)."""
    if old is None:
        return False
    return {k: v for k, v in new.items() if k != "id"} == {k: v for k, v in old.items() if k != "id"}


BASE_TS = "*"
"""The key of a packed ``field_ts`` that holds the time most of the record's fields share."""


def pack_field_ts(field_ts: dict[str, str]) -> dict[str, str]:
    """The stored form of a record's field timestamps: the time most fields share under
    :data:`BASE_TS`, and only the fields with another time of their own.

    Most fields of a record share one time (the read that first saw them), so a timestamp per
    field repeated it a dozen times in every staged record.
    """
    base = field_ts.get(BASE_TS)
    own = {k: v for k, v in field_ts.items() if k != BASE_TS}
    if base is None:
        if not own:
            return {}
        base = Counter(own.values()).most_common(1)[0][0]
    return {BASE_TS: base, **{k: v for k, v in own.items() if v != base}}


def _track_fields(row: Row, canonical: dict[str, Any], led: Any) -> tuple[dict[str, str], set[str]]:
    """Per top-level field: when its value last changed in this tool, and whether it is an echo.

    A field keeps its timestamp while its value stays the same, so a record touched for another
    reason does not make all its old values look new. A value equal to what the hub itself
    wrote (the outbound ledger) is an echo, never a new observation. The timestamps are returned
    packed (:func:`pack_field_ts`).
    """
    old = row.canonical or {}
    old_ts = row.field_ts or {}
    old_base = old_ts.get(BASE_TS)
    old_echo = set(row.echo or ())
    ts = iso(row.source_updated_at) or iso(utcnow()) or ""
    expected = (led.expected or {}) if led is not None else {}
    field_ts: dict[str, str] = {}
    echo: set[str] = set()
    for name, value in canonical.items():
        if name in old and old[name] == value:
            field_ts[name] = old_ts.get(name) or old_base or ts
            if name in old_echo:
                echo.add(name)
        elif expected.get(name) == value:
            field_ts[name] = old_ts.get(name) or old_base or ts
            echo.add(name)
        else:
            field_ts[name] = ts
    return pack_field_ts(field_ts), echo


def _track_retractions(row: Row, canonical: dict[str, Any], echo: set[str], entity: str) -> dict[str, Any]:
    """List items this tool used to hold and no longer does, with when they went."""
    if not row.canonical and not row.retracted:
        return {}  # first sight of the record: nothing was dropped
    merge = ENTITIES[entity].MERGE
    old = row.canonical or {}
    out: dict[str, dict[str, str]] = {k: dict(v) for k, v in (row.retracted or {}).items()}
    ts = iso(row.source_updated_at) or iso(utcnow()) or ""
    for name, strategy in merge.items():
        if strategy != "union":
            continue
        now = {item_key(i) for i in canonical.get(name) or ()}
        gone = {item_key(i) for i in old.get(name) or ()} - now
        kept = {k: v for k, v in (out.get(name) or {}).items() if k not in now}
        if name not in echo:
            kept.update(dict.fromkeys(gone, ts))
        if kept:
            out[name] = kept
        else:
            out.pop(name, None)
    return out


def resolve_refs(session: Session, refs: set[str]) -> dict[str, str]:
    """Reference placeholders -> entity ids, for those whose target is known.

    ``@connector:stream:id`` names a source record; ``@@email:x`` names the person holding an
    identifier (a guest commenter known elsewhere by their email).
    """
    by_cs: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for ref in refs:
        parsed = parse_ref(ref)
        if parsed:
            by_cs[(parsed[0], parsed[1])][parsed[2]] = ref
    out: dict[str, str] = {}
    for (connector, stream), ids in by_cs.items():
        for part in chunks(sorted(ids)):
            if not connector:  # an identity reference: stream is the identifier kind
                q = (
                    select(Identifier.value, Identifier.entity_id, Entity.merged_into)
                    .join(Entity, Entity.id == Identifier.entity_id)
                    .where(Identifier.entity_type == "person", Identifier.kind == stream, Identifier.value.in_(part))
                )
            else:
                q = (
                    select(SourceRecord.source_id, Link.entity_id, Entity.merged_into)
                    .join(Link, Link.source_record_id == SourceRecord.id)
                    .join(Entity, Entity.id == Link.entity_id)
                    .where(SourceRecord.connector == connector, SourceRecord.stream == stream, SourceRecord.source_id.in_(part))
                )
            for sid, eid, merged in session.connection().execute(q):
                out[ids[sid]] = surviving_entity(session, merged) if merged else eid
    return out


def surviving_entity(session: Session, eid: str) -> str:
    """The entity ``eid`` was merged into, followed to the end (``eid`` itself if it was not)."""
    for _ in range(64):
        merged = session.scalar(select(Entity.merged_into).where(Entity.id == eid))
        if not merged:
            return eid
        eid = merged
    return eid
