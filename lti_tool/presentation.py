"""What the pages show about a badge: its name, description, issuer and date, read defensively
from an OB 3.0 credential or an OB 2.0 assertion (either may be incomplete or hostile).

Display only: nothing here decides whether a badge is valid; :mod:`core` does that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.report import Check, CheckStatus, VerificationReport
from lti_tool.i18n import N_, gettext, lazy_gettext

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


#: The sentences of the verification checks, by message id: core's English
#: (:data:`core.verification.CHECK_MESSAGES`, kept equal by a test) marked here for translation,
#: since the catalogue is extracted from ``lti_tool`` only.
CHECK_MESSAGE_TEXTS: dict[str, str] = {
    "input.json": N_("A JSON credential."),
    "input.json_png": N_("A JSON credential from a baked PNG image."),
    "input.json_svg": N_("A JSON credential from a baked SVG image."),
    "input.jwt": N_("A VC-JWT credential."),
    "input.jwt_png": N_("A VC-JWT credential from a baked PNG image."),
    "input.jwt_svg": N_("A VC-JWT credential from a baked SVG image."),
    "input.not_shared": N_(
        "No badge is shared at %(address)s: there is none, or its holder keeps it private."
    ),
    "input.no_fetching": N_("Fetching badges by URL is not enabled here."),
    "input.not_loaded": N_("Could not load %(address)s: %(reason)s"),
    "input.not_object": N_("Expected a JSON object for a credential."),
    "input.ob2_offline": N_(
        "This is an Open Badges 2.0 assertion; verifying it needs network access to its "
        "issuer, which is not enabled here."
    ),
    "schema.types": N_(
        "The type must include VerifiableCredential and OpenBadgeCredential (or "
        "AchievementCredential); found: %(types)s."
    ),
    "schema.ok": N_("Matches the Open Badges 3.0 JSON Schema."),
    "contexts.first": N_("The first @context must be %(v2)s (or %(v1)s for older credentials)."),
    "contexts.no_ob3": N_("The Open Badges 3.0 context is missing from @context."),
    "contexts.ok": N_("Known contexts; every term is defined."),
    "proof.none": N_("The credential has no proof: it is not signed."),
    "proof.valid": N_("Valid %(suite)s signature by %(method)s (controller %(controller)s)."),
    "proof.jwt_issuer_key": N_("Signature valid (%(algorithm)s) with the issuer's key %(key)s."),
    "proof.jwt_key": N_(
        "Signature valid (%(algorithm)s) with the key %(key)s (the issuer is unknown)."
    ),
    "issuer_key.jwt_unconfirmed": N_(
        "The JWT carries its own key, which could not be confirmed as one the issuer "
        "publishes (the issuer's keys could not be fetched)."
    ),
    "issuer_key.no_issuer": N_("The credential names no issuer id."),
    "issuer_key.unchecked": N_("Not checked: the signature did not verify."),
    "issuer_key.not_resolvable": N_(
        "The issuer id %(issuer)s cannot be looked up, so the signing key "
        "(%(controller)s) cannot be tied to the issuer. Trust it only if you know this "
        "key."
    ),
    "issuer_key.other": N_(
        "The signing key is controlled by %(controller)s, not by the issuer %(issuer)s."
    ),
    "issuer_key.ok": N_("Signed with a key of the issuer %(issuer)s."),
    "validity.not_a_date": N_("%(field)s is not a date-time with a timezone."),
    "validity.no_start": N_("The credential has no validFrom (issuance) date."),
    "validity.not_yet": N_("Not valid yet: valid from %(start)s."),
    "validity.expired": N_("Expired on %(end)s."),
    "validity.ok": N_("Valid from %(start)s."),
    "validity.ok_until": N_("Valid from %(start)s until %(end)s."),
    "status.none": N_("The credential has no status entry; it cannot be revoked."),
    "status.disabled": N_("Status not checked (disabled)."),
    "status.offline": N_("Status could not be checked: network access is off."),
    "status.unchecked": N_("Status could not be checked: %(reason)s"),
    "status.not_revoked": N_("Not revoked (%(list_kind)s %(list)s, index %(index)s)."),
    "status.not_suspended": N_("Not suspended (%(list_kind)s %(list)s, index %(index)s)."),
    "status.revoked": N_(
        "The issuer has revoked this credential (%(list_kind)s %(list)s, index %(index)s)."
    ),
    "status.suspended": N_(
        "The issuer has suspended this credential (%(list_kind)s %(list)s, index %(index)s)."
    ),
    "status.not_revoked_1edtech": N_("Not revoked (1EdTech revocation list %(list)s)."),
    "status.revoked_1edtech": N_(
        "The issuer has revoked this credential (1EdTech revocation list %(list)s)"
    ),
    "status.revoked_1edtech_reason": N_(
        "The issuer has revoked this credential (1EdTech revocation list %(list)s): %(reason)s"
    ),
    "recipient.none_given": N_("No recipient given to compare with."),
    "recipient.no_subject": N_("The credential has no credentialSubject."),
    "recipient.ok": N_("Awarded to %(recipient)s."),
    "recipient.other": N_("Not awarded to %(recipient)s."),
}


def check_message(check: Check) -> str:
    """The sentence of a verification check in the page's language, said from its message id
    and params; a sentence without an id (or with one this module does not know) stays in
    core's English."""
    template = CHECK_MESSAGE_TEXTS.get(check.message_id or "")
    if template is None:
        return check.message
    try:
        return gettext(template) % check.params
    except (KeyError, TypeError, ValueError):  # params that do not fit: core's words are right
        return check.message


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
