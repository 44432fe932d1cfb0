"""What the teacher's page of a course item is made of: the course item and its badge, the class
(from the platform's Names and Role Provisioning service, NRPS) with each student's state for
this item, the evidence waiting for review, the grades sent back, and the course's skills
coverage. Everything is read within one platform, deployment and course context: the class
comes from the NRPS endpoint of the teacher's own launch, and every learner, piece of evidence
and credential an action names is looked up again among that class before it is touched.

Members of the class map to durable learners by platform + LTI user id
(:meth:`core.learners.LearnerDirectory.find`); reading the class creates no learner.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from flask import request

from core.catalogue import AchievementView, ActivityView, PlaylistProgress, PlaylistView
from core.errors import NotFound
from core.evidence import EvidenceView
from core.frameworks import FrameworkView, SkillView, frameworks, is_skill_id, skill
from core.learners import BadgeView
from core.lti_grades import GradeStatus
from core.lti_registry import DeploymentView, PlatformView, ResourceLinkView
from core.service import BadgeService
from lti_tool.lti.hardened import (
    LAUNCH_TTL_SECONDS,
    HardenedMessageLaunch,
    LtiRequest,
    RegistryToolConfig,
    is_student,
)
from lti_tool.lti.sessions import LaunchSession

log = logging.getLogger(__name__)

#: The class list read from the platform is reused this long (a page and the form posts on it
#: need it; reading it on every request would make each click a round trip to the LMS).
CLASS_LIST_FRESH_SECONDS: Final = 30
#: When the platform cannot be reached, the last class list read is shown instead, up to this
#: old (it holds names and email addresses, so it is not kept longer than a launch).
CLASS_LIST_KEPT_SECONDS: Final = LAUNCH_TTL_SECONDS
#: Limits on what a platform's membership service can make us read.
MAX_MEMBER_PAGES: Final = 50
MAX_MEMBERS: Final = 5000
#: The framework shown first in the skills coverage: the SLO 21st-century skills.
FIRST_FRAMEWORK: Final = "slo-21"

StudentState = Literal[
    "not_started", "in_progress", "pending", "rejected", "approved", "earned", "revoked"
]
ClassSource = Literal["nrps", "saved", "launches", "none"]
#: Why the class list is not the platform's current one.
ClassProblem = Literal["no-course", "no-service", "unreachable"]


# --------------------------------------------------------------------------------------------
# The course item
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseItem:
    """The course item a teacher launched: its activity or playlist and the badge it earns."""

    platform: PlatformView
    deployment: DeploymentView
    resource_link: ResourceLinkView | None
    activity: ActivityView | None
    playlist: PlaylistView | None
    achievement: AchievementView | None
    #: the course item names an activity or playlist that no longer exists
    missing: bool

    @property
    def title(self) -> str | None:
        """The activity's or playlist's title."""
        if self.activity is not None:
            return self.activity.title
        return self.playlist.title if self.playlist is not None else None

    @property
    def achievement_public_id(self) -> str | None:
        """The badge this item earns."""
        return None if self.achievement is None else self.achievement.public_id

    @property
    def evidence_activity_ids(self) -> frozenset[str]:
        """The activities whose evidence belongs to this item: the activity, or the playlist's
        activity steps."""
        if self.activity is not None:
            return frozenset({self.activity.public_id})
        if self.playlist is not None:
            return frozenset(
                s.activity_public_id for s in self.playlist.steps if s.activity_public_id
            )
        return frozenset()


def course_item_of(service: BadgeService, session: LaunchSession) -> CourseItem:
    """The course item of ``session`` (a teacher's resource link launch)."""
    platform = service.lti.get_platform(session.platform_public_id)
    deployment = DeploymentView(
        platform.public_id, platform.issuer, platform.client_id, session.deployment_id
    )
    link = (
        service.lti.get_resource_link(deployment, session.resource_link_id)
        if session.resource_link_id
        else None
    )
    activity_id = link.activity_public_id if link else session.activity_public_id
    playlist_id = link.playlist_public_id if link else session.playlist_public_id
    activity, playlist = _activity_or_playlist(service, activity_id, playlist_id)
    badge_id = (
        activity.achievement_public_id
        if activity is not None
        else playlist.achievement_public_id
        if playlist is not None
        else None
    )
    achievement = None
    if badge_id:
        try:
            achievement = service.catalogue.get_achievement(badge_id)
        except NotFound:
            achievement = None
    missing = bool(activity_id or playlist_id) and activity is None and playlist is None
    return CourseItem(platform, deployment, link, activity, playlist, achievement, missing)


def _activity_or_playlist(
    service: BadgeService, activity_id: str | None, playlist_id: str | None
) -> tuple[ActivityView | None, PlaylistView | None]:
    activity = playlist = None
    if activity_id:
        try:
            activity = service.catalogue.get_activity(activity_id)
        except NotFound:
            activity = None
    if playlist_id and activity is None:
        try:
            playlist = service.catalogue.get_playlist(playlist_id)
        except NotFound:
            playlist = None
    return activity, playlist


# --------------------------------------------------------------------------------------------
# The class list
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A student of the course as the platform lists them."""

    user_id: str
    name: str | None
    email: str | None
    active: bool

    def as_json(self) -> dict[str, Any]:
        """For the shared cache."""
        return {"user_id": self.user_id, "name": self.name, "email": self.email, "a": self.active}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Member | None:
        """From the shared cache (None when malformed)."""
        user_id = data.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            return None
        name, email = data.get("name"), data.get("email")
        return cls(
            user_id,
            name if isinstance(name, str) else None,
            email if isinstance(email, str) else None,
            bool(data.get("a", True)),
        )


@dataclass(frozen=True)
class ClassList:
    """The students of the course, and where the list comes from."""

    members: tuple[Member, ...]
    #: ``nrps``: the platform's list now; ``saved``: the last list read (the platform cannot
    #: be reached); ``launches``: no list, only students known from their launches;
    #: ``none``: no course
    source: ClassSource
    read_at: datetime | None
    problem: ClassProblem | None


def _is_student(roles: Any) -> bool:
    """A class member who is a student: the same rule as for launches (:func:`is_student`)."""
    return isinstance(roles, list) and is_student(r for r in roles if isinstance(r, str))


def _member(raw: Any) -> Member | None:
    if not isinstance(raw, dict):
        return None
    user_id = raw.get("user_id")
    if not isinstance(user_id, str) or not user_id or len(user_id) > 255:
        return None
    status = raw.get("status", "Active")
    if status == "Deleted" or not _is_student(raw.get("roles")):
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [raw.get(k) for k in ("given_name", "family_name")]
        name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip()) or None
    email = raw.get("email")
    email = email.strip()[:320] if isinstance(email, str) and "@" in email else None
    return Member(user_id, name.strip()[:200] if name else None, email, status != "Inactive")


def _class_cache_key(session: LaunchSession) -> str:
    scope = json.dumps(
        [session.platform_public_id, session.deployment_id, session.context_id], sort_keys=True
    )
    return "teacher-class:" + hashlib.sha256(scope.encode()).hexdigest()


def _read_members(service: BadgeService, session: LaunchSession) -> list[Member] | None:
    """The students of the course from the platform's NRPS (None when the launch has no NRPS
    claim). Raises when the platform cannot be reached or answers nonsense."""
    secure = service.settings.base_url.startswith("https://") or request.is_secure
    launch = HardenedMessageLaunch.restore(
        session.launch_id, LtiRequest(secure=secure), RegistryToolConfig(service.lti)
    )
    if not launch.has_nrps():
        return None
    nrps = launch.get_nrps()
    members: dict[str, Member] = {}
    url: str | None = None
    for _page in range(MAX_MEMBER_PAGES):
        raw_members, url = nrps.get_members_page(url)
        for raw in raw_members:
            found = _member(raw)
            if found is not None:
                members.setdefault(found.user_id, found)
        if not url or len(members) >= MAX_MEMBERS:
            break
    return list(members.values())[:MAX_MEMBERS]


def class_list(service: BadgeService, session: LaunchSession) -> ClassList:
    """The course's students: read from the platform (reused for
    :data:`CLASS_LIST_FRESH_SECONDS`); when the platform cannot be reached, the last list read
    (up to :data:`CLASS_LIST_KEPT_SECONDS` old); else nothing (the caller adds the students
    known from launches)."""
    if not session.context_id:
        return ClassList((), "none", None, "no-course")
    cache = service.lti.launch_cache
    key = _class_cache_key(session)
    saved = cache.get(key)
    saved_at = saved.get("read_at") if isinstance(saved, dict) else None
    saved_members = (
        tuple(
            m for m in (Member.from_json(raw) for raw in saved.get("members", [])) if m is not None
        )
        if isinstance(saved, dict) and isinstance(saved.get("members"), list)
        else None
    )
    if (
        saved_members is not None
        and isinstance(saved_at, int | float)
        and time.time() - saved_at < CLASS_LIST_FRESH_SECONDS
    ):
        return ClassList(saved_members, "nrps", _when(saved_at), None)
    try:
        members = _read_members(service, session)
    except Exception as problem:  # whatever the platform does, the page works
        log.warning(
            "NRPS of %s (course %s) could not be read: %s",
            session.platform_name,
            session.context_id,
            problem,
        )
        if saved_members is not None and isinstance(saved_at, int | float):
            return ClassList(saved_members, "saved", _when(saved_at), "unreachable")
        return ClassList((), "launches", None, "unreachable")
    if members is None:
        return ClassList((), "launches", None, "no-service")
    now = time.time()
    cache.put(
        key,
        {"read_at": now, "members": [m.as_json() for m in members]},
        CLASS_LIST_KEPT_SECONDS,
    )
    return ClassList(tuple(members), "nrps", _when(now), None)


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# --------------------------------------------------------------------------------------------
# Each student's state
# --------------------------------------------------------------------------------------------


@dataclass
class StudentRow:
    """One student of the class and their state for this course item."""

    #: stable key of the row in forms: ``u:<LTI user id>`` or ``l:<learner public id>``
    key: str
    name: str | None
    email: str | None
    user_id: str | None
    learner_public_id: str | None
    in_class_list: bool
    active: bool = True
    state: StudentState = "not_started"
    #: when the state began (badge awarded, evidence handed in or reviewed)
    since: datetime | None = None
    #: the credential of the badge the student holds for this item
    credential_id: str | None = None
    #: badges of this item the student had revoked (a new award is a new round)
    revoked_count: int = 0
    pending: list[EvidenceView] = field(default_factory=list)
    latest_evidence: EvidenceView | None = None
    progress: PlaylistProgress | None = None
    grade: GradeStatus | None = None
    #: achievements the student holds (not revoked), for the skills coverage
    held: frozenset[str] = frozenset()
    #: the learner can receive a badge (has an email address, or the class list has one)
    can_receive: bool = False

    @property
    def label(self) -> str:
        """A name to show (the LTI user id when the platform shares no name)."""
        return self.name or self.email or self.user_id or self.learner_public_id or "?"


@dataclass(frozen=True)
class ClassView:
    """The class with each student's state for the item."""

    class_list: ClassList
    rows: tuple[StudentRow, ...]
    #: grades could be read (the grade service answered)
    grades_available: bool

    @property
    def pending(self) -> list[tuple[StudentRow, EvidenceView]]:
        """Evidence waiting for review, oldest first."""
        found = [(row, e) for row in self.rows for e in row.pending]
        return sorted(found, key=lambda pair: pair[1].submitted_at)

    def row(self, key: str) -> StudentRow | None:
        """The row with this key, if the student is in this class."""
        return next((r for r in self.rows if r.key == key), None)

    def evidence(self, evidence_public_id: str) -> tuple[StudentRow, EvidenceView] | None:
        """Pending evidence of this class with this id."""
        return next(((r, e) for r, e in self.pending if e.public_id == evidence_public_id), None)

    def count(self, state: StudentState) -> int:
        """How many students are in ``state``."""
        return sum(1 for r in self.rows if r.state == state)


