"""Bulk statements on the Core tables: executemany without the ORM's per-row bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session


def bulk_insert(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT many rows of ``model``'s table in one executemany."""
    if rows:
        session.execute(model.__table__.insert(), list(rows))


def bulk_update(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE many rows by primary key; rows are grouped by the columns they set."""
    table = model.__table__
    pk = [c.name for c in table.primary_key.columns]
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(k for k in row if k not in pk)), []).append(row)
    for cols, group in groups.items():
        if not cols:
            continue
        where = [table.c[k] == bindparam(f"pk_{k}") for k in pk]
        stmt = table.update().where(*where).values({c: bindparam(f"v_{c}") for c in cols})
        session.execute(stmt, [{**{f"pk_{k}": r[k] for k in pk}, **{f"v_{c}": r[c] for c in cols}} for r in group])
