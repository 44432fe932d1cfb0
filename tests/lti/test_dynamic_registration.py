"""LTI Dynamic Registration round trips with a Moodle-like and a Canvas-like platform: the tool
reads the platform's configuration, registers itself, and the next launch works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from core.service import BadgeService
from tests.lti.conftest import (
    LAUNCH_URL,
    LOGIN_URL,
    TOOL_BASE_URL,
    assert_readable_refusal,
    lti_settings,
    make_tool_app,
    page_text,
    tool_jwks_of,
)
from tests.lti_platform import (
    DEEP_LINKING_REQUEST,
    SCOPE_NRPS,
    SCOPE_SCORE,
    TOOL_CONFIGURATION,
    Launch,
    TestPlatform,
    ToolBrowser,
    registration_metadata_problems,
    student,
)

CLOSE_SUBJECT = "org.imsglobal.lti.close"
CANVAS_PRIVACY_LEVEL = "https://canvas.instructure.com/lti/privacy_level"


@pytest.fixture
def tool(tmp_path: Path) -> Iterator[tuple[Flask, BadgeService]]:
    """The tool with no platform registered yet."""
    app, service = make_tool_app(lti_settings(tmp_path))
    yield app, service
    service.engine.dispose()


def open_registration(app: Flask, query: dict[str, str]) -> Any:
    """The platform opens the tool's registration URL (in an iframe or window)."""
    return app.test_client().get(
        "/lti/register",
        query_string=query,
        base_url=TOOL_BASE_URL,
        headers={"Accept-Language": "en"},
    )


def assert_registered_and_launch_works(
    app: Flask, service: BadgeService, platform: TestPlatform, response: Any
) -> Any:
    """The registration page asks the platform to close it; the tool has the platform with its
    deployment, and a launch from it goes through."""
    body = response.get_data(as_text=True)
    assert response.status_code == 200, page_text(response)
    assert CLOSE_SUBJECT in body and "postMessage" in body
    registered = service.lti.find_platform(platform.issuer, platform.client_id)
    assert registered is not None
    assert list(registered.deployment_ids) == platform.deployment_ids
    assert platform.tool_login_url == LOGIN_URL and platform.tool_launch_url == LAUNCH_URL

    browser = ToolBrowser(app.test_client(), platform, TOOL_BASE_URL)
    outcome = browser.launch(Launch(student()))
    assert outcome.session_path, page_text(outcome.response)
    assert outcome.page is not None and outcome.page.status_code == 200
    return registered


def test_moodle_dynamic_registration_round_trip(tool: tuple[Flask, BadgeService]) -> None:
    app, service = tool
    with TestPlatform(product_family_code="moodle", client_id="Xq3Lm9Tz") as platform:
        platform.read_tool_keys_with(tool_jwks_of(app))
        token = platform.new_registration_token()
        response = open_registration(app, platform.dynamic_registration_query(token))
        registered = assert_registered_and_launch_works(app, service, platform, response)
        assert registered.product_family_code == "moodle"

        (metadata,) = platform.registrations
        assert registration_metadata_problems(metadata) == []
        assert metadata["redirect_uris"] == [LAUNCH_URL]
        assert metadata["initiate_login_uri"] == LOGIN_URL
        assert metadata["jwks_uri"] == f"{TOOL_BASE_URL}/lti/jwks.json"
        scopes = metadata["scope"].split()
        assert SCOPE_SCORE in scopes and SCOPE_NRPS in scopes
        configuration = metadata[TOOL_CONFIGURATION]
        assert {"name", "email"} <= set(configuration["claims"])
        assert DEEP_LINKING_REQUEST in [m["type"] for m in configuration["messages"]]
        assert configuration["domain"] == "badges.test"
        # The registration token went along as bearer to the registration endpoint.
        (post,) = [r for r in platform.requests if r.path == "/register"]
        assert post.bearer() == token


def test_canvas_registration_token_is_the_bearer_for_the_configuration(
    tool: tuple[Flask, BadgeService],
) -> None:
    app, service = tool
    with TestPlatform(
        product_family_code="canvas", client_id="10000000000042", canvas_bearer_rule=True
    ) as platform:
        platform.read_tool_keys_with(tool_jwks_of(app))
        token = platform.new_registration_token()
        response = open_registration(app, platform.dynamic_registration_query(token))
        assert_registered_and_launch_works(app, service, platform, response)
        (configuration_read,) = [
            r for r in platform.requests if r.path == "/.well-known/openid-configuration"
        ]
        assert configuration_read.bearer() == token
        (metadata,) = platform.registrations
        # Canvas sends names and emails only to tools with a public privacy level.
        assert metadata[CANVAS_PRIVACY_LEVEL] == "public"


def test_canvas_without_a_registration_token_is_refused_readably(
    tool: tuple[Flask, BadgeService],
) -> None:
    app, service = tool
    with TestPlatform(product_family_code="canvas", canvas_bearer_rule=True) as platform:
        response = open_registration(app, platform.dynamic_registration_query(None))
        assert_readable_refusal(response)
        assert platform.registrations == []
        assert service.lti.find_platform(platform.issuer, platform.client_id) is None


def test_a_spent_registration_token_is_refused_readably(
    tool: tuple[Flask, BadgeService],
) -> None:
    app, _ = tool
    with TestPlatform() as platform:
        platform.read_tool_keys_with(tool_jwks_of(app))
        token = platform.new_registration_token()
        assert open_registration(app, platform.dynamic_registration_query(token)).status_code == 200
        again = open_registration(app, platform.dynamic_registration_query(token))
        assert_readable_refusal(again)
        assert len(platform.registrations) == 1


def test_registering_again_adds_the_new_deployment(tool: tuple[Flask, BadgeService]) -> None:
    app, service = tool
    with TestPlatform(deployment_ids=("deployment-1",)) as platform:
        platform.read_tool_keys_with(tool_jwks_of(app))
        first = platform.new_registration_token()
        assert open_registration(app, platform.dynamic_registration_query(first)).status_code == 200
        platform.deployment_ids = ["deployment-2"]
        second = platform.new_registration_token()
        response = open_registration(app, platform.dynamic_registration_query(second))
        assert response.status_code == 200, page_text(response)
        registered = service.lti.find_platform(platform.issuer, platform.client_id)
        assert registered is not None
        assert sorted(registered.deployment_ids) == ["deployment-1", "deployment-2"]
        assert len(service.lti.platforms_of_issuer(platform.issuer)) == 1


@pytest.mark.parametrize(
    "problem",
    ["no openid_configuration", "issuer on another site", "unreachable platform"],
)
def test_a_bad_registration_start_is_refused_readably(
    tool: tuple[Flask, BadgeService], problem: str
) -> None:
    app, service = tool
    with TestPlatform() as platform:
        query = platform.dynamic_registration_query(platform.new_registration_token())
        if problem == "no openid_configuration":
            del query["openid_configuration"]
        elif problem == "issuer on another site":
            configuration = platform.openid_configuration
            platform.openid_configuration = lambda: {  # type: ignore[method-assign]
                **configuration(),
                "issuer": "https://lms.example",
            }
        else:
            query["openid_configuration"] = "http://127.0.0.1:9/.well-known/openid-configuration"
        response = open_registration(app, query)
        assert_readable_refusal(response)
        assert platform.registrations == []
        assert service.lti.list_platforms() == []
