"""Outbound: per-tool diffs of changed golden records, batch writes, the ledger, the delete brake."""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from hub import paths
from hub.connector import Stream, WriteOp, WriteResult
from hub.context import RunContext, iso
from hub.errors import ConnectorError, MassDeleteError, RecordError
from hub.golden import observed_times
from hub.mapping import StreamMap
from hub.processing import pack_field_ts, resolve_refs
from hub.report import PlannedOp
from hub.runtime import ENTITY_ORDER, Runtime
from hub.store.bulk import bulk_insert, bulk_update, chunks
from hub.store.models import Entity, Identifier, Ledger, Link, SourceRecord, utcnow
from schemas.canonical import LIFECYCLE_ORDER, DealStage

ORDERS: tuple[tuple[str, ...], ...] = (LIFECYCLE_ORDER, tuple(s.value for s in DealStage if s.value != "lost"))
# an activity is only worth creating in a tool where the person it belongs to is
REQUIRED_REF = {"activity": "person_id"}


@dataclass
class Ent:
    id: str
    data: dict[str, Any]
    deleted: bool
    observed: dict[str, str | None] | None = None  # when each golden value was observed: loaded for the entities written (see _execute)


@dataclass
class Src:
    """A source record of the target tool linked to the entity (payload, field_ts and echo are
    loaded only for the records written: see _execute)."""

    id: int
    source_id: str
    canonical: dict[str, Any] | None
    deleted: bool
    status: str = "mapped"  # "held": its link is in review, it neither feeds nor receives
    payload: dict[str, Any] | None = None
    field_ts: dict[str, Any] | None = None
    echo: list[Any] | None = None


@dataclass
class Op:
    """A write the hub decided on, with what it needs to record the outcome."""

    entity: Ent
    action: str  # create | update | delete | archive
    target_id: str | None
    fields: dict[str, Any]
    changes: dict[str, list[Any]]
    src: Src | None = None

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
        # from the dirty entities (few, indexed) to their records: a run without deletions does
        # not count the whole store
        doomed = ctx.session.scalar(
            select(func.count())
            .select_from(Entity)
            .join(Link, Link.entity_id == Entity.id)
            .join(SourceRecord, SourceRecord.id == Link.source_record_id)
            .where(Entity.dirty.is_(True), Entity.deleted.is_(True), Entity.merged_into.is_(None), _in_stream(rt.name, *(s for _, s in pairs)), SourceRecord.deleted.is_(False))
        ) or 0
        if not doomed:
            continue
        live = ctx.session.scalar(base.where(scope, SourceRecord.deleted.is_(False))) or 0
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
        outbox = _Outbox(ctx)
        last = ""
        task = ctx.progress.task(f"write {entity}")
        while not ctx.stop.is_set():
            rows = ctx.session.connection().execute(
                select(Entity.id, Entity.data, Entity.deleted)
                .where(Entity.type == entity, Entity.dirty.is_(True), Entity.merged_into.is_(None), Entity.id > last)
                .order_by(Entity.id)
                .limit(ctx.chunk)
            ).all()
            if not rows:
                break
            ents = [Ent(*r) for r in rows]
            last = ents[-1].id
            for rt, stream, smap in tgts:
                if rt.name in ctx.failed_connectors:
                    continue
                ops = _build_ops(ctx, ents, rt, stream, smap)
                if ctx.plan:
                    ctx.report.plan.extend(
                        PlannedOp(rt.name, stream.name, o.action, o.entity.id, o.target_id, o.changes) for o in ops
                    )
                else:
                    outbox.add(rt, stream, ops)
            outbox.settle(e.id for e in ents)
            outbox.send(final=False)
            ctx.checkpoint()
            task.advance(len(ents))
        if not ctx.stop.is_set():
            outbox.send(final=True)
        ctx.checkpoint()
        task.done()


