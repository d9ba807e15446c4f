import json
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


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    run = subprocess.run([str(CLI), "--version"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"sodium-monitor {version('sodium-monitor')}"


def test_replay_of_a_folder_with_a_readme_rejects_it_instead_of_a_traceback(
        tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("patient_id,collected_at,sodium\n"
                                    "P1,2026-10-05T07:00:00+00:00,117\n")
    (tmp_path / "README.md").write_text("# Example feeds\nRead me first.\n")
    run = subprocess.run([str(CLI), "replay", "--policy", "default",
                          str(tmp_path / "a.csv"), str(tmp_path / "README.md")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0] == (f"{tmp_path / 'README.md'}: rejected: cannot tell whether "
                        f"'{tmp_path / 'README.md'}' holds HL7 v2, FHIR JSON or CSV")
    assert lines[-1] == "replay: 1 results, 1 rejected, 1 alerts"
    missing = subprocess.run([str(CLI), "replay", str(tmp_path / "nowhere.hl7")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (f"sodium-monitor replay: cannot read "
                                      f"{tmp_path / 'nowhere.hl7'}: No such file or directory")


def test_replay_shows_a_progress_bar_on_a_terminal_for_a_large_input(tmp_path: Path) -> None:
    import fcntl
    import os
    import pty
    import struct
    import termios

    rows = "".join(f"P{i % 400},2026-10-{5 + i // 2000:02d}T{(i // 400) % 24:02d}:00:00+00:00,"
                   f"{125 + i % 7}\n" for i in range(12000))
    feed = tmp_path / "large.csv"
    feed.write_text("patient_id,collected_at,sodium\n" + rows)
    assert feed.stat().st_size > 256 * 1024
    leader, follower = pty.openpty()  # standard error is a terminal, as at a shell
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        run = subprocess.run([str(CLI), "replay", "--policy", "default", str(feed)],
                             stdout=subprocess.DEVNULL, stderr=follower, timeout=120)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert run.returncode == 0
    text = seen.decode(errors="replace")
    assert "replay: 100%" in text  # tqdm's bar, labelled, run to the end
    assert "replay: 12000 results" in text
    # Off a terminal the same run prints only the counts (logs stay clean).
    plain = subprocess.run([str(CLI), "replay", "--policy", "default", str(feed)],
                           capture_output=True, text=True, timeout=120)
    assert plain.stderr.strip().splitlines()[-1].startswith("replay: 12000 results")
    assert "%|" not in plain.stderr


def test_replay_names_the_codes_it_did_not_use(tmp_path: Path) -> None:
    feed = tmp_path / "feed.ndjson"
    subject = {"reference": "Patient/p1"}
    lines = [
        {"resourceType": "Observation", "id": f"hb{n}", "status": "final", "subject": subject,
         "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
         "effectiveDateTime": "2026-10-05T07:00:00+00:00",
         "valueQuantity": {"value": 13, "unit": "g/dL"}} for n in range(2)] + [
        {"resourceType": "Condition", "id": "htn", "subject": subject,
         "clinicalStatus": {"coding": [{"code": "active"}]},
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}}]
    feed.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    run = subprocess.run([str(CLI), "replay", str(feed)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip().splitlines() == [
        "replay: not used: http://loinc.org|718-7 x2; ICD-10|I10 x1",
        "replay: 0 results, 0 rejected, 0 alerts"]
