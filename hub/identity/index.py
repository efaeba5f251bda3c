"""The incremental identity index: resolve one record at a time against what is already known.

A new or changed record is keyed, paired with the records sharing its blocking keys or its
place in name order, scored with the fixed :class:`MatchModel`, and its identifiers are joined
to the identifier graph. Only the entities whose evidence changed are re-clustered: a record
added, a link gained or lost, a block grown past its limit, an identifier that turned out to
be shared. Entity ids are stable: an entity keeps its id while most of it stays together.

The index makes the same decisions a batch run with the same model makes — resolving records
one by one gives the batch's clusters, whatever the order — because every piece of state is
a function of the set of records: candidate pairs (blocks, sorted neighbourhood), pair scores
(the model is fixed; term frequencies come from it, not from the index), identifier guards
(judged per identifier-graph component), and clustering (edges applied strongest first).

Storage: :meth:`IdentityIndex.to_state` gives a JSON-ready dict; the module docstring of
:mod:`hub.identity` lists the SQL tables it maps to.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from sortedcontainers import SortedList

from hub.identity.blocking import KINDS, block_cap, row_keys, snm_sort_key
from hub.identity.cluster import (
    TIER_DETERMINISTIC,
    TIER_MANUAL,
    TIER_PROBABILISTIC,
    Edge,
    assign_ids,
    cluster,
)
from hub.identity.compare import compare
from hub.identity.config import ResolverConfig
from hub.identity.deterministic import Ident, incompatible_pairs, kind_of, link
from hub.identity.features import Features, extract, record_id
from hub.identity.model import LINK, NONE, REVIEW, MatchModel
from hub.identity.partial import (
    AMBIGUOUS_REASON,
    UNIQUE_REASON,
    lacking,
    partial_pairs,
    unique_person,
)
from hub.identity.resolver import Result, ReviewPair, resolve_table
from hub.identity.table import FeatureTable, bulk


@dataclass(frozen=True)
class Decision:
    """What adding or changing one record decided.

    Attributes:
        record_id: The record.
        entity_id: Its entity now.
        rule: Why it belongs there: ``new`` (alone), ``manual``, an identifier kind (``ref``,
            ``email``, ``mobile``…) or ``probabilistic``.
        confidence: 1.0 for identifier and manual links, the match probability for a
            probabilistic one; for a record alone, one minus its best probability elsewhere.
        evidence: The identifier value, or the per-field weights of the deciding pair.
        review: Pairs involving the record left for a person to decide.
        changed: Entity id -> record ids, for every entity whose membership changed.
        retired: Entity ids that disappeared -> the id that absorbed most of their records.
    """

    record_id: str
    entity_id: str
    rule: str
    confidence: float
    evidence: dict[str, Any] = field(default_factory=dict)
    review: list[ReviewPair] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    retired: dict[str, str] = field(default_factory=dict)


class _Blocks:
    """Blocking key -> member rows: sorted arrays from a bulk load, a dict for what came after."""

    def __init__(self, keys: np.ndarray | None = None, rows: np.ndarray | None = None) -> None:
        self.base_keys = keys if keys is not None else np.zeros(0, np.int64)
        self.base_rows = rows if rows is not None else np.zeros(0, np.int64)
        self.extra: dict[int, list[int]] = {}
        self.removed: set[int] = set()

    def members(self, key: int, limit: int) -> list[int] | None:
        """Live members, or None when there are more than ``limit`` (no need to list them)."""
        lo = int(np.searchsorted(self.base_keys, key, "left"))
        hi = int(np.searchsorted(self.base_keys, key, "right"))
        extra = self.extra.get(key, ())
        if hi - lo - len(self.removed) + len(extra) > limit:
            return None
        out = [r for r in self.base_rows[lo:hi].tolist() if r not in self.removed]
        out.extend(extra)
        return out if len(out) <= limit else None

    def size_over(self, key: int, limit: int) -> bool:
        return self.members(key, limit) is None

    def add(self, key: int, row: int) -> None:
        self.extra.setdefault(key, []).append(row)

    def remove(self, key: int, row: int) -> None:
        extra = self.extra.get(key)
        if extra and row in extra:
            extra.remove(row)
        else:
            self.removed.add(row)


_NO_EDGES: Mapping[int, tuple[float, int]] = MappingProxyType({})


class _Edges:
    """Scored pairs at or above review, per row: (probability, decision) by other row.

    Arrays from a bulk load (rows' neighbours laid end to end, ascending), and a dict of its
    own for every row changed since: a million records hold some 700k such pairs, which as a
    dict of dicts cost some 300 MB and as arrays 20 MB. A row's pairs move out of the arrays
    the first time one of them changes.
    """

    def __init__(
        self, n: int = 0, a: Sequence[int] = (), b: Sequence[int] = (), prob: Sequence[float] = (), decision: Sequence[int] = ()
    ) -> None:
        """Rows ``0..n-1`` with the pairs ``(a[i], b[i])`` scored ``prob[i]``, ``decision[i]``."""
        x = np.concatenate([np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)])
        y = np.concatenate([np.asarray(b, dtype=np.int64), np.asarray(a, dtype=np.int64)])
        order = np.lexsort((y, x))
        self.start = np.searchsorted(x[order], np.arange(n + 1))
        self.other = y[order].astype(np.int32 if n < 2**31 else np.int64)
        self.prob = np.tile(np.asarray(prob, dtype=np.float64), 2)[order]
        self.decision = np.tile(np.asarray(decision, dtype=np.int8), 2)[order]
        self.changed: dict[int, dict[int, tuple[float, int]]] = {}

    def get(self, x: int) -> Mapping[int, tuple[float, int]]:
        """The pairs of row ``x`` (read only)."""
        own = self.changed.get(x)
        if own is not None:
            return own
        if x + 1 >= len(self.start):
            return _NO_EDGES
        lo, hi = int(self.start[x]), int(self.start[x + 1])
        if lo == hi:
            return _NO_EDGES
        return dict(zip(self.other[lo:hi].tolist(), zip(self.prob[lo:hi].tolist(), self.decision[lo:hi].tolist())))

    def _own(self, x: int) -> dict[int, tuple[float, int]]:
        own = self.changed.get(x)
        if own is None:
            own = self.changed[x] = dict(self.get(x))
        return own

    def set(self, x: int, y: int, p: float, d: int) -> None:
        """Store the pair (both directions)."""
        self._own(x)[y] = self._own(y)[x] = (p, d)

    def drop(self, x: int, y: int) -> bool:
        """Forget the pair; whether it was there."""
        if y not in self.get(x):
            return False
        self._own(x).pop(y, None)
        self._own(y).pop(x, None)
        return True

    def forget(self, x: int) -> None:
        """Row ``x`` has no pairs any more (its partners' sides are dropped separately)."""
        self.changed[x] = {}

    def items(self) -> Iterator[tuple[int, Mapping[int, tuple[float, int]]]]:
        """(row, its pairs) for every row that has any, rows ascending."""
        loaded = np.flatnonzero(np.diff(self.start) > 0).tolist()
        for x in sorted({*loaded, *self.changed}):
            nbrs = self.get(x)
            if nbrs:
                yield x, nbrs


class IdentityIndex:
    """Entities of person records, maintained one record at a time.

    Args:
        model: The match model (from :func:`hub.identity.resolve` or loaded); fixed for the
            life of the index, so that decisions do not drift with arrival order.
        config: The resolver settings the model was made with.
    """

    def __init__(self, model: MatchModel, config: ResolverConfig | None = None) -> None:
        self.model = model
        self.config = config or ResolverConfig()
        self.table = FeatureTable()
        self.row_of: dict[str, int] = {}
        self.blocks = _Blocks()
        self.snm: SortedList = SortedList()
        self.carriers: dict[Ident, set[int]] = {}  # identifiers other than own refs
        self.edges = _Edges()
        self.det: dict[int, dict[int, Ident]] = {}
        self.must: set[frozenset[str]] = set()
        self.cannot: dict[str, set[str]] = {}
        self.entity: dict[int, str] = {}
        self.members_of: dict[str, tuple[int, ...]] = {}
        """Entity id -> its rows (tuples: a set per entity costs three times as much)."""
        self.retired: dict[str, str] = {}

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def from_result(cls, result: Result, config: ResolverConfig | None = None) -> IdentityIndex:
        """Bulk-load an index from a batch run (its table, model, links and entities)."""
        if result._table is None or result._pairs is None:
            raise ValueError("the result keeps no table: resolve it with this package")
        config = config or ResolverConfig()
        index = cls(result.model, config)
        table = index.table = result._table
        with bulk():
            rows = np.flatnonzero(table.alive[: table.n])
            index.row_of = {table.record_ids[r]: int(r) for r in rows.tolist()}
            index.blocks = _Blocks(*_all_keys(table, rows))
            index.snm = SortedList(k for k in (snm_sort_key(table, r) for r in rows.tolist()) if k is not None)
            for r in rows.tolist():
                for ident in table.identifiers[r]:
                    index.carriers.setdefault(ident, set()).add(r)
            a, b, prob, decision = result._pairs
            keep = np.flatnonzero(decision >= REVIEW)
            index.edges = _Edges(table.n, a[keep], b[keep], prob[keep], decision[keep])
            del keep
            for d in result._det:
                index.det.setdefault(d.a, {})[d.b] = d.ident
                index.det.setdefault(d.b, {})[d.a] = d.ident
            index.must = {frozenset(p) for p in result._manual}
            row_of, entity = index.row_of, index.entity
            for eid, rids in result.clusters.items():
                members = tuple(sorted(row_of[rid] for rid in rids))
                index.members_of[eid] = members
                for row in members:
                    entity[row] = eid
            index.retired = dict(result.retired)
        return index

    # -- queries -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.row_of)

    def __contains__(self, rid: object) -> bool:
        return rid in self.row_of

    def entity_of(self, rid: str) -> str:
        """The entity of a record."""
        return self.entity[self.row_of[rid]]

    def resolve_id(self, entity_id: str) -> str:
        """Follow retired ids to the entity that absorbed them."""
        seen = set()
        while entity_id in self.retired and entity_id not in seen:
            seen.add(entity_id)
            entity_id = self.retired[entity_id]
        return entity_id

    def members(self, entity_id: str) -> list[str]:
        """Record ids of an entity (a retired id is followed)."""
        rows = self.members_of.get(self.resolve_id(entity_id), ())
        return sorted(self.table.record_ids[r] for r in rows)

    def clusters(self) -> dict[str, list[str]]:
        """Entity id -> record ids, for every entity."""
        return {eid: sorted(self.table.record_ids[r] for r in rows) for eid, rows in self.members_of.items()}

    def review(self) -> list[ReviewPair]:
        """Every pair waiting for a person: scored between the thresholds, not in one entity."""
        ids = self.table.record_ids
        apart = [
            (x, y, p, d)
            for x, nbrs in self.edges.items()
            for y, (p, d) in nbrs.items()
            if x < y and d >= REVIEW and self.entity[x] != self.entity[y]
        ]
        partial = self._partial(apart)
        out = [
            ReviewPair(ids[x], ids[y], p, AMBIGUOUS_REASON if d == LINK else "probability between thresholds")
            for x, y, p, d in apart
            if partial.get((x, y), d) == REVIEW
        ]
        return sorted(out, key=lambda r: -r.probability)

    def explain(self, a: str, b: str) -> dict[str, Any]:
        """Why two records are (or are not) one entity: identifier, manual rule, field weights."""
        ra, rb = self.row_of[a], self.row_of[b]
        out: dict[str, Any] = {"a": a, "b": b, "same_entity": self.entity[ra] == self.entity[rb]}
        ident = self.det.get(ra, {}).get(rb)
        if ident:
            out["deterministic"] = {"rule": ident[0], "value": ident[1]}
        if frozenset((a, b)) in self.must:
            out["manual"] = "merged by a person"
        if b in self.cannot.get(a, ()):
            out["manual"] = "split apart by a person"
        pl = compare(self.table, np.array([ra]), np.array([rb]))
        out["probabilistic"] = self.model.explain(self.table, pl, 0)
        scored = self.edges.get(ra).get(rb, (0.0, NONE))[1]
        decided = self._decided(ra, rb)
        if decided != scored:
            out["probabilistic"]["partial"] = UNIQUE_REASON if decided == LINK else AMBIGUOUS_REASON
        return out

    # -- changes -------------------------------------------------------------------------------
    def add(self, record: Mapping[str, Any]) -> Decision:
        """Resolve a new record (an id already indexed is an update)."""
        rid = record_id(record)
        if rid in self.row_of:
            return self.update(record)
        feats = extract(record, self.config)
        seeds = self._insert(feats)
        changed, retired = self._recluster(seeds)
        return self._decision(rid, changed, retired)

    def update(self, record: Mapping[str, Any]) -> Decision:
        """Re-resolve a changed record: only its entity and the ones its evidence touches."""
        rid = record_id(record)
        if rid not in self.row_of:
            return self.add(record)
        eid = self.entity[self.row_of[rid]]
        before = set(self.members(eid))
        seeds = self._delete(rid)
        seeds |= self._insert(extract(record, self.config))
        changed, retired = self._recluster(seeds)
        _note_loss(changed, eid, before, self)
        return self._decision(rid, changed, retired)

    def remove(self, rid: str) -> Decision:
        """Forget a record; the entities it held together are re-evaluated."""
        eid = self.entity[self.row_of[rid]]
        before = set(self.members(eid))
        seeds = self._delete(rid)
        changed, retired = self._recluster(seeds)
        _note_loss(changed, eid, before, self)
        return Decision(rid, eid, "removed", 1.0, changed=changed, retired=retired)

    def merge(self, a: str, b: str) -> Decision:
        """A person says ``a`` and ``b`` are one entity (undoes an earlier split of the two)."""
        self.must.add(frozenset((a, b)))
        self.cannot.get(a, set()).discard(b)
        self.cannot.get(b, set()).discard(a)
        changed, retired = self._recluster({self.row_of[a], self.row_of[b]})
        return self._decision(a, changed, retired)

    def split(self, records_a: Sequence[str], records_b: Sequence[str]) -> dict[str, list[str]]:
        """A person says no record of ``records_a`` is the entity of any of ``records_b``."""
        for x in records_a:
            for y in records_b:
                self.cannot.setdefault(x, set()).add(y)
                self.cannot.setdefault(y, set()).add(x)
                self.must.discard(frozenset((x, y)))
        changed, _ = self._recluster({self.row_of[r] for r in (*records_a, *records_b)})
        return changed

    # -- internals: inserting and deleting rows -------------------------------------------------
    def _cap(self, key: int) -> int:
        return block_cap(key, self.config)

    def _set_edge(self, x: int, y: int, p: float, d: int) -> None:
        self.edges.set(x, y, p, d)

    def _drop_edge(self, x: int, y: int) -> bool:
        return self.edges.drop(x, y)

    def _insert(self, feats: Features) -> set[int]:
        """Store a record and score its candidates; returns the rows whose entity may change."""
        table = self.table
        row = table.append(feats)
        self.row_of[feats.record_id] = row
        seeds = {row}
        keys, _ = row_keys(table, np.array([row]))
        candidates: set[int] = set()
        for key in keys.tolist():
            cap = self._cap(key)
            before = self.blocks.members(key, cap + 1)
            self.blocks.add(key, row)
            if before is None:
                continue
            if len(before) < cap:
                candidates.update(before)
            elif len(before) == cap:
                # the block just grew past its limit: pairs it alone supported are gone
                seeds |= self._revalidate([(x, y) for i, x in enumerate(before) for y in before[i + 1 :]])
        sk = snm_sort_key(table, row)
        if sk is not None:
            self.snm.add(sk)
            pos = self.snm.index(sk)
            w = self.config.window
            near = [self.snm[i] for i in range(max(0, pos - w + 1), min(len(self.snm), pos + w)) if i != pos]
            candidates.update(self.row_of[k[2]] for k in near)
            # pairs that were exactly window-1 apart across the new row now are window apart
            dropped = []
            for i in range(max(0, pos - w + 1), pos):
                j = i + w
                if j < len(self.snm):
                    dropped.append((self.row_of[self.snm[i][2]], self.row_of[self.snm[j][2]]))
            seeds |= self._revalidate(dropped)
        candidates.discard(row)
        seeds |= self._score(row, sorted(candidates))
        for ident in table.identifiers[row]:
            self.carriers.setdefault(ident, set()).add(row)
        seeds |= self._redo_identifiers({row} | self._identifier_neighbours(row))
        return seeds

    def _delete(self, rid: str) -> set[int]:
        """Forget a record's row; returns the rows whose entity may change."""
        table = self.table
        row = self.row_of.pop(rid)
        seeds = set(self.members_of.get(self.entity.get(row, ""), ())) | set(self.edges.get(row)) | set(self.det.get(row, {}))
        neighbours = self._identifier_neighbours(row)
        keys, _ = row_keys(table, np.array([row]))
        regrown: list[int] = []
        for key in keys.tolist():
            self.blocks.remove(key, row)
            members = self.blocks.members(key, self._cap(key))
            if members is not None and len(members) == self._cap(key):
                regrown.append(key)  # it held one more than its limit: valid again
        sk = snm_sort_key(table, row)
        revived: list[tuple[int, int]] = []
        if sk is not None:
            pos = self.snm.index(sk)
            self.snm.remove(sk)
            w = self.config.window
            # pairs window apart across the removed row are now window-1 apart: candidates again
            for i in range(max(0, pos - w + 1), pos):
                j = i + w - 1
                if j < len(self.snm):
                    revived.append((self.row_of[self.snm[i][2]], self.row_of[self.snm[j][2]]))
        for other in list(self.edges.get(row)):
            self._drop_edge(row, other)
        self.edges.forget(row)
        for other in list(self.det.get(row, {})):
            self.det.get(other, {}).pop(row, None)
        self.det.pop(row, None)
        for ident in table.identifiers[row]:
            carriers = self.carriers.get(ident)
            if carriers:
                carriers.discard(row)
                if not carriers:
                    del self.carriers[ident]
        eid = self.entity.pop(row, None)
        if eid is not None:
            rest = tuple(r for r in self.members_of[eid] if r != row)
            if rest:
                self.members_of[eid] = rest
            else:
                del self.members_of[eid]
        table.kill(row)
        seeds.discard(row)
        # a block back under its limit supports its pairs again: score them
        for key in regrown:
            members = self.blocks.members(key, self._cap(key)) or []
            for i, x in enumerate(members):
                seeds |= self._score(x, members[i + 1 :])
        for x, y in revived:
            seeds |= self._score(x, [y])
        seeds |= self._redo_identifiers(neighbours)
        return seeds

    def _score(self, row: int, others: Sequence[int]) -> set[int]:
        """Score pairs (row, other); store those worth keeping; returns rows whose edges changed."""
        others = [o for o in others if o != row and self.table.alive[o]]
        if not others:
            return set()
        a = np.full(len(others), row, dtype=np.int64)
        b = np.asarray(others, dtype=np.int64)
        pl = compare(self.table, a, b)
        prob, decision = self.model.score(self.table, pl, self.config.high, self.config.low)
        changed: set[int] = set()
        for other, p, d in zip(others, prob.tolist(), decision.tolist()):
            old = self.edges.get(row).get(other)
            if d >= REVIEW:
                if old != (p, d):
                    self._set_edge(row, other, p, d)
                    changed |= {row, other}
            elif old is not None:
                self._drop_edge(row, other)
                changed |= {row, other}
        return changed

    def _is_candidate(self, x: int, y: int) -> bool:
        kx, _ = row_keys(self.table, np.array([x]))
        ky, _ = row_keys(self.table, np.array([y]))
        for key in np.intersect1d(kx, ky).tolist():
            if not self.blocks.size_over(key, self._cap(key)):
                return True
        sx, sy = snm_sort_key(self.table, x), snm_sort_key(self.table, y)
        if sx is not None and sy is not None:
            return abs(self.snm.index(sx) - self.snm.index(sy)) < self.config.window
        return False

    def _revalidate(self, pairs: Iterable[tuple[int, int]]) -> set[int]:
        """Drop stored edges whose pair stopped being a candidate."""
        changed: set[int] = set()
        for x, y in pairs:
            if y in self.edges.get(x) and not self._is_candidate(x, y):
                self._drop_edge(x, y)
                changed |= {x, y}
        return changed

    # -- internals: the identifier graph --------------------------------------------------------
    def _carriers_of(self, ident: Ident) -> set[int]:
        rows = set(self.carriers.get(ident, ()))
        if ident[0] == "ref" and ident[1] in self.row_of:
            rows.add(self.row_of[ident[1]])
        return rows

    def _identifier_neighbours(self, row: int) -> set[int]:
        out: set[int] = set()
        for ident in self.table.idents(row):
            out |= self._carriers_of(ident)
        out.discard(row)
        return out

    def _component(self, seeds: Iterable[int]) -> set[int]:
        """Rows reachable from ``seeds`` through identifiers small enough to link."""
        limit = self.config.max_identifier_group
        seen = {s for s in seeds if s in self.entity or self.table.alive[s]}
        queue = list(seen)
        while queue:
            row = queue.pop()
            for ident in self.table.idents(row):
                carriers = self._carriers_of(ident)
                if 2 <= len(carriers) <= limit:
                    for other in carriers - seen:
                        seen.add(other)
                        queue.append(other)
        return seen

    def _redo_identifiers(self, seeds: set[int]) -> set[int]:
        """Recompute the deterministic links of the identifier components around ``seeds``."""
        changed: set[int] = set()
        todo = {s for s in seeds if self.table.alive[s]}
        done: set[int] = set()
        while todo:
            comp = self._component(todo)
            todo -= comp
            done |= comp
            groups: dict[Ident, list[int]] = {}
            for row in comp:
                for ident in self.table.idents(row):
                    carriers = self._carriers_of(ident)
                    if len(carriers) >= 2:
                        groups[ident] = sorted(carriers)
            pairs = [
                (rows[i], rows[j])
                for ident, rows in groups.items()
                if kind_of(ident) != "ref" and 2 <= len(rows) <= self.config.max_identifier_group
                for i in range(len(rows))
                for j in range(i + 1, len(rows))
            ]
            bad = incompatible_pairs(self.table, pairs)
            links, _ = link(groups, self.config, lambda x, y: (x, y) in bad)
            new = {frozenset((d.a, d.b)): d.ident for d in links if d.a in comp and d.b in comp}
            old = {frozenset((x, y)): ident for x in comp for y, ident in self.det.get(x, {}).items()}
            if new != old:
                for pair in old.keys() - new.keys():
                    x, y = tuple(pair)
                    self.det.get(x, {}).pop(y, None)
                    self.det.get(y, {}).pop(x, None)
                    changed |= {x, y}
                    # an old link out of the component: the other side needs its own redo
                    todo |= {r for r in (x, y) if r not in done and self.table.alive[r]}
                for pair, ident in new.items():
                    x, y = tuple(pair)
                    self.det.setdefault(x, {})[y] = ident
                    self.det.setdefault(y, {})[x] = ident
                    changed |= {x, y}
        return changed

    # -- internals: re-clustering ---------------------------------------------------------------
    def _recluster(self, seeds: set[int]) -> tuple[dict[str, list[str]], dict[str, str]]:
        """Re-cluster the entities of ``seeds`` (closed under every edge leaving them)."""
        ids = self.table.record_ids
        region: set[int] = set()
        todo = {s for s in seeds if self.table.alive[s]}
        while todo:
            row = todo.pop()
            if row in region:
                continue
            eid = self.entity.get(row)
            group = set(self.members_of.get(eid, ())) if eid else set()
            group.add(row)
            for r in group - region:
                region.add(r)
                todo |= (set(self.edges.get(r)) | set(self.det.get(r, {}))) - region
            for rid in (self.cannot.get(ids[row], ()) if self.cannot else ()):
                if rid in self.row_of and self.row_of[rid] not in region:
                    todo.add(self.row_of[rid])
        edges: list[Edge] = []
        scored: list[tuple[int, int, float, int]] = []
        for x in region:
            for y, (p, d) in self.edges.get(x).items():
                if x < y and d >= REVIEW:
                    scored.append((x, y, p, d))
            for y in self.det.get(x, {}):
                if x < y and y in region:
                    edges.append(Edge(x, y, TIER_DETERMINISTIC, 1.0, _key(ids[x], ids[y])))
        partial = self._partial(scored)
        for x, y, p, d in scored:
            if partial.get((x, y), d) == LINK:
                edges.append(Edge(x, y, TIER_PROBABILISTIC, p, _key(ids[x], ids[y])))
        for pair in self.must:
            x, y = (self.row_of.get(r) for r in pair)
            if x is not None and y is not None and x in region and y in region:
                edges.append(Edge(x, y, TIER_MANUAL, 1.0, _key(ids[x], ids[y])))
        cannot = {
            self.row_of[x]: {self.row_of[y] for y in ys if y in self.row_of}
            for x, ys in self.cannot.items()
            if x in self.row_of and self.row_of[x] in region
        }
        uf, _ = cluster(sorted(region), edges, cannot)
        comps = [sorted(ids[r] for r in members) for members in uf.groups().values()]
        before = {ids[r]: self.entity[r] for r in region if r in self.entity}
        old_ids = set(before.values())
        old_members: dict[str, set[str]] = {}
        for rid, eid in before.items():
            old_members.setdefault(eid, set()).add(rid)
        new_ids, retired = assign_ids(comps, before, _Taken(self, old_ids))
        for eid in old_ids:
            self.members_of.pop(eid, None)
        changed: dict[str, list[str]] = {}
        for eid, comp in zip(new_ids, comps):
            rows = tuple(sorted(self.row_of[r] for r in comp))
            self.members_of[eid] = rows
            for r in rows:
                self.entity[r] = eid
            if old_members.get(eid) != set(comp):
                changed[eid] = comp
        for old, new in retired.items():
            self.retired[old] = new
        return changed, retired

    def _partial(self, pairs: Sequence[tuple[int, int, float, int]]) -> dict[tuple[int, int], int]:
        """(x, y) -> decision, for the pairs among ``(x, y, probability, scored decision)``
        that :mod:`~hub.identity.partial` decides.

        Decided from the edges as they stand (a partial record's candidates are its edges), as
        the batch decides from its candidate pairs; nothing about it is stored.
        """
        if not self.config.link_partial or not pairs:
            return {}
        table = self.table
        a = np.fromiter((x for x, _, _, _ in pairs), np.int64, len(pairs))
        b = np.fromiter((y for _, y, _, _ in pairs), np.int64, len(pairs))
        g_a, f_a = lacking(table, a)
        g_b, f_b = lacking(table, b)
        some = np.flatnonzero((g_a != g_b) | (f_a != f_b))
        if not len(some):
            return {}
        a, b = a[some], b[some]
        prob = np.array([pairs[i][2] for i in some.tolist()], dtype=np.float64)
        scored = np.array([pairs[i][3] for i in some.tolist()], dtype=np.int8)
        flags = compare(table, a, b).flags
        idx, a_partial, by_given = partial_pairs(table, a, b, prob, scored, flags, self.config.high)
        out: dict[tuple[int, int], int] = {}
        for k, first, given in zip(idx.tolist(), a_partial.tolist(), by_given.tolist()):
            x, y = int(a[k]), int(b[k])
            r, o = (x, y) if first else (y, x)
            partners = list(self.edges.get(r))
            no_given, no_family = lacking(table, np.asarray(partners, dtype=np.int64))
            missing = dict(zip(partners, (no_given if given else no_family).tolist()))
            out[(x, y)] = LINK if unique_person(r, o, partners, lambda q: not missing[q], self._linked) else REVIEW
        return out

    def _decided(self, x: int, y: int) -> int:
        """The decision on the edge (x, y) after :mod:`~hub.identity.partial` (NONE: no edge)."""
        p, d = self.edges.get(x).get(y, (0.0, NONE))
        return self._partial([(x, y, p, d)]).get((x, y), d) if d >= REVIEW else d

    def _linked(self, x: int, y: int) -> bool:
        edge = self.edges.get(x).get(y)
        return edge is not None and edge[1] == LINK

    def _decision(self, rid: str, changed: dict[str, list[str]], retired: dict[str, str]) -> Decision:
        row = self.row_of[rid]
        eid = self.entity[row]
        ids = self.table.record_ids
        scored = [(row, o, p, d) for o, (p, d) in self.edges.get(row).items() if d >= REVIEW]
        partial = self._partial(scored)
        final = {o: (p, partial.get((row, o), d), d) for _, o, p, d in scored}
        review = [
            ReviewPair(rid, ids[o], p, AMBIGUOUS_REASON if d == LINK else "probability between thresholds")
            for o, (p, f, d) in final.items()
            if f == REVIEW and self.entity[o] != eid
        ]
        for other, ident in self.det.get(row, {}).items():
            return Decision(rid, eid, ident[0], 1.0, {"identifier": ident[1], "with": ids[other]}, review, changed, retired)
        for pair in self.must:
            if rid in pair and len(self.members_of[eid]) > 1:
                return Decision(rid, eid, "manual", 1.0, {}, review, changed, retired)
        links = [(p, o) for o, (p, f, _) in final.items() if f == LINK and self.entity[o] == eid]
        if links:
            p, other = max(links)
            evidence = self.explain(rid, ids[other])["probabilistic"]
            evidence["with"] = ids[other]
            return Decision(rid, eid, "probabilistic", p, evidence, review, changed, retired)
        if len(self.members_of[eid]) > 1:
            return Decision(rid, eid, "transitive", 1.0, {}, review, changed, retired)
        rival = max((p for o, (p, d) in self.edges.get(row).items()), default=0.0)
        return Decision(rid, eid, "new", round(1.0 - rival, 6), {}, review, changed, retired)

    # -- persistence -----------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """Everything needed to rebuild the index, JSON-ready (see the SQL tables in the docs)."""
        ids = self.table.record_ids
        rows = sorted(self.row_of.values())
        features = [_features_of(self.table, r) for r in rows]
        return {
            "version": 1,
            "config": _config_dict(self.config),
            "model": self.model.to_dict(),
            "records": [asdict(f) for f in features],
            "edges": [[ids[x], ids[y], p, d] for x, nb in self.edges.items() for y, (p, d) in nb.items() if x < y],
            "identifier_links": [[ids[x], ids[y], i[0], i[1]] for x, nb in self.det.items() for y, i in nb.items() if x < y],
            "entities": {ids[r]: self.entity[r] for r in rows},
            "retired": dict(self.retired),
            "must_link": sorted(sorted(p) for p in self.must),
            "cannot_link": sorted([x, y] for x, ys in self.cannot.items() for y in ys if x < y),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> IdentityIndex:
        """Inverse of :meth:`to_state` (no record is normalised or scored again)."""
        config = _config_from(state["config"])
        index = cls(MatchModel.from_dict(state["model"]), config)
        table = index.table
        with bulk():
            feats = [_features_from(d) for d in state["records"]]
            table.extend(feats)
            index.row_of = {f.record_id: i for i, f in enumerate(feats)}
            rows = np.arange(table.n)
            index.blocks = _Blocks(*_all_keys(table, rows))
            index.snm = SortedList(k for k in (snm_sort_key(table, r) for r in range(table.n)) if k is not None)
            for r in range(table.n):
                for ident in table.identifiers[r]:
                    index.carriers.setdefault(ident, set()).add(r)
            ro = index.row_of
            edges = state["edges"]
            index.edges = _Edges(
                table.n,
                [ro[e[0]] for e in edges],
                [ro[e[1]] for e in edges],
                [float(e[2]) for e in edges],
                [int(e[3]) for e in edges],
            )
            for a, b, kind, value in state["identifier_links"]:
                index.det.setdefault(ro[a], {})[ro[b]] = (kind, value)
                index.det.setdefault(ro[b], {})[ro[a]] = (kind, value)
            members: dict[str, list[int]] = {}
            for rid, eid in state["entities"].items():
                index.entity[ro[rid]] = eid
                members.setdefault(eid, []).append(ro[rid])
            index.members_of = {eid: tuple(sorted(rows)) for eid, rows in members.items()}
            index.retired = dict(state.get("retired", {}))
            index.must = {frozenset(p) for p in state.get("must_link", [])}
            for x, y in state.get("cannot_link", []):
                index.cannot.setdefault(x, set()).add(y)
                index.cannot.setdefault(y, set()).add(x)
        return index


def build_index(
    records: Iterable[Mapping[str, Any]], config: ResolverConfig | None = None, *, model: MatchModel | None = None
) -> IdentityIndex:
    """Resolve a batch and load it into an index (learning the model unless one is given)."""
    from hub.identity.resolver import _table_of

    config = config or ResolverConfig()
    with bulk():
        table = _table_of(records, config)
    return IdentityIndex.from_result(resolve_table(table, config, model=model), config)


def _all_keys(table: FeatureTable, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`row_keys` of ``rows``, kind by kind as the batch path keys them: all kinds at
    once would sort some twenty million keys of a million records in one go. Kinds occupy the
    top bits of a key in :data:`KINDS` order, so the parts laid end to end are sorted."""
    parts = [row_keys(table, rows, only=kind) for kind in KINDS]
    total = sum(len(k) for k, _ in parts)
    keys = np.empty(total, dtype=np.int64)
    owners = np.empty(total, dtype=np.result_type(*(o for _, o in parts)))
    at = 0
    while parts:
        k, o = parts.pop(0)
        keys[at : at + len(k)] = k
        owners[at : at + len(k)] = o
        at += len(k)
        del k, o
    return keys, owners


class _Taken:
    """Entity ids a new entity may not take: live ones (but those being re-assigned), retired."""

    def __init__(self, index: IdentityIndex, freed: set[str]) -> None:
        self.index, self.freed = index, freed

    def __contains__(self, eid: object) -> bool:
        return (eid in self.index.members_of and eid not in self.freed) or eid in self.index.retired


def _note_loss(changed: dict[str, list[str]], eid: str, before: set[str], index: IdentityIndex) -> None:
    """An entity that lost a record changed even if re-clustering found it as it was left."""
    now = index.resolve_id(eid)
    if now in index.members_of and set(index.members(now)) != before:
        changed.setdefault(now, index.members(now))


def _key(x: str, y: str) -> tuple[str, str]:
    return (x, y) if x <= y else (y, x)


def _features_of(table: FeatureTable, row: int) -> Features:
    f = Features(record_id=table.record_ids[row])
    for name in Features.__dataclass_fields__:
        if name in table.cols:
            setattr(f, name, table.value(name, row))
    f.identifiers = table.idents(row)
    return f


def _features_from(data: Mapping[str, Any]) -> Features:
    values = dict(data)
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return Features(**values)


def _config_dict(config: ResolverConfig) -> dict[str, Any]:
    out = asdict(config)
    for key, value in out.items():
        if isinstance(value, (frozenset, set, tuple)):
            out[key] = sorted(value) if isinstance(value, (frozenset, set)) else list(value)
    return out


def _config_from(data: Mapping[str, Any]) -> ResolverConfig:
    values = dict(data)
    for key in ("strong_schemes", "blocklist"):
        if key in values:
            values[key] = frozenset(values[key])
    if "priority" in values:
        values["priority"] = tuple(values["priority"])
    known = ResolverConfig.__dataclass_fields__
    return ResolverConfig(**{k: v for k, v in values.items() if k in known})

