"""The public pages: home, verify, issuer profiles and their keys, status lists, credentials.

Views translate HTTP to :class:`core.service.BadgeService` calls and back; every decision about
badges, keys and status lives in :mod:`core`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from flask import Blueprint, Response, current_app, render_template, request, url_for

from core.did import did_web_from_url
from core.errors import InvalidInput, KeyProblem, NotFound
from core.json_input import parse_json_object
from core.keys import VerificationKey, controller_document, public_jwks
from core.limits import MAX_IMAGE_BYTES
from core.proofs.vc_jwt import peek_jwt_payload
from core.service import BadgeService
from lti_tool.csrf import is_simple_form_request, require_csrf_token
from lti_tool.negotiation import (
    HTML,
    JSON,
    JSON_LD,
    JWT,
    VC_JSON_LD,
    VC_JWT,
    json_response,
    preferred,
    problem_response,
    wants_machine_readable,
)
from lti_tool.presentation import FORMAT_LABELS, STATUS_LABELS, report_summary, summarise

pages = Blueprint("pages", __name__)

SERVICE_EXTENSION = "badgebridge.service"
#: Published keys and DID documents change only on rotation; status lists change on revocation,
#: so verifiers should not hold them long.
KEYS_CACHE_CONTROL = "public, max-age=300"
DID_JSON = "application/did+json"
DID_JSON_LD = "application/did+ld+json"
STATUS_LIST_CACHE_CONTROL = "public, max-age=60"


def badge_service() -> BadgeService:
    """The service this app was created with."""
    return cast(BadgeService, current_app.extensions[SERVICE_EXTENSION])


@pages.app_context_processor
def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "format_labels": FORMAT_LABELS}


# -- home -------------------------------------------------------------------------------------


@pages.get("/")
def home() -> str:
    """What badgebridge is, the issuers here, and the way to the verify page."""
    return render_template("home.html", issuers=badge_service().list_issuers())


# -- verify -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _VerifyRequest:
    """What was posted to /verify: the badge (text or file bytes), the optional recipient, and
    the pasted text to show again in the form."""

    data: bytes | str
    recipient: str | None
    pasted: str


def _optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _read_verify_form() -> _VerifyRequest:
    """The form: pasted text (JSON, JWT or URL) or an uploaded file, not both."""
    pasted = request.form.get("badge", "")
    recipient = _optional(request.form.get("recipient"))
    upload = request.files.get("file")
    if upload is not None and not upload.filename:
        upload = None  # the browser sends an empty file part when no file was chosen
    if upload is not None and pasted.strip():
        raise InvalidInput("Choose one: paste a badge or upload a file, not both.")
    if upload is not None:
        # MAX_CONTENT_LENGTH already bounds the request; read one byte more to report a file
        # that alone is too large with the same words core uses.
        data = upload.stream.read(MAX_IMAGE_BYTES + 1)
        if not data:
            raise InvalidInput(f"The file {upload.filename!r} is empty.")
        return _VerifyRequest(data, recipient, pasted)
    if not pasted.strip():
        raise InvalidInput("Paste a badge (JSON, JWT or a URL) or choose a file to verify.")
    return _VerifyRequest(pasted, recipient, pasted)


def _read_verify_api_body() -> _VerifyRequest:
    """A program's request: ``{"credential": <object or text>, "recipient": "..."}`` as JSON,
    or the badge itself as the body (JWT text, PNG or SVG) with ``?recipient=``."""
    recipient = _optional(request.args.get("recipient"))
    body = request.get_data(cache=False)
    if request.mimetype == JSON:
        envelope = parse_json_object(body)
        credential = envelope.get("credential")
        if isinstance(credential, dict):
            credential = json.dumps(credential, ensure_ascii=False)
        if not isinstance(credential, str):
            raise InvalidInput(
                'Send {"credential": <the credential JSON, a JWT or a URL>, "recipient": '
                '"<optional email>"}.'
            )
        given = envelope.get("recipient")
        if given is not None and not isinstance(given, str):
            raise InvalidInput("The recipient must be text (an email address).")
        return _VerifyRequest(credential, _optional(given) or recipient, "")
    return _VerifyRequest(body, recipient, "")


@pages.route("/verify", methods=["GET", "POST"])
def verify() -> Response | str | tuple[str, int]:
    """The verify form, and the verification report for what was posted to it."""
    if request.method == "GET":
        return render_template("verify.html", report=None, pasted="", recipient="")
    form_post = is_simple_form_request()
    if form_post:
        require_csrf_token()
    try:
        posted = _read_verify_form() if form_post else _read_verify_api_body()
    except InvalidInput as problem:
        if wants_machine_readable() or not form_post:
            return problem_response(400, problem.message)
        page = render_template(
            "verify.html",
            report=None,
            error=problem.message,
            pasted=request.form.get("badge", ""),
            recipient=request.form.get("recipient", ""),
        )
        return page, 400
    report = badge_service().verify(posted.data, recipient=posted.recipient)
    if wants_machine_readable() or not form_post:
        return json_response(report.as_dict())
    return render_template(
        "verify.html",
        report=report,
        summary=report_summary(report),
        pasted=posted.pasted,
        recipient=posted.recipient or "",
    )


# -- issuers ----------------------------------------------------------------------------------


@pages.get("/issuers/<slug>")
def issuer(slug: str) -> Response | str:
    """The issuer's profile: a page for people, the JSON-LD Profile for programs."""
    service = badge_service()
    kind = preferred(HTML, JSON_LD, JSON)
    if kind != HTML:
        return json_response(service.issuer_profile(slug), mimetype=kind)
    response = Response(
        render_template(
            "issuer.html",
            issuer=service.get_issuer(slug),
            keys=service.list_keys(slug),
            did=_issuer_did(slug, required=False),
        )
    )
    response.vary.add("Accept")
    return response