class _Outbox:
    """Ops waiting to be written, per tool stream, and the entities waiting on them.

    Ops are sent in full batches (the rest waits for the next chunk of entities), so a run
    makes the fewest calls the vendors' batch limits allow however the chunks fall; an entity
    is marked clean only once every op decided for it was sent, so a crash or a stop in
    between leaves it dirty for the next run.
    """

    FLUSH_BATCHES = 30  # batches buffered per stream before sending (Zendesk's job window)

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.ops: dict[tuple[str, str], list[Op]] = defaultdict(list)
        self.targets: dict[tuple[str, str], tuple[Runtime, Stream]] = {}
        self.waiting: dict[str, int] = {}  # entity id -> its ops not sent yet
        self.clean: list[str] = []  # entities with nothing left to send

    def add(self, rt: Runtime, stream: Stream, ops: list[Op]) -> None:
        key = (rt.name, stream.name)
        self.targets[key] = (rt, stream)
        self.ops[key].extend(ops)
        for op in ops:
            self.waiting[op.entity.id] = self.waiting.get(op.entity.id, 0) + 1

    def settle(self, eids: Any) -> None:
        """The entities of a chunk whose ops are all decided: those without any are clean."""
        self.clean.extend(e for e in eids if e not in self.waiting)

    def send(self, *, final: bool) -> None:
        ctx = self.ctx
        for key, ops in list(self.ops.items()):
            rt, stream = self.targets[key]
            if rt.name in ctx.failed_connectors:
                self.ops.pop(key)  # their entities stay dirty
                continue
            size = max(1, stream.batch_size)
            if not final and len(ops) < self.FLUSH_BATCHES * size:
                continue
            now, later = _full_batches(ops, size, final)
            self.ops[key] = later
            if not now:
                continue
            _execute(ctx, rt, stream, now)
            for op in now:
                self.waiting[op.entity.id] -= 1
                if not self.waiting[op.entity.id]:
                    del self.waiting[op.entity.id]
                    self.clean.append(op.entity.id)
        if ctx.plan or not ctx.all_connectors or ctx.failed_connectors:
            self.clean.clear()
            return
        for part in chunks(self.clean):
            ctx.session.execute(update(Entity).where(Entity.id.in_(part)).values(dirty=False))
        self.clean.clear()


def _full_batches(ops: list[Op], size: int, final: bool) -> tuple[list[Op], list[Op]]:
    """Split ops into what fills whole batches of each kind (everything, when ``final``) and
    the rest, which waits: creates, updates and deletes go to different endpoints."""
    now: list[Op] = []
    later: list[Op] = []
    for action in ("create", "update", "archive", "delete"):
        group = [o for o in ops if o.action == action]
        cut = len(group) if final else len(group) - len(group) % size
        now.extend(group[:cut])
        later.extend(group[cut:])
    return now, later


def _in_stream(connector: str, *streams: str) -> ColumnElement[bool]:
    """Source records of these tool streams, for queries that reach them through links or
    identifiers of a chunk's entities.

    Written on ``connector || ':' || stream`` so that SQLite, which keeps no statistics, follows
    the chunk's links to their records instead of walking the whole stream through its
    (connector, stream, source_id) index for every chunk: that made outbound quadratic.
    """
    key = SourceRecord.connector + ":" + SourceRecord.stream
    return key.in_([f"{connector}:{s}" for s in streams])


def _build_ops(ctx: RunContext, ents: list[Ent], rt: Runtime, stream: Stream, smap: StreamMap) -> list[Op]:
    s = ctx.session
    linked: dict[str, list[Src]] = defaultdict(list)
    for part in chunks([e.id for e in ents]):
        q = (
            select(
                Link.entity_id,
                SourceRecord.id,
                SourceRecord.source_id,
                SourceRecord.canonical,
                SourceRecord.deleted,
                SourceRecord.status,
            )
            .join(SourceRecord, SourceRecord.id == Link.source_record_id)
            .where(Link.entity_id.in_(part), _in_stream(rt.name, stream.name))
        )
        for eid, *cols in s.connection().execute(q):
            linked[eid].append(Src(*cols))
    ref_fields = [f for f in smap.fields if f.ref and f.outbound]
    vendor_ids = _vendor_ids(ctx, rt, ref_fields, ents)
    cur_refs = resolve_refs(
        s,
        {
            v
            for srcs in linked.values()
            for src in srcs
            for f in ref_fields
            if (v := paths.get(src.canonical or {}, f.canonical[0]))
        },
    )
    rule = rt.config.rule(smap.entity)
    mapping = rt.mapping
    # a person already in this tool as a Lead is not created again as a Contact
    siblings = [name for name, other in mapping.streams.items() if other.entity == smap.entity and name != stream.name]
    elsewhere = _linked_elsewhere(ctx, rt, siblings, ents) if siblings and smap.create else set()

    def lookup(ref_stream: str, eid: str) -> str | None:
        return vendor_ids.get((ref_stream, eid))

    taken = _emails_held(ctx, rt, stream, [e for e in ents if not linked.get(e.id)]) if smap.entity == "person" else {}

    ops: list[Op] = []
    for ent in ents:
        golden = ent.data
        srcs = linked.get(ent.id, [])
        live = [x for x in srcs if not x.deleted and x.status != "held"]
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
        elif not srcs and smap.create and rule.create and ent.id not in elsewhere and conditions_pass(rule.create_when, golden):
            needed = REQUIRED_REF.get(smap.entity)
            if needed and not _ref_resolves(smap, needed, golden, lookup):
                continue
            if taken:
                golden = _without_taken_emails(ctx, rt, stream, ent, golden, taken)
                if golden is None:
                    continue
            fields = mapping.to_vendor(stream.name, golden, vendor_id=lookup)
            if fields:
                ops.append(Op(ent, "create", None, fields, {k: [None, v] for k, v in fields.items()}))
    return ops


