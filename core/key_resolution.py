"""What proofs need from keys: a signer to sign, a resolver to find the public key of a
verification method. Implemented by :mod:`core.keys` and :mod:`core.did`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

PublicKey = Ed25519PublicKey | RSAPublicKey | EllipticCurvePublicKey


@dataclass(frozen=True)
class ResolvedKey:
    """A verification method resolved to a usable public key.

    ``purposes`` lists the verification relationships under which the controller document
    lists this method (``assertionMethod``, ``authentication``, ...).
    """

    id: str
    controller: str
    type: str
    public_key: PublicKey
    purposes: frozenset[str]


class KeyResolver(Protocol):
    """Resolves a verification method id (``did:key:…#…``, ``did:web:…#…``, ``https://…#…``)."""

    def resolve(self, verification_method: str) -> ResolvedKey:
        """Return the key, or raise :class:`core.errors.KeyProblem` with a readable reason."""
        ...


class Signer(Protocol):
    """Signs bytes with a private key. ``algorithm`` is ``Ed25519``, ``RS256`` or ``ES256``."""

    @property
    def verification_method(self) -> str: ...

    @property
    def algorithm(self) -> str: ...

    def sign(self, data: bytes) -> bytes:
        """Raw signature (Ed25519: 64 bytes; ES256: r||s, 64 bytes; RS256: PKCS#1 v1.5)."""
        ...
