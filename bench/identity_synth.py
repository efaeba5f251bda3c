"""FEBRL-like synthetic persons (100k or 1M) from /work/shared/bench/gen_synth.py.

Measures the resolver's wall time (reading the file included), peak RSS and cluster quality:
``cluster_f1`` is the pairwise F1 of the predicted clustering (every pair inside a predicted
entity against every true pair, those blocking lost included); ``exact_cluster_f1`` scores
entities reproduced exactly. Splink runs beside it on the same file (after ours, so that our
peak RSS is our own) unless ``--no-anchors``; at 1M it takes minutes and gigabytes.

Usage: python bench/identity_synth.py --n 100000|1000000 [--seed 42] [--no-anchors]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from identity_common import emit, exact_clusters, pairwise, peak_rss_mb

from hub.identity import ResolverConfig, resolve_columns

GENERATOR = Path(os.environ.get("HUB_SYNTH_GENERATOR", "/work/shared/bench/gen_synth.py"))

ANCHOR_LIMIT = 200_000
"""Above this many records Splink runs only when asked: with these blocking rules it needs
tens of gigabytes at a million records, more than a shared 24 GB machine should give it."""


def _generate(n: int, seed: int, out: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_synth", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.argv = ["gen_synth.py", "--n", str(n), "--seed", str(seed), "--out", str(out)]
    # the generator prints its own summary line: the benchmark's one line must stay alone
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        module.main()


def dataset(n: int, seed: int, data_dir: Path) -> Path:
    """The generated file, made once per (n, seed) in a child process (its memory is not ours)."""
    path = data_dir / f"synth_{n}_seed{seed}.parquet"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        proc = mp.get_context("spawn").Process(target=_generate, args=(n, seed, path))
        proc.start()
        proc.join()
        if proc.exitcode != 0 or not path.exists():
            raise SystemExit(f"generating {path} failed (exit {proc.exitcode})")
    return path


def _batches(path: Path, truth: list[Any], ids: list[Any]) -> Any:
    """Column batches for the resolver; ``truth`` and ``ids`` collect per batch the true
    entities and the unique ids as integer arrays (a million Python objects each would count
    against the resolver's peak memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # small batches: each one's Python strings are freed among the resolver's own, and the
    # holes they leave in the allocator's pools stay resident
    for batch in pq.ParquetFile(path).iter_batches(batch_size=25_000):
        truth.append(batch.column("entity_id").to_numpy())
        ids.append(batch.column("unique_id").to_numpy())
        t = batch.to_pydict()
        del batch
        n = len(t["unique_id"])
        sid = [str(x) for x in t["unique_id"]]
        yield {
            "source": ["s"] * n, "source_id": sid, "given_name": t["given_name"], "family_name": t["surname"],
            "street": [" ".join(x for x in (a, b) if x) for a, b in zip(t["street_number"], t["address_1"])],
            "locality": t["suburb"], "postal_code": t["postcode"], "region": t["state"], "country": ["AU"] * n,
            "birth_date": t["date_of_birth"], "id:ssn": t["soc_sec_id"],
        }
    # the file is one row group: Arrow's allocator would keep its decoded pages to the end
    pa.default_memory_pool().release_unused()


def _splink(path: Path, truth: list[Any]) -> dict[str, Any]:
    import pandas as pd
    import splink.comparison_library as cl
    from identity_anchors import splink_run
    from splink import block_on

    df = pd.read_parquet(path).drop(columns=["entity_id"])
    df = df.rename(columns={"unique_id": "uid"}).astype({"uid": str})
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        cl.LevenshteinAtThresholds("date_of_birth", [1, 2]),
        cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
        cl.ExactMatch("street_number"),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
        cl.ExactMatch("postcode"),
    ]
    blocking = [block_on("given_name", "surname"), block_on("surname", "date_of_birth"), block_on("soc_sec_id"), block_on("given_name", "date_of_birth"), block_on("postcode", "street_number")]
    t0 = time.perf_counter()
    sp = splink_run([df], "dedupe_only", comparisons, blocking, [block_on("date_of_birth"), block_on("surname")], [0.9])
    labels = sp["labels"][0.9]
    return {**pairwise(truth, labels), "exact_cluster": exact_clusters(truth, labels), "threshold": 0.9, "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "hub-identity-bench")
    ap.add_argument("--no-anchors", action="store_true")
    ap.add_argument(
        "--anchors", action="store_true", help=f"run Splink even above {ANCHOR_LIMIT:,} records (tens of GB at 1M with these rules)"
    )
    args = ap.parse_args()
    path = dataset(args.n, args.seed, args.data_dir)
    truth_parts: list[Any] = []
    id_parts: list[Any] = []
    t0, c0 = time.perf_counter(), time.process_time()
    res = resolve_columns(_batches(path, truth_parts, id_parts), ResolverConfig(default_region="AU"))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = peak_rss_mb()
    ids = np.concatenate(id_parts).tolist()
    truth = np.concatenate(truth_parts).tolist()
    labels = [res.entity_of[f"s:{i}"] for i in ids]
    pw = pairwise(truth, labels)
    ours = {
        "cluster_f1": pw["f1"], "precision": pw["precision"], "recall": pw["recall"], "true_pairs": pw["true_pairs"],
        "exact_cluster_f1": exact_clusters(truth, labels)["f1"], "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
        "peak_rss_mb": rss, "stages": res.stats["seconds"], "candidate_pairs": res.stats["candidate_pairs"],
    }
    result: dict[str, Any] = {"bench": "identity_synth", "n": len(ids), "seed": args.seed, "ours": ours}
    del res
    if not args.no_anchors and (args.n <= ANCHOR_LIMIT or args.anchors):
        try:
            result["splink"] = _splink(path, truth)
        except Exception as exc:
            result["splink"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    if args.n >= 1_000_000:
        result["floors"] = {"cluster_f1>=0.995": ours["cluster_f1"] >= 0.995, "wall<=120s": wall <= 120, "rss<=2GB": rss <= 2048}
    emit(result)


if __name__ == "__main__":
    main()
