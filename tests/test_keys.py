"""Issuer keys: generation, encryption at rest, public forms and controller documents."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyld import jsonld

from core.config import Settings
from core.errors import BadgeBridgeError, KeyProblem
from core.key_resolution import PublicKey
from core.keys import (
    IssuerSigningKey,
    KeyEncryptionKey,
    VerificationKey,
    controller_document,
    decrypt_private_key,
    encrypt_private_key,
    generate_private_key,
    jwk_thumbprint,
    new_key_encryption_key,
    public_jwks,
    public_key_from_jwk,
    public_keys_equal,
    reencrypt_private_key,
)
from core.multiformats import b64url_decode, b64url_encode

ALGORITHMS = ["Ed25519", "RS256", "ES256"]
ISSUER = "did:web:badges.example.org:issuers:42"
CONTEXTS = Path(__file__).resolve().parents[1] / "core" / "contexts"


@pytest.fixture(scope="module")
def signing_keys() -> dict[str, IssuerSigningKey]:
    return {
        alg: IssuerSigningKey.generate(alg, f"{ISSUER}#key-{alg.lower()}") for alg in ALGORITHMS
    }


@pytest.fixture(scope="module")
def kek() -> str:
    return new_key_encryption_key()


def _verify_raw(public_key: PublicKey, algorithm: str, signature: bytes, data: bytes) -> None:
    """Verify a raw signature with cryptography; raises InvalidSignature on mismatch."""
    if algorithm == "Ed25519":
        assert isinstance(public_key, ed25519.Ed25519PublicKey)
        public_key.verify(signature, data)
    elif algorithm == "RS256":
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        assert len(signature) == 64
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))


def _private_der(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


# ---------------------------------------------------------------- generation and encryption


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_encrypted_key_round_trip_signs_verifiably(
    algorithm: str, signing_keys: dict[str, IssuerSigningKey], kek: str
) -> None:
    key = signing_keys[algorithm]
    envelope = key.encrypt(key_id="key-record-1", kek=kek)
    assert envelope.startswith("v1.")

    loaded = IssuerSigningKey.from_encrypted(
        envelope, key_id="key-record-1", kek=kek, verification_method=key.verification_method
    )
    assert loaded.algorithm == algorithm
    assert public_keys_equal(loaded.public_key, key.public_key)
    data = b"credential bytes to sign"
    _verify_raw(key.public_key, algorithm, loaded.sign(data), data)


def test_generated_keys_have_the_promised_shapes() -> None:
    assert isinstance(generate_private_key("Ed25519"), ed25519.Ed25519PrivateKey)
    rsa_key = generate_private_key("RS256")
    assert isinstance(rsa_key, rsa.RSAPrivateKey) and rsa_key.key_size == 2048
    ec_key = generate_private_key("ES256")
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey)
    assert isinstance(ec_key.curve, ec.SECP256R1)
    with pytest.raises(KeyProblem, match="Unknown key algorithm 'HS256'"):
        generate_private_key("HS256")


def test_each_encryption_uses_a_fresh_nonce(kek: str) -> None:
    key = generate_private_key("Ed25519")
    first = encrypt_private_key(key, key_id="k", kek=kek)
    second = encrypt_private_key(key, key_id="k", kek=kek)
    assert first != second
    assert first.split(".")[2] != second.split(".")[2]


def test_envelope_does_not_contain_the_private_key(kek: str) -> None:
    key = generate_private_key("Ed25519")
    envelope = encrypt_private_key(key, key_id="k", kek=kek)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    ciphertext = b64url_decode(envelope.split(".")[3])
    assert raw not in ciphertext
    assert b64url_encode(raw) not in envelope


def test_wrong_key_encryption_key_fails_clearly(kek: str) -> None:
    envelope = encrypt_private_key(generate_private_key("ES256"), key_id="k", kek=kek)
    other = new_key_encryption_key()
    with pytest.raises(KeyProblem, match="different key-encryption key") as caught:
        decrypt_private_key(envelope, key_id="k", kek=other)
    assert other not in caught.value.message
    assert kek not in caught.value.message


def test_tampered_ciphertext_fails_clearly(kek: str) -> None:
    envelope = encrypt_private_key(generate_private_key("Ed25519"), key_id="k", kek=kek)
    version, kek_id, nonce, ciphertext = envelope.split(".")
    data = bytearray(b64url_decode(ciphertext))
    data[5] ^= 0x01
    tampered = ".".join((version, kek_id, nonce, b64url_encode(bytes(data))))
    with pytest.raises(KeyProblem, match="altered or belongs to another key record"):
        decrypt_private_key(tampered, key_id="k", kek=kek)


def test_tampered_nonce_fails_clearly(kek: str) -> None:
    envelope = encrypt_private_key(generate_private_key("Ed25519"), key_id="k", kek=kek)
    version, kek_id, nonce, ciphertext = envelope.split(".")
    flipped = bytearray(b64url_decode(nonce))
    flipped[0] ^= 0x80
    tampered = ".".join((version, kek_id, b64url_encode(bytes(flipped)), ciphertext))
    with pytest.raises(KeyProblem, match="cannot be decrypted"):
        decrypt_private_key(tampered, key_id="k", kek=kek)


def test_ciphertext_cannot_be_moved_to_another_key_record(kek: str) -> None:
    envelope = encrypt_private_key(generate_private_key("RS256"), key_id="issuer-1/key-1", kek=kek)
    with pytest.raises(KeyProblem, match="another key record"):
        decrypt_private_key(envelope, key_id="issuer-2/key-1", kek=kek)
    # the right record still decrypts it
    decrypt_private_key(envelope, key_id="issuer-1/key-1", kek=kek)


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        ("", "not a recognised encrypted envelope"),
        ("v1.only.three", "not a recognised encrypted envelope"),
        ("v1.a.b.c!d", "not a recognised encrypted envelope"),
        ("v9.abc.def.ghi", "envelope version 'v9'"),
    ],
)
def test_malformed_envelopes_fail_clearly(envelope: str, expected: str, kek: str) -> None:
    with pytest.raises(KeyProblem, match=expected):
        decrypt_private_key(envelope, key_id="k", kek=kek)


def test_key_encryption_key_can_be_rotated(kek: str) -> None:
    private_key = generate_private_key("ES256")
    envelope = encrypt_private_key(private_key, key_id="k", kek=kek)
    new_kek = new_key_encryption_key()
    rotated = reencrypt_private_key(envelope, key_id="k", old_kek=kek, new_kek=new_kek)
    restored = decrypt_private_key(rotated, key_id="k", kek=new_kek)
    assert _private_der(restored) == _private_der(private_key)
    with pytest.raises(KeyProblem, match="different key-encryption key"):
        decrypt_private_key(rotated, key_id="k", kek=kek)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "No key-encryption key is configured"),
        ("not base64 at all!", "not base64url"),
        (b64url_encode(b"x" * 16), "must decode to 32 bytes, got 16"),
    ],
)
def test_bad_key_encryption_keys_are_refused_without_echoing_them(text: str, expected: str) -> None:
    with pytest.raises(KeyProblem, match=expected) as caught:
        KeyEncryptionKey.from_text(text)
    if text:
        assert text not in caught.value.message


def test_key_encryption_key_from_settings(tmp_path: Path) -> None:
    secret = new_key_encryption_key()
    settings = Settings(
        data_dir=tmp_path,
        database_url="sqlite://",
        base_url="https://badges.example.org",
        key_encryption_key=secret,
        allow_private_fetch=False,
        fetch_timeout_seconds=5.0,
    )
    kek = KeyEncryptionKey.from_settings(settings)
    assert len(b64url_decode(secret)) == 32
    envelope = encrypt_private_key(generate_private_key("Ed25519"), key_id="k", kek=kek)
    decrypt_private_key(envelope, key_id="k", kek=secret)  # same key, given as text

    unset = Settings(**{**settings.__dict__, "key_encryption_key": None})
    with pytest.raises(KeyProblem, match="BADGEBRIDGE_KEY_ENCRYPTION_KEY"):
        KeyEncryptionKey.from_settings(unset)


# ---------------------------------------------------------------- no private material leaks


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_private_material_is_not_in_repr_or_str(
    algorithm: str, signing_keys: dict[str, IssuerSigningKey]
) -> None:
    key = signing_keys[algorithm]
    shown = repr(key) + str(key) + f"{key}"
    assert key.verification_method in shown
    der = _private_der(key._private_key)
    assert b64url_encode(der)[:40] not in shown
    assert der.hex()[:40] not in shown
    assert "PRIVATE" not in shown
    assert "d" not in key.public_jwk()
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)


def test_key_encryption_key_repr_shows_only_a_fingerprint() -> None:
    text = new_key_encryption_key()
    kek = KeyEncryptionKey.from_text(text)
    assert text not in repr(kek) and text not in str(kek)
    assert kek.key_id in repr(kek)
    with pytest.raises(TypeError):
        pickle.dumps(kek)


# ---------------------------------------------------------------- public forms


def test_public_jwk_has_kid_alg_and_use(signing_keys: dict[str, IssuerSigningKey]) -> None:
    expected = {
        "Ed25519": ("OKP", "EdDSA"),
        "RS256": ("RSA", "RS256"),
        "ES256": ("EC", "ES256"),
    }
    for algorithm, key in signing_keys.items():
        jwk = key.public_jwk()
        assert (jwk["kty"], jwk["alg"]) == expected[algorithm]
        assert jwk["kid"] == key.verification_method
        assert jwk["use"] == "sig"
        assert public_keys_equal(public_key_from_jwk(jwk), key.public_key)


def test_multikey_only_for_ed25519(signing_keys: dict[str, IssuerSigningKey]) -> None:
    assert signing_keys["Ed25519"].public_key_multibase.startswith("z6Mk")
    with pytest.raises(KeyProblem, match="Only Ed25519 keys"):
        _ = signing_keys["RS256"].public_key_multibase


def test_jwks_lists_every_key_and_refuses_duplicate_ids(
    signing_keys: dict[str, IssuerSigningKey],
) -> None:
    jwks = public_jwks(signing_keys.values())
    assert [k["kid"] for k in jwks["keys"]] == [
        k.verification_method for k in signing_keys.values()
    ]
    assert all("d" not in k for k in jwks["keys"])
    json.dumps(jwks)  # serialisable as is
    twin = VerificationKey.from_public_key(
        signing_keys["Ed25519"].verification_method, signing_keys["ES256"].public_key
    )
    with pytest.raises(KeyProblem, match="share the verification method"):
        public_jwks([signing_keys["Ed25519"], twin])


def test_rfc7638_thumbprint_vector() -> None:
    # RFC 7638 §3.1 example key and thumbprint
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(public_key_from_jwk(jwk)) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    ("jwk", "expected"),
    [
        ({"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"}, "private key material"),
        ({"kty": "OKP", "crv": "X25519", "x": "AA"}, "only Ed25519"),
        ({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(b"\x01" * 31)}, "32-byte"),
        ({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}, "only P-256"),
        (
            {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url_encode(b"\x01" * 32),
                "y": b64url_encode(b"\x02" * 32),
            },
            "not describe a valid public key",
        ),
        ({"kty": "oct", "k": "c2VjcmV0"}, "private key material"),
        ({"kty": "RSA", "n": "not*base64", "e": "AQAB"}, "'n' is missing or not base64url"),
        ("a string", "not a JSON object"),
    ],
)
def test_unusable_jwks_are_refused(jwk: Any, expected: str) -> None:
    with pytest.raises(KeyProblem, match=expected):
        public_key_from_jwk(jwk)


def test_short_rsa_keys_are_refused() -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    with pytest.raises(KeyProblem, match="1024 bits is too short"):
        public_key_from_jwk(public_key_to_jwk_unchecked(short))
    with pytest.raises(KeyProblem, match="too short"):
        IssuerSigningKey(
            rsa.generate_private_key(public_exponent=65537, key_size=1024), f"{ISSUER}#old"
        )


def public_key_to_jwk_unchecked(key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    return {
        "kty": "RSA",
        "n": b64url_encode(numbers.n.to_bytes(size, "big")),
        "e": b64url_encode(numbers.e.to_bytes(3, "big")),
    }


# ---------------------------------------------------------------- controller documents


def test_controller_document_publishes_each_key_for_assertion(
    signing_keys: dict[str, IssuerSigningKey],
) -> None:
    doc = controller_document(ISSUER, signing_keys.values())
    assert doc["id"] == ISSUER
    assert doc["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
        "https://w3id.org/security/jwk/v1",
    ]
    methods = {m["id"]: m for m in doc["verificationMethod"]}
    ed = methods[signing_keys["Ed25519"].verification_method]
    assert ed["type"] == "Multikey"
    assert ed["controller"] == ISSUER
    assert ed["publicKeyMultibase"] == signing_keys["Ed25519"].public_key_multibase
    for algorithm in ("RS256", "ES256"):
        method = methods[signing_keys[algorithm].verification_method]
        assert method["type"] == "JsonWebKey"
        assert "d" not in method["publicKeyJwk"]
        assert public_keys_equal(
            public_key_from_jwk(method["publicKeyJwk"]), signing_keys[algorithm].public_key
        )
    # absolute string references, as the 1EdTech validator reads them
    assert doc["assertionMethod"] == [k.verification_method for k in signing_keys.values()]


def test_ed25519_only_document_needs_no_jwk_context(
    signing_keys: dict[str, IssuerSigningKey],
) -> None:
    doc = controller_document(ISSUER, [signing_keys["Ed25519"]])
    assert "https://w3id.org/security/jwk/v1" not in doc["@context"]


def test_controller_document_refuses_keys_of_another_controller(
    signing_keys: dict[str, IssuerSigningKey],
) -> None:
    with pytest.raises(KeyProblem, match="cannot be published"):
        controller_document("did:web:other.example", signing_keys.values())
    with pytest.raises(KeyProblem, match="Not a usable controller id"):
        controller_document(f"{ISSUER}#key-1", [])


def _bundled_loader(url: str, options: Any = None) -> dict[str, Any]:
    index = json.loads((CONTEXTS / "index.json").read_text())["contexts"]
    if url not in index:
        raise BadgeBridgeError(f"context {url} not bundled")
    document = json.loads((CONTEXTS / index[url]).read_text())
    return {"contextUrl": None, "documentUrl": url, "document": document}


def test_controller_document_is_valid_json_ld_with_bundled_contexts(
    signing_keys: dict[str, IssuerSigningKey],
) -> None:
    doc = controller_document(ISSUER, signing_keys.values())
    expanded = jsonld.expand(doc, {"documentLoader": _bundled_loader})
    text = json.dumps(expanded)
    # every key survives expansion (no term silently dropped)
    assert text.count("https://w3id.org/security#publicKeyMultibase") == 1
    assert text.count("https://w3id.org/security#publicKeyJwk") == 2
    assert text.count("https://w3id.org/security#assertionMethod") == 1
