"""Shared by the SQLite and PostgreSQL migration tests: upgrade, then autogenerate-compare."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

import monitor.storage.tables  # noqa: F401
from monitor.storage.base import Base
from monitor.storage.migrate import current_revision, head_revision, upgrade


def upgrade_and_compare(url: str, engine: Engine) -> list[Any]:
    upgrade(url)
    assert current_revision(engine) == head_revision(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))
