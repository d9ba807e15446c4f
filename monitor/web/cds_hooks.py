"""CDS Hooks 2.0 services: `GET /cds-services` (discovery) and a POST per service.

patient-view (the chart is opened) and order-sign (orders are being signed). Every call
carries a JWT signed by a registered EHR client (monitor.services.access.ehr_clients),
whose `aud` is the service's own URL under SODIUM_PUBLIC_URL; anything else is 401. The
discovery document holds nothing about patients and is open, as EHRs read it when they
register the service.

The patient: by an identifier (system, value) of the prefetched Patient, else by the FHIR
id learnt from the FHIR feeds (context.patientId). A patient unknown here gets no cards
(200, `cards: []`): the service has no sodium of theirs to speak of. The prefetched sodium
Observations are not stored (the lab feed is the record); the newest one tells whether the
EHR holds a sodium the feed has not delivered, which a card then says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse

from monitor.engine.policy import Policy
from monitor.services.access.audit import audit
from monitor.services.access.ehr_clients import ClientRefused, HookCaller, verify_hook_call
from monitor.services.access.scope import Principal
from monitor.storage.repos.patients import find_patient
from monitor.storage.repos.ward_policy import ward_policies
from monitor.storage.tables import EhrClient
from monitor.web.cds_cards import (
    CardContext,
    ehr_newest_sodium,
    order_sign_cards,
    patient_view_cards,
)
from monitor.web.deps import RuntimeDep
from monitor.web.ehr_keys import fetch_key_set

router = APIRouter(tags=["CDS Hooks"])
SODIUM_CODES = "http://loinc.org|2951-2,http://loinc.org|2947-0"
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "sodium": ("Observation?patient={{context.patientId}}&code=" + SODIUM_CODES
               + "&_sort=-date&_count=10"),
}
SERVICES = {
    "sodium-patient-view": {
        "hook": "patient-view",
        "title": "Sodium correction alerts",
        "description": "One card per active sodium alert of the patient (overcorrection, "
                       "projected overcorrection, severe hyponatremia, ...), with the "
                       "action the rule asks for and a link to the corridor chart.",
        "prefetch": PREFETCH,
    },
    "sodium-order-sign": {
        "hook": "order-sign",
        "title": "Sodium-raising orders",
        "description": "Warns when hypertonic saline is ordered for mild hyponatremia "
                       "without severe symptoms, and tells the rise of sodium still "
                       "allowed when a sodium-raising order is signed during an open "
                       "hyponatremia episode.",
        "prefetch": PREFETCH,
    },
}


def _refused(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers={"WWW-Authenticate": 'Bearer realm="cds-hooks"'})


@router.get("/cds-services")
def discovery() -> dict[str, Any]:
    return {"services": [{"id": sid, **s} for sid, s in SERVICES.items()]}


@router.post("/cds-services/{service_id}")
def call_service(service_id: str, request: Request, rt: RuntimeDep,
                 sent: Annotated[Any, Body()] = None) -> JSONResponse:
    service = SERVICES.get(service_id)
    if service is None:
        raise HTTPException(404, f"no CDS service {service_id!r}; GET /cds-services lists them")
    now = datetime.now(UTC)
    caller = _caller(request, rt, service_id, now)
    # Any JSON is taken, so that a stranger is refused (401) before the body is judged.
    body: dict[str, Any] = sent if isinstance(sent, dict) else {}
    context = body.get("context")
    if body.get("hook") != service["hook"] or not isinstance(context, dict) \
            or not isinstance(body.get("hookInstance"), str):
        raise HTTPException(400, f"a {service['hook']} request carries hook "
                            f"\"{service['hook']}\", a hookInstance and a context")
    fetched = body.get("prefetch")
    prefetch: dict[str, Any] = fetched if isinstance(fetched, dict) else {}
    who = Principal(None, f"ehr:{caller.label}"[:100], "physician", None)
    with rt.uow() as uow:
        client = uow.session.get(EhrClient, caller.client_id)
        patient = find_patient(uow.session, _identifiers(prefetch.get("patient")),
                               _patient_id(context), rt.settings.authority_aliases)
        cards: list[dict[str, Any]] = []
        if patient is not None:
            c = CardContext(patient.id, _policy(rt, uow, patient.ward_id),
                            _chart_link(rt, client, patient.id), rt.settings.display_zone,
                            now)
            if service["hook"] == "patient-view":
                cards = patient_view_cards(uow, who, c, ehr_newest_sodium(
                    prefetch.get("sodium"), rt.pipeline.tz))
            else:
                cards = order_sign_cards(uow, who, c, _draft_orders(context),
                                         dict(rt.pipeline.medication_map),
                                         str(body["hookInstance"]))
        audit(uow, who.username, "cds-hook", now, "patient",
              patient.id if patient is not None else None, service=service_id,
              hook_instance=str(body["hookInstance"])[:100], cards=len(cards),
              user=str(context.get("userId") or "")[:200])
        uow.commit()
    return JSONResponse({"cards": cards})


def _caller(request: Request, rt: Any, service_id: str, now: datetime) -> HookCaller:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise _refused("a CDS Hooks call carries a JWT signed by a registered EHR client "
                       "(Authorization: Bearer ...)")
    audience = f"{rt.settings.public_url.rstrip('/')}/cds-services/{service_id}"
    with rt.uow() as uow:
        try:
            return verify_hook_call(uow, auth[7:].strip(), audience, now, fetch_key_set)
        except ClientRefused as error:
            raise _refused(str(error)) from None


def _identifiers(patient: Any) -> list[tuple[str, str]]:
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        return []
    out = []
    found = patient.get("identifier")
    for i in found if isinstance(found, list) else []:
        if isinstance(i, dict) and i.get("value"):
            out.append((str(i.get("system") or ""), str(i["value"])))
    return out


def _patient_id(context: dict[str, Any]) -> str | None:
    found = context.get("patientId")
    return str(found) if found else None


def _draft_orders(context: dict[str, Any]) -> list[dict[str, Any]]:
    bundle = context.get("draftOrders")
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    return [e["resource"] for e in (entries if isinstance(entries, list) else [])
            if isinstance(e, dict)
            and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") == "MedicationRequest"]


def _policy(rt: Any, uow: Any, ward_id: int | None) -> Policy:
    return ward_policies(uow.session, [ward_id], rt.pipeline.policy)[ward_id]


def _chart_link(rt: Any, client: EhrClient | None, patient_id: int) -> dict[str, str]:
    """A SMART link when this EHR launches the chart (it opens it in the patient's context,
    signed in through the EHR); else the chart's address (the service's own sign-in)."""
    base = rt.settings.public_url.rstrip("/")
    if client is not None and client.fhir_server:
        return {"label": "Open the sodium chart", "url": f"{base}/smart/launch",
                "type": "smart"}
    return {"label": "Open the sodium chart", "url": f"{base}/patients/{patient_id}",
            "type": "absolute"}
