"""A stateful sandbox fake of the Salesforce REST API (Lead, Contact, Account, Opportunity, Case).

It answers the endpoints the Salesforce connector uses, in the shapes the REST API Developer Guide
documents, and keeps the rules that catch integration bugs:

* **OAuth 2.0** ``POST /services/oauth2/token`` issues access tokens for the refresh-token and
  client-credentials flows; :meth:`FakeSalesforce.expire_tokens` (or ``token_ttl``) ends every
  session, after which the data API answers 401 ``INVALID_SESSION_ID``.
* **SOQL** ``GET /services/data/vXX.X/query?q=...``: a subset parser (``SELECT f, ... FROM X
  [WHERE f op v [AND ...]] [ORDER BY f [ASC|DESC], ...] [LIMIT n]``; operators ``= != < <= > >=
  IN``); unknown fields answer 400 ``INVALID_FIELD``, anything else it cannot parse 400
  ``MALFORMED_QUERY``. Results come in batches of 2,000 (``Sforce-Query-Options: batchSize=N``
  asks for 200..2,000) with a ``nextRecordsUrl`` query locator over a snapshot taken when the
  query ran; a locator unused for 15 minutes answers 400 ``INVALID_QUERY_LOCATOR``.
* **Timestamps** are stored to the second, as Salesforce does (``2024-05-01T12:34:56.000+0000``):
  bulk changes give many records one ``SystemModstamp``.
* **getDeleted** ``GET /sobjects/{type}/deleted/?start=&end=``: seconds are ignored, the window is
  ``[start, end)``, ``start`` must come before ``end`` and may not be older than the delete log
  keeps (15 days, configurable): otherwise 400 ``INVALID_REPLICATION_DATE``.
* **sObject Collections** upsert by external id, update by id, create and delete: at most 200
  records a call (400 ``EXCEEDED_ID_LIMIT`` beyond), per-record results in request order, and the
  realistic per-record errors ``REQUIRED_FIELD_MISSING``, ``INVALID_EMAIL_ADDRESS``,
  ``DUPLICATE_VALUE`` (unique external id, or one external id twice in a request),
  ``INVALID_FIELD_FOR_INSERT_UPDATE``, ``MALFORMED_ID``, ``INVALID_CROSS_REFERENCE_KEY``,
  ``ENTITY_IS_DELETED``. An unknown field or a value of the wrong type fails the whole request
  (400 ``INVALID_FIELD`` / ``JSON_PARSER_ERROR``), as the real deserializer does.
* **Limits**: every data-API response carries ``Sforce-Limit-Info: api-usage=N/M`` (requests in
  the last 24 hours of the fake's clock); past the allocation (or on
  :meth:`FakeSalesforce.inject_request_limit`) requests answer 403 ``REQUEST_LIMIT_EXCEEDED``.
  Token requests are not counted, as in Salesforce.

Error bodies are Salesforce's JSON list ``[{"message": ..., "errorCode": ..., "fields": [...]}]``.
Ids are 18-character, case-safe, with each object's key prefix (00Q Lead, 003 Contact, 001
Account, 006 Opportunity, 500 Case).
"""

from __future__ import annotations

import base64
import copy
import email.utils
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx

from hub.sandbox.fake import Fault, FakeVendor, route

from hub.connector import override

OBJECTS = ("Lead", "Contact", "Account", "Opportunity", "Case")
KEY_PREFIX = {"Lead": "00Q", "Contact": "003", "Account": "001", "Opportunity": "006", "Case": "500"}
API = r"/services/data/v(?P<version>\d+\.\d)"
TOKEN_PATH = "/services/oauth2/token"
ORG_ID = "00D5g0000004SEAMAA"
MAX_COLLECTION = 200
DEFAULT_BATCH = 2000
MIN_BATCH = 200
LOCATOR_IDLE = timedelta(minutes=15)
EXTERNAL_ID_FIELD = "Seamless_Hub_Id__c"
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID15 = re.compile(r"^[0-9A-Za-z]{15}$")
_ID18 = re.compile(r"^[0-9A-Za-z]{18}$")

LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted")
OPPORTUNITY_STAGES = {  # stage: (probability, closed, won)
    "Prospecting": (10, False, False),
    "Qualification": (10, False, False),
    "Needs Analysis": (20, False, False),
    "Value Proposition": (50, False, False),
    "Id. Decision Makers": (60, False, False),
    "Perception Analysis": (70, False, False),
    "Proposal/Price Quote": (75, False, False),
    "Negotiation/Review": (90, False, False),
    "Closed Won": (100, True, True),
    "Closed Lost": (0, True, False),
}
CASE_STATUSES = ("New", "Working", "Escalated", "On Hold", "Closed")
READ_ONLY_MESSAGE = (
    "Unable to create/update fields: {fields}. Please check the security settings of this field and "
    "verify that it is read/write for your profile or permission set."
)


# -- ids and timestamps ----------------------------------------------------------------------------
def checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character id case-insensitively unique."""
    out = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, c in enumerate(id15[start : start + 5]) if "A" <= c <= "Z")
        out += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return out


def make_id(prefix: str, number: int) -> str:
    """An 18-character id: key prefix, pod ``5g``, reserved ``0``, 9 base-62 digits, checksum."""
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _B62[rest] + digits
    id15 = prefix + "5g0" + digits.rjust(9, "0")
    return id15 + checksum(id15)


def to_id18(value: Any) -> str | None:
    """A 15- or 18-character id in its 18-character form, or None when it is not an id."""
    text = str(value or "")
    if _ID15.match(text):
        return text + checksum(text)
    if _ID18.match(text) and checksum(text[:15]) == text[15:]:
        return text
    return None


USER_ID = make_id("005", 1)  # the integration user who owns what the API creates


def sf_time(moment: datetime) -> str:
    """Salesforce's dateTime format: ``2024-05-01T12:34:56.000+0000`` (UTC)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from the ISO forms Salesforce reads and writes, else None."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip().replace(" ", "+"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


# -- field definitions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldDef:
    """One field as ``describe`` reports it."""

    name: str
    type: str = "string"
    label: str = ""
    createable: bool = True
    updateable: bool = True
    required: bool = False  # nillable False and not defaulted: REQUIRED_FIELD_MISSING without it
    custom: bool = False
    external_id: bool = False
    unique: bool = False
    length: int = 255
    picklist: tuple[str, ...] = ()
    reference_to: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label or self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "length": self.length if self.type in ("string", "textarea", "email", "phone", "url", "picklist") else 0,
            "custom": self.custom,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": not self.required and self.type != "boolean",
            "defaultedOnCreate": self.type == "boolean" or self.name in ("OwnerId", "Status", "Priority"),
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.external_id or self.name == "Id",
            "caseSensitive": False,
            "picklistValues": [
                {"active": True, "defaultValue": i == 0, "label": v, "value": v} for i, v in enumerate(self.picklist)
            ],
            "referenceTo": [self.reference_to] if self.reference_to else [],
        }


def _ro(name: str, type_: str = "string", label: str = "") -> FieldDef:
    return FieldDef(name, type_, label, createable=False, updateable=False)


