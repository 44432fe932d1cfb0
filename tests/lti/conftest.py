"""What the LTI tests share: a running test platform, and the tool (web app + badge service)
registered with it, fetching over real HTTP from 127.0.0.1 (private fetching allowed)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from core.config import Settings
from core.service import BadgeService
from lti_tool.app import create_app
from tests.conftest import make_settings
from tests.lti_platform import TestPlatform, ToolBrowser

TOOL_BASE_URL = "https://badges.test"
LAUNCH_URL = f"{TOOL_BASE_URL}/lti/launch"
LOGIN_URL = f"{TOOL_BASE_URL}/lti/login"
JWKS_PATH = "/lti/jwks.json"


def lti_settings(tmp_path: Path, database_url: str | None = None) -> Settings:
    """Test settings for the tool: https base URL, and fetching from loopback allowed (the test
    platform listens on 127.0.0.1)."""
    return replace(
        make_settings(tmp_path, database_url), base_url=TOOL_BASE_URL, allow_private_fetch=True
    )


def make_tool_app(settings: Settings) -> tuple[Flask, BadgeService]:
    """A web app over a new badge service on ``settings`` (one "web worker")."""
    service = BadgeService(settings)
    app = create_app(service=service)
    app.config["TESTING"] = True
    return app, service


def tool_jwks_of(app: Flask) -> Any:
    """A source of the tool's JWKS, read from the tool's own URL (as a platform would)."""

    def read() -> Any:
        response = app.test_client().get(JWKS_PATH, base_url=TOOL_BASE_URL)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    return read


def register(service: BadgeService, platform: TestPlatform, **extra: Any) -> Any:
    """Register ``platform`` with the tool by hand (as an administrator would)."""
    return service.lti.register_platform(
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_login_url=platform.auth_url,
        auth_token_url=platform.token_url,
        key_set_url=platform.jwks_url,
        deployment_ids=platform.deployment_ids,
        name="Test Moodle",
        product_family_code=platform.product_family_code,
        **extra,
    )


@dataclass
class LtiSite:
    """The tool registered with the test platform."""

    app: Flask
    service: BadgeService
    platform: TestPlatform
    registration: Any

    def browser(self) -> ToolBrowser:
        """A fresh user agent (its own cookies)."""
        return ToolBrowser(self.app.test_client(), self.platform, TOOL_BASE_URL)


@pytest.fixture
def platform() -> Iterator[TestPlatform]:
    """A running test platform (Moodle-like)."""
    with TestPlatform() as running:
        yield running


def connect(app: Flask, service: BadgeService, platform: TestPlatform, **extra: Any) -> LtiSite:
    """Register ``platform`` with the tool (``extra`` for the registration, e.g.
    ``email_trusted=True``) and tell the platform the tool's URLs and keys."""
    registration = register(service, platform, **extra)
    platform.set_tool(launch_url=LAUNCH_URL, login_url=LOGIN_URL, jwks=tool_jwks_of(app))
    return LtiSite(app, service, platform, registration)


def site_on(
    data_dir: Path, platform: TestPlatform, database_url: str | None = None, **extra: Any
) -> LtiSite:
    """A new tool on ``data_dir`` (and ``database_url``, SQLite there when None), connected
    with ``platform``; the caller disposes of its service's engine."""
    app, service = make_tool_app(lti_settings(data_dir, database_url))
    return connect(app, service, platform, **extra)


@pytest.fixture
def site(tmp_path: Path, platform: TestPlatform) -> Iterator[LtiSite]:
    """The tool on SQLite, registered by hand with ``platform``."""
    lti_site = site_on(tmp_path, platform)
    yield lti_site
    lti_site.service.engine.dispose()


@pytest.fixture(scope="module")
def module_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LtiSite]:
    """One tool and platform for a whole matrix of independent launches (each launch brings its
    own state and nonce; sharing the site saves a migration per case)."""
    with TestPlatform() as running:
        lti_site = site_on(tmp_path_factory.mktemp("lti-site"), running)
        yield lti_site
        lti_site.service.engine.dispose()


def page_text(response: Any) -> str:
    """The visible text of an HTML response (tags, scripts and styles dropped)."""
    page = response.get_data(as_text=True)
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    text = html.unescape(re.sub(r"(?s)<[^>]+>", " ", page))
    return re.sub(r"\s+", " ", text).strip()


def assert_readable_refusal(response: Any) -> None:
    """A 4xx answer with an HTML page a person can read: a heading and an explanation, no stack
    trace, no Python ``None`` in the words, no "something went wrong" page, and no launch."""
    body = response.get_data(as_text=True)
    text = page_text(response)
    assert 400 <= response.status_code < 500, f"{response.status_code}: {text}"
    assert response.mimetype == "text/html", response.mimetype
    assert re.search(r"<h1[^>]*>\s*\S", body), "the refusal page has no heading"
    assert len(text.split()) >= 8, text
    assert "Traceback" not in body and "Something went wrong" not in body
    assert not re.search(r"\bNone\b", text), f"the page shows Python's None: {text}"
    assert "/lti/session/" not in response.headers.get("Location", "")
