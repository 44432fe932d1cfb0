"""The machine APIs: W3C VC-API, the Open Badges 3.0 API and the OAuth 2.0 server behind them,
described by an OpenAPI document at ``/openapi.json``.

:func:`init_apis` adds them to an app made by :func:`lti_tool.app.create_app`.
"""

from __future__ import annotations

from flask import Flask

from core.service import BadgeService
from lti_tool.api.bearer import BearerCheck
from lti_tool.api.oauth import API_EXTENSION, ApiState, create_authorization_server, oauth
from lti_tool.api.oauth_store import IssuingClientCredentials, OAuthStore
from lti_tool.web import SERVICE_EXTENSION


def init_apis(app: Flask) -> None:
    """Register the API blueprints and this app's authorization server (the badge service must
    already be in ``app.extensions``)."""
    from lti_tool.api.ob import ob_api
    from lti_tool.api.openapi import openapi
    from lti_tool.api.vc import vc_api

    store = OAuthStore(app.extensions[SERVICE_EXTENSION])
    server = create_authorization_server(app, store)
    app.extensions[API_EXTENSION] = ApiState(store, server, BearerCheck.over(store))
    app.register_blueprint(oauth)
    app.register_blueprint(ob_api)
    app.register_blueprint(vc_api)
    app.register_blueprint(openapi)


def register_issuing_client(
    service: BadgeService, issuer_slug: str, *, owner_user_id: int, name: str
) -> IssuingClientCredentials:
    """Register a VC-API client that issues for ``issuer_slug`` (an administrator's act: its
    tokens act for ``owner_user_id``). Show the returned secret once: only its digest is kept.

    The client gets tokens with the client credentials grant (HTTP Basic at ``/oauth/token``,
    ``grant_type=client_credentials``) and calls ``POST /credentials/issue`` with them."""
    return OAuthStore(service).register_issuing_client(
        issuer_slug, owner_user_id=owner_user_id, name=name
    )


__all__ = ["init_apis", "register_issuing_client"]
