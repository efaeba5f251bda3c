"""The Zendesk Support connector: users, organizations (read and write) and tickets (read).

Reads use the incremental export API, the one Zendesk recommends for syncing: cursor-based for
users and tickets, time-based for organizations (the only kind that endpoint has). Those
endpoints have their own limit of 10 requests a minute, so they draw on a second request budget
besides the account one.

Writes use the bulk endpoints (at most 100 records a call), which queue background jobs; the
connector keeps up to 30 jobs in flight (Zendesk's job limit per account) and polls them
together with ``job_statuses/show_many``. Creates are idempotent: users go through
``create_or_update_many`` with the hub key as ``external_id``, and an organization create that
collides with an existing one (a retried batch) is turned into an update of that organization.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import Field, SecretStr, model_validator

from hub import http as hub_http
from hub.connector import (
    DEFAULT_BUDGET,
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
    WriteOp,
    WriteResult,
)
from hub.errors import ConfigError, ConnectorError, RetriableError, VendorError
from hub.http import RequestBudget

if TYPE_CHECKING:
    import httpx

try:  # Python 3.12+
    from typing import override
except ImportError:  # pragma: no cover - Python 3.11
    from typing_extensions import override

BULK_LIMIT = 100  # records per *_many call (documented)
SHOW_MANY_LIMIT = 100  # job ids per job_statuses/show_many call (documented)
JOB_LIMIT = 30  # queued or running jobs per account (documented "Job limit")
JOB_TIMEOUT_SECONDS = 900.0  # give up on a job after this much polling (statuses live for an hour)
MAX_POLL_WAIT = 30.0
MAX_POLL_ROUNDS = 200
MAX_SEEN = 10_000  # records of one second remembered to skip their repeat (more: they come twice)
TERMINAL_JOB_STATES = frozenset({"completed", "failed", "killed"})

# Fields Zendesk sets itself: never sent in a write.
READ_ONLY = {
    "users": frozenset({"id", "url", "created_at", "updated_at", "active", "last_login_at", "photo"}),
    "organizations": frozenset({"id", "url", "created_at", "updated_at", "deleted_at"}),
}
ID_FIELDS = frozenset({"organization_id", "group_id", "default_group_id", "custom_role_id"})
CUSTOM_FIELD_MAPS = {"users": "user_fields", "organizations": "organization_fields"}

_S, _I, _T, _A = "string", "integer", "datetime", "array"
STANDARD_FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {  # (name, type, writable)
    "users": (
        ("id", _I, False), ("url", _S, False), ("name", _S, True), ("email", _S, True),
        ("phone", _S, True), ("organization_id", _I, True), ("role", _S, True),
        ("external_id", _S, True), ("tags", _A, True), ("notes", _S, True), ("details", _S, True),
        ("time_zone", _S, True), ("locale", _S, True), ("alias", _S, True),
        ("verified", "boolean", True), ("active", "boolean", False),
        ("created_at", _T, False), ("updated_at", _T, False),
    ),
    "organizations": (
        ("id", _I, False), ("url", _S, False), ("name", _S, True), ("domain_names", _A, True),
        ("external_id", _S, True), ("details", _S, True), ("notes", _S, True), ("tags", _A, True),
        ("group_id", _I, True), ("created_at", _T, False), ("updated_at", _T, False),
        ("deleted_at", _T, False),
    ),
    "tickets": (
        ("id", _I, False), ("url", _S, False), ("subject", _S, False), ("description", _S, False),
        ("status", _S, False), ("priority", _S, False), ("type", _S, False),
        ("via.channel", _S, False), ("requester_id", _I, False), ("submitter_id", _I, False),
        ("assignee_id", _I, False), ("organization_id", _I, False), ("tags", _A, False),
        ("created_at", _T, False), ("updated_at", _T, False), ("due_at", _T, False),
    ),
}
CUSTOM_FIELD_TYPES = {
    "text": _S, "textarea": _S, "regexp": _S, "dropdown": "enum", "tagger": "enum",
    "multiselect": _A, "checkbox": "boolean", "date": "date", "integer": _I, "decimal": "number",
    "lookup": _I,
}
_DETAILS_FIELD = re.compile(r"^\s*([A-Za-z][A-Za-z _]*?)\s*:")


class ZendeskSettings(ConnectorSettings):
    """Settings of a Zendesk Support account.

    Attributes:
        base_url: the API root; empty means ``https://{subdomain}.zendesk.com``.
        subdomain: the account's subdomain (``acme`` for acme.zendesk.com).
        email: the email of the agent or admin the API token belongs to.
        api_token: an API token (Admin Center > Apps and integrations > Zendesk API).
        page_size: records per incremental-export page (at most 1000).
        incremental_rpm: requests a minute allowed to the incremental exports (documented: 10;
            30 with the High Volume add-on); 0 applies no budget beyond the account one.
        job_poll_interval: seconds to wait before polling background jobs again while some are
            unfinished (growing 1.5 times a round, up to 30 s); the first poll is immediate.
    """

    base_url: str = ""
    subdomain: str = ""
    email: str = ""
    api_token: SecretStr = SecretStr("")
    page_size: int = Field(1000, ge=1, le=1000)
    incremental_rpm: int = Field(10, ge=0)
    job_poll_interval: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _derive_base_url(self) -> Self:
        if not self.base_url:
            if not self.subdomain:
                raise ValueError("set either subdomain (acme for acme.zendesk.com) or base_url")
            self.base_url = f"https://{self.subdomain}.zendesk.com"
        self.base_url = self.base_url.rstrip("/")
        return self


@dataclass(eq=False)
class _Plan:
    """One batch on its way: the jobs carrying its ops and, once they are done, its results."""

    batch: list[WriteOp]
    results: list[WriteResult | None]
    jobs: list[_Job] = field(default_factory=list)

    def done(self) -> bool:
        return all(job.sent and (job.id is None or job.status is not None) for job in self.jobs)


@dataclass(eq=False)
class _Job:
    """One bulk call and the background job it queued. Its ops may come from several batches
    (a batch's 90 updates and the next one's 10 go out as one call of 100)."""

    kind: Literal["upsert", "create", "update", "delete"]
    ops: list[tuple[_Plan, int]] = field(default_factory=list)  # (batch, index in it), in the order sent
    payload: list[dict[str, Any]] = field(default_factory=list)
    sent: bool = False
    id: str | None = None  # None once sent: the call was refused (the ops' results say why)
    status: dict[str, Any] | None = None  # the job status once it is final

    def add(self, plan: _Plan, pos: int, payload: dict[str, Any]) -> None:
        self.ops.append((plan, pos))
        self.payload.append(payload)
        if self not in plan.jobs:
            plan.jobs.append(self)


class Zendesk(Connector):
    """Zendesk Support: users and organizations both ways, tickets read-only."""

    name = "zendesk"
    kind = Kind.HELPDESK
    Settings = ZendeskSettings
    streams = (
        Stream("users", primary_key="id", cursor_field="updated_at",
               capabilities=READ | INCREMENTAL | UPSERT | TOMBSTONES, batch_size=BULK_LIMIT),
        Stream("organizations", primary_key="id", cursor_field="updated_at",
               capabilities=READ | INCREMENTAL | UPSERT | TOMBSTONES, batch_size=BULK_LIMIT),
        Stream("tickets", primary_key="id", cursor_field="updated_at",
               capabilities=READ | INCREMENTAL | TOMBSTONES, batch_size=BULK_LIMIT),
    )
    rate_limit = RateLimit(200, 60.0)  # the lowest plan's published limit (Team)

    settings: ZendeskSettings

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        instance: str | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: RequestBudget | DefaultBudget | None = DEFAULT_BUDGET,
    ) -> None:
        self._credential = ""
        super().__init__(settings, instance=instance, transport=transport, budget=budget)
        # The Authorization header carries base64(email/token:TOKEN), not the token itself:
        # redact that form too, wherever a message could echo it.
        if self._credential:
            self.http.secrets.append(self._credential)
        rpm = getattr(settings, "incremental_rpm", 0)
        self.incremental_budget = RequestBudget(rpm, 60.0) if rpm > 0 else None

    # -- connector API -------------------------------------------------------------------
    @override
    def auth_headers(self) -> dict[str, str]:
        """Basic auth with an API token (``{email}/token:{token}``).

        Raises:
            MissingSecretError: the email or the token is not configured.
        """
        email = self.settings.require("email", connector=self.instance)
        token = self.settings.require("api_token", connector=self.instance)
        self._credential = base64.b64encode(f"{email}/token:{token}".encode()).decode()
        return {"Authorization": f"Basic {self._credential}", "Accept": "application/json"}

    @override
    def check(self) -> CheckResult:
        """Ask ``users/me``: Zendesk answers the anonymous user when it did not accept the token."""
        try:
            body = self.http.json(self.http.get("/api/v2/users/me.json"))
        except ConnectorError as exc:
            return CheckResult(False, f"checking Zendesk at {self.settings.base_url} failed: {exc.reason}")
        user = body.get("user") or {}
        if user.get("id") is None or user.get("role") == "anonymous":
            return CheckResult(
                False,
                f"Zendesk at {self.settings.base_url} answered as the anonymous user: the email and "
                "API token were not accepted (check both, and that token access is enabled)",
            )
        return CheckResult(
            True, f"authenticated as {user.get('name')} <{user.get('email')}> (role {user.get('role')})"
        )

    @override
    def discover(self) -> dict[str, list[FieldInfo]]:
        """Standard fields, plus the account's custom user and organization fields
        (named ``user_fields.<key>`` / ``organization_fields.<key>``)."""
        out = {
            stream: [FieldInfo(name, type_, custom=False, writable=writable) for name, type_, writable in fields]
            for stream, fields in STANDARD_FIELDS.items()
        }
        for stream, kind in CUSTOM_FIELD_MAPS.items():
            for definition in self._list(f"/api/v2/{kind}.json", kind, stream):
                out[stream].append(
                    FieldInfo(
                        name=f"{kind}.{definition['key']}",
                        type=CUSTOM_FIELD_TYPES.get(definition.get("type", ""), _S),
                        label=definition.get("title"),
                        custom=True,
                        writable=bool(definition.get("active", True)),
                    )
                )
        return out

    @override
    def read(self, stream: str, state: dict[str, Any] | None) -> Iterator[Page]:
        """One page per incremental-export response.

        users and tickets: state ``{"cursor": after_cursor}`` (cursor-based export; a full read
        starts at ``start_time=0``). organizations: state ``{"start_time": end_time, "seen":
        {id: digest}}`` (time-based export, which starts each page at the last one's end_time:
        ``seen`` are the records of that second already read, passed over when they come
        again). Deactivated users, deleted tickets and deleted organizations come as tombstones.
        """
        self.stream(stream)  # unknown stream: a ConfigError naming the known ones
        if stream == "organizations":
            yield from self._read_time_based(stream, state)
        else:
            yield from self._read_cursor_based(stream, state)

    @override
    def write(self, stream: str, batch: Sequence[WriteOp]) -> list[WriteResult]:
        """Write one batch (see :meth:`write_batches`); one result per op, in order."""
        results = list(self.write_batches(stream, [batch]))
        return results[0] if results else []

    @override
    def write_batches(self, stream: str, batches: Iterable[Sequence[WriteOp]]) -> Iterator[list[WriteResult]]:
        """Write batches with up to 30 jobs in flight, polled together.

        The ops go out in bulk calls of 100 of one kind (create/upsert, update, delete), filled
        across batch boundaries, so n ops of one kind take ceil(n / 100) calls however they are
        batched. The jobs are polled only when 30 are in flight or the batches run out: one
        ``show_many`` round for all of them, at once (see :meth:`_poll`). Yields each batch's
        results, in order.
        """
        if not self.stream(stream).can(UPSERT):
            raise ConfigError(f"connector {self.name!r}: stream {stream!r} is read-only")
        window: list[_Plan] = []
        in_flight: list[_Job] = []
        filling: dict[str, _Job] = {}  # kind -> the job being filled

        def send(job: _Job) -> Iterator[list[WriteResult]]:
            nonlocal in_flight
            if len(in_flight) >= JOB_LIMIT:
                self._poll(in_flight, stream)
                in_flight = []
                while window and window[0].done():
                    yield self._resolve(stream, window.pop(0))
            self._submit(stream, job)
            if job.id is not None and job.status is None:
                in_flight.append(job)

        for batch in batches:
            plan = _Plan(list(batch), [None] * len(batch))
            window.append(plan)
            for pos, kind in self._kinds(stream, plan):
                job = filling.get(kind)
                if job is None:
                    job = filling[kind] = _Job(kind)  # type: ignore[arg-type]
                job.add(plan, pos, self._payload(stream, plan.batch[pos], kind))
                if len(job.ops) == BULK_LIMIT:
                    del filling[kind]
                    yield from send(job)
        for job in list(filling.values()):
            yield from send(job)
        self._poll(in_flight, stream)
        for plan in window:
            yield self._resolve(stream, plan)

    # -- reads ---------------------------------------------------------------------------
    def _read_cursor_based(self, stream: str, state: dict[str, Any] | None) -> Iterator[Page]:
        state = dict(state or {})
        cursor = state.get("cursor")
        path = f"/api/v2/incremental/{stream}/cursor.json"
        while True:
            params: dict[str, Any] = {"per_page": self.settings.page_size}
            if cursor:
                params["cursor"] = cursor
            else:
                params["start_time"] = int(state.get("start_time", 0))
            body = self._export(path, params, stream)
            after = body.get("after_cursor")
            if after:
                # Kept even at end_of_stream: the next run resumes from there.
                state = {"cursor": after}
            records = _records(stream, body.get(stream))
            yield Page(records, dict(state))
            if body.get("end_of_stream", True) or not after or after == cursor:
                return
            cursor = after

    def _read_time_based(self, stream: str, state: dict[str, Any] | None) -> Iterator[Page]:
        state = state or {}
        start_time = int(state.get("start_time", 0))
        seen = dict(state["seen"]) if isinstance(state.get("seen"), dict) else {}
        path = f"/api/v2/incremental/{stream}.json"
        while True:
            body = self._export(path, {"start_time": start_time, "per_page": self.settings.page_size}, stream)
            objects = body.get(stream) or []
            end_time = body.get("end_time")
            end_time = int(end_time) if end_time is not None else start_time
            # The next page starts *at* end_time, so Zendesk sends the records of that second
            # again (and again at the start of the next run). The state remembers them, by id
            # and content, so that they are passed over then -- unless they changed meanwhile.
            fresh: list[dict[str, Any]] = []
            boundary: dict[str, str] = {}
            for obj in objects:
                second = _epoch_second(obj.get("updated_at"))
                if second is not None and second in (start_time, end_time):
                    mark = _fingerprint(obj)
                    if second == end_time:
                        boundary[str(obj.get("id"))] = mark
                    if second == start_time and seen.get(str(obj.get("id"))) == mark:
                        continue  # read before
                fresh.append(obj)
            if end_time == start_time:
                boundary = {**seen, **boundary}
            seen = boundary if len(boundary) <= MAX_SEEN else {}
            yield Page(_records(stream, fresh), {"start_time": end_time, "seen": seen})
            if body.get("end_of_stream", True) or not objects:
                return
            if end_time <= start_time:
                raise VendorError(
                    f"incremental export did not advance past start_time={start_time}",
                    connector=self.instance,
                    stream=stream,
                )
            start_time = end_time

    def _export(self, path: str, params: dict[str, Any], stream: str) -> dict[str, Any]:
        response = self.http.get(path, params=params, stream=stream, budget=self.incremental_budget)
        body = self.http.json(response, stream=stream)
        if not isinstance(body, dict):
            raise VendorError(f"GET {path} answered {type(body).__name__}, not an object",
                              connector=self.instance, stream=stream)
        return body

    def _list(self, path: str, key: str, stream: str) -> Iterator[dict[str, Any]]:
        url: str | None = path
        while url:
            body = self.http.json(self.http.get(url, stream=stream), stream=stream)
            yield from body.get(key) or ()
            url = body.get("next_page")

    # -- writes --------------------------------------------------------------------------
    def _kinds(self, stream: str, plan: _Plan) -> list[tuple[int, str]]:
        """Which bulk call each op of a batch goes in, grouped by kind (the order they are sent
        in); an op that cannot be sent gets its failed result at once instead."""
        groups: dict[str, list[int]] = {"upsert": [], "create": [], "update": [], "delete": []}
        for pos, op in enumerate(plan.batch):
            if op.action in ("delete", "archive"):
                if op.target_id is None:
                    plan.results[pos] = WriteResult(
                        op.key, "failed", error="cannot delete: the record is not known in Zendesk (no target id)"
                    )
                else:
                    groups["delete"].append(pos)
            elif op.target_id is not None:
                groups["update"].append(pos)
            else:
                groups["upsert" if stream == "users" else "create"].append(pos)
        return [(pos, kind) for kind, positions in groups.items() for pos in positions]

    def _payload(self, stream: str, op: WriteOp, kind: str) -> dict[str, Any]:
        if kind == "delete":
            return {"id": _vendor_id(op.target_id)}
        fields = _nest(op.fields)
        for name in READ_ONLY.get(stream, ()):
            fields.pop(name, None)
        for name in ID_FIELDS & fields.keys():
            fields[name] = _vendor_id(fields[name])
        if kind == "update":
            return {"id": _vendor_id(op.target_id), **fields}
        # The hub key as external_id makes the create idempotent: Zendesk matches an existing
        # user by email or external_id, so a retried batch updates instead of duplicating.
        return {**fields, "external_id": op.key}

    def _submit(self, stream: str, job: _Job) -> None:
        job.sent = True
        if job.kind == "upsert":
            method, path, kw = "POST", f"/api/v2/{stream}/create_or_update_many.json", {"json": {stream: job.payload}}
        elif job.kind == "create":
            method, path, kw = "POST", f"/api/v2/{stream}/create_many.json", {"json": {stream: job.payload}}
        elif job.kind == "update":
            method, path, kw = "PUT", f"/api/v2/{stream}/update_many.json", {"json": {stream: job.payload}}
        else:
            ids = ",".join(str(p["id"]) for p in job.payload)
            method, path, kw = "DELETE", f"/api/v2/{stream}/destroy_many.json", {"params": {"ids": ids}}
        try:
            response = self.http.request(method, path, stream=stream, **kw)
        except VendorError as exc:
            # The whole call was refused (e.g. 400/422): every record of it failed, for the same reason.
            for plan, pos in job.ops:
                plan.results[pos] = WriteResult(plan.batch[pos].key, "failed", plan.batch[pos].target_id, exc.reason)
            return
        status = (self.http.json(response, stream=stream) or {}).get("job_status") or {}
        if not status.get("id"):
            raise VendorError(f"{method} {path} answered without a job_status", connector=self.instance, stream=stream)
        job.id = str(status["id"])
        if status.get("status") in TERMINAL_JOB_STATES and status.get("results") is not None:
            job.status = status

    def _poll(self, jobs: list[_Job], stream: str) -> None:
        """Wait until every job is final.

        Each round asks ``show_many`` about all the unfinished jobs (one call per 100 of them).
        The first round is immediate -- jobs are often done by the time the last of a window
        is submitted, and a sandbox runs them at once -- and only a round that still finds
        unfinished jobs is followed by a wait (``job_poll_interval``, growing 1.5 times a round).
        """
        pending = [job for job in jobs if job.id is not None and job.status is None]
        waited, rounds = 0.0, 0
        while pending:
            if rounds:
                wait = min(self.settings.job_poll_interval * 1.5 ** (rounds - 1), MAX_POLL_WAIT)
                hub_http.sleep(wait)
                waited += wait
            rounds += 1
            by_id: dict[str, dict[str, Any]] = {}
            for start in range(0, len(pending), SHOW_MANY_LIMIT):
                ids = ",".join(str(job.id) for job in pending[start : start + SHOW_MANY_LIMIT])
                body = self.http.json(
                    self.http.get("/api/v2/job_statuses/show_many.json", params={"ids": ids}, stream=stream),
                    stream=stream,
                )
                statuses = body.get("job_statuses") if isinstance(body, dict) else None
                by_id.update((str(s.get("id")), s) for s in statuses or () if isinstance(s, dict))
            for job in pending:
                found = by_id.get(str(job.id))
                if found and found.get("status") in TERMINAL_JOB_STATES:
                    job.status = found
            pending = [job for job in pending if job.status is None]
            if pending and (waited >= JOB_TIMEOUT_SECONDS or rounds >= MAX_POLL_ROUNDS):
                for job in pending:
                    message = f"job {job.id} did not finish after {waited:.0f}s of polling"
                    job.status = {"status": "failed", "message": message}
                return

    def _resolve(self, stream: str, plan: _Plan) -> list[WriteResult]:
        """Turn the jobs' reports into one result per op (adopting taken organizations)."""
        taken: list[int] = []
        for job in plan.jobs:
            if job.id is None or job.status is None:
                continue
            for (owner, pos), result in zip(job.ops, _job_results(job), strict=True):
                if owner is not plan:
                    continue
                op = plan.batch[pos]
                plan.results[pos] = _write_result(stream, op, job.kind, result, job.status)
                if job.kind == "create" and result is not None and _name_taken(result):
                    taken.append(pos)
        if taken:
            self._adopt_organizations(stream, plan, taken)
        # a plan and its jobs point at each other: a cycle that would keep a window's ops and
        # payloads for the cyclic collector; the plan is answered, so let go of its jobs
        plan.jobs.clear()
        return [
            r if r is not None else WriteResult(plan.batch[i].key, "failed", error="no result reported")
            for i, r in enumerate(plan.results)
        ]

    def _adopt_organizations(self, stream: str, plan: _Plan, positions: list[int]) -> None:
        """Creates refused because the name exists: update that organization instead.

        This is what makes a retried create batch idempotent. The organization is found by
        external_id (ours, from an earlier attempt) and else by name, and adopted only when it
        carries no other external_id.
        """
        job = _Job("update")
        for pos in positions:
            op = plan.batch[pos]
            found = self._search_organization(stream, external_id=op.key)
            if found is None and op.fields.get("name"):
                candidate = self._search_organization(stream, name=str(op.fields["name"]))
                if candidate is not None and candidate.get("external_id") in (None, "", op.key):
                    found = candidate
            if found is None:
                continue  # keep the vendor's "name taken" failure
            job.ops.append((plan, pos))
            job.payload.append({**self._payload(stream, op, "create"), "id": found["id"]})
        for start in range(0, len(job.ops), BULK_LIMIT):
            chunk = _Job("update", job.ops[start : start + BULK_LIMIT], job.payload[start : start + BULK_LIMIT])
            self._submit(stream, chunk)
            self._poll([chunk], stream)
            if chunk.id is None or chunk.status is None:
                continue
            for (_, pos), result in zip(chunk.ops, _job_results(chunk), strict=True):
                plan.results[pos] = _write_result(stream, plan.batch[pos], "update", result, chunk.status)

    def _search_organization(self, stream: str, **query: str) -> dict[str, Any] | None:
        try:
            body = self.http.json(
                self.http.get("/api/v2/organizations/search.json", params=query, stream=stream), stream=stream
            )
        except (VendorError, RetriableError):
            return None
        found = body.get("organizations") or []
        return found[0] if found else None


