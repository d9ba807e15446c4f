"""The patient chart's corridor at the left edge of a window of results."""

from datetime import UTC, datetime, timedelta

from monitor.engine.policy import built_in
from monitor.web.charts import Point, corridor, judged, patient_chart

T0 = datetime(2024, 3, 1, 8, tzinfo=UTC)


def na(hours: float, value: float) -> Point:
    return Point(at=T0 + timedelta(hours=hours), value=value, method="lab", status="final",
                 counted=True, source="hl7:lis", key=f"k{hours}")


def test_the_corridor_starts_at_the_window_and_remembers_the_lead_in() -> None:
    policy = built_in("default")
    limit = policy.tier_limits(False).rise_24h
    lead_in, shown = [na(-10, 120)], [na(0, 126), na(6, 127)]
    band = corridor([*lead_in, *shown], policy, False, start=T0)
    assert band[0] == (T0, 120, 120 + limit)  # the lowest value of the last 24 h: 120
    assert corridor(shown, policy, False)[0] == (T0, 126, 126 + limit)
    svg = patient_chart(shown, [], policy, False, set(), lead_in=lead_in)
    assert svg.count('<circle class="na lab') == 2  # the lead-in sets the band, not drawn
    assert "2 sodium results from Fri 1 Mar 08:00" in svg


def test_a_lab_flagged_value_is_a_suspect_marker_with_the_labs_words_outside_the_line() -> None:
    policy = built_in("default")
    flagged = Point(at=T0 + timedelta(hours=20), value=133, method="lab", status="final",
                    counted=False, source="hl7:lis", key="k20",
                    flag='drawn from the <drip> arm')
    svg = patient_chart([na(0, 121), na(10, 122), flagged], [], policy, False, set())

    assert svg.count('class="na lab suspect"') == 1
    assert 'data-testid="suspect"' in svg
    assert "suspect, not counted: lab flag \u201cdrawn from the &lt;drip&gt; arm\u201d" in svg
    line = svg.split('<polyline class="series" points="')[1].split('"')[0]
    assert len(line.split()) == 2  # the two counted values only
    assert 'class="strike"' not in svg  # suspect, not superseded


def test_judged_marks_a_reversed_spike_and_corrects_for_glucose() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)

    def pt(hours: float, value: float) -> Point:
        return Point(at=t + timedelta(hours=hours), value=value, method="lab",
                     status="final", counted=True, source="lis", key=f"r{hours:g}")

    spiked = judged([pt(0, 121), pt(6, 122), pt(7, 136), pt(8, 121)], [], built_in("default"))
    assert [(p.value, p.counted, p.artefact) for p in spiked] == [
        (121, True, False), (122, True, False), (136, False, True), (121, True, False)]
    corrected = judged([pt(0, 126)], [pt(0.5, 720 / 18.016)], built_in("default"))
    assert [(p.value, p.measured) for p in corrected] == [(140.9, 126)]
