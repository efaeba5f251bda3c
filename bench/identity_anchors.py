"""The anchors the identity benchmarks compare against, run in the same process and data.

* Splink 5 on DuckDB: random-sampling u, EM on blocked pairs, term-frequency adjustment on
  names; predictions clustered at a threshold.
* recordlinkage with its ECM classifier (unsupervised) on binary comparison vectors.

Both take pandas frames with the benchmark's own columns and a ``uid`` column, and return a
predicted entity label per row (for the pairwise metrics of :mod:`identity_common`). They are
benchmark-only dependencies (the ``bench`` extra).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
logging.getLogger("splink").setLevel(logging.ERROR)


def _labels(uids: Sequence[str], pairs: list[tuple[str, str]]) -> list[str]:
    """Connected components of ``pairs`` as one label per uid."""
    parent = {u: u for u in uids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(u) for u in uids]


def splink_run(
    frames: list[pd.DataFrame],
    link_type: str,
    comparisons: list[Any],
    blocking: list[Any],
    em_blocking: list[Any],
    thresholds: Sequence[float],
) -> dict[str, Any]:
    """Train and predict with Splink; returns labels per threshold and timing.

    Every frame must have a ``uid`` column (unique across frames).
    """
    from splink import DuckDBAPI, Linker, SettingsCreator

    t0 = time.perf_counter()
    db = DuckDBAPI()
    sdfs = [db.register(f, dataset_display_name=f"d{i}") for i, f in enumerate(frames)]
    settings = SettingsCreator(
        link_type=link_type,
        unique_id_column_name="uid",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(sdfs if len(sdfs) > 1 else sdfs[0], settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(blocking[:2], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
    for rule in em_blocking:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=min(thresholds) * 0.5)
    edges = predictions.as_pandas_dataframe()[["uid_l", "uid_r", "match_probability"]]
    uids = [str(u) for f in frames for u in f["uid"]]
    out: dict[str, Any] = {"seconds": round(time.perf_counter() - t0, 2), "labels": {}}
    for t in thresholds:
        sel = edges[edges["match_probability"] >= t]
        out["labels"][t] = _labels(uids, list(zip(sel["uid_l"].astype(str), sel["uid_r"].astype(str))))
    out["linker"] = linker
    out["edges"] = edges
    return out


def ecm_run(
    frames: list[pd.DataFrame], blocks: list[list[str]], strings: list[str], exacts: list[str], thresholds: Sequence[float]
) -> dict[str, Any]:
    """recordlinkage: union of blocking indexes, binary comparisons, ECM; labels per threshold."""
    import recordlinkage as rl

    t0 = time.perf_counter()
    frames = [f.set_index("uid") for f in frames]
    indexer = rl.Index()
    for cols in blocks:
        indexer.block(left_on=cols, right_on=cols)
    pairs = indexer.index(*frames)
    cmp = rl.Compare(n_jobs=1)
    for col in strings:
        cmp.string(col, col, method="jarowinkler", threshold=0.85, label=col)
    for col in exacts:
        cmp.exact(col, col, label=col)
    features = cmp.compute(pairs, *frames)
    ecm = rl.ECMClassifier(binarize=None)
    ecm.fit(features)
    prob = ecm.prob(features)
    uids = [str(u) for f in frames for u in f.index]
    out: dict[str, Any] = {"seconds": round(time.perf_counter() - t0, 2), "labels": {}, "pairs": int(len(pairs))}
    for t in thresholds:
        sel = prob[prob >= t].index
        out["labels"][t] = _labels(uids, [(str(a), str(b)) for a, b in sel])
    return out


def best_threshold(edges: pd.DataFrame, uids: list[str], score: Any, grid: Sequence[float]) -> tuple[float, dict[str, Any]]:
    """The threshold (from ``grid``) with the best F1 by ``score(labels)``, and its metrics."""
    best: tuple[float, dict[str, Any]] | None = None
    for t in grid:
        sel = edges[edges["match_probability"] >= t]
        metrics = score(_labels(uids, list(zip(sel["uid_l"].astype(str), sel["uid_r"].astype(str)))))
        if best is None or metrics["f1"] > best[1]["f1"]:
            best = (t, metrics)
    assert best is not None
    return best


def febrl_frame(df: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """A FEBRL frame with string columns and a ``uid``."""
    out = df.copy().astype("string").fillna("")
    out = out.replace({"": None})
    out.insert(0, "uid", [f"{prefix}{i}" for i in df.index])
    return out.reset_index(drop=True)


def as_str(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=object).astype(str)
