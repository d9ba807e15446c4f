"""AQUARESIS_WARNING: urine output rate over contiguous intervals, gaps, the osmolality
branch, the episode, and how the alert resolves (engine.fluids through the ledger)."""

from __future__ import annotations

from monitor.engine.fluids import AQUARESIS_WARNING, aquaresis, rate_ml_h
from monitor.engine.messages import message
from monitor.engine.model import Analyte, Measurement, Method, ResultStatus
from monitor.engine.policy import built_in
from monitor.engine.reconcile import ACTIVE, RESOLVED

from .builders import Feed, at, na

POLICY = built_in("default")


def out(start_h: float, end_h: float, ml: float, key: str | None = None) -> Measurement:
    """A urine output of `ml` collected from `start_h` to `end_h` hours after T0."""
    return Measurement(key or f"uo@{end_h:g}", Analyte.URINE_OUTPUT, ml, at(end_h),
                       Method.URINE, started_at=at(start_h))


def osm(hours: float, value: float) -> Measurement:
    return Measurement(f"osm@{hours:g}", Analyte.URINE_OSMOLALITY, value, at(hours),
                       Method.URINE)


def found(outputs: list[Measurement], sodium: list[Measurement] | None = None,
          osmolality: list[Measurement] | None = None) -> list[str]:
    sodium = [na(0, 119)] if sodium is None else sodium
    findings, _ = aquaresis(outputs, osmolality or [], [m.collected_at.timestamp()
                                                        for m in sodium],
                            [m.value_mmol_l for m in sodium], POLICY)
    return [f.result_key for f in findings]


def test_rate_is_volume_over_the_interval() -> None:
    assert rate_ml_h(out(0, 0.5, 120)) == 240
    assert rate_ml_h(Measurement("x", Analyte.URINE_OUTPUT, 100, at(1), Method.URINE)) is None


def test_three_hours_above_100_ml_h_hold_from_the_second_hour() -> None:
    assert found([out(0, 1, 240), out(1, 2, 260), out(2, 3, 230)]) == ["uo@2", "uo@3"]


def test_55_to_70_ml_h_never_hold() -> None:
    assert found([out(0, 1, 55), out(1, 2, 70), out(2, 3, 62)]) == []


def test_one_hour_at_or_below_the_rate_restarts_the_run() -> None:
    assert found([out(0, 1, 240), out(1, 2, 100), out(2, 3, 230)]) == []


def test_a_gap_longer_than_the_tolerance_starts_a_new_run() -> None:
    gap = [out(0, 1, 240), out(1.5, 2.5, 260)]  # 30 min unmeasured
    close = [out(0, 1, 240), out(1.2, 2.2, 260)]  # 12 min: within 15
    assert found(gap) == []
    assert found(close) == ["uo@2.2"]


def test_overlapping_intervals_count_their_union() -> None:
    assert found([out(0, 1.5, 300), out(1, 2, 150)]) == ["uo@2"]


def test_half_hour_outputs_add_up_to_two_hours() -> None:
    outputs = [out(h / 2, h / 2 + 0.5, 80) for h in range(4)]  # 160 mL/h
    assert found(outputs) == ["uo@2"]


def test_a_days_total_is_not_rated() -> None:
    assert found([out(0, 24, 4800)]) == []


def test_low_urine_osmolality_holds_at_once() -> None:
    assert found([], osmolality=[osm(1, 80)]) == ["osm@1"]
    assert found([], osmolality=[osm(1, 100)]) == []


def test_outside_a_hyponatremia_episode_nothing_holds() -> None:
    diuresis = [out(0, 1, 240), out(1, 2, 260), out(2, 3, 230)]
    assert found(diuresis, sodium=[na(0, 139)]) == []
    assert found(diuresis, sodium=[]) == []
    assert found(diuresis, sodium=[na(4, 119)]) == []  # before the episode began


def send_output(feed: Feed, key: str, start_h: float, end_h: float, ml: float,
                status: ResultStatus = ResultStatus.FINAL) -> None:
    feed.seq += 1
    feed.ledger.add_result(key, Analyte.URINE_OUTPUT, Method.URINE, status, ml, at(end_h),
                           feed.seq, False, feed.new_id, started_at=at(start_h))


def diuresis_feed() -> Feed:
    feed = Feed()
    feed.send("na1", 0, 119)
    for n, (ml, h) in enumerate([(240, 1), (260, 2), (230, 3)], 1):
        send_output(feed, f"uo{n}", h - 1, h, ml)
    return feed


def test_the_ledger_raises_one_warning_with_the_message() -> None:
    feed = diuresis_feed()
    alert = feed.active()[AQUARESIS_WARNING]
    assert alert.severity == "warning" and set(alert.evidence) == {"uo2", "uo3"}
    text = message(alert.worst, POLICY)
    assert ("water diuresis: sodium may rise fast; recheck sodium within 2 h; consider "
            "desmopressin per protocol") in text
    assert "above 100 mL/h" in text


