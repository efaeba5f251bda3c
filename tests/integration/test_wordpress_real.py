"""The WordPress connector (and its fake) against a real WordPress.

Start one with ``bash scripts/wordpress.sh start`` (Debian's WordPress on 127.0.0.1:8081) and
export what it prints (``export $(bash scripts/wordpress.sh env)``): WP_URL, WP_USER and
WP_APP_PASSWORD. Without them the tests are skipped, except in CI, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.connector import Page, Record, WriteOp
from hub.staging import content_hash
from plugins.wordpress import FakeWordPress, WordPress, WordPressSettings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
USERS = "/wp-json/wp/v2/users"
COMMENTS = "/wp-json/wp/v2/comments"


@pytest.fixture(scope="module")
def site() -> dict[str, str]:
    """The real site's URL and credentials, from the environment."""
    env = {name: os.environ.get(name, "") for name in ("WP_URL", "WP_USER", "WP_APP_PASSWORD")}
    if not all(env.values()):
        missing = ", ".join(k for k, v in env.items() if not v)
        if os.environ.get("CI"):
            pytest.fail(f"CI must start WordPress: scripts/wordpress.sh start (missing {missing})")
        pytest.skip(f"no real WordPress: run scripts/wordpress.sh start and export its env (missing {missing})")
    return env


@pytest.fixture
def wp(site: dict[str, str]) -> Iterator[WordPress]:
    connector = WordPress(WordPressSettings(base_url=site["WP_URL"], username=site["WP_USER"],
                                            application_password=site["WP_APP_PASSWORD"]))
    yield connector
    connector.close()


@pytest.fixture
def admin(site: dict[str, str]) -> Iterator[httpx.Client]:
    """A plain client of the real site, as its administrator."""
    with httpx.Client(base_url=site["WP_URL"], auth=(site["WP_USER"], site["WP_APP_PASSWORD"]), timeout=30) as client:
        yield client


@pytest.fixture
def tag() -> str:
    """Makes this run's emails unique: the site keeps what earlier runs wrote."""
    return uuid.uuid4().hex[:10]


def records(pages: list[Page]) -> list[Record]:
    return [r for p in pages for r in p.records]


def test_check(wp: WordPress) -> None:
    result = wp.check()
    assert result.ok, result.message
    assert "administrator" in result.message


def test_check_with_a_wrong_password(site: dict[str, str]) -> None:
    settings = WordPressSettings(base_url=site["WP_URL"], username=site["WP_USER"], application_password="wrong" * 5)
    with WordPress(settings) as wrong:
        result = wrong.check()
    assert not result.ok and "wrong" * 5 not in result.message


def test_discover(wp: WordPress) -> None:
    fields = {stream: {f.name: f for f in infos} for stream, infos in wp.discover().items()}
    assert {"email", "first_name", "last_name", "username", "roles", "locale"} <= set(fields["users"])
    assert fields["users"]["id"].writable is False and "password" not in fields["users"]
    assert {"author", "author_email", "content.raw", "date_gmt", "post"} <= set(fields["comments"])


def test_full_read_of_users_is_paginated(wp: WordPress, site: dict[str, str], tag: str) -> None:
    made = wp.write("users", [WriteOp(f"{tag}-{i}", None, {"email": f"page{i}-{tag}@example.com"}) for i in range(5)])
    assert [r.status for r in made] == ["created"] * 5
    small = WordPress(WordPressSettings(base_url=site["WP_URL"], username=site["WP_USER"],
                                        application_password=site["WP_APP_PASSWORD"], page_size=2))
    with small:
        pages = list(small.read("users", None))
    read = [r.id for r in records(pages)]
    assert len(read) == len(set(read)) and len(pages) >= 3
    assert {r.target_id for r in made} <= set(read)
    assert [int(i) for i in read] == sorted(int(i) for i in read)
    assert pages[-1].state == {}
    user = next(r for r in records(pages) if r.id == made[0].target_id)
    assert user.data["email"] == f"page0-{tag}@example.com" and user.updated_at is None


