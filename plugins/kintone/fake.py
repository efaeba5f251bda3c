"""A stateful sandbox fake of the kintone REST API: two customer-master apps and their records.

It answers the endpoints the kintone connector uses, in the shapes cybozu documents
(cybozu.dev "kintone REST API"), and keeps the rules that catch integration bugs:

* **records** (``/k/v1/records.json``): ``GET`` with a query (``limit`` at most 500, else
  ``GAIA_QU01``; ``offset`` at most 10,000, else ``GAIA_QU02``; an unknown field code is
  ``GAIA_IQ11``; bad syntax is ``CB_VA01``), ``POST`` (add), ``PUT`` (update by ``id`` or
  ``updateKey``; with ``"upsert": true`` a missing record is inserted and each result says
  ``"operation": "INSERT" | "UPDATE"``) and ``DELETE`` (``ids[i]``). Writes take at most 100
  records and are all or nothing: one invalid value fails the whole request with 400
  ``CB_VA01`` whose ``errors`` are keyed ``records[i].<field code>.value``; a stale ``revision``
  is 409 ``GAIA_CO02``; a missing record is 404 ``GAIA_RE01``; an unknown field code is
  ``GAIA_FC01``.
* **cursors** (``/k/v1/records/cursor.json``): ``POST`` (``size`` 1-500, no ``limit``/``offset``
  in the query), ``GET`` until ``"next": false`` (the cursor is then released), ``DELETE``. At
  most :attr:`FakeKintone.cursor_limit` cursors per domain (10 in kintone; the 11th is 429
  ``GAIA_TM12``); a cursor expires :attr:`FakeKintone.cursor_ttl` seconds (10 minutes) after it
  was created or last read, and is then ``GAIA_RE03``.
* **apps**: ``GET /k/v1/app.json`` and ``GET /k/v1/app/form/fields.json``.
* **API token auth** (``X-Cybozu-API-Token``, several tokens comma-separated): a token kintone
  does not know is 400 ``GAIA_IA02`` (as cli-kintone's end-to-end tests record it), a token without
  the app or the permission is 403 ``GAIA_NO01``, no credentials at all is 401 ``CB_AU01``.
* apps in a guest space answer only under ``/k/guest/{space}/v1/``, else 520 ``GAIA_IL23``.

kintone keeps record timestamps (``作成日時``, ``更新日時``) to the minute: the fake stores them
as ``YYYY-MM-DDTHH:MM:00Z`` so many records share one timestamp, as in kintone.

Not verified against kintone (wording or status chosen, documented here so nobody relies on
them): the 404 status of ``GAIA_RE03``, the messages of a non-unique ``updateKey`` field and of
``limit``/``offset`` in a cursor query, and whether kintone ignores or refuses an unknown field
code in a record payload (the fake refuses it with ``GAIA_FC01``: stricter catches more bugs).

Records are stored as kintone returns them: ``{field code: {"type": ..., "value": ...}}`` with
``$id`` and ``$revision``. Public data API (seeding, ``hub sandbox edit``, tests):
:meth:`FakeKintone.insert`, :meth:`~FakeKintone.update`, :meth:`~FakeKintone.delete`,
:meth:`~FakeKintone.record`, :meth:`~FakeKintone.values`, :meth:`~FakeKintone.find`,
:meth:`~FakeKintone.app_id`, :meth:`~FakeKintone.add_field`, :meth:`~FakeKintone.remove_field`,
:meth:`~FakeKintone.grant`, :meth:`~FakeKintone.open_cursors`. It stores what it is given
(messy data is the point of a sandbox); only the HTTP API validates.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx

from hub.sandbox.fake import FakeVendor, route

from hub.connector import override

PREFIX = r"/k(?:/guest/(?P<space>\d+))?/v1"
APP_IDS = {"customers": 12, "companies": 13}
APP_NAMES = {"customers": "顧客管理", "companies": "会社マスタ"}
UPDATE_KEY = "seamless_hub_id"
MAX_WRITE = 100
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
MAX_OFFSET = 10_000
MAX_CURSOR_SIZE = 500
DEFAULT_CURSOR_SIZE = 100
MAX_CURSORS = 10  # per domain
CURSOR_TTL_SECONDS = 600.0  # since the cursor was created or last read
PERMISSIONS = frozenset({"view", "add", "edit", "delete"})
OPERATOR = {"code": "sandbox", "name": "Sandbox"}

# System field codes: kintone names them in the language of the environment that created the app.
SYSTEM_CODES = {
    "ja": {"RECORD_NUMBER": "レコード番号", "CREATOR": "作成者", "CREATED_TIME": "作成日時",
           "MODIFIER": "更新者", "UPDATED_TIME": "更新日時"},
    "en": {"RECORD_NUMBER": "Record_number", "CREATOR": "Created_by", "CREATED_TIME": "Created_datetime",
           "MODIFIER": "Updated_by", "UPDATED_TIME": "Updated_datetime"},
}
NUMERIC_TYPES = frozenset({"__ID__", "__REVISION__", "RECORD_NUMBER", "NUMBER", "CALC"})
TIME_TYPES = frozenset({"CREATED_TIME", "UPDATED_TIME", "DATETIME"})
TEXT_TYPES = frozenset({"SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "RICH_TEXT", "LINK", "DROP_DOWN", "RADIO_BUTTON",
                        "DATE", "TIME", "DATETIME", "NUMBER"})
LIST_TYPES = frozenset({"CHECK_BOX", "MULTI_SELECT"})
# Set by kintone, never by a payload (their values in a payload are ignored) ...
COMPUTED_TYPES = frozenset({"__ID__", "__REVISION__", "RECORD_NUMBER", "CALC", "STATUS", "STATUS_ASSIGNEE",
                            "CATEGORY", "REFERENCE_TABLE", "GROUP"})
# ... except these four, which kintone lets a record migration set when adding records.
MIGRATION_TYPES = frozenset({"CREATOR", "CREATED_TIME", "MODIFIER", "UPDATED_TIME"})
CUSTOMER_RANKS = ("見込み", "商談中", "既存顧客", "その他")

MESSAGES = {
    "invalid": "入力内容が正しくありません。",
    "required": "必須です。",
    "unique": "値がほかのレコードと重複しています。",
    "option": '"{}"は選択肢にありません。',
    "max_length": "{}文字より短くなければなりません。",
    "number": "数字でなければなりません。",
    "scalar": "文字列を指定してください。",
    "list": "配列を指定してください。",
    "query": "クエリ記法が間違っています。",
    "limit": "limit には 500 以下の値を指定してください。",
    "offset": "offset には 10,000 以下の値を指定してください。",
    "no_field": "指定されたフィールド（{}）が見つかりません。",
    "no_field_code": "指定されたフィールド（code: {}）が見つかりません。",
    "no_record": "指定したレコード（id: {}）が見つかりません。",
    "no_app": "指定したアプリ（id: {}）が見つかりません。削除されている可能性があります。",
    "revision": "指定したrevisionは最新ではありません。ほかのユーザーがレコードを更新した可能性があります。",
    "token": "指定したAPIトークンは、アプリで生成されたトークンと異なります。",
    "no_permission": "このAPIトークンでは、指定したAPIを実行できません。",
    "login": "ログインしてください。",
    "cursor_limit": "作成できるカーソルの上限に達しているため、カーソルを作成できません。"
                    "不要なカーソルを削除するか、しばらく経ってから再実行してください。",
    "no_cursor": "指定したカーソルが見つかりません。",
    "cursor_query": "カーソルの作成では、クエリにlimitとoffsetを指定できません。",
    "guest": "ゲストスペース内のアプリを操作する場合は、リクエストの送信先を「/k/guest/（ゲストスペースのID）/v1/...」にします。",
    "bulk_add": "一度に100件までのレコードを追加できます。",
    "bulk_update": "一度に100件までのレコードを更新できます。",
    "bulk_delete": "一度に100件までのレコードを削除できます。",
    "id_or_key": "idとupdateKeyのどちらか一方を指定してください。",
    "update_key": "重複禁止が設定された文字列（1行）または数値フィールドを指定してください。",
    "size": "1から500までの値を指定してください。",
}


def stamp(moment: datetime) -> str:
    """A record timestamp as kintone keeps it: UTC, to the minute (``2024-05-01T12:34:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def instant(value: Any) -> float | None:
    """Seconds since the epoch of a kintone date-time (``Z``, ``+09:00`` and ``+0900`` offsets)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# -- form field definitions (the shapes of GET /k/v1/app/form/fields.json) -------------------------
def text(code: str, *, required: bool = False, unique: bool = False, max_length: int | None = None) -> dict[str, Any]:
    """A single-line text field (``unique``: "prohibit duplicate values", usable as updateKey)."""
    return {"type": "SINGLE_LINE_TEXT", "code": code, "label": code, "noLabel": False, "required": required,
            "unique": unique, "minLength": "", "maxLength": str(max_length or ""), "expression": "",
            "hideExpression": False, "defaultValue": ""}


def link(code: str, protocol: str) -> dict[str, Any]:
    """A link field (``protocol``: ``WEB``, ``CALL`` or ``MAIL``)."""
    return {"type": "LINK", "code": code, "label": code, "noLabel": False, "required": False, "unique": False,
            "protocol": protocol, "minLength": "", "maxLength": "", "defaultValue": ""}


def dropdown(code: str, options: Iterable[str], *, required: bool = False) -> dict[str, Any]:
    """A drop-down field with ``options``."""
    return {"type": "DROP_DOWN", "code": code, "label": code, "noLabel": False, "required": required,
            "options": {o: {"label": o, "index": str(i)} for i, o in enumerate(options)}, "defaultValue": ""}


def system(type_: str, code: str) -> dict[str, Any]:
    return {"type": type_, "code": code, "label": code, "noLabel": False}


def default_fields(stream: str, language: str = "ja") -> dict[str, dict[str, Any]]:
    """The form of a default sandbox app: ``customers`` (people) or ``companies``."""
    codes = SYSTEM_CODES[language]
    systems = [system(t, c) for t, c in codes.items()]
    if stream == "customers":
        user = [
            text("会社名"), text("姓"), text("名"), text("姓かな"), text("名かな"),
            link("メールアドレス", "MAIL"), link("電話番号", "CALL"), link("携帯番号", "CALL"),
            text("郵便番号"), text("都道府県"), text("市区町村"), text("住所"), text("部署"), text("役職"),
            dropdown("顧客ランク", CUSTOMER_RANKS),
            text(UPDATE_KEY, unique=True, max_length=64),
        ]
    elif stream == "companies":
        user = [
            text("会社名", required=True), text("会社名かな"), text("法人番号"), text("ドメイン"),
            link("電話番号", "CALL"), text(UPDATE_KEY, unique=True, max_length=64),
        ]
    else:
        raise ValueError(f"no default app for stream {stream!r}")
    return {f["code"]: f for f in [*systems, *user]}


@dataclass
class Grant:
    """What one API token may do: on which apps (None: all) and which permissions."""

    apps: frozenset[int] | None = None
    permissions: frozenset[str] = PERMISSIONS


@dataclass
class Cursor:
    app: int
    stream: str
    ids: list[str]
    size: int
    fields: list[str]
    touched: datetime
    position: int = 0


class Rejected(Exception):
    """A request kintone would refuse; carries the error response."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class FakeKintone(FakeVendor):
    """An in-memory kintone domain with a ``customers`` app (12) and a ``companies`` app (13).

    Args:
        state_path: JSON file that keeps the apps and records between processes.
        token: an API token valid for every app with every permission (:meth:`grant` adds more).
        language: ``ja`` (system field codes レコード番号, 作成日時, 更新日時, ...) or ``en``
            (Record_number, Created_datetime, Updated_datetime, ...), as kintone names them by the
            language of the environment that created the app.
        guest_space: a guest space id: the apps then answer only under ``/k/guest/{id}/v1/``.
        cursor_limit: cursors open at once per domain (kintone: 10).
        cursor_ttl: seconds a cursor lives after it was created or last read (kintone: 600).
    """

    name: ClassVar[str] = "kintone"
    streams: ClassVar[tuple[str, ...]] = ("customers", "companies")
    base_url: ClassVar[str] = "https://sandbox.cybozu.com"

    def __init__(
        self,
        *,
        state_path: Path | str | None = None,
        token: str = "sandbox-token",
        language: str = "ja",
        guest_space: int | None = None,
        cursor_limit: int = MAX_CURSORS,
        cursor_ttl: float = CURSOR_TTL_SECONDS,
    ) -> None:
        if language not in SYSTEM_CODES:
            raise ValueError(f"language must be one of {sorted(SYSTEM_CODES)}")
        self.language = language
        super().__init__(state_path=state_path, token=token)
        self.guest_space = guest_space
        self.cursor_limit = cursor_limit
        self.cursor_ttl = cursor_ttl
        self.cursors: dict[str, Cursor] = {}
        self.grants: dict[str, Grant] = {token: Grant()}
        self._tokens: list[str] = []
        for key, value in self.empty_state().items():  # state files written by older versions
            self.state.setdefault(key, value)

    # -- FakeVendor hooks ----------------------------------------------------------------
    @override
    def empty_state(self) -> dict[str, Any]:
        return {
            "next_id": 1,
            "records": {s: {} for s in self.streams},
            "apps": {
                s: {"id": APP_IDS[s], "name": APP_NAMES[s], "revision": 1, "next_record_id": 1,
                    "fields": default_fields(s, self.language)}
                for s in self.streams
            },
        }

    def extra_settings(self) -> dict[str, Any]:
        """Connector settings beyond ``base_url`` that talk to this fake."""
        settings: dict[str, Any] = {"api_token": self.token, "apps": {s: self.app_id(s) for s in self.streams}}
        if self.language != "ja":
            settings["updated_time_field"] = SYSTEM_CODES[self.language]["UPDATED_TIME"]
        if self.guest_space is not None:
            settings["guest_space_id"] = self.guest_space
        return settings

    @override
    def error(self, status: int, message: str, **extra: Any) -> httpx.Response:
        code = extra.pop("code", None) or {400: "CB_IJ01"}.get(status, "CB_IL02")
        body: dict[str, Any] = {"code": code, "id": uuid.uuid4().hex[:20], "message": message}
        body.update(extra)
        return self.json(body, status)

    def invalid(self, errors: dict[str, list[str]]) -> httpx.Response:
        """kintone's validation error: 400 ``CB_VA01`` naming each bad input."""
        return self.error(400, MESSAGES["invalid"], code="CB_VA01",
                          errors={k: {"messages": v} for k, v in errors.items()})

    @override
    def authorize(self, request: httpx.Request) -> httpx.Response | None:
        header = request.headers.get("X-Cybozu-API-Token", "")
        tokens = [t.strip() for t in header.split(",") if t.strip()]
        if not tokens:
            return self.error(401, MESSAGES["login"], code="CB_AU01")
        if any(t not in self.grants for t in tokens):
            # Never echo the presented token: kintone does not, and logs would keep it.
            return self.error(400, MESSAGES["token"], code="GAIA_IA02")
        self._tokens = tokens
        return None

    # -- public data API -----------------------------------------------------------------
    def app_id(self, stream: str) -> int:
        """The app id of ``stream``."""
        return int(self.state["apps"][stream]["id"])

    def fields(self, stream: str) -> dict[str, dict[str, Any]]:
        """The form field definitions of ``stream``'s app (a live view: do not mutate)."""
        return self.state["apps"][stream]["fields"]

    def system_code(self, type_: str) -> str:
        """The field code of a system field (``UPDATED_TIME`` -> ``更新日時`` or ``Updated_datetime``)."""
        return SYSTEM_CODES[self.language][type_]

    @override
    def insert(self, stream: str, fields: dict[str, Any], *, at: datetime | None = None) -> str:
        """Create a record as if a user had; values are stored as given (not validated).

        Args:
            stream: ``customers`` or ``companies``.
            fields: plain values by field code (``{"姓": "山田", "顧客ランク": "見込み"}``).
            at: creation time (default: the fake's clock), kept to the minute like kintone.

        Returns:
            The new record id.
        """
        with self.lock:
            record = self._create(stream, self._plain(stream, fields), self._moment(at))
            self._commit()
            return record["$id"]["value"]

    @override
    def update(self, stream: str, record_id: str, fields: dict[str, Any], *, at: datetime | None = None) -> None:
        """Change a record as if a user had: bumps ``$revision`` and the update timestamp."""
        with self.lock:
            record = self._existing(stream, record_id)
            self._apply(stream, record, self._plain(stream, fields), self._moment(at))
            self._commit()

    def delete(self, stream: str, record_id: str) -> None:
        """Delete a record (kintone keeps no tombstone)."""
        with self.lock:
            self._existing(stream, record_id)
            del self.table(stream)[str(record_id)]
            self._commit()

    def record(self, stream: str, record_id: str) -> dict[str, Any] | None:
        """A copy of one record in kintone's shape, or None."""
        with self.lock:
            found = self.table(stream).get(str(record_id))
            return json.loads(json.dumps(found)) if found else None

    def values(self, stream: str, record_id: str) -> dict[str, Any]:
        """One record's values by field code (``$id`` and ``$revision`` included)."""
        found = self.record(stream, record_id)
        if found is None:
            raise KeyError(f"no {stream} record {record_id}")
        return {code: f["value"] for code, f in found.items()}

    def find(self, stream: str, code: str, value: Any) -> dict[str, Any] | None:
        """The first record whose field ``code`` equals ``value`` (a copy), or None."""
        with self.lock:
            for record in self.table(stream).values():
                if code in record and record[code]["value"] == value:
                    return json.loads(json.dumps(record))
            return None

    def add_field(self, stream: str, definition: dict[str, Any]) -> None:
        """Add a field to an app's form (existing records get its empty value)."""
        with self.lock:
            app = self.state["apps"][stream]
            app["fields"][definition["code"]] = definition
            app["revision"] += 1
            for record in self.table(stream).values():
                record.setdefault(definition["code"], {"type": definition["type"], "value": _empty(definition["type"])})
            self._commit()

    def remove_field(self, stream: str, code: str) -> None:
        """Delete a field from an app's form and from every record (to rehearse a missing field)."""
        with self.lock:
            app = self.state["apps"][stream]
            app["fields"].pop(code, None)
            app["revision"] += 1
            for record in self.table(stream).values():
                record.pop(code, None)
            self._commit()

    def grant(self, token: str, *, apps: Iterable[int] | None = None, permissions: Iterable[str] = PERMISSIONS) -> None:
        """Make ``token`` a valid API token for ``apps`` (None: all) with ``permissions``
        (``view``, ``add``, ``edit``, ``delete``)."""
        unknown = set(permissions) - PERMISSIONS
        if unknown:
            raise ValueError(f"unknown permissions {sorted(unknown)}")
        self.grants[token] = Grant(frozenset(apps) if apps is not None else None, frozenset(permissions))

    def open_cursors(self) -> int:
        """How many cursors are open (expired ones are released first)."""
        with self.lock:
            self._expire_cursors()
            return len(self.cursors)

    # -- routes: records -----------------------------------------------------------------
    @route("GET", PREFIX + r"/records\.json")
    def get_records(self, request: httpx.Request, body: Any, space: str | None = None) -> httpx.Response:
        args = _args(request, body)
        try:
            stream = self._app_for(args.get("app"), space, "view")
            query = self._query(stream, args.get("query"))
        except Rejected as exc:
            return exc.response
        if query.limit is not None and query.limit > MAX_LIMIT:
            return self.error(400, MESSAGES["limit"], code="GAIA_QU01")
        if query.offset is not None and query.offset > MAX_OFFSET:
            return self.error(400, MESSAGES["offset"], code="GAIA_QU02")
        matching = self._select(stream, query)
        offset = query.offset or 0
        limit = DEFAULT_LIMIT if query.limit is None else query.limit
        page = matching[offset: offset + limit]
        wanted = _fields_arg(args)
        total = str(len(matching)) if str(args.get("totalCount", "")).lower() == "true" else None
        return self.json({"records": [_public(r, wanted) for r in page], "totalCount": total})

    @route("GET", PREFIX + r"/record\.json")
    def get_record(self, request: httpx.Request, body: Any, space: str | None = None) -> httpx.Response:
        args = _args(request, body)
        try:
            stream = self._app_for(args.get("app"), space, "view")
        except Rejected as exc:
            return exc.response
        record = self.table(stream).get(str(args.get("id")))
        if record is None:
            return self.error(404, MESSAGES["no_record"].format(args.get("id")), code="GAIA_RE01")
        return self.json({"record": _public(record, [])})

    @route("POST", PREFIX + r"/records\.json")
    def add_records(self, request: httpx.Request, body: Any, space: str | None = None) -> httpx.Response:
        args = body if isinstance(body, dict) else {}
        try:
            stream = self._app_for(args.get("app"), space, "add")
            items = self._items(args.get("records"), MESSAGES["bulk_add"])
            planned = []
            errors: dict[str, list[str]] = {}
            claimed: dict[tuple[str, str], int] = {}
            for i, item in enumerate(items):
                payload = self._payload(stream, item, i, errors, insert=True)
                values = {**self._defaults(stream), **payload}
                self._validate(stream, values, None, i, errors, claimed)
                planned.append(values)
            if errors:
                return self.invalid(errors)
        except Rejected as exc:
            return exc.response
        now = self.now()
        created = [self._create(stream, values, now) for values in planned]
        self.mutated()
        return self.json({"ids": [r["$id"]["value"] for r in created],
                          "revisions": [r["$revision"]["value"] for r in created]})

    @route("PUT", PREFIX + r"/records\.json")
    def update_records(self, request: httpx.Request, body: Any, space: str | None = None) -> httpx.Response:
        args = body if isinstance(body, dict) else {}
        upsert = args.get("upsert") is True or str(args.get("upsert")).lower() == "true"
        try:
            stream = self._app_for(args.get("app"), space, "edit")
            if upsert:
                self._permit(self.app_id(stream), "add")
            items = self._items(args.get("records"), MESSAGES["bulk_update"])
            planned: list[tuple[dict[str, Any] | None, dict[str, Any], dict[str, Any]]] = []
            errors: dict[str, list[str]] = {}
            claimed: dict[tuple[str, str], int] = {}
            for i, item in enumerate(items):
                target, key = self._target(stream, item, i, errors, upsert=upsert)
                if target is None and key is None and f"records[{i}].id" in errors:
                    continue
                if target is not None:
                    expected = item.get("revision")
                    if expected not in (None, -1, "-1", "") and str(expected) != target["$revision"]["value"]:
                        raise Rejected(self.error(409, MESSAGES["revision"], code="GAIA_CO02"))
                payload = self._payload(stream, item.get("record"), i, errors, insert=target is None)
                if target is None:
                    values = {**self._defaults(stream), **payload, **(key or {})}
                else:
                    values = {**{c: f["value"] for c, f in target.items()}, **payload}
                self._validate(stream, values, target, i, errors, claimed)
                planned.append((target, values, payload))
            if errors:
                return self.invalid(errors)
        except Rejected as exc:
            return exc.response
        now = self.now()
        results = []
        for target, values, payload in planned:
            if target is None:
                record = self._create(stream, values, now)
                operation = "INSERT"
            else:
                record = target
                self._apply(stream, record, payload, now)
                operation = "UPDATE"
            result = {"id": record["$id"]["value"], "revision": record["$revision"]["value"]}
            if upsert:
                result["operation"] = operation
            results.append(result)
        self.mutated()
        return self.json({"records": results})

    @route("DELETE", PREFIX + r"/records\.json")
    def delete_records(self, request: httpx.Request, body: Any, space: str | None = None) -> httpx.Response:
        args = _args(request, body)
        ids = _indexed(args, "ids")
        revisions = _indexed(args, "revisions")
        try:
            stream = self._app_for(args.get("app"), space, "delete")
        except Rejected as exc:
            return exc.response
        if not ids:
            return self.invalid({"ids": [MESSAGES["required"]]})
        if len(ids) > MAX_WRITE:
            return self.invalid({"ids": [MESSAGES["bulk_delete"]]})
        table = self.table(stream)
        for i, record_id in enumerate(ids):
            record = table.get(str(record_id))
            if record is None:
                return self.error(404, MESSAGES["no_record"].format(record_id), code="GAIA_RE01")
            expected = revisions[i] if i < len(revisions) else None
            if expected not in (None, -1, "-1", "") and str(expected) != record["$revision"]["value"]:
                return self.error(409, MESSAGES["revision"], code="GAIA_CO02")
        for record_id in ids:
            table.pop(str(record_id), None)
        self.mutated()
        return self.json({})

    # -- routes: cursors -----------------------------------------------------------------
    @route("POST", PREFIX + r"/records/cursor\.json")
    def create_cursor(self, request: httpx.Request, body: Any, space: str | None = None) -> httpx.Response:
        args = body if isinstance(body, dict) else {}
        try:
            stream = self._app_for(args.get("app"), space, "view")
            size = _int(args.get("size", DEFAULT_CURSOR_SIZE))
            if size is None or not 1 <= size <= MAX_CURSOR_SIZE:
                return self.invalid({"size": [MESSAGES["size"]]})
            query = self._query(stream, args.get("query"))
        except Rejected as exc:
            return exc.response
        if query.limit is not None or query.offset is not None:
            return self.invalid({"query": [MESSAGES["cursor_query"]]})
        self._expire_cursors()
        if len(self.cursors) >= self.cursor_limit:
            return self.error(429, MESSAGES["cursor_limit"], code="GAIA_TM12")
        ids = [r["$id"]["value"] for r in self._select(stream, query)]
        cursor_id = str(uuid.uuid4())
        self.cursors[cursor_id] = Cursor(self.app_id(stream), stream, ids, size, _fields_arg(args), self.now())
        return self.json({"id": cursor_id, "totalCount": str(len(ids))})

    @route("GET", PREFIX + r"/records/cursor\.json")
    def read_cursor(self, request: httpx.Request, body: Any, space: str | None = None) -> httpx.Response:
        args = _args(request, body)
        try:
            cursor = self._cursor(str(args.get("id", "")))
            self._permit(cursor.app, "view")
        except Rejected as exc:
            return exc.response
        table = self.table(cursor.stream)
        chunk = cursor.ids[cursor.position: cursor.position + cursor.size]
        cursor.position += len(chunk)
        cursor.touched = self.now()
        records = [_public(table[i], cursor.fields) for i in chunk if i in table]  # deleted since: skipped
        more = cursor.position < len(cursor.ids)
        if not more:
            self.cursors.pop(str(args.get("id")), None)  # read to the end: released
        return self.json({"records": records, "next": more})

    @route("DELETE", PREFIX + r"/records/cursor\.json")
    def delete_cursor(self, request: httpx.Request, body: Any, space: str | None = None) -> httpx.Response:
        args = _args(request, body)
        try:
            self._cursor(str(args.get("id", "")))
        except Rejected as exc:
            return exc.response
        del self.cursors[str(args.get("id"))]
        return self.json({})

    # -- routes: apps --------------------------------------------------------------------
    @route("GET", PREFIX + r"/app\.json")
    def get_app(self, request: httpx.Request, body: Any, space: str | None = None) -> httpx.Response:
        args = _args(request, body)
        try:
            stream = self._app_for(args.get("id"), space, "view", param="id")
        except Rejected as exc:
            return exc.response
        app = self.state["apps"][stream]
        return self.json({
            "appId": str(app["id"]), "code": "", "name": app["name"], "description": "",
            "spaceId": str(self.guest_space) if self.guest_space is not None else None, "threadId": None,
            "createdAt": "2024-01-01T00:00:00.000Z", "creator": OPERATOR,
            "modifiedAt": "2024-01-01T00:00:00.000Z", "modifier": OPERATOR,
        })

    @route("GET", PREFIX + r"/app/form/fields\.json")
    def form_fields(self, request: httpx.Request, body: Any, space: str | None = None) -> httpx.Response:
        args = _args(request, body)
        try:
            stream = self._app_for(args.get("app"), space, "view")
        except Rejected as exc:
            return exc.response
        app = self.state["apps"][stream]
        return self.json({"properties": app["fields"], "revision": str(app["revision"])})

    # -- internals: apps and permissions -------------------------------------------------
    def _app_for(self, raw: Any, space: str | None, permission: str, *, param: str = "app") -> str:
        """The stream of app ``raw``, checked against the guest space and the tokens."""
        if raw in (None, ""):
            raise Rejected(self.invalid({param: [MESSAGES["required"]]}))
        app_id = _int(raw)
        stream = next((s for s in self.streams if self.state["apps"][s]["id"] == app_id), None)
        if app_id is None or stream is None:
            raise Rejected(self.error(404, MESSAGES["no_app"].format(raw), code="GAIA_AP01"))
        if self.guest_space is not None and space != str(self.guest_space):
            raise Rejected(self.error(520, MESSAGES["guest"], code="GAIA_IL23"))
        self._permit(app_id, permission)
        return stream

    def _permit(self, app_id: int, permission: str) -> None:
        for token in self._tokens:
            grant = self.grants[token]
            if (grant.apps is None or app_id in grant.apps) and permission in grant.permissions:
                return
        raise Rejected(self.error(403, MESSAGES["no_permission"], code="GAIA_NO01"))

    # -- internals: queries --------------------------------------------------------------
    def _types(self, stream: str) -> dict[str, str]:
        types = {code: f["type"] for code, f in self.fields(stream).items()}
        return {**types, "$id": "__ID__", "$revision": "__REVISION__"}

    def _query(self, stream: str, text: Any) -> Query:
        try:
            query = parse_query(str(text or ""))
        except QueryError:
            raise Rejected(self.invalid({"query": [MESSAGES["query"]]})) from None
        types = self._types(stream)
        for code in query.field_codes():
            if code not in types:
                raise Rejected(self.error(400, MESSAGES["no_field"].format(code), code="GAIA_IQ11"))
        return query

    def _select(self, stream: str, query: Query) -> list[dict[str, Any]]:
        """The records matching ``query``, in its order (kintone's default: ``$id desc``)."""
        types = self._types(stream)
        rows = [r for r in self.table(stream).values() if query.where is None or _matches(query.where, r, types)]
        order = query.order or [("$id", "desc")]
        for code, direction in reversed(order):
            kind = types[code]
            rows.sort(key=lambda r, c=code, k=kind: _sort_key(k, r.get(c, {}).get("value")),
                      reverse=direction == "desc")
        return rows

    def _expire_cursors(self) -> None:
        cutoff = self.now() - timedelta(seconds=self.cursor_ttl)
        for cursor_id in [i for i, c in self.cursors.items() if c.touched < cutoff]:
            del self.cursors[cursor_id]

    def _cursor(self, cursor_id: str) -> Cursor:
        self._expire_cursors()
        cursor = self.cursors.get(cursor_id)
        if cursor is None:
            raise Rejected(self.error(404, MESSAGES["no_cursor"], code="GAIA_RE03"))
        return cursor

    # -- internals: writes ---------------------------------------------------------------
    def _items(self, raw: Any, too_many: str) -> list[dict[str, Any]]:
        if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
            raise Rejected(self.invalid({"records": [MESSAGES["required"]]}))
        if len(raw) > MAX_WRITE:
            raise Rejected(self.invalid({"records": [too_many]}))
        return raw

    def _target(
        self, stream: str, item: dict[str, Any], i: int, errors: dict[str, list[str]], *, upsert: bool
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The record an update item names, and (for an upsert insert) the key value to set."""
        has_id, key = item.get("id") not in (None, ""), item.get("updateKey")
        if has_id == bool(key):
            errors[f"records[{i}].id"] = [MESSAGES["id_or_key"]]
            return None, None
        if has_id:
            found = self.table(stream).get(str(item["id"]))
            if found is None and not upsert:
                raise Rejected(self.error(404, MESSAGES["no_record"].format(item["id"]), code="GAIA_RE01"))
            return found, None
        code = key.get("field") if isinstance(key, dict) else None
        value = key.get("value") if isinstance(key, dict) else None
        definition = self.fields(stream).get(str(code))
        if definition is None or not definition.get("unique") or definition["type"] not in ("SINGLE_LINE_TEXT", "NUMBER"):
            errors[f"records[{i}].updateKey.field"] = [MESSAGES["update_key"]]
            return None, {}
        value = "" if value is None else str(value)
        found = next((r for r in self.table(stream).values() if r.get(code, {}).get("value") == value), None)
        if found is None and not upsert:
            raise Rejected(self.error(404, MESSAGES["no_record"].format(value), code="GAIA_RE01"))
        return found, {code: value}

    def _payload(
        self, stream: str, raw: Any, i: int, errors: dict[str, list[str]], *, insert: bool
    ) -> dict[str, Any]:
        """The values a record payload sets, by field code; refuses unknown codes (``GAIA_FC01``)."""
        raw = raw if isinstance(raw, dict) else {}
        fields = self.fields(stream)
        out: dict[str, Any] = {}
        for code, wrapped in raw.items():
            definition = fields.get(code)
            if definition is None:
                raise Rejected(self.error(400, MESSAGES["no_field_code"].format(code), code="GAIA_FC01"))
            kind = definition["type"]
            if kind in COMPUTED_TYPES or (kind in MIGRATION_TYPES and not insert):
                continue
            value = wrapped.get("value") if isinstance(wrapped, dict) else wrapped
            if kind in LIST_TYPES:
                if value is None:
                    value = []
                if not isinstance(value, list):
                    errors[f"records[{i}].{code}.values"] = [MESSAGES["list"]]
                    continue
                out[code] = [str(v) for v in value]
            elif kind in TEXT_TYPES:
                if isinstance(value, (dict, list)):
                    errors[f"records[{i}].{code}.value"] = [MESSAGES["scalar"]]
                    continue
                out[code] = "" if value is None else ("true" if value is True else "false" if value is False else str(value))
            else:
                out[code] = value
        return out

    def _defaults(self, stream: str) -> dict[str, Any]:
        return {code: _empty(f["type"]) for code, f in self.fields(stream).items() if f["type"] not in COMPUTED_TYPES}

    def _validate(
        self,
        stream: str,
        values: dict[str, Any],
        target: dict[str, Any] | None,
        i: int,
        errors: dict[str, list[str]],
        claimed: dict[tuple[str, str], int],
    ) -> None:
        """Check a record's values the way kintone does; collect messages under ``records[i]``."""
        own = target["$id"]["value"] if target else None
        for code, definition in self.fields(stream).items():
            kind, value = definition["type"], values.get(code)
            problems = []
            if definition.get("required") and value in (None, "", []):
                problems.append(MESSAGES["required"])
            if value not in (None, "", []):
                options = definition.get("options") or {}
                if kind in ("DROP_DOWN", "RADIO_BUTTON") and value not in options:
                    problems.append(MESSAGES["option"].format(value))
                if kind in LIST_TYPES:
                    problems += [MESSAGES["option"].format(v) for v in value if v not in options]
                if kind == "NUMBER" and _float(value) is None:
                    problems.append(MESSAGES["number"])
                limit = _int(definition.get("maxLength") or None)
                if limit is not None and isinstance(value, str) and len(value) > limit:
                    problems.append(MESSAGES["max_length"].format(limit))
                if definition.get("unique"):
                    holder = next((r for r in self.table(stream).values()
                                   if r.get(code, {}).get("value") == value and r["$id"]["value"] != own), None)
                    if holder is not None or claimed.setdefault((code, str(value)), i) != i:
                        problems.append(MESSAGES["unique"])
            if problems:
                errors.setdefault(f"records[{i}].{code}.value", []).extend(problems)

    def _create(self, stream: str, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        app = self.state["apps"][stream]
        record_id = str(app["next_record_id"])
        app["next_record_id"] += 1
        fields = app["fields"]
        when = stamp(now)
        record: dict[str, Any] = {}
        for code, definition in fields.items():
            kind = definition["type"]
            value: Any = values.get(code, _empty(kind))
            if kind == "RECORD_NUMBER":
                value = record_id
            elif kind in ("CREATOR", "MODIFIER"):
                value = values.get(code) or OPERATOR
            elif kind in ("CREATED_TIME", "UPDATED_TIME"):
                given = instant(values.get(code))
                value = stamp(datetime.fromtimestamp(given, UTC)) if given is not None else when
            record[code] = {"type": kind, "value": value}
        record["$id"] = {"type": "__ID__", "value": record_id}
        record["$revision"] = {"type": "__REVISION__", "value": "1"}
        self.table(stream)[record_id] = record
        return record

    def _apply(self, stream: str, record: dict[str, Any], values: dict[str, Any], now: datetime) -> None:
        fields = self.fields(stream)
        for code, value in values.items():
            definition = fields.get(code)
            if definition is None or definition["type"] in COMPUTED_TYPES | MIGRATION_TYPES:
                continue
            record[code] = {"type": definition["type"], "value": value}
        for code, definition in fields.items():
            if definition["type"] == "UPDATED_TIME":
                record[code] = {"type": "UPDATED_TIME", "value": stamp(now)}
            elif definition["type"] == "MODIFIER":
                record[code] = {"type": "MODIFIER", "value": OPERATOR}
        record["$revision"]["value"] = str(int(record["$revision"]["value"]) + 1)

    def _plain(self, stream: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Data-API values: any known field code, stored as given (kintone's types for lists)."""
        known = self.fields(stream)
        unknown = [c for c in fields if c not in known]
        if unknown:
            raise ValueError(f"{stream} has no field {', '.join(unknown)} (fields: {', '.join(known)})")
        out: dict[str, Any] = {}
        for code, value in fields.items():
            kind = known[code]["type"]
            if kind in LIST_TYPES:
                out[code] = list(value or [])
            elif kind in TEXT_TYPES:
                out[code] = "" if value is None else str(value)
            else:
                out[code] = value
        return out

    def _existing(self, stream: str, record_id: str) -> dict[str, Any]:
        record = self.table(stream).get(str(record_id))
        if record is None:
            raise KeyError(f"no {stream} record {record_id}")
        return record

    def _moment(self, at: datetime | None) -> datetime:
        if at is None:
            return self.now()
        if at.tzinfo is None:
            raise ValueError("pass an aware datetime")
        return at

    def _commit(self) -> None:
        """Persist a data-API change (see :meth:`FakeVendor.save_soon`)."""
        self.save_soon()


# -- the query language subset ---------------------------------------------------------------------
class QueryError(ValueError):
    """The query does not parse."""


@dataclass
class Query:
    """A parsed kintone query: condition tree, ``order by`` items, ``limit`` and ``offset``."""

    where: Any = None
    order: list[tuple[str, str]] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None

    def field_codes(self) -> list[str]:
        codes: list[str] = [code for code, _ in self.order]

        def walk(node: Any) -> None:
            if node[0] in ("and", "or"):
                for child in node[1]:
                    walk(child)
            else:
                codes.append(node[1])

        if self.where is not None:
            walk(self.where)
        return codes


_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>>=|<=|!=|=|>|<)|(?P<punct>[(),])|(?P<word>[^\s()=!<>",]+))'
)
_KEYWORDS = {"and", "or", "order", "by", "asc", "desc", "limit", "offset", "in", "not", "like", "is", "empty"}
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def parse_query(text: str) -> Query:
    """Parse the subset of kintone's query language the sandbox needs: comparisons
    (``= != > < >= <=``), ``in`` / ``not in``, ``like`` / ``not like``, ``is [not] empty``,
    ``and`` / ``or`` with parentheses, ``order by f asc|desc, ...``, ``limit``, ``offset``."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise QueryError(f"cannot read the query at {position}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return _Parser(tokens).parse()


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _keyword(self) -> str | None:
        token = self._peek()
        return token[1].lower() if token and token[0] == "word" and token[1].lower() in _KEYWORDS else None

    def _take(self, kind: str | None = None, value: str | None = None) -> str:
        token = self._peek()
        if token is None or (kind and token[0] != kind) or (value and token[1].lower() != value):
            raise QueryError(f"expected {value or kind} at token {self.i}")
        self.i += 1
        return token[1]

    def parse(self) -> Query:
        query = Query()
        if self._peek() is not None and self._keyword() not in ("order", "limit", "offset"):
            query.where = self._or()
        if self._keyword() == "order":
            self._take(value="order")
            self._take(value="by")
            while True:
                code = self._field()
                direction = "desc"  # kintone sorts descending when asc/desc is left out
                if self._keyword() in ("asc", "desc"):
                    direction = self._take().lower()
                query.order.append((code, direction))
                if self._peek() == ("punct", ","):
                    self._take("punct")
                    continue
                break
        if self._keyword() == "limit":
            self._take(value="limit")
            query.limit = self._integer()
        if self._keyword() == "offset":
            self._take(value="offset")
            query.offset = self._integer()
        if self._peek() is not None:
            raise QueryError(f"unexpected {self._peek()}")
        return query

    def _integer(self) -> int:
        word = self._take("word")
        if not word.isdigit():
            raise QueryError(f"{word!r} is not a number")
        return int(word)

    def _field(self) -> str:
        token = self._peek()
        if token is None or token[0] != "word" or token[1].lower() in _KEYWORDS:
            raise QueryError("expected a field code")
        self.i += 1
        return token[1]

    def _or(self) -> Any:
        terms = [self._and()]
        while self._keyword() == "or":
            self._take()
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else ("or", terms)

    def _and(self) -> Any:
        factors = [self._factor()]
        while self._keyword() == "and":
            self._take()
            factors.append(self._factor())
        return factors[0] if len(factors) == 1 else ("and", factors)

    def _factor(self) -> Any:
        if self._peek() == ("punct", "("):
            self._take("punct")
            node = self._or()
            self._take("punct", ")")
            return node
        code = self._field()
        negate = False
        if self._keyword() == "not":
            self._take()
            negate = True
        keyword = self._keyword()
        if keyword == "in":
            self._take()
            self._take("punct", "(")
            values = [self._literal()]
            while self._peek() == ("punct", ","):
                self._take("punct")
                values.append(self._literal())
            self._take("punct", ")")
            return ("in", code, values, negate)
        if keyword == "like":
            self._take()
            return ("like", code, self._literal(), negate)
        if keyword == "is" and not negate:
            self._take()
            if self._keyword() == "not":
                self._take()
                negate = True
            self._take(value="empty")
            return ("empty", code, None, negate)
        if negate:
            raise QueryError("'not' must be followed by 'in' or 'like'")
        operator = self._take("op")
        return ("cmp", code, operator, self._literal())

    def _literal(self) -> str:
        token = self._peek()
        if token is None:
            raise QueryError("expected a value")
        if token[0] == "str":
            self.i += 1
            return re.sub(r"\\(.)", r"\1", token[1][1:-1])
        if token[0] == "word" and _NUMBER.match(token[1]):
            self.i += 1
            return token[1]
        raise QueryError(f"expected a value, got {token[1]!r}")


def _typed(kind: str, value: Any) -> Any:
    """A field value in the form it compares in: number, instant or text."""
    if kind in NUMERIC_TYPES:
        return _float(value)
    if kind in TIME_TYPES:
        return instant(value)
    if value is None:
        return None
    return str(value)


def _matches(node: Any, record: dict[str, Any], types: dict[str, str]) -> bool:
    op = node[0]
    if op == "and":
        return all(_matches(n, record, types) for n in node[1])
    if op == "or":
        return any(_matches(n, record, types) for n in node[1])
    code = node[1]
    kind = types[code]
    raw = record.get(code, {}).get("value")
    if op == "empty":
        empty = raw in (None, "", [])
        return empty != node[3]
    if op == "in":
        members = raw if isinstance(raw, list) else [raw]
        found = any(str(m) in node[2] for m in members if m is not None)
        return found != node[3]
    if op == "like":
        found = node[2] in str(raw or "")
        return found != node[3]
    left, right = _typed(kind, raw), _typed(kind, node[3])
    operator = node[2]
    if left is None or right is None:
        return operator == "!=" and left != right
    return {
        "=": left == right, "!=": left != right, ">": left > right,
        "<": left < right, ">=": left >= right, "<=": left <= right,
    }[operator]


def _sort_key(kind: str, value: Any) -> tuple[bool, Any]:
    typed = _typed(kind, value)
    if typed is None:
        return (False, 0 if kind in NUMERIC_TYPES | TIME_TYPES else "")
    return (True, typed)


# -- small helpers -----------------------------------------------------------------------------------
def _empty(kind: str) -> Any:
    return [] if kind in LIST_TYPES else ""


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _args(request: httpx.Request, body: Any) -> dict[str, Any]:
    """Request parameters: the URL's, or a JSON body's (kintone takes either)."""
    args: dict[str, Any] = dict(request.url.params.multi_items())
    if isinstance(body, dict):
        args.update(body)
    return args


def _indexed(args: dict[str, Any], name: str) -> list[str]:
    """``name[0]=a&name[1]=b`` URL parameters, or a JSON list under ``name``."""
    if isinstance(args.get(name), list):
        return [str(v) for v in args[name]]
    found = []
    for key, value in args.items():
        match = re.fullmatch(re.escape(name) + r"\[(\d+)\]", key)
        if match:
            found.append((int(match.group(1)), str(value)))
    return [v for _, v in sorted(found)]


def _fields_arg(args: dict[str, Any]) -> list[str]:
    return _indexed(args, "fields")


def _public(record: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    if wanted:
        record = {c: f for c, f in record.items() if c in wanted}
    return json.loads(json.dumps(record))


