"""The state store: SQLAlchemy 2 models, Alembic migrations and the repository the engine uses.

It knows neither the engine nor the CLI.
"""

from __future__ import annotations

from hub.store.db import Store, default_url
from hub.store.models import (
    AuditLog,
    Cursor,
    DeadLetter,
    Entity,
    Identifier,
    Ledger,
    Link,
    Run,
    SourceRecord,
)

__all__ = [
    "AuditLog",
    "Cursor",
    "DeadLetter",
    "Entity",
    "Identifier",
    "Ledger",
    "Link",
    "Run",
    "SourceRecord",
    "Store",
    "default_url",
]
