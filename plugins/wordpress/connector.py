"""The WordPress connector: site users (read and write) and comments (read) through the REST API.

Authentication is an Application Password (WordPress 5.6+): HTTP Basic with the user's login and
the generated password. The account needs ``list_users``, ``create_users`` and ``edit_users``
(an administrator) to read email addresses and write users, and ``moderate_comments`` to read
commenters' email addresses.

Reads:

* **users** carry no modification date, so every read is a full scan and the hub finds the
  changes by content hash. The scan walks ``GET /wp/v2/users?context=edit&orderby=id&order=asc``
  by ``offset``, each page overlapping the previous one by one record: a user deleted behind the
  scan shifts the pages left, the overlap shows it (the first id is past the last one emitted),
  and the scan steps back instead of skipping a user. Each page's state resumes the scan; the
  last page's state is empty, so the next read scans again from the start.
* **comments** are read by ``date_gmt`` (WordPress keeps no modification date for comments
  either): ``orderby=date_gmt&order=asc`` and ``after`` one second before the newest timestamp
  emitted, with the ids already emitted at that second left out (``exclude``), kept in a
  :class:`~hub.connector.TimestampCheckpoint`. So a comment edited later is not read again, and
  one approved after the cursor passed its date is only read by a full read.

Writes (users): WordPress 6.6+ allows users in the batch endpoint (``/batch/v1``, at most 25
requests); the connector asks the route (``OPTIONS /wp/v2/users``: ``allow_batch``) and else
writes one request per user. Creates are idempotent by email: a user whose email WordPress already
holds (a retried batch, or a person the site had before the hub) is found and updated instead.
Errors come in WordPress's shape ``{"code", "message", "data": {"status", "params"}}`` and become
the failed record's reason and field.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from hub.connector import (
    DEFAULT_BUDGET,
    INCREMENTAL,
    READ,
    UPSERT,
    CheckResult,
    Connector,
    ConnectorSettings,
    DefaultBudget,
    FieldInfo,
    Kind,
    Page,
    Record,
    Stream,
    TimestampCheckpoint,
    WriteOp,
    WriteResult,
)
from hub.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    RetriableError,
    VendorError,
)

if TYPE_CHECKING:
    import httpx

    from hub.http import RequestBudget

try:  # Python 3.12+
    from typing import override
except ImportError:  # pragma: no cover - Python 3.11
    from typing_extensions import override

API = "/wp-json/wp/v2"
BATCH_PATH = "/wp-json/batch/v1"
MAX_PER_PAGE = 100  # every collection: per_page "between 1 (inclusive) and 100 (inclusive)"
MAX_BATCH = 25  # /batch/v1: "requests must contain at most 25 items" (rest_get_max_batch_size)
EXCLUDE_LIMIT = 200  # ids in one ``exclude`` (keeps the URL well under 8 KB)
MAX_USERNAME = 60  # user_login is varchar(60)

# What each read asks for (``_fields``): the data the mapping needs and nothing that changes
# without the record changing (avatars, links), so content hashes stay stable.
USER_FIELDS = (
    "id", "username", "name", "first_name", "last_name", "email", "url", "description", "link",
    "locale", "nickname", "slug", "roles", "registered_date", "meta",
)
COMMENT_FIELDS = (
    "id", "post", "parent", "author", "author_name", "author_email", "author_url", "date",
    "date_gmt", "content", "link", "status", "type", "meta",
)
USER_READ_ONLY = frozenset({"id", "link", "registered_date", "capabilities", "extra_capabilities", "avatar_urls"})
USER_STRINGS = frozenset({"first_name", "last_name", "name", "nickname", "description", "url", "locale", "slug"})
# Errors WordPress raises without naming a parameter, and the field each is about.
ERROR_FIELDS = {
    "rest_user_invalid_email": "email",
    "existing_user_email": "email",
    "invalid_email": "email",
    "existing_user_login": "username",
    "invalid_username": "username",
    "user_login_too_long": "username",
    "empty_user_login": "username",
    "rest_user_invalid_argument": "username",
    "user_nicename_too_long": "slug",
    "rest_user_invalid_slug": "slug",
    "rest_user_invalid_role": "roles",
    "rest_cannot_edit_roles": "roles",
}
EXISTING = frozenset({"existing_user_email", "existing_user_login"})
# 403s about one user, not about the account: the record fails, the run goes on.
RECORD_FORBIDDEN = frozenset({"rest_cannot_edit", "rest_cannot_edit_roles", "rest_user_cannot_view"})
_TAGS = re.compile(r"<[^>]+>")
_USERNAME_BAD = re.compile(r"[^A-Za-z0-9 _.\-@]")  # what sanitize_user(..., strict) keeps


class WordPressSettings(ConnectorSettings):
    """Settings of a WordPress site.

    Attributes:
        base_url: the site's address (``https://example.com`` or ``https://example.com/blog``);
            the REST API is read at ``{base_url}/wp-json`` (pretty permalinks).
        username: the login of the user the Application Password belongs to (an administrator).
        application_password: an Application Password (Users > Profile > Application Passwords);
            the spaces WordPress shows it with may be kept or left out.
        page_size: records per page (WordPress allows at most 100).
        comment_status: which comments to read: ``approve`` (published), ``hold`` (awaiting
            moderation) or ``all`` (both).
        user_roles: read only the users with one of these roles (e.g. ``["subscriber", "customer"]``,
            leaving the site's staff out of the customer data); empty reads every user.
        new_user_role: the role given to users the hub creates (None: the site's default role).
        use_batch: write users through ``/batch/v1`` (None: when the users route allows it,
            WordPress 6.6+).
    """

    base_url: str
    username: str = ""
    application_password: SecretStr = SecretStr("")
    page_size: int = Field(MAX_PER_PAGE, ge=1, le=MAX_PER_PAGE)
    comment_status: str = Field("approve", pattern=r"^(approve|hold|all)$")
    user_roles: list[str] = Field(default_factory=list)
    new_user_role: str | None = None
    use_batch: bool | None = None

    @field_validator("base_url")
    @classmethod
    def _site_root(cls, value: str) -> str:
        value = value.rstrip("/")
        return value.removesuffix("/wp-json").rstrip("/")


@dataclass
class _Failure:
    """WordPress's reason for refusing one request."""

    code: str
    message: str
    field: str | None


class WordPress(Connector):
    """WordPress: users both ways, comments read-only (as activities)."""

    name: ClassVar[str] = "wordpress"
    kind: ClassVar[Kind] = Kind.CMS
    Settings: ClassVar[type[ConnectorSettings]] = WordPressSettings
    streams: ClassVar[tuple[Stream, ...]] = (
        Stream("users", primary_key="id", cursor_field=None, capabilities=READ | UPSERT, batch_size=MAX_BATCH),
        Stream("comments", primary_key="id", cursor_field="date_gmt", capabilities=READ | INCREMENTAL,
               batch_size=MAX_BATCH),
    )
    rate_limit = None  # WordPress publishes none; a host's 429s are retried with Retry-After

    settings: WordPressSettings

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        instance: str | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: RequestBudget | DefaultBudget | None = DEFAULT_BUDGET,
    ) -> None:
        if not isinstance(settings, WordPressSettings):
            settings = WordPressSettings.model_validate(dict(settings))
        self._password = ""
        super().__init__(settings, instance=instance, transport=transport, budget=budget)
        if self._password and self._password not in self.http.secrets:
            self.http.secrets.append(self._password)  # the form sent, spaces removed
        self._batch: bool | None = settings.use_batch

    # -- Connector API -------------------------------------------------------------------
    @override
    def auth_headers(self) -> dict[str, str]:
        """Basic auth with the login and the Application Password.

        Raises:
            MissingSecretError: the username or the password is not configured.
        """
        user = self.settings.require("username", connector=self.instance)
        password = self.settings.require("application_password", connector=self.instance)
        self._password = password.replace(" ", "")
        token = base64.b64encode(f"{user}:{self._password}".encode()).decode()
        return {"Authorization": f"Basic {token}", "Accept": "application/json"}

    @override
    def check(self) -> CheckResult:
        """Ask ``users/me`` with ``context=edit`` and check the capabilities the hub needs."""
        site = self.settings.base_url
        try:
            response = self.http.get(f"{API}/users/me", params={"context": "edit"})
            me = self.http.json(response)
        except AuthError as exc:
            return CheckResult(
                False,
                f"WordPress at {site} refused the username and Application Password "
                f"({_describe(exc)}); check both, and that the site serves HTTPS or is a local environment",
            )
        except VendorError as exc:
            if exc.status == 404:
                return CheckResult(False, f"no WordPress REST API at {site}/wp-json (HTTP 404): check base_url "
                                          "and that pretty permalinks are on")
            return CheckResult(False, f"checking WordPress at {site} failed: {exc.reason}")
        except ConnectorError as exc:
            return CheckResult(False, f"checking WordPress at {site} failed: {exc.reason}")
        if not isinstance(me, dict) or me.get("id") is None:
            return CheckResult(False, f"{site}/wp-json answered users/me with no user: is this WordPress?")
        caps = me.get("capabilities") or {}
        missing = [c for c in ("list_users", "create_users", "edit_users", "moderate_comments") if not caps.get(c)]
        who = f"{me.get('username') or me.get('name')} (roles: {', '.join(me.get('roles') or ()) or 'none'})"
        if missing:
            return CheckResult(False, f"authenticated as {who}, but the user lacks {', '.join(missing)}: "
                                      "use an administrator's Application Password")
        return CheckResult(True, f"authenticated as {who}")

    @override
    def discover(self) -> dict[str, list[FieldInfo]]:
        """Each stream's fields from its route schema (``OPTIONS``); registered meta keys are
        reported as custom fields ``meta.<key>``."""
        out: dict[str, list[FieldInfo]] = {}
        for spec in self.streams:
            route = self._route(spec.name)
            schema = (route.get("schema") or {}).get("properties") or {}
            out[spec.name] = _fields(schema)
        return out

    @override
    def read(self, stream: str, state: dict[str, Any] | None) -> Iterator[Page]:
        """Users: a full scan every time (state only resumes a scan cut short).
        Comments: by ``date_gmt``; state ``{"since", "seen"}``."""
        self.stream(stream)
        if stream == "users":
            yield from self._read_users(dict(state or {}))
        else:
            yield from self._read_comments(state)

    @override
    def write(self, stream: str, batch: Sequence[WriteOp]) -> list[WriteResult]:
        """Create or update users; one result per op, in order."""
        if not self.stream(stream).can(UPSERT):
            raise ConfigError(f"connector {self.name!r}: stream {stream!r} is read-only")
        results: list[WriteResult | None] = [None] * len(batch)
        pending: list[int] = []
        for index, op in enumerate(batch):
            if op.action in ("delete", "archive"):
                results[index] = WriteResult(
                    op.key, "failed", op.target_id,
                    error="the hub does not delete WordPress users (deleting one must reassign their content)",
                )
            else:
                pending.append(index)
        if pending and self._batch_allowed():
            for chunk in _chunks(pending, MAX_BATCH):
                for index, result in self._write_batch(batch, chunk).items():
                    results[index] = result
        else:
            for index in pending:
                results[index] = self._write_one(batch[index])
        return [r if r is not None else WriteResult(batch[i].key, "failed", error="not written")
                for i, r in enumerate(results)]

    # -- reads ---------------------------------------------------------------------------
    def _read_users(self, state: dict[str, Any]) -> Iterator[Page]:
        size = self.settings.page_size
        after_id = state.get("after_id")
        after_id = int(after_id) if after_id is not None else None
        offset = max(0, int(state.get("offset") or 0))
        params: dict[str, Any] = {"context": "edit", "orderby": "id", "order": "asc", "per_page": size,
                                  "_fields": ",".join(USER_FIELDS)}
        if self.settings.user_roles:
            params["roles"] = ",".join(self.settings.user_roles)
        while True:
            start = max(0, offset - 1) if after_id is not None else offset  # overlap by one
            body, total = self._page("users", {**params, "offset": start})
            if after_id is not None and start > 0 and (not body or _id(body[0]) > after_id):
                # Users were deleted behind the scan and the pages shifted left: step back.
                offset = max(0, start - size) + 1
                continue
            fresh = [u for u in body if after_id is None or _id(u) > after_id]
            if fresh:
                after_id = _id(fresh[-1])
            offset = start + len(body)
            done = len(body) < size or (total is not None and offset >= total)
            records = [Record(str(_id(u)), _clean(u)) for u in fresh]
            yield Page(records, {} if done else {"after_id": after_id, "offset": offset})
            if done:
                return

    def _read_comments(self, state: dict[str, Any] | None) -> Iterator[Page]:
        size = self.settings.page_size
        checkpoint = TimestampCheckpoint.load(state)
        base = {"context": "edit", "orderby": "date_gmt", "order": "asc", "per_page": size,
                "status": self.settings.comment_status, "_fields": ",".join(COMMENT_FIELDS)}
        while True:
            params: dict[str, Any] = dict(base)
            if checkpoint.since:
                # `after` is exclusive and to the second: one second earlier is ">= since".
                params["after"] = _iso_z(_parse_gmt(checkpoint.since) - timedelta(seconds=1))
                if len(checkpoint.seen) <= EXCLUDE_LIMIT:
                    if checkpoint.seen:
                        params["exclude"] = ",".join(sorted(checkpoint.seen, key=int))
                else:  # very many at one second: skip them by position (ties go by id)
                    params["offset"] = len(checkpoint.seen)
            body, total = self._page("comments", params)
            records = []
            for comment in body:
                record = self._comment(comment)
                stamp = comment.get("date_gmt") or ""
                if not stamp or checkpoint.admit(record.id, stamp):
                    records.append(record)
            yield Page(records, checkpoint.dump())
            if len(body) < size or (total is not None and params.get("offset", 0) + len(body) >= total):
                return
            if not records:
                raise VendorError(
                    f"comments after {checkpoint.since} came back already read; the read cannot advance",
                    connector=self.instance, stream="comments",
                )

    def _comment(self, comment: dict[str, Any]) -> Record:
        data = _clean(comment)
        # author is the user id, 0 for a guest: a guest links to no user record.
        if not data.get("author"):
            data["author"] = None
        return Record(str(_id(comment)), data, updated_at=_parse_gmt(comment.get("date_gmt")))

    def _page(self, stream: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
        response = self.http.get(f"{API}/{stream}", params=params, stream=stream)
        body = self.http.json(response, stream=stream)
        if not isinstance(body, list):
            raise VendorError(f"GET {API}/{stream} answered {type(body).__name__}, not a list",
                              connector=self.instance, stream=stream, status=response.status_code)
        total = response.headers.get("X-WP-Total")
        return [b for b in body if isinstance(b, dict)], int(total) if total and total.isdigit() else None

    def _route(self, stream: str) -> dict[str, Any]:
        response = self.http.request("OPTIONS", f"{API}/{stream}", stream=stream)
        body = self.http.json(response, stream=stream)
        return body if isinstance(body, dict) else {}

    # -- writes --------------------------------------------------------------------------
    def _batch_allowed(self) -> bool:
        if self._batch is None:
            try:
                route = self._route("users")
            except (VendorError, AuthError):
                route = {}
            self._batch = any(
                "POST" in (e.get("methods") or ()) and (e.get("allow_batch") or {}).get("v1")
                for e in route.get("endpoints") or ()
                if isinstance(e, dict)
            )
        return self._batch

    def _payload(self, op: WriteOp, *, create: bool) -> dict[str, Any]:
        fields = _nest(op.fields)
        for name in USER_READ_ONLY:
            fields.pop(name, None)
        for name in list(fields):
            if fields[name] is None:
                if name in USER_STRINGS:
                    fields[name] = ""  # WordPress clears a string with ""; null is a type error
                else:
                    del fields[name]
        if not create:
            fields.pop("username", None)  # "Username is not editable."
            fields.pop("password", None)
            return fields
        email = fields.get("email")
        fields.setdefault("username", _username(email, op.key))
        # Users log in through the site's own flows (password reset); the hub never knows this.
        fields["password"] = secrets.token_urlsafe(24)
        if self.settings.new_user_role and "roles" not in fields:
            fields["roles"] = [self.settings.new_user_role]
        return fields

    def _find_by_email(self, email: Any) -> dict[str, Any] | None:
        if not isinstance(email, str) or "@" not in email:
            return None
        params = {"context": "edit", "search": email.strip(), "per_page": MAX_PER_PAGE, "_fields": "id,email"}
        body, _ = self._page("users", params)
        wanted = email.strip().lower()
        for user in body:
            if str(user.get("email") or "").lower() == wanted:
                return user
        return None

    def _write_one(self, op: WriteOp) -> WriteResult:
        if op.target_id:
            return self._send(op, "POST", f"{API}/users/{op.target_id}", self._payload(op, create=False), "updated")
        existing = self._find_by_email(op.fields.get("email"))
        if existing is not None:
            return self._send(op, "POST", f"{API}/users/{_id(existing)}", self._payload(op, create=False), "updated")
        result = self._send(op, "POST", f"{API}/users", self._payload(op, create=True), "created")
        if result.ok or result.error is None or not result.error.startswith(tuple(EXISTING)):
            return result
        return self._adopt(op, result)

    def _adopt(self, op: WriteOp, failed: WriteResult) -> WriteResult:
        """A create refused as existing (a race, or a login taken): update the user holding the
        email if there is one, else report the refusal."""
        existing = self._find_by_email(op.fields.get("email"))
        if existing is None:
            return failed
        return self._send(op, "POST", f"{API}/users/{_id(existing)}", self._payload(op, create=False), "updated")

    def _send(self, op: WriteOp, method: str, path: str, payload: dict[str, Any], status: str) -> WriteResult:
        try:
            response = self.http.request(method, path, json=payload, stream="users")
        except AuthError as exc:
            failure = _failure(exc.body, op)
            if exc.status == 403 and failure.code in RECORD_FORBIDDEN:
                return self._failed(op, failure)
            raise
        except RetriableError as exc:
            # WordPress answers 500 for what wp_insert_user refuses (existing_user_email, ...).
            failure = _failure(exc.body, op)
            if exc.status == 500 and failure.code in ERROR_FIELDS:
                return self._failed(op, failure)
            raise
        except VendorError as exc:
            return self._failed(op, _failure(exc.body, op))
        user = self.http.json(response, stream="users")
        return WriteResult(op.key, status, str(_id(user)) if isinstance(user, dict) else op.target_id)

    def _failed(self, op: WriteOp, failure: _Failure) -> WriteResult:
        return WriteResult(op.key, "failed", op.target_id, f"{failure.code}: {failure.message}", failure.field)

    def _write_batch(self, batch: Sequence[WriteOp], chunk: list[int]) -> dict[int, WriteResult]:
        out: dict[int, WriteResult] = {}
        requests: list[tuple[int, str, dict[str, Any]]] = []
        emails: set[str] = set()
        later: list[int] = []
        for index in chunk:
            op = batch[index]
            if op.target_id:
                requests.append((index, "updated", {"method": "POST", "path": f"/wp/v2/users/{op.target_id}",
                                                    "body": self._payload(op, create=False)}))
                continue
            email = str(op.fields.get("email") or "").strip().lower()
            if email and email in emails:
                later.append(index)  # two creates of one email: the second updates the first
                continue
            emails.add(email)
            existing = self._find_by_email(op.fields.get("email"))
            if existing is not None:
                requests.append((index, "updated", {"method": "POST", "path": f"/wp/v2/users/{_id(existing)}",
                                                    "body": self._payload(op, create=False)}))
            else:
                requests.append((index, "created", {"method": "POST", "path": "/wp/v2/users",
                                                    "body": self._payload(op, create=True)}))
        if requests:
            try:
                response = self.http.post(BATCH_PATH, json={"validation": "normal",
                                                            "requests": [r for _, _, r in requests]}, stream="users")
                body = self.http.json(response, stream="users")
                answers = body.get("responses") if isinstance(body, dict) else None
            except VendorError:
                answers = None
            if not isinstance(answers, list) or len(answers) != len(requests):
                later = [index for index, _, _ in requests] + later  # the batch itself failed: one by one
            else:
                for (index, status, _), answer in zip(requests, answers, strict=True):
                    op = batch[index]
                    answer = answer if isinstance(answer, dict) else {}
                    code = int(answer.get("status") or 0)
                    data = answer.get("body")
                    if 200 <= code < 300 and isinstance(data, dict):
                        out[index] = WriteResult(op.key, status, str(_id(data)))
                        continue
                    failure = _failure(data, op)
                    if failure.code == "rest_batch_not_allowed":
                        self._batch = False
                        later.append(index)
                    elif status == "created" and failure.code in EXISTING:
                        out[index] = self._adopt(op, self._failed(op, failure))
                    else:
                        out[index] = self._failed(op, failure)
        for index in later:
            out[index] = self._write_one(batch[index])
        return out


# -- helpers ---------------------------------------------------------------------------------
def _id(obj: dict[str, Any]) -> int:
    return int(obj["id"])


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in obj.items() if k != "_links"}
    if isinstance(data.get("meta"), list):  # PHP's empty array: no meta
        data["meta"] = {}
    return data


def _parse_gmt(value: Any) -> datetime | None:
    """A WordPress ``*_gmt`` timestamp (``2024-05-01T12:00:00``, no zone) as an aware UTC datetime."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _username(email: Any, key: str) -> str:
    """The login of a user the hub creates: the email (unique in WordPress, recognisable), made
    of the characters WordPress allows; the hub key when there is no email."""
    text = str(email).strip().lower() if isinstance(email, str) and email.strip() else f"hub-{key}"
    name = _USERNAME_BAD.sub("-", text)
    if len(name) > MAX_USERNAME:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        name = f"{name[:MAX_USERNAME - 9]}-{digest}"
    return name


def _nest(fields: dict[str, Any]) -> dict[str, Any]:
    """``{"meta.x": 1}`` -> ``{"meta": {"x": 1}}``."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        parts = name.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _failure(body: Any, op: WriteOp) -> _Failure:
    """WordPress's error ``{"code", "message", "data": {"status", "params"}}`` (as text or parsed)."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return _Failure("http_error", body[:300] or "no error body", None)
    if not isinstance(body, dict):
        return _Failure("http_error", "no error body", None)
    code = str(body.get("code") or "error")
    message = _TAGS.sub("", str(body.get("message") or "")).strip()
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    params = data.get("params")
    names: list[str] = []
    if isinstance(params, dict):
        names = [str(k) for k in params]
        details = "; ".join(str(v) for v in params.values())
        if details:
            message = f"{message} ({details})"
    elif isinstance(params, list):
        names = [str(p) for p in params]
    field = next((n for n in names if n in op.fields), names[0] if names else ERROR_FIELDS.get(code))
    return _Failure(code, message, field)


def _describe(exc: ConnectorError) -> str:
    failure = _failure(exc.body, WriteOp("", None, {}))
    return f"HTTP {exc.status} {failure.code}: {failure.message}"


def _fields(schema: dict[str, Any], prefix: str = "") -> list[FieldInfo]:
    out: list[FieldInfo] = []
    for name, prop in schema.items():
        if not isinstance(prop, dict):
            continue
        contexts = prop.get("context")
        if isinstance(contexts, list) and "edit" not in contexts:
            continue  # write-only (password) or not readable with context=edit
        full = f"{prefix}{name}"
        nested = prop.get("properties")
        if name == "meta" and not prefix:
            out.extend(
                FieldInfo(f"meta.{key}", _type(p), label=p.get("description"), custom=True,
                          writable=not p.get("readonly", False))
                for key, p in (nested or {}).items() if isinstance(p, dict)
            )
            continue
        if isinstance(nested, dict) and nested:
            out.extend(_fields(nested, f"{full}."))
            continue
        out.append(FieldInfo(full, _type(prop), label=prop.get("description"), custom=False,
                             writable=not prop.get("readonly", False)))
    return out


def _type(prop: dict[str, Any]) -> str:
    kind = prop.get("type") or "string"
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "string" and prop.get("format") == "date-time":
        return "datetime"
    return str(kind)
