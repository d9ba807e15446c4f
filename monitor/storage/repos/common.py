"""Small helpers shared by the repositories."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Float,
    FromClause,
    String,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def dialect_insert(session: Session) -> Any:
    """The INSERT construct of the session's database (PostgreSQL or SQLite), which has
    ON CONFLICT DO NOTHING / DO UPDATE."""
    return pg_insert if _postgres(session) else sqlite_insert


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _array_of(kind: Any) -> ARRAY[Any]:
    """An array parameter's type: strings without their length, since casting a parameter
    to varchar(n)[] would cut longer values silently (the column's own assignment cast
    refuses them, and a comparison must not match a cut value)."""
    return ARRAY(Text() if isinstance(kind, String) else kind)


def among(session: Session, col: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`col IN values` whose SQL text does not depend on how many values there are: on
    PostgreSQL `col = ANY(array)`, so the statement is compiled and converted once and its
    plan can be kept (an IN list of a new length is new text for SQLAlchemy, psycopg and
    the server alike); elsewhere an expanding IN."""
    values = list(values)
    if _postgres(session):
        return col == any_(bindparam(None, values, type_=_array_of(col.type)))  # type: ignore[no-any-return]
    return col.in_(values)  # type: ignore[no-any-return]


def keyed(session: Session, name: str, columns: Sequence[tuple[str, Any]],
          rows: Sequence[Sequence[Any]]) -> FromClause:
    """Rows of parameters as a table to join against (a cut-off time per patient, ...), in
    SQL whose text does not depend on the number of rows: on PostgreSQL
    `unnest(array, ...) AS name(col, ...)`; elsewhere a UNION ALL of one-row SELECTs.
    Replaces an OR of per-key clauses or a CASE over the keys, which is new SQL to compile
    for every batch."""
    if _postgres(session):
        arrays = [bindparam(f"{name}_{col}", [row[i] for row in rows], type_=_array_of(kind))
                  for i, (col, kind) in enumerate(columns)]
        return func.unnest(*arrays).table_valued(
            *[column(col, kind) for col, kind in columns]).render_derived(name=name)
    selects = [select(*[literal(row[i], kind).label(col) for i, (col, kind) in enumerate(columns)])
               for row in rows]
    return (union_all(*selects) if len(selects) > 1 else selects[0]).subquery(name)


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                returning: Any = None) -> list[Any]:
    """INSERT many rows (each with the same keys) in one statement; with `returning` (the
    id column), the ids in the order of `rows`.

    On PostgreSQL `INSERT ... SELECT FROM unnest(array, ...)`: one array per column, so
    the SQL text and its parameters are the same whatever the number of rows. A multi-row
    VALUES list is new text with hundreds of parameters for every batch, which psycopg
    converts anew (it caches only short statements with few parameters) and the server
    parses and plans anew. Elsewhere an executemany."""
    if not rows:
        return []
    if not _postgres(session):
        if returning is None:
            session.execute(insert(table), list(rows))
            return []
        return list(session.execute(insert(table).returning(
            returning, sort_by_parameter_order=True), list(rows)).scalars())
    names = list(rows[0])
    kinds = [table.c[n].type for n in names]
    # JSON travels as text and is cast back: an array of json values has no adapter.
    jsons = {n for n, k in zip(names, kinds, strict=True) if isinstance(k, JSON)}
    nulls = {n for n in jsons if getattr(table.c[n].type, "none_as_null", False)}
    # psycopg types an array by its items: 1 and 1.5 in one list would not go together.
    floats = {n for n, k in zip(names, kinds, strict=True) if isinstance(k, Float)}

    def value(n: str, v: Any) -> Any:
        if v is None and (n not in jsons or n in nulls):
            return None
        return json.dumps(v) if n in jsons else float(v) if n in floats else v

    arrays = [bindparam(f"rows_{n}", [value(n, r[n]) for r in rows],
                        type_=_array_of(Text() if n in jsons else k))
              for n, k in zip(names, kinds, strict=True)]
    u = func.unnest(*arrays).table_valued(
        *[column(n, Text() if n in jsons else k) for n, k in zip(names, kinds, strict=True)],
        with_ordinality="ordinal").render_derived(name="rows")
    picked = [cast(u.c[n], JSON) if n in jsons else u.c[n] for n in names]
    statement = insert(table).from_select(names, select(*picked).order_by(u.c.ordinal))
    if returning is None:
        session.execute(statement)
        return []
    # The ids of one INSERT ... SELECT ... ORDER BY are drawn from the sequence in that
    # order: sorted, they follow `rows` (what SQLAlchemy's own sorted RETURNING relies on).
    return sorted(session.execute(statement.returning(returning)).scalars())


def insert_ignore(session: Session, table: Table, values: dict[str, Any] | list[dict[str, Any]],
                  conflict: list[str]) -> bool:
    """INSERT (one row, or many in one statement) unless a row with the same `conflict`
    columns exists; True when something was inserted.

    Redelivered tasks and concurrent listeners then race harmlessly on the unique index.
    """
    statement = dialect_insert(session)(table).values(values).on_conflict_do_nothing(
        index_elements=conflict)
    result: Any = session.execute(statement)
    return bool(result.rowcount)


def column_length(column: Any) -> int:
    """How many characters a String column holds, read from the table itself: a migration
    that widens the column widens what the checks take."""
    return int(column.type.length)


def require_fits(value: str, column: Any, label: str) -> None:
    """Raise ValueError, in words, for text its column cannot store (PostgreSQL would raise
    on the over-long value or the NUL byte, mid-transaction)."""
    if "\x00" in value:
        raise ValueError(f"the {label} contains a NUL byte")
    limit = column_length(column)
    if len(value) > limit:
        raise ValueError(f"the {label} is {len(value)} characters; at most {limit} are stored")
