"""Timed alerting on PostgreSQL: overdue measurements, silent feeds, nobody on call,
shelving, re-alarm, never paging for the past, racing acknowledgements, resolving and the
compliance report. Processing runs in the test process (receive -> inbox -> run_inbox);
time travels by passing `now` to `alerting`, never by sleeping."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from monitor.alerts.lifecycle import TransitionError
from monitor.cli import app
from monitor.config import Settings
from monitor.notify.sender import QUEUED_LEASE
from monitor.runtime import Runtime
from monitor.runtime.drain import run_delivery, run_inbox
from monitor.scheduling import jobs
from monitor.services.alerting import actions
from monitor.services.alerting.actions import AlertChanged
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.operations import admin
from monitor.storage.tables import Alert, AlertEvent, Delivery, Feed, Notice, Patient
from tests.hl7_builders import oru, ts
from tests.integration.receivers import Hook, WebhookReceiver

SECRET = "s3cret-for-tests"
OVERDUE = "MEASUREMENT_OVERDUE"
C24 = "OVERCORRECTION_24H"
# A fixed moment in the recent past: every step of a test passes its own `now`.
T = (datetime.now(UTC) - timedelta(days=2)).replace(hour=10, minute=0, second=0,
                                                     microsecond=0)
runner = CliRunner()


class Deferred:
    """A dispatcher that holds the deliveries handed to it until `send_queued(rt, now)`:
    the test decides when (in simulated time) the deliveries queue's worker runs them, no
    background thread races it."""

    def __init__(self) -> None:
        self.queued: list[int] = []

    def process(self, inbox_id: int) -> None:
        raise AssertionError("the tests process inboxes themselves")

    def deliver(self, delivery_id: int) -> None:
        self.queued.append(delivery_id)


def make_runtime(url: str) -> Runtime:
    return Runtime(Settings(database_url=url, broker_url=""), _dispatcher=Deferred())


def send_queued(rt: Runtime, now: datetime) -> None:
    """What the deliveries worker does with the tasks it was handed."""
    deferred = rt.dispatcher
    assert isinstance(deferred, Deferred)
    while deferred.queued:
        run_delivery(rt, deferred.queued.pop(0), now)


def alerting(rt: Runtime, now: datetime) -> None:
    """The scheduler's alerting run, then the deliveries it queued, sent."""
    jobs.alerting(rt, now)
    send_queued(rt, now)


@pytest.fixture
def rt(pg_engine: Engine, pg_migrated: str) -> Iterator[Runtime]:
    runtime = make_runtime(pg_migrated)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def hooks() -> Iterator[dict[str, WebhookReceiver]]:
    made = {name: WebhookReceiver() for name in ("nurse", "physician", "fallback", "admin")}
    yield made
    for receiver in made.values():
        receiver.close()


def hospital(rt: Runtime, hooks: dict[str, WebhookReceiver], now: datetime, *,
             on_call_until: datetime | None = None) -> None:
    """Ward MED4 (fallback dr.fallback), nurse.kim, dr.ali on call from now - 1 h to
    `on_call_until` (default now + 12 h), dr.fallback and admin.root; a webhook each."""
    with rt.uow() as uow:
        admin.upsert_ward(uow, "MED4", now, name="Medicine 4", fallback="dr.fallback")
    for name, role, hook in (("nurse.kim", "nurse", "nurse"),
                             ("dr.ali", "physician", "physician"),
                             ("dr.fallback", "physician", "fallback"),
                             ("admin.root", "admin", "admin")):
        with rt.uow() as uow:
            admin.create_user(uow, name, role, now,
                              wards=["MED4"] if role != "admin" else [])
        with rt.uow() as uow:
            admin.add_channel(uow, name, webhook=hooks[hook].url, secret=SECRET)
    with rt.uow() as uow:
        admin.add_shift(uow, "MED4", "dr.ali", now - timedelta(hours=1),
                        on_call_until or now + timedelta(hours=12), now)


def deliver(rt: Runtime, message: str, now: datetime, feed: str = "hl7:LIS") -> None:
    """Receive and process one message at `now`, then send what it wrote."""
    reply = receive_hl7(rt.uow(), message, feed, rt.pipeline, now)
    assert reply.code == "AA", reply.ack
    assert reply.inbox_id is not None
    assert run_inbox(rt, reply.inbox_id, now) == "processed"
    send_queued(rt, now)


