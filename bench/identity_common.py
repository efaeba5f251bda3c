"""Shared helpers of the identity benchmarks: metrics, FEBRL-style record mapping, timing.

Pairwise precision, recall and F1 count every true pair, including those blocking never
produced; predicted pairs are all pairs inside a predicted cluster (transitive closure).
"""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _pair_keys(labels: np.ndarray, groups: np.ndarray, side: np.ndarray | None) -> np.ndarray:
    """All pairs (i < j) of items sharing a group label, as int64 keys i * n + j."""
    n = len(labels)
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sizes = np.diff(np.r_[starts, n])
    end = np.repeat(starts + sizes, sizes)
    pos = np.arange(n)
    keys: list[np.ndarray] = []
    d = 1
    live = pos[sizes.repeat(sizes) > 1]
    while len(live):
        live = live[live + d < end[live]]
        i, j = order[live], order[live + d]
        if side is not None:
            keep = side[i] != side[j]
            i, j = i[keep], j[keep]
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        keys.append(lo.astype(np.int64) * n + hi)
        d += 1
    return np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)


def pairwise(truth: Sequence[Any], predicted: Sequence[Any], side: Sequence[Any] | None = None) -> dict[str, float]:
    """Pairwise precision/recall/F1 of a clustering against the true one.

    Args:
        truth: Per item, its true entity label.
        predicted: Per item, its predicted entity label.
        side: Per item, its dataset: when given, only pairs across datasets count (linkage).
    """
    t = np.unique(np.asarray(truth, dtype=object).astype(str), return_inverse=True)[1]
    p = np.unique(np.asarray(predicted, dtype=object).astype(str), return_inverse=True)[1]
    s = None if side is None else np.unique(np.asarray(side, dtype=object).astype(str), return_inverse=True)[1]
    true_pairs = _pair_keys(np.arange(len(t)), t, s)
    pred_pairs = _pair_keys(np.arange(len(p)), p, s)
    tp = int(np.isin(pred_pairs, true_pairs, assume_unique=True).sum())
    precision = tp / len(pred_pairs) if len(pred_pairs) else 1.0
    recall = tp / len(true_pairs) if len(true_pairs) else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "true_pairs": int(len(true_pairs)),
        "predicted_pairs": int(len(pred_pairs)),
    }


def exact_clusters(truth: Sequence[Any], predicted: Sequence[Any]) -> dict[str, float]:
    """Share of true clusters reproduced exactly (recall) and of predicted ones that are exact."""
    true_sets: dict[Any, set[int]] = {}
    pred_sets: dict[Any, set[int]] = {}
    for i, (t, p) in enumerate(zip(truth, predicted)):
        true_sets.setdefault(t, set()).add(i)
        pred_sets.setdefault(p, set()).add(i)
    true_frozen = {frozenset(v) for v in true_sets.values()}
    hits = sum(1 for v in pred_sets.values() if frozenset(v) in true_frozen)
    precision = hits / len(pred_sets)
    recall = hits / len(true_sets)
    return {"precision": round(precision, 5), "recall": round(recall, 5), "f1": round(2 * precision * recall / (precision + recall), 5)}


def febrl_record(source: str, source_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A FEBRL-style row as a canonical Person record (with birth date and a national id)."""

    def g(key: str) -> str | None:
        v = row.get(key)
        if v is None or (isinstance(v, float) and v != v):
            return None
        v = str(v).strip()
        return v or None

    street = " ".join(x for x in (g("street_number"), g("address_1")) if x) or None
    ssn = g("soc_sec_id")
    return {
        "source": source,
        "source_id": source_id,
        "given_name": g("given_name"),
        "family_name": g("surname"),
        "addresses": [
            {
                "street": street,
                "building": g("address_2"),
                "locality": g("suburb"),
                "postal_code": g("postcode"),
                "region": g("state"),
                "country": "AU",
            }
        ],
        "birth_date": g("date_of_birth"),
        "identifiers": [{"scheme": "ssn", "value": ssn}] if ssn else [],
    }


def emit(result: Mapping[str, Any]) -> None:
    """Print the benchmark's one JSON line."""
    print(json.dumps(result, sort_keys=False), flush=True)


def records_from_frame(source: str, frame: Any, id_col: str | None = None) -> Iterable[dict[str, Any]]:
    """FEBRL-style records from a pandas frame (index or ``id_col`` as source id)."""
    cols = list(frame.columns)
    ids = frame[id_col].astype(str).tolist() if id_col else [str(i) for i in frame.index]
    for rid, values in zip(ids, frame.itertuples(index=False, name=None)):
        yield febrl_record(source, rid, dict(zip(cols, values)))
