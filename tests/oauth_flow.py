"""What the API tests share: a site (app + service + an issuer + a person who can log in) and
an OAuth 2.0 client that registers, gets consent with PKCE and exchanges the code, the way an
Open Badges API client does."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from core.accounts import UserView
from core.service import BadgeService
from lti_tool.api.oauth_store import OB_SCOPES
from lti_tool.app import create_app
from lti_tool.auth import SESSION_LOGIN_AT, SESSION_STAMP, SESSION_USER
from tests.conftest import make_settings

BASE_URL = "http://badges.test"
REDIRECT_URI = "https://wallet.example/callback"
ALL_OB_SCOPES = " ".join(OB_SCOPES)
ACHIEVEMENT = {
    "type": ["Achievement"],
    "name": "Buurtfotograaf Feijenoord",
    "description": "Photographed the neighbourhood's history with its older residents.",
    "criteria": {"narrative": "Take part in four photo walks and show ten photographs."},
}


@dataclass
class Site:
    """The web app over a service with the issuer ``rotterdam`` and the person ``user``."""

    app: Flask
    service: BadgeService
    user: UserView

    def client(self) -> FlaskClient:
        """A browser (or API client) talking to the app."""
        return self.app.test_client()

    def log_in(self, browser: FlaskClient, user: UserView | None = None) -> None:
        """Log ``user`` in on ``browser``'s session, as the log-in page does."""
        who = user or self.user
        with browser.session_transaction() as session:
            session[SESSION_USER] = who.id
            session[SESSION_STAMP] = who.session_stamp
            session[SESSION_LOGIN_AT] = int(time.time())


def make_site(tmp_path: Path, database_url: str | None = None) -> Site:
    """A fresh site on SQLite (or on ``database_url``)."""
    service = BadgeService(make_settings(tmp_path, database_url))
    app = create_app(service=service)
    app.config["TESTING"] = True
    service.create_issuer("rotterdam", "Gemeente Rotterdam", url="https://www.rotterdam.nl")
    user = service.accounts.create_user(
        "sam.devries@example.org", "Sam de Vries", None, "organiser", issuer_slug="rotterdam"
    )
    return Site(app, service, user)


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def basic_auth(client_id: str, client_secret: str) -> dict[str, str]:
    """An HTTP Basic ``Authorization`` header."""
    raw = f"{client_id}:{client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def bearer(access_token: str) -> dict[str, str]:
    """An ``Authorization: Bearer`` header."""
    return {"Authorization": f"Bearer {access_token}"}


def path_of(url: str) -> str:
    """The path (and query) of one of the site's absolute URLs, for the test client."""
    assert url.startswith(BASE_URL), url
    return url[len(BASE_URL) :]


def csrf_token_in(page: str) -> str:
    """The hidden CSRF field of a page's form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


REGISTRATION = {
    "client_name": "Wallet Voorbeeld",
    "client_uri": "https://wallet.example/",
    "logo_uri": "https://wallet.example/logo.png",
    "tos_uri": "https://wallet.example/terms",
    "policy_uri": "https://wallet.example/privacy",
    "software_id": "7e0c4f1b-5a48-4c4f-9f8e-2b1f43a0c3d1",
    "software_version": "1.2.0",
    "redirect_uris": [REDIRECT_URI],
    "token_endpoint_auth_method": "client_secret_basic",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "scope": ALL_OB_SCOPES,
}


@dataclass
class ApiClient:
    """An Open Badges API client: registered through the discovery document's URLs."""

    browser: FlaskClient
    client_id: str
    client_secret: str | None
    urls: dict[str, str] = field(default_factory=dict)

    @classmethod
    def register(cls, browser: FlaskClient, **overrides: Any) -> ApiClient:
        """Discover the endpoints, then register (RFC 7591)."""
        sdd = browser.get("/ims/ob/v3p0/discovery").get_json()
        scheme = sdd["components"]["securitySchemes"]["OAuth2ACG"]
        flow = scheme["flows"]["authorizationCode"]
        urls = {
            "register": path_of(scheme["x-imssf-registrationUrl"]),
            "authorize": path_of(flow["authorizationUrl"]),
            "token": path_of(flow["tokenUrl"]),
            "refresh": path_of(flow["refreshUrl"]),
        }
        response = browser.post(urls["register"], json={**REGISTRATION, **overrides})
        assert response.status_code == 201, response.get_data(as_text=True)
        body = response.get_json()
        return cls(browser, body["client_id"], body.get("client_secret"), urls)

    def authorize_query(
        self, challenge: str | None, *, scope: str = ALL_OB_SCOPES, method: str = "S256"
    ) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": "xyz-state",
        }
        if challenge is not None:
            params["code_challenge"] = challenge
            params["code_challenge_method"] = method
        return f"{self.urls['authorize']}?{urlencode(params)}"

    def consent(
        self, challenge: str | None, *, scope: str = ALL_OB_SCOPES, allow: bool = True
    ) -> dict[str, list[str]]:
        """Open the authorization page, answer it, and return the redirect's query."""
        url = self.authorize_query(challenge, scope=scope)
        page = self.browser.get(url)
        assert page.status_code == 200, page.get_data(as_text=True)
        answer = self.browser.post(
            url,
            data={
                "csrf_token": csrf_token_in(page.get_data(as_text=True)),
                "decision": "allow" if allow else "deny",
            },
        )
        assert answer.status_code == 302
        location = answer.headers["Location"]
        assert location.startswith(REDIRECT_URI + "?")
        return parse_qs(urlsplit(location).query)

    def exchange(self, code: str, verifier: str | None) -> Any:
        """POST the code (and the PKCE verifier) to the token endpoint."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        if verifier is not None:
            form["code_verifier"] = verifier
        return self.browser.post(self.urls["token"], data=form, headers=self._auth())

    def refresh(self, refresh_token: str) -> Any:
        """POST a refresh token to the refresh URL."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self.browser.post(self.urls["refresh"], data=form, headers=self._auth())

    def _auth(self) -> dict[str, str]:
        return basic_auth(self.client_id, self.client_secret) if self.client_secret else {}

    def tokens(self, scope: str = ALL_OB_SCOPES) -> dict[str, Any]:
        """The whole dance: consent with PKCE, then the token response."""
        verifier, challenge = pkce_pair()
        query = self.consent(challenge, scope=scope)
        response = self.exchange(query["code"][0], verifier)
        assert response.status_code == 200, response.get_data(as_text=True)
        return dict(response.get_json())


def credential_json(text: str) -> dict[str, Any]:
    """A JSON credential's object."""
    return dict(json.loads(text))


__all__ = [
    "ACHIEVEMENT",
    "ALL_OB_SCOPES",
    "BASE_URL",
    "REDIRECT_URI",
    "ApiClient",
    "Site",
    "basic_auth",
    "bearer",
    "make_site",
    "pkce_pair",
]
