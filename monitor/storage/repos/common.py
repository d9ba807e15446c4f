"""Small helpers shared by the repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def dialect_insert(session: Session) -> Any:
    """The INSERT construct of the session's database (PostgreSQL or SQLite), which has
    ON CONFLICT DO NOTHING / DO UPDATE."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


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
