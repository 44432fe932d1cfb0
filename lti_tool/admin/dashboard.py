"""The dashboard (where organisers land after logging in), accounts for administrators, and
changing one's own password."""

from __future__ import annotations

from typing import Any, cast

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from core.accounts import ROLES, WeakPassword
from core.errors import BadgeBridgeError, NotFound
from lti_tool.admin.forms import FormErrors, optional, text
from lti_tool.admin.issuer_scope import ROLE_LABELS, issuer_administration, issuers_visible_to
from lti_tool.auth import logged_in_user, protect_blueprint, role_required, start_session
from lti_tool.i18n import N_
from lti_tool.i18n import gettext as _
from lti_tool.web import badge_service

blueprint = Blueprint("admin_dashboard", __name__, url_prefix="/admin")
protect_blueprint(blueprint)

#: The tasks listed for each issuer (shown when their pages are registered).
ISSUER_TASK_LINKS = (
    ("admin_catalogue.achievements", N_("Achievements")),
    ("admin_catalogue.activities", N_("Activities")),
    ("admin_catalogue.playlists", N_("Playlists")),
    ("admin_bulk.upload", N_("Award badges from a spreadsheet (CSV)")),
    ("admin_credentials.credentials", N_("Issued badges: revoke or suspend")),
)


@blueprint.app_context_processor
def _admin_template_values() -> dict[str, Any]:
    return {
        "admin_task_links": ISSUER_TASK_LINKS,
        "admin_endpoints": current_app.view_functions,
        "role_labels": ROLE_LABELS,
    }


@blueprint.get("/")
def dashboard() -> str:
    """The issuers this account acts for, with their figures and the way to each task."""
    user = logged_in_user()
    administration = issuer_administration()
    issuers = [(issuer, administration.counts(issuer.slug)) for issuer in issuers_visible_to(user)]
    return render_template("admin/dashboard.html", user=user, issuers=issuers)


# -- accounts (administrators) ------------------------------------------------------------------


def _role_options() -> list[tuple[str, str]]:
    return [(role, _(ROLE_LABELS[role])) for role in ROLES]


def _issuer_options() -> list[tuple[str, str]]:
    return [("", _("None (administrators, or not yet decided)"))] + [
        (issuer.slug, issuer.name) for issuer in badge_service().list_issuers()
    ]


@blueprint.get("/users")
@role_required("admin")
def users() -> str:
    """Every account, with its role and issuer."""
    return render_template("admin/users.html", users=badge_service().accounts.list_users())


@blueprint.route("/users/new", methods=["GET", "POST"])
@role_required("admin")
def new_user() -> Response | str | tuple[str, int]:
    """Create an account (with a password, or for log-in through the identity provider)."""
    form = {"email": "", "name": "", "role": "organiser", "issuer": ""}
    errors = FormErrors()
    if request.method == "POST":
        form = {
            "email": text("email", errors, label=_("Email address"), required=True, limit=320),
            "name": text("name", errors, label=_("Name"), required=True, limit=200),
            "role": request.form.get("role", ""),
            "issuer": request.form.get("issuer", ""),
        }
        password = request.form.get("password", "")
        if form["role"] not in ROLES:
            errors.add("role", _("Choose a role."))
        if form["role"] in ("organiser", "reviewer") and not form["issuer"]:
            errors.add("issuer", _("Choose the issuer this person acts for."))
        if not errors:
            try:
                badge_service().accounts.create_user(
                    form["email"],
                    form["name"],
                    password or None,
                    form["role"],
                    optional(form["issuer"]) if form["role"] != "admin" else None,
                )
            except WeakPassword as problem:
                errors.add("password", _password_message(problem))
            except BadgeBridgeError as problem:
                errors.add("email", problem.message)
        if not errors:
            flash(_("The account for %(email)s was created.", email=form["email"]), "success")
            return cast(Response, redirect(url_for(".users"), code=303))
    page = render_template(
        "admin/user_form.html",
        form=form,
        errors=errors,
        roles=_role_options(),
        issuers=_issuer_options(),
        editing=None,
    )
    return page, 400 if errors else 200


@blueprint.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_user(user_id: int) -> Response | str | tuple[str, int]:
    """Change an account's name, role and issuer."""
    accounts = badge_service().accounts
    try:
        account = accounts.get_user(user_id)
    except NotFound:
        abort(404)
    form = {
        "email": account.email,
        "name": account.name,
        "role": account.role,
        "issuer": account.issuer_slug or "",
    }
    errors = FormErrors()
    if request.method == "POST":
        form["name"] = text("name", errors, label=_("Name"), required=True, limit=200)
        form["role"] = request.form.get("role", "")
        form["issuer"] = request.form.get("issuer", "")
        if form["role"] not in ROLES:
            errors.add("role", _("Choose a role."))
        if account.id == logged_in_user().id and form["role"] != "admin":
            errors.add("role", _("You cannot take away your own administrator role."))
        if not errors:
            try:
                accounts.update_user(
                    user_id,
                    name=form["name"],
                    role=form["role"],
                    issuer_slug=optional(form["issuer"]) if form["role"] != "admin" else None,
                )
            except BadgeBridgeError as problem:
                errors.add("issuer", problem.message)
        if not errors:
            flash(_("The account for %(email)s was saved.", email=account.email), "success")
            return cast(Response, redirect(url_for(".users"), code=303))
    page = render_template(
        "admin/user_form.html",
        form=form,
        errors=errors,
        roles=_role_options(),
        issuers=_issuer_options(),
        editing=account,
    )
    return page, 400 if errors else 200


# -- one's own password --------------------------------------------------------------------------


def _password_message(problem: WeakPassword) -> str:
    from core.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

    messages = {
        "too_short": _("A password needs at least %(num)d characters.", num=MIN_PASSWORD_LENGTH),
        "too_long": _("A password has at most %(num)d characters.", num=MAX_PASSWORD_LENGTH),
        "common": _("This password is one of the most commonly used ones; choose another."),
        "personal": _("A password must not contain your email address."),
    }
    return messages.get(problem.reason, problem.message)


@blueprint.route("/account/password", methods=["GET", "POST"])
def change_password() -> Response | str | tuple[str, int]:
    """Change one's own password (the current one is asked again); other sessions end."""
    user = logged_in_user()
    errors = FormErrors()
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        again = request.form.get("new_password_again", "")
        accounts = badge_service().accounts
        address = request.remote_addr or "unknown"
        # The same throttle as the log-in page: a borrowed session must not guess the password.
        if accounts.login_blocked(user.email, address) is not None:
            errors.add("current_password", _("Too many wrong passwords. Try again later."))
        elif not current or accounts.authenticate(user.email, current) is None:
            accounts.record_login_failure(user.email, address)
            errors.add("current_password", _("Your current password is not right."))
        elif new != again:
            errors.add("new_password_again", _("The two new passwords differ."))
        else:
            try:
                changed = accounts.set_password(user.email, new)
            except WeakPassword as problem:
                errors.add("new_password", _password_message(problem))
            else:
                start_session(changed)
                flash(_("Your password was changed."), "success")
                return cast(Response, redirect(url_for(".dashboard"), code=303))
    page = render_template("admin/password.html", errors=errors, user=user)
    return page, 400 if errors else 200


__all__ = ["blueprint"]
