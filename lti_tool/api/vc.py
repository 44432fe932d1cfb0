"""The W3C VC-API: issue (``POST /credentials/issue``), verify a credential
(``POST /credentials/verify``) and verify a presentation (``POST /presentations/verify``).

Issuing needs an access token with the ``issue`` scope from the client credentials grant of a
client an administrator registered for one issuer; it signs for that issuer only. Verifying is
open, like the verify page. Errors are RFC 9457 problem documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from core.errors import BadgeBridgeError, InvalidInput, NotFound
from core.json_input import parse_json_object
from core.proofs.data_integrity import verify_proof
from core.report import Check, CheckStatus, VerificationReport
from core.service import PROOF_FORMATS, STATUS_PURPOSES, IssuedCredential
from core.verification import parse_datetime
from lti_tool.api.bearer import BearerRefused
from lti_tool.api.oauth import api_state
from lti_tool.api.oauth_store import ISSUE_SCOPE
from lti_tool.api.responses import problem
from lti_tool.negotiation import json_response
from lti_tool.web import badge_service

vc_api = Blueprint("vc_api", __name__)

VC_V2 = "https://www.w3.org/ns/credentials/v2"
ENVELOPED_CREDENTIAL = "EnvelopedVerifiableCredential"
JWT_DATA_URL_PREFIXES = ("data:application/vc+jwt,", "data:application/jwt,")
#: Properties of ``credential`` an issue request may set; the service fills in the rest.
ISSUE_CREDENTIAL_KEYS = frozenset(
    {"@context", "type", "issuer", "credentialSubject", "name", "validUntil"}
)
ISSUED_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
ISSUE_SUBJECT_KEYS = frozenset({"type", "id", "identifier", "achievement"})
ISSUE_OPTION_KEYS = frozenset({"proofFormat", "statusPurpose", "credentialId"})
#: VC Data Model 2.0 §7.1 error types for the checks of a verification report.
VC_ERROR_TYPES = {
    "input": "https://www.w3.org/TR/vc-data-model#PARSING_ERROR",
    "schema": "https://www.w3.org/TR/vc-data-model#MALFORMED_VALUE_ERROR",
    "contexts": "https://www.w3.org/TR/vc-data-model#MALFORMED_VALUE_ERROR",
    "proof": "https://www.w3.org/TR/vc-data-model#CRYPTOGRAPHIC_SECURITY_ERROR",
    "issuer-key": "https://www.w3.org/TR/vc-data-model#CRYPTOGRAPHIC_SECURITY_ERROR",
    "jwt": "https://www.w3.org/TR/vc-data-model#CRYPTOGRAPHIC_SECURITY_ERROR",
    "validity": "https://www.w3.org/TR/vc-data-model#RANGE_ERROR",
}


# -- errors ---------------------------------------------------------------------------------------


@vc_api.errorhandler(BearerRefused)
def _bearer_refused(error: BearerRefused) -> Response:
    return problem(
        error.status, error.description, headers={"WWW-Authenticate": error.www_authenticate}
    )


@vc_api.errorhandler(BadgeBridgeError)
def _badge_error(error: BadgeBridgeError) -> Response:
    return problem(404 if isinstance(error, NotFound) else 400, error.message)


@vc_api.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return problem(error.code or 500, error.description or error.name)


@vc_api.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    current_app.logger.exception("Unexpected error in the VC-API", exc_info=error)
    return problem(500, "Something went wrong on our side. Please try again later.")


def _json_body() -> dict[str, Any]:
    if (request.mimetype or "") not in ("application/json", "application/ld+json"):
        raise InvalidInput("Send the request as application/json.")
    return parse_json_object(request.get_data(as_text=True))


# -- verification results -------------------------------------------------------------------------


def _check_line(check: Check) -> str:
    return f"{check.title}: {check.message}"


def _problem_details(checks: list[Check]) -> list[dict[str, str]]:
    return [
        {
            "type": VC_ERROR_TYPES.get(c.id, f"urn:badgebridge:check:{c.id}"),
            "title": c.title,
            "detail": c.message,
        }
        for c in checks
        if c.status is CheckStatus.FAIL
    ]


def credential_result(report: VerificationReport) -> dict[str, Any]:
    """A verification report in the VC-API's shape: ``verified``, the ``checks`` that passed,
    ``errors`` and ``warnings`` (as text), ``problemDetails`` (VC Data Model error types), the
    ``credential`` as read, and our full ``report`` (every check with its status)."""
    full = report.as_dict()
    credential = full.pop("credential")
    return {
        "verified": report.valid,
        "checks": [c.id for c in report.checks if c.status is CheckStatus.PASS],
        "errors": [_check_line(c) for c in report.checks if c.status is CheckStatus.FAIL],
        "warnings": [_check_line(c) for c in report.checks if c.status is CheckStatus.WARN],
        "problemDetails": _problem_details(report.checks),
        "credential": credential,
        "report": full,
    }


def _credential_text(value: Any) -> str:
    """A credential from a request: an embedded JSON credential, an enveloped VC-JWT (data
    URL), or a compact JWT as a string."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise InvalidInput("verifiableCredential must be a credential (a JSON object).")
    types = value.get("type")
    if types == ENVELOPED_CREDENTIAL or (isinstance(types, list) and ENVELOPED_CREDENTIAL in types):
        data_url = value.get("id")
        if isinstance(data_url, str):
            for prefix in JWT_DATA_URL_PREFIXES:
                if data_url.startswith(prefix):
                    return data_url[len(prefix) :]
        raise InvalidInput(
            "An EnvelopedVerifiableCredential's id must be a data: URL of a VC-JWT "
            "(data:application/vc+jwt,<jwt>)."
        )
    return json.dumps(value, ensure_ascii=False)


