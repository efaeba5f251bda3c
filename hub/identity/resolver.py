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

_CHUNK = 2_000_000


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
    return table


def compare_chunked(table: FeatureTable, a: np.ndarray, b: np.ndarray) -> PairLevels:
    """:func:`compare` in slices, so that its temporaries stay small on millions of pairs."""
    if len(a) <= _CHUNK:
        return compare(table, a, b)
    parts = [compare(table, a[i : i + _CHUNK], b[i : i + _CHUNK]) for i in range(0, len(a), _CHUNK)]
    return PairLevels(
        levels=np.concatenate([p.levels for p in parts], axis=1),
        tf_codes={k: np.concatenate([p.tf_codes[k] for p in parts]) for k in parts[0].tf_codes},
        flags=np.concatenate([p.flags for p in parts]),
    )


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
    t_model = time.perf_counter()
    prob, decision = model.score(table, pl, config.high, config.low)
    guarded = ((pl.flags & GIVEN_CONFLICT) != 0) & ((pl.flags & PERSONAL) == 0)
    decided = decide(table, a, b, prob, decision, pl.flags, config.high) if config.link_partial else decision
    del pl

    groups = groups_of(table, range(table.n))
    bad = incompatible_pairs(table, checked_pairs(groups, config))
    det, refused = link(groups, config, lambda x, y: (x, y) in bad)

    rows = {rid: i for i, rid in enumerate(table.record_ids)}
    ids = table.record_ids
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
        root = [uf.find(r) for r in range(table.n)]
    else:
        root = _components(table.n, [(rows[x], rows[y]) for x, y in manual] + [(d.a, d.b) for d in det], a[linked], b[linked])

    members: dict[int, list[str]] = {}
    for r in range(table.n):
        members.setdefault(root[r], []).append(ids[r])
    comps = [sorted(m) for m in members.values()]
    eids, retired = assign_ids(comps, previous or {}, set())
    entity_of = {rid: eid for eid, comp in zip(eids, comps) for rid in comp}
    clusters = dict(zip(eids, comps))

    root_arr = np.asarray(root, dtype=np.int64)
    same = root_arr[a] == root_arr[b]
    confidence = _confidence(table.n, a, b, prob, decided, guarded, same, root, det, manual, rows)
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
    )


def _review_reason(prob: float, scored: int, config: ResolverConfig) -> str:
    """Why a pair left apart is worth a person's look."""
    if scored == LINK:
        return AMBIGUOUS_REASON
    if prob < config.high:
        return "probability between thresholds"
    return "given names differ or one is missing: a guard holds the pair back"


def _components(n: int, pairs: list[tuple[int, int]], a: np.ndarray, b: np.ndarray) -> list[int]:
    """Connected components over rows 0..n-1 (plain union-find on a list: no constraints)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in [*pairs, *zip(a.tolist(), b.tolist())]:
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    return [find(x) for x in range(n)]


def _confidence(
    n: int,
    a: np.ndarray,
    b: np.ndarray,
    prob: np.ndarray,
    decision: np.ndarray,
    guarded: np.ndarray,
    same: np.ndarray,
    root: list[int],
    det: list[DetLink],
    manual: list[tuple[str, str]],
    rows: Mapping[str, int],
) -> dict[str, float]:
    tie = np.zeros(n)  # strongest link into its own entity
    rival = np.zeros(n)  # best probability of belonging to another entity
    for d in det:
        tie[d.a] = tie[d.b] = 1.0
    for x, y in manual:
        tie[rows[x]] = tie[rows[y]] = 1.0
    own = np.flatnonzero(same & (decision == LINK))
    _max_into(tie, a[own], prob[own])
    _max_into(tie, b[own], prob[own])
    other = np.flatnonzero(~same & ~(guarded & (decision == 0)) & (prob > 1e-9))
    _max_into(rival, a[other], prob[other])
    _max_into(rival, b[other], prob[other])
    root_arr = np.asarray(root, dtype=np.int64)
    single = np.bincount(root_arr, minlength=n)[root_arr] == 1
    value = np.where(single, 1.0 - rival, tie)
    return dict(zip(rows, np.round(value, 6).tolist()))


def _max_into(target: np.ndarray, idx: np.ndarray, values: np.ndarray) -> None:
    """``target[idx] = max(target[idx], values)`` with repeated indices (faster than ufunc.at)."""
    if len(idx) == 0:
        return
    order = np.lexsort((values, idx))
    idx, values = idx[order], values[order]
    last = np.r_[idx[1:] != idx[:-1], True]
    target[idx[last]] = np.maximum(target[idx[last]], values[last])
