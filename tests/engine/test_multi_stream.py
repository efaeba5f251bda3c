"""A tool with two streams of the same entity (Salesforce Lead and Contact)."""

from __future__ import annotations

from pathlib import Path

from hub import config, plugins
from hub.engine import Engine
from hub.store import Store

YAML = """version: 1
connectors:
  hubspot: {type: hubspot, sandbox: true}
  salesforce:
    type: salesforce
    sandbox: true
    streams: [Lead, Contact, Account]
"""


def test_people_are_created_once_per_tool_and_never_as_leads(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "hub.yaml").write_text(YAML, encoding="utf-8")
    loaded = plugins.default()
    fakes = {name: loaded.sandbox(name)() for name in ("hubspot", "salesforce")}
    engine = Engine(config.load(tmp_path / "hub.yaml"), store := Store(db_url), loaded, fakes=fakes)
    fakes["hubspot"].insert("contacts", {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com"})
    fakes["salesforce"].insert("Lead", {"FirstName": "Grace", "LastName": "Hopper", "Company": "Navy", "Email": "grace@example.com"})
    report = engine.sync()
    assert report.status == "ok", report.errors
    sf = fakes["salesforce"]
    assert {r["Email"] for r in sf.records("Contact")} == {"ada@example.com"}
    assert {r["Email"] for r in sf.records("Lead")} == {"grace@example.com"}
    assert {r["properties"]["email"] for r in fakes["hubspot"].records("contacts")} == {"ada@example.com", "grace@example.com"}
    assert engine.sync().writes == 0
    store.dispose()
