"""The public pages: home, verify, issuer profiles and their keys, status lists, credentials
(page, downloads, baked image, certificate, evidence files); the catalogue's pages are in
:mod:`lti_tool.catalogue_pages`, on the same blueprint.

Views translate HTTP to :class:`core.service.BadgeService` calls and back; every decision about
badges, keys and status lives in :mod:`core`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, cast

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from core.accounts import UserView
from core.catalogue import AchievementView
from core.did import did_web_from_url
from core.errors import InvalidInput, KeyProblem, NotFound
from core.json_input import parse_json_object
from core.keys import VerificationKey, controller_document, public_jwks
from core.learner_badges import CredentialFacts
from core.limits import MAX_IMAGE_BYTES
from core.proofs.vc_jwt import peek_jwt_payload
from core.service import BadgeService, IssuedCredential
from lti_tool.badge_images import badge_svg, baked_badge_png
from lti_tool.credential_display import (
    achievement_of,
    credential_json,
    criteria_of,
    evidence_of,
    image_url_of,
    levels,
    linkedin_url,
    parse_timestamp,
    skill_groups,
)
from lti_tool.csrf import is_simple_form_request, require_csrf_token
from lti_tool.i18n import N_, current_locale
from lti_tool.i18n import gettext as _
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
#: The issuer page lists this many upcoming activities (the activities page has them all).
ISSUER_ACTIVITIES_SHOWN = 20


def badge_service() -> BadgeService:
    """The service this app was created with."""
    return cast(BadgeService, current_app.extensions[SERVICE_EXTENSION])


@pages.app_context_processor
def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "format_labels": FORMAT_LABELS}


# -- home -------------------------------------------------------------------------------------


@pages.get("/")
def home() -> str:
    """What badgebridge is, the issuers here, the ways to activities, to the verify page and
    (for people who earn badges) to their own badges."""
    service = badge_service()
    user = signed_in_user()
    holds_badges = (
        user is not None and service.learner_badges.learner_of_account(user.id) is not None
    )
    return render_template(
        "home.html",
        issuers=service.catalogue.organisations(),
        holds_badges=holds_badges,
    )


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
    if private_credential_url(posted.data):
        # Verifying the address would show what its holder keeps private.
        message = _(CREDENTIAL_NOT_FOUND)
        if wants_machine_readable() or not form_post:
            return problem_response(404, CREDENTIAL_NOT_FOUND)
        page = render_template(
            "verify.html",
            report=None,
            error=message,
            pasted=posted.pasted,
            recipient=posted.recipient or "",
        )
        return page, 404
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
    """The issuer's profile: a page for people (with its Quality Label, achievements,
    activities and playlists), the JSON-LD Profile for programs."""
    service = badge_service()
    kind = preferred(HTML, JSON_LD, JSON)
    if kind != HTML:
        return json_response(service.issuer_profile(slug), mimetype=kind)
    catalogue = service.catalogue
    response = Response(
        render_template(
            "issuer.html",
            issuer=service.get_issuer(slug),
            organisation=catalogue.organisation(slug),
            keys=service.list_keys(slug),
            did=_issuer_did(slug, required=False),
            achievements=catalogue.list_achievements(slug),
            activities=catalogue.search_activities(issuer_slug=slug, limit=ISSUER_ACTIVITIES_SHOWN),
            playlists=catalogue.list_playlists(slug),
            endorsements=catalogue.endorsements_of("issuer", slug),
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

#: Who looks at a credential: its holder, the issuer's people, or anyone else.
Viewer = Literal["holder", "organiser", "public"]
#: Accounts that act for an issuer (learner accounts do not).
STAFF_ROLES = ("admin", "organiser", "reviewer")
#: The same words for a credential that does not exist and one its holder keeps private, so
#: the page does not tell which.
CREDENTIAL_NOT_FOUND = N_(
    "No public badge at this address was issued here: it does not exist, or its holder has "
    "made it private."
)


@dataclass(frozen=True)
class ShownCredential:
    """A credential the current visitor may see, and who they are to it."""

    token: str
    facts: CredentialFacts
    viewer: Viewer


def signed_in_user() -> UserView | None:
    """The logged-in account, if any (imported late: :mod:`lti_tool.auth` imports this module)."""
    from lti_tool.auth import current_user

    return current_user()


def viewer_of(facts: CredentialFacts) -> Viewer:
    """The holder (their learner account), the issuer's people, or the public."""
    user = signed_in_user()
    if user is None:
        return "public"
    if facts.learner_public_id is not None:
        holder = badge_service().learner_badges.learner_of_account(user.id)
        if holder == facts.learner_public_id:
            return "holder"
    if user.role in STAFF_ROLES and user.can_act_for(facts.issuer_slug):
        return "organiser"
    return "public"


