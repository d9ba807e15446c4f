"""A physician opens the sodium chart from the EHR in Chromium (issue 17, item 3): the
EHR's launch URL leads through its authorization server (PKCE) straight to the patient's
chart, without the sign-in page; the session is that patient's only. The EHR is the local
test EHR (tests/smart_ehr.py), registered with the documented CLI line."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.storage.tables import Patient
from tests.e2e.test_browser import people, send
from tests.hl7_builders import oru
from tests.integration.helpers import all_processed
from tests.integration.stack import CLI, stack, wait_for
from tests.smart_ehr import Ehr, running

OID = "urn:oid:1.2.276.0.76.4.8"  # the EHR's name for the lab's CITYGEN numbers


def test_a_physician_launched_from_the_ehr_lands_on_the_chart_without_signing_in(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    now = datetime.now(UTC)
    people(pg_migrated, now)
    ehr = Ehr("sodium-monitor", "", launches={"xyz": "pat-m1"},
              patients={"pat-m1": [{"system": OID, "value": "M1"}]})
    with running(ehr), stack(pg_migrated, redis_url, tmp_path,
                             SODIUM_PATIENT_AUTHORITIES=f"{OID}=CITYGEN") as s:
        keys = tmp_path / "ehr-jwks.json"
        keys.write_text(json.dumps(ehr.jwks()))
        added = subprocess.run(
            [CLI, "ehr-clients", "add", "https://ehr.example/cds", "--jwks", str(keys),
             "--fhir-server", ehr.base, "--client-id", "sodium-monitor"],
            env=s.env(), capture_output=True, text=True, timeout=60, check=False)
        assert added.returncode == 0, added.stderr
        port = s.mllp()
        base = s.api()
        ehr.redirect_uri = f"{base}/smart/callback"  # as registered at the EHR
        s.worker(concurrency=1)
        send(port, [oru("M1", "M1-0", now - timedelta(hours=20), 120, received=now,
                        name="KRAUSE^Jonas"),
                    oru("M1", "M1-1", now - timedelta(hours=1), 127, received=now,
                        name="KRAUSE^Jonas"),
                    oru("B7", "B7-0", now - timedelta(hours=2), 118, received=now,
                        name="OTHER^Olga")])
        wait_for(lambda: all_processed(pg_engine, 3), 60, "the worker")
        with Session(pg_engine) as db:
            pid = db.scalars(select(Patient.id).where(Patient.identifier == "M1")).one()
            other = db.scalars(select(Patient.id).where(Patient.identifier == "B7")).one()

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        seen: list[str] = []
        page.on("framenavigated", lambda frame: seen.append(frame.url))
        console: list[str] = []  # a CSP violation is reported on the console
        page.on("console", lambda m: console.append(m.text))
        page.goto(f"{base}/smart/launch?iss={ehr.base}&launch=xyz")

        page.wait_for_selector("[data-testid=patient-banner]")
        assert page.url == f"{base}/patients/{pid}"
        assert not [u for u in seen if "/login" in u], seen
        assert len(ehr.tokens) == 1 and not ehr.refused  # through the EHR's own sign-in
        banner = page.inner_text("[data-testid=patient-banner]")
        assert "KRAUSE" in banner.upper() and "MRN M1" in banner
        assert page.locator("[data-testid=chart] svg").first.is_visible()
        assert "127" in page.inner_text("main")
        assert not [m for m in console if "Content Security Policy" in m], console

        refused = page.goto(f"{base}/patients/{other}")
        assert refused is not None and refused.status == 404
        assert "Not found" in page.inner_text("[data-testid=refusal]")
        assert "OTHER" not in page.content().upper()
        page.close()
