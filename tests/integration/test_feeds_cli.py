"""`sodium-monitor feeds` and `mllp --insecure` on PostgreSQL, as an operator types them."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from monitor.cli import app

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


def test_mllp_on_all_addresses_without_auth_refuses_to_start() -> None:
    result = runner.invoke(app, ["mllp", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without feed authentication" in result.output
    assert "--insecure" in result.output
