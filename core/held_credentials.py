"""The backpack: Open Badges 3.0 credentials a user keeps here through the Open Badges API.

A credential may come from any issuer. It is verified before it is kept (an invalid one is
refused with the report that says why) and stored exactly as received: JSON text, or a compact
VC-JWT. Two credentials are the same when their issuer id and credential id are equal after
percent-decoding and trimming (OB 3.0 "credential equality and comparison"); sending the same
credential again replaces the stored one.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from core.errors import InvalidInput, NotFound
from core.json_input import parse_json_object
from core.report import VerificationReport
from core.storage import HeldCredentialRecord, UserRecord, utcnow
from core.verification import parse_datetime

if TYPE_CHECKING:
    from core.service import BadgeService

HeldFormat = Literal["json", "jwt"]

#: A compact JWS: three base64url segments (the OB 3.0 API's ``text/plain`` body).
COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$")
#: Page sizes of :meth:`HeldCredentials.page`.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class CredentialRefused(InvalidInput):
    """The credential did not verify (or is not an Open Badges 3.0 credential): nothing was
    kept. ``report`` holds every check."""

    def __init__(self, message: str, report: VerificationReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class HeldCredentialView:
    """A kept credential, exactly as it was received."""

    key: str
    format: HeldFormat
    text: str
    created_at: datetime
    updated_at: datetime

    @property
    def document(self) -> dict[str, Any] | str:
        """The JSON object, or the compact JWT text."""
        if self.format == "jwt":
            return self.text
        loaded: dict[str, Any] = json.loads(self.text)
        return loaded


@dataclass(frozen=True)
class UpsertResult:
    """What :meth:`HeldCredentials.upsert` did: ``created`` is False when it replaced one."""

    credential: HeldCredentialView
    created: bool
    report: VerificationReport


@dataclass(frozen=True)
class HeldCredentialPage:
    """One page of a user's credentials and how many there are in all (for ``X-Total-Count``)."""

    credentials: list[HeldCredentialView]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class OwnerProfile:
    """The backpack owner's Open Badges Profile facts."""

    profile_id: str
    name: str
    email: str

    def as_profile(self) -> dict[str, Any]:
        """An OB 3.0 ``Profile`` object."""
        return {
            "@context": [
                "https://www.w3.org/ns/credentials/v2",
                "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
            ],
            "id": self.profile_id,
            "type": ["Profile"],
            "name": self.name,
            "email": self.email,
        }


def _normalised(identifier: str) -> str:
    return unquote(identifier).strip()


