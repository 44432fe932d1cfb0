"""Configuration from the environment. Every setting is documented in README.md."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Process-wide settings, read once from environment variables."""

    data_dir: Path
    database_url: str
    base_url: str
    key_encryption_key: str | None
    allow_private_fetch: bool
    fetch_timeout_seconds: float
    allowed_fetch_hosts: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls) -> Settings:
        """Read settings from ``BADGEBRIDGE_*`` and ``DATABASE_URL``."""
        data_dir = Path(os.environ.get("BADGEBRIDGE_DATA_DIR", "var")).resolve()
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'badgebridge.db'}"
        hosts = os.environ.get("BADGEBRIDGE_FETCH_ALLOW_HOSTS", "")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            base_url=os.environ.get("BADGEBRIDGE_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            key_encryption_key=os.environ.get("BADGEBRIDGE_KEY_ENCRYPTION_KEY"),
            allow_private_fetch=_flag("BADGEBRIDGE_FETCH_ALLOW_PRIVATE"),
            fetch_timeout_seconds=float(os.environ.get("BADGEBRIDGE_FETCH_TIMEOUT", "10")),
            allowed_fetch_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()),
        )
