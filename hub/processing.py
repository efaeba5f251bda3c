"""Map staged records to canonical entities, link them to identities, recompute golden records."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update

from hub.context import RunContext, iso
from hub.errors import RecordError
from hub.golden import Observation, item_key, resolve
from hub.linker import identity_keys, names_compatible
from hub.mapping import parse_ref
from schemas.canonical import ENTITIES

from hub.store.models import AuditLog, Entity, FieldProvenance, Identifier, Ledger, Link, SourceRecord, utcnow

IN_CHUNK = 500  # keep IN (...) lists well under every database's parameter limit


def _chunks(items: list[Any], n: int = IN_CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def process_pending(ctx: RunContext, entity: str, pairs: list[tuple[str, str]]) -> None:
    """Process every pending staged record of the (connector, stream) pairs mapping to ``entity``."""
    if not pairs:
        return
    where = or_(*(and_(SourceRecord.connector == c, SourceRecord.stream == s) for c, s in pairs))
    last = 0
    task = ctx.progress.task(f"resolve {entity}")
    while not ctx.stop.is_set():
        rows = (
            ctx.session.execute(
                select(SourceRecord)
                .where(SourceRecord.status == "pending", SourceRecord.id > last, where)
                .order_by(SourceRecord.id)
                .limit(ctx.chunk)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        last = rows[-1].id
        Chunk(ctx, entity, list(rows)).run()
        ctx.checkpoint()
        task.advance(len(rows))
    task.done()


class Chunk:
    """One chunk of pending source records of one entity type."""

    def __init__(self, ctx: RunContext, entity: str, rows: list[SourceRecord]) -> None:
        self.ctx = ctx
        self.s = ctx.session
        self.entity = entity
        self.rows = rows
        self.entities: dict[str, Entity] = {}
        self.alias: dict[str, str] = {}  # merged entity -> surviving entity
        self.affected: set[str] = set()
        self.created: set[str] = set()

    # -- orchestration -------------------------------------------------------------------
    def run(self) -> None:
        # explicit flushes only: an autoflush before every lookup costs more than the work
        with self.s.no_autoflush:
            self._run()

    def _run(self) -> None:
        ids = [r.id for r in self.rows]
        links = {l.source_record_id: l for part in _chunks(ids) for l in self.s.scalars(select(Link).where(Link.source_record_id.in_(part)))}
        ledger = self._ledger(links)
        mapped: list[tuple[SourceRecord, dict[str, Any]]] = []
        for row in self.rows:
            canonical = self._map(row)
            if canonical is None:
                continue
            link = links.get(row.id)
            led = ledger.get((row.connector, row.stream, link.entity_id)) if link else None
            led = led or ledger.get((row.connector, row.stream, "target:" + row.source_id))
            row.field_ts, echo = _track_fields(row, canonical, led)
            row.retracted = _track_retractions(row, canonical, echo, self.entity)
            row.echo = sorted(echo)
            row.canonical = canonical
            mapped.append((row, canonical))
        self._link(mapped, links, ledger)
        self._recompute()

    def _map(self, row: SourceRecord) -> dict[str, Any] | None:
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

    def _ledger(self, links: dict[int, Link]) -> dict[tuple[str, str, str], Ledger]:
        """Ledger rows for this chunk, by (connector, stream, entity) and by target id."""
        out: dict[tuple[str, str, str], Ledger] = {}
        eids = sorted({l.entity_id for l in links.values()})
        for part in _chunks(eids):
            for led in self.s.scalars(select(Ledger).where(Ledger.entity_id.in_(part))):
                out[(led.connector, led.stream, led.entity_id)] = led
        targets = sorted({r.source_id for r in self.rows if r.id not in links})
        for part in _chunks(targets):
            for led in self.s.scalars(select(Ledger).where(Ledger.target_id.in_(part))):
                out[(led.connector, led.stream, "target:" + str(led.target_id))] = led
        return out

    # -- linking ---------------------------------------------------------------------------
    def _canon(self, eid: str) -> str:
        seen = set()
        while True:
            if eid in self.alias:
                eid = self.alias[eid]
                continue
            ent = self._entity(eid)
            if ent is None or not ent.merged_into or eid in seen:
                return eid
            seen.add(eid)
            eid = ent.merged_into

    def _preload(self, eids: set[str]) -> None:
        """Load entities (and what they were merged into) in a few queries, not one each."""
        todo = sorted(e for e in eids if e and e not in self.entities)
        while todo:
            found: list[Entity] = []
            for part in _chunks(todo):
                found.extend(self.s.scalars(select(Entity).where(Entity.id.in_(part))))
            for ent in found:
                self.entities[ent.id] = ent
            missing = set(todo) - {e.id for e in found}
            self.entities.update(dict.fromkeys(missing))  # type: ignore[arg-type]
            todo = sorted({e.merged_into for e in found if e.merged_into and e.merged_into not in self.entities})

    def _entity(self, eid: str) -> Entity | None:
        if eid not in self.entities:
            self._preload({eid})
        return self.entities.get(eid)

    def _link(self, mapped: list[tuple[SourceRecord, dict[str, Any]]], links: dict[int, Link], ledger: dict[tuple[str, str, str], Ledger]) -> None:
        keys = {row.id: identity_keys(self.entity, c) for row, c in mapped if not row.deleted}
        index: dict[tuple[str, str], set[str]] = defaultdict(set)
        values = sorted({v for ks in keys.values() for k, v in ks if k != "hub"})
        for part in _chunks(values):
            q = select(Identifier.kind, Identifier.value, Identifier.entity_id).where(
                Identifier.entity_type == self.entity, Identifier.value.in_(part)
            )
            for kind, value, eid in self.s.execute(q):
                index[(kind, value)].add(eid)
        wanted = {eid for found in index.values() for eid in found}
        wanted |= {l.entity_id for l in links.values()}
        wanted |= {v for ks in keys.values() for k, v in ks if k == "hub"}
        wanted |= {led.entity_id for led in ledger.values()}
        self._preload(wanted)
        ids = [row.id for row, _ in mapped]
        for part in _chunks(ids):
            self.s.execute(delete(Identifier).where(Identifier.source_record_id.in_(part)))
        new_ids: list[dict[str, Any]] = []
        for row, canonical in mapped:
            link = links.get(row.id)
            current = self._canon(link.entity_id) if link else None
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
                    if kind == "phone" and not names_compatible(canonical, self._golden(target)):
                        continue  # a shared line (family, company switchboard) is no identity
                    cands.setdefault(target, kind)
            if not link:
                led = ledger.get((row.connector, row.stream, "target:" + row.source_id))
                if led is not None and self._entity(led.entity_id) is not None:
                    cands.setdefault(self._canon(led.entity_id), "ledger")
            if current:
                target, rule = current, link.rule  # type: ignore[union-attr]
            elif cands:
                target = min(cands, key=lambda e: (self._entity(e).created_at, e))  # type: ignore[union-attr]
                rule = cands[target]
            else:
                target, rule = self._new_entity(canonical), "new"
            for other in cands:
                if other != target and self._canon(other) != target:
                    self._merge(target, self._canon(other), cands[other])
            if link is None:
                link = Link(source_record_id=row.id, entity_id=target, rule=rule, evidence={"keys": keys[row.id]})
                self.s.add(link)
                links[row.id] = link
            elif link.entity_id != target:
                link.entity_id = target
            for kind, value in keys[row.id]:
                index[(kind, value)].add(target)
                new_ids.append(
                    {"entity_type": self.entity, "kind": kind, "value": value[:320], "entity_id": target, "source_record_id": row.id}
                )
            row.status = "mapped"
            self.affected.add(target)
        if new_ids:
            self.s.execute(insert(Identifier), new_ids)

    def _golden(self, eid: str) -> dict[str, Any]:
        ent = self._entity(eid)
        return ent.data if ent else {}

    def _new_entity(self, canonical: dict[str, Any]) -> str:
        eid = uuid.uuid4().hex
        ent = Entity(id=eid, type=self.entity, data={k: v for k, v in canonical.items() if k != "id"}, dirty=True, created_at=utcnow(), updated_at=utcnow())
        self.s.add(ent)
        self.entities[eid] = ent
        self.created.add(eid)
        self.ctx.report.entities_created += 1
        return eid

    def _merge(self, target: str, other: str, rule: str) -> None:
        """Fold entity ``other`` into ``target`` (links, identifiers, ledger); ids stay stable."""
        s = self.s
        s.flush()
        s.execute(update(Link).where(Link.entity_id == other).values(entity_id=target))
        s.execute(update(Identifier).where(Identifier.entity_id == other).values(entity_id=target))
        taken = {(l.connector, l.stream) for l in s.scalars(select(Ledger).where(Ledger.entity_id == target))}
        for led in s.scalars(select(Ledger).where(Ledger.entity_id == other)).all():
            if (led.connector, led.stream) in taken:
                s.delete(led)
            else:
                led.entity_id = target
        s.execute(delete(FieldProvenance).where(FieldProvenance.entity_id == other))
        ent = self._entity(other)
        if ent is not None:
            ent.merged_into = target
            ent.dirty = False
        self.alias[other] = target
        self.affected.discard(other)
        self.affected.add(target)
        for link in s.identity_map.values():
            if isinstance(link, Link) and link.entity_id == other:
                link.entity_id = target
        s.add(AuditLog(actor="resolver", action="merge", subject=target, detail={"merged": other, "rule": rule}))
        self.ctx.report.entities_merged += 1

    # -- golden records --------------------------------------------------------------------
    def _recompute(self) -> None:
        if not self.affected:
            return
        self.s.flush()
        eids = sorted(self.affected)
        obs: dict[str, list[Observation]] = defaultdict(list)
        for part in _chunks(eids):
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
                .where(Link.entity_id.in_(part))
            )
            for r in self.s.execute(q):
                obs[r.entity_id].append(
                    Observation(
                        r.connector,
                        r.stream,
                        r.source_id,
                        {k: v for k, v in (r.canonical or {}).items() if k != "id"},
                        r.field_ts or {},
                        frozenset(r.echo or ()),
                        iso(r.source_updated_at),
                        r.deleted,
                        r.retracted or {},
                    )
                )
        goldens = {eid: resolve(self.entity, obs[eid], self.ctx.config.conflict_policy.priority) for eid in eids}
        refs = _resolve_refs(self.s, {v for g in goldens.values() for v in g.data.values() if isinstance(v, str) and v.startswith("@")})
        prov_rows: list[dict[str, Any]] = []
        changed: list[str] = []
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
            fresh = eid in self.created
            if not fresh and data == ent.data and deleted == ent.deleted:
                continue
            if not fresh:
                self.ctx.report.entities_updated += 1
            self.ctx.report.conflicts_resolved += golden.conflicts
            ent.data = data
            ent.person_id = data.get("requester_id") or data.get("person_id")
            ent.deleted = deleted
            ent.version += 1
            ent.dirty = True
            ent.updated_at = utcnow()
            changed.append(eid)
            for name, p in golden.provenance.items():
                prov_rows.append(
                    {
                        "entity_id": eid,
                        "field": name,
                        "value": data.get(name),
                        "connector": p.obs.connector,
                        "stream": p.obs.stream,
                        "source_id": p.obs.source_id,
                        "observed_at": _parse_ts(p.observed_at),
                        "rule": p.rule,
                    }
                )
        for part in _chunks(changed):
            self.s.execute(delete(FieldProvenance).where(FieldProvenance.entity_id.in_(part)))
        if prov_rows:
            self.s.execute(insert(FieldProvenance), prov_rows)


def _parse_ts(value: str | None) -> Any:
    from hub.transforms import to_utc

    return to_utc(value) if value else None


def _track_fields(row: SourceRecord, canonical: dict[str, Any], led: Ledger | None) -> tuple[dict[str, str], set[str]]:
    """Per top-level field: when its value last changed in this tool, and whether it is an echo.

    A field keeps its timestamp while its value stays the same, so a record touched for another
    reason does not make all its old values look new. A value equal to what the hub itself
    wrote (the outbound ledger) is an echo, never a new observation.
    """
    old = row.canonical or {}
    old_ts = row.field_ts or {}
    old_echo = set(row.echo or ())
    ts = iso(row.source_updated_at) or iso(utcnow()) or ""
    expected = led.expected if led is not None else {}
    field_ts: dict[str, str] = {}
    echo: set[str] = set()
    for name, value in canonical.items():
        if name in old and old[name] == value:
            field_ts[name] = old_ts.get(name, ts)
            if name in old_echo:
                echo.add(name)
        elif expected.get(name) == value:
            field_ts[name] = old_ts.get(name, ts)
            echo.add(name)
        else:
            field_ts[name] = ts
    return field_ts, echo


def _track_retractions(row: SourceRecord, canonical: dict[str, Any], echo: set[str], entity: str) -> dict[str, Any]:
    """List items this tool used to hold and no longer does, with when they went."""
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
            kept.update({k: ts for k in gone})
        if kept:
            out[name] = kept
        else:
            out.pop(name, None)
    return out


def _resolve_refs(session: Any, refs: set[str]) -> dict[str, str]:
    """``@connector:stream:id`` -> entity id, for references whose target is linked."""
    by_cs: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for ref in refs:
        parsed = parse_ref(ref)
        if parsed:
            by_cs[(parsed[0], parsed[1])][parsed[2]] = ref
    out: dict[str, str] = {}
    for (connector, stream), ids in by_cs.items():
        for part in _chunks(sorted(ids)):
            q = (
                select(SourceRecord.source_id, Link.entity_id, Entity.merged_into)
                .join(Link, Link.source_record_id == SourceRecord.id)
                .join(Entity, Entity.id == Link.entity_id)
                .where(SourceRecord.connector == connector, SourceRecord.stream == stream, SourceRecord.source_id.in_(part))
            )
            for sid, eid, merged in session.execute(q):
                out[ids[sid]] = _final(session, merged) if merged else eid
    return out


def _final(session: Any, eid: str) -> str:
    for _ in range(32):
        ent = session.get(Entity, eid)
        if ent is None or not ent.merged_into:
            return eid
        eid = ent.merged_into
    return eid


resolve_refs = _resolve_refs
