"""VC-JWT: Open Badges 3.0 credentials secured as a compact JWS (OB 3.0 §8.2 "JSON Web Token
Proof Format", VC-JOSE-COSE). Signing and signature checks are done by joserfc.

Issuing: the payload is the credential itself (VC Data Model 2.0 form) plus the registered
claims ``iss`` (issuer id), ``sub`` (credentialSubject.id), ``jti`` (credential id), ``nbf`` and
``iat`` (validFrom) and ``exp`` (validUntil). A VC 1.1 credential (``credentials/v1`` context) is
put under the ``vc`` claim instead, with the claims taken from issuanceDate/expirationDate.

Verifying: both forms are accepted. The key comes from ``kid`` through a
:class:`core.key_resolution.KeyResolver`, or from a ``jwk`` in the header; the result says which
key was used and whether it was shown to belong to the issuer.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from core.errors import BadgeBridgeError, InvalidInput, KeyProblem, ProofProblem
from core.json_input import parse_json_object
from core.key_resolution import KeyResolver, PublicKey, ResolvedKey
from core.keys import (
    JOSE_ALGORITHM,
    IssuerSigningKey,
    describe_public_key,
    key_algorithm_of,
    public_key_from_jwk,
    public_key_to_jwk,
    public_keys_equal,
)
from core.limits import MAX_CREDENTIAL_BYTES
from core.multiformats import b64url_decode

VC_V1_CONTEXT: Final = "https://www.w3.org/2018/credentials/v1"
VC_V2_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"

#: RFC 7519 §4.1 registered claim names: envelope data, not part of the credential.
REGISTERED_CLAIMS: Final = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti")

#: JOSE ``alg`` accepted for each key algorithm (RFC 9864 ``Ed25519`` as well as ``EdDSA``).
_ALGS_FOR_KEY: Final[dict[str, frozenset[str]]] = {
    "Ed25519": frozenset({"EdDSA", "Ed25519"}),
    "RS256": frozenset({"RS256"}),
    "ES256": frozenset({"ES256"}),
}
_ACCEPTED_ALGS: Final = frozenset().union(*_ALGS_FOR_KEY.values())
#: ``typ`` values that mean "a JWT carrying a credential" (RFC 8725 §3.11 explicit typing).
_CREDENTIAL_TYPS: Final = frozenset(
    {"jwt", "vc+jwt", "vc+ld+jwt", "vc+ld+json+jwt", "application/vc+jwt", "application/jwt"}
)
_B64URL_SEGMENT: Final = re.compile(r"^[A-Za-z0-9_-]*$")
_MAX_HEADER_BYTES: Final = 16_384

HeaderProfile = Literal["ob3", "vc-jose-cose"]
KeyReference = Literal["kid", "jwk", "kid+jwk"]


class _Registry(jws.JWSRegistry):
    """A JWS registry allowing exactly one algorithm, sized for credentials, tolerant of extra
    header members (VC-JOSE-COSE tokens carry ``cty``, ``iss`` …; we check the header ourselves).
    """

    def __init__(self, algorithm: str) -> None:
        super().__init__(algorithms=[algorithm], strict_check_header=False)
        self.max_header_length = _MAX_HEADER_BYTES
        self.max_payload_length = MAX_CREDENTIAL_BYTES
        self.max_signature_length = 1024

    def get_alg(self, name: str) -> JWSAlgModel:
        # The base class emits a SecurityWarning for EdDSA (RFC 9864 prefers "Ed25519"); we
        # accept both on purpose, and the allow-list above is what keeps the choice safe.
        if not self.allowed or name not in self.allowed or name not in self.algorithms:
            raise JoseError(f"Algorithm {name!r} is not allowed here.")
        return self.algorithms[name]


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def _parse_datetime(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise ProofProblem(f"{name} must be an XML Schema dateTime text.")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ProofProblem(f"{name} {value[:40]!r} is not a valid dateTime.") from exc
    if parsed.tzinfo is None:
        # A dateTime without an offset is read as UTC (what VC verifiers commonly do).
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _numeric_date(value: Any, name: str) -> int:
    """Seconds since the epoch, floored (JWT NumericDate)."""
    return math.floor(_parse_datetime(value, name).timestamp())


def _iso_from_numeric(value: float) -> str:
    return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Credential fields
# --------------------------------------------------------------------------------------------


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, str):
        return issuer
    if isinstance(issuer, Mapping) and isinstance(issuer.get("id"), str):
        return str(issuer["id"])
    return None


def _subject_ids(credential: Mapping[str, Any]) -> list[str]:
    subject = credential.get("credentialSubject")
    subjects = subject if isinstance(subject, list) else [subject]
    return [
        str(s["id"]) for s in subjects if isinstance(s, Mapping) and isinstance(s.get("id"), str)
    ]


def _contexts(credential: Mapping[str, Any]) -> list[Any]:
    context = credential.get("@context")
    return context if isinstance(context, list) else [context]


def _is_vc_v1(credential: Mapping[str, Any]) -> bool:
    contexts = _contexts(credential)
    return bool(contexts) and contexts[0] == VC_V1_CONTEXT


# --------------------------------------------------------------------------------------------
# Issuing
# --------------------------------------------------------------------------------------------


def encode_vc_jwt(
    credential: dict[str, Any],
    key: IssuerSigningKey,
    *,
    audience: str | None = None,
    header_profile: HeaderProfile = "ob3",
    key_reference: KeyReference = "kid",
) -> str:
    """Sign ``credential`` as a compact VC-JWT with ``key``.

    ``header_profile="ob3"`` writes the JOSE header OB 3.0 §8.2.3 allows (``alg``, ``kid``,
    ``typ: "JWT"``; "additional JOSE headers are NOT allowed"). ``"vc-jose-cose"`` writes
    ``typ: "vc+jwt", cty: "vc"`` as VC-JOSE-COSE recommends. ``key_reference`` chooses ``kid``
    (the verification method id), the public ``jwk``, or both; the 1EdTech validator fetches a
    ``kid`` that is an https URL as a bare JWK, so https issuers that want to pass it should use
    ``"jwk"`` (or a did:web ``kid``). Raises :class:`ProofProblem` when the credential lacks what
    the claims need (issuer id, id, validFrom / issuanceDate).
    """
    if not isinstance(credential, dict):
        raise ProofProblem("The credential to sign must be a JSON object.")
    issuer = _issuer_id(credential)
    if not issuer:
        raise ProofProblem("The credential has no issuer id, so the JWT cannot have 'iss'.")
    credential_id = credential.get("id")
    if not isinstance(credential_id, str) or not credential_id:
        raise ProofProblem("The credential has no id, so the JWT cannot have 'jti'.")
    v1 = _is_vc_v1(credential)
    start_name, end_name = ("issuanceDate", "expirationDate") if v1 else ("validFrom", "validUntil")
    if start_name not in credential:
        raise ProofProblem(f"The credential has no {start_name}, so the JWT cannot have 'nbf'.")
    subject_ids = _subject_ids(credential)
    if len(subject_ids) > 1:
        raise ProofProblem("A VC-JWT has one 'sub': the credential has several subject ids.")

    claims: dict[str, Any] = {"iss": issuer, "jti": credential_id}
    if subject_ids:
        claims["sub"] = subject_ids[0]
    claims["nbf"] = claims["iat"] = _numeric_date(credential[start_name], start_name)
    if end_name in credential:
        claims["exp"] = _numeric_date(credential[end_name], end_name)
    if audience is not None:
        claims["aud"] = audience

    if v1:
        payload: dict[str, Any] = {"vc": credential, **claims}
    else:
        clashing = [name for name in REGISTERED_CLAIMS if name in credential]
        if clashing:
            raise ProofProblem(
                "The credential already has JWT claim names at its top level: "
                + ", ".join(clashing)
            )
        payload = {**credential, **claims}

    header: dict[str, Any] = {"alg": key.jose_algorithm}
    if key_reference in ("kid", "kid+jwk"):
        header["kid"] = key.verification_method
    if key_reference in ("jwk", "kid+jwk"):
        header["jwk"] = public_key_to_jwk(key.public_key)
    elif key_reference != "kid":
        raise ProofProblem(f"Unknown key reference {key_reference!r}.")
    if header_profile == "ob3":
        header["typ"] = "JWT"
    elif header_profile == "vc-jose-cose":
        header.update({"typ": "vc+jwt", "cty": "vc"})
    else:
        raise ProofProblem(f"Unknown JOSE header profile {header_profile!r}.")

    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_CREDENTIAL_BYTES:
        raise ProofProblem(
            f"The credential is too large for a VC-JWT ({len(body):,} bytes; "
            f"limit {MAX_CREDENTIAL_BYTES:,})."
        )
    try:
        return jws.serialize_compact(
            header, body, key.joserfc_key(), registry=_Registry(key.jose_algorithm)
        )
    except JoseError as exc:
        raise ProofProblem(f"Could not sign the VC-JWT: {exc}") from exc


# --------------------------------------------------------------------------------------------
# Verifying
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JwtVerification:
    """The outcome of :func:`decode_vc_jwt`.

    ``ok`` is True when the signature is valid and the claims agree with the credential.
    ``credential`` is the credential (registered JWT claims removed; for the VC 1.1 form, the
    ``vc`` claim completed from ``iss``/``sub``/``jti``/``nbf``/``exp``). ``key_source`` says
    where the key came from (``"kid"`` or ``"header-jwk"``), ``key_description`` which key it
    was, and ``issuer_key_confirmed`` whether it was shown to be one of the issuer's keys.
    ``warnings`` lists deviations that did not fail the check (e.g. a missing ``sub``).
    Time validity (``nbf``/``exp`` against now) is left to the credential's date checks;
    ``exp`` is copied into validUntil/expirationDate for them.
    """

    ok: bool
    message: str
    credential: dict[str, Any] | None = None
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    kid: str | None = None
    algorithm: str | None = None
    form: Literal["vc2", "vc1.1"] | None = None
    key_source: Literal["kid", "header-jwk"] | None = None
    key_id: str | None = None
    key_description: str | None = None
    issuer_key_confirmed: bool = False
    warnings: tuple[str, ...] = ()


class _Refused(Exception):
    """Internal: stop verification with a readable message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _decode_segment(segment: str, what: str) -> bytes:
    if not segment:
        raise _Refused(f"The JWT {what} is empty.")
    if not _B64URL_SEGMENT.match(segment) or len(segment) % 4 == 1:
        raise _Refused(f"The JWT {what} is not valid base64url (no padding is allowed).")
    try:
        return b64url_decode(segment)
    except InvalidInput as exc:
        raise _Refused(f"The JWT {what} is not valid base64url.") from exc


