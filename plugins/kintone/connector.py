"""The kintone connector: customer-master apps (people, companies, ...) through the kintone REST API.

kintone (cybozu) is a low-code platform: a "customer" is whatever app an admin built, with field
codes the admin chose. So each stream is one **app**, found by the id configured for it
(``settings.apps``), and every field code the hub uses is a setting or a mapping entry:

* the **upsert key** of each app (``update_key``, default ``seamless_hub_id``): a single-line
  text field with "prohibit duplicate values" (重複禁止) that holds the hub's key;
* the **update timestamp** (``updated_time_field``): the system field 更新日時 is called
  ``更新日時`` in apps created in Japanese and ``Updated_datetime`` in English ones.

The streams themselves are class attributes, like every connector's: ``customers`` (a person
app) and ``companies`` (an organisation app). An admin who syncs another app declares a stream for
it with :meth:`Kintone.extend` in a small plugin (see its docstring) and maps it in a mapping file.

Authentication: app API tokens in ``X-Cybozu-API-Token``; kintone tokens belong to one app each, so
``api_token`` takes several, comma-separated (kintone accepts up to nine in one request).

Reads never use ``offset`` (kintone refuses offsets above 10,000):

* **full read** (no state): ``$id > LAST order by $id asc limit 500`` (seek) or, with
  ``read_mode: cursor``, one cursor ordered by ``$id``. The final state starts the next incremental
  read a minute before the scan began, so changes made during the scan are read again, not lost.
* **incremental read** (state with ``since``): ``更新日時 >= "since" order by 更新日時 asc, $id asc``,
  continued within a read by keyset: ``(更新日時 = "T" and $id > N) or 更新日時 > "T"`` after the
  record (T, N) -- no offset, no page skipped when records change. kintone keeps record timestamps
  to the minute, so many records share one; a :class:`~hub.connector.TimestampCheckpoint` keyed by
  ``id@revision`` skips exactly what was emitted at the boundary minute, and still emits a record
  changed again within that same minute (its revision is new).
* cursors: created per read and released when done or abandoned; a cursor that expired (10 minutes
  unread, ``GAIA_RE03``) or whose read was retried (kintone may have advanced it for an answer that
  was lost) is recreated after the last record handed out; when the domain has no cursor left
  (ten per domain, 429 ``GAIA_TM12``) the read goes on by seek at once.

Writes, at most 100 records a call: records the hub has no kintone id for are upserted
(``PUT /k/v1/records.json`` with ``"upsert": true`` and ``updateKey`` = the hub's key), so a
retried batch creates no duplicate; records with a kintone id are updated by id; deletes use
``DELETE /k/v1/records.json?ids[i]=``. A ``$revision`` among the fields is sent as ``revision``
(optimistic concurrency: a conflict fails that record with ``GAIA_CO02``). kintone fails a whole
request for one bad record: a ``CB_VA01`` answer names the bad records (``records[i].<code>.value``),
which fail with kintone's message and field code while the rest are sent again; other refusals
(a missing record, a revision conflict) are bisected until the culprit stands alone.

Rate limits (cybozu.dev, "kintone REST API の制限値"): 100 concurrent requests per domain (429 beyond,
retried by the HTTP layer) and 10,000 requests per app per day on the standard course (100,000 on
the Wide course; exceeding it only sends the admin a warning mail).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from hub.connector import (
    DEFAULT_BUDGET,
    DELETE,
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
    RateLimit,
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
    RetriableError,
    VendorError,
)

if TYPE_CHECKING:
    import httpx

    from hub.http import RequestBudget

log = logging.getLogger(__name__)

CAPABILITIES = READ | INCREMENTAL | UPSERT | DELETE  # kintone keeps no tombstones of deleted records
MAX_WRITE = 100  # records per add / update / delete call
MAX_READ = 500  # records.json limit and cursor size
MAX_TOKENS = 9  # API tokens per request
MAX_CURSOR_RESTARTS = 5  # cursors recreated within one read before giving up
DEFAULT_UPDATE_KEY = "seamless_hub_id"
DEFAULT_UPDATED_TIME_FIELD = "更新日時"

# Field types kintone sets itself (not the app designer's fields) and types a record payload cannot set.
SYSTEM_TYPES = frozenset({
    "RECORD_NUMBER", "CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME", "STATUS", "STATUS_ASSIGNEE",
    "CATEGORY", "__ID__", "__REVISION__",
})
READ_ONLY_TYPES = SYSTEM_TYPES | {"CALC", "REFERENCE_TABLE", "GROUP", "LABEL", "SPACER", "HR"}
# Error codes that mean "these credentials cannot do this" (kintone answers some of them with 400).
AUTH_CODES = frozenset({"GAIA_IA02", "GAIA_NO01", "GAIA_DA03", "CB_WA01", "CB_AU01", "CB_NO02"})
# Database-lock errors: transient, whatever status they come with.
TRANSIENT_CODES = frozenset({"GAIA_RE18", "GAIA_DA02"})
INVALID_INPUT = "CB_VA01"
FIELD_NOT_FOUND = "GAIA_FC01"
QUERY_FIELD_NOT_FOUND = "GAIA_IQ11"
APP_NOT_FOUND = "GAIA_AP01"
RECORD_NOT_FOUND = "GAIA_RE01"
CURSOR_NOT_FOUND = "GAIA_RE03"
CURSOR_LIMIT = "GAIA_TM12"

_RECORD_ERROR = re.compile(r"^records\[(\d+)\](?:\.([^.\[\]]+)|\[([^\]]+)\])")
_FIELD_IN_MESSAGE = re.compile(r"(?:code|コード)\s*[:：]\s*([^)）]+)[)）]")


# -- settings ------------------------------------------------------------------------------------
class KintoneApp(BaseModel):
    """One stream's app.

    Attributes:
        id: the app id (the number in ``https://{subdomain}.cybozu.com/k/{id}/``).
        update_key: field code of the upsert key: a single-line text field with "prohibit
            duplicate values" (重複禁止) on, which holds the hub's key of each record.
        updated_time_field: field code of the app's 更新日時 system field, if it differs from
            ``KintoneSettings.updated_time_field``.
    """

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1)
    update_key: str = DEFAULT_UPDATE_KEY
    updated_time_field: str | None = None


class KintoneSettings(ConnectorSettings):
    """Settings of a kintone connector instance.

    Attributes:
        base_url: ``https://{subdomain}.cybozu.com`` (or ``.kintone.com``, ``.cybozu.cn``).
        api_token: the apps' API tokens, comma-separated (one per app; at most nine). Each needs
            レコード閲覧 / 追加 / 編集 / 削除 (view, add, edit, delete) for what the hub does.
        apps: stream name -> app id (``{"customers": 12}``) or app settings
            (``{"customers": {"id": 12, "update_key": "顧客コード"}}``).
        updated_time_field: field code of 更新日時 (``Updated_datetime`` in English environments).
        guest_space_id: the guest space holding the apps, if they live in one.
        read_mode: ``seek`` (records.json, ``$id`` / keyset pages) or ``cursor`` (the cursor API;
            uses one of the domain's ten cursors while a read runs).
        page_size: records per read request (kintone's maximum: 500).
        full_read_overlap_seconds: how far before a full scan's start the next incremental read
            begins (clock skew between the hub and kintone).
    """

    base_url: str
    api_token: SecretStr | None = None
    apps: dict[str, KintoneApp] = Field(default_factory=dict)
    updated_time_field: str = DEFAULT_UPDATED_TIME_FIELD
    guest_space_id: int | None = Field(None, ge=1)
    read_mode: Literal["seek", "cursor"] = "seek"
    page_size: int = Field(MAX_READ, ge=1, le=MAX_READ)
    full_read_overlap_seconds: float = Field(60.0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("apps", mode="before")
    @classmethod
    def _app_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"id": v} if isinstance(v, (int, str)) and not isinstance(v, bool) else v
                    for k, v in value.items()}
        return value

    @field_validator("api_token")
    @classmethod
    def _tokens(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        tokens = [t.strip() for t in value.get_secret_value().split(",") if t.strip()]
        if len(tokens) > MAX_TOKENS:
            raise ValueError(f"kintone accepts at most {MAX_TOKENS} API tokens in one request, got {len(tokens)}")
        return SecretStr(",".join(tokens))

    @model_validator(mode="after")
    def _no_duplicate_apps(self) -> KintoneSettings:
        seen: dict[int, str] = {}
        for stream, app in self.apps.items():
            if app.id in seen:
                raise ValueError(f"streams {seen[app.id]!r} and {stream!r} both name app {app.id}")
            seen[app.id] = stream
        return self

    @override
    def secret_values(self) -> list[str]:
        """The token string and each token alone: an error may echo any one of them."""
        if self.api_token is None:
            return []
        plain = self.api_token.get_secret_value()
        return [plain, *plain.split(",")] if plain else []

    def app_updated_field(self, app: KintoneApp) -> str:
        return app.updated_time_field or self.updated_time_field


def kintone_stream(name: str, *, cursor_field: str = DEFAULT_UPDATED_TIME_FIELD) -> Stream:
    """A stream of one kintone app: ``$id`` primary key, full and incremental reads, upserts, deletes.

    ``cursor_field`` is descriptive: reads use the field code the settings name for the app.
    """
    return Stream(name, "$id", cursor_field, CAPABILITIES, MAX_WRITE)


@dataclass
class _Scan:
    """An ordered read: ``where(position)`` continues after ``position``, ``key(record)`` is a
    record's position, ``order`` the ``order by`` clause."""

    where: Callable[[Any], str]
    order: str
    key: Callable[[dict[str, Any]], Any]
    position: Any = None


_Send = Callable[[str, KintoneApp, list[tuple[int, WriteOp]]], dict[int, WriteResult]]


class Kintone(Connector):
    """kintone: one stream per app; ``customers`` (people) and ``companies`` out of the box.

    ``kind`` is SFA: in Japan kintone is mostly deployed as a sales tool (cybozu's own 営業支援パック
    is 顧客管理 / 案件管理 / 活動履歴), and deals and activities apps are the typical extra streams.
    """

    name: ClassVar[str] = "kintone"
    kind: ClassVar[Kind] = Kind.SFA
    Settings: ClassVar[type[ConnectorSettings]] = KintoneSettings
    streams: ClassVar[tuple[Stream, ...]] = (kintone_stream("customers"), kintone_stream("companies"))
    # The standard course's 10,000 requests per app per day, as one bucket for the whole instance:
    # conservative when several apps are synced (each may use 10,000). The hard limit is 100
    # concurrent requests per domain, which a sequential client never reaches on its own; a 429
    # from other clients' load is retried by the HTTP layer.
    rate_limit: ClassVar[RateLimit | None] = RateLimit(10_000, 86_400.0)

    settings: KintoneSettings

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        instance: str | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: RequestBudget | DefaultBudget | None = DEFAULT_BUDGET,
    ) -> None:
        settings_class = type(self).Settings
        if not isinstance(settings, settings_class):  # e.g. built as the base class by a caller
            settings = settings_class.model_validate(dict(settings))
        self._check_streams(settings, instance or self.name)  # type: ignore[arg-type]
        super().__init__(settings, instance=instance, transport=transport, budget=budget)
        self.http.client.event_hooks["response"].append(self._screen)

    @classmethod
    def extend(cls, name: str, *streams: str | Stream) -> type[Kintone]:
        """A connector class like this one, registered as ``name``, with more streams.

        kintone apps are user-defined, so the streams beyond ``customers`` and ``companies`` are
        declared by the admin in a small plugin, e.g. ``acme_kintone.py``::

            from hub.plugins import hookimpl
            from plugins.kintone import Kintone

            KintoneSales = Kintone.extend("kintone_sales", "deals", "activities")

            @hookimpl
            def hub_register_connectors(register):
                register(KintoneSales)

        then configured (``type: kintone_sales``, ``apps: {deals: 21, activities: 22}``) and mapped
        in ``mappings/kintone_sales.yaml``. Pass a :class:`~hub.connector.Stream` (see
        :func:`kintone_stream`) instead of a name for other capabilities.
        """
        added = tuple(s if isinstance(s, Stream) else kintone_stream(s) for s in streams)
        clash = sorted({s.name for s in added} & {s.name for s in cls.streams})
        if clash:
            raise ValueError(f"{cls.__name__} already has stream(s) {', '.join(clash)}")
        class_name = "Kintone_" + re.sub(r"\W", "_", name)
        return type(class_name, (cls,), {
            "name": name,
            "streams": cls.streams + added,
            "__module__": cls.__module__,
            "__doc__": f"kintone ({name}): streams {', '.join(s.name for s in cls.streams + added)}.",
        })

    # -- Connector API -------------------------------------------------------------------
    @override
    def auth_headers(self) -> dict[str, str]:
        token = self.settings.require("api_token", connector=self.instance)
        return {"X-Cybozu-API-Token": token, "Accept": "application/json"}

    @override
    def check(self) -> CheckResult:
        if not self.settings.apps:
            return CheckResult(False, f"no kintone app is configured: set connectors.{self.instance}.settings.apps "
                                      "to {stream: app id}, e.g. {customers: 12, companies: 13}")
        found = []
        for stream, app in self.settings.apps.items():
            try:
                body = self._call("GET", "app.json", stream=stream, params={"id": app.id})
            except AuthError as exc:
                return CheckResult(False, f"kintone refused the API token(s) for app {app.id} ({stream}): {exc}. "
                                          "Generate a token in the app's settings (APIトークン) and add it to "
                                          "api_token, comma-separated, one per app.")
            except (ConfigError, ConnectorError) as exc:
                return CheckResult(False, str(exc))
            found.append(f"{stream} = app {app.id} ({body.get('name') or '?'})")
        return CheckResult(True, "kintone accepted the API token(s): " + ", ".join(found))

    @override
    def discover(self) -> dict[str, list[FieldInfo]]:
        out: dict[str, list[FieldInfo]] = {}
        for spec in self.streams:
            app = self.settings.apps.get(spec.name)
            if app is None:
                continue
            body = self._call("GET", "app/form/fields.json", stream=spec.name, params={"app": app.id})
            fields = [
                FieldInfo("$id", "__ID__", "レコードID", custom=False, writable=False),
                FieldInfo("$revision", "__REVISION__", "リビジョン", custom=False, writable=False),
            ]
            for code, prop in (body.get("properties") or {}).items():
                kind = str(prop.get("type") or "UNKNOWN")
                fields.append(FieldInfo(code, kind, prop.get("label"), custom=kind not in SYSTEM_TYPES,
                                        writable=kind not in READ_ONLY_TYPES))
            out[spec.name] = fields
        return out

    @override
    def read(self, stream: str, state: dict[str, Any] | None) -> Iterator[Page]:
        spec = self.stream(stream)
        app = self._app(stream)
        state = dict(state or {})
        if state.get("phase") == "full" or not state.get("since"):
            yield from self._read_full(spec, app, state)
        else:
            yield from self._read_changes(spec, app, state)

    @override
    def write(self, stream: str, batch: Sequence[WriteOp]) -> list[WriteResult]:
        self.stream(stream)
        app = self._app(stream)
        results: list[WriteResult | None] = [None] * len(batch)
        upserts: list[tuple[int, WriteOp]] = []
        updates: list[tuple[int, WriteOp]] = []
        deletes: list[tuple[int, WriteOp]] = []
        for index, op in enumerate(batch):
            if op.action in ("delete", "archive"):
                if op.target_id:
                    deletes.append((index, op))
                else:
                    results[index] = WriteResult(op.key, "failed", None, error="no kintone record id to delete")
            elif op.target_id:
                updates.append((index, op))
            else:
                upserts.append((index, op))
        plan: list[tuple[_Send, list[tuple[int, WriteOp]], Callable[[WriteOp], str]]] = [
            (self._upsert_chunk, upserts, lambda op: op.key),
            (self._update_chunk, updates, lambda op: str(op.target_id)),
            (self._delete_chunk, deletes, lambda op: str(op.target_id)),
        ]
        for send, items, key in plan:
            for chunk in distinct_batches(items, MAX_WRITE, key):
                for index, result in self._send(stream, app, send, chunk).items():
                    results[index] = result
        return [
            r if r is not None else WriteResult(batch[i].key, "failed", error="not written")
            for i, r in enumerate(results)
        ]

    # -- reads ---------------------------------------------------------------------------
    def _read_full(self, spec: Stream, app: KintoneApp, state: dict[str, Any]) -> Iterator[Page]:
        started = state.get("started") or _minute(
            datetime.now(UTC) - timedelta(seconds=self.settings.full_read_overlap_seconds)
        )
        updated = self.settings.app_updated_field(app)
        scan = _Scan(
            where=lambda after: f"$id > {after}" if after is not None else "",
            order="$id asc",
            key=lambda raw: int(_value(raw, "$id")),
            position=_int(state.get("after_id")),
        )
        for raw, last in self._pages(spec.name, app, scan):
            records = [self._record(r, updated) for r in raw]
            if last:
                yield Page(records, {"since": started, "seen": []})
                return
            yield Page(records, {"phase": "full", "after_id": scan.position, "started": started})

    def _read_changes(self, spec: Stream, app: KintoneApp, state: dict[str, Any]) -> Iterator[Page]:
        checkpoint = TimestampCheckpoint.load(state)
        updated = self.settings.app_updated_field(app)
        since = checkpoint.since

        def where(position: tuple[str, int] | None) -> str:
            if position is None:
                return f'{updated} >= "{since}"'
            stamp, record_id = position
            return f'({updated} = "{stamp}" and $id > {record_id}) or {updated} > "{stamp}"'

        scan = _Scan(
            where=where,
            order=f"{updated} asc, $id asc",
            key=lambda raw: (_timestamp(_value(raw, updated)) or "", int(_value(raw, "$id"))),
        )
        try:
            for raw, _last in self._pages(spec.name, app, scan):
                records = []
                for item in raw:
                    record = self._record(item, updated)
                    stamp = _timestamp(record.data.get(updated))
                    # Keyed by revision too: a record changed again within the boundary minute
                    # keeps its timestamp but is news.
                    if stamp is None or checkpoint.admit(f"{record.id}@{record.data.get('$revision')}", stamp):
                        records.append(record)
                yield Page(records, checkpoint.dump())
        except VendorError as exc:
            if _kintone_code(exc) == QUERY_FIELD_NOT_FOUND:
                raise ConfigError(
                    f"kintone app {app.id} ({spec.name}) answered {exc.reason} -- the incremental read sorts on "
                    f"{updated!r}. Set connectors.{self.instance}.settings.updated_time_field (or "
                    f"apps.{spec.name}.updated_time_field) to the field code of the app's 更新日時 field "
                    "(Updated_datetime in apps created in English).",
                    key=f"connectors.{self.instance}.settings.updated_time_field",
                ) from None
            raise

    def _pages(self, stream: str, app: KintoneApp, scan: _Scan) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """Raw record pages of ``scan`` and whether each is the last; ``scan.position`` follows."""
        if self.settings.read_mode == "cursor":
            yield from self._cursor_pages(stream, app, scan)
        else:
            yield from self._seek_pages(stream, app, scan)

    def _seek_pages(self, stream: str, app: KintoneApp, scan: _Scan) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        size = self.settings.page_size
        while True:
            query = _query(scan.where(scan.position), scan.order, size)
            body = self._call("GET", "records.json", stream=stream, params={"app": app.id, "query": query})
            records = list(body.get("records") or [])
            if records:
                scan.position = scan.key(records[-1])
            last = len(records) < size
            yield records, last
            if last:
                return

    def _cursor_pages(self, stream: str, app: KintoneApp, scan: _Scan) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        cursor_id: str | None = None
        restarts = 0
        try:
            while True:
                if cursor_id is None:
                    try:
                        cursor_id = self._open_cursor(stream, app, scan)
                    except VendorError as exc:
                        if _kintone_code(exc) != CURSOR_LIMIT:
                            raise
                        log.warning("[%s/%s] no kintone cursor left on the domain (GAIA_TM12): reading by seek",
                                    self.instance, stream)
                        yield from self._seek_pages(stream, app, scan)
                        return
                sent = self.http.requests_sent
                try:
                    body = self._call("GET", "records/cursor.json", stream=stream, params={"id": cursor_id})
                except VendorError as exc:
                    if _kintone_code(exc) != CURSOR_NOT_FOUND:
                        raise
                    cursor_id = None  # expired: recreate after the last record handed out
                    restarts = self._restart(stream, restarts, exc.reason)
                    continue
                if self.http.requests_sent - sent > 1:
                    # The read was retried: kintone may have advanced the cursor for an answer that
                    # never arrived, so this page may not follow the last one. Start again from there.
                    self._release(stream, cursor_id)
                    cursor_id = None
                    restarts = self._restart(stream, restarts, "a cursor read was retried")
                    continue
                records = list(body.get("records") or [])
                more = bool(body.get("next"))
                if records:
                    scan.position = scan.key(records[-1])
                if not more:
                    cursor_id = None  # read to the end: kintone has released it
                yield records, not more
                if not more:
                    return
        finally:
            if cursor_id is not None:
                self._release(stream, cursor_id)

    def _open_cursor(self, stream: str, app: KintoneApp, scan: _Scan) -> str:
        query = _query(scan.where(scan.position), scan.order, None)
        body = self._call("POST", "records/cursor.json", stream=stream,
                          json={"app": app.id, "query": query, "size": self.settings.page_size})
        cursor_id = body.get("id")
        if not cursor_id:
            raise VendorError("POST records/cursor.json answered no cursor id", connector=self.instance, stream=stream)
        return str(cursor_id)

    def _restart(self, stream: str, restarts: int, why: str) -> int:
        if restarts >= MAX_CURSOR_RESTARTS:
            raise VendorError(f"gave up after recreating the kintone cursor {restarts} times ({why})",
                              connector=self.instance, stream=stream)
        log.info("[%s/%s] recreating the kintone cursor: %s", self.instance, stream, why)
        return restarts + 1

    def _release(self, stream: str, cursor_id: str) -> None:
        try:
            self._call("DELETE", "records/cursor.json", stream=stream, params={"id": cursor_id})
        except ConnectorError as exc:  # gone already, or kintone unreachable: it expires on its own
            log.debug("[%s/%s] cursor not released: %s", self.instance, stream, exc)

    def _record(self, raw: dict[str, Any], updated: str) -> Record:
        data = {code: (f.get("value") if isinstance(f, dict) else f) for code, f in raw.items()}
        return Record(id=str(data.get("$id")), data=data, updated_at=_parse_time(data.get(updated)))

    # -- writes --------------------------------------------------------------------------
    def _send(self, stream: str, app: KintoneApp, send: _Send, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        """Send ``items``; when kintone refuses the request for some records' sake, fail exactly
        those and send the rest again."""
        out: dict[int, WriteResult] = {}
        pending = list(items)
        while pending:
            try:
                out.update(send(stream, app, pending))
                return out
            except VendorError as exc:
                code, body = _kintone_error(exc)
                message = self.http.redact(str(body.get("message") or exc.reason))
                if code == INVALID_INPUT:
                    named = _record_errors(body, len(pending))
                    if named is None:
                        raise
                    self._raise_if_bad_key(stream, app, named)
                    for position, problems in named.items():
                        index, op = pending[position]
                        text = " / ".join(f"{field}: {self.http.redact(msg)}" for field, msg in problems)
                        out[index] = WriteResult(op.key, "failed", op.target_id, error=f"{code} {text}",
                                                 field=problems[0][0])
                    pending = [p for position, p in enumerate(pending) if position not in named]
                    continue
                if code == FIELD_NOT_FOUND:
                    missing = _field_in(message)
                    if missing is not None and missing == app.update_key:
                        raise self._key_error(stream, app, message) from None
                    victims = [p for p in pending if missing is not None and missing in p[1].fields]
                    if victims:
                        for index, op in victims:
                            out[index] = WriteResult(op.key, "failed", op.target_id, error=f"{code}: {message}",
                                                     field=missing)
                        pending = [p for p in pending if p not in victims]
                        continue
                if exc.status not in (400, 404, 409):
                    raise
                if len(pending) > 1:
                    middle = len(pending) // 2
                    out.update(self._send(stream, app, send, pending[:middle]))
                    out.update(self._send(stream, app, send, pending[middle:]))
                    return out
                index, op = pending[0]
                if send == self._delete_chunk and code == RECORD_NOT_FOUND:
                    out[index] = WriteResult(op.key, "deleted", op.target_id)  # gone already
                else:
                    out[index] = WriteResult(op.key, "failed", op.target_id, error=f"{code or exc.status}: {message}")
                return out
        return out

    def _upsert_chunk(self, stream: str, app: KintoneApp, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        records = []
        for _, op in items:
            fields, revision = _split_revision(op.fields)
            fields.pop(app.update_key, None)  # the key is the updateKey, never a value to set
            item: dict[str, Any] = {"updateKey": {"field": app.update_key, "value": op.key}, "record": _wire_record(fields)}
            if revision is not None:
                item["revision"] = revision
            records.append(item)
        body = self._put(stream, {"app": app.id, "upsert": True, "records": records}, len(items))
        out: dict[int, WriteResult] = {}
        for (index, op), result in zip(items, body, strict=True):
            status = "created" if result.get("operation") == "INSERT" else "updated"
            out[index] = WriteResult(op.key, status, str(result.get("id")))
        return out

    def _update_chunk(self, stream: str, app: KintoneApp, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        records = []
        for _, op in items:
            fields, revision = _split_revision(op.fields)
            item: dict[str, Any] = {"id": str(op.target_id), "record": _wire_record(fields)}
            if revision is not None:
                item["revision"] = revision
            records.append(item)
        body = self._put(stream, {"app": app.id, "records": records}, len(items))
        return {index: WriteResult(op.key, "updated", str(result.get("id") or op.target_id))
                for (index, op), result in zip(items, body, strict=True)}

    def _delete_chunk(self, stream: str, app: KintoneApp, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        params: dict[str, Any] = {"app": app.id}
        params.update({f"ids[{i}]": str(op.target_id) for i, (_, op) in enumerate(items)})
        self._call("DELETE", "records.json", stream=stream, params=params)
        return {index: WriteResult(op.key, "deleted", str(op.target_id)) for index, op in items}

    def _put(self, stream: str, payload: dict[str, Any], expected: int) -> list[dict[str, Any]]:
        if len(payload["records"]) > MAX_WRITE:  # a programming error: chunking must prevent it
            raise ValueError(f"kintone takes at most {MAX_WRITE} records a call, got {len(payload['records'])}")
        body = self._call("PUT", "records.json", stream=stream, json=payload)
        results = body.get("records")
        if not isinstance(results, list) or len(results) != expected:
            raise VendorError(f"PUT records.json answered {len(results) if isinstance(results, list) else 'no'} "
                              f"results for {expected} records", connector=self.instance, stream=stream)
        return results

    def _raise_if_bad_key(self, stream: str, app: KintoneApp, named: dict[int, list[tuple[str, str]]]) -> None:
        """An unusable updateKey field fails every record alike: say how to fix it, once."""
        for problems in named.values():
            for field, message in problems:
                if field == "updateKey":
                    raise self._key_error(stream, app, message)

    def _key_error(self, stream: str, app: KintoneApp, message: str) -> ConfigError:
        return ConfigError(
            f"kintone app {app.id} ({stream}) cannot take {app.update_key!r} as the upsert key ({message}). Add a "
            f"single-line text field with field code {app.update_key!r} and 'prohibit duplicate values' (重複禁止) "
            f"on, or set connectors.{self.instance}.settings.apps.{stream}.update_key to such a field.",
            key=f"connectors.{self.instance}.settings.apps.{stream}.update_key",
        )

    # -- HTTP ----------------------------------------------------------------------------
    def _path(self, resource: str) -> str:
        if self.settings.guest_space_id is not None:
            return f"/k/guest/{self.settings.guest_space_id}/v1/{resource}"
        return f"/k/v1/{resource}"

    def _call(self, method: str, resource: str, *, stream: str | None, **kw: Any) -> dict[str, Any]:
        """One kintone request: the JSON object it answers; kintone's auth codes -> AuthError."""
        try:
            response = self.http.request(method, self._path(resource), stream=stream, **kw)
        except VendorError as exc:
            code = _kintone_code(exc)
            where = {"connector": self.instance, "stream": stream, "status": exc.status, "body": exc.body}
            if code in AUTH_CODES:
                raise AuthError(exc.reason, **where) from None  # type: ignore[arg-type]
            if code == APP_NOT_FOUND and stream is not None:
                app = self.settings.apps.get(stream)
                raise ConfigError(
                    f"kintone has no app {app.id if app else '?'} for stream {stream!r} ({exc.reason}); check the "
                    "app id, and guest_space_id if the app is in a guest space",
                    key=f"connectors.{self.instance}.settings.apps.{stream}",
                ) from None
            raise
        body = self.http.json(response, stream=stream)
        if not isinstance(body, dict):
            raise VendorError(f"{method} {resource} answered a JSON {type(body).__name__} where an object was expected",
                              connector=self.instance, stream=stream, status=response.status_code)
        return body

    def _screen(self, response: httpx.Response) -> None:
        """Response hook: kintone answers database-lock errors (retriable) and some plain refusals
        with statuses the HTTP layer reads otherwise (HTTP 520 for GAIA_IL23, older GAIA_IA02), and
        "no cursor left on the domain" with a 429 that waiting rarely cures (other integrations hold
        the cursors for up to ten minutes): that one is not retried, the read goes on by seek."""
        status = response.status_code
        if status < 400:
            return
        response.read()
        code = _code_of(response.content)
        if code is None or (code not in TRANSIENT_CODES and code != CURSOR_LIMIT and status != 520):
            return
        body = self.http.redact(response.text)
        message = f"{response.request.method} {self.http.redact(response.request.url.path)} -> HTTP {status}: {body[:300]}"
        where = {"connector": self.instance, "status": status, "body": body}
        if code in TRANSIENT_CODES:
            raise RetriableError(message, **where)  # type: ignore[arg-type]
        if code in AUTH_CODES:
            raise AuthError(message, **where)  # type: ignore[arg-type]
        raise VendorError(message, **where)  # type: ignore[arg-type]

    # -- settings ------------------------------------------------------------------------
    def _app(self, stream: str) -> KintoneApp:
        app = self.settings.apps.get(stream)
        if app is None:
            raise ConfigError(
                f"no kintone app is configured for stream {stream!r}: set "
                f"connectors.{self.instance}.settings.apps.{stream} to the app id",
                key=f"connectors.{self.instance}.settings.apps.{stream}",
            )
        return app

    @classmethod
    def _check_streams(cls, settings: KintoneSettings, instance: str) -> None:
        declared = [s.name for s in cls.streams]
        unknown = sorted(set(settings.apps) - set(declared))
        if unknown:
            raise ConfigError(
                f"connector {cls.name!r} has no stream {', '.join(map(repr, unknown))} (it has: {', '.join(declared)}). "
                "kintone apps are user-defined: declare a stream for another app with Kintone.extend() in a small "
                "plugin (see plugins/kintone/connector.py) and configure that connector type instead.",
                key=f"connectors.{instance}.settings.apps",
            )


# -- helpers -------------------------------------------------------------------------------------
def _query(where: str, order: str, limit: int | None) -> str:
    parts = [where] if where else []
    parts.append(f"order by {order}")
    if limit is not None:
        parts.append(f"limit {limit}")
    return " ".join(parts)


def _value(raw: dict[str, Any], code: str) -> Any:
    field = raw.get(code)
    return field.get("value") if isinstance(field, dict) else field


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _timestamp(value: Any) -> str | None:
    """A kintone date-time in the one fixed-width form states compare: ``2024-05-01T12:34:00Z``."""
    moment = _parse_time(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _minute(moment: datetime) -> str:
    """``moment`` floored to the minute, kintone's precision for record timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def _code_of(content: bytes | str | None) -> str | None:
    try:
        body = json.loads(content) if content else None
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return str(code) if code else None


def _kintone_error(exc: ConnectorError) -> tuple[str | None, dict[str, Any]]:
    """kintone's error code and whole error body (``{"code", "id", "message", "errors"}``)."""
    try:
        body = json.loads(exc.body) if exc.body else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = body.get("code")
    return (str(code) if code else None), body


def _kintone_code(exc: ConnectorError) -> str | None:
    return _kintone_error(exc)[0]


def _record_errors(body: dict[str, Any], count: int) -> dict[int, list[tuple[str, str]]] | None:
    """``CB_VA01`` errors by record position: ``{3: [("email", "message")]}``; None when an error
    is about the request as a whole (no record named, or a position outside the batch)."""
    errors = body.get("errors")
    if not isinstance(errors, dict) or not errors:
        return None
    named: dict[int, list[tuple[str, str]]] = {}
    for key, detail in errors.items():
        match = _RECORD_ERROR.match(str(key))
        if not match or int(match.group(1)) >= count:
            return None
        messages = detail.get("messages") if isinstance(detail, dict) else None
        text = " ".join(str(m) for m in messages) if isinstance(messages, list) and messages else str(detail)
        named.setdefault(int(match.group(1)), []).append((match.group(2) or match.group(3), text))
    return named


def _field_in(message: str) -> str | None:
    """The field code in ``指定されたフィールド（code: 顧客名）が見つかりません。`` and the like."""
    match = _FIELD_IN_MESSAGE.search(message)
    return match.group(1).strip() if match else None


def _split_revision(fields: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The fields to write, without ``$id``, and the ``$revision`` the hub expects, if it knows it."""
    out = dict(fields)
    out.pop("$id", None)
    revision = out.pop("$revision", None)
    return out, (str(revision) if revision not in (None, "") else None)


def _wire(value: Any) -> Any:
    """A value as kintone takes it: text for scalars ("" clears), lists for multi-value fields."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return [v if isinstance(v, dict) else _wire(v) for v in value]  # check boxes, user selections
    return value if isinstance(value, dict) else str(value)


def _wire_record(fields: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {code: {"value": _wire(value)} for code, value in fields.items()}