@vc_api.post("/credentials/verify")
def verify_credential() -> Response:
    """Verify one credential: the VC-API result with our full report (200 also when the
    credential does not verify: the request was handled)."""
    body = _json_body()
    if "verifiableCredential" not in body:
        raise InvalidInput('Send {"verifiableCredential": <the credential>, "options": {}}.')
    report = badge_service().verify(_credential_text(body["verifiableCredential"]))
    return json_response(credential_result(report), vary=False)


# -- presentations --------------------------------------------------------------------------------


@dataclass
class _PresentationChecks:
    """The presentation's own checks, as a report of their own."""

    report: VerificationReport
    results: dict[str, Any]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _holder_id(presentation: dict[str, Any]) -> str | None:
    holder = presentation.get("holder")
    if isinstance(holder, dict):
        holder = holder.get("id")
    return holder if isinstance(holder, str) else None


def _check_presentation(
    presentation: dict[str, Any], *, challenge: str | None, domain: str | None
) -> _PresentationChecks:
    """The presentation's proof (proofPurpose ``authentication``), its challenge and domain,
    and that the holder signed it."""
    report = VerificationReport(format="vp")
    results: dict[str, Any] = {}
    types = _as_list(presentation.get("type"))
    if "VerifiablePresentation" not in types:
        report.failed("input", "Readable presentation", "The type is not VerifiablePresentation.")
        return _PresentationChecks(report, results)
    report.passed("input", "Readable presentation", "A VerifiablePresentation.")
    proofs = [p for p in _as_list(presentation.get("proof")) if isinstance(p, dict)]
    holder = _holder_id(presentation)
    if not proofs:
        if challenge is not None or domain is not None:
            report.failed(
                "proof",
                "Holder's signature",
                "The presentation has no proof, so the challenge or domain cannot be checked.",
            )
        else:
            report.warned(
                "proof",
                "Holder's signature",
                "The presentation has no proof: nothing shows who presented it.",
            )
        return _PresentationChecks(report, results)
    verified = verify_proof(
        presentation, badge_service().resolver, expected_purpose="authentication"
    )
    results["proof"] = [{"valid": verified.ok, "input": proof} for proof in proofs]
    if verified.ok:
        report.passed("proof", "Holder's signature", verified.message)
    else:
        report.failed("proof", "Holder's signature", verified.message)
    # The proof that verified (or the first one) carries the challenge and domain it signed.
    signed = next(
        (p for p in proofs if p.get("verificationMethod") == verified.verification_method),
        proofs[0],
    )
    if challenge is not None:
        ok = signed.get("challenge") == challenge
        results["challenge"] = {"valid": ok, "input": challenge}
        if ok:
            report.passed("challenge", "Challenge", "The proof answers the challenge.")
        else:
            report.failed(
                "challenge", "Challenge", "The proof does not answer this challenge (a replay?)."
            )
    if domain is not None:
        ok = domain in _as_list(signed.get("domain"))
        results["domain"] = {"valid": ok, "input": domain}
        if ok:
            report.passed("domain", "Domain", f"The proof was made for {domain}.")
        else:
            report.failed("domain", "Domain", f"The proof was not made for {domain}.")
    if holder is not None and verified.ok:
        ok = verified.controller == holder
        results["holder"] = {"valid": ok, "input": holder}
        if ok:
            report.passed("holder", "Holder", f"Signed by the holder {holder}.")
        else:
            report.failed(
                "holder",
                "Holder",
                f"Signed by {verified.controller}, not by the holder {holder}.",
            )
    return _PresentationChecks(report, results)