def _split_token(token: Any) -> tuple[str, str, str]:
    if not isinstance(token, str | bytes):
        raise _Refused("A VC-JWT must be text.")
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError as exc:
            raise _Refused("Not a JWT: it contains non-ASCII bytes.") from exc
    if len(token) > MAX_CREDENTIAL_BYTES:
        raise _Refused(
            f"The JWT is too large: {len(token):,} characters (limit {MAX_CREDENTIAL_BYTES:,})."
        )
    text = token.strip()
    parts = text.split(".")
    if len(parts) == 5:
        raise _Refused("This is an encrypted JWT (JWE); only signed JWTs (JWS) are accepted.")
    if len(parts) != 3:
        raise _Refused(
            f"Not a JWT: expected 3 dot-separated parts (header.payload.signature), "
            f"found {len(parts)}."
        )
    return parts[0], parts[1], parts[2]


def _check_header(header: dict[str, Any]) -> str:
    """Validate the JOSE header; return its ``alg``."""
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise _Refused("The JWT header has no 'alg'.")
    if alg.lower() == "none":
        raise _Refused("Unsigned JWT (alg 'none') refused: a credential must be signed.")
    if alg.upper().startswith("HS"):
        raise _Refused(
            f"JWT algorithm {alg!r} (a shared-secret MAC) refused: a credential must be signed "
            "with the issuer's private key."
        )
    if alg not in _ACCEPTED_ALGS:
        raise _Refused(
            f"JWT algorithm {alg[:20]!r} is not supported (RS256, ES256, EdDSA/Ed25519 are)."
        )
    if "crit" in header:
        raise _Refused("The JWT header marks extensions as critical ('crit'); none are supported.")
    if header.get("b64", True) is not True:
        raise _Refused("Unencoded JWT payloads ('b64': false) are not supported.")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _CREDENTIAL_TYPS):
        raise _Refused(
            f"The JWT header 'typ' is {str(typ)[:40]!r}, which is not a credential JWT "
            "(expected 'JWT' or 'vc+jwt')."
        )
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        raise _Refused("The JWT header 'kid' must be non-empty text.")
    if "jwk" in header and not isinstance(header["jwk"], dict):
        raise _Refused("The JWT header 'jwk' must be a JSON object.")
    return alg


