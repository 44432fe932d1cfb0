"""What organisers and administrators change about an issuer beyond its keys and Quality Label
(those are :class:`core.service.BadgeService` and :class:`core.catalogue.Catalogue`): its
profile (name, website, email, description, image), its dashboard figures, and the credentials
it issued (found here to revoke or suspend them).

Access rules (who may change which issuer) are the caller's: the web pages check them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.storage import (
    AchievementRecord,
    ActivityRecord,
    CredentialRecord,
    EvidenceRecord,
    IssuerRecord,
    PlaylistRecord,
)

if TYPE_CHECKING:
    from core.catalogue import OrganisationView
    from core.service import BadgeService

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Most credentials listed on one page.
MAX_LISTED_CREDENTIALS = 200


@dataclass(frozen=True)
class IssuerCounts:
    """How much an issuer has: its dashboard's figures."""

    achievements: int
    activities: int
    playlists: int
    evidence_waiting: int
    credentials_issued: int
    credentials_revoked: int


@dataclass(frozen=True)
class IssuedCredentialSummary:
    """A credential an issuer issued, as listed for revoking or suspending it."""

    credential_id: str
    issuer_slug: str
    recipient: str
    achievement_name: str
    issued_at: datetime
    status_purpose: str
    revoked_at: datetime | None
    suspended_at: datetime | None

    @property
    def token(self) -> str:
        """The last part of the credential's URL (its page is ``/credentials/<token>``)."""
        return self.credential_id.rstrip("/").rsplit("/", 1)[-1]

    @property
    def state(self) -> str:
        """``revoked``, ``suspended`` or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.suspended_at is not None:
            return "suspended"
        return "active"


def _optional_text(value: str | None, *, limit: int, what: str) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"The {what} is longer than {limit} characters.")
    return text or None


def _web_address(value: str | None, *, what: str) -> str | None:
    text = _optional_text(value, limit=2000, what=what)
    if text is not None and not re.match(r"^https?://[^\s/]+", text):
        raise InvalidInput(f"The {what} must be a web address starting with https://.")
    return text


class IssuerAdministration:
    """Edit issuer profiles; count an issuer's catalogue; find the credentials it issued."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    def _issuer(self, session: Session, slug: str) -> IssuerRecord:
        issuer = session.scalar(select(IssuerRecord).where(IssuerRecord.slug == slug))
        if issuer is None:
            raise NotFound(f"No issuer with the slug {slug!r}.")
        return issuer

    def update_profile(
        self,
        slug: str,
        *,
        name: str,
        url: str | None = None,
        email: str | None = None,
        description: str | None = None,
        image: str | None = None,
    ) -> OrganisationView:
        """Change the issuer's public profile (new credentials carry the new name)."""
        clean_name = (name or "").strip()
        if not clean_name:
            raise InvalidInput("An issuer needs a name.")
        if len(clean_name) > 200:
            raise InvalidInput("The name is longer than 200 characters.")
        clean_email = _optional_text(email, limit=320, what="email address")
        if clean_email is not None and not _EMAIL.match(clean_email):
            raise InvalidInput(f"{clean_email!r} is not an email address.")
        clean_url = _web_address(url, what="website")
        clean_image = _web_address(image, what="image address")
        clean_description = _optional_text(description, limit=5000, what="description")
        with self._service.transaction() as session:
            issuer = self._issuer(session, slug)
            issuer.name = clean_name
            issuer.url = clean_url
            issuer.email = clean_email
            issuer.description = clean_description
            issuer.image = clean_image
        return self._service.catalogue.organisation(slug)

    def counts(self, slug: str) -> IssuerCounts:
        """The issuer's figures for its dashboard."""
        with self._service.sessions() as session:
            issuer_id = self._issuer(session, slug).id

            def count(model: type, *conditions: object) -> int:
                query = select(func.count()).select_from(model).where(*conditions)  # type: ignore[arg-type]
                return int(session.scalar(query) or 0)

            waiting = session.scalar(
                select(func.count())
                .select_from(EvidenceRecord)
                .join(ActivityRecord, ActivityRecord.id == EvidenceRecord.activity_id)
                .where(ActivityRecord.issuer_id == issuer_id, EvidenceRecord.status == "pending")
            )
            return IssuerCounts(
                achievements=count(
                    AchievementRecord,
                    AchievementRecord.issuer_id == issuer_id,
                    AchievementRecord.archived.is_(False),
                ),
                activities=count(
                    ActivityRecord,
                    ActivityRecord.issuer_id == issuer_id,
                    ActivityRecord.archived.is_(False),
                ),
                playlists=count(
                    PlaylistRecord,
                    PlaylistRecord.issuer_id == issuer_id,
                    PlaylistRecord.archived.is_(False),
                ),
                evidence_waiting=int(waiting or 0),
                credentials_issued=count(CredentialRecord, CredentialRecord.issuer_id == issuer_id),
                credentials_revoked=count(
                    CredentialRecord,
                    CredentialRecord.issuer_id == issuer_id,
                    CredentialRecord.revoked_at.is_not(None),
                ),
            )

    # -- issued credentials --------------------------------------------------------------------

    @staticmethod
    def _summary(record: CredentialRecord, slug: str) -> IssuedCredentialSummary:
        return IssuedCredentialSummary(
            credential_id=record.credential_id,
            issuer_slug=slug,
            recipient=record.recipient,
            achievement_name=record.achievement_name,
            issued_at=record.issued_at,
            status_purpose=record.status_purpose,
            revoked_at=record.revoked_at,
            suspended_at=record.suspended_at,
        )

    def issued_credentials(
        self, slug: str, *, search: str | None = None, limit: int = 50
    ) -> list[IssuedCredentialSummary]:
        """The issuer's credentials, newest first; ``search`` matches the recipient's email
        address or the badge's name."""
        limit = max(1, min(limit, MAX_LISTED_CREDENTIALS))
        with self._service.sessions() as session:
            issuer = self._issuer(session, slug)
            query = select(CredentialRecord).where(CredentialRecord.issuer_id == issuer.id)
            text = (search or "").strip().lower()
            if text:
                pattern = (
                    "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                )
                query = query.where(
                    or_(
                        CredentialRecord.recipient.like(pattern, escape="\\"),
                        func.lower(CredentialRecord.achievement_name).like(pattern, escape="\\"),
                    )
                )
            query = query.order_by(CredentialRecord.id.desc()).limit(limit)
            return [self._summary(r, issuer.slug) for r in session.scalars(query)]

    def issued_credential(self, credential_id: str) -> IssuedCredentialSummary:
        """One credential issued here, with the issuer it belongs to."""
        with self._service.sessions() as session:
            row = session.execute(
                select(CredentialRecord, IssuerRecord.slug)
                .join(IssuerRecord, IssuerRecord.id == CredentialRecord.issuer_id)
                .where(CredentialRecord.credential_id == credential_id)
            ).first()
            if row is None:
                raise NotFound(f"No credential {credential_id!r} was issued here.")
            return self._summary(row[0], row[1])


__all__ = [
    "IssuedCredentialSummary",
    "IssuerAdministration",
    "IssuerCounts",
]
