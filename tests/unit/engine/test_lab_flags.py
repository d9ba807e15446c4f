"""Lab-flagged results: a version whose specimen the lab flagged is kept and not counted;
a later unflagged correction counts again, whatever the order the versions are applied in."""

from __future__ import annotations

import itertools

from monitor.engine.ledger import PatientLedger
from monitor.engine.model import Analyte, Method, ResultStatus
from monitor.engine.policy import built_in
from monitor.engine.reconcile import ACTIVE
from monitor.engine.rules import OVERCORRECTION_24H
from monitor.engine.versions import Version, resolve
from tests.unit.engine.builders import at, ids

DEFAULT = built_in("default")
F, C, P, U = (ResultStatus.FINAL, ResultStatus.CORRECTED, ResultStatus.PRELIMINARY,
              ResultStatus.MAKE_FINAL)
DRIP = "Drawn from the drip arm"
# (key, status, value, hours, arrival, flag): 121 then +12 in 20 h, over the limit of 8.
BASE = ("r0", F, 121.0, 0.0, 1, None)


def fed(versions: list[tuple[str, ResultStatus, float | None, float, int, str | None]]
        ) -> PatientLedger:
    ledger, new_id = PatientLedger(DEFAULT), ids()
    for key, status, value, hours, seq, flag in versions:
        ledger.add_result(key, Analyte.SODIUM, Method.LAB, status, value, at(hours), seq,
                          False, new_id, flag=flag)
    return ledger


def active(ledger: PatientLedger) -> set[str]:
    return {a.rule for a in ledger.alerts if a.state == ACTIVE}


def test_a_flagged_value_that_would_overcorrect_raises_nothing() -> None:
    assert OVERCORRECTION_24H in active(fed([BASE, ("r1", F, 133.0, 20, 2, None)]))

    ledger = fed([BASE, ("r1", F, 133.0, 20, 2, DRIP)])

    assert active(ledger) == set()
    assert ledger.results["r1"].effective is not None
    assert ledger.results["r1"].effective.flag == DRIP
    assert ledger.series[Analyte.SODIUM].values == [121.0]
    assert ledger.raw.values == [121.0]  # not even a candidate artefact


def test_a_later_unflagged_correction_counts_again_in_any_order() -> None:
    versions = [BASE, ("r1", F, 133.0, 20, 2, DRIP), ("r1", C, 133.0, 20, 3, None)]
    for order in itertools.permutations(versions):
        assert OVERCORRECTION_24H in active(fed(list(order))), order


def test_flagging_a_counted_value_withdraws_what_it_raised() -> None:
    ledger = fed([BASE, ("r1", P, 133.0, 20, 2, None)])
    assert OVERCORRECTION_24H in active(ledger)

    ledger.add_result("r1", Analyte.SODIUM, Method.LAB, F, 133.0, at(20), 3, False, ids(),
                      flag="Specimen contaminated with IV fluid")

    assert active(ledger) == set()


def test_a_late_flagged_preliminary_does_not_undo_the_final() -> None:
    eff = resolve([Version(1, F, 133.0, at(0)), Version(2, P, 134.0, at(0), DRIP)])

    assert eff is not None and eff.counted and eff.flag is None


def test_a_flag_on_a_make_final_still_flags_the_value_and_the_value_is_still_shown() -> None:
    eff = resolve([Version(1, P, 133.0, at(0)), Version(2, U, None, at(0), DRIP)])

    assert eff is not None and not eff.counted and eff.present and eff.flag == DRIP