def test_create_and_update_round_trip(wp: WordPress, admin: httpx.Client, tag: str) -> None:
    email = f"hanako-{tag}@example.com"
    created = wp.write("users", [WriteOp(tag, None, {"email": email, "first_name": "花子", "last_name": "佐藤"})])
    assert created[0].status == "created", created[0].error
    user_id = created[0].target_id
    before = {r.id: content_hash(r.data) for r in records(list(wp.read("users", None)))}
    user = admin.get(f"{USERS}/{user_id}", params={"context": "edit"}).json()
    assert (user["email"], user["first_name"], user["last_name"]) == (email, "花子", "佐藤")
    assert user["username"] == email and user["roles"] == ["subscriber"]
    updated = wp.write("users", [WriteOp(tag, user_id, {"last_name": "鈴木", "first_name": None})])
    assert (updated[0].status, updated[0].target_id) == ("updated", user_id)
    user = admin.get(f"{USERS}/{user_id}", params={"context": "edit"}).json()
    assert (user["first_name"], user["last_name"]) == ("", "鈴木")
    after = {r.id: content_hash(r.data) for r in records(list(wp.read("users", None)))}
    assert [i for i in before if before[i] != after.get(i)] == [user_id]  # only that user changed


def test_recreating_is_idempotent(wp: WordPress, admin: httpx.Client, tag: str) -> None:
    email = f"taro-{tag}@example.com"
    first = wp.write("users", [WriteOp(tag, None, {"email": email, "first_name": "Taro"})])
    again = wp.write("users", [WriteOp(tag, None, {"email": email.upper(), "first_name": "Taro", "last_name": "Y"})])
    assert first[0].status == "created" and again[0].status == "updated"
    assert again[0].target_id == first[0].target_id
    found = admin.get(USERS, params={"context": "edit", "search": email}).json()
    assert [u["id"] for u in found] == [int(first[0].target_id)]


def test_a_comment_by_the_user_reads_as_an_activity(wp: WordPress, admin: httpx.Client, tag: str) -> None:
    made = wp.write("users", [WriteOp(tag, None, {"email": f"commenter-{tag}@example.com", "first_name": "C"})])
    user_id = made[0].target_id
    state = list(wp.read("comments", None))[-1].state
    response = admin.post(COMMENTS, json={"post": 1, "author": int(user_id), "content": f"Great post {tag}"})
    assert response.status_code == 201, response.text
    comment_id = str(response.json()["id"])
    new = records(list(wp.read("comments", state)))
    assert [r.id for r in new] == [comment_id]
    record = new[0]
    assert record.data["author"] == int(user_id)
    assert record.data["author_email"] == f"commenter-{tag}@example.com"
    assert record.updated_at is not None and record.updated_at.tzinfo is not None
    mapping = pytest.importorskip("hub.mapping")
    transforms = pytest.importorskip("hub.transforms")
    loaded, issues = mapping.load_mapping_file(REPO / "mappings" / "wordpress.yaml",
                                               {t.name: t for t in transforms.BUILTINS}, streams=["users", "comments"])
    assert loaded is not None and issues == []
    activity = loaded.to_canonical("comments", record.data, connector="wordpress")
    loaded.validate("comments", activity)
    assert activity["type"] == "form_submission" and activity["person_id"] == f"@wordpress:users:{user_id}"
    assert activity["body"] == f"Great post {tag}"


def test_a_bad_email_fails_only_that_record(wp: WordPress, tag: str) -> None:
    results = wp.write("users", [
        WriteOp(f"{tag}-a", None, {"email": f"good-a-{tag}@example.com"}),
        WriteOp(f"{tag}-b", None, {"email": "not an email"}),
        WriteOp(f"{tag}-c", None, {"email": f"good-c-{tag}@example.com"}),
    ])
    assert [r.status for r in results] == ["created", "failed", "created"]
    assert results[1].field == "email" and results[1].error is not None
    assert results[1].error.startswith("rest_invalid_param")


