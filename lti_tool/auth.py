"""Logging in and out, and who may do what.

Sessions are Flask's signed cookies. Logging in starts a new session (everything in the old
one, including its CSRF token, is dropped), so a session planted before log-in is worthless.
A logged-in session holds the account id, a stamp that changes with the password (changing
it ends every other session) and the log-in time: sessions end after
:data:`SESSION_LIFETIME`. Log-out is a POST with the CSRF token.

Failed log-ins are throttled per account and network address in the database (see
:mod:`core.accounts`). Behind a reverse proxy, run the app with werkzeug's ``ProxyFix`` so the
address is the visitor's, not the proxy's.

Views use :func:`login_required`, :func:`role_required` and :func:`require_issuer_access`:
organisers and reviewers act only for their own issuer, administrators for all.

Where a person lands after logging in depends on their role (:func:`landing_url`): learners on
their badges (``/me``), the people who run badges on the dashboard (``/admin/``).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from core.accounts import UserView
from core.errors import NotFound
from lti_tool.csrf import require_csrf_token
from lti_tool.i18n import gettext as _
from lti_tool.i18n import ngettext, safe_next_path
from lti_tool.web import badge_service

auth = Blueprint("auth", __name__)

SESSION_USER = "user_id"
SESSION_STAMP = "user_stamp"
SESSION_LOGIN_AT = "login_at"
SESSION_LIFETIME = timedelta(hours=12)
#: Where the people who run badges land after logging in when no page asked for another.
HOME_ENDPOINT = "admin_dashboard.dashboard"
#: Where learners land: their badges.
LEARNER_HOME_ENDPOINT = "learner.badges"

View = TypeVar("View", bound=Callable[..., Any])


# -- who is logged in ---------------------------------------------------------------------------


def current_user() -> UserView | None:
    """The account logged in on this request's session (None when nobody is, or the session
    has expired or was started with a password that has since changed)."""
    if "current_user" in g:
        return cast(UserView | None, g.current_user)
    user = _session_user()
    g.current_user = user
    return user


def _session_user() -> UserView | None:
    user_id = session.get(SESSION_USER)
    if not isinstance(user_id, int):
        return None
    login_at = session.get(SESSION_LOGIN_AT)
    if not isinstance(login_at, int) or time.time() - login_at > SESSION_LIFETIME.total_seconds():
        _forget_user()
        return None
    try:
        user = badge_service().accounts.get_user(user_id)
    except NotFound:
        _forget_user()
        return None
    stamp = session.get(SESSION_STAMP)
    if not isinstance(stamp, str) or not hmac.compare_digest(stamp, user.session_stamp):
        _forget_user()
        return None
    return user


def _forget_user() -> None:
    session.clear()


def start_session(user: UserView) -> None:
    """Log ``user`` in on a fresh session (call after checking who they are)."""
    session.clear()  # a new session: nothing from before the log-in survives it
    session[SESSION_USER] = user.id
    session[SESSION_STAMP] = user.session_stamp
    session[SESSION_LOGIN_AT] = int(time.time())
    session.permanent = True
    g.current_user = user


def end_session() -> None:
    """Log out."""
    session.clear()
    g.current_user = None


def landing_url(user: UserView) -> str:
    """Where ``user`` lands after logging in when no page asked for another: a learner on
    their badges, administrators, organisers and reviewers on the dashboard."""
    return url_for(LEARNER_HOME_ENDPOINT if user.is_learner else HOME_ENDPOINT)


def _learners_to_their_landing() -> Response | None:
    # The dashboard lists the issuers one acts for: a learner acts for none, so a learner who
    # opens it (an old bookmark, a shared link) is sent to their own landing page.
    if request.endpoint != HOME_ENDPOINT or request.method != "GET":
        return None
    user = current_user()
    if user is not None and user.is_learner:
        return cast(Response, redirect(landing_url(user)))
    return None


# -- decorators ---------------------------------------------------------------------------------


def _login_redirect() -> Response:
    target = request.full_path if request.query_string else request.path
    return cast(Response, redirect(url_for("auth.login", next=target)))


def login_required(view: View) -> View:
    """The view needs a logged-in account; others are sent to the log-in page."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return _login_redirect()
        return view(*args, **kwargs)

    return cast(View, wrapper)


