"""Issuer signing keys: generation, encryption at rest, public forms (JWK, Multikey) and the
controller document that publishes them.

Private keys are stored only as an encrypted envelope (AES-256-GCM under the key-encryption key
from configuration, with the key record's id as associated data), so a database dump alone does
not reveal them and one record's ciphertext cannot be swapped into another record. Nothing in
this module logs, prints or ``repr``s private material.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import InvalidInput, KeyProblem
from core.key_resolution import PublicKey, Signer
from core.multiformats import b64url_decode, b64url_encode, ed25519_public_multikey

if TYPE_CHECKING:
    from joserfc.jwk import Key as JoseKey

    from core.config import Settings

#: The signing algorithms an issuer key can have (``Signer.algorithm``).
KeyAlgorithm = Literal["Ed25519", "RS256", "ES256"]
KEY_ALGORITHMS: Final[tuple[str, ...]] = ("Ed25519", "RS256", "ES256")

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: JOSE ``alg`` used in JWTs for each key algorithm (Ed25519 signs as ``EdDSA``, the name
#: every VC-JWT verifier knows; RFC 9864's fully specified ``Ed25519`` is accepted on input).
JOSE_ALGORITHM: Final[dict[str, str]] = {"Ed25519": "EdDSA", "RS256": "RS256", "ES256": "ES256"}

#: RSA keys shorter than this are refused, both for our own keys and for keys we resolve.
MIN_RSA_BITS: Final = 2048
_RSA_GENERATED_BITS: Final = 2048

_ENVELOPE_VERSION: Final = "v1"
_KEK_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_AAD_PREFIX: Final = b"badgebridge/issuer-key/v1\x00"
_KEK_ID_LABEL: Final = b"badgebridge/kek-id/v1"
_B64URL: Final = re.compile(r"^[A-Za-z0-9_-]*$")


# --------------------------------------------------------------------------------------------
# Key-encryption key
# --------------------------------------------------------------------------------------------


class KeyEncryptionKey:
    """The 32-byte secret that encrypts issuer private keys at rest. Its ``repr`` shows only a
    short public fingerprint (``key_id``), never the secret."""

    __slots__ = ("_secret", "key_id")

    def __init__(self, secret: bytes) -> None:
        if len(secret) != _KEK_BYTES:
            raise KeyProblem(
                f"The key-encryption key must be exactly {_KEK_BYTES} bytes (got {len(secret)})."
            )
        self._secret = secret
        # A fingerprint stored in each envelope, so a wrong key-encryption key is reported as
        # such instead of as a corrupt ciphertext. An HMAC of a 256-bit secret reveals nothing.
        digest = hmac.new(secret, _KEK_ID_LABEL, hashlib.sha256).digest()
        self.key_id = b64url_encode(digest[:6])

    @classmethod
    def from_text(cls, text: str) -> KeyEncryptionKey:
        """Parse the configured form: base64url (padding optional) of 32 random bytes."""
        if not isinstance(text, str) or not text.strip():
            raise KeyProblem(
                "No key-encryption key is configured: set BADGEBRIDGE_KEY_ENCRYPTION_KEY to "
                "base64url text of 32 random bytes."
            )
        cleaned = text.strip().rstrip("=")
        if not _B64URL.match(cleaned):
            raise KeyProblem(
                "The key-encryption key is not base64url text (expected 43 characters of "
                "A-Z, a-z, 0-9, '-' and '_')."
            )
        try:
            secret = b64url_decode(cleaned)
        except InvalidInput as exc:
            raise KeyProblem("The key-encryption key is not valid base64url text.") from exc
        if len(secret) != _KEK_BYTES:
            raise KeyProblem(
                f"The key-encryption key must decode to {_KEK_BYTES} bytes, got {len(secret)}."
            )
        return cls(secret)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyEncryptionKey:
        """The key-encryption key from ``Settings.key_encryption_key``."""
        return cls.from_text(settings.key_encryption_key or "")

    def aead(self) -> AESGCM:
        """The AES-256-GCM cipher under this key."""
        return AESGCM(self._secret)

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(key_id={self.key_id!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("A key-encryption key cannot be pickled.")


def new_key_encryption_key() -> str:
    """A fresh key-encryption key in its configuration form (base64url, 43 characters)."""
    return b64url_encode(os.urandom(_KEK_BYTES))


def _as_kek(kek: KeyEncryptionKey | str) -> KeyEncryptionKey:
    return kek if isinstance(kek, KeyEncryptionKey) else KeyEncryptionKey.from_text(kek)


def _associated_data(key_id: str) -> bytes:
    if not isinstance(key_id, str) or not key_id:
        raise KeyProblem("A key record id is needed to encrypt or decrypt a private key.")
    return _AAD_PREFIX + key_id.encode("utf-8")


# --------------------------------------------------------------------------------------------
# Generation and encryption at rest
# --------------------------------------------------------------------------------------------


def generate_private_key(algorithm: str) -> PrivateKey:
    """A new private key for ``Ed25519``, ``RS256`` (RSA-2048) or ``ES256`` (P-256)."""
    if algorithm == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_GENERATED_BITS)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise KeyProblem(
        f"Unknown key algorithm {algorithm!r}: choose one of {', '.join(KEY_ALGORITHMS)}."
    )


def key_algorithm_of(key: PrivateKey | PublicKey) -> KeyAlgorithm:
    """The algorithm a private or public key signs with; raises :class:`KeyProblem` for keys
    we do not use (other curves, short RSA keys)."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyProblem(
                f"RSA key of {key.key_size} bits is too short (at least {MIN_RSA_BITS})."
            )
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyProblem(f"Elliptic curve {key.curve.name} is not supported (only P-256).")
        return "ES256"
    raise KeyProblem(f"Unsupported key type {type(key).__name__}.")


