"""versions.resolve: which version of a result counts, in arrival order; refusals: which
versions are ignored and reported to their sender."""

from __future__ import annotations

import itertools

import pytest

from monitor.engine.model import ResultStatus
from monitor.engine.versions import (
    CONFLICTING_DUPLICATE,
    RESENT_AFTER_REMOVAL,
    Effective,
    Version,
    refusals,
    resolve,
)
from tests.unit.engine.builders import at

P, F, C, U, D = (ResultStatus.PRELIMINARY, ResultStatus.FINAL, ResultStatus.CORRECTED,
                 ResultStatus.MAKE_FINAL, ResultStatus.REMOVED)


def v(seq: int, status: ResultStatus, value: float | None = None, hours: float = 0) -> Version:
    return Version(seq, status, value, at(hours))


def state(e: Effective | None) -> tuple[ResultStatus, float | None, bool] | None:
    return None if e is None else (e.status, e.value_mmol_l, e.counted)


def test_nothing_arrived_is_none() -> None:
    assert resolve([]) is None


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ([v(1, F, 130)], (F, 130, True)),
        ([v(1, P, 128)], (P, 128, True)),
        ([v(1, P, 128), v(2, F, 130)], (F, 130, True)),  # final replaces preliminary
        ([v(1, F, 130), v(2, P, 128)], (F, 130, True)),  # a late preliminary changes nothing
        ([v(1, P, 127), v(2, P, 128)], (P, 128, True)),  # a newer preliminary replaces
        ([v(1, F, 130), v(2, C, 125)], (C, 125, True)),  # C replaces a final
        ([v(1, P, 128), v(2, C, 125)], (C, 125, True)),  # C replaces a preliminary
        ([v(1, F, 130), v(2, C, 125), v(3, C, 126)], (C, 126, True)),  # C replaces C
        ([v(1, F, 130), v(2, C, 125), v(3, F, 130)], (C, 125, True)),  # F never undoes C
        ([v(1, P, 128), v(2, U)], (F, 128, True)),  # U makes a preliminary final
        ([v(1, P, 128), v(2, U), v(3, P, 120)], (F, 128, True)),
        ([v(1, F, 130), v(2, U)], (F, 130, True)),  # U after a final changes nothing
        ([v(1, C, 125), v(2, U)], (C, 125, True)),  # nor after a correction
        ([v(1, F, 130), v(2, D)], (D, None, False)),  # removal leaves a tombstone
        ([v(1, P, 128), v(2, D)], (D, None, False)),
        ([v(1, F, 130), v(2, C, 125), v(3, D)], (D, None, False)),
        ([v(1, F, 130), v(2, D), v(3, F, 131)], (D, None, False)),  # re-sent after removal
        ([v(1, F, 130), v(2, D), v(3, F, 130)], (D, None, False)),
        ([v(1, F, 130), v(2, D), v(3, P, 129)], (D, None, False)),
        ([v(1, F, 130), v(2, D), v(3, U)], (D, None, False)),
        ([v(1, F, 130), v(2, D), v(3, C, 131)], (C, 131, True)),  # a correction brings it back
        ([v(1, F, 130), v(2, D), v(3, C, 131), v(4, F, 130)], (C, 131, True)),
        ([v(1, D), v(2, F, 130)], (D, None, False)),  # the removal overtook its final
        ([v(1, F, 130), v(2, D), v(3, D)], (D, None, False)),
        ([v(1, F, 130), v(2, F, None)], (F, 130, True)),  # a version without a value
    ],
)
def test_status_transitions(versions: list[Version],
                            expected: tuple[ResultStatus, float | None, bool]) -> None:
    assert state(resolve(versions)) == expected


def test_u_alone_or_removal_alone() -> None:
    assert resolve([v(1, U)]) is None
    removed = resolve([v(1, D)])
    assert removed is not None and not removed.counted


@pytest.mark.parametrize(
    "versions",
    [
        [v(1, P, 128), v(2, F, 130), v(3, C, 125), v(4, D), v(5, F, 131)],
        [v(1, F, 130), v(2, D), v(3, F, 130), v(4, C, 126), v(5, P, 125)],
        [v(1, P, 128), v(2, U), v(3, C, 125)],
        [v(1, F, 130), v(2, P, 128), v(3, C, 126), v(4, F, 129)],
    ],
)
def test_the_outcome_does_not_depend_on_processing_order(versions: list[Version]) -> None:
    outcomes = {resolve(list(order)) for order in itertools.permutations(versions)}
    assert len(outcomes) == 1


