"""CDS Hooks 2.0 (issue 17 item 1), on PostgreSQL through the real app: discovery, the
patient-view and order-sign cards field by field, and the JWT every call must carry (a
registered EHR client's key, its aud the service's URL, unexpired, used once).

The hospital is tests/integration/hospital.py: A1 (CITYGEN MRN) has a critical
OVERCORRECTION_24H, 120 -> 129 in 19 h, an open episode; A2 a warning; A3 no alert.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine, select, update

from monitor.engine.policy import built_in
from monitor.services.access.ehr_clients import add_client, revoke_client
from monitor.services.evaluation.clinician import record_severe_symptoms
from monitor.storage.tables import Alert, AuditEntry, EhrClient, EhrTokenUse, Patient
from tests.ehr_signing import SigningKey, hook_claims, key_set
from tests.hl7_builders import oru
from tests.integration.hospital import C24, Hospital, build
from tests.integration.test_fhir_alert_reads import fhir_patient

ISSUER = "https://ehr.example.org/cds-client"
AUTHORITY = "CITYGEN"  # PID-3.4 of the hospital's messages
PATIENT_VIEW, ORDER_SIGN = "sodium-patient-view", "sodium-order-sign"


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


@pytest.fixture
def key(h: Hospital) -> SigningKey:
    k = SigningKey.rsa()
    with h.rt.uow() as uow:
        add_client(uow, ISSUER, h.now, jwks=key_set(k), label="City EHR")
    return k


def url(h: Hospital, service: str) -> str:
    return f"{h.rt.settings.public_url.rstrip('/')}/cds-services/{service}"


def patient_resource(identifier: str, system: str = AUTHORITY) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": f"ehr-{identifier}",
            "identifier": [{"system": "urn:other", "value": "X-1"},
                           {"system": system, "value": identifier}]}


def request_body(hook: str, patient: dict[str, Any] | None, patient_id: str = "ehr-1",
                 **context: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook, "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/dr-ehr", "patientId": patient_id, **context}}
    if patient is not None:
        body["prefetch"] = {"patient": patient}
    return body


def call(h: Hospital, key: SigningKey, service: str, body: dict[str, Any],
         token: str | None = None, headers: dict[str, str] | None = None) -> Any:
    if token is None:
        token = key.sign(hook_claims(ISSUER, url(h, service)))
    sent = {"Authorization": f"Bearer {token}"} if token else {}
    return h.client().post(f"/cds-services/{service}", json=body, headers=headers or sent)


def cards(h: Hospital, key: SigningKey, service: str, body: dict[str, Any]
          ) -> list[dict[str, Any]]:
    reply = call(h, key, service, body)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    found: list[dict[str, Any]] = reply.json()["cards"]
    assert set(reply.json()) == {"cards"}
    return found


def assert_card_shape(card: dict[str, Any]) -> None:
    """The Card attributes CDS Hooks 2.0 requires, and the types of the optional ones."""
    assert set(card) <= {"uuid", "summary", "detail", "indicator", "source", "suggestions",
                         "selectionBehavior", "overrideReasons", "links"}
    uuid.UUID(card["uuid"])
    assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140
    assert card["indicator"] in {"info", "warning", "critical"}
    assert isinstance(card["source"]["label"], str) and card["source"]["label"]
    for link in card.get("links", []):
        assert set(link) <= {"label", "url", "type", "appContext"}
        assert link["type"] in {"absolute", "smart"} and link["url"].startswith("http")
    if "suggestions" in card:
        assert card["selectionBehavior"] in {"at-most-one", "any"}
        for s in card["suggestions"]:
            assert s["label"] and all(a["type"] in {"create", "update", "delete"}
                                      for a in s["actions"])


def test_discovery_lists_both_services_with_their_prefetch_templates(h: Hospital) -> None:
    reply = h.client().get("/cds-services")
    assert reply.status_code == 200
    services = {s["id"]: s for s in reply.json()["services"]}
    assert {s["hook"] for s in services.values()} == {"patient-view", "order-sign"}
    for s in services.values():
        assert set(s) >= {"id", "hook", "title", "description", "prefetch"}
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert s["prefetch"]["sodium"].startswith(
            "Observation?patient={{context.patientId}}&code=http://loinc.org|2951-2")
    assert services[PATIENT_VIEW]["hook"] == "patient-view"
    assert services[ORDER_SIGN]["hook"] == "order-sign"


def test_patient_view_gives_one_card_per_active_alert_field_by_field(
        h: Hospital, key: SigningKey) -> None:
    found = cards(h, key, PATIENT_VIEW, request_body("patient-view", patient_resource("A1")))
    with h.rt.uow() as uow:
        active = list(uow.session.scalars(select(Alert).where(
            Alert.patient_id == h.patients["A1"], Alert.state == "active")))
    assert len(found) == len(active) >= 1
    card = next(c for c in found if "Too fast: 24 h" in c["summary"])
    alert = next(a for a in active if a.rule == C24)
    assert_card_shape(card)
    assert card["indicator"] == "critical"
    assert card["summary"] == "Too fast: 24 h \u2014 Na 129 mmol/L, +9 in 24 h (limit 8)"
    assert card["detail"] == alert.message
    assert "Call the physician now" in card["detail"]  # the rule's action
    policy = built_in("default")
    assert card["source"] == {"label": f"sodium-monitor, policy default: {policy.source}"}
    assert card["links"] == [{"label": "Open the sodium chart", "type": "absolute",
                              "url": f"{h.rt.settings.public_url.rstrip('/')}/patients/"
                                     f"{h.patients['A1']}"}]
    assert "suggestions" not in card

    warning = cards(h, key, PATIENT_VIEW, request_body("patient-view", patient_resource("A2")))
    assert [c["indicator"] for c in warning if "Too fast" in c["summary"]] == ["warning"]
    assert cards(h, key, PATIENT_VIEW, request_body("patient-view", patient_resource("A3"))) \
        == []


def test_an_acknowledged_alert_says_by_whom_and_a_smart_ehr_gets_a_smart_link(
        h: Hospital, key: SigningKey) -> None:
    alert_id = h.alert("A1")
    assert h.bearer("dr.a").post(f"/api/v1/alerts/{alert_id}/acknowledge",
                                 json={}).status_code == 200
    with h.rt.uow() as uow:
        add_client(uow, ISSUER, h.now, jwks=key_set(key), label="City EHR",
                   fhir_server="https://ehr.example.org/fhir", smart_client_id="sodium")
    [card] = [c for c in cards(h, key, PATIENT_VIEW, request_body(
        "patient-view", patient_resource("A1"))) if "Too fast: 24 h" in c["summary"]]
    assert "\n\nAcknowledged by dr.a " in card["detail"]
    assert card["links"] == [{"label": "Open the sodium chart", "type": "smart",
                              "url": f"{h.rt.settings.public_url.rstrip('/')}/smart/launch"}]


def test_a_patient_is_found_by_the_fhir_id_the_feeds_linked_or_gets_no_cards(
        h: Hospital, key: SigningKey) -> None:
    fhir_patient(h)  # pt-9 (MRN-9009): a critical rise, from a FHIR feed
    found = cards(h, key, PATIENT_VIEW, request_body("patient-view", None, patient_id="pt-9"))
    assert any(c["indicator"] == "critical" and "Too fast: 24 h" in c["summary"]
               for c in found)
    # Neither the prefetched identifier nor the id names anyone here: no cards, no error.
    assert cards(h, key, PATIENT_VIEW, request_body(
        "patient-view", patient_resource("NOBODY"), patient_id="unknown")) == []
    with h.rt.uow() as uow:
        rows = list(uow.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "cds-hook").order_by(AuditEntry.id)))
    assert [r.actor for r in rows] == ["ehr:City EHR"] * 2
    assert rows[0].target_id == str(h.patients["MRN-9009"]) and rows[1].target_id is None
    assert rows[0].details["user"] == "Practitioner/dr-ehr"


def sodium_search(*collected: tuple[datetime, float]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
        "resourceType": "Observation", "id": f"na-{n}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
        "effectiveDateTime": at.isoformat(), "valueQuantity": {"value": v, "unit": "mmol/L"}}}
        for n, (at, v) in enumerate(collected)]}


def test_a_newer_sodium_in_the_ehr_than_the_feed_delivered_is_told_first(
        h: Hospital, key: SigningKey) -> None:
    body = request_body("patient-view", patient_resource("A1"))
    newest_here = h.now - timedelta(hours=1)  # A1-2, 129
    body["prefetch"]["sodium"] = sodium_search((newest_here, 129),
                                               (h.now - timedelta(hours=20), 120))
    assert not any("newer sodium" in c["summary"] for c in cards(h, key, PATIENT_VIEW, body))
    body["prefetch"]["sodium"] = sodium_search((h.now - timedelta(minutes=10), 131),
                                               (newest_here, 129))
    first, *alerts = cards(h, key, PATIENT_VIEW, body)
    assert_card_shape(first)
    assert first["summary"] == "The EHR has a newer sodium (131 mmol/L) than sodium-monitor"
    assert first["indicator"] == "warning"
    assert "the lab feed has not delivered to sodium-monitor" in first["detail"]
    assert "may be out of date" in first["detail"]
    assert any("Too fast: 24 h" in c["summary"] for c in alerts)


def draft(rid: str, text: str, **more: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "draft",
            "intent": "order", "medicationCodeableConcept": {"text": text},
            "subject": {"reference": "Patient/ehr-A1"}, **more}


def orders(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in resources]}


def test_order_sign_warns_of_hypertonic_saline_for_mild_sodium_and_tells_the_allowance(
        h: Hospital, key: SigningKey) -> None:
    body = request_body("order-sign", patient_resource("A1"), draftOrders=orders(
        draft("mr-1", "Sodium chloride 3% 150 mL IV over 20 min")))
    found = cards(h, key, ORDER_SIGN, body)
    assert [c["indicator"] for c in found] == ["warning", "warning"]
    warning, spent = found
    for card in found:
        assert_card_shape(card)
    assert warning["summary"] == "Hypertonic saline with sodium 129 mmol/L (mild)"
    assert warning["detail"].startswith("Sodium chloride 3% 150 mL IV over 20 min is being "
                                        "ordered with the latest sodium 129 mmol/L")
    assert "Hypertonic saline is not indicated for mild hyponatremia" in warning["detail"]
    assert warning["selectionBehavior"] == "at-most-one"
    [suggestion] = warning["suggestions"]
    assert suggestion["actions"] == [{"type": "delete", "description": "Remove the draft order",
                                      "resourceId": "MedicationRequest/mr-1"}]
    assert [r["code"] for r in warning["overrideReasons"]] == [
        "severe-symptoms", "physician-judgement"]
    # 120 -> 129 in 19 h against 8 per 24 h: over the limit already, so a warning.
    assert spent["summary"].startswith("Sodium allowance: \u2264 128 until ")
    assert spent["summary"].endswith(" \u2014 1 mmol/L over it")
    assert "Sodium-raising order (Sodium chloride 3% 150 mL IV over 20 min)" in spent["detail"]
    assert "The limit is 8 mmol/L per 24 h from 120; latest 129 mmol/L." in spent["detail"]


def test_order_sign_tells_the_rise_still_allowed_as_info(h: Hospital, key: SigningKey) -> None:
    h.receive(oru("C5", "C5-0", h.now - timedelta(hours=20), 118))
    h.receive(oru("C5", "C5-1", h.now - timedelta(hours=2), 122))
    [info] = cards(h, key, ORDER_SIGN, request_body("order-sign", patient_resource("C5"),
                   draftOrders=orders(draft("mr-5", "Tolvaptan 15 mg PO"))))
    assert_card_shape(info)
    assert info["indicator"] == "info"
    assert info["summary"].startswith("Sodium allowance: \u2264 126 until ")
    assert info["summary"].endswith(" \u2014 4 mmol/L left")
    assert info["detail"].startswith("Sodium-raising order (Tolvaptan 15 mg PO) during an "
                                     "open hyponatremia episode.")


def test_order_sign_stays_silent_without_a_sodium_raising_order_and_spares_symptoms(
        h: Hospital, key: SigningKey) -> None:
    assert cards(h, key, ORDER_SIGN, request_body("order-sign", patient_resource("A1"),
                 draftOrders=orders(draft("mr-2", "Furosemide 40 mg IV")))) == []
    isotonic = cards(h, key, ORDER_SIGN, request_body("order-sign", patient_resource("A1"),
                     draftOrders=orders(draft("mr-3", "Sodium chloride 0.9% 1000 mL IV"))))
    assert [c["summary"].split(":")[0] for c in isotonic] == ["Sodium allowance"]
    with h.rt.uow() as uow:
        record_severe_symptoms(uow, h.patients["A1"], datetime.now(UTC) - timedelta(minutes=5),
                               "seizure", "dr.a", h.rt.pipeline.policy, datetime.now(UTC))
    spared = cards(h, key, ORDER_SIGN, request_body("order-sign", patient_resource("A1"),
                   draftOrders=orders(draft("mr-4", "Sodium chloride 3% 150 mL IV"))))
    assert [c["summary"].split(":")[0] for c in spared] == ["Sodium allowance"]  # no warning


# --- who may call -------------------------------------------------------------------------

def refused(reply: Any, words: str) -> None:
    assert reply.status_code == 401, reply.text
    assert words in reply.json()["detail"]
    assert reply.headers["www-authenticate"].startswith("Bearer")


def test_a_call_without_a_valid_jwt_of_a_registered_client_is_refused(
        h: Hospital, key: SigningKey) -> None:
    body = request_body("patient-view", patient_resource("A1"))
    aud = url(h, PATIENT_VIEW)
    refused(call(h, key, PATIENT_VIEW, body, token=""), "carries a JWT")
    refused(call(h, key, PATIENT_VIEW, body, token="not-a-jwt"), "no JWT")
    expired = key.sign(hook_claims(ISSUER, aud, issued=time.time() - 900))
    refused(call(h, key, PATIENT_VIEW, body, token=expired), "expired")
    stranger = SigningKey.rsa(kid=key.kid)  # the same kid, another key
    refused(call(h, key, PATIENT_VIEW, body, token=stranger.sign(hook_claims(ISSUER, aud))),
            "does not verify")
    unknown = key.sign(hook_claims("https://other.example.org", aud))
    refused(call(h, key, PATIENT_VIEW, body, token=unknown), "not a registered EHR client")
    elsewhere = key.sign(hook_claims(ISSUER, url(h, ORDER_SIGN)))
    refused(call(h, key, PATIENT_VIEW, body, token=elsewhere), "aud")
    unsigned = key.sign(hook_claims(ISSUER, aud))
    head, claims, _ = unsigned.split(".")
    refused(call(h, key, PATIENT_VIEW, body, token=f"{head}.{claims}."), "does not verify")
    shared = jwt.encode(hook_claims(ISSUER, aud), "a shared secret of 32 bytes or more",
                        algorithm="HS256")
    refused(call(h, key, PATIENT_VIEW, body, token=shared), "alg 'HS256' is not accepted")
    long_lived = key.sign(hook_claims(ISSUER, aud, lifetime_s=7200))
    refused(call(h, key, PATIENT_VIEW, body, token=long_lived), "lives too long")
    no_kid = SigningKey.ec(kid="")  # another key without a kid, in a two-key set
    with h.rt.uow() as uow:
        add_client(uow, ISSUER, h.now, jwks=key_set(key, SigningKey.ec()), label="City EHR")
    token = jwt.encode(hook_claims(ISSUER, aud), no_kid.private, algorithm="ES384")
    refused(call(h, key, PATIENT_VIEW, body, token=token), "names no kid")
    with h.rt.uow() as uow:
        assert uow.session.scalar(select(AuditEntry.id).where(
            AuditEntry.action == "cds-hook")) is None  # nothing was answered


def test_a_valid_token_is_accepted_once_and_a_revoked_client_is_refused(
        h: Hospital, key: SigningKey) -> None:
    body = request_body("patient-view", patient_resource("A1"))
    token = key.sign(hook_claims(ISSUER, url(h, PATIENT_VIEW)))
    assert call(h, key, PATIENT_VIEW, body, token=token).status_code == 200
    refused(call(h, key, PATIENT_VIEW, body, token=token), "used before")
    with h.rt.uow() as uow:
        assert uow.session.scalar(select(EhrTokenUse.expires_at)) is not None
    ec_key = SigningKey.ec()
    with h.rt.uow() as uow:
        add_client(uow, ISSUER, h.now, jwks=key_set(key, ec_key))
    assert call(h, ec_key, PATIENT_VIEW, body).status_code == 200  # ES384
    with h.rt.uow() as uow:
        revoke_client(uow, ISSUER, h.now)
    refused(call(h, key, PATIENT_VIEW, body), "not a registered EHR client")


def test_a_malformed_request_or_an_unknown_service_is_refused_in_words(
        h: Hospital, key: SigningKey) -> None:
    reply = call(h, key, PATIENT_VIEW, {"hook": "order-sign", "hookInstance": "x",
                                        "context": {}})
    assert reply.status_code == 400 and "patient-view" in reply.json()["detail"]
    reply = call(h, key, "nope", request_body("patient-view", None))
    assert reply.status_code == 404 and "GET /cds-services" in reply.json()["detail"]


class KeyServer:
    """The EHR's JWKS at a local URL, its keys swappable (a rotation)."""

    def __init__(self, *keys: SigningKey) -> None:
        import http.server
        import threading

        self.body = key_set(*keys).encode()
        self.fetches = 0
        self.status, self.location = 200, ""
        self.trickle_s = 0.0  # > 0: the body a byte at a time, this far apart
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                if outer.location:
                    self.send_header("Location", outer.location)
                self.end_headers()
                if not outer.trickle_s:
                    self.wfile.write(outer.body)
                    return
                for byte in outer.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(outer.trickle_s)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_key_set_at_a_url_is_fetched_once_and_again_for_a_rotated_key(h: Hospital) -> None:
    old, new = SigningKey.rsa(kid="2026-11"), SigningKey.ec(kid="2026-12")
    keys = KeyServer(old)
    try:
        with h.rt.uow() as uow:
            add_client(uow, ISSUER, h.now, jwks_url=keys.url, label="City EHR")
        body = request_body("patient-view", patient_resource("A1"))
        assert call(h, old, PATIENT_VIEW, body).status_code == 200
        assert call(h, old, PATIENT_VIEW, body).status_code == 200
        assert keys.fetches == 1  # kept
        keys.body = key_set(old, new).encode()
        assert call(h, new, PATIENT_VIEW, body).status_code == 200  # unknown kid: refetched
        assert keys.fetches == 2
        refused(call(h, SigningKey.rsa(kid="forged"), PATIENT_VIEW, body), "no key 'forged'")
    finally:
        keys.close()