@vc_api.post("/presentations/verify")
def verify_presentation() -> Response:
    """Verify a presentation: its proof (when present; challenge and domain checked when
    given in ``options``) and every credential in it."""
    body = _json_body()
    presentation = body.get("verifiablePresentation", body.get("presentation"))
    if not isinstance(presentation, dict):
        raise InvalidInput(
            'Send {"verifiablePresentation": <the presentation>, "options": {"challenge": ..., '
            '"domain": ...}}.'
        )
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidInput("options must be a JSON object.")
    challenge, domain = options.get("challenge"), options.get("domain")
    for name, value in (("challenge", challenge), ("domain", domain)):
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"options.{name} must be text.")
    own = _check_presentation(presentation, challenge=challenge, domain=domain)
    service = badge_service()
    credential_results = [
        credential_result(service.verify(_credential_text(item)))
        for item in _as_list(presentation.get("verifiableCredential"))
    ]
    presentation_result = credential_result(own.report)
    presentation_result.pop("credential")
    presentation_result["results"] = own.results
    verified = own.report.valid and all(r["verified"] for r in credential_results)
    result = {
        "verified": verified,
        "presentationResult": presentation_result,
        "credentialResults": credential_results,
        "problemDetails": [
            *presentation_result["problemDetails"],
            *(p for r in credential_results for p in r["problemDetails"]),
        ],
    }
    if options.get("returnPresentation") is True:
        result["verifiablePresentation"] = presentation
    return json_response(result, vary=False)


# -- issuing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueRequest:
    """What an issue request asks for, checked."""

    achievement: dict[str, Any]
    recipient_email: str
    name: str | None
    valid_until: Any
    proof_format: str | None
    status_purpose: str


def _recipient_email(subject: dict[str, Any]) -> str:
    """The recipient's email: an unhashed ``emailAddress`` identifier (OB 3.0
    IdentityObject), or a ``mailto:`` subject id. The credential carries it hashed."""
    for entry in _as_list(subject.get("identifier")):
        if (
            isinstance(entry, dict)
            and entry.get("identityType") == "emailAddress"
            and not entry.get("hashed")
            and isinstance(entry.get("identityHash"), str)
        ):
            return str(entry["identityHash"]).strip()
    subject_id = subject.get("id")
    if isinstance(subject_id, str) and subject_id.startswith("mailto:"):
        return subject_id[len("mailto:") :].strip()
    raise InvalidInput(
        "Name the recipient: credentialSubject.identifier with an IdentityObject "
        '{"identityType": "emailAddress", "hashed": false, "identityHash": "<email>"} '
        '(or credentialSubject.id "mailto:<email>"). The issued credential holds it hashed.'
    )


