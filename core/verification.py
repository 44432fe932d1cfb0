"""Verifying Open Badges: one entry point, a report with every check, never a bare boolean.

OB 3.0 checks run in the order of the spec's verification section (1EdTech OB 3.0 §9):
JWT proof → JSON Schema and types → JSON-LD contexts → embedded proof → issuer key →
validity dates → credential status → recipient. OB 2.0 badges go to :mod:`core.ob2_verification`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from core.credential_input import CredentialInput, read_credential_input
from core.errors import BadgeBridgeError, InvalidInput
from core.fetching import Fetcher
from core.key_resolution import KeyResolver
from core.proofs.data_integrity import ProofVerification
from core.report import CheckStatus, VerificationReport

if TYPE_CHECKING:
    from core.proofs.vc_jwt import JwtVerification
    from core.status_list import StatusResult

VC_V1 = "https://www.w3.org/2018/credentials/v1"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT_PREFIX = "https://purl.imsglobal.org/spec/ob/v3p0/context"
OB2_CONTEXTS = {"https://w3id.org/openbadges/v2", "https://openbadgespec.org/v2/context.json"}
OB3_TYPES = {"OpenBadgeCredential", "AchievementCredential", "EndorsementCredential"}

#: The sentences of the checks, by message id: ``Check.message`` is the sentence with its
#: ``%(name)s`` places filled from ``Check.params``. Pages say them in their own language by id
#: (:mod:`lti_tool.presentation`); the APIs and the CLI keep the English. Ids are stable: a
#: changed sentence keeps its id, a sentence that means something else gets a new one.
CHECK_MESSAGES: Final[Mapping[str, str]] = {
    "input.json": "A JSON credential.",
    "input.json_png": "A JSON credential from a baked PNG image.",
    "input.json_svg": "A JSON credential from a baked SVG image.",
    "input.jwt": "A VC-JWT credential.",
    "input.jwt_png": "A VC-JWT credential from a baked PNG image.",
    "input.jwt_svg": "A VC-JWT credential from a baked SVG image.",
    "input.not_shared": (
        "No badge is shared at %(address)s: there is none, or its holder keeps it private."
    ),
    "input.no_fetching": "Fetching badges by URL is not enabled here.",
    "input.not_loaded": "Could not load %(address)s: %(reason)s",
    "input.not_object": "Expected a JSON object for a credential.",
    "input.ob2_offline": (
        "This is an Open Badges 2.0 assertion; verifying it needs network access to its "
        "issuer, which is not enabled here."
    ),
    "schema.types": (
        "The type must include VerifiableCredential and OpenBadgeCredential "
        "(or AchievementCredential); found: %(types)s."
    ),
    "schema.ok": "Matches the Open Badges 3.0 JSON Schema.",
    "contexts.first": "The first @context must be %(v2)s (or %(v1)s for older credentials).",
    "contexts.no_ob3": "The Open Badges 3.0 context is missing from @context.",
    "contexts.ok": "Known contexts; every term is defined.",
    "proof.none": "The credential has no proof: it is not signed.",
    "proof.valid": "Valid %(suite)s signature by %(method)s (controller %(controller)s).",
    "proof.jwt_issuer_key": "Signature valid (%(algorithm)s) with the issuer's key %(key)s.",
    "proof.jwt_key": (
        "Signature valid (%(algorithm)s) with the key %(key)s (the issuer is unknown)."
    ),
    "issuer_key.jwt_unconfirmed": (
        "The JWT carries its own key, which could not be confirmed as one the issuer "
        "publishes (the issuer's keys could not be fetched)."
    ),
    "issuer_key.no_issuer": "The credential names no issuer id.",
    "issuer_key.unchecked": "Not checked: the signature did not verify.",
    "issuer_key.not_resolvable": (
        "The issuer id %(issuer)s cannot be looked up, so the signing key (%(controller)s) "
        "cannot be tied to the issuer. Trust it only if you know this key."
    ),
    "issuer_key.other": (
        "The signing key is controlled by %(controller)s, not by the issuer %(issuer)s."
    ),
    "issuer_key.ok": "Signed with a key of the issuer %(issuer)s.",
    "validity.not_a_date": "%(field)s is not a date-time with a timezone.",
    "validity.no_start": "The credential has no validFrom (issuance) date.",
    "validity.not_yet": "Not valid yet: valid from %(start)s.",
    "validity.expired": "Expired on %(end)s.",
    "validity.ok": "Valid from %(start)s.",
    "validity.ok_until": "Valid from %(start)s until %(end)s.",
    "status.none": "The credential has no status entry; it cannot be revoked.",
    "status.disabled": "Status not checked (disabled).",
    "status.offline": "Status could not be checked: network access is off.",
    "status.unchecked": "Status could not be checked: %(reason)s",
    "status.not_revoked": "Not revoked (%(list_kind)s %(list)s, index %(index)s).",
    "status.not_suspended": "Not suspended (%(list_kind)s %(list)s, index %(index)s).",
    "status.revoked": (
        "The issuer has revoked this credential (%(list_kind)s %(list)s, index %(index)s)."
    ),
    "status.suspended": (
        "The issuer has suspended this credential (%(list_kind)s %(list)s, index %(index)s)."
    ),
    "status.not_revoked_1edtech": "Not revoked (1EdTech revocation list %(list)s).",
    "status.revoked_1edtech": (
        "The issuer has revoked this credential (1EdTech revocation list %(list)s)"
    ),
    "status.revoked_1edtech_reason": (
        "The issuer has revoked this credential (1EdTech revocation list %(list)s): %(reason)s"
    ),
    "recipient.none_given": "No recipient given to compare with.",
    "recipient.no_subject": "The credential has no credentialSubject.",
    "recipient.ok": "Awarded to %(recipient)s.",
    "recipient.other": "Not awarded to %(recipient)s.",
}
#: How the status list kinds are named in status messages, by credentialStatus type.
_STATUS_LIST_KINDS: Final = {
    "BitstringStatusListEntry": "Bitstring Status List",
    "StatusList2021Entry": "StatusList2021",
}


def _say(
    report: VerificationReport,
    check_id: str,
    title: str,
    status: CheckStatus,
    message_id: str,
    **params: object,
) -> None:
    """Add a check whose message is the sentence ``message_id`` (:data:`CHECK_MESSAGES`)."""
    texts = {name: str(value) for name, value in params.items()}
    message = CHECK_MESSAGES[message_id] % texts
    report.add(check_id, title, status, message, message_id=message_id, params=texts)


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
    _say(report, "input", "Readable badge", CheckStatus.FAIL, "input.not_shared", address=address)
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
            _say(report, "input", "Readable badge", CheckStatus.FAIL, "input.no_fetching")
            return report
        try:
            fetched = options.fetcher.fetch(
                received.text, accept="application/ld+json, application/json, */*"
            )
            received = read_credential_input(fetched.body)
        except BadgeBridgeError as exc:
            _say(
                report,
                "input",
                "Readable badge",
                CheckStatus.FAIL,
                "input.not_loaded",
                address=received.text,
                reason=exc.message,
            )
            return report
    where = {"png": "_png", "svg": "_svg"}.get(received.source, "")
    if received.kind == "jwt":
        return _verify_jwt_input(received.text, options, report, where)
    document = received.document
    if is_ob2(document):
        return _verify_ob2(document, options, report)
    if not isinstance(document, dict):
        _say(report, "input", "Readable badge", CheckStatus.FAIL, "input.not_object")
        return report
    report.format = "ob3-json"
    _say(report, "input", "Readable badge", CheckStatus.PASS, f"input.json{where}")
    return verify_ob3_document(document, options, report, embedded_proof=True)


def _verify_ob2(
    document: Any, options: VerificationOptions, report: VerificationReport
) -> VerificationReport:
    from core.ob2_verification import verify_ob2

    if options.fetcher is None:
        report.format = "ob2"
        _say(report, "input", "Readable badge", CheckStatus.FAIL, "input.ob2_offline")
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
    _say(report, "input", "Readable badge", CheckStatus.PASS, f"input.jwt{where}")
    result = decode_vc_jwt(token, options.resolver)
    if not result.ok or result.credential is None:
        report.failed("proof", "Signature (VC-JWT)", result.message)
        report.credential = result.credential
        return report
    report.passed("proof", "Signature (VC-JWT)", result.message, **_jwt_message_id(result))
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
        proof_count = len(_as_list(document.get("proof")))
        controller = _report_embedded_proof(proof, report, proof_count)
        _check_issuer_key(document, controller, report)
    elif jwt_controller is None:
        _say(
            report,
            "issuer-key",
            "Key belongs to the issuer",
            CheckStatus.WARN,
            "issuer_key.jwt_unconfirmed",
        )
    else:
        _check_issuer_key(document, jwt_controller, report)
    _check_dates(document, options, report)
    _check_status(document, options, report)
    _check_recipient(document, options, report)
    return report


def _check_schema(document: dict[str, Any], report: VerificationReport) -> None:
    from core.schema_validation import validate_ob3_schema

    title = "Open Badges 3.0 structure"
    types = {t for t in _as_list(document.get("type")) if isinstance(t, str)}
    if "VerifiableCredential" not in types or not types & OB3_TYPES:
        found = ", ".join(sorted(types)) or "none"
        _say(report, "schema", title, CheckStatus.FAIL, "schema.types", types=found)
        return
    problems = validate_ob3_schema(document)
    if problems:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        report.failed("schema", title, shown + more)
    else:
        _say(report, "schema", title, CheckStatus.PASS, "schema.ok")


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
        _say(report, "contexts", title, CheckStatus.FAIL, "contexts.first", v2=VC_V2, v1=VC_V1)
        return
    if not any(isinstance(c, str) and c.startswith(OB3_CONTEXT_PREFIX) for c in contexts):
        _say(report, "contexts", title, CheckStatus.FAIL, "contexts.no_ob3")
        return
    if not terms_checked:
        # Proofs are checked by their own suite (an unknown proof type is skipped, not refused).
        unsigned = {k: v for k, v in document.items() if k != "proof"}
        try:
            check_terms(unsigned, extra_contexts=options.extra_contexts)
        except BadgeBridgeError as exc:
            report.failed("contexts", title, exc.message)
            return
    _say(report, "contexts", title, CheckStatus.PASS, "contexts.ok")


def _verify_embedded_proof(
    document: dict[str, Any], options: VerificationOptions
) -> ProofVerification | None:
    """The proof's verification, or None when the credential carries no proof."""
    from core.proofs.data_integrity import verify_proof

    if "proof" not in document:
        return None
    return verify_proof(document, options.resolver, extra_contexts=options.extra_contexts)


