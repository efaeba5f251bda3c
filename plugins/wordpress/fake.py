"""A stateful fake of a WordPress site's REST API, for the sandbox, demos and tests.

It answers what the WordPress connector uses the way WordPress does (checked against a real
WordPress 6.1 served by ``scripts/wordpress.sh``):

* ``/wp-json/wp/v2/users`` (list, create), ``/users/{id}`` (read, update), ``/users/me``;
  ``context=view|edit``, ``page``/``per_page`` (1-100)/``offset``, ``search``, ``include``,
  ``exclude``, ``roles``, ``orderby``/``order``, ``_fields``; ``X-WP-Total`` and
  ``X-WP-TotalPages`` headers and ``Link`` rel next/prev;
* ``/wp-json/wp/v2/comments`` (list, create): ``after``/``before``, ``status``, ``author``,
  ``author_email``, ``post``, ``type``, ``orderby`` (``date_gmt`` by default, ties by id);
* ``OPTIONS`` on both routes (their schema, and ``allow_batch`` on the users route as in
  WordPress 6.6+; ``users_allow_batch=False`` answers as older versions do);
* ``/wp-json/batch/v1`` (at most 25 requests, ``validation`` ``normal`` or
  ``require-all-validate``, ``rest_batch_not_allowed`` for routes that do not allow it).

Errors come in WordPress's shape ``{"code", "message", "data": {"status", "params"?}}``, with its
quirks: what ``wp_insert_user`` refuses (``existing_user_login``, ``existing_user_email``, a login
over 60 characters) answers HTTP 500 with ``"data": null``. Authentication is an Application
Password (Basic ``username:password``, spaces in the password ignored); without credentials the
API answers as WordPress does to a visitor (users who published posts, approved comments), and with
wrong ones ``401 incorrect_password`` / ``invalid_username``.

Public data API (seeding, ``hub sandbox edit``, demos): :meth:`FakeWordPress.insert`,
:meth:`FakeWordPress.update`, :meth:`FakeWordPress.delete`, plus :meth:`FakeVendor.records`. It
stores values as given; only the HTTP API validates. A new site holds what a fresh install does:
the administrator (id 1), the "Hello world!" post and a guest's comment on it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from hub.sandbox.fake import FakeVendor, route

try:  # Python 3.12+
    from typing import override
except ImportError:  # pragma: no cover - Python 3.11
    from typing_extensions import override

API = "/wp-json/wp/v2"
MAX_PER_PAGE = 100
MAX_BATCH = 25
MAX_LOGIN = 60
ADMIN_EMAIL = "admin@example.com"
LOCALES = ("", "en_US")
ROLES = ("administrator", "editor", "author", "contributor", "subscriber")
USER_ORDERBY = ("id", "include", "name", "registered_date", "slug", "include_slugs", "email", "url")
COMMENT_ORDERBY = ("date", "date_gmt", "id", "include", "post", "parent", "type")
BATCH_METHODS = ("POST", "PUT", "PATCH", "DELETE")
COMMENT_STATUS = {"approve": ("approved",), "hold": ("hold",), "all": ("approved", "hold"),
                  "spam": ("spam",), "trash": ("trash",)}
USER_STRINGS = ("username", "name", "first_name", "last_name", "email", "url", "description", "locale",
                "nickname", "slug", "password")
USER_VIEW = ("id", "name", "url", "description", "link", "slug", "avatar_urls", "meta")
COMMENT_VIEW = ("id", "post", "parent", "author", "author_name", "author_url", "date", "date_gmt", "content",
                "link", "status", "type", "author_avatar_urls", "meta")
# What WordPress's is_email() accepts, roughly: a local part, and a domain of two or more labels.
EMAIL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
                      r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
LOGIN_RE = re.compile(r"^[A-Za-z0-9 _.\-@]+$")  # sanitize_user(..., strict) keeps these
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:?\d{2})?$")

CAPABILITIES = {
    "administrator": ("switch_themes", "edit_themes", "activate_plugins", "edit_plugins", "edit_users",
                      "edit_files", "manage_options", "moderate_comments", "manage_categories", "upload_files",
                      "edit_posts", "edit_others_posts", "publish_posts", "edit_pages", "read", "delete_users",
                      "create_users", "list_users", "remove_users", "promote_users", "level_10", "level_0"),
    "editor": ("moderate_comments", "edit_posts", "edit_others_posts", "publish_posts", "edit_pages", "read",
               "level_7", "level_0"),
    "author": ("upload_files", "edit_posts", "publish_posts", "read", "level_2", "level_0"),
    "contributor": ("edit_posts", "read", "level_1", "level_0"),
    "subscriber": ("read", "level_0"),
}

Params = dict[str, Any]


def wp_time(moment: datetime) -> str:
    """A WordPress timestamp: ``2024-05-01T12:00:00`` (seconds, no zone)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _parse_date(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00").replace(" ", "T"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _alnum(password: str) -> str:
    """What WordPress compares of an Application Password: letters and digits only."""
    return re.sub(r"[^A-Za-z0-9]", "", password)


def _avatars(email: str | None) -> dict[str, str]:
    digest = hashlib.md5((email or "").strip().lower().encode()).hexdigest()  # noqa: S324 - Gravatar's scheme
    return {str(s): f"https://secure.gravatar.com/avatar/{digest}?s={s}&d=mm&r=g" for s in (24, 48, 96)}


def _slugify(text: str) -> str:
    """Roughly ``sanitize_title``: ``t1@example.com`` -> ``t1example-com``."""
    slug = text.lower().replace("@", "")
    slug = re.sub(r"[^a-z0-9_\-]+", "-", slug)
    return re.sub(r"-{2,}", "-", slug).strip("-") or "user"


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])}, {word} {items[-1]}" if len(items) > 2 else f"{items[0]} {word} {items[1]}"


