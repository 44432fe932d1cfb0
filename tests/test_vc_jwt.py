"""VC-JWT issuing and verification (OB 3.0 §8.2), including the 1EdTech validator samples."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from core.did import ControllerDocumentResolver
from core.errors import FetchRefused, InvalidInput, ProofProblem
from core.keys import IssuerSigningKey, controller_document, public_key_to_jwk
from core.limits import MAX_CREDENTIAL_BYTES
from core.proofs.vc_jwt import (
    JwtVerification,
    decode_vc_jwt,
    encode_vc_jwt,
    peek_jwt_header,
    peek_jwt_payload,
)

EXTRACTED = (
    Path(__file__).resolve().parents[2]
    / "shared/standards/vectors/1edtech-validator/ob30/extracted"
)
ISSUER = "https://badges.example.org/issuers/7"
SUBJECT = "did:example:ebfeb1f712ebc6f1c276e12ec21"
ALGORITHMS = {"Ed25519": "EdDSA", "RS256": "RS256", "ES256": "ES256"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def credential(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "urn:uuid:7d5a4f0e-1c7b-4c52-9a1e-0d4a8f3c2b10",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": ISSUER, "type": ["Profile"], "name": "Example Learning City"},
        "validFrom": "2024-03-01T09:30:00Z",
        "validUntil": "2027-03-01T09:30:00Z",
        "name": "Teamwork",
        "credentialSubject": {
            "id": SUBJECT,
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://badges.example.org/achievements/teamwork",
                "type": ["Achievement"],
                "name": "Teamwork",
                "criteria": {"narrative": "Worked well in a team."},
            },
        },
    }
    base.update(changes)
    return base


def vc11_credential() -> dict[str, Any]:
    cred = credential()
    cred["@context"] = [
        "https://www.w3.org/2018/credentials/v1",
        "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
    ]
    cred["issuanceDate"] = cred.pop("validFrom")
    cred["expirationDate"] = cred.pop("validUntil")
    return cred


def sign_raw(header: dict[str, Any], payload: dict[str, Any] | bytes, key: IssuerSigningKey) -> str:
    """A compact JWS built by hand with the key's raw signer (an independent producer)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(body)}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    h, p, s = token.split(".")
    return json.loads(unb64(h)), json.loads(unb64(p)), s


@pytest.fixture(scope="module")
def keys() -> dict[str, IssuerSigningKey]:
    return {
        alg: IssuerSigningKey.generate(alg, f"{ISSUER}#key-{alg.lower()}") for alg in ALGORITHMS
    }


@pytest.fixture(scope="module")
def resolver(keys: dict[str, IssuerSigningKey]) -> ControllerDocumentResolver:
    document = controller_document(ISSUER, keys.values())
    return ControllerDocumentResolver(local_documents={ISSUER: document}.get)


