"""Small builders for HL7 v2 test messages: segments as strings, fields by number."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
UTC_TZ = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def seg(name: str, fields: dict[int, str]) -> str:
    """A segment with the given fields (by HL7 field number) and the rest empty."""
    return "|".join([name] + [fields.get(i, "") for i in range(1, max(fields, default=0) + 1)])


def msh(
    kind: str = "ORU^R01^ORU_R01",
    control: str = "C1",
    processing: str = "P",
    version: str = "2.5.1",
    accept_ack: str = "",
) -> str:
    head = f"MSH|^~\\&|LIS|CITYGEN|SODMON|CITYGEN|20260914093000+0000||{kind}|{control}"
    return f"{head}|{processing}|{version}" + (f"|||{accept_ack}" if accept_ack else "")


def pid(cx: str = "MRN1^^^CITYGEN^MR") -> str:
    return seg("PID", {1: "1", 3: cx, 5: "DOE^ALEX"})


def pv1(location: str = "MED4^0412^01^CITYGEN") -> str:
    return seg("PV1", {1: "1", 2: "I", 3: location})


def orc(filler: str = "F1") -> str:
    return seg("ORC", {1: "RE", 2: "ORD1", 3: filler})


def obr(time: str = "20260914080000+0000", filler: str = "F1", specimen: str = "") -> str:
    return seg("OBR", {1: "1", 2: "ORD1", 3: filler, 4: "80048^BMP^C4", 7: time, 15: specimen})


def obx(
    value: str = "114",
    *,
    code: str = "2951-2^Sodium^LN",
    unit: str = "mmol/L",
    status: str = "F",
    time: str = "",
    kind: str = "NM",
    sub_id: str = "",
) -> str:
    return seg(
        "OBX", {1: "1", 2: kind, 3: code, 4: sub_id, 5: value, 6: unit, 11: status, 14: time}
    )


def spm(time: str = "", kind: str = "") -> str:
    return seg("SPM", {1: "1", 4: kind, 17: time})


def message(*segments: str, sep: str = "\r") -> str:
    return sep.join(segments) + sep


def oru(*observations: str, head: str | None = None, order: str | None = None) -> str:
    """An ORU^R01 for patient MRN1 with one order; default one sodium of 114."""
    body = observations or (obx(),)
    return message(head or msh(), pid(), pv1(), orc(), order or obr(), *body)
