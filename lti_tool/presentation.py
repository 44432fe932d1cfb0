"""What the pages show about a badge: its name, description, issuer and date, read defensively
from an OB 3.0 credential or an OB 2.0 assertion (either may be incomplete or hostile).

Display only: nothing here decides whether a badge is valid; :mod:`core` does that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.report import Check, CheckStatus, VerificationReport
from lti_tool.i18n import lazy_gettext

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


#: The titles of the verification checks (core words them in English), by check id: those of
#: Open Badges 3.0 (:mod:`core.verification`) and of Open Badges 2.0
#: (:mod:`core.ob2_verification`).
CHECK_TITLES: dict[str, Any] = {
    "input": lazy_gettext("Readable badge"),
    "jwt": lazy_gettext("VC-JWT conventions"),
    "schema": lazy_gettext("Open Badges 3.0 structure"),
    "contexts": lazy_gettext("JSON-LD contexts"),
    "proof": lazy_gettext("Signature"),
    "issuer-key": lazy_gettext("Key belongs to the issuer"),
    "validity": lazy_gettext("Validity period"),
    "status": lazy_gettext("Not revoked or suspended"),
    "recipient": lazy_gettext("Awarded to this person"),
    "json": lazy_gettext("Readable assertion"),
    "hosted_copy": lazy_gettext("Hosted copy from the issuer"),
    "properties": lazy_gettext("Required properties"),
    "badge_class": lazy_gettext("Badge class"),
    "issuer": lazy_gettext("Issuer profile"),
    "verification": lazy_gettext("Verification"),
    "revocation": lazy_gettext("Not revoked"),
    "dates": lazy_gettext("Dates"),
}
#: Checks whose core title says more than their id: the kind of signature, Open Badges 2.0's
#: recipient check, a presentation's own checks.
CHECK_TITLE_VARIANTS: dict[tuple[str, str], Any] = {
    ("proof", "Signature (Data Integrity proof)"): lazy_gettext("Signature (Data Integrity proof)"),
    ("proof", "Signature (VC-JWT)"): lazy_gettext("Signature (VC-JWT)"),
    ("proof", "Holder's signature"): lazy_gettext("Holder's signature"),
    ("recipient", "Recipient"): lazy_gettext("Recipient"),
    ("input", "Readable presentation"): lazy_gettext("Readable presentation"),
}


def check_title(check: Check) -> str:
    """The title of a verification check in the page's language; a check this module does
    not know keeps the title core gave it."""
    title = CHECK_TITLE_VARIANTS.get((check.id, check.title), CHECK_TITLES.get(check.id))
    return check.title if title is None else str(title)


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
