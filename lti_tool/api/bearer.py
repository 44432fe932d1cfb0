"""Bearer access tokens on API requests (RFC 6750), checked with authlib's resource protector."""

# mypy: allow-subclassing-any
# (authlib ships no type information: its classes are ``Any`` to mypy.)

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from authlib.integrations.flask_oauth2.requests import (  # type: ignore[import-untyped]
    FlaskJsonRequest,
)
from authlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    MissingAuthorizationError,
    ResourceProtector,
)
from authlib.oauth2.rfc6750 import (  # type: ignore[import-untyped]
    BearerTokenValidator,
    InsufficientScopeError,
    InvalidTokenError,
)
from flask import request

from lti_tool.api.oauth_store import OAuthStore, StoredToken

REALM = "badgebridge"


class BearerRefused(Exception):
    """The request's access token is missing, unknown, expired, revoked (401) or lacks the
    scope (403). ``www_authenticate`` is the RFC 6750 challenge to send back."""

    def __init__(self, status: int, error: str, description: str, www_authenticate: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.www_authenticate = www_authenticate


class StoredTokenValidator(BearerTokenValidator):
    """Looks tokens up in the ``oauth_tokens`` table and says plainly why one is refused."""

    def __init__(self, store: OAuthStore) -> None:
        super().__init__(realm=REALM)
        self._store = store

    def authenticate_token(self, token_string: str) -> StoredToken | None:
        return self._store.token_by_access_token(token_string)

    def validate_token(
        self, token: StoredToken | None, scopes: list[str] | None, oauth_request: object
    ) -> None:
        if token is None:
            raise InvalidTokenError("The access token is not known here.")
        if token.is_revoked():
            raise InvalidTokenError("The access token has been revoked.")
        if token.is_expired():
            raise InvalidTokenError("The access token has expired: refresh it or ask again.")
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScopeError(
                f"The access token does not grant the scope {' '.join(scopes or [])}."
            )


@dataclass(frozen=True)
class BearerCheck:
    """Checks the ``Authorization: Bearer`` header of API requests against the token table."""

    protector: ResourceProtector

    @classmethod
    def over(cls, store: OAuthStore) -> BearerCheck:
        """A check backed by ``store``."""
        protector = ResourceProtector()
        protector.register_token_validator(StoredTokenValidator(store))
        return cls(protector)

    def token_for(self, scope: str) -> StoredToken:
        """The request's valid access token granting ``scope``; raises :class:`BearerRefused`."""
        try:
            token = self.protector.validate_request([scope], FlaskJsonRequest(request))
        except MissingAuthorizationError as error:
            raise BearerRefused(
                401,
                "missing_authorization",
                "This needs an OAuth 2.0 access token: send 'Authorization: Bearer <token>'.",
                f'Bearer realm="{REALM}"',
            ) from error
        except InsufficientScopeError as error:
            description = str(error.description)
            raise BearerRefused(
                403,
                "insufficient_scope",
                description,
                f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"',
            ) from error
        except OAuth2Error as error:
            description = str(error.description or "The access token is not valid.")
            if error.error == "unsupported_token_type":
                description = "Only Bearer access tokens are accepted here."
            challenge = description.replace('"', "'")
            raise BearerRefused(
                401,
                "invalid_token",
                description,
                f'Bearer realm="{REALM}", error="invalid_token", error_description="{challenge}"',
            ) from error
        return cast(StoredToken, token)


__all__ = ["REALM", "BearerCheck", "BearerRefused", "StoredTokenValidator"]
