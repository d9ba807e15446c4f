"""Unit of work: one transaction, plus what to do once it is durable.

Enqueue-after-commit (Zulip's `send_event_on_commit`): a task that names a row must never
reach a worker before the row is visible, and must not be sent at all if the transaction
rolls back. Every follow-up goes through `on_commit`: the wake-up of the inbox workers, the
notifications to send, the live events for the dashboards.

A unit of work may be entered several times in sequence (each `with uow:` a new session),
so a use case that needs several transactions takes one `uow`. An action registered inside
a transaction runs after its commit and is dropped if it rolls back; one registered
outside any transaction runs after the next commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker


def _ignore(*_: Any) -> None:
    return None


class UnitOfWork:
    def __init__(self, sessions: sessionmaker[Session], *,
                 deliver: Callable[[int], None] = _ignore,
                 publish: Callable[[dict[str, Any]], None] = _ignore) -> None:
        self._sessions = sessions
        self._deliver, self._publish = deliver, publish  # wired by the runtime
        self._after_commit: list[Callable[[], None]] = []
        self._mark = 0
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self._mark = len(self._after_commit)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # close() rolls back whatever was not committed, and leaves loaded objects readable
        # (a rollback would expire them), so read models can be rendered after the unit.
        self.session.close()
        del self._after_commit[self._mark:]  # what this transaction asked for, rolled back
        self._mark = 0

    @property
    def dialect(self) -> str:
        bind = self.session.get_bind()
        return bind.dialect.name

    def on_commit(self, action: Callable[[], None]) -> None:
        """Run `action` after the next successful commit (e.g. enqueue a task)."""
        self._after_commit.append(action)

    def deliver_on_commit(self, delivery_ids: Iterable[int]) -> None:
        """Send these outbox rows once the transaction is durable."""
        for delivery_id in delivery_ids:
            self.on_commit(partial(self._deliver, delivery_id))

    def publish_on_commit(self, alert_ids: Iterable[int]) -> None:
        """Tell the live dashboards these alerts changed, once the change is durable."""
        changed = sorted(set(alert_ids))
        if changed:
            self.on_commit(partial(self._publish, {"alerts": changed}))

    def commit(self) -> None:
        self.session.commit()
        actions, self._after_commit = self._after_commit, []
        self._mark = 0
        for action in actions:
            action()
