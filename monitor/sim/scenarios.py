"""The demo ward: a dozen patients whose sodium tells the stories a ward sees.

Each patient is a list of samples at hours relative to the simulation's "now" (negative:
already collected). Values are what the lab reports. Pure data and a pure message builder:
the sender (monitor.sim.feed) decides when each one goes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Sample:
    hours: float  # collection time relative to the simulation's start
    value: float | str
    analyte: str = "sodium"  # sodium / potassium / urine-sodium
    status: str = "F"
    poc: bool = False  # blood gas / point-of-care
    resend: bool = False  # the lab sends this message twice


@dataclass(frozen=True)
class Person:
    """Who the demo patient is (made up): PID-5 family^given, PID-7, PID-8."""

    family: str
    given: str
    born: str  # YYYYMMDD
    sex: str  # HL7 table 0001: F / M


@dataclass(frozen=True)
class Scenario:
    mrn: str
    ward: str
    bed: str  # PV1-3.3; the room (PV1-3.2) holds two beds, A and B
    story: str
    samples: list[Sample]
    diagnoses: list[str] = field(default_factory=list)  # ICD-10 via ADT^A08 DG1
    person: Person = Person("DEMO", "Patient", "19600101", "U")

    @property
    def room(self) -> str:
        return f"{self.ward[-1]}{(int(self.bed) + 1) // 2:02d}"

    @property
    def bed_letter(self) -> str:
        return "AB"[(int(self.bed) + 1) % 2]


def ward() -> list[Scenario]:
    S = Sample
    return [
        Scenario("DEMO-001", "MED4", "01", "alcoholic cirrhosis (ADT DG1 K70.3): high risk, "
                 "overcorrects: 8 mmol/L in 24 h above the 6 limit",
                 [S(-30, 115), S(-20, 118), S(-10, 121), S(-4, 124), S(-1, 126)],
                 diagnoses=["K70.3"],
                 person=Person("HARTMANN", "Erika", "19520314", "F")),
        Scenario("DEMO-002", "MED4", "02", "thiazide stopped: spontaneous aquaresis, a projected "
                 "then a critical overcorrection",
                 [S(-30, 122), S(-20, 123), S(-8, 125), S(-5, 129), S(-2, 131), S(-0.5, 133)],
                 person=Person("OKAFOR", "Grace", "19470722", "F")),
        Scenario("DEMO-003", "MED4", "03", "severe hyponatremia corrected slowly and safely",
                 [S(-34, 112), S(-26, 113), S(-18, 115), S(-10, 116), S(-3, 118)],
                 person=Person("NOWAK", "Piotr", "19581103", "M")),
        Scenario("DEMO-004", "MED4", "04", "mild, stable, leg cramps",
                 [S(-33, 131), S(-9, 132), S(-1, 132)],
                 person=Person("SILVA", "Ana Maria", "19690130", "F")),
        Scenario("DEMO-005", "MED4", "05", "moderate, slow correction of 4 per day",
                 [S(-32, 121), S(-20, 123), S(-8, 125), S(-0.2, 126)],
                 person=Person("BERGER", "Klaus", "19410918", "M")),
        Scenario("DEMO-006", "MED4", "06", "a corrected result: the first value was wrong",
                 [S(-28, 124), S(-12, 133), S(-12, 127, status="C"), S(-2, 128)],
                 person=Person("YILMAZ", "Ayse", "19750405", "F")),
        Scenario("DEMO-007", "MED4", "07", "a duplicate delivery and a urine sodium",
                 [S(-30, 126), S(-16, 128, resend=True), S(-15, 38, analyte="urine-sodium"),
                  S(-3, 129)],
                 person=Person("MURPHY", "Sean", "19630827", "M")),
        Scenario("DEMO-008", "MED4", "08", "low potassium: high risk from the lab",
                 [S(-30, 123, ), S(-29, 3.1, analyte="potassium"), S(-16, 126), S(-5, 129)],
                 person=Person("LINDQVIST", "Ingrid", "19380612", "F")),
        Scenario("DEMO-101", "ICU1", "01", "blood gas values beside the lab's",
                 [S(-26, 119), S(-20, 121, poc=True), S(-12, 122), S(-6, 124, poc=True),
                  S(-1, 125)],
                 person=Person("DUBOIS", "Marc", "19550219", "M")),
        Scenario("DEMO-102", "ICU1", "02", "hypernatremia after hypertonic saline",
                 [S(-30, 141), S(-18, 144), S(-6, 147)],
                 person=Person("TANAKA", "Yuki", "19800711", "F")),
        Scenario("DEMO-103", "ICU1", "03", "falling sodium after a fluid bolus",
                 [S(-24, 133), S(-14, 131), S(-3, 125)],
                 person=Person("KOWALCZYK", "Jan", "19490301", "M")),
        Scenario("DEMO-104", "ICU1", "04", "normal sodium",
                 [S(-30, 139), S(-6, 140)],
                 person=Person("ROSSI", "Giulia", "19880924", "F")),
    ]


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S+0000")


LOINC = {"sodium": ("2951-2", "Sodium [Moles/volume] in Serum or Plasma"),
         "potassium": ("2823-3", "Potassium [Moles/volume] in Serum or Plasma"),
         "urine-sodium": ("2955-3", "Sodium [Moles/volume] in Urine")}
POC = ("39791-9", "Sodium [Moles/volume] in Venous blood")


def _pid(s: Scenario) -> str:
    p = s.person
    return f"PID|1||{s.mrn}^^^CITYGEN^MR||{p.family}^{p.given}^^^^^L||{p.born}|{p.sex}"


def _pv1(s: Scenario) -> str:
    """PV1-3 point of care ^ room ^ bed ^ facility."""
    return f"PV1|1|I|{s.ward}^{s.room}^{s.bed_letter}^CITYGEN"


def oru(s: Scenario, n: int, sample: Sample, collected: datetime, sent: datetime,
        run: str) -> str:
    code, name = POC if sample.poc else LOINC[sample.analyte]
    unit = "mmol/L"
    order = f"{run}-{s.mrn}-{n if sample.status != 'C' else n - 1}"
    control = f"{order}-{sample.status}"
    return "\r".join([
        f"MSH|^~\\&|DEMO-LIS|CITYGEN|SODMON|CITYGEN|{_ts(sent)}||ORU^R01^ORU_R01|{control}|P|2.5.1",
        _pid(s),
        _pv1(s),
        f"ORC|RE|ORD{order}|{order}||CM",
        f"OBR|1|ORD{order}|{order}|80048^Basic metabolic panel^C4|||{_ts(collected)}"
        f"|||||||||||||||{_ts(sent)}|||{sample.status}",
        f"OBX|1|NM|{code}^{name}^LN||{sample.value}|{unit}|||||{sample.status}|||{_ts(collected)}",
    ])


def adt(s: Scenario, sent: datetime, run: str) -> str:
    dg1 = [f"DG1|{i + 1}||{code}^^I10|||W" for i, code in enumerate(s.diagnoses)]
    return "\r".join([
        f"MSH|^~\\&|DEMO-ADT|CITYGEN|SODMON|CITYGEN|{_ts(sent)}||ADT^A08^ADT_A01|"
        f"{run}-{s.mrn}-A08|P|2.5.1",
        f"EVN|A08|{_ts(sent)}",
        _pid(s),
        _pv1(s),
        *dg1,
    ])


def timeline(scenarios: list[Scenario], start: datetime, run: str,
             history_until: float = -3.0) -> tuple[list[str], list[tuple[float, str]]]:
    """(history messages, live messages with their offset in hours): everything collected
    before `history_until` hours is history; the rest goes out live, in collection order."""
    history: list[tuple[float, str]] = []
    live: list[tuple[float, str]] = []
    for s in scenarios:
        if s.diagnoses:
            history.append((-99.0, adt(s, start, run)))
        for n, sample in enumerate(s.samples):
            collected = start + timedelta(hours=sample.hours)
            message = oru(s, n, sample, collected, start, run)
            target = history if sample.hours < history_until else live
            target.extend([(sample.hours, message)] * (2 if sample.resend else 1))
    history.sort(key=lambda x: x[0])
    live.sort(key=lambda x: x[0])
    return [m for _, m in history], live
