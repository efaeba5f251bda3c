"""Database connection, migrations and sessions."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(workspace: Path) -> str:
    """SQLite under ``<workspace>/.hub/`` unless ``HUB_DATABASE_URL`` says otherwise."""
    url = os.environ.get("HUB_DATABASE_URL")
    if url:
        return url
    path = workspace / ".hub" / "hub.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    # WAL + NORMAL survives a killed process (not a power cut) and lets readers run during a sync
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # a sync rewrites the same index pages (identifiers, links, the ledger) chunk after chunk:
    # checkpointing the WAL into the database every 64 MB instead of every 4 MB copies each hot
    # page far fewer times
    cur.execute("PRAGMA wal_autocheckpoint=16384")
    # the default 2 MB page cache holds a sliver of the indexes a sync walks at random
    # (identifiers, links, blocking keys): 64 MB keeps their inner pages, and costs the same
    # whatever the size of the store
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


class Store:
    """The state store: an engine, a session factory and schema migrations.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).
        migrate: run Alembic migrations to the newest revision on open.
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        self.url = url
        try:
            self.engine: Engine = create_engine(
                url, future=True, pool_pre_ping=True, json_serializer=_dumps, json_deserializer=orjson.loads
            )
        except Exception as exc:  # bad URL, missing driver
            raise ConfigError(f"cannot open database {self.safe_url}: {exc}", key="database_url") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "<unparseable database URL>"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except Exception as exc:
            if "could not connect" in str(exc).lower() or "connection refused" in str(exc).lower():
                raise ConfigError(f"cannot connect to database {self.safe_url}", key="database_url") from None
            raise

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session inside one transaction, committed on success."""
        with self.sessions.begin() as session:
            yield session

    def session(self) -> Session:
        return self.sessions()

    @contextmanager
    def background_checkpoints(self, every: float = 0.5) -> Iterator[None]:
        """While the block runs, copy SQLite's write-ahead log into the database from a thread
        of its own, so that the sync's commits rarely stop to do it themselves.

        A checkpoint copies and syncs everything committed since the last one: done by the
        committing thread it stalled the sync (a twentieth of its time); done beside it, the
        copying overlaps the sync's own work. Passive checkpoints never block a writer or a
        reader. Other databases: nothing to do.
        """
        path = self.engine.url.database if self.dialect == "sqlite" else None
        if not path or path == ":memory:" or path.startswith("file:"):
            yield
            return
        stop = threading.Event()

        def run() -> None:
            conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
            try:
                while not stop.wait(every):
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    except sqlite3.Error:  # busy or locked: the next round (or the writer) does it
                        continue
            finally:
                conn.close()

        worker = threading.Thread(target=run, name="hub-wal-checkpoint", daemon=True)
        worker.start()
        try:
            yield
        finally:
            stop.set()
            worker.join()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
