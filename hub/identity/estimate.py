"""Learning a :class:`MatchModel` from the data itself, without labels.

* ``u`` (how often non-matches agree) from random pairs: almost every random pair is a
  non-match, so their level frequencies are ``u`` (Splink's ``estimate_u_using_random_sampling``).
* ``m`` (how often matches agree) by expectation-maximisation on the candidate pairs, one
  session per blocking kind with the comparisons that kind forces to agree left out (pairs
  blocked on the surname say nothing about how often matches share a surname); each
  comparison's ``m`` is the mean over the sessions that estimated it.
* term frequencies by counting values;
* the prior by a fixed point over all candidate pairs: the expected number of matches among
  them, over the number of all pairs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

import numpy as np

from hub.identity.blocking import IMPLIES, KINDS, SNM
from hub.identity.compare import (
    COMPARISONS,
    GIVEN_CONFLICT,
    GIVEN_MISSING,
    LEVELS,
    PERSONAL,
    TF_COMPARISONS,
    PairLevels,
    compare,
)
from hub.identity.config import ResolverConfig
from hub.identity.model import TF_VOCAB, MatchModel, default_m
from hub.identity.table import FeatureTable

_MIN_SESSION_PAIRS = 30
_EM_TOL = 1e-6
_WEIGH_SLICE = 1 << 20


def estimate_u(table: FeatureTable, config: ResolverConfig) -> dict[str, list[float]]:
    """``u`` per comparison and level from random pairs of live rows."""
    rows = np.flatnonzero(table.alive[: table.n])
    n = len(rows)
    u: dict[str, list[float]] = {}
    if n < 2:
        return {c: [0.0] + [1.0 / (len(LEVELS[c]) - 1)] * (len(LEVELS[c]) - 1) for c in COMPARISONS}
    total = n * (n - 1) // 2
    rng = np.random.default_rng(config.seed)
    if total <= config.u_sample_pairs:
        i, j = np.triu_indices(n, k=1)
    else:
        i = rng.integers(0, n, size=config.u_sample_pairs)
        j = rng.integers(0, n, size=config.u_sample_pairs)
        keep = i != j
        i, j = i[keep], j[keep]
    levels = compare(table, rows[i], rows[j]).levels
    for c, comp in enumerate(COMPARISONS):
        k = len(LEVELS[comp])
        counts = np.bincount(levels[c], minlength=k).astype(np.float64)
        known = counts[1:].sum()
        # a level never seen among the samples is rare, not impossible: half a count
        probs = np.maximum(counts[1:], 0.5) / max(known, 1.0)
        u[comp] = [0.0, *(probs / probs.sum()).tolist()]
    return u


def _patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct columns of a (comparisons, pairs) level matrix and how often each occurs."""
    if levels.shape[1] == 0:
        return levels, np.zeros(0)
    base = 8
    key = np.zeros(levels.shape[1], dtype=np.int64)
    for row in levels:
        key = key * base + row.astype(np.int64)
    uniq, first, counts = np.unique(key, return_index=True, return_counts=True)
    return levels[:, first], counts.astype(np.float64)


def _em(
    levels: np.ndarray, counts: np.ndarray, comps: list[int], u: dict[str, list[float]], m0: dict[str, list[float]], iterations: int = 200
) -> tuple[dict[str, list[float]], float, int]:
    """EM over distinct patterns for the comparisons ``comps``, ``u`` held fixed."""
    names = [COMPARISONS[c] for c in comps]
    m = {name: np.asarray(m0[name], dtype=np.float64) for name in names}
    logu = np.zeros(levels.shape[1])
    for c, name in zip(comps, names):
        uu = np.log(np.maximum(np.asarray(u[name]), 1e-12))
        uu[0] = 0.0
        logu += uu[levels[c]]
    lam = 0.1
    it = 0
    for it in range(1, iterations + 1):
        logm = np.zeros(levels.shape[1])
        for c, name in zip(comps, names):
            mm = np.log(np.maximum(m[name], 1e-12))
            mm[0] = 0.0
            logm += mm[levels[c]]
        a = math.log(lam) + logm
        b = math.log1p(-lam) + logu
        post = 1.0 / (1.0 + np.exp(np.clip(b - a, -700, 700)))
        weighted = post * counts
        new_lam = float(weighted.sum() / counts.sum())
        delta = abs(new_lam - lam)
        lam = min(max(new_lam, 1e-9), 1 - 1e-9)
        for c, name in zip(comps, names):
            k = len(LEVELS[name])
            sums = np.bincount(levels[c], weights=weighted, minlength=k)
            known = sums[1:].sum()
            if known <= 0:
                continue
            new = np.maximum(sums[1:] / known, 1e-6)
            new /= new.sum()
            delta = max(delta, float(np.abs(new - m[name][1:]).max()))
            m[name] = np.r_[0.0, new]
        if delta < _EM_TOL:
            break
    return {name: m[name].tolist() for name in names}, lam, it


