"""Learners: one durable identity behind many identifiers.

A learner is known by verified emails, per-platform LMS user ids and optionally a DID. Badges
belong to the learner, not to a school or platform, so they stay when the learner moves on.

Linking rules (:meth:`LearnerDirectory.find_or_create`): a new identifier is linked to an
existing learner only when another identifier in the same request *proves* it is the same
person — an LMS user id or a DID already known, or an email the caller says is verified (the
LMS or login vouched for it). An unverified email finds a learner when it is the only thing
presented (a bulk award by email), but never links other identifiers to that learner. When the
identifiers presented belong to two different learners, :class:`IdentityConflict` is raised and
nothing changes: only an explicit :meth:`LearnerDirectory.merge` joins two learners.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from core.errors import BadgeBridgeError, InvalidInput, NotFound
from core.storage import (
    AchievementRecord,
    AwardRecord,
    CredentialRecord,
    EvidenceRecord,
    LearnerIdentifierRecord,
    LearnerRecord,
    LtiContextRecord,
    LtiDeploymentRecord,
    LtiPlacementRecord,
    LtiPlatformRecord,
    LtiResourceLinkRecord,
    UserRecord,
    utcnow,
)

if TYPE_CHECKING:
    from core.lti_registry import DeploymentView
    from core.service import BadgeService

IDENTIFIER_KINDS = ("email", "lms", "did")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_DID = re.compile(r"^did:[a-z0-9]+:[A-Za-z0-9._:%-]+(?:[/?#].*)?$")
#: Most values in one SQL ``IN`` list (a class of any size reads in a few queries).
_IN_CHUNK = 500
#: The erased learner's recipient column (credentials keep the row for their status slot).
ERASED_RECIPIENT = "erased"


class IdentityConflict(BadgeBridgeError):
    """Identifiers presented together belong to two different learners: nothing was linked.
    An administrator decides, and merges them explicitly if they are one person."""

    def __init__(self, message: str, learner_public_ids: tuple[str, ...]) -> None:
        super().__init__(message)
        self.learner_public_ids = learner_public_ids


@dataclass(frozen=True)
class IdentifierView:
    """One identifier of a learner."""

    kind: str
    value: str
    platform: str
    verified: bool


@dataclass(frozen=True)
class LearnerView:
    """A learner as other layers see them."""

    public_id: str
    display_name: str | None
    identifiers: tuple[IdentifierView, ...]
    created_at: datetime
    deleted: bool = False

    @property
    def emails(self) -> list[str]:
        """The learner's emails, verified ones first."""
        found = [i for i in self.identifiers if i.kind == "email"]
        return [i.value for i in sorted(found, key=lambda i: not i.verified)]


@dataclass(frozen=True)
class BadgeView:
    """One badge a learner holds (or held: ``revoked``)."""

    award_id: int
    credential_id: str | None
    achievement_public_id: str
    achievement_name: str
    source_kind: str
    awarded_at: datetime
    revoked: bool
    suspended: bool
    visibility: str


@dataclass(frozen=True)
class DeletionReport:
    """What :meth:`LearnerDirectory.delete_learner_data` did."""

    learner_public_id: str
    identifiers_erased: int
    evidence_erased: int
    credentials_revoked: list[str] = field(default_factory=list)
    awards_anonymised: int = 0


@dataclass(frozen=True)
class _Presented:
    kind: str
    platform: str
    value: str
    verified: bool

    @property
    def proves_identity(self) -> bool:
        # An LMS user id and a DID are vouched for by the platform/wallet that presented them;
        # an email only when the caller says it was verified.
        return self.kind != "email" or self.verified

    def describe(self) -> str:
        if self.kind == "lms":
            return f"LMS user {self.value!r} on {self.platform!r}"
        return f"{self.kind} {self.value!r}"


