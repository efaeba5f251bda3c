"""Outbound: per-tool diffs of changed golden records, batch writes, the ledger, the delete brake."""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select

from hub import paths
from hub.connector import Stream, WriteOp, WriteResult
from hub.context import RunContext
from hub.errors import ConnectorError, MassDeleteError, RecordError
from hub.mapping import StreamMap
from hub.processing import _chunks, resolve_refs
from hub.report import PlannedOp
from hub.runtime import ENTITY_ORDER, Runtime
from hub.store.models import Entity, FieldProvenance, Ledger, Link, SourceRecord, utcnow
from schemas.canonical import LIFECYCLE_ORDER, DealStage

ORDERS: tuple[tuple[str, ...], ...] = (LIFECYCLE_ORDER, tuple(s.value for s in DealStage if s.value != "lost"))


@dataclass
class Op:
    """A write the hub decided on, with what it needs to record the outcome."""

    entity: Entity
    action: str  # create | update | delete | archive
    target_id: str | None
    fields: dict[str, Any]
    changes: dict[str, list[Any]]
    src: SourceRecord | None = None

    def write_op(self) -> WriteOp:
        action = "upsert" if self.action in ("create", "update") else self.action
        return WriteOp(key=self.entity.id, target_id=self.target_id, fields=self.fields, action=action)  # type: ignore[arg-type]


Target = tuple[Runtime, Stream, StreamMap]


def targets(ctx: RunContext) -> dict[str, list[Target]]:
    """Writable (connector, stream) pairs per entity type."""
    out: dict[str, list[Target]] = defaultdict(list)
    for rt in ctx.runtimes.values():
        for stream, smap in rt.streams():
            if rt.writable(stream, smap):
                out[smap.entity].append((rt, stream, smap))
    return out


def conditions_pass(rule_conditions: list[Any], golden: dict[str, Any]) -> bool:
    """Whether a golden record passes a connector's create filter."""
    for cond in rule_conditions:
        value = paths.get(golden, cond.field)
        if cond.exists is not None and bool(value) != cond.exists:
            return False
        if cond.equals is not None and value != cond.equals:
            return False
        if cond.one_of is not None and value not in cond.one_of:
            return False
        if cond.at_least is not None:
            order = next((o for o in ORDERS if cond.at_least in o), None)
            if order is None or value not in order or order.index(value) < order.index(cond.at_least):
                return False
    return True


def check_mass_delete(ctx: RunContext, allow: bool) -> None:
    """Stop the run before any write when it would delete more than the configured limit."""
    limits = ctx.config.mass_delete
    for rt in ctx.runtimes.values():
        if rt.config.delete_policy == "ignore":
            continue
        pairs = [(rt.name, s.name) for s, smap in rt.streams() if rt.writable(s, smap)]
        if not pairs:
            continue
        scope = or_(*(and_(SourceRecord.connector == c, SourceRecord.stream == s) for c, s in pairs))
        base = select(func.count()).select_from(SourceRecord).join(Link, Link.source_record_id == SourceRecord.id)
        live = ctx.session.scalar(base.where(scope, SourceRecord.deleted.is_(False))) or 0
        doomed = ctx.session.scalar(
            base.join(Entity, Entity.id == Link.entity_id).where(
                scope, SourceRecord.deleted.is_(False), Entity.deleted.is_(True), Entity.dirty.is_(True), Entity.merged_into.is_(None)
            )
        ) or 0
        too_many = doomed > limits.max_count or (doomed >= 10 and live and doomed / live > limits.max_fraction)
        if too_many and not allow:
            raise MassDeleteError(
                f"mass-delete brake: this run would {rt.config.delete_policy} {doomed} of {live} records in "
                f"{rt.name!r} (limits: mass_delete.max_count={limits.max_count}, "
                f"max_fraction={limits.max_fraction}); nothing was written. Check the source of the "
                f"deletions, then raise the limits in hub.yaml or run 'hub sync --allow-mass-delete' once."
            )


