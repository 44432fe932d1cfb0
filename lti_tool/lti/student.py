"""The course item as a student sees it inside the LMS: the activity (what, where, when, skills,
which badge) or the playlist with their progress, the evidence they handed in and its review,
evidence submission (text, link, file) or the attendance code, and the badge once earned (its
page, the baked PNG, add to LinkedIn, all their badges).

Everyone launching without a teaching role lands here (least privilege): a launch without a
learner (no or unknown roles) sees the activity and an explanation, never forms. Every page
shows the launch's own learner only.

Forms are bound to the launch (:func:`~lti_tool.lti.sessions.form_token`), not to cookies, and
end POST → 303 → GET with a status message in the query string (there is no cookie session in
the LMS frame to carry a flash message). A double submit does not hand in evidence twice:
every rendering of the page carries a fresh submission key that the launch cache accepts once.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Final

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as WerkzeugResponse

from core.awarding import AwardRequest
from core.catalogue import ActivityView, PlaylistProgress, PlaylistStepView, PlaylistView
from core.errors import BadgeBridgeError, NotFound
from core.evidence import (
    ALLOWED_FILE_TYPES,
    EVIDENCE_MODES,
    MAX_URL_CHARS,
    EvidenceView,
    sniff_file_type,
)
from core.learner_badges import CourseItemHoldings, CredentialFacts, LearnerCredential
from core.limits import MAX_EVIDENCE_FILE_BYTES, MAX_EVIDENCE_TEXT_CHARS
from core.service import BadgeService
from lti_tool.badge_images import baked_badge_png
from lti_tool.catalogue_pages import COMPLETION_MODE_LABELS, skill_names
from lti_tool.credential_display import credential_json, levels, skill_groups
from lti_tool.i18n import N_, current_locale, format_number, translated
from lti_tool.i18n import gettext as _
from lti_tool.learner import credential_token
from lti_tool.lti.framing import frameable, refused
from lti_tool.lti.hardened import LAUNCH_TTL_SECONDS, LaunchRefused, is_student
from lti_tool.lti.sessions import (
    FORM_TOKEN_FIELD,
    LaunchSession,
    form_token,
    load_session,
    require_form_token,
)
from lti_tool.web import (
    ShownCredential,
    badge_picture,
    badge_service,
    catalogue_achievement_of,
    credential_values,
)

blueprint = Blueprint("lti_student", __name__, url_prefix="/lti/session/<launch_id>/student")
blueprint.after_request(frameable)
blueprint.errorhandler(BadgeBridgeError)(refused)

#: The hidden field with the page's one-time submission key (see the module docstring).
SUBMISSION_FIELD: Final = "submission"
_SUBMISSION_KEY: Final = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: Wrong attendance codes a learner may try per activity within the window below.
MAX_ATTENDANCE_TRIES: Final = 10
ATTENDANCE_WINDOW_SECONDS: Final = 15 * 60
EVIDENCE_KINDS: Final = ("text", "link", "file")
#: Core's names of the file types, in the page's language (see :func:`file_type_names`).
FILE_TYPE_WORDS: Final = (N_("plain text"),)
#: What the file input accepts (the server sniffs the real type anyway).
FILE_ACCEPT: Final = ".pdf,.png,.jpg,.jpeg,.webp,.mp4,.txt"

#: Status messages after a form, by the code in ``?done=``.
STATUS_MESSAGES: Final = {
    "evidence": N_("Your evidence was handed in. It now waits for review."),
    "evidence-again": N_("This evidence was already handed in; it was not sent twice."),
    "attendance": N_("The attendance code is right: the badge is yours."),
}


@dataclass(frozen=True)
class FormError:
    """A form that was sent back: for which activity and form, and what was wrong."""

    activity_public_id: str
    kind: str
    message: str
    #: what the learner typed, shown again in the form
    value: str = ""


@dataclass(frozen=True)
class EarnedBadge:
    """The badge the learner holds for this item, with the links to share it."""

    credential: LearnerCredential
    token: str
    #: what the credential page shows (name, issuer, LinkedIn link...), reused as is
    shown: dict[str, Any]
    png_url: str


@dataclass(frozen=True)
class ActivityState:
    """One activity of the item and where the learner stands with it."""

    activity: ActivityView
    evidence: tuple[EvidenceView, ...]
    earned: EarnedBadge | None

    @property
    def pending(self) -> bool:
        """Whether evidence waits for review."""
        return any(e.status == "pending" for e in self.evidence)

    @property
    def hands_in_evidence(self) -> bool:
        """Whether the badge is earned by handing in evidence."""
        return self.activity.completion_mode in EVIDENCE_MODES

    @property
    def open(self) -> bool:
        """Whether the learner can still do something here (not earned, still offered, and
        awarding a badge)."""
        return (
            self.earned is None
            and not self.activity.archived
            and self.activity.achievement_public_id is not None
        )

    @property
    def completion(self) -> str:
        """How the badge is earned, in the page's language."""
        mode = self.activity.completion_mode
        return _(COMPLETION_MODE_LABELS.get(mode, mode))


