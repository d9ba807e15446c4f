"""SMART EHR launch of the patient chart against a local test EHR (tests/smart_ehr.py):
the redirect carries PKCE S256 and the registered client, the callback opens a session for
the launch's patient only, and every failure is a page that says why.

Real PostgreSQL, the real app through TestClient, the test EHR over real localhost HTTP."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from monitor.engine.model import PatientRef
from monitor.services.access.ehr_clients import add_client, revoke_client
from monitor.services.access.smart import begin_launch, code_challenge, take_launch
from monitor.storage.repos.patients import learn_fhir_link
from monitor.storage.tables import AuditEntry, EhrClient, SmartLaunch, User
from tests.integration.hospital import Hospital, build
from tests.smart_ehr import Ehr, running

OID = "urn:oid:1.2.276.0.76.4.8"  # the EHR's name for the lab's CITYGEN numbers


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated, patient_authorities=f"{OID}=CITYGEN")
    yield made
    made.close()


@pytest.fixture
def ehr(h: Hospital) -> Iterator[Ehr]:
    the_ehr = Ehr("sodium-monitor", f"{h.rt.settings.public_url}/smart/callback",
                  launches={"L-A1": "pat-a1", "L-X": "pat-x", "L-B1": "pat-b1"},
                  patients={"pat-a1": [{"system": "urn:other", "value": "999"},
                                       {"system": OID, "value": "A1"}],
                            "pat-x": [{"system": OID, "value": "NOT-HERE"}]})
    with running(the_ehr):
        with h.rt.uow() as uow:
            add_client(uow, "https://ehr.example/cds", h.now, jwks=json.dumps(the_ehr.jwks()),
                       fhir_server=the_ehr.base, smart_client_id="sodium-monitor")
        yield the_ehr


def to_authorize(c: TestClient, ehr: Ehr, launch: str = "L-A1") -> str:
    reply = c.get("/smart/launch", params={"iss": ehr.base, "launch": launch})
    assert reply.status_code == 303, reply.text
    return reply.headers["location"]


def to_callback(authorize: str) -> str:
    """The EHR's authorization server approving, as the browser follows it."""
    reply = httpx.get(authorize, follow_redirects=False)
    assert reply.status_code == 302, reply.text
    back = urlsplit(reply.headers["location"])
    return f"{back.path}?{back.query}"


def launched(h: Hospital, ehr: Ehr, launch: str = "L-A1") -> TestClient:
    c = h.client()
    reply = c.get(to_callback(to_authorize(c, ehr, launch)))
    assert reply.status_code == 303, reply.text
    assert reply.headers["location"] == f"/patients/{h.patients['A1']}"
    return c


def test_the_redirect_asks_the_registered_server_with_pkce_s256(h: Hospital, ehr: Ehr
                                                                  ) -> None:
    target = urlsplit(to_authorize(h.client(), ehr))
    q = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{ehr.base}/authorize"
    assert {k: q[k] for k in ("response_type", "client_id", "redirect_uri", "launch", "aud",
                              "code_challenge_method", "scope")} == {
        "response_type": "code", "client_id": "sodium-monitor",
        "redirect_uri": "http://127.0.0.1:8000/smart/callback", "launch": "L-A1",
        "aud": ehr.base, "code_challenge_method": "S256",
        "scope": "launch openid fhirUser patient/Patient.read"}
    with h.rt.uow() as uow:
        kept = uow.session.scalars(select(SmartLaunch)).one()
    # The verifier stays on the server; the browser sees only its challenge and the state,
    # whose hash alone is stored.
    assert 43 <= len(kept.code_verifier) <= 128
    assert code_challenge(kept.code_verifier) == q["code_challenge"]
    assert kept.code_verifier not in target.query
    assert kept.state_hash == hashlib.sha256(q["state"].encode()).hexdigest()
    assert kept.expires_at - kept.created_at == timedelta(minutes=10)


