"""Persistence: SQLAlchemy 2 tables and engine set-up.

SQLite (WAL) is the embedded default; PostgreSQL (``DATABASE_URL``) is production. The schema is
owned by Alembic migrations in ``core/migrations``; :func:`upgrade_database` applies them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
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