def _emails_held(ctx: RunContext, rt: Runtime, stream: Stream, ents: list[Ent]) -> dict[str, tuple[str, str]]:
    """E-mail -> (record id, entity) of this stream's records that hold the golden e-mails of
    people about to be created here, where that record belongs to someone else."""
    wanted = sorted({e["address"] for ent in ents for e in ent.data.get("emails") or () if isinstance(e, dict) and e.get("address")})
    out: dict[str, tuple[str, str]] = {}
    for part in chunks(wanted):
        q = (
            select(Identifier.value, SourceRecord.source_id, Identifier.entity_id)
            .join(SourceRecord, SourceRecord.id == Identifier.source_record_id)
            .where(Identifier.entity_type == "person", Identifier.kind == "email", Identifier.value.in_(part), _in_stream(rt.name, stream.name), SourceRecord.deleted.is_(False))
        )
        out.update({v: (sid, eid) for v, sid, eid in ctx.session.connection().execute(q)})
    return out


def _without_taken_emails(
    ctx: RunContext, rt: Runtime, stream: Stream, ent: Ent, golden: dict[str, Any], taken: dict[str, tuple[str, str]]
) -> dict[str, Any] | None:
    """The golden record to create, minus e-mails another person's record here already holds.

    Two people who share an address (an admin split them) cannot both be keyed by it: the tool
    would refuse the second or, with create-or-update semantics, overwrite the first. With no
    address left the create goes to the dead-letter store instead.
    """
    emails = [e for e in golden.get("emails") or () if isinstance(e, dict)]
    clash = [e for e in emails if e.get("address") in taken and taken[e["address"]][1] != ent.id]
    if not clash:
        return golden
    free = [e for e in emails if e not in clash]
    if free:
        return {**golden, "emails": free}
    sid, other = taken[clash[0]["address"]]
    err = RecordError(
        f"not created: {clash[0]['address']} is already on {rt.name} {stream.name} record {sid}, which belongs to "
        f"another person ({other}); {rt.name} cannot hold two people with one e-mail — give one of them another address",
        connector=rt.name,
        stream=stream.name,
        source_id=f"entity:{ent.id}",
        field="emails",
    )
    ctx.dead_letter(err, stage="write", payload={"entity_id": ent.id, "action": "create"})
    return None


def _ref_resolves(smap: StreamMap, path: str, golden: dict[str, Any], lookup: Any) -> bool:
    """Whether the entity ``path`` refers to exists in this tool (for a stream that maps it)."""
    for f in smap.fields:
        if f.ref and f.outbound and path in f.canonical:
            value = golden.get(path)
            return bool(value) and lookup(f.ref, value) is not None
    return True  # the tool does not link this entity to a person: nothing to wait for


def _linked_elsewhere(ctx: RunContext, rt: Runtime, streams: list[str], ents: list[Ent]) -> set[str]:
    """Entities that already have a live record in another stream of this tool."""
    out: set[str] = set()
    for part in chunks([e.id for e in ents]):
        q = (
            select(Link.entity_id)
            .join(SourceRecord, SourceRecord.id == Link.source_record_id)
            .where(
                Link.entity_id.in_(part),
                _in_stream(rt.name, *streams),
                SourceRecord.deleted.is_(False),
            )
        )
        out.update(eid for (eid,) in ctx.session.connection().execute(q))
    return out