def encrypt_private_key(
    private_key: PrivateKey, *, key_id: str, kek: KeyEncryptionKey | str
) -> str:
    """Encrypt a private key for storage in the key record ``key_id``.

    Returns ``v1.<kek id>.<nonce>.<ciphertext>`` (base64url parts): AES-256-GCM over the
    PKCS#8 DER encoding, with a random 96-bit nonce and ``key_id`` bound as associated data.
    """
    key_algorithm_of(private_key)  # refuse keys we would not sign with
    kek_obj = _as_kek(kek)
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = kek_obj.aead().encrypt(nonce, der, _associated_data(key_id))
    return ".".join(
        (_ENVELOPE_VERSION, kek_obj.key_id, b64url_encode(nonce), b64url_encode(ciphertext))
    )


def decrypt_private_key(envelope: str, *, key_id: str, kek: KeyEncryptionKey | str) -> PrivateKey:
    """Decrypt an envelope made by :func:`encrypt_private_key` for the same ``key_id``.

    Raises :class:`KeyProblem` when the envelope is malformed, was made under another
    key-encryption key, was altered, or belongs to another key record.
    """
    kek_obj = _as_kek(kek)
    if not isinstance(envelope, str):
        raise KeyProblem("The stored private key is not text; the key record is damaged.")
    parts = envelope.split(".")
    if len(parts) != 4 or not all(_B64URL.match(p) for p in parts[1:]):
        raise KeyProblem("The stored private key is not a recognised encrypted envelope.")
    version, kek_id, nonce_text, ciphertext_text = parts
    if version != _ENVELOPE_VERSION:
        raise KeyProblem(
            f"The stored private key uses envelope version {version[:10]!r}, "
            f"which this version cannot read."
        )
    if not hmac.compare_digest(kek_id, kek_obj.key_id):
        raise KeyProblem(
            "The stored private key was encrypted under a different key-encryption key "
            f"(fingerprint {kek_id[:12]!r}; the configured one is {kek_obj.key_id!r}). "
            "Check BADGEBRIDGE_KEY_ENCRYPTION_KEY."
        )
    try:
        nonce = b64url_decode(nonce_text)
        ciphertext = b64url_decode(ciphertext_text)
    except InvalidInput as exc:
        raise KeyProblem("The stored private key envelope is not valid base64url.") from exc
    if len(nonce) != _NONCE_BYTES:
        raise KeyProblem("The stored private key envelope has a malformed nonce.")
    try:
        der = kek_obj.aead().decrypt(nonce, ciphertext, _associated_data(key_id))
    except InvalidTag as exc:
        raise KeyProblem(
            "The stored private key cannot be decrypted: the ciphertext was altered or "
            "belongs to another key record."
        ) from exc
    try:
        loaded = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyProblem("The decrypted private key is not a readable PKCS#8 key.") from exc
    if not isinstance(
        loaded, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    ):
        raise KeyProblem(
            f"The stored private key has an unsupported type ({type(loaded).__name__})."
        )
    key_algorithm_of(loaded)
    return loaded


def reencrypt_private_key(
    envelope: str,
    *,
    key_id: str,
    old_kek: KeyEncryptionKey | str,
    new_kek: KeyEncryptionKey | str,
) -> str:
    """Re-encrypt a stored private key under a new key-encryption key (for KEK rotation)."""
    private_key = decrypt_private_key(envelope, key_id=key_id, kek=old_kek)
    return encrypt_private_key(private_key, key_id=key_id, kek=new_kek)


