"""The patient chart draws what the engine says (PatientCorridor, next_due), in words and
marks: axis units, 6 h ticks in the display zone, "now", the ceiling, the goal, the next
sodium due, the potassium strip only with potassium."""

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from monitor.engine.corridor import PatientCorridor
from monitor.engine.policy import built_in
from monitor.engine.sampling import interval
from monitor.web.chart_facts import chart_facts, patient_data
from monitor.web.charts import Point, judged, patient_chart
from tests.unit.engine.builders import coded

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # a Tuesday
BERLIN = ZoneInfo("Europe/Berlin")


def na(hours: float, value: float, **kw: object) -> Point:
    fields: dict[str, Any] = {"method": "lab", "status": "final", "counted": True,
                              "source": "hl7:lis", "key": f"k{hours:g}"}
    fields.update(kw)
    return Point(at=T0 + timedelta(hours=hours), value=value, **fields)


def k(hours: float, value: float) -> Point:
    return na(hours, value, key=f"K{hours:g}")


def draw(points: list[Point], policy: str = "default", now_h: float = 13,
         potassium: list[Point] | None = None, codes: frozenset[str] = frozenset(),
         acute: tuple[float, ...] = (), lead_in: list[Point] | None = None,
         zone: ZoneInfo = BERLIN, triggering: set[str] | None = None
         ) -> tuple[str, PatientCorridor, Any]:
    p = built_in(policy)
    everything = [*(lead_in or []), *points]
    c = PatientCorridor(patient_data(everything, potassium or [], coded(codes),
                                     [T0 + timedelta(hours=h) for h in acute]), p)
    facts = chart_facts(c, p, points, everything, T0 + timedelta(hours=now_h), False, False,
                        zone)
    return patient_chart(points, potassium or [], facts, p, triggering or set(), zone), c, facts


def text(svg: str) -> str:
    return re.sub(r"<[^>]+>", " ", svg)


def test_the_chart_names_its_units_ticks_every_6_h_of_local_time_and_draws_now() -> None:
    svg, _, _ = draw([na(0, 120), na(12, 124)])
    assert "Na\u207a mmol/L" in svg
    # 01:00 UTC is 02:00 in Berlin: the first tick is 06:00 there, then 12:00, 18:00...
    labels = re.findall(r'class="axis tick-label"[^>]*>([^<]+)<', svg)
    assert labels[:3] == ["Tue 06:00", "12:00", "18:00"]
    assert 'data-testid="now"' in svg and ">now<" in svg
    # now outside the drawn span: no line
    later, _, _ = draw([na(0, 120), na(12, 124)], now_h=24 * 5)
    assert 'data-testid="now"' not in later


def test_ticks_keep_to_the_local_clock_across_the_end_of_summer_time() -> None:
    start = (datetime(2026, 10, 24, 20, tzinfo=UTC) - T0).total_seconds() / 3600
    svg, _, _ = draw([na(start, 120), na(start + 24, 124)], now_h=start + 25)
    labels = re.findall(r'class="axis tick-label"[^>]*>([^<]+)<', svg)
    assert labels[:4] == ["Sun 00:00", "06:00", "12:00", "18:00"]  # 25 h that day


def test_a_long_stay_labels_the_days_without_overlapping() -> None:
    daily = [na(24 * d, 120 + d % 3) for d in range(40)]
    svg, _, _ = draw(daily, now_h=24 * 39 + 1)
    labels = re.findall(r'class="axis tick-label" x="([\d.]+)"[^>]*>([^<]+)<', svg)
    assert labels and all(re.fullmatch(r"\w{3} 00:00", t) for _, t in labels)
    xs = [float(x) for x, _ in labels]
    assert min(b - a for a, b in pairwise(xs)) >= 52