def sodium(rt: Runtime, patient: str, n: int, collected: datetime, value: float, *,
           now: datetime | None = None, ward: str = "MED4", processing: str = "P") -> None:
    now = now or collected
    deliver(rt, oru(patient, f"{patient}-{n}", collected, value, received=now, ward=ward,
                    processing=processing), now)


def adt(event: str, patient: str, control: str, at: datetime, ward: str = "MED4") -> str:
    return "\r".join([
        f"MSH|^~\\&|ADT|CITYGEN|SODMON|CITYGEN|{ts(at)}||ADT^{event}^ADT_A01|{control}|P|2.5.1",
        f"EVN|{event}|{ts(at)}",
        f"PID|1||{patient}^^^CITYGEN^MR||DOE^ALEX||19560412|F",
        f"PV1|1|I|{ward}^0412^01^CITYGEN"])


SERIES = ((timedelta(hours=-20), 121), (timedelta(hours=-10), 123), (timedelta(hours=-1), 131))


def overcorrect(rt: Runtime, patient: str, now: datetime, ward: str = "MED4") -> Alert:
    """121 -> 123 -> 131 over 19 h, all processed at `now`: a critical OVERCORRECTION_24H
    (rise 10 > 8) and no band alert (never below 120)."""
    for n, (offset, value) in enumerate(SERIES):
        sodium(rt, patient, n, now + offset, value, now=now, ward=ward)
    found = [a for a in alerts_of(rt, patient) if a.rule == C24]
    assert len(found) == 1, found
    assert found[0].severity == "critical" and found[0].rise_mmol_l == 10
    return found[0]


def alerts_of(rt: Runtime, patient: str, rule: str | None = None) -> list[Alert]:
    with rt.uow() as uow:
        q = select(Alert).join(Patient, Patient.id == Alert.patient_id).where(
            Patient.identifier == patient)
        if rule:
            q = q.where(Alert.rule == rule)
        found = list(uow.session.scalars(q.order_by(Alert.id)))
        uow.session.expunge_all()
        return found


def get(rt: Runtime, alert_id: int) -> Alert:
    with rt.uow() as uow:
        a = uow.session.get(Alert, alert_id)
        assert a is not None
        uow.session.expunge(a)
        return a


def events(rt: Runtime, alert_id: int) -> list[str]:
    with rt.uow() as uow:
        return list(uow.session.scalars(select(AlertEvent.action).where(
            AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)))


def hooked(receiver: WebhookReceiver, event: str | None = None, *,
           rule: str | None = None, alert_id: int | None = None) -> list[Hook]:
    return [h for h in receiver.events(event)
            if (rule is None or h.json.get("alert", {}).get("rule") == rule)
            and (alert_id is None or h.json.get("alert", {}).get("alert_id") == str(alert_id))]


def notices(rt: Runtime, kind: str) -> list[Notice]:
    with rt.uow() as uow:
        found = list(uow.session.scalars(select(Notice).where(Notice.kind == kind)
                                         .order_by(Notice.id)))
        uow.session.expunge_all()
        return found


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same moment; results or exceptions."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            out[i] = call()
        except Exception as error:  # collected for the test to inspect
            out[i] = error

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


def cli(url: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin,
                         env={"SODIUM_DATABASE_URL": url, "SODIUM_BROKER_URL": ""})


# 1. MEASUREMENT_OVERDUE ------------------------------------------------------------------