# -- the fake answers as this WordPress does -------------------------------------------------
def _probe(client: httpx.Client, method: str, path: str, **kw: Any) -> tuple[int, str | None, Any]:
    response = client.request(method, path, **kw)
    body = response.json()
    if isinstance(body, dict) and "code" in body:
        data = body.get("data")
        params = data.get("params") if isinstance(data, dict) else None
        return response.status_code, body["code"], params or data  # params: {name: message} or [names]
    if isinstance(body, dict) and "responses" in body:
        return response.status_code, None, [(a["status"], a["body"].get("code")) for a in body["responses"]]
    if isinstance(body, list):
        return response.status_code, None, sorted(body[0]) if body else []
    return response.status_code, None, sorted(body)


PROBES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", USERS, {"params": {"per_page": 101}}),
    ("GET", USERS, {"params": {"page": 0}}),
    ("GET", USERS, {"params": {"orderby": "modified"}}),
    ("GET", USERS, {"params": {"context": "edit", "include": 1, "_fields": "id,username,email,roles,meta"}}),
    ("GET", f"{USERS}/me", {"params": {"context": "edit", "_fields": "id,username,capabilities"}}),
    ("GET", f"{USERS}/999999", {}),
    ("POST", USERS, {"json": {"first_name": "x"}}),
    ("POST", USERS, {"json": {"username": "probe", "email": "not-an-email", "password": "x"}}),
    ("POST", USERS, {"json": {"username": "probe+1", "email": "probe@example.com", "password": "x"}}),
    ("POST", USERS, {"json": {"username": "admin", "email": "probe@example.com", "password": "x"}}),
    ("POST", USERS, {"json": {"username": "probe", "email": "admin@example.com", "password": "x"}}),
    ("POST", USERS, {"json": {"username": "probe", "email": "probe@example.com", "password": "x", "first_name": 5}}),
    ("POST", USERS, {"json": {"username": "probe", "email": "probe@example.com", "password": "x", "locale": "ja"}}),
    ("POST", f"{USERS}/999999", {"json": {"first_name": "x"}}),
    ("POST", f"{USERS}/1", {"json": {"username": "renamed"}}),
    ("GET", COMMENTS, {"params": {"after": "yesterday"}}),
    ("GET", COMMENTS, {"params": {"per_page": 101}}),
    ("GET", COMMENTS, {"params": {"context": "edit", "include": 1, "status": "all"}}),
    ("POST", "/wp-json/batch/v1", {"json": {"requests": [{"path": "/wp/v2/users", "body": {}}] * 26}}),
    ("POST", "/wp-json/batch/v1", {"json": {"requests": [{"method": "GET", "path": "/wp/v2/users"}]}}),
    ("POST", "/wp-json/batch/v1", {"json": {"requests": [
        {"path": "/wp/v2/users", "body": {"username": "p", "email": "p@example.com", "password": "x"}}]}}),
]
VISITOR_PROBES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", f"{USERS}/me", {}),
    ("GET", USERS, {"params": {"context": "edit"}}),
    ("GET", COMMENTS, {"params": {"status": "all"}}),
    ("POST", USERS, {"json": {"username": "v", "email": "v@example.com", "password": "x"}}),
]


def test_the_fake_answers_as_the_real_site(site: dict[str, str], admin: httpx.Client) -> None:
    """Same requests to both: same status, error code, parameters named and fields returned.
    This site is WordPress 6.1 (Debian 12), whose users route does not allow batching."""
    fake = FakeWordPress(users_allow_batch=False)
    auth = httpx.BasicAuth("admin", fake.token)
    mismatches = []
    with httpx.Client(transport=fake.transport(), base_url=fake.base_url, auth=auth) as fake_admin, \
            httpx.Client(transport=fake.transport(), base_url=fake.base_url) as fake_visitor, \
            httpx.Client(base_url=site["WP_URL"], timeout=30) as visitor:
        for real_client, fake_client, probes in ((admin, fake_admin, PROBES), (visitor, fake_visitor, VISITOR_PROBES)):
            for method, path, kw in probes:
                real, fake_answer = _probe(real_client, method, path, **kw), _probe(fake_client, method, path, **kw)
                if real != fake_answer:
                    mismatches.append(f"{method} {path} {kw}: real {real} != fake {fake_answer}")
    assert mismatches == []