def estimate_m(
    levels: np.ndarray,
    by_kind: Mapping[str, np.ndarray],
    u: dict[str, list[float]],
    config: ResolverConfig,
    flags: np.ndarray | None = None,
) -> tuple[dict[str, list[float]], dict[str, dict[str, float]]]:
    """``m`` by one EM session per blocking kind, averaged per comparison.

    Pairs the guards settle anyway — different or missing given names with nothing personal
    agreeing — are left out: in data full of households, EM would otherwise learn "same
    household" as its match class (same surname and address, any given name).
    """
    rng = np.random.default_rng(config.seed)
    settled = None
    if flags is not None:
        settled = ((flags & (GIVEN_CONFLICT | GIVEN_MISSING)) != 0) & ((flags & PERSONAL) == 0)
    start = {c: default_m(len(LEVELS[c])) for c in COMPARISONS}
    found: dict[str, list[np.ndarray]] = {c: [] for c in COMPARISONS}
    sessions: dict[str, dict[str, float]] = {}
    for kind in (*KINDS, SNM):
        idx = by_kind.get(kind)
        if idx is not None and settled is not None:
            idx = idx[~settled[idx]]
        if idx is None or len(idx) < _MIN_SESSION_PAIRS:
            continue
        if len(idx) > config.em_max_pairs:
            idx = np.sort(rng.choice(idx, size=config.em_max_pairs, replace=False))
        comps = [c for c, name in enumerate(COMPARISONS) if name not in IMPLIES.get(kind, ())]
        # a comparison that is null on nearly every pair of the session teaches nothing
        comps = [c for c in comps if (levels[c, idx] != 0).mean() > 0.01]
        if len(comps) < 2:
            continue  # one comparison alone cannot tell matches from non-matches
        pats, counts = _patterns(levels[:, idx])
        m, lam, its = _em(pats, counts, comps, u, start)
        sessions[kind] = {"pairs": float(len(idx)), "iterations": float(its), "match_share": lam}
        for name, vec in m.items():
            found[name].append(np.asarray(vec))
    out: dict[str, list[float]] = {}
    for comp in COMPARISONS:
        vecs = found[comp]
        if vecs:
            mean = np.mean(vecs, axis=0)
            mean[1:] /= mean[1:].sum()
            out[comp] = mean.tolist()
        else:
            out[comp] = start[comp]
    return out, sessions


def term_frequencies(table: FeatureTable) -> dict[str, dict[str, float]]:
    """Comparison -> value -> share of live records holding it (values held at least twice)."""
    alive = table.alive[: table.n]
    n = max(int(alive.sum()), 1)
    out: dict[str, dict[str, float]] = {}
    for comp in TF_COMPARISONS:
        vocab = table.vocabs[TF_VOCAB[comp]]
        cols = [comp] if comp not in ("family", "given") else [comp, comp + "_kana", comp + "_roma"]
        counts: Counter[int] = Counter()
        seen: np.ndarray | None = None
        for col in cols:
            codes = table.col(col)[alive]
            if seen is not None:
                codes = np.where(np.any(seen == codes[:, None], axis=1), 0, codes)
            counts.update(dict(zip(*np.unique(codes[codes != 0], return_counts=True))))
            seen = codes[:, None] if seen is None else np.c_[seen, codes]
        out[comp] = {vocab.strings[int(code)]: float(c) / n for code, c in counts.items() if c >= 2}
    return out


def estimate_prior(weights_no_prior: np.ndarray, n_records: int, iterations: int = 100) -> float:
    """The prior as the fixed point: expected matches among candidates / all pairs."""
    total = max(n_records * (n_records - 1) / 2, 1.0)
    w = np.asarray(weights_no_prior, dtype=np.float64)
    lam = min(max(n_records / total, 1e-12), 0.5)
    # one buffer for the whole iteration: on millions of pairs each temporary is another array
    p = np.empty_like(w)
    for _ in range(iterations):
        np.add(w, math.log2(lam / (1 - lam)), out=p)
        np.clip(p, -200, 200, out=p)
        np.negative(p, out=p)
        np.exp2(p, out=p)
        p += 1.0
        np.divide(1.0, p, out=p)
        expected = float(p.sum())
        new = min(max(expected / total, 1e-15), 0.5)
        if abs(new - lam) <= 1e-6 * lam:
            lam = new
            break
        lam = new
    return lam


def estimate(table: FeatureTable, pairs: PairLevels, by_kind: Mapping[str, np.ndarray], config: ResolverConfig) -> MatchModel:
    """Learn a model from a table and its scored candidate pairs."""
    n = int(table.alive[: table.n].sum())
    u = estimate_u(table, config)
    m, sessions = estimate_m(pairs.levels, by_kind, u, config, pairs.flags)
    model = MatchModel(m=m, u=u, prior=0.5, tf=term_frequencies(table), n_records=n, sessions=sessions)
    weights = model.level_weights()
    total = np.zeros(pairs.levels.shape[1])
    # in slices: a temporary of every pair's weight would be another array of millions
    for i in range(0, len(total), _WEIGH_SLICE):
        part = total[i : i + _WEIGH_SLICE]
        for c, comp in enumerate(COMPARISONS):
            part += weights[comp][pairs.levels[c, i : i + _WEIGH_SLICE]]
    model.prior = estimate_prior(total, n)
    return model