def normalise_email(email: str) -> str:
    """An email as stored: trimmed and lower-cased; :class:`InvalidInput` if it is not one."""
    if not isinstance(email, str):
        raise InvalidInput("An email address must be text.")
    value = email.strip().lower()
    if len(value) > 320 or not _EMAIL.match(value):
        raise InvalidInput(f"{email!r} is not an email address.")
    return value


def _presented(
    *,
    email: str | None,
    email_verified: bool,
    lms_platform: str | None,
    lms_user_id: str | None,
    did: str | None,
) -> list[_Presented]:
    presented: list[_Presented] = []
    if email is not None:
        presented.append(_Presented("email", "", normalise_email(email), bool(email_verified)))
    if (lms_platform is None) != (lms_user_id is None):
        raise InvalidInput("An LMS user id needs its platform, and a platform needs the user id.")
    if lms_platform is not None and lms_user_id is not None:
        platform, user = str(lms_platform).strip(), str(lms_user_id).strip()
        if not platform or not user or len(platform) > 500 or len(user) > 500:
            raise InvalidInput("The LMS platform and user id are 1-500 characters each.")
        presented.append(_Presented("lms", platform, user, True))
    if did is not None:
        value = str(did).strip()
        if len(value) > 500 or not _DID.match(value):
            raise InvalidInput(f"{did!r} is not a DID.")
        presented.append(_Presented("did", "", value, True))
    if not presented:
        raise InvalidInput("A learner needs an email, an LMS user id or a DID.")
    return presented


