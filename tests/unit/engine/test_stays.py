"""Standing alerts end with the stay (engine.stays): at a discharge, or after a gap without
sodium longer than episodes.gap_hours; a readmission with the same finding is a new alert.
Live (one result at a time) and replay (appends deferred) end in the same state."""

from __future__ import annotations

from datetime import datetime

import pytest

from monitor.engine.ledger import PatientLedger
from monitor.engine.model import Analyte, Method, ResultStatus
from monitor.engine.policy import built_in
from monitor.engine.reconcile import ACTIVE, RESOLVED
from monitor.engine.rules import HYPERNATREMIA, OVERCORRECTION_24H, SEVERE_HYPONATREMIA
from monitor.engine.stays import latest_gap
from tests.unit.engine.builders import Feed, at, ids

WEEK = 7 * 24


def states(ledger: PatientLedger, rule: str = SEVERE_HYPONATREMIA
           ) -> list[tuple[str, str | None, list[str]]]:
    return [(a.state, a.withdrawn_reason, sorted(a.evidence))
            for a in sorted(ledger.alerts, key=lambda a: a.triggered_at) if a.rule == rule]


def test_a_discharge_closes_the_standing_alert_and_a_readmission_raises_a_new_one() -> None:
    feed = Feed()
    feed.send("r1", 0, 118)
    changes = feed.ledger.discharge(at(30), feed.new_id)
    assert [(c.kind, c.alert.rule) for c in changes] == [("resolved", SEVERE_HYPONATREMIA)]
    feed.send("r2", WEEK, 117)
    assert states(feed.ledger) == [
        (RESOLVED, "patient discharged at 14:00 on 5 Mar: the stay ended", ["r1"]),
        (ACTIVE, None, ["r2"])]


def test_a_discharge_without_a_time_ends_the_stay_after_the_sodium_known_then() -> None:
    feed = Feed()
    feed.send("r1", 0, 118)
    feed.ledger.discharge(None, feed.new_id)
    feed.send("r2", 1, 117)  # collected after the last sodium known at discharge
    assert [s[0] for s in states(feed.ledger)] == [RESOLVED, ACTIVE]


def test_a_result_of_the_ended_stay_arriving_late_raises_nothing() -> None:
    feed = Feed()
    feed.send("r1", 0, 118)
    feed.ledger.discharge(at(30), feed.new_id)
    feed.send("r0", 20, 116)
    assert [s[0] for s in states(feed.ledger)] == [RESOLVED]
    feed.diagnose("K70.3")  # every result re-evaluated: the ended stay stays closed
    assert [s[0] for s in states(feed.ledger)] == [RESOLVED]


def test_a_gap_without_sodium_longer_than_the_episode_gap_ends_the_stay() -> None:
    feed = Feed()
    feed.send("r1", 0, 118)
    feed.send("r2", 24, 119)
    feed.send("r3", 24 + 73, 117)  # 73 h without sodium: gap_hours is 72
    assert states(feed.ledger) == [
        (RESOLVED, "stay ended: no sodium for more than 72 h after 08:00 on 5 Mar",
         ["r1", "r2"]),
        (ACTIVE, None, ["r3"])]


def test_within_the_episode_gap_the_stay_and_its_alert_go_on() -> None:
    feed = Feed()
    feed.send("r1", 0, 118)
    feed.send("r2", 72, 117)
    assert states(feed.ledger) == [(ACTIVE, None, ["r1", "r2"])]


def test_hypernatremia_ends_with_the_stay_and_a_rate_alert_does_not() -> None:
    feed = Feed()
    feed.send("r1", 0, 120)
    feed.send("r2", 12, 131)  # +11 in 12 h
    feed.send("r3", 20, 152)
    feed.ledger.discharge(at(30), feed.new_id)
    assert [s[0] for s in states(feed.ledger, HYPERNATREMIA)] == [RESOLVED]
    assert feed.active()[OVERCORRECTION_24H].state == ACTIVE  # only a physician resolves it


@pytest.mark.parametrize("discharge", [True, False], ids=["discharge", "gap"])
def test_replay_ends_in_the_state_one_result_at_a_time_gives(discharge: bool) -> None:
    def run(defer: bool) -> list[tuple[str, str | None, list[str]]]:
        ledger, new_id = PatientLedger(built_in("default"), defer_appends=defer), ids()
        points: list[tuple[str, float, float] | datetime] = [
            ("r1", 0, 118), ("r2", 6, 119)]
        points += [at(30)] if discharge else []
        points += [("r3", WEEK, 117), ("r4", WEEK + 6, 116)]
        for seq, p in enumerate(points):
            if isinstance(p, datetime):
                ledger.discharge(p, new_id)
                continue
            key, hours, value = p
            ledger.add_result(key, Analyte.SODIUM, Method.LAB, ResultStatus.FINAL, value,
                              at(hours), seq, False, new_id)
        ledger.flush()
        return states(ledger)

    assert run(defer=True) == run(defer=False)
    assert [s[0] for s in run(defer=True)] == [RESOLVED, ACTIVE]


def test_a_stay_end_seen_is_final_when_a_late_result_fills_the_gap() -> None:
    feed = Feed()
    feed.send("r1", 0, 118)
    feed.send("r3", 80, 117)  # 80 h later: the first stay ended
    feed.send("r2", 40, 116)  # collected in the gap, arriving last
    assert [(s[0], s[2]) for s in states(feed.ledger)] == [(RESOLVED, ["r1"]),
                                                          (ACTIVE, ["r3"])]


def test_a_gap_from_the_sodium_before_the_loaded_ones_ends_the_stay() -> None:
    policy = built_in("default")
    t = at(240).timestamp()
    end = latest_gap([t], at(0).timestamp(), policy, before=at(0).timestamp())
    assert end is not None and end.at == at(72).timestamp()
    assert latest_gap([t], at(0).timestamp(), policy) is None  # nothing to measure from
