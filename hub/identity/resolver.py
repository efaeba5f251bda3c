"""Batch identity resolution: records in, entities (clusters), links and a review queue out.

``resolve(records)`` normalises every record, generates candidate pairs from the blocking keys,
compares them, learns the match model from the data (or uses the one given), applies the
deterministic identifier graph and the probabilistic links, and clusters. Every link keeps why
it was made: :meth:`Result.explain` gives the identifier and rule, or the per-field weights.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hub.identity.blocking import candidate_pairs
from hub.identity.cluster import TIER_DETERMINISTIC, TIER_MANUAL, TIER_PROBABILISTIC, Edge, assign_ids, cluster
from hub.identity.columns import table_from_columns
from hub.identity.compare import GIVEN_CONFLICT, PERSONAL, PairLevels, compare
from hub.identity.config import ResolverConfig
from hub.identity.deterministic import DetLink, checked_pairs, groups_of, incompatible_pairs, link
from hub.identity.estimate import estimate
from hub.identity.features import Features, extract
from hub.identity.model import LINK, REVIEW, MatchModel
from hub.identity.partial import AMBIGUOUS_REASON, UNIQUE_REASON, decide
from hub.identity.table import FeatureTable, bulk

_CHUNK = 500_000
"""Pairs compared at once: a slice's temporaries cost some 200 bytes a pair."""


@dataclass(frozen=True, slots=True)
class Link:
    """Why two records are one entity.

    Attributes:
        a: Record id.
        b: Record id.
        rule: ``manual``, ``probabilistic``, or the identifier kind that linked them
            (``ref``, ``hub``, ``id:<scheme>``, ``email``, ``mobile``).
        probability: Match probability (1.0 for manual and deterministic links).
        value: The shared identifier value, for deterministic links.
    """

    a: str
    b: str
    rule: str
    probability: float
    value: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewPair:
    """A pair scored between the thresholds whose records ended in different entities."""

    a: str
    b: str
    probability: float
    reason: str


