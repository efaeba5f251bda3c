"""The connector API: what a connector plugin implements.

A connector is a class configured by class attributes::

    class HubSpot(Connector):
        name = "hubspot"
        kind = Kind.CRM
        Settings = HubSpotSettings            # pydantic model, secrets as SecretStr
        streams = (Stream("contacts", primary_key="id", cursor_field="lastmodifieddate",
                          capabilities=READ | INCREMENTAL | UPSERT | TOMBSTONES, batch_size=100),)
        rate_limit = RateLimit(100, 10.0)     # the vendor's published limit

It talks HTTP through ``self.http`` (a :class:`hub.http.HttpClient`) and never touches the
database. Reads yield :class:`Page` objects carrying the state needed to resume; writes take a
batch of :class:`WriteOp` and return one :class:`WriteResult` per op.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from hub.errors import ConfigError, MissingSecretError

if sys.version_info >= (3, 12):
    from typing import override
else:  # Python 3.11
    from typing_extensions import override

if TYPE_CHECKING:
    import httpx

    from hub.http import RequestBudget

__all__ = ["override"]  # re-exported for plugins: ``from hub.connector import override``


class Kind(enum.StrEnum):
    """What sort of tool a connector talks to."""

    CRM = "crm"
    SFA = "sfa"
    MA = "ma"
    CMS = "cms"
    HELPDESK = "helpdesk"


class Capability(enum.Flag):
    """What a stream can do."""

    READ = enum.auto()  # full read
    INCREMENTAL = enum.auto()  # read changes since a saved state
    UPSERT = enum.auto()  # batch create-or-update by a stable key
    DELETE = enum.auto()  # delete / archive records
    TOMBSTONES = enum.auto()  # reads report deleted records


READ = Capability.READ
INCREMENTAL = Capability.INCREMENTAL
UPSERT = Capability.UPSERT
DELETE = Capability.DELETE
TOMBSTONES = Capability.TOMBSTONES


@dataclass(frozen=True)
class Stream:
    """One kind of record a connector reads and/or writes.

    Attributes:
        name: the stream name used in mappings and config (``contacts``).
        primary_key: the vendor's id field.
        cursor_field: the field incremental reads advance on (None: full scans only).
        capabilities: what the stream supports.
        batch_size: the vendor's batch limit for writes.
    """

    name: str
    primary_key: str = "id"
    cursor_field: str | None = None
    capabilities: Capability = READ
    batch_size: int = 100

    def can(self, capability: Capability) -> bool:
        """Whether this stream has ``capability``."""
        return capability in self.capabilities


class DefaultBudget(enum.Enum):
    """The marker of "a budget for the connector's published ``rate_limit``"."""

    DEFAULT = "default"


# ``budget=DEFAULT_BUDGET``: a budget for the class's ``rate_limit``; ``budget=None``: none at all
# (the runtime passes None for sandbox fakes and for connectors configured with ``budget: false``)
DEFAULT_BUDGET = DefaultBudget.DEFAULT


@dataclass(frozen=True)
class RateLimit:
    """A vendor's published request limit: ``requests`` per ``per_seconds``."""

    requests: int
    per_seconds: float


@dataclass
class Record:
    """One vendor record as read.

    Attributes:
        id: the vendor's id (stringified).
        data: the vendor's fields, as the vendor names them.
        updated_at: the vendor's modification timestamp (timezone-aware), if it has one.
        deleted: True for a tombstone.
    """

    id: str
    data: dict[str, Any]
    updated_at: datetime | None = None
    deleted: bool = False


@dataclass
class Page:
    """A batch of records plus the state that resumes the read after them."""

    records: list[Record]
    state: dict[str, Any]


@dataclass
class WriteOp:
    """One record to write.

    Attributes:
        key: the hub's stable key for the record (its entity id); connectors use it for
            idempotent upserts (e.g. as an external id) so a retried batch creates no duplicate.
        target_id: the vendor id when the hub already knows the record in this tool.
        fields: vendor fields to set.
        action: ``upsert``, ``delete`` or ``archive``.
    """

    key: str
    target_id: str | None
    fields: dict[str, Any]
    action: Literal["upsert", "delete", "archive"] = "upsert"


@dataclass
class WriteResult:
    """What became of one :class:`WriteOp`."""

    key: str
    status: Literal["created", "updated", "deleted", "failed"]
    target_id: str | None = None
    error: str | None = None
    field: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


@dataclass
class CheckResult:
    """Outcome of :meth:`Connector.check`."""

    ok: bool
    message: str


@dataclass
class FieldInfo:
    """One field as :meth:`Connector.discover` reports it."""

    name: str
    type: str
    label: str | None = None
    custom: bool = False
    writable: bool = True


