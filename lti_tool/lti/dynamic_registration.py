"""LTI Dynamic Registration (https://www.imsglobal.org/spec/lti-dr/v1p0) and the Canvas
developer key JSON.

A platform administrator gives the platform our registration URL (``/lti/register``); the
platform opens it with ``openid_configuration`` (its OpenID configuration URL) and, usually,
``registration_token``. We read the configuration through the guarded HTTP client — with the
token as bearer, as Canvas requires —, check it (its issuer has the configuration URL's origin;
it supports what we need), post our tool registration to its registration endpoint, and store
the platform registration with the deployment the platform answers with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from core.errors import FetchRefused, InvalidInput
from core.lti_registry import LtiRegistry, LtiRegistryError, PlatformView

TOOL_NAME: Final = "Cities of Learning"
TOOL_DESCRIPTION: Final = (
    "Activities and playlists of the Cities of Learning in your course, with Open Badges "
    "and grades back to the gradebook."
)
AGS_SCOPES: Final = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
)
NRPS_SCOPES: Final = ("https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",)
TOOL_SCOPES: Final = AGS_SCOPES + NRPS_SCOPES
#: The claims we ask for: without name and email Moodle and Canvas send neither.
TOOL_CLAIMS: Final = ("iss", "sub", "name", "given_name", "family_name", "email")
PLATFORM_CONFIGURATION: Final = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION: Final = "https://purl.imsglobal.org/spec/lti-tool-configuration"
CANVAS_PRIVACY_LEVEL: Final = "https://canvas.instructure.com/lti/privacy_level"
CLOSE_MESSAGE: Final = {"subject": "org.imsglobal.lti.close"}


class RegistrationRefused(LtiRegistryError):
    """Dynamic registration could not finish; the message says what the platform got wrong."""


@dataclass(frozen=True)
class ToolUrls:
    """The tool's LTI endpoints (the URL contract of the LTI tool)."""

    base_url: str

    @property
    def login(self) -> str:
        """OIDC third-party login initiation."""
        return f"{self.base_url}/lti/login"

    @property
    def launch(self) -> str:
        """Where the platform posts the id_token (the redirect URI and target link URI)."""
        return f"{self.base_url}/lti/launch"

    @property
    def jwks(self) -> str:
        """The tool's public keys."""
        return f"{self.base_url}/lti/jwks.json"

    @property
    def domain(self) -> str:
        """The tool's host (with the port when it is not the default)."""
        return urlsplit(self.base_url).netloc


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _url_field(configuration: dict[str, Any], name: str) -> str:
    value = configuration.get(name)
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise RegistrationRefused(
            f"The platform's OpenID configuration has no valid {name!r} (a web address)."
        )
    return value


def check_platform_configuration(configuration: Any, configuration_url: str) -> dict[str, Any]:
    """The platform's OpenID configuration when it is usable for LTI 1.3: an issuer of the
    configuration URL's origin, the endpoints, RS256 id_tokens, ``private_key_jwt`` client
    authentication and the LTI platform configuration."""
    if not isinstance(configuration, dict):
        raise RegistrationRefused("The platform's OpenID configuration is not a JSON object.")
    issuer = _url_field(configuration, "issuer")
    if _origin(issuer) != _origin(configuration_url):
        raise RegistrationRefused(
            f"The platform's issuer {issuer} is not on the site of its OpenID configuration "
            f"({configuration_url}); the registration is refused."
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"):
        _url_field(configuration, name)
    algorithms = configuration.get("id_token_signing_alg_values_supported")
    if isinstance(algorithms, list) and "RS256" not in algorithms:
        raise RegistrationRefused("The platform does not sign id_tokens with RS256.")
    methods = configuration.get("token_endpoint_auth_methods_supported")
    if isinstance(methods, list) and "private_key_jwt" not in methods:
        raise RegistrationRefused(
            "The platform does not accept private_key_jwt client authentication."
        )
    if not isinstance(configuration.get(PLATFORM_CONFIGURATION), dict):
        raise RegistrationRefused(
            "The platform's OpenID configuration has no LTI platform configuration."
        )
    return configuration


def product_family(configuration: dict[str, Any]) -> str | None:
    """The platform's product family code (``moodle``, ``canvas``, …), if it says."""
    family = configuration.get(PLATFORM_CONFIGURATION, {}).get("product_family_code")
    return family.strip().lower()[:100] if isinstance(family, str) and family.strip() else None


def tool_registration(urls: ToolUrls, configuration: dict[str, Any]) -> dict[str, Any]:
    """The tool registration request we post to the platform."""
    supported = configuration.get("scopes_supported")
    scopes = [s for s in TOOL_SCOPES if not isinstance(supported, list) or s in supported]
    family = product_family(configuration)
    deep_linking: dict[str, Any] = {
        "type": "LtiDeepLinkingRequest",
        "target_link_uri": urls.launch,
        "label": "Add a Cities of Learning activity",
    }
    resource_link: dict[str, Any] = {
        "type": "LtiResourceLinkRequest",
        "target_link_uri": urls.launch,
        "label": TOOL_NAME,
    }
    if family == "canvas":
        deep_linking["placements"] = ["link_selection", "assignment_selection"]
    tool_configuration: dict[str, Any] = {
        "domain": urls.domain,
        "target_link_uri": urls.launch,
        "description": TOOL_DESCRIPTION,
        "claims": list(TOOL_CLAIMS),
        "messages": [resource_link, deep_linking],
    }
    registration: dict[str, Any] = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": TOOL_NAME,
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIGURATION: tool_configuration,
    }
    if family == "canvas":
        # Canvas sends names and emails only to tools whose privacy level is public.
        registration[CANVAS_PRIVACY_LEVEL] = "public"
    return registration


