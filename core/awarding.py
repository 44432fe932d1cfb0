"""Awarding: THE one entry point for every source of an award, and its follow-ups.

Every source — evidence approved, organiser confirmed, teacher award, LMS completion, bulk CSV
row, playlist rule, attendance code — calls :meth:`Awarding.award` with an
:class:`AwardRequest`. It is idempotent twice over:

- the same source event (``source_kind``, ``source_event_id``) never awards twice: a unique
  constraint holds it even under concurrency; the loser of a race gets the winner's award back
  with ``created=False``;
- a learner holds one active credential per achievement unless the achievement allows repeats
  (``awards.active_key`` is unique): a second award of the same achievement from a different
  source returns the award the learner already holds, ``created=False``, and issues nothing.

The award, its signed credential (status index allocated, signed with the issuer's current
key) and its follow-ups (playlist re-evaluation, notification, LMS grade write-back) commit
together, the follow-ups as outbox jobs (:mod:`core.outbox`) delivered by a worker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.learners import active_key, normalise_email
from core.storage import (
    AchievementRecord,
    ActivityRecord,
    AwardRecord,
    CredentialRecord,
    EvidenceRecord,
    IssuerRecord,
    LearnerIdentifierRecord,
    LearnerRecord,
    StatusListRecord,
)

if TYPE_CHECKING:
    from core.catalogue import PlaylistView
    from core.outbox import OutboxHandler, OutboxJob
    from core.service import BadgeService

log = logging.getLogger(__name__)

#: The outbox job that re-evaluates everyone who may now meet an edited playlist's rule.
PLAYLIST_REEVALUATION = "playlist_reevaluation"
#: Learners re-evaluated per delivery of a :data:`PLAYLIST_REEVALUATION` job (the next batch
#: is a new job, so a long re-evaluation never outlives its lease and resumes where it was).
PLAYLIST_REEVALUATION_BATCH = 100

#: Where an award comes from (``awards.source_kind``).
SOURCE_KINDS = ("evidence", "organiser", "teacher", "lms", "csv", "playlist", "attendance")
MAX_REASON_CHARS = 1000


@dataclass(frozen=True)
class AwardRequest:
    """One award event. ``source_event_id`` names the event in its source (the evidence id,
    the CSV job and row, the LMS completion id, ``{playlist}:{learner}``...): replaying the
    same event returns the first award. ``lms_context`` optionally describes the LMS event
    (a JSON object, checked); grades do not need it: every award queues a score for each
    gradebook column of a course item the learner launched (:mod:`core.lti_grades`)."""

    learner_public_id: str
    achievement_public_id: str
    source_kind: str
    source_event_id: str
    evidence_public_id: str | None = None
    approved_by: str | None = None
    recipient_email: str | None = None
    lms_context: dict[str, Any] | None = None
    #: further OB 3.0 Evidence objects for the credential (e.g. a bulk CSV row's link or text)
    evidence_items: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class AwardResult:
    """The award and its credential; ``created`` is False when the event or an active award
    of the same achievement already existed (nothing new was issued)."""

    award_id: int
    credential_id: str
    created: bool


def _validate(request: AwardRequest) -> None:
    if request.source_kind not in SOURCE_KINDS:
        raise InvalidInput(
            f"Unknown award source {request.source_kind!r}: use one of {', '.join(SOURCE_KINDS)}."
        )
    event = request.source_event_id
    if not isinstance(event, str) or not event.strip() or len(event) > 300:
        raise InvalidInput("An award needs a source event id of 1-300 characters.")
    for name in ("learner_public_id", "achievement_public_id"):
        value = getattr(request, name)
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"An award needs {name.replace('_', ' ')}.")
    if request.approved_by is not None and len(request.approved_by) > 320:
        raise InvalidInput("The approver is at most 320 characters.")
    if request.lms_context is not None and not isinstance(request.lms_context, dict):
        raise InvalidInput("The LMS context is a JSON object.")


class Awarding:
    """Award achievements to learners, revoke awards, and run the follow-ups."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    # -- awarding -------------------------------------------------------------------------------

    def award(self, request: AwardRequest) -> AwardResult:
        """Award ``request``'s achievement to its learner in one transaction (see the module
        docstring for idempotency). :class:`InvalidInput` / :class:`NotFound` change nothing."""
        try:
            with self._service.transaction() as session:
                return self.award_in_session(session, request)
        except IntegrityError:
            # A concurrent award of the same event or achievement committed first.
            with self._service.sessions() as session:
                existing = self._existing_award(session, request)
                if existing is None:
                    raise
                return existing

    def award_in_session(self, session: Session, request: AwardRequest) -> AwardResult:
        """:meth:`award` inside the caller's transaction (evidence review approves and awards
        in one unit of work)."""
        _validate(request)
        existing = session.scalar(
            select(AwardRecord).where(
                AwardRecord.source_kind == request.source_kind,
                AwardRecord.source_event_id == request.source_event_id,
            )
        )
        if existing is not None:
            return self._replayed(session, existing, request)
        learner = self._service.learners.learner_in_session(session, request.learner_public_id)
        achievement = session.scalar(
            select(AchievementRecord).where(
                AchievementRecord.public_id == request.achievement_public_id
            )
        )
        if achievement is None:
            raise NotFound(f"No achievement {request.achievement_public_id!r}.")
        if achievement.archived:
            raise InvalidInput(f"The achievement {achievement.name!r} is archived.")
        evidence = self._approved_evidence(session, request, learner)
        recipient = self._recipient(session, learner, request.recipient_email)
        key = None if achievement.allows_repeats else active_key(learner.id, achievement.id)
        if key is not None:
            holder = session.scalar(select(AwardRecord).where(AwardRecord.active_key == key))
            if holder is not None:
                if not self._credential_revoked(session, holder):
                    return self._result(session, holder, created=False)
                # Revoked but still marked active (a revocation interrupted half-way).
                holder.active_key = None
                session.flush()
        award = AwardRecord(
            learner_id=learner.id,
            achievement_id=achievement.id,
            source_kind=request.source_kind,
            source_event_id=request.source_event_id,
            active_key=key,
            evidence_id=evidence.id if evidence else None,
            approved_by=request.approved_by,
        )
        try:
            # The INSERT claims the event and the active slot before anything is signed; a
            # concurrent request for either waits here (PostgreSQL) and then fails cleanly.
            with session.begin_nested():
                session.add(award)
                session.flush()
        except IntegrityError:
            found = self._existing_award(session, request, key=key)
            if found is None:
                raise
            return found
        issuer = session.get(IssuerRecord, achievement.issuer_id)
        if issuer is None:  # pragma: no cover - foreign key guarantees it
            raise NotFound("The achievement's issuer is missing.")
        evidence_objects: list[dict[str, Any]] | None = None
        if evidence is not None:
            from core.evidence import evidence_json

            activity = session.get(ActivityRecord, evidence.activity_id)
            evidence_objects = [evidence_json(evidence, activity)]
        if request.evidence_items:
            evidence_objects = [*(evidence_objects or []), *request.evidence_items]
        credential = self._service.issue_in_session(
            session,
            issuer,
            self._service.catalogue.achievement_json(achievement),
            recipient_email=recipient,
            learner_id=learner.id,
            achievement_id=achievement.id,
            evidence=evidence_objects,
        )
        award.credential_id = credential.id
        session.flush()
        self._enqueue_follow_ups(session, award, learner, achievement, issuer, credential, request)
        return AwardResult(award.id, credential.credential_id, True)

    def _enqueue_follow_ups(
        self,
        session: Session,
        award: AwardRecord,
        learner: LearnerRecord,
        achievement: AchievementRecord,
        issuer: IssuerRecord,
        credential: CredentialRecord,
        request: AwardRequest,
    ) -> None:
        outbox = self._service.outbox
        outbox.enqueue(
            session,
            "playlist_evaluation",
            {
                "learner_public_id": learner.public_id,
                "achievement_public_id": achievement.public_id,
                "award_id": award.id,
            },
            f"playlist_evaluation:award:{award.id}",
        )
        outbox.enqueue(
            session,
            "notification",
            {
                "learner_public_id": learner.public_id,
                "event": "awarded",
                "credential_id": credential.credential_id,
                "message": f"You earned the badge “{achievement.name}” from {issuer.name}.",
            },
            f"notification:award:{award.id}",
        )
        # A score for each gradebook column (LTI line item) of a course item the learner
        # launched that awards this achievement: one indexed query, one job per column.
        self._service.lti_grades.enqueue_for_award(
            session, award_id=award.id, learner_id=learner.id, achievement_id=achievement.id
        )

    def _replayed(self, session: Session, award: AwardRecord, request: AwardRequest) -> AwardResult:
        """The award an already-seen source event made, after checking the replay asks for
        the same thing (a different learner or achievement is a caller's mistake)."""
        achievement = session.get(AchievementRecord, award.achievement_id)
        learner = self._service.learners.learner_in_session(
            session, request.learner_public_id, allow_deleted=True
        )
        if (
            achievement is None
            or achievement.public_id != request.achievement_public_id
            or (award.learner_id != learner.id)
        ):
            raise InvalidInput(
                f"The {request.source_kind} event {request.source_event_id!r} already awarded "
                "a different achievement or learner; a source event awards once."
            )
        return self._result(session, award, created=False)

    def _existing_award(
        self, session: Session, request: AwardRequest, *, key: str | None = None
    ) -> AwardResult | None:
        by_event = AwardRecord.source_kind == request.source_kind
        condition = and_(by_event, AwardRecord.source_event_id == request.source_event_id)
        if key is not None:
            condition = or_(condition, AwardRecord.active_key == key)
        found = session.scalars(
            select(AwardRecord).where(condition).order_by(AwardRecord.id)
        ).first()
        return None if found is None else self._result(session, found, created=False)

    @staticmethod
    def _result(session: Session, award: AwardRecord, *, created: bool) -> AwardResult:
        credential = (
            session.get(CredentialRecord, award.credential_id) if award.credential_id else None
        )
        return AwardResult(award.id, credential.credential_id if credential else "", created)

    @staticmethod
    def _credential_revoked(session: Session, award: AwardRecord) -> bool:
        if award.credential_id is None:
            return False
        credential = session.get(CredentialRecord, award.credential_id)
        return credential is not None and credential.revoked_at is not None

    def _approved_evidence(
        self, session: Session, request: AwardRequest, learner: LearnerRecord
    ) -> EvidenceRecord | None:
        if request.evidence_public_id is None:
            return None
        evidence = session.scalar(
            select(EvidenceRecord).where(EvidenceRecord.public_id == request.evidence_public_id)
        )
        if evidence is None:
            raise NotFound(f"No evidence {request.evidence_public_id!r}.")
        if evidence.learner_id != learner.id:
            raise InvalidInput("That evidence was handed in by another learner.")
        if evidence.status != "approved":
            raise InvalidInput("Only approved evidence goes into a badge.")
        return evidence

    def _recipient(self, session: Session, learner: LearnerRecord, requested: str | None) -> str:
        if requested is not None:
            email = normalise_email(requested)
            owner = session.scalar(
                select(LearnerIdentifierRecord.learner_id).where(
                    LearnerIdentifierRecord.kind == "email",
                    LearnerIdentifierRecord.platform == "",
                    LearnerIdentifierRecord.value == email,
                )
            )
            if owner != learner.id:
                raise InvalidInput(
                    f"{email} is not an address of this learner; add it to the learner first."
                )
            return email
        primary = self._service.learners.primary_email_in_session(session, learner)
        if primary is None:
            raise InvalidInput(
                "This learner has no email address yet, and a badge is issued to one: add the "
                "learner's email (e.g. on their next log-in), then award again."
            )
        return primary

    # -- revoking -------------------------------------------------------------------------------

    def revoke(self, credential_id: str, reason: str = "") -> None:
        """Revoke a credential for good, end its award's active slot (the learner may earn the
        achievement again) and queue the status list's publication and the learner's
        notification. Idempotent: revoking again changes nothing and queues nothing new."""
        if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
            raise InvalidInput(f"A revocation reason is at most {MAX_REASON_CHARS} characters.")
        self._service.revoke(credential_id)
        with self._service.transaction() as session:
            credential = session.scalar(
                select(CredentialRecord).where(CredentialRecord.credential_id == credential_id)
            )
            if credential is None:  # pragma: no cover - revoke() raised NotFound already
                raise NotFound(f"No credential {credential_id!r} was issued here.")
            award = session.scalar(
                select(AwardRecord).where(AwardRecord.credential_id == credential.id)
            )
            if award is not None:
                award.active_key = None
                # The gradebook columns that got a score for it are cleared (core.lti_grades).
                self._service.lti_grades.enqueue_for_revocation(
                    session,
                    award_id=award.id,
                    learner_id=award.learner_id,
                    achievement_id=award.achievement_id,
                )
            status_list = session.get(StatusListRecord, credential.status_list_id)
            version = status_list.version if status_list else 0
            outbox = self._service.outbox
            outbox.enqueue(
                session,
                "status_publication",
                {"status_list_id": credential.status_list_id, "version": version},
                f"status_publication:{credential.status_list_id}:{version}",
            )
            learner = (
                session.get(LearnerRecord, credential.learner_id) if credential.learner_id else None
            )
            if learner is not None and learner.deleted_at is None:
                because = f" Reason: {reason.strip()}" if reason.strip() else ""
                outbox.enqueue(
                    session,
                    "notification",
                    {
                        "learner_public_id": learner.public_id,
                        "event": "revoked",
                        "credential_id": credential_id,
                        "message": f"Your badge “{credential.achievement_name}” was revoked."
                        + because,
                    },
                    f"notification:revoke:{credential_id}",
                )
        log.info("revoked %s: %s", credential_id, reason or "(no reason given)")

    # -- playlists ------------------------------------------------------------------------------

    def evaluate_playlists(
        self, learner_public_id: str, achievement_public_id: str | None = None
    ) -> list[AwardResult]:
        """Award every playlist badge whose rule the learner now meets (only playlists with a
        step for ``achievement_public_id`` when given). Idempotent: a playlist's award event is
        ``{playlist}:{learner}``, so re-running awards nothing new. A playlist whose badge
        cannot be awarded (archived meanwhile) is logged and skipped."""
        with self._service.sessions() as session:
            learner = self._service.learners.learner_in_session(
                session, learner_public_id, allow_deleted=True
            )
            if learner.deleted_at is not None:
                return []
            held = self._held_achievements(session, learner)
            learner_id = learner.public_id
        catalogue = self._service.catalogue
        playlists = (
            catalogue.playlists_containing_achievement(achievement_public_id)
            if achievement_public_id is not None
            else catalogue.list_playlists()
        )
        awarded = (self._award_playlist_if_met(learner_id, p, held) for p in playlists)
        return [result for result in awarded if result is not None]

    def _award_playlist_if_met(
        self, learner_public_id: str, playlist: PlaylistView, held: set[str]
    ) -> AwardResult | None:
        from core.catalogue import playlist_progress_of

        if not playlist_progress_of(playlist, held).met:
            return None
        try:
            return self.award(
                AwardRequest(
                    learner_public_id=learner_public_id,
                    achievement_public_id=playlist.achievement_public_id,
                    source_kind="playlist",
                    source_event_id=f"{playlist.public_id}:{learner_public_id}",
                    approved_by=f"playlist:{playlist.public_id}",
                )
            )
        except InvalidInput as exc:
            log.warning("playlist %s not awarded: %s", playlist.public_id, exc.message)
            return None

    def reevaluate_playlist(
        self,
        playlist_public_id: str,
        *,
        after_learner: int = 0,
        limit: int = PLAYLIST_REEVALUATION_BATCH,
    ) -> tuple[list[AwardResult], int | None]:
        """Award the playlist's badge to the learners, in one batch of at most ``limit`` from
        learner row ``after_learner`` on, who hold a step's achievement and now meet its rule
        (after the playlist was edited). Returns the awards and, when the batch was full, the
        row to continue after (None: every holder was seen). Idempotent as
        :meth:`evaluate_playlists`: a learner already awarded is awarded nothing new."""
        catalogue = self._service.catalogue
        playlist = catalogue.get_playlist(playlist_public_id)
        step_achievements = {s.achievement_public_id for s in playlist.steps}
        step_achievements.discard(None)
        if playlist.archived or not step_achievements:
            return [], None
        with self._service.sessions() as session:
            holders = session.scalars(
                select(LearnerRecord)
                .where(
                    LearnerRecord.id > after_learner,
                    LearnerRecord.deleted_at.is_(None),
                    LearnerRecord.merged_into_id.is_(None),
                    LearnerRecord.id.in_(
                        select(AwardRecord.learner_id)
                        .join(AchievementRecord, AchievementRecord.id == AwardRecord.achievement_id)
                        .join(CredentialRecord, CredentialRecord.id == AwardRecord.credential_id)
                        .where(
                            AchievementRecord.public_id.in_(step_achievements),
                            CredentialRecord.revoked_at.is_(None),
                        )
                    ),
                )
                .order_by(LearnerRecord.id)
                .limit(limit)
            ).all()
            batch = [(h.id, h.public_id, self._held_achievements(session, h)) for h in holders]
        results = []
        for _row, learner_public_id, held in batch:
            result = self._award_playlist_if_met(learner_public_id, playlist, held)
            if result is not None:
                results.append(result)
        return results, (batch[-1][0] if len(batch) == limit else None)

    def _held_achievements(self, session: Session, learner: LearnerRecord) -> set[str]:
        """The learner's achievements with a credential that is not revoked, as public ids and
        achievement URLs (what playlist steps are matched against)."""
        public_ids = session.scalars(
            select(AchievementRecord.public_id)
            .join(AwardRecord, AwardRecord.achievement_id == AchievementRecord.id)
            .join(CredentialRecord, CredentialRecord.id == AwardRecord.credential_id)
            .where(AwardRecord.learner_id == learner.id, CredentialRecord.revoked_at.is_(None))
        ).all()
        catalogue = self._service.catalogue
        return set(public_ids) | {catalogue.achievement_url(p) for p in public_ids}