def _check_alg_matches(alg: str, public_key: PublicKey, where: str) -> None:
    try:
        key_alg = key_algorithm_of(public_key)
    except KeyProblem as exc:
        raise _Refused(f"The {where} cannot be used: {exc.message}") from exc
    if alg not in _ALGS_FOR_KEY[key_alg]:
        raise _Refused(
            f"The JWT says alg {alg!r}, but the {where} is a {key_alg} key "
            f"(which signs with {JOSE_ALGORITHM[key_alg]})."
        )


def _joserfc_public_key(public_key: PublicKey) -> Key:
    jwk: dict[str, str | list[str]] = dict(public_key_to_jwk(public_key))
    if jwk["kty"] == "RSA":
        return RSAKey.import_key(jwk)
    if jwk["kty"] == "EC":
        return ECKey.import_key(jwk)
    return OKPKey.import_key(jwk)


def _verify_signature(token: str, alg: str, public_key: PublicKey) -> None:
    try:
        jws.deserialize_compact(token, _joserfc_public_key(public_key), registry=_Registry(alg))
    except BadSignatureError as exc:
        raise _Refused(
            "The JWT signature is not valid: the token was altered, or it was signed with a "
            "different key."
        ) from exc
    except JoseError as exc:
        raise _Refused(f"The JWT could not be verified: {exc.description or exc.error}.") from exc
    except ValueError as exc:
        raise _Refused("The JWT could not be verified: it is malformed.") from exc


