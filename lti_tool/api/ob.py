"""The Open Badges 3.0 API (1EdTech OB 3.0 §6): service discovery, getCredentials,
upsertCredential, getProfile and putProfile, for the signed-in person's backpack.

Every error here is an ``Imsx_StatusInfo`` document, as the specification's OpenAPI says.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import UTC, datetime
from functools import lru_cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.exceptions import HTTPException

from core.errors import BadgeBridgeError, InvalidInput, NotFound
from core.held_credentials import COMPACT_JWS, CredentialRefused, HeldCredentialView
from core.json_input import parse_json_object
from core.schema_validation import validate_profile_schema
from core.verification import parse_datetime
from lti_tool.api.bearer import BearerRefused
from lti_tool.api.oauth import api_state
from lti_tool.api.oauth_store import (
    OB_SCOPES,
    SCOPE_CREDENTIAL_READONLY,
    SCOPE_CREDENTIAL_UPSERT,
    SCOPE_PROFILE_READONLY,
    SCOPE_PROFILE_UPDATE,
    StoredToken,
)
from lti_tool.api.responses import CodeMinor, status_info_response
from lti_tool.negotiation import json_response
from lti_tool.web import badge_service

OB_PREFIX = "/ims/ob/v3p0"
ob_api = Blueprint("ob_api", __name__, url_prefix=OB_PREFIX)

JSON_TYPES = frozenset({"application/json", "application/ld+json", "application/vc+ld+json"})
JWS_TYPE = "text/plain"
#: The specification's OpenAPI file, profiled for this server in the discovery document.
SPEC_OPENAPI = ("schemas", "ob3", "imsob_v3p0_openapi.json")
TERMS_URL_ENV = "BADGEBRIDGE_TERMS_URL"
PRIVACY_URL_ENV = "BADGEBRIDGE_PRIVACY_URL"
#: Profile properties this server keeps (``name``) or checks (the rest must stay as they are).
PROFILE_KEPT = frozenset({"@context", "id", "type", "name", "email"})


# -- errors -------------------------------------------------------------------------------------


@ob_api.errorhandler(BearerRefused)
def _bearer_refused(error: BearerRefused) -> Response:
    minor: CodeMinor = "forbidden" if error.status == 403 else "unauthorizedrequest"
    return status_info_response(
        error.status,
        error.description,
        code_minor=minor,
        headers={"WWW-Authenticate": error.www_authenticate},
    )


@ob_api.errorhandler(BadgeBridgeError)
def _badge_error(error: BadgeBridgeError) -> Response:
    if isinstance(error, NotFound):
        return status_info_response(404, error.message)
    return status_info_response(400, error.message)


@ob_api.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    response = status_info_response(status, error.description or error.name)
    if status == 405 and error.get_headers():
        response.headers.update({k: v for k, v in error.get_headers() if k == "Allow"})
    return response


@ob_api.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    current_app.logger.exception("Unexpected error in the Open Badges API", exc_info=error)
    return status_info_response(500, "Something went wrong on our side. Please try again later.")


def _token(scope: str) -> StoredToken:
    return api_state().bearer.token_for(scope)


# -- discovery ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _spec_openapi() -> dict[str, Any]:
    text = files("core").joinpath(*SPEC_OPENAPI).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def service_description() -> dict[str, Any]:
    """The Service Description Document: the specification's OpenAPI file with this server's
    address, terms, privacy policy and OAuth 2.0 endpoints."""
    base = badge_service().settings.base_url
    document = copy.deepcopy(_spec_openapi())
    document["servers"] = [{"url": f"{base}{OB_PREFIX}", "description": "badgebridge"}]
    info = document.setdefault("info", {})
    info.update(
        {
            "title": "badgebridge Open Badges API",
            "description": "Open Badges 3.0 API of badgebridge (Cities of Learning).",
            "version": "3.0",
            "termsOfService": os.environ.get(TERMS_URL_ENV) or f"{base}/",
            "x-imssf-privacyPolicyUrl": os.environ.get(PRIVACY_URL_ENV) or f"{base}/",
        }
    )
    token_url = f"{base}{url_for('oauth.token')}"
    document.setdefault("components", {})["securitySchemes"] = {
        "OAuth2ACG": {
            "type": "oauth2",
            "description": "OAuth 2.0 Authorization Code Grant authorization (PKCE S256)",
            "x-imssf-name": "badgebridge",
            "x-imssf-privacyPolicyUrl": info["x-imssf-privacyPolicyUrl"],
            "x-imssf-registrationUrl": f"{base}{url_for('oauth.register')}",
            "x-imssf-termsOfServiceUrl": info["termsOfService"],
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{base}{url_for('oauth.authorize')}",
                    "tokenUrl": token_url,
                    "refreshUrl": token_url,
                    "scopes": dict(OB_SCOPES),
                }
            },
        }
    }
    return document


@ob_api.get("/discovery")
def discovery() -> Response:
    """getServiceDescription: open to everyone."""
    return json_response(service_description(), vary=False)


# -- credentials ----------------------------------------------------------------------------------


def _query_int(name: str, minimum: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < minimum:
        raise _QueryProblem(f"{name} must be a whole number of at least {minimum}.")
    return int(raw)


class _QueryProblem(InvalidInput):
    """A query parameter of getCredentials is malformed."""


def _since(raw: str | None) -> datetime | None:
    """``since``: an ISO 8601 date-time; without a timezone it is read as UTC."""
    if raw is None:
        return None
    parsed = parse_datetime(raw)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(raw).replace(tzinfo=UTC)
        except ValueError:
            parsed = None
    if parsed is None:
        raise _QueryProblem("since must be a date-time, e.g. 2024-05-01T00:00:00Z.")
    return parsed


def _page_link(limit: int, offset: int, since: str | None, rel: str) -> str:
    query: dict[str, str | int] = {"limit": limit, "offset": offset}
    if since:
        query["since"] = since
    base = badge_service().settings.base_url
    return f'<{base}{OB_PREFIX}/credentials?{urlencode(query)}>; rel="{rel}"'


@ob_api.get("/credentials")
def get_credentials() -> Response:
    """getCredentials: the backpack, a page at a time (``limit``, ``offset``, ``since``), with
    ``X-Total-Count`` and ``Link`` (first, last, and next/prev where there are such pages)."""
    token = _token(SCOPE_CREDENTIAL_READONLY)
    try:
        limit = _query_int("limit", 1)
        offset = _query_int("offset", 0) or 0
        since_raw = request.args.get("since") or None
        since = _since(since_raw)
    except _QueryProblem as problem:
        return status_info_response(400, problem.message, code_minor="invalid_query_parameter")
    page = badge_service().held_credentials.page(
        token.user_id, limit=limit, offset=offset, since=since
    )
    body: dict[str, list[Any]] = {"credential": [], "compactJwsString": []}
    for held in page.credentials:
        if held.format == "jwt":
            body["compactJwsString"].append(held.text)
        else:
            body["credential"].append(held.document)
    response = json_response(body, vary=False)
    response.headers["X-Total-Count"] = str(page.total)
    size = page.limit
    last = ((page.total - 1) // size) * size if page.total else 0
    links = [_page_link(size, 0, since_raw, "first"), _page_link(size, last, since_raw, "last")]
    if page.offset + size < page.total:
        links.append(_page_link(size, page.offset + size, since_raw, "next"))
    if page.offset > 0:
        links.append(_page_link(size, max(page.offset - size, 0), since_raw, "prev"))
    response.headers["Link"] = ", ".join(links)
    return response


@ob_api.post("/credentials")
def upsert_credential() -> Response:
    """upsertCredential: verify the credential and keep it (201), or replace the same
    credential already kept (200). The body is echoed back in the request's format."""
    token = _token(SCOPE_CREDENTIAL_UPSERT)
    mimetype = request.mimetype or ""
    body = request.get_data(as_text=True)
    if mimetype in JSON_TYPES:
        parse_json_object(body)  # a JSON object, or a clear 400; kept as sent, byte for byte
        credential: str = body.strip()
    elif mimetype == JWS_TYPE and COMPACT_JWS.match(body.strip()):
        credential = body.strip()
    else:
        return status_info_response(
            400,
            "Send the credential as application/json (a JSON OpenBadgeCredential) or as "
            "text/plain (a compact JWS, header.payload.signature).",
        )
    try:
        result = badge_service().held_credentials.upsert(token.user_id, credential)
    except CredentialRefused as refused:
        return status_info_response(400, refused.message, code_minor="invalid_data")
    return _echo(result.credential, 201 if result.created else 200)