def not_found(title: str, message: str, machine_message: str | None = None) -> NoReturn:
    """End the request with a 404 page (or problem+json) that says ``message``."""
    if wants_machine_readable():
        abort(problem_response(404, machine_message or message))
    page = render_template("error.html", status=404, title=title, message=message)
    abort(Response(page, status=404, mimetype=HTML))


def shown_credential(token: str) -> ShownCredential:
    """The credential at ``/credentials/<token>`` when this visitor may see it; a 404 page
    for an unknown credential and for a private one seen by anyone but its holder and the
    issuer's people."""
    service = badge_service()
    try:
        facts = service.learner_badges.credential_facts(service.credential_url(token))
    except NotFound:
        facts = None
    viewer = viewer_of(facts) if facts is not None else "public"
    if facts is None or (not facts.is_public and viewer == "public"):
        not_found(_("Badge not found"), _(CREDENTIAL_NOT_FOUND), CREDENTIAL_NOT_FOUND)
    return ShownCredential(token, facts, viewer)


def _keep_private(response: Response, shown: ShownCredential) -> Response:
    # A private credential is served only to people logged in: no shared cache may keep it.
    if not shown.facts.is_public:
        response.headers["Cache-Control"] = "private, no-store"
    return response


@dataclass(frozen=True)
class BadgePicture:
    """What a badge looks like: its name and the achievement image's address, if any."""

    name: str
    image_url: str | None


def catalogue_achievement_of(
    facts: CredentialFacts, *, recent: bool = False
) -> AchievementView | None:
    """The catalogue achievement the credential was issued for (None for credentials issued
    without the catalogue); ``recent``: as this worker read it a few seconds ago at most."""
    if facts.achievement_public_id is None:
        return None
    catalogue = badge_service().catalogue
    try:
        if recent:
            return catalogue.recent_achievement(facts.achievement_public_id)
        return catalogue.get_achievement(facts.achievement_public_id)
    except NotFound:
        return None


def badge_picture(document: dict[str, Any], catalogue: AchievementView | None) -> BadgePicture:
    """The catalogue achievement's current image, else the one the credential names."""
    achievement = achievement_of(document)
    name = summarise(document).name or _text_or(achievement.get("name"), _("Badge"))
    image_url = catalogue.image if catalogue is not None else None
    return BadgePicture(name, image_url or image_url_of(achievement))


def _text_or(value: Any, default: str) -> str:
    return value.strip() if isinstance(value, str) and value.strip() else default


def credential_values(shown: ShownCredential, *, recent_catalogue: bool = False) -> dict[str, Any]:
    """What the credential page and the certificate show (besides the verification report).
    ``recent_catalogue``: the achievement and issuer as this worker read them a few seconds
    ago at most (pages that show several badges at each launch)."""
    service = badge_service()
    facts = shown.facts
    document = credential_json(facts.text, facts.proof_format)
    achievement = achievement_of(document)
    summary = summarise(document)
    catalogue_achievement = catalogue_achievement_of(facts, recent=recent_catalogue)
    picture = badge_picture(document, catalogue_achievement)
    organisation = (
        service.catalogue.recent_organisation(facts.issuer_slug)
        if recent_catalogue
        else service.catalogue.organisation(facts.issuer_slug)
    )
    issued = parse_timestamp(document.get("validFrom")) or facts.issued_at
    expires = parse_timestamp(document.get("validUntil"))
    narrative, criteria_url = criteria_of(achievement)
    issuer_name = summary.issuer_name or organisation.name
    return {
        "token": shown.token,
        "facts": facts,
        "viewer": shown.viewer,
        "credential_id": facts.credential_id,
        "proof_format": facts.proof_format,
        "badge_name": picture.name,
        "has_image": picture.image_url is not None,
        "badge_svg": badge_svg(picture.name, element_id="badge-art"),
        "achievement": achievement,
        "achievement_type": _text_or(achievement.get("achievementType"), ""),
        "catalogue_achievement": catalogue_achievement,
        "criteria_narrative": narrative,
        "criteria_url": criteria_url,
        "skill_groups": skill_groups(achievement, current_locale()),
        "levels": levels(achievement),
        "organisation": organisation,
        "issuer_name": issuer_name,
        "issued": issued,
        "expires": expires,
        "evidence": evidence_of(document),
        "evidence_files": (
            [e for e in facts.evidence if e.kind == "file"] if shown.viewer != "public" else []
        ),
        "linkedin_url": linkedin_url(
            name=picture.name,
            organisation=issuer_name,
            issued=issued,
            credential_url=facts.credential_id,
            credential_token=shown.token,
            expires=expires,
        ),
        "download_url": url_for("pages.credential_download", token=shown.token),
        "badge_png_url": url_for("pages.credential_badge_png", token=shown.token),
        "certificate_url": url_for("pages.credential_certificate", token=shown.token),
    }


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
def credential(token: str) -> Response:
    """A credential issued here: its page (badge, achievement, skills, issuer, evidence, the
    live verification report, downloads), or the credential itself (JSON, or the JWT) for
    programs. Private credentials only for their holder and the issuer's people."""
    shown = shown_credential(token)
    facts = shown.facts
    offered = (
        (HTML, VC_JWT, JWT) if facts.proof_format == "jwt" else (HTML, VC_JSON_LD, JSON_LD, JSON)
    )
    kind = preferred(*offered)
    if kind != HTML:
        return _keep_private(_credential_body(facts.text, kind, attachment=None), shown)
    report = badge_service().verify(facts.text)
    summary = report_summary(report)
    if summary.name is None:
        issued = IssuedCredential(facts.credential_id, facts.proof_format, facts.text)
        summary = summarise(_credential_summary_source(issued.document))
    response = Response(
        render_template(
            "credential.html", report=report, summary=summary, **credential_values(shown)
        )
    )
    response.vary.add("Accept")
    return _keep_private(response, shown)


