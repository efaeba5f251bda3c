"""The HubSpot CRM connector: contacts, companies and notes through the CRM API v3.

Authentication is a private-app access token (``Authorization: Bearer``). Reads:

* **full read** (no state): ``GET /crm/v3/objects/{object}`` pages in id order (stable while
  records change); the final state starts the next incremental read at the moment the scan began,
  minus a margin, so changes made during the scan are read again rather than lost.
* **incremental read** (state with ``since``): ``POST /crm/v3/objects/{object}/search`` filtered on
  the modification property ``>= since``, sorted ascending. A
  :class:`~hub.connector.TimestampCheckpoint` skips the records already emitted at the boundary
  timestamp, so many records sharing one timestamp cause neither a gap nor a duplicate. Then the
  archived records are paged for tombstones.

Writes use the batch endpoints (at most 100 inputs a call). Records the hub creates carry its key in
a custom unique property (``id_property``) and are written with ``batch/upsert``, so a retried batch
creates no duplicate. HubSpot fails a whole batch for one bad record; the connector bisects the
batch so that only the bad record(s) come back as failed, with HubSpot's reason.

Notes (activities: comments, ticket correspondence, ... logged on a contact's timeline) hang off a
contact through an *association* (note -> contact, HUBSPOT_DEFINED type 202), which is no property.
The connector shows the first associated contact's id under a synthetic field, ``contact_id``
(:data:`ASSOCIATIONS`), so a mapping can reference it like any field:

* reads: a list asks for ``associations=contacts``; search answers carry none, so each page of an
  incremental read fetches them with one ``POST /crm/v4/associations/notes/contacts/batch/read``.
  HubSpot does not move ``hs_lastmodifieddate`` when only an association changes: an incremental
  read sees a re-associated note at its next property change (or the next full read);
* creates: ``batch/upsert`` takes no associations, so new notes go through ``batch/create`` with the
  association inline (one call per 100). The hub's key is still in ``id_property``, which is unique:
  when a retried batch meets notes it already created, HubSpot answers 409 and the connector falls
  back to ``batch/upsert`` plus ``v4 .../batch/create`` of the associations (idempotent);
* updates: ``contact_id`` re-points the note -- its other contact associations are removed
  (``v4 .../batch/archive``) and the new one made, so the note reads back with that contact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, SecretStr

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
    RateLimit,
    Record,
    Stream,
    TimestampCheckpoint,
    WriteOp,
    WriteResult,
    distinct_batches,
    override,
)
from hub.errors import AuthError, ConfigError, ConnectorError, VendorError
from hub.http import RequestBudget

if TYPE_CHECKING:
    import httpx

CAPABILITIES = READ | INCREMENTAL | UPSERT | DELETE | TOMBSTONES
MAX_BATCH_INPUTS = 100  # every batch endpoint
MAX_LIST_LIMIT = 100  # GET /crm/v3/objects/{object}
MAX_SEARCH_LIMIT = 200  # POST .../search ("up to 200 objects" in the published spec)
SEARCH_RESULT_CAP = 10_000  # a search cannot page past 10,000 results
# CRM search has its own limit (5 requests a second per account) besides the ten-secondly one.
SEARCH_REQUESTS_PER_SECOND = 5

# The properties read for each stream: everything mappings/hubspot.yaml maps, plus the
# bookkeeping the hub needs. Settings.extra_properties adds more (a workspace's custom fields).
PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "firstname", "lastname", "firstname_kana", "lastname_kana", "email", "phone", "mobilephone",
        "company", "jobtitle", "department", "zip", "state", "city", "address", "country",
        "lifecyclestage", "hs_lead_status", "hs_email_optout", "hubspot_owner_id",
        "associatedcompanyid", "createdate", "lastmodifieddate",
    ),
    "companies": (
        "name", "name_kana", "domain", "website", "phone", "industry", "numberofemployees",
        "zip", "state", "city", "address", "country", "corporate_number", "createdate",
        "hs_lastmodifieddate",
    ),
    "notes": (
        "hs_note_body", "hs_timestamp", "hubspot_owner_id", "seamless_activity_type", "hs_createdate",
        "hs_lastmodifieddate",
    ),
}


@dataclass(frozen=True)
class Association:
    """A stream's association shown as one synthetic field.

    Attributes:
        field: the synthetic field in ``Record.data`` and ``WriteOp.fields`` (never a property).
        to: the object associated with (a stream of this connector, so mappings can ``ref`` it).
        type_id: the HUBSPOT_DEFINED association type from the stream's object to ``to``.
    """

    field: str
    to: str
    type_id: int


# Note -> contact is HubSpot's default association type 202.
ASSOCIATIONS: dict[str, Association] = {"notes": Association("contact_id", "contacts", 202)}
MAX_ASSOCIATION_READ = 1000  # ids per v4 associations batch/read
MAX_ASSOCIATION_WRITE = 100  # inputs per v4 associations batch/create or batch/archive
# Values a record reads with when the property is empty. A note made in HubSpot has no activity
# type of the hub's; it is a note (the canonical Activity needs a type).
READ_DEFAULTS: dict[str, dict[str, str]] = {"notes": {"seamless_activity_type": "note"}}
# Custom properties the hub's mapping writes besides id_property, per stream: a portal without
# them fails every record alike, which is a configuration error, not a bad record.
CUSTOM_PROPERTIES: dict[str, tuple[str, ...]] = {"notes": ("seamless_activity_type",)}


class HubSpotSettings(ConnectorSettings):
    """Settings of a HubSpot connector instance.

    Attributes:
        base_url: the API root.
        access_token: a private app's access token (scopes: ``crm.objects.contacts.read/write``,
            which notes need too, ``crm.objects.companies.read/write``, ``crm.schemas.contacts.read``,
            ``crm.schemas.companies.read``).
        id_property: a custom property with "unique values" on contacts, companies and notes that
            holds the hub's key; ``batch/upsert`` uses it as ``idProperty`` so retries never duplicate.
        page_size: records per list page (HubSpot's maximum is 100).
        search_page_size: records per search page (HubSpot's maximum is 200).
        search_result_cap: how far one search can page (10,000 in HubSpot).
        full_read_overlap_seconds: how far before a scan's start the next incremental read begins;
            covers clock skew and HubSpot's search index lagging behind writes.
        extra_properties: more properties to read, per stream.
    """

    base_url: str = "https://api.hubapi.com"
    access_token: SecretStr | None = None
    id_property: str = "seamless_hub_id"
    page_size: int = Field(100, ge=1, le=MAX_LIST_LIMIT)
    search_page_size: int = Field(MAX_SEARCH_LIMIT, ge=1, le=MAX_SEARCH_LIMIT)
    search_result_cap: int = Field(SEARCH_RESULT_CAP, ge=1)
    full_read_overlap_seconds: float = Field(60.0, ge=0)
    extra_properties: dict[str, list[str]] = Field(default_factory=dict)


_Send = Callable[[str, list[tuple[int, WriteOp]]], dict[int, WriteResult]]
_Written = Literal["created", "updated"]


@dataclass
class _Failure:
    """HubSpot's reason for refusing a batch: its message and the property it names, if any."""

    message: str
    field: str | None
    code: str | None


class HubSpot(Connector):
    """HubSpot CRM: contacts, companies and notes (associated with contacts)."""

    name: ClassVar[str] = "hubspot"
    kind: ClassVar[Kind] = Kind.CRM
    Settings: ClassVar[type[ConnectorSettings]] = HubSpotSettings
    streams: ClassVar[tuple[Stream, ...]] = (
        Stream("contacts", "id", "lastmodifieddate", CAPABILITIES, MAX_BATCH_INPUTS),
        Stream("companies", "id", "hs_lastmodifieddate", CAPABILITIES, MAX_BATCH_INPUTS),
        Stream("notes", "id", "hs_lastmodifieddate", CAPABILITIES, MAX_BATCH_INPUTS),
    )
    # Private apps on Free/Starter: 100 requests per 10 s (Professional/Enterprise allow 190).
    rate_limit: ClassVar[RateLimit | None] = RateLimit(100, 10.0)

    settings: HubSpotSettings

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        instance: str | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: RequestBudget | DefaultBudget | None = DEFAULT_BUDGET,
    ) -> None:
        if not isinstance(settings, HubSpotSettings):  # e.g. built as the base class by a caller
            settings = HubSpotSettings.model_validate(dict(settings))
        super().__init__(settings, instance=instance, transport=transport, budget=budget)
        # an unbudgeted connector (``budget: false``, a sandbox fake) is not paced on search either
        self._search_budget = RequestBudget(SEARCH_REQUESTS_PER_SECOND, 1.0) if self.http.budget else None

    # -- Connector API -------------------------------------------------------------------
    @override
    def auth_headers(self) -> dict[str, str]:
        token = self.settings.require("access_token", connector=self.instance)
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    @override
    def check(self) -> CheckResult:
        try:
            response = self.http.get("/crm/v3/objects/contacts", params={"limit": 1}, stream="contacts")
            self.http.json(response, stream="contacts")
        except AuthError as exc:
            return CheckResult(False, f"HubSpot refused the access token (check the token and its scopes): {exc}")
        except ConnectorError as exc:
            return CheckResult(False, str(exc))
        return CheckResult(True, "HubSpot accepted the access token")

    @override
    def discover(self) -> dict[str, list[FieldInfo]]:
        out: dict[str, list[FieldInfo]] = {}
        for stream in self.streams:
            response = self.http.get(f"/crm/v3/properties/{stream.name}", stream=stream.name)
            body = self.http.json(response, stream=stream.name)
            out[stream.name] = [
                FieldInfo(
                    name=p["name"],
                    type=p.get("type") or "string",
                    label=p.get("label"),
                    custom=not p.get("hubspotDefined", False),
                    writable=not (p.get("modificationMetadata") or {}).get("readOnlyValue", False),
                )
                for p in body.get("results", [])
                if not p.get("archived")
            ]
            assoc = ASSOCIATIONS.get(stream.name)
            if assoc:
                out[stream.name].append(
                    FieldInfo(assoc.field, "association", f"Associated {assoc.to} (first)", custom=False)
                )
        return out

    @override
    def read(self, stream: str, state: dict[str, Any] | None) -> Iterator[Page]:
        spec = self.stream(stream)
        state = dict(state or {})
        if state.get("phase") == "tombstones" and state.get("since"):
            yield from self._read_tombstones(spec, state)
        elif state.get("phase") == "full" or not state.get("since"):
            yield from self._read_full(spec, state)
        else:
            yield from self._read_changes(spec, state)

    @override
    def write(self, stream: str, batch: Sequence[WriteOp]) -> list[WriteResult]:
        self.stream(stream)
        results: list[WriteResult | None] = [None] * len(batch)
        upserts: list[tuple[int, WriteOp]] = []
        updates: list[tuple[int, WriteOp]] = []
        archives: list[tuple[int, WriteOp]] = []
        for index, op in enumerate(batch):
            if op.action in ("archive", "delete"):
                if op.target_id:
                    archives.append((index, op))
                else:
                    results[index] = WriteResult(op.key, "failed", None, error="no HubSpot id to archive")
            elif op.target_id:
                updates.append((index, op))
            else:
                upserts.append((index, op))
        # upsert takes no associations: streams with one create with batch/create (see the module doc)
        create = self._create_chunk if stream in ASSOCIATIONS else self._upsert_chunk
        plan: list[tuple[_Send, list[tuple[int, WriteOp]], Callable[[WriteOp], str]]] = [
            (create, upserts, lambda op: op.key),
            (self._update_chunk, updates, lambda op: str(op.target_id)),
            (self._archive_chunk, archives, lambda op: str(op.target_id)),
        ]
        for send, items, key in plan:
            for chunk in distinct_batches(items, MAX_BATCH_INPUTS, key):
                for index, result in self._bisect(stream, send, chunk).items():
                    results[index] = result
        return [
            r if r is not None else WriteResult(batch[i].key, "failed", error="not written")
            for i, r in enumerate(results)
        ]

    # -- reads ---------------------------------------------------------------------------
    def _properties(self, stream: str) -> list[str]:
        names = [*PROPERTIES[stream], *self.settings.extra_properties.get(stream, ()), self.settings.id_property]
        return list(dict.fromkeys(names))

    def _record(self, spec: Stream, obj: dict[str, Any], wanted: list[str], *, deleted: bool = False) -> Record:
        props = obj.get("properties") or {}
        # A property without a value may be null or absent; make it None either way, so a
        # cleared value reads as cleared rather than as "not read".
        data: dict[str, Any] = dict.fromkeys(wanted)
        data.update(props)
        for name, value in READ_DEFAULTS.get(spec.name, {}).items():
            if data.get(name) in (None, ""):
                data[name] = value
        assoc = ASSOCIATIONS.get(spec.name)
        if assoc:
            # From a list asked for associations=contacts; search answers carry none, and
            # _read_changes fills the field in from the associations API.
            linked = ((obj.get("associations") or {}).get(assoc.to) or {}).get("results") or []
            data[assoc.field] = next((str(a["id"]) for a in linked if a.get("id") not in (None, "")), None)
        stamp = obj.get("archivedAt") if deleted else (props.get(spec.cursor_field or "") or obj.get("updatedAt"))
        return Record(id=str(obj["id"]), data=data, updated_at=_parse_time(stamp), deleted=deleted)

    def _read_full(self, spec: Stream, state: dict[str, Any]) -> Iterator[Page]:
        started = state.get("started") or _iso(
            datetime.now(UTC) - timedelta(seconds=self.settings.full_read_overlap_seconds)
        )
        after = state.get("after")
        wanted = self._properties(spec.name)
        assoc = ASSOCIATIONS.get(spec.name)
        at_start: list[str] = []  # read already, modified in the very millisecond the next read starts from
        while True:
            body = self._list(spec.name, wanted, after=after, archived=False, associations=assoc.to if assoc else None)
            records = [self._record(spec, o, wanted) for o in body.get("results", [])]
            at_start.extend(r.id for r in records if r.updated_at is not None and _iso(r.updated_at) == started)
            after = _next_after(body)
            if not after:
                yield Page(records, {"since": started, "seen": sorted(at_start)})
                return
            yield Page(records, {"phase": "full", "after": after, "started": started})

    def _read_changes(self, spec: Stream, state: dict[str, Any]) -> Iterator[Page]:
        checkpoint = TimestampCheckpoint.load(state)
        deleted = {"deleted_since": state.get("deleted_since") or checkpoint.since,
                   "deleted_seen": list(state.get("deleted_seen", ()))}
        wanted = self._properties(spec.name)
        cap = self.settings.search_result_cap
        limit = min(self.settings.search_page_size, cap)
        # Each request re-anchors at the newest timestamp emitted (after=0) instead of walking
        # offsets through one query: offsets shift when records change or leave mid-read (a gap),
        # and they run into the 10,000-result cap. `after` only walks through records that all
        # share the anchor timestamp; the checkpoint skips the ones already emitted.
        anchor, after, past_anchor = checkpoint.since, 0, False
        while True:
            if after >= cap:
                # Every reachable result shares the anchor timestamp. If that is all of them,
                # go on strictly after it; if not, search cannot reach the rest.
                sharing = self._count_at(spec, anchor)
                if sharing > cap:
                    raise VendorError(
                        f"{sharing} {spec.name} share {spec.cursor_field} = {anchor}, more than the "
                        f"{cap} results HubSpot's search can page through, so the incremental read "
                        "cannot get past that timestamp. Reset this stream's state to run a full read.",
                        connector=self.instance,
                        stream=spec.name,
                    )
                after, past_anchor = 0, True
            body = self._search(spec, wanted, anchor, after, limit, operator="GT" if past_anchor else "GTE")
            results = body.get("results", [])
            records = []
            for obj in results:
                record = self._record(spec, obj, wanted)
                stamp = _iso(record.updated_at) if record.updated_at else None
                if stamp is None or checkpoint.admit(record.id, stamp):
                    records.append(record)
            self._fill_associations(spec, records)
            more = _next_after(body) is not None and bool(results)
            if checkpoint.since != anchor:
                anchor, after, past_anchor = checkpoint.since, 0, False
            else:
                after += len(results)  # the whole page shared the anchor timestamp
            state = {**checkpoint.dump(), **deleted}
            if not more:
                yield Page(records, {**state, "phase": "tombstones"})
                break
            yield Page(records, state)
        yield from self._read_tombstones(spec, {**checkpoint.dump(), **deleted})

    def _read_tombstones(self, spec: Stream, state: dict[str, Any]) -> Iterator[Page]:
        # Cost: HubSpot cannot filter archived records by archivedAt, so every incremental read
        # pages through all archived records it still keeps (about 90 days' worth), 100 a call.
        base = {"since": state["since"], "seen": list(state.get("seen", ()))}
        deleted_since = state.get("deleted_since") or state["since"]
        # The next scan starts a margin before this one (archives made while it runs are not
        # missed); the ids this scan met inside that margin are skipped then, not sent twice.
        already = set(state.get("deleted_seen", ()))
        started = state.get("tombstones_started") or _iso(
            datetime.now(UTC) - timedelta(seconds=self.settings.full_read_overlap_seconds)
        )
        recent = set(state.get("tombstones_recent", ()))
        after = state.get("after")
        wanted = self._properties(spec.name)
        threshold, margin = _parse_time(deleted_since), _parse_time(started)
        while True:
            body = self._list(spec.name, wanted, after=after, archived=True)
            records = []
            for obj in body.get("results", []):
                record = self._record(spec, obj, wanted, deleted=True)
                when = record.updated_at
                # Keyed by id and archivedAt: a record restored and archived again is news.
                key = f"{record.id}@{_iso(when) if when else ''}"
                if when is not None and margin is not None and when >= margin:
                    recent.add(key)
                if threshold is not None and when is not None and when < threshold:
                    continue
                if key not in already:
                    records.append(record)
            after = _next_after(body)
            if not after:
                yield Page(records, {**base, "deleted_since": started, "deleted_seen": sorted(recent)})
                return
            yield Page(
                records,
                {**base, "phase": "tombstones", "after": after, "deleted_since": deleted_since,
                 "deleted_seen": sorted(already), "tombstones_started": started,
                 "tombstones_recent": sorted(recent)},
            )

    def _list(
        self, stream: str, wanted: list[str], *, after: str | None, archived: bool, associations: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "limit": self.settings.page_size,
            "properties": ",".join(wanted),
            "archived": "true" if archived else "false",
        }
        if associations:
            params["associations"] = associations
        if after:
            params["after"] = after
        response = self.http.get(f"/crm/v3/objects/{stream}", params=params, stream=stream)
        return self._object(response, stream)

    def _search(
        self,
        spec: Stream,
        wanted: list[str],
        since: str | None,
        after: int,
        limit: int,
        *,
        operator: str = "GTE",
    ) -> dict[str, Any]:
        moment = _parse_time(since)
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": spec.cursor_field, "operator": operator,
                              "value": str(_epoch_ms(moment) if moment else 0)}]}
            ],
            "sorts": [{"propertyName": spec.cursor_field, "direction": "ASCENDING"}],
            "properties": wanted,
            "limit": limit,
            "after": str(after),
        }
        response = self.http.post(
            f"/crm/v3/objects/{spec.name}/search", json=body, stream=spec.name, budget=self._search_budget
        )
        return self._object(response, spec.name)

    def _fill_associations(self, spec: Stream, records: list[Record]) -> None:
        """Set the association field of ``records`` read by search (one call per 1000)."""
        assoc = ASSOCIATIONS.get(spec.name)
        if not assoc or not records:
            return
        linked = self._read_associations(spec.name, assoc, [r.id for r in records])
        for record in records:
            record.data[assoc.field] = next(iter(linked.get(record.id, ())), None)

    def _read_associations(self, stream: str, assoc: Association, ids: list[str]) -> dict[str, list[str]]:
        """Record id -> ids of the associated ``assoc.to`` records, in HubSpot's order.

        Ids without any association come back in a 207's ``errors`` (NO_ASSOCIATIONS_FOUND): they
        are simply absent here.
        """
        out: dict[str, list[str]] = {}
        for start in range(0, len(ids), MAX_ASSOCIATION_READ):
            inputs = [{"id": i} for i in ids[start:start + MAX_ASSOCIATION_READ]]
            response = self.http.post(
                f"/crm/v4/associations/{stream}/{assoc.to}/batch/read", json={"inputs": inputs}, stream=stream
            )
            for result in self._object(response, stream).get("results") or []:
                source = str((result.get("from") or {}).get("id") or "")
                targets = [str(t["toObjectId"]) for t in result.get("to") or [] if t.get("toObjectId") is not None]
                if source:
                    out.setdefault(source, []).extend(targets)
        return out

    def _count_at(self, spec: Stream, stamp: str | None) -> int:
        """How many records have exactly ``stamp`` as modification time."""
        body = self._search(spec, ["hs_object_id"], stamp, 0, 1, operator="EQ")
        return int(body.get("total") or 0)

    def _object(self, response: httpx.Response, stream: str) -> dict[str, Any]:
        body = self.http.json(response, stream=stream)
        if not isinstance(body, dict):
            raise VendorError(
                f"{response.request.method} {response.request.url.path} answered a JSON "
                f"{type(body).__name__} where an object was expected",
                connector=self.instance,
                stream=stream,
                status=response.status_code,
            )
        return body

    # -- writes --------------------------------------------------------------------------
    def _bisect(
        self,
        stream: str,
        send: _Send,
        items: list[tuple[int, WriteOp]],
    ) -> dict[int, WriteResult]:
        """Send ``items``; when HubSpot refuses the batch for a record's sake, split it in halves
        until the refused record(s) stand alone and fail with HubSpot's reason."""
        if not items:
            return {}
        try:
            return send(stream, items)
        except VendorError as exc:
            if exc.status not in (400, 409):
                raise
            failure = self._failure(exc)
            self._raise_if_misconfigured(stream, failure)
            if len(items) == 1:
                index, op = items[0]
                return {index: WriteResult(op.key, "failed", op.target_id, error=failure.message, field=failure.field)}
            middle = len(items) // 2
            return {**self._bisect(stream, send, items[:middle]), **self._bisect(stream, send, items[middle:])}

    def _upsert_chunk(self, stream: str, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        id_property = self.settings.id_property
        inputs = [
            {"idProperty": id_property, "id": op.key,
             "properties": {**self._wire_properties(stream, op.fields), id_property: op.key}}
            for _, op in items
        ]
        body = self._post_batch(stream, "upsert", inputs)
        out = self._match_by_key(items, body, lambda found: "created" if found.get("new") else "updated")
        # upsert takes no associations: make them now (associating a pair again changes nothing)
        self._associate(stream, [(r.target_id, to) for (_, op), r in _written(items, out)
                                 if (to := self._association_target(stream, op)) and r.target_id])
        return out

    def _create_chunk(self, stream: str, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        """Create records with their association inline; records already created under these
        keys (a retried batch) make HubSpot refuse the batch with 409: upsert it instead."""
        id_property = self.settings.id_property
        assoc = ASSOCIATIONS[stream]
        inputs = []
        for _, op in items:
            entry: dict[str, Any] = {"properties": {**self._wire_properties(stream, op.fields), id_property: op.key}}
            to = self._association_target(stream, op)
            if to:
                entry["associations"] = [{"to": {"id": to}, "types": [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": assoc.type_id}]}]
            inputs.append(entry)
        try:
            body = self._post_batch(stream, "create", inputs)
        except VendorError as exc:
            if exc.status != 409:
                raise
            return self._upsert_chunk(stream, items)
        return self._match_by_key(items, body, lambda found: "created")

    def _match_by_key(
        self,
        items: list[tuple[int, WriteOp]],
        body: dict[str, Any],
        status: Callable[[dict[str, Any]], _Written],
    ) -> dict[int, WriteResult]:
        """Pair the results of a create or upsert with the ops by the key they echo in
        ``id_property``."""
        id_property = self.settings.id_property
        results = body.get("results", [])
        by_key = {str((r.get("properties") or {}).get(id_property)): r for r in results}
        # Results come in no guaranteed order and are matched by the key they echo; any that do
        # not echo it are paired with the unmatched inputs in order (a 200 means all succeeded).
        keys = {op.key for _, op in items}
        spare = iter([r for r in results if str((r.get("properties") or {}).get(id_property)) not in keys])
        out: dict[int, WriteResult] = {}
        for index, op in items:
            found = by_key.get(op.key) or next(spare, None)
            if found is None:
                out[index] = WriteResult(op.key, "failed", None, error=_batch_error(body, None))
            else:
                out[index] = WriteResult(op.key, status(found), str(found["id"]))
        return out

    def _update_chunk(self, stream: str, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        inputs = [{"id": str(op.target_id), "properties": self._wire_properties(stream, op.fields)}
                  for _, op in items]
        body = self._post_batch(stream, "update", inputs)
        done = {str(r.get("id")) for r in body.get("results", [])}
        out: dict[int, WriteResult] = {}
        for index, op in items:
            if str(op.target_id) in done:
                out[index] = WriteResult(op.key, "updated", str(op.target_id))
            else:
                out[index] = WriteResult(op.key, "failed", op.target_id, error=_batch_error(body, str(op.target_id)))
        self._repoint(stream, [(r.target_id, to) for (_, op), r in _written(items, out)
                               if (to := self._association_target(stream, op)) and r.target_id])
        return out

    # -- associations --------------------------------------------------------------------
    def _wire_properties(self, stream: str, fields: dict[str, Any]) -> dict[str, str]:
        """The op's fields as HubSpot properties: the synthetic association field is no property."""
        assoc = ASSOCIATIONS.get(stream)
        return {name: _wire(value) for name, value in fields.items() if not (assoc and name == assoc.field)}

    @staticmethod
    def _association_target(stream: str, op: WriteOp) -> str | None:
        """The id the op associates its record with, if the stream has an association."""
        assoc = ASSOCIATIONS.get(stream)
        value = op.fields.get(assoc.field) if assoc else None
        return None if value in (None, "") else _wire(value)

    def _associate(self, stream: str, pairs: list[tuple[str, str]]) -> None:
        """Associate each ``(record id, target id)`` pair (HubSpot keeps a pair once)."""
        assoc = ASSOCIATIONS.get(stream)
        if not assoc or not pairs:
            return
        kind = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": assoc.type_id}]
        inputs = [{"from": {"id": source}, "to": {"id": target}, "types": kind} for source, target in pairs]
        self._post_associations(stream, assoc, "create", inputs)

    def _repoint(self, stream: str, pairs: list[tuple[str, str]]) -> None:
        """Make each target the one record the record is associated with (of ``assoc.to``):
        the others are removed, so the record reads back with that target."""
        assoc = ASSOCIATIONS.get(stream)
        if not assoc or not pairs:
            return
        current = self._read_associations(stream, assoc, [source for source, _ in pairs])
        stale = [{"from": {"id": source}, "to": [{"id": t} for t in current.get(source, []) if t != target]}
                 for source, target in pairs]
        self._post_associations(stream, assoc, "archive", [s for s in stale if s["to"]])
        self._associate(stream, [(source, target) for source, target in pairs
                                 if target not in current.get(source, [])])

    def _post_associations(self, stream: str, assoc: Association, action: str, inputs: list[dict[str, Any]]) -> None:
        for start in range(0, len(inputs), MAX_ASSOCIATION_WRITE):
            response = self.http.post(
                f"/crm/v4/associations/{stream}/{assoc.to}/batch/{action}",
                json={"inputs": inputs[start:start + MAX_ASSOCIATION_WRITE]},
                stream=stream,
            )
            if response.status_code != 207 or not response.content:
                continue
            # A multi-status names the inputs it could not associate: refuse the batch like a 400,
            # so the write bisects down to the op(s) at fault (rewriting the rest is idempotent).
            errors = [e for e in self._object(response, stream).get("errors") or [] if isinstance(e, dict)]
            if errors:
                first = errors[0]
                message = str(first.get("message") or first.get("category") or "association refused")
                raise VendorError(
                    f"{action} of {assoc.to} associations: {message}",
                    connector=self.instance, stream=stream, status=400,
                    body=json.dumps({"message": message, "category": first.get("category")}),
                )

    def _archive_chunk(self, stream: str, items: list[tuple[int, WriteOp]]) -> dict[int, WriteResult]:
        self._post_batch(stream, "archive", [{"id": str(op.target_id)} for _, op in items])
        return {index: WriteResult(op.key, "deleted", str(op.target_id)) for index, op in items}

    def _post_batch(self, stream: str, action: str, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        if len(inputs) > MAX_BATCH_INPUTS:  # a programming error: chunking must prevent it
            raise ValueError(f"HubSpot batches take at most {MAX_BATCH_INPUTS} inputs, got {len(inputs)}")
        response = self.http.post(f"/crm/v3/objects/{stream}/batch/{action}", json={"inputs": inputs}, stream=stream)
        if response.status_code == 204 or not response.content:
            return {}
        return self._object(response, stream)

    def _failure(self, exc: VendorError) -> _Failure:
        """HubSpot's reason for a refused request, from its whole error body."""
        raw = exc.body
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict) or not body.get("message"):
            return _Failure(exc.reason, None, None)
        message = str(body["message"])
        details = [d for d in body.get("errors") or [] if isinstance(d, dict) and d.get("message")]
        if not details:
            details = _verdicts_in(message)
        field = code = None
        # "Error creating NOTE. Some required properties were not set." names them in context.
        named = (body.get("context") or {}).get("properties") if isinstance(body.get("context"), dict) else None
        if isinstance(named, list) and named:
            field = str(named[0])
            message = f"{message} ({', '.join(map(str, named))})"
        for detail in details:
            names = (detail.get("context") or {}).get("propertyName") or []
            field = field or (names[0] if names else None)
            code = code or detail.get("code")
        if details:
            # The per-property verdicts say it best ("Email address x is invalid").
            message = "; ".join(f"{d['code']}: {d['message']}" if d.get("code") else d["message"] for d in details)
        return _Failure(self.http.redact(message), field, code)

    def _raise_if_misconfigured(self, stream: str, failure: _Failure) -> None:
        """A missing ``id_property`` (or custom property the hub writes) fails every record
        alike: say how to fix it, once."""
        if failure.code != "PROPERTY_DOESNT_EXIST":
            return
        if failure.field == self.settings.id_property:
            raise ConfigError(
                f"HubSpot {stream} have no property {self.settings.id_property!r}. Create it in HubSpot "
                "(Settings > Properties: single-line text, 'Require unique values' on) for contacts, "
                "companies and notes, or set connectors.<name>.settings.id_property to an existing unique "
                "property.",
                key=f"connectors.{self.instance}.settings.id_property",
            )
        if failure.field in CUSTOM_PROPERTIES.get(stream, ()):
            raise ConfigError(
                f"HubSpot {stream} have no property {failure.field!r}, which the hub writes "
                f"(mappings/hubspot.yaml). Create it in HubSpot (Settings > Properties, object: {stream}).",
                key=f"connectors.{self.instance}.mapping",
            )


# -- helpers -----------------------------------------------------------------------------
def _iso(moment: datetime) -> str:
    """The one timestamp format of states and checkpoints: UTC, milliseconds, ``Z``.

    Fixed width, so string order is time order (TimestampCheckpoint compares strings).
    """
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_time(value: Any) -> datetime | None:
    """An aware datetime from HubSpot's ISO timestamps or epoch milliseconds."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _next_after(body: dict[str, Any]) -> str | None:
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def _wire(value: Any) -> str:
    """A field value as HubSpot takes it: every property value is a string; "" clears."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return ";".join(_wire(v) for v in value)  # multi-select properties
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)



def _written(
    items: list[tuple[int, WriteOp]], results: dict[int, WriteResult]
) -> Iterator[tuple[tuple[int, WriteOp], WriteResult]]:
    """The items written successfully, with their results."""
    for item in items:
        result = results.get(item[0])
        if result is not None and result.ok:
            yield item, result


def _batch_error(body: dict[str, Any], record_id: str | None) -> str:
    """The 207 error that names ``record_id`` (or the first one), as text."""
    errors = body.get("errors") or []
    for error in errors:
        ids = (error.get("context") or {}).get("ids") or []
        if record_id is not None and record_id in ids:
            return str(error.get("message") or error.get("category"))
    if errors:
        return str(errors[0].get("message") or errors[0].get("category"))
    return "HubSpot returned no result for this record"


def _verdicts_in(message: str) -> list[dict[str, Any]]:
    """The verdicts HubSpot embeds as JSON in a VALIDATION_ERROR message, as ErrorDetails."""
    start = message.find("[")
    if start < 0:
        return []
    try:
        verdicts = json.loads(message[start:])
    except ValueError:
        return []
    return [
        {"message": str(v.get("message") or v.get("error")), "code": v.get("error"),
         "context": {"propertyName": [str(v["name"])]} if v.get("name") else {}}
        for v in verdicts if isinstance(verdicts, list) and isinstance(v, dict)
    ]
