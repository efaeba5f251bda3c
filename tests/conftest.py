"""Shared fixtures: no real waits, a store on SQLite (and PostgreSQL when configured)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import http

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL")


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every wait of the HTTP layer instead of sleeping (the retry policy is untouched)."""
    waits: list[float] = []
    monkeypatch.setattr(http, "sleep", waits.append)
    return waits


def _store_params() -> list[object]:
    params: list[object] = ["sqlite"]
    if PG_URL:
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    elif os.environ.get("CI"):
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    return params


@pytest.fixture(params=_store_params())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: SQLite in tmp_path, or a throwaway schema in PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    if not PG_URL:
        pytest.fail("CI runs the PostgreSQL tests: set HUB_TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1) if PG_URL.startswith("postgresql://") else PG_URL
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow integration tests (real processes, servers) run in CI or with HUB_RUN_SLOW=1."""
    if os.environ.get("HUB_RUN_SLOW") == "1" or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="slow integration test: set HUB_RUN_SLOW=1 (CI runs it)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
