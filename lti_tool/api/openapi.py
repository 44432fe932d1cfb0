"""The OpenAPI 3.1 document of the APIs: VC-API, the Open Badges API and its OAuth 2.0 server.

The Open Badges API's data schemas are the specification's own (from its OpenAPI file, served
in full by the discovery endpoint); here they are referenced by name.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from lti_tool.api.oauth_store import ISSUE_SCOPE, OB_SCOPES
from lti_tool.negotiation import json_response
from lti_tool.web import badge_service

openapi = Blueprint("openapi", __name__)

#: Route prefixes the document covers (the test checks every such route is documented).
API_PREFIXES = (
    "/credentials/issue",
    "/credentials/verify",
    "/presentations/",
    "/ims/ob/v3p0/",
    "/oauth/",
    "/.well-known/oauth-authorization-server",
    "/openapi.json",
)
OB_SPEC_OPENAPI = "https://purl.imsglobal.org/spec/ob/v3p0/schema/openapi/imsob_v3p0.json"


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


def _imsx(description: str) -> dict[str, Any]:
    return {"description": description, **_json(_ref("Imsx_StatusInfo"))}


def _oauth_error(description: str) -> dict[str, Any]:
    return {"description": description, **_json(_ref("OAuthError"))}


_IMSX_ERRORS = {
    "400": _imsx("Malformed request or invalid data."),
    "401": _imsx("No valid access token (missing, unknown, expired or revoked)."),
    "403": _imsx("The access token lacks the scope this operation needs."),
    "405": _imsx("Method not allowed."),
    "500": _imsx("Unexpected server error."),
}
_FORM = "application/x-www-form-urlencoded"


def _schemas() -> dict[str, Any]:
    open_object = {"type": "object", "additionalProperties": True}
    return {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
            },
        },
        "Imsx_StatusInfo": {
            "type": "object",
            "description": "Open Badges API status information (errors).",
            "required": ["imsx_codeMajor", "imsx_severity"],
            "properties": {
                "imsx_codeMajor": {"enum": ["failure", "processing", "success", "unsupported"]},
                "imsx_severity": {"enum": ["error", "status", "warning"]},
                "imsx_description": {"type": "string"},
                "imsx_codeMinor": {"type": "object"},
            },
        },
        "OAuthError": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
        },
        "AchievementCredential": {
            **open_object,
            "description": f"An OpenBadgeCredential (schema: {OB_SPEC_OPENAPI}).",
        },
        "CompactJws": {
            "type": "string",
            "pattern": "^[a-zA-Z0-9_-]+\\.[a-zA-Z0-9_-]*\\.[a-zA-Z0-9_-]+$",
        },
        "Profile": {**open_object, "description": f"An OB 3.0 Profile ({OB_SPEC_OPENAPI})."},
        "GetOpenBadgeCredentialsResponse": {
            "type": "object",
            "properties": {
                "credential": {"type": "array", "items": _ref("AchievementCredential")},
                "compactJwsString": {"type": "array", "items": _ref("CompactJws")},
            },
        },
        "ServiceDescriptionDocument": {
            **open_object,
            "required": ["openapi", "info", "components"],
        },
        "VerificationResult": {
            "type": "object",
            "description": "VC-API verification result, with badgebridge's full report.",
            "required": ["verified", "checks", "errors", "warnings", "problemDetails", "report"],
            "properties": {
                "verified": {"type": "boolean"},
                "checks": {"type": "array", "items": {"type": "string"}},
                "errors": {"type": "array", "items": {"type": "string"}},
                "warnings": {"type": "array", "items": {"type": "string"}},
                "problemDetails": {"type": "array", "items": {"type": "object"}},
                "credential": {"type": ["object", "null"]},
                "report": {
                    "type": "object",
                    "properties": {
                        "valid": {"type": "boolean"},
                        "format": {"type": "string"},
                        "checks": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "title": {"type": "string"},
                                    "status": {"enum": ["pass", "fail", "skip", "warn"]},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
        "VerifyPresentationResult": {
            "type": "object",
            "required": ["verified", "presentationResult", "credentialResults"],
            "properties": {
                "verified": {"type": "boolean"},
                "presentationResult": _ref("VerificationResult"),
                "credentialResults": {"type": "array", "items": _ref("VerificationResult")},
                "problemDetails": {"type": "array", "items": {"type": "object"}},
                "verifiablePresentation": open_object,
            },
        },
        "IssueCredentialRequest": {
            "type": "object",
            "required": ["credential"],
            "properties": {
                "credential": {
                    "type": "object",
                    "description": (
                        "An unsigned OpenBadgeCredential: credentialSubject.achievement, the "
                        "recipient as an unhashed emailAddress identifier (or a mailto: id), "
                        "optional name and validUntil; issuer (if given) must be the client's."
                    ),
                },
                "options": {
                    "type": "object",
                    "properties": {
                        "proofFormat": {"enum": ["rdfc", "jcs", "jwt"]},
                        "statusPurpose": {"enum": ["revocation", "suspension"]},
                    },
                },
            },
        },
        "IssueCredentialResponse": {
            "type": "object",
            "properties": {"verifiableCredential": open_object},
        },
        "ClientRegistration": {
            **open_object,
            "description": "RFC 7591 client metadata (redirect_uris required).",
            "required": ["redirect_uris"],
        },
        "TokenResponse": {
            "type": "object",
            "required": ["access_token", "token_type"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer"},
                "refresh_token": {"type": "string"},
                "scope": {"type": "string"},
            },
        },
    }


def _paths() -> dict[str, Any]:
    ob = [{"OAuth2ACG": [scope]} for scope in OB_SCOPES]
    credential_body = {
        "content": {
            "application/json": {"schema": _ref("AchievementCredential")},
            "text/plain": {"schema": _ref("CompactJws")},
        }
    }
    return {
        "/credentials/issue": {
            "post": {
                "operationId": "issueCredential",
                "tags": ["VC-API"],
                "summary": "Issue a credential for the client's issuer.",
                "security": [{"IssuingClient": [ISSUE_SCOPE]}],
                "requestBody": {"required": True, **_json(_ref("IssueCredentialRequest"))},
                "responses": {
                    "201": {"description": "Issued.", **_json(_ref("IssueCredentialResponse"))},
                    "400": _problem("The request is not a credential that can be issued."),
                    "401": _problem("No valid access token."),
                    "403": _problem("The token lacks the issue scope."),
                },
            }
        },
        "/credentials/verify": {
            "post": {
                "operationId": "verifyCredential",
                "tags": ["VC-API"],
                "summary": "Verify a credential (embedded proof, or an enveloped VC-JWT).",
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["verifiableCredential"],
                            "properties": {
                                "verifiableCredential": {"type": "object"},
                                "options": {"type": "object"},
                            },
                        }
                    ),
                },
                "responses": {
                    "200": {
                        "description": "The verification result (valid or not).",
                        **_json(_ref("VerificationResult")),
                    },
                    "400": _problem("The request is malformed."),
                },
            }
        },
        "/presentations/verify": {
            "post": {
                "operationId": "verifyPresentation",
                "tags": ["VC-API"],
                "summary": "Verify a presentation and every credential in it.",
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "properties": {
                                "verifiablePresentation": {"type": "object"},
                                "presentation": {"type": "object"},
                                "options": {
                                    "type": "object",
                                    "properties": {
                                        "challenge": {"type": "string"},
                                        "domain": {"type": "string"},
                                        "returnPresentation": {"type": "boolean"},
                                    },
                                },
                            },
                        }
                    ),
                },
                "responses": {
                    "200": {
                        "description": "The verification result.",
                        **_json(_ref("VerifyPresentationResult")),
                    },
                    "400": _problem("The request is malformed."),
                },
            }
        },
        "/ims/ob/v3p0/discovery": {
            "get": {
                "operationId": "getServiceDescription",
                "tags": ["Open Badges API"],
                "responses": {
                    "200": {
                        "description": "The Service Description Document.",
                        **_json(_ref("ServiceDescriptionDocument")),
                    }
                },
            }
        },
        "/ims/ob/v3p0/credentials": {
            "get": {
                "operationId": "getCredentials",
                "tags": ["Open Badges API"],
                "security": [ob[0]],
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "since", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "A page of the backpack.",
                        "headers": {
                            "X-Total-Count": {"schema": {"type": "integer"}},
                            "Link": {"schema": {"type": "string"}},
                        },
                        **_json(_ref("GetOpenBadgeCredentialsResponse")),
                    },
                    **_IMSX_ERRORS,
                },
            },
            "post": {
                "operationId": "upsertCredential",
                "tags": ["Open Badges API"],
                "security": [ob[1]],
                "requestBody": {"required": True, **credential_body},
                "responses": {
                    "200": {"description": "Replaced.", **credential_body},
                    "201": {"description": "Created.", **credential_body},
                    **_IMSX_ERRORS,
                },
            },
        },
        "/ims/ob/v3p0/profile": {
            "get": {
                "operationId": "getProfile",
                "tags": ["Open Badges API"],
                "security": [ob[2]],
                "responses": {
                    "200": {"description": "The profile.", **_json(_ref("Profile"))},
                    "404": _imsx("No such user."),
                    **_IMSX_ERRORS,
                },
            },
            "put": {
                "operationId": "putProfile",
                "tags": ["Open Badges API"],
                "security": [ob[3]],
                "requestBody": {"required": True, **_json(_ref("Profile"))},
                "responses": {
                    "200": {"description": "The updated profile.", **_json(_ref("Profile"))},
                    **_IMSX_ERRORS,
                },
            },
        },
        "/oauth/register": {
            "post": {
                "operationId": "registerClient",
                "tags": ["OAuth 2.0"],
                "summary": "Dynamic client registration (RFC 7591).",
                "requestBody": {"required": True, **_json(_ref("ClientRegistration"))},
                "responses": {
                    "201": {"description": "Registered.", **_json(_ref("ClientRegistration"))},
                    "400": _oauth_error("Invalid client metadata."),
                },
            }
        },
        "/oauth/authorize": {
            "get": {
                "operationId": "authorize",
                "tags": ["OAuth 2.0"],
                "summary": "Authorization page (code grant; PKCE S256 required).",
                "parameters": [
                    {"name": n, "in": "query", "required": r, "schema": {"type": "string"}}
                    for n, r in (
                        ("response_type", True),
                        ("client_id", True),
                        ("redirect_uri", False),
                        ("scope", False),
                        ("state", False),
                        ("code_challenge", True),
                        ("code_challenge_method", True),
                    )
                ],
                "responses": {
                    "200": {"description": "The consent page (HTML)."},
                    "302": {"description": "Back to the client (an error) or to log in."},
                    "400": {"description": "Unknown client or redirection URI (HTML)."},
                },
            },
            "post": {
                "operationId": "authorizeDecision",
                "tags": ["OAuth 2.0"],
                "summary": "The person's decision (form with the CSRF token).",
                "responses": {"302": {"description": "Back to the client with a code or error."}},
            },
        },
        "/oauth/token": {
            "post": {
                "operationId": "token",
                "tags": ["OAuth 2.0"],
                "summary": "Token endpoint: authorization_code, refresh_token, client_credentials.",
                "requestBody": {
                    "required": True,
                    "content": {_FORM: {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": {"description": "Tokens.", **_json(_ref("TokenResponse"))},
                    "400": _oauth_error("Invalid request or grant."),
                    "401": _oauth_error("Client authentication failed."),
                },
            }
        },
        "/oauth/revoke": {
            "post": {
                "operationId": "revokeToken",
                "tags": ["OAuth 2.0"],
                "summary": "Token revocation (RFC 7009).",
                "requestBody": {
                    "required": True,
                    "content": {_FORM: {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": {"description": "Revoked (or unknown)."},
                    "401": _oauth_error("Client authentication failed."),
                },
            }
        },
        "/.well-known/oauth-authorization-server": {
            "get": {
                "operationId": "authorizationServerMetadata",
                "tags": ["OAuth 2.0"],
                "responses": {
                    "200": {"description": "RFC 8414 metadata.", **_json({"type": "object"})}
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["Documentation"],
                "responses": {
                    "200": {"description": "This document.", **_json({"type": "object"})}
                },
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, with this server's absolute URLs."""
    base = badge_service().settings.base_url
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "badgebridge APIs",
            "version": "1.0",
            "summary": "W3C VC-API and the Open Badges 3.0 API of badgebridge.",
            "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
        },
        "servers": [{"url": base}],
        "tags": [
            {"name": "VC-API", "description": "https://w3c-ccg.github.io/vc-api/"},
            {"name": "Open Badges API", "description": "https://www.imsglobal.org/spec/ob/v3p0"},
            {"name": "OAuth 2.0"},
            {"name": "Documentation"},
        ],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "OAuth2ACG": {
                    "type": "oauth2",
                    "description": "Open Badges API: authorization code grant with PKCE (S256).",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": f"{base}/oauth/authorize",
                            "tokenUrl": f"{base}/oauth/token",
                            "refreshUrl": f"{base}/oauth/token",
                            "scopes": dict(OB_SCOPES),
                        }
                    },
                },
                "IssuingClient": {
                    "type": "oauth2",
                    "description": (
                        "VC-API issuing: the client credentials grant of a client an "
                        "administrator registered for one issuer."
                    ),
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": f"{base}/oauth/token",
                            "scopes": {ISSUE_SCOPE: "Issue credentials for the client's issuer"},
                        }
                    },
                },
            },
        },
    }


@openapi.get("/openapi.json")
def document() -> Response:
    """The OpenAPI document of the APIs."""
    return json_response(openapi_document(), vary=False)


__all__ = ["API_PREFIXES", "openapi", "openapi_document"]
