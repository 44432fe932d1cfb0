"""The 1EdTech validator's OB 3.0 samples through the full verifier: the good ones verify, each
broken one fails on the check that names its defect (MANIFEST.md §3.4 lists what each is)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.did import ControllerDocumentResolver
from core.report import CheckStatus
from core.verification import StatusListDocument, VerificationOptions, verify_credential
from tests.conftest import VECTORS

OB30 = VECTORS / "1edtech-validator" / "ob30"
# The samples were made in 2022-2025; some expire later. Verify them as of a fixed day.
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _proofs(document: dict[str, Any]) -> list[dict[str, Any]]:
    proof = document.get("proof")
    return [p for p in (proof if isinstance(proof, list) else [proof]) if isinstance(p, dict)]


def published_keys(*documents: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The controller documents these issuers publish at their https ids: each lists the
    Multikey its samples name in the verification method fragment (as the validator's
    fixtures do). Only well-formed ``https://…#z6Mk…`` methods are published."""
    published: dict[str, dict[str, Any]] = {}
    for document in documents:
        for proof in _proofs(document):
            method = proof.get("verificationMethod", "")
            controller, _, fragment = method.partition("#")
            if not controller.startswith("https://") or not fragment.startswith("z6Mk"):
                continue
            entry = published.setdefault(
                controller,
                {
                    "@context": [
                        "https://www.w3.org/ns/did/v1",
                        "https://w3id.org/security/multikey/v1",
                    ],
                    "id": controller,
                    "verificationMethod": [],
                    "assertionMethod": [],
                },
            )
            if method not in entry["assertionMethod"]:
                entry["verificationMethod"].append(
                    {
                        "id": method,
                        "type": "Multikey",
                        "controller": controller,
                        "publicKeyMultibase": fragment,
                    }
                )
                entry["assertionMethod"].append(method)
    return published


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((OB30 / name).read_text()))


def verify_sample(name: str, *, status_lists: dict[str, Any] | None = None) -> Any:
    text = (OB30 / name).read_text()
    document = json.loads(text)
    docs = published_keys(document, *(status_lists or {}).values())
    resolver = ControllerDocumentResolver(local_documents=docs.get)

    def source(url: str) -> StatusListDocument:
        if status_lists is None or url not in status_lists:
            raise LookupError(url)
        return StatusListDocument(status_lists[url], trusted=False)

    options = VerificationOptions(
        resolver=resolver,
        status_list_source=source if status_lists is not None else None,
        now=NOW,
    )
    return verify_credential(text, options)


VALID = [
    "simple.json",
    "simple-context-alias.json",
    "simple-context-version.json",
    "simple-did-key-method.json",
    "simple-did-web-method.json",
    "simple-eddsa-2022.json",
    "simple-multiple-proofs.json",
    "simple_v1.json",
    "complete.json",
    "endorsement-valid.json",
]


@pytest.mark.parametrize("name", VALID)
def test_valid_samples_verify(name: str) -> None:
    report = verify_sample(name)
    assert report.valid, [c.as_dict() for c in report.failures]
    assert report.check("proof").status is CheckStatus.PASS
    assert report.check("schema").status is CheckStatus.PASS


BROKEN = {
    "simple-err-expired.json": "validity",
    "simple-err-issued.json": "validity",
    "simple-err-issuer.json": "schema",
    "simple-err-type.json": "schema",
    "simple-err-context.json": "contexts",
    "simple-err-credential-subject-type.json": "schema",
    "simple-err-credential-subject-identifier-type.json": "schema",
    "simple-err-credential-subject-profile-type.json": "schema",
    "simple-err-credential-subject-result-type.json": "schema",
    "simple-err-credential-subject-achievement-result-description-type.json": "schema",
    "simple-err-evidence-type.json": "schema",
    "simple-err-issuer-type.json": "schema",
    "simple-err-issuer-otheridentifier-type.json": "schema",
    "simple-err-issuer-parentorg-type.json": "schema",
    "endorsement-err-schema-status-refresh.json": "schema",
    "simple-err-proof-value.json": "proof",
    "simple-err-proof-method.json": "proof",
    "simple-err-proof-method-no-scheme.json": "proof",
    "simple-err-proof-method-unknown-did-method.json": "proof",
    "simple-err-proof-method-unknown-scheme.json": "proof",
    "simple-noproof.json": "proof",
}


@pytest.mark.parametrize(("name", "failing"), sorted(BROKEN.items()))
def test_broken_samples_fail_for_the_right_reason(name: str, failing: str) -> None:
    report = verify_sample(name)
    assert not report.valid
    assert failing in [c.id for c in report.failures], [c.as_dict() for c in report.checks]


def test_expired_sample_names_the_date() -> None:
    report = verify_sample("simple-err-expired.json")
    assert "Expired on" in report.check("validity").message


def test_bitstring_revoked_sample_fails_on_status() -> None:
    testlist = json.loads((OB30 / "bit-string-list" / "testlist").read_text())
    document = load("bit-string-list/credential-status-revoked.json")
    url = document["credentialStatus"]["statusListCredential"]
    report = verify_sample(
        "bit-string-list/credential-status-revoked.json", status_lists={url: testlist}
    )
    assert [c.id for c in report.failures] == ["status"]
    assert "revoked" in report.check("status").message.lower()


def test_status_list_from_another_issuer_is_not_believed() -> None:
    testlist = json.loads((OB30 / "bit-string-list" / "testlist").read_text())
    testlist["issuer"] = "https://evil.example/issuers/1"
    document = load("bit-string-list/credential-status-revoked.json")
    url = document["credentialStatus"]["statusListCredential"]
    report = verify_sample(
        "bit-string-list/credential-status-revoked.json", status_lists={url: testlist}
    )
    status = report.check("status")
    assert status.status is CheckStatus.FAIL
    assert "does not verify" in status.message or "not signed by" in status.message


def test_unreachable_issuer_key_fails_with_a_reason() -> None:
    text = (OB30 / "simple.json").read_text()
    report = verify_credential(text, VerificationOptions(resolver=ControllerDocumentResolver()))
    proof = report.check("proof")
    assert proof.status is CheckStatus.FAIL
    assert "offline" in proof.message.lower() or "resolve" in proof.message.lower()


def test_sample_files_exist() -> None:
    missing = [n for n in [*VALID, *BROKEN] if not Path(OB30 / n).is_file()]
    assert missing == []
