"""The course item as a teacher sees it: the class (from the platform's Names and Role
Provisioning service) with each student's state and grade, evidence review, award and revoke,
re-sending grades, and the course's skills coverage.

Everything here stays inside the teacher's platform, deployment and course: a form names a
student of the class by the row key the page gave it, and evidence by its id; both are looked
up again among the class before anything happens (a teacher of course A can name nothing of
course B). Forms carry the launch's form token (no cookies in the LMS's frame) and end with
POST → 303 → GET; the page says what happened through a ``notice`` in the query.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Final, cast

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from core.awarding import MAX_REASON_CHARS, AwardRequest
from core.errors import BadgeBridgeError, InvalidInput, NotFound
from core.evidence import EvidenceView
from core.learners import IdentityConflict
from core.service import BadgeService
from lti_tool.i18n import N_, ngettext
from lti_tool.i18n import gettext as _
from lti_tool.lti.framing import frameable, refused
from lti_tool.lti.hardened import LaunchRefused
from lti_tool.lti.sessions import (
    FORM_TOKEN_FIELD,
    LaunchSession,
    form_token,
    load_session,
    require_form_token,
)
from lti_tool.lti.teacher_class import (
    ClassView,
    CourseItem,
    StudentRow,
    class_view,
    course_item_of,
    skills_coverage,
)
from lti_tool.web import badge_service

blueprint = Blueprint("lti_teacher", __name__, url_prefix="/lti/session/<launch_id>/teacher")


def _download_headers(response: Response) -> Response:
    """An evidence file keeps its sandbox policy (this runs after :func:`frameable`)."""
    if g.get("lti_teacher_download"):
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


# Flask runs a blueprint's after_request functions last-registered first.
blueprint.after_request(_download_headers)
blueprint.after_request(frameable)
blueprint.errorhandler(BadgeBridgeError)(refused)

#: What the page says after an action (``?notice=``); ``%(name)s`` is the student.
NOTICES: Final = {
    "approved": N_("The evidence of %(name)s was approved and the badge awarded."),
    "rejected": N_("The evidence of %(name)s was rejected; they see your comment."),
    "awarded": N_("The badge was awarded to %(name)s."),
    "already-awarded": N_("%(name)s already holds this badge: nothing new was issued."),
    "revoked": N_("The badge of %(name)s was revoked."),
    "not-held": N_("%(name)s holds no badge of this item to revoke."),
}
#: A student's state for the item, as the class table shows it.
STATE_LABELS: Final = {
    "not_started": N_("Not started"),
    "in_progress": N_("Under way"),
    "pending": N_("Evidence waiting for review"),
    "rejected": N_("Evidence rejected"),
    "approved": N_("Evidence approved"),
    "earned": N_("Badge earned"),
    "revoked": N_("Badge revoked"),
}
#: Where a student's grade is on its way to the LMS's gradebook.
GRADE_LABELS: Final = {
    "pending": N_("Waiting to be sent"),
    "sent": N_("Sent"),
    "retrying": N_("Not reached yet, trying again"),
    "failed": N_("Not accepted"),
}
#: How an activity's completion is confirmed, said to the teacher.
COMPLETION_LABELS: Final = {
    "organiser_confirms": N_("The organiser confirms who took part."),
    "evidence_organiser": N_("Students hand in evidence; you or the organiser review it."),
    "evidence_peer": N_("Students hand in evidence; you or another participant review it."),
    "attendance_code": N_("Students enter the attendance code given out at the activity."),
    "lms_completion": N_("Students complete the course in the learning environment."),
}
MAX_COMMENT_CHARS: Final = 5000
_ROUND = re.compile(r"^\d{1,4}$")


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def course_item_page(
    service: BadgeService,
    session: LaunchSession,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> str:
    """The course item as a teacher sees it (``error``: a refused action, shown at the top,
    with what the teacher typed in ``form``)."""
    if session.message_type != "LtiResourceLinkRequest" or not session.resource_link_id:
        return render_template("lti/launched.html", session=session, activity=None, playlist=None)
    item = course_item_of(service, session)
    view = class_view(service, session, item)
    coverage = skills_coverage(service, item, session.context_id, view.rows)
    return render_template(
        "lti/teacher.html",
        session=session,
        item=item,
        view=view,
        coverage=coverage,
        notice=_notice(view),
        error=error,
        form=form or {},
        token_field=FORM_TOKEN_FIELD,
        token=form_token(session),
        max_reason=MAX_REASON_CHARS,
        max_comment=MAX_COMMENT_CHARS,
        state_labels=STATE_LABELS,
        grade_labels=GRADE_LABELS,
        completion_labels=COMPLETION_LABELS,
    )


def _notice(view: ClassView) -> str | None:
    code = request.args.get("notice", "")
    if code == "resent":
        return ngettext(
            "%(num)d grade is on its way to the gradebook again.",
            "%(num)d grades are on their way to the gradebook again.",
            _count(request.args.get("n")),
        )
    if code == "nothing-to-resend":
        return _("No student holds this badge yet: there is no grade to send.")
    message = NOTICES.get(code)
    if message is None:
        return None
    row = view.row(request.args.get("who", ""))
    return _(message, name=row.label if row is not None else _("the student"))


def _count(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 7 else 0


# --------------------------------------------------------------------------------------------
# Who may act, and on what
# --------------------------------------------------------------------------------------------


def _teacher_session(launch_id: str) -> tuple[BadgeService, LaunchSession]:
    """The launch behind a teacher URL: refused (403) for anyone without a teaching role, and
    (404) for launches that are not a course item."""
    service = badge_service()
    session = load_session(service, launch_id)
    if session.role_class != "instructor":
        raise LaunchRefused(
            _("Only teachers of this course can use this page. Open the item from your course."),
            reason="not-teacher",
            status=403,
        )
    if session.message_type != "LtiResourceLinkRequest" or not session.resource_link_id:
        raise LaunchRefused(
            _("This launch did not open a course item, so there is no class to show here."),
            reason="no-course-item",
            status=404,
        )
    return service, session


def _posted(launch_id: str) -> tuple[BadgeService, LaunchSession, CourseItem, ClassView]:
    """A form post on the teacher's page: the teacher, the form token, the item and class."""
    service, session = _teacher_session(launch_id)
    require_form_token(session, request.form.get(FORM_TOKEN_FIELD))
    item = course_item_of(service, session)
    return service, session, item, class_view(service, session, item)