# -- outbox handlers -----------------------------------------------------------------------------


def builtin_outbox_handlers(service: BadgeService) -> dict[str, OutboxHandler]:
    """The follow-up handlers core ships. ``lms_grade`` (:meth:`LtiGrades.deliver`) decides
    the score here; its HTTP client is the LTI tool's, loaded on the first delivery."""

    def playlist_evaluation(job: OutboxJob) -> None:
        """Award playlist badges the new award completes. Idempotent: playlist awards are keyed
        by ``{playlist}:{learner}``, so a redelivery awards nothing new."""
        try:
            service.awarding.evaluate_playlists(
                str(job.payload["learner_public_id"]),
                str(job.payload.get("achievement_public_id") or "") or None,
            )
        except NotFound:
            log.info("playlist evaluation %s: learner or achievement gone", job.dedupe_key)

    def notification(job: OutboxJob) -> None:
        """Tell the learner (for now: a log line). Idempotent: logging twice harms no one; a
        real sender passes ``job.dedupe_key`` as its idempotency key."""
        learners = service.learners
        try:
            learner = learners.get(str(job.payload["learner_public_id"]))
        except NotFound:
            return
        email = learners.primary_email(learner)
        if learner.deleted or email is None:
            return  # erased or unreachable: nothing to send, nothing to retry
        log.info("notify %s (%s): %s", email, job.dedupe_key, job.payload.get("message", ""))

    def playlist_reevaluation(job: OutboxJob) -> None:
        """Re-evaluate an edited playlist for one batch of the learners holding a step's
        achievement, then queue the next batch. Idempotent: playlist awards are keyed by
        ``{playlist}:{learner}`` and the next batch's job by the edit and the last learner
        seen, so a redelivery awards and queues nothing new."""
        payload = job.payload
        try:
            _awarded, last = service.awarding.reevaluate_playlist(
                str(payload["playlist_public_id"]),
                after_learner=int(payload["after_learner"]),
                limit=PLAYLIST_REEVALUATION_BATCH,
            )
        except NotFound:
            log.info("playlist re-evaluation %s: the playlist is gone", job.dedupe_key)
            return
        if last is not None:
            with service.transaction() as session:
                service.outbox.enqueue(
                    session,
                    PLAYLIST_REEVALUATION,
                    {**payload, "after_learner": last},
                    f"{PLAYLIST_REEVALUATION}:{payload['edit']}:{last}",
                )

    def status_publication(job: OutboxJob) -> None:
        """Re-sign the changed status list so verifiers get the new bits at once. Idempotent:
        the signed list depends only on the list's bits and version."""
        service.status_list_document(int(job.payload["status_list_id"]))

    from core.bulk_award import BULK_AWARD_JOB, BulkAwards

    return {
        BULK_AWARD_JOB: BulkAwards(service).deliver,
        "lms_grade": service.lti_grades.deliver,
        "playlist_evaluation": playlist_evaluation,
        PLAYLIST_REEVALUATION: playlist_reevaluation,
        "notification": notification,
        "status_publication": status_publication,
    }


__all__ = [
    "PLAYLIST_REEVALUATION",
    "PLAYLIST_REEVALUATION_BATCH",
    "SOURCE_KINDS",
    "AwardRequest",
    "AwardResult",
    "Awarding",
    "builtin_outbox_handlers",
]
