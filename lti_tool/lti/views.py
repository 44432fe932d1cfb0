"""The LTI 1.3 tool's endpoints (the URL contract shared with the test platform):

* ``GET|POST /lti/login`` — OIDC third-party login initiation;
* ``POST /lti/launch`` — the id_token, validated, then POST → 303 → GET of the launched page;
  without the state cookie but with platform storage, a page that asks the platform for the
  state and posts it to ``POST /lti/launch/verify`` (then validated, → 303 → GET);
* ``GET /lti/session/<id>`` — the launched page;
* ``GET /lti/jwks.json`` — the tool's public keys;
* ``GET /lti/register`` — LTI Dynamic Registration;
* ``GET /lti/config.json`` — the Canvas developer key JSON.

Every refusal is a 4xx page (``templates/lti/error.html``) that says what went wrong. These
pages live in the LMS's iframe: they may be framed by any site, and the few scripts they have
run with a per-response nonce.
"""

from __future__ import annotations

import os
from typing import cast

from flask import Blueprint, Response, redirect, render_template, request, url_for

from core.errors import BadgeBridgeError
from core.service import BadgeService
from lti_tool.i18n import gettext as _
from lti_tool.lti import deep_linking, student, teacher
from lti_tool.lti.dynamic_registration import (
    CLOSE_MESSAGE,
    ToolUrls,
    canvas_developer_key,
    register_dynamically,
)
from lti_tool.lti.framing import allow_static_scripts, frameable, refused, script_nonce
from lti_tool.lti.hardened import (
    STORAGE_TARGET_PARAMETER,
    HardenedMessageLaunch,
    HardenedOIDCLogin,
    LaunchRefused,
    LtiRequest,
    RegistryToolConfig,
    StateInPlatformStorage,
)
from lti_tool.lti.sessions import load_session, start_session
from lti_tool.negotiation import json_response
from lti_tool.web import badge_service

blueprint = Blueprint("lti", __name__, url_prefix="/lti")

#: ``1`` turns on the JavaScript cookie check before the login redirect (one more round trip;
#: without it a browser that blocks cookies in the frame gets an "open in a new window" page
#: at the launch instead).
COOKIE_CHECK_ENV = "BADGEBRIDGE_LTI_COOKIE_CHECK"
JWKS_CACHE_CONTROL = "public, max-age=300"


def _service() -> BadgeService:
    return badge_service()


def _urls() -> ToolUrls:
    return ToolUrls(_service().settings.base_url)


def _secure() -> bool:
    """Cookies are ``Secure; SameSite=None; Partitioned`` when the public URL is https."""
    return _service().settings.base_url.startswith("https://") or request.is_secure


def _tool_config() -> RegistryToolConfig:
    return RegistryToolConfig(_service().lti)


blueprint.after_request(frameable)


blueprint.errorhandler(BadgeBridgeError)(refused)


# -- login and launch ------------------------------------------------------------------------


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """OIDC third-party login initiation: on to the platform's authentication endpoint."""
    oidc_login = HardenedOIDCLogin(
        LtiRequest(secure=_secure()),
        _tool_config(),
        base_url=_service().settings.base_url,
        script_nonce=script_nonce(),
    )
    if os.environ.get(COOKIE_CHECK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        oidc_login.enable_check_cookies(
            main_msg=_("Your browser does not allow this tool to keep a cookie inside the page."),
            click_msg=_("Open it in a new window."),
            loading_msg=_("Loading…"),
        )
    if _param(STORAGE_TARGET_PARAMETER):
        # The page storing the state in the platform's storage loads static/lti-storage.js.
        allow_static_scripts()
    return oidc_login.redirect(_urls().launch)


def _param(name: str) -> str | None:
    value = request.args.get(name) if request.method == "GET" else request.form.get(name)
    return value or None


@blueprint.post("/launch")
def launch() -> Response:
    """The platform posts the id_token here: validated, recorded, then 303 to the page. When
    the browser did not keep the state cookie and the login kept the state in the platform's
    storage, the answer is a page that asks the platform for it (see :func:`launch_verify`)."""
    message_launch = HardenedMessageLaunch(LtiRequest(secure=_secure()), _tool_config())
    try:
        message_launch.validate()
    except StateInPlatformStorage as question:
        return _storage_check_page(question)
    except LaunchRefused as refused_launch:
        response = refused(refused_launch)
        message_launch.update_cookies(response)
        return response
    return _launched(message_launch)


@blueprint.post("/launch/verify")
def launch_verify() -> Response:
    """The launch page's answer from the platform's storage: the launch kept under
    ``launch_ref`` goes on only when the stored state and nonce are its own (once)."""
    message_launch = HardenedMessageLaunch.from_platform_storage(
        request.form.get("launch_ref", ""),
        request.form.get("stored_state"),
        request.form.get("stored_nonce"),
        _tool_config(),
        secure=_secure(),
    )
    message_launch.validate()
    return _launched(message_launch)


def _storage_check_page(question: StateInPlatformStorage) -> Response:
    allow_static_scripts()
    page = render_template(
        "lti/storage_launch.html",
        question=question,
        verify_url=url_for(".launch_verify"),
        script_nonce=script_nonce(),
    )
    return Response(page, mimetype="text/html")


def _launched(message_launch: HardenedMessageLaunch) -> Response:
    """Record the validated launch, then 303 to its page (POST → redirect → GET)."""
    session = start_session(_service(), message_launch)
    response = cast(
        Response, redirect(url_for(".session_page", launch_id=session.launch_id), code=303)
    )
    message_launch.update_cookies(response)
    return response


@blueprint.get("/session/<launch_id>")
def session_page(launch_id: str) -> str | Response:
    """The launched page: the deep-linking picker for a deep-linking request, else the course
    item as a teacher or as a student sees it (least privilege for unknown or empty roles)."""
    service = _service()
    session = load_session(service, launch_id)
    if session.message_type == "LtiDeepLinkingRequest":
        return deep_linking.picker_page(service, session)
    if session.role_class == "instructor":
        return teacher.course_item_page(service, session)
    return student.course_item_page(service, session)


# -- keys and registration ---------------------------------------------------------------------


@blueprint.get("/jwks.json")
def jwks() -> Response:
    """The tool's public keys (the active one and those rotated out but still trusted)."""
    response = json_response(_service().lti.tool_jwks(), vary=False)
    response.headers["Cache-Control"] = JWKS_CACHE_CONTROL
    return response


@blueprint.get("/config.json")
def canvas_config() -> Response:
    """The JSON for a Canvas LTI developer key."""
    return json_response(canvas_developer_key(_urls()), vary=False)


@blueprint.get("/register")
def register() -> str:
    """LTI Dynamic Registration, started by the platform: register, then tell the platform's
    page to close this one."""
    platform = register_dynamically(
        _service().lti,
        _urls(),
        request.args.get("openid_configuration", ""),
        request.args.get("registration_token"),
    )
    return render_template(
        "lti/registered.html",
        platform=platform,
        close_message=CLOSE_MESSAGE,
        script_nonce=script_nonce(),
    )


__all__ = ["COOKIE_CHECK_ENV", "blueprint"]
