"""Grades back to the LMS (LTI Assignment and Grade Services).

**Who launched what.** A learner's launch of a course item records a *placement*: the learner,
the resource link, their LTI user id (``sub``) on that platform and the gradebook column (line
item) the launch's AGS endpoint claim named (:meth:`LtiGrades.record_placement`).

**When a score goes.** Every award, whatever its source (evidence approved days later, teacher,
attendance code, playlist rule, bulk CSV), calls :meth:`LtiGrades.enqueue_for_award` in its own
transaction: one indexed query finds the line items of the learner's placements whose activity or
playlist awards that achievement, and one ``lms_grade`` outbox job per line item is queued
(dedupe key ``lms_grade:award:{award}:line_item:{line item}``). A learner who already holds the
badge when they launch gets the same job at launch (same key, so never twice). A revocation
queues a job for the columns that got a score; :meth:`LtiGrades.resend` queues a new one.

**What a job sends.** The handler (:meth:`LtiGrades.deliver`) sends the truth at delivery time,
not at queueing time, so jobs delivered out of order cannot leave a stale grade:

- the learner holds the badge (a credential of the achievement that is not revoked): a score
  with ``scoreGiven = scoreMaximum`` = the line item's maximum, ``activityProgress: Completed``,
  ``gradingProgress: FullyGraded``;
- the badge was revoked: a score *without* ``scoreGiven`` (``activityProgress: Initialized``,
  ``gradingProgress: NotReady``), which clears the grade in Moodle and Canvas. Sending 0 would
  tell the gradebook the learner was graded and failed, which is not what a revocation says;
  clearing says "no completion from the badge service" and a later award sends full marks again.

Each score's timestamp is at least one second after the previous one for that line item and
user (whole seconds: Moodle refuses a score that is not newer, to the second), reserved in the
database before sending, so two workers cannot reuse one.

**Delivery.** A 5xx answer, a timeout or a refused connection raises, and the outbox retries with
backoff (then ``failed`` after its attempts, the last error kept). A 4xx answer is the platform
refusing this score: the grade is marked ``failed`` with the platform's message and the job ends
(sending it again unchanged would be refused again; a teacher can :meth:`resend`). A job that got
an answer is remembered on the grade (``handled_job_key``), so a redelivery after a worker died
sends nothing; a newer job for the same grade supersedes older ones. When a score left but no
answer came back (a timeout, a worker killed mid-request, a 5xx from a proxy after the LMS
recorded it), the retry first reads the learner's result on the line item and sends nothing if
the gradebook already shows it. Suspending a credential changes no grade (it is reversible);
revoking it does.

**Erasure.** A learner's LTI user ids are personal data: :meth:`forget_learner_in_session`
(called by the erasure) deletes their placements, clears each column that got a score, and the
grade row goes once the LMS has answered.

**Merge.** When two learners are joined, :meth:`merge_learners_in_session` moves the source's
placements and grades to the learner it joins, so that learner's later awards (and revocations)
reach the columns either launched, and queues the scores now due there.

The HTTP side (access token by client-credentials with the tool's signed assertion, the score
POST) is the LTI tool's :class:`lti_tool.lti.ags.AgsClient`, loaded when the first grade is
delivered; core only names it (as the CLI names the web app).
"""

from __future__ import annotations

import importlib
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar

from sqlalchemy import Select, and_, bindparam, delete, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from core.errors import BadgeBridgeError
from core.storage import (
    ActivityRecord,
    AwardRecord,
    Base,
    CredentialRecord,
    LearnerRecord,
    LtiDeploymentRecord,
    LtiGradeRecord,
    LtiLineItemRecord,
    LtiPlacementRecord,
    LtiPlatformRecord,
    LtiResourceLinkRecord,
    OutboxRecord,
    PlaylistRecord,
    utcnow,
)

if TYPE_CHECKING:
    from core.lti_registry import (
        DeploymentView,
        LaunchPlacement,
        PlatformView,
        ResourceLinkView,
    )
    from core.outbox import OutboxJob
    from core.service import BadgeService

log = logging.getLogger(__name__)
_Record = TypeVar("_Record", bound=Base)
_Select = TypeVar("_Select", bound="Select[*tuple[Any, ...]]")

#: The outbox job kind of a grade write-back.
LMS_GRADE_KIND: Final = "lms_grade"
#: The AGS client the LTI tool provides (``module:attribute``), loaded on first delivery.
DEFAULT_CLIENT: Final = "lti_tool.lti.ags:AgsClient"
#: Two scores for one line item and user are at least this far apart (Moodle: to the second).
MIN_SCORE_INTERVAL: Final = timedelta(seconds=1)
#: A line item whose maximum the platform does not tell: platforms scale 1/1 to full marks.
FALLBACK_SCORE_MAXIMUM: Final = 1.0
MAX_ERROR_CHARS: Final = 2000

#: ``pending``: queued, not tried yet; ``retrying``: the LMS could not be reached or answered
#: 5xx, another attempt is scheduled; ``sent``: the LMS accepted the score; ``failed``: the LMS
#: refused it (4xx, its message in ``last_error``) or every attempt failed.
GradeState = Literal["pending", "sent", "failed", "retrying"]