def _issuer_did(slug: str, *, required: bool) -> str | None:
    """The issuer's did:web (None when the base URL cannot be one, e.g. an IP address)."""
    url = badge_service().issuer_profile_id(slug)
    try:
        return did_web_from_url(url)
    except KeyProblem as problem:
        if required:
            raise NotFound(
                f"This server has no did:web identifiers: {problem.message} "
                "Set BADGEBRIDGE_BASE_URL to the site's public https address."
            ) from problem
        return None


@pages.get("/issuers/<slug>/did.json")
def issuer_did_document(slug: str) -> Response:
    """The did:web DID document: the issuer's published keys under its did:web identifier."""
    service = badge_service()
    keys = service.issuer_verification_keys(slug)  # NotFound first for an unknown issuer
    did = _issuer_did(slug, required=True)
    assert did is not None  # required=True raises instead
    renamed = [
        VerificationKey(
            f"{did}#{key.verification_method.partition('#')[2]}", key.algorithm, key.public_key
        )
        for key in keys
    ]
    document = controller_document(did, renamed)
    document["alsoKnownAs"] = [service.issuer_profile_id(slug)]
    kind = preferred(DID_JSON, DID_JSON_LD, JSON)
    response = json_response(document, mimetype=kind)
    response.headers["Cache-Control"] = KEYS_CACHE_CONTROL
    return response


@pages.get("/issuers/<slug>/jwks.json")
def issuer_jwks(slug: str) -> Response:
    """The issuer's non-retired public keys as a JWKS (``kid`` is the verification method)."""
    document = public_jwks(badge_service().issuer_verification_keys(slug))
    response = json_response(document, mimetype=JSON, vary=False)
    response.headers["Cache-Control"] = KEYS_CACHE_CONTROL
    return response


# -- status lists -----------------------------------------------------------------------------


@pages.get("/status/<int:list_id>")
def status_list(list_id: int) -> Response:
    """The signed BitstringStatusListCredential; plain JSON only for clients that insist."""
    document = badge_service().status_list_document(list_id)
    kind = preferred(VC_JSON_LD, JSON_LD, JSON)
    response = json_response(document, mimetype=kind)
    response.headers["Cache-Control"] = STATUS_LIST_CACHE_CONTROL
    response.add_etag()
    response.make_conditional(request)  # 304 Not Modified for a matching If-None-Match
    return response


# -- credentials ------------------------------------------------------------------------------


def _credential_summary_source(document: dict[str, Any] | str) -> Any:
    """The JSON to summarise: the credential, or a JWT's payload (the VC itself, or under
    ``vc`` in VC Data Model 1.1 JWTs). Display only: the report says whether to trust it."""
    if isinstance(document, dict):
        return document
    try:
        payload = peek_jwt_payload(document)
    except InvalidInput:
        return None
    vc = payload.get("vc")
    return vc if isinstance(vc, dict) else payload


@pages.get("/credentials/<token>")
def credential(token: str) -> Response | str:
    """A credential issued here: its page with a live verification report, or the credential
    itself (JSON, or the JWT) for programs."""
    service = badge_service()
    issued = service.get_credential(service.credential_url(token))
    is_jwt = issued.proof_format == "jwt"
    offered = (HTML, VC_JWT, JWT) if is_jwt else (HTML, VC_JSON_LD, JSON_LD, JSON)
    kind = preferred(*offered)
    if kind != HTML:
        return _credential_body(issued.text, kind, attachment=None)
    report = service.verify(issued.text)
    summary = report_summary(report)
    if summary.name is None:
        summary = summarise(_credential_summary_source(issued.document))
    response = Response(
        render_template(
            "credential.html",
            credential_id=issued.credential_id,
            proof_format=issued.proof_format,
            report=report,
            summary=summary,
            download_url=url_for("pages.credential_download", token=token),
        )
    )
    response.vary.add("Accept")
    return response


@pages.get("/credentials/<token>/download")
def credential_download(token: str) -> Response:
    """The credential as a file: ``badge-<token>.json`` or ``badge-<token>.jwt``."""
    service = badge_service()
    issued = service.get_credential(service.credential_url(token))
    if issued.proof_format == "jwt":
        return _credential_body(issued.text, VC_JWT, attachment=f"badge-{token}.jwt")
    return _credential_body(issued.text, VC_JSON_LD, attachment=f"badge-{token}.json")


def _credential_body(text: str, mimetype: str, *, attachment: str | None) -> Response:
    response = Response(text.rstrip("\n") + "\n", mimetype=mimetype)
    response.vary.add("Accept")
    if attachment is not None:
        response.headers.set("Content-Disposition", "attachment", filename=attachment)
    return response