def _student(view: ClassView) -> StudentRow:
    row = view.row(request.form.get("student", ""))
    if row is None:
        raise NotFound(_("That student is not in the class of this course."))
    return row


def _reviewer(session: LaunchSession) -> str:
    """Who reviewed or awarded, as the award records it: the teacher's email when the platform
    sent it, else their LTI identity."""
    if session.email:
        return session.email
    return f"lti:{session.platform_public_id}:{session.user_id}"[:320]


def _back(launch_id: str, notice: str, **args: Any) -> Response:
    target = url_for("lti.session_page", launch_id=launch_id, notice=notice, **args)
    return cast(Response, redirect(target, code=303))


def _refused_form(service: BadgeService, session: LaunchSession, message: str) -> Response:
    """The page again, with why the action was refused (400) and what was typed."""
    typed = {k: v for k, v in request.form.items() if k != FORM_TOKEN_FIELD}
    typed["_target"] = request.path
    page = course_item_page(service, session, error=message, form=typed)
    return Response(page, status=400, mimetype="text/html")


def _ready_to_receive(
    service: BadgeService, item: CourseItem, row: StudentRow
) -> tuple[str | None, str | None]:
    """The learner who receives a badge, with an email address to issue it to: (learner public
    id, None) or (None, why not).

    A student who never opened the item has no learner yet: the teacher's award is the one
    reason to create it (the badge needs a holder), with the LMS identity and the email the
    class list gives, so the student's later launches find the same learner. When a learner
    has no email but the class list has one, it is added (verified only when the platform is
    trusted to assert emails)."""
    learners = service.learners
    platform = item.platform
    if row.learner_public_id is None:
        if row.user_id is None or row.email is None:
            return None, _no_email(row)
        try:
            learner = learners.find_or_create(
                lms_platform=platform.learner_platform,
                lms_user_id=row.user_id,
                email=row.email,
                email_verified=platform.email_trusted,
                display_name=row.name,
            )
        except IdentityConflict:
            return None, _conflict(row)
        return learner.public_id, None
    if learners.primary_email(row.learner_public_id) is None:
        if row.email is None:
            return None, _no_email(row)
        try:
            learners.add_identifier(
                row.learner_public_id,
                kind="email",
                value=row.email,
                verified=platform.email_trusted,
            )
        except IdentityConflict:
            return None, _conflict(row)
    return row.learner_public_id, None


