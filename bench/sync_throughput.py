"""End-to-end sync throughput: N customers across sandbox HubSpot and Zendesk over loopback HTTP.

    python bench/sync_throughput.py --n 100000 [--database-url URL]

Each fake runs in its own process (uvicorn on 127.0.0.1), so the peak RSS printed is the hub's
own. Runs an initial sync, an incremental sync after 1 % of the people changed in each tool, and a
no-op sync; prints one JSON line. Request budgets are off: at the vendors' published limits
(HubSpot 100 requests / 10 s, Zendesk exports 10 / min) the initial sync would be paced by them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# the largest page each read endpoint allows, and each write endpoint's batch limit
PAGE_MAX = {"hubspot/contacts": 100, "hubspot/companies": 100, "hubspot/notes": 100, "zendesk/users": 1000, "zendesk/organizations": 1000}
BATCH_MAX = 100
ZENDESK_JOBS_PER_POLL = 30  # Zendesk queues at most 30 jobs per account; one show_many polls them


def serve(tool: str, n: int) -> tuple[subprocess.Popen[str], str, dict[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.sandbox.serve", tool, "--people", str(n), "--no-tickets", "--until-stdin-closes"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    info = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
    return proc, f"http://127.0.0.1:{info['port']}", info["records"]


def minimum_requests(report: dict, initial: bool) -> int:
    total = 0
    for name, counts in report["streams"].items():
        if initial and name in PAGE_MAX:
            total += max(1, math.ceil(counts.get("read", 0) / PAGE_MAX[name]))
            if name.startswith("hubspot/"):
                total += 1  # archived records (tombstones) are listed by a separate endpoint
        elif initial and "read" in counts:
            total += 1  # an empty stream still takes one request to know it is empty
        calls = sum(math.ceil(counts.get(k, 0) / BATCH_MAX) for k in ("created", "updated", "deleted"))
        total += calls
        if name.startswith("zendesk/") and calls:
            total += math.ceil(calls / ZENDESK_JOBS_PER_POLL)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="customers (people) in the two tools together")
    ap.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the workspace and its store (for bench/store_ceiling.py); default: delete it")
    args = ap.parse_args()

    from hub import config, plugins
    from hub.engine import Engine
    from hub.store import Store

    t0 = time.perf_counter()
    servers = [serve(tool, args.n) for tool in ("hubspot", "zendesk")]
    seeded = time.perf_counter() - t0
    (hs_proc, hs_url, hs_records), (zd_proc, zd_url, zd_records) = servers
    root = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    (root / "hub.yaml").write_text(
        f"""version: 1
connectors:
  hubspot:
    budget: false
    settings: {{base_url: "{hs_url}", access_token: sandbox-token}}
  zendesk:
    budget: false
    settings: {{base_url: "{zd_url}", email: bench@example.com, api_token: sandbox-token, incremental_rpm: 0}}
    rules: {{ticket: {{direction: read_only}}}}
batch_size: 2000
""",
        encoding="utf-8",
    )
    ws = config.load(root / "hub.yaml")
    store = Store(args.database_url or f"sqlite:///{root / 'hub.db'}")
    engine = Engine(ws, store, plugins.default())
    try:
        t = time.perf_counter()
        first = engine.sync().to_dict()
        initial_s = time.perf_counter() - t
        read = sum(first["read"].values())
        stats = {tool: httpx.get(f"{url}/__sandbox/stats").json() for tool, url in (("hubspot", hs_url), ("zendesk", zd_url))}
        t = time.perf_counter()
        settle = engine.sync().to_dict()  # reads the initial sync's own writes back once
        settle_s = time.perf_counter() - t
        for url in (hs_url, zd_url):
            # time passes (past the connectors' overlap windows), then users edit 1 % of people
            httpx.post(f"{url}/__sandbox/advance", json={"seconds": 600}, timeout=60)
            httpx.post(f"{url}/__sandbox/edit", json={"fraction": 0.01, "seed": 1}, timeout=600)
        t = time.perf_counter()
        second = engine.sync().to_dict()
        incremental_s = time.perf_counter() - t
        t = time.perf_counter()
        third = engine.sync().to_dict()
        noop_s = time.perf_counter() - t
    finally:
        for proc, *_ in servers:
            proc.terminate()
            proc.wait()
        store.engine.dispose()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    requests = sum(first["requests"].values())
    minimum = minimum_requests(first, initial=True)
    print(
        json.dumps(
            {
                "bench": "sync_throughput",
                "n_people": args.n,
                "database": store.dialect,
                "source_records": {**{f"hubspot/{k}": v for k, v in hs_records.items()}, **{f"zendesk/{k}": v for k, v in zd_records.items()}},
                "initial": {
                    "seconds": round(initial_s, 2),
                    "records_read": read,
                    "records_per_s": round(read / initial_s),
                    "writes": first["writes"],
                    "requests": requests,
                    "min_requests": minimum,
                    "requests_ratio": round(requests / minimum, 3) if minimum else None,
                    "entities_created": first["entities_created"],
                    "identity_reviews": first["identity_reviews"],
                    "status": first["status"],
                    "phases": first["phases"],
                },
                "settle": {"seconds": round(settle_s, 2), "records_read": sum(settle["read"].values()), "writes": settle["writes"]},
                "incremental_1pct": {
                    "seconds": round(incremental_s, 2),
                    "records_read": sum(second["read"].values()),
                    "writes": second["writes"],
                    "requests": sum(second["requests"].values()),
                    "status": second["status"],
                    "phases": second["phases"],
                },
                "noop": {"seconds": round(noop_s, 2), "writes": third["writes"], "requests": sum(third["requests"].values())},
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "seed_seconds": round(seeded, 1),
                "initial_requests_by_path": {t: v["requests"] for t, v in stats.items()},
                **({"workspace": str(root)} if args.keep else {}),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
