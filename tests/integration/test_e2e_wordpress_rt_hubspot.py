"""End to end on real servers: WordPress and Request Tracker into sandbox HubSpot.

A person who commented on the real WordPress and opened a ticket in the real Request Tracker
becomes one Person in the hub and appears in HubSpot with both activities; an edit made in
Request Tracker reaches the other tools on the next sync; the sync after that writes nothing.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub import config, plugins, views
from hub.engine import Engine
from hub.store import Store
from plugins.hubspot.connector import HubSpot

pytestmark = pytest.mark.slow
NEEDED = ("WP_URL", "WP_USER", "WP_APP_PASSWORD", "RT_URL", "RT_TOKEN")


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    values = {k: os.environ.get(k, "") for k in NEEDED}
    missing = [k for k, v in values.items() if not v]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must start both servers (scripts/wordpress.sh, scripts/rt.sh); missing {missing}")
        pytest.skip(f"needs the real WordPress and RT servers: missing {missing}")
    return values


def workspace(tmp_path: Path, env: dict[str, str]) -> Path:
    (tmp_path / "hub.yaml").write_text(
        f"""version: 1
connectors:
  wordpress:
    settings: {{base_url: "{env['WP_URL']}", username: "{env['WP_USER']}", application_password: "${{WP_APP_PASSWORD}}"}}
    rules: {{activity: {{direction: read_only}}}}
  rt:
    settings: {{base_url: "{env['RT_URL']}", token: "${{RT_TOKEN}}", ticket_key_field: HubKey}}
    rules:
      person: {{direction: both, create: false}}
      ticket: {{direction: read_only}}
      activity: {{direction: read_only}}
  hubspot:
    sandbox: true
""",
        encoding="utf-8",
    )
    return tmp_path / "hub.yaml"


def test_a_commenter_with_a_ticket_becomes_one_person_everywhere(tmp_path: Path, env: dict[str, str], db_url: str) -> None:
    tag = uuid.uuid4().hex[:10]
    email = f"hanako.{tag}@example.jp"
    wp = httpx.Client(base_url=env["WP_URL"], auth=(env["WP_USER"], env["WP_APP_PASSWORD"]), timeout=60)
    rt = httpx.Client(base_url=env["RT_URL"], headers={"Authorization": f"token {env['RT_TOKEN']}"}, timeout=60)
    user = wp.post("/wp-json/wp/v2/users", json={
        "username": f"hanako{tag}", "email": email, "password": uuid.uuid4().hex, "first_name": "花子", "last_name": "佐藤",
    })
    assert user.status_code == 201, user.text
    comment = wp.post("/wp-json/wp/v2/comments", json={"post": 1, "author": user.json()["id"], "content": f"参考になりました {tag}"})
    assert comment.status_code == 201, comment.text
    rt_user = rt.post("/REST/2.0/user", json={"Name": f"hanako{tag}", "EmailAddress": email, "RealName": "佐藤 花子"})
    assert rt_user.status_code == 201, rt_user.text
    rt_user_id = str(rt_user.json()["id"])
    ticket = rt.post("/REST/2.0/ticket", json={"Queue": "General", "Requestor": email, "Subject": f"請求書について {tag}",
                                               "Content": f"請求書を再発行してください {tag}", "ContentType": "text/plain"})
    assert ticket.status_code == 201, ticket.text

    loaded = plugins.default()
    hubspot = loaded.sandbox("hubspot")()
    os.environ["WP_APP_PASSWORD"], os.environ["RT_TOKEN"] = env["WP_APP_PASSWORD"], env["RT_TOKEN"]
    store = Store(db_url)
    engine = Engine(config.load(workspace(tmp_path, env)), store, loaded, fakes={"hubspot": hubspot})
    first = engine.sync()
    assert not first.errors, first.errors

    eid = views.find_entity(store, email)
    assert eid, "the commenter is not in the hub"
    person = views.person(store, eid)
    assert {(s["connector"], s["stream"]) for s in person["sources"]} >= {("wordpress", "users"), ("rt", "users"), ("hubspot", "contacts")}
    assert person["golden"]["family_name"] == "佐藤" and person["golden"]["given_name"] == "花子"
    assert {a["type"] for a in person["activities"]} >= {"form_submission", "email"}

    contact = hubspot.find("contacts", "email", email)
    assert contact is not None, "the person did not reach HubSpot"
    notes = _notes_of(hubspot, contact["id"])
    bodies = " ".join(n.get("hs_note_body") or "" for n in notes)
    assert f"参考になりました {tag}" in bodies, notes
    assert f"請求書を再発行してください {tag}" in bodies, notes

    # an edit in Request Tracker (a marriage name change) reaches HubSpot and WordPress
    time.sleep(1.1)  # RT keeps LastUpdated to the second
    edit = rt.put(f"/REST/2.0/user/{rt_user_id}", json={"RealName": "鈴木 花子"})
    assert edit.status_code == 200, edit.text
    second = engine.sync()
    assert not second.errors, second.errors
    assert hubspot.find("contacts", "email", email)["properties"]["lastname"] == "鈴木"
    wp_user = wp.get(f"/wp-json/wp/v2/users/{user.json()['id']}", params={"context": "edit"}).json()
    assert wp_user["last_name"] == "鈴木"
    third = engine.sync()
    assert third.writes == 0, third.to_dict()["written"]
    store.dispose()
    wp.close()
    rt.close()


def _notes_of(fake: Any, contact_id: str) -> list[dict[str, Any]]:
    """The notes associated with a contact, read through the HubSpot connector (as a user would)."""
    conn = HubSpot(HubSpot.Settings(base_url=fake.base_url, access_token=fake.token), transport=fake.transport())
    try:
        notes = [r.data for page in conn.read("notes", None) for r in page.records if not r.deleted]
    finally:
        conn.close()
    return [n for n in notes if str(n.get("contact_id")) == str(contact_id)]
