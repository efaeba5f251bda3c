"""pseudopeople census <-> W-2/1099 (seed 0, sample data), names and address only.

The resolver at its default threshold beside recordlinkage ECM (p >= 0.9) and Splink
(p >= 0.9 and its best threshold). Only pairs across the two datasets count; every true pair
counts, those blocking lost included. One command, one JSON line.

Usage: python bench/identity_pseudopeople.py [--no-anchors]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from typing import Any

import pandas as pd
from identity_common import emit, pairwise, peak_rss_mb

from hub.identity import ResolverConfig, resolve_columns


def _load() -> tuple[pd.DataFrame, pd.DataFrame]:
    import pseudopeople as psp

    with contextlib.redirect_stderr(io.StringIO()):
        census = psp.generate_decennial_census(seed=0)
        w2 = psp.generate_taxes_w2_and_1099(seed=0)
    return census, w2


def _s(values: Any) -> list[str]:
    return ["" if pd.isna(v) else str(v) for v in values]


def _frames(census: pd.DataFrame, w2: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both datasets as one schema: names, street (or PO box), city, state, zip."""

    def street(num: Any, name: Any, unit: Any) -> list[str]:
        return [" ".join(p for p in parts if p) for parts in zip(_s(num), _s(name), _s(unit))]

    c = pd.DataFrame({
        "uid": [f"census:{i}" for i in range(len(census))],
        "first_name": _s(census.first_name), "last_name": _s(census.last_name),
        "street": street(census.street_number, census.street_name, census.unit_number),
        "city": _s(census.city), "state": _s(census.state), "zipcode": _s(census.zipcode),
    })
    w_street = street(w2.mailing_address_street_number, w2.mailing_address_street_name, w2.mailing_address_unit_number)
    w_street = [s or (f"po box {p}" if p else "") for s, p in zip(w_street, _s(w2.mailing_address_po_box))]
    w = pd.DataFrame({
        "uid": [f"w2:{i}" for i in range(len(w2))],
        "first_name": _s(w2.first_name), "last_name": _s(w2.last_name), "street": w_street,
        "city": _s(w2.mailing_address_city), "state": _s(w2.mailing_address_state), "zipcode": _s(w2.mailing_address_zipcode),
    })
    return c, w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-anchors", action="store_true")
    args = ap.parse_args()
    census, w2 = _load()
    truth = [str(x) for x in census.simulant_id] + [str(x) for x in w2.simulant_id]
    side = ["census"] * len(census) + ["w2"] * len(w2)
    c, w = _frames(census, w2)
    both = pd.concat([c, w], ignore_index=True)
    columns = {
        "record_id": both["uid"].tolist(), "given_name": both["first_name"].tolist(), "family_name": both["last_name"].tolist(),
        "street": both["street"].tolist(), "locality": both["city"].tolist(), "region": both["state"].tolist(),
        "postal_code": both["zipcode"].tolist(), "country": ["US"] * len(both),
    }
    config = ResolverConfig(default_region="US")
    t0 = time.perf_counter()
    res = resolve_columns(columns, config)
    seconds = time.perf_counter() - t0
    labels = [res.entity_of[u] for u in both["uid"]]
    ours = {**pairwise(truth, labels, side), "threshold": config.high, "seconds": round(seconds, 2)}
    result: dict[str, Any] = {"bench": "identity_pseudopeople", "records": len(both), "ours": ours, "peak_rss_mb_ours": peak_rss_mb()}
    if not args.no_anchors:
        result.update(_anchors(c, w, truth, side))
    result["floors"] = {"f1>=0.95": ours["f1"] >= 0.95, "precision>=0.98": ours["precision"] >= 0.98}
    emit(result)


def _anchors(c: pd.DataFrame, w: pd.DataFrame, truth: list[str], side: list[str]) -> dict[str, Any]:
    import splink.comparison_library as cl
    from identity_anchors import best_threshold, ecm_run, splink_run
    from splink import block_on

    out: dict[str, Any] = {}
    frames = [c.replace({"": None}), w.replace({"": None})]
    uids = [str(u) for f in frames for u in f["uid"]]
    try:
        comparisons = [
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("street", [0.9, 0.7]),
            cl.ExactMatch("city"),
            cl.ExactMatch("zipcode"),
        ]
        blocking = [block_on("first_name", "last_name"), block_on("street"), block_on("last_name", "zipcode"), block_on("first_name", "zipcode")]
        sp = splink_run(frames, "link_only", comparisons, blocking, [block_on("street"), block_on("last_name")], [0.9])
        out["splink"] = {**pairwise(truth, sp["labels"][0.9], side), "threshold": 0.9, "seconds": sp["seconds"]}
        grid = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
        t, best = best_threshold(sp["edges"], uids, lambda lab: pairwise(truth, lab, side), grid)
        out["splink_best"] = {**best, "threshold": t}
    except Exception as exc:
        out["splink"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    try:
        ecm = ecm_run(frames, [["first_name"], ["last_name"], ["street"]], ["first_name", "last_name", "street"], [], [0.9])
        out["recordlinkage_ecm"] = {**pairwise(truth, ecm["labels"][0.9], side), "threshold": 0.9, "seconds": ecm["seconds"]}
    except Exception as exc:
        out["recordlinkage_ecm"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return out


if __name__ == "__main__":
    main()
