"""What the learner and public pages need about issued credentials: who holds one, whether its
holder shares it, the evidence behind it, and the learner's own side (share settings, export,
erasure with their log-in account).

A credential awarded to a learner carries a share setting (``credentials.visibility``):
``public`` (the default: anyone with the link sees its page and may download it) or ``private``
(only its holder and the issuer's people do). Credentials issued without a learner (the CLI's
``issue``) are always public.

Reached as ``service.learner_badges``; callers get frozen views, never ORM rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session, defer

from core.accounts import LEARNER_ROLE
from core.errors import InvalidInput, NotFound
from core.learners import DeletionReport
from core.storage import (
    AchievementRecord,
    ActivityRecord,
    AwardRecord,
    CredentialRecord,
    EvidenceRecord,
    HeldCredentialRecord,
    IssuerRecord,
    LearnerRecord,
    OAuthCodeRecord,
    OAuthTokenRecord,
    UserRecord,
)

if TYPE_CHECKING:
    from core.evidence import EvidenceView
    from core.service import BadgeService

VISIBILITIES: Final = ("public", "private")
#: The settings under which anyone with a credential's link may see it.
PUBLIC_VISIBILITIES: Final = ("public",)


@dataclass(frozen=True)
class CredentialEvidence:
    """Approved evidence behind a credential (a file's bytes are fetched separately, and only
    for its holder and the issuer's people)."""

    public_id: str
    #: "text" | "link" | "file"
    kind: str
    text: str | None
    url: str | None
    file_name: str | None
    file_type: str | None
    activity_title: str


@dataclass(frozen=True)
class CredentialFacts:
    """An issued credential with what the pages decide on: its holder, share setting, status
    and the catalogue achievement it was issued for (None for credentials issued directly)."""

    credential_id: str
    proof_format: str
    text: str
    issuer_slug: str
    issued_at: datetime
    revoked: bool
    suspended: bool
    visibility: str
    learner_public_id: str | None
    achievement_public_id: str | None
    evidence: tuple[CredentialEvidence, ...]

    @property
    def is_public(self) -> bool:
        """Whether anyone with the link may see it."""
        return self.visibility in PUBLIC_VISIBILITIES


@dataclass(frozen=True)
class LearnerCredential:
    """One credential issued to a learner, as their badge list and export show it."""

    credential_id: str
    proof_format: str
    text: str
    achievement_name: str
    achievement_public_id: str | None
    issuer_slug: str
    issuer_name: str
    issued_at: datetime
    revoked: bool
    suspended: bool
    visibility: str


#: A learner's credentials with their issuer and achievement, newest first (built once: every
#: launched course item page and every "my badges" page asks it).
_CREDENTIALS_OF_LEARNER: Final = (
    select(CredentialRecord, IssuerRecord.slug, IssuerRecord.name, AchievementRecord)
    .join(IssuerRecord, IssuerRecord.id == CredentialRecord.issuer_id)
    .outerjoin(AchievementRecord, AchievementRecord.id == CredentialRecord.achievement_id)
    .where(CredentialRecord.learner_id == bindparam("learner_id"))
    .order_by(CredentialRecord.issued_at.desc(), CredentialRecord.id.desc())
)


@dataclass(frozen=True)
class CourseItemHoldings:
    """A learner's credentials and evidence, as a launched course item's page shows them."""

    learner_public_id: str
    credentials: list[LearnerCredential]
    evidence: list[EvidenceView]


@dataclass(frozen=True)
class AccountErasure:
    """What erasing a learner's data did: the learner's erasure, and whether their log-in
    account went too (learner accounts do; an organiser's work account stays, unlinked)."""

    learner: DeletionReport
    account_deleted: bool
    held_credentials_deleted: int


class LearnerBadges:
    """Credentials as their holders and the public see them (``service.learner_badges``)."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    # -- one credential ---------------------------------------------------------------------------

    def credential_facts(self, credential_id: str) -> CredentialFacts:
        """The credential with its holder, share setting and evidence; :class:`NotFound` if it
        was not issued here."""
        found = self.credential_facts_of([credential_id])
        if credential_id not in found:
            raise NotFound(f"No credential {credential_id!r} was issued here.")
        return found[credential_id]

    def credential_facts_of(self, credential_ids: Iterable[str]) -> dict[str, CredentialFacts]:
        """:meth:`credential_facts` of several credentials (those issued here), in a few
        queries whatever their number: the badges a page shows."""
        wanted = sorted({c for c in credential_ids if isinstance(c, str) and c})
        if not wanted:
            return {}
        with self._service.sessions() as session:
            rows = session.execute(
                select(CredentialRecord, IssuerRecord.slug, AchievementRecord.public_id)
                .join(IssuerRecord, IssuerRecord.id == CredentialRecord.issuer_id)
                .outerjoin(
                    AchievementRecord, AchievementRecord.id == CredentialRecord.achievement_id
                )
                .where(CredentialRecord.credential_id.in_(wanted))
            ).all()
            holders: dict[int, str | None] = {}
            for record, _, _ in rows:
                if record.learner_id is not None and record.learner_id not in holders:
                    learner = self._live(session, record.learner_id)
                    holders[record.learner_id] = learner.public_id if learner else None
            evidence = self._evidence_of(session, [record.id for record, _, _ in rows])
            return {
                record.credential_id: CredentialFacts(
                    credential_id=record.credential_id,
                    proof_format=record.proof_format,
                    text=record.document,
                    issuer_slug=str(issuer_slug),
                    issued_at=record.issued_at,
                    revoked=record.revoked_at is not None,
                    suspended=record.suspended_at is not None,
                    visibility=record.visibility or "public",
                    learner_public_id=(
                        holders.get(record.learner_id) if record.learner_id is not None else None
                    ),
                    achievement_public_id=achievement_public_id,
                    evidence=evidence.get(record.id, ()),
                )
                for record, issuer_slug, achievement_public_id in rows
            }

    def shared_credential_text(self, credential_id: str) -> str | None:
        """The document (JSON or JWT) of a credential issued here that its holder shares
        publicly; None when it is private or was not issued here (the two look the same)."""
        with self._service.sessions() as session:
            row = session.execute(
                select(CredentialRecord.document, CredentialRecord.visibility).where(
                    CredentialRecord.credential_id == credential_id
                )
            ).first()
        if row is None or (row.visibility or "public") not in PUBLIC_VISIBILITIES:
            return None
        return str(row.document)

    @staticmethod
    def _evidence_of(
        session: Session, credential_row_ids: list[int]
    ) -> dict[int, tuple[CredentialEvidence, ...]]:
        """The approved evidence behind each credential (by row id), oldest first."""
        if not credential_row_ids:
            return {}
        rows = session.execute(
            select(EvidenceRecord, ActivityRecord.title, AwardRecord.credential_id)
            .options(defer(EvidenceRecord.file_data))
            .join(AwardRecord, AwardRecord.evidence_id == EvidenceRecord.id)
            .join(ActivityRecord, ActivityRecord.id == EvidenceRecord.activity_id)
            .where(
                AwardRecord.credential_id.in_(credential_row_ids),
                EvidenceRecord.status == "approved",
            )
            .order_by(EvidenceRecord.id)
        ).all()
        found: dict[int, list[CredentialEvidence]] = {}
        for evidence, title, credential_row_id in rows:
            if credential_row_id is None:  # pragma: no cover - the query asks for given ids
                continue
            found.setdefault(credential_row_id, []).append(
                CredentialEvidence(
                    public_id=evidence.public_id,
                    kind=evidence.kind,
                    text=evidence.text,
                    url=evidence.url,
                    file_name=evidence.file_name,
                    file_type=evidence.file_type,
                    activity_title=str(title),
                )
            )
        return {key: tuple(value) for key, value in found.items()}

    # -- accounts -----------------------------------------------------------------------------------

    def learner_of_account(self, user_id: int) -> str | None:
        """The public id of the learner a log-in account earns badges as (None when the account
        is not linked to a learner, or the learner's data was erased)."""
        with self._service.sessions() as session:
            learner_id = session.scalar(
                select(UserRecord.learner_id).where(UserRecord.id == user_id)
            )
            if learner_id is None:
                return None
            learner = self._live(session, learner_id)
            return learner.public_id if learner is not None else None

    # -- a learner's badges -------------------------------------------------------------------------

    def credentials_of(self, learner_public_id: str) -> list[LearnerCredential]:
        """Every credential issued to the learner (revoked ones too), newest first."""
        with self._service.sessions() as session:
            learner = self._service.learners.learner_in_session(
                session, learner_public_id, allow_deleted=True
            )
            return self._credentials_in_session(session, learner.id)

    def course_item_holdings(
        self, learner_public_id: str, activity_public_ids: Iterable[str]
    ) -> CourseItemHoldings | None:
        """What a launched course item's page shows of its learner, read together (three
        queries): the learner as they are now (merges followed), every credential issued to
        them and what they handed in for ``activity_public_ids``. None when the learner is
        unknown or their data was erased."""
        with self._service.sessions() as session:
            try:
                learner = self._service.learners.learner_in_session(session, learner_public_id)
            except (NotFound, InvalidInput):
                return None
            return CourseItemHoldings(
                learner_public_id=learner.public_id,
                credentials=self._credentials_in_session(session, learner.id),
                evidence=self._service.evidence.of_learner_in_session(
                    session, learner.id, activity_public_ids
                ),
            )

    @staticmethod
    def _credentials_in_session(session: Session, learner_id: int) -> list[LearnerCredential]:
        rows = session.execute(_CREDENTIALS_OF_LEARNER, {"learner_id": learner_id}).all()
        return [
            LearnerCredential(
                credential_id=record.credential_id,
                proof_format=record.proof_format,
                text=record.document,
                achievement_name=achievement.name if achievement else record.achievement_name,
                achievement_public_id=achievement.public_id if achievement else None,
                issuer_slug=str(slug),
                issuer_name=str(name),
                issued_at=record.issued_at,
                revoked=record.revoked_at is not None,
                suspended=record.suspended_at is not None,
                visibility=record.visibility or "public",
            )
            for record, slug, name, achievement in rows
        ]

    def set_visibility(self, learner_public_id: str, credential_id: str, visibility: str) -> None:
        """Share a credential publicly or keep it private. Only its holder may: a credential
        of someone else is :class:`NotFound`, as if it did not exist."""
        if visibility not in VISIBILITIES:
            raise InvalidInput("A badge is shared as public or private.")
        with self._service.transaction() as session:
            learner = self._service.learners.learner_in_session(session, learner_public_id)
            record = session.scalar(
                select(CredentialRecord).where(
                    CredentialRecord.credential_id == credential_id,
                    CredentialRecord.learner_id == learner.id,
                )
            )
            if record is None:
                raise NotFound("You hold no badge with this identifier.")
            record.visibility = visibility

    # -- erasure ------------------------------------------------------------------------------------

    def erase_account_learner(self, user_id: int) -> AccountErasure:
        """Erase the personal data of the learner this account earns badges as
        (:meth:`core.learners.LearnerDirectory.delete_learner_data`), then the account itself
        when it is a learner account — with the credentials it keeps in its backpack and the
        apps it authorised. An organiser's or administrator's account stays (it is their work
        account), no longer linked to the learner. :class:`NotFound` when the account earns no
        badges."""
        learner_public_id = self.learner_of_account(user_id)
        if learner_public_id is None:
            raise NotFound("This account is not linked to any badges.")
        report = self._service.learners.delete_learner_data(learner_public_id)
        account_deleted = False
        held = 0
        with self._service.transaction() as session:
            user = session.get(UserRecord, user_id)
            if user is not None and user.role == LEARNER_ROLE:
                held = len(
                    session.scalars(
                        select(HeldCredentialRecord.id).where(
                            HeldCredentialRecord.user_id == user.id
                        )
                    ).all()
                )
                for table in (HeldCredentialRecord, OAuthTokenRecord, OAuthCodeRecord):
                    session.execute(delete(table).where(table.user_id == user.id))
                session.delete(user)
                account_deleted = True
        return AccountErasure(report, account_deleted, held)

    # -- internals ----------------------------------------------------------------------------------

    @staticmethod
    def _live(session: Session, learner_id: int) -> LearnerRecord | None:
        """The learner after following merges; None when erased."""
        learner = session.get(LearnerRecord, learner_id)
        seen: set[int] = set()
        while learner is not None and learner.merged_into_id is not None and learner.id not in seen:
            seen.add(learner.id)
            learner = session.get(LearnerRecord, learner.merged_into_id)
        if learner is None or learner.deleted_at is not None:
            return None
        return learner


__all__ = [
    "LEARNER_ROLE",
    "PUBLIC_VISIBILITIES",
    "VISIBILITIES",
    "AccountErasure",
    "CredentialEvidence",
    "CredentialFacts",
    "LearnerBadges",
    "LearnerCredential",
]
