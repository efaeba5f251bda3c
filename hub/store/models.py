"""Tables of the state store (SQLAlchemy 2 declarative, ``Mapped`` annotations)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class SourceRecord(Base):
    """The latest staged version of one vendor record, and its canonical mapping."""

    __tablename__ = "source_records"
    __table_args__ = (
        UniqueConstraint("connector", "stream", "source_id", name="uq_source_record"),
        Index("ix_source_records_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    hash: Mapped[str | None] = mapped_column(String(64))
    source_updated_at: Mapped[datetime | None]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    canonical: Mapped[dict[str, Any] | None]
    # per top-level canonical field: when its value last changed in this tool, and whether the
    # current value is the hub's own write read back (an echo, never a new observation)
    field_ts: Mapped[dict[str, Any] | None]
    echo: Mapped[list[Any] | None]
    # list items this tool replaced or removed, by field and item key, with when: a value a tool
    # dropped leaves the golden record unless another tool asserted it later
    retracted: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|mapped|failed|written
    staged_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_id: Mapped[str | None] = mapped_column(String(32))


class Entity(Base):
    """A canonical entity and its golden record."""

    __tablename__ = "entities"
    __table_args__ = (Index("ix_entities_dirty", "dirty", "type", "id"), Index("ix_entities_type", "type"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]]
    # per field of ``data``: which source record gave the value, observed when, by which rule
    provenance: Mapped[dict[str, Any] | None]
    merged_into: Mapped[str | None] = mapped_column(String(32))
    # the person a ticket, activity or deal belongs to (for the 360° view)
    person_id: Mapped[str | None] = mapped_column(String(32), index=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    dirty: Mapped[bool] = mapped_column(Boolean, default=True)  # outbound evaluation pending
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Link(Base):
    """Which entity a source record belongs to, and why."""

    __tablename__ = "links"

    source_record_id: Mapped[int] = mapped_column(ForeignKey("source_records.id", ondelete="CASCADE"), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(32), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any] | None]
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identifier(Base):
    """Deterministic-linking index: a normalised identifier seen on a source record."""

    __tablename__ = "identifiers"
    __table_args__ = (
        Index("ix_identifiers_lookup", "entity_type", "value", "kind"),
        Index("ix_identifiers_record", "source_record_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # email | phone | xid | domain
    value: Mapped[str] = mapped_column(String(320))
    entity_id: Mapped[str] = mapped_column(String(32), index=True)
    source_record_id: Mapped[int] = mapped_column(Integer)


class Cursor(Base):
    """Resume state of one connector stream."""

    __tablename__ = "cursors"

    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ledger(Base):
    """The outbound ledger: what the hub last wrote (or is writing) to each tool."""

    __tablename__ = "outbound_ledger"
    # by entity alone: a merge moves an entity's rows in every tool (without it, two scans of
    # the whole ledger per merge)
    __table_args__ = (Index("ix_ledger_target", "connector", "stream", "target_id"), Index("ix_ledger_entity", "entity_id"))

    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target_id: Mapped[str | None] = mapped_column(String(255))
    fields: Mapped[dict[str, Any]]  # vendor fields written
    expected: Mapped[dict[str, Any]]  # the canonical record the tool should read back
    pending: Mapped[bool] = mapped_column(Boolean, default=True)
    action: Mapped[str] = mapped_column(String(16), default="upsert")
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_id: Mapped[str | None] = mapped_column(String(32))


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # running|ok|dead_letters|failed|interrupted
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    stats: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(String(32))
    connector: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(255))
    field: Mapped[str | None] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(16))  # read|map|link|write
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|retried|dropped|resolved
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any] | None]


class IdentityModel(Base):
    """A trained match model (m, u, prior, term frequencies); the newest row of a type is used."""

    __tablename__ = "identity_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(16), index=True)
    n_records: Mapped[int] = mapped_column(Integer)
    model: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdentityBlock(Base):
    """Probabilistic blocking keys of a source record: records sharing a key are compared."""

    __tablename__ = "identity_blocks"
    # SQLite: the primary key is the table, with no rowid tree beside it. A sync writes about
    # ten keys per person record: a third less space, and inserts and lookups a little faster
    __table_args__ = {"sqlite_with_rowid": False}

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_record_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)


class IdentityFeatures(Base):
    """What the resolver made of a source record (its normalised features, encoded): comparing
    a record with those sharing its keys decodes them instead of normalising them again."""

    __tablename__ = "identity_features"

    source_record_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[str] = mapped_column(Text)


class IdentityDecision(Base):
    """A person's sticky decision about two source records: one entity (must) or never (cannot)."""

    __tablename__ = "identity_decisions"
    __table_args__ = (UniqueConstraint("a", "b", name="uq_identity_decision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(16))
    a: Mapped[int] = mapped_column(Integer, index=True)  # source record ids, a < b
    b: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(8))  # must | cannot
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


class IdentityReview(Base):
    """A pair of source records scored between the thresholds, waiting for a person."""

    __tablename__ = "identity_reviews"
    __table_args__ = (UniqueConstraint("a", "b", name="uq_identity_review"), Index("ix_identity_reviews_status", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(16))
    a: Mapped[int] = mapped_column(Integer)  # source record ids, a < b
    b: Mapped[int] = mapped_column(Integer)
    # link: are these two one person? unlink: does this record (evidence["record"]) still belong
    # to its person now that the identifier that linked it is gone?
    kind: Mapped[str] = mapped_column(String(8), default="link")
    probability: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | accepted | rejected | linked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
