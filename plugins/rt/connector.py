"""The Request Tracker 5 connector: users and tickets (read and write), correspondence (read).

RT's REST 2.0 API lives at ``{base_url}/REST/2.0/``; every request carries an auth token
(``Authorization: token ...``, RT 5's built-in RT::Authen::Token) or, failing that, basic auth.

Reads ask for the fields they need on the search itself (``fields=Subject,Status,...`` and
``fields[Requestor]=id,EmailAddress``), so a page of 100 tickets costs one request, not 101.
Searches page with ``page``/``per_page`` (at most 100).

* **users**: RT's user search cannot filter on ``LastUpdated`` (the JSON search silently ignores
  fields that are not public, and that one is not) but it can order by it. The first read pages
  through every user in id order; later reads page newest first down to the checkpoint (a user
  changed meanwhile moves to the front, so nothing unread slips into a page already read) and
  emit the changes oldest first, with a :class:`~hub.connector.TimestampCheckpoint`.
* **tickets**: TicketSQL ``LastUpdated >= '<checkpoint>' AND id > <last id read>`` in id order,
  always page 1 (keyset paging on the id, which never changes: a ticket changed during the read
  keeps its place, so none shifts out of reach, and any number of tickets may share one
  ``LastUpdated`` second). A read first notes the newest ``LastUpdated`` there is; once it is
  complete the checkpoint (a :class:`~hub.connector.TimestampCheckpoint`) moves there, with the
  ids read at that second, so every change made since the read began comes next time.
  RT reads a TicketSQL date in the API user's time zone (their preference, else RT's
  ``$Timezone``), so the connector converts the checkpoint to that zone: the ``timezone`` setting
  when given, else it measures the offset once per connector (a binary search on a ticket's
  ``Created``, about 7 requests). It asks from a little earlier and drops what it emitted already.
  RT never lists deleted (or merged-away) tickets, so there are no tombstones.
* **correspondence**: the ``Create`` and ``Correspond`` transactions of tickets, searched by
  transaction id (``id > after``: transactions never change). Each page costs three requests: the
  transactions (with their author), their text/plain attachments (the body), and the tickets'
  subject and requestors (so an answer by a requestor is ``inbound``, any other ``outbound``).

Writes: RT has no batch endpoint, so each record is one request (``POST /user``, ``PUT /user/{id}``,
``POST /ticket``, ``PUT /ticket/{id}``). Creating a user first looks it up by email address (then by
name), so a retried create updates instead of failing with "Email address in use". RT has no
external id for tickets: with ``ticket_key_field`` (a ticket custom field) the hub's key is stored
on each ticket it creates and looked up first, and the POST is sent without the client's automatic
retries (an answer lost after RT opened the ticket is followed by a lookup, not a second POST);
without it, ticket creates are not idempotent. RT answers an update with 200 and a list of
messages even when it refused a field, so the connector reads the record back and reports the
fields that did not take as a failure of that record (with RT's messages).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from hub import http as hub_http
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
    override,
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

API = "/REST/2.0"
MAX_PER_PAGE = 100  # REST2 caps per_page at 100
WRITE_BATCH = 50  # ops per write() call; each op is its own request (RT has no batch endpoint)
SYSTEM_USERS = frozenset({"RT_System", "Nobody"})  # RT's internal principals, not people
UNSET_DATE = "1970-01-01T00:00:00Z"  # how REST2 shows a date that is not set
MAX_UTC_OFFSET = timedelta(hours=14)  # no time zone is further from UTC
DST_MARGIN = timedelta(hours=1)  # a DST change between the measured moment and the checkpoint
QUARTER_HOUR = timedelta(minutes=15)  # every UTC offset in use is a multiple of this
WRITE_FAILURES = frozenset({400, 403, 404, 409, 422})  # RT refusing one record, not the credentials

# Priority (RT: a number, 0-100 by default; PriorityAsString says Low 0, Medium 50, High 100)
# -> canonical bands, lowest bound first; writing a band sets the number listed in BAND_PRIORITY.
PRIORITY_BANDS: tuple[tuple[int, str], ...] = ((90, "urgent"), (60, "high"), (30, "normal"))
BAND_PRIORITY = {"low": 0, "normal": 50, "high": 75, "urgent": 100}

USER_FIELDS = (
    "Name", "EmailAddress", "RealName", "NickName", "Organization", "WorkPhone", "MobilePhone",
    "HomePhone", "PagerPhone", "Address1", "Address2", "City", "State", "Zip", "Country", "Lang",
    "Timezone", "Comments", "Created", "LastUpdated",
)
TICKET_FIELDS = (
    "Subject", "Status", "Priority", "InitialPriority", "FinalPriority", "Queue", "Owner",
    "Requestor", "Cc", "AdminCc", "Type", "Creator", "Created", "Starts", "Started", "Due",
    "Resolved", "Told", "LastUpdated", "TimeWorked", "TimeEstimated", "TimeLeft",
)
TICKET_SUBFIELDS = {
    "fields[Queue]": "Name",
    "fields[Owner]": "id,Name",
    "fields[Creator]": "Name",
    "fields[Requestor]": "id,Name,EmailAddress",
    "fields[Cc]": "Name,EmailAddress",
    "fields[AdminCc]": "Name,EmailAddress",
}
DATE_FIELDS = frozenset({"Created", "LastUpdated", "Starts", "Started", "Due", "Resolved", "Told"})
CUSTOM_LOOKUP = {"users": "RT::User", "tickets": "RT::Queue-RT::Ticket"}
CF_PREFIX = "CF."

_S, _I, _T, _A = "string", "integer", "datetime", "array"
STANDARD_FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {  # (name, type, writable)
    "users": (
        ("id", _I, False), ("Name", _S, True), ("EmailAddress", _S, True), ("RealName", _S, True),
        ("NickName", _S, True), ("Organization", _S, True), ("WorkPhone", _S, True),
        ("MobilePhone", _S, True), ("HomePhone", _S, True), ("PagerPhone", _S, True),
        ("Address1", _S, True), ("Address2", _S, True), ("City", _S, True), ("State", _S, True),
        ("Zip", _S, True), ("Country", _S, True), ("Lang", _S, True), ("Timezone", _S, True),
        ("Comments", _S, True), ("Created", _T, False), ("LastUpdated", _T, False),
    ),
    "tickets": (
        ("id", _I, False), ("Subject", _S, True), ("Status", _S, True), ("Priority", _I, True),
        ("PriorityBand", "enum", True), ("InitialPriority", _I, True), ("FinalPriority", _I, True),
        ("Queue", _S, True), ("QueueId", _I, False), ("Owner", _S, True), ("OwnerId", _I, False),
        ("Requestor", _A, True), ("RequestorId", _I, True), ("RequestorEmail", _S, False),
        ("Cc", _A, True), ("AdminCc", _A, True), ("Content", _S, True), ("Type", _S, False),
        ("Creator", _S, False), ("Created", _T, False), ("Starts", _T, True), ("Started", _T, True),
        ("Due", _T, True), ("Resolved", _T, False), ("Told", _T, True), ("LastUpdated", _T, False),
        ("TimeWorked", _I, True), ("TimeEstimated", _I, True), ("TimeLeft", _I, True),
    ),
    "correspondence": (
        ("id", _I, False), ("Type", _S, False), ("Ticket", _I, False), ("Subject", _S, False),
        ("Creator", _I, False), ("CreatorName", _S, False), ("CreatorEmail", _S, False), ("Customer", _I, False),
        ("Created", _T, False), ("Content", _S, False), ("Direction", _S, False), ("Url", _S, False),
    ),
}
CF_TYPES = {
    "Freeform": _S, "Text": _S, "Wikitext": _S, "Select": "enum", "Combobox": "enum",
    "Autocomplete": _S, "Date": "date", "DateTime": _T, "IPAddress": _S, "IPAddressRange": _S,
    "Image": "binary", "Binary": "binary",
}
READ_ONLY = {
    "users": frozenset({"id", "Created", "LastUpdated"}),
    "tickets": frozenset(
        {"id", "Created", "LastUpdated", "Resolved", "Creator", "Type", "QueueId", "OwnerId", "RequestorEmail"}
    ),
}


class RTSettings(ConnectorSettings):
    """Settings of a Request Tracker 5 instance.

    Attributes:
        base_url: RT's web root (``https://rt.example.com`` or ``.../rt``); the REST 2.0 API is
            at ``{base_url}/REST/2.0/``.
        token: an auth token (RT: Logged in as ... > Settings > Auth Tokens), sent as
            ``Authorization: token ...``.
        username, password: basic auth, used only when no token is set.
        page_size: records per search page (RT allows at most 100).
        queue: the queue of tickets created without one.
        timezone: the time zone RT reads TicketSQL dates in for the API user (their Timezone
            preference, else RT's ``$Timezone``), e.g. ``UTC`` or ``Asia/Tokyo``; unset, the
            connector measures it once per run (about 7 cheap requests).
        ticket_key_field: a ticket custom field (Freeform, applied to the queues written to) that
            holds the hub's key of the tickets it creates, so that a retried create finds the
            ticket instead of opening a second one. RT has no external id: unset, ticket creates
            are not idempotent.
    """

    base_url: str
    token: SecretStr = SecretStr("")
    username: str = ""
    password: SecretStr = SecretStr("")
    page_size: int = Field(MAX_PER_PAGE, ge=1, le=MAX_PER_PAGE)
    queue: str = "General"
    timezone: str | None = None
    ticket_key_field: str | None = None

    @model_validator(mode="after")
    def _normalise_base_url(self) -> Self:
        url = self.base_url.rstrip("/")
        if url.endswith(API):
            url = url[: -len(API)]
        self.base_url = url
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (use an IANA name such as UTC or Asia/Tokyo)") from None
        return value or None


class RT(Connector):
    """Request Tracker 5: users and tickets both ways, correspondence read-only."""

    name = "rt"
    kind = Kind.HELPDESK
    Settings = RTSettings
    streams = (
        Stream("users", primary_key="id", cursor_field="LastUpdated",
               capabilities=READ | INCREMENTAL | UPSERT, batch_size=WRITE_BATCH),
        Stream("tickets", primary_key="id", cursor_field="LastUpdated",
               capabilities=READ | INCREMENTAL | UPSERT, batch_size=WRITE_BATCH),
        Stream("correspondence", primary_key="id", cursor_field="id", capabilities=READ | INCREMENTAL),
    )

    settings: RTSettings
    _NOT_MEASURED: ClassVar[object] = object()

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        instance: str | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: RequestBudget | DefaultBudget | None = DEFAULT_BUDGET,
    ) -> None:
        super().__init__(settings, instance=instance, transport=transport, budget=budget)
        self._offset: Any = self._NOT_MEASURED  # RT's TicketSQL UTC offset, once measured
        self._reference: tuple[int, datetime] | None = None  # a ticket's id and Created, to measure with

    # -- connector API -------------------------------------------------------------------
    @override
    def auth_headers(self) -> dict[str, str]:
        """``Authorization: token ...``, or basic auth when only a username and password are set.

        Raises:
            MissingSecretError: neither a token nor a username and password are configured.
        """
        headers = {"Accept": "application/json"}
        if self.settings.token.get_secret_value():
            return {**headers, "Authorization": f"token {self.settings.token.get_secret_value()}"}
        if self.settings.username and self.settings.password.get_secret_value():
            pair = f"{self.settings.username}:{self.settings.password.get_secret_value()}"
            return {**headers, "Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        self.settings.require("token", connector=self.instance)  # raises, naming what to set
        return headers

    @override
    def check(self) -> CheckResult:
        """Ask RT its version and list the queues the credentials can see."""
        where = f"Request Tracker at {self.settings.base_url}"
        try:
            version = self._get("/rt").get("Version", "?")
            queues = self._get("/queues/all", {"per_page": 1}).get("total")
        except AuthError as exc:
            return CheckResult(False, f"{where} refused the credentials (check the auth token): {exc.reason}")
        except ConnectorError as exc:
            return CheckResult(False, f"checking {where} failed: {exc.reason}")
        who = f" as {self.settings.username}" if self.settings.username else ""
        seen = f"; {queues} queue(s) visible" if queues is not None else ""
        return CheckResult(True, f"authenticated{who} to RT {version} at {self.settings.base_url}{seen}")

    @override
    def discover(self) -> dict[str, list[FieldInfo]]:
        """Standard fields, plus the custom fields of users and tickets (``CF.<name>``)."""
        out = {
            stream: [FieldInfo(name, type_, custom=False, writable=writable) for name, type_, writable in fields]
            for stream, fields in STANDARD_FIELDS.items()
        }
        for stream, lookup in CUSTOM_LOOKUP.items():
            query = json.dumps([{"field": "LookupType", "operator": "=", "value": lookup}])
            for cf in self._search("/customfields", {"query": query, "fields": "Name,Type,MaxValues,Description,Disabled"},
                                   stream):
                if str(cf.get("Disabled", "0")) == "1":
                    continue
                multi = str(cf.get("MaxValues", "1")) == "0"
                out[stream].append(
                    FieldInfo(
                        name=f"{CF_PREFIX}{cf.get('Name')}",
                        type=_A if multi else CF_TYPES.get(str(cf.get("Type")), _S),
                        label=cf.get("Description") or cf.get("Name"),
                        custom=True,
                    )
                )
        return out

    @override
    def read(self, stream: str, state: dict[str, Any] | None) -> Iterator[Page]:
        """Pages of records; every page's state resumes right after it.

        users and tickets: state ``{"since": LastUpdated, "seen": ["id@digest" read at since]}``, plus
        ``scan_page`` (users' first read) or ``scan`` (tickets) while a read goes on;
        correspondence: state ``{"after": last transaction id}``.
        """
        self.stream(stream)  # an unknown stream: a ConfigError naming the known ones
        if stream == "users":
            yield from self._read_users(state)
        elif stream == "tickets":
            yield from self._read_tickets(state)
        else:
            yield from self._read_correspondence(state)

    @override
    def write(self, stream: str, batch: Sequence[WriteOp]) -> list[WriteResult]:
        """One request or a few per op (RT has no batch endpoint); one result per op, in order."""
        if not self.stream(stream).can(UPSERT):
            raise ConfigError(f"connector {self.name!r}: stream {stream!r} is read-only")
        return [self._write_one(stream, op) for op in batch]

    # -- reads: users -----------------------------------------------------------------------
    def _read_users(self, state: dict[str, Any] | None) -> Iterator[Page]:
        """users: RT cannot filter users on LastUpdated (its JSON search ignores the field), but
        it can order them by it. A first read scans every user in id order; later reads scan
        newest first and stop at the checkpoint, then emit what changed oldest first."""
        if state is None or state.get("scan_page") or state.get("since") is None:
            yield from self._scan_users(state)
        else:
            yield from self._changed_users(TimestampCheckpoint.load(state))

    def _scan_users(self, state: dict[str, Any] | None) -> Iterator[Page]:
        """A full read in id order (new users come last; RT never deletes one).

        Its final state starts the next read at the newest ``LastUpdated`` as the scan began, so
        a user changed during the scan is read again rather than missed.
        """
        checkpoint = TimestampCheckpoint.load(state)
        page = int((state or {}).get("scan_page") or 1)
        if checkpoint.since is None:
            newest = self._users_page(page=1, per_page=1, newest_first=True).get("items") or []
            stamp = _iso(newest[0].get("LastUpdated")) if newest and isinstance(newest[0], dict) else None
            checkpoint = TimestampCheckpoint(stamp or UNSET_DATE, set())
        while True:
            body = self._users_page(page=page, per_page=self.settings.page_size, by_id=True)
            items = [i for i in body.get("items") or () if isinstance(i, dict)]
            records = []
            for item in items:
                record = self._user_record(item)
                if record.data.get("LastUpdated") == checkpoint.since:
                    checkpoint.seen.add(_version(record))  # emitted as it was at the checkpoint
                if record.data.get("Name") not in SYSTEM_USERS:
                    records.append(record)
            full = len(items) >= self._per_page(body)
            state_after = {**checkpoint.dump(), "scan_page": page + 1} if full else checkpoint.dump()
            yield Page(records, state_after)
            if not full:
                return
            page += 1

    def _changed_users(self, checkpoint: TimestampCheckpoint) -> Iterator[Page]:
        """The users changed since the checkpoint: newest first down to it, then oldest first.

        Paging newest first is safe while users change: a change moves a user to the front, so
        no unread user moves into a page already read (a user read twice is kept once).
        """
        since = checkpoint.since or UNSET_DATE
        changed: dict[str, Record] = {}
        page = 1
        while True:
            body = self._users_page(page=page, per_page=self.settings.page_size, newest_first=True)
            items = [i for i in body.get("items") or () if isinstance(i, dict)]
            reached = False
            for item in items:
                record = self._user_record(item)
                if (record.data.get("LastUpdated") or UNSET_DATE) < since:
                    reached = True
                    break
                changed.setdefault(record.id, record)
            if reached or len(items) < self._per_page(body):
                break
            page += 1
        ordered = sorted(changed.values(), key=lambda r: (r.data.get("LastUpdated") or UNSET_DATE, _id_key(r.id)))
        batch: list[Record] = []
        for record in ordered:
            if not checkpoint.admit(_version(record), record.data.get("LastUpdated") or UNSET_DATE):
                continue
            if record.data.get("Name") in SYSTEM_USERS:
                continue
            batch.append(record)
            if len(batch) >= self.settings.page_size:
                yield Page(batch, checkpoint.dump())
                batch = []
        yield Page(batch, checkpoint.dump())

    def _users_page(self, *, page: int, per_page: int, newest_first: bool = False, by_id: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"page": page, "per_page": per_page,
                                  "fields": ",".join(("id", *USER_FIELDS, "CustomFields"))}
        if by_id:
            params.update(orderby="id", order="ASC")
        else:
            direction = "DESC" if newest_first else "ASC"
            params.update(orderby=["LastUpdated", "id"], order=[direction, direction])
        return self._get("/users", params, stream="users")

    def _per_page(self, body: dict[str, Any]) -> int:
        return min(self.settings.page_size, int(body.get("per_page") or MAX_PER_PAGE))

    # -- reads: tickets ----------------------------------------------------------------------
    def _read_tickets(self, state: dict[str, Any] | None) -> Iterator[Page]:
        """tickets: ``LastUpdated >= <checkpoint> AND id > <last id read>`` in id order.

        State between pages: the checkpoint of the last complete read plus ``scan`` (the last id
        read, the newest ``LastUpdated`` there was when this read began and the ids read at it).
        """
        state = dict(state or {})
        checkpoint = TimestampCheckpoint.load(state)
        scan = state.get("scan") if isinstance(state.get("scan"), dict) else None
        if scan is None:
            newest = self._newest_ticket()
            scan = {"after": 0, "newest": newest, "at_newest": []}
        after, newest = int(scan.get("after") or 0), scan.get("newest")
        at_newest = set(scan.get("at_newest") or ())
        bound = self._ticketsql_time(checkpoint.since) if checkpoint.since is not None else None
        while True:
            query = f"id > {after}" + (f" AND LastUpdated >= '{bound}'" if bound else "")
            body = self._get("/tickets", {
                "query": query, "orderby": "id", "order": "ASC", "page": 1,  # keyset paging on the id
                "per_page": self.settings.page_size, "fields": ",".join((*TICKET_FIELDS, "CustomFields")),
                **TICKET_SUBFIELDS,
            }, stream="tickets")
            items = [i for i in body.get("items") or () if isinstance(i, dict) and _int(i.get("id")) is not None]
            records: list[Record] = []
            for item in items:
                record = self._ticket_record(item)
                after = max(after, int(record.id))
                ts = record.data.get("LastUpdated") or UNSET_DATE
                if checkpoint.since is not None and (
                    ts < checkpoint.since or (ts == checkpoint.since and _version(record) in checkpoint.seen)
                ):
                    continue  # emitted by an earlier read (RT was asked from a little earlier)
                if ts == newest:
                    at_newest.add(_version(record))
                records.append(record)
            if len(items) >= self._per_page(body):
                yield Page(records, {**checkpoint.dump(),
                                     "scan": {"after": after, "newest": newest, "at_newest": sorted(at_newest)}})
                continue
            yield Page(records, _next_checkpoint(checkpoint, newest, at_newest).dump())
            return

    def _newest_ticket(self) -> str | None:
        """The newest ``LastUpdated`` of all tickets, as a read begins (its Created, an immutable
        date, is kept to measure RT's time zone with)."""
        body = self._get("/tickets", {"query": "id > 0", "orderby": ["LastUpdated", "id"], "order": ["DESC", "DESC"],
                                      "per_page": 1, "fields": "LastUpdated,Created"}, stream="tickets")
        items = [i for i in body.get("items") or () if isinstance(i, dict)]
        if not items:
            return None
        created = _parse(items[0].get("Created"))
        if created is not None and _int(items[0].get("id")) is not None:
            self._reference = (int(items[0]["id"]), created)
        return _iso(items[0].get("LastUpdated"))

    def _ticketsql_time(self, since: str) -> str:
        """The TicketSQL date that RT reads as ``since`` or a little earlier (never later)."""
        moment = _parse(since)
        if moment is None:
            raise ConfigError(f"the saved tickets state holds {since!r}, which is not a timestamp: reset the state")
        if self.settings.timezone:
            zone = ZoneInfo(self.settings.timezone)
            margin = DST_MARGIN if _has_dst(zone, moment) else timedelta(0)
            local = (moment - margin).astimezone(zone).replace(tzinfo=None)
        else:
            offset = self._measure_offset()
            if offset is None:  # no ticket to measure with: ask from the earliest it could mean
                local = moment.replace(tzinfo=None) - MAX_UTC_OFFSET
            else:
                local = moment.replace(tzinfo=None) + offset - DST_MARGIN
        return local.strftime("%Y-%m-%d %H:%M:%S")

    def _measure_offset(self) -> timedelta | None:
        """How far ahead of UTC RT reads TicketSQL dates (the API user's zone), measured once.

        RT keeps dates in UTC and reads a TicketSQL date in the user's zone, so
        ``id = N AND Created >= 'C + d'`` (C: the ticket's Created in UTC) matches exactly when
        the offset is at least d: a binary search over quarter hours finds it.
        """
        if self._offset is not self._NOT_MEASURED:
            return self._offset
        if self._reference is None:
            self._newest_ticket()
        if self._reference is None:
            return None  # no ticket to measure with (and so nothing to read)
        ticket, created = self._reference
        base = created.replace(tzinfo=None)

        def matches(quarters: int) -> bool:
            probe = (base + quarters * QUARTER_HOUR).strftime("%Y-%m-%d %H:%M:%S")
            found = self._get("/tickets", {"query": f"id = {ticket} AND Created >= '{probe}'", "per_page": 1},
                              stream="tickets")
            return bool(found.get("items"))

        limit = int(MAX_UTC_OFFSET / QUARTER_HOUR)
        low, high = -limit, limit  # matches(low) holds for every zone in use
        while low < high:
            middle = (low + high + 1) // 2
            if matches(middle):
                low = middle
            else:
                high = middle - 1
        self._offset = low * QUARTER_HOUR
        return self._offset

    def _user_record(self, item: dict[str, Any]) -> Record:
        data: dict[str, Any] = {"id": str(item.get("id"))}
        for name in USER_FIELDS:
            value = item.get(name)
            data[name] = _iso(value) if name in DATE_FIELDS else _text(value)
        data.update(_custom_fields(item))
        return Record(id=data["id"], data=data, updated_at=_parse(data.get("LastUpdated")))

    def _ticket_record(self, item: dict[str, Any]) -> Record:
        data: dict[str, Any] = {"id": str(item.get("id"))}
        for name in ("Subject", "Status", "Type"):
            data[name] = _text(item.get(name))
        for name in ("Priority", "InitialPriority", "FinalPriority", "TimeWorked", "TimeEstimated", "TimeLeft"):
            data[name] = _int(item.get(name))
        data["PriorityBand"] = priority_band(data["Priority"])
        queue = item.get("Queue") if isinstance(item.get("Queue"), dict) else {}
        data["Queue"] = _text(queue.get("Name"))
        data["QueueId"] = _text(queue.get("id"))
        owner = item.get("Owner") if isinstance(item.get("Owner"), dict) else {}
        owner_name = _text(owner.get("Name"))
        nobody = owner_name in SYSTEM_USERS or owner.get("id") in SYSTEM_USERS
        data["Owner"] = None if nobody else owner_name
        data["OwnerId"] = None if nobody else _text(owner.get("id"))
        creator = item.get("Creator") if isinstance(item.get("Creator"), dict) else {}
        data["Creator"] = _text(creator.get("Name") or creator.get("id"))
        requestors = [r for r in item.get("Requestor") or () if isinstance(r, dict)]
        data["Requestor"] = [_text(r.get("EmailAddress")) or _text(r.get("Name")) for r in requestors]
        data["RequestorId"] = _text(requestors[0].get("id")) if requestors else None
        data["RequestorEmail"] = _text(requestors[0].get("EmailAddress")) if requestors else None
        for role in ("Cc", "AdminCc"):
            members = [m for m in item.get(role) or () if isinstance(m, dict)]
            data[role] = [_text(m.get("EmailAddress")) or _text(m.get("Name")) for m in members]
        for name in ("Created", "Starts", "Started", "Due", "Resolved", "Told", "LastUpdated"):
            data[name] = _iso(item.get(name))
        data.update(_custom_fields(item))
        return Record(id=data["id"], data=data, updated_at=_parse(data["LastUpdated"]))

    # -- reads: correspondence ---------------------------------------------------------------
    def _read_correspondence(self, state: dict[str, Any] | None) -> Iterator[Page]:
        after = int((state or {}).get("after") or 0)
        stream = "correspondence"
        while True:
            query = [
                {"field": "Type", "operator": "=", "value": "Create"},
                {"field": "Type", "operator": "=", "value": "Correspond"},
                {"field": "ObjectType", "operator": "=", "value": "RT::Ticket"},
                {"field": "id", "operator": ">", "value": after},
            ]
            body = self._get("/transactions", {
                "query": json.dumps(query),
                "orderby": "id",
                "order": "ASC",
                "page": 1,  # keyset paging on the id: transactions never change
                "per_page": self.settings.page_size,
                "fields": "Type,ObjectType,ObjectId,Creator,Created",
                "fields[Creator]": "id,Name,EmailAddress",
            }, stream=stream)
            items = [i for i in body.get("items") or () if isinstance(i, dict) and _int(i.get("id")) is not None]
            if not items:
                yield Page([], {"after": after})
                return
            ids = [int(i["id"]) for i in items]
            contents = self._contents(ids)
            tickets = self._ticket_briefs(sorted({str(i.get("ObjectId")) for i in items}))
            records = [self._correspondence_record(i, contents, tickets) for i in items]
            after = max(after, *ids)
            yield Page(records, {"after": after})
            if len(items) < self._per_page(body):
                return

    def _contents(self, transaction_ids: list[int]) -> dict[str, str]:
        """The text/plain body of each transaction (its first non-empty text/plain part)."""
        query = json.dumps([
            {"field": "TransactionId", "operator": "IN", "value": transaction_ids},
            {"field": "ContentType", "operator": "=", "value": "text/plain"},
        ])
        out: dict[str, str] = {}
        params = {"query": query, "orderby": "id", "order": "ASC", "fields": "TransactionId,ContentType,Content"}
        for attachment in self._search("/attachments", params, "correspondence"):
            content = attachment.get("Content")
            txn = str(attachment.get("TransactionId"))
            if isinstance(content, str) and content.strip() and txn not in out:
                out[txn] = content
        return out

    def _ticket_briefs(self, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Subject and requestor ids of each ticket (deleted tickets are missing)."""
        ids = [t for t in ticket_ids if t.isdigit()]
        if not ids:
            return {}
        query = " OR ".join(f"id = {t}" for t in ids)
        params = {"query": query, "fields": "Subject,Requestor", "fields[Requestor]": "id"}
        out: dict[str, dict[str, Any]] = {}
        for ticket in self._search("/tickets", params, "correspondence"):
            requestors = {str(r.get("id")) for r in ticket.get("Requestor") or () if isinstance(r, dict)}
            out[str(ticket.get("id"))] = {"Subject": _text(ticket.get("Subject")), "requestors": requestors}
        return out

    def _correspondence_record(
        self, item: dict[str, Any], contents: dict[str, str], tickets: dict[str, dict[str, Any]]
    ) -> Record:
        txn = str(item["id"])
        ticket = str(item.get("ObjectId"))
        creator = item.get("Creator") if isinstance(item.get("Creator"), dict) else {}
        creator_id = _text(creator.get("id"))
        brief = tickets.get(ticket, {})
        requestors = brief.get("requestors", set())
        # the customer whose conversation this is: the writer when a requestor wrote it, else the
        # ticket's (first) requestor, so an agent's reply lands on the customer's timeline too
        customer = creator_id if creator_id in requestors else (min(requestors, key=lambda r: (len(r), r)) if requestors else None)
        data = {
            "id": txn,
            "Type": item.get("Type"),
            "Ticket": ticket,
            "Subject": brief.get("Subject"),
            "Creator": creator_id,
            "CreatorName": _text(creator.get("Name")),
            "CreatorEmail": _text(creator.get("EmailAddress")),
            "Created": _iso(item.get("Created")),
            "Content": contents.get(txn),
            "Customer": customer,
            "Direction": ("inbound" if creator_id in requestors else "outbound") if brief else None,
            "Url": f"{self.settings.base_url}/Ticket/Display.html?id={ticket}#txn-{txn}",
        }
        return Record(id=txn, data=data, updated_at=_parse(data["Created"]))

    # -- writes ----------------------------------------------------------------------------
    def _write_one(self, stream: str, op: WriteOp) -> WriteResult:
        if op.action != "upsert":
            return WriteResult(op.key, "failed", op.target_id,
                               f"RT connector does not {op.action} {stream} (disable them in RT instead)")
        try:
            payload = self._payload(stream, op.fields)
            if stream == "users":
                return self._upsert_user(op, payload)
            return self._upsert_ticket(op, payload)
        except ValueError as exc:  # a field the connector cannot send (bad date, priority band)
            return WriteResult(op.key, "failed", op.target_id, str(exc))
        except (VendorError, AuthError) as exc:
            if exc.status not in WRITE_FAILURES:
                raise  # 401, or garbage: not this record's fault
            return WriteResult(op.key, "failed", op.target_id, _message(exc), _field_of(_message(exc), op.fields))

    def _payload(self, stream: str, fields: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for name, value in fields.items():
            if name in READ_ONLY[stream]:
                continue
            if name.startswith(CF_PREFIX):
                custom[name[len(CF_PREFIX):]] = value
            elif name in DATE_FIELDS:
                payload[name] = _sql_time(value) if value not in (None, "") else ""
            else:
                payload[name] = value
        if stream == "tickets":
            band = payload.pop("PriorityBand", None)
            if band not in (None, "") and "Priority" not in payload:
                if str(band) not in BAND_PRIORITY:
                    raise ValueError(f"PriorityBand {band!r} is not one of {', '.join(BAND_PRIORITY)}")
                payload["Priority"] = BAND_PRIORITY[str(band)]
            requestor = payload.pop("RequestorId", None)
            if requestor not in (None, "") and "Requestor" not in payload:
                payload["Requestor"] = [str(requestor)]
        if custom:
            payload["CustomFields"] = custom
        return payload

    def _upsert_user(self, op: WriteOp, payload: dict[str, Any]) -> WriteResult:
        if op.target_id is not None:
            return self._update(op, "users", op.target_id, payload)
        email = _text(payload.get("EmailAddress"))
        name = _text(payload.get("Name")) or email
        existing = self._find_user(email, name)
        if existing is not None:  # a retried create, or a person RT already knows
            return self._update(op, "users", existing, payload)
        try:
            response = self.http.post(f"{API}/user", json=payload, stream="users")
        except VendorError as exc:
            existing = self._find_user(email, name) if exc.status in (400, 409) else None
            if existing is None:
                raise
            return self._update(op, "users", existing, payload)  # created meanwhile
        return WriteResult(op.key, "created", self._created_id(response, "user"))

    def _find_user(self, email: str | None, name: str | None) -> str | None:
        """The id of the user with this email address (RT compares it case-insensitively), or
        else with this name."""
        for field, value in (("EmailAddress", email), ("Name", name)):
            if not value:
                continue
            query = json.dumps([{"field": field, "operator": "=", "value": value}])
            body = self._get("/users", {"query": query, "fields": "id,Name", "per_page": 2}, stream="users")
            for item in body.get("items") or ():
                if isinstance(item, dict) and item.get("Name") not in SYSTEM_USERS:
                    return str(item.get("id"))
        return None

    def _upsert_ticket(self, op: WriteOp, payload: dict[str, Any]) -> WriteResult:
        if op.target_id is not None:
            return self._update(op, "tickets", op.target_id, _without_content(payload))
        payload.setdefault("Queue", self.settings.queue)
        if payload.get("Content"):
            payload.setdefault("ContentType", "text/plain")
        key_field = self.settings.ticket_key_field
        if not key_field:  # nothing to find a ticket by: a retried create may open a second one
            response = self.http.post(f"{API}/ticket", json=payload, stream="tickets")
            return WriteResult(op.key, "created", self._created_id(response, "ticket"))
        existing = self._find_ticket(key_field, op.key)
        if existing is not None:  # a retried batch: the ticket is there already
            return self._update(op, "tickets", existing, _without_content(payload))
        payload["CustomFields"] = {**payload.get("CustomFields", {}), key_field: op.key}
        for attempt in range(1, hub_http.MAX_ATTEMPTS + 1):
            try:
                # Sent once, not through the client's retries: a POST whose answer was lost may
                # have opened the ticket, so look for it before sending again.
                response = self.http.request("POST", f"{API}/ticket", stream="tickets", json=payload, retry=False)
            except RetriableError as exc:
                if attempt == hub_http.MAX_ATTEMPTS:
                    raise
                hub_http.sleep(min(exc.retry_after if exc.retry_after is not None else 0.5 * 2**attempt, 30.0))
                existing = self._find_ticket(key_field, op.key)
                if existing is not None:
                    return WriteResult(op.key, "created", existing)
                continue
            return WriteResult(op.key, "created", self._created_id(response, "ticket"))
        raise AssertionError("unreachable")  # pragma: no cover

    def _find_ticket(self, key_field: str, key: str) -> str | None:
        """The ticket whose key custom field holds ``key``."""
        escaped = key.replace("\\", "\\\\").replace("'", "\\'")
        body = self._get("/tickets", {"query": f"CF.{{{key_field}}} = '{escaped}'", "per_page": 1}, stream="tickets")
        items = [i for i in body.get("items") or () if isinstance(i, dict)]
        return str(items[0]["id"]) if items else None

    def _update(self, op: WriteOp, stream: str, record_id: str, payload: dict[str, Any]) -> WriteResult:
        """PUT, then read the record back: RT answers 200 even when it refused a field."""
        kind = "user" if stream == "users" else "ticket"
        response = self.http.put(f"{API}/{kind}/{record_id}", json=payload, stream=stream)
        body = self.http.json(response, stream=stream) if response.content else []
        messages = [_strip_label(str(m)) for m in body] if isinstance(body, list) else []
        current = self._fetch(stream, record_id)
        if current is None:
            return WriteResult(op.key, "failed", record_id, f"{kind} {record_id} is gone after the update")
        missed = _unapplied(payload, current)
        if missed:
            told = "; ".join(messages) or "no reason given"
            return WriteResult(op.key, "failed", record_id,
                               f"RT did not apply {', '.join(missed)}: {told}", missed[0])
        return WriteResult(op.key, "updated", record_id)

    def _fetch(self, stream: str, record_id: str) -> dict[str, Any] | None:
        """One record as a read returns it (the same search, so the same shape)."""
        if stream == "users":  # (RT's user search cannot filter on id)
            try:
                return self._user_record(self._get(f"/user/{int(record_id)}", stream=stream)).data
            except VendorError as exc:
                if exc.status == 404:
                    return None
                raise
        params: dict[str, Any] = {"query": f"id = {int(record_id)}", "fields": ",".join((*TICKET_FIELDS, "CustomFields")),
                  **TICKET_SUBFIELDS}
        items = self._get("/tickets", params, stream=stream).get("items") or []
        return self._ticket_record(items[0]).data if items else None

    def _created_id(self, response: httpx.Response, kind: str) -> str:
        """The numeric id of a created record: from ``Location`` (users answer with their name)."""
        location = response.headers.get("Location", "")
        match = re.search(rf"/{kind}/(\d+)/?$", location)
        if match:
            return match.group(1)
        body = self.http.json(response)
        rid = str(body.get("id", "")) if isinstance(body, dict) else ""
        if rid.isdigit():
            return rid
        found = self._get(f"/{kind}/{rid}", stream=f"{kind}s")  # a user's name: look its id up
        return str(found.get("id"))

    # -- HTTP helpers ----------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any] | None = None, *, stream: str | None = None) -> dict[str, Any]:
        response = self.http.get(f"{API}{path}", params=params, stream=stream)
        body = self.http.json(response, stream=stream)
        if not isinstance(body, dict):
            raise VendorError(f"GET {API}{path} answered {type(body).__name__}, not an object",
                              connector=self.instance, stream=stream)
        return body

    def _search(self, path: str, params: dict[str, Any], stream: str) -> Iterator[dict[str, Any]]:
        """Every item of a search, page after page."""
        page = 1
        while True:
            body = self._get(path, {**params, "page": page, "per_page": MAX_PER_PAGE}, stream=stream)
            items = [i for i in body.get("items") or () if isinstance(i, dict)]
            yield from items
            pages = body.get("pages")
            if not items or len(items) < int(body.get("per_page") or MAX_PER_PAGE) or (pages and page >= pages):
                return
            page += 1


# -- helpers ---------------------------------------------------------------------------------
def priority_band(priority: int | None) -> str | None:
    """The canonical band of an RT priority number."""
    if priority is None:
        return None
    for bound, band in PRIORITY_BANDS:
        if priority >= bound:
            return band
    return "low"


def _next_checkpoint(checkpoint: TimestampCheckpoint, newest: str | None, at_newest: set[str]) -> TimestampCheckpoint:
    """Where the read after a complete ticket read starts: at the newest change there was when
    it began (every older version was read; a newer one comes next time), skipping the tickets
    read as they were at that moment."""
    if newest is None or (checkpoint.since is not None and newest < checkpoint.since):
        return checkpoint
    if newest == checkpoint.since:
        return TimestampCheckpoint(newest, checkpoint.seen | at_newest)
    return TimestampCheckpoint(newest, set(at_newest))


def _without_content(payload: dict[str, Any]) -> dict[str, Any]:
    """An update's payload: Content is a ticket's first message (replies are correspondence)."""
    return {k: v for k, v in payload.items() if k not in ("Content", "ContentType")}


def _version(record: Record) -> str:
    """What a checkpoint remembers of a record read at its timestamp: the id and a digest of the
    values, so that a record changed again within that same second (RT keeps whole seconds)
    still comes in the next read."""
    digest = hashlib.blake2b(json.dumps(record.data, sort_keys=True, default=str).encode(), digest_size=6)
    return f"{record.id}@{digest.hexdigest()}"


def _id_key(record_id: str) -> tuple[int, str]:
    return (int(record_id), "") if record_id.isdigit() else (0, record_id)


def _parse(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(value: Any) -> str | None:
    """A REST2 date as ``YYYY-MM-DDTHH:MM:SSZ`` (fixed width, so comparable as text); None when
    RT shows the date as not set (1970-01-01)."""
    moment = _parse(value)
    if moment is None or moment.year <= 1970:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sql_time(value: Any) -> str:
    """A date as RT stores it and takes it in writes: UTC ``YYYY-MM-DD HH:MM:SS``."""
    if isinstance(value, datetime):
        moment: datetime | None = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        moment = _parse(str(value))
    if moment is None:
        raise ValueError(f"{value!r} is not a date and time")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _has_dst(zone: ZoneInfo, moment: datetime) -> bool:
    year = moment.year
    offsets = {datetime(year, month, 1, tzinfo=zone).utcoffset() for month in (1, 4, 7, 10)}
    return len(offsets) > 1


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _custom_fields(item: dict[str, Any]) -> dict[str, Any]:
    """``CustomFields: [{name, values}]`` -> ``{"CF.<name>": value}`` (a list when several)."""
    out: dict[str, Any] = {}
    for cf in item.get("CustomFields") or ():
        if not isinstance(cf, dict) or not cf.get("name"):
            continue
        values = cf.get("values") or []
        out[f"{CF_PREFIX}{cf['name']}"] = values[0] if len(values) == 1 else (values or None)
    return out


def _unapplied(payload: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The fields of ``payload`` the record does not show after the update."""
    missed = []
    for name, want in payload.items():
        if name == "CustomFields" and isinstance(want, dict):
            missed.extend(f"{CF_PREFIX}{cf}" for cf, value in want.items()
                          if not _same(value, current.get(f"{CF_PREFIX}{cf}")))
            continue
        if name not in current or isinstance(want, (dict, list)) or name in ("Requestor", "Cc", "AdminCc"):
            continue  # roles and links: RT reports them in its messages only
        have = current.get(name)
        if name == "Queue":
            if _same(want, have) or _same(want, current.get("QueueId")):
                continue
        elif name == "Owner":
            if _same(want, have) or _same(want, current.get("OwnerId")) or (have is None and str(want) in SYSTEM_USERS):
                continue
        elif name in DATE_FIELDS:
            if (_iso(want.replace(" ", "T") + "Z") if want else None) == have:
                continue
        elif _same(want, have):
            continue
        missed.append(name)
    return missed


def _same(want: Any, have: Any) -> bool:
    if isinstance(want, list) or isinstance(have, list):
        wants = want if isinstance(want, list) else [want]
        haves = have if isinstance(have, list) else [have]
        return sorted(str(w).strip().casefold() for w in wants if w not in (None, "")) == sorted(
            str(h).strip().casefold() for h in haves if h not in (None, "")
        )
    return str(want if want is not None else "").strip().casefold() == str(have if have is not None else "").strip().casefold()


def _strip_label(message: str) -> str:
    """``"User alice: Email address in use"`` -> ``"Email address in use"``."""
    head, sep, rest = message.partition(": ")
    return rest if sep and re.match(r"^\w+ \S+$", head) else message


def _message(exc: ConnectorError) -> str:
    """RT's own words from an error body (``{"message": ...}``), else the whole error."""
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"]).strip()
    return exc.reason


def _field_of(message: str, fields: dict[str, Any]) -> str | None:
    """The vendor field an RT error is about, when it says ("Email address in use")."""
    lowered = message.lower()
    for hint, name in (("email", "EmailAddress"), ("name in use", "Name"), ("queue", "Queue"),
                       ("status", "Status"), ("owner", "Owner"), ("requestor", "Requestor")):
        if hint in lowered and name in fields:
            return name
    return None
