"""SODIUM_MEDICATION_MAP: the hospital's medication codes, read and checked at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.config import Settings


def test_the_map_is_read_and_its_classes_checked(tmp_path: Path) -> None:
    good = tmp_path / "meds.toml"
    good.write_text('"NACL3" = "hypertonic-saline"\n"TOLV15" = "vaptan"\n')
    settings = Settings(medication_map=str(good))
    assert settings.medication_codes == {"NACL3": "hypertonic-saline", "TOLV15": "vaptan"}
    assert Settings(medication_map="").medication_codes == {}
    bad = tmp_path / "bad.toml"
    bad.write_text('"X1" = "magic"\n')
    with pytest.raises(ValidationError, match="not a medication class: X1 = 'magic'"):
        Settings(medication_map=str(bad))
    with pytest.raises(ValidationError, match="cannot read medication map"):
        Settings(medication_map=str(tmp_path / "missing.toml"))
    (tmp_path / "broken.toml").write_text("= =")
    with pytest.raises(ValidationError, match="not valid TOML"):
        Settings(medication_map=str(tmp_path / "broken.toml"))
