"""What a notification says: minimal (ward, bed, rule, numbers, link), no patient name in
an email subject or webhook title, the MRN masked unless the channel may show it."""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from monitor.engine.fluids import AQUARESIS_WARNING, fluid_numbers
from monitor.notify.alert_shape import alert_json
from monitor.storage.tables import Alert, Delivery, Notice, NotificationChannel, Patient, Ward


def mask(identifier: str) -> str:
    """MRN123456 -> *****3456: enough to match a wristband, not to identify a stranger."""
    keep = 4 if len(identifier) > 4 else 1
    return "*" * (len(identifier) - keep) + identifier[-keep:]


def where(ward: str | None, bed: str | None) -> str:
    """Where the patient lies, as every notification names them: ward and bed, no name."""
    return f"ward {ward or '?'} bed {bed or '?'}"


def alert_payload(session: Session, alert: Alert, show_mrn: bool,
                  public_url: str) -> dict[str, Any]:
    patient = session.get(Patient, alert.patient_id)
    assert patient is not None
    ward = session.get(Ward, patient.ward_id) if patient.ward_id else None
    shape = alert_json(alert, patient)
    if not show_mrn:
        shape["patient_id"] = mask(patient.identifier)
    shape["ward"] = ward.code if ward else None
    shape["bed"] = patient.bed
    shape["link"] = f"{public_url.rstrip('/')}/patients/{patient.id}"
    return shape


def webhook_body(session: Session, d: Delivery, channel: NotificationChannel | None,
                 public_url: str) -> bytes:
    body: dict[str, Any] = {"event": d.event, "recipient": d.recipient,
                            "idempotency_key": d.idempotency_key}
    if d.alert_id is not None:
        alert = session.get(Alert, d.alert_id)
        assert alert is not None
        body["alert"] = alert_payload(session, alert, bool(channel and channel.show_mrn),
                                      public_url)
    elif d.notice_id is not None:
        notice = session.get(Notice, d.notice_id)
        assert notice is not None
        body["notice"] = {"kind": notice.kind, "subject": notice.subject,
                          "message": notice.message, "raised_at": notice.raised_at.isoformat()}
    return json.dumps(body, sort_keys=True).encode()


def email(session: Session, d: Delivery, channel: NotificationChannel, sender: str,
          public_url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = sender, channel.target
    if d.alert_id is not None:
        alert = session.get(Alert, d.alert_id)
        assert alert is not None
        shape = alert_payload(session, alert, channel.show_mrn, public_url)
        place = where(shape["ward"], shape["bed"])
        message["Subject"] = (f"[sodium-monitor] {alert.severity.upper()} {alert.rule} "
                              f"({d.event}) {place}")
        rise = "" if alert.rise_mmol_l is None else f", rise {alert.rise_mmol_l:g} mmol/L"
        numbers = (fluid_numbers(alert.value_mmol_l, alert.window_hours)
                   if alert.rule == AQUARESIS_WARNING else
                   f"Na {alert.value_mmol_l:g} mmol/L{rise}")
        message.set_content(
            f"{alert.message}\n\nPatient {shape['patient_id']}, {place}. {numbers}, limit "
            f"{alert.limit_mmol_l}.\n"
            f"Open: {shape['link']}\n")
    else:
        notice = session.get(Notice, d.notice_id)
        assert notice is not None
        message["Subject"] = f"[sodium-monitor] {notice.kind} {notice.subject}"
        message.set_content(notice.message)
    message["Message-ID"] = f"<{d.idempotency_key.replace(':', '.')}@sodium-monitor>"
    return message
