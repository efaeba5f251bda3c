"""The store's own ceiling: how fast SQLite takes the rows a sync stored, with no pipeline at all.

    python bench/sync_throughput.py --n 100000 --keep     # prints "workspace": DIR
    python bench/store_ceiling.py --store DIR/hub.db

Copies every row of a store that real syncs filled into a fresh, migrated store, a chunk at a
time through the hub's own bulk statements (JSON encoded by the column types, a commit per chunk,
indexes and foreign keys as in production). Only the inserts are timed: no reading, mapping,
identity, golden records, HTTP, updates or index probes. Dividing the source records by that time
gives an upper bound on any pipeline that keeps what the hub keeps per record. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# parents before children (foreign keys stay on, as in a sync)
ORDER = (
    "runs",
    "source_records",
    "entities",
    "links",
    "identifiers",
    "identity_features",
    "identity_blocks",
    "outbound_ledger",
    "identity_reviews",
    "identity_decisions",
    "identity_models",
    "audit_log",
    "dead_letters",
    "cursors",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, type=Path, help="a SQLite store filled by real syncs")
    ap.add_argument("--chunk", type=int, default=2000, help="rows per statement and commit (the bench's batch_size)")
    args = ap.parse_args()

    from sqlalchemy import select

    from hub.resolution import _SLICE as SLICE  # records whose blocking keys a training writes at once
    from hub.store import Store
    from hub.store.bulk import bulk_insert, insert_tuples
    from hub.store.models import Base, IdentityBlock

    source = Store(f"sqlite:///{args.store.resolve()}", migrate=False)
    root = Path(tempfile.mkdtemp(prefix="hub-ceiling-"))
    target = Store(f"sqlite:///{root / 'hub.db'}")
    models = {m.class_.__tablename__: m.class_ for m in Base.registry.mappers}
    tables: dict[str, dict[str, float]] = {}
    try:
        with source.engine.connect() as src, target.session() as session:
            for name in ORDER:
                model = models[name]
                cols = [c.key for c in model.__table__.columns]
                rows_in, seconds = 0, 0.0
                q = select(*model.__table__.columns)
                if model is IdentityBlock:
                    # in the order a training writes them (a slice of records at a time, sorted by
                    # key), not the key order the store keeps them in
                    q = q.order_by(IdentityBlock.source_record_id // SLICE, IdentityBlock.key, IdentityBlock.source_record_id)
                result = src.execution_options(yield_per=args.chunk).execute(q)
                for part in result.partitions(args.chunk):
                    t = time.perf_counter()
                    if model is IdentityBlock:  # written as tuples by the pipeline too
                        insert_tuples(session, model, tuple(cols), [tuple(r) for r in part])
                    else:
                        bulk_insert(session, model, [dict(zip(cols, r, strict=True)) for r in part])
                    session.commit()
                    seconds += time.perf_counter() - t
                    rows_in += len(part)
                tables[name] = {"rows": rows_in, "seconds": round(seconds, 2)}
    finally:
        target.engine.dispose()
        source.engine.dispose()
        shutil.rmtree(root, ignore_errors=True)
    records = tables["source_records"]["rows"]
    total = sum(t["seconds"] for t in tables.values())
    rows = sum(t["rows"] for t in tables.values())
    print(
        json.dumps(
            {
                "bench": "store_ceiling",
                "source_records": records,
                "rows": rows,
                "rows_per_record": round(rows / records, 2),
                "insert_seconds": round(total, 2),
                "rows_per_s": round(rows / total),
                "ceiling_records_per_s": round(records / total),
                "tables": tables,
            }
        )
    )


if __name__ == "__main__":
    main()