def grade_statuses(
    service: BadgeService, link: ResourceLinkView | None
) -> dict[str, GradeStatus] | None:
    """The grades of the item's learners (None when the grade service cannot say)."""
    if link is None:
        return None
    try:
        return dict(service.lti_grades.status_of(link))
    except Exception as problem:  # grades are extra: the page works without
        log.warning("grade states of %s could not be read: %r", link.resource_link_id, problem)
        return None


def class_view(service: BadgeService, session: LaunchSession, item: CourseItem) -> ClassView:
    """The class of ``session``'s course with each student's state for ``item``. Students the
    platform lists come first (in its order); when its current list cannot be read, the last
    list read and the students known from their launches of the course's items stand in."""
    listed = class_list(service, session)
    grades = grade_statuses(service, item.resource_link)
    learners = service.learners
    rows: list[StudentRow] = []
    seen_learners: set[str] = set()
    known = learners.find_lms_users(
        item.platform.learner_platform, [m.user_id for m in listed.members]
    )
    for member in listed.members:
        learner = known.get(member.user_id)
        row = StudentRow(
            key="u:" + member.user_id,
            name=member.name or (learner.display_name if learner else None),
            email=member.email,
            user_id=member.user_id,
            learner_public_id=None if learner is None else learner.public_id,
            in_class_list=True,
            active=member.active,
        )
        if learner is not None:
            seen_learners.add(learner.public_id)
            row.email = row.email or learners.primary_email(learner)
            row.can_receive = learners.primary_email(learner) is not None or bool(member.email)
        else:
            row.can_receive = bool(member.email)
        rows.append(row)
    if listed.source != "nrps" and session.context_id:
        # The platform's current list is missing: add the students known from their launches
        # of this course's items.
        listed_ids = {m.user_id for m in listed.members}
        launched = learners.of_lti_course(item.deployment, session.context_id)
        # Their learners read at once by LMS identity; one that answers as another learner
        # than the launch recorded (a rare identity mix-up) is read by itself.
        by_user = learners.find_lms_users(
            item.platform.learner_platform, [user_id for _learner, user_id in launched]
        )
        for learner_public_id, user_id in launched:
            if user_id in listed_ids or learner_public_id in seen_learners:
                continue
            found = by_user.get(user_id)
            learner = (
                found
                if found is not None and found.public_id == learner_public_id
                else learners.get(learner_public_id)
            )
            email = learners.primary_email(learner)
            seen_learners.add(learner_public_id)
            rows.append(
                StudentRow(
                    key="u:" + user_id,
                    name=learner.display_name,
                    email=email,
                    user_id=user_id,
                    learner_public_id=learner.public_id,
                    in_class_list=False,
                    can_receive=email is not None,
                )
            )
    class_learners = [r.learner_public_id for r in rows if r.learner_public_id]
    badges = learners.badges_of_many(class_learners)
    evidence = service.evidence.of_learners(class_learners, item.evidence_activity_ids)
    for row in rows:
        if row.learner_public_id is not None:
            _fill_state(
                service,
                item,
                row,
                badges.get(row.learner_public_id, []),
                evidence.get(row.learner_public_id, []),
            )
            row.grade = (grades or {}).get(row.learner_public_id)
    return ClassView(listed, tuple(rows), grades is not None)


