"""What a physician records: risk factors (with a reason), acute hyponatremia (with its
documented onset) and severe symptoms (with the time they were observed). Each change
re-evaluates the patient's current episode at once, under the patient's lock and the policy
of the patient's ward, as an inbox batch would."""

from __future__ import annotations

from datetime import datetime

from monitor.engine.messages import FACTOR_WORDS
from monitor.engine.policy import Policy
from monitor.engine.risk import FACTOR_NAMES, display_code, normalise_code
from monitor.services.access.audit import audit
from monitor.services.evaluation.reevaluation import Evaluated, reevaluate_patient
from monitor.storage.repos.patients import lock
from monitor.storage.tables import EpisodeMark, RiskFactor, SymptomMark
from monitor.storage.uow import UnitOfWork


def add_risk_factor(uow: UnitOfWork, pid: int, factor: str, reason: str, actor: str,
                    default: Policy, now: datetime) -> tuple[RiskFactor, Evaluated]:
    """`factor` is a name (liver-disease, ...) or an ICD-10 code; `default` is the service's
    policy, in force where the patient's ward has none."""
    if not reason.strip():
        raise ValueError("a risk-factor change needs a reason")
    # Locked before the change is written: a worker evaluating this patient's batch either
    # commits first (and the re-evaluation below sees its results) or waits for this one.
    lock(uow.session, pid)
    named = factor.lower() in FACTOR_NAMES
    row = RiskFactor(patient_id=pid, factor=factor.lower() if named else "diagnosis",
                     icd10_code=None if named else normalise_code(factor),
                     source="clinician", active=True, recorded_at=now, recorded_by=actor,
                     reason=reason)
    uow.session.add(row)
    uow.session.flush()
    audit(uow, actor, "add-risk-factor", now, "patient", pid, factor=factor,
          reason=reason)
    done = _reevaluate(uow, pid, default, now, actor,
                       f"added risk factor {_words(row)}: {reason}")
    uow.commit()
    return row, done


def remove_risk_factor(uow: UnitOfWork, pid: int, risk_id: int, reason: str, actor: str,
                       default: Policy, now: datetime) -> Evaluated:
    """Withdraw one of the patient's risk factors, with a reason: a correction, like FHIR's
    entered-in-error, so it counts for no result, earlier ones included."""
    if not reason.strip():
        raise ValueError("a risk-factor change needs a reason")
    lock(uow.session, pid)
    row = uow.session.get(RiskFactor, risk_id)
    if row is None or row.patient_id != pid:
        raise LookupError(f"no risk factor {risk_id} for this patient")
    row.active, row.removed_at = False, now
    row.voided = f"removed by {actor}"[:200]
    row.reason = f"{row.reason or ''} | removed by {actor}: {reason}".strip(" |")
    audit(uow, actor, "remove-risk-factor", now, "patient", pid, risk_id=risk_id,
          reason=reason)
    done = _reevaluate(uow, pid, default, now, actor,
                       f"removed risk factor {_words(row)}: {reason}")
    uow.commit()
    return done


def mark_acute(uow: UnitOfWork, pid: int, onset: datetime | None, reason: str, actor: str,
               default: Policy, now: datetime) -> tuple[EpisodeMark, Evaluated]:
    """Acute hyponatremia, documented to have begun at `onset` (None: now): the rate rules
    spare rises from values collected within the policy's acute_hours of it."""
    if not reason.strip():
        raise ValueError("marking hyponatremia acute needs a reason")
    onset = now if onset is None else onset
    if onset > now:
        raise ValueError("the onset of acute hyponatremia cannot be in the future")
    lock(uow.session, pid)
    row = EpisodeMark(patient_id=pid, onset_at=onset, acute=True, reason=reason,
                      marked_by=actor, marked_at=now)
    uow.session.add(row)
    uow.session.flush()
    audit(uow, actor, "mark-acute", now, "patient", pid, onset=onset.isoformat(),
          reason=reason)
    done = _reevaluate(uow, pid, default, now, actor,
                       f"marked the episode acute: {reason}")
    uow.commit()
    return row, done


def record_severe_symptoms(uow: UnitOfWork, pid: int, observed: datetime | None, reason: str,
                           actor: str, default: Policy, now: datetime
                           ) -> tuple[SymptomMark, Evaluated]:
    """A clinician records severe symptoms of hyponatremia observed at `observed` (None:
    now): hypertonic saline near that time is indicated (HYPERTONIC_SALINE_MILD)."""
    if not reason.strip():
        raise ValueError("recording severe symptoms needs a reason")
    observed = now if observed is None else observed
    if observed > now:
        raise ValueError("severe symptoms cannot be recorded for a time in the future")
    lock(uow.session, pid)
    row = SymptomMark(patient_id=pid, observed_at=observed, reason=reason, marked_by=actor,
                      marked_at=now)
    uow.session.add(row)
    uow.session.flush()
    audit(uow, actor, "record-severe-symptoms", now, "patient", pid,
          observed=observed.isoformat(), reason=reason)
    done = _reevaluate(uow, pid, default, now, actor, f"recorded severe symptoms: {reason}")
    uow.commit()
    return row, done


def _words(row: RiskFactor) -> str:
    """The factor as the alert history names it: "liver disease", or its ICD-10 code."""
    if row.icd10_code:
        return display_code(row.icd10_code)
    return FACTOR_WORDS.get(row.factor, row.factor.replace("-", " "))


def _reevaluate(uow: UnitOfWork, pid: int, default: Policy, now: datetime, actor: str,
                cause: str) -> Evaluated:
    # The physician's action, not a lab correction, is why an alert this withdraws went.
    done = reevaluate_patient(uow, pid, default, now, actor, cause)
    uow.deliver_on_commit(done.deliveries)
    uow.publish_on_commit(done.alerts)
    return done
