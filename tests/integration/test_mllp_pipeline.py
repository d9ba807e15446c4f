"""The HL7 examples through a real listener, real Redis and a real Celery worker."""

from __future__ import annotations

from pathlib import Path

import hl7.client
import pytest
from sqlalchemy import Engine

from tests.expectations import SCENARIOS, problems
from tests.integration.helpers import alerts, all_processed, example_messages
from tests.integration.stack import ack_code, stack, wait_for

HL7_SCENARIOS = [s for s in SCENARIOS if s["file"].endswith(".hl7")]


def test_hl7_examples_over_mllp_are_acknowledged_and_alert_as_expected(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        s.worker(concurrency=2)
        sent = 0
        client = hl7.client.MLLPClient("127.0.0.1", port)
        try:
            for scenario in HL7_SCENARIOS:
                for message in example_messages(scenario["file"]):
                    control_id = message.split("\r")[0].split("|")[9]
                    reply = client.send_message(message)
                    assert ack_code(reply.decode() if isinstance(reply, bytes) else reply) \
                        == ("AA", control_id)
                    sent += 1
        finally:
            client.close()
        wait_for(lambda: all_processed(pg_engine, sent), 120, "the worker", every=0.5)
    found = alerts(pg_engine)
    failures = {s["patient_id"]: problems(s, found) for s in HL7_SCENARIOS}
    assert {k: v for k, v in failures.items() if v} == {}


@pytest.mark.parametrize("scenario", [s for s in HL7_SCENARIOS if s["patient_id"] in
                                      {"MRN100004", "MRN100005"}],
                         ids=lambda s: s["patient_id"])
def test_live_alerts_carry_replays_fields(pg_engine: Engine, pg_migrated: str,
                                          redis_url: str, tmp_path: Path,
                                          scenario: dict[str, str]) -> None:
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        s.worker(concurrency=1)
        client = hl7.client.MLLPClient("127.0.0.1", port)
        messages = example_messages(scenario["file"])
        for message in messages:
            client.send_message(message)
        client.close()
        wait_for(lambda: all_processed(pg_engine, len(messages)), 120, "the worker")
    found = alerts(pg_engine)
    assert found, "no alert"
    for a in found:
        assert {"alert_id", "patient_id", "patient_authority", "rule", "severity", "state",
                "triggered_at", "value_mmol_l", "rise_mmol_l", "window_hours", "limit_mmol_l",
                "risk_tier", "risk_factors", "mixed_methods", "test", "policy",
                "message"} <= set(a)
