"""The one module that wraps pylti1p3 (the ``pylti1p3next`` 2.0.2 fork) and closes its known
gaps. Everything LTI in this app goes through :class:`HardenedOIDCLogin`,
:class:`HardenedMessageLaunch` and :class:`RegistryToolConfig`; nothing else imports pylti1p3.

The gaps, each closed here and each with a test in ``tests/test_lti_launch_units.py``:

* an id_token without ``exp`` or ``iat`` was accepted → both are required;
* a replayed nonce was accepted (nonces were checked, never used up) → the nonce lives in its
  state's record in the shared launch cache, the launch takes that record out (once), and the
  id_token's nonce must be the one issued with the launch's ``state``: it works once;
* an ``aud`` array was read as ``aud[0]`` and ``azp`` ignored → ``aud`` must contain our client
  id, and when it holds several values ``azp`` must be our client id;
* validation errors could surface as 500s → every problem becomes :class:`LaunchRefused`, a 4xx
  with a readable page;
* after ``from_cache()`` the AGS and NRPS calls failed (the base service connector caches
  nothing) unless a concrete connector was passed → :meth:`HardenedMessageLaunch.restore`
  passes :class:`KeyedServiceConnector`;
* cached service access tokens were keyed by issuer and scopes only → keyed by issuer,
  client id and scopes, in the shared cache;
* the platform's JWKS was never fetched again, so a platform key rotation broke launches → an
  unknown ``kid`` refetches the platform's keys once (rate-limited), then fails;
* the Flask cookie-check template was not shipped → ``templates/lti/cookie_check.html``;
* the JWT leeway was 0 s while Moodle's id_tokens live 60 s → 60 s.

Browsers that block the tool's cookie in the LMS frame (Safari, Chrome without third-party
cookies) are served by the LTI Client Side postMessage storage: when the login initiation names
``lti_storage_target``, the login page stores the state and nonce in the platform's storage
(``lti.put_data``) and the launch, missing its cookie, asks the platform for them back
(``lti.get_data``) before it is validated (:class:`StateInPlatformStorage`,
:meth:`HardenedMessageLaunch.from_platform_storage`). The platform keeps those values per
tool origin, in this browser: they stand in for the cookie. Without either, the refusal offers
the login again in a new window, where the cookie is first-party.

Launch data (states, nonces, validated launches) lives in the registry's launch cache (the
database, or Redis when configured), so any web worker can serve any step of a launch. The
state cookie is ``Secure; SameSite=None; Partitioned`` on https (the tool runs in the LMS's
iframe, a third-party context).
"""

# pylti1p3's Flask classes have no annotations: calls into them are untyped by nature.
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import typing as t
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, Literal, cast
from urllib.parse import urlencode, urlsplit

import jwt
from flask import Response, render_template
from pylti1p3.contrib.flask.cookie import FlaskCookieService
from pylti1p3.contrib.flask.message_launch import FlaskMessageLaunch
from pylti1p3.contrib.flask.oidc_login import FlaskOIDCLogin
from pylti1p3.contrib.flask.request import FlaskRequest as _FlaskRequest
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException, OIDCException, ToolConfException
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector
from pylti1p3.session import SessionService
from pylti1p3.tool_config.abstract import ToolConfAbstract

from core.errors import BadgeBridgeError, FetchRefused, InvalidInput, KeyProblem
from core.keys import public_key_from_jwk
from core.lti_registry import (
    DeploymentView,
    LaunchCache,
    LtiRegistry,
    PlatformView,
    key_type_for_algorithm,
)

#: Accepted clock difference with the platform. Moodle's id_tokens live 60 s.
JWT_LEEWAY_SECONDS: Final = 60
#: From the OIDC login initiation to the launch: the state and nonce live this long.
STATE_TTL_SECONDS: Final = 600
#: A validated launch is usable (its pages, its AGS/NRPS calls) this long.
LAUNCH_TTL_SECONDS: Final = 8 * 3600
#: Cached service access tokens are dropped this long before the platform says they expire.
TOKEN_EXPIRY_MARGIN_SECONDS: Final = 30
#: Timeout of each request to a platform's services (AGS, NRPS, token endpoint).
SERVICE_TIMEOUT_SECONDS: Final = 15.0
#: Cookie names start with this (pylti1p3's prefix: the state cookie is ``lti1p3-<state>``).
COOKIE_PREFIX: Final = "lti1p3-"
#: The message types this tool handles.
MESSAGE_TYPES: Final = frozenset({"LtiResourceLinkRequest", "LtiDeepLinkingRequest"})
#: Parameters of a login initiation that the "open in a new window" link repeats.
LOGIN_PARAMETERS: Final = (
    "iss",
    "login_hint",
    "target_link_uri",
    "lti_message_hint",
    "client_id",
    "lti_deployment_id",
)

LTI_CLAIM: Final = "https://purl.imsglobal.org/spec/lti/claim/"

