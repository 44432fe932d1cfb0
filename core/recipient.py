"""Recipient identities: matching a person against a badge's (possibly hashed) recipient.

Covers the Open Badges 2.0 ``recipient`` object (``identity``, ``type``, ``hashed``, ``salt``)
and the Open Badges 3.0 ``IdentityObject`` (``identityHash``, ``identityType``, ``hashed``,
``salt``). A hashed identity is ``<algorithm>$<hex digest>`` of the identity followed by the
salt; ``sha256`` and (2.0 only, for old badges) ``md5`` are understood.

Email normalisation: email addresses are compared and hashed after stripping surrounding
whitespace and lower-casing (``str.lower``, not ``casefold``, so that hashes agree with other
implementations). Because some issuers hashed the address exactly as typed, matching tries the
address as given (stripped) *and* lower-cased. Other identity types (URLs, telephone numbers,
ids) are only stripped, never lower-cased.

Comparisons use :func:`hmac.compare_digest`, and every candidate form is compared, so the time
taken does not reveal which form (or how much of a digest) matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any

from core.errors import InvalidInput

#: Identity types whose values are email addresses (2.0 ``email``, 3.0 ``emailAddress``).
EMAIL_IDENTITY_TYPES = frozenset({"email", "emailaddress"})

_HEX_LENGTH = {"sha256": 64, "md5": 32}
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def _is_email_type(identity_type: str | None, *values: str) -> bool:
    if identity_type is not None:
        return identity_type.strip().lower() in EMAIL_IDENTITY_TYPES
    # No type given: treat it as an email when it looks like one (no URL scheme, one @).
    return any(v.count("@") == 1 and ":" not in v for v in values)


def normalise_identity(identity: str, identity_type: str | None = "email") -> str:
    """The form an identity is hashed in: stripped, and lower-cased when it is an email."""
    if not isinstance(identity, str):
        raise InvalidInput("A recipient identity must be a string.")
    stripped = identity.strip()
    return stripped.lower() if _is_email_type(identity_type, stripped) else stripped


def _candidate_forms(candidate: str, email: bool) -> list[str]:
    stripped = candidate.strip()
    if not stripped:
        return []
    forms = [stripped]
    if email and stripped.lower() != stripped:
        forms.append(stripped.lower())
    return forms


def _split_hash(value: str) -> tuple[str, str]:
    algorithm, sep, digest = value.strip().partition("$")
    algorithm = algorithm.lower()
    if not sep:
        raise InvalidInput(
            "The recipient is marked as hashed but its identity is not of the form "
            "'sha256$<hex digest>'."
        )
    if algorithm not in _HEX_LENGTH:
        raise InvalidInput(
            f"Unsupported recipient hash algorithm {algorithm!r}: only sha256 and md5 are used "
            "by Open Badges."
        )
    if len(digest) != _HEX_LENGTH[algorithm] or not _HEX.match(digest):
        raise InvalidInput(
            f"The recipient's {algorithm} hash is not a {_HEX_LENGTH[algorithm]}-character "
            "hexadecimal digest."
        )
    return algorithm, digest.lower()


def _hex_digest(algorithm: str, text: str) -> str:
    if algorithm == "md5":
        # md5 only to recognise old 2.0 badges; never used for issuing.
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def identity_matches(
    identity_hash_or_plain: str,
    salt: str | None,
    hashed: bool,
    candidate: str,
    *,
    identity_type: str | None = None,
) -> bool:
    """Whether ``candidate`` (e.g. an email address) is the badge's recipient.

    ``identity_hash_or_plain`` is the badge's ``identity`` (2.0) or ``identityHash`` (3.0);
    when ``hashed`` it must be ``sha256$<hex>`` or ``md5$<hex>`` of identity + ``salt``
    (``salt`` may be ``None`` for unsalted hashes). ``identity_type`` (``email``,
    ``emailAddress``, ``url``, ...) decides whether email normalisation applies; when it is
    ``None`` a value that looks like an email address is treated as one.

    Raises :class:`InvalidInput` when the stored identity is malformed (unknown algorithm,
    not a hex digest, not a string). An empty candidate never matches.
    """
    if not isinstance(identity_hash_or_plain, str):
        raise InvalidInput("The recipient identity must be a string.")
    if not isinstance(candidate, str):
        raise InvalidInput("The identity to compare must be a string.")
    if salt is not None and not isinstance(salt, str):
        raise InvalidInput("The recipient salt must be a string.")
    if not isinstance(hashed, bool):
        raise InvalidInput("The recipient 'hashed' flag must be true or false.")

    if hashed:
        algorithm, expected = _split_hash(identity_hash_or_plain)
        forms = _candidate_forms(candidate, _is_email_type(identity_type, candidate.strip()))
        matched = False
        for form in forms:
            computed = _hex_digest(algorithm, form + (salt or ""))
            # Evaluate every form (no short-circuit) so timing does not depend on which matched.
            matched |= hmac.compare_digest(computed.encode("ascii"), expected.encode("ascii"))
        return matched

    stored = identity_hash_or_plain.strip()
    wanted = candidate.strip()
    if not stored or not wanted:
        return False
    if _is_email_type(identity_type, stored, wanted):
        stored, wanted = stored.lower(), wanted.lower()
    return hmac.compare_digest(stored.encode("utf-8"), wanted.encode("utf-8"))


def recipient_matches(recipient: Mapping[str, Any], candidate: str) -> bool:
    """Whether ``candidate`` is the recipient described by a 2.0 ``recipient`` object or a 3.0
    ``IdentityObject``. Raises :class:`InvalidInput` when the object is malformed."""
    if not isinstance(recipient, Mapping):
        raise InvalidInput("The recipient must be a JSON object.")
    if "identityHash" in recipient:  # Open Badges 3.0 IdentityObject
        identity, type_key = recipient.get("identityHash"), "identityType"
    else:  # Open Badges 2.0 recipient
        identity, type_key = recipient.get("identity"), "type"
    if not isinstance(identity, str) or not identity.strip():
        raise InvalidInput("The recipient has no identity (a non-empty string).")
    hashed = recipient.get("hashed", False)
    if not isinstance(hashed, bool):
        raise InvalidInput("The recipient 'hashed' flag must be true or false.")
    salt = recipient.get("salt")
    if salt is not None and not isinstance(salt, str):
        raise InvalidInput("The recipient salt must be a string.")
    identity_type = recipient.get(type_key)
    if identity_type is not None and not isinstance(identity_type, str):
        raise InvalidInput(f"The recipient {type_key} must be a string.")
    return identity_matches(identity, salt, hashed, candidate, identity_type=identity_type)


def credential_subject_matches(subject: Mapping[str, Any], candidate: str) -> bool:
    """Whether ``candidate`` is the subject of an Open Badges 3.0 credential.

    Matches any ``IdentityObject`` in ``credentialSubject.identifier`` (see
    :func:`recipient_matches`) or the subject ``id`` itself (exactly, or as ``mailto:`` plus an
    email address, compared case-insensitively). Raises :class:`InvalidInput` when the subject
    has neither, or when an identifier is malformed.
    """
    if not isinstance(subject, Mapping):
        raise InvalidInput("The credentialSubject must be a JSON object.")
    if not isinstance(candidate, str):
        raise InvalidInput("The identity to compare must be a string.")
    identifiers = subject.get("identifier")
    if identifiers is None:
        identifiers = []
    elif not isinstance(identifiers, list):
        identifiers = [identifiers]
    subject_id = subject.get("id")
    if not identifiers and not isinstance(subject_id, str):
        raise InvalidInput(
            "The credentialSubject has neither an id nor an identifier to compare with."
        )
    matched = False
    for identifier in identifiers:
        if not isinstance(identifier, Mapping):
            raise InvalidInput("Each credentialSubject identifier must be an IdentityObject.")
        matched |= recipient_matches(identifier, candidate)
    if isinstance(subject_id, str) and subject_id.strip():
        wanted = candidate.strip()
        if subject_id.lower().startswith("mailto:"):
            matched |= identity_matches(
                subject_id[len("mailto:") :],
                None,
                False,
                wanted.removeprefix("mailto:"),
                identity_type="email",
            )
        else:
            matched |= identity_matches(subject_id, None, False, wanted, identity_type="id")
    return matched


def new_salt() -> str:
    """A fresh random salt (32 hex characters) for hashing a recipient identity."""
    return secrets.token_hex(16)


def hash_identity(identity: str, salt: str | None, *, identity_type: str = "email") -> str:
    """``sha256$<hex>`` of the normalised identity followed by ``salt``, for issuing.

    Emails are stripped and lower-cased first (see the module notes); other identity types are
    only stripped. Raises :class:`InvalidInput` for an empty identity.
    """
    if salt is not None and not isinstance(salt, str):
        raise InvalidInput("The salt must be a string.")
    normalised = normalise_identity(identity, identity_type)
    if not normalised:
        raise InvalidInput("Cannot hash an empty recipient identity.")
    return "sha256$" + _hex_digest("sha256", normalised + (salt or ""))