def _fill_state(
    service: BadgeService,
    item: CourseItem,
    row: StudentRow,
    badges: Sequence[BadgeView],
    evidence: Sequence[EvidenceView],
) -> None:
    """The row's state from the student's badges and their evidence for this item (newest
    first), both read for the whole class at once."""
    assert row.learner_public_id is not None
    row.held = frozenset(b.achievement_public_id for b in badges if not b.revoked)
    badge_id = item.achievement_public_id
    own = [b for b in badges if b.achievement_public_id == badge_id] if badge_id else []
    earned = next((b for b in own if not b.revoked), None)
    revoked = next((b for b in own if b.revoked), None)
    row.pending = sorted(
        (e for e in evidence if e.status == "pending"), key=lambda e: e.submitted_at
    )
    reviewed = [e for e in evidence if e.status != "pending"]
    row.latest_evidence = reviewed[0] if reviewed else None  # newest first
    if item.playlist is not None:
        row.progress = service.catalogue.playlist_progress(
            item.playlist, _held_ids(service, badges)
        )
    state, since = _state(earned, revoked, row)
    row.state, row.since = state, since
    if earned is not None:
        row.credential_id = earned.credential_id
    row.revoked_count = sum(1 for b in own if b.revoked)


def _held_ids(service: BadgeService, badges: Iterable[BadgeView]) -> set[str]:
    held = {b.achievement_public_id for b in badges if not b.revoked}
    return held | {service.catalogue.achievement_url(p) for p in held}


