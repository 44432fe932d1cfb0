"""Multibase (base58btc ``z``, base64url ``u``) and the multicodec prefixes used by Multikey."""

from __future__ import annotations

import base64

import base58

from core.errors import InvalidInput

#: multicodec varint prefixes
ED25519_PUB = b"\xed\x01"
ED25519_PRIV = b"\x80\x26"
P256_PUB = b"\x80\x24"


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; raises :class:`InvalidInput`."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidInput("Not valid base64url text.") from exc


def multibase_encode(data: bytes, base: str = "z") -> str:
    """Encode with a multibase prefix: ``z`` base58btc or ``u`` base64url."""
    if base == "z":
        return "z" + base58.b58encode(data).decode("ascii")
    if base == "u":
        return "u" + b64url_encode(data)
    raise ValueError(f"unsupported multibase {base!r}")


def multibase_decode(text: str) -> bytes:
    """Decode a ``z`` (base58btc) or ``u`` (base64url) multibase string."""
    if not text:
        raise InvalidInput("Empty multibase value.")
    prefix, body = text[0], text[1:]
    if prefix == "z":
        try:
            return bytes(base58.b58decode(body))
        except ValueError as exc:
            raise InvalidInput("Not valid base58btc text.") from exc
    if prefix == "u":
        return b64url_decode(body)
    raise InvalidInput(f"Unsupported multibase prefix {prefix!r}.")


def ed25519_public_multikey(raw_public_key: bytes) -> str:
    """``publicKeyMultibase`` of an Ed25519 key: ``z`` + base58btc(0xed01 ‖ key)."""
    return multibase_encode(ED25519_PUB + raw_public_key)


def ed25519_public_from_multikey(value: str) -> bytes:
    """The 32 raw bytes of an Ed25519 ``publicKeyMultibase``; raises :class:`InvalidInput`."""
    data = multibase_decode(value)
    if not data.startswith(ED25519_PUB) or len(data) != 34:
        raise InvalidInput("Not an Ed25519 Multikey (expected multicodec 0xed01 and 32 bytes).")
    return data[2:]
