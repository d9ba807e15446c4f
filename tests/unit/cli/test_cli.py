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


def test_replay_reports_a_refused_version_on_stderr_like_any_reject(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "patient_id,collected_at,sodium,result_id,status\n"
        "P1,2026-10-05T07:00:00+00:00,117,,\n"
        "P1,2026-10-05T07:00:00+00:00,121,,\n"  # the same identity, another value
        "P1,2026-10-05T09:00:00+00:00,118,R2,\n"
        "P1,2026-10-05T09:00:00+00:00,,R2,entered-in-error\n"
        "P1,2026-10-05T09:00:00+00:00,118,R2,\n"  # the final again, after its removal
    )
    run = subprocess.run([str(CLI), "replay", "--policy", "default", str(feed)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0].startswith(f"{feed}:3: rejected: conflicting duplicate: ")
    assert lines[1].startswith(f"{feed}:6: rejected: re-sent after removal: ")
    assert lines[-1] == "replay: 3 results, 2 rejected, 1 alerts"