def _state(
    earned: BadgeView | None, revoked: BadgeView | None, row: StudentRow
) -> tuple[StudentState, datetime | None]:
    """The student's state: a badge held wins, then evidence waiting for review, then a
    revoked badge, then the last review, then progress on a playlist."""
    if earned is not None:
        return "earned", earned.awarded_at
    if row.pending:
        return "pending", row.pending[-1].submitted_at
    if revoked is not None:
        return "revoked", revoked.awarded_at
    latest = row.latest_evidence
    if latest is not None and latest.status in ("approved", "rejected"):
        state: StudentState = "approved" if latest.status == "approved" else "rejected"
        return state, latest.reviewed_at
    if row.progress is not None and row.progress.completed_count > 0:
        return "in_progress", None
    return "not_started", None


# --------------------------------------------------------------------------------------------
# Skills coverage of the course
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseItemSkills:
    """One course item of the course and the skills its activity or playlist covers."""

    title: str
    achievement_public_id: str | None
    skill_ids: frozenset[str]


@dataclass(frozen=True)
class CoveredSkill:
    """A skill of a framework, the course items covering it, and how many students of the
    class hold a badge of one of them (None when the class is unknown)."""

    skill: SkillView
    items: tuple[str, ...]
    earned: int | None


@dataclass(frozen=True)
class FrameworkCoverage:
    """The skills of one framework the course covers (every skill for the first framework,
    so the gaps show too)."""

    framework: FrameworkView
    skills: tuple[CoveredSkill, ...]

    @property
    def covered_count(self) -> int:
        """Skills covered by at least one course item."""
        return sum(1 for s in self.skills if s.items)


