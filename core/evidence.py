"""Evidence submission and review.

A learner hands in evidence for an activity whose completion is confirmed by review: a text, a
link (http or https only) or a file. Files are capped in size (``MAX_EVIDENCE_FILE_BYTES``) and
their type is sniffed from their first bytes — the declared type is never trusted — against an
allow-list: PDF, PNG, JPEG, WebP, MP4 and plain UTF-8 text. SVG and HTML are refused (they can
carry scripts).

An organiser (or, for ``evidence_peer`` activities, a peer) approves or rejects with a comment.
Approval awards the activity's achievement through :meth:`core.awarding.Awarding.award_in_session`
with ``source_kind="evidence"`` and the evidence id as the source event, in the same transaction
as the review: either both happen or neither. Who may review is the web layer's decision; core
refuses only a learner reviewing their own evidence.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Select, bindparam, case, func, select
from sqlalchemy.orm import Session, defer

from core.errors import InvalidInput, NotFound
from core.limits import MAX_EVIDENCE_FILE_BYTES, MAX_EVIDENCE_TEXT_CHARS
from core.storage import (
    AchievementRecord,
    ActivityRecord,
    AwardRecord,
    CredentialRecord,
    EvidenceRecord,
    IssuerRecord,
    LearnerIdentifierRecord,
    LearnerRecord,
    utcnow,
)

if TYPE_CHECKING:
    from core.service import BadgeService

#: Activities whose completion is confirmed by reviewing evidence.
EVIDENCE_MODES = ("evidence_organiser", "evidence_peer")
#: The file types accepted, by sniffed media type.
ALLOWED_FILE_TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WebP",
    "video/mp4": "MP4",
    "text/plain": "plain text",
}
_MP4_BRANDS = {
    b"isom",
    b"iso2",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"avc1",
    b"M4V ",
    b"dash",
}
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_FILE_NAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
MAX_URL_CHARS = 2000
#: Most values in one SQL ``IN`` list (a class of any size reads in a few queries).
_IN_CHUNK = 500


@dataclass(frozen=True)
class EvidenceView:
    """Evidence and its review (never the file bytes: see :meth:`EvidenceReview.file`)."""

    public_id: str
    learner_public_id: str
    activity_public_id: str
    activity_title: str
    kind: str
    text: str | None
    url: str | None
    file_name: str | None
    file_type: str | None
    file_size: int | None
    status: str
    submitted_at: datetime
    reviewer: str | None
    review_comment: str | None
    reviewed_at: datetime | None
    #: the credential its approval awarded
    credential_id: str | None


@dataclass(frozen=True)
class EvidenceFile:
    """An evidence file to serve (always as an attachment, with ``nosniff``)."""

    name: str
    media_type: str
    data: bytes


def sniff_file_type(data: bytes) -> str | None:
    """The media type ``data`` really is, judged by its first bytes; None if it is not one of
    :data:`ALLOWED_FILE_TYPES`."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _MP4_BRANDS:
        return "video/mp4"
    return "text/plain" if _is_plain_text(data) else None


def _is_plain_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    # Markup (HTML, SVG, XML) is text too, but a browser that sniffs may run its scripts.
    return not _TEXT_CONTROL.search(text) and not text.lstrip().startswith("<")


def _clean_file_name(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _FILE_NAME_UNSAFE.sub("", base).strip().lstrip(".")
    if not base:
        base = "evidence"
    return base[:200]


def _check_url(url: str) -> str:
    if not isinstance(url, str):
        raise InvalidInput("A link must be text.")
    value = url.strip()
    if not value or len(value) > MAX_URL_CHARS or any(c.isspace() for c in value):
        raise InvalidInput(f"A link is one web address of at most {MAX_URL_CHARS} characters.")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput("A link must be a web address starting with http:// or https://.")
    if parts.username or parts.password:
        raise InvalidInput("A link must not contain a user name or password.")
    return value


def _check_text(text: str, what: str) -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"The {what} must be text.")
    value = text.strip()
    if len(value) > MAX_EVIDENCE_TEXT_CHARS:
        raise InvalidInput(f"The {what} is at most {MAX_EVIDENCE_TEXT_CHARS:,} characters.")
    if "\x00" in value:
        raise InvalidInput(f"The {what} contains a NUL character.")
    return value


