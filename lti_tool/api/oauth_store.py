"""OAuth 2.0 clients, authorization codes and tokens in the ``oauth_*`` tables.

Secrets are never stored: client secrets, authorization codes, access and refresh tokens are
random strings of at least 256 bits kept as their SHA-256 (a fast hash is enough for values
nobody can guess; a stolen database then holds nothing usable). Codes live 10 minutes and are
single use; access tokens 1 hour; refresh tokens 30 days and rotate on every use.

The classes below implement authlib's client, code and token interfaces over frozen snapshots
of the rows; every change goes through :class:`OAuthStore`.
"""

# mypy: allow-subclassing-any
# (authlib ships no type information: its mixins are ``Any`` to mypy.)

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    AuthorizationCodeMixin,
    ClientMixin,
    TokenMixin,
    list_to_scope,
    scope_to_list,
)
from sqlalchemy import delete, select, update

from core.errors import InvalidInput, NotFound
from core.service import BadgeService
from core.storage import (
    IssuerRecord,
    OAuthClientRecord,
    OAuthCodeRecord,
    OAuthTokenRecord,
    UserRecord,
)
from lti_tool.i18n import N_

OB_SCOPE_PREFIX = "https://purl.imsglobal.org/spec/ob/v3p0/scope/"
SCOPE_CREDENTIAL_READONLY = OB_SCOPE_PREFIX + "credential.readonly"
SCOPE_CREDENTIAL_UPSERT = OB_SCOPE_PREFIX + "credential.upsert"
SCOPE_PROFILE_READONLY = OB_SCOPE_PREFIX + "profile.readonly"
SCOPE_PROFILE_UPDATE = OB_SCOPE_PREFIX + "profile.update"
#: The Open Badges 3.0 scopes, with what they let a client do (shown on the consent page).
OB_SCOPES: dict[str, str] = {
    SCOPE_CREDENTIAL_READONLY: N_("Read the badges you keep here"),
    SCOPE_CREDENTIAL_UPSERT: N_("Add badges to the ones you keep here, or update them"),
    SCOPE_PROFILE_READONLY: N_("Read your profile (name and email address)"),
    SCOPE_PROFILE_UPDATE: N_("Change the name on your profile"),
}
#: The VC-API issuing scope: only clients an administrator registers for one issuer have it.
ISSUE_SCOPE = "issue"

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 30 * 24 * 3600
CODE_SECONDS = 600
#: Metadata keys only the server sets (never taken from a dynamic registration request).
ISSUER_KEY = "badgebridge_issuer"
OWNER_KEY = "badgebridge_owner_user_id"


def digest(value: str) -> str:
    """The SHA-256 (hex) under which a secret value is stored."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A random secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def _now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class OAuthUser:
    """The resource owner a code or token was issued for (a ``users`` row)."""

    id: int

    def get_user_id(self) -> int:
        """authlib's name for the id."""
        return self.id


