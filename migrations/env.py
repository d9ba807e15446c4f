"""Alembic environment: run against the URL that monitor.storage.migrate puts in the config."""

from __future__ import annotations

from alembic import context

import monitor.storage.tables  # noqa: F401  (registers every table on the metadata)
from monitor.storage.base import Base
from monitor.storage.db import make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