class LearnerDirectory:
    """Find, create, link, merge and erase learners."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    # -- finding and creating -------------------------------------------------------------------

    def find_or_create(
        self,
        *,
        email: str | None = None,
        email_verified: bool = False,
        lms_platform: str | None = None,
        lms_user_id: str | None = None,
        did: str | None = None,
        display_name: str | None = None,
    ) -> LearnerView:
        """The learner these identifiers belong to, created if none does; new identifiers are
        linked when another one proves it is the same person (see the module docstring).

        :class:`IdentityConflict` when they belong to different learners.
        """

        def attempt() -> LearnerView:
            with self._service.transaction() as session:
                record = self.find_or_create_in_session(
                    session,
                    email=email,
                    email_verified=email_verified,
                    lms_platform=lms_platform,
                    lms_user_id=lms_user_id,
                    did=did,
                    display_name=display_name,
                )
                return self._view(session, record)

        try:
            return attempt()
        except IntegrityError:
            # Another request created one of these identifiers at the same moment: the second
            # pass finds it and links to it.
            return attempt()

    def find_or_create_in_session(
        self,
        session: Session,
        *,
        email: str | None = None,
        email_verified: bool = False,
        lms_platform: str | None = None,
        lms_user_id: str | None = None,
        did: str | None = None,
        display_name: str | None = None,
    ) -> LearnerRecord:
        """:meth:`find_or_create` inside the caller's transaction (e.g. an LTI launch that then
        awards); returns the record."""
        presented = _presented(
            email=email,
            email_verified=email_verified,
            lms_platform=lms_platform,
            lms_user_id=lms_user_id,
            did=did,
        )
        if display_name is not None and len(display_name) > 200:
            raise InvalidInput("A display name is at most 200 characters.")
        found = {p: self._identifier(session, p) for p in presented}
        owners: dict[int, LearnerRecord] = {}
        proving_owners: dict[int, list[_Presented]] = {}
        for p, identifier in found.items():
            if identifier is None:
                continue
            owner = self._live_learner(session, identifier.learner_id)
            owners[owner.id] = owner
            if p.proves_identity:
                proving_owners.setdefault(owner.id, []).append(p)
        if len(proving_owners) > 1:
            raise self._conflict(owners, proving_owners)
        learner: LearnerRecord | None = None
        if proving_owners:
            learner = owners[next(iter(proving_owners))]
        elif owners and all(found[p] is not None for p in presented):
            # Only unverified emails were presented and all are known: a lookup, no linking.
            if len(owners) > 1:
                raise self._conflict(owners, {o: [] for o in owners})
            learner = next(iter(owners.values()))
        if learner is None:
            learner = LearnerRecord(
                public_id=str(uuid.uuid4()),
                display_name=display_name.strip() if display_name else None,
                created_at=utcnow(),
            )
            session.add(learner)
            session.flush()
        elif display_name and not learner.display_name:
            learner.display_name = display_name.strip()
        for p, identifier in found.items():
            if identifier is None:
                session.add(
                    LearnerIdentifierRecord(
                        learner_id=learner.id,
                        kind=p.kind,
                        platform=p.platform,
                        value=p.value,
                        verified=p.verified,
                        created_at=utcnow(),
                    )
                )
            elif identifier.learner_id == learner.id and p.verified and not identifier.verified:
                identifier.verified = True
            # An unverified email already held by someone else is not linked (and not moved).
        session.flush()
        return learner

    def add_identifier(
        self,
        public_id: str,
        *,
        kind: str,
        value: str,
        platform: str = "",
        verified: bool = False,
    ) -> LearnerView:
        """Link one more identifier to a learner (e.g. after the learner verified an email).
        :class:`IdentityConflict` if it belongs to another learner; linking it again only
        upgrades ``verified``."""
        if kind not in IDENTIFIER_KINDS:
            raise InvalidInput(f"Unknown identifier kind {kind!r}: use email, lms or did.")
        presented = _presented(
            email=value if kind == "email" else None,
            email_verified=verified,
            lms_platform=platform if kind == "lms" else None,
            lms_user_id=value if kind == "lms" else None,
            did=value if kind == "did" else None,
        )[0]
        with self._service.transaction() as session:
            learner = self._learner(session, public_id)
            identifier = self._identifier(session, presented)
            if identifier is None:
                session.add(
                    LearnerIdentifierRecord(
                        learner_id=learner.id,
                        kind=presented.kind,
                        platform=presented.platform,
                        value=presented.value,
                        verified=presented.verified,
                        created_at=utcnow(),
                    )
                )
            else:
                owner = self._live_learner(session, identifier.learner_id)
                if owner.id != learner.id:
                    raise IdentityConflict(
                        f"{presented.describe()} belongs to learner {owner.public_id}, not "
                        f"{learner.public_id}; merge the two learners if they are one person.",
                        (owner.public_id, learner.public_id),
                    )
                if presented.verified:
                    identifier.verified = True
            session.flush()
            return self._view(session, learner)

    def get(self, public_id: str) -> LearnerView:
        """A learner by public id; a merged learner's id answers with the learner it was merged
        into, so old links keep working. :class:`NotFound` if unknown."""
        with self._service.sessions() as session:
            return self._view(session, self._learner(session, public_id, allow_deleted=True))

    def live_public_id(self, public_id: str) -> str | None:
        """The learner's public id as they are now (merges followed); None when unknown or
        erased. One query (one more per merge), for pages that only need to know who acts."""
        with self._service.sessions() as session:
            record = self._resolve(session, public_id)
            if record is None:
                return None
            record = self._follow(session, record)
            return None if record.deleted_at is not None else record.public_id

    def find(
        self,
        *,
        email: str | None = None,
        lms_platform: str | None = None,
        lms_user_id: str | None = None,
        did: str | None = None,
    ) -> LearnerView | None:
        """The learner holding this identifier, or None (never creates anything)."""
        presented = _presented(
            email=email,
            email_verified=False,
            lms_platform=lms_platform,
            lms_user_id=lms_user_id,
            did=did,
        )
        if len(presented) != 1:
            raise InvalidInput("Look a learner up by one identifier at a time.")
        p = presented[0]
        with self._service.sessions() as session:
            rows = session.execute(
                _FIND_LEARNER, {"kind": p.kind, "platform": p.platform, "value": p.value}
            ).all()
            if not rows:
                return None
            learner, merged_into, _ = rows[0]
            if merged_into is not None and merged_into.merged_into_id is not None:
                # merged twice (rare): follow the whole chain
                return self._view(session, self._follow(session, merged_into))
            return _learner_view(
                merged_into or learner,
                [_identifier_view(i) for _, _, i in rows if i is not None],
            )

    def of_lti_course(self, deployment: DeploymentView, context_id: str) -> list[tuple[str, str]]:
        """The learners who launched a course item of the course ``context_id`` of
        ``deployment`` (their LTI placements), as (learner public id, LTI user id), first launch
        first; merged learners answer as the learner they were merged into, erased ones are
        left out. Reads only: the teacher's class when the platform's class list is missing."""
        with self._service.sessions() as session:
            rows = session.execute(
                select(LtiPlacementRecord.learner_id, LtiPlacementRecord.user_id)
                .join(
                    LtiResourceLinkRecord,
                    LtiResourceLinkRecord.id == LtiPlacementRecord.resource_link_id,
                )
                .join(LtiContextRecord, LtiContextRecord.id == LtiResourceLinkRecord.context_id)
                .join(LtiDeploymentRecord, LtiDeploymentRecord.id == LtiContextRecord.deployment_id)
                .join(LtiPlatformRecord, LtiPlatformRecord.id == LtiDeploymentRecord.platform_id)
                .where(
                    LtiPlatformRecord.public_id == deployment.platform_public_id,
                    LtiDeploymentRecord.deployment_id == deployment.deployment_id,
                    LtiContextRecord.context_id == context_id,
                )
                .order_by(LtiPlacementRecord.id)
            ).all()
            # The class's learners in one query (merges followed), not one per student.
            live = self._live_learners(session, {learner_id for learner_id, _ in rows})
            found: dict[str, str] = {}
            for learner_id, user_id in rows:
                learner = live[learner_id]
                if learner.deleted_at is None:
                    found.setdefault(learner.public_id, user_id)
            return list(found.items())

    def primary_email(self, learner: LearnerView | str) -> str | None:
        """The address a badge is issued to: the learner's verified email, else any email,
        else None."""
        if isinstance(learner, LearnerView):
            emails = learner.emails
            return emails[0] if emails else None
        with self._service.sessions() as session:
            return self.primary_email_in_session(session, self._learner(session, learner))

    @staticmethod
    def primary_email_in_session(session: Session, learner: LearnerRecord) -> str | None:
        """:meth:`primary_email` for a record inside the caller's session."""
        rows = session.execute(
            select(LearnerIdentifierRecord.value, LearnerIdentifierRecord.verified)
            .where(
                LearnerIdentifierRecord.learner_id == learner.id,
                LearnerIdentifierRecord.kind == "email",
            )
            .order_by(LearnerIdentifierRecord.id)
        ).all()
        verified = [str(value) for value, is_verified in rows if is_verified]
        emails = verified or [str(value) for value, _ in rows]
        return emails[0] if emails else None

    def badges_of(self, public_id: str, *, include_revoked: bool = True) -> list[BadgeView]:
        """The learner's badges, newest first (revoked ones flagged, or left out)."""
        with self._service.sessions() as session:
            learner = self._learner(session, public_id, allow_deleted=True)
            badges = _badges(session, [learner.id]).get(learner.id, [])
        return [b for b in badges if include_revoked or not b.revoked]

    def badges_of_many(self, public_ids: Iterable[str]) -> dict[str, list[BadgeView]]:
        """:meth:`badges_of` (revoked ones flagged) for several learners in one go, keyed by the
        public ids asked for (unknown ones left out). Reads only: a class's badges in a few
        queries."""
        with self._service.sessions() as session:
            records = self._resolve_many(session, public_ids)
            badges = _badges(session, [r.id for r in records.values()])
            return {asked: badges.get(record.id, []) for asked, record in records.items()}

    def find_lms_users(self, lms_platform: str, user_ids: Iterable[str]) -> dict[str, LearnerView]:
        """The learners of the LMS users ``user_ids`` on ``lms_platform`` (only those that have
        one), keyed by the user ids asked for; merged learners answer as the learner they were
        merged into. Never creates anything: a class list's learners in a few queries."""
        platform = str(lms_platform).strip()
        asked = {str(u).strip(): u for u in user_ids if isinstance(u, str) and u.strip()}
        with self._service.sessions() as session:
            owners: dict[str, int] = {}
            values = sorted(asked)
            for start in range(0, len(values), _IN_CHUNK):
                owners.update(
                    session.execute(
                        select(
                            LearnerIdentifierRecord.value, LearnerIdentifierRecord.learner_id
                        ).where(
                            LearnerIdentifierRecord.kind == "lms",
                            LearnerIdentifierRecord.platform == platform,
                            LearnerIdentifierRecord.value.in_(values[start : start + _IN_CHUNK]),
                        )
                    ).all()
                )
            records = self._live_learners(session, set(owners.values()))
            live = {value: records[lid] for value, lid in owners.items()}
            views = self._views(session, list({r.id: r for r in live.values()}.values()))
            return {asked[value]: views[record.id] for value, record in live.items()}

    # -- merging --------------------------------------------------------------------------------

    def merge(self, source_public_id: str, into_public_id: str) -> LearnerView:
        """Join two learners who are one person: the source's identifiers, awards, credentials,
        evidence, user link and LTI grade placements move to ``into`` (scores now due in those
        gradebook columns are queued); the source is marked merged (its id keeps answering with
        ``into``). Idempotent: merging again returns ``into`` unchanged.

        Both keep every credential (each was rightly issued); where both held an active award
        for the same non-repeatable achievement, the moved one stops being the "active" one
        (``active_key`` NULL) but its credential stays valid.
        """
        if source_public_id == into_public_id:
            raise InvalidInput("A learner cannot be merged into themselves.")
        with self._service.transaction() as session:
            into = self._learner(session, into_public_id)
            source = self._learner(session, source_public_id, allow_deleted=True)
            if source.id == into.id:
                return self._view(session, into)  # already merged: nothing to do
            if source.deleted_at is not None:
                raise InvalidInput(f"Learner {source_public_id} was erased; nothing to merge.")
            session.execute(
                update(LearnerIdentifierRecord)
                .where(LearnerIdentifierRecord.learner_id == source.id)
                .values(learner_id=into.id)
            )
            session.execute(
                update(EvidenceRecord)
                .where(EvidenceRecord.learner_id == source.id)
                .values(learner_id=into.id)
            )
            session.execute(
                update(CredentialRecord)
                .where(CredentialRecord.learner_id == source.id)
                .values(learner_id=into.id)
            )
            # Each login account that pointed at the source now shows the merged learner.
            session.execute(
                update(UserRecord)
                .where(UserRecord.learner_id == source.id)
                .values(learner_id=into.id)
            )
            held = set(
                session.scalars(
                    select(AwardRecord.active_key).where(
                        AwardRecord.learner_id == into.id, AwardRecord.active_key.is_not(None)
                    )
                )
            )
            for award in session.scalars(
                select(AwardRecord).where(AwardRecord.learner_id == source.id)
            ).all():
                award.learner_id = into.id
                if award.active_key is not None:
                    key = active_key(into.id, award.achievement_id)
                    award.active_key = None if key in held else key
                    held.add(key)
            # Clear the moved keys first, then set them: the unique constraint holds throughout.
            session.flush()
            # The columns the source launched now get the merged learner's grades.
            self._service.lti_grades.merge_learners_in_session(session, source.id, into.id)
            source.merged_into_id = into.id
            if not into.display_name and source.display_name:
                into.display_name = source.display_name
            session.flush()
            return self._view(session, into)

    # -- erasure --------------------------------------------------------------------------------

    def delete_learner_data(self, public_id: str, *, reason: str = "") -> DeletionReport:
        """Erase a learner's personal data, as a person asking for it expects:

        - identifiers (emails, LMS ids, DID) and the display name are deleted, so no new award
          or login finds this learner again;
        - evidence (texts, links, files) is deleted;
        - every credential issued to them is revoked — the issuer no longer knows who holds it,
          so it stops vouching for it — made private, and its plain recipient address erased
          (the signed document keeps only the salted hash it was issued with);
        - awards are kept anonymised (which achievement, when, from which source) so counts
          and the idempotency of source events still hold.

        A learner should export their badges first (the learner page offers it). Idempotent:
        erasing again changes nothing.
        """
        identifiers_erased = evidence_erased = awards_anonymised = 0
        with self._service.transaction() as session:
            learner = self._learner(session, public_id, allow_deleted=True)
            if learner.deleted_at is None:
                identifiers = session.scalars(
                    select(LearnerIdentifierRecord).where(
                        LearnerIdentifierRecord.learner_id == learner.id
                    )
                ).all()
                for identifier in identifiers:
                    session.delete(identifier)
                # Their LTI user ids too (gradebook columns with a score are cleared first).
                self._service.lti_grades.forget_learner_in_session(session, learner.id)
                awards_anonymised = int(
                    session.scalar(
                        select(func.count())
                        .select_from(AwardRecord)
                        .where(AwardRecord.learner_id == learner.id)
                    )
                    or 0
                )
                session.execute(
                    update(AwardRecord)
                    .where(AwardRecord.learner_id == learner.id)
                    .values(evidence_id=None, active_key=None)
                )
                evidence = session.scalars(
                    select(EvidenceRecord).where(EvidenceRecord.learner_id == learner.id)
                ).all()
                for item in evidence:
                    session.delete(item)
                session.execute(
                    update(UserRecord)
                    .where(UserRecord.learner_id == learner.id)
                    .values(learner_id=None)
                )
                session.execute(
                    update(CredentialRecord)
                    .where(CredentialRecord.learner_id == learner.id)
                    .values(recipient=ERASED_RECIPIENT, visibility="private")
                )
                learner.display_name = None
                learner.deleted_at = utcnow()
                identifiers_erased, evidence_erased = len(identifiers), len(evidence)
            # Also on a repeated call: finishes revocations a crash cut short.
            to_revoke = [
                (credential.credential_id, credential.status_purpose)
                for credential in session.scalars(
                    select(CredentialRecord).where(CredentialRecord.learner_id == learner.id)
                )
                if credential.revoked_at is None
                and (credential.status_purpose == "revocation" or credential.suspended_at is None)
            ]
            learner_public_id = learner.public_id
        # Revoking re-signs status lists in its own transactions, after the erasure committed.
        why = reason or "The learner asked for their data to be erased."
        revoked = []
        for credential_id, purpose in to_revoke:
            if purpose == "revocation":
                self._service.awarding.revoke(credential_id, why)
            else:  # issued suspension-only: suspended for good is the nearest
                self._service.set_status(credential_id, "suspension", True)
            revoked.append(credential_id)
        return DeletionReport(
            learner_public_id=learner_public_id,
            identifiers_erased=identifiers_erased,
            evidence_erased=evidence_erased,
            credentials_revoked=revoked,
            awards_anonymised=awards_anonymised,
        )

    # -- internals ------------------------------------------------------------------------------

    @staticmethod
    def _identifier(session: Session, p: _Presented) -> LearnerIdentifierRecord | None:
        return session.scalar(
            select(LearnerIdentifierRecord).where(
                LearnerIdentifierRecord.kind == p.kind,
                LearnerIdentifierRecord.platform == p.platform,
                LearnerIdentifierRecord.value == p.value,
            )
        )

    def _conflict(
        self, owners: dict[int, LearnerRecord], evidence: dict[int, list[_Presented]]
    ) -> IdentityConflict:
        parts = []
        for learner_id, presented in evidence.items():
            what = ", ".join(p.describe() for p in presented) or "an unverified email"
            parts.append(f"learner {owners[learner_id].public_id} ({what})")
        ids = tuple(owners[i].public_id for i in evidence)
        return IdentityConflict(
            "These identifiers belong to different learners: "
            + " and ".join(parts)
            + ". Nothing was linked; merge the learners if they are one person.",
            ids,
        )

    @staticmethod
    def _follow(session: Session, learner: LearnerRecord) -> LearnerRecord:
        seen = {learner.id}
        while learner.merged_into_id is not None:
            target = session.get(LearnerRecord, learner.merged_into_id)
            if target is None or target.id in seen:  # pragma: no cover - defensive
                break
            seen.add(target.id)
            learner = target
        return learner

    def _live_learner(self, session: Session, learner_id: int) -> LearnerRecord:
        record = session.get(LearnerRecord, learner_id)
        if record is None:  # pragma: no cover - foreign key guarantees it
            raise NotFound(f"No learner #{learner_id}.")
        return self._follow(session, record)

    def _live_learners(self, session: Session, learner_ids: set[int]) -> dict[int, LearnerRecord]:
        """:meth:`_live_learner` of several learners, read in one query."""
        ids = sorted(learner_ids)
        found: dict[int, LearnerRecord] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            for record in session.scalars(
                select(LearnerRecord).where(LearnerRecord.id.in_(ids[start : start + _IN_CHUNK]))
            ):
                found[record.id] = self._follow(session, record)
        return found

    def _resolve_many(
        self, session: Session, public_ids: Iterable[str]
    ) -> dict[str, LearnerRecord]:
        """The learners (merges followed) of ``public_ids``, keyed by the ids asked for."""
        wanted = sorted({p for p in public_ids if isinstance(p, str) and 0 < len(p) <= 36})
        found: dict[str, LearnerRecord] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            for record in session.scalars(
                select(LearnerRecord).where(
                    LearnerRecord.public_id.in_(wanted[start : start + _IN_CHUNK])
                )
            ):
                found[record.public_id] = self._follow(session, record)
        return found

    @staticmethod
    def _views(session: Session, learners: list[LearnerRecord]) -> dict[int, LearnerView]:
        """:meth:`_view` of several learners, their identifiers read in one query."""
        identifiers: dict[int, list[IdentifierView]] = {}
        ids = [learner.id for learner in learners]
        for start in range(0, len(ids), _IN_CHUNK):
            for record in session.scalars(
                select(LearnerIdentifierRecord)
                .where(LearnerIdentifierRecord.learner_id.in_(ids[start : start + _IN_CHUNK]))
                .order_by(LearnerIdentifierRecord.id)
            ):
                identifiers.setdefault(record.learner_id, []).append(_identifier_view(record))
        return {
            learner.id: _learner_view(learner, identifiers.get(learner.id, []))
            for learner in learners
        }

    @staticmethod
    def _resolve(session: Session, public_id: str) -> LearnerRecord | None:
        if not isinstance(public_id, str) or not public_id or len(public_id) > 36:
            return None
        return session.scalar(select(LearnerRecord).where(LearnerRecord.public_id == public_id))

    def learner_in_session(
        self, session: Session, public_id: str, *, allow_deleted: bool = False
    ) -> LearnerRecord:
        """The live learner record for ``public_id`` (following merges) inside the caller's
        session. :class:`NotFound` if unknown, :class:`InvalidInput` if erased."""
        return self._learner(session, public_id, allow_deleted=allow_deleted)

    def _learner(
        self, session: Session, public_id: str, *, allow_deleted: bool = False
    ) -> LearnerRecord:
        record = self._resolve(session, public_id)
        if record is None:
            raise NotFound(f"No learner {public_id!r}.")
        record = self._follow(session, record)
        if record.deleted_at is not None and not allow_deleted:
            raise InvalidInput(f"Learner {public_id} asked for their data to be erased.")
        return record

    @classmethod
    def _view(cls, session: Session, learner: LearnerRecord) -> LearnerView:
        return cls._views(session, [learner])[learner.id]