@dataclass(frozen=True)
class StepState:
    """One playlist step, whether it is done, and its activity's state for a step that is an
    activity."""

    step: PlaylistStepView
    done: bool
    activity: ActivityState | None


@dataclass
class ItemPage:
    """Everything the course item page shows."""

    session: LaunchSession
    learner_public_id: str | None
    activity: ActivityState | None = None
    playlist: PlaylistView | None = None
    progress: PlaylistProgress | None = None
    steps: list[StepState] = field(default_factory=list)
    #: the badge of the playlist, once earned
    playlist_badge: EarnedBadge | None = None
    missing: bool = False


# -- reading the learner's state ----------------------------------------------------------------


def _live_learner(service: BadgeService, session: LaunchSession) -> str | None:
    """The launch's learner as they are now (merges followed); None for a launch that is not a
    student's (see :func:`is_student`), without a learner, or whose learner's data was erased."""
    learner = _launched_learner(session)
    # Looked up again (one query): a merge or an erasure since the launch counts at once.
    return None if learner is None else service.learners.live_public_id(learner)


def _launched_learner(session: LaunchSession) -> str | None:
    """The learner the launch recorded, for a student's launch (see :func:`is_student`)."""
    if session.learner_public_id is None or not is_student(session.roles):
        return None
    return session.learner_public_id


def _holdings(
    service: BadgeService, session: LaunchSession, activity_ids: list[str]
) -> CourseItemHoldings | None:
    """The launch's learner as they are now (merges followed), with their credentials and
    their evidence for ``activity_ids``; None for a launch that is not a student's (see
    :func:`is_student`), without a learner, or whose learner's data was erased. Read at each
    page view: a merge, an erasure or an award since the launch counts at once."""
    learner = _launched_learner(session)
    if learner is None:
        return None
    return service.learner_badges.course_item_holdings(learner, activity_ids)


def _earned(
    session: LaunchSession,
    held: list[LearnerCredential],
    achievement_public_id: str | None,
    facts: dict[str, CredentialFacts],
) -> EarnedBadge | None:
    """The learner's newest credential of the achievement that is not revoked (its facts read
    beforehand with the page's other badges, see :func:`_newest_held`)."""
    credential = _newest_held(held, achievement_public_id)
    if credential is None or credential.credential_id not in facts:
        return None
    token = credential_token(credential.credential_id)
    return EarnedBadge(
        credential=credential,
        token=token,
        shown=credential_values(
            ShownCredential(token, facts[credential.credential_id], "holder"),
            recent_catalogue=True,
        ),
        png_url=url_for("lti_student.badge_png", launch_id=session.launch_id, token=token),
    )


def _newest_held(
    held: list[LearnerCredential], achievement_public_id: str | None
) -> LearnerCredential | None:
    if achievement_public_id is None:
        return None
    for credential in held:  # newest first
        if credential.achievement_public_id == achievement_public_id and not credential.revoked:
            return credential
    return None


def _activity_state(
    session: LaunchSession,
    activity: ActivityView,
    evidence: list[EvidenceView],
    held: list[LearnerCredential],
    facts: dict[str, CredentialFacts],
) -> ActivityState:
    return ActivityState(
        activity=activity,
        evidence=tuple(e for e in evidence if e.activity_public_id == activity.public_id),
        earned=_earned(session, held, activity.achievement_public_id, facts),
    )


def _activity_or_none(service: BadgeService, public_id: str | None) -> ActivityView | None:
    # A class launches the same item: its content is read once per worker every few seconds.
    if not public_id:
        return None
    try:
        return service.catalogue.recent_activity(public_id)
    except NotFound:
        return None


def _playlist_or_none(service: BadgeService, public_id: str | None) -> PlaylistView | None:
    if not public_id:
        return None
    try:
        return service.catalogue.recent_playlist(public_id)
    except NotFound:
        return None


def held_achievements(service: BadgeService, held: list[LearnerCredential]) -> set[str]:
    """Public ids and URLs of the achievements of the credentials not revoked."""
    ids: set[str] = set()
    for credential in held:
        if credential.revoked or credential.achievement_public_id is None:
            continue
        ids.add(credential.achievement_public_id)
        ids.add(service.catalogue.achievement_url(credential.achievement_public_id))
    return ids


