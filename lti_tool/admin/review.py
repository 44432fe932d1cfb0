"""The evidence review queue: organisers and reviewers of an issuer approve or reject the
evidence learners handed in for its activities. Approving awards the activity's badge; a
rejection tells the learner why (a comment is required)."""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from core.errors import BadgeBridgeError, NotFound
from core.evidence import EvidenceView
from lti_tool.admin.forms import FormErrors
from lti_tool.admin.issuer_scope import organisation
from lti_tool.auth import protect_blueprint, require_issuer_access
from lti_tool.i18n import gettext as _
from lti_tool.web import badge_service

blueprint = Blueprint("admin_review", __name__, url_prefix="/admin/issuers/<slug>/review")
protect_blueprint(blueprint)

MAX_COMMENT_CHARS = 5000


def _evidence_of(slug: str, public_id: str) -> EvidenceView:
    """The evidence, when it was handed in for one of ``slug``'s activities (else 404)."""
    service = badge_service()
    try:
        evidence = service.evidence.get(public_id)
        activity = service.catalogue.get_activity(evidence.activity_public_id)
    except NotFound:
        abort(404)
    if activity.issuer_slug != slug:
        abort(404)
    return evidence


def _learner_label(learner_public_id: str) -> dict[str, Any]:
    try:
        learner = badge_service().learners.get(learner_public_id)
    except NotFound:
        return {"name": None, "email": None}
    emails = learner.emails
    return {"name": learner.display_name, "email": emails[0] if emails else None}


@blueprint.get("/")
def queue(slug: str) -> str:
    """Evidence waiting for review, oldest first."""
    require_issuer_access(slug, "organiser", "reviewer")
    waiting = badge_service().evidence.pending_for_issuer(slug)
    return render_template(
        "admin/review_queue.html",
        issuer=organisation(slug),
        waiting=[(item, _learner_label(item.learner_public_id)) for item in waiting],
    )


@blueprint.route("/<public_id>", methods=["GET", "POST"])
def review(slug: str, public_id: str) -> Response | str | tuple[str, int]:
    """One piece of evidence, with the approve and reject buttons."""
    user = require_issuer_access(slug, "organiser", "reviewer")
    evidence = _evidence_of(slug, public_id)
    errors = FormErrors()
    comment = ""
    if request.method == "POST":
        decision = request.form.get("decision", "")
        comment = request.form.get("comment", "").strip()
        if decision not in ("approve", "reject"):
            errors.add("decision", _("Choose approve or reject."))
        elif decision == "reject" and not comment:
            errors.add("comment", _("Tell the learner why the evidence is rejected."))
        if len(comment) > MAX_COMMENT_CHARS:
            errors.add(
                "comment", _("The comment has at most %(num)d characters.", num=MAX_COMMENT_CHARS)
            )
        if evidence.status != "pending":
            errors.add("_state", _("This evidence was already reviewed."))
        if not errors:
            try:
                reviewed = badge_service().evidence.review(
                    public_id, approve=decision == "approve", reviewer=user.email, comment=comment
                )
            except BadgeBridgeError as problem:
                errors.add("_core", problem.message)
            else:
                if reviewed.status == "approved":
                    flash(_("Approved: the badge was awarded."), "success")
                else:
                    flash(_("Rejected: the learner sees your comment."), "success")
                return cast(Response, redirect(url_for(".queue", slug=slug), code=303))
    page = render_template(
        "admin/review.html",
        issuer=organisation(slug),
        evidence=evidence,
        learner=_learner_label(evidence.learner_public_id),
        errors=errors,
        comment=comment,
    )
    return page, 400 if errors else 200


@blueprint.get("/<public_id>/file")
def evidence_file(slug: str, public_id: str) -> Response:
    """The file handed in, always as a download (never shown in the page's origin)."""
    require_issuer_access(slug, "organiser", "reviewer")
    _evidence_of(slug, public_id)
    try:
        handed_in = badge_service().evidence.file(public_id)
    except NotFound:
        abort(404)
    response = Response(handed_in.data, mimetype=handed_in.media_type or "application/octet-stream")
    response.headers.set("Content-Disposition", "attachment", filename=handed_in.name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


__all__ = ["blueprint"]