class AgsRefused(BadgeBridgeError):
    """The platform refused the request for good (a 4xx answer): its message says why."""


class AgsUnavailable(BadgeBridgeError):
    """The platform could not be reached, timed out or answered 5xx: try again later."""


class ScoreClient(Protocol):
    """The HTTP side of AGS, per platform registration (the LTI tool implements it)."""

    def line_item_maximum(self, platform: PlatformView, line_item_url: str) -> float | None:
        """The line item's ``scoreMaximum``; None when the platform does not tell us.
        Raises :class:`AgsUnavailable` when it cannot be asked now."""
        ...

    def post_score(
        self, platform: PlatformView, line_item_url: str, score: Mapping[str, Any]
    ) -> None:
        """POST ``score`` to the line item's ``/scores``; raises :class:`AgsRefused` (4xx) or
        :class:`AgsUnavailable` (5xx, timeout, connection)."""
        ...

    def latest_result(
        self, platform: PlatformView, line_item_url: str, user_id: str
    ) -> Mapping[str, Any] | None:
        """The line item's result for ``user_id`` (None when it has none); raises
        :class:`AgsRefused` when the platform does not let us read it."""
        ...


@dataclass(frozen=True)
class GradeStatus:
    """The grade of one learner on one course item's gradebook column."""

    state: GradeState
    #: None when nothing was sent yet, or when the grade was cleared after a revocation
    score_given: float | None
    score_maximum: float | None
    #: the timestamp of the last score sent (or being sent) to the LMS
    timestamp: datetime | None
    #: delivery attempts of the current score
    attempts: int
    last_error: str | None
    updated_at: datetime


@dataclass(frozen=True)
class _Target:
    """What one delivery needs, read before any HTTP."""

    grade_id: int
    user_id: str
    line_item_url: str
    score_maximum: float | None
    platform_public_id: str
    deployment_id: str
    holds_badge: bool
    #: an earlier attempt of this job sent its score and got no answer (it may have arrived)
    maybe_sent: bool
    #: the learner's data was erased: once the LMS answered, the grade row goes too
    erased: bool


