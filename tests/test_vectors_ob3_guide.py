"""The Open Badges 3.0 Implementation Guide's eddsa-rdfc-2022 test vector, byte for byte."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from core.errors import KeyProblem
from core.jsonld import canonicalize
from core.key_resolution import ResolvedKey
from core.multiformats import ED25519_PRIV, ed25519_public_from_multikey, multibase_decode
from core.proofs.data_integrity import create_proof, verify_proof

VECTOR = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "standards"
    / "vectors"
    / "ob3-impl-guide-eddsa-rdfc-2022"
)


def _load_json(name: str) -> Any:
    return json.loads((VECTOR / name).read_text(encoding="utf-8"))


UNSIGNED = _load_json("unsigned-credential.json")
SIGNED = _load_json("signed-credential.json")
PROOF_OPTIONS = _load_json("proof-options.json")
HASHES = _load_json("hashes.json")
KEY = _load_json("key.json")


def _private_key() -> Ed25519PrivateKey:
    """secretKeyMultibase: 0x8026 ‖ seed ‖ public key (the older 64-byte form, MANIFEST §3.2)."""
    raw = multibase_decode(KEY["secretKeyMultibase"])
    assert raw[:2] == ED25519_PRIV and len(raw) == 66
    return Ed25519PrivateKey.from_private_bytes(raw[2:34])


class GuideSigner:
    algorithm = "Ed25519"
    verification_method = KEY["id"]

    def sign(self, data: bytes) -> bytes:
        return _private_key().sign(data)


class FragmentKeyResolver:
    """``<controller>#z6Mk…``: the fragment is the public Multikey (assertionMethod only)."""

    def resolve(self, verification_method: str) -> ResolvedKey:
        controller, _, fragment = verification_method.partition("#")
        if not fragment.startswith("z6Mk"):
            raise KeyProblem(f"No Multikey fragment in {verification_method}.")
        return ResolvedKey(
            id=verification_method,
            controller=controller,
            type="Multikey",
            public_key=Ed25519PublicKey.from_public_bytes(ed25519_public_from_multikey(fragment)),
            purposes=frozenset({"assertionMethod"}),
        )


def _canonical_proof_options() -> str:
    return canonicalize({**PROOF_OPTIONS, "@context": UNSIGNED["@context"]})


def test_key_material_is_consistent() -> None:
    public = _private_key().public_key().public_bytes_raw()
    assert public.hex() == KEY["publicKeyHex"]
    assert ed25519_public_from_multikey(KEY["publicKeyMultibase"]) == public


def test_canonical_document_is_byte_identical() -> None:
    expected = (VECTOR / "document-canon.nq").read_bytes()
    assert canonicalize(UNSIGNED).encode("utf-8") == expected


def test_canonical_proof_options_are_byte_identical() -> None:
    expected = (VECTOR / "proof-canon.nq").read_bytes()
    assert _canonical_proof_options().encode("utf-8") == expected


def test_hashes_and_data_to_sign() -> None:
    document_hash = hashlib.sha256(canonicalize(UNSIGNED).encode("utf-8")).hexdigest()
    proof_hash = hashlib.sha256(_canonical_proof_options().encode("utf-8")).hexdigest()
    assert document_hash == HASHES["documentHashHex"]
    assert proof_hash == HASHES["proofHashHex"]
    assert proof_hash + document_hash == HASHES["dataToSignHex"]


def test_signature_and_proof_value_reproduce() -> None:
    signed = create_proof(
        UNSIGNED, GuideSigner(), created=datetime(2010, 1, 1, 19, 23, 24, tzinfo=UTC)
    )
    assert signed == SIGNED
    signature = multibase_decode(signed["proof"]["proofValue"])
    assert signature.hex() == HASHES["signatureHex"]
    assert signed["proof"]["proofValue"] == HASHES["proofValue"]


def test_signed_credential_verifies() -> None:
    result = verify_proof(SIGNED, FragmentKeyResolver())
    assert result.ok, result.message
    assert result.controller == "https://example.edu/issuers/565049"
    assert result.verification_method == KEY["id"]
    assert result.created == datetime(2010, 1, 1, 19, 23, 24, tzinfo=UTC)


def test_signing_leaves_the_input_untouched() -> None:
    before = json.dumps(UNSIGNED, sort_keys=True)
    create_proof(UNSIGNED, GuideSigner())
    assert json.dumps(UNSIGNED, sort_keys=True) == before
