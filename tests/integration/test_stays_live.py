"""Standing alerts bound to stays in the live path on PostgreSQL (issue 18 item 5): a
discharge (ADT^A03) closes the open SEVERE_HYPONATREMIA alert, and a readmission a week
later with the same finding raises a new one; replay of the same feed ends the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.engine.policy import load_policy
from monitor.ingest.dispatch import parse_text
from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.replay.replayer import Replay
from monitor.storage.tables import AlertEvent
from tests.hl7_builders import oru, ts
from tests.integration.helpers import alerts

START = (datetime.now(UTC) - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
WEEK = timedelta(days=7)
SEVERE = "SEVERE_HYPONATREMIA"


def adt(event: str, patient: str, control: str, at: datetime) -> str:
    return "\r".join([
        f"MSH|^~\\&|ADT|CITYGEN|SODMON|CITYGEN|{ts(at)}||ADT^{event}^ADT_A01|{control}|P|2.5.1",
        f"EVN|{event}|{ts(at)}",
        f"PID|1||{patient}^^^CITYGEN^MR||DOE^ALEX||19560412|F",
        "PV1|1|I|MED4^0412^01^CITYGEN"])


def feed(patient: str) -> list[str]:
    """Admitted, Na 118, discharged the next day; readmitted a week later, Na 117."""
    return [
        adt("A01", patient, f"{patient}-A1", START),
        oru(patient, f"{patient}-1", START + timedelta(hours=2), 118),
        adt("A03", patient, f"{patient}-A3", START + timedelta(hours=30)),
        adt("A01", patient, f"{patient}-A1b", START + WEEK),
        oru(patient, f"{patient}-2", START + WEEK + timedelta(hours=2), 117),
    ]


def deliver(rt: Runtime, message: str) -> None:
    reply = receive_hl7(rt.uow(), message, "hl7:LIS", rt.pipeline, datetime.now(UTC))
    assert reply.code == "AA", reply.ack
    assert reply.inbox_id is not None
    assert run_inbox(rt, reply.inbox_id) == "processed"


def shape(a: dict[str, Any]) -> tuple[Any, ...]:
    return (a["patient_id"], a["rule"], a["severity"], a["state"], a["lifecycle"],
            a["triggered_at"], a["value_mmol_l"], a["withdrawn_reason"])


def severe(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((shape(a) for a in found if a["rule"] == SEVERE), key=lambda a: a[5])


def test_a_readmission_after_a_discharge_raises_a_new_alert_live_as_in_replay(
        rt: Runtime, pg_engine: Engine) -> None:
    messages = feed("STAY001")
    for message in messages:
        deliver(rt, message)
    live = severe(alerts(pg_engine))
    discharged = START + timedelta(hours=30)
    reason = f"patient discharged at {discharged:%H:%M} on {discharged.day} " \
             f"{discharged:%b}: the stay ended"
    assert [(a[3], a[4], a[5], a[6], a[7]) for a in live] == [
        ("resolved", "resolved", (START + timedelta(hours=2)).isoformat(), 118.0, reason),
        ("active", "unacknowledged", (START + WEEK + timedelta(hours=2)).isoformat(), 117.0,
         None)]
    with Session(pg_engine) as s:  # the alert's history tells why it ended
        assert (reason, "system") in set(s.execute(select(AlertEvent.reason, AlertEvent.actor)
                                                   .where(AlertEvent.action == "resolved")))

    run = Replay(load_policy("default"), tz=rt.pipeline.tz)
    for item in parse_text("stay.hl7", "\r\n".join(messages) + "\r\n", "hl7", rt.pipeline.tz):
        run.apply(item)
    assert severe(list(run.alerts())) == live


def test_without_adt_a_gap_longer_than_the_episode_gap_ends_the_stay(
        rt: Runtime, pg_engine: Engine) -> None:
    deliver(rt, oru("STAY002", "STAY002-1", START, 118))
    deliver(rt, oru("STAY002", "STAY002-2", START + timedelta(hours=80), 117))
    found = severe(alerts(pg_engine))
    assert [(a[3], a[6]) for a in found] == [("resolved", 118.0), ("active", 117.0)]
    assert (found[0][7] or "").startswith("stay ended: no sodium for more than 72 h after")


def test_a_gap_longer_than_the_results_loaded_still_ends_the_stay(
        rt: Runtime, pg_engine: Engine) -> None:
    # Ten days without sodium: the worker loads a week before the new result, not the 118.
    deliver(rt, oru("STAY003", "STAY003-1", START, 118))
    deliver(rt, oru("STAY003", "STAY003-2", START + timedelta(days=10), 117))
    assert [(a[3], a[6]) for a in severe(alerts(pg_engine))] == [("resolved", 118.0),
                                                                 ("active", 117.0)]
