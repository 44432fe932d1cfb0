"""Verifying Open Badges: one entry point, a report with every check, never a bare boolean.

OB 3.0 checks run in the order of the spec's verification section (1EdTech OB 3.0 §9):
JWT proof → JSON Schema and types → JSON-LD contexts → embedded proof → issuer key →
validity dates → credential status → recipient. OB 2.0 badges go to :mod:`core.ob2_verification`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.credential_input import CredentialInput, read_credential_input
from core.errors import BadgeBridgeError, InvalidInput
from core.fetching import Fetcher
from core.key_resolution import KeyResolver
from core.proofs.data_integrity import ProofVerification
from core.report import CheckStatus, VerificationReport

VC_V1 = "https://www.w3.org/2018/credentials/v1"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT_PREFIX = "https://purl.imsglobal.org/spec/ob/v3p0/context"
OB2_CONTEXTS = {"https://w3id.org/openbadges/v2", "https://openbadgespec.org/v2/context.json"}
OB3_TYPES = {"OpenBadgeCredential", "AchievementCredential", "EndorsementCredential"}


@dataclass(frozen=True)
class StatusListDocument:
    """A status list credential as found: a JSON object or a JWT, and whether it is already
    trusted (read from our own database) or must have its proof verified first."""

    content: dict[str, Any] | str
    trusted: bool


#: A status list lookup: URL → the status list credential.
StatusListSource = Callable[[str], StatusListDocument]


@dataclass
class VerificationOptions:
    """What a verification may use: key resolution, network access, the clock, a recipient."""

    resolver: KeyResolver
    fetcher: Fetcher | None = None
    status_list_source: StatusListSource | None = None
    recipient: str | None = None
    now: datetime | None = None
    extra_contexts: Mapping[str, Any] = field(default_factory=dict)
    check_status: bool = True


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def parse_datetime(value: Any) -> datetime | None:
    """An RFC 3339 date-time with timezone, or None when absent/unparseable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def is_ob2(document: Any) -> bool:
    """True for an OB 2.0 assertion (its context is the Open Badges v2 context)."""
    if not isinstance(document, dict):
        return False
    contexts = _as_list(document.get("@context"))
    return any(c in OB2_CONTEXTS for c in contexts if isinstance(c, str))


def verify_credential(data: bytes | str, options: VerificationOptions) -> VerificationReport:
    """Verify whatever a person handed us: JSON, JWT, baked PNG/SVG or a URL.

    Never raises for a bad badge: problems are failed checks in the report.
    """
    report = VerificationReport()
    try:
        received = read_credential_input(data)
    except BadgeBridgeError as exc:
        report.failed("input", "Readable badge", exc.message)
        return report
    return verify_received(received, options, report)


def credential_not_found_report(address: str) -> VerificationReport:
    """The report for the address of a credential that is not shared here: unknown, or kept
    private by its holder (the two are told apart by no one)."""
    report = VerificationReport()
    report.failed(
        "input",
        "Readable badge",
        f"No badge is shared at {address}: there is none, or its holder keeps it private.",
    )
    return report


def verify_received(
    received: CredentialInput,
    options: VerificationOptions,
    report: VerificationReport | None = None,
) -> VerificationReport:
    """Verify an already classified input."""
    report = report or VerificationReport()
    if received.kind == "url":
        if options.fetcher is None:
            report.failed("input", "Readable badge", "Fetching badges by URL is not enabled here.")
            return report
        try:
            fetched = options.fetcher.fetch(
                received.text, accept="application/ld+json, application/json, */*"
            )
            received = read_credential_input(fetched.body)
        except BadgeBridgeError as exc:
            report.failed(
                "input", "Readable badge", f"Could not load {received.text}: {exc.message}"
            )
            return report
    where = {"png": "from a baked PNG image", "svg": "from a baked SVG image"}.get(
        received.source, ""
    )
    if received.kind == "jwt":
        return _verify_jwt_input(received.text, options, report, where)
    document = received.document
    if is_ob2(document):
        return _verify_ob2(document, options, report)
    if not isinstance(document, dict):
        report.failed("input", "Readable badge", "Expected a JSON object for a credential.")
        return report
    report.format = "ob3-json"
    report.passed("input", "Readable badge", f"A JSON credential {where}".strip() + ".")
    return verify_ob3_document(document, options, report, embedded_proof=True)