def _echo(held: HeldCredentialView, status: int) -> Response:
    if held.format == "jwt":
        return Response(held.text, status=status, mimetype=JWS_TYPE)
    return Response(held.text, status=status, mimetype="application/json")


# -- profile ------------------------------------------------------------------------------------


@ob_api.get("/profile")
def get_profile() -> Response:
    """getProfile: the signed-in person's Profile."""
    token = _token(SCOPE_PROFILE_READONLY)
    profile = badge_service().held_credentials.owner_profile(token.user_id)
    return json_response(profile.as_profile(), vary=False)


@ob_api.put("/profile")
def put_profile() -> Response:
    """putProfile: the whole Profile; this server keeps its ``name`` (the id and email address
    must stay as they are; other properties are refused rather than silently dropped)."""
    token = _token(SCOPE_PROFILE_UPDATE)
    if (request.mimetype or "") not in JSON_TYPES:
        return status_info_response(400, "Send the Profile as application/json.")
    document = parse_json_object(request.get_data(as_text=True))
    backpack = badge_service().held_credentials
    current = backpack.owner_profile(token.user_id)
    problems = validate_profile_schema(document)
    if problems:
        shown = "; ".join(str(p) for p in problems[:3])
        return status_info_response(400, f"Not a valid Open Badges Profile: {shown}")
    extra = sorted(set(document) - PROFILE_KEPT)
    if extra:
        return status_info_response(
            400,
            "This server keeps only the name of a profile; it cannot keep: "
            + ", ".join(extra)
            + ".",
        )
    if document.get("id") not in (None, current.profile_id):
        return status_info_response(400, f"The profile's id is {current.profile_id}.")
    email = document.get("email")
    if email is not None and (not isinstance(email, str) or email.lower() != current.email):
        return status_info_response(
            400, "The email address is changed on the account page, not through this API."
        )
    name = document.get("name")
    if not isinstance(name, str):
        return status_info_response(400, "The profile needs a name.")
    updated = backpack.rename_owner(token.user_id, name)
    return json_response(updated.as_profile(), vary=False)