@dataclass(frozen=True)
class OAuthClient(ClientMixin):
    """A registered client: dynamic (Open Badges API) or an administrator's issuing client."""

    client_id: str
    secret_digest: str | None
    client_id_issued_at: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The name shown to people (the client id when it gave none)."""
        value = self.metadata.get("client_name")
        return value if isinstance(value, str) and value.strip() else self.client_id

    @property
    def redirect_uris(self) -> list[str]:
        """The registered redirection URIs."""
        return [u for u in self.metadata.get("redirect_uris", []) if isinstance(u, str)]

    @property
    def scopes(self) -> list[str]:
        """The scopes the client may ask for."""
        return scope_to_list(self.metadata.get("scope", "")) or []

    @property
    def issuer_slug(self) -> str | None:
        """The issuer an issuing client signs for (None for Open Badges API clients)."""
        value = self.metadata.get(ISSUER_KEY)
        return value if isinstance(value, str) else None

    @property
    def owner_user_id(self) -> int | None:
        """The administrator who registered an issuing client (its tokens act for them)."""
        value = self.metadata.get(OWNER_KEY)
        return value if isinstance(value, int) else None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scopes this client may have; all of its scopes when none are named;
        None (``invalid_scope``) when it may have none of those asked for."""
        allowed = self.scopes
        if not scope:
            return str(list_to_scope(allowed))
        wanted = [s for s in scope_to_list(scope) if s in allowed]
        return str(list_to_scope(wanted)) if wanted else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison, as OAuth 2.0 Security BCP requires.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.secret_digest:
            return False
        return hmac.compare_digest(self.secret_digest, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        registered = self.metadata.get("token_endpoint_auth_method", "client_secret_basic")
        if registered == "none":
            return method == "none"
        # A confidential client uses the method it registered, at every endpoint.
        return bool(method == registered)

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.metadata.get("response_types", ["code"])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.metadata.get("grant_types", ["authorization_code"])


@dataclass(frozen=True)
class StoredCode(AuthorizationCodeMixin):
    """An authorization code waiting to be exchanged (``code_digest`` is its SHA-256)."""

    code_digest: str
    client_id: str
    user_id: int
    redirect_uri: str
    scope: str
    auth_time: int
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass(frozen=True)
class StoredToken(TokenMixin):
    """An access token (and its refresh token) as stored."""

    row_id: int
    client_id: str
    user_id: int
    scope: str
    issued_at: int
    expires_in: int
    access_token_revoked_at: int
    refresh_token_revoked_at: int
    has_refresh_token: bool

    def check_client(self, client: OAuthClient) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def get_expires_at(self) -> int:
        return self.issued_at + self.expires_in

    def is_expired(self) -> bool:
        return self.get_expires_at() <= _now()

    def is_revoked(self) -> bool:
        return bool(self.access_token_revoked_at)

    def is_refresh_token_valid(self) -> bool:
        """The refresh token is present, not used or revoked, and not too old."""
        return (
            self.has_refresh_token
            and not self.refresh_token_revoked_at
            and self.issued_at + REFRESH_TOKEN_SECONDS > _now()
        )

    def get_user(self) -> OAuthUser:
        return OAuthUser(self.user_id)


@dataclass(frozen=True)
class IssuingClientCredentials:
    """An issuing client's id and secret, shown once to the administrator who registered it."""

    client_id: str
    client_secret: str
    issuer_slug: str


class OAuthStore:
    """Reads and writes the ``oauth_*`` tables for the authorization server."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    # -- clients --------------------------------------------------------------------------------

    def client(self, client_id: str) -> OAuthClient | None:
        """The client with this id, or None."""
        if not isinstance(client_id, str) or not client_id or len(client_id) > 100:
            return None
        with self._service.sessions() as session:
            row = session.scalar(
                select(OAuthClientRecord).where(OAuthClientRecord.client_id == client_id)
            )
            return None if row is None else self._client_view(row)

    @staticmethod
    def _client_view(row: OAuthClientRecord) -> OAuthClient:
        return OAuthClient(
            client_id=row.client_id,
            secret_digest=row.client_secret,
            client_id_issued_at=row.client_id_issued_at,
            metadata=dict(row.client_metadata or {}),
        )

    def save_client(
        self, client_id: str, client_secret: str | None, issued_at: int, metadata: dict[str, Any]
    ) -> OAuthClient:
        """Store a new client (the secret as its digest)."""
        with self._service.transaction() as session:
            row = OAuthClientRecord(
                client_id=client_id,
                client_secret=digest(client_secret) if client_secret else None,
                client_id_issued_at=issued_at,
                client_secret_expires_at=0,
                client_metadata=metadata,
            )
            session.add(row)
            session.flush()
            return self._client_view(row)

    def register_issuing_client(
        self, issuer_slug: str, *, owner_user_id: int, name: str
    ) -> IssuingClientCredentials:
        """Register a VC-API client that issues for one issuer with the client-credentials
        grant (scope ``issue``). Its secret is returned once and stored only as a digest."""
        if not name or not name.strip():
            raise InvalidInput("An issuing client needs a name.")
        with self._service.sessions() as session:
            if (
                session.scalar(select(IssuerRecord.id).where(IssuerRecord.slug == issuer_slug))
                is None
            ):
                raise NotFound(f"No issuer with the slug {issuer_slug!r}.")
            if session.get(UserRecord, owner_user_id) is None:
                raise NotFound(f"No user {owner_user_id}.")
        client_id = new_secret()
        secret = new_secret()
        self.save_client(
            client_id,
            secret,
            _now(),
            {
                "client_name": name.strip(),
                "grant_types": ["client_credentials"],
                "response_types": [],
                "token_endpoint_auth_method": "client_secret_basic",
                "scope": ISSUE_SCOPE,
                ISSUER_KEY: issuer_slug,
                OWNER_KEY: owner_user_id,
            },
        )
        return IssuingClientCredentials(client_id, secret, issuer_slug)

    # -- authorization codes --------------------------------------------------------------------

    def save_code(
        self,
        code: str,
        *,
        client_id: str,
        user_id: int,
        redirect_uri: str,
        scope: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
    ) -> None:
        """Keep a new authorization code (as its digest)."""
        with self._service.transaction() as session:
            session.add(
                OAuthCodeRecord(
                    code=digest(code),
                    client_id=client_id,
                    user_id=user_id,
                    redirect_uri=redirect_uri,
                    response_type="code",
                    scope=scope,
                    auth_time=_now(),
                    code_challenge=code_challenge,
                    code_challenge_method=code_challenge_method,
                )
            )

    def find_code(self, code: str, client_id: str) -> StoredCode | None:
        """The unexpired code issued to this client, or None."""
        if not isinstance(code, str) or not code:
            return None
        with self._service.sessions() as session:
            row = session.scalar(
                select(OAuthCodeRecord).where(
                    OAuthCodeRecord.code == digest(code), OAuthCodeRecord.client_id == client_id
                )
            )
            if row is None or row.auth_time + CODE_SECONDS <= _now():
                return None
            return StoredCode(
                code_digest=row.code,
                client_id=row.client_id,
                user_id=row.user_id,
                redirect_uri=row.redirect_uri,
                scope=row.scope,
                auth_time=row.auth_time,
                code_challenge=row.code_challenge,
                code_challenge_method=row.code_challenge_method,
            )

    def consume_code(self, code: StoredCode) -> bool:
        """Delete the code; True only for the one request that deleted it (single use even when
        two exchanges race)."""
        with self._service.transaction() as session:
            result = session.execute(
                delete(OAuthCodeRecord).where(OAuthCodeRecord.code == code.code_digest)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    # -- tokens ---------------------------------------------------------------------------------

    def save_token(self, token: dict[str, Any], *, client_id: str, user_id: int) -> None:
        """Keep an issued token response (``access_token``, optional ``refresh_token``)."""
        refresh = token.get("refresh_token")
        with self._service.transaction() as session:
            session.add(
                OAuthTokenRecord(
                    client_id=client_id,
                    user_id=user_id,
                    token_type=str(token.get("token_type", "Bearer")),
                    access_token=digest(str(token["access_token"])),
                    refresh_token=digest(str(refresh)) if refresh else None,
                    scope=str(token.get("scope") or ""),
                    issued_at=_now(),
                    access_token_revoked_at=0,
                    refresh_token_revoked_at=0,
                    expires_in=int(token.get("expires_in") or ACCESS_TOKEN_SECONDS),
                )
            )

    @staticmethod
    def _token_view(row: OAuthTokenRecord) -> StoredToken:
        return StoredToken(
            row_id=row.id,
            client_id=row.client_id,
            user_id=row.user_id,
            scope=row.scope,
            issued_at=row.issued_at,
            expires_in=row.expires_in,
            access_token_revoked_at=row.access_token_revoked_at,
            refresh_token_revoked_at=row.refresh_token_revoked_at,
            has_refresh_token=row.refresh_token is not None,
        )

    def token_by_access_token(self, access_token: str) -> StoredToken | None:
        """The token row for an access token, or None."""
        if not isinstance(access_token, str) or not access_token or len(access_token) > 500:
            return None
        with self._service.sessions() as session:
            row = session.scalar(
                select(OAuthTokenRecord).where(
                    OAuthTokenRecord.access_token == digest(access_token)
                )
            )
            return None if row is None else self._token_view(row)

    def token_by_refresh_token(self, refresh_token: str) -> StoredToken | None:
        """The token row for a refresh token, or None."""
        if not isinstance(refresh_token, str) or not refresh_token or len(refresh_token) > 500:
            return None
        with self._service.sessions() as session:
            row = session.scalar(
                select(OAuthTokenRecord).where(
                    OAuthTokenRecord.refresh_token == digest(refresh_token)
                )
            )
            return None if row is None else self._token_view(row)

    def use_refresh_token(self, token: StoredToken) -> bool:
        """Mark the refresh token used, and its access token revoked (refresh tokens rotate);
        True only for the one request that did it."""
        now = _now()
        with self._service.transaction() as session:
            result = session.execute(
                update(OAuthTokenRecord)
                .where(
                    OAuthTokenRecord.id == token.row_id,
                    OAuthTokenRecord.refresh_token_revoked_at == 0,
                )
                .values(refresh_token_revoked_at=now, access_token_revoked_at=now)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def revoke(self, token: StoredToken, *, refresh_too: bool) -> None:
        """Revoke the access token (and the refresh token when ``refresh_too``)."""
        now = _now()
        values: dict[str, int] = {}
        if not token.access_token_revoked_at:
            values["access_token_revoked_at"] = now
        if refresh_too and not token.refresh_token_revoked_at:
            values["refresh_token_revoked_at"] = now
        if not values:
            return
        with self._service.transaction() as session:
            session.execute(
                update(OAuthTokenRecord).where(OAuthTokenRecord.id == token.row_id).values(**values)
            )

    def user_exists(self, user_id: int) -> bool:
        """True when the ``users`` row exists."""
        with self._service.sessions() as session:
            return session.get(UserRecord, user_id) is not None


__all__ = [
    "ISSUE_SCOPE",
    "OB_SCOPES",
    "SCOPE_CREDENTIAL_READONLY",
    "SCOPE_CREDENTIAL_UPSERT",
    "SCOPE_PROFILE_READONLY",
    "SCOPE_PROFILE_UPDATE",
    "IssuingClientCredentials",
    "OAuthClient",
    "OAuthStore",
    "OAuthUser",
    "StoredCode",
    "StoredToken",
    "digest",
    "new_secret",
]