class ConnectorSettings(BaseModel):
    """Base of every connector's ``Settings``: secrets are ``SecretStr``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str

    def secret_values(self) -> list[str]:
        """Every secret's plain value, so that logs and errors can redact them."""
        out = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                out.append(value.get_secret_value())
        return out

    def require(self, name: str, *, connector: str) -> str:
        """Return secret ``name`` or raise an error saying which key / env var to set."""
        value = getattr(self, name, None)
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not plain:
            env = f"HUB_CONNECTORS__{connector.upper()}__SETTINGS__{name.upper()}"
            raise MissingSecretError(
                f"credential {name!r} is not set; set connectors.{connector}.settings.{name} "
                f"in hub.yaml (e.g. '${{MY_VAR}}') or the environment variable {env}",
                key=f"connectors.{connector}.settings.{name}",
            )
        return str(plain)


class Connector:
    """Base class of all connectors. Subclasses set the class attributes and override
    :meth:`check`, :meth:`discover`, :meth:`read`, :meth:`write` and :meth:`auth_headers`."""

    name: ClassVar[str]
    kind: ClassVar[Kind]
    Settings: ClassVar[type[ConnectorSettings]]
    streams: ClassVar[tuple[Stream, ...]]
    rate_limit: ClassVar[RateLimit | None] = None

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        instance: str | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: RequestBudget | DefaultBudget | None = DEFAULT_BUDGET,
    ) -> None:
        from hub.http import HttpClient, RequestBudget

        if budget is DEFAULT_BUDGET:
            budget = RequestBudget.for_limit(self.rate_limit) if self.rate_limit else None

        self.settings = settings
        self.instance = instance or self.name
        self.http = HttpClient(
            base_url=settings.base_url,
            connector=self.instance,
            headers=self.auth_headers(),
            transport=transport,
            budget=budget,
            secrets=settings.secret_values(),
            validate=self.validate_response,
        )

    # -- to override ---------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate every request."""
        return {}

    def validate_response(self, response: httpx.Response) -> None:
        """Raise for vendors that report errors inside a 200 (override when needed)."""

    def check(self) -> CheckResult:
        """Test the credentials with one cheap call."""
        raise NotImplementedError

    def discover(self) -> dict[str, list[FieldInfo]]:
        """List each stream's fields, custom ones included."""
        raise NotImplementedError

    def read(self, stream: str, state: dict[str, Any] | None) -> Iterator[Page]:
        """Yield pages of records; ``state=None`` means a full read.

        The state of each page must resume the read right after it, with no gap.
        """
        raise NotImplementedError

    def write(self, stream: str, batch: Sequence[WriteOp]) -> list[WriteResult]:
        """Write at most ``stream.batch_size`` ops; return one result per op, in order."""
        raise NotImplementedError

    def write_batches(self, stream: str, batches: Iterable[Sequence[WriteOp]]) -> Iterator[list[WriteResult]]:
        """Write several batches; yields the results of each batch, in order.

        The default calls :meth:`write` per batch. Vendors with asynchronous jobs override it
        to keep several jobs in flight and poll them together.
        """
        for batch in batches:
            yield self.write(stream, batch)

    # -- helpers -------------------------------------------------------------------------
    @classmethod
    def stream(cls, name: str) -> Stream:
        """The stream called ``name``."""
        for s in cls.streams:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in cls.streams)
        raise ConfigError(f"connector {cls.name!r} has no stream {name!r} (it has: {known})")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def distinct_batches(
    items: Sequence[tuple[int, WriteOp]], size: int, key: Callable[[WriteOp], str]
) -> Iterator[list[tuple[int, WriteOp]]]:
    """Batches of at most ``size`` (index, op) pairs whose ops' keys are distinct: vendors refuse,
    or fail both, when one call names a record twice."""
    chunk: list[tuple[int, WriteOp]] = []
    keys: set[str] = set()
    for item in items:
        k = key(item[1])
        if len(chunk) >= size or k in keys:
            yield chunk
            chunk, keys = [], set()
        chunk.append(item)
        keys.add(k)
    if chunk:
        yield chunk


@dataclass
class TimestampCheckpoint:
    """Resume state for reads ordered by a timestamp that many records may share.

    Timestamps are compared as strings: pass them in one fixed-width ISO 8601 form
    (e.g. ``2024-05-01T12:34:56.789Z``), never mixed formats.

    Keeps the newest timestamp emitted and the ids emitted *at* that timestamp, so a read that
    resumes with ``>= since`` skips exactly those ids: no gap and no duplicate.
    """

    since: str | None = None
    seen: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, state: dict[str, Any] | None) -> TimestampCheckpoint:
        state = state or {}
        return cls(state.get("since"), set(state.get("seen", ())))

    def admit(self, record_id: str, ts: str) -> bool:
        """Record that ``record_id`` at ``ts`` is emitted; False if it was already."""
        if ts == self.since:
            if record_id in self.seen:
                return False
            self.seen.add(record_id)
            return True
        if self.since is not None and ts < self.since:
            return record_id not in self.seen  # out-of-order record: emit, state unchanged
        self.since, self.seen = ts, {record_id}
        return True

    def dump(self) -> dict[str, Any]:
        return {"since": self.since, "seen": sorted(self.seen)}
