"""Recipient matching for OB 2.0 recipients and OB 3.0 IdentityObjects."""

from __future__ import annotations

import hashlib
import re

import pytest

from core.errors import InvalidInput
from core.recipient import (
    credential_subject_matches,
    hash_identity,
    identity_matches,
    new_salt,
    normalise_identity,
    recipient_matches,
)

# From the 1EdTech validator's basic-assertion.json: sha256("nobody@example.org" + "deadsea").
VECTOR_HASH = "sha256$ecf5409f3f4b91ab60cc5ef4c02aef7032354375e70cf4d8e43f6a1d29891942"


def test_vector_hash_matches_the_right_email() -> None:
    assert identity_matches(VECTOR_HASH, "deadsea", True, "nobody@example.org")


def test_email_is_normalised_before_hashing() -> None:
    assert identity_matches(VECTOR_HASH, "deadsea", True, "  Nobody@Example.ORG\n")


def test_hashed_identity_rejects_another_email_and_another_salt() -> None:
    assert not identity_matches(VECTOR_HASH, "deadsea", True, "somebody@example.org")
    assert not identity_matches(VECTOR_HASH, "otherSalt", True, "nobody@example.org")
    assert not identity_matches(VECTOR_HASH, None, True, "nobody@example.org")


def test_hash_prefix_and_digest_are_case_insensitive() -> None:
    upper = "SHA256$" + VECTOR_HASH.split("$")[1].upper()
    assert identity_matches(upper, "deadsea", True, "nobody@example.org")


def test_md5_hash_of_old_badges() -> None:
    digest = hashlib.md5(b"nobody@example.orgpepper", usedforsecurity=False).hexdigest()
    assert identity_matches(f"md5${digest}", "pepper", True, "nobody@example.org")
    assert not identity_matches(f"md5${digest}", "pepper", True, "other@example.org")


def test_unsalted_hash() -> None:
    digest = hashlib.sha256(b"nobody@example.org").hexdigest()
    assert identity_matches(f"sha256${digest}", None, True, "nobody@example.org")


def test_issuer_that_hashed_the_address_as_typed_still_matches() -> None:
    digest = hashlib.sha256(b"Nobody@Example.org" + b"s").hexdigest()
    assert identity_matches(f"sha256${digest}", "s", True, "Nobody@Example.org")


def test_plain_email_compared_case_insensitively() -> None:
    assert identity_matches("Nobody@Example.org", None, False, "nobody@example.ORG ")
    assert not identity_matches("nobody@example.org", None, False, "nobody@example.net")


def test_plain_url_is_case_sensitive() -> None:
    url = "https://example.org/people/Alice"
    assert identity_matches(url, None, False, url, identity_type="url")
    assert not identity_matches(url, None, False, url.lower(), identity_type="url")


def test_empty_candidate_never_matches() -> None:
    assert not identity_matches(VECTOR_HASH, "deadsea", True, "   ")
    assert not identity_matches("nobody@example.org", None, False, "")


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("sha512$" + "0" * 128, "Unsupported recipient hash algorithm"),
        ("sha256$nothex", "64-character hexadecimal"),
        ("sha256$" + "ab" * 16, "64-character hexadecimal"),
        ("ecf5409f3f4b91ab60cc5ef4c02aef70", "not of the form"),
    ],
)
def test_malformed_hashes_raise_readable_errors(stored: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        identity_matches(stored, "deadsea", True, "nobody@example.org")


def test_hash_identity_reproduces_the_vector_and_normalises() -> None:
    assert hash_identity("nobody@example.org", "deadsea") == VECTOR_HASH
    assert hash_identity("  NoBody@Example.org ", "deadsea") == VECTOR_HASH


def test_hash_identity_keeps_case_of_non_email_identities() -> None:
    url = "https://example.org/people/Alice"
    expected = "sha256$" + hashlib.sha256((url + "x").encode()).hexdigest()
    assert hash_identity(f" {url} ", "x", identity_type="url") == expected
    assert normalise_identity(" Mixed@Case.org ") == "mixed@case.org"


def test_hash_identity_round_trips_with_a_fresh_salt() -> None:
    salt = new_salt()
    assert re.fullmatch(r"[0-9a-f]{32}", salt)
    assert salt != new_salt()
    hashed = hash_identity("Learner@Example.org", salt)
    assert identity_matches(hashed, salt, True, "learner@example.org")


def test_hash_identity_refuses_empty_identity() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        hash_identity("  ", "salt")


def test_ob2_recipient_object() -> None:
    recipient = {"type": "email", "hashed": True, "salt": "deadsea", "identity": VECTOR_HASH}
    assert recipient_matches(recipient, "nobody@example.org")
    assert not recipient_matches(recipient, "other@example.org")


def test_ob3_identity_object() -> None:
    salt = new_salt()
    identity = {
        "type": "IdentityObject",
        "identityType": "emailAddress",
        "hashed": True,
        "salt": salt,
        "identityHash": hash_identity("learner@example.org", salt),
    }
    assert recipient_matches(identity, "Learner@Example.org")
    assert not recipient_matches(identity, "someone@example.org")
    plain = {
        "type": "IdentityObject",
        "identityType": "sourcedId",
        "hashed": False,
        "identityHash": "Student-42",
    }
    assert recipient_matches(plain, "Student-42")
    assert not recipient_matches(plain, "student-42")


@pytest.mark.parametrize(
    "recipient",
    [
        {"type": "email", "hashed": "yes", "identity": VECTOR_HASH},
        {"type": "email", "hashed": True},
        {"type": "email", "hashed": True, "identity": VECTOR_HASH, "salt": 7},
        ["not", "an", "object"],
    ],
)
def test_malformed_recipient_objects_raise(recipient: object) -> None:
    with pytest.raises(InvalidInput):
        recipient_matches(recipient, "nobody@example.org")  # type: ignore[arg-type]


def test_ob3_credential_subject_by_identifier_or_id() -> None:
    salt = new_salt()
    subject = {
        "id": "did:example:learner-1",
        "type": ["AchievementSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityType": "emailAddress",
                "hashed": True,
                "salt": salt,
                "identityHash": hash_identity("learner@example.org", salt),
            }
        ],
    }
    assert credential_subject_matches(subject, "LEARNER@example.org")
    assert credential_subject_matches(subject, "did:example:learner-1")
    assert not credential_subject_matches(subject, "did:example:learner-2")
    assert not credential_subject_matches(subject, "other@example.org")
    assert credential_subject_matches({"id": "mailto:Learner@Example.org"}, "learner@example.org")


def test_ob3_credential_subject_without_anything_to_compare_raises() -> None:
    with pytest.raises(InvalidInput, match="neither an id nor an identifier"):
        credential_subject_matches({"type": ["AchievementSubject"]}, "learner@example.org")
    with pytest.raises(InvalidInput, match="IdentityObject"):
        credential_subject_matches({"identifier": ["learner@example.org"]}, "x")
