"""Rows that got into the inbox although PostgreSQL cannot store them (an older version
accepted them, or they were inserted directly): each is dealt with once, never retried,
and never blocks the patient's later rows. On real PostgreSQL.

Intake refuses these fields today (services.limits); here they are received unscreened,
as an older version did."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import monitor.runtime.drain as drain
import monitor.services.evaluation.processing as processing
from monitor.ingest import parse_hl7_message
from monitor.ingest.events import Item, Reject
from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox
from monitor.scheduling.jobs import sweep_inbox
from monitor.services.intake.inbox import receive
from monitor.storage.tables import Patient, RejectRow, Result
from tests.hl7_builders import oru
from tests.integration.helpers import forget_parsed, inbox_row, store_hl7

START = (datetime.now(UTC) - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)
PATIENT = "PSN01"
PV1 = "PV1|1|I|MED4^0412^01^"


def long_order() -> tuple[str, str]:
    return PATIENT, oru(PATIENT, "X" * 400, START, 130, control_id="C-ORDER")


def long_bed() -> tuple[str, str]:
    message = oru(PATIENT, "B-1", START, 130, control_id="C-BED")
    return PATIENT, message.replace(PV1, f"PV1|1|I|MED4^0412^{'B' * 60}^")


def long_identifier() -> tuple[str, str]:
    # The poison's own patient cannot be stored at all; the "next" row is another patient's.
    return PATIENT, oru("P" * 150, "I-1", START, 130, control_id="C-PID")


def long_ward() -> tuple[str, str]:
    return PATIENT, oru(PATIENT, "W-1", START, 130, ward="W" * 70, control_id="C-WARD")


# (what PostgreSQL refuses, the column) for each reproduction.
CASES = {
    "OBR-3 of 400": (long_order, "character varying(300)"),
    "PV1-3.3 bed of 60": (long_bed, "character varying(50)"),
    "PID-3 of 150": (long_identifier, "character varying(100)"),
    "PV1-3.1 ward of 70": (long_ward, "character varying(64)"),
}
# What intake's screening says of each today (services.limits).
REFUSED = {
    "OBR-3 of 400": "result id is 40",
    "PV1-3.3 bed of 60": "bed is 60 characters",
    "PID-3 of 150": "patient id is 150 characters",
    "PV1-3.1 ward of 70": "ward is 70 characters",
}


@pytest.fixture
def unscreened(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker applies what it parsed without screening it, so the database itself is
    what refuses the row (the defence behind the screening)."""
    def screen(items: Iterable[Item], received_at: datetime, fmt: str | None = None
               ) -> list[Item]:
        return list(items)

    monkeypatch.setattr(processing, "screen", screen)


def receive_unscreened(rt: Runtime, message: str, now: datetime) -> int:
    """Into the inbox (and inbox_patients) as an older version took it: nothing refused,
    and no parsed items kept with it (the worker parses it)."""
    outcome = parse_hl7_message(message, source="hl7:LIS", tz=rt.pipeline.tz)
    with rt.uow() as uow:
        inbox_id = receive(uow, "hl7", "hl7:LIS", message.encode(), now,
                           items=[i for i in outcome.items if not isinstance(i, Reject)],
                           message_id=outcome.control_id)
    forget_parsed(rt, inbox_id)
    return inbox_id


def poison_then_good(rt: Runtime, case: str) -> tuple[int, int]:
    patient, message = CASES[case][0]()
    now = datetime.now(UTC)
    bad = receive_unscreened(rt, message, now)
    good = store_hl7(rt, oru(patient, "NEXT", START + timedelta(hours=1), 128), now)
    return bad, good


def orders(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return sorted(k.split("|")[0] for k in s.scalars(select(Result.result_key)))


def rejects(engine: Engine, inbox_id: int) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(select(RejectRow.reason).where(RejectRow.inbox_id == inbox_id)))


def assert_never_again(rt: Runtime, engine: Engine, bad: int) -> None:
    before = inbox_row(engine, bad)
    assert drain_inbox(rt).batches == 0
    assert sweep_inbox(rt, now=datetime.now(UTC) + timedelta(hours=1)) == 0
    after = inbox_row(engine, bad)
    assert (after.state, after.attempts, after.error) == (
        before.state, before.attempts, before.error)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_poison_row_is_dealt_with_once_and_the_patient_goes_on(
        rt: Runtime, pg_engine: Engine, case: str) -> None:
    bad, good = poison_then_good(rt, case)
    drain_inbox(rt)
    row = inbox_row(pg_engine, bad)
    assert row.state != "pending" and row.attempts == 1
    assert inbox_row(pg_engine, good).state == "done"
    assert orders(pg_engine) == ["NEXT"]
    assert_never_again(rt, pg_engine, bad)


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_the_workers_screening_refuses_is_recorded_as_a_reject(
        rt: Runtime, pg_engine: Engine, case: str) -> None:
    """The worker parses such a row itself and screens it as intake does today: the item
    that cannot be stored gets a reject row with the reason (as at intake), the row is done
    and the rest of it, and the patient's next row, are processed."""
    bad, good = poison_then_good(rt, case)
    drain_inbox(rt)
    row = inbox_row(pg_engine, bad)
    assert (row.state, row.error) == ("done", None)
    assert any(REFUSED[case] in reason for reason in rejects(pg_engine, bad))
    assert inbox_row(pg_engine, good).state == "done"
    assert orders(pg_engine) == ["NEXT"]