def _report_embedded_proof(
    result: ProofVerification | None, report: VerificationReport, proof_count: int
) -> str | None:
    title = "Signature (Data Integrity proof)"
    if result is None:
        _say(report, "proof", title, CheckStatus.FAIL, "proof.none")
        return None
    if result.ok:
        ids: dict[str, Any] = {}
        if proof_count == 1 and result.verification_method and result.controller:
            # One proof: the sentence is exactly "Valid … signature by … (controller …)."
            # (with several, it also says what became of the others, in English only).
            params = {
                "suite": str(result.cryptosuite),
                "method": result.verification_method,
                "controller": result.controller,
            }
            ids = {"message_id": "proof.valid", "params": params}
        report.passed("proof", title, result.message, **ids)
        return result.controller
    report.failed("proof", title, result.message)
    return None


def _check_issuer_key(
    document: dict[str, Any], controller: str | None, report: VerificationReport
) -> None:
    title = "Key belongs to the issuer"
    issuer_id = _id_of(document.get("issuer"))
    if issuer_id is None:
        _say(report, "issuer-key", title, CheckStatus.FAIL, "issuer_key.no_issuer")
        return
    if controller is None:
        _say(report, "issuer-key", title, CheckStatus.SKIP, "issuer_key.unchecked")
        return
    keys = {"issuer": issuer_id, "controller": controller}
    if controller != issuer_id and not issuer_id.startswith(("https://", "http://", "did:")):
        # A urn:uuid (or similar) issuer id cannot be resolved, so no key can be tied to it.
        _say(report, "issuer-key", title, CheckStatus.WARN, "issuer_key.not_resolvable", **keys)
        return
    if controller != issuer_id:
        _say(report, "issuer-key", title, CheckStatus.FAIL, "issuer_key.other", **keys)
        return
    _say(report, "issuer-key", title, CheckStatus.PASS, "issuer_key.ok", issuer=issuer_id)