def role_required(*roles: str) -> Callable[[View], View]:
    """The view needs a logged-in account with one of ``roles`` (403 for other roles)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return _login_redirect()
            if user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return cast(View, wrapper)

    return decorate


def logged_in_user() -> UserView:
    """The logged-in account (views behind :func:`login_required` only)."""
    user = current_user()
    if user is None:
        abort(401)
    return user


def require_issuer_access(issuer_slug: str, *roles: str) -> UserView:
    """The logged-in account, when it may act for ``issuer_slug`` (and, when ``roles`` are
    given, has one of them; administrators always may). Aborts with 403 otherwise."""
    user = logged_in_user()
    if not user.can_act_for(issuer_slug):
        abort(403)
    if roles and not user.is_admin and user.role not in roles:
        abort(403)
    return user


def protect_blueprint(blueprint: Blueprint) -> None:
    """Every view of ``blueprint`` needs a logged-in account, and every form it receives the
    session's CSRF token (checked before the view runs)."""

    @blueprint.before_request
    def _require_login_and_csrf() -> Response | None:
        if current_user() is None:
            return _login_redirect()
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            require_csrf_token()
        return None


# -- log-in and log-out pages ---------------------------------------------------------------------


@auth.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    """The log-in form: email address and password (and the identity provider, if set up)."""
    target = safe_next_path(request.values.get("next"), default="")
    if request.method == "GET":
        user = current_user()
        if user is not None:
            return cast(Response, redirect(target or landing_url(user)))
        return _login_page(target=target)
    require_csrf_token()
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = _("Enter your email address.")
    if not password:
        errors["password"] = _("Enter your password.")
    if errors:
        return _login_page(target=target, email=email, errors=errors, status=400)
    accounts = badge_service().accounts
    address = request.remote_addr or "unknown"
    blocked = accounts.login_blocked(email, address)
    if blocked is None:
        user = accounts.authenticate(email, password)
        if user is not None:
            accounts.record_login_success(email, address)
            start_session(user)
            flash(_("You are logged in as %(name)s.", name=user.name), "success")
            return cast(Response, redirect(target or landing_url(user)))
        blocked = accounts.record_login_failure(email, address)
        if blocked is None:
            errors["email"] = _("The email address or the password is not right.")
            return _login_page(target=target, email=email, errors=errors, status=401)
    minutes = blocked.minutes_left()
    errors["email"] = ngettext(
        "Too many failed attempts to log in. Try again in %(num)d minute.",
        "Too many failed attempts to log in. Try again in %(num)d minutes.",
        minutes,
    )
    return _login_page(target=target, email=email, errors=errors, status=429)


def _login_page(
    *, target: str, email: str = "", errors: dict[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    from lti_tool.oidc_login import oidc_enabled, provider_name

    enabled = oidc_enabled()
    page = render_template(
        "auth/login.html",
        next=target,
        email=email,
        errors=errors or {},
        oidc_enabled=enabled,
        oidc_name=provider_name() if enabled else "",
    )
    return page, status


@auth.post("/logout")
def logout() -> Response:
    """Log out (a POST with the CSRF token, so another site cannot log anyone out)."""
    require_csrf_token()
    end_session()
    flash(_("You are logged out."), "success")
    return cast(Response, redirect(url_for("pages.home"), code=303))


def _user_context() -> dict[str, Any]:
    return {"current_user": current_user()}


def init_auth(app: Flask) -> None:
    """Register the log-in pages and make ``current_user`` available to every template."""
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", SESSION_LIFETIME)
    app.register_blueprint(auth)
    app.before_request(_learners_to_their_landing)
    app.context_processor(_user_context)
    from lti_tool.oidc_login import init_oidc

    init_oidc(app)


__all__ = [
    "current_user",
    "end_session",
    "init_auth",
    "landing_url",
    "logged_in_user",
    "login_required",
    "protect_blueprint",
    "require_issuer_access",
    "role_required",
    "start_session",
]
