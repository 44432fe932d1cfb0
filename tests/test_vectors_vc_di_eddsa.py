"""W3C vc-di-eddsa Recommendation test vectors, reproduced byte for byte.

The vectors use the W3C example context (which has @vocab and is deliberately not bundled), so
these tests pass it as ``extra_contexts``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from core.errors import KeyProblem
from core.jsonld import canonicalize
from core.key_resolution import ResolvedKey
from core.multiformats import (
    ED25519_PRIV,
    ed25519_public_from_multikey,
    ed25519_public_multikey,
    multibase_decode,
)
from core.proofs.data_integrity import create_proof, verify_proof

STANDARDS = Path(__file__).resolve().parents[2] / "shared" / "standards"
VECTORS = STANDARDS / "vectors" / "vc-di-eddsa"
CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


EXAMPLE_CONTEXTS = {
    url: _load_json(STANDARDS / "contexts" / file)
    for url, file in _load_json(STANDARDS / "contexts" / "index.json")["contexts"].items()
    if "/examples/" in url
}


def _private_key(private_key_multibase: str) -> Ed25519PrivateKey:
    """keyPair.json: ``z`` + base58btc(0x8026 ‖ 32-byte seed) (MANIFEST §3.1)."""
    raw = multibase_decode(private_key_multibase)
    assert raw[:2] == ED25519_PRIV
    return Ed25519PrivateKey.from_private_bytes(raw[2:34])


class VectorSigner:
    """A test Signer around an Ed25519 private key."""

    algorithm = "Ed25519"

    def __init__(self, key: Ed25519PrivateKey, verification_method: str) -> None:
        self._key = key
        self.verification_method = verification_method

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


class DidKeyResolver:
    """Resolves ``did:key:z6Mk…#z6Mk…`` by decoding the multikey (assertionMethod only)."""

    def resolve(self, verification_method: str) -> ResolvedKey:
        did = verification_method.split("#", 1)[0]
        if not did.startswith("did:key:"):
            raise KeyProblem(f"Only did:key is resolvable in this test, not {verification_method}.")
        raw = ed25519_public_from_multikey(did.removeprefix("did:key:"))
        return ResolvedKey(
            id=verification_method,
            controller=did,
            type="Multikey",
            public_key=Ed25519PublicKey.from_public_bytes(raw),
            purposes=frozenset({"assertionMethod"}),
        )


KEY_PAIR = _load_json(VECTORS / "keyPair.json")
PRIVATE_KEY = _private_key(KEY_PAIR["privateKeyMultibase"])
PUBLIC_MULTIKEY = KEY_PAIR["publicKeyMultibase"]
METHOD = f"did:key:{PUBLIC_MULTIKEY}#{PUBLIC_MULTIKEY}"
UNSIGNED = _load_json(VECTORS / "unsigned.json")