def test_overdue_once_per_gap_then_escalated_and_resolved_by_the_next_result(
        rt: Runtime, pg_migrated: str, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T, on_call_until=T + timedelta(days=1))
    sodium(rt, "OD1", 0, T, 122)  # moderate band: a sodium every 12 h
    sodium(rt, "OD2", 0, T + timedelta(hours=1), 122)

    alerting(rt, T + timedelta(hours=12))
    assert alerts_of(rt, "OD1", OVERDUE) == []
    alerting(rt, T + timedelta(hours=12, seconds=1))
    [overdue] = alerts_of(rt, "OD1", OVERDUE)
    assert (overdue.severity, overdue.lifecycle, overdue.notify) == \
        ("warning", "unacknowledged", True)
    assert overdue.triggered_at == T + timedelta(hours=12)
    assert len(hooked(hooks["nurse"], "raised", rule=OVERDUE)) == 1
    alerting(rt, T + timedelta(hours=12, minutes=5))
    assert len(alerts_of(rt, "OD1", OVERDUE)) == 1
    assert len(hooked(hooks["nurse"], "raised", rule=OVERDUE)) == 1

    # An overdue alert escalates as any warning does (30 min).
    alerting(rt, overdue.created_at + timedelta(minutes=29))
    assert hooked(hooks["physician"], alert_id=overdue.id) == []
    alerting(rt, overdue.created_at + timedelta(minutes=30))
    assert len(hooked(hooks["physician"], "escalated", alert_id=overdue.id)) == 1

    # Two schedulers at once on a gap neither has seen yet (OD2 is due from 13 h).
    second = make_runtime(pg_migrated)
    try:
        at = T + timedelta(hours=13, seconds=2)
        outcome = together(lambda: alerting(rt, at), lambda: alerting(second, at))
    finally:
        second.engine.dispose()
    assert outcome == [None, None]
    assert len(alerts_of(rt, "OD1", OVERDUE)) == 1
    assert len(alerts_of(rt, "OD2", OVERDUE)) == 1
    assert len(hooked(hooks["nurse"], "raised", rule=OVERDUE)) == 2

    sodium(rt, "OD1", 1, T + timedelta(hours=13, minutes=5), 124)
    alerting(rt, T + timedelta(hours=13, minutes=6))
    [after] = alerts_of(rt, "OD1", OVERDUE)
    assert (after.lifecycle, after.state, after.next_notification_at) == \
        ("resolved", "resolved", None)
    paged = len(hooked(hooks["physician"], alert_id=overdue.id))
    alerting(rt, T + timedelta(hours=13, minutes=40))
    assert len(hooked(hooks["physician"], alert_id=overdue.id)) == paged  # no more repeats


def test_overdue_interval_is_6_h_when_severe_and_4_h_with_a_rate_alert_open(
        rt: Runtime, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T - timedelta(hours=1))
    sodium(rt, "SEV", 0, T, 118)  # severe band
    overcorrect(rt, "RATE", T + timedelta(hours=1))  # last 131 (mild band: 24 h) at T
    checks = [(4, 0, "RATE", 0), (4, 1, "RATE", 1), (6, 0, "SEV", 0), (6, 1, "SEV", 1)]
    for hours, seconds, patient, expected in checks:
        alerting(rt, T + timedelta(hours=hours, seconds=seconds))
        assert len(alerts_of(rt, patient, OVERDUE)) == expected, (hours, seconds, patient)


def test_no_overdue_once_discharged_or_the_episode_ended(
        rt: Runtime, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T - timedelta(hours=24), on_call_until=T + timedelta(days=3))
    sodium(rt, "CTRL", 0, T, 122)
    sodium(rt, "DIS", 0, T, 122)
    deliver(rt, adt("A03", "DIS", "DIS-A03", T + timedelta(hours=1)), T + timedelta(hours=1))
    sodium(rt, "END", 0, T - timedelta(hours=24), 122)
    sodium(rt, "END", 1, T - timedelta(hours=12), 136)
    sodium(rt, "END", 2, T, 137)  # >= 136 for 12 h: the episode is over (else 24 h)
    alerting(rt, T + timedelta(hours=12, seconds=1))
    sodium(rt, "LATE", 0, T + timedelta(hours=18), 122)
    alerting(rt, T + timedelta(hours=24, seconds=1))
    assert len(alerts_of(rt, "CTRL", OVERDUE)) == 1
    assert alerts_of(rt, "DIS", OVERDUE) == []
    assert alerts_of(rt, "END", OVERDUE) == []

    # Overdue first, discharged afterwards: the alert stops, it never escalates.
    alerting(rt, T + timedelta(hours=30, seconds=1))
    [late] = alerts_of(rt, "LATE", OVERDUE)
    assert late.next_notification_at is not None
    deliver(rt, adt("A03", "LATE", "LATE-A03", T + timedelta(hours=30, minutes=1)),
            T + timedelta(hours=30, minutes=1))
    alerting(rt, T + timedelta(hours=30, minutes=2))
    stopped = get(rt, late.id)
    assert (stopped.lifecycle, stopped.next_notification_at) == ("resolved", None)
    alerting(rt, late.created_at + timedelta(hours=1))
    assert get(rt, late.id).escalation_level == 0
    assert hooked(hooks["physician"], alert_id=late.id) == []
    assert len(hooked(hooks["nurse"], "raised", alert_id=late.id)) == 1


