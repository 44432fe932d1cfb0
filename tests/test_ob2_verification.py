"""Open Badges 2.0 verification against the 1EdTech validator samples and a live local server."""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jws
from joserfc.jwk import RSAKey

from core.errors import FetchRefused
from core.fetching import FetchedDocument, Fetcher
from core.guarded_http import GuardedHttpClient
from core.json_input import parse_json
from core.ob2_verification import verify_ob2
from core.recipient import hash_identity
from core.report import CheckStatus, VerificationReport

OB20 = Path(__file__).resolve().parents[2] / "shared/standards/vectors/1edtech-validator/ob20"
ASSETS = OB20 / "assets"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
EMAIL = "nobody@example.org"
ASSERTION_URL = "https://example.org/beths-robotics-badge.json"
CHECK_ORDER = [
    "json",
    "hosted_copy",
    "properties",
    "badge_class",
    "issuer",
    "verification",
    "revocation",
    "dates",
    "recipient",
]


class FixtureFetcher:
    """Serves fixed documents by URL, like the validator's mock server; 404 for anything else."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        self.documents = documents
        self.requested: list[str] = []

    def fetch(self, url: str, *, accept: str = "*/*") -> FetchedDocument:
        self.requested.append(url)
        if url not in self.documents:
            raise FetchRefused(f"HTTP 404 Not Found for {url}.")
        return FetchedDocument(url=url, content_type="application/json", body=self.documents[url])

    def fetch_json(self, url: str, *, accept: str = "application/ld+json, application/json") -> Any:
        return parse_json(self.fetch(url, accept=accept).body)


def vector_fetcher(assertion: str | dict[str, Any] | None = None, **extra: Any) -> FixtureFetcher:
    """Every asset at http:// and https://example.org/<name>; the assertion at its hosted URL;
    ``extra`` maps further URLs to documents (dicts) or raw bytes."""
    documents: dict[str, bytes] = {}
    for path in ASSETS.glob("*.json"):
        for scheme in ("http", "https"):
            documents[f"{scheme}://example.org/{path.name}"] = path.read_bytes()
    if isinstance(assertion, str):
        documents[ASSERTION_URL] = (OB20 / assertion).read_bytes()
    elif assertion is not None:
        documents[str(assertion["id"])] = json.dumps(assertion).encode()
    for url, value in extra.items():
        documents[url] = value if isinstance(value, bytes) else json.dumps(value).encode()
    return FixtureFetcher(documents)


def load(name: str) -> dict[str, Any]:
    value = json.loads((OB20 / name).read_text())
    assert isinstance(value, dict)
    return value


def jwt_text(name: str) -> str:
    return (OB20 / name).read_text().strip()


def status(report: VerificationReport, check: str) -> CheckStatus | None:
    found = report.check(check)
    return found.status if found else None


def message(report: VerificationReport, check: str) -> str:
    found = report.check(check)
    assert found is not None, f"check {check} did not run: {report.as_dict()}"
    return found.message


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --------------------------------------------------------------------------- hosted, valid


def test_hosted_vector_verifies_with_every_check() -> None:
    fetcher = vector_fetcher("basic-assertion.json")
    report = verify_ob2(load("basic-assertion.json"), fetcher=fetcher, recipient=EMAIL, now=NOW)

    assert report.valid, report.as_dict()
    assert report.format == "ob2-hosted"
    assert [c.id for c in report.checks] == CHECK_ORDER
    assert all(c.status is CheckStatus.PASS for c in report.checks)
    assert fetcher.requested == [
        ASSERTION_URL,
        "https://example.org/robotics-badge.json",
        "https://example.org/organization.json",
    ]
    assert report.credential is not None
    assert report.credential["id"] == ASSERTION_URL
    assert "Awesome Robotics Badge" in message(report, "badge_class")


def test_hosted_assertion_given_by_url_or_as_json_text() -> None:
    by_url = verify_ob2(ASSERTION_URL, fetcher=vector_fetcher("basic-assertion.json"), now=NOW)
    text = (OB20 / "basic-assertion.json").read_bytes()
    by_text = verify_ob2(text, fetcher=vector_fetcher("basic-assertion.json"), now=NOW)

    for report in (by_url, by_text):
        assert report.valid, report.as_dict()
        assert report.format == "ob2-hosted"
        assert status(report, "recipient") is CheckStatus.SKIP


@pytest.mark.parametrize(
    "name",
    [
        "basic-assertion-with-allowed-origins.json",
        "basic-assertion-with-allowed-origins-valid-starts-with.json",
        "basic-assertion-with-allowed-origins-valid-multiple-starts-with.json",
    ],
)
def test_issuer_verification_policy_allows_the_assertion(name: str) -> None:
    report = verify_ob2(load(name), fetcher=vector_fetcher(name), now=NOW)

    assert status(report, "verification") is CheckStatus.PASS, report.as_dict()
    assert report.valid
    # The badge class and issuer ids differ from their URLs (same host): a warning, not a failure.
    assert status(report, "issuer") is CheckStatus.WARN


# --------------------------------------------------------------------------- hosted, invalid


@pytest.mark.parametrize(
    "name",
    [
        "basic-assertion-with-allowed-origins-invalid-starts-with.json",
        "basic-assertion-with-allowed-origins-invalid-multiple-starts-with.json",
    ],
)
def test_issuer_verification_policy_refuses_the_assertion(name: str) -> None:
    report = verify_ob2(load(name), fetcher=vector_fetcher(name), now=NOW)

    assert not report.valid
    assert status(report, "verification") is CheckStatus.FAIL
    assert "https://example.org/NOT" in message(report, "verification")


def test_hosted_assertion_on_another_origin_than_the_issuer_fails() -> None:
    assertion = load("basic-assertion.json")
    assertion["id"] = "https://badges.elsewhere.example/a/1.json"
    report = verify_ob2(assertion, fetcher=vector_fetcher(assertion), now=NOW)

    assert status(report, "hosted_copy") is CheckStatus.PASS
    assert status(report, "verification") is CheckStatus.FAIL
    assert "'badges.elsewhere.example' is not among" in message(report, "verification")
    assert "example.org" in message(report, "verification")


def test_presented_copy_that_differs_from_the_hosted_copy_fails() -> None:
    presented = load("basic-assertion.json")
    presented["recipient"]["identity"] = hash_identity("mallory@example.org", "deadsea")
    fetcher = vector_fetcher("basic-assertion.json")
    report = verify_ob2(presented, fetcher=fetcher, recipient="mallory@example.org", now=NOW)

    assert not report.valid
    assert status(report, "hosted_copy") is CheckStatus.FAIL
    assert "differs from the copy the issuer hosts" in message(report, "hosted_copy")
    assert "recipient" in message(report, "hosted_copy")
    # The remaining checks use the issuer's copy, which names someone else.
    assert status(report, "recipient") is CheckStatus.FAIL


def test_hosted_copy_with_another_id_fails() -> None:
    hosted = load("basic-assertion.json")
    hosted["id"] = "https://example.org/another-assertion.json"
    presented = load("basic-assertion.json")
    fetcher = vector_fetcher(None, **{ASSERTION_URL: hosted})
    report = verify_ob2(presented, fetcher=fetcher, now=NOW)

    assert status(report, "hosted_copy") is CheckStatus.FAIL
    assert "must be the URL it is hosted at" in message(report, "hosted_copy")
    assert status(report, "verification") is CheckStatus.SKIP
    assert not report.valid


def test_url_serving_a_copy_with_another_id_follows_the_id_with_a_warning() -> None:
    canonical = load("basic-assertion.json")
    alias = "https://example.org/altbadgeurl"
    fetcher = vector_fetcher(canonical, **{alias: canonical})
    report = verify_ob2(alias, fetcher=fetcher, now=NOW)

    assert fetcher.requested[:2] == [alias, ASSERTION_URL]
    assert status(report, "hosted_copy") is CheckStatus.WARN
    assert report.valid, report.as_dict()


def test_hosted_assertion_without_an_http_id_fails() -> None:
    assertion = load("basic-assertion.json")
    assertion["id"] = "urn:uuid:52e4c6b3-8c13-4fa8-8482-a5cf34ef37a9"
    report = verify_ob2(assertion, fetcher=vector_fetcher(), now=NOW)

    assert status(report, "hosted_copy") is CheckStatus.FAIL
    assert "http(s) id" in message(report, "hosted_copy")


def test_hosted_assertion_marked_revoked_fails() -> None:
    hosted = load("basic-assertion.json")
    hosted.update(revoked=True, revocationReason="Awarded by mistake")
    report = verify_ob2(copy.deepcopy(hosted), fetcher=vector_fetcher(hosted), now=NOW)

    assert not report.valid
    assert status(report, "revocation") is CheckStatus.FAIL
    assert "Awarded by mistake" in message(report, "revocation")


def test_wrong_recipient_fails_only_the_recipient_check() -> None:
    report = verify_ob2(
        load("basic-assertion.json"),
        fetcher=vector_fetcher("basic-assertion.json"),
        recipient="somebody@example.org",
        now=NOW,
    )

    assert [c.id for c in report.failures] == ["recipient"]
    assert "not awarded to 'somebody@example.org'" in message(report, "recipient")


def test_plain_recipient_matches_case_insensitively() -> None:
    hosted = load("basic-assertion.json")
    hosted["recipient"] = {"type": "email", "hashed": False, "identity": "Nobody@Example.org"}
    report = verify_ob2(
        copy.deepcopy(hosted), fetcher=vector_fetcher(hosted), recipient=EMAIL, now=NOW
    )
    assert status(report, "recipient") is CheckStatus.PASS


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("basic-assertion-expired.json", ["expired on 2022-11-15T23:59:59+00:00"]),
        ("basic-assertion-in-future.json", ["issued in the future (2100-12-31"]),
        (
            "basic-assertion-expired-before-issued.json",
            ["expired on 2022-11-15", "expires (2022-11-15T23:59:59+00:00) before it was issued"],
        ),
    ],
)
def test_date_problems(name: str, expected: list[str]) -> None:
    report = verify_ob2(load(name), fetcher=vector_fetcher(name), now=NOW)

    assert [c.id for c in report.failures] == ["dates"]
    for fragment in expected:
        assert fragment in message(report, "dates")


def test_expiry_is_judged_against_now() -> None:
    name = "basic-assertion-expired.json"
    before_expiry = datetime(2020, 1, 1, tzinfo=UTC)
    report = verify_ob2(load(name), fetcher=vector_fetcher(name), now=before_expiry)
    assert status(report, "dates") is CheckStatus.PASS


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("basic-assertion-invalid-context.json", "Open Badges 2.0 context"),
        ("basic-assertion-invalid-type.json", "'OtherAssertion', not 'Assertion'"),
    ],
)
def test_required_property_problems(name: str, fragment: str) -> None:
    report = verify_ob2(load(name), fetcher=vector_fetcher(name), now=NOW)

    assert status(report, "properties") is CheckStatus.FAIL
    assert fragment in message(report, "properties")


def test_missing_properties_are_listed() -> None:
    hosted = load("basic-assertion.json")
    for key in ("recipient", "issuedOn"):
        del hosted[key]
    report = verify_ob2(copy.deepcopy(hosted), fetcher=vector_fetcher(hosted), now=NOW)

    text = message(report, "properties")
    assert "Recipient is missing" in text
    assert "issuedOn is missing" in text
    assert status(report, "dates") is CheckStatus.SKIP


def test_badge_class_that_cannot_be_fetched_fails_with_the_fetcher_message() -> None:
    hosted = load("basic-assertion.json")
    hosted["badge"] = "https://example.org/no-such-badge.json"
    report = verify_ob2(copy.deepcopy(hosted), fetcher=vector_fetcher(hosted), now=NOW)

    assert status(report, "badge_class") is CheckStatus.FAIL
    assert "HTTP 404 Not Found" in message(report, "badge_class")
    assert status(report, "issuer") is CheckStatus.SKIP
    assert not report.valid


def test_issuer_of_the_wrong_type_fails() -> None:
    badge = json.loads((ASSETS / "robotics-badge.json").read_text())
    badge["id"] = "https://example.org/badge-bad-issuer-type.json"
    badge["issuer"] = "https://example.org/issuer-invalid-type.json"
    hosted = load("basic-assertion.json")
    hosted["badge"] = badge  # an embedded badge class
    report = verify_ob2(copy.deepcopy(hosted), fetcher=vector_fetcher(hosted), now=NOW)

    assert status(report, "badge_class") is CheckStatus.PASS
    assert status(report, "issuer") is CheckStatus.FAIL
    assert "'Criteria'" in message(report, "issuer")


def test_issuer_document_claiming_an_id_on_another_host_fails() -> None:
    spoof = json.loads((ASSETS / "organization.json").read_text())
    spoof["id"] = "https://real-university.example/issuer"
    badge = json.loads((ASSETS / "robotics-badge.json").read_text())
    badge["issuer"] = "https://example.org/spoof-issuer.json"
    hosted = load("basic-assertion.json")
    hosted["badge"] = badge
    fetcher = vector_fetcher(hosted, **{"https://example.org/spoof-issuer.json": spoof})
    report = verify_ob2(copy.deepcopy(hosted), fetcher=fetcher, now=NOW)

    assert status(report, "issuer") is CheckStatus.FAIL
    assert "on another host" in message(report, "issuer")


# --------------------------------------------------------------------------- input shape


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('{"type": "Assertion", ', "Not valid JSON"),
        ("[1, 2, 3]", "must be a JSON object, but this is a list"),
        ('{"a": 1, "a": 2}', "appears twice"),
        (42, "got int"),
        (["not", "a", "badge"], "got list"),
        (b"\xff\xfe\x00", "not UTF-8"),
        ("just some words", "Not valid JSON"),
    ],
)
def test_unreadable_input_gives_a_failed_report(value: Any, fragment: str) -> None:
    fetcher = vector_fetcher()
    report = verify_ob2(value, fetcher=fetcher, now=NOW)

    assert not report.valid
    assert status(report, "json") is CheckStatus.FAIL
    assert fragment in message(report, "json")
    assert all(c.status is CheckStatus.SKIP for c in report.checks[1:])
    assert fetcher.requested == []


def test_assertion_url_that_cannot_be_fetched() -> None:
    report = verify_ob2("https://example.org/missing.json", fetcher=vector_fetcher(), now=NOW)

    assert status(report, "hosted_copy") is CheckStatus.FAIL
    assert "HTTP 404" in message(report, "hosted_copy")
    assert not report.valid


def test_malformed_document_behind_a_url() -> None:
    fetcher = vector_fetcher(None, **{ASSERTION_URL: b"<html>not json</html>"})
    report = verify_ob2(ASSERTION_URL, fetcher=fetcher, now=NOW)

    assert status(report, "hosted_copy") is CheckStatus.FAIL
    assert "not a JSON object" in message(report, "hosted_copy")


# --------------------------------------------------------------------------- signed


def test_signed_vector_verifies() -> None:
    report = verify_ob2(jwt_text("simple.jwt"), fetcher=vector_fetcher(), recipient=EMAIL, now=NOW)

    assert report.valid, report.as_dict()
    assert report.format == "ob2-signed"
    assert [c.id for c in report.checks] == [c for c in CHECK_ORDER if c != "hosted_copy"]
    assert "http://example.org/key1.json" in message(report, "verification")
    assert "no revocation list" in message(report, "revocation")


def test_signed_vector_checked_against_an_empty_revocation_list() -> None:
    report = verify_ob2(jwt_text("simple-not-revoked.jwt"), fetcher=vector_fetcher(), now=NOW)

    assert report.valid, report.as_dict()
    assert "(0 entries)" in message(report, "revocation")


def test_signed_vector_on_the_revocation_list_fails() -> None:
    report = verify_ob2(jwt_text("simple-revoked.jwt"), fetcher=vector_fetcher(), now=NOW)

    assert status(report, "verification") is CheckStatus.PASS
    assert [c.id for c in report.failures] == ["revocation"]
    assert "A good reason, for sure" in message(report, "revocation")


def test_unreachable_revocation_list_fails_rather_than_assumes_not_revoked() -> None:
    fetcher = vector_fetcher()
    del fetcher.documents["http://example.org/revocation-list.json"]
    report = verify_ob2(jwt_text("simple-revoked.jwt"), fetcher=fetcher, now=NOW)

    assert status(report, "revocation") is CheckStatus.FAIL
    assert "HTTP 404" in message(report, "revocation")


def test_signed_assertion_with_wrong_recipient() -> None:
    report = verify_ob2(
        jwt_text("simple.jwt"), fetcher=vector_fetcher(), recipient="eve@example.org", now=NOW
    )
    assert [c.id for c in report.failures] == ["recipient"]


def test_tampered_jws_payload_fails_the_signature() -> None:
    header, payload, signature = jwt_text("simple.jwt").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["recipient"]["identity"] = hash_identity("mallory@example.org", "deadsea")
    tampered = ".".join([header, b64url(json.dumps(claims).encode()), signature])
    report = verify_ob2(
        tampered, fetcher=vector_fetcher(), recipient="mallory@example.org", now=NOW
    )

    assert not report.valid
    assert status(report, "verification") is CheckStatus.FAIL
    assert "does not verify" in message(report, "verification")


def test_alg_none_is_refused() -> None:
    _header, payload, _signature = jwt_text("simple.jwt").split(".")
    unsigned = b64url(b'{"alg":"none","typ":"JWT"}') + "." + payload + "."
    report = verify_ob2(unsigned, fetcher=vector_fetcher(), now=NOW)

    assert report.format == "ob2-signed"
    assert status(report, "verification") is CheckStatus.FAIL
    assert "'none'" in message(report, "verification")
    assert not report.valid


def test_signed_vector_checked_with_the_wrong_key_fails() -> None:
    fetcher = vector_fetcher()
    # The issuer's key document now holds another issuer's public key.
    fetcher.documents["http://example.org/key1.json"] = json.dumps(
        {
            **json.loads((ASSETS / "key1.json").read_text()),
            "publicKeyPem": json.loads((ASSETS / "key2.json").read_text())["publicKeyPem"],
        }
    ).encode()
    report = verify_ob2(jwt_text("simple.jwt"), fetcher=fetcher, now=NOW)

    assert status(report, "verification") is CheckStatus.FAIL
    assert "does not verify with the key http://example.org/key1.json" in message(
        report, "verification"
    )


def test_decoded_json_of_a_signed_assertion_is_not_enough() -> None:
    payload = jwt_text("simple.jwt").split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fetcher = vector_fetcher()
    report = verify_ob2(claims, fetcher=fetcher, now=NOW)

    assert report.format == "ob2-signed"
    assert status(report, "verification") is CheckStatus.FAIL
    assert "compact JWS" in message(report, "verification")
    assert ASSERTION_URL not in fetcher.requested


def test_unreadable_jws() -> None:
    report = verify_ob2("eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", fetcher=vector_fetcher(), now=NOW)

    assert report.format == "ob2-signed"
    assert status(report, "json") is CheckStatus.FAIL
    assert "compact JWS" in message(report, "json")


@pytest.fixture(scope="module")
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(private_key: rsa.RSAPrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _sign(claims: dict[str, Any], private_key: rsa.RSAPrivateKey) -> str:
    key = RSAKey.import_key(private_key)
    return jws.serialize_compact({"alg": "RS256"}, json.dumps(claims).encode(), key)


def _signed_claims(badge: str, creator: str) -> dict[str, Any]:
    claims = load("basic-assertion.json")
    claims.update(
        id="urn:uuid:0c4b2b1e-4a1b-4a44-9b0e-7b7e2f0a1c11",
        badge=badge,
        verification={"type": "signed", "creator": creator},
    )
    return claims


def test_key_that_the_issuer_does_not_list_is_refused(attacker_key: rsa.RSAPrivateKey) -> None:
    # The attacker's key document claims the real issuer as owner; the issuer never listed it.
    creator = "https://attacker.example/key.json"
    key_doc = {
        "@context": "https://w3id.org/openbadges/v2",
        "type": "CryptographicKey",
        "id": creator,
        "owner": "https://example.org/organization.json",
        "publicKeyPem": _pem(attacker_key),
    }
    token = _sign(_signed_claims("https://example.org/robotics-badge.json", creator), attacker_key)
    report = verify_ob2(token, fetcher=vector_fetcher(None, **{creator: key_doc}), now=NOW)

    assert status(report, "verification") is CheckStatus.FAIL
    assert "not listed in the issuer's publicKey" in message(report, "verification")


def test_key_owned_by_another_issuer_is_refused(attacker_key: rsa.RSAPrivateKey) -> None:
    creator = "https://issuer-b.example/key.json"
    issuer_a = "https://issuer-a.example/issuer.json"
    documents = {
        creator: {
            "@context": "https://w3id.org/openbadges/v2",
            "type": "CryptographicKey",
            "id": creator,
            "owner": "https://issuer-b.example/issuer.json",
            "publicKeyPem": _pem(attacker_key),
        },
        # Issuer A (carelessly) lists B's key, but the key says it belongs to B.
        issuer_a: {
            "@context": "https://w3id.org/openbadges/v2",
            "type": "Issuer",
            "id": issuer_a,
            "name": "Issuer A",
            "publicKey": creator,
        },
        "https://issuer-a.example/badge.json": {
            "@context": "https://w3id.org/openbadges/v2",
            "type": "BadgeClass",
            "id": "https://issuer-a.example/badge.json",
            "name": "A badge",
            "issuer": issuer_a,
        },
    }
    token = _sign(_signed_claims("https://issuer-a.example/badge.json", creator), attacker_key)
    report = verify_ob2(token, fetcher=vector_fetcher(None, **documents), now=NOW)

    assert status(report, "issuer") is CheckStatus.PASS
    assert status(report, "verification") is CheckStatus.FAIL
    assert "owned by 'https://issuer-b.example/issuer.json', not by the issuer" in message(
        report, "verification"
    )


def test_own_signed_badge_with_embedded_issuer_key(attacker_key: rsa.RSAPrivateKey) -> None:
    # Control: the same machinery accepts a correctly linked key (owner + publicKey).
    creator = "https://issuer-c.example/key.json"
    issuer_c = "https://issuer-c.example/issuer.json"
    documents = {
        creator: {
            "id": creator,
            "type": "CryptographicKey",
            "owner": issuer_c,
            "publicKeyPem": _pem(attacker_key),
        },
        issuer_c: {
            "@context": "https://w3id.org/openbadges/v2",
            "type": "Issuer",
            "id": issuer_c,
            "name": "Issuer C",
            "publicKey": [creator],
        },
        "https://issuer-c.example/badge.json": {
            "type": "BadgeClass",
            "name": "C badge",
            "id": "https://issuer-c.example/badge.json",
            "issuer": issuer_c,
        },
    }
    token = _sign(_signed_claims("https://issuer-c.example/badge.json", creator), attacker_key)
    report = verify_ob2(token, fetcher=vector_fetcher(None, **documents), recipient=EMAIL, now=NOW)

    assert report.valid, report.as_dict()


# --------------------------------------------------------------------------- end to end over HTTP


@pytest.fixture
def badge_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    documents: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/ld+json")
            self.end_headers()
            self.wfile.write(body or b'{"error": "not found"}')

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", documents
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_end_to_end_hosted_assertion_over_http(badge_server: tuple[str, dict[str, bytes]]) -> None:
    base, documents = badge_server
    context = "https://w3id.org/openbadges/v2"
    issuer: dict[str, Any] = {
        "@context": context,
        "type": "Issuer",
        "id": f"{base}/issuer",
        "name": "Local Academy",
        "url": base,
        "email": "badges@local.example",
    }
    badge: dict[str, Any] = {
        "@context": context,
        "type": "BadgeClass",
        "id": f"{base}/badges/python",
        "name": "Python basics",
        "description": "Wrote a program.",
        "image": f"{base}/badges/python.png",
        "criteria": {"narrative": "Pass the test."},
        "issuer": f"{base}/issuer",
    }
    assertion: dict[str, Any] = {
        "@context": context,
        "type": "Assertion",
        "id": f"{base}/assertions/1",
        "recipient": {
            "type": "email",
            "hashed": True,
            "salt": "s4lt",
            "identity": hash_identity("learner@example.org", "s4lt"),
        },
        "badge": f"{base}/badges/python",
        "issuedOn": "2024-01-15T10:00:00Z",
        "verification": {"type": "hosted"},
    }
    for doc in (issuer, badge, assertion):
        documents[str(doc["id"]).removeprefix(base)] = json.dumps(doc).encode()
    fetcher: Fetcher = GuardedHttpClient(allow_private=True)

    report = verify_ob2(assertion["id"], fetcher=fetcher, recipient="Learner@Example.org", now=NOW)
    assert report.valid, report.as_dict()
    assert report.format == "ob2-hosted"
    assert "Local Academy" in message(report, "issuer")

    # The issuer revokes it: the next verification sees the hosted copy change.
    documents["/assertions/1"] = json.dumps({**assertion, "revoked": True}).encode()
    revoked = verify_ob2(assertion, fetcher=fetcher, now=NOW)
    assert [c.id for c in revoked.failures] == ["hosted_copy", "revocation"]

    # And a badge class that disappears is a failed check with the HTTP status.
    del documents["/badges/python"]
    gone = verify_ob2(assertion["id"], fetcher=fetcher, now=NOW)
    assert status(gone, "badge_class") is CheckStatus.FAIL
    assert "HTTP 404" in message(gone, "badge_class")

    # The same server is refused by the default client (loopback is not public): a failed
    # check carrying the client's reason, not an exception.
    refused = verify_ob2(assertion["id"], fetcher=GuardedHttpClient(allow_private=False), now=NOW)
    assert status(refused, "hosted_copy") is CheckStatus.FAIL
    assert "Could not fetch the hosted assertion" in message(refused, "hosted_copy")
    assert not refused.valid
