"""Verification reports: every check with pass/fail/skip and a message a person understands."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CheckStatus(StrEnum):
    """Outcome of one check."""

    PASS = "pass"  # noqa: S105 (not a password)
    FAIL = "fail"
    SKIP = "skip"
    WARN = "warn"


@dataclass(frozen=True)
class Check:
    """One named check. ``id`` is stable (for machines), ``title`` and ``message`` are for people.

    ``message_id`` names the sentence ``message`` is (see
    :data:`core.verification.CHECK_MESSAGES`) and ``params`` fills its ``%(name)s`` places, so
    pages can say it in their own language; None when the sentence comes from elsewhere (then
    only the English ``message`` exists)."""

    id: str
    title: str
    status: CheckStatus
    message: str
    message_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "message": self.message,
        }


@dataclass
class VerificationReport:
    """The outcome of verifying one credential: valid only when no check failed."""

    format: str = "unknown"
    checks: list[Check] = field(default_factory=list)
    credential: dict[str, Any] | None = None

    def add(
        self,
        id: str,
        title: str,
        status: CheckStatus,
        message: str,
        *,
        message_id: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Check:
        check = Check(id, title, status, message, message_id, dict(params or {}))
        self.checks.append(check)
        return check

    def passed(self, id: str, title: str, message: str, **ids: Any) -> Check:
        return self.add(id, title, CheckStatus.PASS, message, **ids)

    def failed(self, id: str, title: str, message: str, **ids: Any) -> Check:
        return self.add(id, title, CheckStatus.FAIL, message, **ids)

    def skipped(self, id: str, title: str, message: str, **ids: Any) -> Check:
        return self.add(id, title, CheckStatus.SKIP, message, **ids)

    def warned(self, id: str, title: str, message: str, **ids: Any) -> Check:
        return self.add(id, title, CheckStatus.WARN, message, **ids)

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.status is not CheckStatus.FAIL for c in self.checks)

    def check(self, id: str) -> Check | None:
        """The check with this id, if it ran."""
        return next((c for c in self.checks if c.id == id), None)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status is CheckStatus.FAIL]

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "format": self.format,
            "checks": [c.as_dict() for c in self.checks],
            "credential": self.credential,
        }