def _verify_ob2(
    document: Any, options: VerificationOptions, report: VerificationReport
) -> VerificationReport:
    from core.ob2_verification import verify_ob2

    if options.fetcher is None:
        report.format = "ob2"
        report.failed(
            "input",
            "Readable badge",
            "This is an Open Badges 2.0 assertion; verifying it needs network access to its "
            "issuer, which is not enabled here.",
        )
        return report
    ob2 = verify_ob2(
        document, fetcher=options.fetcher, recipient=options.recipient, now=options.now
    )
    report.format = ob2.format
    report.checks.extend(ob2.checks)
    report.credential = ob2.credential
    return report


def _verify_jwt_input(
    token: str, options: VerificationOptions, report: VerificationReport, where: str
) -> VerificationReport:
    from core.proofs.vc_jwt import decode_vc_jwt, peek_jwt_payload

    try:
        payload = peek_jwt_payload(token)
    except BadgeBridgeError as exc:
        report.failed("input", "Readable badge", exc.message)
        return report
    if is_ob2(payload):
        return _verify_ob2(token, options, report)
    report.format = "ob3-jwt"
    report.passed("input", "Readable badge", f"A VC-JWT credential {where}".strip() + ".")
    result = decode_vc_jwt(token, options.resolver)
    if not result.ok or result.credential is None:
        report.failed("proof", "Signature (VC-JWT)", result.message)
        report.credential = result.credential
        return report
    report.passed("proof", "Signature (VC-JWT)", result.message)
    for warning in result.warnings:
        report.warned("jwt", "VC-JWT conventions", warning)
    controller: str | None = None
    if result.key_source == "kid" and result.key_id:
        controller = result.key_id.split("#", 1)[0]
    elif result.issuer_key_confirmed:
        controller = _id_of(result.credential.get("issuer"))
    return verify_ob3_document(
        result.credential, options, report, embedded_proof=False, jwt_controller=controller
    )


def verify_ob3_document(
    document: dict[str, Any],
    options: VerificationOptions,
    report: VerificationReport,
    *,
    embedded_proof: bool,
    jwt_controller: str | None = None,
) -> VerificationReport:
    """Run the OB 3.0 checks on a parsed credential (the JWT signature, if any, already checked)."""
    report.credential = document
    _check_schema(document, report)
    # The proof is verified first but reported after the contexts: every suite we verify
    # refuses undefined terms in the document, so a verified proof has checked them already.
    proof = _verify_embedded_proof(document, options) if embedded_proof else None
    terms_checked = proof is not None and proof.ok
    _check_contexts(document, options, report, terms_checked=terms_checked)
    if embedded_proof:
        controller = _report_embedded_proof(proof, report)
        _check_issuer_key(document, controller, report)
    elif jwt_controller is None:
        report.warned(
            "issuer-key",
            "Key belongs to the issuer",
            "The JWT carries its own key, which could not be confirmed as one the issuer "
            "publishes (the issuer's keys could not be fetched).",
        )
    else:
        _check_issuer_key(document, jwt_controller, report)
    _check_dates(document, options, report)
    _check_status(document, options, report)
    _check_recipient(document, options, report)
    return report


def _check_schema(document: dict[str, Any], report: VerificationReport) -> None:
    from core.schema_validation import validate_ob3_schema

    types = {t for t in _as_list(document.get("type")) if isinstance(t, str)}
    if "VerifiableCredential" not in types or not types & OB3_TYPES:
        report.failed(
            "schema",
            "Open Badges 3.0 structure",
            "The type must include VerifiableCredential and OpenBadgeCredential "
            f"(or AchievementCredential); found: {', '.join(sorted(types)) or 'none'}.",
        )
        return
    problems = validate_ob3_schema(document)
    if problems:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        report.failed("schema", "Open Badges 3.0 structure", shown + more)
    else:
        report.passed(
            "schema", "Open Badges 3.0 structure", "Matches the Open Badges 3.0 JSON Schema."
        )