def item_page(service: BadgeService, session: LaunchSession) -> ItemPage:
    """The course item with the launch's learner's state (no learner: the activity only)."""
    activity = _activity_or_none(service, session.activity_public_id)
    playlist = None if activity else _playlist_or_none(service, session.playlist_public_id)
    step_activities = {
        step.activity_public_id: _activity_or_none(service, step.activity_public_id)
        for step in (playlist.steps if playlist is not None else ())
        if step.kind == "activity" and step.activity_public_id
    }
    shown = [activity.public_id] if activity is not None else list(step_activities)
    holdings = _holdings(service, session, shown)
    held = holdings.credentials if holdings is not None else []
    evidence = holdings.evidence if holdings is not None else []
    page = ItemPage(
        session=session,
        learner_public_id=holdings.learner_public_id if holdings is not None else None,
    )
    # The badges the page shows (the item's, each step's), read together.
    badges = [activity.achievement_public_id] if activity is not None else []
    if playlist is not None:
        badges.append(playlist.achievement_public_id)
        badges.extend(a.achievement_public_id for a in step_activities.values() if a is not None)
    shown_credentials = (_newest_held(held, badge) for badge in badges)
    facts = service.learner_badges.credential_facts_of(
        c.credential_id for c in shown_credentials if c is not None
    )
    if activity is not None:
        page.activity = _activity_state(session, activity, evidence, held, facts)
    elif playlist is not None:
        page.playlist = playlist
        page.progress = service.catalogue.playlist_progress(
            playlist, held_achievements(service, held)
        )
        done = {s.position for s in page.progress.steps if s.done}
        for step in playlist.steps:
            step_activity = (
                step_activities.get(step.activity_public_id)
                if step.kind == "activity" and step.activity_public_id
                else None
            )
            page.steps.append(
                StepState(
                    step=step,
                    done=step.position in done,
                    activity=(
                        _activity_state(session, step_activity, evidence, held, facts)
                        if step_activity is not None
                        else None
                    ),
                )
            )
        page.playlist_badge = _earned(session, held, playlist.achievement_public_id, facts)
    else:
        page.missing = bool(session.activity_public_id or session.playlist_public_id)
    return page


def _badge_skills(service: BadgeService, achievement_public_id: str | None) -> dict[str, Any]:
    """The skills by framework and levels of the badge (for ``_skills.html``)."""
    if achievement_public_id is None:
        return {"skill_groups": [], "levels": []}
    try:
        document = service.catalogue.recent_achievement_json(achievement_public_id)
    except NotFound:
        return {"skill_groups": [], "levels": []}
    return {
        "skill_groups": skill_groups(document, current_locale()),
        "levels": levels(document),
    }


# -- the page ---------------------------------------------------------------------------------


def _render(
    service: BadgeService,
    session: LaunchSession,
    *,
    status: int = 200,
    error: FormError | None = None,
) -> Response:
    page = item_page(service, session)
    badge_id = (
        page.activity.activity.achievement_public_id
        if page.activity is not None
        else page.playlist.achievement_public_id
        if page.playlist is not None
        else None
    )
    done = request.args.get("done", "") if status == 200 else ""
    title = (
        page.activity.activity.title
        if page.activity is not None
        else page.playlist.title
        if page.playlist is not None
        else session.resource_link_title or _("Cities of Learning")
    )
    body = render_template(
        "lti/student.html",
        title=title,
        page=page,
        session=session,
        error=error,
        status_message=_(STATUS_MESSAGES[done]) if done in STATUS_MESSAGES else None,
        form_token_field=FORM_TOKEN_FIELD,
        form_token=form_token(session),
        submission_field=SUBMISSION_FIELD,
        submission_key=secrets.token_urlsafe(18),
        file_accept=FILE_ACCEPT,
        file_types=file_type_names(),
        max_file_mb=MAX_EVIDENCE_FILE_BYTES // 1_000_000,
        max_text_chars=MAX_EVIDENCE_TEXT_CHARS,
        skill_names=skill_names,
        **_badge_skills(service, badge_id),
    )
    return Response(body, status=status, mimetype="text/html")


def course_item_page(service: BadgeService, session: LaunchSession) -> Response:
    """The course item as a student (and anyone without a teaching role) sees it."""
    return _render(service, session)


# -- forms ------------------------------------------------------------------------------------


def _session(launch_id: str) -> tuple[BadgeService, LaunchSession]:
    service = badge_service()
    return service, load_session(service, launch_id)


