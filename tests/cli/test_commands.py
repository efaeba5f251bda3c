"""The ``hub`` commands in a sandbox workspace: JSON output, exit codes, no secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parents[2]


def run(ws: Path, *args: str, code: int | None = 0) -> str:
    result = CliRunner().invoke(cli.main, ["-c", str(ws / "hub.yaml"), *args], catch_exceptions=False)
    if code is not None:
        assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def ws(make_ws: Callable[[int], Path]) -> Path:
    return make_ws(60)


def test_sync_twice_the_second_writes_nothing(ws: Path) -> None:
    first = json.loads(run(ws, "sync", "--json"))
    assert first["status"] == "ok" and first["writes"] > 0
    for key in ("run_id", "read", "written", "entities_created", "entities_merged", "conflicts_resolved", "dead_letters"):
        assert key in first
    assert set(first["written"]["hubspot"]) >= {"created", "updated", "deleted"}
    second = json.loads(run(ws, "sync", "--json"))
    assert second["writes"] == 0
    runs = json.loads(run(ws, "runs", "--json"))
    assert [r["run_id"] for r in runs] == [second["run_id"], first["run_id"]]
    status = json.loads(run(ws, "status", "--json"))
    assert status["entities"]["person"] > 0 and status["pending_outbound"] == 0


def test_plan_changes_nothing_and_prints_a_field_diff(ws: Path) -> None:
    before = run(ws, "sandbox", "dump", "zendesk")
    text = run(ws, "plan")
    assert "zendesk/users" in text and "create" in text and "->" in text
    assert run(ws, "sandbox", "dump", "zendesk") == before
    assert json.loads(run(ws, "runs", "--json")) == []


def test_person_show_and_sandbox_edit(ws: Path) -> None:
    run(ws, "sync")
    user = json.loads(run(ws, "sandbox", "dump", "zendesk", "--stream", "users").splitlines()[0])
    run(ws, "sandbox", "edit", "zendesk", "users", str(user["id"]), "phone=090-7777-8888")
    report = json.loads(run(ws, "sync", "--json"))
    assert report["read"]["zendesk"] >= 1
    view = json.loads(run(ws, "person", "show", f"zendesk:{user['id']}", "--json"))
    assert "+819077778888" in {p["number"] for p in view["golden"]["phones"]}
    assert any(s["connector"] == "zendesk" for s in view["sources"])
    text = run(ws, "person", "show", f"zendesk:{user['id']}")
    assert "golden record" in text
    run(ws, "person", "show", "nobody@example.invalid", code=2)


def test_dead_letters_exit_code_and_dlq_commands(ws: Path) -> None:
    user = json.loads(run(ws, "sandbox", "dump", "zendesk", "--stream", "users").splitlines()[0])
    run(ws, "sandbox", "edit", "zendesk", "users", str(user["id"]), "phone=not a phone")
    report = json.loads(run(ws, "sync", "--json", code=1))
    assert report["status"] == "dead_letters" and report["dead_letters"] == 1
    letters = json.loads(run(ws, "dlq", "list", "--json"))
    assert letters[0]["connector"] == "zendesk" and letters[0]["field"] == "phone" and letters[0]["source_id"] == str(user["id"])
    text = run(ws, "dlq", "list")
    assert f"zendesk/users/{user['id']} field phone" in text
    run(ws, "sandbox", "edit", "zendesk", "users", str(user["id"]), "phone=090-1212-3434")
    out = json.loads(run(ws, "dlq", "retry", "--all", "--json"))
    assert out["retried"] == 1 and out["run"]["dead_letters"] == 0
    run(ws, "dlq", "drop", "--all")
    run(ws, "dlq", "retry", code=2)


def test_config_errors_exit_2_and_name_the_key(ws: Path) -> None:
    (ws / "hub.yaml").write_text((ws / "hub.yaml").read_text().replace("delete_policy: ignore", "delete_policy: wipe", 1))
    out = run(ws, "sync", code=2)
    assert "connectors.hubspot.delete_policy" in out


def test_mappings_validate_names_file_and_line(ws: Path) -> None:
    run(ws, "mappings", "validate")
    (ws / "mappings").mkdir()
    src = (ROOT / "mappings" / "hubspot.yaml").read_text(encoding="utf-8")
    (ws / "mappings" / "hubspot.yaml").write_text(src.replace("transform: email", "transform: e-mail"), encoding="utf-8")
    out = run(ws, "mappings", "validate", code=2)
    line = next(i for i, l in enumerate(src.splitlines(), 1) if "transform: email" in l)
    assert "hubspot.yaml:" in out and "unknown transform 'e-mail'" in out
    assert any(f"hubspot.yaml:{n}:" in out for n in range(line - 3, line + 1))


def test_connectors_check_discover(ws: Path) -> None:
    listed = json.loads(run(ws, "connectors", "list", "--json"))
    assert {c["name"] for c in listed} >= {"hubspot", "zendesk"}
    checks = json.loads(run(ws, "check", "--json"))
    assert all(c["ok"] for c in checks)
    fields = json.loads(run(ws, "discover", "hubspot", "--json"))
    assert any(f["name"] == "lastname_kana" and f["custom"] for f in fields["contacts"])


def test_bad_token_fails_check_without_printing_it(ws: Path) -> None:
    secret = "pat-na1-DO-NOT-PRINT-0123456789"
    (ws / "hub.yaml").write_text(
        (ws / "hub.yaml").read_text().replace("    type: hubspot\n    sandbox: true\n", f"    type: hubspot\n    sandbox: true\n    settings: {{access_token: {secret}}}\n")
    )
    out = run(ws, "check", "hubspot", code=3)
    assert "FAIL" in out and secret not in out
    out = run(ws, "sync", "--json", code=3)
    assert secret not in out and json.loads(out)["status"] == "failed"


@pytest.mark.slow
def test_serve_runs_schedules_and_stops_cleanly_on_ctrl_c(ws: Path) -> None:
    (ws / "hub.yaml").write_text((ws / "hub.yaml").read_text().replace('cron: "*/5 * * * *"', 'cron: "* * * * *"'))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "-c", str(ws / "hub.yaml"), "serve", "--json"],
        cwd=ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "stopped after" in err
