from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.store import Store
from hub.store.models import Base


def test_migrations_match_the_models(db_url: str) -> None:
    store = Store(db_url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    store.dispose()
    assert diff == [], "models changed without a migration: add one under hub/store/migrations/versions"


def test_migrate_is_idempotent(db_url: str) -> None:
    Store(db_url).dispose()
    Store(db_url).dispose()