def test_output_falling_back_resolves_the_alert_and_a_new_diuresis_raises_anew() -> None:
    feed = diuresis_feed()
    send_output(feed, "uo4", 3, 4, 60)
    (alert,) = [a for a in feed.ledger.alerts if a.rule == AQUARESIS_WARNING]
    assert alert.state == RESOLVED
    assert "urine output 60 mL/h" in (alert.withdrawn_reason or "")
    send_output(feed, "uo5", 4, 5, 300)
    send_output(feed, "uo6", 5, 6, 300)
    states = [a.state for a in feed.ledger.alerts if a.rule == AQUARESIS_WARNING]
    assert states == [RESOLVED, ACTIVE]


def test_the_episode_ending_resolves_the_alert() -> None:
    feed = diuresis_feed()
    feed.send("na2", 4, 137)
    feed.send("na3", 17, 138)  # 13 h at >= 136: the episode ends
    (alert,) = [a for a in feed.ledger.alerts if a.rule == AQUARESIS_WARNING]
    assert alert.state == RESOLVED and "episode ended" in (alert.withdrawn_reason or "")


def test_a_removed_output_withdraws_the_warning_it_raised() -> None:
    feed = Feed()
    feed.send("na1", 0, 119)
    send_output(feed, "uo1", 0, 1, 240)
    send_output(feed, "uo2", 1, 2, 260)
    send_output(feed, "uo2", 1, 2, 260, ResultStatus.REMOVED)
    (alert,) = [a for a in feed.ledger.alerts if a.rule == AQUARESIS_WARNING]
    assert alert.state == "withdrawn"


def test_live_order_and_replay_order_give_the_same_alert() -> None:
    replayed = diuresis_feed()
    late = Feed()  # the outputs first, the sodium that opens the episode last
    for n, (ml, h) in enumerate([(240, 1), (260, 2), (230, 3)], 1):
        send_output(late, f"uo{n}", h - 1, h, ml)
    late.send("na1", 0, 119)
    assert set(late.active()[AQUARESIS_WARNING].evidence) == set(
        replayed.active()[AQUARESIS_WARNING].evidence)


def test_every_profile_sets_the_fluid_parameters() -> None:
    for name in ("default", "us-2013", "eu-2014", "salsa-2021"):
        f = built_in(name).fluids
        assert (f.aquaresis_ml_per_h, f.aquaresis_hours, f.aquaresis_osmolality_max) == (
            100, 2, 100)


def test_replay_deferring_appends_still_raises_and_resolves_a_spell() -> None:
    feed = Feed()
    feed.ledger.defer_appends = True
    feed.send("na1", 0, 119)
    for n, (ml, h) in enumerate([(240, 1), (260, 2), (230, 3), (50, 4)], 1):
        send_output(feed, f"uo{n}", h - 1, h, ml)
    feed.ledger.flush()
    states = [a.state for a in feed.ledger.alerts if a.rule == AQUARESIS_WARNING]
    assert states == [RESOLVED]


def test_low_output_does_not_end_a_low_osmolality_a_normal_osmolality_does() -> None:
    feed = Feed()
    feed.send("na1", 0, 119)
    feed.seq += 1
    feed.ledger.add_result("osm1", Analyte.URINE_OSMOLALITY, Method.URINE, ResultStatus.FINAL,
                           85, at(1), feed.seq, False, feed.new_id)
    send_output(feed, "uo1", 1, 2, 60)
    assert AQUARESIS_WARNING in feed.active()
    feed.seq += 1
    feed.ledger.add_result("osm2", Analyte.URINE_OSMOLALITY, Method.URINE, ResultStatus.FINAL,
                           350, at(3), feed.seq, False, feed.new_id)
    (alert,) = [a for a in feed.ledger.alerts if a.rule == AQUARESIS_WARNING]
    assert alert.state == RESOLVED and "osmolality 350" in (alert.withdrawn_reason or "")


def test_the_alert_shows_the_highest_rate() -> None:
    alert = diuresis_feed().active()[AQUARESIS_WARNING]
    assert alert.worst.value_mmol_l == 260


def test_the_sodium_that_opened_the_episode_corrected_withdraws_with_the_reason() -> None:
    feed = diuresis_feed()
    feed.send("na1", 0, 140, status=ResultStatus.CORRECTED)
    (alert,) = [a for a in feed.ledger.alerts if a.rule == AQUARESIS_WARNING]
    assert alert.state == "withdrawn"
    assert "outside an open hyponatremia episode" in (alert.withdrawn_reason or "")


def test_a_discharge_resolves_the_water_diuresis_alert() -> None:
    feed = diuresis_feed()
    feed.ledger.discharge(at(4), feed.new_id)
    (alert,) = [a for a in feed.ledger.alerts if a.rule == AQUARESIS_WARNING]
    assert alert.state == RESOLVED and "discharged" in (alert.withdrawn_reason or "")


def test_after_a_discharge_a_later_reading_raises_nothing_for_the_stay_that_ended() -> None:
    feed = diuresis_feed()
    feed.ledger.discharge(at(4), feed.new_id)
    send_output(feed, "uo9", 2.5, 3.5, 300)  # late, collected within the ended stay
    assert AQUARESIS_WARNING not in feed.active()