def register_dynamically(
    registry: LtiRegistry,
    urls: ToolUrls,
    openid_configuration: str,
    registration_token: str | None,
) -> PlatformView:
    """Run dynamic registration with the platform whose configuration is at
    ``openid_configuration``; returns the stored registration. Refusals raise
    :class:`RegistrationRefused`; an unreachable platform :class:`FetchRefused`."""
    if not isinstance(openid_configuration, str) or not openid_configuration.startswith(
        ("https://", "http://")
    ):
        raise RegistrationRefused(
            "Open this address from your platform's tool registration page: it needs the "
            "platform's openid_configuration address."
        )
    token = registration_token.strip() if isinstance(registration_token, str) else ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        fetched = registry.http.fetch_json(
            openid_configuration, accept="application/json", headers=headers
        )
    except InvalidInput as problem:
        raise RegistrationRefused(problem.message) from problem
    configuration = check_platform_configuration(fetched, openid_configuration)
    request = tool_registration(urls, configuration)
    try:
        answer = registry.http.post_json(
            configuration["registration_endpoint"], request, headers=headers
        )
    except InvalidInput as problem:
        raise RegistrationRefused(problem.message) from problem
    except FetchRefused as problem:
        raise RegistrationRefused(
            f"The platform refused the tool registration: {problem.message}"
        ) from problem
    if not isinstance(answer, dict):
        raise RegistrationRefused("The platform's answer to the registration is not JSON.")
    client_id = answer.get("client_id")
    if isinstance(client_id, int) and not isinstance(client_id, bool):
        client_id = str(client_id)
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationRefused("The platform's answer to the registration has no client_id.")
    answered = answer.get(TOOL_CONFIGURATION)
    deployment_id = answered.get("deployment_id") if isinstance(answered, dict) else None
    if isinstance(deployment_id, int) and not isinstance(deployment_id, bool):
        deployment_id = str(deployment_id)
    deployment_ids = [deployment_id] if isinstance(deployment_id, str) and deployment_id else []
    issuer = configuration["issuer"]
    existing = registry.find_platform(issuer, client_id)
    if existing is not None:
        for deployment in deployment_ids:
            registry.add_deployment(existing.public_id, deployment)
        return registry.update_platform(
            existing.public_id,
            auth_login_url=configuration["authorization_endpoint"],
            auth_token_url=configuration["token_endpoint"],
            key_set_url=configuration["jwks_uri"],
            active=True,
        )
    audience = configuration.get("authorization_server")
    return registry.register_platform(
        issuer=issuer,
        client_id=client_id,
        auth_login_url=configuration["authorization_endpoint"],
        auth_token_url=configuration["token_endpoint"],
        key_set_url=configuration["jwks_uri"],
        auth_audience=audience if isinstance(audience, str) else None,
        deployment_ids=deployment_ids,
        product_family_code=product_family(configuration),
        registered_via="dynamic",
    )


def canvas_developer_key(urls: ToolUrls) -> dict[str, Any]:
    """The JSON to paste into a Canvas LTI developer key ("Paste JSON")."""
    launch_placements = [
        {
            "placement": placement,
            "message_type": "LtiDeepLinkingRequest",
            "target_link_uri": urls.launch,
            "text": "Add a Cities of Learning activity",
        }
        for placement in ("link_selection", "assignment_selection")
    ]
    return {
        "title": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "oidc_initiation_url": urls.login,
        "target_link_uri": urls.launch,
        "public_jwk_url": urls.jwks,
        "scopes": list(TOOL_SCOPES),
        "extensions": [
            {
                "platform": "canvas.instructure.com",
                "domain": urls.domain,
                "tool_id": "badgebridge",
                "privacy_level": "public",
                "settings": {"text": TOOL_NAME, "placements": launch_placements},
            }
        ],
        "custom_fields": {},
    }


__all__ = [
    "CLOSE_MESSAGE",
    "TOOL_CLAIMS",
    "TOOL_SCOPES",
    "RegistrationRefused",
    "ToolUrls",
    "canvas_developer_key",
    "check_platform_configuration",
    "register_dynamically",
    "tool_registration",
]