def _sha256_hex(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def test_key_pair_decodes_to_the_published_public_key() -> None:
    raw_public = PRIVATE_KEY.public_key().public_bytes_raw()
    assert ed25519_public_multikey(raw_public) == PUBLIC_MULTIKEY


class TestEddsaRdfc2022:
    folder = VECTORS / "eddsa-rdfc-2022"

    def test_canonical_document_and_its_hash(self) -> None:
        canonical = canonicalize(UNSIGNED, extra_contexts=EXAMPLE_CONTEXTS)
        assert canonical == _text(self.folder / "canonDocDataInt.txt")
        assert _sha256_hex(canonical) == _text(self.folder / "docHashDataInt.txt").strip()

    def test_canonical_proof_configuration_and_its_hash(self) -> None:
        config = _load_json(self.folder / "proofConfigDataInt.json")
        canonical = canonicalize(config, extra_contexts=EXAMPLE_CONTEXTS)
        assert canonical == _text(self.folder / "proofCanonDataInt.txt")
        assert _sha256_hex(canonical) == _text(self.folder / "proofHashDataInt.txt").strip()

    def test_signature_over_the_combined_hash(self) -> None:
        combined = bytes.fromhex(_text(self.folder / "combinedHashDataInt.txt").strip())
        assert PRIVATE_KEY.sign(combined).hex() == _text(self.folder / "sigHexDataInt.txt").strip()

    def test_create_proof_reproduces_the_signed_credential(self) -> None:
        signed = create_proof(
            UNSIGNED,
            VectorSigner(PRIVATE_KEY, METHOD),
            cryptosuite="eddsa-rdfc-2022",
            created=CREATED,
            extra_contexts=EXAMPLE_CONTEXTS,
        )
        expected = _load_json(self.folder / "signedDataInt.json")
        assert signed == expected
        assert signed["proof"]["proofValue"] == _text(self.folder / "sigBTC58DataInt.txt").strip()

    def test_signed_credential_verifies(self) -> None:
        result = verify_proof(
            _load_json(self.folder / "signedDataInt.json"),
            DidKeyResolver(),
            extra_contexts=EXAMPLE_CONTEXTS,
        )
        assert result.ok, result.message
        assert result.cryptosuite == "eddsa-rdfc-2022"
        assert result.verification_method == METHOD
        assert result.controller == f"did:key:{PUBLIC_MULTIKEY}"
        assert result.proof_purpose == "assertionMethod"
        assert result.created == CREATED

    def test_without_the_example_context_it_cannot_be_verified(self) -> None:
        # The example context is not bundled: production refuses it instead of fetching it.
        result = verify_proof(_load_json(self.folder / "signedDataInt.json"), DidKeyResolver())
        assert not result.ok
        assert "https://www.w3.org/ns/credentials/examples/v2" in result.message


class TestEddsaJcs2022:
    folder = VECTORS / "eddsa-jcs-2022"

    def test_canonical_document_and_proof_configuration(self) -> None:
        document = rfc8785.dumps(UNSIGNED)
        assert document.decode("utf-8") == _text(self.folder / "canonDocJCS.txt")
        assert _sha256_hex(document) == _text(self.folder / "docHashJCS.txt").strip()
        config = rfc8785.dumps(_load_json(self.folder / "proofConfigJCS.json"))
        assert config.decode("utf-8") == _text(self.folder / "proofCanonJCS.txt")
        assert _sha256_hex(config) == _text(self.folder / "proofHashJCS.txt").strip()

    def test_create_proof_reproduces_the_signed_credential(self) -> None:
        signed = create_proof(
            UNSIGNED,
            VectorSigner(PRIVATE_KEY, METHOD),
            cryptosuite="eddsa-jcs-2022",
            created=CREATED,
            extra_contexts=EXAMPLE_CONTEXTS,
        )
        assert signed == _load_json(self.folder / "signedJCS.json")
        signature = multibase_decode(signed["proof"]["proofValue"])
        assert signature.hex() == _text(self.folder / "sigHexJCS.txt").strip()
        assert signed["proof"]["proofValue"] == _text(self.folder / "sigBTC58JCS.txt").strip()

    def test_signed_credential_verifies(self) -> None:
        result = verify_proof(
            _load_json(self.folder / "signedJCS.json"),
            DidKeyResolver(),
            extra_contexts=EXAMPLE_CONTEXTS,
        )
        assert result.ok, result.message
        assert result.cryptosuite == "eddsa-jcs-2022"

    def test_a_changed_value_is_detected(self) -> None:
        signed = _load_json(self.folder / "signedJCS.json")
        signed["credentialSubject"]["alumniOf"] = "Another School"
        result = verify_proof(signed, DidKeyResolver(), extra_contexts=EXAMPLE_CONTEXTS)
        assert not result.ok
        assert "signature does not match" in result.message


class TestEd25519Signature2020:
    folder = VECTORS / "Ed25519Signature2020"

    def test_canonical_forms_and_signature(self) -> None:
        signed = _load_json(self.folder / "signedEdSig.json")
        document = {key: value for key, value in signed.items() if key != "proof"}
        canonical_document = canonicalize(document, extra_contexts=EXAMPLE_CONTEXTS)
        assert canonical_document == _text(self.folder / "canonDocEdSig.txt")
        config = _load_json(self.folder / "proofConfigEdSig.json")
        canonical_proof = canonicalize(config, extra_contexts=EXAMPLE_CONTEXTS)
        assert canonical_proof == _text(self.folder / "proofCanonEdSig.txt")
        combined = _sha256_hex(canonical_proof) + _sha256_hex(canonical_document)
        assert combined == _text(self.folder / "combinedHashEdSig.txt").strip()
        signature = PRIVATE_KEY.sign(bytes.fromhex(combined))
        assert signature.hex() == _text(self.folder / "sigHexEdSig.txt").strip()

    def test_signed_credential_verifies(self) -> None:
        result = verify_proof(
            _load_json(self.folder / "signedEdSig.json"),
            DidKeyResolver(),
            extra_contexts=EXAMPLE_CONTEXTS,
        )
        assert result.ok, result.message
        assert result.cryptosuite == "Ed25519Signature2020"
        assert result.proof_type == "Ed25519Signature2020"

    def test_a_changed_value_is_detected(self) -> None:
        signed = _load_json(self.folder / "signedEdSig.json")
        signed["name"] = "Forged Credential"
        result = verify_proof(signed, DidKeyResolver(), extra_contexts=EXAMPLE_CONTEXTS)
        assert not result.ok


class TestProofSetsAndChains:
    folder = VECTORS / "proof-set-chain"

    @pytest.mark.parametrize(
        "name",
        [
            "signedProofSet1.json",
            "signedProofSet2.json",
            "signedProofChain1.json",
            "signedProofChain2.json",
        ],
    )
    def test_signed_documents_verify(self, name: str) -> None:
        result = verify_proof(
            _load_json(self.folder / name), DidKeyResolver(), extra_contexts=EXAMPLE_CONTEXTS
        )
        assert result.ok, result.message

    def test_create_proof_reproduces_the_proof_set(self) -> None:
        pairs = _load_json(self.folder / "multiKeyPairs.json")
        document = _load_json(self.folder / "unsigned.json")
        for number in (1, 2):
            pair = pairs[f"keyPair{number}"]
            config = _load_json(self.folder / f"proofSetConfig{number}.json")
            signer = VectorSigner(
                _private_key(pair["privateKeyMultibase"]), config["verificationMethod"]
            )
            document = create_proof(
                document,
                signer,
                created=CREATED,
                proof_id=config["id"],
                extra_contexts=EXAMPLE_CONTEXTS,
            )
        assert document == _load_json(self.folder / "signedProofSet2.json")

    def test_every_chained_proof_covers_the_proofs_it_names(self) -> None:
        chain = _load_json(self.folder / "signedProofChain2.json")
        for index in range(len(chain["proof"])):
            # Keep one proof plus what it names: it still verifies on its own.
            proof = chain["proof"][index]
            named = proof.get("previousProof", [])
            named = [named] if isinstance(named, str) else named
            kept = [p for p in chain["proof"] if p.get("id") in named] + [proof]
            document = {**chain, "proof": kept}
            result = verify_proof(document, DidKeyResolver(), extra_contexts=EXAMPLE_CONTEXTS)
            assert result.ok, (index, result.message)

    def test_a_chained_proof_whose_previous_proofs_were_changed_fails(self) -> None:
        chain = _load_json(self.folder / "signedProofChain1.json")
        earlier, chained = chain["proof"][:2], chain["proof"][2]
        for proof in earlier:
            proof["created"] = "2023-03-01T00:00:00Z"
        # The earlier proofs now fail on their own, and the chained one signed them as they
        # were, so nothing verifies.
        document = {**chain, "proof": [*earlier, chained]}
        result = verify_proof(document, DidKeyResolver(), extra_contexts=EXAMPLE_CONTEXTS)
        assert not result.ok
        assert result.message.startswith("No proof verifies")
        assert result.message.count("signature does not match") == 3

    def test_a_missing_previous_proof_is_reported(self) -> None:
        chain = _load_json(self.folder / "signedProofChain1.json")
        last = chain["proof"][-1]
        document = {**chain, "proof": [last]}
        result = verify_proof(document, DidKeyResolver(), extra_contexts=EXAMPLE_CONTEXTS)
        assert not result.ok
        assert "previousProof" in result.message
