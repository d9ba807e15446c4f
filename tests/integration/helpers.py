"""Reading the live database in integration tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.ingest import parse_hl7_message
from monitor.ingest.hl7_fields import split_messages
from monitor.runtime import Runtime
from monitor.services.access.tokens import create_token
from monitor.services.alerting.listing import list_alerts
from monitor.services.intake.inbox import receive, screen
from monitor.storage.base import Base
from monitor.storage.tables import InboxItem, RejectRow, Result
from monitor.storage.uow import UnitOfWork
from monitor.web.app import create_app
from tests.expectations import EXAMPLES


def alerts(engine: Engine, state: str = "all") -> list[dict[str, Any]]:
    # Tests hold the engine, not a runtime: a bare unit of work over it, nothing to deliver.
    with UnitOfWork(sessionmaker(engine)) as uow:
        return list(list_alerts(uow, state=state))


def empty_tables(engine: Engine) -> None:
    """Every table emptied and its ids restarted, as the pg_engine fixture does."""
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def store_hl7(rt: Runtime, message: str, now: datetime) -> int:
    """Commit an HL7 message to the inbox the way the listener does, but enqueue nothing."""
    outcome = parse_hl7_message(message, source="hl7:LIS", tz=rt.pipeline.tz)
    with rt.uow() as uow:
        return receive(uow, "hl7", "hl7:LIS", message.encode(), now,
                       items=screen(outcome.items, now), message_id=outcome.control_id)


def forget_parsed(rt: Runtime, inbox_id: int) -> None:
    """Drop the parsed items kept with an inbox row, as rows received by a version before
    they were kept: the worker then parses the payload itself."""
    with rt.uow() as uow:
        uow.session.execute(update(InboxItem).where(InboxItem.id == inbox_id)
                            .values(items=None))
        uow.commit()


def inbox_row(engine: Engine, inbox_id: int) -> InboxItem:
    with Session(engine) as s:
        found = s.get_one(InboxItem, inbox_id)
        s.expunge(found)
        return found


def inbox_states(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.execute(select(InboxItem.state, func.count()).group_by(InboxItem.state))
        return {state: count for state, count in rows}


def all_processed(engine: Engine, expected: int) -> bool:
    states = inbox_states(engine)
    return states.get("done", 0) >= expected and not states.get("pending")


def count(engine: Engine, table: type[Any]) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def reject_reasons(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(select(RejectRow.reason).order_by(RejectRow.id)))


def example_messages(name: str) -> list[str]:
    return [m.text for m in split_messages((EXAMPLES / name).read_text())]


__all__ = ["Result", "alerts", "all_processed", "count", "empty_tables", "example_messages",
           "inbox_row", "inbox_states", "reject_reasons", "store_hl7"]


def feed_client(rt: Runtime) -> TestClient:
    """A client of the app holding a feed token, as a laboratory system posts."""
    with rt.uow() as uow:
        token = create_token(uow, "LIS", "feed", datetime.now(UTC))
    client = TestClient(create_app(rt))
    client.headers["Authorization"] = f"Bearer {token}"
    return client