@dataclass
class Result:
    """What a batch run decided.

    Attributes:
        entity_of: Record id -> entity id.
        clusters: Entity id -> record ids (sorted).
        confidence: Record id -> confidence in its assignment: the strongest link tying it to
            its entity, or for a record alone, one minus the best probability it had of
            belonging elsewhere.
        review: Pairs for a person to decide.
        model: The match model used (learnt here unless one was given).
        retired: Previous entity ids absorbed into another -> the id that absorbed them.
        refused: Identifier values the deterministic guards refused, and why.
        stats: Counts and timings.
    """

    entity_of: dict[str, str]
    clusters: dict[str, list[str]]
    confidence: dict[str, float]
    review: list[ReviewPair]
    model: MatchModel
    retired: dict[str, str] = field(default_factory=dict)
    refused: dict[tuple[str, str], str] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    _table: FeatureTable | None = field(default=None, repr=False)
    _det: list[DetLink] = field(default_factory=list, repr=False)
    _pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _decided: np.ndarray | None = field(default=None, repr=False)
    """Per pair of ``_pairs``, the decision after :mod:`~hub.identity.partial` (``_pairs``
    keeps the scored one: the index re-decides partial pairs as records come and go)."""
    _manual: list[tuple[str, str]] = field(default_factory=list, repr=False)
    _root: np.ndarray | None = field(default=None, repr=False)
    """Per row, the smallest row of its entity."""

    def decided_rows(self) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(a rows, b rows, probability) of the probabilistic links holding an entity together
        and of the review pairs: what :meth:`links` (rule ``probabilistic``) and :attr:`review`
        hold, in the same order, as arrays of table rows rather than objects per pair."""
        if self._pairs is None or self._root is None:
            empty = np.zeros(0, np.int64)
            return (empty, empty, np.zeros(0)), (empty, empty, np.zeros(0))
        a, b, prob, decision = self._pairs
        decided = decision if self._decided is None else self._decided
        same = self._root[a] == self._root[b]
        link = np.flatnonzero((decided == LINK) & same)
        review = np.flatnonzero((decided == REVIEW) & ~same)
        return (a[link], b[link], prob[link]), (a[review], b[review], prob[review])

    def links(self) -> list[Link]:
        """Every link that holds an entity together (deterministic, manual, probabilistic)."""
        out: list[Link] = [Link(a, b, "manual", 1.0) for a, b in self._manual]
        ids = self._table.record_ids if self._table else []
        out.extend(Link(ids[d.a], ids[d.b], d.ident[0], 1.0, d.ident[1]) for d in self._det)
        if self._pairs is not None:
            a, b, prob, decision = self._pairs
            decided = decision if self._decided is None else self._decided
            for i in np.flatnonzero(decided == LINK).tolist():
                ra, rb = ids[int(a[i])], ids[int(b[i])]
                if self.entity_of[ra] == self.entity_of[rb]:
                    out.append(Link(ra, rb, "probabilistic", float(prob[i])))
        return out

    def explain(self, a: str, b: str) -> dict[str, Any]:
        """Why records ``a`` and ``b`` are (or are not) one entity: rule or per-field weights."""
        if self._table is None:
            raise ValueError("this result keeps no features to explain with")
        rows = {rid: i for i, rid in enumerate(self._table.record_ids)}
        ra, rb = rows[a], rows[b]
        out: dict[str, Any] = {"a": a, "b": b, "same_entity": self.entity_of[a] == self.entity_of[b]}
        det = [d for d in self._det if {d.a, d.b} == {ra, rb}]
        if det:
            out["deterministic"] = {"rule": det[0].ident[0], "value": det[0].ident[1]}
        if (a, b) in self._manual or (b, a) in self._manual:
            out["manual"] = "merged by a person"
        pl = compare(self._table, np.array([ra]), np.array([rb]))
        out["probabilistic"] = self.model.explain(self._table, pl, 0)
        if self._pairs is not None and self._decided is not None:
            pa, pb, _, decision = self._pairs
            hit = np.flatnonzero(((pa == ra) & (pb == rb)) | ((pa == rb) & (pb == ra)))
            if len(hit) and self._decided[hit[0]] != decision[hit[0]]:
                out["probabilistic"]["partial"] = UNIQUE_REASON if self._decided[hit[0]] == LINK else AMBIGUOUS_REASON
        return out


def _table_of(records: Iterable[Mapping[str, Any]], config: ResolverConfig) -> FeatureTable:
    table = FeatureTable()
    seen: set[str] = set()
    batch: list[Features] = []
    for record in records:
        feats = extract(record, config)
        if feats.record_id in seen:
            raise ValueError(f"record {feats.record_id!r} appears twice; ids must be unique")
        seen.add(feats.record_id)
        batch.append(feats)
        if len(batch) >= 65536:
            table.extend(batch)
            batch.clear()
    table.extend(batch)
    table.compact()
    return table


def compare_chunked(table: FeatureTable, a: np.ndarray, b: np.ndarray) -> PairLevels:
    """:func:`compare` in slices written into arrays allocated once, so that on millions of
    pairs neither its temporaries nor a concatenation of the slices doubles the memory."""
    if len(a) <= _CHUNK:
        return compare(table, a, b)
    total = len(a)
    out: PairLevels | None = None
    for i in range(0, total, _CHUNK):
        part = compare(table, a[i : i + _CHUNK], b[i : i + _CHUNK])
        if out is None:
            out = PairLevels(
                levels=np.empty((part.levels.shape[0], total), dtype=part.levels.dtype),
                tf_codes={k: np.empty(total, dtype=v.dtype) for k, v in part.tf_codes.items()},
                flags=np.empty(total, dtype=part.flags.dtype),
            )
        j = i + len(part.flags)
        out.levels[:, i:j] = part.levels
        for k, v in part.tf_codes.items():
            out.tf_codes[k][i:j] = v
        out.flags[i:j] = part.flags
        del part
    assert out is not None
    return out


def resolve(
    records: Iterable[Mapping[str, Any]],
    config: ResolverConfig | None = None,
    *,
    model: MatchModel | None = None,
    previous: Mapping[str, str] | None = None,
    must_link: Sequence[tuple[str, str]] = (),
    cannot_link: Sequence[tuple[str, str]] = (),
) -> Result:
    """Resolve a batch of person records into entities.

    Args:
        records: Canonical Person dicts with ``source`` and ``source_id`` (see
            :mod:`hub.identity.features` for the keys understood).
        config: Thresholds, blocking and guard settings.
        model: Use these parameters instead of learning them from ``records``.
        previous: Record id -> entity id from an earlier run: ids are kept where the entity
            still exists, so entity ids are stable across runs.
        must_link: Record id pairs a person merged.
        cannot_link: Record id pairs a person split apart; no link may join them.

    Returns:
        The :class:`Result`.
    """
    config = config or ResolverConfig()
    t0 = time.perf_counter()
    with bulk():
        table = _table_of(records, config)
    return resolve_table(
        table, config, model=model, previous=previous, must_link=must_link, cannot_link=cannot_link, started=t0
    )


def resolve_columns(
    columns: Mapping[str, Sequence[Any]] | Iterable[Mapping[str, Sequence[Any]]],
    config: ResolverConfig | None = None,
    *,
    model: MatchModel | None = None,
    previous: Mapping[str, str] | None = None,
    must_link: Sequence[tuple[str, str]] = (),
    cannot_link: Sequence[tuple[str, str]] = (),
) -> Result:
    """:func:`resolve` for flat columns (see :mod:`hub.identity.columns`): the fast path for
    files and frames, normalising each distinct value once. ``columns`` may be one mapping or
    an iterable of batches, so a big file never sits in memory as Python objects."""
    config = config or ResolverConfig()
    t0 = time.perf_counter()
    with bulk():
        table = table_from_columns(columns, config)
    return resolve_table(
        table, config, model=model, previous=previous, must_link=must_link, cannot_link=cannot_link, started=t0
    )


def resolve_table(
    table: FeatureTable,
    config: ResolverConfig,
    *,
    model: MatchModel | None = None,
    previous: Mapping[str, str] | None = None,
    must_link: Sequence[tuple[str, str]] = (),
    cannot_link: Sequence[tuple[str, str]] = (),
    started: float | None = None,
) -> Result:
    """Resolve the records already in ``table`` (the core of :func:`resolve`)."""
    with bulk():
        return _resolve_table(table, config, model, previous, must_link, cannot_link, started)


def _resolve_table(
    table: FeatureTable,
    config: ResolverConfig,
    model: MatchModel | None,
    previous: Mapping[str, str] | None,
    must_link: Sequence[tuple[str, str]],
    cannot_link: Sequence[tuple[str, str]],
    started: float | None,
) -> Result:
    t0 = started if started is not None else time.perf_counter()
    t_extract = time.perf_counter()
    a, b, by_kind = candidate_pairs(table, config.max_block, config.window, config.max_name_block)
    t_block = time.perf_counter()
    pl = compare_chunked(table, a, b)
    t_compare = time.perf_counter()
    learnt = model is None
    if model is None:
        model = estimate(table, pl, by_kind, config)
    del by_kind
    t_model = time.perf_counter()
    prob, decision = model.score(table, pl, config.high, config.low)
    guarded = ((pl.flags & GIVEN_CONFLICT) != 0) & ((pl.flags & PERSONAL) == 0)
    decided = decide(table, a, b, prob, decision, pl.flags, config.high) if config.link_partial else decision
    del pl

    groups = groups_of(table, range(table.n))
    bad = incompatible_pairs(table, checked_pairs(groups, config))
    det, refused = link(groups, config, lambda x, y: (x, y) in bad)

    ids = table.record_ids
    # record id -> row only for the manual decisions: at a million records the map alone
    # costs some 100 MB
    rows = {rid: i for i, rid in enumerate(ids)} if (must_link or cannot_link) else {}
    manual = [(x, y) for x, y in must_link if x in rows and y in rows]
    cannot: dict[int, set[int]] = {}
    for x, y in cannot_link:
        if x in rows and y in rows:
            cannot.setdefault(rows[x], set()).add(rows[y])
            cannot.setdefault(rows[y], set()).add(rows[x])
    linked = np.flatnonzero(decided == LINK)
    if cannot:
        edges = [Edge(rows[x], rows[y], TIER_MANUAL, 1.0, tuple(sorted((x, y)))) for x, y in manual]  # type: ignore[arg-type]
        edges += [Edge(d.a, d.b, TIER_DETERMINISTIC, 1.0, tuple(sorted((ids[d.a], ids[d.b])))) for d in det]  # type: ignore[misc]
        edges += [
            Edge(int(a[i]), int(b[i]), TIER_PROBABILISTIC, float(prob[i]), tuple(sorted((ids[int(a[i])], ids[int(b[i])]))))  # type: ignore[misc]
            for i in linked.tolist()
        ]
        uf, _ = cluster(range(table.n), edges, cannot)
        # the smallest row of each component stands for it, as :func:`_components` gives
        found = uf.groups()
        smallest = {r: min(m) for r, m in found.items()}
        root = np.fromiter((smallest[uf.find(r)] for r in range(table.n)), dtype=np.int64, count=table.n)
    else:
        pairs = [(rows[x], rows[y]) for x, y in manual] + [(d.a, d.b) for d in det]
        root = _components(table.n, pairs, a[linked], b[linked])

    comps = _members(root, ids)
    eids, retired = assign_ids(comps, previous or {}, set())
    entity_of = {rid: eid for eid, comp in zip(eids, comps) for rid in comp}
    clusters = dict(zip(eids, comps))
    del comps

    same = root[a] == root[b]
    confidence = _confidence(table.n, a, b, prob, decided, guarded, same, root, det, manual, rows, ids)
    review = [
        ReviewPair(ids[int(a[i])], ids[int(b[i])], float(prob[i]), _review_reason(float(prob[i]), int(decision[i]), config))
        for i in np.flatnonzero((decided == REVIEW) & ~same).tolist()
    ]
    t_end = time.perf_counter()
    stats = {
        "records": table.n,
        "candidate_pairs": int(len(a)),
        "links_probabilistic": int(len(linked)),
        "links_partial": int(((decided == LINK) & (decision != LINK)).sum()),
        "held_partial": int(((decided == REVIEW) & (decision == LINK)).sum()),
        "links_deterministic": len(det),
        "entities": len(clusters),
        "review": len(review),
        "model_learnt": learnt,
        "seconds": {
            "extract": round(t_extract - t0, 3),
            "block": round(t_block - t_extract, 3),
            "compare": round(t_compare - t_block, 3),
            "estimate": round(t_model - t_compare, 3),
            "link_cluster": round(t_end - t_model, 3),
        },
    }
    return Result(
        entity_of=entity_of,
        clusters=clusters,
        confidence=confidence,
        review=review,
        model=model,
        retired=retired,
        refused=refused,
        stats=stats,
        _table=table,
        _det=det,
        _pairs=(a, b, prob, decision),
        _decided=decided if config.link_partial else None,
        _manual=manual,
        _root=root,
    )


def _review_reason(prob: float, scored: int, config: ResolverConfig) -> str:
    """Why a pair left apart is worth a person's look."""
    if scored == LINK:
        return AMBIGUOUS_REASON
    if prob < config.high:
        return "probability between thresholds"
    return "given names differ or one is missing: a guard holds the pair back"


