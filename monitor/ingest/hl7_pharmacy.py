"""HL7 v2.5.1 pharmacy messages -> medication events: RDE^O11 (encoded order: ORC, RXE give
code/amount/units, TQ1 timing, RXR route) and RAS^O17 (administration: ORC, RXA, RXR).

Each ORC starts an order group; its RXE (or each RXA) is one event, keyed by the order
number (ORC-2 placer, else ORC-3 filler) so that a later status of the same order replaces
the earlier one. The class is left to the engine (engine.treatment), never guessed here.
"""

from __future__ import annotations

from datetime import datetime

from monitor.engine.medication import Medication, MedicationKind
from monitor.engine.model import PatientRef
from monitor.engine.treatment import RXNORM_NAMES
from monitor.ingest import hl7_fields as f
from monitor.ingest.checks import Unusable
from monitor.ingest.events import Item, MedicationEvent, Reject
from monitor.ingest.hl7_context import MessageContext
from monitor.ingest.times import parse_hl7_ts

PHARMACY_TYPES = ("RDE^O11", "RAS^O17")
# ORC-1 order control (table 0119) and ORC-5 order status (table 0038) -> our status.
_CONTROL = {"CA": "cancelled", "OC": "cancelled", "CR": "cancelled", "DC": "stopped",
            "OD": "stopped", "DR": "stopped"}
_ORDER_STATUS = {"CA": "cancelled", "DC": "stopped", "CM": "completed", "HD": "on-hold"}
# RXA-20 completion status (table 0322); RXA-21 action code D: deleted (entered in error).
_COMPLETION = {"CP": "completed", "PA": "completed", "RE": "refused", "NA": "not-done"}


def pharmacy_items(message: f.Message, ctx: MessageContext, message_type: str) -> list[Item]:
    """The events of an RDE^O11 or RAS^O17; a segment that cannot be read is its own Reject."""
    pid = next((seg for seg in message if f.segment_id(seg) == "PID"), None)
    if pid is None:
        raise Unusable("no PID segment")
    patient = f.patient_from_cx(pid, 3)
    if patient is None:
        raise Unusable("PID-3 holds no patient identifier")
    wanted = "RXE" if message_type == "RDE^O11" else "RXA"
    items: list[Item] = []
    orc: f.Segment | None = None
    for index, seg in enumerate(message):
        kind = f.segment_id(seg)
        if kind == "ORC":
            orc = seg
        elif kind == wanted:
            group = _group(message, index)
            try:
                items.append(_order(seg, orc, group, index, patient, ctx) if wanted == "RXE"
                             else _administration(seg, orc, group, index, patient, ctx))
            except Unusable as exc:
                items.append(Reject(ctx.position(index), str(exc), str(seg)))
    if not items:
        raise Unusable(f"{message_type} without an {wanted} segment: no medication in the "
                       "message")
    return items


def _group(message: f.Message, index: int) -> list[f.Segment]:
    """The segments after `index` up to the next ORC, RXE or RXA (its TQ1, RXR, ...)."""
    out: list[f.Segment] = []
    for later, seg in enumerate(message):
        if later <= index:
            continue
        if f.segment_id(seg) in ("ORC", "RXE", "RXA"):
            break
        out.append(seg)
    return out


def _order(rxe: f.Segment, orc: f.Segment | None, group: list[f.Segment], index: int,
           patient: PatientRef, ctx: MessageContext) -> MedicationEvent:
    tq1 = next((s for s in group if f.segment_id(s) == "TQ1"), None)
    at = _time(tq1, 7, "TQ1-7", ctx) if tq1 is not None else None
    at = at or _time(orc, 9, "ORC-9", ctx) or _time(orc, 15, "ORC-15", ctx)
    if at is None:
        raise Unusable("no order time (TQ1-7 start, ORC-9 or ORC-15)")
    status = "active"
    if orc is not None:
        status = _CONTROL.get(f.value(orc, 1)) or _ORDER_STATUS.get(f.value(orc, 5)) or status
    local, system, rxnorm, text = _coded(rxe, 2)
    med = Medication(
        _key(orc, ctx, index, "order"), MedicationKind.ORDER, at, text, status, local, system,
        rxnorm, f.value(rxe, 3) or None, f.value(rxe, 5, 1) or f.value(rxe, 5, 2) or None,
        _route(group))
    return MedicationEvent(patient, med, ctx.position(index), ctx.test)


def _administration(rxa: f.Segment, orc: f.Segment | None, group: list[f.Segment], index: int,
                    patient: PatientRef, ctx: MessageContext) -> MedicationEvent:
    at = _time(rxa, 3, "RXA-3", ctx)
    if at is None:
        raise Unusable("RXA-3 (start of administration) is empty")
    status = "entered-in-error" if f.value(rxa, 21) == "D" else \
        _COMPLETION.get(f.value(rxa, 20), "completed")
    local, system, rxnorm, text = _coded(rxa, 5)
    sub = f"{f.value(rxa, 1) or '0'}.{f.value(rxa, 2) or '1'}"
    med = Medication(
        f"{_key(orc, ctx, index, 'given')}/{sub}", MedicationKind.ADMINISTRATION, at, text,
        status, local, system, rxnorm, f.value(rxa, 6) or None,
        f.value(rxa, 7, 1) or f.value(rxa, 7, 2) or None, _route(group))
    return MedicationEvent(patient, med, ctx.position(index), ctx.test)


def _key(orc: f.Segment | None, ctx: MessageContext, index: int, kind: str) -> str:
    """The order number (ORC-2 placer, else ORC-3 filler); without one, the message and
    segment, so the event is still stored (a resend is then another event)."""
    number = "" if orc is None else (f.value(orc, 2) or f.value(orc, 3))
    return f"{kind}:{number}" if number else f"{kind}:{ctx.control_id}#{index}"


def _coded(seg: f.Segment, field: int) -> tuple[str | None, str | None, str | None, str]:
    """(local code, its system, RxNorm code, text) of a CE/CWE, either coding RxNorm."""
    local = system = rxnorm = None
    for code_at, system_at in ((1, 3), (4, 6)):
        code, name = f.value(seg, field, code_at), f.value(seg, field, system_at)
        if not code:
            continue
        if name.upper() in RXNORM_NAMES:
            rxnorm = rxnorm or code
        elif local is None:
            local, system = code, name or None
    text = f.value(seg, field, 2) or f.value(seg, field, 5) or local or rxnorm or ""
    return local, system, rxnorm, text


def _route(group: list[f.Segment]) -> str | None:
    rxr = next((s for s in group if f.segment_id(s) == "RXR"), None)
    return None if rxr is None else (f.value(rxr, 1, 2) or f.value(rxr, 1, 1) or None)


def _time(seg: f.Segment | None, field: int, label: str, ctx: MessageContext
          ) -> datetime | None:
    text = "" if seg is None else f.value(seg, field, 1)
    return parse_hl7_ts(text, ctx.tz, field=label) if text else None
