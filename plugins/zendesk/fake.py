"""A stateful fake of the Zendesk Support API, for the sandbox, demos and tests.

It answers the endpoints the Zendesk connector uses the way Zendesk documents them:

* cursor-based incremental exports of users and tickets (``/api/v2/incremental/<x>/cursor.json``)
  and the time-based incremental export of organizations (``/api/v2/incremental/organizations``);
* bulk writes that queue a background job (``create_or_update_many``, ``update_many``,
  ``destroy_many``, ``organizations/create_many``) and the job-status endpoints that report on
  them (``job_statuses/{id}``, ``job_statuses/show_many``);
* ``users/me``, single users, organizations and tickets, organization search, the custom field
  definitions (``user_fields``, ``organization_fields``).

Deviations, on purpose: jobs run as soon as they are submitted (the submission still answers
``queued``; the first poll reports ``completed`` with the results), and incremental exports do
not hide the changes of the last minute nor refuse a recent ``start_time`` -- the sandbox would be
unusable for interactive demos otherwise. Rate limits and the job limit are off unless asked for.
The cursor exports order records by an internal change counter (not only by ``updated_at``, which
has one-second precision), so a record changed after a cursor was issued always comes after it.

Built to serve a million records: every request costs in proportion to what it returns, not to the
size of the account. The persisted state holds the records, each one's last change number and the
jobs; what the handlers look things up by -- a change log per stream (seek with bisect), the email,
external_id and organization-name indexes, the queued jobs -- lives in memory only, kept up to date
by every write and rebuilt when a state file is loaded.

Public data API (seeding, ``hub sandbox edit``, demos): :meth:`FakeZendesk.insert`,
:meth:`FakeZendesk.update`, :meth:`FakeZendesk.delete`, plus :meth:`FakeVendor.records`. It
stores values as given (messy data is the point of a sandbox); only the HTTP API validates.
"""

from __future__ import annotations

import base64
import binascii
import copy
import gc
import math
import re
import time
import uuid
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx

from hub.sandbox.fake import FakeVendor, route

try:  # Python 3.12+
    from typing import override
except ImportError:  # pragma: no cover - Python 3.11
    from typing_extensions import override

_J = r"(?:\.json)?"  # Zendesk answers with or without the .json suffix
MAX_BULK = 100  # documented limit of every *_many endpoint
MAX_EXPORT_PAGE = 1000  # documented per_page maximum of incremental exports
JOB_RUN_SECONDS = 2.0  # how long an unpolled job counts as queued for the job limit
COMPACT_MIN_STALE = 4096  # a change log is compacted once it has this many superseded entries...
ADMIN_ID = 1  # the API user (not an end user, so not part of the users export)
SANDBOX_EMAIL = "admin@sandbox.example.com"  # any email is accepted with the right token
FIRST_ID = 10001

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$")
TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed", "deleted")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_TYPES = ("problem", "incident", "question", "task")
CHANNELS = ("email", "web", "api", "twitter", "facebook", "chat", "voice", "mobile")
LIFECYCLE_VALUES = ("lead", "customer", "other")

USER_WRITABLE = frozenset(
    {
        "name", "email", "phone", "organization_id", "role", "external_id", "tags", "user_fields",
        "notes", "details", "time_zone", "locale", "verified", "alias",
    }
)
ORG_WRITABLE = frozenset(
    {"name", "domain_names", "external_id", "details", "notes", "tags", "organization_fields", "group_id"}
)
TICKET_WRITABLE = frozenset(
    {
        "subject", "description", "status", "priority", "type", "via", "requester_id", "submitter_id",
        "assignee_id", "organization_id", "tags", "due_at", "external_id",
    }
)
_WRITABLE = {"users": USER_WRITABLE, "organizations": ORG_WRITABLE, "tickets": TICKET_WRITABLE}

_FIELDS_CREATED = "2024-01-01T00:00:00Z"
USER_FIELD_DEFINITIONS: tuple[dict[str, Any], ...] = (
    {"id": 7001, "key": "family_name_kana", "type": "text", "title": "Family name (kana)"},
    {"id": 7002, "key": "given_name_kana", "type": "text", "title": "Given name (kana)"},
    {
        "id": 7003,
        "key": "lifecycle",
        "type": "dropdown",
        "title": "Lifecycle",
        "custom_field_options": [
            {"id": 7101, "name": "Lead", "value": "lead"},
            {"id": 7102, "name": "Customer", "value": "customer"},
            {"id": 7103, "name": "Other", "value": "other"},
        ],
    },
)
ORGANIZATION_FIELD_DEFINITIONS: tuple[dict[str, Any], ...] = (
    {"id": 8001, "key": "name_kana", "type": "text", "title": "Name (kana)"},
    {"id": 8002, "key": "corporate_number", "type": "text", "title": "Corporate number"},
)

_CUSTOM_KEYS = {  # custom-field map -> the keys it knows
    "user_fields": tuple(d["key"] for d in USER_FIELD_DEFINITIONS),
    "organization_fields": tuple(d["key"] for d in ORGANIZATION_FIELD_DEFINITIONS),
}

_TEMPLATES: dict[str, dict[str, Any]] = {  # a new record of each stream, in the vendor's key order
    "users": {
        "id": None, "url": None, "name": "", "email": None, "phone": None,
        "organization_id": None, "role": "end-user", "external_id": None, "tags": None,
        "user_fields": None, "notes": "", "details": "", "time_zone": "Tokyo", "locale": "ja",
        "active": True, "verified": False, "created_at": None, "updated_at": None,
    },
    "organizations": {
        "id": None, "url": None, "name": "", "domain_names": None, "external_id": None,
        "details": "", "notes": "", "tags": None, "organization_fields": None,
        "created_at": None, "updated_at": None, "deleted_at": None,
    },
    "tickets": {
        "id": None, "url": None, "subject": "", "description": "", "status": "new",
        "priority": None, "type": None, "via": None, "requester_id": None,
        "submitter_id": None, "assignee_id": None, "organization_id": None, "tags": None,
        "created_at": None, "updated_at": None, "due_at": None,
    },
}
# How _build treats a writable field (absent: stored as given).
_FIELD_KINDS = {
    "user_fields": "custom", "organization_fields": "custom", "tags": "list", "domain_names": "list",
    "organization_id": "id", "requester_id": "id", "submitter_id": "id", "assignee_id": "id", "group_id": "id",
    "via": "via",
}

