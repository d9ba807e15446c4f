import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app

runner = CliRunner()
CLI = Path(sys.executable).parent / "sodium-monitor"


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "db", "replay", "policies"):
        assert command in result.output


def test_demo_with_a_nonsense_database_url_exits_with_one_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [str(CLI), "demo"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "SODIUM_DATABASE_URL": "nonsense"},
    )
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "SODIUM_DATABASE_URL" in lines[0]


def test_db_upgrade_works_from_any_directory(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "x.db"
    run = subprocess.run(
        [str(CLI), "db", "upgrade"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "SODIUM_DATABASE_URL": f"sqlite:///{db}"},
    )
    assert run.returncode == 0, run.stderr
    assert db.exists()
    current = subprocess.run(
        [str(CLI), "db", "current"], capture_output=True, text=True, timeout=60, cwd="/",
        env={"PATH": "/usr/bin:/bin", "SODIUM_DATABASE_URL": f"sqlite:///{db}"},
    )
    assert current.returncode == 0, current.stdout + current.stderr


def test_policies_prints_every_profile_with_its_source() -> None:
    result = runner.invoke(app, ["policies"])
    assert result.exit_code == 0
    for name in ("default", "us-2013", "eu-2014", "salsa-2021"):
        assert name in result.output
    assert "Spasovski" in result.output and "Verbalis" in result.output
