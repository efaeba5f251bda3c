"""Canonical schema v1: the hub's one model of a customer, independent of every vendor.

Precedent: Microsoft CDM (yomi/kana reading fields beside names) and Merge's ``remote_*``
fields (every entity keeps references to the source records it came from).

``MERGE`` on each entity says how the golden record combines a field across sources:
``scalar`` (one winner by the conflict policy), ``union`` (lists merged without duplicates),
``per_key`` (maps resolved key by key), ``consent`` (per channel, an opt-out always wins).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)


class SourceRef(_Model):
    """Where an entity came from: one record in one tool (Merge's remote_* fields)."""

    system: str = Field(description="Connector instance name, e.g. 'hubspot'.")
    object: str = Field(description="Stream / object type in that tool, e.g. 'contacts'.")
    id: str = Field(description="The record's id in that tool.")
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: str | None = Field(None, description="The tool's version token (etag, revision).")
    deleted: bool = False


# -- value objects ---------------------------------------------------------------------------
class EmailType(enum.StrEnum):
    WORK = "work"
    PERSONAL = "personal"
    OTHER = "other"


class Email(_Model):
    address: str = Field(description="Normalised address (trimmed, lower-cased domain).")
    type: EmailType | None = None


class PhoneType(enum.StrEnum):
    MOBILE = "mobile"
    WORK = "work"
    HOME = "home"
    MAIN = "main"
    FAX = "fax"
    OTHER = "other"


class Phone(_Model):
    number: str = Field(description="E.164, e.g. '+819012345678'.")
    type: PhoneType | None = None
    extension: str | None = None


class Address(_Model):
    postal_code: str | None = Field(None, description="Japan: 7 digits as 'NNN-NNNN' (〒).")
    country: str | None = Field(None, description="ISO 3166-1 alpha-2.")
    region: str | None = Field(None, description="Prefecture (都道府県) / state.")
    locality: str | None = Field(None, description="City, ward, town (市区町村).")
    street: str | None = Field(None, description="Street, 丁目・番地・号.")
    building: str | None = Field(None, description="Building and room.")
    type: str | None = None


class ConsentStatus(enum.StrEnum):
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"
    NOT_SET = "not_set"


class Consent(_Model):
    status: ConsentStatus = ConsentStatus.NOT_SET
    updated_at: datetime | None = None
    source: str | None = None


class LifecycleStage(enum.StrEnum):
    AWARENESS = "awareness"
    LEAD = "lead"
    MQL = "mql"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    PROMOTER = "promoter"
    OTHER = "other"


LIFECYCLE_ORDER: tuple[str, ...] = tuple(s.value for s in LifecycleStage if s is not LifecycleStage.OTHER)


class Lifecycle(_Model):
    """A canonical stage that keeps the vendor's own value beside it."""

    stage: LifecycleStage
    vendor_value: str | None = None


class NameOrder(enum.StrEnum):
    FAMILY_FIRST = "family_first"
    GIVEN_FIRST = "given_first"


class Identifier(_Model):
    scheme: str = Field(description="e.g. 'jp_corporate_number' (法人番号), 'duns', 'vat'.")
    value: str


class _Entity(_Model):
    id: str | None = Field(None, description="The hub's entity id.")
    source_refs: list[SourceRef] = Field(default_factory=list)
    custom: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Namespaced custom fields: {namespace: {field: value}}."
    )
    MERGE: ClassVar[dict[str, str]] = {"source_refs": "union", "custom": "per_key"}


# -- entities --------------------------------------------------------------------------------
class Person(_Entity):
    """A human customer, contact, lead or requester."""

    family_name: str | None = None
    given_name: str | None = None
    family_name_kana: str | None = Field(None, description="Reading of the family name (フリガナ).")
    given_name_kana: str | None = Field(None, description="Reading of the given name.")
    name_order: NameOrder | None = None
    emails: list[Email] = Field(default_factory=list)
    phones: list[Phone] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    organization_id: str | None = Field(None, description="Entity id of the person's Organization.")
    job_title: str | None = None
    department: str | None = None
    lifecycle_stage: Lifecycle | None = None
    scores: dict[str, float] = Field(default_factory=dict, description="Score per source system.")
    consents: dict[str, Consent] = Field(
        default_factory=dict, description="Per channel: email, sms, phone, post, sns..."
    )
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    locale: str | None = None
    time_zone: str | None = None

    MERGE: ClassVar[dict[str, str]] = {
        **_Entity.MERGE,
        "emails": "union",
        "phones": "union",
        "addresses": "union",
        "tags": "union",
        "scores": "per_key",
        "consents": "consent",
    }


