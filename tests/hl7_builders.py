"""Small builders of HL7 v2 ORU^R01 messages for tests and the benchmark."""

from __future__ import annotations

from datetime import datetime


def ts(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S") + moment.strftime("%z")


def oru(patient: str, order: str, collected: datetime, value: float | str, *,
        status: str = "F", unit: str = "mmol/L", loinc: str = "2951-2",
        control_id: str | None = None, ward: str = "MED4", processing: str = "P",
        message_type: str = "ORU^R01^ORU_R01", received: datetime | None = None,
        name: str = "DOE^ALEX", born: str = "19560412", sex: str = "F",
        location: str = "0412^01") -> str:
    """One sodium result; `order` is the filler order number (the result's identity)."""
    sent = ts(received or collected)
    segments = [
        f"MSH|^~\\&|LIS|CITYGEN|SODMON|CITYGEN|{sent}||{message_type}|"
        f"{control_id or order + status}|{processing}|2.5.1",
        f"PID|1||{patient}^^^CITYGEN^MR||{name}||{born}|{sex}",
        f"PV1|1|I|{ward}^{location}^CITYGEN",
        f"ORC|RE|ORD{order}|{order}||CM",
        f"OBR|1|ORD{order}|{order}|80048^Basic metabolic panel^C4|||{ts(collected)}"
        f"|||||||||||||||{sent}|||{status}",
        f"OBX|1|NM|{loinc}^Sodium^LN||{value}|{unit}|136-145||||{status}|||{ts(collected)}",
    ]
    return "\r".join(segments)


def rde(patient: str, order: str, start: datetime, text: str, *, amount: str = "250",
        unit: str = "mL", route: str = "IV^Intravenous", control: str = "CA",
        code: str = "", ward: str = "MED4") -> str:
    """One RDE^O11 pharmacy order (ORC-1 NW, or `control`=CA to cancel it): RXE-2 give
    code and words, RXE-3 amount, RXE-5 units, TQ1-7 start, RXR-1 route."""
    kind = "NW" if control == "CA" else control
    segments = [
        f"MSH|^~\\&|PHARM|CITYGEN|SODMON|CITYGEN|{ts(start)}||RDE^O11^RDE_O11|"
        f"RX{order}{kind}|P|2.5.1",
        f"PID|1||{patient}^^^CITYGEN^MR||DOE^ALEX||19560412|F",
        f"PV1|1|I|{ward}^0412^01^CITYGEN",
        f"ORC|{kind}|{order}|||||||{ts(start)}",
        f"RXE||{code}^{text}^L|{amount}||{unit}",
        f"TQ1|1||||||{ts(start)}",
        f"RXR|{route}",
    ]
    return "\r".join(segments)


def a40(survivor: str, old: str, at: datetime, control_id: str) -> str:
    """ADT^A40: the record `old` (CITYGEN MRN) merged into `survivor`."""
    return "\r".join([
        f"MSH|^~\\&|ADT|CITYGEN|SODMON|CITYGEN|{ts(at)}||ADT^A40^ADT_A39|{control_id}|P|2.5.1",
        f"EVN|A40|{ts(at)}", f"PID|1||{survivor}^^^CITYGEN^MR", f"MRG|{old}^^^CITYGEN^MR"])
