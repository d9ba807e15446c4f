"""Lab-flagged results on the live path (inbox, batch workers, real PostgreSQL): stored with
the lab's words, shown (not removed), and not counted; the alerts equal replay's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from monitor.config import Settings
from monitor.engine.policy import load_policy
from monitor.ingest.dispatch import parse_text
from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox
from monitor.services.alerting.listing import list_alerts
from monitor.services.intake.payload import receive_text
from monitor.services.replay.replayer import Replay
from monitor.storage.tables import Result
from tests.lab_flag_feeds import DRIP, FEEDS, hl7_corrected

KINDS = {"hl7": "hl7", "ndjson": "fhir", "csv": "csv"}


@pytest.fixture
def rt(pg_engine: Engine, pg_migrated: str) -> Iterator[Runtime]:
    runtime = Runtime(Settings(database_url=pg_migrated, broker_url="", policy="default"))
    yield runtime
    runtime.engine.dispose()


def live(rt: Runtime, kind: str, text: str) -> set[str]:
    with rt.uow() as uow:
        receive_text(uow, kind, "LIS", text, rt.pipeline, datetime.now(UTC))
    drain_inbox(rt)
    with rt.uow() as uow:
        return {a["rule"] for a in list_alerts(uow, state="active")}


def replayed(kind: str, text: str) -> set[str]:
    run = Replay(load_policy("default"))
    for item in parse_text("feed", text, kind, ZoneInfo("UTC")):
        run.apply(item)
    return {a["rule"] for a in run.alerts() if a["state"] == "active"}


@pytest.mark.parametrize("name", FEEDS)
def test_a_flagged_value_is_stored_with_the_labs_words_and_raises_nothing(
        name: str, rt: Runtime) -> None:
    suffix, feed = FEEDS[name]
    kind = KINDS[suffix]

    assert live(rt, kind, feed(True)) == replayed(kind, feed(True)) == set()
    with rt.uow() as uow:
        rows = uow.session.execute(select(Result.value_mmol_l, Result.flag, Result.removed,
                                          Result.is_current)
                                   .order_by(Result.collected_at)).all()
    assert [(r.value_mmol_l, r.removed, r.is_current) for r in rows] == [
        (121.0, False, True), (133.0, False, True)]
    assert rows[0].flag is None and rows[1].flag


@pytest.mark.parametrize("name", FEEDS)
def test_the_same_values_unflagged_overcorrect(name: str, rt: Runtime) -> None:
    suffix, feed = FEEDS[name]

    assert "OVERCORRECTION_24H" in live(rt, KINDS[suffix], feed(False))


def test_a_later_unflagged_correction_counts_again_live(rt: Runtime) -> None:
    messages = ["MSH|" + m for m in hl7_corrected().split("MSH|")[1:]]
    assert live(rt, "hl7", "".join(messages[:2])) == set()
    with rt.uow() as uow:
        flag = uow.session.scalar(select(Result.flag).where(Result.flag.is_not(None)))
    assert flag == DRIP

    # In its own inbox row, as the lab's later message would arrive.
    assert "OVERCORRECTION_24H" in live(rt, "hl7", messages[2])