def _components(n: int, pairs: list[tuple[int, int]], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components over rows 0..n-1 (no constraints): per row, the smallest row of
    its component.

    Array union-find: every root is hooked under the smallest root it shares an edge with,
    then pointers are jumped until each row points at a root; repeated until every edge lies
    within one component. A label only ever points to a smaller row, so no cycle forms.
    """
    x = np.concatenate([np.fromiter((p[0] for p in pairs), np.int64, len(pairs)), np.asarray(a, dtype=np.int64)])
    y = np.concatenate([np.fromiter((p[1] for p in pairs), np.int64, len(pairs)), np.asarray(b, dtype=np.int64)])
    label = np.arange(n, dtype=np.int64)
    while len(x):
        lx, ly = label[x], label[y]
        apart = lx != ly
        if not apart.any():
            break
        x, y, lx, ly = x[apart], y[apart], lx[apart], ly[apart]
        low = np.minimum(lx, ly)
        np.minimum.at(label, lx, low)
        np.minimum.at(label, ly, low)
        while True:
            up = label[label]
            if np.array_equal(up, label):
                break
            label = up
    return label


def _members(root: np.ndarray, ids: Sequence[str]) -> list[list[str]]:
    """Record ids per component (each sorted), components in order of their smallest row."""
    if not len(root):
        return []
    order = np.argsort(root, kind="stable")
    ranked = root[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]]).tolist()
    del ranked
    in_order = [ids[r] for r in order.tolist()]
    del order
    comps = [in_order[s:e] for s, e in zip(starts, [*starts[1:], len(in_order)])]
    for comp in comps:
        if len(comp) > 1:
            comp.sort()
    return comps


def _confidence(
    n: int,
    a: np.ndarray,
    b: np.ndarray,
    prob: np.ndarray,
    decision: np.ndarray,
    guarded: np.ndarray,
    same: np.ndarray,
    root: np.ndarray,
    det: list[DetLink],
    manual: list[tuple[str, str]],
    rows: Mapping[str, int],
    ids: Sequence[str],
) -> dict[str, float]:
    tie = np.zeros(n)  # strongest link into its own entity
    rival = np.zeros(n)  # best probability of belonging to another entity
    for d in det:
        tie[d.a] = tie[d.b] = 1.0
    for x, y in manual:
        tie[rows[x]] = tie[rows[y]] = 1.0
    # pairs outside a mask count as probability 0, which never raises a maximum from 0: no
    # index arrays of millions of pairs are made
    _max_into(tie, a, b, np.where(same & (decision == LINK), prob, 0.0))
    _max_into(rival, a, b, np.where(~same & ~(guarded & (decision == 0)) & (prob > 1e-9), prob, 0.0))
    single = np.bincount(root, minlength=n)[root] == 1
    value = np.round(np.where(single, 1.0 - rival, tie), 6)
    # one float object per distinct value (most are 1.0), not one per record
    distinct, at = np.unique(value, return_inverse=True)
    floats = distinct.tolist()
    return dict(zip(ids, map(floats.__getitem__, at.reshape(-1).tolist())))


def _max_into(target: np.ndarray, a: np.ndarray, b: np.ndarray, values: np.ndarray) -> None:
    """``target[x] = max(target[x], value)`` for both rows ``x`` of every pair."""
    np.maximum.at(target, a, values)
    np.maximum.at(target, b, values)