def evidence_json(record: EvidenceRecord, activity: ActivityRecord | None) -> dict[str, Any]:
    """The OB 3.0 ``Evidence`` object a credential carries for approved evidence. A file stays
    private (named, not linked); a text becomes the narrative; a link becomes the id."""
    name = f"Evidence for {activity.title}" if activity is not None else "Evidence"
    evidence: dict[str, Any] = {"type": ["Evidence"], "name": name[:300]}
    if record.kind == "link" and record.url:
        evidence["id"] = record.url
        evidence["genre"] = "Link"
    elif record.kind == "text" and record.text:
        evidence["narrative"] = record.text
        evidence["genre"] = "Text"
    else:
        evidence["genre"] = ALLOWED_FILE_TYPES.get(record.file_type or "", "File")
        evidence["description"] = f"A file ({record.file_name}) reviewed by the issuer."
    if record.reviewed_at is not None:
        reviewed = record.reviewed_at.strftime("%Y-%m-%d")
        evidence["description"] = (
            evidence.get("description", "") + f" Approved on {reviewed}."
        ).strip()
    return evidence


class EvidenceReview:
    """Hand in evidence, review it, and list what waits for review."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    def submit(
        self,
        learner_public_id: str,
        activity_public_id: str,
        *,
        text: str | None = None,
        url: str | None = None,
        file_name: str | None = None,
        file_type: str | None = None,
        file_data: bytes | None = None,
    ) -> EvidenceView:
        """Hand in one piece of evidence (exactly one of ``text``, ``url``, ``file_data``) for
        an activity confirmed by review. ``file_type`` is the declared type, only used to
        explain a refusal; the stored type is sniffed."""
        given = [k for k, v in (("text", text), ("url", url), ("file", file_data)) if v is not None]
        if len(given) != 1:
            raise InvalidInput("Hand in exactly one of: a text, a link or a file.")
        record = EvidenceRecord(public_id=str(uuid.uuid4()), submitted_at=utcnow())
        if text is not None:
            record.kind, record.text = "text", _check_text(text, "evidence text")
            if not record.text:
                raise InvalidInput("The evidence text is empty.")
        elif url is not None:
            record.kind, record.url = "link", _check_url(url)
        else:
            if not isinstance(file_data, bytes | bytearray):
                raise InvalidInput("The evidence file must be bytes.")
            data = bytes(file_data)
            if not data:
                raise InvalidInput("The evidence file is empty.")
            if len(data) > MAX_EVIDENCE_FILE_BYTES:
                raise InvalidInput(
                    f"The evidence file is too large (limit {MAX_EVIDENCE_FILE_BYTES:,} bytes)."
                )
            sniffed = sniff_file_type(data)
            if sniffed is None:
                declared = f" (declared as {file_type})" if file_type else ""
                raise InvalidInput(
                    f"This file type is not accepted{declared}: hand in "
                    + ", ".join(ALLOWED_FILE_TYPES.values())
                    + "."
                )
            record.kind = "file"
            record.file_type = sniffed
            record.file_name = _clean_file_name(file_name)
            record.file_data = data
        with self._service.transaction() as session:
            learner = self._service.learners.learner_in_session(session, learner_public_id)
            activity = self._activity(session, activity_public_id)
            if activity.archived:
                raise InvalidInput(f"The activity {activity.title!r} is archived.")
            if activity.completion_mode not in EVIDENCE_MODES:
                raise InvalidInput(
                    f"The activity {activity.title!r} is not completed by handing in evidence."
                )
            if activity.achievement_id is None:
                raise InvalidInput(f"The activity {activity.title!r} awards no badge.")
            record.learner_id = learner.id
            record.activity_id = activity.id
            record.status = "pending"
            session.add(record)
            session.flush()
            return self._view(session, record)

    def review(
        self, evidence_public_id: str, *, approve: bool, reviewer: str, comment: str = ""
    ) -> EvidenceView:
        """Approve (and award, in the same transaction) or reject evidence. A rejection needs a
        comment telling the learner why. Reviewing again with the same decision returns the
        evidence unchanged; a different decision is refused."""
        if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > 320:
            raise InvalidInput("A review needs the reviewer (1-320 characters).")
        reviewer = reviewer.strip()
        note = _check_text(comment or "", "review comment")
        if not approve and not note:
            raise InvalidInput("A rejection needs a comment telling the learner why.")
        with self._service.transaction() as session:
            record = session.scalar(
                select(EvidenceRecord)
                .where(EvidenceRecord.public_id == evidence_public_id)
                .with_for_update()
            )
            if record is None:
                raise NotFound(f"No evidence {evidence_public_id!r}.")
            decision = "approved" if approve else "rejected"
            if record.status != "pending":
                if record.status == decision:
                    return self._view(session, record)
                raise InvalidInput(f"This evidence was already {record.status}.")
            learner = session.get(LearnerRecord, record.learner_id)
            if learner is None or learner.deleted_at is not None:
                raise InvalidInput(
                    "The learner who handed this in asked for their data to be erased."
                )
            if self._is_own(session, learner, reviewer):
                raise InvalidInput("Learners cannot review their own evidence.")
            record.status = decision
            record.reviewer = reviewer
            record.review_comment = note or None
            record.reviewed_at = utcnow()
            session.flush()
            if approve:
                from core.awarding import AwardRequest

                activity = session.get(ActivityRecord, record.activity_id)
                achievement = (
                    session.get(AchievementRecord, activity.achievement_id)
                    if activity is not None and activity.achievement_id is not None
                    else None
                )
                if achievement is None:
                    raise InvalidInput("The activity awards no badge.")
                self._service.awarding.award_in_session(
                    session,
                    AwardRequest(
                        learner_public_id=learner.public_id,
                        achievement_public_id=achievement.public_id,
                        source_kind="evidence",
                        source_event_id=record.public_id,
                        evidence_public_id=record.public_id,
                        approved_by=reviewer,
                    ),
                )
            return self._view(session, record)

    def get(self, evidence_public_id: str) -> EvidenceView:
        """One piece of evidence; :class:`NotFound` if unknown."""
        with self._service.sessions() as session:
            return self._view(session, self._evidence(session, evidence_public_id))

    def file(self, evidence_public_id: str) -> EvidenceFile:
        """The file handed in, to serve as an attachment; :class:`NotFound` if none."""
        with self._service.sessions() as session:
            record = self._evidence(session, evidence_public_id)
            if record.kind != "file" or record.file_data is None:
                raise NotFound("This evidence has no file.")
            return EvidenceFile(
                record.file_name or "evidence", record.file_type or "", bytes(record.file_data)
            )

    def pending_for_issuer(self, issuer_slug: str) -> list[EvidenceView]:
        """Evidence waiting for review on the issuer's activities, oldest first."""
        with self._service.sessions() as session:
            issuer = session.scalar(select(IssuerRecord).where(IssuerRecord.slug == issuer_slug))
            if issuer is None:
                raise NotFound(f"No issuer with the slug {issuer_slug!r}.")
            records = session.scalars(
                select(EvidenceRecord)
                .options(defer(EvidenceRecord.file_data))
                .join(ActivityRecord, ActivityRecord.id == EvidenceRecord.activity_id)
                .where(ActivityRecord.issuer_id == issuer.id, EvidenceRecord.status == "pending")
                .order_by(EvidenceRecord.submitted_at, EvidenceRecord.id)
            ).all()
            return [self._view(session, r) for r in records]

    def of_learner(self, learner_public_id: str) -> list[EvidenceView]:
        """Everything a learner handed in, newest first."""
        with self._service.sessions() as session:
            learner = self._service.learners.learner_in_session(
                session, learner_public_id, allow_deleted=True
            )
            records = session.scalars(
                select(EvidenceRecord)
                .options(defer(EvidenceRecord.file_data))
                .where(EvidenceRecord.learner_id == learner.id)
                .order_by(EvidenceRecord.id.desc())
            ).all()
            return [self._view(session, r) for r in records]

    @staticmethod
    def of_learner_in_session(
        session: Session, learner_id: int, activity_public_ids: Iterable[str]
    ) -> list[EvidenceView]:
        """What the learner with the (live) record id ``learner_id`` handed in for
        ``activity_public_ids``, newest first, in the caller's session: one query (a launched
        course item's page)."""
        activities = sorted({a for a in activity_public_ids if isinstance(a, str) and a})
        if not activities:
            return []
        rows = session.execute(
            _learner_evidence_for_activities(), {"learner_id": learner_id, "activities": activities}
        ).all()
        return [_evidence_view(*row) for row in rows]

    def of_learners(
        self, learner_public_ids: Iterable[str], activity_public_ids: Iterable[str]
    ) -> dict[str, list[EvidenceView]]:
        """:meth:`of_learner` for several learners at once, newest first, only the evidence
        handed in for ``activity_public_ids`` (a course item's activity, or a playlist's
        activity steps); keyed by the learner public ids asked for (merges followed; unknown
        ids and learners without such evidence left out). Reads only, in a few queries
        whatever the number of learners: a class's evidence for one course item."""
        activities = sorted({a for a in activity_public_ids if isinstance(a, str) and a})
        asked = sorted({p for p in learner_public_ids if isinstance(p, str) and 0 < len(p) <= 36})
        if not activities or not asked:
            return {}
        with self._service.sessions() as session:
            # live learner id -> the public ids asked for that answer as this learner
            asked_as: dict[int, list[str]] = {}
            for start in range(0, len(asked), _IN_CHUNK):
                for record in session.scalars(
                    select(LearnerRecord).where(
                        LearnerRecord.public_id.in_(asked[start : start + _IN_CHUNK])
                    )
                ):
                    live = (
                        record
                        if record.merged_into_id is None
                        else self._service.learners.learner_in_session(
                            session, record.public_id, allow_deleted=True
                        )
                    )
                    asked_as.setdefault(live.id, []).append(record.public_id)
            found: dict[str, list[EvidenceView]] = {}
            learner_ids = sorted(asked_as)
            for start in range(0, len(learner_ids), _IN_CHUNK):
                rows = session.execute(
                    _evidence_rows()
                    .where(
                        EvidenceRecord.learner_id.in_(learner_ids[start : start + _IN_CHUNK]),
                        ActivityRecord.public_id.in_(activities),
                    )
                    .order_by(EvidenceRecord.id.desc())
                ).all()
                for handed_in, learner_id, activity_id, title, file_size, credential_id in rows:
                    view = _evidence_view(
                        handed_in, learner_id, activity_id, title, file_size, credential_id
                    )
                    for asked_id in asked_as[handed_in.learner_id]:
                        found.setdefault(asked_id, []).append(view)
            return found

    # -- internals ------------------------------------------------------------------------------

    @staticmethod
    def _activity(session: Session, public_id: str) -> ActivityRecord:
        activity = session.scalar(
            select(ActivityRecord).where(ActivityRecord.public_id == public_id)
        )
        if activity is None:
            raise NotFound(f"No activity {public_id!r}.")
        return activity

    @staticmethod
    def _evidence(session: Session, public_id: str) -> EvidenceRecord:
        record = session.scalar(select(EvidenceRecord).where(EvidenceRecord.public_id == public_id))
        if record is None:
            raise NotFound(f"No evidence {public_id!r}.")
        return record

    @staticmethod
    def _is_own(session: Session, learner: LearnerRecord, reviewer: str) -> bool:
        if reviewer == learner.public_id:
            return True
        owner = session.scalar(
            select(LearnerIdentifierRecord.learner_id).where(
                LearnerIdentifierRecord.kind == "email",
                LearnerIdentifierRecord.value == reviewer.lower(),
            )
        )
        return owner == learner.id

    @staticmethod
    def _view(session: Session, record: EvidenceRecord) -> EvidenceView:
        learner = session.get(LearnerRecord, record.learner_id)
        activity = session.get(ActivityRecord, record.activity_id)
        file_size = (
            session.scalar(
                select(func.length(EvidenceRecord.file_data)).where(EvidenceRecord.id == record.id)
            )
            if record.kind == "file"
            else None
        )
        credential_id = session.scalar(
            select(CredentialRecord.credential_id)
            .join(AwardRecord, AwardRecord.credential_id == CredentialRecord.id)
            .where(AwardRecord.evidence_id == record.id)
        )
        return _evidence_view(
            record,
            learner.public_id if learner else "",
            activity.public_id if activity else "",
            activity.title if activity else "",
            file_size,
            credential_id,
        )


