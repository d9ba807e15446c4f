"""Medications on PostgreSQL (issue 16): RDE^O11 and RAS^O17 over the real MLLP listener are
acknowledged AA and stored; the same feed through the inbox workers and through `replay`
raises HYPERTONIC_SALINE_MILD at sodium 130 and not at 117."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import hl7.client
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.engine.policy import load_policy
from monitor.ingest.hl7_fields import split_messages
from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox
from monitor.services.alerting.listing import list_alerts
from monitor.services.replay.run import replay
from monitor.storage.tables import MedicationRecord
from tests.conftest import DATA
from tests.integration.helpers import all_processed
from tests.integration.stack import ack_code, stack, wait_for
from tests.integration.test_live_equals_replay import live, replayed

FEEDS = DATA / "treatment"
MILD, SEVERE = FEEDS / "saline_mild.hl7", FEEDS / "saline_severe.hl7"
RULE = "HYPERTONIC_SALINE_MILD"


def test_rde_and_ras_over_mllp_get_aa_and_are_stored(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    messages = [m.text for m in split_messages(MILD.read_text())]
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        client = hl7.client.MLLPClient("127.0.0.1", port)
        try:
            for message in messages:
                control_id = message.split("\r")[0].split("|")[9]
                reply = client.send_message(message)
                text = reply.decode() if isinstance(reply, bytes) else reply
                assert ack_code(text) == ("AA", control_id)
        finally:
            client.close()
    rt = Runtime(Settings(database_url=pg_migrated, broker_url=""))
    try:
        drain_inbox(rt)
        wait_for(lambda: all_processed(pg_engine, len(messages)), 60, "the inbox")
        with Session(pg_engine) as session:
            rows = session.scalars(select(MedicationRecord).order_by(MedicationRecord.at)).all()
            assert [(r.kind, r.text, r.amount, r.unit, r.route, r.med_class, r.status)
                    for r in rows] == [
                ("order", "Sodium chloride 3% 250 mL IV", "250", "mL", "Intravenous",
                 "hypertonic-saline", "active"),
                ("administration", "Sodium chloride 3% 250 mL IV", "250", "mL", "Intravenous",
                 "hypertonic-saline", "completed")]
            assert rows[0].at == datetime(2026, 9, 14, 9, 45, tzinfo=UTC)  # TQ1-7
        with rt.uow() as uow:
            found = list(list_alerts(uow, state="all"))
        assert [(a["patient_id"], a["rule"], a["severity"]) for a in found] == [
            ("MRN200001", RULE, "warning")]
        assert "not indicated for mild hyponatremia without severe symptoms" \
            in found[0]["message"]
    finally:
        rt.engine.dispose()


def test_replay_raises_it_at_130_and_not_at_117() -> None:
    tz = Settings().zone
    outcome = replay([(p.name, p.read_text()) for p in (MILD, SEVERE)], "auto", tz,
                     load_policy("default"))
    assert [(a["patient_id"], a["rule"]) for a in outcome.alerts] == [
        ("MRN200001", RULE), ("MRN200002", "SEVERE_HYPONATREMIA")]
    (mild,) = [a for a in outcome.alerts if a["rule"] == RULE]
    assert (mild["severity"], mild["value_mmol_l"], mild["state"]) == ("warning", 130.0,
                                                                       "active")
    assert outcome.rejects == []


@pytest.mark.parametrize("path", [MILD, SEVERE], ids=lambda p: p.name)
def test_the_same_feed_live_and_replayed_gives_the_same_alerts(
        pg_engine: Engine, pg_migrated: str, path: Path) -> None:
    rt = Runtime(Settings(database_url=pg_migrated, broker_url=""))
    try:
        expected = replayed(path, "default", rt)
        assert expected
        assert live(path, rt) == expected
    finally:
        rt.engine.dispose()


def test_fhir_medication_request_over_rest_is_stored_and_a_cancellation_withdraws(
        rt: Runtime, pg_engine: Engine) -> None:
    from tests.integration.test_fhir_identity import fhir_client, post

    for message in split_messages(MILD.read_text()):
        if message.text.split("\r")[0].split("|")[8].startswith("ORU"):
            run_inbox_text(rt, message.text)
    http = fhir_client(rt)
    order = {"resourceType": "MedicationRequest", "id": "mr-1", "status": "active",
             "intent": "order", "authoredOn": "2026-09-14T09:00:00+00:00",
             "subject": {"identifier": {"system": "CITYGEN", "value": "MRN200001"}},
             "medicationCodeableConcept": {"text": "Hypertonic saline 3% 150 mL bolus"},
             "dosageInstruction": [{"route": {"text": "IV"}, "doseAndRate": [
                 {"doseQuantity": {"value": 150, "unit": "mL"}}]}]}
    assert post(rt, http, "/fhir/MedicationRequest", order) == 201
    with rt.uow() as uow:
        (a,) = list_alerts(uow, state="all")
        assert (a["rule"], a["state"]) == (RULE, "active")
    reply = http.put("/fhir/MedicationRequest/mr-1",
                     content=json.dumps({**order, "status": "cancelled"}))
    assert reply.status_code == 200, reply.text
    rt.dispatcher.drain()  # type: ignore[attr-defined]  # the embedded, in-process one
    with Session(pg_engine) as session:
        (row,) = session.scalars(select(MedicationRecord)).all()
        assert (row.status, row.med_class, row.amount) == ("cancelled", "hypertonic-saline",
                                                           "150")
    with rt.uow() as uow:
        (a,) = list_alerts(uow, state="all")
        assert (a["rule"], a["state"]) == (RULE, "withdrawn")


def run_inbox_text(rt: Runtime, text: str) -> None:
    from monitor.runtime.drain import run_inbox
    from monitor.services.intake.hl7 import receive_hl7

    reply = receive_hl7(rt.uow(), text, "hl7:lis", rt.pipeline, datetime.now(UTC))
    assert reply.inbox_id is not None
    run_inbox(rt, reply.inbox_id)
