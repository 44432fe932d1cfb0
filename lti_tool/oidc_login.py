"""Optional log-in through an OpenID Connect identity provider (authlib's Flask client).

On when ``BADGEBRIDGE_OIDC_ISSUER``, ``BADGEBRIDGE_OIDC_CLIENT_ID`` and
``BADGEBRIDGE_OIDC_CLIENT_SECRET`` are set (``BADGEBRIDGE_OIDC_NAME`` names the provider on
the log-in page). The provider is found through its discovery document; the flow is the
authorization code flow with PKCE (S256), a ``state`` and a ``nonce``. authlib checks the ID
token's signature against the provider's published keys, its issuer, audience, expiry, nonce
and ``at_hash``; we also check that the discovery document names the configured issuer.

A login is matched to an account by the provider's subject, else by a *verified* email
address; people without an account get one without rights until an administrator gives it an
issuer (see :meth:`core.accounts.Accounts.find_or_create_oidc_user`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, cast

from flask import Flask, Response, current_app, flash, redirect, render_template, url_for

from core.errors import BadgeBridgeError
from lti_tool.i18n import gettext as _
from lti_tool.web import badge_service

OIDC_EXTENSION = "badgebridge.oidc"
CLIENT_NAME = "oidc"


@dataclass(frozen=True)
class OidcSettings:
    """Where the identity provider is and who we are to it."""

    issuer: str
    client_id: str
    client_secret: str
    display_name: str

    @classmethod
    def from_env(cls) -> OidcSettings | None:
        """The settings from the environment, or None when log-in through a provider is off."""
        issuer = os.environ.get("BADGEBRIDGE_OIDC_ISSUER", "").strip().rstrip("/")
        client_id = os.environ.get("BADGEBRIDGE_OIDC_CLIENT_ID", "").strip()
        secret = os.environ.get("BADGEBRIDGE_OIDC_CLIENT_SECRET", "").strip()
        if not (issuer and client_id and secret):
            return None
        name = os.environ.get("BADGEBRIDGE_OIDC_NAME", "").strip() or issuer
        return cls(issuer, client_id, secret, name)


class OidcLoginFailed(BadgeBridgeError):
    """The identity provider's answer was refused (wrong state, bad token, wrong issuer)."""


def oidc_enabled() -> bool:
    """True when log-in through an identity provider is set up."""
    return OIDC_EXTENSION in current_app.extensions


def _client() -> Any:
    return current_app.extensions[OIDC_EXTENSION][1]


def _settings() -> OidcSettings:
    return cast(OidcSettings, current_app.extensions[OIDC_EXTENSION][0])


def _callback_url() -> str:
    # From the configured base URL, never from the request's Host header.
    return badge_service().settings.base_url + url_for("auth_oidc.callback")


def init_oidc(app: Flask, settings: OidcSettings | None = None) -> None:
    """Register the provider's client and the two log-in routes, when set up."""
    settings = settings or OidcSettings.from_env()
    if settings is None:
        return
    from authlib.integrations.flask_client import OAuth  # type: ignore[import-untyped]
    from flask import Blueprint

    oauth = OAuth(app)
    client = oauth.register(
        CLIENT_NAME,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )
    app.extensions[OIDC_EXTENSION] = (settings, client)
    blueprint = Blueprint("auth_oidc", __name__)
    blueprint.add_url_rule("/login/oidc", "start", start, methods=["GET"])
    blueprint.add_url_rule("/login/oidc/callback", "callback", callback, methods=["GET"])
    app.register_blueprint(blueprint)


def start() -> Response | tuple[str, int]:
    """Send the visitor to the identity provider."""
    try:
        return cast(Response, _client().authorize_redirect(_callback_url()))
    except Exception as problem:  # the provider's discovery document could not be read
        current_app.logger.warning("OpenID Connect provider unavailable: %r", problem)
        return _failed_page()


def _failed_page() -> tuple[str, int]:
    page = render_template(
        "auth/login.html",
        next="",
        email="",
        errors={
            "_oidc": _(
                "Logging in through %(name)s did not work. Try again, or ask an administrator.",
                name=_settings().display_name,
            )
        },
        oidc_enabled=True,
        oidc_name=_settings().display_name,
    )
    return page, 400


def verified_claims() -> dict[str, Any]:
    """The ID token's claims after every check (raises :class:`OidcLoginFailed`)."""
    client = _client()
    try:
        metadata = client.load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != _settings().issuer:
            raise OidcLoginFailed("The discovery document names another issuer.")
        token = client.authorize_access_token()
    except OidcLoginFailed:
        raise
    except Exception as problem:  # authlib, joserfc and requests each raise their own errors
        current_app.logger.warning("OpenID Connect log-in refused: %r", problem)
        raise OidcLoginFailed(f"The identity provider's answer was refused: {problem}") from None
    claims = token.get("userinfo") if isinstance(token, dict) else None
    if not claims or not claims.get("sub"):
        raise OidcLoginFailed("The identity provider sent no ID token.")
    return dict(claims)


def callback() -> Response | tuple[str, int]:
    """The provider sends the visitor back here: check everything, then log them in."""
    from lti_tool.auth import HOME_ENDPOINT, start_session

    try:
        claims = verified_claims()
        user = badge_service().accounts.find_or_create_oidc_user(
            provider=_settings().issuer,
            subject=str(claims["sub"]),
            email=claims.get("email"),
            email_verified=claims.get("email_verified") is True,
            name=claims.get("name"),
        )
    except BadgeBridgeError:
        return _failed_page()
    start_session(user)
    flash(_("You are logged in as %(name)s.", name=user.name), "success")
    return cast(Response, redirect(url_for(HOME_ENDPOINT)))


def provider_name() -> str:
    """The provider's name for the log-in button."""
    return _settings().display_name


__all__ = ["OidcLoginFailed", "OidcSettings", "init_oidc", "oidc_enabled", "verified_claims"]