def _identifier_view(record: LearnerIdentifierRecord) -> IdentifierView:
    return IdentifierView(record.kind, record.value, record.platform, record.verified)


def _learner_view(learner: LearnerRecord, identifiers: list[IdentifierView]) -> LearnerView:
    return LearnerView(
        public_id=learner.public_id,
        display_name=learner.display_name,
        identifiers=tuple(identifiers),
        created_at=learner.created_at,
        deleted=learner.deleted_at is not None,
    )


def _find_learner_query() -> Select[LearnerRecord, LearnerRecord, LearnerIdentifierRecord]:
    """:meth:`LearnerDirectory.find` in one statement, built once (every returning LTI launch
    looks its learner up): the learner holding the identifier, the learner they were merged
    into, and the identifiers of the live one (one row each, oldest first)."""
    presented = aliased(LearnerIdentifierRecord)
    merged_into = aliased(LearnerRecord)
    return (
        select(LearnerRecord, merged_into, LearnerIdentifierRecord)
        .select_from(presented)
        .join(LearnerRecord, LearnerRecord.id == presented.learner_id)
        .outerjoin(merged_into, merged_into.id == LearnerRecord.merged_into_id)
        .outerjoin(
            LearnerIdentifierRecord,
            LearnerIdentifierRecord.learner_id
            == func.coalesce(LearnerRecord.merged_into_id, LearnerRecord.id),
        )
        .where(
            presented.kind == bindparam("kind"),
            presented.platform == bindparam("platform"),
            presented.value == bindparam("value"),
        )
        .order_by(LearnerIdentifierRecord.id)
    )