def assert_refused(result: JwtVerification, expected: str) -> None:
    assert not result.ok, result.message
    assert result.credential is None
    assert expected in result.message, result.message


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_round_trip_per_algorithm(
    algorithm: str, keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    key = keys[algorithm]
    token = encode_vc_jwt(credential(), key)
    header, payload, _ = jwt_parts(token)
    assert header == {"alg": ALGORITHMS[algorithm], "kid": key.verification_method, "typ": "JWT"}
    assert payload["iss"] == ISSUER
    assert payload["sub"] == SUBJECT
    assert payload["jti"] == credential()["id"]
    assert payload["nbf"] == payload["iat"] == 1709285400  # 2024-03-01T09:30:00Z
    assert payload["exp"] == 1803893400  # 2027-03-01T09:30:00Z
    assert "aud" not in payload

    result = decode_vc_jwt(token, resolver)
    assert result.ok, result.message
    assert result.credential == credential()
    assert result.form == "vc2"
    assert result.algorithm == ALGORITHMS[algorithm]
    assert result.kid == key.verification_method
    assert result.key_source == "kid"
    assert result.issuer_key_confirmed
    assert result.warnings == ()
    assert key.verification_method in result.message


def test_vc_jose_cose_header_profile_and_audience(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    token = encode_vc_jwt(
        credential(),
        keys["ES256"],
        audience="https://verifier.example",
        header_profile="vc-jose-cose",
    )
    header, payload, _ = jwt_parts(token)
    assert header["typ"] == "vc+jwt" and header["cty"] == "vc"
    assert payload["aud"] == "https://verifier.example"
    result = decode_vc_jwt(token, resolver)
    assert result.ok, result.message
    assert "aud" not in (result.credential or {})


def test_header_jwk_of_a_published_key_is_confirmed(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    token = encode_vc_jwt(credential(), keys["RS256"], key_reference="jwk")
    header, _, _ = jwt_parts(token)
    assert "kid" not in header and "d" not in header["jwk"]
    result = decode_vc_jwt(token, resolver)
    assert result.ok, result.message
    assert result.key_source == "header-jwk"
    assert result.issuer_key_confirmed
    assert result.key_id == keys["RS256"].verification_method


def test_vc11_form_round_trip(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    token = encode_vc_jwt(vc11_credential(), keys["Ed25519"])
    _, payload, _ = jwt_parts(token)
    assert payload["vc"] == vc11_credential()
    assert payload["nbf"] == 1709285400 and payload["exp"] == 1803893400
    result = decode_vc_jwt(token, resolver)
    assert result.ok, result.message
    assert result.form == "vc1.1"
    assert result.credential == vc11_credential()


def test_vc11_form_fills_the_credential_from_the_claims(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    vc = vc11_credential()
    for name in ("id", "issuer", "issuanceDate", "expirationDate"):
        del vc[name]
    del vc["credentialSubject"]["id"]
    payload = {
        "vc": vc,
        "iss": ISSUER,
        "sub": SUBJECT,
        "jti": "urn:uuid:abc",
        "nbf": 1709285400,
        "exp": 1803893400,
    }
    key = keys["ES256"]
    token = sign_raw({"alg": "ES256", "kid": key.verification_method}, payload, key)
    result = decode_vc_jwt(token, resolver)
    assert result.ok, result.message
    assert result.credential is not None
    assert result.credential["issuer"] == ISSUER
    assert result.credential["id"] == "urn:uuid:abc"
    assert result.credential["credentialSubject"]["id"] == SUBJECT
    assert result.credential["issuanceDate"] == "2024-03-01T09:30:00Z"
    assert result.credential["expirationDate"] == "2027-03-01T09:30:00Z"


def test_exp_sets_valid_until_when_the_credential_has_none(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    cred = credential()
    del cred["validUntil"]
    payload = {**cred, "iss": ISSUER, "sub": SUBJECT, "jti": cred["id"], "nbf": 1709285400}
    payload["exp"] = 1803893400
    key = keys["RS256"]
    result = decode_vc_jwt(
        sign_raw({"alg": "RS256", "kid": key.verification_method}, payload, key), resolver
    )
    assert result.ok, result.message
    assert result.credential is not None
    assert result.credential["validUntil"] == "2027-03-01T09:30:00Z"


# ---------------------------------------------------------------- 1EdTech samples


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("simple-jwt.from-png.jwt", "vc2"),
        ("simple-jwt.from-svg.jwt", "vc2"),
        ("simple-jwt_v1.from-png.jwt", "vc1.1"),
    ],
)
def test_1edtech_samples_verify_with_their_header_jwk(name: str, form: str) -> None:
    result = decode_vc_jwt((EXTRACTED / name).read_text(), None)
    assert result.ok, result.message
    assert result.form == form
    assert result.algorithm == "RS256"
    assert result.key_source == "header-jwk"
    assert not result.issuer_key_confirmed
    assert "embedded in the JWT header" in result.message
    assert "not confirmed" in result.message
    assert any("'sub'" in w for w in result.warnings)  # the samples lack the sub claim
    assert result.credential is not None
    assert result.credential["credentialSubject"]["id"] == SUBJECT
    assert "iss" not in result.credential and "aud" not in result.credential


def test_1edtech_sample_fails_when_the_issuer_publishes_other_keys(
    keys: dict[str, IssuerSigningKey],
) -> None:
    token = (EXTRACTED / "simple-jwt.from-png.jwt").read_text()
    sample_issuer = "https://1edtech.edu/issuers/565049"
    other = IssuerSigningKey(keys["RS256"]._private_key, f"{sample_issuer}#key-1")
    resolver = ControllerDocumentResolver(
        local_documents={sample_issuer: controller_document(sample_issuer, [other])}.get
    )
    assert_refused(decode_vc_jwt(token, resolver), "not one of the keys the issuer")


def test_1edtech_sample_key_confirmed_when_the_issuer_lists_it() -> None:
    token = (EXTRACTED / "simple-jwt.from-svg.jwt").read_text()
    header, _, _ = jwt_parts(token)
    sample_issuer = "https://1edtech.edu/issuers/565049"
    document = {
        "id": sample_issuer,
        "verificationMethod": [
            {
                "id": f"{sample_issuer}#rsa",
                "type": "JsonWebKey",
                "controller": sample_issuer,
                "publicKeyJwk": header["jwk"],
            }
        ],
        "assertionMethod": [f"{sample_issuer}#rsa"],
    }
    resolver = ControllerDocumentResolver(local_documents={sample_issuer: document}.get)
    result = decode_vc_jwt(token, resolver, require_issuer_key=True)
    assert result.ok, result.message
    assert result.issuer_key_confirmed
    assert result.key_id == f"{sample_issuer}#rsa"


def test_unconfirmed_header_key_fails_when_issuer_key_required() -> None:
    token = (EXTRACTED / "simple-jwt.from-png.jwt").read_text()
    assert_refused(decode_vc_jwt(token, None, require_issuer_key=True), "could not be confirmed")


def test_peek_reads_without_verifying() -> None:
    token = (EXTRACTED / "simple-jwt_v1.from-png.jwt").read_text()
    assert peek_jwt_header(token)["alg"] == "RS256"
    assert peek_jwt_payload(token)["vc"]["id"] == "http://example.edu/credentials/3732"
    with pytest.raises(InvalidInput, match="expected 3 dot-separated parts"):
        peek_jwt_payload("not a jwt")


# ---------------------------------------------------------------- tampering and wrong keys


def test_tampered_payload_fails(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    token = encode_vc_jwt(credential(), keys["Ed25519"])
    h, _, s = token.split(".")
    forged = credential(name="Leadership")
    _, payload, _ = jwt_parts(token)
    payload["name"] = forged["name"]
    tampered = f"{h}.{b64(json.dumps(payload).encode())}.{s}"
    assert_refused(decode_vc_jwt(tampered, resolver), "signature is not valid")


def test_tampered_header_fails(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    token = encode_vc_jwt(credential(), keys["ES256"])
    header, _, _ = jwt_parts(token)
    _, p, s = token.split(".")
    header["typ"] = "vc+jwt"
    tampered = f"{b64(json.dumps(header).encode())}.{p}.{s}"
    assert_refused(decode_vc_jwt(tampered, resolver), "signature is not valid")


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_tampered_signature_fails(
    algorithm: str, keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    token = encode_vc_jwt(credential(), keys[algorithm])
    h, p, s = token.split(".")
    signature = bytearray(unb64(s))
    signature[10] ^= 0x01
    assert_refused(
        decode_vc_jwt(f"{h}.{p}.{b64(bytes(signature))}", resolver), "signature is not valid"
    )


def test_wrong_key_fails(keys: dict[str, IssuerSigningKey]) -> None:
    signer = keys["Ed25519"]
    impostor = IssuerSigningKey.generate("Ed25519", signer.verification_method)
    resolver = ControllerDocumentResolver(
        local_documents={ISSUER: controller_document(ISSUER, [impostor])}.get
    )
    assert_refused(
        decode_vc_jwt(encode_vc_jwt(credential(), signer), resolver), "signature is not valid"
    )


def test_key_of_another_controller_fails(resolver: ControllerDocumentResolver) -> None:
    other = "https://other.example/issuer"
    key = IssuerSigningKey.generate("Ed25519", f"{other}#k")
    both = ControllerDocumentResolver(
        local_documents={
            other: controller_document(other, [key]),
            ISSUER: resolver.controller_document(ISSUER),
        }.get
    )
    token = encode_vc_jwt(credential(), key)  # issuer ISSUER, key controlled by `other`
    assert_refused(decode_vc_jwt(token, both), "belongs to 'https://other.example/issuer'")


def test_key_not_listed_for_assertion_fails(keys: dict[str, IssuerSigningKey]) -> None:
    document = controller_document(ISSUER, [keys["ES256"]])
    document["authentication"] = document.pop("assertionMethod")
    resolver = ControllerDocumentResolver(local_documents={ISSUER: document}.get)
    token = encode_vc_jwt(credential(), keys["ES256"])
    assert_refused(decode_vc_jwt(token, resolver), "assertionMethod")


def test_retired_key_no_longer_verifies(keys: dict[str, IssuerSigningKey]) -> None:
    token = encode_vc_jwt(credential(), keys["RS256"])
    after_retirement = controller_document(ISSUER, [keys["Ed25519"], keys["ES256"]])
    resolver = ControllerDocumentResolver(local_documents={ISSUER: after_retirement}.get)
    assert_refused(decode_vc_jwt(token, resolver), "does not list the verification method")


def test_unresolvable_kid_without_jwk_fails_offline(keys: dict[str, IssuerSigningKey]) -> None:
    token = encode_vc_jwt(credential(), keys["ES256"])
    assert_refused(decode_vc_jwt(token, None), "no key resolver is available")
    assert_refused(decode_vc_jwt(token, ControllerDocumentResolver()), "offline")


# ---------------------------------------------------------------- refused algorithms and headers


def _payload_for(cred: dict[str, Any]) -> dict[str, Any]:
    return {
        **cred,
        "iss": ISSUER,
        "sub": SUBJECT,
        "jti": cred["id"],
        "nbf": 1709285400,
        "exp": 1803893400,
    }


def test_alg_none_is_refused(resolver: ControllerDocumentResolver) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(_payload_for(credential())).encode())
    result = decode_vc_jwt(f"{header}.{payload}.", resolver)
    assert_refused(result, "alg 'none'")


def test_hs256_with_the_public_key_as_secret_is_refused(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    key = keys["RS256"]
    secret = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "kid": key.verification_method}).encode())
    payload = b64(json.dumps(_payload_for(credential())).encode())
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert_refused(decode_vc_jwt(f"{header}.{payload}.{b64(mac)}", resolver), "shared-secret")


def test_alg_not_matching_the_key_type_is_refused(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    # signed with the EC key but naming the RSA key
    token = sign_raw(
        {"alg": "ES256", "kid": keys["RS256"].verification_method},
        _payload_for(credential()),
        keys["ES256"],
    )
    assert_refused(decode_vc_jwt(token, resolver), "is a RS256 key")
    # EdDSA header with an RSA jwk
    jwk_token = sign_raw(
        {"alg": "EdDSA", "jwk": public_key_to_jwk(keys["RS256"].public_key)},
        _payload_for(credential()),
        keys["Ed25519"],
    )
    assert_refused(decode_vc_jwt(jwk_token, None), "is a RS256 key")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"crit": ["exp"]}, "critical"),
        ({"typ": "vp+jwt"}, "not a credential JWT"),
        ({"b64": False}, "Unencoded"),
        ({"alg": "PS512"}, "not supported"),
        ({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"}}, "private key material"),
    ],
)
def test_unacceptable_headers_are_refused(
    extra: dict[str, Any],
    expected: str,
    keys: dict[str, IssuerSigningKey],
    resolver: ControllerDocumentResolver,
) -> None:
    key = keys["Ed25519"]
    header = {"alg": "EdDSA", "kid": key.verification_method, **extra}
    token = sign_raw(header, _payload_for(credential()), key)
    assert_refused(decode_vc_jwt(token, resolver), expected)


# ---------------------------------------------------------------- malformed tokens


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("hello", "found 1."),
        ("a.b.c.d.e", "encrypted JWT (JWE)"),
        ("e30.e30", "found 2"),
        ("@@@.e30.AAAA", "header is not valid base64url"),
        ("eyJhbGciOiJSUzI1NiJ9.e30=.AAAA", "payload is not valid base64url"),
        (".e30.AAAA", "header is empty"),
        (f"{b64(b'[1,2]')}.e30.AAAA", "header is not valid"),
        (f"{b64(b'{}')}.e30.AAAA", "no 'alg'"),
        (12345, "must be text"),
    ],
)
def test_malformed_tokens_fail_clearly(token: Any, expected: str) -> None:
    assert_refused(decode_vc_jwt(token, None), expected)


def test_oversized_token_is_refused() -> None:
    huge = "a" * (MAX_CREDENTIAL_BYTES + 1)
    assert_refused(decode_vc_jwt(huge, None), "too large")


def test_duplicate_keys_in_the_payload_are_refused(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    key = keys["ES256"]
    body = json.dumps(_payload_for(credential()))[:-1] + ', "iss": "https://evil.example"}'
    token = sign_raw({"alg": "ES256", "kid": key.verification_method}, body.encode(), key)
    assert_refused(decode_vc_jwt(token, resolver), "appears twice")


def test_token_without_a_credential_is_refused(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    key = keys["ES256"]
    token = sign_raw({"alg": "ES256", "kid": key.verification_method}, {"iss": ISSUER}, key)
    assert_refused(decode_vc_jwt(token, resolver), "does not carry a credential")


# ---------------------------------------------------------------- claims vs credential


@pytest.mark.parametrize(
    ("claim", "value", "expected"),
    [
        ("iss", "https://evil.example/issuer", "'iss' claim"),
        ("jti", "urn:uuid:someone-else", "'jti' claim"),
        ("sub", "did:example:mallory", "'sub' claim"),
        ("nbf", 1709285400 + 3600, "'nbf' claim"),
        ("exp", 1803893400 + 86400, "'exp' claim"),
        ("nbf", "yesterday", "NumericDate"),
        ("iss", 42, "must be text"),
    ],
)
def test_claims_contradicting_the_credential_fail(
    claim: str,
    value: Any,
    expected: str,
    keys: dict[str, IssuerSigningKey],
    resolver: ControllerDocumentResolver,
) -> None:
    payload = _payload_for(credential())
    payload[claim] = value
    key = keys["Ed25519"]
    token = sign_raw({"alg": "EdDSA", "kid": key.verification_method}, payload, key)
    assert_refused(decode_vc_jwt(token, resolver), expected)


def test_vc11_claims_contradicting_the_credential_fail(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    key = keys["RS256"]
    token = encode_vc_jwt(vc11_credential(), key)
    _, payload, _ = jwt_parts(token)
    payload["jti"] = "urn:uuid:other"
    forged = sign_raw({"alg": "RS256", "kid": key.verification_method}, payload, key)
    assert_refused(decode_vc_jwt(forged, resolver), "'jti' claim")


def test_sub_matching_one_of_several_subjects_is_accepted(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    cred = credential()
    cred["credentialSubject"] = [cred["credentialSubject"], {"id": "did:example:second"}]
    payload = _payload_for(cred)
    payload["sub"] = "did:example:second"
    key = keys["ES256"]
    token = sign_raw({"alg": "ES256", "kid": key.verification_method}, payload, key)
    assert decode_vc_jwt(token, resolver).ok


# ---------------------------------------------------------------- issuing refusals


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"issuer": None}, "no issuer id"),
        ({"id": None}, "no id"),
        ({"validFrom": None}, "no validFrom"),
        ({"iss": ISSUER}, "already has JWT claim names"),
        ({"validFrom": "March 1st"}, "not a valid dateTime"),
    ],
)
def test_encode_refuses_credentials_it_cannot_express(
    change: dict[str, Any], expected: str, keys: dict[str, IssuerSigningKey]
) -> None:
    cred = copy.deepcopy(credential())
    for name, value in change.items():
        if value is None:
            cred.pop(name)
        else:
            cred[name] = value
    with pytest.raises(ProofProblem, match=expected):
        encode_vc_jwt(cred, keys["ES256"])


def test_vc_claim_that_is_not_an_object_is_refused(
    keys: dict[str, IssuerSigningKey], resolver: ControllerDocumentResolver
) -> None:
    key = keys["ES256"]
    payload = {"vc": ["not", "a", "credential"], "iss": ISSUER}
    token = sign_raw({"alg": "ES256", "kid": key.verification_method}, payload, key)
    assert_refused(decode_vc_jwt(token, resolver), "'vc' claim is not a JSON object")


def test_fetch_failure_while_resolving_kid_is_reported(keys: dict[str, IssuerSigningKey]) -> None:
    class RefusingFetcher:
        def fetch(self, url: str, *, accept: str = "*/*") -> Any:
            raise FetchRefused(f"{url} resolves to a private address.")

        def fetch_json(self, url: str, *, accept: str = "application/json") -> Any:
            raise FetchRefused(f"{url} resolves to a private address.")

    token = encode_vc_jwt(credential(), keys["RS256"])
    result = decode_vc_jwt(token, ControllerDocumentResolver(fetcher=RefusingFetcher()))
    assert_refused(result, "private address")