def _no_email(row: StudentRow) -> str:
    return _(
        "%(name)s has no email address here, and a badge is issued to one. Ask your learning "
        "environment's administrator to share email addresses with this tool.",
        name=row.label,
    )


def _conflict(row: StudentRow) -> str:
    return _(
        "The email address of %(name)s belongs to another learner here; an administrator of "
        "this tool can merge the two. Nothing was awarded.",
        name=row.label,
    )


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------


@blueprint.post("/evidence/<evidence_id>")
def review_evidence(launch_id: str, evidence_id: str) -> Response:
    """Approve (and award) or reject, with a comment, evidence a student of the class handed
    in for this item."""
    service, session, item, view = _posted(launch_id)
    row, evidence = _class_evidence(service, item, view, evidence_id)
    decision = request.form.get("decision", "")
    comment = request.form.get("comment", "").strip()
    if decision not in ("approve", "reject"):
        return _refused_form(service, session, _("Choose to approve or to reject the evidence."))
    if len(comment) > MAX_COMMENT_CHARS:
        return _refused_form(
            service,
            session,
            _("A comment is at most %(count)s characters.", count=MAX_COMMENT_CHARS),
        )
    if decision == "reject" and not comment:
        return _refused_form(
            service, session, _("Write a comment telling %(name)s why.", name=row.label)
        )
    if decision == "approve" and evidence.status == "pending":
        _learner, why_not = _ready_to_receive(service, item, row)
        if why_not is not None:
            return _refused_form(service, session, why_not)
    try:
        service.evidence.review(
            evidence.public_id,
            approve=decision == "approve",
            reviewer=_reviewer(session),
            comment=comment,
        )
    except InvalidInput as problem:
        return _refused_form(service, session, problem.message)
    return _back(launch_id, "approved" if decision == "approve" else "rejected", who=row.key)


def _class_evidence(
    service: BadgeService, item: CourseItem, view: ClassView, evidence_id: str
) -> tuple[StudentRow, EvidenceView]:
    """Evidence of this item handed in by a student of this class (pending, or already
    reviewed: a second click finds it reviewed), else 404."""
    found = view.evidence(evidence_id)
    if found is not None:
        return found
    try:
        evidence = service.evidence.get(evidence_id) if len(evidence_id) <= 64 else None
    except NotFound:
        evidence = None
    if evidence is not None and evidence.activity_public_id in item.evidence_activity_ids:
        for row in view.rows:
            if row.learner_public_id and row.learner_public_id == evidence.learner_public_id:
                return row, evidence
    raise NotFound(_("That evidence was not handed in by a student of this course."))


