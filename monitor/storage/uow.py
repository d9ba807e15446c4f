"""Unit of work: one transaction, plus the tasks to enqueue once it is durable.

Enqueue-after-commit (Zulip's `send_event_on_commit`): a task that names a row must never
reach a worker before the row is visible, and must not be sent at all if the transaction
rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker


class UnitOfWork:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._after_commit: list[Callable[[], None]] = []
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self._after_commit = []
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # close() rolls back whatever was not committed, and leaves loaded objects readable
        # (a rollback would expire them), so read models can be rendered after the unit.
        self.session.close()

    @property
    def dialect(self) -> str:
        bind = self.session.get_bind()
        return bind.dialect.name

    def on_commit(self, action: Callable[[], None]) -> None:
        """Run `action` after the next successful commit (e.g. enqueue a task)."""
        self._after_commit.append(action)

    def commit(self) -> None:
        self.session.commit()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()