# 2. FEED_SILENT --------------------------------------------------------------------------


def test_a_silent_feed_opens_one_notice_for_admins_until_it_sends_again(
        rt: Runtime, pg_migrated: str, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T)
    sodium(rt, "FS1", 0, T, 140)
    alerting(rt, T + timedelta(minutes=30))
    assert notices(rt, "FEED_SILENT") == []
    second = make_runtime(pg_migrated)  # two schedulers at the same moment
    try:
        at = T + timedelta(minutes=31)
        assert together(lambda: alerting(rt, at), lambda: alerting(second, at)) == [None, None]
    finally:
        second.engine.dispose()
    [notice] = notices(rt, "FEED_SILENT")
    assert (notice.subject, notice.cleared_at) == ("hl7:LIS", None)
    [hook] = hooks["admin"].events("FEED_SILENT")
    assert hook.json["notice"]["kind"] == "FEED_SILENT"
    assert hook.json["notice"]["subject"] == "hl7:LIS"
    assert hook.json["recipient"] == "admin.root"
    assert hooks["nurse"].events("FEED_SILENT") == []

    alerting(rt, T + timedelta(minutes=40))
    assert len(notices(rt, "FEED_SILENT")) == 1
    assert len(hooks["admin"].events("FEED_SILENT")) == 1

    sodium(rt, "FS1", 1, T + timedelta(minutes=45), 141)
    alerting(rt, T + timedelta(minutes=46))
    [cleared] = notices(rt, "FEED_SILENT")
    assert cleared.cleared_at == T + timedelta(minutes=46)
    assert len(hooks["admin"].events("FEED_SILENT")) == 1


# 3. NO_ON_CALL ---------------------------------------------------------------------------


def test_nobody_on_call_sends_the_escalation_to_the_fallback_and_tells_admins(
        rt: Runtime, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T, on_call_until=T + timedelta(minutes=5))  # ends before escalation
    alert = overcorrect(rt, "NOC", T)
    alerting(rt, T + timedelta(minutes=10))
    assert get(rt, alert.id).escalation_level == 1
    assert len(hooked(hooks["fallback"], "escalated", alert_id=alert.id)) == 1
    assert hooked(hooks["physician"], alert_id=alert.id) == []
    [notice] = notices(rt, "NO_ON_CALL")
    assert notice.subject == "MED4" and str(alert.id) in notice.message
    [hook] = hooks["admin"].events("NO_ON_CALL")
    assert hook.json["notice"]["subject"] == "MED4"


# 4. Shelving -----------------------------------------------------------------------------


def test_a_shelved_alert_does_not_escalate_and_returns_when_the_shelf_expires(
        rt: Runtime, pg_migrated: str, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T)
    alert = overcorrect(rt, "SH1", T)
    until = T + timedelta(minutes=1, hours=2)
    shelved = actions.shelve(rt.uow(), alert.id, "nurse.kim", "in theatre",
                                   timedelta(hours=2), T + timedelta(minutes=1))
    assert (shelved.lifecycle, shelved.shelved_until) == ("shelved", until)
    for minutes in (10, 30, 60, 120):
        alerting(rt, T + timedelta(minutes=minutes))
    assert hooked(hooks["physician"], alert_id=alert.id) == []
    assert get(rt, alert.id).escalation_level == 0

    alerting(rt, until)
    back = get(rt, alert.id)
    assert (back.lifecycle, back.shelved_until) == ("unacknowledged", None)
    assert "unshelved" in events(rt, alert.id)
    assert len(hooked(hooks["nurse"], "unshelved", alert_id=alert.id)) == 1
    alerting(rt, until + timedelta(minutes=10))  # escalation runs again
    assert len(hooked(hooks["physician"], "escalated", alert_id=alert.id)) == 1

    with pytest.raises(TransitionError):
        actions.shelve(rt.uow(), alert.id, "nurse.kim", "night", timedelta(hours=13),
                             until + timedelta(minutes=11))
    result = cli(pg_migrated, "alerts", "shelve", str(alert.id), "--user", "nurse.kim",
                 "--reason", "night", "--for", "13h")
    assert result.exit_code != 0
    assert "12 h" in result.output
    assert get(rt, alert.id).lifecycle == "unacknowledged"