@pytest.mark.parametrize(
    "versions",
    [
        [v(1, P, 128), v(2, F, 130)],
        [v(1, F, 130), v(2, C, 125)],
        [v(1, P, 128), v(2, U)],
        [v(1, F, 130), v(2, D)],
        [v(1, F, 130), v(2, D), v(3, F, 131)],
    ],
)
def test_the_same_version_again_changes_nothing(versions: list[Version]) -> None:
    once = resolve(versions)
    for repeated in versions:
        assert resolve([*versions, repeated]) == once
        assert resolve([repeated, *versions]) == once


def test_a_correction_may_move_the_collection_time() -> None:
    e = resolve([v(1, F, 130, hours=0), v(2, C, 130, hours=2)])
    assert e is not None and e.collected_at == at(2) and e.arrival_seq == 2


def test_arrival_seq_records_the_version_that_set_the_value() -> None:
    e = resolve([v(3, F, 130), v(7, P, 128)])
    assert e is not None and e.arrival_seq == 3


# -- refused versions: ignored, and reported to the sender

def reasons(versions: list[Version], inferred: bool = False) -> list[tuple[int, str]]:
    return [(r.arrival_seq, r.reason) for r in refusals(versions, inferred)]


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ([v(1, F, 130), v(2, D), v(3, F, 130)], [(3, RESENT_AFTER_REMOVAL)]),
        ([v(1, F, 130), v(2, D), v(3, P, 129)], [(3, RESENT_AFTER_REMOVAL)]),
        ([v(1, P, 128), v(2, D), v(3, U)], [(3, RESENT_AFTER_REMOVAL)]),
        ([v(1, D), v(2, F, 130)], [(2, RESENT_AFTER_REMOVAL)]),
        # Sent again and again: refused each time, reported once.
        ([v(1, F, 130), v(2, D), v(3, F, 130), v(4, F, 130)], [(3, RESENT_AFTER_REMOVAL)]),
        # Neither a correction nor a further removal is refused.
        ([v(1, F, 130), v(2, D), v(3, C, 131), v(4, D)], []),
        ([v(1, F, 130), v(2, F, 131), v(3, P, 120)], []),  # sent ids: §5 as before
    ],
)
def test_what_is_refused_after_a_removal(versions: list[Version],
                                         expected: list[tuple[int, str]]) -> None:
    assert reasons(versions) == expected


@pytest.mark.parametrize(
    ("versions", "expected", "kept"),
    [
        ([v(1, F, 117), v(2, F, 121)], [(2, CONFLICTING_DUPLICATE)], (F, 117, True)),
        ([v(1, F, 117), v(2, F, 117)], [], (F, 117, True)),  # an identical re-send
        ([v(1, F, 117), v(2, C, 121)], [], (C, 121, True)),  # a correction replaces
        ([v(1, P, 116), v(2, F, 117)], [], (F, 117, True)),  # a final its preliminary
        ([v(1, F, 117), v(2, P, 116)], [(2, CONFLICTING_DUPLICATE)], (F, 117, True)),
        ([v(1, P, 116), v(2, P, 117)], [(2, CONFLICTING_DUPLICATE)], (P, 116, True)),
        ([v(1, F, 117), v(2, D)], [], (D, None, False)),
        ([v(1, F, 117), v(2, F, 121), v(3, F, 121), v(4, F, 117)],
         [(2, CONFLICTING_DUPLICATE)], (F, 117, True)),
    ],
)
def test_a_different_value_under_an_inferred_identity_is_a_conflicting_duplicate(
        versions: list[Version], expected: list[tuple[int, str]],
        kept: tuple[ResultStatus, float | None, bool]) -> None:
    assert reasons(versions, inferred=True) == expected
    assert state(resolve(versions, inferred=True)) == kept


def test_a_conflicting_duplicate_names_the_value_kept() -> None:
    (refused,) = refusals([v(1, F, 117), v(2, F, 121)], inferred=True)
    assert refused.held_mmol_l == 117
    assert refused.text().startswith("conflicting duplicate: ")
    assert "117 mmol/L" in refused.text()
    (resent,) = refusals([v(1, F, 130), v(2, D), v(3, F, 130)])
    assert resent.text().startswith("re-sent after removal: ")


@pytest.mark.parametrize(
    "versions",
    [
        [v(1, F, 130), v(2, D), v(3, F, 130)],
        [v(1, D), v(2, F, 130), v(3, C, 128)],
        [v(1, F, 117), v(2, F, 121), v(3, C, 119)],
    ],
)
def test_refusals_do_not_depend_on_processing_order(versions: list[Version]) -> None:
    for inferred in (False, True):
        outcomes = {(resolve(list(order), inferred), tuple(refusals(list(order), inferred)))
                    for order in itertools.permutations(versions)}
        assert len(outcomes) == 1
