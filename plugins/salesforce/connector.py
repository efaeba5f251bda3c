"""The Salesforce connector: Lead, Contact, Account, Opportunity (read and write) and Case (read)
through the REST API (``/services/data/vXX.X``).

**Authentication** is OAuth 2.0 with a connected app, by refresh token (a user authorised the app
once) or by client credentials (the app's "Run As" user). The access token is fetched on first
use and fetched again once when Salesforce answers 401 ``INVALID_SESSION_ID`` (sessions end after
the org's timeout; Salesforce does not say when). Every token is registered with the HTTP client
for redaction, so none reaches a log or an error.

**Reads** run one SOQL query per stream, ``WHERE SystemModstamp >= since ORDER BY SystemModstamp,
Id``, and follow ``nextRecordsUrl`` batch by batch (``Sforce-Query-Options: batchSize``). Salesforce
keeps timestamps to the second, so a bulk job gives thousands of records one ``SystemModstamp``: a
:class:`~hub.connector.TimestampCheckpoint` skips the ids already emitted at the boundary second,
so a read resumed from any page state has neither a gap nor a duplicate. Page states hold only the
checkpoint, never a query locator (locators die after 15 idle minutes); a locator that died
mid-read is replaced by re-running the query from the checkpoint. Only fields the org has are
selected (``describe``), so an org without the optional kana or multi-currency fields still syncs.

**Tombstones** come from getDeleted (``/sobjects/{type}/deleted/?start=&end=``) after the changes
of an incremental read. Its window is minute-granular and reaches back only as far as the delete
log (15 days in the current REST docs; older SOAP docs say 30: ``tombstone_window_days``). The next
window starts at the ``latestDateCovered`` Salesforce reports, so clock skew loses nothing. A read
whose last tombstone window is older than the log can no longer see every deletion; it says so in
a warning and reads what is left.

**Writes** go through sObject Collections, at most 200 records a call, ``allOrNone: false`` so one
bad record fails alone with Salesforce's status code and field:

* records the hub does not know in Salesforce yet are *upserted* by the external-id field
  (``external_id_field``, default ``Seamless_Hub_Id__c``: External ID + Unique on each object) with
  the hub key as its value, so a retried batch never creates a duplicate;
* records with a known Salesforce Id are *updated* by Id (``PATCH /composite/sobjects``). The hub
  key is not stamped on them: a record created by a user keeps its external id empty, and two
  Salesforce duplicates of one person never fight over one unique value;
* deletes use ``DELETE /composite/sobjects?ids=`` (to the recycle bin); an Id already deleted
  counts as deleted.

Values are converted by the field types ``describe`` reports (booleans, numbers, dates), so a
value Salesforce's deserializer would refuse fails its record here instead of the whole call.

**Limits**: 403 ``REQUEST_LIMIT_EXCEEDED`` is rate limiting, not an auth failure: it is retried with
backoff, then raised as :class:`~hub.errors.RateLimitedError`. Every response's
``Sforce-Limit-Info: api-usage=N/M`` is read; above ``api_usage_threshold`` of the daily
allocation the connector slows to the allocation's average rate (M a day), leaving the rest of the
org's allocation to its other integrations.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from hub import http as hub_http
from hub.connector import (
    DEFAULT_BUDGET,
    DELETE,
    INCREMENTAL,
    READ,
    TOMBSTONES,
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
    distinct_batches,
    override,
)
from hub.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    RateLimitedError,
    VendorError,
)
from hub.http import HttpClient, RequestBudget
from hub.transforms import to_bool

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

CAPABILITIES = READ | INCREMENTAL | UPSERT | DELETE | TOMBSTONES
READ_ONLY = READ | INCREMENTAL | TOMBSTONES
MAX_COLLECTION = 200  # records per sObject Collections call (documented)
CURSOR = "SystemModstamp"  # bumped by every change, user-made or system-made (LastModifiedDate is not)
TOKEN_PATH = "/services/oauth2/token"
SESSION_ERRORS = frozenset({"INVALID_SESSION_ID", "INVALID_AUTH_HEADER"})
LIMIT_ATTEMPTS = hub_http.MAX_ATTEMPTS  # REQUEST_LIMIT_EXCEEDED: tries before giving up
LIMIT_MAX_WAIT = 60.0
DELETE_MARGIN = timedelta(minutes=1)  # getDeleted is minute-granular
LOG_MARGIN = timedelta(minutes=10)  # stay inside the delete log despite clock skew

# The fields read for each stream: everything mappings/salesforce.yaml maps, plus bookkeeping.
# Id, SystemModstamp and the external-id field are added; fields the org lacks are left out.
FIELDS: dict[str, tuple[str, ...]] = {
    "Lead": (
        "FirstName", "LastName", "LastNameKana__c", "FirstNameKana__c", "Email", "Phone", "MobilePhone",
        "Company", "Title", "Status", "HasOptedOutOfEmail", "Street", "City", "State", "PostalCode",
        "Country", "OwnerId", "IsConverted", "CreatedDate", "LastModifiedDate",
    ),
    "Contact": (
        "FirstName", "LastName", "LastNameKana__c", "FirstNameKana__c", "Email", "Phone", "MobilePhone",
        "AccountId", "Title", "Department", "HasOptedOutOfEmail", "MailingStreet", "MailingCity",
        "MailingState", "MailingPostalCode", "MailingCountry", "OwnerId", "CreatedDate", "LastModifiedDate",
    ),
    "Account": (
        "Name", "NameKana__c", "Website", "Phone", "Industry", "NumberOfEmployees", "BillingStreet",
        "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry", "CorporateNumber__c",
        "OwnerId", "CreatedDate", "LastModifiedDate",
    ),
    "Opportunity": (
        "Name", "StageName", "Amount", "CurrencyIsoCode", "CloseDate", "AccountId", "IsClosed", "IsWon",
        "Probability", "OwnerId", "CreatedDate", "LastModifiedDate",
    ),
    "Case": (
        "CaseNumber", "Subject", "Description", "Status", "Priority", "Origin", "IsEscalated", "IsClosed",
        "ClosedDate", "ContactId", "AccountId", "OwnerId", "CreatedDate", "LastModifiedDate",
    ),
}
_NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})


class SalesforceSettings(ConnectorSettings):
    """Settings of a Salesforce org.

    Attributes:
        base_url: the org's instance (My Domain) URL, e.g. ``https://acme.my.salesforce.com``;
            ``instance_url`` is accepted as its other name.
        login_url: where tokens are requested; empty means ``base_url`` (My Domain serves both
            flows; ``https://login.salesforce.com`` / ``https://test.salesforce.com`` serve the
            refresh-token flow only).
        api_version: REST API version (``60.0``; sObject Collections upsert needs 46.0+).
        flow: ``refresh_token`` or ``client_credentials``.
        client_id: the connected app's consumer key.
        client_secret: the connected app's consumer secret (optional for the refresh-token flow
            unless the app requires it).
        refresh_token: the refresh token (refresh-token flow). Turn refresh-token rotation off
            for this app: a rotated token cannot be written back to the configuration.
        external_id_field: External ID + Unique text field on Lead, Contact, Account and
            Opportunity that holds the hub's key; upserts match on it.
        query_batch_size: records per query batch asked for (200..2000; Salesforce may send fewer).
        api_usage_threshold: share of the daily API allocation above which the connector slows
            to the allocation's average rate.
        tombstone_window_days: how far back getDeleted can reach (the delete log's retention).
        extra_fields: more fields to read, per stream (a workspace's own custom fields).
    """

    base_url: str = ""
    instance_url: str = ""
    login_url: str = ""
    api_version: str = "60.0"
    flow: Literal["refresh_token", "client_credentials"] = "refresh_token"
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    refresh_token: SecretStr | None = None
    external_id_field: str = "Seamless_Hub_Id__c"
    query_batch_size: int = Field(2000, ge=200, le=2000)
    api_usage_threshold: float = Field(0.9, gt=0, le=1)
    tombstone_window_days: float = Field(15, gt=0, le=30)
    extra_fields: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.removeprefix("v")
        if not re.fullmatch(r"\d{2,3}\.0", value):
            raise ValueError(f"api_version must look like '60.0', not {value!r}")
        return value

    @model_validator(mode="after")
    def _instance(self) -> Self:
        url = (self.base_url or self.instance_url).rstrip("/")
        if not url:
            raise ValueError("set base_url (or instance_url) to the org's My Domain URL, "
                             "e.g. https://acme.my.salesforce.com")
        self.base_url = self.instance_url = url
        self.login_url = (self.login_url or url).rstrip("/")
        return self


class _BadValue(ValueError):
    """A value Salesforce would not accept for a field's type."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_Send = Callable[[str, list[tuple[int, WriteOp]]], dict[int, WriteResult]]


class Salesforce(Connector):
    """Salesforce (Sales and Service Cloud): leads, contacts, accounts, opportunities, cases."""

    name: ClassVar[str] = "salesforce"
    kind: ClassVar[Kind] = Kind.CRM
    Settings: ClassVar[type[ConnectorSettings]] = SalesforceSettings
    streams: ClassVar[tuple[Stream, ...]] = (
        Stream("Lead", "Id", CURSOR, CAPABILITIES, MAX_COLLECTION),
        Stream("Contact", "Id", CURSOR, CAPABILITIES, MAX_COLLECTION),
        Stream("Account", "Id", CURSOR, CAPABILITIES, MAX_COLLECTION),
        Stream("Opportunity", "Id", CURSOR, CAPABILITIES, MAX_COLLECTION),
        Stream("Case", "Id", CURSOR, READ_ONLY, MAX_COLLECTION),
    )
    # No per-second limit is published: the daily allocation is watched through Sforce-Limit-Info.

    settings: SalesforceSettings

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        instance: str | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: RequestBudget | DefaultBudget | None = DEFAULT_BUDGET,
    ) -> None:
        if not isinstance(settings, SalesforceSettings):
            settings = SalesforceSettings.model_validate(dict(settings))
        self._token_lock = threading.Lock()
        self._access_token: str | None = None
        self._refresh_token: str | None = None
        self._describes: dict[str, dict[str, Any]] = {}
        self._warned: set[tuple[str, str]] = set()
        self._usage_budget: RequestBudget | None = None
        self._skew = timedelta(0)  # Salesforce's clock minus ours, from the Date header
        self.api_usage: tuple[int, int] | None = None
        super().__init__(settings, instance=instance, transport=transport, budget=budget)
        self._oauth = HttpClient(
            base_url=self.settings.login_url,
            connector=self.instance,
            headers={"Accept": "application/json"},
            transport=transport,
            secrets=self.settings.secret_values(),
        )

    # -- Connector API -------------------------------------------------------------------
    @override
    def auth_headers(self) -> dict[str, str]:
        """No token yet (it is fetched on first use); checks that the flow's credentials are set.

        Raises:
            MissingSecretError: the flow's client id, secret or refresh token is not configured.
        """
        self.settings.require("client_id", connector=self.instance)
        if self.settings.flow == "client_credentials":
            self.settings.require("client_secret", connector=self.instance)
        else:
            self._refresh_token = self.settings.require("refresh_token", connector=self.instance)
        return {"Accept": "application/json"}

    @override
    def validate_response(self, response: httpx.Response) -> None:
        """Follow Salesforce's clock (``Date``) and the org's daily API usage
        (``Sforce-Limit-Info``), slowing down near the limit."""
        try:
            server = email.utils.parsedate_to_datetime(response.headers.get("Date", ""))
        except (TypeError, ValueError):
            server = None
        if server is not None and server.tzinfo is not None:
            self._skew = server - datetime.now(UTC)
        match = re.search(r"api-usage=(\d+)/(\d+)", response.headers.get("Sforce-Limit-Info", ""))
        if not match:
            return
        used, limit = int(match.group(1)), int(match.group(2))
        self.api_usage = (used, limit)
        if limit <= 0:
            return
        ratio, threshold = used / limit, self.settings.api_usage_threshold
        if ratio >= threshold and self._usage_budget is None:
            per_minute = max(1, limit // 1440)  # the allocation spread evenly over 24 hours
            budget = RequestBudget(per_minute, 60.0)
            budget.tokens = 0.0  # slow down from the next request on
            self._usage_budget = budget
            log.warning(
                "[%s] Salesforce API usage is %d of %d requests today (%.0f%%, above %.0f%%): slowing to "
                "%d requests a minute to leave the rest to the org's other integrations",
                self.instance, used, limit, ratio * 100, threshold * 100, per_minute,
            )
        elif ratio < threshold - 0.05 and self._usage_budget is not None:
            self._usage_budget = None
            log.info("[%s] Salesforce API usage back to %d of %d: full speed", self.instance, used, limit)

    @override
    def check(self) -> CheckResult:
        try:
            body = self._json(self._request("GET", self._path("limits")), None)
        except AuthError as exc:
            return CheckResult(False, f"Salesforce refused the credentials: {exc.reason}")
        except ConnectorError as exc:
            return CheckResult(False, str(exc))
        daily = (body.get("DailyApiRequests") or {}) if isinstance(body, dict) else {}
        most, left = daily.get("Max"), daily.get("Remaining")
        usage = ""
        if isinstance(most, int) and isinstance(left, int):
            usage = f"; daily API requests used: {most - left} of {most}"
        return CheckResult(True, f"Salesforce at {self.settings.base_url} accepted the {self.settings.flow} "
                                 f"credentials{usage}")

    @override
    def discover(self) -> dict[str, list[FieldInfo]]:
        out: dict[str, list[FieldInfo]] = {}
        for spec in self.streams:
            self._describes.pop(spec.name, None)
            out[spec.name] = [
                FieldInfo(
                    name=f["name"],
                    type=f.get("type") or "string",
                    label=f.get("label"),
                    custom=str(f["name"]).endswith("__c"),
                    writable=bool(f.get("updateable") or f.get("createable")),
                )
                for f in self._describe(spec.name).get("fields", [])
            ]
        return out

    @override
    def read(self, stream: str, state: dict[str, Any] | None) -> Iterator[Page]:
        """Pages of changed records (oldest first), then, for incremental reads, tombstones.

        State: ``{"since", "seen"}`` (the checkpoint) plus ``{"deleted_since", "deleted_seen"}``
        (the next getDeleted window); ``"phase": "tombstones"`` marks a read whose changes are done.
        A full read (no state) reads no tombstones; its final state starts them at the moment the
        read began.
        """
        spec = self.stream(stream)
        state = dict(state or {})
        if state.get("phase") == "tombstones" and state.get("deleted_since"):
            yield from self._read_tombstones(spec, state)
        else:
            yield from self._read_changes(spec, state)

    @override
    def write(self, stream: str, batch: Sequence[WriteOp]) -> list[WriteResult]:
        spec = self.stream(stream)
        if not spec.can(UPSERT):
            return [WriteResult(op.key, "failed", op.target_id, error=f"{stream} is read-only in this connector")
                    for op in batch]
        results: list[WriteResult | None] = [None] * len(batch)
        upserts: list[tuple[int, WriteOp]] = []
        updates: list[tuple[int, WriteOp]] = []
        deletes: list[tuple[int, WriteOp]] = []
        for index, op in enumerate(batch):
            if op.action in ("delete", "archive"):
                if op.target_id:
                    deletes.append((index, op))
                else:
                    results[index] = WriteResult(op.key, "failed", None, error="no Salesforce Id to delete")
                continue
            try:
                wired = replace(op, fields=self._wire(stream, op.fields))
            except _BadValue as exc:
                results[index] = WriteResult(op.key, "failed", op.target_id, error=str(exc), field=exc.field)
                continue
            (updates if op.target_id else upserts).append((index, wired))
        if upserts:
            self._require_external_id(stream)
        plan: list[tuple[_Send, list[tuple[int, WriteOp]], Callable[[WriteOp], str]]] = [
            (self._upsert_chunk, upserts, lambda op: op.key.lower()),  # external ids match case-insensitively
            (self._update_chunk, updates, lambda op: str(op.target_id)[:15]),
            (self._delete_chunk, deletes, lambda op: str(op.target_id)[:15]),
        ]
        for send, items, key in plan:
            for chunk in distinct_batches(items, MAX_COLLECTION, key):
                for index, result in self._guarded(stream, send, chunk).items():
                    results[index] = result
        return [
            r if r is not None else WriteResult(batch[i].key, "failed", batch[i].target_id, error="not written")
            for i, r in enumerate(results)
        ]

    @override
    def close(self) -> None:
        super().close()
        self._oauth.close()

    # -- authentication ------------------------------------------------------------------
    def _authenticate(self, stale: str | None = None) -> None:
        """Fetch an access token (again, when ``stale`` is the one Salesforce refused)."""
        with self._token_lock:
            if self._access_token is not None and self._access_token != stale:
                return  # another thread already replaced it
            flow = self.settings.flow
            form = {"grant_type": flow, "client_id": self.settings.client_id}
            secret = self.settings.client_secret.get_secret_value()
            if secret:
                form["client_secret"] = secret
            if flow == "refresh_token":
                form["refresh_token"] = self._refresh_token or ""
            try:
                response = self._oauth.post(TOKEN_PATH, data=form)
            except (VendorError, AuthError) as exc:
                raise self._token_refused(exc) from None
            body = self._oauth.json(response)
            token = body.get("access_token") if isinstance(body, dict) else None
            if not token:
                raise AuthError(f"{self.settings.login_url}{TOKEN_PATH} answered without an access_token",
                                connector=self.instance, status=response.status_code)
            self._oauth.secrets.append(token)
            self.http.set_header("Authorization", f"Bearer {token}")
            self._access_token = token
            rotated = body.get("refresh_token")
            if flow == "refresh_token" and rotated and rotated != self._refresh_token:
                for client in (self.http, self._oauth):
                    client.secrets.append(rotated)
                self._refresh_token = rotated
                log.warning(
                    "[%s] Salesforce rotated the refresh token: the configured one no longer works once this "
                    "process ends. Turn off refresh token rotation for the connected app.", self.instance,
                )

    def _token_refused(self, exc: ConnectorError) -> AuthError:
        try:
            body = json.loads(exc.body or "")
        except ValueError:
            body = {}
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        key = f"connectors.{self.instance}.settings"
        hints = {
            "invalid_client_id": f"check {key}.client_id (the connected app's consumer key)",
            "invalid_client": f"check {key}.client_secret (the connected app's consumer secret)",
            "unsupported_grant_type": f"the connected app does not allow the {self.settings.flow} flow",
        }
        if error == "invalid_grant":
            hint = (f"authorise the connected app again and set {key}.refresh_token"
                    if self.settings.flow == "refresh_token"
                    else "enable the client credentials flow and its Run As user on the connected app")
        else:
            hint = hints.get(error, f"check {key}.login_url and the connected app")
        what = f"{error}: {description}" if error else exc.reason
        return AuthError(
            self._oauth.redact(f"Salesforce refused the {self.settings.flow} grant at "
                               f"{self.settings.login_url}{TOKEN_PATH} ({what}); {hint}"),
            connector=self.instance, status=exc.status, body=exc.body,
        )

    def _request(self, method: str, url: str, *, stream: str | None = None, **kw: Any) -> httpx.Response:
        """One API call: fetch a token first if needed, refresh it once on INVALID_SESSION_ID,
        and retry REQUEST_LIMIT_EXCEEDED (HTTP 403) with backoff like any rate limit."""
        limited = 0
        refreshed = False
        while True:
            if self._access_token is None:
                self._authenticate()
            token = self._access_token
            try:
                return self.http.request(method, url, stream=stream, budget=self._usage_budget, **kw)
            except AuthError as exc:
                code = _error_code(exc.body)
                if exc.status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
                    limited += 1
                    if limited >= LIMIT_ATTEMPTS:
                        raise RateLimitedError(
                            f"{exc.reason} (still refused after {limited} tries: the org's API allocation is "
                            "exhausted or too many long requests run at once; usage frees up over a rolling "
                            "24 hours)", connector=self.instance, stream=stream, status=403, body=exc.body,
                        ) from None
                    wait = min(LIMIT_MAX_WAIT, 2.0**limited) * random.uniform(0.5, 1.0)
                    log.warning("%s (attempt %d, retrying in %.1f s)", exc, limited, wait)
                    hub_http.sleep(wait)
                    continue
                if exc.status == 401 and code in SESSION_ERRORS and not refreshed:
                    refreshed = True
                    self._authenticate(stale=token)
                    continue
                raise

    # -- reads ---------------------------------------------------------------------------
    def _read_changes(self, spec: Stream, state: dict[str, Any]) -> Iterator[Page]:
        checkpoint = TimestampCheckpoint.load(state)
        incremental = bool(state.get("deleted_since"))
        fields = self._select(spec.name)
        body = self._query(spec.name, fields, checkpoint.since)
        deleted = {  # a full read starts tombstones at the moment its query ran
            "deleted_since": state.get("deleted_since") or _iso(_floor_minute(self._now() - DELETE_MARGIN)),
            "deleted_seen": list(state.get("deleted_seen", ())),
        }
        while True:
            records = []
            for raw in body.get("records") or []:
                record = _record(raw)
                stamp = _iso(record.updated_at) if record.updated_at else None
                # SystemModstamp has whole seconds: keyed by content too, a record changed again
                # within the boundary second is read again (its digest is new)
                if stamp is None or checkpoint.admit(f"{record.id}@{_digest(record.data)}", stamp):
                    records.append(record)
            page_state = {**checkpoint.dump(), **deleted}
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                if incremental:
                    yield Page(records, {**page_state, "phase": "tombstones"})
                    yield from self._read_tombstones(spec, page_state)
                else:
                    yield Page(records, page_state)
                return
            yield Page(records, page_state)
            try:
                body = self._object(self._request("GET", next_url, stream=spec.name), spec.name)
            except VendorError as exc:
                if _error_code(exc.body) != "INVALID_QUERY_LOCATOR":
                    raise
                # The locator died (15 idle minutes): run the query again from the checkpoint.
                log.info("[%s/%s] query locator expired; querying again from %s", self.instance, spec.name,
                         checkpoint.since)
                body = self._query(spec.name, fields, checkpoint.since)

    def _query(self, stream: str, fields: list[str], since: str | None) -> dict[str, Any]:
        soql = f"SELECT {', '.join(fields)} FROM {stream}"
        moment = _parse_time(since)
        if moment is not None:
            # SOQL dateTime literals carry whole seconds; flooring keeps ">=" inclusive.
            soql += f" WHERE {CURSOR} >= {moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
        soql += f" ORDER BY {CURSOR} ASC, Id ASC"
        response = self._request(
            "GET", self._path("query"), params={"q": soql}, stream=stream,
            headers={"Sforce-Query-Options": f"batchSize={self.settings.query_batch_size}"},
        )
        return self._object(response, stream)

    def _read_tombstones(self, spec: Stream, state: dict[str, Any]) -> Iterator[Page]:
        base = {"since": state.get("since"), "seen": list(state.get("seen", ()))}
        start = _parse_time(state["deleted_since"]) or datetime.now(UTC)
        already = set(state.get("deleted_seen", ()))
        now = self._now()
        end = _floor_minute(now)
        oldest = _floor_minute(now - timedelta(days=self.settings.tombstone_window_days) + LOG_MARGIN)
        if start < oldest:
            log.warning(
                "[%s/%s] deletions between %s and %s may be missed: Salesforce's delete log reaches back "
                "%g days only. Reset this stream's state (full read) to reconcile.",
                self.instance, spec.name, _iso(start), _iso(oldest), self.settings.tombstone_window_days,
            )
            start = oldest
        if end <= start:  # getDeleted needs start before end, to the minute
            yield Page([], {**base, "deleted_since": _iso(start), "deleted_seen": sorted(already)})
            return
        body = self._deleted(spec.name, start, end)
        covered = max(start, _parse_time(body.get("latestDateCovered")) or end)
        earliest = _parse_time(body.get("earliestDateAvailable"))
        if earliest is not None and earliest > start:
            log.warning("[%s/%s] Salesforce purged its delete log up to %s: deletions before that may be missed",
                        self.instance, spec.name, _iso(earliest))
        records, recent = [], set()
        for item in body.get("deletedRecords") or []:
            record_id = str(item.get("id"))
            when = _parse_time(item.get("deletedDate"))
            if when is not None and when >= covered:
                recent.add(record_id)  # the next window starts at `covered`: do not send it twice
            if record_id in already:
                continue
            data = {"Id": record_id, "IsDeleted": True, "deletedDate": item.get("deletedDate")}
            records.append(Record(record_id, data, updated_at=when, deleted=True))
        yield Page(records, {**base, "deleted_since": _iso(covered), "deleted_seen": sorted(recent)})

    def _deleted(self, stream: str, start: datetime, end: datetime) -> dict[str, Any]:
        params = {"start": start.strftime("%Y-%m-%dT%H:%M:00+00:00"), "end": end.strftime("%Y-%m-%dT%H:%M:00+00:00")}
        try:
            return self._object(self._request("GET", self._path(f"sobjects/{stream}/deleted/"), params=params,
                                              stream=stream), stream)
        except VendorError as exc:
            middle = _floor_minute(start + (end - start) / 2)
            if _error_code(exc.body) != "EXCEEDED_ID_LIMIT" or not start < middle < end:
                raise
            # More than 600,000 deletions in the window: halve it.
            first = self._deleted(stream, start, middle)
            if (_parse_time(first.get("latestDateCovered")) or middle) < middle:
                return first
            second = self._deleted(stream, middle, end)
            return {**second, "deletedRecords": [*(first.get("deletedRecords") or []),
                                                 *(second.get("deletedRecords") or [])]}

    def _select(self, stream: str) -> list[str]:
        """The fields to read: FIELDS, extra_fields, bookkeeping; only those the org has."""
        known = {str(f["name"]) for f in self._describe(stream).get("fields", [])}
        wanted = ["Id", CURSOR, *FIELDS[stream], *self.settings.extra_fields.get(stream, ())]
        if self.stream(stream).can(UPSERT):
            wanted.append(self.settings.external_id_field)
        wanted = list(dict.fromkeys(wanted))
        self._warn_missing(stream, [f for f in wanted if f not in known])
        return [f for f in wanted if f in known]

    def _describe(self, stream: str) -> dict[str, Any]:
        if stream not in self._describes:
            response = self._request("GET", self._path(f"sobjects/{stream}/describe"), stream=stream)
            self._describes[stream] = self._object(response, stream)
        return self._describes[stream]

    def _warn_missing(self, stream: str, names: list[str]) -> None:
        new = [n for n in names if (stream, n) not in self._warned]
        if new:
            self._warned.update((stream, n) for n in new)
            log.warning(
                "[%s] Salesforce %s has no field %s in this org: not read or written (create it, or drop it "
                "from the mapping)", self.instance, stream, ", ".join(new),
            )

    # -- writes --------------------------------------------------------------------------
    def _wire(self, stream: str, fields: dict[str, Any]) -> dict[str, Any]:
        """``fields`` as Salesforce's deserializer takes them, by the types ``describe`` reports."""
        types = {str(f["name"]): str(f.get("type") or "string") for f in self._describe(stream).get("fields", [])}
        external = self.settings.external_id_field.lower()
        out: dict[str, Any] = {}
        missing = []
        for name, value in fields.items():
            if name in ("Id", "attributes") or name.lower() == external:
                continue  # ids are the connector's business
            if name not in types:
                missing.append(name)
                continue
            out[name] = _wire_value(name, types[name], value)
        self._warn_missing(stream, missing)
        return out

    def _require_external_id(self, stream: str) -> None:
        name = self.settings.external_id_field
        found = next((f for f in self._describe(stream).get("fields", []) if f.get("name") == name), None)
        if found is None or not (found.get("externalId") or found.get("idLookup")):
            problem = "has no field" if found is None else "has a field that is not an External ID:"
            raise ConfigError(
                f"Salesforce {stream} {problem} {name!r}. Create it in Setup > Object Manager > {stream} > "
                "Fields & Relationships (Text(255), 'Unique' and 'External ID' checked) on Lead, Contact, "
                "Account and Opportunity, or set connectors.<name>.settings.external_id_field to an existing "
                "External ID field.",
                key=f"connectors.{self.instance}.settings.external_id_field",
            )

    def _guarded(self, stream: str, send: _Send, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        """Send ``items``; when Salesforce refuses the whole request for a record's sake (an unknown
        field, a value its deserializer rejects), fail those records alone and send the rest."""
        if not items:
            return {}
        try:
            return send(stream, items)
        except VendorError as exc:
            code, message = _first_error(exc.body)
            if exc.status == 404 and "external ID field" in message:
                self._describes.pop(stream, None)
                self._require_external_id(stream)
                raise
            if exc.status != 400 or code == "EXCEEDED_ID_LIMIT":
                raise
            reason = f"{code}: {message}" if code else exc.reason
            column = _no_such_column(message)
            if column:
                self._describes.pop(stream, None)  # the org changed since describe
                bad = [(i, op) for i, op in items if column in op.fields]
                if bad:
                    out = {i: WriteResult(op.key, "failed", op.target_id, error=reason, field=column) for i, op in bad}
                    rest = [(i, op) for i, op in items if column not in op.fields]
                    return {**out, **self._guarded(stream, send, rest)}
            if len(items) == 1:
                index, op = items[0]
                return {index: WriteResult(op.key, "failed", op.target_id, error=reason)}
            middle = len(items) // 2
            return {**self._guarded(stream, send, items[:middle]), **self._guarded(stream, send, items[middle:])}

    def _upsert_chunk(self, stream: str, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        external = self.settings.external_id_field
        records = [{"attributes": {"type": stream}, **op.fields, external: op.key} for _, op in items]
        body = self._collection("PATCH", f"composite/sobjects/{stream}/{external}", stream, records)
        return self._results(items, body, lambda r: "created" if r.get("created") else "updated")

    def _update_chunk(self, stream: str, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        records = [{"attributes": {"type": stream}, "id": str(op.target_id), **op.fields} for _, op in items]
        body = self._collection("PATCH", "composite/sobjects", stream, records)
        return self._results(items, body, lambda r: "updated")

    def _delete_chunk(self, stream: str, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        if len(items) > MAX_COLLECTION:  # a programming error: chunking must prevent it
            raise ValueError(f"sObject Collections take at most {MAX_COLLECTION} ids, got {len(items)}")
        params = {"ids": ",".join(str(op.target_id) for _, op in items), "allOrNone": "false"}
        response = self._request("DELETE", self._path("composite/sobjects"), params=params, stream=stream)
        body = self.http.json(response, stream=stream)
        return self._results(items, body, lambda r: "deleted", already=frozenset({"ENTITY_IS_DELETED"}))

    def _collection(self, method: str, path: str, stream: str, records: list[dict[str, Any]]) -> Any:
        if len(records) > MAX_COLLECTION:  # a programming error: chunking must prevent it
            raise ValueError(f"sObject Collections take at most {MAX_COLLECTION} records, got {len(records)}")
        response = self._request(method, self._path(path), json={"allOrNone": False, "records": records}, stream=stream)
        return self.http.json(response, stream=stream)

    def _results(
        self,
        items: list[tuple[int, WriteOp]],
        body: Any,
        status: Callable[[dict[str, Any]], Any],
        *,
        already: frozenset[str] = frozenset(),
    ) -> dict[int, WriteResult]:
        """Per-record results, in request order, as WriteResults."""
        if not isinstance(body, list) or len(body) != len(items):
            got = len(body) if isinstance(body, list) else type(body).__name__
            raise VendorError(f"sObject Collections answered {got} results for {len(items)} records",
                              connector=self.instance)
        out: dict[int, WriteResult] = {}
        for (index, op), result in zip(items, body, strict=True):
            result = result if isinstance(result, dict) else {}
            errors = [e for e in result.get("errors") or [] if isinstance(e, dict)]
            if result.get("success") or (errors and all(e.get("statusCode") in already for e in errors)):
                out[index] = WriteResult(op.key, status(result), str(result.get("id") or op.target_id))
                continue
            message = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors) or "failed without errors"
            out[index] = WriteResult(op.key, "failed", op.target_id, error=self.http.redact(message),
                                     field=_field_of(errors))
        return out

    # -- helpers -------------------------------------------------------------------------
    def _now(self) -> datetime:
        """Salesforce's clock, as far as its last ``Date`` header tells."""
        return datetime.now(UTC) + self._skew

    def _path(self, rest: str) -> str:
        return f"/services/data/v{self.settings.api_version}/{rest}"

    def _json(self, response: httpx.Response, stream: str | None) -> Any:
        return self.http.json(response, stream=stream)

    def _object(self, response: httpx.Response, stream: str) -> dict[str, Any]:
        body = self.http.json(response, stream=stream)
        if not isinstance(body, dict):
            raise VendorError(
                f"{response.request.method} {response.request.url.path} answered a JSON "
                f"{type(body).__name__} where an object was expected",
                connector=self.instance, stream=stream, status=response.status_code,
            )
        return body


# -- helpers -----------------------------------------------------------------------------
def _digest(data: dict[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.blake2b(blob, digest_size=8).hexdigest()


def _iso(moment: datetime) -> str:
    """The one timestamp format of states and checkpoints: UTC, milliseconds, ``Z``.

    Fixed width, so string order is time order (TimestampCheckpoint compares strings).
    """
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_time(value: Any) -> datetime | None:
    """An aware datetime from Salesforce's ``2024-05-01T12:34:56.000+0000`` or any ISO form."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _record(raw: dict[str, Any]) -> Record:
    data = {k: v for k, v in raw.items() if k != "attributes"}
    return Record(id=str(data["Id"]), data=data, updated_at=_parse_time(data.get(CURSOR)))


def _errors(body: str | None) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(body or "")
    except ValueError:
        return []
    if isinstance(parsed, dict):
        parsed = [parsed]
    return [e for e in parsed if isinstance(e, dict)] if isinstance(parsed, list) else []


def _error_code(body: str | None) -> str | None:
    errors = _errors(body)
    return str(errors[0].get("errorCode")) if errors and errors[0].get("errorCode") else None


def _first_error(body: str | None) -> tuple[str, str]:
    errors = _errors(body)
    if not errors:
        return "", (body or "")[:300]
    return str(errors[0].get("errorCode") or ""), str(errors[0].get("message") or "")


def _no_such_column(message: str) -> str | None:
    match = re.search(r"No such column '(\w+)'", message)
    return match.group(1) if match else None


def _field_of(errors: list[dict[str, Any]]) -> str | None:
    """The field a per-record error names: its ``fields``, else the one a message names."""
    for error in errors:
        fields = error.get("fields") or []
        if fields:
            return str(fields[0])
    for error in errors:
        match = re.search(r"duplicate value found: (\w+) duplicates", str(error.get("message") or ""))
        if match:
            return match.group(1)
    return None


def _wire_value(name: str, kind: str, value: Any) -> Any:
    """One value as Salesforce's JSON deserializer takes it for a field of type ``kind``."""
    if value is None or (value == "" and kind not in ("string", "textarea")):
        return None  # null clears a field
    if kind == "boolean":
        try:
            return to_bool(value)
        except ValueError:
            raise _BadValue(name, f"{name}: {value!r} is not a boolean") from None
    if kind in _NUMBER_TYPES:
        try:
            number = Decimal(str(value).replace(",", "").strip())
        except InvalidOperation:
            raise _BadValue(name, f"{name}: {value!r} is not a number") from None
        if not number.is_finite():
            raise _BadValue(name, f"{name}: {value!r} is not a number")
        if number == number.to_integral_value():
            return int(number)
        if kind in ("int", "long"):
            raise _BadValue(name, f"{name}: {value!r} is not a whole number")
        return float(number)
    if kind == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value).strip()[:10]).isoformat()
        except ValueError:
            raise _BadValue(name, f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None
    if kind == "datetime":
        moment = value if isinstance(value, datetime) else _parse_time(value)
        if moment is None:
            raise _BadValue(name, f"{name}: {value!r} is not a date-time")
        return _iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set)):
        return ";".join(str(v) for v in value)  # multi-select picklists
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)

