"""The web pages over the badge core, through Flask's test client on a SQLite database."""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.baking import bake_png
from core.config import Settings
from core.keys import new_key_encryption_key
from core.limits import MAX_IMAGE_BYTES
from core.service import BadgeService, IssuedCredential
from core.status_list import decode_list
from lti_tool.app import create_app

BASE_URL = "http://badges.test"
ISSUER_ID = f"{BASE_URL}/issuers/rotterdam"
RECIPIENT = "sam.devries@example.org"
ACHIEVEMENT = {
    "type": ["Achievement"],
    "name": "Digitale Makers: Coderen in Delfshaven",
    "description": "Built and presented a small game in a six-week coding club.",
    "criteria": {"narrative": "Attend five of six sessions and present a working game."},
}


@dataclass
class Site:
    """One app over one service, with an issuer and a credential it issued."""

    app: Flask
    service: BadgeService
    issued: IssuedCredential

    @property
    def token(self) -> str:
        return self.issued.credential_id.rsplit("/", 1)[1]


def _settings(folder: Path) -> Settings:
    return Settings(
        data_dir=folder,
        database_url=f"sqlite:///{folder / 'web.db'}",
        base_url=BASE_URL,
        key_encryption_key=new_key_encryption_key(),
        allow_private_fetch=False,
        fetch_timeout_seconds=5.0,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Shared by the read-only tests (issuing and signing is the slow part)."""
    service = BadgeService(_settings(tmp_path_factory.mktemp("web")))
    app = create_app(service=service)
    service.create_issuer(
        "rotterdam",
        "Rotterdam City of Learning",
        url="https://rotterdam.citiesoflearning.nl",
        description="Non-formal learning across Rotterdam's neighbourhoods.",
    )
    service.create_issuer("utrecht", "Utrecht City of Learning")
    issued = service.issue("rotterdam", ACHIEVEMENT, RECIPIENT)
    yield Site(app, service, issued)
    service.engine.dispose()


def _english_client(app: Flask) -> FlaskClient:
    """A client whose browser prefers English (these tests read the English wording; the
    site's default language is Dutch, see tests/test_i18n.py)."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def client(site: Site) -> FlaskClient:
    return _english_client(site.app)


def _csrf_token(client: FlaskClient) -> str:
    page = client.get("/verify").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the verify form carries a CSRF token"
    return match.group(1)


def _post_verify(client: FlaskClient, **fields: Any) -> Any:
    headers = fields.pop("headers", {})
    data = {"csrf_token": _csrf_token(client), "badge": "", "recipient": "", **fields}
    return client.post("/verify", data=data, headers=headers, content_type="multipart/form-data")


def _check_row(page: str, title_start: str) -> str:
    """The status word of the check whose title starts with ``title_start``."""
    match = re.search(
        r'<span class="check-status">(\w+)</span>\s*<span class="check-title">'
        + re.escape(title_start),
        page,
    )
    assert match, f"no check titled {title_start!r} on the page"
    return match.group(1)


def _verdict(page: str) -> str:
    match = re.search(r'<h2 id="report-heading">\s*([^<]+?)\s*</h2>', page)
    assert match, "the page shows a verdict"
    return match.group(1)


def _tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)  # 1x1 RGBA, 8 bits per channel
    pixels = zlib.compress(b"\x00\x1e\x7b\x34\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# -- home, issuers, keys ----------------------------------------------------------------------


def test_home_lists_issuers_with_links_and_the_verify_page(client: FlaskClient) -> None:
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="en">' in page
    assert 'href="/issuers/rotterdam">Rotterdam City of Learning</a>' in page
    assert 'href="/issuers/utrecht">Utrecht City of Learning</a>' in page
    assert 'href="/verify"' in page


def test_pages_send_security_headers_and_no_scripts(client: FlaskClient) -> None:
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert "<script" not in response.get_data(as_text=True)
    assert client.get("/static/style.css").status_code == 200


def test_lti_pages_may_be_framed_by_any_lms_and_other_pages_only_by_this_site(
    client: FlaskClient,
) -> None:
    """The pages of a launch live in the LMS's iframe: their policy lets any site frame them,
    with no contradicting X-Frame-Options; every other page keeps SAMEORIGIN."""
    lti_page = client.get("/lti/session/no-such-launch")
    assert lti_page.status_code == 404
    assert "frame-ancestors *" in lti_page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in lti_page.headers
    home = client.get("/")
    assert home.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in home.headers["Content-Security-Policy"]


def test_issuer_profile_is_a_page_for_people_and_json_ld_for_programs(
    client: FlaskClient,
) -> None:
    page = client.get("/issuers/rotterdam", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "<h1>Rotterdam City of Learning</h1>" in page.get_data(as_text=True)
    assert "Accept" in page.headers["Vary"]

    for accept in ("application/ld+json", "application/json"):
        response = client.get("/issuers/rotterdam", headers={"Accept": accept})
        assert response.status_code == 200
        assert response.mimetype == accept
        profile = json.loads(response.get_data())
        assert profile["id"] == ISSUER_ID
        assert "Profile" in profile["type"]
        assert profile["name"] == "Rotterdam City of Learning"
        methods = {m["id"]: m for m in profile["verificationMethod"]}
        assert methods[f"{ISSUER_ID}#key-1"]["publicKeyMultibase"].startswith("z6Mk")
        assert f"{ISSUER_ID}#key-1" in profile["assertionMethod"]


def test_unknown_issuer_is_a_404_page_or_problem_json(client: FlaskClient) -> None:
    page = client.get("/issuers/nobody")
    assert page.status_code == 404
    assert "No issuer with the slug" in page.get_data(as_text=True)

    problem = client.get("/issuers/nobody", headers={"Accept": "application/json"})
    assert problem.status_code == 404
    assert problem.mimetype == "application/problem+json"
    body = problem.get_json(force=True)
    assert body["status"] == 404
    assert "nobody" in body["detail"]
    assert client.get("/issuers/nobody/jwks.json").status_code == 404
    assert client.get("/issuers/nobody/did.json").status_code == 404


def test_did_web_document_publishes_the_issuer_keys_under_its_did(
    client: FlaskClient, site: Site
) -> None:
    response = client.get("/issuers/rotterdam/did.json")
    assert response.status_code == 200
    document = json.loads(response.get_data())
    did = "did:web:badges.test:issuers:rotterdam"
    assert document["id"] == did
    assert "https://www.w3.org/ns/did/v1" in document["@context"]
    [method] = document["verificationMethod"]
    assert method["id"] == f"{did}#key-1"
    assert method["controller"] == did
    assert document["assertionMethod"] == [f"{did}#key-1"]
    profile = site.service.issuer_profile("rotterdam")
    assert method["publicKeyMultibase"] == profile["verificationMethod"][0]["publicKeyMultibase"]
    assert "max-age" in response.headers["Cache-Control"]


def test_jwks_lists_the_non_retired_keys(client: FlaskClient, site: Site) -> None:
    site.service.rotate_key("utrecht")
    jwks = json.loads(client.get("/issuers/utrecht/jwks.json").get_data())
    kids = [key["kid"] for key in jwks["keys"]]
    utrecht = f"{BASE_URL}/issuers/utrecht"
    assert kids == [f"{utrecht}#key-1", f"{utrecht}#key-2"]
    assert all(key["kty"] == "OKP" and key["crv"] == "Ed25519" for key in jwks["keys"])
    assert all("d" not in key for key in jwks["keys"])

    site.service.retire_key("utrecht", "key-1")
    jwks = json.loads(client.get("/issuers/utrecht/jwks.json").get_data())
    assert [key["kid"] for key in jwks["keys"]] == [f"{utrecht}#key-2"]


# -- status lists -----------------------------------------------------------------------------


def _revocation_entry(issued: IssuedCredential) -> dict[str, Any]:
    document = issued.document
    assert isinstance(document, dict)
    status = document["credentialStatus"]
    entries = status if isinstance(status, list) else [status]
    return next(e for e in entries if e["statusPurpose"] == "revocation")


def test_status_list_is_signed_and_shows_a_revocation(client: FlaskClient, site: Site) -> None:
    issued = site.service.issue("rotterdam", ACHIEVEMENT, "noor@example.org")
    entry = _revocation_entry(issued)
    path = entry["statusListCredential"].removeprefix(BASE_URL)
    index = int(entry["statusListIndex"])

    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/vc+ld+json"
    assert "max-age" in response.headers["Cache-Control"]
    before = json.loads(response.get_data())
    assert "BitstringStatusListCredential" in before["type"]
    assert before["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert decode_list(before["credentialSubject"]["encodedList"]).get(index) is False

    site.service.revoke(issued.credential_id)
    after = json.loads(client.get(path).get_data())
    assert decode_list(after["credentialSubject"]["encodedList"]).get(index) is True

    plain = client.get(path, headers={"Accept": "application/json"})
    assert plain.mimetype == "application/json"
    assert client.get("/status/99999").status_code == 404

    page = client.get(f"/credentials/{issued.credential_id.rsplit('/', 1)[1]}")
    assert _verdict(page.get_data(as_text=True)) == "Not valid"


def test_status_list_answers_conditional_requests(client: FlaskClient, site: Site) -> None:
    path = _revocation_entry(site.issued)["statusListCredential"].removeprefix(BASE_URL)
    first = client.get(path)
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


# -- credential pages -------------------------------------------------------------------------


def test_credential_page_shows_the_badge_and_a_valid_report(
    client: FlaskClient, site: Site
) -> None:
    response = client.get(f"/credentials/{site.token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Digitale Makers: Coderen in Delfshaven</h1>" in page
    assert "Rotterdam City of Learning" in page
    assert _verdict(page) == "Valid"
    assert _check_row(page, "Signature") == "Pass"
    assert f'href="/credentials/{site.token}/download"' in page


def test_credential_as_json_and_as_download(client: FlaskClient, site: Site) -> None:
    response = client.get(f"/credentials/{site.token}", headers={"Accept": "application/json"})
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data()) == site.issued.document

    download = client.get(f"/credentials/{site.token}/download")
    assert "attachment" in download.headers["Content-Disposition"]
    assert json.loads(download.get_data()) == site.issued.document


def test_jwt_credential_page_and_download(client: FlaskClient, site: Site) -> None:
    issued = site.service.issue("rotterdam", ACHIEVEMENT, RECIPIENT, proof_format="jwt")
    token = issued.credential_id.rsplit("/", 1)[1]
    page = client.get(f"/credentials/{token}").get_data(as_text=True)
    assert "Digitale Makers" in page
    assert _verdict(page) == "Valid"
    download = client.get(f"/credentials/{token}/download")
    assert download.get_data(as_text=True).strip() == issued.text
    assert ".jwt" in download.headers["Content-Disposition"]


def test_unknown_credential_is_a_404_page(client: FlaskClient) -> None:
    response = client.get("/credentials/not-issued-here")
    assert response.status_code == 404
    assert "was issued here" in response.get_data(as_text=True)


# -- verify -----------------------------------------------------------------------------------


def test_verify_pasted_credential_is_valid_for_its_recipient(
    client: FlaskClient, site: Site
) -> None:
    response = _post_verify(client, badge=site.issued.text, recipient=RECIPIENT)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _verdict(page) == "Valid"
    assert "Digitale Makers: Coderen in Delfshaven" in page
    assert _check_row(page, "Signature") == "Pass"
    assert _check_row(page, "Awarded to this person") == "Pass"


def test_verify_wrong_recipient_is_not_valid(client: FlaskClient, site: Site) -> None:
    page = _post_verify(client, badge=site.issued.text, recipient="someone@example.org")
    text = page.get_data(as_text=True)
    assert _verdict(text) == "Not valid"
    assert _check_row(text, "Awarded to this person") == "Fail"


def test_verify_tampered_credential_fails_the_proof_check(client: FlaskClient, site: Site) -> None:
    document = site.issued.document
    assert isinstance(document, dict)
    document["credentialSubject"]["achievement"]["name"] = "Something I did not earn"
    page = _post_verify(client, badge=json.dumps(document)).get_data(as_text=True)
    assert _verdict(page) == "Not valid"
    assert _check_row(page, "Signature") == "Fail"


def test_verify_uploaded_baked_png(client: FlaskClient, site: Site) -> None:
    baked = bake_png(_tiny_png(), site.issued.text)
    response = _post_verify(client, file=(io.BytesIO(baked), "badge.png", "image/png"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _verdict(page) == "Valid"
    assert "from a baked PNG image" in page


def test_verify_malformed_json_shows_a_readable_report(client: FlaskClient) -> None:
    response = _post_verify(client, badge='{"@context": [')
    page = response.get_data(as_text=True)
    assert response.status_code in (200, 400)
    assert _verdict(page) == "Not valid"
    assert _check_row(page, "Readable badge") == "Fail"


def test_verify_with_nothing_or_both_inputs_explains_what_to_do(
    client: FlaskClient, site: Site
) -> None:
    empty = _post_verify(client)
    assert empty.status_code == 400
    assert "Paste a badge" in empty.get_data(as_text=True)
    both = _post_verify(
        client, badge=site.issued.text, file=(io.BytesIO(b"{}"), "badge.json", "application/json")
    )
    assert both.status_code == 400
    assert "not both" in both.get_data(as_text=True)


def test_oversized_upload_is_a_readable_413_page(client: FlaskClient) -> None:
    huge = io.BytesIO(b"\0" * (MAX_IMAGE_BYTES + 100_000))
    response = _post_verify(client, file=(huge, "huge.png", "image/png"))
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "too large" in page.lower()
    assert "<h1>File too large</h1>" in page


def test_form_without_csrf_token_is_refused(client: FlaskClient, site: Site) -> None:
    client.get("/verify")
    response = client.post("/verify", data={"badge": site.issued.text})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)

    forged = client.post("/verify", data={"badge": site.issued.text, "csrf_token": "guess"})
    assert forged.status_code == 400


def test_verify_json_api(client: FlaskClient, site: Site) -> None:
    from_form = _post_verify(client, badge=site.issued.text, headers={"Accept": "application/json"})
    report = from_form.get_json()
    assert from_form.status_code == 200
    assert report["valid"] is True
    assert {c["id"]: c["status"] for c in report["checks"]}["proof"] == "pass"

    # A JSON body cannot be posted cross-site without a preflight: no CSRF token needed.
    api = client.post(
        "/verify",
        json={"credential": site.issued.document, "recipient": "someone@example.org"},
        headers={"Accept": "application/json"},
    )
    report = api.get_json()
    assert report["valid"] is False
    assert {c["id"]: c["status"] for c in report["checks"]}["recipient"] == "fail"

    bad = client.post("/verify", json={"badge": 1})
    assert bad.status_code == 400
    assert bad.mimetype == "application/problem+json"
    assert "credential" in bad.get_json(force=True)["detail"]


def test_unknown_page_is_a_readable_404(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.get_data(as_text=True)


def test_app_from_settings_alone_serves_an_empty_site(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))
    page = _english_client(app).get("/").get_data(as_text=True)
    assert "No issuers yet." in page


def test_forms_survive_a_restart(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    before = _english_client(create_app(settings))
    token = _csrf_token(before)
    cookie = before.get_cookie("session")
    assert cookie is not None

    after = _english_client(create_app(settings))
    after.set_cookie("session", cookie.value)
    response = after.post("/verify", data={"csrf_token": token, "badge": "{}"})
    assert response.status_code == 200
    assert _verdict(response.get_data(as_text=True)) == "Not valid"