def _issuer_id(credential: dict[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) and issuer.strip() else None


def credential_key(credential: dict[str, Any] | None, text: str) -> str:
    """The upsert key: a SHA-256 of the issuer id and credential id (normalised as OB 3.0's
    equality algorithm says), or of the text itself when the credential has no id."""
    issuer = _issuer_id(credential) if credential else None
    credential_id = credential.get("id") if credential else None
    if issuer and isinstance(credential_id, str) and credential_id.strip():
        material = f"{_normalised(issuer)}\n{_normalised(credential_id)}"
        return "id:" + hashlib.sha256(material.encode("utf-8")).hexdigest()
    return "text:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_held_input(credential: dict[str, Any] | str) -> tuple[HeldFormat, str]:
    """Classify what a client sent: a JSON credential (object or JSON text) or a compact JWS.

    Raises :class:`InvalidInput` for anything else (a URL, an image, an empty body)."""
    if isinstance(credential, dict):
        return "json", json.dumps(credential, ensure_ascii=False)
    if not isinstance(credential, str):
        raise InvalidInput("Send a credential: a JSON object or a compact JWS (VC-JWT).")
    text = credential.strip()
    if text.startswith("{"):
        parse_json_object(text)  # refuses malformed or oversized JSON with a clear message
        return "json", text
    if COMPACT_JWS.match(text):
        return "jwt", text
    raise InvalidInput(
        "Send a credential: a JSON OpenBadgeCredential (application/json) or a compact JWS "
        "(text/plain)."
    )


def _issued_at(view: HeldCredentialView) -> datetime | None:
    """When the credential says it was issued (validFrom, issuanceDate, or the JWT's nbf)."""
    if view.format == "json":
        document: Any = json.loads(view.text)
    else:
        from core.proofs.vc_jwt import peek_jwt_payload

        try:
            payload = peek_jwt_payload(view.text)
        except InvalidInput:
            return None
        nbf = payload.get("nbf")
        if isinstance(nbf, int | float) and not isinstance(nbf, bool):
            return datetime.fromtimestamp(nbf, UTC)
        document = payload.get("vc", payload)
    if not isinstance(document, dict):
        return None
    return parse_datetime(document.get("validFrom") or document.get("issuanceDate"))


class HeldCredentials:
    """Credentials users keep here (``held_credentials`` rows), and the owner's profile."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    # -- keeping --------------------------------------------------------------------------------

    def upsert(self, user_id: int, credential: dict[str, Any] | str) -> UpsertResult:
        """Verify ``credential`` and keep it for the user: a new row (``created``) or the
        replacement of the same credential (same issuer and id).

        Raises :class:`CredentialRefused` when it does not verify, :class:`InvalidInput` when it
        is neither JSON nor a compact JWS, :class:`NotFound` for an unknown user.
        """
        held_format, text = read_held_input(credential)
        report = self._service.verify(text)
        if not report.format.startswith("ob3"):
            raise CredentialRefused(
                "Only Open Badges 3.0 credentials can be kept through this API.", report
            )
        if not report.valid:
            reasons = "; ".join(f"{c.title}: {c.message}" for c in report.failures[:3])
            raise CredentialRefused(f"The credential does not verify. {reasons}", report)
        key = credential_key(report.credential, text)
        try:
            view, created = self._store(user_id, key, held_format, text)
        except IntegrityError:
            # Another request stored the same credential between our read and our write.
            view, created = self._store(user_id, key, held_format, text)
        return UpsertResult(view, created, report)

    def _store(
        self, user_id: int, key: str, held_format: HeldFormat, text: str
    ) -> tuple[HeldCredentialView, bool]:
        with self._service.transaction() as session:
            if session.get(UserRecord, user_id) is None:
                raise NotFound(f"No user {user_id}.")
            row = session.scalar(
                select(HeldCredentialRecord)
                .where(
                    HeldCredentialRecord.user_id == user_id,
                    HeldCredentialRecord.credential_key == key,
                )
                .with_for_update()
            )
            now = utcnow()
            created = row is None
            if row is None:
                row = HeldCredentialRecord(
                    user_id=user_id,
                    credential_key=key,
                    format=held_format,
                    document=text,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
            else:
                row.format = held_format
                row.document = text
                row.updated_at = now
            session.flush()
            return self._view(row), created

    @staticmethod
    def _view(row: HeldCredentialRecord) -> HeldCredentialView:
        held_format: HeldFormat = "jwt" if row.format == "jwt" else "json"
        return HeldCredentialView(
            key=row.credential_key,
            format=held_format,
            text=row.document,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    # -- reading --------------------------------------------------------------------------------

    def page(
        self,
        user_id: int,
        *,
        limit: int | None = None,
        offset: int = 0,
        since: datetime | None = None,
    ) -> HeldCredentialPage:
        """The user's credentials in the order they were first kept, ``limit`` from ``offset``.

        ``since`` keeps only credentials issued after that moment (by their own validFrom),
        so it is filtered after reading; backpacks are small.
        """
        size = DEFAULT_PAGE_SIZE if limit is None else limit
        if size < 1 or offset < 0:
            raise InvalidInput("limit must be at least 1 and offset at least 0.")
        size = min(size, MAX_PAGE_SIZE)
        ordered = select(HeldCredentialRecord).where(HeldCredentialRecord.user_id == user_id)
        ordered = ordered.order_by(HeldCredentialRecord.created_at, HeldCredentialRecord.id)
        with self._service.sessions() as session:
            if since is not None:
                every = [self._view(r) for r in session.scalars(ordered)]
                kept = [v for v in every if (issued := _issued_at(v)) and issued > since]
                return HeldCredentialPage(kept[offset : offset + size], len(kept), size, offset)
            total = session.scalar(
                select(func.count())
                .select_from(HeldCredentialRecord)
                .where(HeldCredentialRecord.user_id == user_id)
            )
            rows = session.scalars(ordered.limit(size).offset(offset))
            return HeldCredentialPage([self._view(r) for r in rows], total or 0, size, offset)

    def forget(self, user_id: int) -> int:
        """Delete every credential the user keeps here; returns how many there were."""
        with self._service.transaction() as session:
            result = session.execute(
                delete(HeldCredentialRecord).where(HeldCredentialRecord.user_id == user_id)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # -- the owner's profile --------------------------------------------------------------------

    def profile_id(self, user_id: int) -> str:
        """A stable URI for the user's profile that reveals nothing about them."""
        name = f"{self._service.settings.base_url}/users/{user_id}"
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"

    def owner_profile(self, user_id: int) -> OwnerProfile:
        """The user's Open Badges Profile; :class:`NotFound` for an unknown user."""
        with self._service.sessions() as session:
            user = session.get(UserRecord, user_id)
            if user is None:
                raise NotFound(f"No user {user_id}.")
            return OwnerProfile(self.profile_id(user_id), user.name, user.email)

    def rename_owner(self, user_id: int, name: str) -> OwnerProfile:
        """Change the name the user's profile shows."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("A profile needs a name.")
        if len(name.strip()) > 200:
            raise InvalidInput("A profile name is at most 200 characters.")
        with self._service.transaction() as session:
            user = session.get(UserRecord, user_id)
            if user is None:
                raise NotFound(f"No user {user_id}.")
            user.name = name.strip()
            return OwnerProfile(self.profile_id(user_id), user.name, user.email)


__all__ = [
    "CredentialRefused",
    "HeldCredentialPage",
    "HeldCredentialView",
    "HeldCredentials",
    "OwnerProfile",
    "UpsertResult",
    "credential_key",
    "read_held_input",
]