def _posting_learner(service: BadgeService, session: LaunchSession) -> str:
    """The learner a form post acts for, after the form token check; a readable 403 for a
    launch without one."""
    require_form_token(session, request.form.get(FORM_TOKEN_FIELD))
    learner = _live_learner(service, session)
    if learner is None:
        raise LaunchRefused(
            _(
                "Only students of the course can hand in evidence or earn badges here, and your "
                "learning environment did not launch you as one."
            ),
            reason="no-learner",
            status=403,
        )
    return learner


def _item_activity(service: BadgeService, session: LaunchSession) -> ActivityView:
    """The activity a form names, when it belongs to this course item (the item's activity,
    or a step of its playlist); a 400 otherwise."""
    wanted = request.form.get("activity", "")
    allowed = {session.activity_public_id} if session.activity_public_id else set()
    playlist = _playlist_or_none(service, session.playlist_public_id)
    if playlist is not None:
        allowed |= {s.activity_public_id for s in playlist.steps if s.activity_public_id}
    activity = None
    if wanted in allowed:
        try:  # a form acts on the activity as it is now, not as this worker last read it
            activity = service.catalogue.get_activity(wanted)
        except NotFound:
            activity = None
    if activity is None:
        raise LaunchRefused(
            _("This activity is not part of this course item."),
            reason="activity-not-in-item",
            status=400,
        )
    return activity


def _back(session: LaunchSession, done: str, activity_public_id: str) -> WerkzeugResponse:
    target = url_for("lti.session_page", launch_id=session.launch_id, done=done)
    return redirect(f"{target}#activity-{activity_public_id}", code=303)


@dataclass(frozen=True)
class _Handed:
    """What the evidence form sent, read and checked."""

    kind: str
    text: str | None = None
    url: str | None = None
    file_name: str | None = None
    file_type: str | None = None
    file_data: bytes | None = None


