"""Lab-flagged results through the real `sodium-monitor replay` command: a flagged value
that would otherwise raise OVERCORRECTION_24H raises nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_replay_examples import replay
from tests.lab_flag_feeds import FEEDS, hl7_corrected


def rules(path: Path) -> set[str]:
    alerts, _ = replay(str(path))
    return {a["rule"] for a in alerts if a["state"] == "active"}


@pytest.mark.parametrize("name", FEEDS)
def test_a_lab_flagged_value_is_not_counted(name: str, tmp_path: Path) -> None:
    suffix, feed = FEEDS[name]
    plain, flagged = tmp_path / f"plain.{suffix}", tmp_path / f"flagged.{suffix}"
    plain.write_text(feed(False))
    flagged.write_text(feed(True))

    assert "OVERCORRECTION_24H" in rules(plain)  # the same values, unflagged
    assert rules(flagged) == set()


def test_a_later_unflagged_correction_counts_again(tmp_path: Path) -> None:
    path = tmp_path / "corrected.hl7"
    path.write_text(hl7_corrected())

    assert "OVERCORRECTION_24H" in rules(path)
