"""The same two sodium results in each feed format: 121 mmol/L, then 133 twenty hours
later (+12 over a limit of 8 from a starting value <= 125: a critical OVERCORRECTION_24H),
with the second specimen flagged by the lab, or not. Shared by the replay (e2e) and live
(PostgreSQL) tests of lab flags."""

from __future__ import annotations

import json
from collections.abc import Callable

PATIENT = "MRN700001"
T0, T1 = "20260914080000+0000", "20260915040000+0000"
DRIP = "Sample drawn from drip arm - please repeat"


def _oru(n: int, time: str, value: str, status: str = "F", spm24: str = "",
         nte: str = "") -> str:
    segments = [
        f"MSH|^~\\&|LIS|CITYGEN|SODMON|CITYGEN|{time}||ORU^R01^ORU_R01|FLAG{n:03d}|P|2.5.1",
        f"PID|1||{PATIENT}^^^CITYGEN^MR||DOE^ALEX",
        "PV1|1|I|MED4^0412^01^CITYGEN",
        f"ORC|RE|ORD{n}|FIL{n}",
        f"OBR|1|ORD{n}|FIL{n}|80048^BMP^C4|||{time}",
        f"OBX|1|NM|2951-2^Sodium^LN||{value}|mmol/L|136-145||||{status}|||{time}",
    ]
    if nte:
        segments.append(f"NTE|1|L|{nte}")
    if spm24:
        segments.append(f"SPM|1|||SER^Serum^HL70487|||||||||||||{time}|||||||{spm24}")
    return "\r".join(segments) + "\r"


def hl7_spm(flagged: bool) -> str:
    return _oru(1, T0, "121") + _oru(2, T1, "133",
                                     spm24="CON^Contaminated^HL70493" if flagged else "")


def hl7_nte(flagged: bool) -> str:
    return _oru(1, T0, "121") + _oru(2, T1, "133", nte=DRIP if flagged else "Checked")


def hl7_corrected() -> str:
    """Flagged, then corrected by the lab without the flag: counted again."""
    return hl7_nte(True) + _oru(2, T1, "133", status="C")


def fhir(flagged: bool) -> str:
    def obs(n: int, at: str, value: int, specimen: bool) -> dict[str, object]:
        resource: dict[str, object] = {
            "resourceType": "Observation", "id": f"na-{n}", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": at,
            "valueQuantity": {"value": value, "unit": "mmol/L"}}
        if specimen:
            resource["specimen"] = {"reference": "Specimen/sp-2"}
        return resource

    code = "CON" if flagged else "ROOM"
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "identifier": [
            {"system": "CITYGEN", "value": PATIENT}]}},
        {"resource": obs(1, "2026-09-14T08:00:00+00:00", 121, False)},
        {"resource": obs(2, "2026-09-15T04:00:00+00:00", 133, True)},
        {"resource": {"resourceType": "Specimen", "id": "sp-2", "condition": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v2-0493", "code": code}]}]}},
    ]}
    return json.dumps(bundle)


def csv(flagged: bool) -> str:
    return ("patient_id,patient_authority,collected_at,sodium,result_id,flags\n"
            f"{PATIENT},CITYGEN,2026-09-14T08:00:00+00:00,121,na-1,\n"
            f"{PATIENT},CITYGEN,2026-09-15T04:00:00+00:00,133,na-2,"
            f"{'IV fluid contamination suspected' if flagged else ''}\n")


FEEDS: dict[str, tuple[str, Callable[[bool], str]]] = {
    "hl7-spm-24": ("hl7", hl7_spm), "hl7-nte": ("hl7", hl7_nte), "fhir": ("ndjson", fhir),
    "csv": ("csv", csv),
}