def _check_dates(
    document: dict[str, Any], options: VerificationOptions, report: VerificationReport
) -> None:
    title = "Validity period"
    now = options.now or datetime.now(UTC)
    start_key = "validFrom" if "validFrom" in document else "issuanceDate"
    end_key = "validUntil" if "validUntil" in document else "expirationDate"
    start_raw, end_raw = document.get(start_key), document.get(end_key)
    start, end = parse_datetime(start_raw), parse_datetime(end_raw)
    fail = CheckStatus.FAIL
    if start_raw is not None and start is None:
        _say(report, "validity", title, fail, "validity.not_a_date", field=start_key)
        return
    if end_raw is not None and end is None:
        _say(report, "validity", title, fail, "validity.not_a_date", field=end_key)
        return
    if start is None:
        _say(report, "validity", title, fail, "validity.no_start")
        return
    if start > now:
        _say(report, "validity", title, fail, "validity.not_yet", start=start_raw)
        return
    if end is not None and end < now:
        _say(report, "validity", title, fail, "validity.expired", end=end_raw)
        return
    if end is not None:
        _say(
            report,
            "validity",
            title,
            CheckStatus.PASS,
            "validity.ok_until",
            start=start_raw,
            end=end_raw,
        )
    else:
        _say(report, "validity", title, CheckStatus.PASS, "validity.ok", start=start_raw)


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
        _say(report, "status", title, CheckStatus.SKIP, "status.none")
        return
    if not options.check_status:
        _say(report, "status", title, CheckStatus.SKIP, "status.disabled")
        return
    if options.status_list_source is None:
        _say(report, "status", title, CheckStatus.WARN, "status.offline")
        return
    messages: list[str] = []
    results: list[tuple[Any, StatusResult]] = []
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
            _say(report, "status", title, CheckStatus.FAIL, "status.unchecked", reason=exc.message)
            return
        if not result.ok:
            report.failed("status", title, result.message, **_status_message_id(entry, result))
            return
        messages.append(result.message)
        results.append((entry, result))
    # One entry (as every credential issued here has): its sentence can be said in words.
    ids = _status_message_id(*results[0]) if len(results) == 1 else {}
    report.passed("status", title, " ".join(messages), **ids)