SYSTEM_FIELDS = (
    _ro("Id", "id", "Record ID"),
    _ro("IsDeleted", "boolean", "Deleted"),
    _ro("CreatedDate", "datetime", "Created Date"),
    _ro("LastModifiedDate", "datetime", "Last Modified Date"),
    _ro("SystemModstamp", "datetime", "System Modstamp"),
    FieldDef("OwnerId", "reference", "Owner ID", reference_to="User"),
)
_KANA = (
    FieldDef("LastNameKana__c", label="Last Name (Kana)", custom=True),
    FieldDef("FirstNameKana__c", label="First Name (Kana)", custom=True),
)


def _address(prefix: str) -> tuple[FieldDef, ...]:
    return (
        FieldDef(f"{prefix}Street", "textarea"),
        FieldDef(f"{prefix}City", length=40),
        FieldDef(f"{prefix}State", length=80),
        FieldDef(f"{prefix}PostalCode", length=20),
        FieldDef(f"{prefix}Country", length=80),
    )


STANDARD_FIELDS: dict[str, tuple[FieldDef, ...]] = {
    "Lead": (
        FieldDef("FirstName", length=40),
        FieldDef("LastName", length=80, required=True),
        _ro("Name", label="Full Name"),
        FieldDef("Company", required=True),
        FieldDef("Title", length=128),
        FieldDef("Email", "email", length=80),
        FieldDef("Phone", "phone", length=40),
        FieldDef("MobilePhone", "phone", length=40),
        *_address(""),
        FieldDef("Status", "picklist", "Lead Status", picklist=LEAD_STATUSES),
        FieldDef("LeadSource", "picklist", picklist=("Web", "Phone Inquiry", "Partner Referral", "Other")),
        FieldDef("Industry", "picklist"),
        FieldDef("HasOptedOutOfEmail", "boolean", "Email Opt Out"),
        _ro("IsConverted", "boolean", "Converted"),
    ),
    "Contact": (
        FieldDef("FirstName", length=40),
        FieldDef("LastName", length=80, required=True),
        _ro("Name", label="Full Name"),
        FieldDef("AccountId", "reference", "Account ID", reference_to="Account"),
        FieldDef("Title", length=128),
        FieldDef("Department", length=80),
        FieldDef("Email", "email", length=80),
        FieldDef("Phone", "phone", length=40),
        FieldDef("MobilePhone", "phone", length=40),
        *_address("Mailing"),
        FieldDef("HasOptedOutOfEmail", "boolean", "Email Opt Out"),
    ),
    "Account": (
        FieldDef("Name", required=True),
        FieldDef("Website", "url"),
        FieldDef("Phone", "phone", length=40),
        FieldDef("Industry", "picklist"),
        FieldDef("NumberOfEmployees", "int", "Employees"),
        *_address("Billing"),
    ),
    "Opportunity": (
        FieldDef("Name", length=120, required=True),
        FieldDef("AccountId", "reference", "Account ID", reference_to="Account"),
        FieldDef("StageName", "picklist", "Stage", required=True, picklist=tuple(OPPORTUNITY_STAGES)),
        FieldDef("Amount", "currency"),
        FieldDef("CloseDate", "date", "Close Date", required=True),
        FieldDef("Probability", "percent", "Probability (%)"),
        _ro("IsClosed", "boolean", "Closed"),
        _ro("IsWon", "boolean", "Won"),
    ),
    "Case": (
        _ro("CaseNumber", label="Case Number"),
        FieldDef("Subject"),
        FieldDef("Description", "textarea", length=32000),
        FieldDef("Status", "picklist", picklist=CASE_STATUSES),
        FieldDef("Priority", "picklist", picklist=("High", "Medium", "Low")),
        FieldDef("Origin", "picklist", "Case Origin", picklist=("Phone", "Email", "Web", "Chat", "Social")),
        FieldDef("IsEscalated", "boolean", "Escalated"),
        _ro("IsClosed", "boolean", "Closed"),
        _ro("ClosedDate", "datetime", "Closed Date"),
        FieldDef("ContactId", "reference", "Contact ID", reference_to="Contact"),
        FieldDef("AccountId", "reference", "Account ID", reference_to="Account"),
    ),
}
HUB_ID = FieldDef(EXTERNAL_ID_FIELD, label="Seamless Hub ID", custom=True, external_id=True, unique=True)
CURRENCY = FieldDef("CurrencyIsoCode", "picklist", "Currency ISO Code", length=3, picklist=("JPY", "USD", "EUR"))
# A new org's custom fields (kept in the state, so tests can remove them): the hub's External ID
# everywhere, plus what Japanese orgs commonly add.
CUSTOM_FIELDS: dict[str, tuple[FieldDef, ...]] = {
    "Lead": (*_KANA, HUB_ID),
    "Contact": (*_KANA, HUB_ID),
    "Account": (
        FieldDef("NameKana__c", label="Account Name (Kana)", custom=True),
        FieldDef("CorporateNumber__c", label="Corporate Number", custom=True, length=13),
        HUB_ID,
    ),
    "Opportunity": (HUB_ID,),
    "Case": (HUB_ID,),
}
DEFAULTS = {
    "Lead": {"Status": "Open - Not Contacted", "HasOptedOutOfEmail": False},
    "Contact": {"HasOptedOutOfEmail": False},
    "Case": {"Status": "New", "Priority": "Medium", "IsEscalated": False},
}