class _Reject(Exception):
    """A request refused with ``response``."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class FakeWordPress(FakeVendor):
    """Fake WordPress site.

    Args:
        state_path: JSON file that persists the site between processes (None: in memory).
        token: the Application Password every authenticated request must carry.
        username: the login the Application Password belongs to (an administrator).
        users_allow_batch: whether the users route allows ``/batch/v1`` (WordPress 6.6+).
        gmt_offset: the site's UTC offset in hours (``date`` fields are local, ``*_gmt`` UTC).

    Record shapes (what :meth:`records` returns; the API adds ``capabilities``, ``avatar_urls`` and
    ``_links``, and shows less without ``context=edit``):

    * users: ``id, username, name, first_name, last_name, email, url, description, link, locale,
      nickname, slug, roles, registered_date, meta``;
    * comments: ``id, post, parent, author (user id, 0 for a guest), author_name, author_email,
      author_url, author_ip, author_user_agent, date, date_gmt, content {raw, rendered}, link,
      status (approved, hold, spam, trash), type, meta``.
    """

    name = "wordpress"
    streams = ("users", "comments")
    base_url = "https://wordpress.sandbox.example"

    def __init__(
        self,
        *,
        state_path: Path | str | None = None,
        token: str = "sandbox-token",
        username: str = "admin",
        users_allow_batch: bool = True,
        gmt_offset: float = 0,
    ) -> None:
        self.username = username
        self.users_allow_batch = users_allow_batch
        self.gmt_offset = gmt_offset
        self._current: dict[str, Any] | None = None  # the authenticated user of the request
        super().__init__(state_path=state_path, token=token)

    # -- FakeVendor hooks ----------------------------------------------------------------
    @override
    def empty_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"next_id": {"users": 1, "comments": 1, "posts": 1},
                                 "records": {"users": {}, "comments": {}, "posts": {}}}
        self.state = state
        admin = self._new_user({"username": self.username, "email": ADMIN_EMAIL, "roles": ["administrator"]})
        post = self._next("posts")
        state["records"]["posts"][post] = {"id": int(post), "title": "Hello world!", "slug": "hello-world",
                                           "author": admin["id"], "status": "publish"}
        self._new_comment({"post": int(post), "author_name": "A WordPress Commenter",
                           "author_email": "wapuu@wordpress.example", "author_url": "https://wordpress.org/",
                           "content": "Hi, this is a comment."})
        return state

    @override
    def authorize(self, request: httpx.Request) -> httpx.Response | None:
        self._current = None
        header = request.headers.get("Authorization", "")
        if not header:
            return None  # a visitor
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None  # WordPress ignores other schemes
        try:
            login, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return self.error(401, "The provided password is an invalid application password.", "incorrect_password")
        user = self._by("users", "username", login) or self._by("users", "email", login)
        if user is None:
            return self.error(401, "<strong>Error:</strong> Unknown username. Check again or try your email address.",
                              "invalid_username")
        if login not in (self.username, ADMIN_EMAIL) or _alnum(password) != _alnum(self.token):
            return self.error(401, "The provided password is an invalid application password.", "incorrect_password")
        self._current = user
        return None

    @override
    def error(self, status: int, message: str, code: str | None = None, **data: Any) -> httpx.Response:
        """WordPress's error shape (``data`` null for errors raised without a status)."""
        if code is None:  # the base class's own errors
            if status in (404, 405):
                status, code, message = 404, "rest_no_route", "No route was found matching the URL and request method."
            else:
                code = "rest_invalid_json"
                message = "Invalid JSON body passed."
                data = {"json_error_code": 4, "json_error_message": "Syntax error"}
        body = {"code": code, "message": message, "data": None if status == 500 and not data else {"status": status, **data}}
        return self.json(body, status)

    def extra_settings(self) -> dict[str, Any]:
        """Connector settings that authenticate against this fake."""
        return {"username": self.username, "application_password": self.token}

    # -- data API ------------------------------------------------------------------------
    def insert(self, stream: str, fields: dict[str, Any], *, at: datetime | None = None) -> str:
        """Create a record as the site would (users, comments or posts); returns its id.

        Users: ``username`` defaults to the email. Comments: ``post`` defaults to 1, ``author`` to 0
        (a guest), ``content`` may be plain text, ``at`` sets ``date_gmt``.
        """
        with self.lock:
            if stream == "users":
                record = self._new_user(fields, at=at)
            elif stream == "comments":
                record = self._new_comment(fields, at=at)
            elif stream == "posts":
                record_id = self._next("posts")
                record = {"id": int(record_id), "title": "", "slug": f"post-{record_id}", "author": 1,
                          "status": "publish", **fields}
                self.table("posts")[record_id] = record
            else:
                raise KeyError(f"FakeWordPress has no stream {stream!r}")
            self._saved()
            return str(record["id"])

    def update(self, stream: str, record_id: str, fields: dict[str, Any]) -> None:
        """Change a record's fields as given (comment ``content`` may be plain text)."""
        with self.lock:
            record = self.table(stream)[str(record_id)]
            for name, value in fields.items():
                if stream == "comments" and name == "content" and isinstance(value, str):
                    value = {"raw": value, "rendered": _render(value)}
                record[name] = value
            self._saved()

    def delete(self, stream: str, record_id: str) -> None:
        """Remove a record (a user's comments keep their author id, as WordPress leaves them)."""
        with self.lock:
            self.table(stream).pop(str(record_id), None)
            self._saved()

    def _saved(self) -> None:
        self.mutated()
        self.save()

    # -- users ---------------------------------------------------------------------------
    @route("GET", API + r"/users")
    def list_users(self, request: httpx.Request, body: Any) -> httpx.Response:
        try:
            q = self._collection(request, USER_ORDERBY, default_order="asc", default_orderby="name")
            context = self._context(request, "users")
        except _Reject as exc:
            return exc.response
        users = list(self.table("users").values())
        if self._current is None:  # a visitor sees the users who published posts
            authors = {p["author"] for p in self.table("posts").values() if p.get("status") == "publish"}
            users = [u for u in users if u["id"] in authors]
        search = q.params.get("search")
        if search:
            needle = search.strip("*").lower()
            if "@" in needle:
                columns: tuple[str, ...] = ("email",)
            elif needle.isdigit():
                columns = ("username", "id")
            else:
                columns = ("username", "url", "email", "slug", "name")
            users = [u for u in users if any(needle in str(u.get(c) or "").lower() for c in columns)]
        if q.params.get("roles"):
            wanted = set(q.list("roles"))
            users = [u for u in users if wanted & set(u.get("roles") or ())]
        if q.params.get("slug"):
            slugs = set(q.list("slug"))
            users = [u for u in users if u["slug"] in slugs]
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "id": lambda u: u["id"], "name": lambda u: (u["name"].lower(), u["id"]),
            "registered_date": lambda u: (u["registered_date"], u["id"]), "slug": lambda u: u["slug"],
            "email": lambda u: (u["email"] or "").lower(), "url": lambda u: (u["url"], u["id"]),
        }
        return self._listing(request, q, users, keys, lambda u: self._user_out(u, context))

    @route("GET", API + r"/users/(?P<user_id>\d+)")
    def get_user(self, request: httpx.Request, body: Any, user_id: str) -> httpx.Response:
        try:
            context = self._context(request, "users")
        except _Reject as exc:
            return exc.response
        user = self.table("users").get(str(int(user_id)))
        if user is None:
            return self.error(404, "Invalid user ID.", "rest_user_invalid_id")
        return self.json(_only(self._user_out(user, context), request))

    @route("GET", API + r"/users/me")
    def me(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self._current is None:
            return self.error(401, "You are not currently logged in.", "rest_not_logged_in")
        context = request.url.params.get("context", "view")
        return self.json(_only(self._user_out(self._current, context), request))

    @route("POST", API + r"/users")
    def create_user(self, request: httpx.Request, body: Any) -> httpx.Response:
        try:
            fields = self._user_input(request, body, create=True)
        except _Reject as exc:
            return exc.response
        if self._current is None:
            return self.error(401, "Sorry, you are not allowed to create new users.", "rest_cannot_create_user")
        login = fields["username"]
        if len(login) > MAX_LOGIN:
            return self.error(500, "Username may not be longer than 60 characters.", "user_login_too_long")
        if self._by("users", "username", login) is not None:
            return self.error(500, "Sorry, that username already exists!", "existing_user_login")
        if self._by("users", "email", fields["email"]) is not None:
            return self.error(500, "Sorry, that email address is already used!", "existing_user_email")
        fields.pop("password", None)
        user = self._new_user(fields)
        self.mutated()
        out = self._user_out(user, "edit")
        return self.json(out, 201, {"Location": f"{self.base_url}{API}/users/{user['id']}"})

    @route("POST", API + r"/users/(?P<user_id>\d+)")
    def update_user(self, request: httpx.Request, body: Any, user_id: str) -> httpx.Response:
        try:
            fields = self._user_input(request, body, create=False)
        except _Reject as exc:
            return exc.response
        if self._current is None:
            return self.error(401, "Sorry, you are not allowed to edit this user.", "rest_cannot_edit")
        user = self.table("users").get(str(int(user_id)))
        if user is None:
            return self.error(404, "Invalid user ID.", "rest_user_invalid_id")
        email = fields.get("email")
        if email is not None:
            owner = self._by("users", "email", email)
            if owner is not None and owner["id"] != user["id"]:
                return self.error(400, "Invalid email address.", "rest_user_invalid_email")
        if fields.get("username") and fields["username"] != user["username"]:
            return self.error(400, "Username is not editable.", "rest_user_invalid_argument")
        slug = fields.get("slug")
        if slug and slug != user["slug"] and self._by("users", "slug", slug) is not None:
            return self.error(400, "Invalid slug.", "rest_user_invalid_slug")
        fields.pop("password", None)
        fields.pop("username", None)
        meta = fields.pop("meta", None)
        user.update(fields)
        if isinstance(meta, dict):
            user["meta"] = {**(user.get("meta") or {}), **meta}
        self.mutated()
        return self.json(self._user_out(user, "edit"))

    @route("PUT", API + r"/users/(?P<user_id>\d+)")
    def put_user(self, request: httpx.Request, body: Any, user_id: str) -> httpx.Response:
        return self.update_user(request, body, user_id)

    @route("PATCH", API + r"/users/(?P<user_id>\d+)")
    def patch_user(self, request: httpx.Request, body: Any, user_id: str) -> httpx.Response:
        return self.update_user(request, body, user_id)

    @route("OPTIONS", API + r"/users")
    def users_route(self, request: httpx.Request, body: Any) -> httpx.Response:
        post: dict[str, Any] = {"methods": ["POST"], "args": {}}
        if self.users_allow_batch:
            post["allow_batch"] = {"v1": True}
        return self.json({"namespace": "wp/v2", "methods": ["GET", "POST"],
                          "endpoints": [{"methods": ["GET"], "args": {}}, post],
                          "schema": _schema("user", USER_SCHEMA)})

    # -- comments ------------------------------------------------------------------------
    @route("GET", API + r"/comments")
    def list_comments(self, request: httpx.Request, body: Any) -> httpx.Response:
        try:
            q = self._collection(request, COMMENT_ORDERBY, default_order="desc", default_orderby="date_gmt")
            context = self._context(request, "comments")
            for name in ("author", "author_exclude", "author_email"):
                if q.params.get(name) and self._current is None:
                    raise _Reject(self.error(401, f"Query parameter not permitted: {name}", "rest_forbidden_param"))
            status = q.params.get("status", "approve").lower()
            kind = q.params.get("type", "comment").lower()
            if self._current is None and (status != "approve" or kind != "comment"):
                which = "status" if status != "approve" else "type"
                raise _Reject(self.error(401, f"Query parameter not permitted: {which}", "rest_forbidden_param"))
            after, before = (q.date(name) for name in ("after", "before"))
        except _Reject as exc:
            return exc.response
        comments = [c for c in self.table("comments").values()
                    if c["status"] in COMMENT_STATUS.get(status, (status,)) and c["type"] == kind]
        if after is not None:
            comments = [c for c in comments if _parse_date(c["date_gmt"]) > after]
        if before is not None:
            comments = [c for c in comments if _parse_date(c["date_gmt"]) < before]
        for name, field in (("author", "author"), ("post", "post"), ("parent", "parent")):
            if q.params.get(name):
                wanted = {int(v) for v in q.list(name)}
                comments = [c for c in comments if c[field] in wanted]
        if q.params.get("author_email"):
            comments = [c for c in comments if (c["author_email"] or "").lower() == q.params["author_email"].lower()]
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "id": lambda c: c["id"], "date": lambda c: (c["date"], c["id"]),
            "date_gmt": lambda c: (c["date_gmt"], c["id"]), "post": lambda c: (c["post"], c["id"]),
            "parent": lambda c: (c["parent"], c["id"]), "type": lambda c: (c["type"], c["id"]),
        }
        return self._listing(request, q, comments, keys, lambda c: self._comment_out(c, context))

    @route("POST", API + r"/comments")
    def create_comment(self, request: httpx.Request, body: Any) -> httpx.Response:
        if not isinstance(body, dict):
            body = {}
        if self._current is None:
            return self.error(401, "Sorry, you must be logged in to comment.", "rest_comment_login_required")
        post = body.get("post")
        if not isinstance(post, int) or str(post) not in self.table("posts"):
            return self.error(403, "Sorry, you are not allowed to create this comment without a post.",
                              "rest_comment_invalid_post_id")
        content = body.get("content")
        content = content.get("raw") if isinstance(content, dict) else content
        if not isinstance(content, str) or not content.strip():
            return self.error(400, "Invalid comment content.", "rest_comment_content_invalid")
        fields = {k: body[k] for k in ("author", "author_name", "author_email", "author_url", "parent",
                                       "date_gmt", "author_ip", "author_user_agent") if k in body}
        fields.update(post=post, content=content)
        email = fields.get("author_email")
        if email is not None and not EMAIL_RE.match(str(email)):
            return self._invalid({"author_email": ("Invalid email address.", "rest_invalid_email")})
        author = fields.get("author", self._current["id"])
        user = self.table("users").get(str(author)) if author else None
        if author and user is None:
            return self.error(400, "Invalid comment author ID.", "rest_comment_author_invalid")
        if user is not None:
            fields.setdefault("author_name", user["name"])
            fields.setdefault("author_email", user["email"])
            fields.setdefault("author_url", user["url"])
        fields["author"] = int(author or 0)
        status = body.get("status")
        if status is not None:
            fields["status"] = {"approve": "approved", "1": "approved", "0": "hold"}.get(str(status), str(status))
        comment = self._new_comment(fields)
        self.mutated()
        return self.json(self._comment_out(comment, "edit"), 201,
                         {"Location": f"{self.base_url}{API}/comments/{comment['id']}"})

    @route("OPTIONS", API + r"/comments")
    def comments_route(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self.json({"namespace": "wp/v2", "methods": ["GET", "POST"],
                          "endpoints": [{"methods": ["GET"], "args": {}}, {"methods": ["POST"], "args": {}}],
                          "schema": _schema("comment", COMMENT_SCHEMA)})

    # -- batch ---------------------------------------------------------------------------
    @route("POST", r"/wp-json/batch/v1")
    def batch(self, request: httpx.Request, body: Any) -> httpx.Response:
        body = body if isinstance(body, dict) else {}
        requests = body.get("requests")
        validation = body.get("validation", "normal")
        if requests is None:
            return self.error(400, "Missing parameter(s): requests", "rest_missing_callback_param",
                              params=["requests"])
        if validation not in ("require-all-validate", "normal"):
            return self._invalid({"validation": ("validation is not one of require-all-validate and normal.",
                                                 "rest_not_in_enum")})
        if not isinstance(requests, list):
            return self._invalid({"requests": ("requests is not of type array.", "rest_invalid_type")})
        if len(requests) > MAX_BATCH:
            return self._invalid({"requests": (f"requests must contain at most {MAX_BATCH} items.",
                                               "rest_too_many_items")})
        for i, item in enumerate(requests):
            if not isinstance(item, dict):
                return self._invalid({"requests": (f"requests[{i}] is not of type object.", "rest_invalid_type")})
            if not isinstance(item.get("path"), str):
                return self._invalid({"requests": (f"requests[{i}][path] is a required property of requests[{i}].",
                                                   "rest_property_required")})
            if item.get("method", "POST") not in BATCH_METHODS:
                return self._invalid({"requests": (f"requests[{i}][method] is not one of "
                                                   f"{_join(list(BATCH_METHODS))}.", "rest_not_in_enum")})
        plans = [self._batch_plan(item) for item in requests]
        if validation == "require-all-validate" and any(isinstance(p, httpx.Response) for p in plans):
            responses = [_envelope(p) if isinstance(p, httpx.Response) else None for p in plans]
            return self.json({"failed": "validation", "responses": responses}, 207)
        out = []
        for plan in plans:
            if isinstance(plan, httpx.Response):
                out.append(_envelope(plan))
                continue
            handler, inner, inner_body, kwargs = plan
            out.append(_envelope(handler(inner, inner_body, **kwargs)))
        return self.json({"responses": out}, 207)

    def _batch_plan(self, item: dict[str, Any]) -> Any:
        """The handler of one batched request, or the response refusing it."""
        method = item.get("method", "POST")
        path = "/wp-json" + item["path"].split("?", 1)[0]
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if not match or route_method != method:
                continue
            if not (self.users_allow_batch and path.startswith(API + "/users") and "/me" not in path):
                return self.json({"code": "rest_batch_not_allowed",
                                  "message": "The requested route does not support batch requests.",
                                  "data": {"status": 400}}, 400, {"Allow": "GET, POST"})
            inner_body = item.get("body") if isinstance(item.get("body"), dict) else {}
            inner = httpx.Request(method, f"{self.base_url}{path}", json=inner_body)
            try:
                self._user_input(inner, inner_body, create="(?P" not in pattern.pattern and method == "POST")
            except _Reject as exc:
                return exc.response
            return handler, inner, inner_body, match.groupdict()
        return self.error(404, "No route was found matching the URL and request method.", "rest_no_route")

    # -- shared request handling ---------------------------------------------------------
    def _collection(self, request: httpx.Request, orderby: tuple[str, ...], *, default_order: str,
                    default_orderby: str) -> _Query:
        q = _Query(self, request)
        problems: dict[str, tuple[str, str]] = {}
        per_page = q.integer("per_page", 10, problems)
        page = q.integer("page", 1, problems)
        offset = q.integer("offset", 0, problems)
        if per_page is not None and not 1 <= per_page <= MAX_PER_PAGE:
            problems["per_page"] = (f"per_page must be between 1 (inclusive) and {MAX_PER_PAGE} (inclusive)",
                                    "rest_out_of_bounds")
        if page is not None and page < 1:
            problems["page"] = ("page must be greater than or equal to 1", "rest_out_of_bounds")
        order = q.params.get("order", default_order)
        if order not in ("asc", "desc"):
            problems["order"] = ("order is not one of asc and desc.", "rest_not_in_enum")
        by = q.params.get("orderby", default_orderby)
        if by not in orderby:
            problems["orderby"] = (f"orderby is not one of {_join(list(orderby))}.", "rest_not_in_enum")
        for name in ("after", "before"):
            value = q.params.get(name)
            if value is not None and not ISO_RE.match(value):
                problems[name] = ("Invalid date.", "rest_invalid_date")
        for name in ("include", "exclude", "author", "post", "parent"):
            if q.params.get(name) and not all(v.strip().isdigit() for v in q.list(name)):
                problems[name] = (f"{name}[0] is not of type integer.", "rest_invalid_type")
        if problems:
            raise _Reject(self._invalid(problems))
        q.per_page, q.page, q.offset, q.order, q.orderby = per_page or 10, page or 1, offset or 0, order, by
        return q

    def _context(self, request: httpx.Request, stream: str) -> str:
        context = request.url.params.get("context", "view")
        if context not in ("view", "embed", "edit"):
            raise _Reject(self._invalid({"context": ("context is not one of view, embed, and edit.", "rest_not_in_enum")}))
        if context == "edit" and self._current is None:
            what = "users" if stream == "users" else "comments"
            raise _Reject(self.error(401, f"Sorry, you are not allowed to edit {what}.", "rest_forbidden_context"))
        return context

    def _listing(self, request: httpx.Request, q: _Query, items: list[dict[str, Any]],
                 keys: dict[str, Callable[[dict[str, Any]], Any]], render: Callable[[dict[str, Any]], Any]
                 ) -> httpx.Response:
        if q.params.get("include"):
            wanted = {int(v) for v in q.list("include")}
            items = [i for i in items if i["id"] in wanted]
        if q.params.get("exclude"):
            unwanted = {int(v) for v in q.list("exclude")}
            items = [i for i in items if i["id"] not in unwanted]
        key = keys.get(q.orderby, keys["id"])
        items = sorted(items, key=key, reverse=q.order == "desc")
        total = len(items)
        pages = math.ceil(total / q.per_page) if total else 0
        start = q.offset if q.params.get("offset") not in (None, "", "0") else (q.page - 1) * q.per_page
        chosen = items[start:start + q.per_page]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = []
        base = f"{self.base_url}{request.url.path}"
        others = [(k, v) for k, v in request.url.params.multi_items() if k != "page"]
        if q.page > 1:
            links.append(f'<{httpx.URL(base, params=[*others, ("page", str(min(q.page - 1, max(pages, 1))))])}>; rel="prev"')
        if pages > q.page:
            links.append(f'<{httpx.URL(base, params=[*others, ("page", str(q.page + 1))])}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return self.json([_only(render(i), request) for i in chosen], 200, headers)

    def _invalid(self, problems: dict[str, tuple[str, str]]) -> httpx.Response:
        return self.error(
            400, f"Invalid parameter(s): {', '.join(problems)}", "rest_invalid_param",
            params={k: m for k, (m, _) in problems.items()},
            details={k: {"code": c, "message": m, "data": None} for k, (m, c) in problems.items()},
        )

    def _user_input(self, request: httpx.Request, body: Any, *, create: bool) -> dict[str, Any]:
        """The user fields of a create/update, validated as WordPress validates its args."""
        fields: dict[str, Any] = dict(request.url.params)
        if isinstance(body, dict):
            fields.update(body)
        if create:
            missing = [n for n in ("username", "email", "password") if fields.get(n) in (None, "")]
            if missing:
                raise _Reject(self.error(400, f"Missing parameter(s): {', '.join(missing)}",
                                         "rest_missing_callback_param", params=missing))
        problems: dict[str, tuple[str, str]] = {}
        for name in USER_STRINGS:
            if name in fields and not isinstance(fields[name], str):
                problems[name] = (f"{name} is not of type string.", "rest_invalid_type")
        email = fields.get("email")
        if isinstance(email, str) and "email" not in problems and not EMAIL_RE.match(email.strip()):
            problems["email"] = ("Invalid email address.", "rest_invalid_email")
        login = fields.get("username")
        if isinstance(login, str) and "username" not in problems and not LOGIN_RE.match(login):
            problems["username"] = ("This username is invalid because it uses illegal characters. "
                                    "Please enter a valid username.", "rest_user_invalid_username")
        locale = fields.get("locale")
        if isinstance(locale, str) and locale not in LOCALES:
            problems["locale"] = (f"locale is not one of {_join(list(LOCALES))}.", "rest_not_in_enum")
        roles = fields.get("roles")
        if roles is not None and (not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)):
            problems["roles"] = ("roles is not of type array.", "rest_invalid_type")
        if "meta" in fields and not isinstance(fields["meta"], dict | list):
            problems["meta"] = ("meta is not of type object.", "rest_invalid_type")
        if problems:
            raise _Reject(self._invalid(problems))
        for role in roles or ():
            if role not in ROLES:
                raise _Reject(self.error(400, f"The role {role} does not exist.", "rest_user_invalid_role"))
        known = {*USER_STRINGS, "roles", "meta"}
        out = {k: v for k, v in fields.items() if k in known}
        if isinstance(out.get("email"), str):
            out["email"] = out["email"].strip()
        if isinstance(out.get("meta"), dict):
            out["meta"] = {}  # no user meta is registered for the REST API: unknown keys are ignored
        return out

    # -- records -------------------------------------------------------------------------
    def _next(self, table: str) -> str:
        counters = self.state["next_id"]
        counters[table] += 1
        return str(counters[table] - 1)

    def _by(self, stream: str, field: str, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, str) or not value:
            return None
        wanted = value.strip().lower()
        for record in self.table(stream).values():
            if str(record.get(field) or "").lower() == wanted:
                return record
        return None

    def _stamp(self, at: datetime | None) -> datetime:
        moment = (at or self.now()).astimezone(UTC)
        return moment.replace(microsecond=0)

    def _local(self, moment: datetime) -> str:
        return wp_time(moment + timedelta(hours=self.gmt_offset))

    def _new_user(self, fields: dict[str, Any], *, at: datetime | None = None) -> dict[str, Any]:
        record_id = self._next("users")
        email = fields.get("email")
        login = fields.get("username") or email or f"user{record_id}"
        first, last = fields.get("first_name") or "", fields.get("last_name") or ""
        name = fields.get("name") or (f"{first} {last}" if first and last else first or last or login)
        slug = fields.get("slug") or _slugify(login[:50])
        base, n = slug, 2
        while self._by("users", "slug", slug) is not None:
            slug, n = f"{base}-{n}", n + 1
        user = {
            "id": int(record_id), "username": login, "name": name, "first_name": first, "last_name": last,
            "email": email, "url": fields.get("url") or "", "description": fields.get("description") or "",
            "link": f"{self.base_url}/author/{slug}/", "locale": fields.get("locale") or "en_US",
            "nickname": fields.get("nickname") or login, "slug": slug,
            "roles": list(fields.get("roles") or ["subscriber"]),
            "registered_date": wp_time(self._stamp(at)) + "+00:00",
            "meta": dict(fields.get("meta") or {}) if isinstance(fields.get("meta"), dict) else {},
        }
        for name_, value in fields.items():  # anything else the caller gives is kept as given
            if name_ not in user and name_ != "password":
                user[name_] = value
        self.table("users")[record_id] = user
        return user

    def _new_comment(self, fields: dict[str, Any], *, at: datetime | None = None) -> dict[str, Any]:
        record_id = self._next("comments")
        if fields.get("date_gmt"):
            moment = _parse_date(str(fields["date_gmt"]))
        else:
            moment = self._stamp(at)
        content = fields.get("content") or ""
        if isinstance(content, str):
            content = {"raw": content, "rendered": _render(content)}
        post = int(fields.get("post") or 1)
        slug = (self.table("posts").get(str(post)) or {}).get("slug", f"post-{post}")
        comment = {
            "id": int(record_id), "post": post, "parent": int(fields.get("parent") or 0),
            "author": int(fields.get("author") or 0), "author_name": fields.get("author_name") or "",
            "author_email": fields.get("author_email") or "", "author_url": fields.get("author_url") or "",
            "author_ip": fields.get("author_ip") or "", "author_user_agent": fields.get("author_user_agent") or "",
            "date": self._local(moment), "date_gmt": wp_time(moment), "content": content,
            "link": f"{self.base_url}/{slug}/#comment-{record_id}", "status": fields.get("status") or "approved",
            "type": fields.get("type") or "comment", "meta": [],
        }
        self.table("comments")[record_id] = comment
        return comment

    def _user_out(self, user: dict[str, Any], context: str) -> dict[str, Any]:
        out = copy.deepcopy(user)
        out["avatar_urls"] = _avatars(user.get("email"))
        out["meta"] = out.get("meta") or []
        if context == "edit":
            caps = {c: True for role in user.get("roles") or () for c in CAPABILITIES.get(role, ())}
            out["capabilities"] = {**caps, **{r: True for r in user.get("roles") or ()}}
            out["extra_capabilities"] = {r: True for r in user.get("roles") or ()}
        else:
            out = {k: out[k] for k in USER_VIEW if k in out}
        out["_links"] = {"self": [{"href": f"{self.base_url}{API}/users/{user['id']}"}],
                         "collection": [{"href": f"{self.base_url}{API}/users"}]}
        return out

    def _comment_out(self, comment: dict[str, Any], context: str) -> dict[str, Any]:
        out = copy.deepcopy(comment)
        out["author_avatar_urls"] = _avatars(comment.get("author_email"))
        if context != "edit":
            out = {k: out[k] for k in COMMENT_VIEW if k in out}
            out["content"] = {"rendered": comment["content"].get("rendered", "")}
        out["_links"] = {"self": [{"href": f"{self.base_url}{API}/comments/{comment['id']}"}],
                         "up": [{"embeddable": True, "post_type": "post",
                                 "href": f"{self.base_url}{API}/posts/{comment['post']}"}]}
        return out


class _Query:
    """The query parameters of one request, with WordPress's list and date parsing."""

    def __init__(self, fake: FakeWordPress, request: httpx.Request) -> None:
        self.fake = fake
        self.params: dict[str, str] = {}
        for key, value in request.url.params.multi_items():
            name = key[:-2] if key.endswith("[]") else key
            self.params[name] = f"{self.params[name]},{value}" if name in self.params and key.endswith("[]") else value
        self.per_page, self.page, self.offset, self.order, self.orderby = 10, 1, 0, "asc", "id"

    def list(self, name: str) -> list[str]:
        return [v.strip() for v in re.split(r"[,\s]+", self.params.get(name, "")) if v.strip()]

    def integer(self, name: str, default: int, problems: dict[str, tuple[str, str]]) -> int | None:
        raw = self.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            problems[name] = (f"{name} is not of type integer.", "rest_invalid_type")
            return None

    def date(self, name: str) -> datetime | None:
        value = self.params.get(name)
        return _parse_date(value) if value else None


def _only(obj: Any, request: httpx.Request) -> Any:
    """Apply ``_fields`` (top-level names and dotted nested ones)."""
    raw = request.url.params.get("_fields")
    if not raw or not isinstance(obj, dict):
        return obj
    wanted = [f.strip() for f in raw.split(",") if f.strip()]
    out: dict[str, Any] = {}
    for name in wanted:
        head, _, rest = name.partition(".")
        if head not in obj:
            continue
        if rest and isinstance(obj[head], dict):
            if rest in obj[head]:
                out.setdefault(head, {})[rest] = obj[head][rest]
        else:
            out[head] = obj[head]
    return out


def _envelope(response: httpx.Response) -> dict[str, Any]:
    headers = {k.decode(): v.decode() for k, v in response.headers.raw
               if k.lower() not in (b"content-type", b"content-length")}
    return {"body": json.loads(response.content) if response.content else None,
            "status": response.status_code, "headers": headers or []}


def _render(text: str) -> str:
    paragraphs = [p.replace("\n", "<br />\n") for p in text.split("\n\n") if p]
    return "".join(f"<p>{p}</p>\n" for p in paragraphs)


def _schema(title: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": "http://json-schema.org/draft-04/schema#", "title": title, "type": "object",
            "properties": properties}


def _prop(kind: Any, contexts: tuple[str, ...], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "type": kind, "context": list(contexts), **extra}


_ALL, _EDIT = ("embed", "view", "edit"), ("edit",)
USER_SCHEMA: dict[str, Any] = {
    "id": _prop("integer", _ALL, "Unique identifier for the user.", readonly=True),
    "username": _prop("string", _EDIT, "Login name for the user."),
    "name": _prop("string", _ALL, "Display name for the user."),
    "first_name": _prop("string", _EDIT, "First name for the user."),
    "last_name": _prop("string", _EDIT, "Last name for the user."),
    "email": _prop("string", _EDIT, "The email address for the user.", format="email"),
    "url": _prop("string", _ALL, "URL of the user.", format="uri"),
    "description": _prop("string", _ALL, "Description of the user."),
    "link": _prop("string", _ALL, "Author URL of the user.", format="uri", readonly=True),
    "locale": _prop("string", _EDIT, "Locale for the user.", enum=list(LOCALES)),
    "nickname": _prop("string", _EDIT, "The nickname for the user."),
    "slug": _prop("string", _ALL, "An alphanumeric identifier for the user."),
    "registered_date": _prop("string", _EDIT, "Registration date for the user.", format="date-time", readonly=True),
    "roles": _prop("array", _EDIT, "Roles assigned to the user.", items={"type": "string"}),
    "password": _prop("string", (), "Password for the user (never included)."),
    "capabilities": _prop("object", _EDIT, "All capabilities assigned to the user.", readonly=True),
    "extra_capabilities": _prop("object", _EDIT, "Any extra capabilities assigned to the user.", readonly=True),
    "avatar_urls": _prop("object", _ALL, "Avatar URLs for the user.", readonly=True),
    "meta": _prop("object", ("view", "edit"), "Meta fields.", properties={}),
}
COMMENT_SCHEMA: dict[str, Any] = {
    "id": _prop("integer", _ALL, "Unique identifier for the comment.", readonly=True),
    "author": _prop("integer", _ALL, "The ID of the user object, if author was a user."),
    "author_email": _prop("string", _EDIT, "Email address for the comment author.", format="email"),
    "author_ip": _prop("string", _EDIT, "IP address for the comment author.", format="ip"),
    "author_name": _prop("string", _ALL, "Display name for the comment author."),
    "author_url": _prop("string", _ALL, "URL for the comment author.", format="uri"),
    "author_user_agent": _prop("string", _EDIT, "User agent for the comment author."),
    "content": _prop("object", _ALL, "The content for the comment.", properties={
        "raw": _prop("string", _EDIT, "Content for the comment, as it exists in the database."),
        "rendered": _prop("string", _ALL, "HTML content for the comment, transformed for display.", readonly=True),
    }),
    "date": _prop("string", _ALL, "The date the comment was published, in the site's timezone.", format="date-time"),
    "date_gmt": _prop("string", ("view", "edit"), "The date the comment was published, as GMT.", format="date-time"),
    "link": _prop("string", _ALL, "URL to the comment.", format="uri", readonly=True),
    "parent": _prop("integer", _ALL, "The ID for the parent of the comment."),
    "post": _prop("integer", ("view", "edit"), "The ID of the associated post object."),
    "status": _prop("string", ("view", "edit"), "State of the comment."),
    "type": _prop("string", _ALL, "Type of the comment.", readonly=True),
    "author_avatar_urls": _prop("object", ("view", "edit"), "Avatar URLs for the comment author.", readonly=True),
    "meta": _prop("object", ("view", "edit"), "Meta fields.", properties={}),
}
