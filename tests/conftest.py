"""Shared fixtures: paths to the standards data, and a badge service on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from core.config import Settings
from core.keys import new_key_encryption_key
from core.service import BadgeService
from core.storage import make_engine

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
STANDARDS = SHARED / "standards"
VECTORS = STANDARDS / "vectors"

POSTGRES_URL = os.environ.get(
    "BADGEBRIDGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def make_settings(tmp_path: Path, database_url: str | None = None) -> Settings:
    """Settings for a test: its own data folder, a fresh key-encryption key, no network."""
    return Settings(
        data_dir=tmp_path,
        database_url=database_url or f"sqlite:///{tmp_path / 'test.db'}",
        base_url="http://badges.test",
        key_encryption_key=new_key_encryption_key(),
        allow_private_fetch=False,
        fetch_timeout_seconds=5.0,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database: a SQLite file, or a private schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def service(settings: Settings) -> Iterator[BadgeService]:
    """A migrated badge service with no network access."""
    badge_service = BadgeService(settings)
    badge_service.upgrade()
    yield badge_service
    badge_service.engine.dispose()


@pytest.fixture
def sqlite_service(tmp_path: Path) -> Iterator[BadgeService]:
    """The same on SQLite only, for tests that do not touch database behaviour."""
    badge_service = BadgeService(make_settings(tmp_path))
    badge_service.upgrade()
    yield badge_service
    badge_service.engine.dispose()


__all__ = ["SHARED", "STANDARDS", "VECTORS", "make_settings", "replace"]
