"""The canonical schema: pydantic models (the source of truth) and the generated JSON Schema."""

from __future__ import annotations

from schemas.canonical import (
    ENTITIES,
    LIFECYCLE_ORDER,
    SCHEMA_VERSION,
    Activity,
    Deal,
    Organization,
    Person,
    SourceRef,
    Ticket,
)

__all__ = [
    "ENTITIES",
    "LIFECYCLE_ORDER",
    "SCHEMA_VERSION",
    "Activity",
    "Deal",
    "Organization",
    "Person",
    "SourceRef",
    "Ticket",
]
