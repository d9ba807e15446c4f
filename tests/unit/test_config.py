import socket

import pytest

from monitor.config import SettingsError, load_settings


def test_defaults_are_the_embedded_service() -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///./var/sodium-monitor.db"
    assert s.broker_url == "" and s.embedded
    assert s.timezone == "UTC" and s.policy == "default"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("SODIUM_DATABASE_URL", "nonsense", "not a database URL"),
        ("SODIUM_DATABASE_URL", "mysql://x/y", "not supported"),
        ("SODIUM_BROKER_URL", "http://x", "redis://"),
        ("SODIUM_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("SODIUM_API_PORT", "70000", "0 to 65535"),
        ("SODIUM_MAX_RESULTS_PER_MESSAGE", "0", "greater than or equal to 1"),
        ("SODIUM_ICD10_SYSTEMS", "JP_ICD10", "code system URIs"),
    ],
)
def test_a_bad_value_names_the_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert name in text and fragment in text and "\n" not in text


def test_dotenv_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SODIUM_TIMEZONE=Europe/Berlin\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().timezone == "Europe/Berlin"


def test_the_public_url_follows_the_api_port_unless_it_is_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SODIUM_PUBLIC_URL", "SODIUM_API_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SODIUM_API_PORT", "9100")
    settings = load_settings()
    assert settings.public_url == "http://127.0.0.1:9100"
    assert settings.serving_at(None, 9200).public_url == "http://127.0.0.1:9200"
    monkeypatch.setenv("SODIUM_API_HOST", "0.0.0.0")
    assert load_settings().public_url == f"http://{socket.gethostname()}:9100"
    monkeypatch.setenv("SODIUM_PUBLIC_URL", "https://sodium.hospital.example")
    chosen = load_settings()
    assert chosen.public_url == "https://sodium.hospital.example"
    assert chosen.serving_at(None, 9200).public_url == "https://sodium.hospital.example"


def test_the_results_cap_reaches_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.runtime import Runtime

    assert load_settings().max_results_per_message == 500
    monkeypatch.setenv("SODIUM_MAX_RESULTS_PER_MESSAGE", "20")
    assert Runtime(load_settings()).pipeline.max_results == 20


def test_national_icd10_systems_reach_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.runtime import Runtime

    jp = "http://jpfhir.jp/fhir/core/CodeSystem/JP_ICD10"
    monkeypatch.setenv("SODIUM_ICD10_SYSTEMS", f" {jp} , urn:oid:1.2.392.200119.4.101.6")
    terms = Runtime(load_settings()).pipeline.terms
    assert terms.is_icd10(jp) and terms.is_icd10("urn:oid:1.2.392.200119.4.101.6")
    assert terms.is_icd10("http://hl7.org/fhir/sid/icd-10")  # WHO, always
    assert not terms.is_icd10("http://snomed.info/sct")
