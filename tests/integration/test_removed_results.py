"""A removed result stays removed, live on PostgreSQL (clinical contract v2, item 10): a
final or preliminary sent after the removal is ignored and kept as a reject row (`rejects
list`); a correction brings the result back. Versions apply in arrival order, also when a
payload is processed after a later one (it committed late)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.ingest import parse_hl7_message
from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.intake.inbox import Arrival, FeedLiveness, screen, store
from monitor.storage.tables import RejectRow, Result
from tests.hl7_builders import oru
from tests.integration.helpers import alerts
from tests.integration.stack import ack_code
from tests.integration.test_rejects import cli

START = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
MRN = "RMV001"


def sent(rt: Runtime, message: str) -> int:
    """Received as the listener receives it, then processed."""
    reply = receive_hl7(rt.uow(), message, "hl7:LIS", rt.pipeline, datetime.now(UTC))
    assert ack_code(reply.ack)[0] == "AA" and reply.inbox_id is not None
    assert run_inbox(rt, reply.inbox_id) == "processed"
    return reply.inbox_id


def active(engine: Engine) -> set[str]:
    return {a["rule"] for a in alerts(engine, "active") if a["patient_id"] == MRN}


def reject_rows(engine: Engine) -> list[RejectRow]:
    with Session(engine) as s:
        rows = list(s.scalars(select(RejectRow).order_by(RejectRow.id)))
        s.expunge_all()
        return rows


def versions(engine: Engine, order: str) -> list[tuple[str, bool, bool]]:
    with Session(engine) as s:
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(Result.status, Result.is_current, Result.removed)
            .where(Result.result_key.startswith(order)).order_by(Result.arrival_seq))]


def baseline(n: int, **more: object) -> str:
    return oru(MRN, "A1", START, 117, control_id=f"A1-{n}", **more)  # type: ignore[arg-type]


@pytest.mark.integration
def test_a_final_re_sent_after_removal_is_a_reject_and_a_correction_restores(
        rt: Runtime, pg_engine: Engine, pg_migrated: str) -> None:
    sent(rt, baseline(1))
    sent(rt, oru(MRN, "A2", START + timedelta(hours=14), 126, control_id="A2-1"))
    assert active(pg_engine) == {"SEVERE_HYPONATREMIA", "OVERCORRECTION_24H"}

    sent(rt, oru(MRN, "A1", START, "", status="D", control_id="A1-2"))
    assert active(pg_engine) == set()
    resent = sent(rt, baseline(3))
    preliminary = sent(rt, oru(MRN, "A1", START, 117, status="P", control_id="A1-4"))
    assert active(pg_engine) == set()  # nothing brought back
    rows = reject_rows(pg_engine)
    assert [(r.inbox_id, r.source, r.reason.split(":")[0]) for r in rows] == [
        (resent, "hl7:LIS", "re-sent after removal"),
        (preliminary, "hl7:LIS", "re-sent after removal")]
    assert "A1-3" in rows[0].position and rows[0].payload == "117"
    # Stored as they arrived, none counted: the tombstone stays the current version.
    assert versions(pg_engine, "A1") == [("final", False, False), ("removed", True, True),
                                         ("final", False, False),
                                         ("preliminary", False, False)]
    listed = cli(pg_migrated, "rejects", "list")
    assert listed.returncode == 0, listed.stderr
    assert sum("re-sent after removal" in line for line in listed.stdout.splitlines()) == 2

    sent(rt, oru(MRN, "A1", START, 117, status="C", control_id="A1-5"))
    assert active(pg_engine) == {"SEVERE_HYPONATREMIA", "OVERCORRECTION_24H"}
    assert len(reject_rows(pg_engine)) == 2


@pytest.mark.integration
def test_a_removal_committed_late_still_refuses_the_final_that_arrived_after_it(
        rt: Runtime, pg_engine: Engine) -> None:
    # Arrival order: final (inbox 1), removal (inbox 3), a final again with another value
    # (inbox 4). The removal's transaction commits after the re-send has been processed:
    # the worker saw no earlier pending row, and the re-send replaced the value. Once the
    # removal is processed, the versions apply in arrival order: the re-send came after the
    # removal, so it is refused (belatedly, naming its inbox row) and nothing is counted.
    # (An identical copy of the first final would not have been stored at all, as any
    # repeated message: the result would end removed all the same, without a reject row.)
    sent(rt, baseline(1))
    sent(rt, oru(MRN, "A2", START + timedelta(hours=14), 126, control_id="A2-1"))
    removal = oru(MRN, "A1", START, "", status="D", control_id="A1-2")
    late, now = rt.uow(), datetime.now(UTC)
    seen = FeedLiveness()  # the feed's liveness is fresh: its row is not locked until commit
    seen.written(["hl7:LIS"], now)
    with late:
        parsed = parse_hl7_message(removal, source="hl7:LIS", tz=rt.pipeline.tz)
        [removal_id] = store(late, [Arrival("hl7", "hl7:LIS", removal.encode(), now,
                                            screen(parsed.items, now), parsed.control_id)],
                             now, seen)
        resent = sent(rt, oru(MRN, "A1", START, 116, control_id="A1-3"))
        assert removal_id is not None and removal_id < resent
        assert active(pg_engine) == {"SEVERE_HYPONATREMIA", "OVERCORRECTION_24H"}
        assert reject_rows(pg_engine) == []
        late.commit()
    assert run_inbox(rt, removal_id) == "processed"

    assert active(pg_engine) == set()
    [reject] = reject_rows(pg_engine)
    assert reject.inbox_id == resent and reject.reason.startswith("re-sent after removal")
    assert reject.position == f"inbox:{resent} item 0"
    assert versions(pg_engine, "A1") == [("final", False, False), ("removed", True, True),
                                         ("final", False, False)]