def _check_contexts(
    document: dict[str, Any],
    options: VerificationOptions,
    report: VerificationReport,
    *,
    terms_checked: bool = False,
) -> None:
    from core.jsonld import check_terms

    contexts = _as_list(document.get("@context"))
    title = "JSON-LD contexts"
    if not contexts or contexts[0] not in (VC_V1, VC_V2):
        report.failed(
            "contexts",
            title,
            f"The first @context must be {VC_V2} (or {VC_V1} for older credentials).",
        )
        return
    if not any(isinstance(c, str) and c.startswith(OB3_CONTEXT_PREFIX) for c in contexts):
        report.failed("contexts", title, "The Open Badges 3.0 context is missing from @context.")
        return
    if not terms_checked:
        # Proofs are checked by their own suite (an unknown proof type is skipped, not refused).
        unsigned = {k: v for k, v in document.items() if k != "proof"}
        try:
            check_terms(unsigned, extra_contexts=options.extra_contexts)
        except BadgeBridgeError as exc:
            report.failed("contexts", title, exc.message)
            return
    report.passed("contexts", title, "Known contexts; every term is defined.")


def _verify_embedded_proof(
    document: dict[str, Any], options: VerificationOptions
) -> ProofVerification | None:
    """The proof's verification, or None when the credential carries no proof."""
    from core.proofs.data_integrity import verify_proof

    if "proof" not in document:
        return None
    return verify_proof(document, options.resolver, extra_contexts=options.extra_contexts)


def _report_embedded_proof(
    result: ProofVerification | None, report: VerificationReport
) -> str | None:
    title = "Signature (Data Integrity proof)"
    if result is None:
        report.failed("proof", title, "The credential has no proof: it is not signed.")
        return None
    if result.ok:
        report.passed("proof", title, result.message)
        return result.controller
    report.failed("proof", title, result.message)
    return None


def _check_issuer_key(
    document: dict[str, Any], controller: str | None, report: VerificationReport
) -> None:
    title = "Key belongs to the issuer"
    issuer_id = _id_of(document.get("issuer"))
    if issuer_id is None:
        report.failed("issuer-key", title, "The credential names no issuer id.")
        return
    if controller is None:
        report.skipped("issuer-key", title, "Not checked: the signature did not verify.")
        return
    if controller != issuer_id and not issuer_id.startswith(("https://", "http://", "did:")):
        # A urn:uuid (or similar) issuer id cannot be resolved, so no key can be tied to it.
        report.warned(
            "issuer-key",
            title,
            f"The issuer id {issuer_id} cannot be looked up, so the signing key ({controller}) "
            "cannot be tied to the issuer. Trust it only if you know this key.",
        )
        return
    if controller != issuer_id:
        report.failed(
            "issuer-key",
            title,
            f"The signing key is controlled by {controller}, not by the issuer {issuer_id}.",
        )
        return
    report.passed("issuer-key", title, f"Signed with a key of the issuer {issuer_id}.")


def _check_dates(
    document: dict[str, Any], options: VerificationOptions, report: VerificationReport
) -> None:
    title = "Validity period"
    now = options.now or datetime.now(UTC)
    start_key = "validFrom" if "validFrom" in document else "issuanceDate"
    end_key = "validUntil" if "validUntil" in document else "expirationDate"
    start_raw, end_raw = document.get(start_key), document.get(end_key)
    start, end = parse_datetime(start_raw), parse_datetime(end_raw)
    if start_raw is not None and start is None:
        report.failed("validity", title, f"{start_key} is not a date-time with a timezone.")
        return
    if end_raw is not None and end is None:
        report.failed("validity", title, f"{end_key} is not a date-time with a timezone.")
        return
    if start is None:
        report.failed("validity", title, "The credential has no validFrom (issuance) date.")
        return
    if start > now:
        report.failed("validity", title, f"Not valid yet: valid from {start_raw}.")
        return
    if end is not None and end < now:
        report.failed("validity", title, f"Expired on {end_raw}.")
        return
    until = f" until {end_raw}" if end is not None else ""
    report.passed("validity", title, f"Valid from {start_raw}{until}.")