def _vendor_ids(ctx: RunContext, rt: Runtime, ref_fields: list[Any], ents: list[Ent]) -> dict[tuple[str, str], str]:
    """(referenced stream, entity id) -> this tool's id, for the references golden records hold."""
    out: dict[tuple[str, str], str] = {}
    for f in ref_fields:
        eids = sorted({v for e in ents if isinstance(v := paths.get(e.data, f.canonical[0]), str)})
        for part in chunks(eids):
            q = (
                select(Link.entity_id, SourceRecord.source_id)
                .join(SourceRecord, SourceRecord.id == Link.source_record_id)
                .where(
                    Link.entity_id.in_(part),
                    _in_stream(rt.name, f.ref),
                    SourceRecord.deleted.is_(False),
                )
            )
            for eid, sid in ctx.session.connection().execute(q):
                out.setdefault((f.ref, eid), sid)
    return out


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.copy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _execute(ctx: RunContext, rt: Runtime, stream: Stream, ops: list[Op]) -> None:
    s = ctx.session
    # creates, updates and deletes go to different endpoints: full batches of one kind each
    ops = sorted(ops, key=lambda o: ("create", "update", "archive", "delete").index(o.action))
    prior = _ledger_rows(ctx, rt, stream, ops)
    _load_written(ctx, ops)
    # 1. intents first: a crash after the vendor wrote but before we recorded it still lets the
    #    next run recognise the write when it reads it back
    payloads: list[dict[str, Any]] = []
    expected: list[dict[str, Any]] = []
    intents: list[dict[str, Any]] = []
    now = utcnow()
    for op in ops:
        payload = _deep_merge(op.src.payload if op.src else {}, op.fields)
        exp: dict[str, Any] = {}
        if op.action in ("create", "update"):
            try:
                exp = rt.mapping.to_canonical(stream.name, payload, connector=rt.name)
            except RecordError:
                exp = {}
        payloads.append(payload)
        expected.append(exp)
        old = prior.get(op.entity.id)
        intents.append(
            {
                "connector": rt.name,
                "stream": stream.name,
                "entity_id": op.entity.id,
                "target_id": op.target_id or (old["target_id"] if old else None),
                "fields": op.fields,
                "expected": exp,
                "pending": True,
                "action": op.action,
                "written_at": now,
                "run_id": ctx.run_id,
            }
        )
    # a person merged from duplicates in one tool has several records there: all are written,
    # the ledger keeps one row per person and tool stream (they all receive the same golden record)
    intents = list({i["entity_id"]: i for i in reversed(intents)}.values())
    fresh = [i for i in intents if i["entity_id"] not in prior]
    known = [i for i in intents if i["entity_id"] in prior]
    if fresh:
        bulk_insert(s, Ledger, fresh)
    if known:
        bulk_update(s, Ledger, known)
    ctx.checkpoint()
    size = max(1, stream.batch_size)
    batches = [ops[i : i + size] for i in range(0, len(ops), size)]
    offset = 0
    try:
        results_iter = rt.connector.write_batches(stream.name, [[o.write_op() for o in b] for b in batches])
        for batch, results in zip(batches, results_iter, strict=False):
            n = len(batch)
            _Recorder(ctx, rt, stream, prior).record(batch, results, payloads[offset : offset + n], expected[offset : offset + n])
            offset += n
        # one commit for the outcomes: the intents above are durable already, so a crash before
        # this point is recognised by the next run as a write whose outcome was not recorded
        ctx.checkpoint()
    except ConnectorError as err:
        ctx.report.errors.append(str(err))
        ctx.failed_connectors.add(rt.name)
        ctx.checkpoint()


def _load_written(ctx: RunContext, ops: list[Op]) -> None:
    """Load what only a write needs: the payload, field timestamps and echoes of the records
    written and when their entities' values were observed (most records diffed need no write)."""
    srcs = {op.src.id: op.src for op in ops if op.src is not None and op.src.payload is None}
    for part in chunks(sorted(srcs)):
        q = select(SourceRecord.id, SourceRecord.payload, SourceRecord.field_ts, SourceRecord.echo).where(SourceRecord.id.in_(part))
        for rid, payload, field_ts, echo in ctx.session.connection().execute(q):
            srcs[rid].payload, srcs[rid].field_ts, srcs[rid].echo = payload, field_ts, echo
    ents = {op.entity.id: op.entity for op in ops if op.entity.observed is None}
    for part in chunks(sorted(ents)):
        for eid, provenance in ctx.session.connection().execute(select(Entity.id, Entity.provenance).where(Entity.id.in_(part))):
            ents[eid].observed = observed_times(provenance)


def _ledger_rows(ctx: RunContext, rt: Runtime, stream: Stream, ops: list[Op]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted({op.entity.id for op in ops})):
        q = select(Ledger.entity_id, Ledger.target_id, Ledger.expected).where(
            Ledger.connector == rt.name, Ledger.stream == stream.name, Ledger.entity_id.in_(part)
        )
        out.update({r.entity_id: {"target_id": r.target_id, "expected": r.expected} for r in ctx.session.connection().execute(q)})
    return out


