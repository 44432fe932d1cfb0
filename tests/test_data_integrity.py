"""Data Integrity proofs: issuing, verifying, tampering, and the 1EdTech validator samples."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from core.errors import InvalidInput, KeyProblem, ProofProblem, UndefinedTerms, UnknownContext
from core.key_resolution import PublicKey, ResolvedKey
from core.multiformats import ed25519_public_from_multikey, multibase_encode
from core.proofs.data_integrity import ProofVerification, create_proof, verify_proof

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "standards" / "vectors"
OB30 = VECTORS / "1edtech-validator" / "ob30"
ISSUER = "https://example.edu/issuers/565049"
METHOD = f"{ISSUER}#key-1"
OTHER_METHOD = f"{ISSUER}#key-2"
SUITES = ["eddsa-rdfc-2022", "eddsa-jcs-2022"]
CREATED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

ISSUER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
STRANGER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _credential() -> dict[str, Any]:
    document: dict[str, Any] = _load_json(
        VECTORS / "ob3-impl-guide-eddsa-rdfc-2022" / "unsigned-credential.json"
    )
    return document


class KeySigner:
    """A test Signer around an Ed25519 private key."""

    def __init__(
        self,
        key: Ed25519PrivateKey = ISSUER_KEY,
        verification_method: str = METHOD,
        algorithm: str = "Ed25519",
    ) -> None:
        self._key = key
        self.verification_method = verification_method
        self.algorithm = algorithm

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


class TableResolver:
    """Resolves the verification methods it was given; anything else is a KeyProblem."""

    def __init__(
        self,
        keys: dict[str, PublicKey] | None = None,
        purposes: frozenset[str] = frozenset({"assertionMethod"}),
    ) -> None:
        public = ISSUER_KEY.public_key()
        self.keys = keys if keys is not None else {METHOD: public, OTHER_METHOD: public}
        self.purposes = purposes

    def resolve(self, verification_method: str) -> ResolvedKey:
        if verification_method not in self.keys:
            raise KeyProblem(f"No key is published at {verification_method}.")
        return ResolvedKey(
            id=verification_method,
            controller=verification_method.split("#", 1)[0],
            type="Multikey",
            public_key=self.keys[verification_method],
            purposes=self.purposes,
        )


class MultikeyResolver:
    """For the 1EdTech samples: ``did:key:z6Mk…`` or ``<controller>#z6Mk…`` (the fragment is
    the public Multikey). A real DID / https resolver lives in core.did."""

    def resolve(self, verification_method: str) -> ResolvedKey:
        if verification_method.startswith("did:key:"):
            controller = verification_method.split("#", 1)[0]
            multikey = controller.removeprefix("did:key:")
        elif "#" in verification_method and verification_method.startswith(
            ("https://", "did:web:")
        ):
            controller, multikey = verification_method.split("#", 1)
        else:
            raise KeyProblem(f"Cannot resolve {verification_method} in this test.")
        try:
            raw = ed25519_public_from_multikey(multikey)
        except InvalidInput as exc:
            raise KeyProblem(exc.message) from exc
        return ResolvedKey(
            id=verification_method,
            controller=controller,
            type="Multikey",
            public_key=Ed25519PublicKey.from_public_bytes(raw),
            purposes=frozenset({"assertionMethod"}),
        )


def _sign(suite: str = "eddsa-rdfc-2022", **kwargs: Any) -> dict[str, Any]:
    return create_proof(_credential(), KeySigner(), cryptosuite=suite, created=CREATED, **kwargs)


def _verify(document: dict[str, Any], **kwargs: Any) -> ProofVerification:
    return verify_proof(document, TableResolver(), **kwargs)


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_round_trip(suite: str) -> None:
    signed = _sign(suite)
    assert signed["proof"]["type"] == "DataIntegrityProof"
    assert signed["proof"]["cryptosuite"] == suite
    assert signed["proof"]["proofValue"].startswith("z")
    result = _verify(signed)
    assert result.ok, result.message
    assert result.cryptosuite == suite
    assert result.verification_method == METHOD
    assert result.controller == ISSUER
    assert result.proof_purpose == "assertionMethod"
    assert result.created == CREATED
    assert suite in result.message


@pytest.mark.parametrize("suite", SUITES)
def test_signing_leaves_the_input_untouched(suite: str) -> None:
    document = _credential()
    before = copy.deepcopy(document)
    create_proof(document, KeySigner(), cryptosuite=suite)
    assert document == before


def test_created_defaults_to_now_in_utc_seconds() -> None:
    signed = create_proof(_credential(), KeySigner())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", signed["proof"]["created"])


def test_created_with_another_timezone_is_written_in_utc() -> None:
    plus_two = datetime(2024, 5, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    signed = create_proof(_credential(), KeySigner(), created=plus_two)
    assert signed["proof"]["created"] == "2024-05-01T12:00:00Z"


def test_signing_a_signed_credential_makes_a_proof_set() -> None:
    once = _sign()
    twice = create_proof(once, KeySigner(verification_method=OTHER_METHOD), created=CREATED)
    assert isinstance(twice["proof"], list) and len(twice["proof"]) == 2
    for proof in twice["proof"]:
        alone = {**twice, "proof": proof}  # each proof signs the credential without proofs
        assert _verify(alone).ok


# --------------------------------------------------------------------------------------------
# Tampering
# --------------------------------------------------------------------------------------------


def _set_name(document: dict[str, Any]) -> None:
    document["name"] = "Leadership Badge"


def _set_type(document: dict[str, Any]) -> None:
    # (AchievementCredential would not do: the OB context maps it to the same IRI)
    document["type"] = ["VerifiableCredential", "EndorsementCredential"]


def _add_property(document: dict[str, Any]) -> None:
    document["description"] = "Added after signing."


def _remove_property(document: dict[str, Any]) -> None:
    del document["credentialSubject"]["achievement"]["description"]


def _change_issuer(document: dict[str, Any]) -> None:
    document["issuer"]["id"] = "https://evil.example/issuers/1"


def _change_created(document: dict[str, Any]) -> None:
    document["proof"]["created"] = "2024-05-02T12:00:00Z"


def _change_method(document: dict[str, Any]) -> None:
    document["proof"]["verificationMethod"] = OTHER_METHOD  # same key, other method id


def _replace_proof_value(document: dict[str, Any]) -> None:
    document["proof"]["proofValue"] = multibase_encode(ISSUER_KEY.sign(b"something else"))


TAMPERINGS: dict[str, Callable[[dict[str, Any]], None]] = {
    "value": _set_name,
    "type": _set_type,
    "added property": _add_property,
    "removed property": _remove_property,
    "issuer": _change_issuer,
    "proof created": _change_created,
    "verification method": _change_method,
    "proof value": _replace_proof_value,
}


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_tampering_after_signing_is_detected(suite: str, tampering: str) -> None:
    signed = _sign(suite)
    TAMPERINGS[tampering](signed)
    result = _verify(signed)
    assert not result.ok
    assert "signature does not match" in result.message


@pytest.mark.parametrize("suite", SUITES)
def test_another_key_fails(suite: str) -> None:
    signed = create_proof(_credential(), KeySigner(STRANGER_KEY), cryptosuite=suite)
    result = _verify(signed)
    assert not result.ok
    assert "signature does not match" in result.message


def test_a_different_proof_purpose_fails() -> None:
    signed = _sign(proof_purpose="authentication")
    result = _verify(signed)
    assert not result.ok
    assert "'authentication'" in result.message and "'assertionMethod'" in result.message


def test_a_key_not_listed_for_the_purpose_fails() -> None:
    signed = _sign(proof_purpose="authentication")
    result = _verify(signed, expected_purpose="authentication")
    assert not result.ok
    assert "not listed for authentication" in result.message


def test_a_proof_for_the_requested_purpose_verifies() -> None:
    signed = _sign(proof_purpose="authentication")
    resolver = TableResolver(purposes=frozenset({"authentication"}))
    assert verify_proof(signed, resolver, expected_purpose="authentication").ok


# --------------------------------------------------------------------------------------------
# Refusals when signing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_undefined_terms_are_refused_when_signing(suite: str) -> None:
    document = _credential()
    document["credentialSubject"]["favouriteColour"] = "green"
    with pytest.raises(UndefinedTerms) as caught:
        create_proof(document, KeySigner(), cryptosuite=suite)
    assert caught.value.terms == ["favouriteColour"]


@pytest.mark.parametrize("suite", SUITES)
def test_an_unknown_context_is_refused_when_signing(suite: str) -> None:
    document = _credential()
    document["@context"] = [*document["@context"], "https://example.org/ctx/v1"]
    with pytest.raises(UnknownContext):
        create_proof(document, KeySigner(), cryptosuite=suite)


def test_a_context_object_is_refused_when_signing() -> None:
    document = _credential()
    document["@context"] = {"@vocab": "https://example.org/"}
    with pytest.raises(InvalidInput) as caught:
        create_proof(document, KeySigner())
    assert "@context" in caught.value.message


def test_a_vc1_credential_without_the_data_integrity_context_is_refused() -> None:
    document = _load_json(OB30 / "simple-eddsa-2022.json")
    del document["proof"]
    document["@context"] = document["@context"][:2]  # drop data-integrity/v1
    with pytest.raises(ProofProblem) as caught:
        create_proof(document, KeySigner())
    assert "https://w3id.org/security/data-integrity/v2" in caught.value.message


def test_unsupported_cryptosuite_and_signer_are_refused() -> None:
    with pytest.raises(ProofProblem):
        create_proof(_credential(), KeySigner(), cryptosuite="ecdsa-rdfc-2019")
    with pytest.raises(ProofProblem) as caught:
        create_proof(_credential(), KeySigner(algorithm="ES256"))
    assert "Ed25519" in caught.value.message


def test_a_created_time_without_timezone_is_refused() -> None:
    with pytest.raises(ProofProblem):
        create_proof(_credential(), KeySigner(), created=datetime(2024, 5, 1, 12, 0))


# --------------------------------------------------------------------------------------------
# Readable failures when verifying
# --------------------------------------------------------------------------------------------


def test_no_proof() -> None:
    result = _verify(_credential())
    assert not result.ok
    assert "no proof" in result.message


def test_not_a_json_object() -> None:
    result = verify_proof("not a credential", TableResolver())  # type: ignore[arg-type]
    assert not result.ok


def test_an_unknown_proof_type_is_skipped_and_named() -> None:
    signed = _credential()
    signed["proof"] = {"type": "RsaSignature2018", "proofPurpose": "assertionMethod"}
    result = _verify(signed)
    assert not result.ok
    assert "RsaSignature2018" in result.message


def test_an_unknown_cryptosuite_is_named() -> None:
    signed = _sign()
    signed["proof"]["cryptosuite"] = "ecdsa-rdfc-2019"
    result = _verify(signed)
    assert not result.ok
    assert "ecdsa-rdfc-2019" in result.message


def test_a_proof_set_verifies_when_one_supported_proof_does() -> None:
    signed = _sign()
    signed["proof"] = [
        {"type": "SomeProofType", "proofPurpose": "assertionMethod"},
        signed["proof"],
    ]
    result = _verify(signed)
    assert result.ok, result.message
    assert "SomeProofType" in result.message


def test_a_proof_set_where_nothing_verifies_says_why_for_each() -> None:
    signed = _sign()
    good = signed["proof"]
    bad = {**good, "proofValue": multibase_encode(STRANGER_KEY.sign(b"x"))}
    signed["proof"] = [bad, {**good, "proofPurpose": "authentication"}]
    result = _verify(signed)
    assert not result.ok
    assert "proof 1" in result.message and "proof 2" in result.message


@pytest.mark.parametrize("created", ["yesterday", "2024-05-01T12:00:00", "2024-13-01T12:00:00Z", 5])
def test_a_malformed_created_value_fails(created: Any) -> None:
    signed = _sign()
    signed["proof"]["created"] = created
    result = _verify(signed)
    assert not result.ok
    assert "created" in result.message


def test_an_expired_proof_fails() -> None:
    signed = _sign()
    signed["proof"]["expires"] = "2001-01-01T00:00:00Z"
    result = _verify(signed)
    assert not result.ok
    assert "expired" in result.message


def test_an_unresolvable_method_reports_the_resolver_reason() -> None:
    signed = _sign()
    result = verify_proof(signed, TableResolver(keys={}))
    assert not result.ok
    assert "No key is published at" in result.message


def test_a_key_that_is_not_ed25519_fails() -> None:
    signed = _sign()
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    result = verify_proof(signed, TableResolver(keys={METHOD: p256}))
    assert not result.ok
    assert "not an Ed25519 key" in result.message


@pytest.mark.parametrize(
    ("proof_value", "words"),
    [
        ("uAAAA", "base58btc multibase"),
        ("z0OIl", "not valid base58btc"),
        ("z3yMApqCuCjXDWPrbjfR5mjCPTHqFG8Pux1TxQrEM35jj", "64"),
        (None, "no proofValue"),
    ],
)
def test_a_badly_encoded_proof_value_fails(proof_value: Any, words: str) -> None:
    signed = _sign()
    signed["proof"]["proofValue"] = proof_value
    result = _verify(signed)
    assert not result.ok
    assert words in result.message


def test_a_missing_purpose_or_method_fails() -> None:
    signed = _sign()
    del signed["proof"]["proofPurpose"]
    assert "no proofPurpose" in _verify(signed).message
    signed = _sign()
    del signed["proof"]["verificationMethod"]
    assert "no verificationMethod" in _verify(signed).message


@pytest.mark.parametrize("suite", SUITES)
def test_undefined_terms_fail_verification(suite: str) -> None:
    signed = _sign(suite)
    signed["credentialSubject"]["favouriteColour"] = "green"
    result = _verify(signed)
    assert not result.ok
    assert "favouriteColour" in result.message


def test_an_unknown_context_fails_verification() -> None:
    signed = _sign()
    signed["@context"] = [*signed["@context"], "https://example.org/ctx/v1"]
    result = _verify(signed)
    assert not result.ok
    assert "https://example.org/ctx/v1" in result.message


def test_a_context_object_fails_verification() -> None:
    signed = _sign()
    signed["@context"] = {"@vocab": "https://example.org/"}
    result = _verify(signed)
    assert not result.ok
    assert "@context" in result.message


def test_a_proof_context_that_does_not_match_the_credential_fails() -> None:
    signed = _sign("eddsa-jcs-2022")
    signed["proof"]["@context"] = ["https://www.w3.org/2018/credentials/v1"]
    result = _verify(signed)
    assert not result.ok
    assert "@context" in result.message


# --------------------------------------------------------------------------------------------
# 1EdTech validator samples (MANIFEST §3.4)
# --------------------------------------------------------------------------------------------

VALID_SAMPLES = [
    "simple.json",
    "simple-did-key-method.json",
    "simple-did-web-method.json",
    "simple-context-alias.json",
    "simple-context-version.json",
    "simple-multiple-proofs.json",
    "complete.json",
    "endorsement-valid.json",
    "simple-eddsa-2022.json",
    "simple_v1.json",
    "credential-status-revoked.json",
    "bit-string-list/testlist",
    "bit-string-list/credential-status-revoked.json",
    "bit-string-list/credential-status-revoked-blank-nodes.json",
    # these fail on semantics (dates, issuer), not on the signature
    "simple-err-expired.json",
    "simple-err-issued.json",
    "simple-err-issuer.json",
]

INVALID_SAMPLES = {
    "simple-err-proof-value.json": "signature does not match",
    "endorsement-err-schema-status-refresh.json": "signature does not match",
    "simple-err-context.json": "does not define",
    "simple-err-type.json": "OtherCredential",
    "simple-err-credential-subject-type.json": "achievement",
    "simple-err-credential-subject-profile-type.json": "InvalidProfile",
    "simple-err-credential-subject-result-type.json": "resultDescription",
    "simple-err-credential-subject-identifier-type.json": "identityHash",
    "simple-err-credential-subject-achievement-result-description-type.json": "resultType",
    "simple-err-evidence-type.json": "genre",
    "simple-err-issuer-type.json": "InvalidProfile",
    "simple-err-issuer-parentorg-type.json": "InvalidProfile",
    "simple-err-issuer-otheridentifier-type.json": "identifierType",
    "simple-err-proof-method.json": "cannot be resolved",
    "simple-err-proof-method-no-scheme.json": "not an absolute IRI",
    "simple-err-proof-method-unknown-did-method.json": "cannot be resolved",
    "simple-err-proof-method-unknown-scheme.json": "cannot be resolved",
    "simple-noproof.json": "no proof",
}


@pytest.mark.parametrize("name", VALID_SAMPLES)
def test_1edtech_sample_with_a_valid_signature(name: str) -> None:
    result = verify_proof(_load_json(OB30 / name), MultikeyResolver())
    assert result.ok, result.message


@pytest.mark.parametrize("name", INVALID_SAMPLES)
def test_1edtech_sample_that_fails(name: str) -> None:
    result = verify_proof(_load_json(OB30 / name), MultikeyResolver())
    assert not result.ok
    assert INVALID_SAMPLES[name] in result.message


def test_1edtech_legacy_suites_are_reported_by_name() -> None:
    eddsa_2022 = verify_proof(_load_json(OB30 / "simple-eddsa-2022.json"), MultikeyResolver())
    assert eddsa_2022.cryptosuite == "eddsa-2022"
    ed_sig = verify_proof(_load_json(OB30 / "simple_v1.json"), MultikeyResolver())
    assert ed_sig.cryptosuite == "Ed25519Signature2020"


def test_1edtech_sample_with_an_unknown_proof_type_says_it_skipped_it() -> None:
    result = verify_proof(_load_json(OB30 / "simple-multiple-proofs.json"), MultikeyResolver())
    assert result.ok
    assert "SomeProofType" in result.message


@pytest.mark.parametrize(
    "change",
    [
        {"cryptosuite": ["eddsa-rdfc-2022"]},
        {"type": {"nested": "object"}},
        {"previousProof": {"id": "urn:x"}},
        {"previousProof": [["urn:x"]]},
        {"id": {"not": "a string"}, "previousProof": "urn:x"},
        {"proofPurpose": ["assertionMethod"]},
        {"verificationMethod": {"id": METHOD}},
        {"created": {"year": 2024}},
        {"@context": 7},
    ],
)
def test_odd_proof_shapes_give_a_result_not_an_exception(change: dict[str, Any]) -> None:
    signed = _sign()
    signed["proof"] = {**signed["proof"], **change}
    result = _verify(signed)
    assert not result.ok
    assert result.message
