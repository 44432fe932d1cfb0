"""The Flask application factory: ``create_app()`` is what ``badgebridge serve`` runs."""

from __future__ import annotations

import atexit
import os
import secrets
from pathlib import Path

from flask import Flask, Response, render_template
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from core.config import Settings
from core.errors import BadgeBridgeError, NotFound
from core.limits import MAX_CREDENTIAL_BYTES, MAX_IMAGE_BYTES
from core.service import BadgeService
from lti_tool.admin import ADMIN_BLUEPRINTS
from lti_tool.auth import init_auth
from lti_tool.csrf import CsrfTokenInvalid, csrf_token
from lti_tool.i18n import gettext as _
from lti_tool.i18n import init_i18n, lazy_gettext
from lti_tool.learner import learner_pages
from lti_tool.lti import LTI_BLUEPRINTS
from lti_tool.negotiation import problem_response, wants_machine_readable
from lti_tool.presentation import check_message, check_title
from lti_tool.web import SERVICE_EXTENSION, pages

#: Room for the form's other fields and the multipart framing around a maximal image upload.
FORM_OVERHEAD_BYTES = 64 * 1024
SECRET_KEY_FILE_NAME = "session-secret"  # noqa: S105 (a file name, not a secret)
SECRET_KEY_ENV = "BADGEBRIDGE_SECRET_KEY"  # noqa: S105 (a variable name, not a secret)
PROXY_FIX_ENV = "BADGEBRIDGE_PROXY_FIX"

# No script runs on these pages; styles and images come from this site only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "SAMEORIGIN",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(settings: Settings | None = None, service: BadgeService | None = None) -> Flask:
    """The web app over ``service`` (by default a service on ``settings``, themselves read from
    the environment, fetching through the guarded HTTP client). Migrates the database."""
    # A service built here is the production path (`badgebridge serve`, gunicorn): it also
    # delivers follow-ups. An injected service (tests, embedding) runs its outbox itself.
    deliver_follow_ups = service is None
    if service is None:
        from core.guarded_http import GuardedHttpClient

        settings = settings or Settings.from_env()
        service = BadgeService(settings, fetcher=GuardedHttpClient(settings))
    settings = service.settings
    service.upgrade()

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(settings.data_dir),
        # Werkzeug answers 413 for larger requests before reading them.
        MAX_CONTENT_LENGTH=MAX_IMAGE_BYTES + FORM_OVERHEAD_BYTES,
        # A pasted credential may be as large as core accepts (Werkzeug's default is 500 kB).
        MAX_FORM_MEMORY_SIZE=MAX_CREDENTIAL_BYTES + FORM_OVERHEAD_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
    )
    app.extensions[SERVICE_EXTENSION] = service
    init_i18n(app)
    app.register_blueprint(pages)
    init_auth(app)
    app.register_blueprint(learner_pages)
    for lti_blueprint in LTI_BLUEPRINTS:
        app.register_blueprint(lti_blueprint)
    for blueprint in ADMIN_BLUEPRINTS:
        app.register_blueprint(blueprint)
    from lti_tool.api import init_apis

    init_apis(app)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["check_title"] = check_title
    app.jinja_env.globals["check_message"] = check_message
    app.after_request(_add_security_headers)
    app.register_error_handler(BadgeBridgeError, _badge_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    if os.environ.get(PROXY_FIX_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        # Behind one reverse proxy: trust its X-Forwarded-For/Proto/Host (https URLs for OAuth
        # and LTI, the client address for log-in throttling).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    if deliver_follow_ups:
        from core.workers import start_outbox_delivery

        delivery = start_outbox_delivery(service)
        atexit.register(delivery.stop)
    return app


def _secret_key(data_dir: Path) -> str:
    """Signs the session cookie (which holds only the CSRF token).

    ``BADGEBRIDGE_SECRET_KEY`` when set; else a key kept in the data folder, so forms survive a
    restart and every worker agrees; else (read-only folder) one for this process only."""
    configured = os.environ.get(SECRET_KEY_ENV, "").strip()
    if configured:
        return configured
    path = data_dir / SECRET_KEY_FILE_NAME
    try:
        if path.exists():
            stored = path.read_text().strip()
            if stored:
                return stored
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "w") as handle:
            handle.write(key + "\n")
        return key
    except OSError:
        return secrets.token_urlsafe(32)


def _add_security_headers(response: Response) -> Response:
    # A page that names who may frame it (the LTI pages: any LMS) must not also get
    # X-Frame-Options, which has no "any site" value and would contradict it.
    frame_ancestors_set = "frame-ancestors" in response.headers.get("Content-Security-Policy", "")
    for name, value in SECURITY_HEADERS.items():
        if name == "X-Frame-Options" and frame_ancestors_set:
            continue
        response.headers.setdefault(name, value)
    return response


def _error_page(status: int, title: str, message: str) -> Response | tuple[str, int]:
    if wants_machine_readable():
        return problem_response(status, message)
    return render_template("error.html", status=status, title=title, message=message), status


def _badge_error(error: BadgeBridgeError) -> Response | tuple[str, int]:
    if isinstance(error, NotFound):
        return _error_page(404, _("Not found"), error.message)
    return _error_page(400, _("This could not be done"), error.message)


_HTTP_MESSAGES = {
    401: (lazy_gettext("Please log in"), lazy_gettext("Log in to see this page.")),
    403: (
        lazy_gettext("Not allowed"),
        lazy_gettext("Your account may not see or change this."),
    ),
    404: (lazy_gettext("Page not found"), lazy_gettext("There is no page at this address.")),
    405: (
        lazy_gettext("Not allowed"),
        lazy_gettext("This address does not accept that kind of request."),
    ),
    413: (
        lazy_gettext("File too large"),
        lazy_gettext(
            "What you sent is larger than this site accepts: files up to %(file_mb)d MB, "
            "pasted text up to %(text_mb)d MB. Choose a smaller file.",
            file_mb=MAX_IMAGE_BYTES // 1_000_000,
            text_mb=MAX_CREDENTIAL_BYTES // 1_000_000,
        ),
    ),
}


def _http_error(error: HTTPException) -> Response | tuple[str, int]:
    status = error.code or 500
    title, message = _HTTP_MESSAGES.get(status, (error.name, error.description or error.name))
    if isinstance(error, RequestEntityTooLarge):
        title, message = _HTTP_MESSAGES[413]
    elif isinstance(error, CsrfTokenInvalid):
        title = _("Please send the form again")
        message = _(
            "This form has expired or was not sent from this site. "
            "Reload the page and submit the form again."
        )
    elif status not in _HTTP_MESSAGES and error.description:
        message = error.description
    return _error_page(status, str(title), str(message))


def _unexpected_error(error: Exception) -> Response | tuple[str, int]:
    # The details go to the log, never to the visitor.
    from flask import current_app

    current_app.logger.exception("Unexpected error", exc_info=error)
    return _error_page(
        500,
        _("Something went wrong"),
        _("Something went wrong on our side. Please try again later."),
    )
