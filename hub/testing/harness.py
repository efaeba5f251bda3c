"""What one conformance test works with: a fresh sandbox fake and connectors built against it.

A :class:`Harness` builds settings the way ``hub init --sandbox`` does (the fake's
``extra_settings()``, its token for every secret it did not fill in), asks for small pages, loads the
connector's mapping file, turns canonical samples into vendor fields, and reads with a guard so a
read that never ends fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import typing
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from hub.connector import DELETE, Connector, ConnectorSettings, Page, Record, WriteOp, WriteResult
from hub.sandbox.fake import sandbox_settings
from hub.testing.samples import INVALID_EMAIL, as_json, maps_outbound
from hub.testing.transport import KitTransport

if TYPE_CHECKING:
    from hub.mapping import Mapping
    from hub.sandbox import FakeVendor
    from hub.testing.base import SuiteBase

MAX_PAGES = 1000  # a read that yields more pages than this in the kit is taken not to terminate


class ReadDidNotEnd(AssertionError):
    """A read kept yielding pages far beyond what the records seeded could fill."""


def is_secret(annotation: Any) -> bool:
    """Whether a settings field is declared as a secret (``SecretStr`` or ``SecretStr | None``)."""
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


class Harness:
    """A fresh fake plus the connectors, samples and helpers one conformance test needs.

    Args:
        suite: the test class; its hooks say how to drive this connector's fake.
    """

    def __init__(self, suite: SuiteBase) -> None:
        self.suite = suite
        self.cls: type[Connector] = suite.connector
        self.fake: FakeVendor = suite.make_fake()
        self.transport = KitTransport(self.fake)
        self.waits: list[float] = []
        self._numbers = itertools.count(1)
        self._open: list[Connector] = []

    # -- time ------------------------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """Stands in for :func:`hub.http.sleep`: records the wait and lets the fake's clock move
        on by as much, so a vendor's rate window really passes; no real time is spent."""
        self.waits.append(seconds)
        if seconds > 0:
            self.fake.advance_clock(seconds)

    # -- connectors ------------------------------------------------------------------------
    def raw_settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings (as plain values) that point the connector at the fake, with small pages."""
        fields = self.cls.Settings.model_fields
        raw = dict(sandbox_settings(self.fake))
        for name, info in fields.items():
            if is_secret(info.annotation) and name not in raw:
                raw[name] = self.fake.token  # what the runtime does for sandboxes
        for name, info in fields.items():
            if (name == "page_size" or name.endswith("_page_size")) and info.annotation is int:
                low = max([getattr(m, "ge", 1) for m in info.metadata if hasattr(m, "ge")], default=1)
                raw[name] = max(low, self.suite.page_size)
        raw.update(self.suite.settings)
        raw.update(overrides)
        return raw

    def settings(self, **overrides: Any) -> ConnectorSettings:
        return self.cls.Settings(**self.raw_settings(**overrides))

    def connect(self, settings: ConnectorSettings | None = None, **overrides: Any) -> Connector:
        """A connector talking to the fake through :attr:`transport` (closed after the test)."""
        conn = self.cls(settings or self.settings(**overrides), transport=self.transport)
        self._open.append(conn)
        return conn

    def close(self) -> None:
        for conn in self._open:
            with contextlib.suppress(Exception):
                conn.close()

    # -- mapping and samples ---------------------------------------------------------------
    @cached_property
    def mapping(self) -> Mapping:
        return self.suite.load_mapping()

    def mapped(self, stream: str) -> bool:
        return stream in self.mapping.streams

    def entity(self, stream: str) -> str | None:
        return self.mapping.streams[stream].entity if self.mapped(stream) else None

    def canonical(self, stream: str, n: int | None = None) -> dict[str, Any]:
        """A canonical sample for ``stream`` (a new one each call unless ``n`` is given)."""
        entity = self.entity(stream)
        if entity is None:
            return {}
        return self.suite.canonical_sample(stream, entity, next(self._numbers) if n is None else n)

    def vendor_fields(self, stream: str, canonical: dict[str, Any]) -> dict[str, Any]:
        """``canonical`` as the vendor fields the hub would write (the mapping's outbound side)."""
        if not self.mapped(stream):
            return {}
        return self.mapping.to_vendor(stream, canonical)

    def invalid_fields(self, stream: str) -> dict[str, Any] | None:
        """Vendor fields of a record the vendor must refuse, or None when the kit knows no way to
        make one for this stream (set ``invalid`` on the suite)."""
        if stream in self.suite.invalid:
            return {**self.vendor_fields(stream, self.canonical(stream)), **self.suite.invalid[stream]}
        if self.mapped(stream) and maps_outbound(self.mapping, stream, "emails"):
            canonical = self.canonical(stream)
            canonical["emails"] = [{"address": INVALID_EMAIL}]
            return self.vendor_fields(stream, canonical)
        return None

    def seed(self, stream: str, count: int, *, spread: float = 0.0) -> list[str]:
        """Create ``count`` records in the vendor through the fake's data API; returns their ids.

        Args:
            spread: seconds the fake's clock moves on between two records (vendors that never
                split one timestamp across pages page only through distinct timestamps).
        """
        ids = []
        for i in range(count):
            if spread and i:
                self.fake.advance_clock(spread)
            fields = as_json(self.vendor_fields(stream, self.canonical(stream)))
            ids.append(str(self.suite.insert(self.fake, stream, fields)))
        return ids

    def creatable(self, stream: str) -> bool:
        """Whether the hub creates records in ``stream`` (a mapping may say ``create: false``)."""
        return not self.mapped(stream) or self.mapping.streams[stream].create

    def ops(self, stream: str, count: int) -> list[WriteOp]:
        """``count`` upserts as the hub would send them: creates, or -- in a stream the hub never
        creates records in -- updates of records seeded for the purpose."""
        if self.creatable(stream):
            return [self.op(stream) for _ in range(count)]
        return [self.op(stream, target_id=target) for target in self.seed(stream, count)]

    def new_records(self, ops: list[WriteOp]) -> int:
        """How many vendor records writing ``ops`` adds."""
        return sum(1 for op in ops if op.target_id is None and op.action == "upsert")

    def op(self, stream: str, canonical: dict[str, Any] | None = None, *, key: str | None = None,
           target_id: str | None = None) -> WriteOp:
        """An upsert of a canonical sample, keyed like the hub keys entities."""
        canonical = canonical if canonical is not None else self.canonical(stream)
        n = next(self._numbers)
        return WriteOp(key or f"conformance-{stream.lower()}-{n}", target_id, self.vendor_fields(stream, canonical))

    # -- vendor-side changes ---------------------------------------------------------------
    def delete(self, conn: Connector, stream: str, record_id: str) -> None:
        """Delete a record: through the connector when the stream can, else as a user would."""
        if conn.stream(stream).can(DELETE):
            [result] = conn.write(stream, [WriteOp(f"conformance-delete-{record_id}", record_id, {}, "delete")])
            assert result.status == "deleted", f"deleting {stream} {record_id} answered {result}"
        else:
            self.suite.delete_in_vendor(self.fake, stream, record_id)

    def same_timestamp(self) -> contextlib.AbstractContextManager[Any]:
        """While open, everything written to the vendor shares one modification timestamp."""
        return self.suite.same_timestamp(self.fake)

    # -- reads -----------------------------------------------------------------------------
    def read(self, conn: Connector, stream: str, state: dict[str, Any] | None = None,
             *, max_pages: int = MAX_PAGES) -> list[Page]:
        """Every page of one read; fails when the read does not end, or a state cannot be stored."""
        pages: list[Page] = []
        for page in conn.read(stream, state):
            pages.append(page)
            assert isinstance(page, Page), f"read({stream!r}) yielded {page!r}, not a Page"
            try:
                json.dumps(page.state)
            except (TypeError, ValueError) as exc:
                raise AssertionError(f"the state of a {stream} page is not JSON ({exc}): {page.state!r}") from None
            if len(pages) > max_pages:
                raise ReadDidNotEnd(f"read({stream!r}) did not end after {max_pages} pages")
        return pages

    def read_one_page(self, conn: Connector, stream: str, state: dict[str, Any] | None) -> Page | None:
        """The first page of a read (the read is then abandoned, as a crash would)."""
        reader = conn.read(stream, state)
        try:
            return next(iter(reader), None)
        finally:
            close = getattr(reader, "close", None)
            if callable(close):
                close()

    def vendor_count(self, stream: str) -> int:
        """How many records the vendor holds in ``stream`` (the fake's own view)."""
        return len(self.fake.records(stream))

    def sensitive(self, conn: Connector) -> set[str]:
        """Every secret the connector knows or sent: settings secrets, the fake's token and the
        credentials seen on the wire (derived ones included, such as an OAuth access token)."""
        values = {*conn.settings.secret_values(), self.fake.token, *self.transport.credentials()}
        return {v for v in values if v and len(v) >= 6}


def records(pages: Iterable[Page]) -> list[Record]:
    return [r for p in pages for r in p.records]


def live_ids(pages: Iterable[Page]) -> list[str]:
    """Ids of the live records, in the order read."""
    return [r.id for r in records(pages) if not r.deleted]


def tombstone_ids(pages: Iterable[Page]) -> list[str]:
    return [r.id for r in records(pages) if r.deleted]


def duplicates(ids: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for i in ids:
        if i in seen and i not in dup:
            dup.append(i)
        seen.add(i)
    return dup


def by_target(results: Iterable[WriteResult]) -> dict[str, WriteResult]:
    return {str(r.target_id): r for r in results if r.target_id}

