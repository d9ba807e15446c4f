"""`sodium-monitor feeds` and `mllp --insecure` on PostgreSQL, as an operator types them."""

from __future__ import annotations

import os
import subprocess

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from monitor.cli import app
from tests.integration.stack import CLI

runner = CliRunner()


@pytest.fixture(autouse=True)
def _on_postgres(monkeypatch: pytest.MonkeyPatch, pg_engine: Engine, pg_migrated: str) -> None:
    monkeypatch.setenv("SODIUM_DATABASE_URL", pg_migrated)
    monkeypatch.setenv("SODIUM_BROKER_URL", "")


def test_feeds_add_binds_and_lists_with_results_only_by_default() -> None:
    added = runner.invoke(app, ["feeds", "add", "LIS", "--cert-cn", "lis.feeds.test"])
    assert added.exit_code == 0, added.output
    assert "hl7:LIS: cert-cn lis.feeds.test, allow-ip -, may send results" in added.output
    again = runner.invoke(app, ["feeds", "add", "ADT", "--allow-ip", "10.1.0.0/16",
                                "--allow-ip", "10.2.0.5/32", "--allow", "adt,merges"])
    assert again.exit_code == 0, again.output
    listed = runner.invoke(app, ["feeds", "list"])
    assert listed.output.splitlines() == [
        "hl7:ADT\tcert-cn -\tallow-ip 10.1.0.0/16 10.2.0.5/32\tadt,merges,results",
        "hl7:LIS\tcert-cn lis.feeds.test\tallow-ip -\tresults"]


@pytest.mark.parametrize(("args", "why"), [
    (["--cert-cn", "lis", "--allow", "everything"], "unknown permission everything"),
    (["--allow-ip", "10.0.0.300/8"], "10.0.0.300/8"),
    ([], "needs --cert-cn or at least one --allow-ip"),
], ids=["permission", "network", "nothing-to-bind"])
def test_feeds_add_refuses_what_it_cannot_apply(args: list[str], why: str) -> None:
    result = runner.invoke(app, ["feeds", "add", "LIS", *args])
    assert result.exit_code == 2
    assert why in result.output
    assert runner.invoke(app, ["feeds", "list"]).output == ""


def test_mllp_on_all_addresses_without_auth_refuses_to_start(pg_migrated: str) -> None:
    # A process of its own, as an operator starts it (the listener runs its own event loop).
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")}
    env |= {"SODIUM_DATABASE_URL": pg_migrated, "SODIUM_BROKER_URL": ""}
    run = subprocess.run([CLI, "mllp", "--host", "0.0.0.0", "--port", "0"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "refusing to listen on 0.0.0.0 without feed authentication" in run.stderr
    assert "--insecure" in run.stderr