def _check_recipient(
    document: dict[str, Any], options: VerificationOptions, report: VerificationReport
) -> None:
    from core.recipient import credential_subject_matches

    title = "Awarded to this person"
    if options.recipient is None:
        _say(report, "recipient", title, CheckStatus.SKIP, "recipient.none_given")
        return
    subject = document.get("credentialSubject")
    if not isinstance(subject, dict):
        _say(report, "recipient", title, CheckStatus.FAIL, "recipient.no_subject")
        return
    try:
        matched = credential_subject_matches(subject, options.recipient)
    except InvalidInput as exc:
        report.failed("recipient", title, exc.message)
        return
    if matched:
        _say(
            report,
            "recipient",
            title,
            CheckStatus.PASS,
            "recipient.ok",
            recipient=options.recipient,
        )
    else:
        _say(
            report,
            "recipient",
            title,
            CheckStatus.FAIL,
            "recipient.other",
            recipient=options.recipient,
        )


def _status_message_id(entry: Any, result: StatusResult) -> dict[str, Any]:
    """The message id and params of a status list's sentence, read from what the check found
    (never from its words); empty for a ``message`` list, whose words are the issuer's."""
    from core.status_list import StatusState

    types = _as_list(entry.get("type")) if isinstance(entry, dict) else []
    state, purpose = result.state, result.purpose
    if "1EdTechRevocationList" in types:
        params = {"list": result.list_url}
        if state is StatusState.OK:
            return {"message_id": "status.not_revoked_1edtech", "params": params}
        if result.reason:
            params["reason"] = result.reason
            return {"message_id": "status.revoked_1edtech_reason", "params": params}
        return {"message_id": "status.revoked_1edtech", "params": params}
    kind = next((_STATUS_LIST_KINDS[t] for t in types if t in _STATUS_LIST_KINDS), None)
    if kind is None or result.index is None or purpose not in ("revocation", "suspension"):
        return {}
    params = {"list_kind": kind, "list": result.list_url, "index": str(result.index)}
    if state is StatusState.OK:
        message_id = "status.not_revoked" if purpose == "revocation" else "status.not_suspended"
    else:
        message_id = "status.revoked" if state is StatusState.REVOKED else "status.suspended"
    return {"message_id": message_id, "params": params}


def _jwt_message_id(result: JwtVerification) -> dict[str, Any]:
    """The message id and params of a verified VC-JWT's sentence, when its key was named by
    ``kid`` (a key embedded in the header is described in English only)."""
    if result.key_source != "kid" or not result.key_id or not result.algorithm:
        return {}
    message_id = "proof.jwt_issuer_key" if result.issuer_key_confirmed else "proof.jwt_key"
    params = {"algorithm": result.algorithm, "key": result.key_id}
    return {"message_id": message_id, "params": params}