@dataclass
class _Checked:
    credential: dict[str, Any]
    form: Literal["vc2", "vc1.1"]
    warnings: list[str]


def _numeric_claim(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Refused(f"The JWT claim {name!r} must be a NumericDate (seconds since 1970).")
    if not 0 <= value < 253402300800:  # year 10000
        raise _Refused(f"The JWT claim {name!r} is out of range.")
    return float(value)


def _string_claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise _Refused(f"The JWT claim {name!r} must be text.")
    return value


def _same_second(value: Any, numeric: float, name: str) -> bool:
    try:
        return math.floor(_parse_datetime(value, name).timestamp()) == math.floor(numeric)
    except ProofProblem as exc:
        raise _Refused(f"The credential's {exc.message}") from exc


def _check_claims(claims: dict[str, Any]) -> _Checked:
    """Match the registered claims with the credential; build the credential to return."""
    iss = _string_claim(claims, "iss")
    sub = _string_claim(claims, "sub")
    jti = _string_claim(claims, "jti")
    nbf = _numeric_claim(claims, "nbf")
    exp = _numeric_claim(claims, "exp")
    _numeric_claim(claims, "iat")
    warnings: list[str] = []

    vc_claim = claims.get("vc")
    if vc_claim is not None:
        if not isinstance(vc_claim, dict):
            raise _Refused("The JWT 'vc' claim is not a JSON object.")
        if "@context" in claims:
            raise _Refused(
                "The JWT has both a 'vc' claim and a top-level credential; it is ambiguous."
            )
        form: Literal["vc2", "vc1.1"] = "vc1.1"
        credential = dict(vc_claim)
    elif "@context" in claims or "type" in claims or "credentialSubject" in claims:
        form = "vc2"
        credential = {k: v for k, v in claims.items() if k not in REGISTERED_CLAIMS}
    else:
        raise _Refused("The JWT does not carry a credential (no 'vc' claim, no @context).")

    v1_dates = form == "vc1.1" and _is_vc_v1(credential)
    start_name, end_name = (
        ("issuanceDate", "expirationDate") if v1_dates else ("validFrom", "validUntil")
    )

    # iss ↔ issuer id
    issuer = _issuer_id(credential)
    if iss is None:
        warnings.append("The JWT has no 'iss' claim (OB 3.0 requires it).")
    elif issuer is None:
        if form == "vc1.1" and "issuer" not in credential:
            credential["issuer"] = iss
        else:
            raise _Refused("The credential has no issuer id to match the JWT 'iss' claim.")
    elif iss != issuer:
        raise _Refused(
            f"The JWT 'iss' claim ({iss[:120]!r}) is not the credential's issuer ({issuer[:120]!r})."
        )

    # jti ↔ id
    credential_id = credential.get("id")
    if jti is None:
        warnings.append("The JWT has no 'jti' claim (OB 3.0 requires it).")
    elif credential_id is None:
        if form == "vc1.1":
            credential["id"] = jti
        else:
            warnings.append("The credential has no id; the JWT 'jti' claim names it.")
    elif jti != credential_id:
        raise _Refused(
            f"The JWT 'jti' claim ({jti[:120]!r}) is not the credential id "
            f"({str(credential_id)[:120]!r})."
        )

    # sub ↔ credentialSubject.id
    subject_ids = _subject_ids(credential)
    if sub is None:
        if subject_ids:
            warnings.append(
                "The JWT has no 'sub' claim for the credential subject (OB 3.0 requires it)."
            )
    elif subject_ids:
        if sub not in subject_ids:
            raise _Refused(
                f"The JWT 'sub' claim ({sub[:120]!r}) is not the credential subject's id "
                f"({subject_ids[0][:120]!r})."
            )
    else:
        subject = credential.get("credentialSubject")
        if form == "vc1.1" and isinstance(subject, dict):
            credential["credentialSubject"] = {**subject, "id": sub}
        else:
            warnings.append("The credential subject has no id; the JWT 'sub' claim names one.")

    # nbf ↔ validFrom / issuanceDate
    if nbf is None:
        warnings.append("The JWT has no 'nbf' claim (OB 3.0 requires it).")
    elif start_name in credential:
        if not _same_second(credential[start_name], nbf, start_name):
            raise _Refused(
                f"The JWT 'nbf' claim ({_iso_from_numeric(nbf)}) is not the credential's "
                f"{start_name} ({str(credential[start_name])[:40]})."
            )
    elif form == "vc1.1":
        credential[start_name] = _iso_from_numeric(nbf)
    else:
        warnings.append(f"The credential has no {start_name}; the JWT 'nbf' claim gives one.")

    # exp ↔ validUntil / expirationDate (OB 3.0: exp sets validUntil)
    if exp is not None:
        if end_name in credential:
            if not _same_second(credential[end_name], exp, end_name):
                raise _Refused(
                    f"The JWT 'exp' claim ({_iso_from_numeric(exp)}) is not the credential's "
                    f"{end_name} ({str(credential[end_name])[:40]})."
                )
        else:
            credential[end_name] = _iso_from_numeric(exp)
    return _Checked(credential=credential, form=form, warnings=warnings)


@dataclass
class _KeyChoice:
    public_key: PublicKey
    source: Literal["kid", "header-jwk"]
    key_id: str
    confirmed: bool
    warnings: list[str]


def _issuer_keys(resolver: KeyResolver | None, issuer: str) -> list[ResolvedKey] | None:
    """The issuer's keys when the resolver can list them, else None."""
    from core.did import ControllerKeyLister

    if resolver is None or not isinstance(resolver, ControllerKeyLister):
        return None
    try:
        return resolver.keys_of_controller(issuer)
    except BadgeBridgeError:
        return None


def _kid_choice(
    resolved: ResolvedKey, alg: str, issuer: str | None, header_key: PublicKey | None
) -> _KeyChoice:
    _check_alg_matches(alg, resolved.public_key, f"key {resolved.id[:160]!r}")
    if "assertionMethod" not in resolved.purposes:
        raise _Refused(
            f"The key {resolved.id[:160]!r} is not listed for issuing credentials "
            "(assertionMethod) by its controller."
        )
    if issuer is not None and resolved.controller != issuer:
        raise _Refused(
            f"The signing key {resolved.id[:160]!r} belongs to {resolved.controller[:120]!r}, "
            f"not to the credential's issuer {issuer[:120]!r}."
        )
    if header_key is not None and not public_keys_equal(header_key, resolved.public_key):
        raise _Refused(
            f"The key in the JWT header differs from the key {resolved.id[:160]!r} named by 'kid'."
        )
    return _KeyChoice(resolved.public_key, "kid", resolved.id, issuer is not None, [])


def _choose_key(
    header: Mapping[str, Any], alg: str, issuer: str | None, resolver: KeyResolver | None
) -> _KeyChoice:
    kid: str | None = header.get("kid")
    jwk = header.get("jwk")
    header_key: PublicKey | None = None
    if jwk is not None:
        try:
            header_key = public_key_from_jwk(jwk)
        except KeyProblem as exc:
            raise _Refused(f"The key in the JWT header cannot be used: {exc.message}") from exc
        _check_alg_matches(alg, header_key, "key in the JWT header")

    warnings: list[str] = []
    if kid is not None and resolver is not None:
        method = f"{issuer}{kid}" if kid.startswith("#") and issuer else kid
        try:
            resolved = resolver.resolve(method)
        except BadgeBridgeError as exc:
            if header_key is None:
                raise _Refused(
                    f"The signing key {kid[:160]!r} could not be resolved: {exc.message}"
                ) from exc
            warnings.append(f"The key 'kid' {kid[:160]!r} could not be resolved ({exc.message}).")
        else:
            return _kid_choice(resolved, alg, issuer, header_key)
    elif kid is not None:
        if header_key is None:
            raise _Refused(
                f"The signing key {kid[:160]!r} cannot be resolved: no key resolver is available "
                "(offline), and the JWT header carries no 'jwk'."
            )
        warnings.append(f"The key 'kid' {kid[:160]!r} was not resolved (offline).")

    if header_key is None:
        raise _Refused("The JWT header names no key: it has neither 'kid' nor 'jwk'.")

    # Only the header's own key: check it against the issuer's published keys when possible.
    listed = _issuer_keys(resolver, issuer) if issuer else None
    if listed is not None:
        match = next((k for k in listed if public_keys_equal(k.public_key, header_key)), None)
        if match is None:
            raise _Refused(
                f"The key in the JWT header is not one of the keys the issuer {issuer!r} publishes."
            )
        if "assertionMethod" not in match.purposes:
            raise _Refused(
                f"The key in the JWT header ({match.id[:160]}) is not listed for issuing "
                "credentials (assertionMethod) by the issuer."
            )
        return _KeyChoice(header_key, "header-jwk", match.id, True, warnings)
    warnings.append(
        "The signature was checked with the key embedded in the JWT header; that key could not "
        "be confirmed as the issuer's."
    )
    return _KeyChoice(header_key, "header-jwk", "header jwk", False, warnings)


def decode_vc_jwt(
    token: str,
    resolver: KeyResolver | None,
    *,
    require_issuer_key: bool = False,
) -> JwtVerification:
    """Verify a VC-JWT and return the credential it carries. Never raises for bad input.

    Refused: not a JWT, bad base64url, oversized tokens, ``alg: none``, HMAC algorithms, an
    ``alg`` that does not fit the key, ``crit`` headers, a bad signature, and claims that
    contradict the credential (``iss`` ≠ issuer id, ``jti`` ≠ id, ``sub`` ≠ subject id,
    ``nbf``/``exp`` ≠ validFrom/validUntil). A header ``jwk`` is used when there is no
    resolvable ``kid``; if the resolver can list the issuer's keys the jwk must be one of them,
    otherwise the result says the key was not confirmed (and fails when
    ``require_issuer_key``).
    """
    header: dict[str, Any] = {}
    claims: dict[str, Any] = {}
    alg: str | None = None
    try:
        header_b64, payload_b64, signature_b64 = _split_token(token)
        try:
            header = parse_json_object(
                _decode_segment(header_b64, "header"), max_bytes=_MAX_HEADER_BYTES
            )
        except InvalidInput as exc:
            raise _Refused(f"The JWT header is not valid: {exc.message}") from exc
        alg = _check_header(header)
        _decode_segment(signature_b64, "signature")
        try:
            claims = parse_json_object(_decode_segment(payload_b64, "payload"))
        except InvalidInput as exc:
            raise _Refused(f"The JWT payload is not valid: {exc.message}") from exc

        vc_claim = claims.get("vc")
        carried = vc_claim if isinstance(vc_claim, dict) else claims
        issuer = _issuer_id(carried) or _string_claim(claims, "iss")
        choice = _choose_key(header, alg, issuer, resolver)
        _verify_signature(f"{header_b64}.{payload_b64}.{signature_b64}", alg, choice.public_key)
        checked = _check_claims(claims)
        if require_issuer_key and not choice.confirmed:
            raise _Refused(
                "The signature is valid, but the signing key could not be confirmed as one of "
                "the issuer's keys."
            )
    except _Refused as refused:
        return JwtVerification(
            ok=False,
            message=refused.message,
            header=header,
            claims=claims,
            kid=header.get("kid") if isinstance(header.get("kid"), str) else None,
            algorithm=alg,
        )

    description = describe_public_key(choice.public_key)
    if choice.source == "kid" and choice.confirmed:
        message = f"Signature valid ({alg}) with the issuer's key {choice.key_id}."
    elif choice.source == "kid":
        message = f"Signature valid ({alg}) with the key {choice.key_id} (the issuer is unknown)."
    elif choice.confirmed:
        message = (
            f"Signature valid ({alg}) with the {description} embedded in the JWT header, which "
            f"the issuer publishes as {choice.key_id}."
        )
    else:
        message = (
            f"Signature valid ({alg}) with the {description} embedded in the JWT header; "
            "that key is not confirmed as the issuer's."
        )
    return JwtVerification(
        ok=True,
        message=message,
        credential=checked.credential,
        header=header,
        claims=claims,
        kid=header.get("kid"),
        algorithm=alg,
        form=checked.form,
        key_source=choice.source,
        key_id=choice.key_id,
        key_description=description,
        issuer_key_confirmed=choice.confirmed,
        warnings=tuple(choice.warnings + checked.warnings),
    )


def peek_jwt_header(token: str) -> dict[str, Any]:
    """The JOSE header of a JWT WITHOUT checking anything else (for format detection and
    display); raises :class:`InvalidInput`."""
    try:
        header_b64, _, _ = _split_token(token)
        return parse_json_object(_decode_segment(header_b64, "header"), max_bytes=_MAX_HEADER_BYTES)
    except _Refused as refused:
        raise InvalidInput(refused.message) from refused


def peek_jwt_payload(token: str) -> dict[str, Any]:
    """The payload of a JWT WITHOUT checking its signature (for format detection, e.g. OB 2.0
    signed assertion vs VC-JWT, and display only); raises :class:`InvalidInput`."""
    try:
        _, payload_b64, _ = _split_token(token)
        return parse_json_object(_decode_segment(payload_b64, "payload"))
    except _Refused as refused:
        raise InvalidInput(refused.message) from refused
