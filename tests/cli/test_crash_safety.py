"""Killing a real ``hub sync`` process at any point loses nothing and duplicates nothing."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def hub(ws: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HUB_DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "-c", str(ws / "hub.yaml"), *args],
        cwd=ws, env=env, capture_output=True, text=True, timeout=600,
    )
    if check and proc.returncode not in (0, 1):
        raise AssertionError(f"hub {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


def snapshot(ws: Path) -> dict[str, Counter[str]]:
    """The sandboxes' contents without ids and timestamps (which differ between runs)."""
    state: dict[str, Counter[str]] = {}
    for tool in ("hubspot", "zendesk"):
        data = json.loads((ws / ".hub" / "sandbox" / f"{tool}.json").read_text(encoding="utf-8"))
        for stream, records in data["records"].items():
            names = {rid: (r.get("properties") or r).get("name") for rid, r in records.items()}
            rows = Counter()
            for r in records.values():
                body = dict(r.get("properties") or r)
                for key in list(body):
                    if key in ("id", "url", "hs_object_id", "seamless_hub_id", "external_id") or "date" in key or key.endswith(("_at", "At")):
                        body.pop(key)
                for ref in ("associatedcompanyid", "organization_id", "requester_id"):
                    if body.get(ref) is not None:
                        body[ref] = names.get(str(body[ref]), "?")
                rows[json.dumps(body, sort_keys=True, ensure_ascii=False)] += 1
            state[f"{tool}/{stream}"] = rows
    return state


def timed(ws: Path, *args: str) -> float:
    started = time.monotonic()
    hub(ws, *args)
    return time.monotonic() - started


def test_killing_hub_sync_anywhere_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    base = tmp_path / "base"
    hub(tmp_path, "init", "--sandbox", str(base))
    hub(base, "sandbox", "seed", "hubspot", "--people", "1200")
    hub(base, "sandbox", "seed", "zendesk", "--people", "1200")
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    shutil.copytree(base, reference)
    shutil.copytree(base, killed)

    # Kill times are drawn from this machine's own timings, not fixed seconds: a faster machine
    # finishes sooner, and a kill before the sync has started its work proves nothing.
    full = timed(reference, "sync")
    hub(reference, "sync")
    idle = timed(reference, "sync")  # start-up and a no-op: the part of a run that does no work

    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HUB_DATABASE_URL", None)
    kills = attempts = 0
    while kills < 5 and attempts < 12:
        attempts += 1
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "-c", str(killed / "hub.yaml"), "sync", "--json"],
            cwd=killed, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=idle * 0.8 + rng.uniform(0.0, 1.0) * max(full - idle, 0.5))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
    assert kills >= 3, f"only {kills} of {attempts} syncs were still running when killed ({full:.1f} s for a full sync)"
    for _ in range(2):
        hub(killed, "sync")

    ref, got = snapshot(reference), snapshot(killed)
    assert ref.keys() == got.keys()
    for key in ref:
        assert got[key] == ref[key], f"{key} differs after kills: missing {ref[key] - got[key]}, extra {got[key] - ref[key]}"
    # and no tool holds the same person twice
    zd = json.loads((killed / ".hub" / "sandbox" / "zendesk.json").read_text(encoding="utf-8"))
    emails = Counter((u.get("email") or "").lower() for u in zd["records"]["users"].values() if u.get("email"))
    assert max(emails.values()) == 1
    last = json.loads(hub(killed, "sync", "--json").stdout)
    assert last["writes"] == 0
