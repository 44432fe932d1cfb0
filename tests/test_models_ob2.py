"""Open Badges 2.0 models: the 1EdTech validator's assertions, badge classes, issuers and other
badge objects parse; malformed ones are refused with the failing property named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidInput
from core.json_input import parse_json_object
from core.models import (
    InvalidBadgeData,
    parse_ob2_assertion,
    parse_ob2_badge_class,
    parse_ob2_cryptographic_key,
    parse_ob2_endorsement,
    parse_ob2_issuer,
    parse_ob2_revocation_list,
    to_json_ld,
)
from core.models.ob2 import BadgeClass, Evidence, Image, Profile, RevokedAssertion
from core.models.ob3 import JsonLdNode

OB20 = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "standards"
    / "vectors"
    / "1edtech-validator"
    / "ob20"
)
ASSETS = OB20 / "assets"

# Samples refused on purpose (see the MANIFEST and the file names); the rest must parse.
BROKEN_ASSERTIONS = {"basic-assertion-invalid-type.json", "basic-assertion-invalid-context.json"}
NOT_STRICT_JSON = {OB20 / "redirected-validation-subject.json", ASSETS / "openbadges_context.json"}


def load(path: Path) -> dict[str, Any]:
    return parse_json_object(path.read_bytes())


def as_sets(value: Any) -> Any:
    """Meaning for comparison: a bare value equals a one-element array in JSON-LD."""
    if isinstance(value, dict):
        return {
            k: [as_sets(v) for v in (i if isinstance(i, list) else [i])] for k, i in value.items()
        }
    if isinstance(value, list):
        return [as_sets(v) for v in value]
    return value


def problem_paths(exc: pytest.ExceptionInfo[InvalidBadgeData]) -> list[str]:
    return [p.path for p in exc.value.problems]


def types_of(document: dict[str, Any]) -> list[Any]:
    found = document.get("type")
    return found if isinstance(found, list) else [found]


PARSERS: dict[str, Callable[[object], JsonLdNode]] = {
    "Assertion": parse_ob2_assertion,
    "BadgeClass": parse_ob2_badge_class,
    "Issuer": parse_ob2_issuer,
    "Profile": parse_ob2_issuer,
    "RevocationList": parse_ob2_revocation_list,
    "CryptographicKey": parse_ob2_cryptographic_key,
    "Endorsement": parse_ob2_endorsement,
}

ASSERTION_FILES = sorted(
    p for p in OB20.glob("*.json") if p.name not in BROKEN_ASSERTIONS and p not in NOT_STRICT_JSON
)
ASSET_FILES = sorted(
    p
    for p in ASSETS.glob("*.json")
    if p not in NOT_STRICT_JSON and p.name != "issuer-invalid-type.json"
)


def test_sample_sets_are_present() -> None:
    assert len(ASSERTION_FILES) >= 20
    assert len(ASSET_FILES) >= 35


@pytest.mark.parametrize("path", ASSERTION_FILES, ids=lambda p: p.name)
def test_validator_sample_parses_and_round_trips(path: Path) -> None:
    document = load(path)
    parser = next(PARSERS[t] for t in types_of(document) if t in PARSERS)
    written = to_json_ld(parser(document))
    assert as_sets(written) == as_sets(document)
    assert to_json_ld(parser(written)) == written


@pytest.mark.parametrize("path", ASSET_FILES, ids=lambda p: p.name)
def test_validator_asset_parses_and_round_trips(path: Path) -> None:
    document = load(path)
    known = [t for t in types_of(document) if t in PARSERS]
    if not known:
        # Criteria documents (hosted criteria pages) have no type of their own.
        assert "narrative" in document
        return
    written = to_json_ld(PARSERS[known[0]](document))
    assert as_sets(written) == as_sets(document)


@pytest.mark.parametrize("path", sorted(NOT_STRICT_JSON), ids=lambda p: p.name)
def test_files_that_are_not_strict_json_are_refused(path: Path) -> None:
    with pytest.raises(InvalidInput, match="Not valid JSON"):
        load(path)


def test_assertion_with_wrong_type_is_refused() -> None:
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob2_assertion(load(OB20 / "basic-assertion-invalid-type.json"))
    assert problem_paths(exc) == ["$.type"]
    assert "'Assertion'" in exc.value.message and "OtherAssertion" in exc.value.message


def test_assertion_with_unknown_context_is_refused() -> None:
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob2_assertion(load(OB20 / "basic-assertion-invalid-context.json"))
    assert problem_paths(exc) == ["$.@context"]
    assert "https://w3id.org/openbadges/v2" in exc.value.message


def test_issuer_with_wrong_type_is_refused() -> None:
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob2_issuer(load(ASSETS / "issuer-invalid-type.json"))
    assert "$.type" in problem_paths(exc)


def test_issuer_needs_name_url_and_email() -> None:
    document = load(ASSETS / "organization.json")
    del document["email"]
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob2_issuer(document)
    assert problem_paths(exc) == ["$.email"]


def test_top_level_object_needs_a_context() -> None:
    document = load(OB20 / "basic-assertion.json")
    del document["@context"]
    document["issuedOn"] = 1483228799
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob2_assertion(document)
    assert problem_paths(exc) == ["$.@context", "$.issuedOn"]


def test_nodes_may_be_embedded_objects_or_iris() -> None:
    linked = parse_ob2_assertion(load(OB20 / "basic-assertion.json"))
    assert linked.badge == "https://example.org/robotics-badge.json"
    assert linked.evidence == ["https://example.org/beths-robot-work.html"]

    embedded = parse_ob2_assertion(load(OB20 / "assertion-with-endorsements.json"))
    assert isinstance(embedded.badge, BadgeClass)
    assert embedded.badge.issuer == "https://example.org/organization.json"
    assert embedded.badge.endorsement == [
        "https://example.org/endorsement-3.json",
        "https://example.org/endorsement-4.json",
    ]

    with_evidence = parse_ob2_assertion(load(OB20 / "assertion-with-extension-node-basic.json"))
    assert isinstance(with_evidence.evidence[0], Evidence)
    assert with_evidence.evidence[0].narrative == "Rocked the free world"

    badge = parse_ob2_badge_class(load(ASSETS / "badgeclass-with-complex-image.json"))
    assert isinstance(badge.image, Image)
    assert badge.image.caption == "A hexagon with attitude"


def test_embedded_badge_and_issuer_are_checked_too() -> None:
    document = load(OB20 / "basic-assertion.json")
    badge = load(ASSETS / "robotics-badge.json")
    issuer = load(ASSETS / "organization.json")
    issuer["type"] = "BadgeClass"
    badge["issuer"] = issuer
    document["badge"] = badge
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob2_assertion(document)
    assert problem_paths(exc) == ["$.badge.issuer.type"]


def test_recipient_and_verification_details() -> None:
    assertion = parse_ob2_assertion(load(OB20 / "basic-assertion.json"))
    assert assertion.recipient is not None
    assert assertion.recipient.type == "email"
    assert assertion.recipient.hashed is True
    assert assertion.recipient.salt == "deadsea"
    assert assertion.verification is not None and assertion.verification.method == "hosted"
    assert assertion.issued_on_datetime == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)

    issuer = parse_ob2_issuer(
        load(ASSETS / "issuer-with-allowed-origins-valid-multiple-starts-with.json")
    )
    assert issuer.verification is not None
    assert issuer.verification.starts_with == ["https://example.org/", "http://example.com/assert"]
    single = parse_ob2_issuer(load(ASSETS / "issuer-with-allowed-origins-valid-starts-with.json"))
    assert single.verification is not None
    assert single.verification.starts_with == ["https://example.org/"]


def test_signed_assertion_names_its_key() -> None:
    document = load(OB20 / "basic-assertion.json")
    document["id"] = "urn:uuid:6deb4a00-ebce-4b28-8cc2-afa705ef7be4"
    document["verification"] = {"type": "SignedBadge", "creator": "http://example.org/key1.json"}
    assertion = parse_ob2_assertion(document)
    assert assertion.verification is not None
    assert assertion.verification.method == "signed"
    assert assertion.verification.creator == "http://example.org/key1.json"


WRONG_VALUES = [
    ("issuedOn", "2016-12-31T23:59:59", "$.issuedOn"),
    ("issuedOn", 1483228799, "$.issuedOn"),
    ("badge", 7, "$.badge"),
    ("recipient", "nobody@example.org", "$.recipient"),
    ("verification", {"type": "carrier-pigeon"}, "$"),
    ("revoked", "false", "$.revoked"),
    ("image", "not an iri", "$.image"),
]


@pytest.mark.parametrize(
    ("key", "value", "path"), WRONG_VALUES, ids=[f"{k}={v!r}" for k, v, _ in WRONG_VALUES]
)
def test_wrong_value_is_refused_naming_the_field(key: str, value: Any, path: str) -> None:
    document = load(OB20 / "basic-assertion.json")
    document[key] = value
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob2_assertion(document)
    assert path in problem_paths(exc), exc.value.message


def test_date_without_time_zone_message_is_readable() -> None:
    document = load(OB20 / "basic-assertion.json")
    document["issuedOn"] = "2016-12-31T23:59:59"
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob2_assertion(document)
    assert exc.value.message == (
        "Not a valid Open Badges 2.0 assertion (1 problem): $.issuedOn: must be an ISO 8601 "
        "date-time with a time zone (like 2016-12-31T23:59:59Z), not '2016-12-31T23:59:59'"
    )


def test_unix_timestamps_are_explained() -> None:
    document = load(OB20 / "basic-assertion.json")
    document["expires"] = 1483228799
    with pytest.raises(InvalidBadgeData, match=r"Unix timestamps are Open Badges 1\.x only"):
        parse_ob2_assertion(document)


def test_hashed_recipient_must_look_like_a_hash() -> None:
    document = load(OB20 / "basic-assertion.json")
    document["recipient"]["identity"] = "nobody@example.org"
    with pytest.raises(InvalidBadgeData) as exc:
        parse_ob2_assertion(document)
    assert problem_paths(exc) == ["$.recipient"]

    document["recipient"]["hashed"] = False
    assertion = parse_ob2_assertion(document)
    assert assertion.recipient is not None and assertion.recipient.identity == "nobody@example.org"


def test_revoked_assertion_may_be_stripped_down() -> None:
    stripped = {
        "@context": "https://w3id.org/openbadges/v2",
        "id": "https://example.org/beths-robotics-badge.json",
        "type": "Assertion",
        "revoked": True,
        "revocationReason": "Awarded in error",
    }
    assert parse_ob2_assertion(stripped).revocation_reason == "Awarded in error"

    stripped["revoked"] = False
    with pytest.raises(InvalidBadgeData, match="lacks recipient, badge, verification, issuedOn"):
        parse_ob2_assertion(stripped)


def test_revocation_list_entries_by_iri_or_object() -> None:
    revocations = parse_ob2_revocation_list(load(ASSETS / "revocation-list.json"))
    assert revocations.revocation_reason_for(
        "https://example.org/beths-robotics-badge-revoked.json"
    ) == ("A good reason, for sure")
    assert revocations.revocation_reason_for("urn:uuid:52e4c6b3-8c13-4fa8-8482-a5cf34ef37a9") == ""
    assert revocations.revocation_reason_for("urn:uuid:6deb4a00-ebce-4b28-8cc2-afa705ef7be4") == ""
    assert (
        revocations.revocation_reason_for("https://example.org/beths-robotics-badge.json") is None
    )
    assert isinstance(revocations.revoked_assertions[0], RevokedAssertion)


def test_empty_revocation_list_keeps_its_required_array() -> None:
    written = to_json_ld(parse_ob2_revocation_list(load(ASSETS / "empty-revocation-list.json")))
    assert written["revokedAssertions"] == []


def test_serialization_writes_sets_as_arrays_and_single_type_as_string() -> None:
    written = to_json_ld(parse_ob2_assertion(load(OB20 / "basic-assertion.json")))
    assert written["type"] == "Assertion"
    assert written["@context"] == "https://w3id.org/openbadges/v2"
    assert written["evidence"] == ["https://example.org/beths-robot-work.html"]
    assert "endorsement" not in written  # no empty arrays
    assert None not in written.values()


def test_extensions_are_kept() -> None:
    document = load(OB20 / "assertion-with-multiple-extensions.json")
    written = to_json_ld(parse_ob2_assertion(document))
    assert written["extensions:exampleExtension"] == document["extensions:exampleExtension"]


def test_language_tagged_badge_class_keeps_its_language() -> None:
    document = load(ASSETS / "badgeclass-with-language.json")
    badge = parse_ob2_badge_class(document)
    assert badge.model_extra == {"@language": "es"}
    assert to_json_ld(badge)["related"] == [
        {"id": "https://example.org/robotics-badge.json", "@language": "en-US"}
    ]


def test_endorsement_and_key_documents() -> None:
    endorsement = parse_ob2_endorsement(load(ASSETS / "endorsement-1.json"))
    assert endorsement.claim.endorsement_comment == "Pretty good"
    assert endorsement.issued_on == "2017-10-01T00:00Z"  # seconds are optional in OB 2.0
    key = parse_ob2_cryptographic_key(load(ASSETS / "key1.json"))
    assert key.owner == "https://example.org/organization.json"
    assert key.public_key_pem is not None and key.public_key_pem.startswith(
        "-----BEGIN PUBLIC KEY-----"
    )


def test_profile_keys_may_be_iris_or_embedded() -> None:
    issuer = load(ASSETS / "organization.json")
    issuer["publicKey"] = load(ASSETS / "key1.json")
    profile = parse_ob2_issuer(issuer)
    assert isinstance(profile, Profile)
    assert not isinstance(profile.public_key[0], str)
    assert profile.public_key[0].id == "http://example.org/key1.json"


def test_document_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidBadgeData, match="must be an object"):
        parse_ob2_assertion("https://example.org/beths-robotics-badge.json")