@blueprint.get("/evidence/<evidence_id>/file")
def evidence_file(launch_id: str, evidence_id: str) -> Response:
    """The file a student of the class handed in, as a download."""
    service, session = _teacher_session(launch_id)
    item = course_item_of(service, session)
    _row, evidence = _class_evidence(service, item, class_view(service, session, item), evidence_id)
    handed_in = service.evidence.file(evidence.public_id)
    response = Response(handed_in.data, mimetype=handed_in.media_type or "application/octet-stream")
    response.headers.set("Content-Disposition", "attachment", filename=handed_in.name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    g.lti_teacher_download = True
    return response


@blueprint.post("/award")
def award(launch_id: str) -> Response:
    """Award this item's badge to a student of the class (a double click awards once)."""
    service, session, item, view = _posted(launch_id)
    row = _student(view)
    if item.achievement is None:
        return _refused_form(service, session, _("This course item earns no badge."))
    if row.state == "earned":
        return _back(launch_id, "already-awarded", who=row.key)
    round_ = request.form.get("round", "0")
    if not _ROUND.match(round_):
        return _refused_form(service, session, _("This form is out of date. Reload the page."))
    learner_public_id, why_not = _ready_to_receive(service, item, row)
    if learner_public_id is None:
        return _refused_form(service, session, why_not or _no_email(row))
    try:
        result = service.awarding.award(
            AwardRequest(
                learner_public_id=learner_public_id,
                achievement_public_id=item.achievement.public_id,
                source_kind="teacher",
                source_event_id=_award_event(item, learner_public_id, round_),
                approved_by=_reviewer(session),
            )
        )
    except InvalidInput as problem:
        return _refused_form(service, session, problem.message)
    return _back(launch_id, "awarded" if result.created else "already-awarded", who=row.key)


def _award_event(item: CourseItem, learner_public_id: str, round_: str) -> str:
    """The award's source event: this course item, this learner, this badge, and the round
    (how many of this badge the learner had revoked when the page was shown). Two clicks on
    one page are one event (one award); after a revocation the page offers a new round."""
    link = item.resource_link
    scope = [
        item.platform.public_id,
        item.deployment.deployment_id,
        None if link is None else link.resource_link_id,
        learner_public_id,
        item.achievement_public_id,
        int(round_),
    ]
    digest = hashlib.sha256(json.dumps(scope).encode()).hexdigest()[:40]
    return f"lti-teacher:{digest}"


@blueprint.post("/revoke")
def revoke(launch_id: str) -> Response:
    """Revoke the badge of this item a student of the class holds, with a reason."""
    service, session, _item, view = _posted(launch_id)
    row = _student(view)
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _refused_form(
            service,
            session,
            _("Give a reason for revoking the badge of %(name)s.", name=row.label),
        )
    if len(reason) > MAX_REASON_CHARS:
        return _refused_form(
            service, session, _("A reason is at most %(count)s characters.", count=MAX_REASON_CHARS)
        )
    if row.credential_id is None:
        return _back(launch_id, "not-held", who=row.key)
    service.awarding.revoke(row.credential_id, reason)
    return _back(launch_id, "revoked", who=row.key)


@blueprint.post("/grades")
def resend_grades(launch_id: str) -> Response:
    """Send the grades of the students who hold this item's badge to the LMS again (one
    student's when the form names one)."""
    service, session, item, view = _posted(launch_id)
    learner_public_id = None
    if request.form.get("student"):
        learner_public_id = _student(view).learner_public_id
        if learner_public_id is None:
            return _back(launch_id, "nothing-to-resend")
    if item.resource_link is None:
        return _refused_form(service, session, _("This course item has no gradebook column."))
    try:
        queued = service.lti_grades.resend(item.resource_link, learner_public_id)
    except BadgeBridgeError as problem:
        return _refused_form(service, session, problem.message)
    except NotImplementedError:
        return _refused_form(
            service, session, _("Grades cannot be sent back to the learning environment yet.")
        )
    if queued == 0:
        return _back(launch_id, "nothing-to-resend")
    return _back(launch_id, "resent", n=queued)


__all__ = ["blueprint", "course_item_page"]