#: The login initiation parameter naming the platform's storage frame (Canvas, Moodle 4.4+).
STORAGE_TARGET_PARAMETER: Final = "lti_storage_target"
#: From a launch missing its cookie to the platform storage's answer, posted back by the page.
STORAGE_CHECK_TTL_SECONDS: Final = 120
#: An id_token kept while the platform's storage is asked is at most this long.
MAX_ID_TOKEN_CHARS: Final = 64_000
_FRAME_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class LaunchRefused(BadgeBridgeError):
    """An LTI login, launch or restore that cannot go on: ``status`` (4xx) and a readable
    ``message``; ``reason`` is a short code for logs and tests; ``reopen_url``, when set, starts
    the login again in a new window (for browsers that block cookies in the LMS's frame)."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        status: int = 400,
        reopen_url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.reopen_url = reopen_url


class StateInPlatformStorage(Exception):
    """A launch without the state cookie whose login kept its state in the platform's storage:
    the page answering the launch asks the platform for it (``lti.get_data`` of ``state_key``
    and ``nonce_key`` from the ``storage`` frame) and posts the values back with
    ``reference``, which names the launch kept meanwhile (single use)."""

    def __init__(self, reference: str, storage: PlatformStorage, state: str, nonce: str) -> None:
        super().__init__("The launch's state is kept in the platform's storage.")
        self.reference = reference
        self.storage = storage
        self.state_key = storage_key("state", state)
        self.nonce_key = storage_key("nonce", nonce)


@dataclass(frozen=True)
class PlatformStorage:
    """The platform's storage for this login: the frame to post to (``_parent`` for the
    parent window) and the platform's origin (of its registered authentication URL), the only
    origin our messages go to and answers are accepted from."""

    target: str
    origin: str

    def as_dict(self) -> dict[str, str]:
        """As kept with the state."""
        return {"target": self.target, "origin": self.origin}

    @classmethod
    def from_value(cls, value: Any) -> PlatformStorage | None:
        """The storage kept with a state, if any."""
        if not isinstance(value, dict):
            return None
        target, origin = value.get("target"), value.get("origin")
        if isinstance(target, str) and isinstance(origin, str):
            return cls(target, origin)
        return None


def storage_key(kind: str, value: str) -> str:
    """The platform storage key of a state or nonce (one key per login: concurrent launches in
    several frames do not overwrite each other)."""
    return f"{kind}_{value}"


def web_origin(url: str) -> str | None:
    """The origin of ``url`` as browsers write it (``https://host`` or ``http://host:port``);
    None when ``url`` is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


# --------------------------------------------------------------------------------------------
# Requests, cookies, sessions
# --------------------------------------------------------------------------------------------


class LtiRequest(_FlaskRequest):
    """pylti1p3's view of the Flask request; ``secure`` also when the public URL is https
    (behind a proxy without ``BADGEBRIDGE_PROXY_FIX`` the request itself looks like http);
    ``params``, when given, stand for the request's parameters (a launch kept while the
    platform's storage was asked)."""

    def __init__(
        self, *, secure: bool | None = None, params: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(request_data=dict(params) if params else None)
        if secure is not None:
            self._request_is_secure = bool(secure) or bool(self._request_is_secure)

    def get_param(self, key: str) -> Any:
        """A query parameter (GET) or form field (POST); only text counts."""
        value = super().get_param(key)
        return value if isinstance(value, str) else None


class LtiCookieService(FlaskCookieService):
    """Cookies that work in the LMS's iframe: ``Secure; SameSite=None; Partitioned`` on https,
    always ``HttpOnly``; also removes cookies (a used state)."""

    def __init__(self, request: LtiRequest) -> None:
        super().__init__(request)
        self._cookies_to_remove: list[str] = []

    def remove_cookie(self, name: str) -> None:
        """Remove the cookie ``name`` (without the prefix) with the response."""
        self._cookies_to_remove.append(self._get_key(name))

    def update_response(self, response: Response) -> None:
        """Set and remove the pending cookies on ``response``."""
        secure = bool(cast(LtiRequest, self._request).is_secure())
        for key, cookie in self._cookie_data_to_set.items():
            response.set_cookie(
                key,
                str(cookie["value"]),
                max_age=cookie["exp"],
                path="/",
                httponly=True,
                secure=secure,
                samesite="None" if secure else "Lax",
                partitioned=secure,
            )
        for key in self._cookies_to_remove:
            response.delete_cookie(
                key,
                path="/",
                httponly=True,
                secure=secure,
                samesite="None" if secure else "Lax",
                partitioned=secure,
            )


class SharedSessionService(SessionService):
    """pylti1p3's session service over the shared launch cache instead of the Flask session:
    any web worker serves any step. Nonces are used up when checked."""

    def __init__(self, cache: LaunchCache) -> None:
        # Not calling SessionService.__init__: it would wire the Flask session in.
        self._cache = cache

    def save_launch_data(self, key: str, jwt_body: Mapping[str, Any]) -> None:
        """Keep a validated launch for :data:`LAUNCH_TTL_SECONDS`."""
        self._cache.put(f"launch:{key}", dict(jwt_body), LAUNCH_TTL_SECONDS)

    def get_launch_data(self, key: str) -> Any:
        """A kept launch, or None."""
        return self._cache.get(f"launch:{key}")

    def save_nonce(self, nonce: str) -> None:
        """Nothing: a nonce lives in its state's record (see ``validate_nonce``)."""

    def check_nonce(self, nonce: str) -> bool:
        """Never: pylti1p3 answered True for any nonce seen before, again and again. A nonce
        is checked against its state's record, which is taken once (``validate_nonce``)."""
        return False

    def save_state_params(self, state: str, params: Mapping[str, Any]) -> None:
        """Remember what the login initiation for ``state`` was about."""
        self._cache.put(f"state:{state}", dict(params), STATE_TTL_SECONDS)

    def get_state_params(self, state: str) -> Any:
        """What the login for ``state`` was about (None once taken or expired)."""
        return self._cache.get(f"state:{state}")

    def take_state_params(self, state: str) -> Any:
        """The login for ``state``, used up: a state serves one launch."""
        return self._cache.take(f"state:{state}")

    def keep_launch_for_storage_check(self, reference: str, launch: Mapping[str, Any]) -> None:
        """Keep a launch whose state the platform's storage is being asked for."""
        self._cache.put(f"storage-launch:{reference}", dict(launch), STORAGE_CHECK_TTL_SECONDS)

    def take_launch_for_storage_check(self, reference: str) -> Any:
        """The launch kept under ``reference``, used up (None when unknown or expired)."""
        if not isinstance(reference, str) or not 0 < len(reference) <= 100:
            return None
        return self._cache.take(f"storage-launch:{reference}")

    def set_state_valid(self, state: str, id_token_hash: str) -> None:
        """pylti1p3 would let the same state and id_token through again; not here."""

    def check_state_is_valid(self, state: str, id_token_hash: str) -> bool:
        """Never: a state is checked against its cookie, once (see ``validate_state``)."""
        return False

    def set_launch_data_lifetime(self, time_sec: int) -> None:
        """The lifetime is :data:`LAUNCH_TTL_SECONDS`."""


# --------------------------------------------------------------------------------------------
# Tool configuration from the registry
# --------------------------------------------------------------------------------------------


class PlatformRegistration(Registration):
    """A pylti1p3 registration built from the registry, carrying the platform view and the
    shared cache (for access tokens)."""

    def __init__(self, platform: PlatformView, registry: LtiRegistry) -> None:
        super().__init__()
        self.platform = platform
        self.launch_cache = registry.launch_cache
        signing = registry.tool_signing_key()
        self._kid = signing.kid
        self.set_issuer(platform.issuer)
        self.set_client_id(platform.client_id)
        self.set_auth_login_url(platform.auth_login_url)
        self.set_auth_token_url(platform.auth_token_url)
        if platform.auth_audience:
            self.set_auth_audience(platform.auth_audience)
        self.set_key_set_url(platform.key_set_url)
        self.set_key_set(platform.key_set)  # type: ignore[arg-type]
        self.set_tool_private_key(signing.private_pem())
        self.set_tool_public_key(signing.public_pem())

    def get_kid(self) -> str:
        """Our key's JWK thumbprint (the ``kid`` of our client assertions)."""
        return self._kid


class RegistryToolConfig(ToolConfAbstract[LtiRequest]):
    """pylti1p3's tool configuration read from the registry: many client ids per issuer, only
    active registrations, deployments checked per registration."""

    def __init__(self, registry: LtiRegistry) -> None:
        super().__init__()
        self.registry = registry
        self._platforms: dict[tuple[str, str], PlatformView | None] = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        """Never assumed: a registration is always an (issuer, client id) pair."""
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        """Always."""
        return True

    def platform(self, iss: Any, client_id: Any) -> PlatformView | None:
        """The active registration of ``client_id`` at ``iss``; without a client id, the
        issuer's only active registration (None when there are several)."""
        if not isinstance(iss, str) or not iss:
            return None
        if client_id is not None and not isinstance(client_id, str):
            return None
        cache_key = (iss, client_id or "")
        if cache_key not in self._platforms:
            if client_id:
                found = self.registry.find_platform(iss, client_id)
                self._platforms[cache_key] = found if found is not None and found.active else None
            else:
                active = [p for p in self.registry.platforms_of_issuer(iss) if p.active]
                self._platforms[cache_key] = active[0] if len(active) == 1 else None
        return self._platforms[cache_key]

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Any:
        """The issuer's only active registration."""
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(
        self, iss: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Any:
        """The registration of ``client_id`` at ``iss``."""
        platform = self.platform(iss, client_id)
        return None if platform is None else PlatformRegistration(platform, self.registry)

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        """Not used: every lookup names the client id."""
        return None

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        """The deployment of the registration ``(iss, client_id)``."""
        platform = self.platform(iss, client_id)
        if platform is None or not isinstance(deployment_id, str):
            return None
        if deployment_id not in platform.deployment_ids:
            return None
        return Deployment().set_deployment_id(deployment_id)

    def get_jwks(self, iss: str | None = None, client_id: str | None = None, **kwargs: Any) -> Any:
        """The tool's public keys (the same for every platform)."""
        return self.registry.tool_jwks()


# --------------------------------------------------------------------------------------------
# Service calls (AGS, NRPS)
# --------------------------------------------------------------------------------------------


class KeyedServiceConnector(ServiceConnector):
    """A service connector whose access tokens are cached in the shared launch cache, keyed by
    issuer, client id and scopes: two registrations at one issuer never share a token."""

    def __init__(self, registration: PlatformRegistration, requests_session: Any = None) -> None:
        super().__init__(registration, requests_session)
        self._cache: LaunchCache = registration.launch_cache

    def _scope_key(self, scopes: t.Iterable[str]) -> str:
        issuer = self._registration.get_issuer() or ""
        client_id = self._registration.get_client_id() or ""
        material = json.dumps([issuer, client_id, sorted(scopes)])
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def _get_cached_access_token(self, scope_key: str) -> str | None:
        token = self._cache.get(f"token:{scope_key}")
        return token if isinstance(token, str) else None

    def _cache_access_token(self, scope_key: str, access_token: str, expires_in: float) -> None:
        try:
            lifetime = float(expires_in) - TOKEN_EXPIRY_MARGIN_SECONDS
        except (TypeError, ValueError):
            return
        if lifetime > 0:
            self._cache.put(f"token:{scope_key}", access_token, lifetime)


def service_requests_session(registry: LtiRegistry) -> Any:
    """A ``requests`` session for AGS/NRPS calls: through the guarded client's address checks,
    with a timeout on every request."""
    session = registry.http.requests_session()
    session.request = partial(session.request, timeout=SERVICE_TIMEOUT_SECONDS)  # type: ignore[method-assign]
    return session


# --------------------------------------------------------------------------------------------
# OIDC login initiation
# --------------------------------------------------------------------------------------------


def _same_origin(url: str, base_url: str) -> bool:
    try:
        a, b = urlsplit(url), urlsplit(base_url)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
    except ValueError:
        return False


class HardenedOIDCLogin(FlaskOIDCLogin):
    """The third-party login initiation: finds the registration, checks the deployment hint,
    stores the state (with its nonce and the login parameters) in the shared cache, sets the
    state cookie and redirects to the platform's authentication endpoint."""

    cookie_check_template_name = "lti/cookie_check.html"
    storage_login_template_name = "lti/storage_login.html"

    def __init__(
        self,
        request: LtiRequest,
        tool_config: RegistryToolConfig,
        *,
        base_url: str,
        script_nonce: str = "",
    ) -> None:
        super().__init__(
            request,
            tool_config,
            session_service=cast(Any, SharedSessionService(tool_config.registry.launch_cache)),
            cookie_service=LtiCookieService(request),
        )
        self._base_url = base_url
        self._script_nonce = script_nonce
        self._state = self._nonce = ""

    def login_parameters(self) -> dict[str, str]:
        """The initiation's parameters worth repeating (for "open in a new window")."""
        found = {}
        for name in LOGIN_PARAMETERS:
            value = self._get_request_param(name)
            if isinstance(value, str) and value:
                found[name] = value
        return found

    def platform_storage(self, platform: PlatformView) -> PlatformStorage | None:
        """The storage of ``platform``, when the initiation names one (``lti_storage_target``)
        and the platform's registered authentication URL gives its origin."""
        target = self._get_request_param(STORAGE_TARGET_PARAMETER)
        if not target or not _FRAME_NAME.fullmatch(target):
            return None
        origin = web_origin(platform.auth_login_url)
        return None if origin is None else PlatformStorage(target, origin)

    def _prepare_redirect_url(self, launch_url: str) -> str:
        registration = self.validate_oidc_login()
        self._registration = registration
        platform: PlatformView = registration.platform
        storage = self.platform_storage(platform)
        target = self._get_request_param("target_link_uri")
        if target and not _same_origin(target, self._base_url):
            raise LaunchRefused(
                "The login names a target outside this tool.", reason="foreign-target"
            )
        deployment_hint = self._get_request_param("lti_deployment_id")
        if deployment_hint and deployment_hint not in platform.deployment_ids:
            raise LaunchRefused(
                f"The deployment {deployment_hint!r} of {platform.name} is not registered "
                "here. Ask the administrator of this tool to add it.",
                reason="unknown-deployment",
            )
        state = "state-" + secrets.token_urlsafe(24)
        nonce = secrets.token_urlsafe(24)
        self._state, self._nonce = state, nonce
        session_service: SharedSessionService = self._session_service
        session_service.save_state_params(
            state,
            {
                "nonce": nonce,
                "iss": platform.issuer,
                "client_id": platform.client_id,
                "login": self.login_parameters(),
                "storage": None if storage is None else storage.as_dict(),
            },
        )
        self._cookie_service.set_cookie(state, state, STATE_TTL_SECONDS)
        parameters = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": platform.client_id,
            "redirect_uri": launch_url,
            "state": state,
            "nonce": nonce,
            "login_hint": self._get_request_param("login_hint"),
        }
        message_hint = self._get_request_param("lti_message_hint")
        if message_hint:
            parameters["lti_message_hint"] = message_hint
        separator = "&" if "?" in platform.auth_login_url else "?"
        return platform.auth_login_url + separator + urlencode(parameters)

    def validate_oidc_login(self) -> PlatformRegistration:
        """The registration the initiation names (issuer, login hint and, when several client
        ids share the issuer, the client id are required)."""
        issuer = self._get_request_param("iss")
        if not issuer:
            raise LaunchRefused("The login initiation names no issuer (iss).", reason="no-iss")
        if not self._get_request_param("login_hint"):
            raise LaunchRefused("The login initiation has no login_hint.", reason="no-login-hint")
        client_id = self._get_request_param("client_id")
        config: RegistryToolConfig = self._tool_config
        registration = config.find_registration_by_params(issuer, client_id)
        if registration is None and not client_id:
            active = [p for p in config.registry.platforms_of_issuer(issuer) if p.active]
            if len(active) > 1:
                raise LaunchRefused(
                    f"Several registrations of {issuer} use this tool, and the login initiation "
                    "does not say which (client_id).",
                    reason="ambiguous-platform",
                )
        if registration is None:
            raise LaunchRefused(
                "This platform is not registered with this tool"
                + (f" (issuer {issuer}, client id {client_id})." if client_id else f" ({issuer}).")
                + " Ask the administrator of this tool to register it.",
                reason="unknown-platform",
            )
        return cast(PlatformRegistration, registration)

    def get_cookies_allowed_js_check(self) -> Response:
        """The cookie check page (ours: pylti1p3 does not ship the template)."""
        protocol, params = self.get_cookies_allowed_js_check_params()
        page = render_template(
            self.cookie_check_template_name,
            protocol=protocol,
            params=params,
            continue_url="?" + urlencode(params),
            main_text=self._cookies_unavailable_msg_main_text,
            click_text=self._cookies_unavailable_msg_click_text,
            loading_text=self._cookies_check_loading_text,
            script_nonce=self._script_nonce,
        )
        return Response(page, mimetype="text/html")

    def storage_login_page(self, launch_url: str, storage: PlatformStorage) -> Response:
        """The page that stores the state and nonce in the platform's ``storage``, then goes
        on to the platform's authentication endpoint (the state cookie is set too, for
        browsers that keep it)."""
        auth_url = self._prepare_redirect_url(launch_url)
        page = render_template(
            self.storage_login_template_name,
            storage=storage,
            auth_url=auth_url,
            state_key=storage_key("state", self._state),
            state=self._state,
            nonce_key=storage_key("nonce", self._nonce),
            nonce=self._nonce,
            script_nonce=self._script_nonce,
        )
        response = Response(page, mimetype="text/html")
        cookie_service: LtiCookieService = self._cookie_service
        cookie_service.update_response(response)
        return response

    def redirect(self, launch_url: str, js_redirect: bool = False) -> Response:
        """The redirect to the platform (or the cookie check page, or with platform storage
        the page storing the state there); problems of the library become
        :class:`LaunchRefused`."""
        try:
            if self._get_request_param(STORAGE_TARGET_PARAMETER):
                storage = self.platform_storage(self.validate_oidc_login().platform)
                if storage is not None:
                    return self.storage_login_page(launch_url, storage)
            response: Response = super().redirect(launch_url, js_redirect)
        except LaunchRefused:
            raise
        except (LtiException, OIDCException, ToolConfException, InvalidInput) as problem:
            raise LaunchRefused(_problem_text(problem), reason="login-refused") from problem
        return response


# --------------------------------------------------------------------------------------------
# The launch
# --------------------------------------------------------------------------------------------

ClientId = str


#: What pylti1p3 is given for its requests session until one is needed (any true value keeps
#: it from making a plain, unguarded ``requests.Session``).
_NOT_MADE_YET: Final = object()


class HardenedMessageLaunch(FlaskMessageLaunch):
    """An LTI message launch validated with every fix listed in the module docstring."""

    def __init__(
        self,
        request: LtiRequest,
        tool_config: RegistryToolConfig,
        *,
        requests_session: Any = None,
    ) -> None:
        registry = tool_config.registry
        # Only AGS and NRPS calls need a requests session: made on first use (see below).
        self._given_requests_session: Any = requests_session
        super().__init__(
            request,
            tool_config,
            session_service=SharedSessionService(registry.launch_cache),
            cookie_service=LtiCookieService(request),
            requests_session=cast(Any, _NOT_MADE_YET),
            service_connector_cls=cast(Any, KeyedServiceConnector),
        )
        self.set_launch_id(secrets.token_urlsafe(24))
        self._jwt_verify_options = {"verify_aud": True, "require": ["exp", "iat", "iss", "aud"]}
        self._state_record: dict[str, Any] | None = None
        #: The login record of a state already checked against the platform's storage.
        self._state_checked_in_storage: dict[str, Any] | None = None
        self.deployment: DeploymentView | None = None

    @property
    def _requests_session(self) -> Any:
        """pylti1p3's requests session for AGS and NRPS (guarded, with timeouts), made when a
        service is first called: most launches call none."""
        if self._given_requests_session is None:
            self._given_requests_session = service_requests_session(self._tool_config.registry)
        return self._given_requests_session

    @_requests_session.setter
    def _requests_session(self, value: Any) -> None:
        if value is not _NOT_MADE_YET:
            self._given_requests_session = value

    # -- entry points -------------------------------------------------------------------------

    def validate(self) -> HardenedMessageLaunch:
        """Validate the launch (state, cookie, format, nonce, registration, signature,
        deployment, message) and keep it; any problem raises :class:`LaunchRefused`."""
        try:
            super().validate()
        except LaunchRefused:
            raise
        except (
            LtiException,
            OIDCException,
            ToolConfException,
            jwt.PyJWTError,
            KeyProblem,
            FetchRefused,
            InvalidInput,
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
        ) as problem:
            # Malformed claims reach the library's code as the wrong types; whatever it trips
            # over is the platform's message at fault, not our server.
            raise LaunchRefused(_problem_text(problem), reason="invalid-launch") from problem
        return self

    @classmethod
    def restore(
        cls,
        launch_id: str,
        request: LtiRequest,
        tool_config: RegistryToolConfig,
        *,
        requests_session: Any = None,
    ) -> HardenedMessageLaunch:
        """A launch validated earlier (by any worker), ready for AGS and NRPS calls."""
        registry = tool_config.registry
        launch = cls(request, tool_config, requests_session=requests_session)
        body = launch.get_session_service().get_launch_data(launch_id)
        if not isinstance(body, dict):
            raise LaunchRefused(
                "This launch has expired or is unknown. Open the item from your course again.",
                reason="launch-expired",
                status=404,
            )
        launch.set_launch_id(launch_id).set_auto_validation(enable=False).set_jwt(
            cast(Any, {"body": body})
        ).set_restored()
        try:
            launch.validate_registration()
        except LaunchRefused:
            raise
        except (LtiException, ToolConfException) as problem:
            raise LaunchRefused(
                "The platform of this launch is no longer registered.",
                reason="registration-gone",
                status=404,
            ) from problem
        launch.deployment = registry.find_deployment(
            body.get("iss", ""), launch.get_client_id(), launch._get_deployment_id()
        )
        return launch

    @classmethod
    def from_platform_storage(
        cls,
        reference: str,
        stored_state: str | None,
        stored_nonce: str | None,
        tool_config: RegistryToolConfig,
        *,
        secure: bool | None = None,
        requests_session: Any = None,
    ) -> HardenedMessageLaunch:
        """The launch kept under ``reference`` while the page asked the platform's storage,
        whose answers are ``stored_state`` and ``stored_nonce``: they must be this launch's
        state and nonce (the storage is the platform's, per tool origin, in this browser; it
        stands in for the cookie). Used once; ready to :meth:`validate`."""
        session_service = SharedSessionService(tool_config.registry.launch_cache)
        kept = session_service.take_launch_for_storage_check(reference)
        if not isinstance(kept, dict) or not isinstance(kept.get("record"), dict):
            raise LaunchRefused(
                "This launch is unknown, was already used, or has expired. "
                "Open the item from your course again.",
                reason="unknown-storage-launch",
            )
        record: dict[str, Any] = kept["record"]
        state, nonce = str(kept.get("state", "")), str(record.get("nonce", ""))
        if not (
            stored_state
            and stored_nonce
            and hmac.compare_digest(stored_state.encode(), state.encode())
            and hmac.compare_digest(stored_nonce.encode(), nonce.encode())
        ):
            raise LaunchRefused(
                "Your learning environment did not confirm that this launch was started in "
                "this browser (its storage does not hold this launch's state).",
                reason="state-storage-mismatch",
                status=403,
                reopen_url=_reopen_url(record),
            )
        request = LtiRequest(
            secure=secure, params={"id_token": str(kept.get("id_token", "")), "state": state}
        )
        launch = cls(request, tool_config, requests_session=requests_session)
        launch._state_checked_in_storage = record
        return launch

    # -- state and cookie ---------------------------------------------------------------------

    def validate_state(self) -> HardenedMessageLaunch:
        """The state must be one we issued (used up now) and this browser must hold its
        cookie: an id_token posted from another browser is refused. Without the cookie, a
        login that kept the state in the platform's storage has it checked there first
        (:class:`StateInPlatformStorage`)."""
        if self._state_checked_in_storage is not None:
            self._state_record = self._state_checked_in_storage
            return self
        state = self._get_request_param("state")
        if not state:
            raise LaunchRefused("The launch has no state.", reason="no-state")
        session_service: SharedSessionService = self._session_service
        record = session_service.take_state_params(state)
        if not isinstance(record, dict):
            raise LaunchRefused(
                "This launch is unknown or has expired (unknown state). "
                "Open the item from your course again.",
                reason="unknown-state",
            )
        self._state_record = record
        cookie_service: LtiCookieService = self._cookie_service
        cookie = cookie_service.get_cookie(state)
        cookie_service.remove_cookie(state)
        if not isinstance(cookie, str) or not hmac.compare_digest(cookie, state):
            storage = PlatformStorage.from_value(record.get("storage"))
            if storage is not None:
                raise self._keep_for_platform_storage(state, record, storage)
            raise LaunchRefused(
                "Your browser did not keep this tool's cookie (it may block cookies inside "
                "the course page), or the launch was sent from another browser.",
                reason="state-cookie-missing",
                status=403,
                reopen_url=_reopen_url(record),
            )
        return self

    def _keep_for_platform_storage(
        self, state: str, record: dict[str, Any], storage: PlatformStorage
    ) -> StateInPlatformStorage:
        """Keep this launch (its id_token, not validated yet, and its used-up state) until the
        page has asked the platform's storage; the question to ask."""
        id_token = self._get_request_param("id_token")
        if not id_token:
            raise LaunchRefused("The launch has no id_token.", reason="no-id-token")
        if len(id_token) > MAX_ID_TOKEN_CHARS:
            raise LaunchRefused("The id_token is too long.", reason="not-a-jwt")
        reference = secrets.token_urlsafe(24)
        session_service: SharedSessionService = self._session_service
        session_service.keep_launch_for_storage_check(
            reference, {"id_token": id_token, "state": state, "record": record}
        )
        return StateInPlatformStorage(reference, storage, state, str(record.get("nonce", "")))

    def validate_jwt_format(self) -> HardenedMessageLaunch:
        """A JWT of three parts whose header and body are JSON objects."""
        id_token = self._get_request_param("id_token")
        if not id_token:
            raise LaunchRefused("The launch has no id_token.", reason="no-id-token")
        super().validate_jwt_format()
        if not isinstance(self._jwt.get("header"), dict) or not isinstance(
            self._jwt.get("body"), dict
        ):
            raise LaunchRefused("The id_token is not a JSON Web Token.", reason="not-a-jwt")
        return self

    def validate_nonce(self) -> HardenedMessageLaunch:
        """The nonce must be the one sent with this state, and unused (it is used up now)."""
        nonce = self._get_jwt_body().get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise LaunchRefused("The id_token has no nonce.", reason="no-nonce")
        # The state's record was taken out of the launch cache (validate_state): its nonce
        # serves this one launch, and a replay finds neither the state nor the nonce.
        expected = (self._state_record or {}).get("nonce")
        if not isinstance(expected, str) or not hmac.compare_digest(nonce, expected):
            raise LaunchRefused(
                "The id_token's nonce is not the one this login sent.", reason="unknown-nonce"
            )
        return self

    # -- registration, audience, signature ----------------------------------------------------

    def get_client_id(self) -> ClientId:
        """Our client id from ``aud`` (and ``azp``): with one audience, that one (``azp``, if
        present, must equal it); with several, ``azp`` names ours and must be among them."""
        body = self._get_jwt_body()
        audience = body.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if (
            not isinstance(audiences, list)
            or not audiences
            or not all(isinstance(a, str) and a for a in audiences)
        ):
            raise LaunchRefused("The id_token has no valid audience (aud).", reason="bad-aud")
        authorized = body.get("azp")
        if len(audiences) > 1:
            if not isinstance(authorized, str) or authorized not in audiences:
                raise LaunchRefused(
                    "The id_token has several audiences and its azp does not name one of them.",
                    reason="bad-azp",
                )
            return authorized
        if authorized is not None and authorized != audiences[0]:
            raise LaunchRefused("The id_token's azp is not its audience.", reason="bad-azp")
        return str(audiences[0])

    def validate_registration(self) -> HardenedMessageLaunch:
        """The registration of (iss, client id), the one the login was started for."""
        issuer = self._get_jwt_body().get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise LaunchRefused("The id_token has no issuer (iss).", reason="no-iss")
        client_id = self.get_client_id()
        config: RegistryToolConfig = self._tool_config
        registration = config.find_registration_by_params(issuer, client_id)
        if registration is None:
            raise LaunchRefused(
                "The id_token comes from a platform, or is meant for a client id, that is not "
                "registered with this tool.",
                reason="unknown-registration",
            )
        record = self._state_record
        if record is not None and (record.get("iss"), record.get("client_id")) != (
            issuer,
            client_id,
        ):
            raise LaunchRefused(
                "The id_token comes from another platform than the login.",
                reason="registration-mismatch",
            )
        self._registration = registration
        return self

    def validate_jwt_signature(self) -> HardenedMessageLaunch:
        """RS256-family or ES256 signature by a key of the platform (refetched once on an
        unknown ``kid``), ``exp`` and ``iat`` required, ``aud`` holding our client id, 60 s
        leeway."""
        registration = cast(PlatformRegistration, self._registration)
        platform = registration.platform
        header = self._jwt.get("header", {})
        algorithm = header.get("alg")
        kid = header.get("kid")
        if not isinstance(algorithm, str) or not algorithm:
            raise LaunchRefused("The id_token's header names no algorithm (alg).", reason="bad-alg")
        if key_type_for_algorithm(algorithm) is None:
            raise LaunchRefused(
                f"The id_token is signed with {algorithm[:20]!r}; only RS256, RS384, RS512 and "
                "ES256 are accepted.",
                reason="bad-alg",
            )
        if not isinstance(kid, str) or not kid:
            raise LaunchRefused("The id_token's header has no key id (kid).", reason="no-kid")
        jwk = self._platform_key(platform, kid)
        key_type = key_type_for_algorithm(algorithm)
        if jwk.get("kty") != key_type or jwk.get("alg", algorithm) != algorithm:
            raise LaunchRefused(
                f"The platform's key {kid!r} is not a key for {algorithm}.", reason="bad-alg"
            )
        public_key = public_key_from_jwk(jwk)
        try:
            jwt.decode(
                self._get_id_token(),
                public_key,
                algorithms=[algorithm],
                audience=registration.get_client_id(),
                issuer=platform.issuer,
                leeway=JWT_LEEWAY_SECONDS,
                options=self._jwt_verify_options,
            )
        except jwt.ExpiredSignatureError as problem:
            raise LaunchRefused("The id_token has expired.", reason="expired") from problem
        except jwt.ImmatureSignatureError as problem:
            raise LaunchRefused(
                "The id_token was issued in the future (check the platform's clock).",
                reason="not-yet-valid",
            ) from problem
        except jwt.MissingRequiredClaimError as problem:
            raise LaunchRefused(
                f"The id_token has no {problem.claim!r} claim.", reason="missing-claim"
            ) from problem
        except jwt.InvalidAudienceError as problem:
            raise LaunchRefused(
                "The id_token is not meant for this tool (aud).", reason="bad-aud"
            ) from problem
        except jwt.InvalidSignatureError as problem:
            raise LaunchRefused(
                "The id_token's signature is not valid.", reason="bad-signature"
            ) from problem
        except jwt.PyJWTError as problem:
            raise LaunchRefused(
                f"The id_token is not valid: {problem}", reason="invalid-token"
            ) from problem
        return self

    def _platform_key(self, platform: PlatformView, kid: str) -> dict[str, Any]:
        registry: LtiRegistry = self._tool_config.registry
        key = _key_with_id(registry.platform_key_set(platform), kid)
        if key is None:
            # Another worker may have fetched the platform's new keys already.
            key = _key_with_id(registry.platform_key_set(platform, shared=True), kid)
        if key is None:
            # The platform may have rotated its key: fetch its keys again (rate-limited).
            refreshed = registry.refetch_platform_key_set(platform)
            key = None if refreshed is None else _key_with_id(refreshed, kid)
        if key is None:
            raise LaunchRefused(
                f"The id_token is signed with a key ({kid!r}) the platform does not publish.",
                reason="unknown-kid",
            )
        return key

    def validate_deployment(self) -> HardenedMessageLaunch:
        """The deployment id must be registered for this registration."""
        deployment_id = self._get_jwt_body().get(LTI_CLAIM + "deployment_id")
        if not isinstance(deployment_id, str) or not deployment_id:
            raise LaunchRefused("The launch has no deployment_id.", reason="no-deployment")
        registration = cast(PlatformRegistration, self._registration)
        platform = registration.platform
        if deployment_id not in platform.deployment_ids:
            raise LaunchRefused(
                f"The deployment {deployment_id!r} of {platform.name} is not registered here. "
                "Ask the administrator of this tool to add it.",
                reason="unknown-deployment",
            )
        self.deployment = DeploymentView(
            platform.public_id, platform.issuer, platform.client_id, deployment_id
        )
        return self

    def validate_message(self) -> HardenedMessageLaunch:
        """A resource link or deep linking request of LTI 1.3.0, with a user and roles."""
        body = self._get_jwt_body()
        message_type = body.get(LTI_CLAIM + "message_type")
        if not isinstance(message_type, str) or not message_type:
            raise LaunchRefused(
                "The launch does not say what kind of message it is (message_type).",
                reason="bad-message-type",
            )
        if message_type not in MESSAGE_TYPES:
            raise LaunchRefused(
                f"This tool does not handle {message_type[:60]!r} messages.",
                reason="bad-message-type",
            )
        if body.get(LTI_CLAIM + "version") != "1.3.0":
            raise LaunchRefused("The launch is not LTI version 1.3.0.", reason="bad-version")
        roles = body.get(LTI_CLAIM + "roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise LaunchRefused("The launch has no roles claim.", reason="no-roles")
        subject = body.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise LaunchRefused("The launch names no user (sub).", reason="no-sub")
        context = body.get(LTI_CLAIM + "context")
        if context is not None and (
            not isinstance(context, dict) or not isinstance(context.get("id"), str | int)
        ):
            raise LaunchRefused(
                "The launch's course (context) claim is malformed.", reason="bad-context"
            )
        if message_type == "LtiResourceLinkRequest":
            link = body.get(LTI_CLAIM + "resource_link")
            if not isinstance(link, dict) or not isinstance(link.get("id"), str | int):
                raise LaunchRefused(
                    "The launch has no resource link id.", reason="no-resource-link"
                )
        super().validate_message()
        return self

    # -- data ---------------------------------------------------------------------------------

    def update_cookies(self, response: Response) -> None:
        """Put this launch's cookie changes (the used state cookie removed) on ``response``."""
        cookie_service: LtiCookieService = self._cookie_service
        cookie_service.update_response(response)

    @property
    def platform(self) -> PlatformView:
        """The platform registration of this launch."""
        registration = cast(PlatformRegistration, self._registration)
        return registration.platform

    @property
    def claims(self) -> dict[str, Any]:
        """The id_token's body."""
        return dict(self._get_jwt_body())

    def claim(self, name: str) -> Any:
        """An LTI claim by short name (``context``, ``custom``, ``roles``, …)."""
        return self._get_jwt_body().get(LTI_CLAIM + name)

    @property
    def presentation_locale(self) -> str | None:
        """The language the platform asks the tool's pages in (``launch_presentation.locale``,
        e.g. ``nl-NL``), if it says."""
        presentation = self.claim("launch_presentation")
        locale = presentation.get("locale") if isinstance(presentation, dict) else None
        return locale if isinstance(locale, str) else None


def _reopen_url(record: Mapping[str, Any]) -> str | None:
    """The login of ``record`` again, for a new window (where the cookie is first-party)."""
    login = record.get("login")
    if not isinstance(login, dict) or not login:
        return None
    return "/lti/login?" + urlencode({**login, "lti1p3_new_window": "1"})


def _key_with_id(key_set: Mapping[str, Any], kid: str) -> dict[str, Any] | None:
    for key in key_set.get("keys", []):
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None


def _problem_text(problem: BaseException) -> str:
    if isinstance(problem, BadgeBridgeError):
        return problem.message
    text = str(problem).strip() or type(problem).__name__
    return f"The launch could not be validated: {text[:300]}"


# --------------------------------------------------------------------------------------------
# Roles
# --------------------------------------------------------------------------------------------

RoleClass = Literal["instructor", "learner"]
_LIS: Final = "http://purl.imsglobal.org/vocab/lis/v2/"
#: Context roles that see the teacher's pages (sub-roles included, e.g. a teaching assistant
#: is ``membership/Instructor#TeachingAssistant``).
TEACHING_ROLES: Final = frozenset({"Instructor", "ContentDeveloper", "Administrator"})


def _context_role(role: str) -> str | None:
    """The principal context role of ``role`` (``Instructor`` for
    ``…/membership#Instructor``, ``…/membership/Instructor#TeachingAssistant`` and the simple
    name ``Instructor``); None for institution and system roles."""
    if role.startswith(_LIS + "membership#"):
        return role[len(_LIS + "membership#") :]
    if role.startswith(_LIS + "membership/"):
        return role[len(_LIS + "membership/") :].split("#", 1)[0]
    if role.startswith("urn:lti:role:ims/lis/"):  # LTI 1.1 names some platforms still send
        return role[len("urn:lti:role:ims/lis/") :].split("/", 1)[0]
    if "/" not in role and "#" not in role and ":" not in role:
        return role  # a simple name stands for a context role
    return None


def role_class(roles: Any) -> RoleClass:
    """``instructor`` when a context role teaches (Instructor, ContentDeveloper,
    Administrator, or one of their sub-roles), else ``learner``: institution and system roles
    (Canvas sends "Instructor" for people who teach elsewhere), unknown and empty roles get
    the least privilege."""
    if not isinstance(roles, list):
        return "learner"
    context_roles = {_context_role(r) for r in roles if isinstance(r, str)} - {None}
    return "instructor" if context_roles & TEACHING_ROLES else "learner"


#: Roles that make a launch a student's: the context role Learner (its sub-roles too, and the
#: short and LTI 1.1 names some platforms send) and the institution roles Student and Learner.
_STUDENT_ROLES: Final = frozenset(
    {
        _LIS + "membership#Learner",
        _LIS + "institution/person#Student",
        _LIS + "institution/person#Learner",
        "Learner",
        "urn:lti:role:ims/lis/Learner",
    }
)


def is_student(roles: t.Iterable[str]) -> bool:
    """Whether ``roles`` name the launching person as a student. Everyone else who is not
    teaching (unknown, mentor-only, institution staff, no roles) only looks: least privilege."""
    return any(
        role in _STUDENT_ROLES
        or role.startswith((_LIS + "membership/Learner#", "urn:lti:role:ims/lis/Learner/"))
        for role in roles
    )


__all__ = [
    "JWT_LEEWAY_SECONDS",
    "LAUNCH_TTL_SECONDS",
    "STATE_TTL_SECONDS",
    "HardenedMessageLaunch",
    "HardenedOIDCLogin",
    "KeyedServiceConnector",
    "LaunchRefused",
    "LtiCookieService",
    "LtiRequest",
    "PlatformRegistration",
    "PlatformStorage",
    "RegistryToolConfig",
    "RoleClass",
    "SharedSessionService",
    "StateInPlatformStorage",
    "role_class",
    "storage_key",
    "web_origin",
]
