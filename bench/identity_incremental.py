"""Incremental resolution: latency of adding one record to an index built from N records.

The index is bulk-loaded from a batch run over the first N records of the synthetic file
(bench/identity_synth.py makes it); then held-out records (the same population's
duplicates and new people) are added one at a time through ``IdentityIndex.add`` — features,
blocking lookup, scoring, identifier graph, re-clustering of the touched entities. Splink's
``predict_between`` (one new record against the trained store) runs beside it unless
``--no-anchors``. One command, one JSON line.

Usage: python bench/identity_incremental.py --n 1000000 [--queries 500] [--no-anchors]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from identity_common import emit, febrl_record, peak_rss_mb
from identity_synth import dataset

from hub.identity import IdentityIndex, ResolverConfig, resolve_columns

ANCHOR_LIMIT = 200_000
"""Above this many records Splink runs only when asked: with these blocking rules it needs
tens of gigabytes at a million records, more than a shared 24 GB machine should give it."""


def _columns(t: dict[str, list[Any]]) -> dict[str, list[Any]]:
    n = len(t["unique_id"])
    return {
        "source": ["s"] * n, "source_id": [str(x) for x in t["unique_id"]], "given_name": t["given_name"], "family_name": t["surname"],
        "street": [" ".join(x for x in (a, b) if x) for a, b in zip(t["street_number"], t["address_1"])],
        "locality": t["suburb"], "postal_code": t["postcode"], "region": t["state"], "country": ["AU"] * n,
        "birth_date": t["date_of_birth"], "id:ssn": t["soc_sec_id"],
    }


def _store_batches(path: Path, n: int, held: dict[str, list[Any]]) -> Iterator[dict[str, list[Any]]]:
    """The first ``n`` rows as column batches for the resolver (a million rows as Python
    objects at once would weigh more than the index); the rest land in ``held``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    seen = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=25_000):
        take = max(0, min(batch.num_rows, n - seen))
        if take:
            yield _columns(batch.slice(0, take).to_pydict())
        for k, v in batch.slice(take).to_pydict().items():
            held.setdefault(k, []).extend(v)
        seen += batch.num_rows
    # the file is one row group: Arrow's allocator would keep its decoded pages to the end
    pa.default_memory_pool().release_unused()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "hub-identity-bench")
    ap.add_argument("--no-anchors", action="store_true")
    ap.add_argument(
        "--anchors", action="store_true", help=f"run Splink even above {ANCHOR_LIMIT:,} records (tens of GB at 1M with these rules)"
    )
    args = ap.parse_args()
    path = dataset(args.n + args.queries, args.seed, args.data_dir)
    held: dict[str, list[Any]] = {}
    config = ResolverConfig(default_region="AU")
    t0 = time.perf_counter()
    index = IdentityIndex.from_result(resolve_columns(_store_batches(path, args.n, held), config), config)
    build = time.perf_counter() - t0
    cols = list(held)
    queries = [febrl_record("s", str(held["unique_id"][i]), {c: held[c][i] for c in cols}) for i in range(len(held["unique_id"]))]
    times = []
    rules: dict[str, int] = {}
    for rec in queries:
        t = time.perf_counter()
        d = index.add(rec)
        times.append((time.perf_counter() - t) * 1000)
        rules[d.rule] = rules.get(d.rule, 0) + 1
    ms = np.array(times)
    result: dict[str, Any] = {
        "bench": "identity_incremental",
        "store_records": args.n,
        "queries": len(queries),
        "ours": {
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "max_ms": round(float(ms.max()), 2),
            "rules": rules,
            "index_build_seconds": round(build, 1),
            "peak_rss_mb": peak_rss_mb(),
        },
    }
    if not args.no_anchors and (args.n <= ANCHOR_LIMIT or args.anchors):
        import pyarrow.parquet as pq

        try:
            store = pq.read_table(path).slice(0, args.n).to_pydict()
            result["splink_predict_between"] = _splink(store, held, min(20, len(queries)))
        except Exception as exc:
            result["splink_predict_between"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    result["floors"] = {"p95<=20ms": result["ours"]["p95_ms"] <= 20}
    emit(result)


def _splink(store: dict[str, list[Any]], held: dict[str, list[Any]], k: int) -> dict[str, Any]:
    import pandas as pd
    import splink.comparison_library as cl
    from identity_anchors import splink_run
    from splink import block_on

    def frame(t: dict[str, list[Any]]) -> pd.DataFrame:
        df = pd.DataFrame(t).drop(columns=["entity_id"]).rename(columns={"unique_id": "uid"})
        return df.astype({"uid": str})

    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.LevenshteinAtThresholds("date_of_birth", [1, 2]),
        cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
        cl.ExactMatch("postcode"),
    ]
    blocking = [block_on("given_name", "surname"), block_on("surname", "date_of_birth"), block_on("soc_sec_id")]
    sp = splink_run([frame(store)], "dedupe_only", comparisons, blocking, [block_on("date_of_birth")], [0.9])
    linker = sp["linker"]
    existing = linker._input_tables_dict if hasattr(linker, "_input_tables_dict") else None
    new = frame(held)
    db = linker._db_api
    base = list(linker._input_tables_dict.values()) if existing else None
    for tf_col in ("given_name", "surname"):
        try:
            linker.table_management.compute_tf_table(tf_col)
        except Exception:
            pass
    times = []
    for i in range(k):
        one = db.register(new.iloc[[i]])
        t = time.perf_counter()
        linker.inference.predict_between(base, one, threshold_match_probability=0.9).as_pandas_dataframe()
        times.append((time.perf_counter() - t) * 1000)
    ms = np.array(times)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1), "queries": k}


if __name__ == "__main__":
    main()