# 5. Re-alarm -----------------------------------------------------------------------------


def test_an_acknowledged_rise_re_alarms_when_it_grows_by_two(
        rt: Runtime, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T)
    alert = overcorrect(rt, "RA1", T)
    actions.acknowledge(rt.uow(), alert.id, "nurse.kim", "seen", T + timedelta(minutes=2))

    sodium(rt, "RA1", 10, T + timedelta(hours=1), 132)  # rise 11: +1
    after_one = get(rt, alert.id)
    assert (after_one.lifecycle, after_one.rise_mmol_l) == ("acknowledged", 11)
    assert hooked(hooks["nurse"], "re-alarmed") == []

    sodium(rt, "RA1", 11, T + timedelta(hours=2), 133)  # rise 12: +2 over the acknowledged
    worse = get(rt, alert.id)
    assert (worse.lifecycle, worse.rise_mmol_l) == ("unacknowledged", 12)
    assert events(rt, alert.id).count("re-alarmed") == 1
    [hook] = hooked(hooks["nurse"], "re-alarmed", alert_id=alert.id)
    assert hook.json["alert"]["lifecycle"] == "unacknowledged"


# 6. Never page for the past --------------------------------------------------------------


def _stale(rt: Runtime, url: str, tmp_path: Path) -> str:
    for n, (offset, value) in enumerate(SERIES):  # the last collected 25 h before processing
        sodium(rt, "PAST", n, T + offset - timedelta(hours=24), value, now=T)
    return "PAST"


def _imported(rt: Runtime, url: str, tmp_path: Path) -> str:
    now = datetime.now(UTC)
    file = tmp_path / "backfill.hl7"
    file.write_text("".join(f"\x0b{oru('IMP', f'IMP-{n}', now + offset, value)}\x1c\r"
                            for n, (offset, value) in enumerate(SERIES)))
    result = cli(url, "import", str(file))
    assert result.exit_code == 0, result.output
    return "IMP"


def _test_message(rt: Runtime, url: str, tmp_path: Path) -> str:
    for n, (offset, value) in enumerate(SERIES):
        sodium(rt, "TST", n, T + offset, value, now=T, processing="T")
    return "TST"


@pytest.mark.parametrize("make", [_stale, _imported, _test_message],
                         ids=["collected-25h-before", "import", "msh11-T"])
def test_alerts_from_the_past_are_recorded_but_never_page(
        rt: Runtime, pg_migrated: str, tmp_path: Path, hooks: dict[str, WebhookReceiver],
        make: Callable[[Runtime, str, Path], str]) -> None:
    hospital(rt, hooks, T - timedelta(days=1),
             on_call_until=datetime.now(UTC) + timedelta(days=1))
    patient = make(rt, pg_migrated, tmp_path)
    [alert] = alerts_of(rt, patient, C24)
    assert alert.severity == "critical" and alert.state == "active"
    assert alert.notify is False and alert.next_notification_at is None
    # +1 h; then past the 4 h measurement interval of an open rate alert.
    for hours in (1, 5):
        alerting(rt, alert.created_at + timedelta(hours=hours))
    with rt.uow() as uow:
        sent = uow.session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.alert_id.is_not(None)))
    assert sent == 0
    for name in ("nurse", "physician", "fallback"):
        assert hooks[name].events() == [], name
    assert get(rt, alert.id).escalation_level == 0
    assert "escalated" not in events(rt, alert.id)
    # The overdue measurement of such a patient is recorded too, never paged.
    assert all(a.notify is False for a in alerts_of(rt, patient))
    # History, not care to give: never on the board, never in the compliance figures.
    from monitor.services.access.scope import Principal
    from monitor.services.alerting.compliance import compliance
    from monitor.services.dashboards.views import board, count_unacknowledged
    everyone = Principal(None, "admin.root", "admin", None)
    with rt.uow() as uow:
        assert board(uow, everyone, datetime.now(UTC)) == []
        assert count_unacknowledged(uow, everyone) == 0
        assert compliance(uow, alert.created_at - timedelta(days=1),
                          alert.created_at + timedelta(days=1)) == []


# 7. Racing acknowledgements --------------------------------------------------------------


