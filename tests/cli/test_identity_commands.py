"""``hub identity explain|merge|split|review|train`` in a sandbox workspace."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli


def run(ws: Path, *args: str, code: int | None = 0) -> str:
    result = CliRunner().invoke(cli.main, ["-c", str(ws / "hub.yaml"), *args], catch_exceptions=False)
    if code is not None:
        assert result.exit_code == code, result.output
    return result.stdout if not code else result.output


@pytest.fixture
def ws(make_ws: Callable[[int], Path]) -> Path:
    ws = make_ws(500)
    run(ws, "sync")
    return ws


def _linked_pair(ws: Path) -> tuple[str, str]:
    """A HubSpot contact and the Zendesk user that are one person."""
    users = {u["email"]: u for u in map(json.loads, run(ws, "sandbox", "dump", "zendesk", "--stream", "users").splitlines())}
    for line in run(ws, "sandbox", "dump", "hubspot", "--stream", "contacts").splitlines():
        contact = json.loads(line)
        user = users.get(contact["properties"].get("email"))
        if user:
            return f"hubspot:{contact['id']}", f"zendesk:{user['id']}"
    raise AssertionError("the demo world has people in both tools")


def test_explain_split_merge_round_trip(ws: Path) -> None:
    hs, zd = _linked_pair(ws)
    why = json.loads(run(ws, "identity", "explain", hs, zd, "--json"))
    assert why["same_entity"] is True
    assert any(i["kind"] == "email" for i in why["shared_identifiers"])
    text = run(ws, "identity", "explain", hs, zd)
    assert "the same person" in text and "shared identifier: email" in text and "match model" in text

    out = json.loads(run(ws, "identity", "split", zd, "--by", "alice", "--note", "two people", "--json"))
    assert out["new_entity_id"] and out["moved"][0]["record"].startswith("zendesk:users:")
    assert json.loads(run(ws, "identity", "explain", hs, zd, "--json"))["same_entity"] is False
    # the e-mail they share no longer joins them (sticky), and neither tool can hold two people
    # with one address: the creates wait in the dead-letter store instead of overwriting
    run(ws, "sync", code=1)
    letters = json.loads(run(ws, "dlq", "list", "--json"))
    assert {d["connector"] for d in letters} == {"hubspot", "zendesk"}
    assert all("cannot hold two people with one e-mail" in d["reason"] and d["field"] == "emails" for d in letters)
    why = json.loads(run(ws, "identity", "explain", hs, zd, "--json"))
    assert why["same_entity"] is False and why["decisions"][0]["by"] == "alice"

    assert "merged" in run(ws, "identity", "merge", hs, zd, "--by", "bob")
    assert json.loads(run(ws, "identity", "explain", hs, zd, "--json"))["same_entity"] is True
    assert json.loads(run(ws, "sync", "--json"))["status"] == "ok"
    assert json.loads(run(ws, "sync", "--json"))["writes"] == 0


def test_review_lists_and_decides(ws: Path) -> None:
    pairs = json.loads(run(ws, "identity", "review", "--json"))
    assert pairs, "the demo world has uncertain pairs"
    assert all(p["probability"] >= 0.5 and p["a"]["record"] and p["b"]["record"] for p in pairs)
    assert all(p["probability"] < 0.9 or p["evidence"]["guard"] for p in pairs)
    table = run(ws, "identity", "review")
    assert "accept with" in table
    first = pairs[0]["id"]
    assert "kept apart" in run(ws, "identity", "review", "--reject", str(first), "--by", "carol")
    assert first not in {p["id"] for p in json.loads(run(ws, "identity", "review", "--json"))}
    rejected = json.loads(run(ws, "identity", "review", "--status", "rejected", "--json"))
    assert [p["id"] for p in rejected] == [first]
    err = run(ws, "identity", "review", "--accept", str(first), code=2)
    assert "already rejected" in err


def test_train_and_errors(ws: Path) -> None:
    out = json.loads(run(ws, "identity", "train", "--json"))
    assert out["records"] >= 500
    status = json.loads(run(ws, "status", "--json"))["identity"]
    assert status["model"]["records"] == out["records"] and status["reviews_open"] >= 0
    assert "match model learnt on" in run(ws, "status")
    assert "nothing known as 'hubspot:nope'" in run(ws, "identity", "explain", "hubspot:nope", "x@example.com", code=2)
    hs, _ = _linked_pair(ws)
    eid = json.loads(run(ws, "identity", "explain", hs, hs, "--json"))["a"]["entity_id"]
    assert "not a whole person" in run(ws, "identity", "split", eid, code=2)
    assert "e-mail" in run(ws, "identity", "merge", "nobody@nowhere.example", "hubspot:1", code=2)