@pages.get("/credentials/<token>/download")
def credential_download(token: str) -> Response:
    """The credential as a file: ``badge-<token>.json`` or ``badge-<token>.jwt``."""
    shown = shown_credential(token)
    if shown.facts.proof_format == "jwt":
        response = _credential_body(shown.facts.text, VC_JWT, attachment=f"badge-{token}.jwt")
    else:
        response = _credential_body(shown.facts.text, VC_JSON_LD, attachment=f"badge-{token}.json")
    return _keep_private(response, shown)


@pages.get("/credentials/<token>/badge.png")
def credential_badge_png(token: str) -> Response:
    """The badge image with the credential baked in (Open Badges 3.0 PNG baking): the
    achievement's PNG, or a generated badge."""
    shown = shown_credential(token)
    facts = shown.facts
    document = credential_json(facts.text, facts.proof_format)
    picture = badge_picture(document, catalogue_achievement_of(facts))
    png = baked_badge_png(badge_service(), picture.name, picture.image_url, facts.text)
    response = Response(png, mimetype="image/png")
    response.headers.set("Content-Disposition", "attachment", filename=f"badge-{token}.png")
    return _keep_private(response, shown)


@pages.get("/credentials/<token>/certificate")
def credential_certificate(token: str) -> Response:
    """A printable certificate (A4) of the credential, with the address to check it."""
    shown = shown_credential(token)
    values = credential_values(shown)
    holder_name = None
    if shown.viewer != "public" and shown.facts.learner_public_id is not None:
        holder_name = badge_service().learners.get(shown.facts.learner_public_id).display_name
    report = badge_service().verify(shown.facts.text)
    page = render_template("certificate.html", report=report, holder_name=holder_name, **values)
    return _keep_private(Response(page), shown)


@pages.get("/credentials/<token>/evidence/<evidence_id>")
def credential_evidence_file(token: str, evidence_id: str) -> Response:
    """A file handed in as evidence for the credential: only for its holder and the issuer's
    people, always as a download."""
    shown = shown_credential(token)
    allowed = shown.viewer != "public" and any(
        e.public_id == evidence_id and e.kind == "file" for e in shown.facts.evidence
    )
    if not allowed:
        not_found(
            _("File not found"),
            _("There is no evidence file at this address that you may see."),
            "There is no evidence file at this address that you may see.",
        )
    evidence_file = badge_service().evidence.file(evidence_id)
    response = Response(
        evidence_file.data, mimetype=evidence_file.media_type or "application/octet-stream"
    )
    response.headers.set("Content-Disposition", "attachment", filename=evidence_file.name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _credential_body(text: str, mimetype: str, *, attachment: str | None) -> Response:
    response = Response(text.rstrip("\n") + "\n", mimetype=mimetype)
    response.vary.add("Accept")
    if attachment is not None:
        response.headers.set("Content-Disposition", "attachment", filename=attachment)
    return response


def private_credential_url(data: bytes | str) -> bool:
    """Whether ``data`` is the address of a credential issued here that this visitor may not
    see (verifying it would show its contents)."""
    if not isinstance(data, str):
        return False
    service = badge_service()
    text = data.strip()
    if not text.startswith(service.credential_url("")):
        return False
    try:
        facts = service.learner_badges.credential_facts(text)
    except NotFound:
        return False
    return not facts.is_public and viewer_of(facts) == "public"


# The catalogue's public pages (achievements, activities, playlists) are views of this blueprint.
from lti_tool import catalogue_pages  # noqa: E402,F401  (registers its views on `pages`)
