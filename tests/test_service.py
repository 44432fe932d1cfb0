"""The badge service end to end, on SQLite and PostgreSQL: issue → verify → revoke → verify fails."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.errors import InvalidInput, KeyProblem, NotFound, UndefinedTerms
from core.service import BadgeService
from core.storage import CredentialRecord, IssuerKeyRecord, StatusListRecord

ACHIEVEMENT: dict[str, Any] = {
    "type": ["Achievement"],
    "name": "Stadsfotograaf",
    "description": "Documented a neighbourhood in twelve photographs.",
    "criteria": {"narrative": "Exhibit twelve photographs with captions."},
}
EMAIL = "Learner@Example.org"


@pytest.fixture
def issuer(service: BadgeService) -> str:
    service.create_issuer("rotterdam", "Rotterdam City of Learning", url="https://example.nl")
    service.new_key("rotterdam", "RS256")
    return "rotterdam"


def failed_checks(report: Any) -> list[str]:
    return [c.id for c in report.failures]


@pytest.mark.parametrize("proof_format", ["rdfc", "jcs", "jwt"])
def test_issue_verify_revoke_each_format(
    service: BadgeService, issuer: str, proof_format: str
) -> None:
    issued = service.issue(issuer, ACHIEVEMENT, EMAIL, proof_format=proof_format)
    report = service.verify(issued.text, recipient="learner@example.org")
    assert report.valid, report.as_dict()
    assert report.check("status") is not None and report.check("status").status == "pass"
    assert report.check("recipient").status == "pass"

    assert failed_checks(service.verify(issued.text, recipient="someone@else.org")) == ["recipient"]

    service.revoke(issued.credential_id)
    service.revoke(issued.credential_id)  # idempotent
    revoked = service.verify(issued.text)
    assert failed_checks(revoked) == ["status"]
    assert "revoked" in revoked.check("status").message.lower()


def test_jwt_is_signed_with_the_rsa_key_and_rdfc_with_ed25519(
    service: BadgeService, issuer: str
) -> None:
    from core.proofs.vc_jwt import peek_jwt_header

    jwt = service.issue(issuer, ACHIEVEMENT, EMAIL, proof_format="jwt")
    assert peek_jwt_header(jwt.text)["alg"] == "RS256"
    signed = json.loads(service.issue(issuer, ACHIEVEMENT, EMAIL, proof_format="rdfc").text)
    assert signed["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert signed["proof"]["verificationMethod"] == "http://badges.test/issuers/rotterdam#key-1"


def test_suspension_is_reversible(service: BadgeService, issuer: str) -> None:
    revocable = service.issue(issuer, ACHIEVEMENT, EMAIL)
    with pytest.raises(InvalidInput, match="cannot be suspended"):
        service.set_status(revocable.credential_id, "suspension", True)
    issued = service.issue(issuer, ACHIEVEMENT, EMAIL, status_purpose="suspension")
    service.set_status(issued.credential_id, "suspension", True)
    report = service.verify(issued.text)
    assert failed_checks(report) == ["status"]
    assert "suspended" in report.check("status").message.lower()
    service.set_status(issued.credential_id, "suspension", False)
    assert service.verify(issued.text).valid
    with pytest.raises(InvalidInput, match="permanent"):
        service.set_status(revocable.credential_id, "revocation", False)


def test_the_credential_carries_a_hashed_identity_not_the_email(
    service: BadgeService, issuer: str
) -> None:
    issued = service.issue(issuer, ACHIEVEMENT, EMAIL)
    assert "learner@example.org" not in issued.text.lower()
    identity = json.loads(issued.text)["credentialSubject"]["identifier"][0]
    assert identity["hashed"] is True and identity["identityHash"].startswith("sha256$")


def test_tampering_after_signing_fails_the_proof(service: BadgeService, issuer: str) -> None:
    document = json.loads(service.issue(issuer, ACHIEVEMENT, EMAIL).text)
    document["credentialSubject"]["achievement"]["name"] = "Something grander"
    assert "proof" in failed_checks(service.verify(json.dumps(document)))


def test_rotation_keeps_old_credentials_valid_until_the_key_is_retired(
    service: BadgeService, issuer: str
) -> None:
    old = service.issue(issuer, ACHIEVEMENT, EMAIL)
    new_key = service.rotate_key(issuer)
    assert new_key.key_id == "key-3" and new_key.state == "active"
    new = service.issue(issuer, ACHIEVEMENT, EMAIL)
    assert json.loads(new.text)["proof"]["verificationMethod"].endswith("#key-3")
    assert service.verify(old.text).valid
    assert service.verify(new.text).valid

    with pytest.raises(InvalidInput, match="rotate first"):
        service.retire_key(issuer, "key-3")
    service.retire_key(issuer, "key-1")
    report = service.verify(old.text)
    assert "proof" in failed_checks(report)
    assert service.verify(new.text).valid
    states = {k.key_id: k.state for k in service.list_keys(issuer)}
    assert states == {"key-1": "retired", "key-2": "active", "key-3": "active"}


def test_expired_and_not_yet_valid(service: BadgeService, issuer: str) -> None:
    issued = service.issue(
        issuer, ACHIEVEMENT, EMAIL, valid_until=datetime.now(UTC) + timedelta(days=1)
    )
    assert service.verify(issued.text).valid
    later = datetime.now(UTC) + timedelta(days=2)
    assert failed_checks(service.verify(issued.text, now=later)) == ["validity"]
    earlier = datetime.now(UTC) - timedelta(days=1)
    report = service.verify(issued.text, now=earlier)
    assert "validity" in failed_checks(report)
    assert "not valid yet" in report.check("validity").message.lower()


def test_private_keys_are_encrypted_at_rest(service: BadgeService, issuer: str) -> None:
    with service.sessions() as session:
        stored = session.scalars(select(IssuerKeyRecord.encrypted_private_key)).all()
    assert stored and all(s.startswith("v1.") for s in stored)
    assert not any("PRIVATE KEY" in s for s in stored)

    from core.keys import new_key_encryption_key

    other = BadgeService(
        service.settings.__class__(
            **{**service.settings.__dict__, "key_encryption_key": new_key_encryption_key()}
        ),
        engine=service.engine,
    )
    with pytest.raises(KeyProblem):
        other.issue(issuer, ACHIEVEMENT, EMAIL)


def test_bad_input_changes_nothing(service: BadgeService, issuer: str) -> None:
    def counts() -> tuple[int, int]:
        with service.sessions() as session:
            credentials = session.scalar(select(func.count()).select_from(CredentialRecord))
            next_index = session.scalar(select(func.max(StatusListRecord.next_index)))
            return int(credentials or 0), int(next_index or 0)

    service.issue(issuer, ACHIEVEMENT, EMAIL)
    before = counts()
    with pytest.raises(InvalidInput, match="name"):
        service.issue(issuer, {"criteria": {"narrative": "x"}}, EMAIL)
    with pytest.raises(InvalidInput, match="email"):
        service.issue(issuer, ACHIEVEMENT, "not-an-email")
    with pytest.raises(UndefinedTerms, match="undefinedTermXyz"):
        service.issue(issuer, {**ACHIEVEMENT, "undefinedTermXyz": "sneaky"}, EMAIL)
    with pytest.raises(NotFound):
        service.issue("nobody", ACHIEVEMENT, EMAIL)
    assert counts() == before


def test_issuer_validation(service: BadgeService, issuer: str) -> None:
    with pytest.raises(InvalidInput, match="already exists"):
        service.create_issuer(issuer, "Again")
    with pytest.raises(InvalidInput, match="slug"):
        service.create_issuer("Not A Slug", "X")
    with pytest.raises(InvalidInput, match="already has an active RS256"):
        service.new_key(issuer, "RS256")


def test_concurrent_issues_get_distinct_status_indexes(service: BadgeService, issuer: str) -> None:
    errors: list[BaseException] = []

    def award() -> None:
        try:
            for _ in range(3):
                service.issue(issuer, ACHIEVEMENT, EMAIL)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=award) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with service.sessions() as session:
        slots = session.execute(
            select(CredentialRecord.status_list_id, CredentialRecord.status_index)
        ).all()
        lists = session.scalar(select(func.count()).select_from(StatusListRecord))
    assert len(slots) == 18 and len(set(slots)) == 18
    assert lists == 1


def test_schema_matches_the_migrations(service: BadgeService) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core.storage import Base

    with service.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_own_credential_url_is_verified_from_the_database(
    service: BadgeService, issuer: str
) -> None:
    issued = service.issue(issuer, ACHIEVEMENT, EMAIL)
    report = service.verify(issued.credential_id)
    assert report.valid and report.credential["id"] == issued.credential_id
    missing = service.verify(service.credential_url("00000000-0000-0000-0000-000000000000"))
    assert not missing.valid and missing.failures[0].id == "input"
