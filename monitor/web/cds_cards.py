"""The CDS Hooks cards (CDS Hooks 2.0 "Card Attributes"): what the board and the patient
page say, in the form an EHR shows beside the chart or the order it is signing.

patient-view: one card per active alert, its indicator the alert's severity, its detail
the alert's message (which ends with the rule's action), its source the service and the
policy with its citation, its link the patient chart (a SMART link when the EHR launches
the chart, else the chart's address). order-sign: for each draft MedicationRequest, a
warning when it is hypertonic saline and the sodium is mild (the HYPERTONIC_SALINE_MILD
rule, as the engine applies it to an order it receives), and one info card with the rise
still allowed when any sodium-raising order is signed during an open episode (a warning
when nothing is left of it).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.alerts import lifecycle as lc
from monitor.engine.medication import Medication, MedicationClass
from monitor.engine.messages import HYPERTONIC_ADVICE
from monitor.engine.model import Analyte, ResultStatus
from monitor.engine.policy import Policy
from monitor.engine.treatment import SODIUM_RAISING_CLASSES, classify, hypertonic_findings
from monitor.engine.wording import number
from monitor.ingest.checks import Unusable
from monitor.ingest.fhir_common import effective_at
from monitor.ingest.fhir_medication import draft_medication
from monitor.ingest.fhir_observation import OBSERVATION_STATUS
from monitor.services.access.scope import Principal
from monitor.services.dashboards.views import patient_detail
from monitor.services.evaluation.reevaluation import diagnoses
from monitor.services.evaluation.treatment import patient_treatment
from monitor.storage.tables import Alert
from monitor.storage.uow import UnitOfWork
from monitor.web.chart_facts import ceiling_text, patient_corridor, patient_data
from monitor.web.clock import when
from monitor.web.templating import RULE_NAMES

INDICATOR = {"critical": "critical", "warning": "warning"}  # anything else: info
STALE_AFTER = timedelta(minutes=5)  # a feed delivers within minutes; later is a gap
SUMMARY_MAX = 140  # characters (the spec: "<140")
CARD_NAMESPACE = uuid.UUID("7d1c5a52-4f53-4a8e-9b0c-5b7c9e6f1a10")  # card uuids of ours


@dataclass(frozen=True)
class CardContext:
    """What every card of one call shares."""

    patient_id: int
    policy: Policy
    link: dict[str, str]  # the chart link (CDS Hooks Link)
    zone: ZoneInfo
    now: datetime


def _summary(text: str) -> str:
    return text if len(text) < SUMMARY_MAX else text[:SUMMARY_MAX - 2].rstrip() + "…"


def _source(policy: Policy) -> dict[str, str]:
    cited = policy.source or policy.title or policy.name
    return {"label": f"sodium-monitor, policy {policy.name}: {cited}"}


def _card(key: str, summary: str, indicator: str, detail: str, c: CardContext,
          **more: Any) -> dict[str, Any]:
    return {"uuid": str(uuid.uuid5(CARD_NAMESPACE, key)), "summary": _summary(summary),
            "indicator": indicator, "detail": detail, "source": _source(c.policy),
            "links": [c.link], **more}


def alert_summary(a: Alert) -> str:
    """"Too fast: 24 h — Na 129 mmol/L, +9 in 24 h (limit 8)"."""
    numbers = f"Na {number(a.value_mmol_l)} mmol/L"
    if a.rise_mmol_l is not None and a.window_hours is not None:
        sign = "+" if a.rise_mmol_l >= 0 else "\u2212"
        numbers += f", {sign}{number(round(abs(a.rise_mmol_l), 1))} in " \
                   f"{number(a.window_hours)} h"
        if a.limit_mmol_l is not None:
            numbers += f" (limit {number(a.limit_mmol_l)})"
    return f"{RULE_NAMES.get(a.rule, a.rule)} \u2014 {numbers}"


def ehr_newest_sodium(bundle: Any, zone: ZoneInfo) -> tuple[datetime, float | None] | None:
    """The newest sodium Observation of the prefetched search Bundle: (collected, value)."""
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    found: list[tuple[datetime, float | None]] = []
    for e in entries if isinstance(entries, list) else []:
        r = e.get("resource") if isinstance(e, dict) else None
        # A result as the feeds would count it: not `registered` (no result yet), not
        # entered-in-error or cancelled.
        if not isinstance(r, dict) or r.get("resourceType") != "Observation" or \
                OBSERVATION_STATUS.get(str(r.get("status"))) in (None, ResultStatus.REMOVED):
            continue
        try:
            at = effective_at(r, zone)
        except Unusable:
            continue
        q = r.get("valueQuantity")
        value = q.get("value") if isinstance(q, dict) else None
        found.append((at, _finite(value)))
    return max(found, key=lambda f: f[0], default=None)


def _finite(value: Any) -> float | None:
    """A number as sent, else None (JSON as Python reads it holds NaN, Infinity, 10**400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        sent = float(value)
    except OverflowError:
        return None
    return sent if math.isfinite(sent) else None


def patient_view_cards(uow: UnitOfWork, who: Principal, c: CardContext,
                       ehr_newest: tuple[datetime, float | None] | None = None
                       ) -> list[dict[str, Any]]:
    """The active alerts' cards; first, when the EHR's newest sodium (`ehr_newest`, from
    the prefetch) is newer than any the feeds delivered, a card saying the others may be
    out of date: a result is missing here, or late."""
    d = patient_detail(uow, who, c.patient_id, c.policy, c.now, days=1)
    if d is None:
        return []
    cards = []
    ours = max((r.collected_at for r in d["results"] if r.analyte == Analyte.SODIUM),
               default=None)
    if ehr_newest is not None and (ours is None or ehr_newest[0] > ours + STALE_AFTER):
        at, value = ehr_newest
        shown = f"{number(value)} mmol/L" if value is not None else "a sodium"
        cards.append(_card(f"stale:{c.patient_id}:{at.isoformat()}",
                           f"The EHR has a newer sodium ({shown}) than sodium-monitor",
                           "warning",
                           f"The EHR holds a sodium collected {when(at, c.zone, c.now)} that "
                           f"the lab feed has not delivered to sodium-monitor (its newest: "
                           f"{when(ours, c.zone, c.now) if ours else 'none'}). The alerts "
                           f"and the chart may be out of date: tell the lab-feed team.", c))
    # What the board shows (views.ON_THE_BOARD): an alert from backfill, a test message or
    # a sample already stale when it arrived is history, on the patient page only.
    active = sorted((a for a in d["alerts"] if a.state == "active" and a.lifecycle in lc.OPEN
                     and a.notify and not a.test),
                    key=lambda a: (a.severity != "critical", -a.triggered_at.timestamp()))
    for a in active:
        detail = a.message
        if a.acknowledged_by and a.acknowledged_at:
            detail += (f"\n\nAcknowledged by {a.acknowledged_by} "
                       f"{when(a.acknowledged_at, c.zone, c.now)}.")
        cards.append(_card(f"alert:{a.id}:{a.updated_at.isoformat()}", alert_summary(a),
                           INDICATOR.get(a.severity, "info"), detail, c))
    return cards


def order_sign_cards(uow: UnitOfWork, who: Principal, c: CardContext,
                     orders: Sequence[dict[str, Any]], code_map: dict[str, str],
                     hook_instance: str) -> list[dict[str, Any]]:
    """`orders`: the draft MedicationRequest resources of context.draftOrders."""
    drafts = [(r, classify(draft_medication(r, c.now, c.zone), code_map, c.policy))
              for r in orders]
    raising = [(r, m, m.med_class) for r, m in drafts if m.med_class in SODIUM_RAISING_CLASSES]
    if not raising:
        return []
    d = patient_detail(uow, who, c.patient_id, c.policy, c.now, days=1)
    if d is None:
        return []
    marks = [m.onset_at for m in d["marks"]]
    corridor, sodium, _ = patient_corridor([*d["lead_in"], *d["results"]],
                                           diagnoses(uow, c.patient_id), marks, c.policy)
    counted = [p for p in sodium if p.counted and p.at <= c.now]
    _, symptoms = patient_treatment(uow, c.patient_id)
    cards = []
    for resource, med, kind in raising:
        if kind is not MedicationClass.HYPERTONIC_SALINE:
            continue
        found = _mild(counted, med, [s.observed_at for s in symptoms], c)
        if found is not None:
            cards.append(_hypertonic_card(resource, med, found, c, hook_instance))
    if corridor.in_episode(c.now):
        names = ", ".join(sorted({m.text or "an order" for _, m, _ in raising}))
        allowance = corridor.allowance(c.now)
        text = ceiling_text(corridor, allowance, c.now, c.zone)
        detail = (f"Sodium-raising order ({names}) during an open hyponatremia episode. "
                  f"Ceiling: {text}.")
        if allowance is not None:
            detail += (f" The limit is {number(allowance.limit_mmol_l)} mmol/L per "
                       f"{number(allowance.window_hours)} h from "
                       f"{number(round(allowance.from_mmol_l, 1))}; latest "
                       f"{number(allowance.latest_mmol_l)} mmol/L.")
        # Nothing left of the allowance: the order would raise sodium past the limit.
        spent = allowance is not None and round(allowance.left_mmol_l, 1) <= 0
        cards.append(_card(f"allowance:{hook_instance}", f"Sodium allowance: {text}",
                           "warning" if spent else "info", detail, c))
    return cards


def _mild(counted: Sequence[Any], med: Medication, symptoms: Sequence[datetime],
          c: CardContext) -> float | None:
    """The sodium the rule finds mild for this order (None: the rule does not fire)."""
    ms = patient_data(counted, (), (), ()).sodium  # the engine's view, as the chart's
    found = hypertonic_findings(ms, [m.collected_at.timestamp() for m in ms],
                                [m.value_mmol_l for m in ms], 0, [med], symptoms, c.policy)
    return found[-1].value_mmol_l if found else None


def _hypertonic_card(resource: dict[str, Any], med: Medication, sodium: float, c: CardContext,
                     hook_instance: str) -> dict[str, Any]:
    advice = HYPERTONIC_ADVICE[0].upper() + HYPERTONIC_ADVICE[1:]
    detail = (f"{med.text or 'Hypertonic saline'} is being ordered with the latest sodium "
              f"{number(sodium)} mmol/L, in the mild band (at or above "
              f"{number(c.policy.bands.mild_min)}), and no severe symptoms recorded within "
              f"{number(c.policy.treatment.symptoms_hours)} h. {advice}. If the patient has "
              f"severe symptoms, record them on the patient page; otherwise consider "
              f"isotonic saline or treating the cause.")
    more: dict[str, Any] = {}
    rid = resource.get("id") if isinstance(resource.get("id"), str) else None
    if rid:  # the delete action names the order by reference: MedicationRequest/<id>
        more = {"selectionBehavior": "at-most-one", "suggestions": [{
            "label": "Remove the hypertonic saline order",
            "uuid": str(uuid.uuid5(CARD_NAMESPACE, f"remove:{hook_instance}:{rid}")),
            "actions": [{"type": "delete", "description": "Remove the draft order",
                         "resourceId": f"MedicationRequest/{rid}"}]}],
            "overrideReasons": [
                {"code": "severe-symptoms", "system": "urn:sodium-monitor:override-reason",
                 "display": "Severe or moderately severe symptoms"},
                {"code": "physician-judgement", "system": "urn:sodium-monitor:override-reason",
                 "display": "Other clinical reason"}]}
    return _card(f"hypertonic:{hook_instance}:{rid or med.key}",
                 f"Hypertonic saline with sodium {number(sodium)} mmol/L (mild)", "warning",
                 detail, c, **more)