def test_two_acknowledgements_at_once_one_wins(
        rt: Runtime, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T)
    alert = overcorrect(rt, "ACK", T)
    at = T + timedelta(minutes=3)
    outcome = together(
        lambda: actions.acknowledge(rt.uow(), alert.id, "nurse.kim", "mine", at),
        lambda: actions.acknowledge(rt.uow(), alert.id, "dr.ali", "mine", at))
    won = [o for o in outcome if isinstance(o, Alert)]
    lost = [o for o in outcome if isinstance(o, AlertChanged | TransitionError)]
    assert len(won) == 1 and len(lost) == 1, outcome
    assert events(rt, alert.id).count("acknowledged") == 1
    final = get(rt, alert.id)
    assert final.lifecycle == "acknowledged"
    assert final.acknowledged_by == won[0].acknowledged_by


# 8. Resolving ----------------------------------------------------------------------------


def test_only_a_physician_resolves_and_the_cli_does_it_too(
        rt: Runtime, pg_migrated: str, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T)
    first = overcorrect(rt, "RS1", T)
    second = overcorrect(rt, "RS2", T)
    with pytest.raises(TransitionError):
        actions.resolve(rt.uow(), first.id, "nurse.kim", "fine", T + timedelta(minutes=1))
    with pytest.raises(TransitionError):
        actions.resolve(rt.uow(), first.id, "dr.ali", "  ", T + timedelta(minutes=1))
    assert get(rt, first.id).lifecycle == "unacknowledged"
    done = actions.resolve(rt.uow(), first.id, "dr.ali", "fluids stopped",
                                 T + timedelta(minutes=2))
    assert (done.lifecycle, done.state, done.resolved_at) == \
        ("resolved", "resolved", T + timedelta(minutes=2))

    refused = cli(pg_migrated, "alerts", "resolve", str(second.id), "--user", "nurse.kim",
                  "--note", "x")
    assert refused.exit_code != 0
    ok = cli(pg_migrated, "alerts", "resolve", str(second.id), "--user", "dr.ali",
             "--note", "D5W started, recheck 4 h")
    assert ok.exit_code == 0, ok.output
    assert get(rt, second.id).lifecycle == "resolved"

    listed = cli(pg_migrated, "alerts", "list", "--format", "jsonl", "--state", "all")
    assert listed.exit_code == 0, listed.output
    rows = {r["alert_id"]: r for r in map(json.loads, listed.output.splitlines())}
    for a in (first, second):
        assert (rows[str(a.id)]["state"], rows[str(a.id)]["lifecycle"]) == \
            ("resolved", "resolved")
    active = cli(pg_migrated, "alerts", "list", "--format", "jsonl", "--state", "active")
    ids = {json.loads(line)["alert_id"] for line in active.output.splitlines()}
    assert str(first.id) not in ids and str(second.id) not in ids


# 9. Compliance ---------------------------------------------------------------------------


def test_compliance_report_per_ward(
        rt: Runtime, pg_migrated: str, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T)
    with rt.uow() as uow:
        admin.create_user(uow, "nurse.lee", "nurse", T, wards=["SUR2"])
    alert = overcorrect(rt, "CMP1", T)  # raised at T, the last result collected T - 1 h
    sodium(rt, "CMP2", 0, T, 117, now=T + timedelta(minutes=1), ward="SUR2")  # severe
    [severe] = alerts_of(rt, "CMP2", "SEVERE_HYPONATREMIA")
    actions.acknowledge(rt.uow(), severe.id, "nurse.lee", None, T + timedelta(minutes=4))
    alerting(rt, T + timedelta(minutes=10))  # MED4's alert escalates
    actions.acknowledge(rt.uow(), alert.id, "nurse.kim", "called",
                              T + timedelta(minutes=15))

    day = T.date().isoformat()
    out = cli(pg_migrated, "report", "compliance", "--from", day, "--to", day,
              "--format", "json")
    assert out.exit_code == 0, out.output
    rows = {r["ward"]: r for r in json.loads(out.output)}
    assert set(rows) == {"MED4", "SUR2"}
    med4, sur2 = rows["MED4"], rows["SUR2"]
    assert (med4["alerts"], med4["critical"], med4["escalated"],
            med4["never_acknowledged"]) == (1, 1, 1, 0)
    assert med4["collected_to_raised"]["median_min"] == 60
    # The in-app notification is written with the alert: delivered at once.
    assert med4["raised_to_first_notification"]["median_min"] == 0
    assert med4["first_notification_to_acknowledged"]["median_min"] == 15
    assert (sur2["alerts"], sur2["escalated"], sur2["never_acknowledged"]) == (1, 0, 0)
    assert sur2["collected_to_raised"]["median_min"] == 1
    assert sur2["first_notification_to_acknowledged"]["median_min"] == 3

    other = (T - timedelta(days=1)).date().isoformat()
    empty = cli(pg_migrated, "report", "compliance", "--from", other, "--to", other,
                "--format", "json")
    assert json.loads(empty.output) == []

    table = cli(pg_migrated, "report", "compliance", "--from", day, "--to", day,
                "--format", "csv")
    assert table.exit_code == 0, table.output
    lines = list(csv.reader(io.StringIO(table.output)))
    assert lines[0][:6] == ["ward", "alerts", "critical", "warning", "escalated",
                            "never_acknowledged"]
    assert "first_notification_to_acknowledged_median_min" in lines[0]
    assert sorted(r[0] for r in lines[1:]) == ["MED4", "SUR2"]
    med4_row = dict(zip(lines[0], next(r for r in lines[1:] if r[0] == "MED4"), strict=True))
    assert med4_row["escalated"] == "1" and med4_row["never_acknowledged"] == "0"