@pytest.mark.usefixtures("unscreened")
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_row_the_database_refuses_is_parked_at_once(
        rt: Runtime, pg_engine: Engine, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # One row per batch, so the poison is written on its own (in a shared batch a later
    # bed of the patient supersedes a bad one before it is written: see below).
    monkeypatch.setattr(drain, "BATCH_SIZE", 1)
    bad, good = poison_then_good(rt, case)
    drained = drain_inbox(rt)
    assert drained.failed == [bad] and drained.done == [good]
    assert_parked_at_once(pg_engine, bad, CASES[case][1])
    assert inbox_row(pg_engine, good).state == "done"
    assert orders(pg_engine) == ["NEXT"]
    assert_never_again(rt, pg_engine, bad)


@pytest.mark.usefixtures("unscreened")
def test_a_refused_row_in_a_batch_is_parked_and_the_rest_of_the_batch_proceeds(
        rt: Runtime, pg_engine: Engine) -> None:
    now = datetime.now(UTC)
    before = store_hl7(rt, oru("OTHER1", "O-1", START, 131), now)
    bad, good = poison_then_good(rt, "OBR-3 of 400")
    drained = drain_inbox(rt)
    assert drained.batches == 1  # one claim; its rows then retried one by one
    assert drained.failed == [bad] and sorted(drained.done) == [before, good]
    assert_parked_at_once(pg_engine, bad, CASES["OBR-3 of 400"][1])
    assert orders(pg_engine) == ["NEXT", "O-1"]
    assert_never_again(rt, pg_engine, bad)


@pytest.mark.usefixtures("unscreened")
def test_in_one_batch_a_bad_bed_followed_by_a_good_one_is_never_written(
        rt: Runtime, pg_engine: Engine) -> None:
    bad, good = poison_then_good(rt, "PV1-3.3 bed of 60")
    drained = drain_inbox(rt)
    assert sorted(drained.done) == [bad, good] and drained.failed == []
    assert orders(pg_engine) == ["B-1", "NEXT"]
    with Session(pg_engine) as s:
        assert s.scalar(select(Patient.bed).where(Patient.identifier == PATIENT)) == "01"


def assert_parked_at_once(engine: Engine, bad: int, column: str) -> None:
    row = inbox_row(engine, bad)
    # A refusal is not retried: parked on its first attempt, not after MAX_ATTEMPTS.
    assert (row.state, row.attempts) == ("failed", 1)
    assert row.error is not None and "the database refused it: DataError" in row.error
    assert column in row.error
    [reason] = rejects(engine, bad)
    assert reason.startswith("processing failed: the database refused it") and column in reason


def test_a_nul_in_obx5_is_refused_by_the_parser_and_does_not_block(
        rt: Runtime, pg_engine: Engine) -> None:
    """The parser refuses the value ("not a number") before anything is stored: the row
    is done without a result, once."""
    now = datetime.now(UTC)
    bad = receive_unscreened(rt, oru(PATIENT, "N-1", START, "13\x000", control_id="C-NUL"),
                             now)
    good = store_hl7(rt, oru(PATIENT, "NEXT", START + timedelta(hours=1), 128), now)
    drain_inbox(rt)
    row = inbox_row(pg_engine, bad)
    assert (row.state, row.attempts, row.error) == ("done", 1, None)
    assert inbox_row(pg_engine, good).state == "done"
    assert orders(pg_engine) == ["NEXT"]
    assert_never_again(rt, pg_engine, bad)


def test_a_thousand_failing_rows_ahead_do_not_starve_the_next_result(
        rt: Runtime, pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Old rows that cannot be processed are parked as they come, not retried in front of
    everything else: the good row behind them is processed in the same drain."""
    def parse(fmt: str, payload: bytes, source: str, p: processing.Pipeline
              ) -> Iterable[Item]:
        raise ValueError("parser bug provoked by the test")

    now = datetime.now(UTC)
    bad = [receive_unscreened(rt, oru(f"OLD{n:04d}", f"O-{n}", START, 130,
                                      control_id=f"C-OLD-{n}"), now) for n in range(1000)]
    good = store_hl7(rt, oru(PATIENT, "NEXT", START + timedelta(hours=1), 128), now)
    monkeypatch.setattr(processing, "parse_payload", parse)
    drained = drain_inbox(rt)
    assert sorted(drained.failed) == bad and drained.done == [good]
    assert orders(pg_engine) == ["NEXT"]
    assert {inbox_row(pg_engine, i).attempts for i in bad[:5] + bad[-5:]} == {1}