def run(ctx: RunContext, *, allow_mass_delete: bool = False) -> None:
    """Diff every dirty golden record against each tool and write (or plan) the changes."""
    check_mass_delete(ctx, allow_mass_delete)
    by_type = targets(ctx)
    for entity in ENTITY_ORDER:
        tgts = by_type.get(entity, [])
        last = ""
        task = ctx.progress.task(f"write {entity}")
        while not ctx.stop.is_set():
            ents = list(
                ctx.session.scalars(
                    select(Entity)
                    .where(Entity.type == entity, Entity.dirty.is_(True), Entity.merged_into.is_(None), Entity.id > last)
                    .order_by(Entity.id)
                    .limit(ctx.chunk)
                )
            )
            if not ents:
                break
            last = ents[-1].id
            for rt, stream, smap in tgts:
                if rt.name in ctx.failed_connectors:
                    continue
                ops = _build_ops(ctx, ents, rt, stream, smap)
                if ctx.plan:
                    ctx.report.plan.extend(
                        PlannedOp(rt.name, stream.name, o.action, o.entity.id, o.target_id, o.changes) for o in ops
                    )
                elif ops:
                    _execute(ctx, rt, stream, ops)
            if not ctx.plan and ctx.all_connectors and not ctx.failed_connectors:
                for ent in ents:
                    ent.dirty = False
            ctx.checkpoint()
            task.advance(len(ents))
        task.done()


def _build_ops(ctx: RunContext, ents: list[Entity], rt: Runtime, stream: Stream, smap: StreamMap) -> list[Op]:
    s = ctx.session
    ids = [e.id for e in ents]
    linked: dict[str, list[SourceRecord]] = defaultdict(list)
    for part in _chunks(ids):
        q = (
            select(Link.entity_id, SourceRecord)
            .join(SourceRecord, SourceRecord.id == Link.source_record_id)
            .where(Link.entity_id.in_(part), SourceRecord.connector == rt.name, SourceRecord.stream == stream.name)
        )
        for eid, src in s.execute(q):
            linked[eid].append(src)
    ref_fields = [f for f in smap.fields if f.ref and f.outbound]
    vendor_ids = _vendor_ids(ctx, rt, ref_fields, ents)
    cur_refs = resolve_refs(
        s,
        {
            paths.get(src.canonical or {}, f.canonical[0])
            for srcs in linked.values()
            for src in srcs
            for f in ref_fields
            if paths.get(src.canonical or {}, f.canonical[0])
        },
    )
    rule = rt.config.rule(smap.entity)
    mapping = rt.mapping
    ops: list[Op] = []
    for ent in ents:
        golden = ent.data
        srcs = linked.get(ent.id, [])
        live = [x for x in srcs if not x.deleted]

        def lookup(ref_stream: str, eid: str) -> str | None:
            return vendor_ids.get((ref_stream, eid))

        if ent.deleted:
            if rt.config.delete_policy != "ignore":
                action = "archive" if rt.config.delete_policy == "archive" else "delete"
                ops.extend(Op(ent, action, x.source_id, {}, {}, x) for x in live)
            continue
        if live:
            for src in live:
                changes = mapping.diff(stream.name, golden, src.canonical, resolve=cur_refs.get)
                if not changes:
                    continue
                fields = mapping.to_vendor(stream.name, golden, only=changes, vendor_id=lookup)
                if fields:
                    ops.append(Op(ent, "update", src.source_id, fields, {k: list(v) for k, v in changes.items()}, src))
        elif not srcs and rule.create and conditions_pass(rule.create_when, golden):
            fields = mapping.to_vendor(stream.name, golden, vendor_id=lookup)
            if fields:
                ops.append(Op(ent, "create", None, fields, {k: [None, v] for k, v in fields.items()}))
    return ops