def test_ehr_clients_are_registered_listed_and_revoked_from_the_command_line(
        h: Hospital, pg_migrated: str, tmp_path: Any) -> None:
    from tests.integration.test_cli_engineer import cli

    k = SigningKey.ec()
    (tmp_path / "ehr.jwks").write_text(key_set(k))
    done = cli(pg_migrated, "ehr-clients", "add", ISSUER, "--jwks", str(tmp_path / "ehr.jwks"),
               "--fhir-server", "https://ehr.example.org/fhir/", "--client-id", "sodium")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"EHR client {ISSUER} registered (keys from the file "
                                   "given); SMART launch from https://ehr.example.org/fhir")
    listed = cli(pg_migrated, "ehr-clients", "list")
    assert listed.stdout.split("\t")[:2] == [ISSUER, "active"]
    assert call(h, k, PATIENT_VIEW, request_body(
        "patient-view", patient_resource("A1"))).status_code == 200
    (tmp_path / "secret.jwks").write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}')
    bad = cli(pg_migrated, "ehr-clients", "add", "x", "--jwks", str(tmp_path / "secret.jwks"))
    assert bad.returncode == 1 and "not a shared secret" in bad.stderr
    missing = cli(pg_migrated, "ehr-clients", "add", "x", "--jwks", str(tmp_path / "none"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    assert cli(pg_migrated, "ehr-clients", "revoke", ISSUER).returncode == 0
    assert "\trevoked\t" in cli(pg_migrated, "ehr-clients", "list").stdout
    refused(call(h, k, PATIENT_VIEW, request_body("patient-view", None)),
            "not a registered EHR client")


# --- hostile or broken callers (the review) -----------------------------------------

def b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_tokens_with_claims_out_of_range_or_keys_of_the_wrong_type_are_refused(
        h: Hospital, key: SigningKey) -> None:
    body = request_body("patient-view", patient_resource("A1"))
    aud = url(h, PATIENT_VIEW)
    for claims in ({"exp": 10 ** 20}, {"exp": -(10 ** 20)}, {"exp": 1e300},
                   {"iat": 10 ** 20}, {"exp": "soon"}):
        reply = call(h, key, PATIENT_VIEW, body, token=key.sign(hook_claims(ISSUER, aud)
                                                                | claims))
        assert reply.status_code == 401, (claims, reply.text)
    # an RSA key's set, an EC alg named: the key type does not fit the alg
    ec = SigningKey.ec(kid=key.kid)
    refused(call(h, key, PATIENT_VIEW, body, token=ec.sign(hook_claims(ISSUER, aud))),
            "does not verify")
    # a token whose header or claims are not JSON objects
    for token in (f"{b64([1])}.{b64({'iss': ISSUER})}.{b64(b'x')}",
                  f"{b64({'alg': 'RS384'})}.{b64([1, 2])}.{b64(b'x')}",
                  f"{b64({'alg': 'RS384', 'kid': {'a': 1}})}.{b64({'iss': ISSUER})}.x",
                  f"{b64({'alg': ['RS384']})}.{b64({'iss': ISSUER})}.x",
                  "a.b.c", "...", "x" * 200_000):
        reply = call(h, key, PATIENT_VIEW, body, token=token)
        assert reply.status_code == 401, (token[:60], reply.text)
    latin = h.client().post(f"/cds-services/{PATIENT_VIEW}", json=body, headers={
        "Authorization": "Bearer \xe9.\xe9.\xe9".encode("latin-1")})  # type: ignore[dict-item]
    assert latin.status_code == 401, latin.text
    none = f"{b64({'alg': 'none', 'kid': key.kid})}.{b64(hook_claims(ISSUER, aud))}."
    refused(call(h, key, PATIENT_VIEW, body, token=none), "alg 'none' is not accepted")
    # HS256 keyed with the public key's bytes
    pem = key.private.public_key().public_bytes(Encoding.PEM,
                                                PublicFormat.SubjectPublicKeyInfo)
    hs = f"{b64({'alg': 'HS256', 'kid': key.kid})}.{b64(hook_claims(ISSUER, aud))}"
    sig = b64(hmac.new(pem, hs.encode(), hashlib.sha256).digest())
    refused(call(h, key, PATIENT_VIEW, body, token=f"{hs}.{sig}"), "alg 'HS256'")
    # jku names a key set of the caller's: ignored, the registered set decides
    forger = SigningKey.rsa(kid=key.kid)
    server = KeyServer(forger)
    try:
        refused(call(h, key, PATIENT_VIEW, body, token=forger.sign(
            hook_claims(ISSUER, aud), jku=server.url)), "does not verify")
        assert server.fetches == 0
    finally:
        server.close()
    later = key.sign(hook_claims(ISSUER, aud, nbf=int(time.time()) + 240))
    refused(call(h, key, PATIENT_VIEW, body, token=later), "not valid before")
    other = key.sign(hook_claims(ISSUER, aud) | {"iss": "https://other.example.org"})
    refused(call(h, key, PATIENT_VIEW, body, token=other), "not a registered")
    # a registered client's key signing as another registered client: that one's keys judge
    second = SigningKey.rsa(kid=key.kid)
    with h.rt.uow() as uow:
        add_client(uow, "https://other.example.org", h.now, jwks=key_set(second))
    refused(call(h, key, PATIENT_VIEW, body, token=other), "does not verify")
    assert call(h, second, PATIENT_VIEW, body, token=second.sign(hook_claims(
        "https://other.example.org", aud))).status_code == 200
@pytest.mark.parametrize("body", [
    {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": ["x"]}},
    {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": {"a": 1}}},
    {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": "p"},
     "prefetch": {"patient": {"resourceType": "Patient", "identifier": 5}}},
    {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": "p"},
     "prefetch": {"patient": {"resourceType": "Patient", "identifier": {"value": "A1"}}}},
    {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": "p"},
     "prefetch": {"patient": {"resourceType": "Patient", "identifier": [
         {"system": {"x": 1}, "value": ["A1"]}]}}},
    {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": "p"},
     "prefetch": {"patient": "Patient/1"}},
    {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": "p"},
     "prefetch": {"patient": patient_resource("A1"), "sodium": {"entry": 5}}},
    {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": "p"},
     "prefetch": {"patient": patient_resource("A1"), "sodium": {"entry": [
         5, {"resource": 7}, {"resource": {"resourceType": "Observation",
                                           "effectiveDateTime": 5, "valueQuantity": 3}},
         {"resource": {"resourceType": "Observation", "effectiveDateTime": "2026-13-45",
                       "valueQuantity": {"value": "131"}}},
         {"resource": {"resourceType": "Observation",
                       "effectivePeriod": {"start": ["x"]}}}]}}},
    {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": "p"},
     "prefetch": {"patient": patient_resource("A1"), "sodium": {"entry": [{"resource": {
         "resourceType": "Observation", "effectiveDateTime": "9999-12-31T23:59:59+14:00",
         "valueQuantity": {"value": 10 ** 400}}}]}}},
    {"hook": "patient-view", "hookInstance": "i", "context": {"patientId": "p"},
     "prefetch": 7},
    {"hook": "order-sign", "hookInstance": "i", "context": {"patientId": "p",
                                                            "draftOrders": 5},
     "prefetch": {"patient": patient_resource("A1")}},
    {"hook": "order-sign", "hookInstance": "i", "context": {"patientId": "p",
                                                            "draftOrders": {"entry": 5}},
     "prefetch": {"patient": patient_resource("A1")}},
    {"hook": "order-sign", "hookInstance": "i", "context": {"patientId": "p",
                                                            "draftOrders": {"entry": {}}},
     "prefetch": {"patient": patient_resource("A1")}},
    {"hook": "order-sign", "hookInstance": "i", "context": {"patientId": "p",
                                                            "draftOrders": {"entry": [
                                                                1, "x", None]}},
     "prefetch": {"patient": patient_resource("A1")}},
])
def test_a_malformed_body_is_400_or_cards_never_a_500(
        h: Hospital, key: SigningKey, body: dict[str, Any]) -> None:
    service = PATIENT_VIEW if body["hook"] == "patient-view" else ORDER_SIGN
    reply = call(h, key, service, body)
    assert reply.status_code in (200, 400, 422), reply.text
    if reply.status_code == 200:
        assert isinstance(reply.json()["cards"], list)


@pytest.mark.parametrize("resource", [
    {"medicationCodeableConcept": {"coding": 5}},
    {"medicationCodeableConcept": {"coding": {"code": "x"}}},
    {"medicationCodeableConcept": {"coding": [{"code": "x", "system": 5}], "text": 5}},
    {"medicationCodeableConcept": 5, "medicationReference": {"display": 5}},
    {"medicationReference": "Medication/1"},
    {"dosageInstruction": {"doseAndRate": 5}},
    {"dosageInstruction": [5]},
    {"dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": {"x": 1}}}],
                            "route": {"coding": 5}}]},
    {"authoredOn": 5},
    {"authoredOn": "0000-00-00"},
    {"id": {"x": 1}, "medicationCodeableConcept": {"text": "Sodium chloride 3% 150 mL"}},
    {"id": "m" * 10_000, "medicationCodeableConcept": {"text": "Sodium chloride 3% " * 900}},
])
def test_a_malformed_draft_order_is_judged_or_skipped_never_a_500(
        h: Hospital, key: SigningKey, resource: dict[str, Any]) -> None:
    r = {"resourceType": "MedicationRequest", "status": "draft", "intent": "order", **resource}
    reply = call(h, key, ORDER_SIGN, request_body("order-sign", patient_resource("A1"),
                                                  draftOrders=orders(r)))
    assert reply.status_code in (200, 400), reply.text
    for card in reply.json().get("cards", []):
        assert len(card["summary"]) < 140


