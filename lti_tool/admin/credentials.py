"""Badges an issuer issued: find one, then revoke it (for good) or suspend it and lift the
suspension (for badges issued as suspendable). Each asks for confirmation first."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from core.errors import BadgeBridgeError, NotFound
from core.issuer_admin import IssuedCredentialSummary
from lti_tool.admin.forms import FormErrors
from lti_tool.admin.issuer_scope import issuer_administration, organisation
from lti_tool.auth import protect_blueprint, require_issuer_access
from lti_tool.i18n import N_
from lti_tool.i18n import gettext as _
from lti_tool.web import badge_service

blueprint = Blueprint("admin_credentials", __name__, url_prefix="/admin/issuers/<slug>/credentials")
protect_blueprint(blueprint)

STATE_LABELS = {
    "active": N_("Valid"),
    "revoked": N_("Revoked"),
    "suspended": N_("Suspended"),
}
MAX_REASON_CHARS = 1000


def _credential_of(slug: str, credential_id: str) -> IssuedCredentialSummary:
    try:
        found = issuer_administration().issued_credential(credential_id)
    except NotFound:
        abort(404)
    if found.issuer_slug != slug:
        abort(404)
    return found


@blueprint.get("/")
def credentials(slug: str) -> str:
    """The issuer's badges, newest first; search by email address or badge name."""
    require_issuer_access(slug, "organiser")
    search = request.args.get("q", "").strip()[:200]
    listed = issuer_administration().issued_credentials(slug, search=search or None, limit=100)
    return render_template(
        "admin/credentials.html",
        issuer=organisation(slug),
        credentials=listed,
        search=search,
        state_labels=STATE_LABELS,
    )


@blueprint.route("/revoke", methods=["GET", "POST"])
def revoke(slug: str) -> Response | str | tuple[str, int]:
    """Confirm, then revoke a badge for good (with an optional reason for the learner)."""
    require_issuer_access(slug, "organiser")
    credential = _credential_of(slug, request.values.get("credential", ""))
    errors = FormErrors()
    if credential.state == "revoked":
        flash(_("This badge was already revoked."), "error")
        return cast(Response, redirect(url_for(".credentials", slug=slug), code=303))
    if request.method == "POST":
        reason = request.form.get("comment", "").strip()
        if len(reason) > MAX_REASON_CHARS:
            errors.add(
                "comment", _("The reason has at most %(num)d characters.", num=MAX_REASON_CHARS)
            )
        else:
            try:
                badge_service().awarding.revoke(credential.credential_id, reason)
            except BadgeBridgeError as problem:
                errors.add("_core", problem.message)
            else:
                flash(
                    _(
                        "The badge %(name)s of %(email)s was revoked.",
                        name=credential.achievement_name,
                        email=credential.recipient,
                    ),
                    "success",
                )
                return cast(Response, redirect(url_for(".credentials", slug=slug), code=303))
    page = render_template(
        "admin/confirm.html",
        title=_("Revoke this badge?"),
        explanation=_("A revoked badge no longer verifies, for good. This cannot be undone."),
        details=[
            (_("Badge"), credential.achievement_name),
            (_("Awarded to"), credential.recipient),
            (_("Issued"), credential.issued_at.strftime("%Y-%m-%d")),
        ],
        action=url_for(".revoke", slug=slug),
        fields={"credential": credential.credential_id},
        comment_label=_("Reason (shown to the learner)"),
        errors=errors,
        confirm_label=_("Revoke the badge"),
        cancel_url=url_for(".credentials", slug=slug),
        danger=True,
    )
    return page, 400 if errors else 200


@blueprint.route("/suspend", methods=["GET", "POST"])
def suspend(slug: str) -> Response | str:
    """Confirm, then suspend a badge or lift its suspension."""
    require_issuer_access(slug, "organiser")
    credential = _credential_of(slug, request.values.get("credential", ""))
    lift = request.values.get("action") == "lift"
    if credential.status_purpose != "suspension" or credential.state == "revoked":
        flash(_("This badge cannot be suspended: it was issued as revocable only."), "error")
        return cast(Response, redirect(url_for(".credentials", slug=slug), code=303))
    if request.method == "POST":
        badge_service().set_status(credential.credential_id, "suspension", not lift)
        message = _("The suspension was lifted.") if lift else _("The badge was suspended.")
        flash(message, "success")
        return cast(Response, redirect(url_for(".credentials", slug=slug), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Lift the suspension?") if lift else _("Suspend this badge?"),
        explanation=_("The badge verifies again.")
        if lift
        else _(
            "The badge does not verify while it is suspended; you can lift the suspension later."
        ),
        details=[
            (_("Badge"), credential.achievement_name),
            (_("Awarded to"), credential.recipient),
        ],
        action=url_for(".suspend", slug=slug),
        fields={"credential": credential.credential_id, "action": "lift" if lift else "suspend"},
        confirm_label=_("Lift the suspension") if lift else _("Suspend the badge"),
        cancel_url=url_for(".credentials", slug=slug),
        danger=not lift,
    )


__all__ = ["blueprint"]
