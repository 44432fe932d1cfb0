"""Persistence: SQLAlchemy 2 tables and engine set-up.

SQLite (WAL) is the embedded default; PostgreSQL (``DATABASE_URL``) is production. The schema is
owned by Alembic migrations in ``core/migrations``; :func:`upgrade_database` applies them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def utcnow() -> datetime:
    """The current time, timezone-aware, to the second (credentials carry whole seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns aware datetimes (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class IssuerRecord(Base):
    """An organisation that issues badges, with the proof format it signs with."""

    __tablename__ = "issuers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(320))
    description: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(String(2000))
    proof_format: Mapped[str] = mapped_column(String(10), default="rdfc")
    #: Cities of Learning Quality Label: held since this date (None: not held)
    quality_label_since: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IssuerKeyRecord(Base):
    """A signing key. ``state``: ``active`` signs; ``verifying`` only verifies (after rotation);
    ``retired`` is gone from the issuer's documents, so credentials it signed stop verifying."""

    __tablename__ = "issuer_keys"
    __table_args__ = (UniqueConstraint("issuer_id", "key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuers.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[str] = mapped_column(String(100))
    algorithm: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default="active")
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    encrypted_private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatusListRecord(Base):
    """A Bitstring Status List of one issuer and purpose; ``bits`` is the raw bitstring."""

    __tablename__ = "status_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuers.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    size_bits: Mapped[int] = mapped_column(Integer)
    next_index: Mapped[int] = mapped_column(Integer, default=0)
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CredentialRecord(Base):
    """An issued credential as signed (JSON text or compact JWT) with its status list slots."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credential_id: Mapped[str] = mapped_column(String(200), unique=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuers.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    achievement_name: Mapped[str] = mapped_column(String(300))
    proof_format: Mapped[str] = mapped_column(String(10))
    document: Mapped[str] = mapped_column(Text)
    # OB 3.0's schema allows one credentialStatus object: a credential is either revocable
    # (permanent) or suspendable (reversible), chosen when it is issued.
    status_purpose: Mapped[str] = mapped_column(String(20))
    status_list_id: Mapped[int] = mapped_column(ForeignKey("status_lists.id"))
    status_index: Mapped[int] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: set when the credential was awarded to a known learner for a catalogue achievement
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id"), index=True)
    achievement_id: Mapped[int | None] = mapped_column(ForeignKey("achievements.id"), index=True)
    #: the learner's share setting for this badge: "public" or "private"
    visibility: Mapped[str] = mapped_column(String(10), default="public", server_default="public")


class AchievementRecord(Base):
    """A badge class: what a credential says was achieved, aligned to skills frameworks."""

    __tablename__ = "achievements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuers.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    criteria_narrative: Mapped[str | None] = mapped_column(Text)
    criteria_url: Mapped[str | None] = mapped_column(String(2000))
    image: Mapped[str | None] = mapped_column(String(2000))
    achievement_type: Mapped[str] = mapped_column(String(60), default="Badge")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: framework skill ids (e.g. "digcomp-2.2:1.1", "slo-21:kritisch-denken")
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: ESCO skill URIs
    esco_skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: EU micro-credential elements (workload, ECTS, EQF/NLQF level, assessment, ...)
    microcredential: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: an achievement may be earned more than once (e.g. yearly); else one active credential
    allows_repeats: Mapped[bool] = mapped_column(default=False)
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActivityRecord(Base):
    """A non-formal learning opportunity in a city (or online) that awards an achievement."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuers.id"), index=True)
    achievement_id: Mapped[int | None] = mapped_column(ForeignKey("achievements.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str | None] = mapped_column(String(100), index=True)
    location_name: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    online: Mapped[bool] = mapped_column(default=False)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: organiser_confirms | evidence_organiser | evidence_peer | attendance_code | lms_completion
    completion_mode: Mapped[str] = mapped_column(String(30), default="organiser_confirms")
    #: hash of the attendance code (never stored in clear)
    attendance_code_hash: Mapped[str | None] = mapped_column(String(200))
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlaylistRecord(Base):
    """A learning pathway: ordered steps; its badge is awarded when the rule is met."""

    __tablename__ = "playlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuers.id"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    #: "all" or "n_of_m" (then required_count steps)
    rule: Mapped[str] = mapped_column(String(10), default="all")
    required_count: Mapped[int | None] = mapped_column(Integer)
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlaylistStepRecord(Base):
    """One step: an activity, a catalogue achievement, or an external achievement id (another
    issuer's badge, an LMS course module) recognised when a learner holds it."""

    __tablename__ = "playlist_steps"
    __table_args__ = (UniqueConstraint("playlist_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))
    achievement_id: Mapped[int | None] = mapped_column(ForeignKey("achievements.id"), index=True)
    external_achievement_id: Mapped[str | None] = mapped_column(String(2000), index=True)
    title: Mapped[str] = mapped_column(String(300))


class LearnerRecord(Base):
    """A person who earns badges, durable across schools and platforms."""

    __tablename__ = "learners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    #: after a merge, the learner this one was merged into
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LearnerIdentifierRecord(Base):
    """One identifier of a learner: a verified email, a per-platform LMS user id, a DID."""

    __tablename__ = "learner_identifiers"
    __table_args__ = (UniqueConstraint("kind", "platform", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), index=True)
    #: "email" | "lms" | "did"
    kind: Mapped[str] = mapped_column(String(10))
    #: "" for email/did; the LMS platform (LTI issuer + client id) for lms
    platform: Mapped[str] = mapped_column(String(500), default="")
    value: Mapped[str] = mapped_column(String(500))
    verified: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserRecord(Base):
    """An organiser, reviewer or administrator who logs in to the web pages."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    #: "admin" | "organiser" | "reviewer"
    role: Mapped[str] = mapped_column(String(20), default="organiser")
    #: organisers and reviewers act for one issuer; admins for all
    issuer_id: Mapped[int | None] = mapped_column(ForeignKey("issuers.id"))
    #: the learner record of a person who also earns badges (learner pages)
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id"))
    oidc_subject: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvidenceRecord(Base):
    """Evidence a learner handed in for an activity, and its review."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), index=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    #: "text" | "link" | "file"
    kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    file_name: Mapped[str | None] = mapped_column(String(300))
    file_type: Mapped[str | None] = mapped_column(String(100))
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: "pending" | "approved" | "rejected"
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewer: Mapped[str | None] = mapped_column(String(320))
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AwardRecord(Base):
    """One award: which event earned which learner which achievement, and its credential.

    ``(source_kind, source_event_id)`` is unique, so the same event never awards twice;
    ``active_key`` is ``"<learner>:<achievement>"`` while a non-repeatable award is active and
    NULL otherwise, so a unique constraint keeps one active credential per achievement.
    """

    __tablename__ = "awards"
    __table_args__ = (UniqueConstraint("source_kind", "source_event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id"), index=True)
    #: evidence | organiser | teacher | lms | csv | playlist | attendance
    source_kind: Mapped[str] = mapped_column(String(20))
    source_event_id: Mapped[str] = mapped_column(String(300))
    active_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    approved_by: Mapped[str | None] = mapped_column(String(320))
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EndorsementRecord(Base):
    """An EndorsementCredential by one issuer about an achievement or another issuer."""

    __tablename__ = "endorsements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endorser_issuer_id: Mapped[int] = mapped_column(ForeignKey("issuers.id"), index=True)
    #: "achievement" | "issuer"
    target_kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxRecord(Base):
    """A follow-up of a committed change (LMS grade, notification, playlist check, status list
    publication), delivered by a worker with retries: written in the same transaction as the
    change, so nothing is lost; ``dedupe_key`` is unique, so nothing is queued twice."""

    __tablename__ = "outbox"
    # Workers look for due pending jobs; done jobs pile up and must not be scanned.
    __table_args__ = (Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    #: "pending" | "done" | "failed"
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HeldCredentialRecord(Base):
    """A credential a user keeps here through the Open Badges API (issued anywhere)."""

    __tablename__ = "held_credentials"
    __table_args__ = (UniqueConstraint("user_id", "credential_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: the credential's id, or a hash of its text when it has none (upsert key)
    credential_key: Mapped[str] = mapped_column(String(300))
    #: "json" (OpenBadgeCredential with an embedded proof) or "jwt" (compact VC-JWT)
    format: Mapped[str] = mapped_column(String(10))
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OAuthClientRecord(Base):
    """An Open Badges API client registered through OAuth 2.0 dynamic client registration."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(200))
    client_id_issued_at: Mapped[int] = mapped_column(Integer, default=0)
    client_secret_expires_at: Mapped[int] = mapped_column(Integer, default=0)
    client_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OAuthCodeRecord(Base):
    """An authorization code (PKCE) waiting to be exchanged."""

    __tablename__ = "oauth_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    client_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    redirect_uri: Mapped[str] = mapped_column(Text, default="")
    response_type: Mapped[str] = mapped_column(Text, default="")
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(Text)
    auth_time: Mapped[int] = mapped_column(Integer)
    code_challenge: Mapped[str | None] = mapped_column(Text)
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))


class OAuthTokenRecord(Base):
    """An access (and refresh) token issued to a client for a user."""

    __tablename__ = "oauth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_type: Mapped[str] = mapped_column(String(40), default="Bearer")
    access_token: Mapped[str] = mapped_column(String(255), unique=True)
    refresh_token: Mapped[str | None] = mapped_column(String(255), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[int] = mapped_column(Integer)
    access_token_revoked_at: Mapped[int] = mapped_column(Integer, default=0)
    refresh_token_revoked_at: Mapped[int] = mapped_column(Integer, default=0)
    expires_in: Mapped[int] = mapped_column(Integer, default=0)


class BulkAwardJobRecord(Base):
    """A CSV upload of awards: checked rows wait for the organiser's go-ahead (``preview``),
    then a worker awards them one by one (``queued`` → ``running`` → ``done``), counting as it
    goes. Each row awards with the source event ``<public_id>:<row>``, so a re-run never
    awards twice."""

    __tablename__ = "bulk_award_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuers.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(320))
    file_name: Mapped[str] = mapped_column(String(300), default="")
    #: "preview" | "queued" | "running" | "done" | "cancelled"
    state: Mapped[str] = mapped_column(String(10), default="preview")
    #: the rows to award: [{"row", "email", "name", "achievement", "evidence_url", ...}]
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: rows refused at upload: [{"row", "reason", ...}]
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: rows that failed while awarding: [{"row", "email", "reason"}]
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    done_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    #: rows already handled (awarded or failed): a resumed run starts after them
    next_row_index: Mapped[int] = mapped_column(Integer, default=0)
    #: a running worker renews this; a run whose lease lapsed may be resumed by another
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottleRecord(Base):
    """Failed log-ins of one account from one address (``key`` is a hash of both), kept in the
    database so every web worker sees the same count."""

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin): pysqlite's own handling starts the
    # transaction only at the first write, so a read-then-write could lose an update.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while one writer commits; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``database_url`` (``sqlite:///path`` or ``postgresql+psycopg://…``).

    Plain ``postgresql://`` URLs use psycopg 3. The SQLite file's folder is created if needed.
    """
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    if database_url.startswith("sqlite:///") and database_url != "sqlite:///:memory:":
        Path(database_url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(connection: Any) -> None:
    # Write transactions take the write lock up front (BEGIN IMMEDIATE), so two writers
    # serialise instead of both reading the same counter; reads stay deferred.
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def read_engine(engine: Engine) -> Engine:
    """The engine for read-only sessions. On PostgreSQL they run in autocommit: each read is
    its own statement-level snapshot, and a session costs no ``BEGIN``/``ROLLBACK`` round
    trips (two per page section otherwise: a launched page reads in several). Reads that must
    see one snapshot go through :func:`transaction`. SQLite's ``BEGIN`` costs no round trip,
    and its deferred read transaction keeps WAL's snapshot, so it is left as it is."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def write_engine(engine: Engine) -> Engine:
    """The engine for read-write transactions (SQLite: ``BEGIN IMMEDIATE``)."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def upgrade_database(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back everything on any error."""
    with sessions.begin() as session:
        yield session


# -- LTI 1.3 tool (registrations, launches) ----------------------------------------------------
# Every record below hangs off a platform registration and, except the tool's own keys and the
# launch cache, off one of its deployments: lookups always go through the deployment, so two
# platforms (or two deployments of one platform) never see each other's courses or links.


class LtiPlatformRecord(Base):
    """A platform (LMS) registration: our client id at its issuer, and where to reach it.

    Its keys come from ``key_set_url`` (fetched, refetched on an unknown ``kid``) or, for
    platforms without a JWKS endpoint, from the static ``key_set``."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500), index=True)
    client_id: Mapped[str] = mapped_column(String(300))
    auth_login_url: Mapped[str] = mapped_column(String(2000))
    auth_token_url: Mapped[str] = mapped_column(String(2000))
    #: the ``aud`` of our token requests when the platform wants another than the token URL
    auth_audience: Mapped[str | None] = mapped_column(String(2000))
    key_set_url: Mapped[str | None] = mapped_column(String(2000))
    key_set: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: the platform is trusted to assert its users' email addresses (they count as verified)
    email_trusted: Mapped[bool] = mapped_column(default=False)
    #: e.g. "moodle", "canvas" (from dynamic registration)
    product_family_code: Mapped[str | None] = mapped_column(String(100))
    #: "manual" | "dynamic"
    registered_via: Mapped[str] = mapped_column(String(10), default="manual")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiDeploymentRecord(Base):
    """A deployment of the tool on a platform (a site-wide install, or one course's)."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True
    )
    deployment_id: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiToolKeyRecord(Base):
    """One of the tool's own RSA key pairs (``kid`` is its JWK thumbprint). ``active`` signs;
    ``verifying`` is still published after a rotation; ``retired`` is no longer published."""

    __tablename__ = "lti_tool_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="active")
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    encrypted_private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LtiContextRecord(Base):
    """A course (LTI context) of one deployment, as its last launch described it."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("deployment_id", "context_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("lti_deployments.id", ondelete="CASCADE"), index=True
    )
    context_id: Mapped[str] = mapped_column(String(300))
    label: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(500))
    types: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiResourceLinkRecord(Base):
    """A course item that launches the tool; its custom parameters say which activity or
    playlist it shows."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("deployment_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("lti_deployments.id", ondelete="CASCADE"), index=True
    )
    context_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_contexts.id", ondelete="CASCADE"), index=True
    )
    resource_link_id: Mapped[str] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    activity_public_id: Mapped[str | None] = mapped_column(String(36))
    playlist_public_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiLineItemRecord(Base):
    """A gradebook column (AGS line item) of a course, usually tied to one resource link."""

    __tablename__ = "lti_line_items"
    __table_args__ = (UniqueConstraint("deployment_id", "line_item_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("lti_deployments.id", ondelete="CASCADE"), index=True
    )
    context_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_contexts.id", ondelete="CASCADE"), index=True
    )
    resource_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_resource_links.id", ondelete="CASCADE"), index=True
    )
    line_item_url: Mapped[str] = mapped_column(String(2000))
    label: Mapped[str | None] = mapped_column(String(300))
    score_maximum: Mapped[float | None] = mapped_column(Float)
    resource_id: Mapped[str | None] = mapped_column(String(300))
    tag: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiLaunchCacheRecord(Base):
    """Short-lived launch data shared by every web worker when there is no Redis: OIDC states
    and nonces (taken once), validated launches, platform key sets, service access tokens.
    ``expires_at`` is seconds since the epoch; expired rows are ignored and swept."""

    __tablename__ = "lti_launch_cache"

    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class LtiPlacementRecord(Base):
    """Who launched which course item: a learner, their LTI user id (``sub``) on the item's
    platform, and the gradebook column (line item) the last launch named. Grades go to the
    line items of these placements."""

    __tablename__ = "lti_placements"
    __table_args__ = (UniqueConstraint("resource_link_id", "learner_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(
        ForeignKey("lti_resource_links.id", ondelete="CASCADE")
    )
    #: the award path looks placements up by learner (one indexed query per award)
    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), index=True
    )
    line_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_line_items.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiGradeRecord(Base):
    """The grade of one learner on one line item: the score last sent (or being sent), its
    timestamp (each new one at least a second later: Moodle refuses a score that is not newer),
    and the delivery state. ``job_key`` is the newest ``lms_grade`` outbox job for it (older
    ones are superseded); ``handled_job_key`` the last job that got an answer from the LMS, so
    a redelivered job does not send twice; ``sending_job_key`` the last job whose score left,
    so a job whose answer was lost first asks the LMS what it holds."""

    __tablename__ = "lti_grades"
    __table_args__ = (UniqueConstraint("line_item_id", "learner_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("lti_line_items.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(255))
    #: "pending" | "sent" | "failed" (retrying is a pending grade whose job failed before)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    job_key: Mapped[str | None] = mapped_column(String(300))
    #: the job whose score last left for the LMS (its answer may have been lost)
    sending_job_key: Mapped[str | None] = mapped_column(String(300))
    handled_job_key: Mapped[str | None] = mapped_column(String(300))
    #: "Completed" (badge held) or "Initialized" (badge revoked: the score was withdrawn)
    activity_progress: Mapped[str | None] = mapped_column(String(20))
    score_given: Mapped[float | None] = mapped_column(Float)
    score_maximum: Mapped[float | None] = mapped_column(Float)
    timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
