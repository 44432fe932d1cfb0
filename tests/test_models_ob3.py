"""Open Badges 3.0 models: parsing the spec's examples and the 1EdTech validator samples,
refusing wrong types with the failing property named, and serializing by the OB rules."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidInput
from core.models import (
    Achievement,
    AchievementSubject,
    Criteria,
    EndorsementCredential,
    IdentityObject,
    InvalidBadgeData,
    OpenBadgeCredential,
    Profile,
    parse_endorsement_credential,
    parse_ob3_credential,
    parse_ob3_document,
    parse_ob3_profile,
    to_json_ld,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "standards" / "vectors"
SPEC_EXAMPLES = SHARED / "ob3-spec-examples"
VALIDATOR = SHARED / "1edtech-validator" / "ob30"

OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def as_sets(value: Any) -> Any:
    """The document's meaning for comparison: a bare value and a one-element array are the same
    set in JSON-LD, and nulls carry nothing."""
    if isinstance(value, dict):
        return {
            key: [as_sets(v) for v in (item if isinstance(item, list) else [item])]
            for key, item in value.items()
            if item is not None
        }
    if isinstance(value, list):
        return [as_sets(v) for v in value]
    return value


def nulls_and_empty_arrays(value: Any, path: str = "$") -> list[str]:
    found: list[str] = []
    if value is None or value == []:
        found.append(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            found += nulls_and_empty_arrays(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += nulls_and_empty_arrays(item, f"{path}[{index}]")
    return found


def problem_paths(exc: pytest.ExceptionInfo[InvalidBadgeData]) -> list[str]:
    return [p.path for p in exc.value.problems]


SPEC_FILES = sorted(SPEC_EXAMPLES.glob("*.json"))


def test_the_spec_examples_are_all_present() -> None:
    assert len(SPEC_FILES) == 7


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_spec_example_round_trips_to_an_equal_document(path: Path) -> None:
    original = load(path)
    model = parse_ob3_document(original)
    written = to_json_ld(model)

    assert as_sets(written) == as_sets(original)
    assert nulls_and_empty_arrays(written) == []
    # Serializing is stable: parsing the output gives the same output again.
    assert to_json_ld(parse_ob3_document(written)) == written


@pytest.mark.parametrize("name", ["simple.json", "complete.json", "endorsement-valid.json"])
def test_validator_valid_samples_parse_and_round_trip(name: str) -> None:
    original = load(VALIDATOR / name)
    written = to_json_ld(parse_ob3_document(original))
    assert as_sets(written) == as_sets(original)
    assert nulls_and_empty_arrays(written) == []


def test_full_example_gives_typed_access_to_nested_objects() -> None:
    credential = parse_ob3_credential(load(SPEC_EXAMPLES / "fullOpenBadge.json"))
    subject = credential.credential_subject
    assert subject.achievement.achievement_type == "Degree"
    assert subject.achievement.result_description[1].rubric_criterion_level[0].level == "Mastered"
    assert subject.result[2].status == "Completed"
    assert subject.identifier[0].identity_type == "emailAddress"
    assert isinstance(credential.issuer, Profile)
    assert credential.issuer_id == "https://1edtech.edu/issuers/565049"
    assert isinstance(credential.endorsement[0], EndorsementCredential)
    assert credential.valid_from_datetime == datetime(2010, 1, 1, tzinfo=UTC)
    assert credential.valid_until_datetime == datetime(2030, 1, 1, tzinfo=UTC)


# Each sample breaks one type; the reported path must name that property.
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
def test_validator_broken_type_sample_is_refused_naming_the_field(name: str, path: str) -> None:
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob3_credential(load(VALIDATOR / name))
    assert path in problem_paths(exc)
    assert path in exc.value.message
    assert isinstance(exc.value, InvalidInput)


def test_missing_context_is_refused() -> None:
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob3_credential(load(VALIDATOR / "simple-err-context.json"))
    assert "$.@context" in problem_paths(exc)
    assert "https://www.w3.org/ns/credentials/v2" in exc.value.message


def test_compacted_single_values_are_written_as_arrays() -> None:
    document = load(VALIDATOR / "simple.json")
    document["issuer"]["type"] = "Profile"
    document["credentialSubject"]["type"] = "AchievementSubject"
    document["proof"] = document["proof"][0]
    document["credentialSubject"]["achievement"]["tag"] = "teamwork"

    written = to_json_ld(parse_ob3_credential(document))

    assert written["issuer"]["type"] == ["Profile"]
    assert written["credentialSubject"]["type"] == ["AchievementSubject"]
    assert isinstance(written["proof"], list)
    assert written["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert written["credentialSubject"]["achievement"]["tag"] == ["teamwork"]


def test_single_valued_types_stay_strings() -> None:
    written = to_json_ld(parse_ob3_credential(load(SPEC_EXAMPLES / "fullOpenBadge.json")))
    assert written["image"]["type"] == "Image"
    assert written["credentialSubject"]["identifier"][0]["type"] == "IdentityObject"
    assert written["credentialStatus"]["type"] == "1EdTechRevocationList"


def test_context_comes_first_and_proof_last() -> None:
    written = to_json_ld(parse_ob3_credential(load(VALIDATOR / "simple.json")))
    keys = list(written)
    assert keys[:3] == ["@context", "id", "type"]
    assert keys[-1] == "proof"


def test_extension_properties_are_kept_and_written_back() -> None:
    document = load(VALIDATOR / "simple.json")
    document["extensions:applyLink"] = {"url": "https://example.org/apply", "note": None}
    document["credentialSubject"]["achievement"]["https://example.org/level"] = 3

    model = parse_ob3_credential(document)
    written = to_json_ld(model)

    assert written["extensions:applyLink"] == {"url": "https://example.org/apply"}
    assert written["credentialSubject"]["achievement"]["https://example.org/level"] == 3
    assert model.model_extra == {
        "extensions:applyLink": {"url": "https://example.org/apply", "note": None}
    }


def test_snake_case_keys_in_a_document_are_extensions_not_fields() -> None:
    document = load(VALIDATOR / "simple.json")
    document["valid_until"] = "2000-01-01T00:00:00Z"
    model = parse_ob3_credential(document)
    assert model.valid_until is None
    assert to_json_ld(model)["valid_until"] == "2000-01-01T00:00:00Z"


def test_integer_and_decimal_numbers_are_kept_apart() -> None:
    # 42 and 42.0 canonicalize differently in JSON-LD: converting one into the other would
    # change what a signature covers.
    document = load(SPEC_EXAMPLES / "fullOpenBadge.json")
    document["credentialSubject"]["creditsEarned"] = 42
    written = to_json_ld(parse_ob3_credential(document))
    assert type(written["credentialSubject"]["creditsEarned"]) is int
    assert type(written["credentialSubject"]["achievement"]["creditsAvailable"]) is float


def test_dates_keep_their_exact_text() -> None:
    document = load(VALIDATOR / "simple.json")
    document["validFrom"] = "2010-01-01T01:00:00.000+01:00"
    credential = parse_ob3_credential(document)
    assert to_json_ld(credential)["validFrom"] == "2010-01-01T01:00:00.000+01:00"
    assert credential.valid_from_datetime == datetime(2010, 1, 1, tzinfo=UTC)


# Wrong JSON types: (where to put the bad value, the value, the path that must be reported)
WRONG_VALUES = [
    (("name",), 42, "$.name"),
    (
        ("credentialSubject", "achievement", "name"),
        ["Teamwork"],
        "$.credentialSubject.achievement.name",
    ),
    (("type",), "VerifiableCredential", "$.type"),
    (("validFrom",), "2010-01-01T00:00:00", "$.validFrom"),
    (("validFrom",), "2010-01-01", "$.validFrom"),
    (("validFrom",), "2010-02-30T00:00:00Z", "$.validFrom"),
    (("issuer",), 17, "$.issuer"),
    (("issuer", "id"), "example.com/issuers/1", "$.issuer.id"),
    (
        ("credentialSubject", "achievement", "criteria"),
        {},
        "$.credentialSubject.achievement.criteria",
    ),
    (
        ("credentialSubject", "achievement", "achievementType"),
        "Trophy",
        "$.credentialSubject.achievement.achievementType",
    ),
    (("description",), None, "$.description"),
]


@pytest.mark.parametrize(
    ("where", "value", "path"), WRONG_VALUES, ids=[w[2] + "=" + repr(w[1]) for w in WRONG_VALUES]
)
def test_wrong_value_is_refused_naming_the_field(
    where: tuple[str, ...], value: Any, path: str
) -> None:
    document = load(VALIDATOR / "simple.json")
    node = document
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value

    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob3_credential(document)
    assert path in problem_paths(exc), exc.value.message


def test_error_message_is_readable_not_a_pydantic_dump() -> None:
    document = load(VALIDATOR / "simple.json")
    document["name"] = 42
    document["validFrom"] = "2010-01-01T00:00:00"
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob3_credential(document)
    message = exc.value.message
    assert message.startswith("Not a valid Open Badges 3.0 credential (2 problems): ")
    assert "$.name: must be a string, not a number (42)" in message
    assert "$.validFrom: must be an RFC 3339 date-time with a time zone" in message
    assert "pydantic" not in message and "input_value" not in message


def test_boolean_and_number_fields_do_not_accept_strings() -> None:
    document = load(SPEC_EXAMPLES / "fullOpenBadge.json")
    document["credentialSubject"]["identifier"][0]["hashed"] = "false"
    document["credentialSubject"]["creditsEarned"] = "42"
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob3_credential(document)
    assert set(problem_paths(exc)) == {
        "$.credentialSubject.identifier[0].hashed",
        "$.credentialSubject.creditsEarned",
    }


def test_several_problems_are_all_reported() -> None:
    document = load(VALIDATOR / "simple.json")
    del document["issuer"]
    document["credentialSubject"]["type"] = ["Someone"]
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob3_credential(document)
    assert set(problem_paths(exc)) == {"$.issuer", "$.credentialSubject.type"}


def test_a_document_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidBadgeData, match="must be an object"):
        parse_ob3_credential(["not", "a", "credential"])


def test_vc_1_1_credentials_use_issuance_date() -> None:
    credential = parse_ob3_credential(load(VALIDATOR / "simple_v1.json"))
    assert not credential.is_vc_v2
    assert credential.issuance_date == "2010-01-01T00:00:00Z"
    assert credential.valid_from_datetime == datetime(2010, 1, 1, tzinfo=UTC)


def test_vc_1_1_dates_are_refused_in_a_vc_2_credential() -> None:
    document = load(VALIDATOR / "simple.json")
    document["issuanceDate"] = document.pop("validFrom")
    with pytest.raises(InvalidBadgeData, match=r"issuanceDate/expirationDate are VC 1\.1"):
        parse_ob3_credential(document)


def test_vc_1_1_credential_needs_an_issuance_date() -> None:
    document = load(VALIDATOR / "simple_v1.json")
    del document["issuanceDate"]
    with pytest.raises(InvalidBadgeData, match="issuanceDate is required"):
        parse_ob3_credential(document)


def test_vc_1_1_endorsement_parses() -> None:
    endorsement = parse_endorsement_credential(
        load(VALIDATOR / "endorsement-err-schema-status-refresh.json")
    )
    assert (
        endorsement.credential_subject.endorsement_comment
        == "1EdTech University is in good standing"
    )
    assert endorsement.valid_until_datetime == datetime(2030, 1, 1, tzinfo=UTC)


def test_documents_are_dispatched_by_type() -> None:
    assert isinstance(
        parse_ob3_document(load(VALIDATOR / "endorsement-valid.json")), EndorsementCredential
    )
    assert isinstance(parse_ob3_document(load(VALIDATOR / "simple.json")), OpenBadgeCredential)
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob3_credential(load(VALIDATOR / "endorsement-valid.json"))
    assert "$.type" in problem_paths(exc)


def test_recipient_needs_an_id_or_an_identifier() -> None:
    document = load(VALIDATOR / "simple.json")
    del document["credentialSubject"]["id"]
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob3_credential(document)
    assert problem_paths(exc) == ["$.credentialSubject"]
    assert "identifier" in exc.value.message


def test_hashed_identity_must_look_like_a_hash() -> None:
    document = load(VALIDATOR / "simple.json")
    identity = {
        "type": "IdentityObject",
        "hashed": True,
        "identityHash": "student@example.org",
        "identityType": "emailAddress",
        "salt": "pepper",
    }
    document["credentialSubject"]["identifier"] = [identity]
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob3_credential(document)
    assert problem_paths(exc) == ["$.credentialSubject.identifier[0]"]

    identity["identityHash"] = "sha256$" + "ab" * 32
    subject = parse_ob3_credential(document).credential_subject
    assert subject.identifier[0].identity_hash == "sha256$" + "ab" * 32


def test_criteria_needs_an_id_or_a_narrative() -> None:
    document = load(VALIDATOR / "simple.json")
    document["credentialSubject"]["achievement"]["criteria"] = {
        "id": "https://example.org/criteria"
    }
    assert parse_ob3_credential(document).credential_subject.achievement.criteria.id
    document["credentialSubject"]["achievement"]["criteria"] = {"https://example.org/x": "y"}
    with pytest.raises(InvalidBadgeData, match="needs an 'id' or a 'narrative'"):
        parse_ob3_credential(document)


def test_extension_vocabulary_values_are_accepted() -> None:
    document = load(VALIDATOR / "simple.json")
    document["credentialSubject"]["achievement"]["achievementType"] = "ext:MicroBadge"
    credential = parse_ob3_credential(document)
    assert credential.credential_subject.achievement.achievement_type == "ext:MicroBadge"


def test_profile_document_parses() -> None:
    issuer = copy.deepcopy(load(SPEC_EXAMPLES / "fullOpenBadge.json")["issuer"])
    profile = parse_ob3_profile(issuer)
    assert profile.address is not None and profile.address.geo is not None
    assert profile.address.geo.latitude == 1.0
    assert profile.parent_org is not None and profile.parent_org.name == "Universal Universities"


def make_credential(valid_from: datetime) -> OpenBadgeCredential:
    return OpenBadgeCredential(
        context=["https://www.w3.org/ns/credentials/v2", OB3_CONTEXT],
        id="urn:uuid:4a5b9a0e-8f3a-4c11-9d1e-2f4d3e0b7c61",
        type=["VerifiableCredential", "OpenBadgeCredential"],
        issuer=Profile(id="https://issuer.example.org", type=["Profile"], name="Example"),
        valid_from=valid_from,
        credential_subject=AchievementSubject(
            type=["AchievementSubject"],
            identifier=[
                IdentityObject(
                    type="IdentityObject",
                    hashed=True,
                    identity_hash="sha256$" + "0f" * 32,
                    identity_type="emailAddress",
                    salt="salt",
                )
            ],
            achievement=Achievement(
                id="https://issuer.example.org/achievements/1",
                type=["Achievement"],
                name="First steps",
                description="Took the first steps.",
                criteria=Criteria(narrative="Take the first steps."),
            ),
        ),
    )


def test_a_credential_built_in_code_serializes_by_the_rules() -> None:
    credential = make_credential(datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))))
    written = to_json_ld(credential)

    assert written["validFrom"] == "2024-05-01T12:30:00Z"
    assert nulls_and_empty_arrays(written) == []
    assert to_json_ld(parse_ob3_credential(written)) == written


def test_building_with_bad_values_raises_invalid_input() -> None:
    with pytest.raises(InvalidBadgeData) as exc:
        make_credential(datetime(2024, 5, 1, 14, 30))  # no time zone
    assert isinstance(exc.value, InvalidInput)
    assert "time zone" in exc.value.message