# -- errors ----------------------------------------------------------------------------------------
class Rejected(Exception):
    """A whole request Salesforce would refuse; carries the error response."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class _Problem:
    code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def as_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


class _RecordError(Exception):
    def __init__(self, *problems: _Problem) -> None:
        super().__init__(problems[0].message)
        self.problems = list(problems)


@dataclass
class _Locator:
    rows: list[dict[str, Any]]
    batch: int
    used: datetime


class FakeSalesforce(FakeVendor):
    """In-memory Salesforce org serving the REST API (``/services/data/vXX.X``) and OAuth.

    Args:
        state_path: JSON file that keeps the org between processes.
        token: the connected app's client secret (the sandbox's one shared secret).
        client_id: the connected app's consumer key.
        refresh_token: the refresh token the refresh-token flow must present.
        client_credentials: whether the connected app allows the client-credentials flow.
        token_ttl: seconds (on the fake's clock) an access token lives; None: until expired.
        api_limit: the daily API allocation reported in ``Sforce-Limit-Info``.
        deleted_log_days: how far back getDeleted may start (the REST docs say 15 days).
        multi_currency: whether the org has ``CurrencyIsoCode`` on Opportunity and Account.
        batch_cap: answer at most this many records a query batch (Salesforce may return fewer
            than asked for wide rows); tests use it to page through few records.
    """

    name: ClassVar[str] = "salesforce"
    streams: ClassVar[tuple[str, ...]] = OBJECTS
    base_url: ClassVar[str] = "https://seamless-hub-dev-ed.develop.my.salesforce.com"

    def __init__(
        self,
        *,
        state_path: Path | str | None = None,
        token: str = "sandbox-client-secret",
        client_id: str = "3MVG9sandbox.SeamlessHub.ConsumerKey",
        refresh_token: str = "5Aep861sandboxRefreshToken.SeamlessHub",
        client_credentials: bool = True,
        token_ttl: float | None = None,
        api_limit: int = 15_000,
        deleted_log_days: int = 15,
        multi_currency: bool = True,
        batch_cap: int | None = None,
    ) -> None:
        super().__init__(state_path=state_path, token=token)
        self.client_id = client_id
        self.refresh_token = refresh_token
        self.client_credentials = client_credentials
        self.token_ttl = token_ttl
        self.api_limit = api_limit
        self.deleted_log_days = deleted_log_days
        self.batch_cap = batch_cap
        self.sessions: dict[str, datetime | None] = {}  # access token -> expiry
        self.tokens_issued: list[str] = []
        self.locators: dict[str, _Locator] = {}
        self.request_limit_faults = 0
        if "fields" not in self.state:  # a state file from before custom fields were kept
            self.state["fields"] = self._custom_fields(multi_currency)
        elif not multi_currency:
            for obj in OBJECTS:
                self.state["fields"][obj] = [f for f in self.state["fields"][obj] if f["name"] != CURRENCY.name]

    # -- FakeVendor hooks ----------------------------------------------------------------------
    @override
    def empty_state(self) -> dict[str, Any]:
        return {
            "next_id": 1,
            "case_number": 1000,
            "api_calls": {},  # hour (ISO) -> API requests: the allocation is a rolling 24 hours
            "records": {obj: {} for obj in OBJECTS},
            "fields": self._custom_fields(True),
            # earliestDateAvailable: when the delete log was last purged (see purge_deleted)
            "log_start": sf_time(_minute(datetime.now(UTC) - timedelta(days=30))),
        }

    @staticmethod
    def _custom_fields(multi_currency: bool) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for obj in OBJECTS:
            defs = list(CUSTOM_FIELDS[obj])
            if multi_currency and obj in ("Opportunity", "Account"):
                defs.append(CURRENCY)
            out[obj] = [_def_to_json(d) for d in defs]
        return out

    def extra_settings(self) -> dict[str, Any]:
        """Connector settings beyond ``base_url`` that work with this fake."""
        return {
            "client_id": self.client_id,
            "client_secret": self.token,
            "refresh_token": self.refresh_token,
            "flow": "refresh_token",
        }

    @override
    def error(self, status: int, message: str, **extra: Any) -> httpx.Response:
        code = extra.pop("errorCode", None) or {
            400: "JSON_PARSER_ERROR" if "JSON" in message else "MALFORMED_REQUEST",
            401: "INVALID_SESSION_ID",
            403: "INSUFFICIENT_ACCESS",
            404: "NOT_FOUND",
            405: "METHOD_NOT_ALLOWED",
        }.get(status, "UNKNOWN_EXCEPTION")
        if status == 404 and message.startswith("no route"):
            message = "The requested resource does not exist"
        body: dict[str, Any] = {"message": message, "errorCode": code}
        if "fields" in extra:
            body["fields"] = extra.pop("fields")
        return self.json([body], status)

    @override
    def authorize(self, request: httpx.Request) -> httpx.Response | None:
        if not request.url.path.startswith("/services/data"):
            return None
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        known = presented in self.sessions and scheme.lower() in ("bearer", "oauth")
        expiry = self.sessions.get(presented) if known else None
        if not known or (expiry is not None and self.now() >= expiry):
            # Salesforce never echoes the presented token.
            return self.error(401, "Session expired or invalid", errorCode="INVALID_SESSION_ID")
        if self.request_limit_faults > 0:
            self.request_limit_faults -= 1
            return self._limit_exceeded()
        if self.api_usage() >= self.api_limit:
            return self._limit_exceeded()
        hour = self._hour()
        self.state["api_calls"][hour] = self.state["api_calls"].get(hour, 0) + 1
        return None

    def api_usage(self) -> int:
        """API requests in the last 24 hours (by the fake's clock), as ``Sforce-Limit-Info`` says."""
        with self.lock:
            calls = self.state.setdefault("api_calls", {})
            oldest = (self.now() - timedelta(hours=24)).strftime("%Y-%m-%dT%H")
            for hour in [h for h in calls if h <= oldest]:
                del calls[hour]
            return sum(calls.values())

    def _hour(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H")

    def _limit_exceeded(self) -> httpx.Response:
        return self.error(403, "TotalRequests Limit exceeded.", errorCode="REQUEST_LIMIT_EXCEEDED")

    @override
    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            if request.url.path.rstrip("/") == TOKEN_PATH:
                response = self._token(request)
                self.requests.append((request.method, request.url.path, response.status_code))
            else:
                response = super().handle(request)
            if request.url.path.startswith("/services/data"):
                response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_usage()}/{self.api_limit}"
            response.headers["Date"] = email.utils.format_datetime(self.now(), usegmt=True)
            return response

    # -- public data API (seeding, demos, tests) -------------------------------------------------
    @override
    def insert(self, stream: str, fields: dict[str, Any], *, at: datetime | None = None) -> str:
        """Create a record as a user would (required fields are not enforced); returns its Id.

        Args:
            stream: the sObject name (``Lead``, ``Contact``, ``Account``, ``Opportunity``, ``Case``).
            fields: field values by API name; unknown or read-only names raise ValueError.
            at: the creation time (default: the fake's clock), stored to the second.
        """
        with self.lock:
            values = self._user_values(stream, fields)
            record = self._create(stream, values, self._stamp(at))
            self._persist()
            return str(record["Id"])

    @override
    def update(self, stream: str, record_id: str, fields: dict[str, Any], *, at: datetime | None = None) -> None:
        """Change a live record as a user would; bumps ``LastModifiedDate`` and ``SystemModstamp``."""
        with self.lock:
            record = self._live(stream, record_id)
            self._apply(stream, record, self._user_values(stream, fields), self._stamp(at))
            self._persist()

    def delete(self, stream: str, record_id: str, *, at: datetime | None = None) -> None:
        """Delete a record as a user would (it goes to the recycle bin and to getDeleted)."""
        with self.lock:
            self._delete(self._live(stream, record_id), self._stamp(at))
            self._persist()

    def undelete(self, stream: str, record_id: str, *, at: datetime | None = None) -> None:
        """Restore a record from the recycle bin (its ``SystemModstamp`` moves on)."""
        with self.lock:
            record = self.table(stream).get(to_id18(record_id) or record_id)
            if record is None or not record["IsDeleted"]:
                raise KeyError(f"no deleted {stream} {record_id}")
            stamp = sf_time(self._stamp(at))
            record["IsDeleted"] = False
            record.pop("_deletedDate", None)
            record["LastModifiedDate"] = record["SystemModstamp"] = stamp
            self._persist()

    def touch(self, stream: str, record_ids: Iterable[str], *, at: datetime | None = None) -> None:
        """Bump ``SystemModstamp`` of several records to one instant, as a bulk job or a
        formula/rollup recalculation does (``LastModifiedDate`` stays)."""
        with self.lock:
            stamp = sf_time(self._stamp(at))
            for record_id in record_ids:
                self._live(stream, record_id)["SystemModstamp"] = stamp
            self._persist()

    def record(self, stream: str, record_id: str) -> dict[str, Any] | None:
        """A copy of one stored record (recycle bin included), or None."""
        with self.lock:
            found = self.table(stream).get(to_id18(record_id) or str(record_id))
            return _public(found) if found else None

    @override
    def records(self, stream: str) -> list[dict[str, Any]]:
        """Every live record of ``stream``, oldest first."""
        with self.lock:
            return [_public(r) for r in self.table(stream).values() if not r["IsDeleted"]]

    def deleted_records(self, stream: str) -> list[dict[str, Any]]:
        """The records of ``stream`` in the recycle bin."""
        with self.lock:
            return [_public(r) for r in self.table(stream).values() if r["IsDeleted"]]

    def find(self, stream: str, field_name: str, value: Any) -> dict[str, Any] | None:
        """The live record whose ``field_name`` equals ``value`` (strings case-insensitively)."""
        with self.lock:
            found = self._find(stream, field_name, value)
            return _public(found) if found else None

    def add_field(
        self, stream: str, name: str, type_: str = "string", *, external_id: bool = False, unique: bool | None = None
    ) -> None:
        """Define a custom field (``external_id``: an External ID, unique unless ``unique=False``)."""
        with self.lock:
            unique = external_id if unique is None else unique
            self.state["fields"][stream].append(
                _def_to_json(FieldDef(name, type_, custom=True, external_id=external_id, unique=unique))
            )
            self._persist()

    def remove_field(self, stream: str, name: str) -> None:
        """Delete a custom field (to rehearse an org without it)."""
        with self.lock:
            if name not in {f["name"] for f in self.state["fields"][stream]}:
                raise ValueError(f"{stream} has no custom field {name!r}")
            self.state["fields"][stream] = [f for f in self.state["fields"][stream] if f["name"] != name]
            for record in self.table(stream).values():
                record.pop(name, None)
            self._persist()

    def purge_deleted(self, before: datetime | None = None) -> int:
        """Empty the recycle bin and delete log up to ``before`` (default: now), as Salesforce's
        purge does; getDeleted then reports it in ``earliestDateAvailable``. Returns how many."""
        with self.lock:
            cutoff = _minute(before or self.now())
            purged = 0
            for obj in OBJECTS:
                table = self.table(obj)
                for record_id in [i for i, r in table.items() if r["IsDeleted"]
                                  and (parse_time(r.get("_deletedDate")) or cutoff) < cutoff]:
                    del table[record_id]
                    purged += 1
            self.state["log_start"] = sf_time(cutoff)
            self._persist()
            return purged

    def expire_tokens(self) -> None:
        """End every session: the next data-API call answers 401 ``INVALID_SESSION_ID``."""
        with self.lock:
            self.sessions.clear()

    def revoke_refresh_token(self) -> None:
        """Revoke the refresh token: the token endpoint then answers ``invalid_grant``."""
        with self.lock:
            self.refresh_token = f"revoked-{secrets.token_hex(8)}"

    def expire_query_locators(self) -> None:
        """Forget every query locator (as 15 idle minutes would)."""
        with self.lock:
            self.locators.clear()

    def set_api_usage(self, used: int, limit: int | None = None) -> None:
        """Set the org's API usage of the last 24 hours (and its allocation), as if ``used``
        requests had been made this hour."""
        with self.lock:
            self.state["api_calls"] = {self._hour(): used}
            if limit is not None:
                self.api_limit = limit

    def inject_request_limit(self, times: int = 1) -> None:
        """Answer the next ``times`` data-API requests with 403 ``REQUEST_LIMIT_EXCEEDED``."""
        with self.lock:
            self.request_limit_faults += times

    def inject_fault(
        self, status: int, errors: list[dict[str, Any]], *, times: int = 1, path_contains: str = ""
    ) -> None:
        """Answer the next matching requests with ``status`` and a Salesforce error list."""
        self.inject(Fault(status, times=times, body=errors, path_contains=path_contains))

    # -- routes: OAuth ---------------------------------------------------------------------------
    def _token(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return self.json({"error": "invalid_request", "error_description": "must use HTTP POST"}, 400)
        form = httpx.QueryParams(request.content.decode("utf-8", "replace"))
        grant = form.get("grant_type")
        if form.get("client_id") != self.client_id:
            return self.json({"error": "invalid_client_id", "error_description": "client identifier invalid"}, 400)
        secret = form.get("client_secret")
        if grant == "refresh_token":
            if secret is not None and secret != self.token:
                return self.json({"error": "invalid_client", "error_description": "invalid client credentials"}, 400)
            if form.get("refresh_token") != self.refresh_token:
                return self.json({"error": "invalid_grant", "error_description": "expired access/refresh token"}, 400)
        elif grant == "client_credentials":
            if secret != self.token:
                return self.json({"error": "invalid_client", "error_description": "invalid client credentials"}, 400)
            if not self.client_credentials:
                return self.json(
                    {"error": "invalid_grant", "error_description": "no client credentials user enabled"}, 400)
        else:
            return self.json({"error": "unsupported_grant_type", "error_description": "grant type not supported"}, 400)
        access = f"{ORG_ID}!AR8AQ{secrets.token_urlsafe(64)}"
        self.sessions[access] = self.now() + timedelta(seconds=self.token_ttl) if self.token_ttl else None
        self.tokens_issued.append(access)
        issued = str(int(self.now().timestamp() * 1000))
        signature = base64.b64encode(
            hashlib.sha256(f"{self.base_url}/id/{ORG_ID}/{USER_ID}{issued}{self.token}".encode()).digest()
        ).decode()
        body = {
            "access_token": access,
            "signature": signature,
            "scope": "api refresh_token" if grant == "refresh_token" else "api",
            "instance_url": self.base_url,
            "id": f"https://login.salesforce.com/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer",
            "issued_at": issued,
        }
        return self.json(body)

    # -- routes: metadata, limits ----------------------------------------------------------------
    @route("GET", API + r"/limits")
    def limits(self, request: httpx.Request, body: Any, version: str) -> httpx.Response:
        used = self.api_usage()
        return self.json({
            "DailyApiRequests": {"Max": self.api_limit, "Remaining": max(0, self.api_limit - used)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
        })

    @route("GET", API + r"/sobjects")
    def describe_global(self, request: httpx.Request, body: Any, version: str) -> httpx.Response:
        return self.json({
            "encoding": "UTF-8",
            "maxBatchSize": MAX_COLLECTION,
            "sobjects": [self._object_summary(obj, version) for obj in OBJECTS],
        })

    @route("GET", API + r"/sobjects/(?P<obj>\w+)/describe")
    def describe(self, request: httpx.Request, body: Any, version: str, obj: str) -> httpx.Response:
        if obj not in OBJECTS:
            return self.error(404, "The requested resource does not exist", errorCode="NOT_FOUND")
        return self.json({
            **self._object_summary(obj, version),
            "fields": [f.describe() for f in self._fields(obj).values()],
        })

    def _object_summary(self, obj: str, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{obj}"
        return {
            "name": obj, "label": obj, "keyPrefix": KEY_PREFIX[obj], "custom": False, "queryable": True,
            "createable": True, "updateable": True, "deletable": True, "replicateable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }

    # -- routes: query ---------------------------------------------------------------------------
    @route("GET", API + r"/query")
    def query(self, request: httpx.Request, body: Any, version: str) -> httpx.Response:
        soql = request.url.params.get("q")
        if not soql:
            return self.error(400, "A query string is required (q=...)", errorCode="MALFORMED_QUERY")
        try:
            obj, rows = self._run_soql(soql, version)
        except Rejected as exc:
            return exc.response
        batch = _batch_size(request.headers.get("Sforce-Query-Options"))
        if self.batch_cap:
            batch = min(batch, self.batch_cap)
        locator = "01g5g00000" + "".join(secrets.choice(_B62) for _ in range(5)) + "AAA"
        self.locators[locator] = _Locator(rows, batch, self.now())
        return self._batch(version, locator, 0)

    @route("GET", API + r"/query/(?P<locator>01g\w+)-(?P<offset>\d+)")
    def query_more(self, request: httpx.Request, body: Any, version: str, locator: str, offset: str) -> httpx.Response:
        found = self.locators.get(locator)
        if found is None or self.now() - found.used > LOCATOR_IDLE:
            self.locators.pop(locator, None)
            return self.error(400, "invalid query locator", errorCode="INVALID_QUERY_LOCATOR")
        return self._batch(version, locator, int(offset))

    def _batch(self, version: str, locator: str, offset: int) -> httpx.Response:
        found = self.locators[locator]
        found.used = self.now()
        end = offset + found.batch
        out: dict[str, Any] = {"totalSize": len(found.rows), "done": end >= len(found.rows),
                               "records": found.rows[offset:end]}
        if out["done"]:
            self.locators.pop(locator, None)
        else:
            out["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        return self.json(out)

    # -- routes: getDeleted ----------------------------------------------------------------------
    @route("GET", API + r"/sobjects/(?P<obj>\w+)/deleted")
    def get_deleted(self, request: httpx.Request, body: Any, version: str, obj: str) -> httpx.Response:
        if obj not in OBJECTS:
            return self.error(404, "The requested resource does not exist", errorCode="NOT_FOUND")
        params = request.url.params
        start, end = parse_time(params.get("start")), parse_time(params.get("end"))
        if start is None or end is None:
            return self.error(400, "start and end are required ISO 8601 date-times", errorCode="MALFORMED_QUERY")
        start, end = _minute(start), _minute(end)  # seconds are ignored
        now = self.now()
        oldest = _minute(now - timedelta(days=self.deleted_log_days))
        if start >= end:
            return self.error(400, "startDate must chronologically precede endDate",
                              errorCode="INVALID_REPLICATION_DATE")
        if start < oldest:
            return self.error(400, f"startDate cannot be more than {self.deleted_log_days} days ago",
                              errorCode="INVALID_REPLICATION_DATE")
        covered = min(end, _minute(now))
        deleted = []
        for record in self.table(obj).values():
            when = parse_time(record.get("_deletedDate"))
            if record["IsDeleted"] and when is not None and start <= when < covered:
                deleted.append({"id": record["Id"], "deletedDate": record["_deletedDate"]})
        deleted.sort(key=lambda d: (d["deletedDate"], d["id"]))
        return self.json({
            "deletedRecords": deleted,
            "earliestDateAvailable": self.state.get("log_start") or sf_time(oldest),
            "latestDateCovered": sf_time(covered),
        })

    # -- routes: sObject Collections -------------------------------------------------------------
    @route("PATCH", API + r"/composite/sobjects/(?P<obj>\w+)/(?P<ext>\w+)")
    def upsert_collection(self, request: httpx.Request, body: Any, version: str, obj: str, ext: str) -> httpx.Response:
        try:
            records, all_or_none = self._collection(body, obj)
            definition = self._fields(obj).get(ext) if obj in OBJECTS else None
            if obj not in OBJECTS or definition is None:
                raise Rejected(self.error(
                    404, f"Provided external ID field does not exist or is not accessible: {ext}",
                    errorCode="NOT_FOUND"))
            if not (definition.external_id or definition.name == "Id"):
                raise Rejected(self.error(
                    400, f"Field {ext} is not an External ID or indexed field for {obj}", errorCode="INVALID_FIELD"))
            for item in records:
                self._check_shape(obj, item)
        except Rejected as exc:
            return exc.response
        keys = [str(item.get(ext) or "").lower() for item in records]
        repeated = {k for k in keys if k and keys.count(k) > 1}
        snapshot = copy.deepcopy(self.state) if all_or_none else None
        results: list[dict[str, Any]] = []
        now = self._stamp(None)
        for item, key in zip(records, keys, strict=True):
            try:
                if not key:
                    raise _RecordError(_Problem("MISSING_ARGUMENT", f"{ext} not specified", [ext]))
                if key in repeated:
                    raise _RecordError(
                        _Problem("DUPLICATE_VALUE", f"Duplicate external id specified: {item[ext]}", [ext]))
                values = self._api_values(obj, item)
                existing = self._find(obj, ext, item[ext])
                if existing is None:
                    record = self._insert_checked(obj, values, now)
                    results.append({"id": record["Id"], "success": True, "errors": [], "created": True})
                else:
                    self._update_checked(obj, existing, values, now)
                    results.append({"id": existing["Id"], "success": True, "errors": [], "created": False})
            except _RecordError as exc:
                results.append({"id": None, "success": False, "errors": [p.as_error() for p in exc.problems]})
        return self._finish(results, snapshot)

    @route("PATCH", API + r"/composite/sobjects")
    def update_collection(self, request: httpx.Request, body: Any, version: str) -> httpx.Response:
        try:
            records, all_or_none = self._collection(body, None)
            for item in records:
                self._check_shape(_type_of(item), item)
        except Rejected as exc:
            return exc.response
        snapshot = copy.deepcopy(self.state) if all_or_none else None
        results: list[dict[str, Any]] = []
        now = self._stamp(None)
        for item in records:
            obj = _type_of(item)
            raw_id = item.get("id", item.get("Id"))
            try:
                if not raw_id:
                    raise _RecordError(_Problem("MISSING_ARGUMENT", "Id not specified in an update call", []))
                record = self._by_id(obj, raw_id)
                values = self._api_values(obj, item)
                self._update_checked(obj, record, values, now)
                results.append({"id": record["Id"], "success": True, "errors": []})
            except _RecordError as exc:
                results.append({"id": to_id18(raw_id), "success": False,
                                "errors": [p.as_error() for p in exc.problems]})
        return self._finish(results, snapshot)

    @route("POST", API + r"/composite/sobjects")
    def create_collection(self, request: httpx.Request, body: Any, version: str) -> httpx.Response:
        try:
            records, all_or_none = self._collection(body, None)
            for item in records:
                self._check_shape(_type_of(item), item)
                if "id" in item or "Id" in item:
                    raise Rejected(self.error(400, "Can't specify an Id in a create call", errorCode="INVALID_FIELD"))
        except Rejected as exc:
            return exc.response
        snapshot = copy.deepcopy(self.state) if all_or_none else None
        results: list[dict[str, Any]] = []
        now = self._stamp(None)
        for item in records:
            obj = _type_of(item)
            try:
                record = self._insert_checked(obj, self._api_values(obj, item), now)
                results.append({"id": record["Id"], "success": True, "errors": []})
            except _RecordError as exc:
                results.append({"id": None, "success": False, "errors": [p.as_error() for p in exc.problems]})
        return self._finish(results, snapshot)

    @route("DELETE", API + r"/composite/sobjects")
    def delete_collection(self, request: httpx.Request, body: Any, version: str) -> httpx.Response:
        raw = request.url.params.get("ids") or ""
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        if not ids:
            return self.error(400, "ids is required", errorCode="MALFORMED_QUERY")
        if len(ids) > MAX_COLLECTION:
            return self.error(400, "record limit reached. cannot submit more than 200 records into this call",
                              errorCode="EXCEEDED_ID_LIMIT")
        all_or_none = request.url.params.get("allOrNone", "false").lower() == "true"
        snapshot = copy.deepcopy(self.state) if all_or_none else None
        results: list[dict[str, Any]] = []
        now = self._stamp(None)
        for raw_id in ids:
            try:
                record = self._by_id(None, raw_id)
                self._delete(record, now)
                results.append({"id": record["Id"], "success": True, "errors": []})
            except _RecordError as exc:
                results.append({"id": to_id18(raw_id), "success": False,
                                "errors": [p.as_error() for p in exc.problems]})
        return self._finish(results, snapshot)

    def _finish(self, results: list[dict[str, Any]], snapshot: dict[str, Any] | None) -> httpx.Response:
        if snapshot is not None and not all(r["success"] for r in results):
            self.state = snapshot
            rolled = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                      "message": "Record rolled back because not all records were valid and the request "
                                 "was using AllOrNone header", "fields": []}
            results = [r if not r["success"] else {"id": None, "success": False, "errors": [rolled]} for r in results]
        else:
            self.mutated()
        return self.json(results)

    # -- SOQL ------------------------------------------------------------------------------------
    def _run_soql(self, soql: str, version: str) -> tuple[str, list[dict[str, Any]]]:
        match = _SOQL.match(soql)
        if not match:
            raise Rejected(self.error(400, f"unexpected token: {soql.split()[0] if soql.split() else soql!r}",
                                      errorCode="MALFORMED_QUERY"))
        obj = match["obj"]
        canonical = {o.lower(): o for o in OBJECTS}.get(obj.lower())
        if canonical is None:
            raise Rejected(self.error(
                400, f"\n{soql}\n^\nERROR at Row:1:Column:1\nsObject type '{obj}' is not supported. If you are "
                "attempting to use a custom object, be sure to append the '__c' after the entity name.",
                errorCode="INVALID_TYPE"))
        obj = canonical
        fields = self._fields(obj)
        by_lower = {name.lower(): name for name in fields}

        def resolve(name: str) -> str:
            found = by_lower.get(name.strip().lower())
            if found is None:
                raise Rejected(self.error(
                    400, f"\n{soql}\n^\nERROR at Row:1:Column:1\nNo such column '{name.strip()}' on entity "
                    f"'{obj}'. If you are attempting to use a custom field, be sure to append the '__c' after "
                    "the custom field name. Please reference your WSDL or the describe call for the "
                    "appropriate names.", errorCode="INVALID_FIELD"))
            return found

        selected = [resolve(n) for n in match["fields"].split(",")]
        where = _split_and(match["where"]) if match["where"] else []
        conditions = [self._condition(obj, c, resolve, soql) for c in where]
        rows = [r for r in self.table(obj).values() if not r["IsDeleted"] and all(c(r) for c in conditions)]
        for name, descending in reversed(self._order(match["order"], resolve, soql)):
            kind = fields[name].type
            present = [r for r in rows if r.get(name) is not None]
            absent = [r for r in rows if r.get(name) is None]  # nulls first ascending, last descending
            present.sort(key=lambda r, n=name, k=kind: _comparable(k, r.get(n)), reverse=descending)
            rows = present + absent if descending else absent + present
        if match["limit"]:
            rows = rows[: int(match["limit"])]
        base = f"/services/data/v{version}/sobjects/{obj}"
        out = [{"attributes": {"type": obj, "url": f"{base}/{r['Id']}"}, **{n: r.get(n) for n in selected}}
               for r in rows]
        return obj, copy.deepcopy(out)

    def _order(self, clause: str | None, resolve: Any, soql: str) -> list[tuple[str, bool]]:
        out = []
        for part in (clause or "").split(","):
            words = part.split()
            if not words:
                continue
            if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
                raise Rejected(self.error(400, f"unexpected token: {words[-1]}", errorCode="MALFORMED_QUERY"))
            out.append((resolve(words[0]), len(words) == 2 and words[1].upper() == "DESC"))
        return out

    def _condition(self, obj: str, text: str, resolve: Any, soql: str) -> Any:
        match = _CONDITION.match(text.strip())
        if not match:
            raise Rejected(self.error(400, f"unexpected token: {text.strip()}", errorCode="MALFORMED_QUERY"))
        name = resolve(match["field"])
        kind = self._fields(obj)[name].type
        op = match["op"].upper()
        if op == "IN":
            inner = match["value"].strip()
            if not (inner.startswith("(") and inner.endswith(")")):
                raise Rejected(self.error(400, f"unexpected token: {inner}", errorCode="MALFORMED_QUERY"))
            wanted = {_comparable(kind, self._literal(kind, v.strip(), name)) for v in _split_list(inner[1:-1])}
            return lambda r: _comparable(kind, r.get(name)) in wanted
        value = self._literal(kind, match["value"].strip(), name)
        right = _comparable(kind, value)

        def check(record: dict[str, Any]) -> bool:
            left = _comparable(kind, record.get(name))
            if op in ("=", "!=", "<>"):
                return (left == right) == (op == "=")
            if left is None or right is None:
                return False
            return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]

        return check

    def _literal(self, kind: str, text: str, name: str) -> Any:
        if text.lower() == "null":
            return None
        if kind == "datetime":
            if not _DATETIME_LITERAL.match(text):
                raise Rejected(self.error(
                    400, f"value of filter criterion for field '{name}' must be of type dateTime and should "
                    "not be enclosed in quotes", errorCode="INVALID_FIELD"))
            return text
        if kind == "date":
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise Rejected(self.error(
                    400, f"value of filter criterion for field '{name}' must be of type date and should not "
                    "be enclosed in quotes", errorCode="INVALID_FIELD"))
            return text
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise Rejected(self.error(400, f"unexpected token: {text}", errorCode="MALFORMED_QUERY"))
            return text.lower() == "true"
        if kind in ("int", "double", "currency", "percent"):
            try:
                return float(text)
            except ValueError:
                raise Rejected(self.error(400, f"unexpected token: {text}", errorCode="MALFORMED_QUERY")) from None
        if not (len(text) >= 2 and text[0] == text[-1] == "'"):
            raise Rejected(self.error(
                400, f"value of filter criterion for field '{name}' must be of type string and should be "
                "enclosed in quotes", errorCode="INVALID_FIELD"))
        return text[1:-1].replace("\\'", "'")

    # -- writes ----------------------------------------------------------------------------------
    def _collection(self, body: Any, obj: str | None) -> tuple[list[dict[str, Any]], bool]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise Rejected(self.error(400, "JSON_PARSER_ERROR: records is required and must be a list",
                                      errorCode="JSON_PARSER_ERROR"))
        records = body["records"]
        if len(records) > MAX_COLLECTION:
            raise Rejected(self.error(400, "record limit reached. cannot submit more than 200 records into this call",
                                      errorCode="EXCEEDED_ID_LIMIT"))
        for item in records:
            if not isinstance(item, dict) or not isinstance(item.get("attributes"), dict) \
                    or not item["attributes"].get("type"):
                raise Rejected(self.error(
                    400, "When using sObject Collections, you must specify the type attribute for each record.",
                    errorCode="INVALID_TYPE"))
            if obj is not None and item["attributes"]["type"] != obj:
                raise Rejected(self.error(
                    400, f"All records must be of the type {obj} specified in the URI", errorCode="INVALID_TYPE"))
        return records, bool(body.get("allOrNone", False))

    def _check_shape(self, obj: str, item: dict[str, Any]) -> None:
        """Refuse the whole request for what the JSON deserializer refuses: unknown sObjects and
        fields, and values of the wrong JSON type."""
        if obj not in OBJECTS:
            raise Rejected(self.error(400, f"sObject type '{obj}' is not supported.", errorCode="INVALID_TYPE"))
        fields = self._fields(obj)
        for name, value in item.items():
            if name in ("attributes", "id", "Id"):
                continue
            definition = fields.get(name)
            if definition is None:
                raise Rejected(self.error(400, f"No such column '{name}' on sobject of type {obj}",
                                          errorCode="INVALID_FIELD"))
            if value is not None and _coerce(definition, value) is _BAD:
                raise Rejected(self.error(
                    400, f"Cannot deserialize instance of {definition.type} from {_json_kind(value)} value "
                    f"{value} or request may be missing a required field", errorCode="JSON_PARSER_ERROR"))

    def _api_values(self, obj: str, item: dict[str, Any]) -> dict[str, Any]:
        fields = self._fields(obj)
        values = {n: v for n, v in item.items() if n not in ("attributes", "id", "Id")}
        read_only = [n for n in values if not (fields[n].createable or fields[n].updateable)]
        if read_only:
            raise _RecordError(_Problem("INVALID_FIELD_FOR_INSERT_UPDATE",
                                        READ_ONLY_MESSAGE.format(fields=", ".join(read_only)), read_only))
        out = {n: (None if v is None else _coerce(fields[n], v)) for n, v in values.items()}
        problems = []
        for name, value in out.items():
            definition = fields[name]
            if isinstance(value, str) and value == "":
                out[name] = value = None  # Salesforce stores empty text as null
            if value is None:
                continue
            if definition.type == "email" and not EMAIL_RE.match(value):
                problems.append(_Problem("INVALID_EMAIL_ADDRESS", f"{definition.describe()['label']}: invalid email "
                                         f"address: {value}", [name]))
            elif definition.type in ("string", "textarea", "phone", "url", "email") and len(value) > definition.length:
                problems.append(_Problem("STRING_TOO_LONG", f"{definition.describe()['label']}: data value too large: "
                                         f"{value[:40]} (max length={definition.length})", [name]))
            elif definition.type == "reference" and definition.reference_to in OBJECTS:
                target = to_id18(value)
                if target is None:
                    problems.append(_Problem("MALFORMED_ID", f"{definition.describe()['label']}: id value of "
                                             f"incorrect type: {value}", [name]))
                elif not target.startswith(KEY_PREFIX[definition.reference_to]) or self._live_or_none(
                        definition.reference_to, target) is None:
                    problems.append(_Problem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name]))
                else:
                    out[name] = target
        if problems:
            raise _RecordError(*problems)
        return out

    def _insert_checked(self, obj: str, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        fields = self._fields(obj)
        not_createable = [n for n in values if not fields[n].createable]
        if not_createable:
            raise _RecordError(_Problem("INVALID_FIELD_FOR_INSERT_UPDATE",
                                        READ_ONLY_MESSAGE.format(fields=", ".join(not_createable)), not_createable))
        missing = [d.name for d in fields.values() if d.required and values.get(d.name) in (None, "")]
        if missing:
            raise _RecordError(_Problem("REQUIRED_FIELD_MISSING",
                                        f"Required fields are missing: [{', '.join(missing)}]", missing))
        self._check_unique(obj, None, values)
        return self._create(obj, values, now)

    def _update_checked(self, obj: str, record: dict[str, Any], values: dict[str, Any], now: datetime) -> None:
        fields = self._fields(obj)
        not_updateable = [n for n in values if not fields[n].updateable]
        if not_updateable:
            raise _RecordError(_Problem("INVALID_FIELD_FOR_INSERT_UPDATE",
                                        READ_ONLY_MESSAGE.format(fields=", ".join(not_updateable)), not_updateable))
        cleared = [n for n, v in values.items() if v is None and fields[n].required]
        if cleared:
            raise _RecordError(_Problem("REQUIRED_FIELD_MISSING",
                                        f"Required fields are missing: [{', '.join(cleared)}]", cleared))
        self._check_unique(obj, record, values)
        self._apply(obj, record, values, now)

    def _check_unique(self, obj: str, record: dict[str, Any] | None, values: dict[str, Any]) -> None:
        for definition in self._fields(obj).values():
            value = values.get(definition.name)
            if not definition.unique or value in (None, ""):
                continue
            holder = self._find(obj, definition.name, value)
            if holder is not None and (record is None or holder["Id"] != record["Id"]):
                raise _RecordError(_Problem(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {definition.name} duplicates value on record with id: {holder['Id']}",
                    []))

    def _by_id(self, obj: str | None, raw_id: Any) -> dict[str, Any]:
        record_id = to_id18(raw_id)
        if record_id is None:
            raise _RecordError(_Problem("MALFORMED_ID", f"malformed id {raw_id}", []))
        owner = obj or next((o for o, p in KEY_PREFIX.items() if record_id.startswith(p)), None)
        record = self.table(owner).get(record_id) if owner in OBJECTS else None
        if record is None:
            raise _RecordError(_Problem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []))
        if record["IsDeleted"]:
            raise _RecordError(_Problem("ENTITY_IS_DELETED", "entity is deleted", []))
        return record

    # -- storage ---------------------------------------------------------------------------------
    def _fields(self, obj: str) -> dict[str, FieldDef]:
        custom = [_def_from_json(d) for d in self.state["fields"].get(obj, [])]
        return {d.name: d for d in (*SYSTEM_FIELDS, *STANDARD_FIELDS[obj], *custom)}

    def _user_values(self, obj: str, fields: dict[str, Any]) -> dict[str, Any]:
        if obj not in OBJECTS:
            raise ValueError(f"unknown sObject {obj!r} (known: {', '.join(OBJECTS)})")
        known = self._fields(obj)
        out = {}
        for name, value in fields.items():
            definition = known.get(name)
            if definition is None or not (definition.createable or definition.updateable):
                raise ValueError(f"{obj} has no writable field {name!r}")
            coerced = value if value is None else _coerce(definition, value)
            if coerced is _BAD:
                raise ValueError(f"{obj}.{name}: {value!r} is not a {definition.type}")
            if definition.type == "reference" and coerced:
                coerced = to_id18(coerced) or coerced
            out[name] = coerced
        return out

    def _create(self, obj: str, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        self.state["next_id"] += 1
        record_id = make_id(KEY_PREFIX[obj], self.state["next_id"] - 1)
        stamp = sf_time(now)
        record: dict[str, Any] = {"Id": record_id, "IsDeleted": False, "CreatedDate": stamp, "OwnerId": USER_ID}
        for definition in self._fields(obj).values():
            if definition.name not in record and definition.name not in ("LastModifiedDate", "SystemModstamp"):
                record[definition.name] = False if definition.type == "boolean" else None
        record.update(DEFAULTS.get(obj, {}))
        if obj == "Case":
            self.state["case_number"] += 1
            record["CaseNumber"] = f"{self.state['case_number']:08d}"
        self.table(obj)[record_id] = record
        self._apply(obj, record, values, now)
        return record

    def _apply(self, obj: str, record: dict[str, Any], values: dict[str, Any], now: datetime) -> None:
        record.update(values)
        stamp = sf_time(now)
        record["LastModifiedDate"] = record["SystemModstamp"] = stamp
        if obj in ("Lead", "Contact"):
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p) or None
        elif obj == "Opportunity":
            probability, closed, won = OPPORTUNITY_STAGES.get(record.get("StageName") or "", (None, False, False))
            record["IsClosed"], record["IsWon"] = closed, won
            if "StageName" in values and "Probability" not in values and probability is not None:
                record["Probability"] = probability
        elif obj == "Case":
            closed = record.get("Status") == "Closed"
            if closed and not record.get("IsClosed"):
                record["ClosedDate"] = stamp
            elif not closed:
                record["ClosedDate"] = None
            record["IsClosed"] = closed

    def _delete(self, record: dict[str, Any], now: datetime) -> None:
        record["IsDeleted"] = True
        record["_deletedDate"] = record["SystemModstamp"] = sf_time(now)

    def _live(self, obj: str, record_id: str) -> dict[str, Any]:
        found = self._live_or_none(obj, record_id)
        if found is None:
            raise KeyError(f"no live {obj} {record_id}")
        return found

    def _live_or_none(self, obj: str, record_id: str) -> dict[str, Any] | None:
        found = self.table(obj).get(to_id18(record_id) or str(record_id))
        return found if found is not None and not found["IsDeleted"] else None

    def _find(self, obj: str, field_name: str, value: Any) -> dict[str, Any] | None:
        wanted = str(value).lower() if isinstance(value, str) else value
        for record in self.table(obj).values():
            have = record.get(field_name)
            if not record["IsDeleted"] and (have.lower() if isinstance(have, str) else have) == wanted:
                return record
        return None

    def _stamp(self, at: datetime | None) -> datetime:
        return _second(at if at is not None else self.now())

    def _persist(self) -> None:
        self.dirty = True
        self.save()


# -- helpers ---------------------------------------------------------------------------------------
_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(
    r"^(?P<field>\w+)\s*(?P<op><=|>=|!=|<>|=|<|>|\bIN\b)\s*(?P<value>.+)$", re.IGNORECASE | re.DOTALL
)
_DATETIME_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$")
_BAD = object()


def _split_and(where: str) -> list[str]:
    """Split a WHERE clause on AND outside quotes; OR and parentheses are not in the subset."""
    parts, current, quoted, depth = [], "", False, 0
    tokens = re.split(r"(\s+|'|\(|\))", where)
    for token in tokens:
        if token == "'" and not current.endswith("\\"):
            quoted = not quoted
        elif not quoted and token == "(":
            depth += 1
        elif not quoted and token == ")":
            depth -= 1
        if not quoted and depth == 0 and token.upper() == "OR":
            raise Rejected(FakeSalesforce.json([{"message": "unexpected token: OR (not in the fake's SOQL subset)",
                                                 "errorCode": "MALFORMED_QUERY"}], 400))
        if not quoted and depth == 0 and token.upper() == "AND":
            parts.append(current)
            current = ""
        else:
            current += token
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _split_list(inner: str) -> list[str]:
    return [p for p in re.findall(r"'(?:[^'\\]|\\.)*'|[^,\s]+", inner)]


def _comparable(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return parse_time(value)
    if kind in ("int", "double", "currency", "percent"):
        return float(value)
    if kind in ("id", "reference"):
        return to_id18(value) or str(value)  # 15- and 18-character forms are equal; order is case-sensitive
    if isinstance(value, str):
        return value.lower()  # SOQL compares text case-insensitively
    return value


def _coerce(definition: FieldDef, value: Any) -> Any:
    """A JSON value as the deserializer takes it for ``definition``, or _BAD."""
    kind = definition.type
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return _BAD
    if kind in ("int", "double", "currency", "percent"):
        if isinstance(value, bool):
            return _BAD
        try:
            number = float(value)
        except (TypeError, ValueError):
            return _BAD
        return int(number) if kind == "int" and number.is_integer() else number
    if kind == "date":
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            return _BAD
    if kind == "datetime":
        moment = parse_time(value)
        return sf_time(moment) if moment else _BAD
    if isinstance(value, (dict, list)):
        return _BAD
    return value if isinstance(value, str) else json.dumps(value)


def _json_kind(value: Any) -> str:
    return "VALUE_STRING" if isinstance(value, str) else ("VALUE_TRUE" if value is True else "VALUE_NUMBER_INT")


def _batch_size(header: str | None) -> int:
    match = re.search(r"batchSize\s*=\s*(\d+)", header or "")
    if not match:
        return DEFAULT_BATCH
    return max(MIN_BATCH, min(DEFAULT_BATCH, int(match.group(1))))  # a hint, clamped to 200..2000


def _type_of(item: dict[str, Any]) -> str:
    return str((item.get("attributes") or {}).get("type") or "")


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in copy.deepcopy(record).items() if not k.startswith("_")}


def _def_to_json(definition: FieldDef) -> dict[str, Any]:
    return {"name": definition.name, "type": definition.type, "label": definition.label,
            "custom": definition.custom, "external_id": definition.external_id, "unique": definition.unique,
            "length": definition.length, "picklist": list(definition.picklist)}


def _def_from_json(raw: dict[str, Any]) -> FieldDef:
    return FieldDef(raw["name"], raw.get("type", "string"), raw.get("label", ""), custom=raw.get("custom", True),
                    external_id=raw.get("external_id", False), unique=raw.get("unique", False),
                    length=raw.get("length", 255), picklist=tuple(raw.get("picklist", ())))