# --------------------------------------------------------------------------------------------
# Public key forms
# --------------------------------------------------------------------------------------------


def _int_to_b64url(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(size, "big"))


def public_key_to_jwk(public_key: PublicKey) -> dict[str, str]:
    """The public JWK members (``kty`` and key parameters only) of a supported public key."""
    algorithm = key_algorithm_of(public_key)
    if algorithm == "Ed25519":
        raw = cast(ed25519.Ed25519PublicKey, public_key).public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    if algorithm == "RS256":
        numbers = cast(rsa.RSAPublicKey, public_key).public_numbers()
        return {"kty": "RSA", "n": _int_to_b64url(numbers.n), "e": _int_to_b64url(numbers.e)}
    point = cast(ec.EllipticCurvePublicKey, public_key).public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _int_to_b64url(point.x, 32),
        "y": _int_to_b64url(point.y, 32),
    }


#: JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2).
_PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _jwk_bytes(jwk: Mapping[str, Any], member: str) -> bytes:
    value = jwk.get(member)
    if not isinstance(value, str) or not value or not _B64URL.match(value.rstrip("=")):
        raise KeyProblem(f"The JWK member {member!r} is missing or not base64url text.")
    try:
        return b64url_decode(value.rstrip("="))
    except InvalidInput as exc:
        raise KeyProblem(f"The JWK member {member!r} is not valid base64url.") from exc


def public_key_from_jwk(jwk: Any) -> PublicKey:
    """A public key from a JWK (OKP Ed25519, RSA >= 2048 bits, EC P-256).

    A JWK carrying private members is refused: such a key has been disclosed and must not be
    trusted (and its private part is never echoed in the message).
    """
    if not isinstance(jwk, Mapping):
        raise KeyProblem("The JWK is not a JSON object.")
    if _PRIVATE_JWK_MEMBERS & set(jwk):
        raise KeyProblem(
            "The JWK contains private key material; a published key must be public only "
            "(a key disclosed this way must be treated as compromised)."
        )
    kty = jwk.get("kty")
    try:
        if kty == "OKP":
            if jwk.get("crv") != "Ed25519":
                raise KeyProblem(f"OKP curve {jwk.get('crv')!r} is not supported (only Ed25519).")
            raw = _jwk_bytes(jwk, "x")
            if len(raw) != 32:
                raise KeyProblem("An Ed25519 JWK must have a 32-byte 'x'.")
            return ed25519.Ed25519PublicKey.from_public_bytes(raw)
        if kty == "RSA":
            n = int.from_bytes(_jwk_bytes(jwk, "n"), "big")
            e = int.from_bytes(_jwk_bytes(jwk, "e"), "big")
            if n.bit_length() < MIN_RSA_BITS:
                raise KeyProblem(
                    f"RSA key of {n.bit_length()} bits is too short (at least {MIN_RSA_BITS})."
                )
            if e < 3 or e % 2 == 0:
                raise KeyProblem("The RSA public exponent is not valid.")
            return rsa.RSAPublicNumbers(e, n).public_key()
        if kty == "EC":
            if jwk.get("crv") != "P-256":
                raise KeyProblem(f"EC curve {jwk.get('crv')!r} is not supported (only P-256).")
            x, y = _jwk_bytes(jwk, "x"), _jwk_bytes(jwk, "y")
            if len(x) != 32 or len(y) != 32:
                raise KeyProblem("A P-256 JWK must have 32-byte 'x' and 'y'.")
            # from_encoded_point checks that the point lies on the curve.
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    except ValueError as exc:
        raise KeyProblem(f"The {kty} JWK does not describe a valid public key.") from exc
    raise KeyProblem(f"JWK key type {kty!r} is not supported (OKP Ed25519, RSA or EC P-256).")