def test_a_body_that_is_not_a_json_object_is_400_after_the_caller_is_known(
        h: Hospital, key: SigningKey) -> None:
    for sent in ([1], "x", 5, None):
        token = key.sign(hook_claims(ISSUER, url(h, PATIENT_VIEW)))
        reply = h.client().post(f"/cds-services/{PATIENT_VIEW}", json=sent,
                                headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 400, reply.text
        assert "a patient-view request carries hook" in reply.json()["detail"]
    # a stranger learns nothing of the body's form: the JWT is checked first
    refused(h.client().post(f"/cds-services/{PATIENT_VIEW}", json=[1],
                            headers={"Authorization": "Bearer x"}), "no JWT")


def test_a_sodium_the_ehr_sends_as_nan_or_infinity_is_no_sodium(
        h: Hospital, key: SigningKey) -> None:
    """Python's JSON reads NaN and Infinity; an EHR's newest sodium of NaN says nothing."""
    token = key.sign(hook_claims(ISSUER, url(h, PATIENT_VIEW)))
    body = json.dumps(request_body("patient-view", None))[:-1] + (
        ', "prefetch": {"patient": ' + json.dumps(patient_resource("A1")) + ', "sodium": '
        '{"entry": [{"resource": {"resourceType": "Observation", "status": "final", '
        '"effectiveDateTime": "2099-01-01T00:00:00Z", "valueQuantity": {"value": NaN}}}, '
        '{"resource": {"resourceType": "Observation", "status": "final", '
        '"effectiveDateTime": "2098-01-01T00:00:00Z", '
        '"valueQuantity": {"value": Infinity}}}]}}}')
    reply = h.client().post(f"/cds-services/{PATIENT_VIEW}", content=body.encode(),
                            headers={"Authorization": f"Bearer {token}",
                                     "Content-Type": "application/json"})
    assert reply.status_code == 200, reply.text
    [stale] = [c for c in reply.json()["cards"] if "newer sodium" in c["summary"]]
    assert stale["summary"] == "The EHR has a newer sodium (a sodium) than sodium-monitor"


def test_a_kid_the_key_set_lacks_refetches_it_at_most_once_a_while(h: Hospital) -> None:
    """Anyone may send a token naming a registered issuer and a made-up kid: each must not
    cost a fetch of the EHR's key set."""
    real = SigningKey.rsa(kid="2026-11")
    keys = KeyServer(real)
    try:
        with h.rt.uow() as uow:
            add_client(uow, ISSUER, h.now, jwks_url=keys.url, label="City EHR")
        body = request_body("patient-view", patient_resource("A1"))
        for n in range(5):
            refused(call(h, SigningKey.rsa(kid=f"forged-{n}"), PATIENT_VIEW, body), "no key")
        assert keys.fetches == 2  # the set, and once again for a kid it might have rotated in
        assert call(h, real, PATIENT_VIEW, body).status_code == 200
        assert keys.fetches == 2
    finally:
        keys.close()


def test_a_key_set_url_that_redirects_is_not_json_is_huge_or_trickles_is_refused(
        h: Hospital, key: SigningKey, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.web import ehr_keys

    monkeypatch.setattr(ehr_keys, "TIMEOUT_S", 1.0)
    body = request_body("patient-view", patient_resource("A1"))
    keys, elsewhere = KeyServer(key), KeyServer(key)
    try:
        with h.rt.uow() as uow:
            add_client(uow, ISSUER, h.now, jwks_url=keys.url, label="City EHR")
        keys.status, keys.location = 302, elsewhere.url
        refused(call(h, key, PATIENT_VIEW, body), "key set cannot be read")
        assert elsewhere.fetches == 0  # a redirect is not followed
        keys.status, keys.location, keys.body = 200, "", b"<html>keys</html>"
        refused(call(h, key, PATIENT_VIEW, body), "key set cannot be read")
        keys.body = b'{"keys": [], "pad": "' + b"x" * 2_000_000 + b'"}'
        refused(call(h, key, PATIENT_VIEW, body), "too large")
        keys.body, keys.trickle_s = key_set(key).encode(), 0.05  # about 40 s in all
        refused(call(h, key, PATIENT_VIEW, body), "too slow")
        keys.body, keys.trickle_s = b'{"keys": ["a key", 5, null]}', 0.0
        refused(call(h, key, PATIENT_VIEW, body), "key set cannot be read")
        with h.rt.uow() as uow, pytest.raises(ValueError, match="control characters"):
            add_client(uow, ISSUER, h.now, jwks_url=f"{keys.url}\x01", label="City EHR")
        with h.rt.uow() as uow:  # stored all the same (by hand): httpx will not take it
            uow.session.execute(update(EhrClient).values(jwks_url=f"{keys.url}\x01"))
            uow.commit()
        refused(call(h, key, PATIENT_VIEW, body), "key set cannot be read")
    finally:
        keys.close()
        elsewhere.close()


def test_a_merged_away_identifier_or_an_aliased_system_finds_the_surviving_patient(
        pg_engine: Engine, pg_migrated: str) -> None:
    from monitor.storage.tables import Patient

    made = build(pg_migrated, patient_authorities="urn:oid:2.16.840.1.9=CITYGEN")
    try:
        k = SigningKey.ec()
        with made.rt.uow() as uow:
            add_client(uow, ISSUER, made.now, jwks=key_set(k), label="City EHR")
        made.receive(oru("M1", "M1-0", made.now - timedelta(hours=30), 125))
        with made.rt.uow() as uow:
            old = uow.session.scalar(select(Patient).where(Patient.identifier == "M1"))
            assert old is not None
            old.merged_into_id = made.patients["A1"]
            uow.commit()
        for patient in (patient_resource("M1"), patient_resource("A1", "urn:oid:2.16.840.1.9")):
            found = cards(made, k, PATIENT_VIEW, request_body("patient-view", patient))
            assert any("Too fast: 24 h" in c["summary"] for c in found), patient
            assert all(c["links"][0]["url"].endswith(f"/patients/{made.patients['A1']}")
                       for c in found)
    finally:
        made.close()


def test_a_test_or_withdrawn_alert_gets_no_card(h: Hospital, key: SigningKey) -> None:
    with h.rt.uow() as uow:
        for a in uow.session.scalars(select(Alert).where(
                Alert.patient_id == h.patients["A1"], Alert.state == "active")):
            a.test = True
        for a in uow.session.scalars(select(Alert).where(
                Alert.patient_id == h.patients["A2"], Alert.state == "active")):
            a.state = a.lifecycle = "withdrawn"
        uow.commit()
    for who in ("A1", "A2"):
        assert cards(h, key, PATIENT_VIEW, request_body("patient-view",
                                                        patient_resource(who))) == [], who


def test_a_draft_order_without_a_string_id_gets_the_warning_without_a_delete_suggestion(
        h: Hospital, key: SigningKey) -> None:
    """An Action's resourceId is a relative reference (MedicationRequest/<id>): without an
    id there is nothing for the EHR to remove."""
    for rid in ({"x": 1}, ["mr-1"], 7, ""):
        resource = draft("mr-1", "Sodium chloride 3% 150 mL IV") | {"id": rid}
        found = cards(h, key, ORDER_SIGN, request_body("order-sign", patient_resource("A1"),
                                                       draftOrders=orders(resource)))
        [warning] = [c for c in found if c["summary"].startswith("Hypertonic saline")]
        assert_card_shape(warning)
        assert "suggestions" not in warning and "selectionBehavior" not in warning, rid


def test_a_sodium_the_ehr_has_only_registered_is_no_newer_sodium(
        h: Hospital, key: SigningKey) -> None:
    """FHIR Observation status `registered`: the test exists, no result yet; nothing the
    lab feed could have delivered."""
    body = request_body("patient-view", patient_resource("A1"))
    pending = sodium_search((h.now - timedelta(minutes=10), 0))
    del pending["entry"][0]["resource"]["valueQuantity"]
    pending["entry"][0]["resource"]["status"] = "registered"
    body["prefetch"]["sodium"] = pending
    assert not any("newer sodium" in c["summary"] for c in cards(h, key, PATIENT_VIEW, body))



def test_a_token_without_iat_or_sub_is_refused(h: Hospital, key: SigningKey) -> None:
    body = request_body("patient-view", patient_resource("A1"))
    for claim in ("iat", "sub"):
        claims = hook_claims(ISSUER, url(h, PATIENT_VIEW))
        del claims[claim]
        refused(call(h, key, PATIENT_VIEW, body, token=key.sign(claims)), f'"{claim}"')


def test_an_alert_that_never_paged_gets_no_card_as_it_is_not_on_the_board(
        h: Hospital, key: SigningKey) -> None:
    # Samples three days old when they arrive: the overcorrection is history (notify
    # false), on the patient page, never on the board, and so no card.
    h.receive(oru("Z1", "Z1-0", h.now - timedelta(hours=80), 120))
    h.receive(oru("Z1", "Z1-1", h.now - timedelta(hours=62), 130))
    with h.rt.uow() as uow:
        pid = uow.session.scalar(select(Patient.id).where(Patient.identifier == "Z1"))
        quiet = uow.session.scalars(select(Alert).where(Alert.patient_id == pid,
                                                        Alert.state == "active")).all()
    assert quiet and not any(a.notify for a in quiet)
    assert cards(h, key, PATIENT_VIEW, request_body("patient-view", patient_resource("Z1"))) \
        == []


def test_an_ehr_registered_for_smart_launch_only_may_not_call_the_hooks(
        h: Hospital, pg_migrated: str) -> None:
    from tests.integration.test_cli_engineer import cli

    done = cli(pg_migrated, "ehr-clients", "add", ISSUER, "--label", "City EHR",
               "--fhir-server", "https://ehr.example.org/fhir", "--client-id", "sodium")
    assert done.returncode == 0, done.stderr
    assert "(no CDS Hooks keys); SMART launch from https://ehr.example.org/fhir" in done.stdout
    with h.rt.uow() as uow:
        assert uow.session.scalar(select(EhrClient.label)) == "City EHR"
    k = SigningKey.rsa()
    refused(call(h, k, PATIENT_VIEW, request_body("patient-view", None)),
            "registered for SMART launch only")
    neither = cli(pg_migrated, "ehr-clients", "add", "https://other.example.org")
    assert neither.returncode == 1 and "give the EHR's key set" in neither.stderr
    long = cli(pg_migrated, "ehr-clients", "add", "x", "--jwks", "https://k.example/" + "a" * 600)
    assert long.returncode == 1 and "the JWKS URL is 618 characters; at most 500" in long.stderr
