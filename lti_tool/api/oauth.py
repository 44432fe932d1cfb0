"""The OAuth 2.0 authorization server (authlib) for the Open Badges API and the VC-API.

- Dynamic client registration (RFC 7591) at ``/oauth/register``: open, as OB 3.0 requires;
  clients get the four Open Badges scopes at most.
- Authorization code grant (``/oauth/authorize``, ``/oauth/token``) with PKCE required and
  ``S256`` the only method; the signed-in person (``lti_tool.auth.current_user``) consents.
- Refresh tokens (rotated on every use) and token revocation (RFC 7009, ``/oauth/revoke``).
- Client credentials grant for issuing clients an administrator registers for one issuer
  (scope ``issue``, see :meth:`OAuthStore.register_issuing_client`): the VC-API's
  ``POST /credentials/issue``.
- Authorization server metadata (RFC 8414) at ``/.well-known/oauth-authorization-server``.

Errors of these endpoints follow OAuth 2.0 (``{"error": ..., "error_description": ...}``),
which is what OAuth clients parse; the authorization page shows people an error page.
"""

# mypy: allow-subclassing-any
# (authlib ships no type information: its classes are ``Any`` to mypy.)

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import (  # type: ignore[import-untyped]
    AuthorizationServer,
)
from authlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    InvalidClientError,
    InvalidRequestError,
)
from authlib.oauth2.rfc6749.grants import (  # type: ignore[import-untyped]
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator  # type: ignore[import-untyped]
from authlib.oauth2.rfc7009 import RevocationEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc7591 import (  # type: ignore[import-untyped]
    ClientRegistrationEndpoint,
    InvalidClientMetadataError,
    InvalidRedirectURIError,
)
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from lti_tool.api.bearer import BearerCheck
from lti_tool.api.oauth_store import (
    ACCESS_TOKEN_SECONDS,
    ISSUE_SCOPE,
    OB_SCOPES,
    OAuthClient,
    OAuthStore,
    OAuthUser,
    StoredCode,
    StoredToken,
    new_secret,
)
from lti_tool.csrf import require_csrf_token
from lti_tool.i18n import gettext as _
from lti_tool.negotiation import json_response

oauth = Blueprint("oauth", __name__)

API_EXTENSION = "badgebridge.api"
GRANT_TYPES_FOR_REGISTERED_CLIENTS = ("authorization_code", "refresh_token")
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
#: Redirection URIs may be plain http only on the client's own machine (RFC 8252 §7.3).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_CSP_SOURCE = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")


# --------------------------------------------------------------------------------------------
# The server and its grants
# --------------------------------------------------------------------------------------------


class BadgeAuthorizationServer(AuthorizationServer):
    """authlib's Flask authorization server over :class:`OAuthStore`; tokens are random
    256-bit strings that expire after an hour."""

    def __init__(self, app: Flask, store: OAuthStore) -> None:
        self.store = store
        super().__init__()
        self.init_app(app, query_client=store.client, save_token=self._store_token)
        self.scopes_supported = [*OB_SCOPES, ISSUE_SCOPE]

    def create_bearer_token_generator(self, config: Any) -> Any:
        def random_token(**_: Any) -> str:
            return new_secret()

        def expires_in(client: Any, grant_type: str) -> int:
            return ACCESS_TOKEN_SECONDS

        return BearerTokenGenerator(random_token, random_token, expires_in)

    def _store_token(self, token: dict[str, Any], oauth_request: Any) -> None:
        client = cast(OAuthClient, oauth_request.client)
        user = oauth_request.user
        # Issuing clients have no resource owner: their tokens act for the administrator who
        # registered them (the column is required, and the audit trail names a person).
        user_id = user.id if user is not None else client.owner_user_id
        if user_id is None:
            raise InvalidClientError(description="This client has no one to act for.")
        self.store.save_token(token, client_id=client.client_id, user_id=user_id)


class S256CodeChallenge(CodeChallenge):
    """PKCE for every authorization request, with ``S256`` (never ``plain``)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge and code_challenge_method=S256."
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


def _store_of(grant: Any) -> OAuthStore:
    return cast(BadgeAuthorizationServer, grant.server).store


class CodeGrant(AuthorizationCodeGrant):
    """Authorization codes kept as digests, single use, 10 minutes."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(TOKEN_AUTH_METHODS)

    def save_authorization_code(self, code: str, oauth_request: Any) -> None:
        data = oauth_request.payload.data
        _store_of(self).save_code(
            code,
            client_id=oauth_request.client.client_id,
            user_id=oauth_request.user.id,
            redirect_uri=oauth_request.payload.redirect_uri or "",
            scope=oauth_request.scope or "",
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> StoredCode | None:
        return _store_of(self).find_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        """Nothing left to do: :meth:`authenticate_user` consumed the code."""

    def authenticate_user(self, authorization_code: StoredCode) -> OAuthUser | None:
        # Consuming the code here, before any token is made, keeps it single use even when
        # two exchanges race: only one of them deletes the row.
        store = _store_of(self)
        if not store.consume_code(authorization_code):
            return None
        if not store.user_exists(authorization_code.user_id):
            return None
        return OAuthUser(authorization_code.user_id)


class RotatingRefreshGrant(RefreshTokenGrant):
    """Refresh tokens are single use: each refresh returns a new one and ends the old grant."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(TOKEN_AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> StoredToken | None:
        token = _store_of(self).token_by_refresh_token(refresh_token)
        return token if token is not None and token.is_refresh_token_valid() else None

    def authenticate_user(self, refresh_token: StoredToken) -> OAuthUser | None:
        store = _store_of(self)
        if not store.use_refresh_token(refresh_token):
            return None
        if not store.user_exists(refresh_token.user_id):
            return None
        return OAuthUser(refresh_token.user_id)

    def revoke_old_credential(self, refresh_token: StoredToken) -> None:
        """Nothing left to do: :meth:`authenticate_user` revoked it."""


class IssuingClientGrant(ClientCredentialsGrant):
    """The client credentials grant, for administrators' issuing clients only (HTTP Basic or
    form secret; their registration carries the grant type, dynamic clients never do)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class OpenClientRegistration(ClientRegistrationEndpoint):
    """RFC 7591 registration, open to anyone (OB 3.0 §7), limited to the Open Badges scopes,
    the code and refresh grants, and redirection URIs over https (or loopback http)."""

    def authenticate_token(self, oauth_request: Any) -> bool:
        return True

    def get_server_metadata(self) -> dict[str, Any]:
        return {
            "scopes_supported": list(OB_SCOPES),
            "response_types_supported": ["code"],
            "grant_types_supported": list(GRANT_TYPES_FOR_REGISTERED_CLIENTS),
            "token_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
        }

    def extract_client_metadata(self, oauth_request: Any) -> dict[str, Any]:
        if not isinstance(oauth_request.payload.data, dict):
            raise InvalidClientMetadataError("Send the client metadata as a JSON object.")
        metadata = cast(dict[str, Any], super().extract_client_metadata(oauth_request))
        uris = metadata.get("redirect_uris")
        if not isinstance(uris, list) or not uris:
            raise InvalidRedirectURIError("redirect_uris is required: the client's callbacks.")
        for uri in uris:
            if not _acceptable_redirect_uri(uri):
                raise InvalidRedirectURIError(
                    f"{uri!r} is not an acceptable redirection URI: use https (http only for "
                    "localhost), with no fragment."
                )
        metadata.setdefault("grant_types", ["authorization_code"])
        metadata.setdefault("response_types", ["code"])
        metadata.setdefault("scope", " ".join(OB_SCOPES))
        return metadata

    def generate_client_info(self, oauth_request: Any) -> dict[str, Any]:
        info = cast(dict[str, Any], super().generate_client_info(oauth_request))
        data = oauth_request.payload.data
        if isinstance(data, dict) and data.get("token_endpoint_auth_method") == "none":
            # A public client (e.g. a mobile wallet) cannot keep a secret: PKCE protects it.
            info.pop("client_secret", None)
            info.pop("client_secret_expires_at", None)
        return info

    def generate_client_secret(self, oauth_request: Any) -> str:
        return new_secret()

    def save_client(
        self, client_info: dict[str, Any], client_metadata: dict[str, Any], oauth_request: Any
    ) -> OAuthClient:
        return cast(BadgeAuthorizationServer, self.server).store.save_client(
            client_info["client_id"],
            client_info.get("client_secret"),
            client_info["client_id_issued_at"],
            client_metadata,
        )


class TokenRevocation(RevocationEndpoint):
    """RFC 7009: revoking an access token ends it; revoking a refresh token ends both."""

    CLIENT_AUTH_METHODS = list(TOKEN_AUTH_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        store = cast(BadgeAuthorizationServer, self.server).store
        if token_type_hint == "refresh_token":  # noqa: S105 (a token type name)
            return store.token_by_refresh_token(token_string) or store.token_by_access_token(
                token_string
            )
        return store.token_by_access_token(token_string) or store.token_by_refresh_token(
            token_string
        )

    def revoke_token(self, token: StoredToken, oauth_request: Any) -> None:
        store = cast(BadgeAuthorizationServer, self.server).store
        was_refresh = store.token_by_refresh_token(oauth_request.form["token"]) is not None
        store.revoke(token, refresh_too=was_refresh)


def _acceptable_redirect_uri(uri: Any) -> bool:
    if not isinstance(uri, str) or len(uri) > 2000:
        return False
    parts = urlsplit(uri)
    if parts.fragment or not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


# --------------------------------------------------------------------------------------------
# Wiring into an app
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiState:
    """What the API blueprints share in one app: the OAuth store, server and token check."""

    store: OAuthStore
    server: BadgeAuthorizationServer
    bearer: BearerCheck


def create_authorization_server(app: Flask, store: OAuthStore) -> BadgeAuthorizationServer:
    """The authorization server for ``app``, with every grant and endpoint registered."""
    server = BadgeAuthorizationServer(app, store)
    server.register_grant(CodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(RotatingRefreshGrant)
    server.register_grant(IssuingClientGrant)
    server.register_endpoint(OpenClientRegistration)
    server.register_endpoint(TokenRevocation)
    return server


def api_state() -> ApiState:
    """The API state of the current app."""
    return cast(ApiState, current_app.extensions[API_EXTENSION])


def _authorization_server() -> BadgeAuthorizationServer:
    return api_state().server


def signed_in_user_id() -> int | None:
    """The id of the person signed in to this site, or None (``lti_tool.auth.current_user``)."""
    from lti_tool.auth import current_user

    user = current_user()
    user_id = getattr(user, "id", None) if user is not None else None
    return user_id if isinstance(user_id, int) else None


def server_metadata() -> dict[str, Any]:
    """RFC 8414 authorization server metadata (absolute URLs under the site's base URL)."""
    base = _base_url()
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}{url_for('oauth.authorize')}",
        "token_endpoint": f"{base}{url_for('oauth.token')}",
        "registration_endpoint": f"{base}{url_for('oauth.register')}",
        "revocation_endpoint": f"{base}{url_for('oauth.revoke')}",
        "scopes_supported": list(OB_SCOPES),
        "response_types_supported": ["code"],
        "grant_types_supported": [*GRANT_TYPES_FOR_REGISTERED_CLIENTS, "client_credentials"],
        "token_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "service_documentation": f"{base}{url_for('openapi.document')}",
    }


def _base_url() -> str:
    from lti_tool.web import badge_service

    return badge_service().settings.base_url


# --------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------


def _oauth_error_json(status: int, error: str, description: str) -> Response:
    return json_response(
        {"error": error, "error_description": description}, status=status, vary=False
    )


@oauth.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response | tuple[str, int]:
    status = error.code or 500
    if request.endpoint == "oauth.authorize":
        page = render_template(
            "error.html", status=status, title=error.name, message=error.description or ""
        )
        return page, status
    return _oauth_error_json(status, "invalid_request", error.description or error.name)


@oauth.errorhandler(Exception)
def _unexpected(error: Exception) -> Response | tuple[str, int]:
    current_app.logger.exception("Unexpected error in the OAuth server", exc_info=error)
    message = _("Something went wrong on our side. Please try again later.")
    if request.endpoint == "oauth.authorize":
        page = render_template(
            "error.html", status=500, title=_("Something went wrong"), message=message
        )
        return page, 500
    return _oauth_error_json(500, "server_error", message)


@oauth.post("/oauth/register")
def register() -> Response:
    """OAuth 2.0 dynamic client registration (RFC 7591)."""
    if not request.is_json or not isinstance(request.get_json(silent=True), dict):
        return _oauth_error_json(
            400, "invalid_client_metadata", "Send the client metadata as a JSON object."
        )
    return cast(Response, _authorization_server().create_endpoint_response("client_registration"))


@oauth.post("/oauth/token")
def token() -> Response:
    """The token endpoint: authorization code (with the PKCE verifier), refresh token, and
    client credentials grants."""
    return cast(Response, _authorization_server().create_token_response())


@oauth.post("/oauth/revoke")
def revoke() -> Response:
    """Token revocation (RFC 7009)."""
    return cast(Response, _authorization_server().create_endpoint_response("revocation"))


@oauth.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    """Authorization server metadata (RFC 8414)."""
    return json_response(server_metadata(), vary=False)


@oauth.route("/oauth/authorize", methods=["GET", "POST"])
def authorize() -> Response | str | tuple[str, int]:
    """Ask the signed-in person to let a client use their badges (GET), and act on the answer
    (POST): back to the client with a code, or with ``access_denied``."""
    server = _authorization_server()
    if request.method == "POST":
        require_csrf_token()
    user_id = signed_in_user_id()
    if user_id is None:
        return _sign_in_first()
    user = OAuthUser(user_id)
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        if error.redirect_uri:
            # The client and its redirection URI are known: the client hears of the problem.
            return cast(Response, server.handle_error_response(None, error))
        return _authorization_problem(error)
    if request.method == "GET":
        client = cast(OAuthClient, grant.client)
        requested = (grant.request.scope or "").split()
        page = Response(
            render_template(
                "api/authorize.html",
                client=client,
                client_uri=_safe_link(client.metadata.get("client_uri")),
                scopes=[(scope, _(OB_SCOPES.get(scope, scope))) for scope in requested],
                redirect_host=urlsplit(grant.redirect_uri or "").hostname or "",
            )
        )
        page.headers["Content-Security-Policy"] = _consent_page_policy(grant.redirect_uri)
        return page
    allowed = request.form.get("decision") == "allow"
    return cast(
        Response,
        server.create_authorization_response(grant_user=user if allowed else None, grant=grant),
    )


def _consent_page_policy(redirect_uri: str | None) -> str:
    """The site's Content-Security-Policy, letting the consent form's answer redirect to the
    client (browsers apply ``form-action`` to the redirect after a form is sent too)."""
    from lti_tool.app import CONTENT_SECURITY_POLICY

    parts = urlsplit(redirect_uri or "")
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    if not _CSP_SOURCE.fullmatch(origin):
        origin = ""  # nothing that could end the directive or add another
    return CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {origin}".rstrip()
    )


def _safe_link(value: Any) -> str | None:
    if isinstance(value, str) and urlsplit(value).scheme in {"https", "http"}:
        return value
    return None


def _sign_in_first() -> Response | tuple[str, int]:
    """Send a visitor who is not signed in to the sign-in page, coming back here after."""
    login = current_app.view_functions.get("auth.login")
    if login is not None:
        return cast(Response, redirect(url_for("auth.login", next=request.full_path)))
    return (
        render_template(
            "error.html",
            status=401,
            title=_("Please log in"),
            message=_("Log in to this site first, then come back to allow the application."),
        ),
        401,
    )


def _authorization_problem(error: Any) -> tuple[str, int]:
    """A page for an authorization request that cannot go back to the client (unknown
    client or redirection URI: sending the person there could help an attacker)."""
    description = error.get_error_description() or error.error
    return (
        render_template(
            "error.html",
            status=400,
            title=_("This application's request cannot be handled"),
            message=_("%(reason)s Go back to the application and try again.", reason=description),
        ),
        400,
    )


__all__ = [
    "API_EXTENSION",
    "ApiState",
    "BadgeAuthorizationServer",
    "api_state",
    "create_authorization_server",
    "oauth",
    "server_metadata",
    "signed_in_user_id",
]