def test_a_launch_opens_that_patients_chart_and_nothing_else(h: Hospital, ehr: Ehr) -> None:
    c = launched(h, ehr)
    chart = c.get(f"/patients/{h.patients['A1']}")
    assert chart.status_code == 200
    assert "HARTMANN" in chart.text.upper() and "<svg" in chart.text
    for other in ("A3", "B1"):  # A3: the same ward; B1: another ward
        page = c.get(f"/patients/{h.patients[other]}", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert "No such patient, or it is not the patient this launch from the EHR opened." \
            in page.text
        assert c.get(f"/api/v1/patients/{h.patients[other]}").status_code == 404
    assert c.get("/wards/MED4").status_code == 404
    board = c.get("/board").text
    assert f'href="/patients/{h.patients["A1"]}"' in board
    assert all(f'href="/patients/{h.patients[p]}"' not in board for p in ("A2", "B1"))
    listed = c.get("/api/v1/patients").json()
    assert [p["identifier"] for p in listed] == ["A1"]
    # An alert of another patient cannot be acted on from the launched session.
    csrf = c.get(f"/patients/{h.patients['A1']}").text.split('name="csrf" value="')[1]
    acked = c.post(f"/alerts/{h.alert('B1')}/ack", data={"csrf": csrf.split('"')[0]})
    assert acked.status_code == 404
    with h.rt.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username.like("ehr:%"))).one()
        entry = uow.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "smart-launch")).one()
    assert (user.role, user.display_name, user.password_hash) == (
        "physician", "Dr. Anna Weber", None)
    assert user.username.endswith(f":{ehr.base}/Practitioner/dr-weber")
    assert (entry.actor, entry.target_id) == (user.username, str(h.patients["A1"]))
    assert entry.details["issuer"] == "https://ehr.example/cds"
    assert entry.details["ehr_user"] == f"{ehr.base}/Practitioner/dr-weber"
    # The EHR user's local account has no password: it is entered only by a launch.
    assert h.client().post("/login", data={"username": user.username, "password": "guess"}
                           ).status_code == 401


def test_a_second_launch_reuses_the_ehr_users_account(h: Hospital, ehr: Ehr) -> None:
    launched(h, ehr)
    launched(h, ehr)
    with h.rt.uow() as uow:
        assert len(uow.session.scalars(select(User).where(
            User.username.like("ehr:%"))).all()) == 1


def test_a_state_is_spent_by_its_first_callback(h: Hospital, ehr: Ehr) -> None:
    c = h.client()
    back = to_callback(to_authorize(c, ehr))
    assert c.get(back).status_code == 303
    again = h.client().get(back)
    assert again.status_code == 400
    assert "This launch has expired" in again.text
    assert "set-cookie" not in again.headers


def test_a_launch_expires_after_ten_minutes(h: Hospital, ehr: Ehr) -> None:
    with h.rt.uow() as uow:
        client = uow.session.scalars(select(EhrClient)).one()
    then = datetime.now(UTC) - timedelta(minutes=11)
    with h.rt.uow() as uow:
        url = begin_launch(uow, client, f"{ehr.base}/authorize", f"{ehr.base}/token", "L-A1",
                           "http://127.0.0.1:8000/smart/callback", then)
    state = parse_qs(urlsplit(url).query)["state"][0]
    with h.rt.uow() as uow:
        assert take_launch(uow, state, datetime.now(UTC)) is None
    with h.rt.uow() as uow:  # and it is gone: not usable with a friendlier clock either
        assert take_launch(uow, state, then) is None


def test_an_unregistered_or_revoked_ehr_is_refused_without_a_redirect(h: Hospital, ehr: Ehr
                                                                      ) -> None:
    c = h.client()
    unknown = c.get("/smart/launch", params={"iss": "http://127.0.0.1:9/fhir",
                                             "launch": "L-A1"})
    assert unknown.status_code == 400
    assert "This EHR is not registered" in unknown.text and "location" not in unknown.headers
    with h.rt.uow() as uow:
        revoke_client(uow, "https://ehr.example/cds", datetime.now(UTC))
    revoked = c.get("/smart/launch", params={"iss": ehr.base, "launch": "L-A1"})
    assert revoked.status_code == 400 and "This EHR is not registered" in revoked.text


