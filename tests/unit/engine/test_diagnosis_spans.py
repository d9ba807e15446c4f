"""A diagnosis raises the risk over a span of time (issue 18 item 2): a chronic condition
resolved at discharge keeps its risk for the results before its abatement date (and for
all of them when only the encounter's diagnosis was resolved); refuted or entered in error
it never counted, and the alert it carried is withdrawn saying so."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitor.engine.model import Diagnosis, RiskSource
from monitor.engine.policy import built_in
from monitor.engine.risk import held_span
from monitor.engine.rules import OVERCORRECTION_24H, PatientData, evaluate
from tests.unit.engine.builders import Feed, at, fired, timed

CIRRHOSIS = Diagnosis("K703", RiskSource.FHIR)
# 120 -> 127 in 20 h: over the high-risk 24 h limit (6), within the standard one (8).
RISE = [(0, 120), (10, 124), (20, 127)]


def rise_fires(*diagnoses: Diagnosis, points: list[tuple[float, float]] = RISE) -> bool:
    found = evaluate(PatientData(timed(points), diagnoses=diagnoses), built_in("default"))
    return fired(found, OVERCORRECTION_24H) != []


def test_an_active_diagnosis_holds_for_every_result() -> None:
    assert rise_fires(CIRRHOSIS)
    assert not rise_fires()


def test_a_chronic_condition_resolved_at_discharge_keeps_its_risk() -> None:
    # The EHR resolves the encounter's diagnoses when the patient leaves: the cirrhosis is
    # still there, before and after.
    resolved = replace(CIRRHOSIS, active=False, encounter=True, abated=at(5))
    assert rise_fires(resolved)
    # A problem-list entry resolved without a date: when it went is unknown, so it stays.
    assert rise_fires(replace(CIRRHOSIS, active=False))


def test_a_chronic_condition_abated_counts_for_results_before_its_abatement() -> None:
    assert rise_fires(replace(CIRRHOSIS, active=False, abated=at(21)))
    assert not rise_fires(replace(CIRRHOSIS, active=False, abated=at(19)))
    assert not rise_fires(replace(CIRRHOSIS, abated=at(19)))  # an active one with an end


def test_a_diagnosis_counts_from_its_onset() -> None:
    assert rise_fires(replace(CIRRHOSIS, onset=at(-24)))
    assert not rise_fires(replace(CIRRHOSIS, onset=at(21)))
    # A chronic condition is older than its record: the recorded date does not bound it.
    assert rise_fires(replace(CIRRHOSIS, recorded=at(21)))


def test_an_acute_risk_code_resolved_without_a_date_no_longer_counts() -> None:
    hypokalemia = Diagnosis("E876", RiskSource.FHIR, recorded=at(-1))
    assert rise_fires(hypokalemia)
    assert not rise_fires(replace(hypokalemia, recorded=at(21)))  # counts from its record
    assert not rise_fires(replace(hypokalemia, active=False))
    assert rise_fires(replace(hypokalemia, active=False, abated=at(21)))


@pytest.mark.parametrize("why", ["refuted (verificationStatus)",
                                 "entered in error (verificationStatus)",
                                 "deleted by the sender (DG1-21 D)"])
def test_a_void_diagnosis_never_counts(why: str) -> None:
    assert held_span(replace(CIRRHOSIS, voided=why), built_in("default")) is None
    assert not rise_fires(replace(CIRRHOSIS, voided=why, encounter=True))


def test_the_chronic_factors_are_the_policys() -> None:
    policy = built_in("default")
    acute_only = policy.model_copy(update={"chronic_factors": ()})
    resolved = replace(CIRRHOSIS, active=False)
    assert held_span(resolved, policy) is not None
    assert held_span(resolved, acute_only) is None


def test_resolving_at_discharge_keeps_the_alert_and_refuting_withdraws_it_saying_so() -> None:
    feed = Feed()
    feed.ledger.state_diagnosis(CIRRHOSIS, feed.new_id)
    for n, (h, v) in enumerate(RISE):
        feed.send(f"r{n + 1}", h, v)
    alert = feed.active()[OVERCORRECTION_24H]

    discharged = replace(CIRRHOSIS, active=False, encounter=True, abated=at(30))
    assert feed.ledger.state_diagnosis(discharged, feed.new_id) == []
    assert alert.state == "active"

    changes = feed.ledger.state_diagnosis(
        replace(CIRRHOSIS, voided="entered in error (verificationStatus)"), feed.new_id)
    assert ("withdrawn", alert) in [(c.kind, c.alert) for c in changes]
    assert alert.withdrawn_reason == ("diagnosis K70.3 entered in error (verificationStatus): "
                                      "the rise is within the limit without it")


def test_an_abatement_before_the_rise_withdraws_with_its_date() -> None:
    feed = Feed()
    feed.ledger.state_diagnosis(CIRRHOSIS, feed.new_id)
    for n, (h, v) in enumerate(RISE):
        feed.send(f"r{n + 1}", h, v)
    feed.ledger.state_diagnosis(replace(CIRRHOSIS, active=False, abated=at(12)), feed.new_id)
    alert = next(a for a in feed.ledger.alerts if a.rule == OVERCORRECTION_24H)
    assert alert.state == "withdrawn"
    assert alert.withdrawn_reason == (f"diagnosis K70.3 resolved on {at(12).date()}: "
                                      "the rise is within the limit without it")
