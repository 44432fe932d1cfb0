"""OB 3.0 JSON Schema validation against the bundled 1EdTech schemas, offline."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from core import schema_validation
from core.schema_validation import SchemaProblem, validate_ob3_schema, validate_profile_schema

SHARED = Path(__file__).resolve().parents[2] / "shared" / "standards" / "vectors"
SPEC_EXAMPLES = SHARED / "ob3-spec-examples"
VALIDATOR = SHARED / "1edtech-validator" / "ob30"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def paths(problems: list[SchemaProblem]) -> list[str]:
    return [p.path for p in problems]


@pytest.mark.parametrize("name", ["simple.json", "complete.json", "endorsement-valid.json"])
def test_validator_valid_samples_pass(name: str) -> None:
    assert validate_ob3_schema(load(VALIDATOR / name)) == []


@pytest.mark.parametrize("path", sorted(SPEC_EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_spec_examples_pass_the_bundled_schema(path: Path) -> None:
    assert validate_ob3_schema(load(path), check_declared_schemas=False) == []


BROKEN_TYPE_SAMPLES = {
    "simple-err-credential-subject-type.json": "$.credentialSubject.type",
    "simple-err-issuer-type.json": "$.issuer.type",
    "simple-err-evidence-type.json": "$.evidence[1].type",
    "simple-err-credential-subject-result-type.json": "$.credentialSubject.result[1].type",
    "simple-err-credential-subject-profile-type.json": "$.credentialSubject.source.type",
    "simple-err-credential-subject-identifier-type.json": "$.credentialSubject.identifier[0].type",
    "simple-err-credential-subject-achievement-result-description-type.json": (
        "$.credentialSubject.achievement.resultDescription[2].type"
    ),
    "simple-err-issuer-otheridentifier-type.json": "$.issuer.otherIdentifier[1].type",
    "simple-err-issuer-parentorg-type.json": "$.issuer.parentOrg.type",
    "simple-err-type.json": "$.type",
}


@pytest.mark.parametrize(
    ("name", "path"), BROKEN_TYPE_SAMPLES.items(), ids=list(BROKEN_TYPE_SAMPLES)
)
def test_validator_broken_type_sample_fails_naming_the_field(name: str, path: str) -> None:
    problems = validate_ob3_schema(load(VALIDATOR / name))
    assert path in paths(problems), problems


def test_a_lone_wrong_type_string_is_caught() -> None:
    # The published JSON-LD schema accepts any string as a lone type; the check here does not.
    problems = validate_ob3_schema(load(VALIDATOR / "simple-err-evidence-type.json"))
    assert [str(p) for p in problems] == [
        "$.evidence[1].type: must be one of 'Evidence'; found a string ('InvalidEvidence')"
    ]
    document = load(VALIDATOR / "simple.json")
    document["credentialSubject"]["type"] = "AchievementSubject"
    assert validate_ob3_schema(document) == []


def test_endorsement_citing_an_unbundled_schema_fails() -> None:
    problems = validate_ob3_schema(load(VALIDATOR / "endorsement-err-schema-status-refresh.json"))
    assert paths(problems) == ["$.credentialSchema[1].id"]
    assert (
        "https://state.gov/schema/endorsementcredential.json is not bundled" in problems[0].message
    )


def test_declared_schemas_may_be_left_unchecked() -> None:
    document = load(VALIDATOR / "endorsement-err-schema-status-refresh.json")
    assert validate_ob3_schema(document, check_declared_schemas=False) == []


def test_a_declared_bundled_schema_is_applied() -> None:
    # An OpenBadgeCredential that claims to follow the endorsement schema is checked against it.
    document = load(VALIDATOR / "simple.json")
    document["credentialSchema"] = [
        {
            "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_endorsementcredential_schema.json",
            "type": "1EdTechJsonSchemaValidator2019",
        }
    ]
    assert "$.type" in paths(validate_ob3_schema(document))
    assert validate_ob3_schema(document, check_declared_schemas=False) == []


def test_vc_1_1_credentials_are_checked_with_their_own_property_names() -> None:
    document = load(VALIDATOR / "simple_v1.json")
    assert validate_ob3_schema(document) == []
    del document["issuanceDate"]
    document["expirationDate"] = "2030-01-01"
    assert [str(p) for p in validate_ob3_schema(document)] == [
        "$.expirationDate: must be a valid date-time (a string ('2030-01-01') is not)",
        "$.issuanceDate: is required but missing",
    ]


def test_missing_required_property_is_named_in_the_path() -> None:
    problems = validate_ob3_schema(load(VALIDATOR / "simple-err-issuer.json"))
    assert paths(problems) == ["$.credentialSubject.achievement", "$.issuer"]
    assert problems[1].message == "is required but missing"


def test_missing_vc_2_context_is_reported() -> None:
    problems = validate_ob3_schema(load(VALIDATOR / "simple-err-context.json"))
    assert "$.@context[0]" in paths(problems)
    assert "$.validFrom" in paths(problems)


def test_wrong_types_are_named_with_readable_messages() -> None:
    document = load(VALIDATOR / "simple.json")
    document["name"] = 42
    document["validFrom"] = "2010-01-01T00:00:00"
    document["credentialSubject"]["achievement"]["achievementType"] = "Trophy"
    messages = {str(p) for p in validate_ob3_schema(document)}
    assert messages == {
        "$.name: must be of JSON type 'string' or 'object', not a number (42)",
        "$.validFrom: must be a valid date-time (a string ('2010-01-01T00:00:00') is not)",
        "$.credentialSubject.achievement.achievementType: must be one of 'Achievement', "
        "'ApprenticeshipCertificate', 'Assessment', 'Assignment', 'AssociateDegree', 'Award', "
        "'Badge', 'BachelorDegree', ... or match (ext:)[a-z|A-Z|0-9|.|-|_]+; "
        "found a string ('Trophy')",
    }


def test_type_given_as_a_string_is_refused_for_a_credential() -> None:
    document = load(VALIDATOR / "simple.json")
    document["type"] = "OpenBadgeCredential"
    assert [str(p) for p in validate_ob3_schema(document)] == [
        "$.type: must be of JSON type 'array', not a string ('OpenBadgeCredential')"
    ]


def test_unexpected_property_where_the_schema_forbids_extras() -> None:
    document = load(VALIDATOR / "simple.json")
    document["credentialSubject"]["identifier"] = [
        {
            "type": "IdentityObject",
            "hashed": False,
            "identityHash": "student@example.org",
            "identityType": "emailAddress",
            "nickname": "sam",
        }
    ]
    problems = validate_ob3_schema(document)
    assert [str(p) for p in problems] == [
        "$.credentialSubject.identifier[0]: unexpected property nickname"
    ]


def test_profile_schema() -> None:
    credential = load(SPEC_EXAMPLES / "fullOpenBadge.json")
    profile = dict(credential["issuer"], **{"@context": credential["@context"]})
    assert validate_profile_schema(profile) == []
    profile["type"] = ["Issuer"]
    assert paths(validate_profile_schema(profile)) == ["$.type"]


def test_a_document_that_is_not_an_object_is_reported() -> None:
    problems = validate_ob3_schema(["not a credential"])  # type: ignore[arg-type]
    assert [str(p) for p in problems] == ["$: must be an object, not an array"]


def test_validation_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    schema_validation._validator.cache_clear()
    assert validate_ob3_schema(load(VALIDATOR / "complete.json")) == []
    assert validate_ob3_schema(load(VALIDATOR / "endorsement-valid.json")) == []


def test_schemas_are_loaded_and_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []
    original = schema_validation._load_schema

    def counting(filename: str) -> dict[str, Any]:
        loaded.append(filename)
        return original(filename)

    monkeypatch.setattr(schema_validation, "_load_schema", counting)
    for cached in (
        schema_validation._tightened_schema,
        schema_validation._validator,
        schema_validation._fast_validator,
    ):
        cached.cache_clear()
    for _ in range(3):
        validate_ob3_schema(load(VALIDATOR / "simple.json"))
    assert loaded == [schema_validation.ACHIEVEMENT_CREDENTIAL_SCHEMA]