@dataclass(frozen=True)
class SkillsCoverage:
    """The course's skills coverage, grouped by framework (SLO 21st-century skills first)."""

    items: tuple[CourseItemSkills, ...]
    frameworks: tuple[FrameworkCoverage, ...]
    class_size: int | None


def _item_skills(service: BadgeService, link: ResourceLinkView) -> CourseItemSkills | None:
    activity, playlist = _activity_or_playlist(
        service, link.activity_public_id, link.playlist_public_id
    )
    skill_ids: set[str] = set()
    badge_id: str | None = None
    if activity is not None:
        skill_ids.update(s for s in activity.skills if is_skill_id(s))
        badge_id = activity.achievement_public_id
        title = activity.title
    elif playlist is not None:
        badge_id = playlist.achievement_public_id
        title = playlist.title
        for step in playlist.steps:
            if step.activity_public_id:
                try:
                    step_activity = service.catalogue.get_activity(step.activity_public_id)
                except NotFound:
                    continue
                skill_ids.update(s for s in step_activity.skills if is_skill_id(s))
    else:
        return None
    if badge_id:
        with contextlib.suppress(NotFound):
            skill_ids.update(service.catalogue.get_achievement(badge_id).skill_ids)
    return CourseItemSkills(link.title or title, badge_id, frozenset(skill_ids))


def skills_coverage(
    service: BadgeService, item: CourseItem, context_id: str | None, rows: Sequence[StudentRow]
) -> SkillsCoverage:
    """Which skills of which frameworks the activities and playlists of the course's items
    cover (only this deployment's course ``context_id``; only ``item`` without a course), and
    how many students of ``rows`` hold a badge that covers each."""
    if context_id is not None:
        links = service.lti.resource_links_of(item.deployment, context_id)
    else:
        links = [item.resource_link] if item.resource_link is not None else []
    items = [found for link in links if (found := _item_skills(service, link)) is not None]
    learners = [r for r in rows if r.learner_public_id is not None]
    class_size = len(rows) if rows else None
    groups: list[FrameworkCoverage] = []
    ordered = sorted(frameworks(), key=lambda f: f.id != FIRST_FRAMEWORK)
    for framework in ordered:
        covered: list[CoveredSkill] = []
        for candidate in framework.skills:
            covering = [i for i in items if candidate.id in i.skill_ids]
            if not covering and framework.id != FIRST_FRAMEWORK:
                continue
            badges = {i.achievement_public_id for i in covering if i.achievement_public_id}
            earned = sum(1 for r in learners if r.held & badges) if class_size is not None else None
            covered.append(
                CoveredSkill(
                    skill(candidate.id), tuple(dict.fromkeys(i.title for i in covering)), earned
                )
            )
        if covered and (framework.id == FIRST_FRAMEWORK or any(c.items for c in covered)):
            groups.append(FrameworkCoverage(framework, tuple(covered)))
    return SkillsCoverage(tuple(items), tuple(groups), class_size)


__all__ = [
    "CLASS_LIST_FRESH_SECONDS",
    "ClassList",
    "ClassView",
    "CourseItem",
    "CoveredSkill",
    "FrameworkCoverage",
    "Member",
    "SkillsCoverage",
    "StudentRow",
    "class_list",
    "class_view",
    "course_item_of",
    "grade_statuses",
    "skills_coverage",
]
