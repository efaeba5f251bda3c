"""A stateful fake of Request Tracker 5's REST 2.0 API, for the sandbox, demos and tests.

It answers what the RT connector uses the way RT 5.0 does (checked against a real RT 5.0.3):

* searches: ``/tickets`` with a TicketSQL subset (``Field OP 'value'`` joined by AND/OR with
  parentheses; dates read in the API user's time zone, ``=`` on a date meaning that whole day;
  deleted tickets never listed), and JSON searches (``[{"field", "operator", "value",
  "case_sensitive", "entry_aggregator"}]``, limits on one field OR-ed, on different fields AND-ed,
  limits on fields RT does not let you search -- a user's ``id`` or ``LastUpdated`` -- silently
  ignored) on ``/users``, ``/transactions``, ``/attachments`` and ``/customfields``;
  ``page``/``per_page`` (at most 100), ``orderby``/``order`` (several), ``fields=`` and
  ``fields[Role]=`` expansion, the ``{"count", "page", "pages", "per_page", "total", "items"}`` shape;
* records: ``GET/PUT /user/{id or name}``, ``POST /user``, ``GET/PUT /ticket/{id}``,
  ``POST /ticket``, ``POST /ticket/{id}/correspond`` and ``/comment``, ``GET /ticket/{id}/history``,
  ``GET /transaction/{id}``, ``GET /rt``, ``GET /queues/all``;
* RT's quirks: an update answers 200 with one message per field, refused fields included;
  a created user answers with its name as ``id`` (the number is in ``Location``); unset dates
  show as ``1970-01-01T00:00:00Z``; errors are ``{"message": ...}``; a bad or missing token is 401.

Auth: ``Authorization: token <token>``, or basic auth as an enabled user with ``password``.

Public data API (seeding, ``hub sandbox edit``, tests): :meth:`FakeRT.insert`,
:meth:`FakeRT.update`, :meth:`FakeRT.delete` for ``users``, ``tickets`` and ``correspondence``
(a reply on a ticket), plus :meth:`FakeVendor.records`. Timestamps come from :meth:`now`, so
``freeze_clock`` gives many records one ``LastUpdated`` second, as RT's one-second precision does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from hub.connector import override
from hub.sandbox.fake import FakeVendor, route

P = "/REST/2.0"
VERSION = "5.0.3"
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
UNSET = "1970-01-01 00:00:00"
RT_SYSTEM, NOBODY, ROOT = 1, 6, 14
API_USER = ROOT  # whom the token belongs to
ROOT_EMAIL = "root@rt.sandbox.example.com"  # RT installs root@localhost, which no mapping accepts
FIRST_USER_ID = 20
STATUSES = ("new", "open", "stalled", "resolved", "rejected", "deleted")
ACTIVE = ("new", "open", "stalled")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")

USER_COLUMNS = (
    "Name", "EmailAddress", "RealName", "NickName", "Organization", "WorkPhone", "MobilePhone",
    "HomePhone", "PagerPhone", "Address1", "Address2", "City", "State", "Zip", "Country", "Lang",
    "Timezone", "Comments", "Signature", "Gecos",
)
USER_DATES = ("Created", "LastUpdated")
# What RT's user search lets an admin limit on: public attributes (not id, not the dates).
USER_SEARCHABLE = frozenset(USER_COLUMNS) - {"Comments", "Signature"}
TICKET_SCALARS = ("Subject", "Status", "Priority", "InitialPriority", "FinalPriority", "Type",
                  "TimeWorked", "TimeEstimated", "TimeLeft")
TICKET_DATES = ("Created", "Starts", "Started", "Due", "Resolved", "Told", "LastUpdated")
ROLES = ("Requestor", "Cc", "AdminCc")
TICKET_WRITABLE = ("Subject", "Status", "Priority", "InitialPriority", "FinalPriority", "Queue", "Owner",
                   "Starts", "Started", "Due", "Told", "TimeWorked", "TimeEstimated", "TimeLeft")
TRANSACTION_SEARCHABLE = frozenset({"id", "Type", "ObjectType", "ObjectId", "Creator", "Created", "Field"})
ATTACHMENT_SEARCHABLE = frozenset({"id", "TransactionId", "Parent", "ContentType", "Subject", "Filename"})
CUSTOMFIELD_SEARCHABLE = frozenset({"id", "Name", "Type", "LookupType", "Disabled", "MaxValues"})
CUSTOM_FIELDS: tuple[dict[str, Any], ...] = (
    {"id": 1, "Name": "Furigana", "Type": "Freeform", "MaxValues": 1, "LookupType": "RT::User",
     "Description": "Reading of the name (katakana)", "Disabled": 0},
    {"id": 2, "Name": "Product", "Type": "Select", "MaxValues": 1, "LookupType": "RT::Queue-RT::Ticket",
     "Description": "Product the ticket is about", "Disabled": 0},
    {"id": 3, "Name": "Tags", "Type": "Freeform", "MaxValues": 0, "LookupType": "RT::Queue-RT::Ticket",
     "Description": "Free tags", "Disabled": 0},
    {"id": 4, "Name": "HubKey", "Type": "Freeform", "MaxValues": 1, "LookupType": "RT::Queue-RT::Ticket",
     "Description": "Seamless Hub key of tickets it created (the connector's ticket_key_field)", "Disabled": 0},
)
_LOOKUP = {"users": "RT::User", "tickets": "RT::Queue-RT::Ticket"}


class QueryError(ValueError):
    """A TicketSQL query RT would refuse (answered 400 with RT's wording)."""


class FakeRT(FakeVendor):
    """Fake Request Tracker 5 instance.

    Args:
        state_path: JSON file that persists the instance between processes (None: in memory).
        token: the auth token of the API user (root).
        timezone: the zone RT reads TicketSQL dates in for the API user (RT's ``$Timezone``).
        password: root's password for basic auth (default: the token).

    Record shapes (what :meth:`records` returns; dates as RT stores them, UTC
    ``YYYY-MM-DD HH:MM:SS``, unset ones None):

    * users: ``id, Name, EmailAddress, RealName, NickName, Organization, WorkPhone, MobilePhone,
      HomePhone, PagerPhone, Address1, Address2, City, State, Zip, Country, Lang, Timezone,
      Comments, Privileged, Disabled, CustomFields {name: [values]}, Creator, Created,
      LastUpdated``;
    * tickets: ``id, Subject, Status, Priority, InitialPriority, FinalPriority, Queue (id),
      Owner (user id), Requestor/Cc/AdminCc (user ids), Type, Creator, Created, Starts, Started,
      Due, Resolved, Told, LastUpdated, TimeWorked, TimeEstimated, TimeLeft, CustomFields``;
    * correspondence: the ``Create``/``Correspond`` transactions of tickets: ``id, Type,
      ObjectType, ObjectId, Creator, Created, Data`` (their text lives in attachments).
    """

    name = "rt"
    streams = ("users", "tickets", "correspondence")
    base_url = "https://rt.sandbox.example.com"

    def __init__(
        self,
        *,
        state_path: Path | str | None = None,
        token: str = "sandbox-token",
        timezone: str = "Asia/Tokyo",
        password: str | None = None,
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.password = password if password is not None else token
        super().__init__(state_path=state_path, token=token)
        for key, value in self.empty_state().items():  # state files written by older versions
            self.state.setdefault(key, value)

    # -- FakeVendor hooks ----------------------------------------------------------------
    @override
    def empty_state(self) -> dict[str, Any]:
        stamp = "2024-01-01 00:00:00"
        system = {
            str(RT_SYSTEM): _user(RT_SYSTEM, "RT_System", RealName="The RT System itself", stamp=stamp),
            str(NOBODY): _user(NOBODY, "Nobody", RealName="Nobody in particular", stamp=stamp),
            str(ROOT): _user(ROOT, "root", RealName="Enoch Root", EmailAddress=ROOT_EMAIL,
                             Comments="SuperUser", Privileged=1, stamp=stamp),
        }
        return {
            "next": {"users": FIRST_USER_ID, "tickets": 1, "transactions": 1, "attachments": 1},
            "records": {"users": system, "tickets": {}, "correspondence": {}},
            "transactions": {},  # every other transaction (field changes, status, user creates)
            "attachments": {},
            "queues": {"1": {"id": 1, "Name": "General", "Description": "The default queue"},
                       "2": {"id": 2, "Name": "Support", "Description": "Customer support"}},
        }

    @override
    def error(self, status: int, message: str, **extra: Any) -> httpx.Response:
        return self.json({"message": message, **extra}, status)

    @override
    def authorize(self, request: httpx.Request) -> httpx.Response | None:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and credential == self.token:
            return None
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(credential, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            found = self._user_by_key(user)
            if found and found["id"] == ROOT and password == self.password and not found.get("Disabled"):
                return None
        return self.json({"message": "Unauthorized"}, 401)

    def extra_settings(self) -> dict[str, Any]:
        """Connector settings a sandbox needs besides ``base_url`` and the token."""
        return {"username": "root"}

    # -- public data API -----------------------------------------------------------------
    @override
    def insert(self, stream: str, fields: dict[str, Any]) -> str:
        """Create a record as an RT user would; returns its id.

        users: any of the user columns (``Name`` defaults to ``EmailAddress``), ``CustomFields``
        ``{name: value}``; tickets: ``Subject, Queue, Requestor (ids or emails), Owner, Status,
        Priority, Due, Content, Creator, CustomFields``; correspondence: ``{"Ticket": id,
        "Content": text, "Creator": user id}`` (a reply on that ticket; without ``Ticket``, on a
        new ticket). Values are stored as
        given (messy data is what sandboxes show); only the HTTP API validates.
        """
        with self.lock:
            if stream == "users":
                rid = self._create_user(dict(fields), validate=False)
            elif stream == "tickets":
                rid = self._create_ticket(dict(fields), creator=self._inserted_by(fields), validate=False)
            elif stream == "correspondence":
                if fields.get("Ticket") in (None, ""):  # a reply on a new ticket of its own
                    fields = {**fields, "Ticket": self._create_ticket(
                        {"Subject": fields.get("Subject") or "Sandbox conversation", "Content": ""},
                        creator=API_USER, validate=False)}
                ticket = self.table("tickets")[str(fields["Ticket"])]
                rid = self._reply(ticket, "Correspond", str(fields.get("Content") or ""),
                                  creator=int(fields.get("Creator") or API_USER),
                                  content_type=str(fields.get("ContentType") or "text/plain"))
            else:
                raise KeyError(f"FakeRT has no stream {stream!r}")
            self._persist()
            return str(rid)

    @override
    def update(self, stream: str, record_id: str, fields: dict[str, Any]) -> None:
        """Change a user or a ticket as an agent would (bumps ``LastUpdated``, even when no value
        changes).

        Raises:
            KeyError: no such record.
            ValueError: correspondence (RT transactions never change).
        """
        with self.lock:
            if stream == "correspondence":
                raise ValueError("RT transactions cannot be changed")
            record = self.table(stream)[str(record_id)]
            if stream == "users":
                self._update_user(record, dict(fields), validate=False)
            else:
                self._update_ticket(record, dict(fields), validate=False)
            self._touch(record)  # an agent saved the record (RT records even an empty change)
            self._persist()

    def delete(self, stream: str, record_id: str) -> None:
        """Delete as RT does: a user is disabled (and leaves the user list), a ticket gets status
        ``deleted`` (and leaves every search).

        Raises:
            KeyError: no such record.
        """
        with self.lock:
            record = self.table(stream)[str(record_id)]
            if stream == "users":
                record["Disabled"] = 1
                self._touch(record)
            elif stream == "tickets":
                self._set_ticket_field(record, "Status", "deleted", creator=API_USER)
                self._touch(record)
            else:
                raise ValueError("RT transactions cannot be deleted")
            self._persist()

    def transactions(self, ticket_id: str | int | None = None) -> list[dict[str, Any]]:
        """Every transaction (of one ticket), oldest first."""
        with self.lock:
            found = [*self.table("correspondence").values(), *self.state["transactions"].values()]
            if ticket_id is not None:
                found = [t for t in found if t["ObjectType"] == "RT::Ticket" and t["ObjectId"] == int(ticket_id)]
            return sorted((dict(t) for t in found), key=lambda t: t["id"])

    def content(self, transaction_id: str | int) -> str | None:
        """The text of a transaction (its first text/plain attachment)."""
        with self.lock:
            for attachment in self.state["attachments"].values():
                if attachment["TransactionId"] == int(transaction_id) and attachment["ContentType"] == "text/plain":
                    return str(attachment["Content"])
            return None

    # -- routes: system and queues -------------------------------------------------------
    @route("GET", P + r"/rt")
    def _rt(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self.json({"Version": VERSION, "Plugins": []})

    @route("GET", P + r"/queues/all")
    def _queues(self, request: httpx.Request, body: Any) -> httpx.Response:
        queues = sorted(self.state["queues"].values(), key=lambda q: q["id"])
        return self._collection(request, "queue", queues, lambda q, f: self._item("queue", q, f, request))

    @route("GET", P + r"/queue/(?P<key>[^/]+)")
    def _queue(self, request: httpx.Request, body: Any, key: str) -> httpx.Response:
        queue = self._queue_by_key(key)
        if queue is None:
            return self.error(404, "Not Found")
        return self.json({"id": queue["id"], "Name": queue["Name"], "Description": queue["Description"],
                          "Disabled": "0", "Lifecycle": "default"})

    # -- routes: users -------------------------------------------------------------------
    @route("GET", P + r"/users")
    def _users_get(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._users_search(request, _json_param(request))

    @route("POST", P + r"/users")
    def _users_post(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._users_search(request, body if isinstance(body, list) else [])

    def _users_search(self, request: httpx.Request, limits: Any) -> httpx.Response:
        if not isinstance(limits, list):
            return self.error(400, "JSON object must be a ARRAY")
        users = list(self.table("users").values())
        if not request.url.params.get("find_disabled_rows"):
            users = [u for u in users if not u.get("Disabled")]
        users = [u for u in users if _json_match(u, limits, USER_SEARCHABLE)]
        return self._collection(request, "user", users, lambda u, f: self._item("user", u, f, request))

    @route("GET", P + r"/user/(?P<key>[^/]+)")
    def _user_get(self, request: httpx.Request, body: Any, key: str) -> httpx.Response:
        user = self._user_by_key(key)
        if user is None:
            return self.error(404, "Not Found")
        return self.json(self._user_document(user, request))

    @route("POST", P + r"/user")
    def _user_post(self, request: httpx.Request, body: Any) -> httpx.Response:
        if not isinstance(body, dict):
            return self.error(400, "JSON object must be a HASH")
        try:
            rid = self._create_user(body, validate=True)
        except ValueError as exc:
            return self.error(400, str(exc))
        self.mutated()
        user = self.table("users")[str(rid)]
        return self.json(self._uid("user", user["Name"], request), 201,
                         headers={"Location": f"{P}/user/{rid}"})

    @route("PUT", P + r"/user/(?P<key>[^/]+)")
    def _user_put(self, request: httpx.Request, body: Any, key: str) -> httpx.Response:
        user = self._user_by_key(key)
        if user is None:
            return self.error(404, "Resource does not exist; use POST to create")
        if not isinstance(body, dict):
            return self.error(400, "JSON object must be a HASH")
        messages = self._update_user(user, body, validate=True)
        self.mutated()
        return self.json(messages)

    # -- routes: tickets -----------------------------------------------------------------
    @route("GET", P + r"/tickets")
    def _tickets(self, request: httpx.Request, body: Any) -> httpx.Response:
        query = request.url.params.get("query", "")
        try:
            predicate = TicketSQL(query, self).compile() if query.strip() else (lambda t: True)
        except QueryError as exc:
            return self.error(400, str(exc))
        tickets = [t for t in self.table("tickets").values() if t["Status"] != "deleted" and predicate(t)]
        return self._collection(request, "ticket", tickets, lambda t, f: self._item("ticket", t, f, request))

    @route("GET", P + r"/ticket/(?P<tid>\d+)")
    def _ticket_get(self, request: httpx.Request, body: Any, tid: str) -> httpx.Response:
        ticket = self.table("tickets").get(tid)
        if ticket is None:
            return self.error(404, "Not Found")
        return self.json(self._ticket_document(ticket, request))

    @route("POST", P + r"/ticket")
    def _ticket_post(self, request: httpx.Request, body: Any) -> httpx.Response:
        if not isinstance(body, dict):
            return self.error(400, "JSON object must be a HASH")
        queue = self._queue_by_key(str(body.get("Queue") or ""))
        if queue is None:
            if not body.get("Queue"):
                return self.error(400, "Could not create ticket. Queue not set")
            return self.error(403, f"No permission to create tickets in the queue '{body.get('Queue')}'")
        try:
            rid = self._create_ticket(body, creator=API_USER, validate=True)
        except ValueError as exc:
            return self.error(400, str(exc))
        self.mutated()
        return self.json(self._uid("ticket", str(rid), request), 201, headers={"Location": f"{P}/ticket/{rid}"})

    @route("PUT", P + r"/ticket/(?P<tid>\d+)")
    def _ticket_put(self, request: httpx.Request, body: Any, tid: str) -> httpx.Response:
        ticket = self.table("tickets").get(tid)
        if ticket is None:
            return self.error(404, "Resource does not exist; use POST to create")
        if not isinstance(body, dict):
            return self.error(400, "JSON object must be a HASH")
        messages = self._update_ticket(ticket, body, validate=True)
        self.mutated()
        return self.json(messages)

    @route("POST", P + r"/ticket/(?P<tid>\d+)/(?P<kind>correspond|comment)")
    def _ticket_reply(self, request: httpx.Request, body: Any, tid: str, kind: str) -> httpx.Response:
        ticket = self.table("tickets").get(tid)
        if ticket is None:
            return self.error(404, "Not Found")
        if not isinstance(body, dict) or not str(body.get("Content") or "").strip():
            return self.error(400, "No content")
        txn = self._reply(ticket, "Correspond" if kind == "correspond" else "Comment", str(body["Content"]),
                          creator=API_USER, content_type=str(body.get("ContentType") or "text/plain"))
        self.mutated()
        said = "Correspondence added" if kind == "correspond" else "Comments added"
        return self.json([said], 201, headers={"Location": f"{P}/transaction/{txn}"})

    @route("GET", P + r"/ticket/(?P<tid>\d+)/history")
    def _ticket_history(self, request: httpx.Request, body: Any, tid: str) -> httpx.Response:
        if tid not in self.table("tickets"):
            return self.error(404, "Not Found")
        txns = self.transactions(tid)
        return self._collection(request, "transaction", txns, lambda t, f: self._item("transaction", t, f, request))

    # -- routes: transactions, attachments, custom fields --------------------------------
    @route("GET", P + r"/transactions")
    def _transactions_get(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._json_search(request, "transaction", self.transactions(), _json_param(request),
                                 TRANSACTION_SEARCHABLE)

    @route("POST", P + r"/transactions")
    def _transactions_post(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._json_search(request, "transaction", self.transactions(), body, TRANSACTION_SEARCHABLE)

    @route("GET", P + r"/transaction/(?P<txn>\d+)")
    def _transaction_get(self, request: httpx.Request, body: Any, txn: str) -> httpx.Response:
        found = self.table("correspondence").get(txn) or self.state["transactions"].get(txn)
        if found is None:
            return self.error(404, "Not Found")
        kind = "ticket" if found["ObjectType"] == "RT::Ticket" else "user"
        doc = {
            "id": found["id"], "Type": found["Type"], "Created": _w3c(found["Created"]),
            "Creator": self._user_uid(found["Creator"], request), "Data": found.get("Data") or "",
            "Object": self._uid(kind, str(found["ObjectId"]), request), "TimeTaken": "0",
            "_hyperlinks": [{"id": found["id"], "type": "transaction", "ref": "self",
                             "_url": f"{self._root(request)}/transaction/{found['id']}"}],
        }
        for name in ("Field", "OldValue", "NewValue"):
            if found.get(name) not in (None, ""):
                doc[name] = found[name]
        return self.json(doc)

    @route("GET", P + r"/attachments")
    def _attachments_get(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._json_search(request, "attachment", list(self.state["attachments"].values()),
                                 _json_param(request), ATTACHMENT_SEARCHABLE)

    @route("POST", P + r"/attachments")
    def _attachments_post(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._json_search(request, "attachment", list(self.state["attachments"].values()), body,
                                 ATTACHMENT_SEARCHABLE)

    @route("GET", P + r"/customfields")
    def _customfields(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._json_search(request, "customfield", [dict(cf) for cf in CUSTOM_FIELDS], _json_param(request),
                                 CUSTOMFIELD_SEARCHABLE)

    # -- internals: collections ----------------------------------------------------------
    def _json_search(self, request: httpx.Request, kind: str, rows: list[dict[str, Any]], limits: Any,
                     searchable: frozenset[str]) -> httpx.Response:
        if limits is None:
            limits = []
        if not isinstance(limits, list):
            return self.error(400, "JSON object must be a ARRAY")
        rows = [r for r in rows if _json_match(r, limits, searchable)]
        return self._collection(request, kind, rows, lambda r, f: self._item(kind, r, f, request))

    def _collection(self, request: httpx.Request, kind: str, rows: list[dict[str, Any]],
                    render: Callable[[dict[str, Any], list[str]], dict[str, Any]]) -> httpx.Response:
        params = request.url.params
        per_page = _positive(params.get("per_page"), DEFAULT_PER_PAGE)
        per_page = min(per_page, MAX_PER_PAGE)
        page = _positive(params.get("page"), 1)
        orderby = params.get_list("orderby")
        orders = params.get_list("order")
        if orderby:
            keys = list(zip(orderby, [*orders, *["ASC"] * len(orderby)], strict=False))
            for field, order in reversed(keys):  # stable sorts, last key first
                rows = sorted(rows, key=lambda r, f=field: self._sort_key(kind, r, f),
                              reverse=order.upper() == "DESC")
        else:
            rows = sorted(rows, key=lambda r: int(r.get("id") or 0))
        fields = [f for f in (params.get("fields") or "").split(",") if f]
        total = len(rows)
        chunk = rows[(page - 1) * per_page : page * per_page]
        pages = -(-total // per_page) if total else 0
        out: dict[str, Any] = {
            "count": len(chunk), "page": page, "pages": pages, "per_page": per_page, "total": total,
            "items": [render(r, fields) for r in chunk],
        }
        if page < pages:
            out["next_page"] = str(request.url.copy_set_param("page", str(page + 1)))
        if page > 1:
            out["prev_page"] = str(request.url.copy_set_param("page", str(min(page - 1, max(pages, 1)))))
        return self.json(out)

    def _sort_key(self, kind: str, row: dict[str, Any], field: str) -> tuple[int, Any]:
        value = row.get(field)
        if field in ("Owner", "Creator", "LastUpdatedBy") and isinstance(value, int):
            value = self._user_name(value)
        if field == "Queue" and isinstance(value, int):
            value = self.state["queues"].get(str(value), {}).get("Name")
        if value is None:
            return (0, "")  # NULLs first, as SQLite and MySQL sort them
        if isinstance(value, (int, float)):
            return (1, value)
        return (2, str(value).casefold() if field not in USER_DATES + TICKET_DATES else str(value))

    def _item(self, kind: str, row: dict[str, Any], fields: list[str], request: httpx.Request) -> dict[str, Any]:
        key = row["Name"] if kind == "user" else str(row["id"])
        item = self._uid(kind, key, request)
        for field in fields:
            item[field] = self._expand(kind, row, field, request, "fields")
        return item

    def _expand(self, kind: str, row: dict[str, Any], field: str, request: httpx.Request, prefix: str) -> Any:
        """One requested field of a search item, as REST2's expand_field renders it."""
        subfields = [f for f in (request.url.params.get(f"{prefix}[{field}]") or "").split(",") if f]
        if field == "id":
            return int(row["id"])
        if field == "CustomFields":
            return self._custom_field_values(kind, row, request)
        if kind == "ticket" and field in ROLES:
            return [self._user_object(uid, subfields, request, f"{prefix}[{field}]") for uid in row.get(field) or ()]
        if field in ("Owner", "Creator", "LastUpdatedBy") and kind in ("ticket", "user", "transaction"):
            uid = row.get(field)
            return self._user_object(uid, subfields, request, f"{prefix}[{field}]") if uid else ""
        if field == "Queue" and kind == "ticket":
            queue = self.state["queues"].get(str(row["Queue"]), {"id": row["Queue"], "Name": ""})
            obj = self._uid("queue", str(queue["id"]), request)
            for sub in subfields:
                obj[sub] = int(queue["id"]) if sub == "id" else queue.get(sub, "")
            return obj
        if field in USER_DATES + TICKET_DATES or (kind == "transaction" and field == "Created"):
            return _w3c(row.get(field))
        if field not in row or kind == "user" and field in ("Disabled", "Privileged"):
            return ""  # RT renders what it cannot read (or has no column for) as ""
        value = row.get(field)
        if value is None:
            return ""
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    def _user_object(self, uid: Any, subfields: list[str], request: httpx.Request, prefix: str) -> dict[str, Any]:
        user = self.table("users").get(str(uid)) or self.table("users")[str(NOBODY)]
        obj = self._uid("user", user["Name"], request)
        for sub in subfields:
            obj[sub] = self._expand("user", user, sub, request, prefix)
        return obj

    def _custom_field_values(self, kind: str, row: dict[str, Any], request: httpx.Request) -> list[dict[str, Any]]:
        lookup = _LOOKUP.get(f"{kind}s")
        out = []
        for cf in CUSTOM_FIELDS:
            if cf["LookupType"] != lookup:
                continue
            values = (row.get("CustomFields") or {}).get(cf["Name"]) or []
            out.append({**self._uid("customfield", str(cf["id"]), request), "name": cf["Name"], "values": list(values)})
        return out

    # -- internals: documents ------------------------------------------------------------
    def _root(self, request: httpx.Request) -> str:
        url = request.url
        port = f":{url.port}" if url.port else ""
        return f"{url.scheme}://{url.host}{port}{P}"

    def _uid(self, kind: str, key: str, request: httpx.Request) -> dict[str, Any]:
        return {"type": kind, "id": key, "_url": f"{self._root(request)}/{kind}/{key}"}

    def _user_uid(self, uid: Any, request: httpx.Request) -> dict[str, Any]:
        return self._uid("user", self._user_name(uid) or "Nobody", request)

    def _user_document(self, user: dict[str, Any], request: httpx.Request) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": user["id"]}
        for name in USER_COLUMNS:
            if user.get(name) not in (None, ""):
                doc[name] = user[name]
        doc.update(
            Created=_w3c(user["Created"]), LastUpdated=_w3c(user["LastUpdated"]),
            Creator=self._user_uid(user.get("Creator") or RT_SYSTEM, request),
            LastUpdatedBy=self._user_uid(user.get("LastUpdatedBy") or RT_SYSTEM, request),
            Privileged=1 if user.get("Privileged") else 0, Disabled="1" if user.get("Disabled") else "0",
            Memberships=[], CustomFields=self._custom_field_values("user", user, request),
            _hyperlinks=[
                {"id": user["id"], "type": "user", "ref": "self", "_url": f"{self._root(request)}/user/{user['id']}"},
                {"ref": "history", "_url": f"{self._root(request)}/user/{user['id']}/history"},
            ],
        )
        return doc

    def _ticket_document(self, ticket: dict[str, Any], request: httpx.Request) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": ticket["id"]}
        for name in TICKET_SCALARS:
            value = ticket.get(name)
            doc[name] = str(value) if isinstance(value, int) else value
        for name in TICKET_DATES:
            doc[name] = _w3c(ticket.get(name))
        doc["Queue"] = self._uid("queue", str(ticket["Queue"]), request)
        doc["Owner"] = self._user_uid(ticket["Owner"], request)
        doc["Creator"] = self._user_uid(ticket["Creator"], request)
        doc["LastUpdatedBy"] = self._user_uid(ticket.get("LastUpdatedBy") or ticket["Creator"], request)
        for role in ROLES:
            doc[role] = [self._user_uid(uid, request) for uid in ticket.get(role) or ()]
        doc["EffectiveId"] = self._uid("ticket", str(ticket["id"]), request)
        doc["CustomFields"] = self._custom_field_values("ticket", ticket, request)
        root = self._root(request)
        doc["_hyperlinks"] = [
            {"id": ticket["id"], "type": "ticket", "ref": "self", "_url": f"{root}/ticket/{ticket['id']}"},
            {"ref": "history", "_url": f"{root}/ticket/{ticket['id']}/history"},
            {"ref": "correspond", "_url": f"{root}/ticket/{ticket['id']}/correspond"},
            {"ref": "comment", "_url": f"{root}/ticket/{ticket['id']}/comment"},
        ]
        return doc

    # -- internals: users ----------------------------------------------------------------
    def _user_by_key(self, key: str) -> dict[str, Any] | None:
        users = self.table("users")
        if key.isdigit():
            return users.get(key)
        for user in users.values():
            if user["Name"] == key:
                return user
        return None

    def _user_by_email(self, email: str) -> dict[str, Any] | None:
        wanted = email.strip().casefold()
        for user in self.table("users").values():
            if (user.get("EmailAddress") or "").strip().casefold() == wanted:
                return user
        return None

    def _user_name(self, uid: Any) -> str | None:
        user = self.table("users").get(str(uid))
        return user["Name"] if user else None

    def _create_user(self, fields: dict[str, Any], *, validate: bool) -> int:
        email = str(fields.get("EmailAddress") or "")
        name = str(fields.get("Name") or "") or email
        if validate:
            email, name = email.strip(), name.strip() or email.strip()
        if validate:
            if not name:
                raise ValueError("Must specify 'Name' attribute")
            if self._user_by_key(name) is not None:
                raise ValueError("Name in use")
            if email and not EMAIL_RE.match(email):
                raise ValueError("Invalid syntax for email address")
            if email and self._user_by_email(email) is not None:
                raise ValueError("Email address in use")
        rid = self.state["next"]["users"]
        self.state["next"]["users"] += 1
        stamp = self._stamp()
        user = _user(rid, name, stamp=stamp, Creator=API_USER, LastUpdatedBy=API_USER)
        for column in USER_COLUMNS:
            if column in fields and column != "Name":
                user[column] = fields[column]
        user["Privileged"] = 1 if fields.get("Privileged") in (1, "1", True) else 0
        user["CustomFields"] = self._custom_values("users", fields.get("CustomFields"))
        self.table("users")[str(rid)] = user
        self._log("RT::User", rid, "Create", API_USER, stamp)
        return rid

    def _update_user(self, user: dict[str, Any], fields: dict[str, Any], *, validate: bool) -> list[str]:
        messages: list[str] = []
        changed = False
        label = f"User {user['Name']}"
        for column in USER_COLUMNS:
            if column not in fields or fields[column] is None:
                continue
            new = fields[column] if not validate else str(fields[column])
            old = user.get(column)
            if (old or "") == (new or ""):
                continue
            if validate and column == "EmailAddress" and new:
                if not EMAIL_RE.match(str(new).strip()):
                    messages.append(f"{label}: Email address '{new}' is not valid")
                    continue
                other = self._user_by_email(str(new))
                if other is not None and other["id"] != user["id"]:
                    messages.append(f"{label}: Email address in use")
                    continue
            if validate and column == "Name":
                other = self._user_by_key(str(new)) if new else None
                if not new or (other is not None and other["id"] != user["id"]):
                    messages.append(f"{label}: Name in use" if new else f"{label}: Illegal value for Name")
                    continue
            user[column] = new
            changed = True
            self._log("RT::User", user["id"], "Set", API_USER, None, Field=column, OldValue=old, NewValue=new)
            shown_old = f"'{old}'" if old else "(no value)"
            messages.append(f"{label}: {column} changed from {shown_old} to '{new}'")
        if "Disabled" in fields and fields["Disabled"] in (0, 1, "0", "1", True, False):
            disabled = 1 if fields["Disabled"] in (1, "1", True) else 0
            if disabled != (user.get("Disabled") or 0):
                user["Disabled"] = disabled
                changed = True
                messages.append(f"{label}: {'User disabled' if disabled else 'User enabled'}")
        if isinstance(fields.get("CustomFields"), dict):
            for name, value in fields["CustomFields"].items():
                if self._set_custom(user, "users", name, value):
                    changed = True
                    messages.append(f"{label}: {name} {value} added")
        if changed:
            self._touch(user)
        return messages

    # -- internals: tickets --------------------------------------------------------------
    def _queue_by_key(self, key: str) -> dict[str, Any] | None:
        queues = self.state["queues"]
        if key.isdigit():
            return queues.get(key)
        for queue in queues.values():
            if queue["Name"].casefold() == key.strip().casefold():
                return queue
        return None

    def _principal(self, value: Any, *, create: bool) -> int | None:
        """A role member given as a user id, a name or an email address (RT creates an
        unprivileged user for an unknown email address)."""
        if isinstance(value, dict):
            value = value.get("id")
        text = str(value).strip()
        if not text:
            return None
        if text.isdigit():
            return int(text) if text in self.table("users") else None
        found = self._user_by_key(text) or (self._user_by_email(text) if "@" in text else None)
        if found is not None:
            return int(found["id"])
        if create and EMAIL_RE.match(text):
            return self._create_user({"EmailAddress": text}, validate=False)
        return None

    def _create_ticket(self, fields: dict[str, Any], *, creator: int, validate: bool) -> int:
        queue = self._queue_by_key(str(fields.get("Queue") or "1")) or self.state["queues"]["1"]
        status = str(fields.get("Status") or "new").lower()
        if validate and status not in STATUSES:
            raise ValueError(f"Status '{status}' isn't a valid status for tickets in this queue.")
        priority = _int_or(fields.get("Priority"), None)
        if validate and fields.get("Priority") not in (None, "") and priority is None:
            raise ValueError(f"Invalid value for Priority: '{fields.get('Priority')}'")
        roles: dict[str, list[int]] = {}
        for role in ROLES:
            members = fields.get(role)
            wanted = members if isinstance(members, list) else ([members] if members not in (None, "") else [])
            roles[role] = []
            for member in wanted:
                uid = self._principal(member, create=True)
                if uid is None:
                    if validate:
                        raise ValueError(f"Couldn't load or create user: {member}")
                    continue
                roles[role].append(uid)
        owner = NOBODY
        if fields.get("Owner") not in (None, ""):
            found = self._principal(fields["Owner"], create=False)
            if found is None and validate:
                raise ValueError("Owner could not be set.")
            owner = found or NOBODY
        dates = {}
        for name in ("Starts", "Started", "Due", "Told"):
            dates[name] = _stored_date(fields.get(name))
            if validate and fields.get(name) not in (None, "") and dates[name] is None:
                raise ValueError(f"Couldn't parse date '{fields.get(name)}'")
        rid = self.state["next"]["tickets"]
        self.state["next"]["tickets"] += 1
        stamp = self._stamp()
        ticket = {
            "id": rid, "Subject": str(fields.get("Subject") or ""), "Status": status,
            "Priority": priority if priority is not None else 0,
            "InitialPriority": _int_or(fields.get("InitialPriority"), 0),
            "FinalPriority": _int_or(fields.get("FinalPriority"), 0),
            "Queue": int(queue["id"]), "Owner": owner, **roles, "Type": "ticket",
            "Creator": creator, "LastUpdatedBy": creator, "Created": stamp, "LastUpdated": stamp,
            "Starts": dates["Starts"], "Started": dates["Started"] or (stamp if status != "new" else None),
            "Due": dates["Due"], "Resolved": stamp if status in ("resolved", "rejected") else None,
            "Told": dates["Told"], "TimeWorked": _int_or(fields.get("TimeWorked"), 0),
            "TimeEstimated": _int_or(fields.get("TimeEstimated"), 0), "TimeLeft": _int_or(fields.get("TimeLeft"), 0),
            "CustomFields": self._custom_values("tickets", fields.get("CustomFields")),
        }
        self.table("tickets")[str(rid)] = ticket
        content = str(fields.get("Content") or "")
        txn = self._log("RT::Ticket", rid, "Create", creator, stamp)
        self._attach(txn, content, str(fields.get("ContentType") or "text/plain"), subject=ticket["Subject"])
        return rid

    def _inserted_by(self, fields: dict[str, Any]) -> int:
        """Who created a seeded ticket: ``Creator``, else its first requestor (a customer writing
        in, as RT's mail gateway records it), else the API user."""
        if fields.get("Creator") not in (None, ""):
            return int(fields["Creator"])
        requestors = fields.get("Requestor")
        first = (requestors[0] if requestors else None) if isinstance(requestors, list) else requestors
        uid = self._principal(first, create=True) if first not in (None, "") else None
        return uid or API_USER

    def _update_ticket(self, ticket: dict[str, Any], fields: dict[str, Any], *, validate: bool) -> list[str]:
        messages: list[str] = []
        changed = False
        label = f"Ticket {ticket['id']}"
        for name in TICKET_WRITABLE:
            if name not in fields or fields[name] is None:
                continue
            value = fields[name]
            if name == "Status":
                value = str(value).lower()
                if value not in STATUSES:
                    messages.append(f"{label}: Status '{fields[name]}' isn't a valid status for this ticket.")
                    continue
            elif name == "Queue":
                queue = self._queue_by_key(str(value))
                if queue is None:
                    messages.append(f"{label}: Queue '{value}' not found")
                    continue
                value = int(queue["id"])
            elif name == "Owner":
                uid = self._principal(value, create=False)
                if uid is None:
                    messages.append(f"{label}: That user does not exist")
                    continue
                value = uid
            elif name in ("Priority", "InitialPriority", "FinalPriority", "TimeWorked", "TimeEstimated", "TimeLeft"):
                number = _int_or(value, None)
                if number is None:
                    messages.append(f"{label}: Invalid value for {name}")
                    continue
                value = number
            elif name in TICKET_DATES:
                value = _stored_date(value) if value != "" else None
                if value is None and fields[name] != "" and validate:
                    messages.append(f"{label}: Couldn't parse date '{fields[name]}'")
                    continue
            if ticket.get(name) == value:
                continue
            old = ticket.get(name)
            self._set_ticket_field(ticket, name, value, creator=API_USER)
            changed = True
            messages.append(f"{label}: {name} changed from '{old}' to '{value}'")
        for role in ROLES:
            if role not in fields:
                continue
            members = fields[role] if isinstance(fields[role], list) else [fields[role]]
            wanted = [uid for uid in (self._principal(m, create=True) for m in members if m not in (None, "")) if uid]
            if sorted(wanted) != sorted(ticket.get(role) or []):
                ticket[role] = wanted
                changed = True
                messages.append(f"{label}: {role} set")
        if isinstance(fields.get("CustomFields"), dict):
            for name, value in fields["CustomFields"].items():
                if self._set_custom(ticket, "tickets", name, value):
                    changed = True
                    messages.append(f"{label}: {name} {value} added")
        if changed:
            self._touch(ticket)
        return messages

    def _set_ticket_field(self, ticket: dict[str, Any], name: str, value: Any, *, creator: int) -> None:
        old = ticket.get(name)
        ticket[name] = value
        if name == "Status":
            if value in ("resolved", "rejected"):
                ticket["Resolved"] = self._stamp()
            if value != "new" and not ticket.get("Started"):
                ticket["Started"] = self._stamp()
        self._log("RT::Ticket", ticket["id"], "Status" if name == "Status" else "Set", creator, None,
                  Field=name, OldValue=old, NewValue=value)

    def _reply(self, ticket: dict[str, Any], kind: str, content: str, *, creator: int, content_type: str) -> int:
        stamp = self._stamp()
        txn = self._log("RT::Ticket", ticket["id"], kind, creator, stamp)
        self._attach(txn, content, content_type, subject="")
        if kind == "Correspond":
            ticket["Told"] = stamp
            if ticket["Status"] == "new" and creator not in (ticket.get("Requestor") or []):
                self._set_ticket_field(ticket, "Status", "open", creator=RT_SYSTEM)
        self._touch(ticket, by=creator)
        return txn

    # -- internals: bookkeeping ------------------------------------------------------------
    def _stamp(self) -> str:
        return self.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    def _touch(self, record: dict[str, Any], *, by: int = API_USER) -> None:
        record["LastUpdated"] = self._stamp()
        record["LastUpdatedBy"] = by

    def _log(self, object_type: str, object_id: int, kind: str, creator: int, stamp: str | None,
             **extra: Any) -> int:
        tid = self.state["next"]["transactions"]
        self.state["next"]["transactions"] += 1
        txn = {"id": tid, "Type": kind, "ObjectType": object_type, "ObjectId": int(object_id),
               "Creator": creator, "Created": stamp or self._stamp(), "Data": "", **extra}
        correspondence = object_type == "RT::Ticket" and kind in ("Create", "Correspond")
        (self.table("correspondence") if correspondence else self.state["transactions"])[str(tid)] = txn
        return tid

    def _attach(self, txn: int, content: str, content_type: str, *, subject: str) -> None:
        aid = self.state["next"]["attachments"]
        self.state["next"]["attachments"] += 1
        self.state["attachments"][str(aid)] = {
            "id": aid, "TransactionId": txn, "Parent": 0, "ContentType": content_type,
            "Content": content, "Subject": subject, "Filename": "",
        }

    def _custom_values(self, stream: str, given: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        if isinstance(given, dict):
            for name, value in given.items():
                cf = _custom_field(stream, name)
                if cf is not None:
                    out[cf["Name"]] = _values(value, cf)
        return out

    def _set_custom(self, record: dict[str, Any], stream: str, name: str, value: Any) -> bool:
        cf = _custom_field(stream, name)
        if cf is None:
            return False
        values = _values(value, cf)
        current = record.setdefault("CustomFields", {})
        if current.get(cf["Name"], []) == values:
            return False
        current[cf["Name"]] = values
        return True

    def _persist(self) -> None:
        if self.state_path:
            self.save()
        else:
            self.dirty = False

    def parse_local(self, value: str) -> datetime | None:
        """A TicketSQL date as RT reads it: in the API user's zone, whatever suffix it carries
        (RT parses '...Z' as local time too); None when RT would not understand it."""
        text = value.strip().replace("T", " ").rstrip("Zz").strip()
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                naive = datetime.strptime(text, fmt)
            except ValueError:
                continue
            return naive.replace(tzinfo=self.zone).astimezone(UTC)
        return None


# -- TicketSQL ---------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:(?P<lp>\()|(?P<rp>\))|'(?P<sq>(?:[^'\\]|\\.)*)'|"(?P<dq>(?:[^"\\]|\\.)*)"|"""
    r"""(?P<op>>=|<=|!=|<>|=|<|>)|(?P<word>[A-Za-z0-9_.{}:\-]+))"""
)
_STRING_FIELDS = {"Subject": "Subject", "Status": "Status", "Type": "Type"}
_NUMBER_FIELDS = ("id", "Priority", "InitialPriority", "FinalPriority", "TimeWorked", "TimeEstimated", "TimeLeft")


class TicketSQL:
    """The TicketSQL subset the fake understands, compiled to a predicate on stored tickets.

    ``cond (AND|OR cond)*`` with parentheses (AND binds tighter); ``cond`` is ``Field OP value``
    with OP one of ``= != <> < > <= >= LIKE, NOT LIKE, IS, IS NOT`` and the value quoted, a number
    or NULL. Fields: id, Subject, Status (also ``__Active__``/``__Inactive__``), Queue, Owner,
    Creator, Priority (and the other numbers), the dates, Requestor/Cc/AdminCc (email or name; also
    ``Requestor.EmailAddress``, ``Requestor.Name``, ``Requestor.id``), ``CF.{Name}``.
    """

    def __init__(self, text: str, fake: FakeRT) -> None:
        self.text = text
        self.fake = fake
        self.tokens = self._tokenize(text)
        self.pos = 0

    def compile(self) -> Callable[[dict[str, Any]], bool]:
        predicate = self._or()
        if self.pos != len(self.tokens):
            raise QueryError(f"Wrong query, expecting AND or OR, got '{self.tokens[self.pos][1]}' in '{self.text}'")
        return predicate

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            match = _TOKEN.match(text, pos)
            if not match:
                raise QueryError(f"Wrong query, unexpected '{text[pos:].strip()[:20]}' in '{text}'")
            kind = match.lastgroup or ""
            value = match.group(kind)
            if kind in ("sq", "dq"):
                kind, value = "str", re.sub(r"\\(.)", r"\1", value)
            tokens.append((kind, value))
            pos = match.end()
        return tokens

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise QueryError(f"Incomplete query, last element is not close paren or value in '{self.text}'")
        self.pos += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token and token[0] == "word" and token[1].upper() == word:
            self.pos += 1
            return True
        return False

    def _or(self) -> Callable[[dict[str, Any]], bool]:
        parts = [self._and()]
        while self._keyword("OR"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda t: any(p(t) for p in parts))

    def _and(self) -> Callable[[dict[str, Any]], bool]:
        parts = [self._factor()]
        while self._keyword("AND"):
            parts.append(self._factor())
        return parts[0] if len(parts) == 1 else (lambda t: all(p(t) for p in parts))

    def _factor(self) -> Callable[[dict[str, Any]], bool]:
        kind, value = self._take()
        if kind == "lp":
            inner = self._or()
            if self._take()[0] != "rp":
                raise QueryError(f"Wrong query, expecting a close paren in '{self.text}'")
            return inner
        if kind != "word":
            raise QueryError(f"Wrong query, expecting a field name, got '{value}' in '{self.text}'")
        field = value
        op_kind, op = self._take()
        if op_kind == "word" and op.upper() in ("LIKE", "IS", "NOT"):
            op = op.upper()
            if op == "NOT":
                if not self._keyword("LIKE"):
                    raise QueryError(f"Wrong query, expecting LIKE after NOT in '{self.text}'")
                op = "NOT LIKE"
            elif op == "IS" and self._keyword("NOT"):
                op = "IS NOT"
        elif op_kind != "op":
            raise QueryError(f"Wrong query, expecting an operator after {field}, got '{op}' in '{self.text}'")
        value_kind, raw = self._take()
        if value_kind not in ("str", "word"):
            raise QueryError(f"Wrong query, expecting a value after '{field} {op}' in '{self.text}'")
        if value_kind == "word" and raw.upper() != "NULL" and not re.fullmatch(r"[+-]?\d+", raw):
            raise QueryError(f"Wrong query, value '{raw}' must be quoted in '{self.text}'")
        return self._condition(field, "=" if op == "<>" else op, None if raw.upper() == "NULL" and value_kind == "word" else raw)

    def _condition(self, field: str, op: str, value: str | None) -> Callable[[dict[str, Any]], bool]:
        fake = self.fake
        head, _, sub = field.partition(".")
        if head in ROLES:
            attr = sub or "EmailAddress"

            def members(t: dict[str, Any]) -> list[Any]:
                out: list[Any] = []
                for uid in t.get(head) or ():
                    user = fake.table("users").get(str(uid)) or {}
                    if attr == "id" and sub:
                        out.append(uid)
                    elif sub:
                        out.append(user.get(attr) or "")
                    else:  # a bare role matches the member's email address or name
                        out.extend(v for v in (user.get("EmailAddress"), user.get("Name")) if v)
                return out

            def role_match(t: dict[str, Any]) -> bool:
                found = members(t)
                if op in ("IS", "IS NOT"):
                    return (not found) == (op == "IS")
                negated = {"!=": "=", "NOT LIKE": "LIKE"}.get(op)
                hit = any(_compare(m, negated or op, value, numeric=attr == "id" and bool(sub)) for m in found)
                return not hit if negated else hit

            return role_match
        if head == "CF" or head.startswith("CF"):
            name = field[field.index(".") + 1 :].strip("{}") if "." in field else ""
            return lambda t: any(_compare(v, op, value) for v in (t.get("CustomFields") or {}).get(name, [])) \
                or (op == "!=" and not (t.get("CustomFields") or {}).get(name))
        if field in TICKET_DATES:
            return self._date_condition(field, op, value)
        if field in _NUMBER_FIELDS:
            return lambda t: _compare(t.get(field), op, value, numeric=True)
        if field == "Status":
            if value in ("__Active__", "__Inactive__"):
                group = ACTIVE if value == "__Active__" else tuple(s for s in STATUSES if s not in ACTIVE)
                return lambda t: (t["Status"] in group) == (op == "=")
            return lambda t: _compare(t["Status"], op, value)
        if field in _STRING_FIELDS:
            return lambda t: _compare(t.get(field) or "", op, value)
        if field == "Queue":
            def queue_name(t: dict[str, Any]) -> str:
                return str(fake.state["queues"].get(str(t["Queue"]), {}).get("Name", ""))
            return lambda t: _compare(str(t["Queue"]) if (value or "").isdigit() else queue_name(t), op, value)
        if field in ("Owner", "Creator", "LastUpdatedBy"):
            return lambda t: _compare(str(t.get(field)) if (value or "").isdigit() else fake._user_name(t.get(field)) or "",
                                      op, value)
        raise QueryError(f"Wrong query, no such column '{field}' in '{self.text}'")

    def _date_condition(self, field: str, op: str, value: str | None) -> Callable[[dict[str, Any]], bool]:
        if op in ("IS", "IS NOT"):
            return lambda t: (t.get(field) is None) == (op == "IS")
        if op not in ("=", "<", ">", "<=", ">="):
            raise QueryError(f"Invalid Date Op: {op}")
        moment = self.fake.parse_local(value or "")
        if moment is None:  # RT reads what it cannot parse as 1970-01-01
            moment = datetime(1970, 1, 1, tzinfo=UTC)
        if op == "=":  # the whole day, in the user's zone
            local = moment.astimezone(self.fake.zone).replace(hour=0, minute=0, second=0)
            start = _sql(local.astimezone(UTC))
            end = _sql((local + timedelta(days=1)).astimezone(UTC))
            return lambda t: t.get(field) is not None and start <= t[field] < end
        bound = _sql(moment)
        return lambda t: t.get(field) is not None and _compare(t[field], op, bound)


# -- helpers -----------------------------------------------------------------------------------
def _user(uid: int, name: str, *, stamp: str, **fields: Any) -> dict[str, Any]:
    user: dict[str, Any] = {"id": uid, **{c: None for c in USER_COLUMNS}, "Name": name, "Privileged": 0,
                            "Disabled": 0, "CustomFields": {}, "Creator": RT_SYSTEM, "LastUpdatedBy": RT_SYSTEM,
                            "Created": stamp, "LastUpdated": stamp}
    user.update(fields)
    return user


def _custom_field(stream: str, name: str) -> dict[str, Any] | None:
    for cf in CUSTOM_FIELDS:
        if cf["LookupType"] == _LOOKUP[stream] and (cf["Name"] == str(name) or str(cf["id"]) == str(name)):
            return cf
    return None


def _values(value: Any, cf: dict[str, Any]) -> list[Any]:
    values = [v for v in (value if isinstance(value, list) else [value]) if v not in (None, "")]
    return values if cf["MaxValues"] == 0 else values[-1:]


def _json_param(request: httpx.Request) -> Any:
    raw = request.url.params.get("query")
    if not raw or not raw.lstrip().startswith("["):
        return []
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _json_match(row: dict[str, Any], limits: Iterable[Any], searchable: frozenset[str]) -> bool:
    """REST2's JSON search: limits on one field joined by their aggregator (default OR), the
    fields' clauses AND-ed; limits on fields that cannot be searched are ignored."""
    clauses: dict[str, bool] = {}
    for limit in limits:
        if not isinstance(limit, dict) or not limit.get("field") or limit.get("value") is None:
            continue
        field = str(limit["field"])
        if field not in searchable:
            continue
        op = str(limit.get("operator") or "=").upper()
        hit = _compare(row.get(field), op, limit["value"], case_sensitive=bool(limit.get("case_sensitive")))
        if field not in clauses:
            clauses[field] = hit
        elif str(limit.get("entry_aggregator") or "OR").upper() == "AND":
            clauses[field] = clauses[field] and hit
        else:
            clauses[field] = clauses[field] or hit
    return all(clauses.values())


def _compare(have: Any, op: str, want: Any, *, numeric: bool = False, case_sensitive: bool = False) -> bool:
    op = op.upper()
    if op in ("IN", "NOT IN"):
        wants = want if isinstance(want, list) else [want]
        hit = any(_compare(have, "=", w, numeric=numeric, case_sensitive=case_sensitive) for w in wants)
        return hit if op == "IN" else not hit
    if op in ("IS", "IS NOT"):
        return (have in (None, "")) == (op == "IS")
    if have is None:
        return False
    if numeric or (isinstance(have, (int, float)) and not isinstance(have, bool) and re.fullmatch(r"[+-]?\d+(\.\d+)?", str(want))):
        try:
            a, b = float(have), float(want)
        except (TypeError, ValueError):
            return False
    else:
        a, b = str(have), str(want)
        if not case_sensitive:
            a, b = a.casefold(), b.casefold()
    if op == "LIKE":
        return str(b) in str(a)
    if op == "NOT LIKE":
        return str(b) not in str(a)
    return {"=": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}.get(op, False)


def _positive(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() and int(value) > 0 else default


def _int_or(value: Any, default: int | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _sql(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _stored_date(value: Any) -> str | None:
    """A date written through the API (RT's ISO format: UTC, ``T``/``Z`` optional)."""
    if value in (None, ""):
        return None
    text = str(value).strip().replace("T", " ").rstrip("Zz").strip()
    try:
        return _sql(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC))
    except ValueError:
        return None


def _w3c(stored: str | None) -> str:
    """A stored date as REST2 shows it (``1970-01-01T00:00:00Z`` when not set)."""
    return (stored or UNSET).replace(" ", "T") + "Z"
