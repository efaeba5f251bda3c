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
    with s.no_autoflush:
        ledger = _ledger_rows(ctx, rt, stream, ops)
        # 1. intents first: a crash after the vendor wrote but before we recorded it still lets
        #    the next run recognise the write when it reads it back
        prior: dict[str, dict[str, Any] | None] = {}
        expected: list[dict[str, Any]] = []
        payloads: list[dict[str, Any]] = []
        for op in ops:
            payload = _deep_merge(op.src.payload if op.src else {}, op.fields)
            payloads.append(payload)
            exp: dict[str, Any] = {}
            if op.action in ("create", "update"):
                try:
                    exp = rt.mapping.to_canonical(stream.name, payload, connector=rt.name)
                except RecordError:
                    exp = {}
            expected.append(exp)
            led = ledger.get(op.entity.id)
            prior[op.entity.id] = dict(led.expected) if led else None
            if led is None:
                led = Ledger(connector=rt.name, stream=stream.name, entity_id=op.entity.id)
                s.add(led)
                ledger[op.entity.id] = led
            led.target_id = op.target_id or led.target_id
            led.fields = op.fields
            led.expected = exp
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
        results_iter = rt.connector.write_batches(stream.name, [[o.write_op() for o in b] for b in batches])
        for batch, results in zip(batches, results_iter, strict=False):
            with s.no_autoflush:
                recorder = _Recorder(ctx, rt, stream, ledger, prov, prior)
                recorder.record(batch, results, payloads[offset : offset + len(batch)], expected[offset : offset + len(batch)])
            offset += len(batch)
            ctx.checkpoint()
    except ConnectorError as err:
        ctx.report.errors.append(str(err))
        ctx.failed_connectors.add(rt.name)
        ctx.checkpoint()


def _ledger_rows(ctx: RunContext, rt: Runtime, stream: Stream, ops: list[Op]) -> dict[str, Ledger]:
    out: dict[str, Ledger] = {}
    for part in _chunks(sorted({op.entity.id for op in ops})):
        q = select(Ledger).where(Ledger.connector == rt.name, Ledger.stream == stream.name, Ledger.entity_id.in_(part))
        out.update({led.entity_id: led for led in ctx.session.scalars(q)})
    return out


def _provenance(ctx: RunContext, eids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for part in _chunks(sorted(set(eids))):
        for p in ctx.session.scalars(select(FieldProvenance).where(FieldProvenance.entity_id.in_(part))):
            out[p.entity_id][p.field] = p.observed_at
    return out


class _Recorder:
    """Records the outcome of one written batch: ledger, source records, links, dead letters."""

    def __init__(
        self,
        ctx: RunContext,
        rt: Runtime,
        stream: Stream,
        ledger: dict[str, Ledger],
        prov: dict[str, dict[str, Any]],
        prior: dict[str, dict[str, Any] | None],
    ) -> None:
        self.ctx, self.rt, self.stream = ctx, rt, stream
        self.ledger, self.prov, self.prior = ledger, prov, prior

    def record(self, batch: list[Op], results: list[WriteResult], payloads: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
        s = self.ctx.session
        created = [str(res.target_id) for op, res in zip(batch, results, strict=True) if op.src is None and res.ok and res.target_id]
        known: dict[str, SourceRecord] = {}
        for part in _chunks(created):
            q = select(SourceRecord).where(
                SourceRecord.connector == self.rt.name, SourceRecord.stream == self.stream.name, SourceRecord.source_id.in_(part)
            )
            known.update({src.source_id: src for src in s.scalars(q)})
        new_links: list[tuple[SourceRecord, str]] = []
        for op, res, payload, exp in zip(batch, results, payloads, expected, strict=True):
            src = self._one(op, res, payload, exp, known)
            if src is not None:
                new_links.append((src, op.entity.id))
        if new_links:
            s.flush()
            s.add_all(
                Link(source_record_id=src.id, entity_id=eid, rule="hub_created", evidence={"run": self.ctx.run_id})
                for src, eid in new_links
            )

    def _one(
        self, op: Op, res: WriteResult, payload: dict[str, Any], expected: dict[str, Any], known: dict[str, SourceRecord]
    ) -> SourceRecord | None:
        """Apply one result; returns a new source record that needs a link."""
        from hub.context import iso

        ctx, rt, stream = self.ctx, self.rt, self.stream
        led = self.ledger.get(op.entity.id)
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
                prior = self.prior.get(op.entity.id)
                if prior is None and not led.target_id:
                    ctx.session.delete(led) if led in ctx.session else None
                    self.ledger.pop(op.entity.id, None)
                else:
                    led.pending = False
                    led.expected = prior or {}
            return None
        ctx.report.count_write(rt.name, res.status)
        target_id = res.target_id or op.target_id
        if led is not None:
            led.pending = False
            led.target_id = target_id
        src = op.src or (known.get(str(target_id)) if target_id else None)
        if res.status == "deleted":
            if src is not None:
                src.deleted = True
            return None
        # what the tool now holds, so that reading it back is no change (no ping-pong)
        prov = self.prov.get(op.entity.id, {})
        changed = set(expected) if src is None else {k for k, v in expected.items() if (src.canonical or {}).get(k) != v}
        field_ts = dict(src.field_ts or {}) if src is not None else {}
        for name in changed:
            field_ts[name] = iso(prov.get(name)) or iso(utcnow())
        echo = sorted(set(src.echo or ()) | changed) if src is not None else sorted(changed)
        fresh = src is None
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
            ctx.session.add(src)
            known[str(target_id)] = src
        else:
            src.payload = payload
        src.canonical = expected
        src.field_ts = field_ts
        src.echo = echo
        return src if fresh else None