def test_a_launch_revoked_between_redirect_and_callback_is_refused(h: Hospital, ehr: Ehr
                                                                   ) -> None:
    c = h.client()
    back = to_callback(to_authorize(c, ehr))
    with h.rt.uow() as uow:
        revoke_client(uow, "https://ehr.example/cds", datetime.now(UTC))
    assert c.get(back).status_code == 400


def test_a_wrong_verifier_is_refused_by_the_ehr_and_shown(h: Hospital, ehr: Ehr) -> None:
    c = h.client()
    back = to_callback(to_authorize(c, ehr))
    with h.rt.uow() as uow:  # what a stolen code without its verifier amounts to
        uow.session.execute(update(SmartLaunch).values(code_verifier="x" * 64))
        uow.commit()
    reply = c.get(back)
    assert reply.status_code == 403
    assert "The EHR did not allow the launch" in reply.text
    assert "refused the sign-in (invalid_grant)" in reply.text
    assert "set-cookie" not in reply.headers
    assert ehr.refused == ["token: code_verifier does not match"]
    assert c.get(f"/patients/{h.patients['A1']}").status_code == 303  # to the sign-in


def test_a_patient_the_feeds_linked_is_found_without_asking_the_ehr(h: Hospital, ehr: Ehr
                                                                   ) -> None:
    with h.rt.uow() as uow:  # as a FHIR feed naming B1 as Patient/pat-b1 leaves it
        learn_fhir_link(uow.session, "pat-b1", PatientRef("CITYGEN", "B1"), h.now)
        uow.commit()
    c = h.client()  # the test EHR has no Patient/pat-b1: a read of it would fail the launch
    reply = c.get(to_callback(to_authorize(c, ehr, "L-B1")))
    assert reply.headers["location"] == f"/patients/{h.patients['B1']}"
    assert c.get(f"/patients/{h.patients['A1']}").status_code == 404


def test_a_patient_without_results_here_gets_a_page_that_says_so(h: Hospital, ehr: Ehr
                                                                 ) -> None:
    c = h.client()
    reply = c.get(to_callback(to_authorize(c, ehr, "L-X")))
    assert reply.status_code == 404
    assert "There are no sodium results for this patient here" in reply.text
    assert "set-cookie" not in reply.headers
    with h.rt.uow() as uow:
        entry = uow.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "smart-launch-refused")).one()
    assert entry.target_id == ehr.base and entry.details["reason"].startswith(
        "404 Not monitored here")


def test_an_id_token_not_signed_by_the_ehrs_keys_is_refused(h: Hospital, ehr: Ehr) -> None:
    c = h.client()
    back = to_callback(to_authorize(c, ehr))
    ehr.forger = rsa.generate_private_key(65537, 2048)  # a key its jwks does not hold
    reply = c.get(back)
    assert reply.status_code == 403 and "id token does not verify" in reply.text


def test_an_ehr_that_does_not_answer_gets_a_page_that_says_so(h: Hospital, ehr: Ehr) -> None:
    with h.rt.uow() as uow:
        add_client(uow, "https://down.example/cds", h.now, jwks=json.dumps(ehr.jwks()),
                   fhir_server="http://127.0.0.1:9/fhir", smart_client_id="sodium-monitor")
    reply = h.client().get("/smart/launch", params={"iss": "http://127.0.0.1:9/fhir",
                                                    "launch": "L-A1"})
    assert reply.status_code == 502 and "The EHR does not answer" in reply.text


def test_a_launched_session_follows_its_patient_into_a_merge(h: Hospital, ehr: Ehr) -> None:
    from tests.hl7_builders import a40

    c = launched(h, ehr)  # A1's chart
    h.receive(a40("A3", "A1", h.now, "MS1"))
    # A1's record lives on as A3: the session sees A3 (its results now hold A1's), no other.
    survivor = c.get(f"/patients/{h.patients['A3']}")
    assert survivor.status_code == 200 and "<svg" in survivor.text
    assert c.get(f"/patients/{h.patients['B1']}").status_code == 404
    assert [p["identifier"] for p in c.get("/api/v1/patients").json()] == ["A3"]