# -- helpers ---------------------------------------------------------------------------------
def _records(stream: str, objects: Iterable[dict[str, Any]] | None) -> list[Record]:
    """An export page's objects as records (deactivated users, deleted tickets and deleted
    organizations as tombstones). Per record: a dict lookup or two, and a timestamp parsed
    once per distinct value (a page of a thousand usually has a handful)."""
    out: list[Record] = []
    for obj in objects or ():
        if stream == "users":
            deleted = obj.get("active") is False
        elif stream == "tickets":
            deleted = obj.get("status") == "deleted"
        else:
            deleted = bool(obj.get("deleted_at"))
        out.append(Record(str(obj["id"]), obj, _parse_time(obj.get("updated_at")), deleted))
    return out


def _epoch_second(value: Any) -> int | None:
    moment = _parse_time(value)
    return int(moment.timestamp()) if moment is not None else None


def _fingerprint(obj: dict[str, Any]) -> str:
    """A short digest of a record's content: a repeat of a record read before has the same."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, str):
        return _parse_iso(value)
    return _parse_iso(str(value))


@functools.lru_cache(maxsize=4096)
def _parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _vendor_id(value: Any) -> Any:
    """Zendesk ids are integers; the hub keeps them as strings."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def _nest(fields: dict[str, Any]) -> dict[str, Any]:
    """``{"user_fields.kana": v}`` -> ``{"user_fields": {"kana": v}}`` (mappings name nested
    vendor fields with dotted paths); nested dicts are copied, not shared."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        leaf = parts[-1]
        if isinstance(value, dict) and isinstance(node.get(leaf), dict):
            node[leaf].update(value)
        else:
            node[leaf] = dict(value) if isinstance(value, dict) else value
    return out


def _job_results(job: _Job) -> list[dict[str, Any] | None]:
    """The job's result for each op of the job, in the job's order.

    Zendesk lists results in request order; failures (and bulk-create results) carry
    ``index``, and update/delete results carry the record ``id``: use those when present.
    """
    status = job.status or {}
    raw = status.get("results")
    results = [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []
    by_index = {r["index"]: r for r in results if isinstance(r.get("index"), int)}
    by_id: dict[str, dict[str, Any]] = {}
    if job.kind in ("update", "delete"):
        for r in results:
            if r.get("id") is not None:
                by_id.setdefault(str(r["id"]), r)
    out: list[dict[str, Any] | None] = []
    for k in range(len(job.ops)):
        result = by_index.get(k)
        if result is None and job.kind in ("update", "delete"):
            result = by_id.get(str(job.payload[k].get("id")))
        if result is None and len(results) == len(job.ops):
            result = results[k]
        out.append(result)
    return out


def _write_result(
    stream: str, op: WriteOp, kind: str, result: dict[str, Any] | None, status: dict[str, Any]
) -> WriteResult:
    if result is None:
        message = status.get("message") or f"job ended {status.get('status', 'without a result')}"
        return WriteResult(op.key, "failed", op.target_id, f"Zendesk job: {message}")
    error = result.get("error") or result.get("errors")
    if error or result.get("success") is False or str(result.get("status", "")).lower() == "failed":
        details = result.get("details")
        return WriteResult(
            op.key,
            "failed",
            op.target_id,
            _error_text(error, details),
            _error_field(stream, op, details if details is not None else error),
        )
    target = str(result["id"]) if result.get("id") is not None else op.target_id
    if kind == "delete":
        return WriteResult(op.key, "deleted", target)
    vendor_status = str(result.get("status", "")).lower()
    if vendor_status == "created" or (not vendor_status and kind == "create"):
        return WriteResult(op.key, "created", target)
    return WriteResult(op.key, "updated", target)


def _error_text(error: Any, details: Any) -> str:
    if isinstance(details, dict):
        parts = [
            item.get("description", str(item)) if isinstance(item, dict) else str(item)
            for items in details.values()
            for item in (items if isinstance(items, list) else [items])
        ]
        details = "; ".join(parts)
    error = error if isinstance(error, str) else ("failed" if error in (None, "") else str(error))
    return f"{error}: {details}" if details else error


def _error_field(stream: str, op: WriteOp, details: Any) -> str | None:
    """The vendor field an error names ("Email: x is not properly formatted" -> email)."""
    if isinstance(details, dict) and details:
        candidates = [str(next(iter(details)))]
    elif isinstance(details, str) and (match := _DETAILS_FIELD.match(details)):
        name = match.group(1).strip().lower().replace(" ", "_")
        candidates = [name, f"{name}_id", f"{name}s"]
    else:
        return None
    fields = _nest(op.fields)
    custom = CUSTOM_FIELD_MAPS.get(stream)
    standard = {name for name, _, _ in STANDARD_FIELDS.get(stream, ())}
    for name in candidates:
        if name in fields:
            return name
        if custom and isinstance(fields.get(custom), dict) and name in fields[custom]:
            return f"{custom}.{name}"
    for name in candidates:
        if name in standard:
            return name
    return None


def _name_taken(result: dict[str, Any]) -> bool:
    text = f"{result.get('error', '')} {result.get('details', '')}"
    return "DuplicateValue" in text or "already been taken" in text