class _Recorder:
    """Records the outcome of one written batch: ledger, source records, links, dead letters."""

    def __init__(self, ctx: RunContext, rt: Runtime, stream: Stream, prior: dict[str, dict[str, Any]]) -> None:
        self.ctx, self.rt, self.stream, self.prior = ctx, rt, stream, prior

    def record(self, batch: list[Op], results: list[WriteResult], payloads: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
        s = self.ctx.session
        created = [str(res.target_id) for op, res in zip(batch, results, strict=True) if op.src is None and res.ok and res.target_id]
        known: dict[str, Src] = {}
        for part in chunks(created):
            q = select(
                SourceRecord.id, SourceRecord.source_id, SourceRecord.canonical, SourceRecord.deleted,
                SourceRecord.payload, SourceRecord.field_ts, SourceRecord.echo,
            ).where(SourceRecord.connector == self.rt.name, SourceRecord.stream == self.stream.name, SourceRecord.source_id.in_(part))
            known.update({r.source_id: Src(*r) for r in s.connection().execute(q)})
        self.ledger_done: list[dict[str, Any]] = []
        self.ledger_undo: list[dict[str, Any]] = []
        self.src_updates: list[dict[str, Any]] = []
        self.src_deleted: list[dict[str, Any]] = []
        self.src_new: list[dict[str, Any]] = []
        self.link_for: dict[str, str] = {}
        for op, res, payload, exp in zip(batch, results, payloads, expected, strict=True):
            self._one(op, res, payload, exp, known)
        key = {"connector": self.rt.name, "stream": self.stream.name}
        if self.ledger_done:
            bulk_update(s, Ledger, [{**key, **d} for d in self.ledger_done])
        for d in self.ledger_undo:
            if d.pop("drop"):
                s.execute(Ledger.__table__.delete().where(Ledger.connector == self.rt.name, Ledger.stream == self.stream.name, Ledger.entity_id == d["entity_id"]))
            else:
                bulk_update(s, Ledger, [{**key, **d}])
        for rows in (self.src_updates, self.src_deleted):
            if rows:
                bulk_update(s, SourceRecord, rows)
        if self.src_new:
            bulk_insert(s, SourceRecord, self.src_new)
            q = select(SourceRecord.source_id, SourceRecord.id).where(
                SourceRecord.connector == self.rt.name,
                SourceRecord.stream == self.stream.name,
                SourceRecord.source_id.in_(list(self.link_for)),
            )
            ids = {sid: rid for sid, rid in s.connection().execute(q)}
            bulk_insert(s, Link, [
                    {"source_record_id": ids[sid], "entity_id": eid, "rule": "hub_created", "evidence": {"run": self.ctx.run_id}, "manual": False, "created_at": utcnow()}
                    for sid, eid in self.link_for.items()
                ],
            )

    def _one(self, op: Op, res: WriteResult, payload: dict[str, Any], expected: dict[str, Any], known: dict[str, Src]) -> None:

        ctx, rt, stream = self.ctx, self.rt, self.stream
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
            old = self.prior.get(op.entity.id)
            if old is None:
                self.ledger_undo.append({"entity_id": op.entity.id, "drop": True})
            else:
                self.ledger_undo.append({"entity_id": op.entity.id, "drop": False, "pending": False, "expected": old["expected"] or {}})
            return
        ctx.report.count_write(rt.name, res.status)
        ctx.report.streams[f"{rt.name}/{stream.name}"][res.status] += 1
        target_id = str(res.target_id or op.target_id)
        self.ledger_done.append({"entity_id": op.entity.id, "pending": False, "target_id": target_id})
        src = op.src or known.get(target_id)
        if res.status == "deleted":
            if src is not None:
                self.src_deleted.append({"id": src.id, "deleted": True})
            return
        # what the tool now holds, so that reading it back is no change (no ping-pong)
        observed = op.entity.observed or {}
        changed = set(expected) if src is None else {k for k, v in expected.items() if (src.canonical or {}).get(k) != v}
        field_ts = dict(src.field_ts or {}) if src is not None else {}
        for name in changed:
            field_ts[name] = observed.get(name) or iso(utcnow())
        echo = sorted(set(src.echo or ()) | changed) if src is not None else sorted(changed)
        values = {"payload": payload, "canonical": expected, "field_ts": pack_field_ts(field_ts), "echo": echo}
        if src is not None:
            self.src_updates.append({"id": src.id, **values})
        elif target_id not in self.link_for:
            self.src_new.append(
                {
                    "connector": rt.name,
                    "stream": stream.name,
                    "source_id": target_id,
                    "hash": None,
                    "deleted": False,
                    "status": "mapped",
                    "run_id": ctx.run_id,
                    "staged_at": utcnow(),
                    "retracted": None,
                    "source_updated_at": None,
                    **values,
                }
            )
            self.link_for[target_id] = op.entity.id