def test_the_ceiling_is_the_engines_in_numbers_in_the_chart() -> None:
    svg, c, facts = draw([na(0, 120), na(12, 124)])
    left = c.allowance(T0 + timedelta(hours=13))
    assert left is not None and (left.ceiling_mmol_l, left.left_mmol_l) == (128, 4)
    # until 01:00 UTC the next day: 02:00 Wednesday in Berlin
    assert facts.ceiling_text == "≤ 128 until Wed 02:00 — 4 mmol/L left"
    assert "≤ 128 until Wed 02:00 — 4 mmol/L left" in text(svg)


def test_eu_2014_first_day_limit_moves_the_corridor_as_the_rules_do() -> None:
    points = [na(0, 120), na(12, 129)]
    _, c, facts = draw(points, "eu-2014")
    drawn = facts.corridor
    assert drawn == c.along(T0, facts.end)
    day_one = {b.ceiling_mmol_l for b in drawn if b.at <= T0 + timedelta(hours=12)}
    assert day_one == {130}  # 120 + the first-day 10, not the daily 8
    assert facts.ceiling_text.startswith("≤ 130 until ")
    _, _, default = draw(points, "default")
    assert {b.ceiling_mmol_l for b in default.corridor
            if b.at <= T0 + timedelta(hours=12)} == {128}


def test_an_acute_mark_lifts_the_ceiling_and_the_chart_says_why() -> None:
    svg, c, facts = draw([na(0, 118), na(6, 127)], now_h=7, acute=(1,))
    assert c.allowance(T0 + timedelta(hours=7)) is None
    assert {b.ceiling_mmol_l for b in facts.corridor} == {None}
    assert 'data-testid="corridor"' not in svg
    assert "No limit applies now: the rise is spared by the acute mark" in text(svg)
    unmarked, _, _ = draw([na(0, 118), na(6, 127)], now_h=7)
    assert 'data-testid="corridor"' in unmarked


def test_the_lead_in_sets_the_corridor_at_the_left_edge_but_is_not_drawn() -> None:
    svg, _, facts = draw([na(0, 126), na(6, 127)], now_h=7, lead_in=[na(-10, 120)])
    assert facts.corridor[0].low_mmol_l == 120
    assert svg.count('<circle class="na lab') == 2
    assert "2 sodium results from Tue 1 Dec 02:00" in svg


def test_the_goal_and_the_next_sodium_due_are_the_policys() -> None:
    svg, c, facts = draw([na(0, 118), na(6, 120)], now_h=7, codes=frozenset({"K70.3"}))
    glide = c.glide(T0 + timedelta(hours=7))
    assert glide is not None and glide.per_24h == (4, 6)
    assert "goal 4–6 per 24 h" in text(svg)
    # The interval the overdue watch applies to the latest value (120 mmol/L).
    due = T0 + timedelta(hours=6) + interval(built_in("default"), 120, False)
    assert facts.next_due == due
    local = due.astimezone(BERLIN)
    assert facts.next_due_text == (
        f"Next sodium due {local:%a} {local.day} {local:%b %H:%M}")
    assert 'data-testid="next-due"' in svg and "next Na due" in svg


def test_the_potassium_strip_only_with_potassium() -> None:
    without, _, _ = draw([na(0, 120), na(12, 124)])
    assert "K\u207a" not in without and 'data-testid="potassium"' not in without
    svg, _, _ = draw([na(0, 120), na(12, 124)], potassium=[k(1, 3.1), k(11, 3.9)])
    assert "K\u207a mmol/L" in svg and 'data-testid="potassium"' in svg
    assert ">4.2<" in svg and ">2.8<" in svg  # its own axis values


def test_a_trigger_has_a_ring_and_the_title_keeps_its_value() -> None:
    svg, _, _ = draw([na(0, 120), na(12, 129)], triggering={"k12"})
    assert '<circle class="ring"' in svg
    assert re.search(r'<circle [^>]*data-testid="trigger"[^>]*><title>129 mmol/L', svg)


def test_a_lab_flagged_value_is_a_suspect_marker_with_the_labs_words_outside_the_line() -> None:
    flagged = na(20, 133, counted=False, flag='drawn from the <drip> arm')
    svg, _, _ = draw([na(0, 121), na(10, 122), flagged], now_h=21)
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