class _Refusal(Exception):
    def __init__(self, status: int, message: str, value: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.value = value


def _read_evidence(kind: str) -> _Handed:
    """The evidence in the form, with the checks people get words for in their language
    (core checks everything again)."""
    if kind == "text":
        text = request.form.get("text", "")
        if not text.strip():
            raise _Refusal(400, _("Write something before you hand it in."))
        if len(text.strip()) > MAX_EVIDENCE_TEXT_CHARS:
            raise _Refusal(
                400,
                _(
                    "Your text is too long: at most %(count)s characters.",
                    count=format_number(MAX_EVIDENCE_TEXT_CHARS),
                ),
                text,
            )
        return _Handed("text", text=text)
    if kind == "link":
        url = request.form.get("url", "").strip()
        if not url:
            raise _Refusal(400, _("Enter the web address of your work."))
        if len(url) > MAX_URL_CHARS or not url.lower().startswith(("http://", "https://")):
            raise _Refusal(
                400,
                _("Enter a web address starting with http:// or https://."),
                url[:MAX_URL_CHARS],
            )
        return _Handed("link", url=url)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise _Refusal(400, _("Choose a file to hand in."))
    data = upload.stream.read(MAX_EVIDENCE_FILE_BYTES + 1)
    if len(data) > MAX_EVIDENCE_FILE_BYTES:
        raise _Refusal(413, _too_large_message())
    if not data:
        raise _Refusal(400, _("This file is empty."))
    if sniff_file_type(data) is None:
        raise _Refusal(
            415,
            _(
                "This type of file cannot be handed in. Hand in one of: %(types)s.",
                types=file_type_names(),
            ),
        )
    return _Handed(
        "file", file_name=upload.filename, file_type=upload.mimetype or None, file_data=data
    )


def file_type_names() -> str:
    """The file types that can be handed in, named in the page's language."""
    return ", ".join(translated(name) for name in ALLOWED_FILE_TYPES.values())


def _too_large_message() -> str:
    return _(
        "This file is too large. Files of at most %(mb)d MB can be handed in.",
        mb=MAX_EVIDENCE_FILE_BYTES // 1_000_000,
    )


def _submission_cache_key(session: LaunchSession) -> str:
    key = request.form.get(SUBMISSION_FIELD, "")
    if not _SUBMISSION_KEY.match(key):
        raise LaunchRefused(
            _("This form was not sent from this course item's page. Open the item again."),
            reason="submission-key",
            status=400,
        )
    return f"student-evidence:{session.launch_id}:{key}"


@blueprint.post("/evidence")
def hand_in(launch_id: str) -> WerkzeugResponse:
    """Hand in evidence (a text, a link or a file) for an activity of this course item."""
    service, session = _session(launch_id)
    learner = _posting_learner(service, session)
    activity = _item_activity(service, session)
    kind = request.form.get("kind", "")
    if kind not in EVIDENCE_KINDS:
        raise LaunchRefused(
            _("Hand in a text, a link or a file."), reason="evidence-kind", status=400
        )
    try:
        handed = _read_evidence(kind)
    except _Refusal as refusal:
        error = FormError(activity.public_id, kind, refusal.message, refusal.value)
        return _render(service, session, status=refusal.status, error=error)
    cache = service.lti.launch_cache
    cache_key = _submission_cache_key(session)
    if not cache.add(cache_key, "handing-in", LAUNCH_TTL_SECONDS):
        # The same page sent twice (a double click, a resent form): handed in once already.
        return _back(session, "evidence-again", activity.public_id)
    try:
        evidence = service.evidence.submit(
            learner,
            activity.public_id,
            text=handed.text,
            url=handed.url,
            file_name=handed.file_name,
            file_type=handed.file_type,
            file_data=handed.file_data,
        )
    except BadgeBridgeError as problem:
        cache.delete(cache_key)  # nothing was stored: the same form may be sent again
        error = FormError(
            activity.public_id, kind, translated(problem.message), handed.text or handed.url or ""
        )
        return _render(service, session, status=400, error=error)
    cache.put(cache_key, evidence.public_id, LAUNCH_TTL_SECONDS)
    return _back(session, "evidence", activity.public_id)


@blueprint.post("/attendance")
def attendance(launch_id: str) -> WerkzeugResponse:
    """Enter the attendance code given out at the activity: the right code earns its badge
    (once, however often it is entered)."""
    service, session = _session(launch_id)
    learner = _posting_learner(service, session)
    activity = _item_activity(service, session)
    code = request.form.get("code", "").strip()[:200]
    tries_key = f"student-attendance:{learner}:{activity.public_id}"
    cache = service.lti.launch_cache
    tries = cache.get(tries_key)
    wrong_so_far = tries if isinstance(tries, int) else 0
    if wrong_so_far >= MAX_ATTENDANCE_TRIES:
        message = _(
            "Too many wrong codes. Wait a quarter of an hour, then try again, or ask the "
            "organiser of the activity."
        )
        return _render(
            service, session, status=429, error=FormError(activity.public_id, "code", message)
        )
    if (
        activity.completion_mode != "attendance_code"
        or activity.achievement_public_id is None
        or not code
        or not service.catalogue.check_attendance_code(activity.public_id, code)
    ):
        if code:
            cache.put(tries_key, wrong_so_far + 1, ATTENDANCE_WINDOW_SECONDS)
        message = (
            _("This is not the attendance code of this activity. Check it and try again.")
            if code
            else _("Enter the attendance code given out at the activity.")
        )
        error = FormError(activity.public_id, "code", message, code)
        return _render(service, session, status=400, error=error)
    service.awarding.award(
        AwardRequest(
            learner_public_id=learner,
            achievement_public_id=activity.achievement_public_id,
            source_kind="attendance",
            source_event_id=f"{activity.public_id}:{learner}",
        )
    )
    cache.delete(tries_key)
    return _back(session, "attendance", activity.public_id)


@blueprint.get("/badges/<token>.png")
def badge_png(launch_id: str, token: str) -> Response:
    """The launch's learner's badge as a PNG with the credential baked in (also for a badge
    its holder keeps private: the launch proves who they are). Another learner's badge is
    not found."""
    service, session = _session(launch_id)
    learner = _live_learner(service, session)
    try:
        facts = service.learner_badges.credential_facts(service.credential_url(token))
    except NotFound:
        facts = None
    if facts is None or learner is None or facts.learner_public_id != learner:
        raise NotFound(_("You have no badge at this address."))
    picture = badge_picture(
        credential_json(facts.text, facts.proof_format), catalogue_achievement_of(facts)
    )
    png = baked_badge_png(service, picture.name, picture.image_url, facts.text)
    response = Response(png, mimetype="image/png")
    response.headers.set("Content-Disposition", "attachment", filename=f"badge-{token}.png")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(_problem: RequestEntityTooLarge) -> Response:
    """A request over the site's size limit: the course item page again, saying so (413)."""
    launch_id = (request.view_args or {}).get("launch_id", "")
    try:
        service, session = _session(str(launch_id))
    except LaunchRefused as expired:
        return refused(expired)
    error = FormError("", "file", _too_large_message())
    return _render(service, session, status=413, error=error)


__all__ = [
    "EVIDENCE_KINDS",
    "SUBMISSION_FIELD",
    "ActivityState",
    "EarnedBadge",
    "ItemPage",
    "blueprint",
    "course_item_page",
    "held_achievements",
    "is_student",
    "item_page",
]