_FIND_LEARNER: Final = _find_learner_query()


def _badges(session: Session, learner_ids: list[int]) -> dict[int, list[BadgeView]]:
    """The badges of ``learner_ids`` by learner id, newest first (revoked ones flagged)."""
    found: dict[int, list[BadgeView]] = {}
    for start in range(0, len(learner_ids), _IN_CHUNK):
        rows = session.execute(
            select(AwardRecord, AchievementRecord, CredentialRecord)
            .join(AchievementRecord, AchievementRecord.id == AwardRecord.achievement_id)
            .outerjoin(CredentialRecord, CredentialRecord.id == AwardRecord.credential_id)
            .where(AwardRecord.learner_id.in_(learner_ids[start : start + _IN_CHUNK]))
            .order_by(AwardRecord.id.desc())
        ).all()
        for award, achievement, credential in rows:
            found.setdefault(award.learner_id, []).append(
                BadgeView(
                    award_id=award.id,
                    credential_id=credential.credential_id if credential else None,
                    achievement_public_id=achievement.public_id,
                    achievement_name=achievement.name,
                    source_kind=award.source_kind,
                    awarded_at=award.created_at,
                    revoked=bool(credential and credential.revoked_at),
                    suspended=bool(credential and credential.suspended_at),
                    visibility=credential.visibility if credential else "private",
                )
            )
    return found


def active_key(learner_id: int, achievement_id: int) -> str:
    """The ``awards.active_key`` of a non-repeatable award while it is active."""
    return f"{learner_id}:{achievement_id}"


__all__ = [
    "BadgeView",
    "DeletionReport",
    "IdentifierView",
    "IdentityConflict",
    "LearnerDirectory",
    "LearnerView",
    "active_key",
    "normalise_email",
]