def _evidence_view(
    record: EvidenceRecord,
    learner_public_id: str,
    activity_public_id: str,
    activity_title: str,
    file_size: int | None,
    credential_id: str | None,
) -> EvidenceView:
    return EvidenceView(
        public_id=record.public_id,
        learner_public_id=learner_public_id,
        activity_public_id=activity_public_id,
        activity_title=activity_title,
        kind=record.kind,
        text=record.text,
        url=record.url,
        file_name=record.file_name,
        file_type=record.file_type,
        file_size=file_size,
        status=record.status,
        submitted_at=record.submitted_at,
        reviewer=record.reviewer,
        review_comment=record.review_comment,
        reviewed_at=record.reviewed_at,
        credential_id=credential_id,
    )


@functools.cache
def _learner_evidence_for_activities() -> Select[
    EvidenceRecord, str, str, str, int | None, str | None
]:
    """:func:`_evidence_rows` of one learner (``learner_id``) for some activities
    (``activities``), newest first: built once, as every launched page asks it."""
    return (
        _evidence_rows()
        .where(
            EvidenceRecord.learner_id == bindparam("learner_id"),
            ActivityRecord.public_id.in_(bindparam("activities", expanding=True)),
        )
        .order_by(EvidenceRecord.id.desc())
    )


def _evidence_rows() -> Select[EvidenceRecord, str, str, str, int | None, str | None]:
    """Evidence (without its file bytes) with what its view needs, in one statement: the
    learner's and the activity's public ids, the activity's title, the file's size and the
    credential its approval awarded."""
    awarded = (
        select(CredentialRecord.credential_id)
        .join(AwardRecord, AwardRecord.credential_id == CredentialRecord.id)
        .where(AwardRecord.evidence_id == EvidenceRecord.id)
        .order_by(AwardRecord.id)
        .limit(1)
        .correlate(EvidenceRecord)
        .scalar_subquery()
    )
    file_size = case(
        (EvidenceRecord.kind == "file", func.length(EvidenceRecord.file_data)), else_=None
    )
    return (
        select(
            EvidenceRecord,
            LearnerRecord.public_id,
            ActivityRecord.public_id,
            ActivityRecord.title,
            file_size,
            awarded,
        )
        .options(defer(EvidenceRecord.file_data))
        .join(LearnerRecord, LearnerRecord.id == EvidenceRecord.learner_id)
        .join(ActivityRecord, ActivityRecord.id == EvidenceRecord.activity_id)
    )


__all__ = [
    "ALLOWED_FILE_TYPES",
    "EVIDENCE_MODES",
    "EvidenceFile",
    "EvidenceReview",
    "EvidenceView",
    "evidence_json",
    "sniff_file_type",
]