def _vendor_ids(ctx: RunContext, rt: Runtime, ref_fields: list[Any], ents: list[Entity]) -> dict[tuple[str, str], str]:
    """(referenced stream, entity id) -> this tool's id, for the references golden records hold."""
    out: dict[tuple[str, str], str] = {}
    for f in ref_fields:
        eids = sorted({v for e in ents if isinstance(v := paths.get(e.data, f.canonical[0]), str)})
        for part in _chunks(eids):
            q = (
                select(Link.entity_id, SourceRecord.source_id)
                .join(SourceRecord, SourceRecord.id == Link.source_record_id)
                .where(
                    Link.entity_id.in_(part),
                    SourceRecord.connector == rt.name,
                    SourceRecord.stream == f.ref,
                    SourceRecord.deleted.is_(False),
                )
            )
            for eid, sid in ctx.session.execute(q):
                out.setdefault((f.ref, eid), sid)
    return out


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _execute(ctx: RunContext, rt: Runtime, stream: Stream, ops: list[Op]) -> None:
    s = ctx.session
    # 1. intents first: a crash after the vendor wrote but before we recorded it still lets the
    #    next run recognise the write when it reads it back
    prior: dict[str, Ledger | None] = {}
    expected: dict[int, dict[str, Any]] = {}
    payloads: dict[int, dict[str, Any]] = {}
    for i, op in enumerate(ops):
        payload = _deep_merge(op.src.payload if op.src else {}, op.fields)
        payloads[i] = payload
        if op.action in ("create", "update"):
            try:
                expected[i] = rt.mapping.to_canonical(stream.name, payload, connector=rt.name)
            except RecordError:
                expected[i] = {}
        led = s.get(Ledger, (rt.name, stream.name, op.entity.id))
        prior[op.entity.id] = copy.copy(led.expected) if led else None  # type: ignore[assignment]
        if led is None:
            led = Ledger(connector=rt.name, stream=stream.name, entity_id=op.entity.id)
            s.add(led)
        led.target_id = op.target_id or led.target_id
        led.fields = op.fields
        led.expected = expected.get(i, {})
        led.pending = True
        led.action = op.action
        led.written_at = utcnow()
        led.run_id = ctx.run_id
    ctx.checkpoint()
    prov = _provenance(ctx, [op.entity.id for op in ops])
    size = max(1, stream.batch_size)
    batches = [ops[i : i + size] for i in range(0, len(ops), size)]
    offset = 0
    try:
        for batch, results in zip(batches, rt.connector.write_batches(stream.name, [[o.write_op() for o in b] for b in batches]), strict=False):
            for j, (op, res) in enumerate(zip(batch, results, strict=True)):
                i = offset + j
                _record(ctx, rt, stream, op, res, payloads[i], expected.get(i, {}), prov.get(op.entity.id, {}), prior.get(op.entity.id))
            offset += len(batch)
            ctx.checkpoint()
    except ConnectorError as err:
        ctx.report.errors.append(str(err))
        ctx.failed_connectors.add(rt.name)
        ctx.checkpoint()


def _provenance(ctx: RunContext, eids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for part in _chunks(sorted(set(eids))):
        for p in ctx.session.scalars(select(FieldProvenance).where(FieldProvenance.entity_id.in_(part))):
            out[p.entity_id][p.field] = p.observed_at
    return out


def _record(
    ctx: RunContext,
    rt: Runtime,
    stream: Stream,
    op: Op,
    res: WriteResult,
    payload: dict[str, Any],
    expected: dict[str, Any],
    prov: dict[str, Any],
    prior: dict[str, Any] | None,
) -> None:
    from hub.context import iso

    s = ctx.session
    led = s.get(Ledger, (rt.name, stream.name, op.entity.id))
    if not res.ok:
        err = RecordError(
            res.error or "the vendor rejected the record",
            connector=rt.name,
            stream=stream.name,
            source_id=op.target_id or f"entity:{op.entity.id}",
            field=res.field,
        )
        ctx.dead_letter(err, stage="write", payload={"entity_id": op.entity.id, "action": op.action, "fields": op.fields})
        ctx.report.count_write(rt.name, "failed")
        if led is not None:
            if prior is None and not led.target_id:
                s.delete(led)
            else:
                led.pending = False
                led.expected = prior or {}
        return
    ctx.report.count_write(rt.name, res.status)
    target_id = res.target_id or op.target_id
    if led is not None:
        led.pending = False
        led.target_id = target_id
    src = op.src
    if src is None and target_id:
        src = s.scalars(
            select(SourceRecord).where(
                SourceRecord.connector == rt.name, SourceRecord.stream == stream.name, SourceRecord.source_id == str(target_id)
            )
        ).first()
    if res.status == "deleted":
        if src is not None:
            src.deleted = True
        return
    # what the tool now holds, so that reading it back is no change (no ping-pong)
    changed = set(expected) if src is None else {k for k, v in expected.items() if (src.canonical or {}).get(k) != v}
    field_ts = dict(src.field_ts or {}) if src is not None else {}
    for name in changed:
        field_ts[name] = iso(prov.get(name)) or iso(utcnow())
    echo = sorted(set(src.echo or ()) | changed) if src is not None else sorted(changed)
    if src is None:
        src = SourceRecord(
            connector=rt.name,
            stream=stream.name,
            source_id=str(target_id),
            payload=payload,
            hash=None,
            deleted=False,
            status="mapped",
            run_id=ctx.run_id,
            staged_at=utcnow(),
        )
        s.add(src)
        s.flush()
        s.add(Link(source_record_id=src.id, entity_id=op.entity.id, rule="hub_created", evidence={"run": ctx.run_id}))
    else:
        src.payload = payload
    src.canonical = expected
    src.field_ts = field_ts
    src.echo = echo
