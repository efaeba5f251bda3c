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


def test_insert_tuples_writes_rows_in_the_order_of_the_columns_given(db_url: str) -> None:
    import pytest
    from sqlalchemy import select

    from hub.store.bulk import insert_tuples
    from hub.store.models import IdentityBlock, Run

    store = Store(db_url)
    with store.begin() as s:
        s.execute(IdentityBlock.__table__.delete())
        insert_tuples(s, IdentityBlock, ("key", "source_record_id"), [(11, 1), (12, 2)])
        insert_tuples(s, IdentityBlock, ("source_record_id", "key"), [(3, 13)])
        rows = sorted(s.execute(select(IdentityBlock.key, IdentityBlock.source_record_id)).all())
        assert [tuple(r) for r in rows] == [(11, 1), (12, 2), (13, 3)]
        with pytest.raises(TypeError, match="defaults to fill"):
            insert_tuples(s, Run, ("id", "kind", "status", "stats"), [("r", "sync", "ok", {})])
        every = ("id", "kind", "status", "started_at", "finished_at", "stats", "error")
        with pytest.raises(TypeError, match="bind processing"):
            insert_tuples(s, Run, every, [("r", "sync", "ok", None, None, {}, None)])
        s.rollback()
