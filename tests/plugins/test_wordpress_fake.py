"""The WordPress fake answers as WordPress's REST API does: paging, errors, auth, batch, data API."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.sandbox import Fault
from hub.sandbox.fake import sandbox_settings
from plugins.wordpress import FakeWordPress

PASSWORD = "Abcd1234Efgh5678Ijkl9012"
USERS = "/wp-json/wp/v2/users"
COMMENTS = "/wp-json/wp/v2/comments"
BATCH = "/wp-json/batch/v1"
BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def fake() -> FakeWordPress:
    return FakeWordPress(token=PASSWORD)


@pytest.fixture
def admin(fake: FakeWordPress) -> Iterator[httpx.Client]:
    with httpx.Client(transport=fake.transport(), base_url=fake.base_url, headers=basic("admin", PASSWORD)) as client:
        yield client


@pytest.fixture
def visitor(fake: FakeWordPress) -> Iterator[httpx.Client]:
    with httpx.Client(transport=fake.transport(), base_url=fake.base_url) as client:
        yield client


def new_user(**fields: Any) -> dict[str, Any]:
    return {"username": "taro", "email": "taro@example.com", "password": "s3cret-Pass", **fields}


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# -- a fresh site ----------------------------------------------------------------------------
def test_a_new_site_holds_what_a_fresh_install_does(fake: FakeWordPress) -> None:
    users, comments = fake.records("users"), fake.records("comments")
    assert [(u["id"], u["username"], u["roles"]) for u in users] == [(1, "admin", ["administrator"])]
    assert [(c["id"], c["author"], c["author_email"], c["status"]) for c in comments] == [
        (1, 0, "wapuu@wordpress.example", "approved")]
    assert fake.table("posts")["1"]["title"] == "Hello world!"


def test_sandbox_settings_authenticate(fake: FakeWordPress) -> None:
    settings = sandbox_settings(fake)
    assert settings == {"base_url": fake.base_url, "username": "admin", "application_password": PASSWORD}


def test_registered_as_the_wordpress_sandbox() -> None:
    import plugins.wordpress as wordpress_plugin
    from hub import plugins as hub_plugins

    loaded = hub_plugins.load()
    if "wordpress" not in loaded.sandboxes:
        loaded = hub_plugins.load(extra=[wordpress_plugin])
    assert loaded.sandboxes["wordpress"] is FakeWordPress


# -- authentication --------------------------------------------------------------------------
def test_credentials(fake: FakeWordPress, visitor: httpx.Client) -> None:
    me = visitor.get(f"{USERS}/me", params={"context": "edit"},
                     headers=basic("admin", PASSWORD[:4] + " " + PASSWORD[4:]))
    assert me.status_code == 200 and me.json()["username"] == "admin"  # spaces are ignored
    assert error(visitor.get(f"{USERS}/me")) == (401, "rest_not_logged_in")
    assert error(visitor.get(f"{USERS}/me", headers=basic("admin", "wrong"))) == (401, "incorrect_password")
    assert error(visitor.get(f"{USERS}/me", headers=basic("nobody", PASSWORD))) == (401, "invalid_username")
    assert visitor.get(f"{USERS}/me", headers=basic("admin@example.com", PASSWORD)).status_code == 200


def test_a_visitor_sees_authors_only_and_no_private_fields(fake: FakeWordPress, visitor: httpx.Client) -> None:
    fake.insert("users", {"email": "reader@example.com"})
    listed = visitor.get(USERS).json()
    assert [u["id"] for u in listed] == [1]
    assert "email" not in listed[0] and "roles" not in listed[0]
    assert error(visitor.get(USERS, params={"context": "edit"})) == (401, "rest_forbidden_context")
    assert error(visitor.post(USERS, json=new_user())) == (401, "rest_cannot_create_user")
    assert error(visitor.get(COMMENTS, params={"status": "all"})) == (401, "rest_forbidden_param")
    assert "author_email" not in visitor.get(COMMENTS).json()[0]


# -- users: listing --------------------------------------------------------------------------
def test_paging_headers_and_links(fake: FakeWordPress, admin: httpx.Client) -> None:
    for i in range(24):
        fake.insert("users", {"email": f"u{i}@example.com"})
    response = admin.get(USERS, params={"context": "edit", "per_page": 10, "page": 2, "orderby": "id"})
    assert response.headers["X-WP-Total"] == "25" and response.headers["X-WP-TotalPages"] == "3"
    assert [u["id"] for u in response.json()] == list(range(11, 21))
    assert 'rel="next"' in response.headers["Link"] and 'rel="prev"' in response.headers["Link"]
    assert "page=3" in response.headers["Link"]
    last = admin.get(USERS, params={"context": "edit", "per_page": 10, "page": 3, "orderby": "id"})
    assert len(last.json()) == 5 and 'rel="next"' not in last.headers.get("Link", "")
    beyond = admin.get(USERS, params={"per_page": 10, "page": 9})
    assert beyond.status_code == 200 and beyond.json() == []  # as WordPress 6.1 answers
    by_offset = admin.get(USERS, params={"orderby": "id", "per_page": 3, "offset": 4})
    assert [u["id"] for u in by_offset.json()] == [5, 6, 7]


@pytest.mark.parametrize(("params", "param", "message"), [
    ({"per_page": 101}, "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)"),
    ({"per_page": 0}, "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)"),
    ({"page": 0}, "page", "page must be greater than or equal to 1"),
    ({"per_page": "ten"}, "per_page", "per_page is not of type integer."),
    ({"order": "up"}, "order", "order is not one of asc and desc."),
    ({"orderby": "modified"}, "orderby", None),
])
def test_invalid_list_parameters(admin: httpx.Client, params: dict[str, Any], param: str, message: str | None) -> None:
    response = admin.get(USERS, params=params)
    body = response.json()
    assert (response.status_code, body["code"]) == (400, "rest_invalid_param")
    assert body["message"] == f"Invalid parameter(s): {param}"
    assert body["data"]["status"] == 400 and param in body["data"]["params"]
    if message:
        assert body["data"]["params"][param] == message
    assert body["data"]["details"][param]["code"].startswith("rest_")


def test_search_include_exclude_roles_and_fields(fake: FakeWordPress, admin: httpx.Client) -> None:
    a = fake.insert("users", {"email": "hanako@example.com", "first_name": "Hanako"})
    b = fake.insert("users", {"email": "jiro@example.org", "roles": ["editor"]})
    found = admin.get(USERS, params={"context": "edit", "search": "hanako@example.com"}).json()
    assert [u["id"] for u in found] == [int(a)]
    assert [u["id"] for u in admin.get(USERS, params={"search": "example.org"}).json()] == [int(b)]
    assert [u["id"] for u in admin.get(USERS, params={"include": f"{a},{b}", "exclude": a}).json()] == [int(b)]
    assert [u["id"] for u in admin.get(USERS, params={"roles": "editor"}).json()] == [int(b)]
    slim = admin.get(USERS, params={"context": "edit", "_fields": "id,email", "include": a}).json()
    assert slim == [{"id": int(a), "email": "hanako@example.com"}]


def test_edit_context_shape(fake: FakeWordPress, admin: httpx.Client) -> None:
    user_id = fake.insert("users", {"email": "t1@example.com", "first_name": "T", "last_name": "One"})
    user = admin.get(f"{USERS}/{user_id}", params={"context": "edit"}).json()
    assert {"id", "username", "name", "first_name", "last_name", "email", "url", "description", "link", "locale",
            "nickname", "slug", "roles", "registered_date", "capabilities", "extra_capabilities",
            "avatar_urls", "meta", "_links"} <= set(user)
    assert (user["username"], user["name"], user["slug"], user["nickname"]) == (
        "t1@example.com", "T One", "t1example-com", "t1@example.com")
    assert user["capabilities"]["subscriber"] and user["registered_date"].endswith("+00:00")
    assert error(admin.get(f"{USERS}/999")) == (404, "rest_user_invalid_id")


# -- users: writes ---------------------------------------------------------------------------
def test_create_user(fake: FakeWordPress, admin: httpx.Client) -> None:
    response = admin.post(USERS, json=new_user(first_name="太郎", roles=["author"]))
    assert response.status_code == 201
    user = response.json()
    assert (user["username"], user["email"], user["first_name"], user["roles"]) == (
        "taro", "taro@example.com", "太郎", ["author"])
    assert response.headers["Location"].endswith(f"{USERS}/{user['id']}")
    assert "password" not in user and "s3cret-Pass" not in json.dumps(fake.state)


@pytest.mark.parametrize(("body", "status", "code", "param"), [
    ({"first_name": "x"}, 400, "rest_missing_callback_param", None),
    (new_user(email="not-an-email"), 400, "rest_invalid_param", "email"),
    (new_user(username="taro+1"), 400, "rest_invalid_param", "username"),
    (new_user(first_name=5), 400, "rest_invalid_param", "first_name"),
    (new_user(locale="ja"), 400, "rest_invalid_param", "locale"),
    (new_user(roles=["king"]), 400, "rest_user_invalid_role", None),
    (new_user(username="admin", email="x@example.com"), 500, "existing_user_login", None),
    (new_user(email="ADMIN@example.com"), 500, "existing_user_email", None),
    (new_user(username="a" * 61), 500, "user_login_too_long", None),
])
def test_create_user_errors(admin: httpx.Client, body: dict[str, Any], status: int, code: str, param: str | None) -> None:
    response = admin.post(USERS, json=body)
    payload = response.json()
    assert (response.status_code, payload["code"]) == (status, code)
    if status == 500:
        assert payload["data"] is None  # wp_insert_user's errors carry no status
    if param:
        assert list(payload["data"]["params"]) == [param]
    if code == "rest_missing_callback_param":
        assert payload["data"]["params"] == ["username", "email", "password"]


def test_update_user(fake: FakeWordPress, admin: httpx.Client) -> None:
    user_id = fake.insert("users", {"email": "a@example.com", "first_name": "A"})
    fake.insert("users", {"email": "b@example.com"})
    updated = admin.post(f"{USERS}/{user_id}", json={"last_name": "Z", "meta": {"unregistered": 1}})
    assert updated.status_code == 200 and updated.json()["last_name"] == "Z"
    assert fake.table("users")[user_id]["first_name"] == "A"
    assert admin.put(f"{USERS}/{user_id}", json={"first_name": "B"}).json()["first_name"] == "B"
    assert error(admin.post(f"{USERS}/{user_id}", json={"email": "b@example.com"})) == (400, "rest_user_invalid_email")
    assert error(admin.post(f"{USERS}/{user_id}", json={"username": "new"})) == (400, "rest_user_invalid_argument")
    assert error(admin.post(f"{USERS}/999", json={"first_name": "x"})) == (404, "rest_user_invalid_id")
    assert error(admin.post(f"{USERS}/{user_id}", content=b"garbage{")) == (400, "rest_invalid_json")
    assert error(admin.delete(f"{USERS}/{user_id}")) == (404, "rest_no_route")


def test_route_options_say_whether_users_may_be_batched(fake: FakeWordPress, admin: httpx.Client) -> None:
    def allow(route: str) -> list[Any]:
        return [e.get("allow_batch") for e in admin.options(route).json()["endpoints"]]

    assert allow(USERS) == [None, {"v1": True}]
    assert allow(COMMENTS) == [None, None]
    fake.users_allow_batch = False
    assert allow(USERS) == [None, None]
    schema = admin.options(USERS).json()["schema"]["properties"]
    assert schema["email"]["format"] == "email" and schema["id"]["readonly"] is True


# -- comments --------------------------------------------------------------------------------
def test_comments_by_date(fake: FakeWordPress, admin: httpx.Client) -> None:
    fake.delete("comments", "1")
    ids = [fake.insert("comments", {"content": f"c{i}", "author_email": "g@example.com"},
                       at=BASE + timedelta(seconds=i)) for i in range(5)]
    fake.insert("comments", {"content": "held", "status": "hold"}, at=BASE)
    newest_first = admin.get(COMMENTS).json()
    assert [c["id"] for c in newest_first] == [int(i) for i in reversed(ids)]  # default: date_gmt desc
    params = {"context": "edit", "orderby": "date_gmt", "order": "asc", "after": "2024-05-01T12:00:02Z"}
    later = admin.get(COMMENTS, params=params).json()
    assert [c["id"] for c in later] == [int(ids[3]), int(ids[4])]  # after is exclusive
    assert later[0]["content"]["raw"] == "c3" and later[0]["date_gmt"] == "2024-05-01T12:00:03"
    assert later[0]["author_email"] == "g@example.com"
    tokyo = admin.get(COMMENTS, params={**params, "after": "2024-05-01T21:00:02+09:00"}).json()
    assert [c["id"] for c in tokyo] == [c["id"] for c in later]
    assert len(admin.get(COMMENTS, params={"status": "all"}).json()) == 6
    assert len(admin.get(COMMENTS, params={"status": "hold"}).json()) == 1
    assert error(admin.get(COMMENTS, params={"after": "yesterday"})) == (400, "rest_invalid_param")
    excluded = admin.get(COMMENTS, params={"exclude": f"{ids[0]},{ids[1]}", "order": "asc"}).json()
    assert [c["id"] for c in excluded] == [int(i) for i in ids[2:]]


def test_site_timezone_shows_in_date_not_date_gmt() -> None:
    fake = FakeWordPress(gmt_offset=9)
    comment = fake.table("comments")[fake.insert("comments", {"content": "x"}, at=BASE)]
    assert (comment["date_gmt"], comment["date"]) == ("2024-05-01T12:00:00", "2024-05-01T21:00:00")


def test_create_comment(fake: FakeWordPress, admin: httpx.Client) -> None:
    user_id = fake.insert("users", {"email": "m@example.com", "first_name": "M"})
    response = admin.post(COMMENTS, json={"post": 1, "author": int(user_id), "content": "Nice"})
    assert response.status_code == 201
    comment = response.json()
    assert (comment["author"], comment["author_email"], comment["content"]["raw"]) == (int(user_id), "m@example.com", "Nice")
    assert error(admin.post(COMMENTS, json={"post": 1, "content": ""})) == (400, "rest_comment_content_invalid")
    assert error(admin.post(COMMENTS, json={"post": 42, "content": "x"})) == (403, "rest_comment_invalid_post_id")


# -- batch -----------------------------------------------------------------------------------
def test_batch_writes_users_and_reports_each(fake: FakeWordPress, admin: httpx.Client) -> None:
    response = admin.post(BATCH, json={"requests": [
        {"method": "POST", "path": "/wp/v2/users", "body": new_user()},
        {"method": "POST", "path": "/wp/v2/users", "body": new_user(username="other")},  # email taken by then
        {"method": "POST", "path": "/wp/v2/users/1", "body": {"first_name": "Admin"}},
        {"method": "POST", "path": "/wp/v2/comments", "body": {"post": 1, "content": "x"}},
        {"path": "/wp/v2/users", "body": new_user(username="x", email="bad")},
    ]})
    assert response.status_code == 207
    answers = response.json()["responses"]
    assert [a["status"] for a in answers] == [201, 500, 200, 400, 400]
    assert answers[0]["body"]["username"] == "taro"
    assert [a["body"].get("code") for a in answers] == [
        None, "existing_user_email", None, "rest_batch_not_allowed", "rest_invalid_param"]
    assert answers[4]["body"]["data"]["params"] == {"email": "Invalid email address."}
    assert fake.table("users")["1"]["first_name"] == "Admin"


def test_batch_limits_and_validation(fake: FakeWordPress, admin: httpx.Client) -> None:
    too_many = [{"path": "/wp/v2/users", "body": new_user(username=f"u{i}", email=f"u{i}@example.com")}
                for i in range(26)]
    body = admin.post(BATCH, json={"requests": too_many}).json()
    assert body["code"] == "rest_invalid_param"
    assert body["data"]["params"] == {"requests": "requests must contain at most 25 items."}
    bad_method = admin.post(BATCH, json={"requests": [{"method": "GET", "path": "/wp/v2/users"}]}).json()
    assert bad_method["data"]["params"]["requests"] == "requests[0][method] is not one of POST, PUT, PATCH, and DELETE."
    strict = admin.post(BATCH, json={"validation": "require-all-validate", "requests": [
        {"path": "/wp/v2/users", "body": new_user()},
        {"path": "/wp/v2/users", "body": new_user(username="y", email="bad")},
    ]})
    assert strict.status_code == 207 and strict.json()["failed"] == "validation"
    assert strict.json()["responses"][0] is None
    assert len(fake.records("users")) == 1  # nothing was written


def test_batch_refuses_users_before_wordpress_6_6(fake: FakeWordPress, admin: httpx.Client) -> None:
    fake.users_allow_batch = False
    answer = admin.post(BATCH, json={"requests": [{"path": "/wp/v2/users", "body": new_user()}]}).json()
    assert answer["responses"][0]["body"]["code"] == "rest_batch_not_allowed"
    assert answer["responses"][0]["headers"] == {"Allow": "GET, POST"}


# -- faults, data API, persistence, serving --------------------------------------------------
def test_injected_faults(fake: FakeWordPress, admin: httpx.Client) -> None:
    fake.inject(Fault(429, retry_after=3, path_contains="/users"))
    limited = admin.get(USERS)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert admin.get(USERS).status_code == 200


def test_data_api_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "wordpress.json"
    fake = FakeWordPress(state_path=path)
    user = fake.insert("users", {"email": "p@example.com", "first_name": "P"})
    comment = fake.insert("comments", {"author": int(user), "content": "hello"}, at=BASE)
    fake.update("users", user, {"last_name": "Q"})
    fake.update("comments", comment, {"content": "edited"})
    again = FakeWordPress(state_path=path)
    assert again.table("users")[user]["last_name"] == "Q"
    assert again.table("comments")[comment]["content"] == {"raw": "edited", "rendered": "<p>edited</p>\n"}
    assert again.insert("users", {"email": "r@example.com"}) == str(int(user) + 1)
    again.delete("users", user)
    assert user not in FakeWordPress(state_path=path).table("users")
    with httpx.Client(transport=again.transport(), base_url=again.base_url, headers=basic("admin", "sandbox-token")) as c:
        c.post(USERS, json=new_user())
    assert any(u["username"] == "taro" for u in FakeWordPress(state_path=path).records("users"))


def test_served_over_real_http(fake: FakeWordPress) -> None:
    from hub.sandbox.serve import serve_in_thread

    from plugins.wordpress import WordPress, WordPressSettings

    with serve_in_thread(fake.asgi()) as url:
        settings = WordPressSettings(**{**sandbox_settings(fake), "base_url": url})
        with WordPress(settings) as wp:
            assert wp.check().ok
            assert [r.id for p in wp.read("users", None) for r in p.records] == ["1"]
