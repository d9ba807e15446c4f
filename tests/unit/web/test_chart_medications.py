"""The chart's treatment lane: orders hollow on their row, administrations filled on theirs,
a triangle up for a class that raises sodium and down for one that lowers it, unknown ones
as unknown, void ones struck, only those within the drawn span, each with its words."""

import re
from datetime import timedelta
from html import unescape

from monitor.engine.corridor import PatientCorridor
from monitor.engine.medication import MedicationClass, MedicationKind
from monitor.engine.policy import built_in
from monitor.engine.treatment import SODIUM_LOWERING_CLASSES, SODIUM_RAISING_CLASSES
from monitor.web.chart_facts import chart_facts, patient_data
from monitor.web.chart_medications import MedicationMark
from monitor.web.charts import patient_chart
from tests.unit.web.test_charts import BERLIN, T0, draw, na

ORDER, GIVEN = MedicationKind.ORDER, MedicationKind.ADMINISTRATION


def med(hours: float, kind: MedicationKind, cls: MedicationClass | None, text: str,
        status: str = "active") -> MedicationMark:
    return MedicationMark(T0 + timedelta(hours=hours), kind, cls, text, status, "250 mL IV")


def chart(meds: list[MedicationMark]) -> str:
    _, _, facts = draw([na(0, 120), na(12, 124)])
    return patient_chart([na(0, 120), na(12, 124)], [], facts, built_in("default"), set(),
                         BERLIN, medications=meds)


def marks(svg: str) -> list[dict[str, str]]:
    found = re.findall(r'<(path|circle|rect) class="(med [^"]+)" data-testid="medication-mark" '
                       r'data-kind="(\w+)" data-effect="(\w+)"[^>]*><title>([^<]+)</title>', svg)
    return [{"tag": t, "class": c, "kind": k, "effect": e, "title": unescape(title)}
            for t, c, k, e, title in found]


def test_orders_and_administrations_with_their_direction_and_words() -> None:
    svg = chart([med(2, ORDER, MedicationClass.HYPERTONIC_SALINE, "Sodium chloride 3%"),
                 med(3, GIVEN, MedicationClass.HYPERTONIC_SALINE, "Sodium chloride 3%",
                     "completed"),
                 med(8, GIVEN, MedicationClass.DESMOPRESSIN, "Desmopressin 2 microgram IV"),
                 med(9, ORDER, MedicationClass.LOOP_DIURETIC, "Furosemide 40 mg"),
                 med(10, ORDER, None, "Ward stock item 7")])
    found = marks(svg)
    assert [(m["kind"], m["effect"]) for m in found] == [
        ("order", "raises"), ("order", "other"), ("order", "unknown"),
        ("administration", "raises"), ("administration", "lowers")]
    assert found[0]["title"] == ("hypertonic saline (raises sodium): Sodium chloride 3%, "
                                 "250 mL IV; ordered Tue 1 Dec 04:00, active")
    assert found[4]["title"].startswith("desmopressin (lowers sodium): Desmopressin 2 microgram")
    assert "; given Tue 1 Dec 10:00" in found[4]["title"]
    assert found[2]["title"].startswith("unknown: Ward stock item 7")
    assert found[2]["tag"] == "rect" and found[1]["tag"] == "circle"
    assert 'data-testid="treatment"' in svg and ">Treatment<" in svg
    assert ">ordered<" in svg and ">given<" in svg
    assert "Orders and administrations under the time axis: 5." in svg
    labels = re.findall(r'class="med-label[^"]*"[^>]*>([^<]+)<', svg)
    assert "hypertonic saline" in labels and "unknown" in labels and "desmopressin" in labels


def test_a_cancelled_order_is_struck_and_said_not_given() -> None:
    svg = chart([med(2, ORDER, MedicationClass.VAPTAN, "Tolvaptan 15 mg", "cancelled")])
    (m,) = marks(svg)
    assert "void" in m["class"].split()
    assert m["title"].endswith("cancelled; not given: the rules leave it out")
    assert '<line class="strike"' in svg.split('data-testid="treatment"')[1]


def test_only_the_drawn_span_and_no_lane_without_medications() -> None:
    svg = chart([med(-30, GIVEN, MedicationClass.UREA, "Urea 15 g"),
                 med(5, GIVEN, MedicationClass.UREA, "Urea 15 g")])
    assert len(marks(svg)) == 1
    plain = chart([])
    assert 'data-testid="treatment"' not in plain
    assert plain.count('viewBox="0 0 860 308"') == 1  # as high as before the lane


def test_close_marks_keep_their_words_in_the_title_not_overlapping_labels() -> None:
    svg = chart([med(2, GIVEN, MedicationClass.ISOTONIC_SALINE, "NaCl 0.9%"),
                 med(2.1, GIVEN, MedicationClass.SALT_TABLETS, "NaCl tablets")])
    assert len(marks(svg)) == 2
    labels = re.findall(r'class="med-label[^"]*"[^>]*>([^<]+)<', svg)
    assert labels == ["salt tablets"]


def test_the_directions_are_the_issues_classes() -> None:
    raising = frozenset({MedicationClass.HYPERTONIC_SALINE, MedicationClass.ISOTONIC_SALINE,
                         MedicationClass.VAPTAN, MedicationClass.UREA,
                         MedicationClass.SALT_TABLETS})
    lowering = frozenset({MedicationClass.DESMOPRESSIN, MedicationClass.HYPOTONIC_FLUID})
    assert (raising, lowering) == (SODIUM_RAISING_CLASSES, SODIUM_LOWERING_CLASSES)


def test_the_span_reaches_a_dose_given_after_the_last_sodium_but_not_a_planned_one() -> None:
    p = built_in("default")
    points = [na(0, 120), na(12, 124)]
    c = PatientCorridor(patient_data(points, [], [], []), p)
    now = T0 + timedelta(hours=40)

    def end(*treated_h: float) -> float:
        facts = chart_facts(c, p, points, points, now, False, True, BERLIN,
                            treated=[T0 + timedelta(hours=h) for h in treated_h])
        assert facts is not None
        return (facts.end - T0).total_seconds() / 3600

    drawn = end()  # the last sodium or the projection's end (discharged: none due)
    assert drawn < 30
    assert end(30) == 30
    assert end(30, 45) == 30  # planned after now: not drawn, the span stays
    assert end(-5) == drawn  # before the first sodium: outside the span, not drawn