def read_issue_request(body: dict[str, Any], issuer_profile_id: str) -> IssueRequest:
    """Check an issue request (``credential`` + ``options``) for the client's issuer."""
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise InvalidInput('Send {"credential": <the unsigned credential>, "options": {}}.')
    unknown = sorted(set(credential) - ISSUE_CREDENTIAL_KEYS)
    if unknown:
        raise InvalidInput(
            "These credential properties cannot be set through this API: "
            + ", ".join(unknown)
            + ". The issuer sets id, validFrom, credentialStatus and the proof."
        )
    types = _as_list(credential.get("type", ISSUED_TYPES))
    if not set(types) & {"OpenBadgeCredential", "AchievementCredential"}:
        raise InvalidInput("This issuer issues Open Badges: type must include OpenBadgeCredential.")
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if issuer is not None and issuer_id != issuer_profile_id:
        raise InvalidInput(
            f"This client issues for {issuer_profile_id} only; the credential names {issuer_id!r}."
        )
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict):
        raise InvalidInput("credentialSubject must be one JSON object.")
    unknown = sorted(set(subject) - ISSUE_SUBJECT_KEYS)
    if unknown:
        raise InvalidInput(
            "These credentialSubject properties cannot be set through this API: "
            + ", ".join(unknown)
            + "."
        )
    achievement = subject.get("achievement")
    if not isinstance(achievement, dict):
        raise InvalidInput("credentialSubject.achievement must be an Achievement object.")
    name = credential.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidInput("name must be text.")
    valid_until = None
    if credential.get("validUntil") is not None:
        valid_until = parse_datetime(credential["validUntil"])
        if valid_until is None:
            raise InvalidInput("validUntil must be a date-time with a timezone.")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidInput("options must be a JSON object.")
    unknown = sorted(set(options) - ISSUE_OPTION_KEYS)
    if unknown:
        raise InvalidInput("Unknown options: " + ", ".join(unknown) + ".")
    if "credentialId" in options:
        raise InvalidInput("credentialId is not supported: the issuer assigns the credential id.")
    proof_format = options.get("proofFormat")
    if proof_format is not None and proof_format not in PROOF_FORMATS:
        raise InvalidInput("options.proofFormat is rdfc, jcs or jwt.")
    status_purpose = options.get("statusPurpose", "revocation")
    if status_purpose not in STATUS_PURPOSES:
        raise InvalidInput("options.statusPurpose is revocation or suspension.")
    return IssueRequest(
        achievement=achievement,
        recipient_email=_recipient_email(subject),
        name=name,
        valid_until=valid_until,
        proof_format=proof_format,
        status_purpose=status_purpose,
    )


def _issued_body(issued: IssuedCredential) -> dict[str, Any]:
    if issued.proof_format == "jwt":
        return {
            "verifiableCredential": {
                "@context": VC_V2,
                "id": f"{JWT_DATA_URL_PREFIXES[0]}{issued.text}",
                "type": ENVELOPED_CREDENTIAL,
            }
        }
    return {"verifiableCredential": issued.document}


@vc_api.post("/credentials/issue")
def issue_credential() -> Response:
    """Issue a credential for the token's issuer (201 with the signed credential; a VC-JWT
    comes as an EnvelopedVerifiableCredential)."""
    state = api_state()
    token = state.bearer.token_for(ISSUE_SCOPE)
    client = state.store.client(token.client_id)
    slug = client.issuer_slug if client is not None else None
    if slug is None:
        raise BearerRefused(
            403,
            "insufficient_scope",
            "This token's client is not registered to issue for an issuer.",
            'Bearer error="insufficient_scope", scope="issue"',
        )
    service = badge_service()
    asked = read_issue_request(_json_body(), service.issuer_profile_id(slug))
    issued = service.issue(
        slug,
        asked.achievement,
        asked.recipient_email,
        proof_format=asked.proof_format,
        valid_until=asked.valid_until,
        name=asked.name,
        status_purpose=asked.status_purpose,
    )
    response = json_response(_issued_body(issued), status=201, vary=False)
    response.headers["Location"] = issued.credential_id
    return response


__all__ = ["credential_result", "read_issue_request", "vc_api"]
