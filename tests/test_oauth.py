"""The OAuth 2.0 server behind the Open Badges API: dynamic client registration, the
authorization code grant with PKCE, refresh, revocation, and the requests it must refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from core.storage import OAuthClientRecord, OAuthTokenRecord
from lti_tool.api.oauth_store import (
    SCOPE_CREDENTIAL_READONLY,
    SCOPE_CREDENTIAL_UPSERT,
    digest,
)
from tests.conftest import STANDARDS
from tests.oauth_flow import (
    ACHIEVEMENT,
    REDIRECT_URI,
    ApiClient,
    Site,
    basic_auth,
    bearer,
    make_site,
    pkce_pair,
)

CREDENTIALS = "/ims/ob/v3p0/credentials"
IMSX_SCHEMA = (
    Path(__file__).resolve().parents[1] / "core/schemas/ob3/ob_v3p0_imsx_statusinfo_schema.json"
)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def _assert_status_info(response: Any, status: int, code_minor: str) -> None:
    """An Open Badges API error: the status and an Imsx_StatusInfo naming ``code_minor``."""
    import jsonschema

    assert response.status_code == status
    body = response.get_json()
    jsonschema.validate(body, json.loads(IMSX_SCHEMA.read_text()))
    assert body["imsx_codeMajor"] == "failure"
    field = body["imsx_codeMinor"]["imsx_codeMinorField"][0]
    assert field["imsx_codeMinorFieldValue"] == code_minor


def test_round_trip_registration_consent_pkce_upsert_and_refresh(
    tmp_path: Path, database_url: str
) -> None:
    """The whole Open Badges API journey, on SQLite and on PostgreSQL: register, consent,
    exchange the code with its verifier, keep a credential, list it, keep it again, refresh."""
    site = make_site(tmp_path, database_url)
    browser = site.client()
    client = ApiClient.register(browser)
    assert client.client_secret
    site.log_in(browser)
    verifier, challenge = pkce_pair()
    redirect = client.consent(challenge)
    assert redirect["state"] == ["xyz-state"]
    response = client.exchange(redirect["code"][0], verifier)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    tokens = response.get_json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert set(tokens["scope"].split()) == {
        SCOPE_CREDENTIAL_READONLY,
        SCOPE_CREDENTIAL_UPSERT,
        "https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.readonly",
        "https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.update",
    }

    issued = site.service.issue("rotterdam", ACHIEVEMENT, site.user.email)
    auth = bearer(tokens["access_token"])
    created = browser.post(
        CREDENTIALS, data=issued.text, content_type="application/json", headers=auth
    )
    assert created.status_code == 201
    assert created.get_json() == issued.document
    listed = browser.get(CREDENTIALS, headers=auth)
    assert listed.status_code == 200
    assert listed.get_json()["credential"] == [issued.document]
    assert listed.headers["X-Total-Count"] == "1"
    again = browser.post(
        CREDENTIALS, data=issued.text, content_type="application/json", headers=auth
    )
    assert again.status_code == 200
    assert browser.get(CREDENTIALS, headers=auth).headers["X-Total-Count"] == "1"

    refreshed = client.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200
    new_tokens = refreshed.get_json()
    assert new_tokens["access_token"] != tokens["access_token"]
    assert new_tokens["refresh_token"] != tokens["refresh_token"]
    assert browser.get(CREDENTIALS, headers=bearer(new_tokens["access_token"])).status_code == 200
    # Refresh tokens rotate: the old one, and the access token it replaced, no longer work.
    assert client.refresh(tokens["refresh_token"]).status_code == 400
    assert browser.get(CREDENTIALS, headers=auth).status_code == 401


def test_tokens_and_secrets_are_stored_only_as_digests(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    tokens = client.tokens()
    with site.service.sessions() as session:
        row = session.query(OAuthTokenRecord).one()
        stored_client = session.query(OAuthClientRecord).one()
    assert row.access_token == digest(tokens["access_token"])
    assert row.refresh_token == digest(tokens["refresh_token"])
    assert client.client_secret is not None
    assert stored_client.client_secret == digest(client.client_secret)


def test_a_public_client_registers_without_a_secret_and_uses_pkce(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser, token_endpoint_auth_method="none")
    assert client.client_secret is None
    site.log_in(browser)
    verifier, challenge = pkce_pair()
    code = client.consent(challenge)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": client.client_id,
        "code_verifier": verifier,
    }
    response = browser.post(client.urls["token"], data=form)
    assert response.status_code == 200
    assert "access_token" in response.get_json()


def test_the_token_endpoint_refuses_a_missing_or_wrong_pkce_verifier(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    _, challenge = pkce_pair()
    missing = client.exchange(client.consent(challenge)["code"][0], None)
    assert missing.status_code == 400
    assert missing.get_json()["error"] == "invalid_request"
    wrong_verifier, _ = pkce_pair()
    wrong = client.exchange(client.consent(challenge)["code"][0], wrong_verifier)
    assert wrong.status_code == 400
    assert wrong.get_json()["error"] == "invalid_grant"


def test_authorization_requests_without_s256_pkce_go_back_with_an_error(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    for url in (client.authorize_query(None), client.authorize_query("x" * 43, method="plain")):
        response = browser.get(url)
        assert response.status_code == 302
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["error"] == ["invalid_request"]
        assert query["state"] == ["xyz-state"]


def test_a_code_is_single_use(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    verifier, challenge = pkce_pair()
    code = client.consent(challenge)["code"][0]
    assert client.exchange(code, verifier).status_code == 200
    reused = client.exchange(code, verifier)
    assert reused.status_code == 400
    assert reused.get_json()["error"] == "invalid_grant"


def test_denying_consent_sends_access_denied_to_the_client(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    _, challenge = pkce_pair()
    query = client.consent(challenge, allow=False)
    assert query["error"] == ["access_denied"]
    assert "code" not in query


def test_the_consent_page_names_the_client_and_needs_a_login(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    _, challenge = pkce_pair()
    url = client.authorize_query(challenge)
    anonymous = browser.get(url)
    assert anonymous.status_code == 302
    assert urlsplit(anonymous.headers["Location"]).path == "/login"
    site.log_in(browser)
    page = browser.get(url)
    text = page.get_data(as_text=True)
    assert "Wallet Voorbeeld" in text
    assert "wallet.example" in text
    # The answer redirects to the client: the page's CSP must let the form go there.
    assert "form-action 'self' https://wallet.example" in page.headers["Content-Security-Policy"]
    # Without the page's CSRF token the answer is refused.
    refused = browser.post(url, data={"decision": "allow"})
    assert refused.status_code == 400
    assert "Location" not in refused.headers


def test_an_unknown_client_is_refused_everywhere(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    _, challenge = pkce_pair()
    url = client.authorize_query(challenge).replace(client.client_id, "no-such-client")
    page = browser.get(url)
    # Not redirected: the redirection URI of an unknown client cannot be trusted.
    assert page.status_code == 400
    assert "Location" not in page.headers
    form = {"grant_type": "authorization_code", "code": "abc", "redirect_uri": REDIRECT_URI}
    token = browser.post(client.urls["token"], data=form, headers=basic_auth("no-such-client", "x"))
    assert token.status_code == 401
    assert token.get_json()["error"] == "invalid_client"
    wrong_secret = browser.post(
        client.urls["token"], data=form, headers=basic_auth(client.client_id, "not-the-secret")
    )
    assert wrong_secret.status_code == 401


def test_an_unregistered_redirect_uri_is_not_followed(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    _, challenge = pkce_pair()
    url = client.authorize_query(challenge).replace("wallet.example", "attacker.example")
    response = browser.get(url)
    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"redirect_uris": ["http://wallet.example/callback"]}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"scope": "issue"}, "invalid_client_metadata"),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
    ],
)
def test_registration_refuses_what_open_registration_must_not_grant(
    site: Site, metadata: dict[str, Any], error: str
) -> None:
    from tests.oauth_flow import REGISTRATION

    response = site.client().post("/oauth/register", json={**REGISTRATION, **metadata})
    assert response.status_code == 400
    assert response.get_json()["error"] == error


def test_registration_needs_a_json_object(site: Site) -> None:
    response = site.client().post("/oauth/register", data="client_name=x")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"


def test_a_token_without_the_scope_gets_403_with_status_info(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    tokens = client.tokens(scope=SCOPE_CREDENTIAL_READONLY)
    assert tokens["scope"] == SCOPE_CREDENTIAL_READONLY
    issued = site.service.issue("rotterdam", ACHIEVEMENT, site.user.email)
    response = browser.post(
        CREDENTIALS,
        data=issued.text,
        content_type="application/json",
        headers=bearer(tokens["access_token"]),
    )
    _assert_status_info(response, 403, "forbidden")
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert browser.get(CREDENTIALS, headers=bearer(tokens["access_token"])).status_code == 200


def test_an_expired_token_gets_401(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    tokens = client.tokens()
    with site.service.transaction() as session:
        session.execute(
            update(OAuthTokenRecord)
            .where(OAuthTokenRecord.access_token == digest(tokens["access_token"]))
            .values(issued_at=OAuthTokenRecord.issued_at - 3601)
        )
    response = browser.get(CREDENTIALS, headers=bearer(tokens["access_token"]))
    _assert_status_info(response, 401, "unauthorizedrequest")
    assert "expired" in response.get_json()["imsx_description"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_requests_without_or_with_an_unknown_token_get_401(site: Site) -> None:
    browser = site.client()
    missing = browser.get(CREDENTIALS)
    _assert_status_info(missing, 401, "unauthorizedrequest")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    _assert_status_info(
        browser.get(CREDENTIALS, headers=bearer("made-up")), 401, "unauthorizedrequest"
    )
    basic = browser.get(CREDENTIALS, headers=basic_auth("a", "b"))
    _assert_status_info(basic, 401, "unauthorizedrequest")


def test_a_revoked_token_gets_401(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    tokens = client.tokens()
    assert client.client_secret is not None
    revoked = browser.post(
        "/oauth/revoke",
        data={"token": tokens["access_token"], "token_type_hint": "access_token"},
        headers=basic_auth(client.client_id, client.client_secret),
    )
    assert revoked.status_code == 200
    response = browser.get(CREDENTIALS, headers=bearer(tokens["access_token"]))
    _assert_status_info(response, 401, "unauthorizedrequest")
    assert "revoked" in response.get_json()["imsx_description"]
    # Revoking the access token leaves the refresh token; revoking that ends the grant.
    assert client.refresh(tokens["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_ends_the_grant(site: Site) -> None:
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    tokens = client.tokens()
    assert client.client_secret is not None
    browser.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"]},
        headers=basic_auth(client.client_id, client.client_secret),
    )
    assert client.refresh(tokens["refresh_token"]).status_code == 400
    assert browser.get(CREDENTIALS, headers=bearer(tokens["access_token"])).status_code == 401


def test_another_client_cannot_revoke_or_refresh_a_token(site: Site) -> None:
    browser = site.client()
    owner = ApiClient.register(browser)
    other = ApiClient.register(browser)
    site.log_in(browser)
    tokens = owner.tokens()
    assert other.client_secret is not None
    browser.post(
        "/oauth/revoke",
        data={"token": tokens["access_token"]},
        headers=basic_auth(other.client_id, other.client_secret),
    )
    assert browser.get(CREDENTIALS, headers=bearer(tokens["access_token"])).status_code == 200
    assert other.refresh(tokens["refresh_token"]).status_code == 400


def test_authorization_server_metadata(site: Site) -> None:
    metadata = site.client().get("/.well-known/oauth-authorization-server").get_json()
    assert metadata["issuer"] == "http://badges.test"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["registration_endpoint"] == "http://badges.test/oauth/register"
    assert metadata["revocation_endpoint"] == "http://badges.test/oauth/revoke"
    assert "authorization_code" in metadata["grant_types_supported"]


def test_the_bundled_open_badges_openapi_file_is_the_specifications() -> None:
    # The discovery document is built from this copy; it must not drift from the shared one.
    shared = STANDARDS / "schemas/ob3/openapi/imsob_v3p0.json"
    bundled = Path(__file__).resolve().parents[1] / "core/schemas/ob3/imsob_v3p0_openapi.json"
    assert json.loads(bundled.read_text()) == json.loads(shared.read_text())
