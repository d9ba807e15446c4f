"""A vaptan started tightens the sodium interval: every 6 h for its first 48 h (issue 16)."""

from __future__ import annotations

from datetime import timedelta

from monitor.engine.policy import built_in
from monitor.engine.sampling import interval, vaptan_starts
from tests.unit.engine.builders import at

P = built_in("default")
H = timedelta(hours=1)


def test_the_first_48_hours_of_a_vaptan_course_ask_for_sodium_every_6_hours() -> None:
    assert interval(P, 130, False) == 24 * H  # mild band: daily
    assert interval(P, 130, False, at(0), [at(2)]) == 8 * H  # due 6 h after the start
    assert interval(P, 130, False, at(10), [at(2)]) == 6 * H
    assert interval(P, 130, False, at(49), [at(2)]) == 6 * H  # within 48 h of the start
    assert interval(P, 130, False, at(50), [at(2), at(26)]) == 24 * H  # past the first 48 h
    assert interval(P, 118, False, at(10), [at(2)]) == 6 * H  # never looser than the band
    assert interval(P, 130, False, at(0), [at(30)]) == 24 * H  # begun after it was due


def test_a_course_begins_after_48_hours_without_a_vaptan() -> None:
    doses = [at(0), at(24), at(48), at(120), at(144)]
    assert vaptan_starts(doses, P) == [at(0), at(120)]
    assert interval(P, 130, False, at(125), doses) == 6 * H  # the new course's first hours