Invalid = tuple[str, str, str]  # (field, description, error code)


def iso(moment: datetime) -> str:
    """A timestamp the way Zendesk writes them: UTC, second precision (``2024-05-01T12:34:56Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(value: str | None) -> int:
    """Unix seconds of a Zendesk timestamp (0 for none)."""
    if not value:
        return 0
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


class FakeZendesk(FakeVendor):
    """Fake Zendesk Support account.

    Args:
        state_path: JSON file that persists the account between processes (None: in memory).
        token: the API token every request must carry (Basic ``{email}/token:{token}``; any email).
        rate_limit: requests per minute before answering 429 (None: unlimited).
        incremental_rate_limit: requests per minute to the incremental exports (Zendesk: 10).
        max_queued_jobs: queued jobs allowed at once before answering 429 (Zendesk: 30).

    Record shapes (what :meth:`records` and the API return):

    * users: ``id, url, name, email, phone, organization_id, role ("end-user"), external_id,
      tags, user_fields {family_name_kana, given_name_kana, lifecycle}, notes, details,
      time_zone, locale, active, verified, created_at, updated_at``;
    * organizations: ``id, url, name, domain_names, external_id, details, notes, tags,
      organization_fields {name_kana, corporate_number}, created_at, updated_at, deleted_at``;
    * tickets: ``id, url, subject, description, status, priority, type, via {channel},
      requester_id, submitter_id, assignee_id, organization_id, tags, created_at, updated_at,
      due_at``.
    """

    name = "zendesk"
    streams = ("users", "organizations", "tickets")
    base_url = "https://sandbox.zendesk.com"

    def __init__(
        self,
        *,
        state_path: Path | str | None = None,
        token: str = "sandbox-token",
        rate_limit: int | None = None,
        incremental_rate_limit: int | None = None,
        max_queued_jobs: int | None = None,
    ) -> None:
        self.rate_limit = rate_limit
        self.incremental_rate_limit = incremental_rate_limit
        self.max_queued_jobs = max_queued_jobs
        self._windows: dict[str, tuple[int, int]] = {}
        self._mem: _Derived | None = None  # in-memory indexes of self.state (see _derived)
        self._stamp_key: tuple[float, timedelta, float] | None = None  # (second, offset, seconds)
        self._stamp: tuple[str, int] = ("", 0)
        self._epochs: dict[str, int] = {}
        # Loading a big state builds millions of containers at once: the cyclic garbage
        # collector would walk them over and over meanwhile (about half the load time).
        collecting = gc.isenabled()
        gc.disable()
        try:
            super().__init__(state_path=state_path, token=token)
            for key, value in self.empty_state().items():  # state files written by older versions
                self.state.setdefault(key, value)
            for stream in self.streams:
                self.state["records"].setdefault(stream, {})
                self.state["changes"].setdefault(stream, {})
            self._derived()
        finally:
            if collecting:
                gc.enable()

    # -- FakeVendor hooks ----------------------------------------------------------------
    @override
    def empty_state(self) -> dict[str, Any]:
        return {
            "next_id": FIRST_ID,
            "seq": 0,  # global change counter: orders the cursor exports
            "records": {s: {} for s in self.streams},
            # stream -> id -> seq of its last change, kept in seq order (a change moves the id last)
            "changes": {s: {} for s in self.streams},
            "jobs": {},
        }

    @override
    def error(self, status: int, message: str, **extra: Any) -> httpx.Response:
        code = {400: "InvalidValue", 404: "InvalidEndpoint", 405: "InvalidEndpoint"}.get(status, "Error")
        return self.json({"error": code, "description": message, **extra}, status)

    @override
    def authorize(self, request: httpx.Request) -> httpx.Response | None:
        header = request.headers.get("Authorization", "")
        if not header:
            # Zendesk answers users/me for anyone, as the anonymous user: clients use that to
            # notice that their credentials were not sent or not accepted.
            if re.match(r"/api/v2/users/me" + _J + "/?$", request.url.path):
                return None
            return self.json({"error": "Couldn't authenticate you"}, 401)
        if self._authenticated_email(header) is None:
            return self.json({"error": "Couldn't authenticate you"}, 401)
        return self._throttle(request)

    def extra_settings(self) -> dict[str, Any]:
        """Connector settings a sandbox needs besides ``base_url`` (the token is filled in by
        the runtime): the API user's email."""
        return {"email": SANDBOX_EMAIL}

    # -- public data API -----------------------------------------------------------------
    @override
    def insert(self, stream: str, fields: dict[str, Any]) -> str:
        """Create a record as an agent or an import would; returns its id.

        The fields are stored as given -- stray spaces, odd case, full-width characters and
        all, since messy source data is what sandboxes demonstrate -- and only the API refuses
        what Zendesk refuses. Unknown fields are ignored; dotted names (``user_fields.kana``)
        address nested ones.

        users: ``{"name", "email", "phone", "organization_id", "external_id", "tags",
        "user_fields": {...}, "notes", "time_zone", "locale"}``; organizations: ``{"name",
        "domain_names", "external_id", "organization_fields": {...}, "tags"}``; tickets:
        ``{"subject", "description", "requester_id", "status", "priority", "type",
        "via": {"channel": ...}, "assignee_id", "tags", "due_at"}``.
        """
        with self.lock:
            record, _ = self._build(stream, None, fields, validate=False)
            rid = self._store_new(stream, record)
            self.save_soon()
            return rid

    @override
    def update(self, stream: str, record_id: str, fields: dict[str, Any]) -> None:
        """Change a record as an agent would (custom-field maps merge key by key); bumps
        ``updated_at``. Like :meth:`insert`, stores the values as given.

        Raises:
            KeyError: no such record.
        """
        with self.lock:
            current = self.table(stream)[str(record_id)]
            record, _ = self._build(stream, current, fields, validate=False)
            self._store(stream, record)
            self.save_soon()

    def delete(self, stream: str, record_id: str) -> None:
        """Delete a record the way Zendesk does: users become ``active: false``, organizations
        get ``deleted_at``, tickets get status ``deleted``. All stay visible to the exports.

        Raises:
            KeyError: no such record.
        """
        with self.lock:
            record = _copy(self.table(stream)[str(record_id)])
            self._soft_delete(stream, record)
            self.save_soon()

    @route("GET", r"/api/v2/users/me" + _J)
    def users_me(self, request: httpx.Request, body: Any) -> httpx.Response:
        email = self._authenticated_email(request.headers.get("Authorization", ""))
        if email is None:
            anonymous = {"id": None, "url": None, "name": "Anonymous user", "email": "invalid@example.com",
                         "role": "anonymous", "active": True, "verified": False}
            return self.json({"user": anonymous})
        admin = {
            "id": ADMIN_ID,
            "url": f"{self._origin(request)}/api/v2/users/{ADMIN_ID}.json",
            "name": "Sandbox Admin",
            "email": email,
            "role": "admin",
            "active": True,
            "verified": True,
            "time_zone": "Tokyo",
            "locale": "ja",
        }
        return self.json({"user": admin})

    @route("GET", r"/api/v2/users/(?P<user_id>\d+)" + _J)
    def users_show(self, request: httpx.Request, body: Any, user_id: str) -> httpx.Response:
        record = self.table("users").get(user_id)
        if record is None:
            return self._not_found()
        return self.json({"user": record})

    @route("POST", r"/api/v2/users" + _J)
    def users_create(self, request: httpx.Request, body: Any) -> httpx.Response:
        item = (body or {}).get("user") if isinstance(body, dict) else None
        if not isinstance(item, dict):
            return self.error(400, "Request body must be {\"user\": {...}}")
        record, errors = self._checked("users", None, item)
        if errors:
            return self._record_invalid(errors)
        rid = self._store_new("users", record)
        return self.json({"user": self.table("users")[rid]}, 201)

    @route("PUT", r"/api/v2/users/(?P<user_id>\d+)" + _J)
    def users_update(self, request: httpx.Request, body: Any, user_id: str) -> httpx.Response:
        current = self.table("users").get(user_id)
        if current is None:
            return self._not_found()
        item = (body or {}).get("user") if isinstance(body, dict) else None
        if not isinstance(item, dict):
            return self.error(400, "Request body must be {\"user\": {...}}")
        record, errors = self._checked("users", current, item)
        if errors:
            return self._record_invalid(errors)
        self._store("users", record)
        return self.json({"user": record})

    @route("POST", r"/api/v2/users/create_or_update_many" + _J)
    def users_create_or_update_many(self, request: httpx.Request, body: Any) -> httpx.Response:
        items, refused = self._bulk_items(body, "users")
        if refused is not None:
            return refused
        busy = self._job_slot()
        if busy is not None:
            return busy
        results = [self._create_or_update_user(i, item) for i, item in enumerate(items)]
        return self._queue_job(request, "bulk_create_or_update_users", results)

    @route("PUT", r"/api/v2/users/update_many" + _J)
    def users_update_many(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._update_many(request, body, "users")

    @route("DELETE", r"/api/v2/users/destroy_many" + _J)
    def users_destroy_many(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._destroy_many(request, "users")

    @route("GET", r"/api/v2/user_fields" + _J)
    def user_fields(self, request: httpx.Request, body: Any) -> httpx.Response:
        defs = [self._field_definition(request, "user_fields", d, i) for i, d in enumerate(USER_FIELD_DEFINITIONS)]
        return self.json({"user_fields": defs, "next_page": None, "previous_page": None, "count": len(defs)})

    # -- routes: organizations -----------------------------------------------------------
    @route("GET", r"/api/v2/organizations/(?P<org_id>\d+)" + _J)
    def organizations_show(self, request: httpx.Request, body: Any, org_id: str) -> httpx.Response:
        record = self.table("organizations").get(org_id)
        if record is None or record.get("deleted_at"):
            return self._not_found()
        return self.json({"organization": record})

    @route("POST", r"/api/v2/organizations/create_many" + _J)
    def organizations_create_many(self, request: httpx.Request, body: Any) -> httpx.Response:
        items, refused = self._bulk_items(body, "organizations")
        if refused is not None:
            return refused
        busy = self._job_slot()
        if busy is not None:
            return busy
        results: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                results.append(self._failed(i, None, "InvalidValue", "Organization must be an object"))
                continue
            record, errors = self._build("organizations", None, item)
            if errors:
                results.append(self._failed(i, None, errors[0][2], "; ".join(e[1] for e in errors)))
                continue
            rid = self._store_new("organizations", record)
            results.append({"id": int(rid), "index": i})
        return self._queue_job(request, "bulk_create_organizations", results)

    @route("PUT", r"/api/v2/organizations/update_many" + _J)
    def organizations_update_many(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._update_many(request, body, "organizations")

    @route("DELETE", r"/api/v2/organizations/destroy_many" + _J)
    def organizations_destroy_many(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._destroy_many(request, "organizations")

    @route("GET", r"/api/v2/organizations/search" + _J)
    def organizations_search(self, request: httpx.Request, body: Any) -> httpx.Response:
        params = request.url.params
        live = [o for o in self.table("organizations").values() if not o.get("deleted_at")]
        if "external_id" in params:
            found = [o for o in live if o.get("external_id") == params["external_id"]]
        elif "name" in params:
            found = [o for o in live if (o.get("name") or "").casefold() == params["name"].casefold()]
        else:
            return self.error(400, "Search requires external_id or name")
        return self.json({"organizations": found, "next_page": None, "previous_page": None, "count": len(found)})

    @route("GET", r"/api/v2/organization_fields" + _J)
    def organization_fields(self, request: httpx.Request, body: Any) -> httpx.Response:
        defs = [
            self._field_definition(request, "organization_fields", d, i)
            for i, d in enumerate(ORGANIZATION_FIELD_DEFINITIONS)
        ]
        return self.json({"organization_fields": defs, "next_page": None, "previous_page": None, "count": len(defs)})

    # -- routes: tickets -----------------------------------------------------------------
    @route("POST", r"/api/v2/tickets" + _J)
    def tickets_create(self, request: httpx.Request, body: Any) -> httpx.Response:
        item = (body or {}).get("ticket") if isinstance(body, dict) else None
        if not isinstance(item, dict):
            return self.error(400, "Request body must be {\"ticket\": {...}}")
        item = dict(item)
        comment = item.pop("comment", None)
        if isinstance(comment, dict) and not item.get("description"):
            item["description"] = comment.get("body") or comment.get("html_body")
        item.setdefault("via", {"channel": "api"})
        if not item.get("description"):
            return self._record_invalid([("description", "Description: cannot be blank", "BlankValue")])
        record, errors = self._build("tickets", None, item)
        if errors:
            return self._record_invalid(errors)
        rid = self._store_new("tickets", record)
        return self.json({"ticket": self.table("tickets")[rid]}, 201)

    @route("GET", r"/api/v2/tickets/(?P<ticket_id>\d+)" + _J)
    def tickets_show(self, request: httpx.Request, body: Any, ticket_id: str) -> httpx.Response:
        record = self.table("tickets").get(ticket_id)
        if record is None or record.get("status") == "deleted":
            return self._not_found()
        return self.json({"ticket": record})

    # -- routes: incremental exports -----------------------------------------------------
    @route("GET", r"/api/v2/incremental/users/cursor" + _J)
    def incremental_users_cursor(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._cursor_export(request, "users")

    @route("GET", r"/api/v2/incremental/tickets/cursor" + _J)
    def incremental_tickets_cursor(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._cursor_export(request, "tickets")

    @route("GET", r"/api/v2/incremental/organizations" + _J)
    def incremental_organizations(self, request: httpx.Request, body: Any) -> httpx.Response:
        params = request.url.params
        try:
            start_time = int(params["start_time"])
            per_page = self._per_page(params)
        except (KeyError, ValueError):
            return self.error(400, "start_time is required and must be a Unix epoch time in seconds")
        page, more = self._time_page("organizations", start_time, per_page)
        end_of_stream = not more
        end_time = epoch(page[-1]["updated_at"]) if page else start_time
        next_page = (
            f"{self._origin(request)}/api/v2/incremental/organizations.json"
            f"?per_page={per_page}&start_time={end_time}"
        )
        return self.json(
            {
                "organizations": page,
                "count": len(page),
                "end_time": end_time,
                "next_page": next_page,
                "end_of_stream": end_of_stream,
            }
        )

    # -- routes: jobs --------------------------------------------------------------------
    @route("GET", r"/api/v2/job_statuses/show_many" + _J)
    def job_statuses_show_many(self, request: httpx.Request, body: Any) -> httpx.Response:
        ids = [i for i in request.url.params.get("ids", "").split(",") if i]
        if not ids:
            return self.error(400, "ids is required")
        found = [self._report_job(i) for i in ids if i in self.state["jobs"]]
        return self.json({"job_statuses": found})

    @route("GET", r"/api/v2/job_statuses/(?P<job_id>[0-9a-f]+)" + _J)
    def job_statuses_show(self, request: httpx.Request, body: Any, job_id: str) -> httpx.Response:
        if job_id not in self.state["jobs"]:
            return self._not_found()
        return self.json({"job_status": self._report_job(job_id)})

    # -- internals: records --------------------------------------------------------------
    def _defaults(self, stream: str, now: str) -> dict[str, Any]:
        template = _TEMPLATES.get(stream)
        if template is None:
            raise KeyError(f"unknown stream {stream!r}")
        record = template.copy()  # then fresh containers, so that no two records share one
        record["tags"] = []
        if stream == "users":
            record["user_fields"] = dict.fromkeys(_CUSTOM_KEYS["user_fields"])
        elif stream == "organizations":
            record["domain_names"] = []
            record["organization_fields"] = dict.fromkeys(_CUSTOM_KEYS["organization_fields"])
        else:
            record["via"] = {"channel": "api"}
        record["created_at"] = record["updated_at"] = now
        return record

    def _build(
        self, stream: str, current: dict[str, Any] | None, fields: dict[str, Any], *, validate: bool = True
    ) -> tuple[dict[str, Any], list[Invalid]]:
        """The record ``current`` (None: a new one) would become with ``fields``, and what is
        wrong with it (not checked with ``validate=False``: the data API stores it anyway).
        Unknown fields are ignored, as Zendesk does."""
        now = self._now_stamp()[0]
        record = _copy(current) if current is not None else self._defaults(stream, now)
        writable = _WRITABLE[stream]
        for key, value in (_nest(fields) if _has_dotted(fields) else fields).items():
            if key not in writable:
                continue
            kind = _FIELD_KINDS.get(key)
            if kind is None:
                record[key] = value
            elif kind == "custom":
                known = _CUSTOM_KEYS[key]
                merged = dict(record.get(key) or {})
                merged.update({k: v for k, v in (value or {}).items() if k in known})
                record[key] = merged
            elif kind == "list":
                record[key] = _string_list(value)
            elif kind == "id":
                record[key] = _int_or_none(value)
            else:
                record[key] = dict(value) if isinstance(value, dict) else {"channel": str(value)}
        if stream == "tickets" and record.get("organization_id") is None and record.get("requester_id"):
            requester = self.table("users").get(str(record["requester_id"]))
            if requester:  # Zendesk files a ticket under its requester's organization
                record["organization_id"] = requester.get("organization_id")
        record["updated_at"] = now
        return record, self._invalid(stream, record, current) if validate else []

    def _checked(
        self, stream: str, current: dict[str, Any] | None, fields: dict[str, Any]
    ) -> tuple[dict[str, Any], list[Invalid]]:
        """:meth:`_build` plus the checks against other records (a user's email is unique)."""
        record, errors = self._build(stream, current, fields)
        if not errors and stream == "users":
            errors = self._email_taken(record)
        return record, errors

    def _invalid(self, stream: str, record: dict[str, Any], current: dict[str, Any] | None) -> list[Invalid]:
        errors: list[Invalid] = []
        if stream == "users":
            if not str(record.get("name") or "").strip():
                errors.append(("name", "Name: is too short (minimum is 1 character)", "BlankValue"))
            email = record.get("email")
            if email not in (None, "") and not EMAIL_RE.match(str(email).strip()):
                errors.append(("email", f"Email: {email} is not properly formatted", "InvalidValue"))
            stage = (record.get("user_fields") or {}).get("lifecycle")
            if stage not in (None, "") and stage not in LIFECYCLE_VALUES:
                errors.append(("lifecycle", f"Lifecycle: {stage} is not a valid option", "InvalidValue"))
            org = record.get("organization_id")
            if org is not None and str(org) not in self.table("organizations"):
                errors.append(("organization_id", f"Organization: {org} does not exist", "InvalidValue"))
        elif stream == "organizations":
            name = str(record.get("name") or "").strip()
            if not name:
                errors.append(("name", "Name: cannot be blank", "BlankValue"))
            elif self._indexes()["org_name"].get(_norm(name)) not in (None, str(record.get("id"))):
                errors.append(("name", "Name: has already been taken", "DuplicateValue"))
        elif stream == "tickets":
            if record.get("status") not in TICKET_STATUSES:
                errors.append(("status", f"Status: {record.get('status')} is not valid", "InvalidValue"))
            if record.get("priority") not in (None, *TICKET_PRIORITIES):
                errors.append(("priority", f"Priority: {record.get('priority')} is not valid", "InvalidValue"))
            if record.get("type") not in (None, *TICKET_TYPES):
                errors.append(("type", f"Type: {record.get('type')} is not valid", "InvalidValue"))
        return errors

    def _store_new(self, stream: str, record: dict[str, Any]) -> str:
        rid = self.new_id()
        record["id"] = int(rid)
        record["url"] = f"{self.base_url}/api/v2/{stream}/{rid}.json"
        if stream == "tickets" and record.get("submitter_id") is None:
            record["submitter_id"] = record.get("requester_id")
        self._store(stream, record, rid)
        return rid

    def _store(self, stream: str, record: dict[str, Any], new_rid: str | None = None) -> None:
        """Save a new version of a record: table, indexes, change number and change log.

        ``new_rid``: the id of a record just created (saves looking up a previous version).
        This is the hot path of seeding a million records: kept flat on purpose.
        """
        rid = new_rid if new_rid is not None else str(record["id"])
        stamp = record.get("updated_at")
        changed_at = self._stamp[1] if stamp == self._stamp[0] and stamp else _cached_epoch(self._epochs, stamp)
        state = self.state
        mem = self._mem
        if mem is None or mem.state is not state:
            mem = self._derived()
        table = state["records"][stream]
        old = table.setdefault(rid, record)  # one lookup when the id is new
        if old is record:
            old = None
        else:
            table[rid] = record
        if stream != "tickets":
            _reindex(mem.index, stream, old, record, rid)
        seq = state["seq"] = state["seq"] + 1
        changes = state["changes"][stream]
        log = mem.logs[stream]
        if (old is not None or new_rid is None) and changes.pop(rid, None) is not None:
            # Moved last: the dict stays in change order, and the log entry is superseded.
            log.stale += 1
            if log.stale >= COMPACT_MIN_STALE and 2 * log.stale > len(log.seqs):
                log.compact(changes)
        changes[rid] = seq
        if changed_at < log.last_time:
            log.in_time_order = False
        log.last_time = changed_at
        log.seqs.append(seq)
        log.ids.append(rid)
        log.times.append(changed_at)
        self.mutated()

    def _soft_delete(self, stream: str, record: dict[str, Any]) -> None:
        now = self._now_stamp()[0]
        if stream == "users":
            record["active"] = False
        elif stream == "organizations":
            record["deleted_at"] = now
        else:
            record["status"] = "deleted"
        record["updated_at"] = now
        self._store(stream, record)

    def _now_stamp(self) -> tuple[str, int]:
        """The fake's clock as Zendesk writes it (:func:`iso`) and as epoch seconds.

        :meth:`now` costs microseconds, which add up over a million seeded records; a stamp has
        one-second precision, so while the wall clock (plus the test offset) is still well
        inside the second of the last stamp, that stamp is what :meth:`now` would give.
        """
        offset = getattr(self, "_clock_offset", None)
        steady = getattr(self, "_frozen_at", None) is None  # a frozen clock: always ask now()
        key = self._stamp_key
        if key is not None and steady and offset == key[1]:
            moment = time.time() + key[2]
            if key[0] <= moment < key[0] + 0.999:
                return self._stamp
        now = self.now()
        second = int(now.timestamp())
        if second != self._stamp[1] or not self._stamp[0]:
            self._stamp = (iso(now), second)
        if steady and isinstance(offset, timedelta) and now.timestamp() - second < 0.999:
            self._stamp_key = (float(second), offset, offset.total_seconds())
        else:
            self._stamp_key = None
        return self._stamp

    def _indexes(self) -> dict[str, dict[str, str]]:
        """What Zendesk looks records up by: active users by normalised email and by
        external_id, live organizations by normalised name (value: the record id)."""
        return self._derived().index

    def _derived(self) -> _Derived:
        """The in-memory indexes of the state, rebuilt when the state was loaded or replaced."""
        mem = self._mem
        if mem is None or mem.state is not self.state:
            mem = self._mem = _Derived.build(self.state, self.streams)
        return mem

    def _email_taken(self, record: dict[str, Any]) -> list[Invalid]:
        email = record.get("email")
        owner = self._indexes()["email"].get(_norm(email)) if email else None
        if owner is not None and owner != str(record.get("id")):
            return [("email", f"Email: {email} is already being used by another user", "DuplicateValue")]
        return []

    def _create_or_update_user(self, i: int, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            return self._failed(i, None, "InvalidValue", "User must be an object")
        # Zendesk identifies an existing user by external_id or by email.
        index = self._indexes()
        rid = index["external_id"].get(str(item["external_id"])) if item.get("external_id") else None
        if rid is None and item.get("email"):
            rid = index["email"].get(_norm(item["email"]))
        current = self.table("users").get(rid) if rid else None
        record, errors = self._checked("users", current, item)
        if errors:
            code = "UserUpdateError" if current else "UserCreateError"
            return self._failed(i, int(rid) if rid else None, code, "; ".join(e[1] for e in errors))
        if current is None:
            rid = self._store_new("users", record)
            status = "Created"
        else:
            self._store("users", record)
            status = "Updated"
        return {
            "id": int(rid),
            "status": status,
            "email": record.get("email"),
            "external_id": record.get("external_id"),
        }

    def _update_many(self, request: httpx.Request, body: Any, stream: str) -> httpx.Response:
        items, refused = self._bulk_items(body, stream)
        if refused is not None:
            return refused
        busy = self._job_slot()
        if busy is not None:
            return busy
        results: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            rid = str(item.get("id")) if isinstance(item, dict) and item.get("id") is not None else None
            current = self.table(stream).get(rid) if rid else None
            gone = current is not None and (
                current.get("active") is False if stream == "users" else bool(current.get("deleted_at"))
            )
            if current is None or gone:
                results.append(self._not_found_result(i, stream, rid, "update"))
                continue
            changes = {k: v for k, v in item.items() if k != "id"}
            record, errors = self._checked(stream, current, changes)
            if errors:
                code = "UserUpdateError" if stream == "users" else errors[0][2]
                results.append(self._failed(i, int(rid), code, "; ".join(e[1] for e in errors), action="update"))
                continue
            self._store(stream, record)
            results.append({"id": int(rid), "action": "update", "success": True, "status": "Updated"})
        return self._queue_job(request, f"bulk_update_{stream}", results)

    def _destroy_many(self, request: httpx.Request, stream: str) -> httpx.Response:
        ids = [i.strip() for i in request.url.params.get("ids", "").split(",") if i.strip()]
        if not ids:
            return self.error(400, "ids is required")
        if len(ids) > MAX_BULK:
            return self._too_many(len(ids))
        busy = self._job_slot()
        if busy is not None:
            return busy
        results: list[dict[str, Any]] = []
        for i, rid in enumerate(ids):
            current = self.table(stream).get(rid)
            if current is None:
                results.append(self._not_found_result(i, stream, rid, "delete"))
                continue
            self._soft_delete(stream, _copy(current))
            results.append({"id": int(rid), "action": "delete", "success": True, "status": "Deleted"})
        return self._queue_job(request, f"bulk_delete_{stream}", results)

    # -- internals: exports --------------------------------------------------------------
    def _cursor_export(self, request: httpx.Request, stream: str) -> httpx.Response:
        params = request.url.params
        try:
            per_page = self._per_page(params)
        except ValueError:
            return self.error(400, "per_page must be an integer")
        changes, table, log = self.state["changes"][stream], self.table(stream), self._derived().logs[stream]
        cursor = params.get("cursor")
        after, start_time = -1, None
        if cursor:
            decoded = _decode_cursor(cursor)
            if decoded is None:
                return self.json({"error": "InvalidPaginationParameter", "description": "cursor is invalid"}, 400)
            after = decoded
        elif "start_time" in params:
            try:
                start_time = int(params["start_time"])
            except ValueError:
                return self.error(400, "start_time must be a Unix epoch time in seconds")
        else:
            return self.error(400, "start_time or cursor is required")
        seqs, ids, times = log.seqs, log.ids, log.times
        if start_time is None:
            begin = bisect_right(seqs, after)
        elif log.in_time_order:
            begin, start_time = bisect_left(times, start_time), None  # every later entry qualifies
        else:
            begin = 0
        page: list[tuple[int, dict[str, Any]]] = []
        more = False
        for k in range(begin, len(seqs)):
            rid, seq = ids[k], seqs[k]
            if changes.get(rid) != seq:
                continue  # superseded by a later change of the same record
            record = table[rid]
            if start_time is not None and epoch(record["updated_at"]) < start_time:
                continue
            if len(page) == per_page:
                more = True
                break
            page.append((seq, record))
        if page:
            after_cursor: str | None = _encode_cursor(page[-1][1], page[-1][0])
            before_cursor: str | None = _encode_cursor(page[0][1], page[0][0] - 1)
        else:
            # Nothing new: the position does not move (and a start_time export has none yet).
            after_cursor, before_cursor = cursor, None
        base = f"{self._origin(request)}/api/v2/incremental/{stream}/cursor.json"
        return self.json(
            {
                stream: [record for _, record in page],
                "after_cursor": after_cursor,
                "after_url": f"{base}?cursor={after_cursor}&per_page={per_page}" if after_cursor else None,
                "before_cursor": before_cursor,
                "before_url": f"{base}?cursor={before_cursor}&per_page={per_page}" if before_cursor else None,
                "end_of_stream": not more,
            }
        )

    def _time_page(self, stream: str, start_time: int, per_page: int) -> tuple[list[dict[str, Any]], bool]:
        """A time-based export page: the records updated at or after ``start_time``, ordered by
        (updated_at, id), and whether more follow.

        Zendesk never splits one timestamp across two pages (the next page starts *at*
        end_time), so a page grows past per_page to the end of its last second; and when that
        second is start_time itself the next second is taken too, so that end_time always moves
        forward and a client cannot loop on the same page. So a page is whole seconds: taken
        from the change log, which is in updated_at order too (see :class:`_Log`).
        """
        log = self._derived().logs[stream]
        if not log.in_time_order:
            return self._time_page_sorted(stream, start_time, per_page)
        changes, table = self.state["changes"][stream], self.table(stream)
        seqs, ids, times = log.seqs, log.ids, log.times
        seconds: list[list[dict[str, Any]]] = []
        first_second, second, total, more = None, None, 0, False
        for k in range(bisect_left(times, start_time), len(seqs)):
            rid = ids[k]
            if changes.get(rid) != seqs[k]:
                continue  # superseded by a later change of the same record
            if times[k] != second:
                # A new second starts: stop before it once the page is full (see above).
                if total >= per_page and not (len(seconds) == 1 and first_second == start_time):
                    more = True
                    break
                second = times[k]
                if first_second is None:
                    first_second = second
                seconds.append([])
            seconds[-1].append(table[rid])
            total += 1
        page: list[dict[str, Any]] = []
        for group in seconds:
            page += sorted(group, key=lambda r: int(r["id"])) if len(group) > 1 else group
        return page, more

    def _time_page_sorted(self, stream: str, start_time: int, per_page: int) -> tuple[list[dict[str, Any]], bool]:
        """:meth:`_time_page` the slow way, by sorting every record: only used when the change
        log is not in updated_at order (a state written under a clock that ran ahead)."""
        rows = sorted(self.table(stream).values(), key=lambda o: (epoch(o["updated_at"]), int(o["id"])))
        rows = [o for o in rows if epoch(o["updated_at"]) >= start_time]
        page = rows[:per_page]
        if len(rows) > per_page:
            cut = per_page
            seconds_needed = 2 if epoch(page[-1]["updated_at"]) == start_time else 1
            while cut < len(rows) and seconds_needed:
                if epoch(rows[cut]["updated_at"]) != epoch(rows[cut - 1]["updated_at"]):
                    seconds_needed -= 1
                    if not seconds_needed:
                        break
                cut += 1
            page = rows[:cut]
        return page, len(page) < len(rows)

    @staticmethod
    def _per_page(params: httpx.QueryParams) -> int:
        return max(1, min(MAX_EXPORT_PAGE, int(params.get("per_page", MAX_EXPORT_PAGE))))

    # -- internals: jobs -----------------------------------------------------------------
    def _bulk_items(self, body: Any, key: str) -> tuple[list[Any], httpx.Response | None]:
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            return [], self.error(400, f"Request body must be {{\"{key}\": [...]}}")
        if len(items) > MAX_BULK:
            return [], self._too_many(len(items))
        return items, None

    def _too_many(self, count: int) -> httpx.Response:
        return self.json(
            {"error": "TooManyItems", "description": f"{count} items given, at most {MAX_BULK} are allowed"}, 400
        )

    def _job_slot(self) -> httpx.Response | None:
        """A 429 when the account already has ``max_queued_jobs`` jobs queued (Zendesk's job limit)."""
        if not self.max_queued_jobs:
            return None
        now = self.now().timestamp()
        queued = self._derived().queued_jobs  # unreported jobs, oldest first
        while queued:
            oldest = next(iter(queued))
            if now - queued[oldest] < JOB_RUN_SECONDS:
                break
            del queued[oldest]  # ran long enough to count as done
        if len(queued) < self.max_queued_jobs:
            return None
        return self.json(
            {
                "error": "TooManyJobs",
                "description": f"Number of queued jobs exceeds the limit of {self.max_queued_jobs}",
            },
            429,
            headers={"Retry-After": f"{math.ceil(JOB_RUN_SECONDS):d}"},
        )

    def _queue_job(self, request: httpx.Request, job_type: str, results: list[dict[str, Any]]) -> httpx.Response:
        job_id = uuid.uuid4().hex
        status = {
            "id": job_id,
            "url": f"{self._origin(request)}/api/v2/job_statuses/{job_id}.json",
            "job_type": job_type,
            "total": len(results),
            "progress": None,
            "status": "queued",
            "message": None,
            "results": None,
        }
        submitted = self.now().timestamp()
        self.state["jobs"][job_id] = {"status": status, "results": results, "submitted": submitted, "reported": False}
        self._derived().queued_jobs[job_id] = submitted
        self.mutated()
        return self.json({"job_status": status})

    def _report_job(self, job_id: str) -> dict[str, Any]:
        job = self.state["jobs"][job_id]
        if not job["reported"]:
            job["reported"] = True
            self._derived().queued_jobs.pop(job_id, None)
            job["status"].update(
                status="completed",
                progress=len(job["results"]),
                message=f"Completed at {self.now().strftime('%Y-%m-%d %H:%M:%S +0000')}",
                results=job["results"],
            )
            self.mutated()
        return job["status"]

    @classmethod
    def _not_found_result(cls, index: int, stream: str, rid: str | None, action: str) -> dict[str, Any]:
        noun = stream[:-1].title()
        return cls._failed(index, _int_or_none(rid), "RecordNotFound", f"{noun} {rid} not found", action=action)

    @staticmethod
    def _failed(index: int, rid: int | None, code: str, details: str, *, action: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {"index": index, "status": "Failed", "error": code, "details": details}
        if rid is not None:
            result["id"] = rid
        if action:
            result.update(action=action, success=False)
        return result

    # -- internals: HTTP -----------------------------------------------------------------
    def _authenticated_email(self, header: str) -> str | None:
        """The email of a valid ``Basic {email}/token:{token}`` header, else None."""
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return None
        try:
            user, _, secret = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        email, suffix = user[: -len("/token")], user[-len("/token") :]
        if suffix != "/token" or not email or secret != self.token:
            return None
        return email

    def _throttle(self, request: httpx.Request) -> httpx.Response | None:
        buckets = [("account", self.rate_limit)]
        if request.url.path.startswith("/api/v2/incremental/"):
            buckets.append(("incremental", self.incremental_rate_limit))
        now = self.now().timestamp()
        minute = int(now // 60)
        for bucket, limit in buckets:
            if not limit:
                continue
            window, count = self._windows.get(bucket, (minute, 0))
            if window != minute:
                window, count = minute, 0
            self._windows[bucket] = (window, count + 1)
            if count + 1 > limit:
                wait = max(1, math.ceil((minute + 1) * 60 - now))
                return self.json(
                    {
                        "error": "APIRateLimitExceeded",
                        "description": "Number of allowed API requests per minute exceeded",
                    },
                    429,
                    headers={"Retry-After": str(wait)},
                )
        return None

    def _record_invalid(self, errors: Iterable[Invalid]) -> httpx.Response:
        details: dict[str, list[dict[str, str]]] = {}
        for field, description, code in errors:
            details.setdefault(field, []).append({"description": description, "error": code})
        return self.json(
            {"error": "RecordInvalid", "description": "Record validation errors", "details": details}, 422
        )

    def _not_found(self) -> httpx.Response:
        return self.json({"error": "RecordNotFound", "description": "Not found"}, 404)

    @staticmethod
    def _origin(request: httpx.Request) -> str:
        url = request.url
        return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")

    def _field_definition(
        self, request: httpx.Request, kind: str, definition: dict[str, Any], position: int
    ) -> dict[str, Any]:
        out = {
            "id": definition["id"],
            "url": f"{self._origin(request)}/api/v2/{kind}/{definition['id']}.json",
            "key": definition["key"],
            "type": definition["type"],
            "title": definition["title"],
            "raw_title": definition["title"],
            "description": "",
            "position": position,
            "active": True,
            "system": False,
            "created_at": _FIELDS_CREATED,
            "updated_at": _FIELDS_CREATED,
        }
        if "custom_field_options" in definition:
            out["custom_field_options"] = copy.deepcopy(definition["custom_field_options"])
        return out


def _encode_cursor(record: dict[str, Any], seq: int) -> str:
    # Opaque to clients, shaped like Zendesk's ("<updated epoch>.0||<id>|"), plus the change
    # sequence so that a record changed after the cursor was issued always comes after it.
    raw = f"{epoch(record.get('updated_at'))}.0||{record['id']}|{seq}"
    return base64.b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    try:
        raw = base64.b64decode(cursor, validate=True).decode()
        return int(raw.rsplit("|", 1)[1])
    except (binascii.Error, UnicodeDecodeError, ValueError, IndexError):
        return None


def _norm(value: Any) -> str:
    """How Zendesk compares emails and organization names: trimmed, case-insensitive."""
    return str(value).strip().casefold()


def _index_keys(stream: str, record: dict[str, Any]) -> list[tuple[str, str]]:
    if stream == "users" and record.get("active", True):
        keys = [("email", _norm(record["email"]))] if record.get("email") else []
        if record.get("external_id"):
            keys.append(("external_id", str(record["external_id"])))
        return keys
    if stream == "organizations" and not record.get("deleted_at") and str(record.get("name") or "").strip():
        return [("org_name", _norm(record["name"]))]
    return []


def _reindex(
    index: dict[str, dict[str, str]],
    stream: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    rid: str | None = None,
) -> None:
    """Move a record's index keys from its ``old`` version to its ``new`` one (either None)."""
    if old is not None:
        rid = rid or str(old["id"])
        for name, key in _index_keys(stream, old):
            bucket = index[name]
            if bucket.get(key) == rid:
                del bucket[key]
    if new is None:
        return
    rid = rid or str(new["id"])
    if stream == "users":  # _index_keys, inlined for seeding
        if new.get("active", True):
            email = new.get("email")
            if email:
                index["email"][_norm(email)] = rid
            external_id = new.get("external_id")
            if external_id:
                index["external_id"][str(external_id)] = rid
        return
    for name, key in _index_keys(stream, new):
        index[name][key] = rid


def _cached_epoch(cache: dict[str, int], value: Any) -> int:
    if not isinstance(value, str):
        return epoch(value)
    found = cache.get(value)
    if found is None:
        if len(cache) >= 100_000:
            cache.clear()
        found = cache[value] = epoch(value)
    return found


class _Log:
    """One stream's changes, in change order: parallel lists of the change number, the record id
    and its ``updated_at`` in epoch seconds, appended to by every write.

    A record changed again leaves its older entry behind, superseded (its change number no
    longer matches the record's in ``state["changes"]``): readers skip those, and the log is
    compacted once they are the majority. Every write stamps ``updated_at`` with the fake's
    clock, which never goes backwards, so the log is in ``updated_at`` order too
    (``in_time_order``) and the exports can seek a ``start_time`` in it; a state saved by a
    process whose clock ran ahead can break that, and the exports then fall back to scanning.
    """

    __slots__ = ("ids", "in_time_order", "last_time", "seqs", "stale", "times")

    def __init__(self, seqs: Iterable[int], ids: list[str], times: Iterable[int]) -> None:
        self._reset(seqs, ids, times)
        # (FakeZendesk._store appends to the three sequences itself and keeps the rest up to date.)

    def _reset(self, seqs: Iterable[int], ids: list[str], times: Iterable[int]) -> None:
        # Numbers in arrays: compact, and nothing for the garbage collector to walk.
        self.seqs, self.ids, self.times = array("q", seqs), ids, array("q", times)
        self.stale = 0
        self.in_time_order = _ascending(self.times)
        self.last_time = self.times[-1] if self.times else -(2**63)

    def compact(self, changes: dict[str, int]) -> None:
        """Drop the superseded entries (``changes``: id -> change number, in change order)."""
        latest = dict(zip(self.ids, self.times, strict=True))  # the last entry of an id wins
        ids = list(changes)
        self._reset(changes.values(), ids, [latest[rid] for rid in ids])


class _Derived:
    """What the handlers look things up by, derived from the state (never persisted)."""

    __slots__ = ("index", "logs", "queued_jobs", "state")

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.index: dict[str, dict[str, str]] = {"email": {}, "external_id": {}, "org_name": {}}
        self.logs: dict[str, _Log] = {}
        self.queued_jobs: dict[str, float] = {}  # unreported job id -> submitted, oldest first

    @classmethod
    def build(cls, state: dict[str, Any], streams: Iterable[str]) -> _Derived:
        mem = cls(state)
        epochs: dict[str, int] = {}
        for stream in streams:
            table, changes = state["records"][stream], state["changes"][stream]
            if any(rid not in table for rid in changes) or not _ascending(list(changes.values()), strictly=True):
                ordered = sorted((seq, rid) for rid, seq in changes.items() if rid in table)
                changes.clear()
                changes.update((rid, seq) for seq, rid in ordered)
            for rid in table:  # records without a change number (older state files): changed now
                if rid not in changes:
                    state["seq"] += 1
                    changes[rid] = state["seq"]
            times = [_cached_epoch(epochs, table[rid].get("updated_at")) for rid in changes]
            mem.logs[stream] = _Log(list(changes.values()), list(changes), times)
            if stream in ("users", "organizations"):
                for rid in changes:  # in change order: the latest write of a key wins, as it did
                    _reindex(mem.index, stream, None, table[rid])
        unreported = [(job["submitted"], jid) for jid, job in state["jobs"].items() if not job["reported"]]
        mem.queued_jobs.update((jid, submitted) for submitted, jid in sorted(unreported))
        return mem


def _ascending(values: Sequence[int], *, strictly: bool = False) -> bool:
    if strictly:
        return all(a < b for a, b in pairwise(values))
    return all(a <= b for a, b in pairwise(values))


def _copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (what records are), much faster than ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {k: _copy(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def _nest(fields: dict[str, Any]) -> dict[str, Any]:
    """``{"user_fields.kana": v}`` -> ``{"user_fields": {"kana": v}}`` (as ``sandbox edit`` passes)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        head, dot, rest = key.partition(".")
        if dot:
            node = out.setdefault(head, {})
            if isinstance(node, dict):
                node[rest] = value
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def _has_dotted(fields: dict[str, Any]) -> bool:
    try:
        return "." in "".join(fields)
    except TypeError:  # a key that is not a string: let _nest say so
        return True


def _string_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[\s,]+", value) if v]
    return [str(v) for v in value]


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
