"""Bulk statements on the Core tables: executemany without per-row bookkeeping.

A statement is compiled once per table, column set and dialect; each row's values go through
the column types' own bind processors (JSON serialisation, SQLite datetimes and booleans) and
then straight to the driver's ``executemany``. SQLAlchemy's generic per-row parameter
processing cost more than the database work itself for the hub's thousand-row chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

IN_CHUNK = 500
"""Values per ``IN (...)`` list: well under every database's parameter limit."""

Processor = Callable[[Any], Any] | None
_Compiled = tuple[str, tuple[str, ...], tuple[Processor, ...], bool]
_CACHE: dict[tuple[Any, ...], _Compiled] = {}


def chunks(items: Sequence[Any], n: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``n``, for ``IN (...)`` lists and batched statements."""
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _defaults(table: Table, given: set[str]) -> dict[str, Any]:
    """Python-side column defaults (scalars and callables) for the columns a row leaves out."""
    out: dict[str, Any] = {}
    for col in table.columns:
        default = col.default
        if col.key in given or default is None:
            continue
        if getattr(default, "is_scalar", False):
            out[col.key] = lambda arg=default.arg: arg
        elif getattr(default, "is_callable", False):
            out[col.key] = lambda fn=default.arg: fn(None)
    return out


def _compile(conn: Connection, stmt: Any, names: Sequence[str], types: Sequence[Any]) -> _Compiled:
    dialect: Dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect)
    positional = bool(compiled.positional)
    order = tuple(compiled.positiontup) if positional else tuple(names)  # type: ignore[arg-type]
    by_name = dict(zip(names, types, strict=True))
    procs = tuple(by_name[n].dialect_impl(dialect).bind_processor(dialect) for n in order)
    return compiled.string, order, procs, positional


def _run(conn: Connection, sql: _Compiled, rows: Sequence[dict[str, Any]]) -> None:
    text, order, procs, positional = sql
    params: list[Any] = []
    pairs = tuple(zip(order, procs, strict=True))
    for row in rows:
        values = [p(row[n]) if p is not None else row[n] for n, p in pairs]
        params.append(tuple(values) if positional else dict(zip(order, values, strict=True)))
    conn.exec_driver_sql(text, params)


def bulk_insert(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT many rows of ``model``'s table in one executemany per column set."""
    if not rows:
        return
    table: Table = model.__table__
    conn = session.connection()
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for keys, group in groups.items():
        fill = _defaults(table, set(keys))
        cache_key = ("insert", conn.dialect.name, conn.dialect.driver, table.name, keys)
        sql = _CACHE.get(cache_key)
        cols = (*keys, *fill)
        if sql is None:
            stmt = table.insert().values({k: bindparam(k) for k in cols})
            sql = _CACHE[cache_key] = _compile(conn, stmt, cols, [table.c[k].type for k in cols])
        if fill:
            group = [{**row, **{k: make() for k, make in fill.items()}} for row in group]
        _run(conn, sql, group)


def insert_tuples(session: Session, model: Any, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT many rows given as tuples in ``columns`` order: for narrow tables written by the
    million (blocking keys), where building a dict per row costs more than the database.
    Columns without bind processing (integers, strings), and every column with a default given."""
    if not rows:
        return
    table: Table = model.__table__
    if _defaults(table, set(columns)):
        raise TypeError(f"insert_tuples: {table.name} has defaults to fill; use bulk_insert")
    conn = session.connection()
    cache_key = ("insert", conn.dialect.name, conn.dialect.driver, table.name, columns)
    sql = _CACHE.get(cache_key)
    if sql is None:
        stmt = table.insert().values({k: bindparam(k) for k in columns})
        sql = _CACHE[cache_key] = _compile(conn, stmt, columns, [table.c[k].type for k in columns])
    text, order, procs, positional = sql
    if any(procs):
        raise TypeError(f"insert_tuples: a column of {table.name} needs bind processing; use bulk_insert")
    if positional and order == columns:
        conn.exec_driver_sql(text, list(rows))
    elif positional:
        at = [columns.index(n) for n in order]
        conn.exec_driver_sql(text, [tuple(row[i] for i in at) for row in rows])
    else:
        conn.exec_driver_sql(text, [dict(zip(columns, row, strict=True)) for row in rows])


def bulk_update(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE many rows by primary key; rows are grouped by the columns they set."""
    if not rows:
        return
    table: Table = model.__table__
    pk = [c.name for c in table.primary_key.columns]
    conn = session.connection()
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(k for k in row if k not in pk)), []).append(row)
    for cols, group in groups.items():
        if not cols:
            continue
        cache_key = ("update", conn.dialect.name, conn.dialect.driver, table.name, cols)
        sql = _CACHE.get(cache_key)
        if sql is None:
            where = [table.c[k] == bindparam(f"pk_{k}") for k in pk]
            stmt = table.update().where(*where).values({c: bindparam(f"v_{c}") for c in cols})
            names = [*(f"pk_{k}" for k in pk), *(f"v_{c}" for c in cols)]
            sql = _CACHE[cache_key] = _compile(conn, stmt, names, [table.c[n[3:]].type if n.startswith("pk_") else table.c[n[2:]].type for n in names])
        _run(conn, sql, [{**{f"pk_{k}": r[k] for k in pk}, **{f"v_{c}": r[c] for c in cols}} for r in group])