def jwk_thumbprint(public_key: PublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint of a public key, base64url (a stable, shareable key name)."""
    members = public_key_to_jwk(public_key)
    required = {
        "OKP": ("crv", "kty", "x"),
        "RSA": ("e", "kty", "n"),
        "EC": ("crv", "kty", "x", "y"),
    }[members["kty"]]
    canonical = "{" + ",".join(f'"{name}":"{members[name]}"' for name in required) + "}"
    digest = hashes.Hash(hashes.SHA256())
    digest.update(canonical.encode("ascii"))
    return b64url_encode(digest.finalize())


def public_keys_equal(a: PublicKey, b: PublicKey) -> bool:
    """True when both are the same public key."""
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(der, spki) == b.public_bytes(der, spki)


def describe_public_key(public_key: PublicKey) -> str:
    """A short human description, e.g. ``RSA 2048-bit key (thumbprint …)``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        kind = f"RSA {public_key.key_size}-bit key"
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        kind = f"EC {public_key.curve.name} key"
    else:
        kind = "Ed25519 key"
    return f"{kind} (JWK thumbprint {jwk_thumbprint(public_key)})"


# --------------------------------------------------------------------------------------------
# Signing keys and published keys
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationKey:
    """A public key as published in a controller document: its verification method id,
    algorithm and key. Built from a stored key record without decrypting its private key."""

    verification_method: str
    algorithm: KeyAlgorithm
    public_key: PublicKey

    @classmethod
    def from_public_key(cls, verification_method: str, public_key: PublicKey) -> VerificationKey:
        """Wrap a public key, deriving its algorithm."""
        return cls(verification_method, key_algorithm_of(public_key), public_key)

    def public_jwk(self) -> dict[str, str]:
        """Public JWK with ``kid`` (the verification method id), ``alg`` and ``use``."""
        return _jwk_with_metadata(self.public_key, self.verification_method, self.algorithm)

    @property
    def public_key_multibase(self) -> str:
        """Multikey ``publicKeyMultibase`` (Ed25519 keys only)."""
        return _multikey_of(self.public_key, self.algorithm)


def _jwk_with_metadata(public_key: PublicKey, kid: str, algorithm: str) -> dict[str, str]:
    jwk = public_key_to_jwk(public_key)
    jwk.update({"kid": kid, "alg": JOSE_ALGORITHM[algorithm], "use": "sig"})
    return jwk


def _multikey_of(public_key: PublicKey, algorithm: str) -> str:
    if algorithm != "Ed25519" or not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise KeyProblem(f"Only Ed25519 keys have a Multikey form here, not {algorithm} keys.")
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return ed25519_public_multikey(raw)


class IssuerSigningKey:
    """An issuer's private key with its verification method id; implements
    :class:`core.key_resolution.Signer`.

    ``repr``/``str`` show the verification method and algorithm only; the private key is kept
    in a slot no generic serializer reads, and the object refuses to be pickled.
    """

    __slots__ = ("_algorithm", "_private_key", "_public_key", "_verification_method")

    def __init__(self, private_key: PrivateKey, verification_method: str) -> None:
        if not isinstance(verification_method, str) or not verification_method:
            raise KeyProblem("A signing key needs a verification method id.")
        self._algorithm: KeyAlgorithm = key_algorithm_of(private_key)
        self._private_key = private_key
        self._public_key: PublicKey = private_key.public_key()
        self._verification_method = verification_method

    @classmethod
    def generate(cls, algorithm: str, verification_method: str) -> IssuerSigningKey:
        """A new key of ``algorithm`` named ``verification_method``."""
        return cls(generate_private_key(algorithm), verification_method)

    @classmethod
    def from_encrypted(
        cls,
        envelope: str,
        *,
        key_id: str,
        kek: KeyEncryptionKey | str,
        verification_method: str,
    ) -> IssuerSigningKey:
        """Load a stored key: decrypt ``envelope`` (made for record ``key_id``)."""
        return cls(decrypt_private_key(envelope, key_id=key_id, kek=kek), verification_method)

    def encrypt(self, *, key_id: str, kek: KeyEncryptionKey | str) -> str:
        """The private key as an encrypted envelope for the key record ``key_id``."""
        return encrypt_private_key(self._private_key, key_id=key_id, kek=kek)

    @property
    def verification_method(self) -> str:
        """The verification method id (``did:web:…#key-1``, ``https://…#key-1``, ``did:key:…``)."""
        return self._verification_method

    @property
    def algorithm(self) -> str:
        """``Ed25519``, ``RS256`` or ``ES256``."""
        return self._algorithm

    @property
    def jose_algorithm(self) -> str:
        """The JOSE ``alg`` this key signs JWTs with (``EdDSA``, ``RS256``, ``ES256``)."""
        return JOSE_ALGORITHM[self._algorithm]

    @property
    def public_key(self) -> PublicKey:
        """The public half."""
        return self._public_key

    def verification_key(self) -> VerificationKey:
        """The public part, for controller documents and JWKS."""
        return VerificationKey(self._verification_method, self._algorithm, self._public_key)

    def sign(self, data: bytes) -> bytes:
        """Raw signature: Ed25519 64 bytes; ES256 r||s (64 bytes); RS256 PKCS#1 v1.5 SHA-256."""
        key = self._private_key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        if isinstance(key, rsa.RSAPrivateKey):
            from cryptography.hazmat.primitives.asymmetric import padding

            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def public_jwk(self) -> dict[str, str]:
        """Public JWK with ``kid`` (the verification method id), ``alg`` and ``use: sig``."""
        return _jwk_with_metadata(self._public_key, self._verification_method, self._algorithm)

    @property
    def public_key_multibase(self) -> str:
        """Multikey ``publicKeyMultibase`` (``z6Mk…``); Ed25519 keys only, else KeyProblem."""
        return _multikey_of(self._public_key, self._algorithm)

    def joserfc_key(self) -> JoseKey:
        """This private key as a joserfc key, for :mod:`core.proofs.vc_jwt` to sign with."""
        from joserfc.jwk import ECKey, OKPKey, RSAKey

        key = self._private_key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return OKPKey.import_key(key)
        if isinstance(key, rsa.RSAPrivateKey):
            return RSAKey.import_key(key)
        return ECKey.import_key(key)

    def __repr__(self) -> str:
        return (
            f"IssuerSigningKey(verification_method={self._verification_method!r}, "
            f"algorithm={self._algorithm!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("A signing key cannot be pickled; store it with encrypt().")


def _verification_keys(
    keys: Iterable[IssuerSigningKey | VerificationKey],
) -> list[VerificationKey]:
    out: list[VerificationKey] = []
    seen: set[str] = set()
    for key in keys:
        vk = key.verification_key() if isinstance(key, IssuerSigningKey) else key
        if vk.verification_method in seen:
            raise KeyProblem(f"Two keys share the verification method {vk.verification_method!r}.")
        seen.add(vk.verification_method)
        out.append(vk)
    return out


def public_jwks(keys: Iterable[IssuerSigningKey | VerificationKey]) -> dict[str, Any]:
    """A JWKS document (``{"keys": [...]}``) with the public JWK of each key."""
    return {"keys": [vk.public_jwk() for vk in _verification_keys(keys)]}


DID_V1_CONTEXT: Final = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1_CONTEXT: Final = "https://w3id.org/security/multikey/v1"
JWK_V1_CONTEXT: Final = "https://w3id.org/security/jwk/v1"


def controller_document(
    controller_id: str, verification_keys: Iterable[IssuerSigningKey | VerificationKey]
) -> dict[str, Any]:
    """The controller document (DID document for ``did:web``) publishing an issuer's keys.

    Pass every key that is not retired: older keys stay listed so credentials they signed keep
    verifying until the key is retired. Ed25519 keys appear as ``Multikey`` with
    ``publicKeyMultibase``; RSA and P-256 keys as ``JsonWebKey`` with ``publicKeyJwk``. Every
    key is listed (by id) under ``assertionMethod``; ids are absolute, which the 1EdTech
    validator requires. Each key id must be ``controller_id#fragment``.
    """
    if not isinstance(controller_id, str) or not controller_id or "#" in controller_id:
        raise KeyProblem(f"Not a usable controller id: {controller_id!r}.")
    keys = _verification_keys(verification_keys)
    methods: list[dict[str, Any]] = []
    uses_jwk = False
    for vk in keys:
        base, sep, fragment = vk.verification_method.partition("#")
        if base != controller_id or not sep or not fragment:
            raise KeyProblem(
                f"The key {vk.verification_method!r} is not named {controller_id}#<fragment>, "
                "so it cannot be published in this controller document."
            )
        method: dict[str, Any] = {
            "id": vk.verification_method,
            "type": "Multikey",
            "controller": controller_id,
        }
        if vk.algorithm == "Ed25519":
            method["publicKeyMultibase"] = vk.public_key_multibase
        else:
            uses_jwk = True
            method["type"] = "JsonWebKey"
            jwk = public_key_to_jwk(vk.public_key)
            jwk["alg"] = JOSE_ALGORITHM[vk.algorithm]
            method["publicKeyJwk"] = jwk
        methods.append(method)
    contexts = [DID_V1_CONTEXT, MULTIKEY_V1_CONTEXT]
    if uses_jwk:
        contexts.append(JWK_V1_CONTEXT)
    return {
        "@context": contexts,
        "id": controller_id,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }


if TYPE_CHECKING:
    # Checked by mypy: the signing key satisfies the protocol the proof modules sign with.
    def _implements_signer(key: IssuerSigningKey) -> Signer:
        return key
