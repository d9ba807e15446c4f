"""The set-based statements of the worker and the listener (storage/repos/common.py), on
PostgreSQL (arrays: `= ANY`, `unnest`) and SQLite (IN lists, UNION ALL, executemany): the
same rows, the same ids in order, and a value too long for its column refused, never cut."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    select,
)
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from monitor.storage.base import UTCDateTime
from monitor.storage.repos.common import among, insert_rows, keyed

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
META = MetaData()
ROWS = Table("set_sql_rows", META, Column("id", Integer, primary_key=True),
             Column("code", String(8)), Column("doc", JSON), Column("flag", Boolean),
             Column("value", Float), Column("at", UTCDateTime), Column("seq", BigInteger))


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Engine]:
    if request.param == "postgresql":
        e: Engine = request.getfixturevalue("pg_engine")
    else:
        e = create_engine(f"sqlite:///{tmp_path_factory.mktemp('sql')}/t.db")
    META.drop_all(e)
    META.create_all(e)
    yield e
    META.drop_all(e)


def rows(n: int) -> list[dict[str, object]]:
    return [{"code": f"C{i}", "doc": {"i": i} if i % 2 else None, "flag": i % 2 == 0,
             # an int and floats in one column: psycopg would not put them in one array
             "value": i if i == 0 else i / 4, "at": T0 + timedelta(hours=i),
             "seq": (1 << 40) + i} for i in range(n)]


def test_insert_rows_returns_the_ids_in_the_order_given_and_stores_every_value(
        engine: Engine) -> None:
    with Session(engine) as s:
        ids = insert_rows(s, ROWS, rows(5), ROWS.c.id)
        stored = {r.id: r for r in s.execute(select(ROWS))}
        assert [stored[i].code for i in ids] == ["C0", "C1", "C2", "C3", "C4"]
        assert [stored[i].doc for i in ids] == [None, {"i": 1}, None, {"i": 3}, None]
        assert [stored[i].value for i in ids] == [0.0, 0.25, 0.5, 0.75, 1.0]
        assert [stored[i].at for i in ids] == [T0 + timedelta(hours=h) for h in range(5)]
        assert stored[ids[4]].seq == (1 << 40) + 4 and stored[ids[0]].flag is True
        assert insert_rows(s, ROWS, [], ROWS.c.id) == []


def test_a_value_too_long_for_its_column_is_refused_not_cut(pg_engine: Engine) -> None:
    # PostgreSQL only: SQLite does not enforce varchar lengths (the intake checks do).
    META.create_all(pg_engine)
    try:
        with Session(pg_engine) as s, pytest.raises(DataError):
            insert_rows(s, ROWS, [{**rows(1)[0], "code": "X" * 9}])
    finally:
        META.drop_all(pg_engine)


def test_among_matches_exactly_whatever_the_length_of_the_value(engine: Engine) -> None:
    with Session(engine) as s:
        insert_rows(s, ROWS, rows(4))
        found = s.scalars(select(ROWS.c.code).where(among(s, ROWS.c.code, ["C1", "C3", "C9"]))
                          .order_by(ROWS.c.code)).all()
        assert found == ["C1", "C3"]
        # "C2" followed by more than the column holds must not match "C2" cut to length
        assert s.scalars(select(ROWS.c.code).where(
            among(s, ROWS.c.code, ["C2" + "Z" * 20]))).all() == []
        assert s.scalars(select(ROWS.c.code).where(among(s, ROWS.c.code, []))).all() == []


def test_keyed_rows_join_each_key_to_its_own_cut_off(engine: Engine) -> None:
    with Session(engine) as s:
        ids = insert_rows(s, ROWS, rows(4), ROWS.c.id)
        cuts = keyed(s, "cuts", (("pid", BigInteger()), ("cut", UTCDateTime())),
                     [(ids[1], T0), (ids[2], T0 + timedelta(hours=3))])
        hit = s.scalars(select(ROWS.c.code).join(
            cuts, (ROWS.c.id == cuts.c.pid) & (ROWS.c.at >= cuts.c.cut))).all()
        assert hit == ["C1"]  # C2 was before its cut
        one = keyed(s, "one", (("pid", BigInteger()), ("cut", UTCDateTime())), [(7, T0)])
        assert s.execute(select(one.c.pid, one.c.cut)).all() == [(7, T0)]
