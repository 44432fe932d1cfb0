"""What the pages show about a badge: its name, description, issuer and date, read defensively
from an OB 3.0 credential or an OB 2.0 assertion (either may be incomplete or hostile).

Display only: nothing here decides whether a badge is valid; :mod:`core` does that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.report import CheckStatus, VerificationReport

#: Longest text shown for any one field (a hostile badge may carry megabytes of "name").
MAX_SHOWN_CHARS = 500

STATUS_LABELS = {
    CheckStatus.PASS: "Pass",
    CheckStatus.FAIL: "Fail",
    CheckStatus.SKIP: "Skipped",
    CheckStatus.WARN: "Warning",
}

FORMAT_LABELS = {
    "ob3-json": "Open Badges 3.0 (JSON with embedded proof)",
    "ob3-jwt": "Open Badges 3.0 (VC-JWT)",
    "ob2-hosted": "Open Badges 2.0 (hosted assertion)",
    "ob2-signed": "Open Badges 2.0 (signed assertion)",
    "ob2": "Open Badges 2.0",
    "unknown": "Not recognised",
}


@dataclass(frozen=True)
class BadgeSummary:
    """The facts a person looks for first; any may be unknown (None)."""

    name: str | None
    description: str | None
    issuer_name: str | None
    issuer_id: str | None
    issued: str | None
    valid_until: str | None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:MAX_SHOWN_CHARS]
    return None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _subject(credential: dict[str, Any]) -> dict[str, Any]:
    subject = credential.get("credentialSubject")
    if isinstance(subject, list) and subject:
        subject = subject[0]
    return _object(subject)


def summarise(credential: Any) -> BadgeSummary:
    """The summary of an OB 3.0 credential or OB 2.0 assertion (all None for anything else)."""
    document = _object(credential)
    achievement = _object(_subject(document).get("achievement"))
    badge_class = _object(document.get("badge"))  # OB 2.0, when the BadgeClass is embedded
    issuer = document.get("issuer", badge_class.get("issuer"))
    issuer_object = _object(issuer)
    return BadgeSummary(
        name=_text(achievement.get("name"))
        or _text(document.get("name"))
        or _text(badge_class.get("name")),
        description=_text(achievement.get("description"))
        or _text(document.get("description"))
        or _text(badge_class.get("description")),
        issuer_name=_text(issuer_object.get("name")),
        issuer_id=_text(issuer) or _text(issuer_object.get("id")),
        issued=_text(document.get("validFrom"))
        or _text(document.get("issuanceDate"))
        or _text(document.get("issuedOn")),
        valid_until=_text(document.get("validUntil"))
        or _text(document.get("expirationDate"))
        or _text(document.get("expires")),
    )


def report_summary(report: VerificationReport) -> BadgeSummary:
    """The summary of the credential a verification report read (all None if it read none)."""
    return summarise(report.credential)
