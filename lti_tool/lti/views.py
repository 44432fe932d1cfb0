"""The LTI 1.3 tool's endpoints (the URL contract shared with the test platform):

* ``GET|POST /lti/login`` — OIDC third-party login initiation;
* ``POST /lti/launch`` — the id_token, validated, then POST → 303 → GET of the launched page;
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
import secrets
from typing import cast

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from core.errors import BadgeBridgeError, FetchRefused, NotFound
from core.service import BadgeService
from lti_tool.i18n import gettext as _
from lti_tool.lti.dynamic_registration import (
    CLOSE_MESSAGE,
    RegistrationRefused,
    ToolUrls,
    canvas_developer_key,
    register_dynamically,
)
from lti_tool.lti.hardened import (
    HardenedMessageLaunch,
    HardenedOIDCLogin,
    LaunchRefused,
    LtiRequest,
    RegistryToolConfig,
)
from lti_tool.lti.sessions import load_session, start_session
from lti_tool.negotiation import json_response, problem_response, wants_machine_readable
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


def script_nonce() -> str:
    """This response's nonce for inline scripts (named in its Content-Security-Policy)."""
    if "lti_script_nonce" not in g:
        g.lti_script_nonce = secrets.token_urlsafe(16)
    return cast(str, g.lti_script_nonce)


def _tool_config() -> RegistryToolConfig:
    return RegistryToolConfig(_service().lti)


@blueprint.after_request
def _frameable(response: Response) -> Response:
    # The LMS shows these pages in an iframe (and opens registration in one): any site may
    # frame them, and the opener stays reachable for the registration's close message.
    nonce = g.get("lti_script_nonce")
    scripts = f"'nonce-{nonce}'" if nonce else "'none'"
    response.headers["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"script-src {scripts}",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors *",
        ]
    )
    response.headers["Cross-Origin-Opener-Policy"] = "unsafe-none"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@blueprint.errorhandler(BadgeBridgeError)
def _refused(problem: BadgeBridgeError) -> Response:
    if isinstance(problem, LaunchRefused):
        status = problem.status
    elif isinstance(problem, NotFound):
        status = 404
    else:
        status = 400
    if wants_machine_readable():
        return problem_response(status, problem.message)
    reopen_url = problem.reopen_url if isinstance(problem, LaunchRefused) else None
    page = render_template(
        "lti/error.html",
        status=status,
        title=_error_title(problem),
        message=problem.message,
        reopen_url=reopen_url,
    )
    return Response(page, status=status, mimetype="text/html")


def _error_title(problem: BadgeBridgeError) -> str:
    if isinstance(problem, RegistrationRefused | FetchRefused):
        return _("The registration did not work")
    if isinstance(problem, LaunchRefused) and problem.reason == "launch-expired":
        return _("This page has expired")
    return _("This course item could not be opened")


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
    return oidc_login.redirect(_urls().launch)


@blueprint.post("/launch")
def launch() -> Response:
    """The platform posts the id_token here: validated, recorded, then 303 to the page."""
    service = _service()
    message_launch = HardenedMessageLaunch(LtiRequest(secure=_secure()), _tool_config())
    try:
        message_launch.validate()
    except LaunchRefused as refused:
        response = _refused(refused)
        message_launch.update_cookies(response)
        return response
    session = start_session(service, message_launch)
    response = cast(
        Response, redirect(url_for(".session_page", launch_id=session.launch_id), code=303)
    )
    message_launch.update_cookies(response)
    return response


@blueprint.get("/session/<launch_id>")
def session_page(launch_id: str) -> str:
    """The launched page: who you are, your role, the course and what this item shows."""
    service = _service()
    session = load_session(service, launch_id)
    activity = playlist = None
    if session.activity_public_id:
        try:
            activity = service.catalogue.get_activity(session.activity_public_id)
        except NotFound:
            activity = None
    if session.playlist_public_id:
        try:
            playlist = service.catalogue.get_playlist(session.playlist_public_id)
        except NotFound:
            playlist = None
    return render_template(
        "lti/launched.html", session=session, activity=activity, playlist=playlist
    )


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


__all__ = ["COOKIE_CHECK_ENV", "blueprint", "script_nonce"]