# -- anything else under the prefix ---------------------------------------------------------------


_ROUTED_METHODS = {
    "/credentials": ("GET", "POST"),
    "/profile": ("GET", "PUT"),
    "/discovery": ("GET",),
}
_ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _method_not_allowed(allowed: tuple[str, ...]) -> Any:
    def view() -> Response:
        response = status_info_response(
            405, f"{request.method} is not allowed here; use {' or '.join(allowed)}."
        )
        response.headers["Allow"] = ", ".join((*allowed, "HEAD", "OPTIONS"))
        return response

    return view


for _path, _allowed in _ROUTED_METHODS.items():
    ob_api.add_url_rule(
        _path,
        endpoint=f"not_allowed{_path.replace('/', '_')}",
        view_func=_method_not_allowed(_allowed),
        methods=[m for m in _ALL_METHODS if m not in _allowed],
    )


@ob_api.route("/<path:unknown>", methods=list(_ALL_METHODS))
def not_found(unknown: str) -> Response:
    """Addresses under the API prefix that are not part of the Open Badges API."""
    return status_info_response(404, f"There is no Open Badges API endpoint {OB_PREFIX}/{unknown}.")


#: Endpoints that only answer errors (left out of the OpenAPI document).
ERROR_ONLY_ENDPOINTS = frozenset(
    {f"ob_api.not_allowed{path.replace('/', '_')}" for path in _ROUTED_METHODS}
    | {"ob_api.not_found"}
)

__all__ = ["ERROR_ONLY_ENDPOINTS", "OB_PREFIX", "ob_api", "service_description"]