class LtiGrades:
    """Placements (learner ↔ course item ↔ LTI user id ↔ line item) and scores to the LMS."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service
        self._client: ScoreClient | None = None
        #: the current time (replaceable in tests)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # -- the HTTP client ----------------------------------------------------------------------

    @property
    def client(self) -> ScoreClient:
        """The AGS client (the LTI tool's, loaded on first use)."""
        if self._client is None:
            module_name, _, attribute = DEFAULT_CLIENT.partition(":")
            factory = getattr(importlib.import_module(module_name), attribute)
            self._client = factory(self._service.lti)
        return self._client

    def use_client(self, client: ScoreClient) -> None:
        """Send scores through ``client`` from now on (embedding, tests)."""
        self._client = client

    # -- launches -----------------------------------------------------------------------------

    def record_placement(
        self, placement: LaunchPlacement, learner_public_id: str, user_id: str
    ) -> None:
        """Remember that the learner (LTI user ``user_id``) launched ``placement``'s course item
        and, when the launch named a line item and the learner already holds the item's badge,
        queue its score (deduplicated with the award's own job). Launches without a course item
        change nothing."""
        link = placement.resource_link
        if link is None or not isinstance(user_id, str) or not user_id:
            return
        line_item_url = None if placement.line_item is None else placement.line_item.line_item_url
        deployment = placement.deployment
        # Most launches are repeats: one read, and no write transaction when nothing changes.
        if self._placement_recorded(
            deployment,
            link.resource_link_id,
            learner_public_id,
            user_id[:255],
            line_item_url,
        ):
            return
        with self._service.transaction() as session:
            # One query finds the course item, its line item, the achievement its activity or
            # playlist awards, and the learner (launches are frequent: few statements).
            found = session.execute(
                _joining_item_badge(
                    select(
                        LtiResourceLinkRecord.id,
                        LtiLineItemRecord.id,
                        ITEM_ACHIEVEMENT_ID,
                        select(LearnerRecord.id)
                        .where(LearnerRecord.public_id == learner_public_id)
                        .scalar_subquery(),
                    )
                    .join(
                        LtiDeploymentRecord,
                        LtiDeploymentRecord.id == LtiResourceLinkRecord.deployment_id,
                    )
                    .join(
                        LtiPlatformRecord, LtiPlatformRecord.id == LtiDeploymentRecord.platform_id
                    )
                    .outerjoin(
                        LtiLineItemRecord,
                        and_(
                            LtiLineItemRecord.deployment_id == LtiDeploymentRecord.id,
                            LtiLineItemRecord.line_item_url == line_item_url
                            if line_item_url is not None
                            else false(),
                        ),
                    )
                ).where(
                    LtiPlatformRecord.public_id == deployment.platform_public_id,
                    LtiDeploymentRecord.deployment_id == deployment.deployment_id,
                    LtiResourceLinkRecord.resource_link_id == link.resource_link_id,
                )
            ).first()
            if found is None or found[3] is None:
                return
            link_id, line_item_id, achievement_id, learner_id = found
            user_id = user_id[:255]
            self._upsert_placement(session, link_id, learner_id, line_item_id, user_id)
            if line_item_id is None or achievement_id is None:
                return
            award_id = _held_award(session, learner_id, achievement_id)
            if award_id is not None:
                self._enqueue(
                    session,
                    line_item_id=line_item_id,
                    learner_id=learner_id,
                    user_id=user_id,
                    achievement_id=achievement_id,
                    dedupe_key=_event_key("award", award_id, line_item_id),
                    reason="launch",
                )

    def _placement_recorded(
        self,
        deployment: DeploymentView,
        resource_link_id: str,
        learner_public_id: str,
        user_id: str,
        line_item_url: str | None,
    ) -> bool:
        """True when a launch would change nothing: the placement is recorded as this launch
        names it and no score is due (the learner does not hold the item's badge, or its job
        was queued already). One read (two when the badge is held), no write transaction:
        most launches are returning learners opening an item they opened before."""
        with self._service.sessions() as session:
            row = session.execute(
                _RECORDED_PLACEMENT,
                {
                    "platform_public_id": deployment.platform_public_id,
                    "deployment_id": deployment.deployment_id,
                    "resource_link_id": resource_link_id,
                    "line_item_url": line_item_url,
                    "learner_public_id": learner_public_id,
                },
            ).first()
            if row is None:
                return False
            line_item_id, placed_line_item_id, placed_user_id, award_id = row
            if placed_user_id is None:  # no placement yet (or no such course item / learner)
                return False
            # A launch without a line item keeps the one an earlier launch named.
            if (placed_line_item_id, placed_user_id) != (
                line_item_id or placed_line_item_id,
                user_id,
            ):
                return False
            if line_item_id is None or award_id is None:
                return True
            # The outbox keeps every job's dedupe key: the score was queued once already.
            queued = session.scalar(
                select(OutboxRecord.id).where(
                    OutboxRecord.dedupe_key == _event_key("award", award_id, line_item_id)
                )
            )
            return queued is not None

    @staticmethod
    def _upsert_placement(
        session: Session, link_id: int, learner_id: int, line_item_id: int | None, user_id: str
    ) -> None:
        now = utcnow()
        record, created = _row(
            session,
            LtiPlacementRecord,
            lambda: LtiPlacementRecord(
                resource_link_id=link_id,
                learner_id=learner_id,
                line_item_id=line_item_id,
                user_id=user_id,
                created_at=now,
                updated_at=now,
            ),
            resource_link_id=link_id,
            learner_id=learner_id,
        )
        if created:
            return
        # A launch without a line item keeps the one an earlier launch named; an unchanged
        # placement is not written again (most launches are repeats).
        line_item_id = line_item_id or record.line_item_id
        if (record.line_item_id, record.user_id) != (line_item_id, user_id):
            record.line_item_id, record.user_id, record.updated_at = line_item_id, user_id, now

    # -- awards and revocations (called inside their transactions) ----------------------------

    def enqueue_for_award(
        self, session: Session, *, award_id: int, learner_id: int, achievement_id: int
    ) -> int:
        """Queue one score per line item the learner launched whose activity or playlist awards
        ``achievement_id`` (in the award's transaction: one indexed query, then one job per
        line item found). Returns how many jobs were queued."""
        return self._enqueue_for_line_items(
            session, "award", award_id, learner_id, achievement_id, only_graded=False
        )

    def enqueue_for_revocation(
        self, session: Session, *, award_id: int, learner_id: int, achievement_id: int
    ) -> int:
        """After a revocation (in its transaction): queue a job for each line item that got a
        score for this achievement; the job clears it unless the learner still holds the badge
        by another award. Idempotent per award. Returns how many jobs were queued."""
        return self._enqueue_for_line_items(
            session, "revoke", award_id, learner_id, achievement_id, only_graded=True
        )

    def forget_learner_in_session(self, session: Session, learner_id: int) -> int:
        """Erasure (in its transaction): the learner's placements go at once; each gradebook
        column that holds a score from us is cleared first (one job each), and its grade row,
        the last place their LTI user id is kept, goes when the LMS has answered. Returns how
        many clears were queued."""
        queued = 0
        grades = session.scalars(
            select(LtiGradeRecord).where(LtiGradeRecord.learner_id == learner_id)
        ).all()
        for grade in grades:
            queued += self._enqueue(
                session,
                line_item_id=grade.line_item_id,
                learner_id=learner_id,
                user_id=grade.user_id,
                achievement_id=None,
                dedupe_key=f"{LMS_GRADE_KIND}:erase:{grade.id}",
                reason="erasure",
            )
        session.execute(
            delete(LtiPlacementRecord).where(LtiPlacementRecord.learner_id == learner_id)
        )
        return queued

    def merge_learners_in_session(self, session: Session, source_id: int, into_id: int) -> int:
        """Merge (in its transaction, after the awards moved): the source learner's placements
        and grades move to ``into``, so later awards reach the columns either of them launched.
        Where both launched one course item (or hold a grade on one line item) ``into``'s own
        row is kept, as the class list shows it. Then every column of ``into`` whose badge the
        merged learner holds gets its score (deduplicated with the award's own job), and a
        moved grade whose job is still pending is queued again for ``into`` (that job names the
        source, whose grade row is gone). Returns how many jobs were queued."""
        own_placements = {
            placement.resource_link_id: placement
            for placement in session.scalars(
                select(LtiPlacementRecord).where(LtiPlacementRecord.learner_id == into_id)
            )
        }
        for placement in session.scalars(
            select(LtiPlacementRecord).where(LtiPlacementRecord.learner_id == source_id)
        ).all():
            own = own_placements.get(placement.resource_link_id)
            if own is None:
                placement.learner_id = into_id
                continue
            # As at launch: a placement without a line item takes the one another launch named.
            own.line_item_id = own.line_item_id or placement.line_item_id
            session.delete(placement)
        own_grades = set(
            session.scalars(
                select(LtiGradeRecord.line_item_id).where(LtiGradeRecord.learner_id == into_id)
            )
        )
        pending: dict[int, str] = {}  # moved grade id -> the job it waits for
        for grade in session.scalars(
            select(LtiGradeRecord).where(LtiGradeRecord.learner_id == source_id)
        ).all():
            if grade.line_item_id in own_grades:
                session.delete(grade)
                continue
            grade.learner_id = into_id
            if grade.job_key is not None and grade.job_key != grade.handled_job_key:
                pending[grade.id] = grade.job_key
        session.flush()
        queued = self._enqueue_held_scores(session, into_id)
        for grade_id, job_key in pending.items():
            moved = session.get(LtiGradeRecord, grade_id)
            job = session.scalar(select(OutboxRecord).where(OutboxRecord.dedupe_key == job_key))
            if moved is None or moved.job_key != job_key or job is None or job.state != "pending":
                continue  # superseded just now, or the outbox is done with it
            achievement_id = job.payload.get("achievement_id")
            queued += self._enqueue(
                session,
                line_item_id=moved.line_item_id,
                learner_id=into_id,
                user_id=moved.user_id,
                achievement_id=None if achievement_id is None else int(achievement_id),
                dedupe_key=f"{LMS_GRADE_KIND}:merge:{source_id}:line_item:{moved.line_item_id}",
                reason="merge",
            )
        return queued

    def _enqueue_held_scores(self, session: Session, learner_id: int) -> int:
        """Queue the score of each of the learner's placements whose badge they hold (the job
        an award or a launch queues, under the same key, so never twice)."""
        rows = session.execute(
            _joining_item_badge(
                select(
                    LtiPlacementRecord.line_item_id, LtiPlacementRecord.user_id, ITEM_ACHIEVEMENT_ID
                ).join(
                    LtiResourceLinkRecord,
                    LtiResourceLinkRecord.id == LtiPlacementRecord.resource_link_id,
                )
            )
            .where(
                LtiPlacementRecord.learner_id == learner_id,
                LtiPlacementRecord.line_item_id.is_not(None),
                ITEM_ACHIEVEMENT_ID.is_not(None),
            )
            .order_by(LtiPlacementRecord.id)
        ).all()
        queued = 0
        for line_item_id, user_id, achievement in rows:
            award_id = _held_award(session, learner_id, achievement)
            if line_item_id is None or award_id is None:
                continue
            queued += self._enqueue(
                session,
                line_item_id=line_item_id,
                learner_id=learner_id,
                user_id=user_id,
                achievement_id=achievement,
                dedupe_key=_event_key("award", award_id, line_item_id),
                reason="merge",
            )
        return queued

    def _enqueue_for_line_items(
        self,
        session: Session,
        event: str,
        award_id: int,
        learner_id: int,
        achievement_id: int,
        *,
        only_graded: bool,
    ) -> int:
        queued = 0
        line_items = _launched_line_items(
            session, learner_id, achievement_id, only_graded=only_graded
        )
        for line_item_id, user_id in line_items:
            queued += self._enqueue(
                session,
                line_item_id=line_item_id,
                learner_id=learner_id,
                user_id=user_id,
                achievement_id=achievement_id,
                dedupe_key=_event_key(event, award_id, line_item_id),
                reason=event,
            )
        return queued

    def _enqueue(
        self,
        session: Session,
        *,
        line_item_id: int,
        learner_id: int,
        user_id: str,
        achievement_id: int | None,
        dedupe_key: str,
        reason: str,
    ) -> bool:
        """Queue a grade job and point the learner's grade on that line item at it (pending);
        nothing changes when a job with ``dedupe_key`` exists already."""
        payload = {
            "line_item_id": line_item_id,
            "learner_id": learner_id,
            "achievement_id": achievement_id,
            "reason": reason,
        }
        if not self._service.outbox.enqueue(session, LMS_GRADE_KIND, payload, dedupe_key):
            return False
        now = utcnow()
        grade, _ = _row(
            session,
            LtiGradeRecord,
            lambda: LtiGradeRecord(
                line_item_id=line_item_id,
                learner_id=learner_id,
                user_id=user_id,
                state="pending",
                job_key=dedupe_key,
                created_at=now,
                updated_at=now,
            ),
            line_item_id=line_item_id,
            learner_id=learner_id,
        )
        grade.user_id = user_id
        grade.state = "pending"
        grade.job_key = dedupe_key
        grade.last_error = None
        grade.updated_at = now
        session.flush()
        return True

    # -- teachers -----------------------------------------------------------------------------

    def status_of(self, resource_link: ResourceLinkView) -> dict[str, GradeStatus]:
        """The grade state of every learner of ``resource_link`` that has one, keyed by the
        learner's public id (learners who launched but earned nothing yet are absent)."""
        with self._service.sessions() as session:
            link_id = _link_record_id(session, resource_link)
            if link_id is None:
                return {}
            into = aliased(LearnerRecord)
            rows = session.execute(
                select(
                    LearnerRecord.public_id,
                    into.public_id,
                    LtiGradeRecord,
                    OutboxRecord.state,
                    OutboxRecord.attempts,
                    OutboxRecord.last_error,
                )
                .select_from(LtiPlacementRecord)
                .join(
                    LtiGradeRecord,
                    and_(
                        LtiGradeRecord.line_item_id == LtiPlacementRecord.line_item_id,
                        LtiGradeRecord.learner_id == LtiPlacementRecord.learner_id,
                    ),
                )
                .join(LearnerRecord, LearnerRecord.id == LtiPlacementRecord.learner_id)
                .outerjoin(into, into.id == LearnerRecord.merged_into_id)
                .outerjoin(OutboxRecord, OutboxRecord.dedupe_key == LtiGradeRecord.job_key)
                .where(LtiPlacementRecord.resource_link_id == link_id)
                .order_by(LearnerRecord.merged_into_id.is_(None), LtiPlacementRecord.id)
            ).all()
            # A learner merged into another answers as that learner (as the class list does);
            # the learner's own grade, listed last, wins over one launched before the merge.
            return {
                merged_into or public_id: _status(grade, job_state, attempts, job_error)
                for public_id, merged_into, grade, job_state, attempts, job_error in rows
            }

    def resend(self, resource_link: ResourceLinkView, learner_public_id: str | None = None) -> int:
        """Queue the grade again for every learner of ``resource_link`` (only
        ``learner_public_id`` when given) who holds its badge or got a grade from it before;
        each job sends the current truth with a newer timestamp. Returns how many jobs were
        queued."""
        with self._service.transaction() as session:
            link_id = _link_record_id(session, resource_link)
            link = None if link_id is None else session.get(LtiResourceLinkRecord, link_id)
            achievement_id = None if link is None else _achievement_of_link(session, link)
            if link is None or achievement_id is None:
                return 0
            query = (
                select(LtiPlacementRecord, LtiGradeRecord.id)
                .outerjoin(
                    LtiGradeRecord,
                    and_(
                        LtiGradeRecord.line_item_id == LtiPlacementRecord.line_item_id,
                        LtiGradeRecord.learner_id == LtiPlacementRecord.learner_id,
                    ),
                )
                .where(
                    LtiPlacementRecord.resource_link_id == link.id,
                    LtiPlacementRecord.line_item_id.is_not(None),
                )
                .order_by(LtiPlacementRecord.id)
            )
            if learner_public_id is not None:
                # The learner's own placements, and those of learners merged into them.
                into = aliased(LearnerRecord)
                query = (
                    query.join(LearnerRecord, LearnerRecord.id == LtiPlacementRecord.learner_id)
                    .outerjoin(into, into.id == LearnerRecord.merged_into_id)
                    .where(
                        or_(
                            LearnerRecord.public_id == learner_public_id,
                            into.public_id == learner_public_id,
                        )
                    )
                )
            queued = 0
            for placement, grade_id in session.execute(query).all():
                line_item_id = placement.line_item_id
                held = _held_award(session, placement.learner_id, achievement_id)
                if line_item_id is None or (held is None and grade_id is None):
                    continue  # nothing earned, nothing sent: nothing to resend
                queued += self._enqueue(
                    session,
                    line_item_id=line_item_id,
                    learner_id=placement.learner_id,
                    user_id=placement.user_id,
                    achievement_id=achievement_id,
                    dedupe_key=(
                        f"{LMS_GRADE_KIND}:resend:line_item:{line_item_id}:"
                        f"learner:{placement.learner_id}:{secrets.token_hex(6)}"
                    ),
                    reason="resend",
                )
            return queued

    # -- delivery (the outbox handler) --------------------------------------------------------

    def deliver(self, job: OutboxJob) -> None:
        """The ``lms_grade`` handler: send the learner's current grade to the line item (see
        the module docstring). Idempotent: a job that already got an answer, or that a newer
        job for the same grade superseded, sends nothing."""
        target = self._target(job)
        if target is None:
            return
        self._send(target, job.dedupe_key)
        if target.erased:
            # The LMS answered (the grade is cleared or could not be): the learner's LTI user
            # id leaves with the rest of their data.
            with self._service.transaction() as session:
                session.execute(delete(LtiGradeRecord).where(LtiGradeRecord.id == target.grade_id))

    def _send(self, target: _Target, job_key: str) -> None:
        """Send (or find already sent) ``target``'s grade and record the answer; raises
        :class:`AgsUnavailable` for the outbox to retry."""
        platform = self._service.lti.get_platform(target.platform_public_id)
        if not platform.active:
            self._finish(
                target.grade_id,
                job_key,
                error=f"The registration of {platform.name} is switched off; no score was sent.",
            )
            return
        if target.maybe_sent and self._gradebook_shows(platform, target):
            log.info("grade %s: the LMS has it already; not sent again", job_key)
            self._finish_as_held(target, job_key)
            return
        score: dict[str, Any] = {"userId": target.user_id}
        maximum = None
        if target.holds_badge:
            maximum = target.score_maximum or self._line_item_maximum(platform, target)
            score.update(
                scoreGiven=maximum,
                scoreMaximum=maximum,
                activityProgress="Completed",
                gradingProgress="FullyGraded",
            )
        else:
            score.update(activityProgress="Initialized", gradingProgress="NotReady")
        timestamp = self._reserve_timestamp(target.grade_id, job_key)
        score["timestamp"] = timestamp.isoformat()
        try:
            self.client.post_score(platform, target.line_item_url, score)
        except AgsRefused as refusal:
            log.warning("grade %s refused by %s: %s", job_key, platform.name, refusal)
            self._finish(target.grade_id, job_key, error=refusal.message)
            return
        self._finish(
            target.grade_id,
            job_key,
            activity_progress=str(score["activityProgress"]),
            score_given=maximum,
            score_maximum=maximum,
        )

    def _target(self, job: OutboxJob) -> _Target | None:
        try:
            line_item_id = int(job.payload["line_item_id"])
            learner_id = int(job.payload["learner_id"])
            raw_achievement = job.payload.get("achievement_id")
            achievement_id = None if raw_achievement is None else int(raw_achievement)
        except (KeyError, TypeError, ValueError):
            log.error("grade job %s has no usable payload; dropped", job.dedupe_key)
            return None
        with self._service.sessions() as session:
            row = session.execute(
                select(
                    LtiGradeRecord,
                    LtiLineItemRecord.line_item_url,
                    LtiLineItemRecord.score_maximum,
                    LtiPlatformRecord.public_id,
                    LtiDeploymentRecord.deployment_id,
                    LearnerRecord.deleted_at,
                )
                .join(LtiLineItemRecord, LtiLineItemRecord.id == LtiGradeRecord.line_item_id)
                .join(LearnerRecord, LearnerRecord.id == LtiGradeRecord.learner_id)
                .join(
                    LtiDeploymentRecord, LtiDeploymentRecord.id == LtiLineItemRecord.deployment_id
                )
                .join(LtiPlatformRecord, LtiPlatformRecord.id == LtiDeploymentRecord.platform_id)
                .where(
                    LtiGradeRecord.line_item_id == line_item_id,
                    LtiGradeRecord.learner_id == learner_id,
                )
            ).first()
            if row is None:
                log.info("grade job %s: the line item or registration is gone", job.dedupe_key)
                return None
            grade, url, maximum, platform_public_id, deployment_id, erased_at = row
            if grade.job_key != job.dedupe_key:
                log.info("grade job %s superseded by %s", job.dedupe_key, grade.job_key)
                return None
            if grade.handled_job_key == job.dedupe_key:
                log.info("grade job %s was answered before; not sent again", job.dedupe_key)
                return None
            # An erased learner holds nothing any more (their credentials are being revoked).
            holds = (
                erased_at is None
                and achievement_id is not None
                and _held_award(session, learner_id, achievement_id) is not None
            )
            return _Target(
                grade.id,
                grade.user_id,
                url,
                maximum,
                platform_public_id,
                deployment_id,
                holds,
                maybe_sent=grade.sending_job_key == job.dedupe_key,
                erased=erased_at is not None,
            )

    def _gradebook_shows(self, platform: PlatformView, target: _Target) -> bool:
        """Whether the platform's result for the learner already is what this job sends (full
        marks, or no score after a revocation): asked only when an earlier attempt's answer
        was lost, so a score that did arrive is not sent twice. False when the platform does
        not let us read results."""
        try:
            result = self.client.latest_result(platform, target.line_item_url, target.user_id)
        except AgsRefused:
            return False
        given = None if result is None else result.get("resultScore")
        maximum = None if result is None else result.get("resultMaximum")
        if not target.holds_badge:
            return given is None
        if not isinstance(given, int | float) or not isinstance(maximum, int | float):
            return False
        return maximum > 0 and given >= maximum

    def _finish_as_held(self, target: _Target, job_key: str) -> None:
        """Record what the gradebook was found to hold (see :meth:`_gradebook_shows`)."""
        if target.holds_badge:
            maximum = target.score_maximum or FALLBACK_SCORE_MAXIMUM
            self._finish(
                target.grade_id,
                job_key,
                activity_progress="Completed",
                score_given=maximum,
                score_maximum=maximum,
            )
        else:
            self._finish(target.grade_id, job_key, activity_progress="Initialized")

    def _line_item_maximum(self, platform: PlatformView, target: _Target) -> float:
        """The line item's maximum, asked once from the platform and remembered."""
        from core.lti_registry import DeploymentView

        maximum = self.client.line_item_maximum(platform, target.line_item_url)
        if maximum is None:
            return FALLBACK_SCORE_MAXIMUM
        deployment = DeploymentView(
            platform.public_id, platform.issuer, platform.client_id, target.deployment_id
        )
        self._service.lti.save_line_item(
            deployment, line_item_url=target.line_item_url, score_maximum=maximum
        )
        return maximum

    def _reserve_timestamp(self, grade_id: int, job_key: str) -> datetime:
        """The next score's timestamp: now (whole seconds), but at least one second after the
        last one reserved for this grade, stored (with the job sending it) before the score
        leaves."""
        with self._service.transaction() as session:
            grade = session.scalar(
                select(LtiGradeRecord).where(LtiGradeRecord.id == grade_id).with_for_update()
            )
            now = self.clock().astimezone(UTC).replace(microsecond=0)
            if grade is None:  # pragma: no cover - cascaded away during this delivery
                return now
            previous = grade.timestamp
            timestamp = now if previous is None else max(now, previous + MIN_SCORE_INTERVAL)
            grade.timestamp = timestamp
            grade.sending_job_key = job_key
            return timestamp

    def _finish(
        self,
        grade_id: int,
        job_key: str,
        *,
        error: str | None = None,
        activity_progress: str | None = None,
        score_given: float | None = None,
        score_maximum: float | None = None,
    ) -> None:
        """Record the platform's answer to ``job_key``: sent (with what) or failed (why). When
        a newer job was queued meanwhile, the grade stays pending for it."""
        with self._service.transaction() as session:
            grade = session.scalar(
                select(LtiGradeRecord).where(LtiGradeRecord.id == grade_id).with_for_update()
            )
            if grade is None:  # pragma: no cover - cascaded away during this delivery
                return
            grade.handled_job_key = job_key
            if error is not None:
                grade.last_error = error[:MAX_ERROR_CHARS]
                if grade.job_key == job_key:
                    grade.state = "failed"
            else:
                grade.activity_progress = activity_progress
                grade.score_given = score_given
                grade.score_maximum = score_maximum
                if grade.job_key == job_key:
                    grade.state = "sent"
                    grade.last_error = None
            grade.updated_at = utcnow()


# -- queries ------------------------------------------------------------------------------------


def _row(
    session: Session, model: type[_Record], new: Callable[[], _Record], **key: int
) -> tuple[_Record, bool]:
    """The row of ``model`` with ``key`` (locked on PostgreSQL), created with ``new()`` when
    there is none; True when created. Two transactions creating it at once do not fail: the
    later one takes the row the other committed."""
    query = select(model).filter_by(**key).with_for_update()
    found = session.scalar(query)
    if found is not None:
        return found, False
    try:
        with session.begin_nested():
            record = new()
            session.add(record)
            session.flush()
        return record, True
    except IntegrityError:
        found = session.scalar(query)
        if found is None:
            raise
        return found, False


#: The badge a course item awards: its activity's, else its playlist's (the two joined by
#: :func:`_joining_item_badge`).
ITEM_ACHIEVEMENT_ID: Final = func.coalesce(
    ActivityRecord.achievement_id, PlaylistRecord.achievement_id
)


def _joining_item_badge(query: _Select) -> _Select:
    """``query`` (over resource links) outer-joined to each link's activity and playlist, whose
    achievement is the course item's badge (:data:`ITEM_ACHIEVEMENT_ID`)."""
    return query.outerjoin(
        ActivityRecord, ActivityRecord.public_id == LtiResourceLinkRecord.activity_public_id
    ).outerjoin(
        PlaylistRecord, PlaylistRecord.public_id == LtiResourceLinkRecord.playlist_public_id
    )


def _recorded_placement_query() -> Any:
    """The read of :meth:`LtiGrades._placement_recorded`, built once (launches are frequent):
    the launch's line item, the learner's placement on the course item and the award that makes
    a score due. No row when the course item or the learner is unknown."""
    held_award = _held_award_query(
        func.coalesce(LearnerRecord.merged_into_id, LearnerRecord.id), ITEM_ACHIEVEMENT_ID
    ).scalar_subquery()
    return _joining_item_badge(
        select(
            LtiLineItemRecord.id,
            LtiPlacementRecord.line_item_id,
            LtiPlacementRecord.user_id,
            held_award,
        )
        .select_from(LtiResourceLinkRecord)
        .join(LtiDeploymentRecord, LtiDeploymentRecord.id == LtiResourceLinkRecord.deployment_id)
        .join(LtiPlatformRecord, LtiPlatformRecord.id == LtiDeploymentRecord.platform_id)
        .join(LearnerRecord, LearnerRecord.public_id == bindparam("learner_public_id"))
        .outerjoin(
            LtiLineItemRecord,
            and_(
                LtiLineItemRecord.deployment_id == LtiDeploymentRecord.id,
                # NULL (a launch without a line item) matches no line item
                LtiLineItemRecord.line_item_url == bindparam("line_item_url"),
            ),
        )
        .outerjoin(
            LtiPlacementRecord,
            and_(
                LtiPlacementRecord.resource_link_id == LtiResourceLinkRecord.id,
                LtiPlacementRecord.learner_id == LearnerRecord.id,
            ),
        )
    ).where(
        LtiPlatformRecord.public_id == bindparam("platform_public_id"),
        LtiDeploymentRecord.deployment_id == bindparam("deployment_id"),
        LtiResourceLinkRecord.resource_link_id == bindparam("resource_link_id"),
    )


def _event_key(event: str, award_id: int, line_item_id: int) -> str:
    """The dedupe key of the grade job an award (or its revocation) queues for a line item;
    a launch by a learner holding the badge uses the award's key, so it never queues twice."""
    return f"{LMS_GRADE_KIND}:{event}:{award_id}:line_item:{line_item_id}"


def _launched_line_items(
    session: Session, learner_id: int, achievement_id: int, *, only_graded: bool = False
) -> list[tuple[int, str]]:
    """The line items (and the learner's LTI user id there) of the learner's placements whose
    course item's activity or playlist awards ``achievement_id``: one query, driven by the
    placements' learner index, whatever the size of the catalogue or the number of learners."""
    query = (
        _joining_item_badge(
            select(LtiPlacementRecord.line_item_id, LtiPlacementRecord.user_id).join(
                LtiResourceLinkRecord,
                LtiResourceLinkRecord.id == LtiPlacementRecord.resource_link_id,
            )
        )
        .where(
            LtiPlacementRecord.learner_id == learner_id,
            LtiPlacementRecord.line_item_id.is_not(None),
            or_(
                ActivityRecord.achievement_id == achievement_id,
                PlaylistRecord.achievement_id == achievement_id,
            ),
        )
        .order_by(LtiPlacementRecord.id)
    )
    if only_graded:
        query = query.join(
            LtiGradeRecord,
            and_(
                LtiGradeRecord.line_item_id == LtiPlacementRecord.line_item_id,
                LtiGradeRecord.learner_id == learner_id,
            ),
        )
    found: dict[int, str] = {}
    for line_item_id, user_id in session.execute(query).all():
        if line_item_id is not None:
            found.setdefault(int(line_item_id), str(user_id))
    return list(found.items())


def _held_award(session: Session, learner_id: int, achievement_id: int) -> int | None:
    """The learner's newest award of ``achievement_id`` whose credential is not revoked (a
    learner merged into another holds what that learner holds: the merge moved the awards)."""
    holder = (
        select(func.coalesce(LearnerRecord.merged_into_id, LearnerRecord.id))
        .where(LearnerRecord.id == learner_id)
        .scalar_subquery()
    )
    found = session.scalar(_held_award_query(holder, achievement_id))
    return None if found is None else int(found)


def _held_award_query(holder: Any, achievement_id: Any) -> Select[int]:
    """The newest award of ``achievement_id`` to the learner ``holder`` (a column or value)
    whose credential is not revoked."""
    return (
        select(AwardRecord.id)
        .join(CredentialRecord, CredentialRecord.id == AwardRecord.credential_id)
        .where(
            AwardRecord.learner_id == holder,
            AwardRecord.achievement_id == achievement_id,
            CredentialRecord.revoked_at.is_(None),
        )
        .order_by(AwardRecord.id.desc())
        .limit(1)
    )


_RECORDED_PLACEMENT: Final = _recorded_placement_query()


def _achievement_of_link(session: Session, link: LtiResourceLinkRecord) -> int | None:
    """The achievement the course item's activity (or playlist) awards."""
    if link.activity_public_id is not None:
        return session.scalar(
            select(ActivityRecord.achievement_id).where(
                ActivityRecord.public_id == link.activity_public_id
            )
        )
    if link.playlist_public_id is not None:
        return session.scalar(
            select(PlaylistRecord.achievement_id).where(
                PlaylistRecord.public_id == link.playlist_public_id
            )
        )
    return None


def _link_record_id(session: Session, link: ResourceLinkView) -> int | None:
    """The record of ``link``, looked up within its own deployment (never another's)."""
    found = session.scalar(
        select(LtiResourceLinkRecord.id)
        .join(LtiDeploymentRecord, LtiDeploymentRecord.id == LtiResourceLinkRecord.deployment_id)
        .join(LtiPlatformRecord, LtiPlatformRecord.id == LtiDeploymentRecord.platform_id)
        .where(
            LtiPlatformRecord.public_id == link.deployment.platform_public_id,
            LtiDeploymentRecord.deployment_id == link.deployment.deployment_id,
            LtiResourceLinkRecord.resource_link_id == link.resource_link_id,
        )
    )
    return None if found is None else int(found)


def _status(
    grade: LtiGradeRecord, job_state: str | None, attempts: int | None, job_error: str | None
) -> GradeStatus:
    state: GradeState
    last_error = grade.last_error
    if grade.state == "sent":
        state = "sent"
    elif grade.state == "failed":
        state = "failed"
    elif job_state == "failed":
        state, last_error = "failed", job_error  # the outbox gave up after its attempts
    elif job_state == "pending" and (attempts or 0) > 0 and job_error:
        state, last_error = "retrying", job_error
    else:
        state = "pending"
    return GradeStatus(
        state=state,
        score_given=grade.score_given,
        score_maximum=grade.score_maximum,
        timestamp=grade.timestamp,
        attempts=int(attempts or 0),
        last_error=last_error,
        updated_at=grade.updated_at,
    )


__all__ = [
    "LMS_GRADE_KIND",
    "AgsRefused",
    "AgsUnavailable",
    "GradeState",
    "GradeStatus",
    "LtiGrades",
    "ScoreClient",
]