def _verified_status_list(
    url: str, issuer_id: str | None, options: VerificationOptions
) -> dict[str, Any]:
    """Fetch a status list credential and check its proof and issuer before it is believed."""
    from core.proofs.data_integrity import verify_proof
    from core.proofs.vc_jwt import decode_vc_jwt

    if options.status_list_source is None:  # pragma: no cover - checked by the caller
        raise InvalidInput("Status lists cannot be fetched here.")
    found = options.status_list_source(url)
    content = found.content
    if isinstance(content, str):
        jwt = decode_vc_jwt(content, options.resolver)
        if not jwt.ok or jwt.credential is None:
            raise InvalidInput(f"The status list's signature does not verify: {jwt.message}")
        document, controller = jwt.credential, (jwt.kid or "").split("#", 1)[0]
    else:
        document = content
        if found.trusted:
            controller = _id_of(document.get("issuer")) or ""
        else:
            proof = verify_proof(document, options.resolver, extra_contexts=options.extra_contexts)
            if not proof.ok:
                raise InvalidInput(f"The status list's signature does not verify: {proof.message}")
            controller = proof.controller or ""
    list_issuer = _id_of(document.get("issuer"))
    if controller != list_issuer or (issuer_id is not None and list_issuer != issuer_id):
        raise InvalidInput(
            f"The status list at {url} is not signed by the credential's issuer {issuer_id}."
        )
    return document


def _check_status(
    document: dict[str, Any], options: VerificationOptions, report: VerificationReport
) -> None:
    from core.status_list import check_1edtech_revocation, check_status

    title = "Not revoked or suspended"
    entries = _as_list(document.get("credentialStatus"))
    if not entries:
        report.skipped("status", title, "The credential has no status entry; it cannot be revoked.")
        return
    if not options.check_status:
        report.skipped("status", title, "Status not checked (disabled).")
        return
    if options.status_list_source is None:
        report.add(
            "status", title, CheckStatus.WARN, "Status could not be checked: network access is off."
        )
        return
    messages: list[str] = []
    issuer_id = _id_of(document.get("issuer"))
    source = options.status_list_source

    def fetch_list(url: str) -> dict[str, Any]:
        return _verified_status_list(url, issuer_id, options)

    def fetch_json(url: str) -> Any:
        return source(url).content

    for entry in entries:
        try:
            types = _as_list(entry.get("type")) if isinstance(entry, dict) else []
            if "1EdTechRevocationList" in types:
                result = check_1edtech_revocation(entry, fetch_json, str(document.get("id", "")))
            else:
                result = check_status(entry, fetch_list, now=options.now)
        except BadgeBridgeError as exc:
            report.failed("status", title, f"Status could not be checked: {exc.message}")
            return
        if not result.ok:
            report.failed("status", title, result.message)
            return
        messages.append(result.message)
    report.passed("status", title, " ".join(messages))


def _check_recipient(
    document: dict[str, Any], options: VerificationOptions, report: VerificationReport
) -> None:
    from core.recipient import credential_subject_matches

    title = "Awarded to this person"
    if options.recipient is None:
        report.skipped("recipient", title, "No recipient given to compare with.")
        return
    subject = document.get("credentialSubject")
    if not isinstance(subject, dict):
        report.failed("recipient", title, "The credential has no credentialSubject.")
        return
    try:
        matched = credential_subject_matches(subject, options.recipient)
    except InvalidInput as exc:
        report.failed("recipient", title, exc.message)
        return
    if matched:
        report.passed("recipient", title, f"Awarded to {options.recipient}.")
    else:
        report.failed("recipient", title, f"Not awarded to {options.recipient}.")