def test_the_scheduler_hands_a_due_delivery_to_the_queue_once_per_lease(
        rt: Runtime, hooks: dict[str, WebhookReceiver]) -> None:
    """Queueing, not sending: the alerting run leases each due delivery to the deliveries
    queue; a second run (or a second scheduler) does not queue it again while its task may
    still be waiting behind slow channels, and a task lost with the broker is queued again
    once the lease has run out. Sending a queued one needs no wait for its time."""
    hospital(rt, hooks, T)
    deferred = rt.dispatcher
    assert isinstance(deferred, Deferred)
    for n, (offset, value) in enumerate(SERIES):
        reply = receive_hl7(rt.uow(), oru("Q1", f"Q1-{n}", T + offset, value, received=T),
                            "hl7:LIS", rt.pipeline, T)
        assert run_inbox(rt, reply.inbox_id or 0, T) == "processed"
    handed = list(deferred.queued)
    assert handed, "the alert's notifications were handed over after its commit"
    deferred.queued.clear()  # lost with the broker: never run

    assert jobs.queue_due(rt, T) == len(handed)
    assert sorted(deferred.queued) == sorted(handed)
    assert jobs.queue_due(rt, T + timedelta(minutes=4)) == 0  # still leased to the queue
    deferred.queued.clear()  # lost again
    assert jobs.queue_due(rt, T + QUEUED_LEASE) == len(handed)  # the lease ran out
    send_queued(rt, T + QUEUED_LEASE)
    with rt.uow() as uow:
        states = set(uow.session.scalars(select(Delivery.state).where(
            Delivery.id.in_(handed))))
    assert states == {"sent"}
    assert hooked(hooks["nurse"], "raised")


def test_refusals_from_unknown_senders_never_make_a_silent_feed(
        rt: Runtime, hooks: dict[str, WebhookReceiver]) -> None:
    """The rejects of connections bound to no feed and of bytes outside any frame are kept
    under pseudo feeds; when that sender goes quiet nobody is paged about a silent feed,
    and the admin page lists them as no sender (issue 13 / 14, item 6)."""
    from monitor.services.intake.hl7 import commit_hl7, refused_frame
    from monitor.services.intake.pipeline import UNAUTHENTICATED, UNKNOWN_HL7_FEED

    hospital(rt, hooks, T)
    sodium(rt, "FS2", 0, T, 140)
    for feed in (UNAUTHENTICATED, UNKNOWN_HL7_FEED):
        commit_hl7(rt.uow(), [refused_frame(feed, "connection", "no feed bound", "x", T,
                                            answers=None)], T)
    alerting(rt, T + timedelta(hours=2))
    assert [n.subject for n in notices(rt, "FEED_SILENT")] == ["hl7:LIS"]  # the real one
    with rt.uow() as uow:
        names = set(uow.session.scalars(select(Feed.name)))
    assert {UNAUTHENTICATED, UNKNOWN_HL7_FEED} <= names  # recorded, as rejects' sources