class Organization(_Entity):
    """A company or other organisation."""

    name: str | None = None
    name_kana: str | None = None
    legal_name: str | None = None
    identifiers: list[Identifier] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    website: str | None = None
    industry: str | None = None
    size: int | None = Field(None, description="Number of employees.")
    addresses: list[Address] = Field(default_factory=list)
    phones: list[Phone] = Field(default_factory=list)
    parent_id: str | None = None
    tags: list[str] = Field(default_factory=list)

    MERGE: ClassVar[dict[str, str]] = {
        **_Entity.MERGE,
        "identifiers": "union",
        "domains": "union",
        "addresses": "union",
        "phones": "union",
        "tags": "union",
    }


class DealStage(enum.StrEnum):
    LIST = "list"
    PROPOSAL = "proposal"
    DEAL = "deal"
    QUOTE = "quote"
    WON = "won"
    LOST = "lost"


class DealStatus(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Stage(_Model):
    stage: DealStage
    vendor_value: str | None = None


class Deal(_Entity):
    name: str | None = None
    pipeline: str | None = None
    stage: Stage | None = None
    status: DealStatus | None = None
    amount: Decimal | None = None
    currency: str | None = Field(None, description="ISO 4217, e.g. 'JPY'.")
    close_date: date | None = None
    organization_id: str | None = None
    contact_ids: list[str] = Field(default_factory=list)
    owner: str | None = None

    MERGE: ClassVar[dict[str, str]] = {**_Entity.MERGE, "contact_ids": "union"}


class TicketStatus(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


class TicketPriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Channel(enum.StrEnum):
    EMAIL = "email"
    WEB = "web"
    PHONE = "phone"
    CHAT = "chat"
    SNS = "sns"
    API = "api"
    OTHER = "other"


class Ticket(_Entity):
    subject: str | None = None
    description: str | None = None
    status: TicketStatus | None = None
    vendor_status: str | None = None
    priority: TicketPriority | None = None
    channel: Channel | None = None
    escalated: bool | None = None
    requester_id: str | None = Field(None, description="Entity id of the requesting Person.")
    organization_id: str | None = None
    assignee: str | None = None
    tags: list[str] = Field(default_factory=list)
    opened_at: datetime | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    solved_at: datetime | None = None

    MERGE: ClassVar[dict[str, str]] = {**_Entity.MERGE, "tags": "union"}


class ActivityType(enum.StrEnum):
    EMAIL = "email"
    CALL = "call"
    MEETING = "meeting"
    CHAT = "chat"
    SNS_POST = "sns_post"
    PAGE_VIEW = "page_view"
    FORM_SUBMISSION = "form_submission"
    EVENT_ATTENDANCE = "event_attendance"
    SURVEY_RESPONSE = "survey_response"
    NOTE = "note"
    TASK = "task"


class Survey(_Model):
    question: str | None = None
    answer: str | None = None
    score: float | None = None
    nps: int | None = Field(None, ge=0, le=10, description="Net Promoter Score answer, 0-10.")


class Activity(_Entity):
    type: ActivityType
    person_id: str | None = Field(None, description="Entity id of the Person.")
    occurred_at: datetime | None = None
    subject: str | None = None
    body: str | None = None
    direction: str | None = Field(None, description="inbound / outbound")
    url: str | None = None
    channel: Channel | None = None
    survey: Survey | None = None


ENTITIES: dict[str, type[_Entity]] = {
    "person": Person,
    "organization": Organization,
    "deal": Deal,
    "ticket": Ticket,
    "activity": Activity,
}
