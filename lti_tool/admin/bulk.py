"""Award badges from a spreadsheet: upload a CSV, see every bad row named before anything is
issued, then award the good rows while a progress page (refreshing itself, no scripts) counts
them.

The awarding is an outbox job (queued with the confirmation, in its transaction) that the
worker runs in batches, so a web process that stops loses nothing: the job is delivered again
and resumes at its first row not yet counted, and rows already awarded are never awarded twice
(see :mod:`core.bulk_award`). The progress page reads the job's counts; opening it also makes
sure a job left without a queued batch gets one.
"""

from __future__ import annotations

from typing import Any, cast

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from core.bulk_award import (
    MAX_CSV_BYTES,
    MAX_CSV_ROWS,
    BulkAwardJobView,
    BulkAwards,
    CsvProblem,
    RowProblem,
)
from core.errors import BadgeBridgeError, NotFound
from lti_tool.admin.forms import FormErrors
from lti_tool.admin.issuer_scope import organisation
from lti_tool.auth import protect_blueprint, require_issuer_access
from lti_tool.i18n import N_
from lti_tool.i18n import gettext as _
from lti_tool.web import badge_service

blueprint = Blueprint("admin_bulk", __name__, url_prefix="/admin/issuers/<slug>/bulk")
protect_blueprint(blueprint)

#: Seconds between refreshes of the progress page.
REFRESH_SECONDS = 2
JOB_STATE_LABELS = {
    "preview": N_("waiting for your check"),
    "queued": N_("waiting to start"),
    "running": N_("awarding"),
    "done": N_("done"),
    "cancelled": N_("cancelled"),
}


def _bulk_awards() -> BulkAwards:
    return BulkAwards(badge_service())


def _job_of(slug: str, public_id: str) -> BulkAwardJobView:
    try:
        job = _bulk_awards().get_job(public_id)
    except NotFound:
        abort(404)
    if job.issuer_slug != slug:
        abort(404)
    return job


def problem_text(problem: RowProblem) -> str:
    """Why a row was refused, in the page's language."""
    messages = {
        "invalid_email": _("%(value)s is not an email address.", value=problem.value or "—"),
        "missing_name": _("The name is missing."),
        "name_too_long": _("The name is longer than 200 characters."),
        "unknown_achievement": _(
            "%(value)s is not one of this issuer's achievements.", value=problem.value or "—"
        ),
        "duplicate": _(
            "The same person and achievement as row %(row)s.", row=problem.other_row or "?"
        ),
        "invalid_evidence_url": _(
            "The evidence link %(value)s does not start with https://.", value=problem.value
        ),
        "evidence_too_long": _("The evidence text is longer than 10,000 characters."),
    }
    return messages.get(problem.reason, problem.reason)


def _file_problem_text(problem: CsvProblem) -> str:
    messages = {
        "too_large": _("The file is larger than %(num)d MB.", num=MAX_CSV_BYTES // 1_000_000),
        "not_csv": _("This is not a CSV file. Save the spreadsheet as CSV and try again."),
        "empty": _("The file has no rows to award."),
        "missing_columns": _(
            "The first row must name the columns email, name and achievement; missing: %(columns)s.",
            columns=problem.detail,
        ),
        "too_many_rows": _("The file has more than %(num)d rows; split it.", num=MAX_CSV_ROWS),
    }
    return messages.get(problem.reason, problem.message)


@blueprint.route("/", methods=["GET", "POST"])
def upload(slug: str) -> Response | str | tuple[str, int]:
    """The upload form and the issuer's recent uploads; a posted file is checked and shown
    as a preview."""
    user = require_issuer_access(slug, "organiser")
    errors = FormErrors()
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            errors.add("file", _("Choose a CSV file."))
        else:
            data = file.stream.read(MAX_CSV_BYTES + 1)
            try:
                job = _bulk_awards().create_job(
                    slug, created_by=user.email, file_name=file.filename, data=data
                )
            except CsvProblem as problem:
                errors.add("file", _file_problem_text(problem))
            else:
                return cast(
                    Response,
                    redirect(url_for(".job", slug=slug, public_id=job.public_id), code=303),
                )
    page = render_template(
        "admin/bulk_upload.html",
        issuer=organisation(slug),
        achievements=badge_service().catalogue.list_achievements(slug),
        jobs=_bulk_awards().jobs_of(slug),
        errors=errors,
        max_rows=MAX_CSV_ROWS,
        job_state_labels=JOB_STATE_LABELS,
    )
    return page, 400 if errors else 200


@blueprint.get("/<public_id>")
def job(slug: str, public_id: str) -> Response | str:
    """The preview (before awarding), the progress (while awarding, refreshing itself) or the
    result (afterwards) of an upload."""
    require_issuer_access(slug, "organiser")
    found = _job_of(slug, public_id)
    if found.needs_a_worker():
        _bulk_awards().ensure_queued(public_id)
    context: dict[str, Any] = {
        "issuer": organisation(slug),
        "job": found,
        "problems": [(p, problem_text(p)) for p in found.problems],
        "refresh_seconds": REFRESH_SECONDS,
    }
    return render_template("admin/bulk_job.html", **context)


@blueprint.post("/<public_id>/start")
def start(slug: str, public_id: str) -> Response:
    """Award the good rows of a previewed upload."""
    require_issuer_access(slug, "organiser")
    _job_of(slug, public_id)
    try:
        _bulk_awards().start(public_id)  # queues the awarding for the worker
    except BadgeBridgeError as problem:
        flash(problem.message, "error")
    return cast(Response, redirect(url_for(".job", slug=slug, public_id=public_id), code=303))


@blueprint.post("/<public_id>/cancel")
def cancel(slug: str, public_id: str) -> Response:
    """Drop a previewed upload without awarding anything."""
    require_issuer_access(slug, "organiser")
    _job_of(slug, public_id)
    try:
        _bulk_awards().cancel(public_id)
    except BadgeBridgeError as problem:
        flash(problem.message, "error")
    else:
        flash(_("The upload was cancelled; nothing was awarded."), "success")
    return cast(Response, redirect(url_for(".upload", slug=slug), code=303))


__all__ = ["blueprint", "problem_text"]
