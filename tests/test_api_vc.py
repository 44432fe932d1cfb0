"""The W3C VC-API (issue, verify a credential, verify a presentation) and the OpenAPI
document of every API."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.did import did_key_for_ed25519, did_key_verification_method
from core.multiformats import multibase_encode
from lti_tool.api import register_issuing_client
from lti_tool.api.ob import ERROR_ONLY_ENDPOINTS
from lti_tool.api.openapi import API_PREFIXES
from tests.oauth_flow import ACHIEVEMENT, ApiClient, Site, basic_auth, bearer, make_site

RECIPIENT = "fatima.elamrani@example.org"
ISSUER_ID = "http://badges.test/issuers/rotterdam"
PARSING = "https://www.w3.org/TR/vc-data-model#PARSING_ERROR"
CRYPTO = "https://www.w3.org/TR/vc-data-model#CRYPTOGRAPHIC_SECURITY_ERROR"


def _unsigned(**changes: Any) -> dict[str, Any]:
    """An issue request's credential: the achievement and the recipient's email."""
    credential: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": ISSUER_ID,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "hashed": False,
                    "identityHash": RECIPIENT,
                }
            ],
            "achievement": ACHIEVEMENT,
        },
    }
    credential.update(changes)
    return credential


@dataclass
class Issuing:
    """A site with an issuing client an administrator registered for ``rotterdam``."""

    site: Site
    client_id: str
    client_secret: str

    def token(self) -> str:
        response = self.site.client().post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth(self.client_id, self.client_secret),
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert body["scope"] == "issue"
        assert "refresh_token" not in body
        return str(body["access_token"])

    def issue(self, body: dict[str, Any], token: str | None = None) -> Any:
        return self.site.client().post(
            "/credentials/issue", json=body, headers=bearer(token or self.token())
        )


@pytest.fixture
def issuing(tmp_path: Path) -> Issuing:
    site = make_site(tmp_path)
    registered = register_issuing_client(
        site.service, "rotterdam", owner_user_id=site.user.id, name="Roosterkoppeling"
    )
    return Issuing(site, registered.client_id, registered.client_secret)


def _verify(site: Site, credential: Any) -> dict[str, Any]:
    response = site.client().post("/credentials/verify", json={"verifiableCredential": credential})
    assert response.status_code == 200
    return dict(response.get_json())


# -- issuing --------------------------------------------------------------------------------------


def test_issue_needs_an_access_token(issuing: Issuing) -> None:
    response = issuing.site.client().post("/credentials/issue", json={"credential": _unsigned()})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["status"] == 401


def test_issue_refuses_an_open_badges_api_token(issuing: Issuing) -> None:
    browser = issuing.site.client()
    client = ApiClient.register(browser)
    issuing.site.log_in(browser)
    token = client.tokens()["access_token"]
    response = issuing.issue({"credential": _unsigned()}, token)
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


def test_issue_signs_for_the_clients_issuer_and_the_result_verifies(issuing: Issuing) -> None:
    response = issuing.issue({"credential": _unsigned(name="Fotowandeling")})
    assert response.status_code == 201
    credential = response.get_json()["verifiableCredential"]
    assert credential["issuer"]["id"] == ISSUER_ID
    assert credential["name"] == "Fotowandeling"
    assert credential["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert response.headers["Location"] == credential["id"]
    # The recipient's email is in the credential only as a salted hash.
    assert RECIPIENT not in json.dumps(credential)
    result = _verify(issuing.site, credential)
    assert result["verified"] is True
    assert {"proof", "schema", "status", "issuer-key"} <= set(result["checks"])
    assert result["errors"] == []
    assert result["report"]["valid"] is True


def test_issue_as_vc_jwt_returns_an_enveloped_credential(issuing: Issuing) -> None:
    response = issuing.issue({"credential": _unsigned(), "options": {"proofFormat": "jwt"}})
    assert response.status_code == 201
    enveloped = response.get_json()["verifiableCredential"]
    assert enveloped["type"] == "EnvelopedVerifiableCredential"
    assert re.match(r"^data:application/vc\+jwt,[\w-]+\.[\w-]+\.[\w-]+$", enveloped["id"])
    result = _verify(issuing.site, enveloped)
    assert result["verified"] is True
    assert result["report"]["format"] == "ob3-jwt"


@pytest.mark.parametrize(
    ("credential", "words"),
    [
        (_unsigned(issuer="http://badges.test/issuers/utrecht"), "issues for"),
        (_unsigned(credentialSubject={"achievement": ACHIEVEMENT}), "recipient"),
        (_unsigned(evidence=[{"id": "https://example.org/e"}]), "evidence"),
        (_unsigned(validUntil="next year"), "validUntil"),
        (_unsigned(type=["VerifiableCredential", "DiplomaCredential"]), "OpenBadgeCredential"),
        ("not an object", "credential"),
    ],
)
def test_issue_refuses_requests_it_cannot_honour(
    issuing: Issuing, credential: Any, words: str
) -> None:
    response = issuing.issue({"credential": credential})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert words in response.get_json()["detail"]


def test_an_issuing_client_cannot_use_the_code_grant_nor_a_dynamic_one_client_credentials(
    issuing: Issuing,
) -> None:
    browser = issuing.site.client()
    dynamic = ApiClient.register(browser)
    assert dynamic.client_secret is not None
    response = browser.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(dynamic.client_id, dynamic.client_secret),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"
    issuing.site.log_in(browser)
    authorize = browser.get(
        "/oauth/authorize?response_type=code&redirect_uri=https://wallet.example/callback"
        f"&client_id={issuing.client_id}&code_challenge={'a' * 43}&code_challenge_method=S256"
    )
    assert authorize.status_code == 400


# -- verifying credentials ------------------------------------------------------------------------


def test_verify_reports_a_tampered_credential(issuing: Issuing) -> None:
    credential = issuing.issue({"credential": _unsigned()}).get_json()["verifiableCredential"]
    credential["credentialSubject"]["achievement"]["name"] = "Wethouder"
    result = _verify(issuing.site, credential)
    assert result["verified"] is False
    assert "proof" not in result["checks"]
    assert any("signature does not match" in e for e in result["errors"])
    assert CRYPTO in {p["type"] for p in result["problemDetails"]}
    proof = next(c for c in result["report"]["checks"] if c["id"] == "proof")
    assert proof["status"] == "fail"


def test_verify_reports_a_revoked_credential(issuing: Issuing) -> None:
    credential = issuing.issue({"credential": _unsigned()}).get_json()["verifiableCredential"]
    issuing.site.service.revoke(credential["id"])
    result = _verify(issuing.site, credential)
    assert result["verified"] is False
    status = next(c for c in result["report"]["checks"] if c["id"] == "status")
    assert status["status"] == "fail"


def test_verify_reports_unreadable_input_and_refuses_malformed_requests(issuing: Issuing) -> None:
    result = _verify(issuing.site, "definitely not a credential")
    assert result["verified"] is False
    assert result["problemDetails"][0]["type"] == PARSING
    client = issuing.site.client()
    assert client.post("/credentials/verify", json={"credential": {}}).status_code == 400
    assert (
        client.post("/credentials/verify", data="x", content_type="text/plain").status_code == 400
    )
    bad_envelope = {"type": "EnvelopedVerifiableCredential", "id": "https://example.org/vc"}
    response = client.post("/credentials/verify", json={"verifiableCredential": bad_envelope})
    assert response.status_code == 400
    assert "data: URL" in response.get_json()["detail"]


# -- verifying presentations ----------------------------------------------------------------------


@dataclass
class Holder:
    """A holder with a did:key, who signs presentations (eddsa-jcs-2022, proofPurpose
    authentication), written out here from the Data Integrity algorithm."""

    key: Ed25519PrivateKey

    @property
    def did(self) -> str:
        return did_key_for_ed25519(self.key.public_key())

    def present(
        self,
        credentials: list[Any],
        *,
        challenge: str | None = None,
        domain: str | None = None,
        holder: str | None = None,
    ) -> dict[str, Any]:
        presentation: dict[str, Any] = {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "holder": holder or self.did,
            "verifiableCredential": credentials,
        }
        config: dict[str, Any] = {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-jcs-2022",
            "created": "2026-01-05T10:00:00Z",
            "verificationMethod": did_key_verification_method(self.did),
            "proofPurpose": "authentication",
            "@context": presentation["@context"],
        }
        if challenge is not None:
            config["challenge"] = challenge
        if domain is not None:
            config["domain"] = domain
        data = hashlib.sha256(rfc8785.dumps(config)).digest()
        data += hashlib.sha256(rfc8785.dumps(presentation)).digest()
        proof = {**config, "proofValue": multibase_encode(self.key.sign(data), "z")}
        return {**presentation, "proof": proof}


def _verify_presentation(site: Site, body: dict[str, Any]) -> dict[str, Any]:
    response = site.client().post("/presentations/verify", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def test_a_signed_presentation_with_challenge_and_domain_verifies(issuing: Issuing) -> None:
    signed = issuing.issue({"credential": _unsigned()}).get_json()["verifiableCredential"]
    jwt = issuing.issue({"credential": _unsigned(), "options": {"proofFormat": "jwt"}})
    enveloped = jwt.get_json()["verifiableCredential"]
    holder = Holder(Ed25519PrivateKey.generate())
    presentation = holder.present([signed, enveloped], challenge="c-81", domain="werk.example")
    result = _verify_presentation(
        issuing.site,
        {
            "verifiablePresentation": presentation,
            "options": {"challenge": "c-81", "domain": "werk.example"},
        },
    )
    assert result["verified"] is True
    own = result["presentationResult"]
    assert {"proof", "challenge", "domain", "holder"} <= set(own["checks"])
    assert own["results"]["challenge"] == {"valid": True, "input": "c-81"}
    assert [r["verified"] for r in result["credentialResults"]] == [True, True]
    assert "verifiablePresentation" not in result


def test_a_presentation_for_another_challenge_or_domain_fails(issuing: Issuing) -> None:
    signed = issuing.issue({"credential": _unsigned()}).get_json()["verifiableCredential"]
    holder = Holder(Ed25519PrivateKey.generate())
    presentation = holder.present([signed], challenge="old", domain="werk.example")
    result = _verify_presentation(
        issuing.site,
        {"verifiablePresentation": presentation, "options": {"challenge": "new"}},
    )
    assert result["verified"] is False
    assert result["presentationResult"]["results"]["challenge"]["valid"] is False
    other_domain = _verify_presentation(
        issuing.site,
        {"verifiablePresentation": presentation, "options": {"domain": "elders.example"}},
    )
    assert other_domain["verified"] is False


def test_a_presentation_changed_after_signing_or_holding_a_tampered_credential_fails(
    issuing: Issuing,
) -> None:
    signed = issuing.issue({"credential": _unsigned()}).get_json()["verifiableCredential"]
    holder = Holder(Ed25519PrivateKey.generate())
    presentation = holder.present([signed])
    changed = json.loads(json.dumps(presentation))
    changed["verifiableCredential"][0]["name"] = "Iets anders"
    result = _verify_presentation(issuing.site, {"verifiablePresentation": changed})
    assert result["verified"] is False
    own = result["presentationResult"]
    assert "proof" not in own["checks"]
    assert result["credentialResults"][0]["verified"] is False


def test_a_presentation_signed_by_someone_else_than_its_holder_fails(issuing: Issuing) -> None:
    signed = issuing.issue({"credential": _unsigned()}).get_json()["verifiableCredential"]
    other = Holder(Ed25519PrivateKey.generate())
    signer = Holder(Ed25519PrivateKey.generate())
    result = _verify_presentation(
        issuing.site,
        {"verifiablePresentation": signer.present([signed], holder=other.did)},
    )
    assert result["verified"] is False
    assert result["presentationResult"]["results"]["holder"]["valid"] is False


def test_a_presentation_without_a_proof(issuing: Issuing) -> None:
    signed = issuing.issue({"credential": _unsigned()}).get_json()["verifiableCredential"]
    unsigned = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [signed],
    }
    plain = _verify_presentation(issuing.site, {"presentation": unsigned})
    assert plain["verified"] is True
    assert plain["presentationResult"]["warnings"]
    challenged = _verify_presentation(
        issuing.site, {"verifiablePresentation": unsigned, "options": {"challenge": "c-1"}}
    )
    assert challenged["verified"] is False


def test_presentation_requests_must_carry_a_presentation(issuing: Issuing) -> None:
    response = issuing.site.client().post("/presentations/verify", json={"options": {}})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


# -- OpenAPI --------------------------------------------------------------------------------------


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_the_openapi_document_describes_every_api_route(issuing: Issuing) -> None:
    response = issuing.site.client().get("/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.get_data(as_text=True))
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] and document["info"]["version"]
    assert document["servers"] == [{"url": "http://badges.test"}]
    for ref in _refs(document):
        assert _resolve(document, ref) is not None, ref
    schemes = document["components"]["securitySchemes"]
    for path, operations in document["paths"].items():
        assert path.startswith(API_PREFIXES), path
        for method, operation in operations.items():
            assert method in {"get", "post", "put", "delete", "patch"}
            assert operation["responses"], f"{method} {path} has no responses"
            for requirement in operation.get("security", []):
                assert set(requirement) <= set(schemes)
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    routed = set()
    for rule in issuing.site.app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIXES) or rule.endpoint in ERROR_ONLY_ENDPOINTS:
            continue
        for method in rule.methods or ():
            if method not in {"HEAD", "OPTIONS"}:
                routed.add((rule.rule, method.lower()))
    assert routed, "no API routes found"
    assert routed == documented
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
