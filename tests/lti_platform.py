"""A test LTI 1.3 platform (an LMS like Moodle or Canvas) served over real HTTP on 127.0.0.1.

:class:`TestPlatform` holds RSA signing keys and serves, from a threading ``http.server``:

* its JWKS, its OpenID configuration and a Dynamic Registration endpoint;
* the OIDC authorization endpoint: it checks the tool's auth request (scope, response_type,
  response_mode, prompt, client_id, registered redirect_uri, echoed hints, state, nonce) and answers
  with the auto-posting form carrying a signed ``id_token`` and the ``state``;
* an OAuth 2.0 client-credentials token endpoint that checks the tool's client assertion JWT
  (signed with a key from the tool's JWKS), and the AGS (line items, scores, results) and NRPS
  (memberships) services those tokens open, recording everything they receive;
* the deep linking return URL, validating the tool's ``LtiDeepLinkingResponse``.

A launch is described by a :class:`Launch` (who, which course, which message) whose id_token can be
tampered with for negative tests: edit its claims or header, sign it with ``alg: none``, with
HS256 keyed by the platform's public key, with a wrong key, or replace it by any string.
:class:`ToolBrowser` drives the tool's side through a Flask/Werkzeug test client: login initiation
(GET or POST) → the platform's auth endpoint over HTTP → the form post to ``/lti/launch``.

The JWTs are assembled by hand (``cryptography`` signs) so that malformed ones can be built;
the tool's JWTs are checked with ``joserfc``. ``lti1p3platform`` supplies the LTI Advantage scope
names; its own signing (PyJWT) refuses to build the forged tokens the negative cases need.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from html import escape, unescape
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from lti1p3platform.constants import LTI_1P3_ACCESS_TOKEN_SCOPES

# --- vocabulary -------------------------------------------------------------------------------

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_MESSAGE_TYPE = LTI + "message_type"
CLAIM_VERSION = LTI + "version"
CLAIM_DEPLOYMENT_ID = LTI + "deployment_id"
CLAIM_TARGET_LINK_URI = LTI + "target_link_uri"
CLAIM_RESOURCE_LINK = LTI + "resource_link"
CLAIM_ROLES = LTI + "roles"
CLAIM_CONTEXT = LTI + "context"
CLAIM_TOOL_PLATFORM = LTI + "tool_platform"
CLAIM_LAUNCH_PRESENTATION = LTI + "launch_presentation"
CLAIM_CUSTOM = LTI + "custom"
CLAIM_LIS = LTI + "lis"
CLAIM_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
CLAIM_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CLAIM_DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CLAIM_DL_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
CLAIM_DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
CLAIM_DL_MSG = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
#: Every service scope the platform grants (those lti1p3platform knows).
SERVICE_SCOPES = frozenset(LTI_1P3_ACCESS_TOKEN_SCOPES)
AGS_SCOPES = [SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE]

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MEDIA_LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
MEDIA_MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

ACTIVITY_PROGRESS = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING_PROGRESS = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}


class Role:
    """LIS v2 role URIs as platforms send them (and the short forms some send)."""

    INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
    LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
    CONTENT_DEVELOPER = "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper"
    MENTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"
    TEACHING_ASSISTANT = (
        "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
    )
    ADMINISTRATOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"
    SYSTEM_ADMINISTRATOR = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"
    INSTITUTION_FACULTY = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty"
    INSTITUTION_STUDENT = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"
    SHORT_INSTRUCTOR = "Instructor"
    SHORT_LEARNER = "Learner"
    UNKNOWN = "http://example.org/vocab/roles#Gardener"


COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"


# --- keys and hand-made JWTs ------------------------------------------------------------------


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    """A JSON value as a JOSE segment."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def b64url_decode(segment: str) -> bytes:
    """The bytes of a (possibly unpadded) base64url segment."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, without checking anything (for assertions)."""
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


_KEY_POOL: dict[int, rsa.RSAPrivateKey] = {}
_KEY_POOL_LOCK = threading.Lock()


def pooled_rsa_key(index: int) -> rsa.RSAPrivateKey:
    """The ``index``-th RSA key of this test process (2048-bit generation costs ~0.1 s, so
    platforms reuse them; distinct indexes are distinct keys)."""
    with _KEY_POOL_LOCK:
        if index not in _KEY_POOL:
            _KEY_POOL[index] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _KEY_POOL[index]


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair with its key id."""

    kid: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK (``kid``, ``alg: RS256``, ``use: sig``)."""
        parameters = {"kid": self.kid, "alg": "RS256", "use": "sig"}
        return RSAKey.import_key(self.private_key, parameters).as_dict(private=False)

    def public_pem(self) -> bytes:
        """The public key in PEM (SubjectPublicKeyInfo), the usual HS256-confusion secret."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign_rs256(self, signing_input: bytes) -> bytes:
        """An RS256 signature."""
        return self.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())

    def joserfc_key(self) -> RSAKey:
        """The private key for joserfc (to sign test messages from the tool's side)."""
        return RSAKey.import_key(self.private_key, {"kid": self.kid, "alg": "RS256"})


Signing = Literal["RS256", "none", "HS256-public-key", "bad-signature", "foreign-key"]


def encode_jwt(
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    key: SigningKey,
    signing: Signing = "RS256",
    foreign_key: SigningKey | None = None,
) -> str:
    """A compact JWS of ``claims``, signed as ``signing`` says:

    ``RS256`` properly; ``none`` unsigned (empty signature); ``HS256-public-key`` an HMAC keyed
    with ``key``'s public PEM (the algorithm-confusion attack); ``bad-signature`` a valid RS256
    signature with one bit flipped; ``foreign-key`` RS256 with ``foreign_key`` (an attacker's key)
    under ``key``'s header."""
    header = dict(header)
    if signing == "none":
        header["alg"] = "none"
    elif signing == "HS256-public-key":
        header["alg"] = "HS256"
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}".encode("ascii")
    if signing == "none":
        signature = b""
    elif signing == "HS256-public-key":
        signature = hmac.new(key.public_pem(), signing_input, hashlib.sha256).digest()
    elif signing == "foreign-key":
        assert foreign_key is not None, "foreign-key signing needs the attacker's key"
        signature = foreign_key.sign_rs256(signing_input)
    else:
        signature = key.sign_rs256(signing_input)
        if signing == "bad-signature":
            signature = bytes([signature[0] ^ 0x01]) + signature[1:]
    return f"{signing_input.decode('ascii')}.{b64url(signature)}"


# --- who launches what -----------------------------------------------------------------------


@dataclass
class PlatformUser:
    """A person on the platform; ``name``/``email`` are left out of launches when None."""

    sub: str
    roles: list[str]
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    status: str = "Active"

    def without_personal_data(self) -> PlatformUser:
        """The same person as a platform that shares no names or email sends them."""
        return PlatformUser(self.sub, list(self.roles), status=self.status)


def instructor(sub: str = "teacher-1") -> PlatformUser:
    """A teacher with full personal data."""
    return PlatformUser(
        sub,
        [Role.INSTRUCTOR, Role.INSTITUTION_FACULTY],
        name="Femke Bakker",
        given_name="Femke",
        family_name="Bakker",
        email="f.bakker@school.example",
    )


def student(sub: str = "student-1") -> PlatformUser:
    """A student with full personal data."""
    return PlatformUser(
        sub,
        [Role.LEARNER, Role.INSTITUTION_STUDENT],
        name="Daan Jansen",
        given_name="Daan",
        family_name="Jansen",
        email="d.jansen@school.example",
    )


@dataclass
class CourseContext:
    """A course on the platform."""

    id: str = "course-101"
    label: str = "BURG-2A"
    title: str = "Burgerschap 2A"
    type: list[str] = field(default_factory=lambda: [COURSE_OFFERING])


ClaimsEdit = Callable[[dict[str, Any]], None]


@dataclass
class Launch:
    """One message the platform will send: set it up, then tamper for negative tests.

    ``edit_claims``/``edit_header`` run on the finished claims/header just before signing;
    ``raw_id_token`` replaces the whole token; ``nonce`` replaces the nonce the tool asked for
    (None keeps it); ``key`` signs instead of the platform's current key (e.g. a rotated-out
    one), ``kid`` names another key in the header. ``deployment_id``/``target_link_uri`` default to the platform's first
    deployment and the tool's launch URL."""

    user: PlatformUser
    message_type: str = RESOURCE_LINK_REQUEST
    context: CourseContext | None = field(default_factory=CourseContext)
    resource_link_id: str = "resource-link-1"
    resource_link_title: str = "Stadsfotograaf: Feijenoord"
    custom: dict[str, str] = field(default_factory=dict)
    with_ags: bool = True
    with_nrps: bool = True
    deployment_id: str | None = None
    target_link_uri: str | None = None
    lifetime_seconds: int = 60
    signing: Signing = "RS256"
    key: SigningKey | None = None
    kid: str | None = None
    nonce: str | None = None
    edit_claims: ClaimsEdit | None = None
    edit_header: ClaimsEdit | None = None
    raw_id_token: str | None = None
    #: ``launch_presentation.locale``; None: the language of the :class:`ToolBrowser` that
    #: launches (the LMS's language is the user's), else ``nl-NL``.
    locale: str | None = None


@dataclass(frozen=True)
class AuthRequest:
    """An OIDC authentication request the tool sent to the platform (its query or form)."""

    params: dict[str, str]
    method: str

    def __getitem__(self, name: str) -> str:
        return self.params[name]

    def get(self, name: str) -> str | None:
        return self.params.get(name)


@dataclass(frozen=True)
class AuthAnswer:
    """The platform's answer to an auth request: where to post, what, and what it signed."""

    action: str
    form: dict[str, str]
    header: dict[str, Any] | None
    claims: dict[str, Any] | None


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the platform's server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def bearer(self) -> str | None:
        """The bearer token of the ``Authorization`` header, if any."""
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass
class AccessToken:
    """A token the platform issued to the tool."""

    token: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class LineItem:
    """An AGS line item (a gradebook column) in a course."""

    id: str
    context_id: str
    label: str
    score_maximum: float
    resource_link_id: str | None = None
    resource_id: str | None = None
    tag: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            **self.extra,
            "id": self.id,
            "label": self.label,
            "scoreMaximum": self.score_maximum,
        }
        for key, value in (
            ("resourceLinkId", self.resource_link_id),
            ("resourceId", self.resource_id),
            ("tag", self.tag),
        ):
            if value is not None:
                document[key] = value
        return document


@dataclass(frozen=True)
class ReceivedScore:
    """A score the tool posted and the platform accepted."""

    line_item_id: str
    score: dict[str, Any]
    client_id: str


class PlatformRefusal(Exception):
    """An answer with an error status (the HTTP handler turns it into the response)."""

    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description


# --- the platform ----------------------------------------------------------------------------


class TestPlatform:
    """An LTI 1.3 platform on 127.0.0.1 with one tool registration (client_id, deployments).

    Use as a context manager (or :meth:`start`/:meth:`close`). Configure the tool's side with
    :meth:`set_tool` (its launch/login URLs and a source of its JWKS) or through Dynamic
    Registration (:meth:`dynamic_registration_url`)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        client_id: str = "badgebridge-tool",
        deployment_ids: tuple[str, ...] = ("deployment-1",),
        product_family_code: str = "moodle",
        key_index: int = 0,
        canvas_bearer_rule: bool = False,
        token_audience: str | None = None,
        strict_score_timestamps: bool = True,
    ) -> None:
        self.client_id = client_id
        self.deployment_ids = list(deployment_ids)
        self.product_family_code = product_family_code
        #: Canvas: the openid-configuration answers only with the registration token as bearer.
        self.canvas_bearer_rule = canvas_bearer_rule
        self._token_audience = token_audience
        #: Moodle refuses a score whose timestamp is not later than the last one for that user.
        self.strict_score_timestamps = strict_score_timestamps
        self._key_counter = key_index
        self.signing_key = SigningKey(f"platform-key-{key_index}", pooled_rsa_key(key_index))
        #: Keys still published in the JWKS besides the signing key (e.g. after a rotation).
        self.published_old_keys: list[SigningKey] = []
        self.attacker_key = SigningKey("attacker", pooled_rsa_key(99))

        self.tool_redirect_uris: list[str] = []
        self.tool_login_url: str | None = None
        self.tool_launch_url: str | None = None
        self.tool_deep_linking_url: str | None = None
        self._tool_jwks: Callable[[], Mapping[str, Any]] | None = None

        self.requests: list[RecordedRequest] = []
        self.auth_requests: list[AuthRequest] = []
        self.answers: list[AuthAnswer] = []
        self.registrations: list[dict[str, Any]] = []
        self.registration_tokens: set[str] = set()
        self.access_tokens: dict[str, AccessToken] = {}
        self.token_requests: list[dict[str, str]] = []
        self.line_items: dict[str, LineItem] = {}
        self.scores: list[ReceivedScore] = []
        #: Answers to the next score POSTs instead of accepting them, used once each in order
        #: (e.g. two 503s: an LMS down for a while; a 400: an LMS refusing the score).
        self.score_failures: list[PlatformRefusal] = []
        #: How many of the next accepted scores are answered 504 anyway (recorded, but the
        #: answer is lost on its way back to the tool).
        self.score_answers_lost = 0
        self.deep_linking_responses: list[dict[str, Any]] = []
        self.members: dict[str, list[PlatformUser]] = {}
        self.contexts: dict[str, CourseContext] = {}
        self._pending: dict[str, Launch] = {}
        self._used_jtis: set[str] = set()
        self._line_item_counter = 0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> TestPlatform:
        """Serve on a free port of 127.0.0.1 (in a daemon thread)."""
        platform = self

        class Handler(PlatformRequestHandler):
            owner = platform

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TestPlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # addresses

    @property
    def issuer(self) -> str:
        """The platform's issuer (its base URL)."""
        assert self._server is not None, "start the platform first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/jwks"

    @property
    def auth_url(self) -> str:
        """The OIDC authorization endpoint (the tool's auth requests go here)."""
        return self.issuer + "/auth"

    @property
    def token_url(self) -> str:
        return self.issuer + "/token"

    @property
    def token_audience(self) -> str:
        """What the tool's client assertion must carry as ``aud``."""
        return self._token_audience or self.token_url

    @property
    def openid_configuration_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    @property
    def registration_url(self) -> str:
        return self.issuer + "/register"

    @property
    def deep_link_return_url(self) -> str:
        return self.issuer + "/deep_link_return"

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.issuer}/contexts/{context_id}/lineitems"

    def memberships_url(self, context_id: str) -> str:
        return f"{self.issuer}/contexts/{context_id}/memberships"

    # keys

    def jwks(self) -> dict[str, Any]:
        """The published key set: the signing key and any kept old keys."""
        keys = [self.signing_key, *self.published_old_keys]
        return {"keys": [key.public_jwk() for key in keys]}

    def rotate_key(self, *, keep_old: bool = False) -> str:
        """Start signing with a new key (published from now on); returns its kid. The old key
        stays published only when ``keep_old``."""
        with self._lock:
            old = self.signing_key
            self._key_counter += 1
            self.signing_key = SigningKey(
                f"platform-key-{self._key_counter}", pooled_rsa_key(self._key_counter)
            )
            if keep_old:
                self.published_old_keys.append(old)
            return self.signing_key.kid

    def count(self, method: str, path: str) -> int:
        """How many requests ``method path`` the server received."""
        with self._lock:
            return sum(1 for r in self.requests if r.method == method and r.path == path)

    # the tool's side of the registration

    def set_tool(
        self,
        *,
        launch_url: str,
        login_url: str,
        jwks: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | None = None,
        redirect_uris: list[str] | None = None,
        deep_linking_url: str | None = None,
    ) -> None:
        """What a manual registration tells the platform about the tool."""
        self.tool_launch_url = launch_url
        self.tool_login_url = login_url
        self.tool_redirect_uris = list(redirect_uris or [launch_url])
        self.tool_deep_linking_url = deep_linking_url
        if jwks is not None:
            self.read_tool_keys_with(jwks)

    def read_tool_keys_with(
        self, source: Callable[[], Mapping[str, Any]] | Mapping[str, Any]
    ) -> None:
        """Where the platform reads the tool's JWKS from (instead of its ``jwks_uri``, e.g. when
        the tool is a Flask app without a network address)."""
        self._tool_jwks = source if callable(source) else (lambda: source)  # type: ignore[misc]

    def tool_jwks(self) -> KeySet:
        """The tool's public keys, as the platform reads them now."""
        assert self._tool_jwks is not None, "the platform does not know the tool's keys"
        return KeySet.import_key_set(dict(self._tool_jwks()))  # type: ignore[arg-type]

    def new_registration_token(self) -> str:
        """A one-time token for a Dynamic Registration."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.registration_tokens.add(token)
        return token

    def dynamic_registration_query(self, registration_token: str | None = None) -> dict[str, str]:
        """The query the platform opens the tool's registration URL with."""
        params = {"openid_configuration": self.openid_configuration_url}
        if registration_token:
            params["registration_token"] = registration_token
        return params

    def openid_configuration(self) -> dict[str, Any]:
        """The platform's OpenID configuration for Dynamic Registration."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.auth_url,
            "registration_endpoint": self.registration_url,
            "jwks_uri": self.jwks_url,
            "token_endpoint": self.token_url,
            "authorization_server": self.token_audience,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", *sorted(SERVICE_SCOPES)],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public", "pairwise"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIGURATION: {
                "product_family_code": self.product_family_code,
                "version": "4.5" if self.product_family_code == "moodle" else "cloud",
                "messages_supported": [
                    {"type": RESOURCE_LINK_REQUEST},
                    {"type": DEEP_LINKING_REQUEST, "placements": ["ContentArea"]},
                ],
                "variables": ["ResourceLink.id", "Context.id", "User.id"],
            },
        }

    # launches

    def initiation(
        self, launch: Launch, *, with_client_id: bool = True, storage_target: str | None = None
    ) -> dict[str, str]:
        """The third-party login initiation parameters for ``launch`` (remembered by an opaque
        ``lti_message_hint`` until the tool's auth request comes back); ``storage_target`` names
        the frame offering platform storage (``lti_storage_target``, as Canvas sends it)."""
        assert self.tool_launch_url, "set_tool() or a Dynamic Registration first"
        hint = "msg-" + secrets.token_urlsafe(12)
        with self._lock:
            self._pending[hint] = launch
        params = {
            "iss": self.issuer,
            "login_hint": "login-" + launch.user.sub,
            "target_link_uri": self._target_link_uri(launch),
            "lti_message_hint": hint,
            "lti_deployment_id": launch.deployment_id or self.deployment_ids[0],
        }
        if with_client_id:
            params["client_id"] = self.client_id
        if storage_target is not None:
            params["lti_storage_target"] = storage_target
        return params

    def course_page_url(
        self, launch: Launch, *, host: str = "localhost", storage_target: str | None = None
    ) -> str:
        """A course page of this platform (at ``host``, e.g. ``localhost`` so that a tool on
        127.0.0.1 is a cross-site frame in it) that frames the tool's login initiation for
        ``launch``; with ``storage_target``, a sibling frame of that name answers the LTI
        platform storage messages (``lti.capabilities``, ``lti.put_data``, ``lti.get_data``),
        keeping the values per sender origin, as a browser test's platform."""
        assert self.tool_login_url and self._server is not None
        initiation = self.initiation(launch, storage_target=storage_target)
        tool_src = self.tool_login_url + "?" + urlencode(initiation)
        query = urlencode({"tool": tool_src, "storage": storage_target or ""})
        return f"http://{host}:{self._server.server_address[1]}/course?{query}"

    def _target_link_uri(self, launch: Launch) -> str:
        if launch.target_link_uri:
            return launch.target_link_uri
        if launch.message_type == DEEP_LINKING_REQUEST and self.tool_deep_linking_url:
            return self.tool_deep_linking_url
        assert self.tool_launch_url is not None
        return self.tool_launch_url

    def auth_request_problems(self, request: AuthRequest) -> list[str]:
        """Why the platform would refuse this auth request (empty when it is fine)."""
        p = request.params
        problems = []
        for name, expected in (
            ("scope", "openid"),
            ("response_type", "id_token"),
            ("response_mode", "form_post"),
            ("prompt", "none"),
            ("client_id", self.client_id),
        ):
            if p.get(name) != expected:
                problems.append(f"{name} is {p.get(name)!r}, expected {expected!r}")
        if p.get("redirect_uri") not in self.tool_redirect_uris:
            problems.append(
                f"redirect_uri {p.get('redirect_uri')!r} is not registered "
                f"(registered: {self.tool_redirect_uris})"
            )
        for name in ("state", "nonce"):
            if not p.get(name):
                problems.append(f"{name} is missing")
        hint = p.get("lti_message_hint", "")
        with self._lock:
            launch = self._pending.get(hint)
        if launch is None:
            problems.append(f"lti_message_hint {hint!r} was not issued by this platform")
        elif p.get("login_hint") != "login-" + launch.user.sub:
            problems.append(f"login_hint {p.get('login_hint')!r} is not the one sent")
        return problems

    def answer_auth_request(self, request: AuthRequest) -> AuthAnswer:
        """Check an auth request and answer it with the signed id_token (and the state) for the
        launch its ``lti_message_hint`` names. Raises :class:`PlatformRefusal` when invalid."""
        with self._lock:
            self.auth_requests.append(request)
        problems = self.auth_request_problems(request)
        if problems:
            raise PlatformRefusal(400, "invalid_request", "; ".join(problems))
        with self._lock:
            launch = self._pending[request["lti_message_hint"]]
        header, claims = self.id_token_parts(launch, nonce=request["nonce"])
        if launch.raw_id_token is not None:
            token = launch.raw_id_token
        else:
            token = encode_jwt(
                header,
                claims,
                launch.key or self.signing_key,
                launch.signing,
                foreign_key=self.attacker_key,
            )
        answer = AuthAnswer(
            action=request["redirect_uri"],
            form={"id_token": token, "state": request["state"]},
            header=header,
            claims=claims,
        )
        with self._lock:
            self.answers.append(answer)
        return answer

    def id_token_parts(
        self, launch: Launch, *, nonce: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JOSE header and claims the platform signs for ``launch`` (after its edits)."""
        now = int(time.time())
        user = launch.user
        deployment_id = launch.deployment_id or self.deployment_ids[0]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": user.sub,
            "iat": now,
            "exp": now + launch.lifetime_seconds,
            "nonce": launch.nonce if launch.nonce is not None else nonce,
            CLAIM_MESSAGE_TYPE: launch.message_type,
            CLAIM_VERSION: "1.3.0",
            CLAIM_DEPLOYMENT_ID: deployment_id,
            CLAIM_TARGET_LINK_URI: self._target_link_uri(launch),
            CLAIM_ROLES: list(user.roles),
            CLAIM_TOOL_PLATFORM: {
                "guid": "platform-" + hashlib.sha256(self.issuer.encode()).hexdigest()[:16],
                "name": "Test LMS",
                "product_family_code": self.product_family_code,
                "version": "4.5",
            },
            CLAIM_LAUNCH_PRESENTATION: {
                "document_target": "iframe",
                "return_url": self.issuer + "/course/return",
                "locale": launch.locale or "nl-NL",
            },
            CLAIM_CUSTOM: dict(launch.custom),
            CLAIM_LIS: {"person_sourcedid": "sis-" + user.sub},
        }
        for name in ("name", "given_name", "family_name", "email"):
            value = getattr(user, name)
            if value is not None:
                claims[name] = value
        if launch.context is not None:
            context = launch.context
            with self._lock:
                self.contexts.setdefault(context.id, context)
            claims[CLAIM_CONTEXT] = {
                "id": context.id,
                "label": context.label,
                "title": context.title,
                "type": list(context.type),
            }
            claims[CLAIM_LIS]["course_section_sourcedid"] = "sis-" + context.id
            if launch.with_nrps:
                claims[CLAIM_NRPS] = {
                    "context_memberships_url": self.memberships_url(context.id),
                    "service_versions": ["2.0"],
                }
            if launch.with_ags:
                claims[CLAIM_AGS] = {
                    "scope": list(AGS_SCOPES),
                    "lineitems": self.lineitems_url(context.id),
                }
        if launch.message_type == DEEP_LINKING_REQUEST:
            claims[CLAIM_DEEP_LINKING] = {
                "deep_link_return_url": self.deep_link_return_url,
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": True,
                "accept_lineitem": True,
                "auto_create": True,
                "title": "Kies een activiteit",
                "text": "Voeg een activiteit toe aan de cursus",
                "data": "dl-data-" + secrets.token_urlsafe(8),
            }
        else:
            claims[CLAIM_RESOURCE_LINK] = {
                "id": launch.resource_link_id,
                "title": launch.resource_link_title,
                "description": "Een activiteit van Cities of Learning",
            }
            if launch.with_ags and launch.context is not None:
                line_item = self._line_item_for_link(launch)
                claims[CLAIM_AGS]["lineitem"] = line_item.id
        header: dict[str, Any] = {
            "typ": "JWT",
            "alg": "RS256",
            "kid": launch.kid or (launch.key or self.signing_key).kid,
        }
        if launch.edit_claims is not None:
            launch.edit_claims(claims)
        if launch.edit_header is not None:
            launch.edit_header(header)
        return header, claims

    def _line_item_for_link(self, launch: Launch) -> LineItem:
        """The gradebook column of a resource link (created with the link, as LMSs do)."""
        assert launch.context is not None
        with self._lock:
            for item in self.line_items.values():
                if (
                    item.context_id == launch.context.id
                    and item.resource_link_id == launch.resource_link_id
                ):
                    return item
            return self._create_line_item(
                launch.context.id,
                {
                    "label": launch.resource_link_title,
                    "scoreMaximum": 100,
                    "resourceLinkId": launch.resource_link_id,
                },
            )

    # deep linking

    def validate_deep_linking_response(self, token: str) -> dict[str, Any]:
        """Check a tool's ``LtiDeepLinkingResponse`` JWT as a platform must; returns its claims.
        Raises :class:`PlatformRefusal` naming the problem."""
        try:
            decoded = jwt.decode(token, self.tool_jwks(), algorithms=["RS256"])
        except (JoseError, ValueError) as error:
            raise PlatformRefusal(400, "invalid_jwt", f"signature: {error}") from error
        claims = dict(decoded.claims)
        now = time.time()
        problems = []
        if claims.get("iss") != self.client_id:
            problems.append(f"iss {claims.get('iss')!r} is not the client_id")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.issuer not in audiences:
            problems.append(f"aud {audience!r} does not name the platform")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now:
            problems.append("exp missing or past")
        if not isinstance(claims.get("iat"), int | float) or claims["iat"] > now + 60:
            problems.append("iat missing or in the future")
        if not claims.get("nonce"):
            problems.append("nonce missing")
        if claims.get(CLAIM_MESSAGE_TYPE) != DEEP_LINKING_RESPONSE:
            problems.append(f"message_type {claims.get(CLAIM_MESSAGE_TYPE)!r}")
        if claims.get(CLAIM_VERSION) != "1.3.0":
            problems.append(f"version {claims.get(CLAIM_VERSION)!r}")
        if claims.get(CLAIM_DEPLOYMENT_ID) not in self.deployment_ids:
            problems.append(f"deployment_id {claims.get(CLAIM_DEPLOYMENT_ID)!r} unknown")
        with self._lock:
            sent_data = {
                (a.claims or {}).get(CLAIM_DEEP_LINKING, {}).get("data") for a in self.answers
            }
        if claims.get(CLAIM_DL_DATA) not in sent_data - {None}:
            problems.append("data does not echo the deep_linking_settings data")
        items = claims.get(CLAIM_DL_CONTENT_ITEMS, [])
        if not isinstance(items, list):
            problems.append("content_items is not a list")
            items = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or item.get("type") != "ltiResourceLink":
                problems.append(f"content item {index} is not an ltiResourceLink")
                continue
            line_item = item.get("lineItem")
            if line_item is not None and not (
                isinstance(line_item, dict)
                and isinstance(line_item.get("scoreMaximum"), int | float)
                and line_item["scoreMaximum"] > 0
            ):
                problems.append(f"content item {index} has a lineItem without scoreMaximum > 0")
        if problems:
            raise PlatformRefusal(400, "invalid_deep_linking_response", "; ".join(problems))
        with self._lock:
            self.deep_linking_responses.append(claims)
        return claims

    # OAuth 2.0 client credentials (LTI Security Framework §4.1)

    def issue_access_token(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Answer a token request: checks the grant, the client assertion (signature with the
        tool's JWKS, iss = sub = client_id, aud, exp, iat, unused jti) and the scopes."""
        with self._lock:
            self.token_requests.append(dict(form))
        if form.get("grant_type") != "client_credentials":
            raise PlatformRefusal(400, "unsupported_grant_type", str(form.get("grant_type")))
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise PlatformRefusal(400, "invalid_request", "client_assertion_type")
        assertion = form.get("client_assertion", "")
        try:
            decoded = jwt.decode(assertion, self.tool_jwks(), algorithms=["RS256"])
        except (JoseError, ValueError) as error:
            raise PlatformRefusal(401, "invalid_client", f"client assertion: {error}") from error
        claims = decoded.claims
        now = time.time()
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            raise PlatformRefusal(401, "invalid_client", "iss and sub must be the client_id")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.token_audience not in audiences:
            raise PlatformRefusal(401, "invalid_client", f"aud {audience!r}")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now:
            raise PlatformRefusal(401, "invalid_client", "exp missing or past")
        if not isinstance(claims.get("iat"), int | float) or claims["iat"] > now + 60:
            raise PlatformRefusal(401, "invalid_client", "iat missing or in the future")
        jti = claims.get("jti")
        with self._lock:
            if not jti or jti in self._used_jtis:
                raise PlatformRefusal(401, "invalid_client", "jti missing or reused")
            self._used_jtis.add(jti)
        requested = set(form.get("scope", "").split())
        granted = requested & SERVICE_SCOPES
        if not granted:
            raise PlatformRefusal(400, "invalid_scope", form.get("scope", ""))
        token = AccessToken(
            secrets.token_urlsafe(24), self.client_id, frozenset(granted), now + 3600
        )
        with self._lock:
            self.access_tokens[token.token] = token
        return {
            "access_token": token.token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": " ".join(sorted(granted)),
        }

    def _authorize_service(self, request: RecordedRequest, *scopes: str) -> AccessToken:
        token_value = request.bearer()
        with self._lock:
            token = self.access_tokens.get(token_value or "")
        if token is None or token.expires_at < time.time():
            raise PlatformRefusal(401, "invalid_token", "no valid bearer token")
        if not token.scopes & set(scopes):
            raise PlatformRefusal(403, "insufficient_scope", " or ".join(scopes))
        return token

    # AGS

    def _create_line_item(self, context_id: str, document: Mapping[str, Any]) -> LineItem:
        label = document.get("label")
        maximum = document.get("scoreMaximum")
        if not isinstance(label, str) or not label.strip():
            raise PlatformRefusal(400, "invalid_line_item", "label is required")
        if not isinstance(maximum, int | float) or isinstance(maximum, bool) or maximum <= 0:
            raise PlatformRefusal(400, "invalid_line_item", "scoreMaximum must be > 0")
        with self._lock:
            self._line_item_counter += 1
            item_id = f"{self.lineitems_url(context_id)}/{self._line_item_counter}"
            known = {"id", "label", "scoreMaximum", "resourceLinkId", "resourceId", "tag"}
            item = LineItem(
                item_id,
                context_id,
                label,
                float(maximum),
                document.get("resourceLinkId"),
                document.get("resourceId"),
                document.get("tag"),
                {k: v for k, v in document.items() if k not in known},
            )
            self.line_items[item_id] = item
            return item

    def _receive_score(self, item: LineItem, request: RecordedRequest, client_id: str) -> None:
        if request.headers.get("content-type", "").split(";")[0].strip() != MEDIA_SCORE:
            raise PlatformRefusal(415, "unsupported_media_type", f"expected {MEDIA_SCORE}")
        try:
            score = json.loads(request.body)
        except ValueError as error:
            raise PlatformRefusal(400, "invalid_score", "not JSON") from error
        if not isinstance(score, dict):
            raise PlatformRefusal(400, "invalid_score", "not an object")
        problems = []
        if not isinstance(score.get("userId"), str) or not score["userId"]:
            problems.append("userId is required")
        if score.get("activityProgress") not in ACTIVITY_PROGRESS:
            problems.append(f"activityProgress {score.get('activityProgress')!r}")
        if score.get("gradingProgress") not in GRADING_PROGRESS:
            problems.append(f"gradingProgress {score.get('gradingProgress')!r}")
        timestamp = _parse_timestamp(score.get("timestamp"))
        if timestamp is None:
            problems.append("timestamp must be ISO 8601 with a time zone")
        if "scoreGiven" in score:
            given, maximum = score.get("scoreGiven"), score.get("scoreMaximum")
            if not isinstance(given, int | float) or given < 0:
                problems.append("scoreGiven must be a number >= 0")
            if not isinstance(maximum, int | float) or maximum <= 0:
                problems.append("scoreGiven needs scoreMaximum > 0")
        members = self.members.get(item.context_id)
        if members is not None and score.get("userId") not in {m.sub for m in members}:
            problems.append(f"user {score.get('userId')!r} is not in the course")
        if problems:
            raise PlatformRefusal(400, "invalid_score", "; ".join(problems))
        with self._lock:
            if self.strict_score_timestamps and timestamp is not None:
                for earlier in self.scores:
                    if (
                        earlier.line_item_id == item.id
                        and earlier.score["userId"] == score["userId"]
                        and (_parse_timestamp(earlier.score["timestamp"]) or 0) >= timestamp
                    ):
                        raise PlatformRefusal(
                            400, "invalid_score", "timestamp is not later than the last score"
                        )
            self.scores.append(ReceivedScore(item.id, score, client_id))

    def results(self, item: LineItem) -> list[dict[str, Any]]:
        """The latest result of each user on a line item."""
        latest: dict[str, dict[str, Any]] = {}
        with self._lock:
            for received in self.scores:
                if received.line_item_id == item.id:
                    latest[received.score["userId"]] = received.score
        results = []
        for user_id, score in latest.items():
            result: dict[str, Any] = {
                "id": f"{item.id}/results/{user_id}",
                "scoreOf": item.id,
                "userId": user_id,
            }
            if "scoreGiven" in score:
                result["resultScore"] = score["scoreGiven"]
                result["resultMaximum"] = score.get("scoreMaximum", item.score_maximum)
            results.append(result)
        return results

    def membership_container(self, context_id: str) -> dict[str, Any]:
        """The NRPS container of a course (every member)."""
        context = self.contexts.get(context_id, CourseContext(id=context_id))
        return {
            "id": self.memberships_url(context_id),
            "context": {"id": context.id, "label": context.label, "title": context.title},
            "members": [_member_json(m) for m in self.members.get(context_id, [])],
        }

    # HTTP routing

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        """Route one request; returns status, headers and body."""
        with self._lock:
            self.requests.append(request)
        path, method = request.path, request.method
        if path == "/.well-known/openid-configuration" and method == "GET":
            if self.canvas_bearer_rule and request.bearer() not in self.registration_tokens:
                raise PlatformRefusal(401, "invalid_token", "registration token required")
            return _json(200, self.openid_configuration())
        if path == "/jwks" and method == "GET":
            return _json(200, self.jwks())
        if path == "/auth" and method in {"GET", "POST"}:
            params = {k: v[0] for k, v in request.query.items()}
            if method == "POST":
                params.update({k: v[0] for k, v in parse_qs(request.body.decode()).items()})
            answer = self.answer_auth_request(AuthRequest(params, method))
            return 200, {"Content-Type": "text/html; charset=utf-8"}, _auto_post(answer)
        if path == "/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
            return _json(200, self.issue_access_token(form))
        if path == "/register" and method == "POST":
            return self._register(request)
        if path == "/course" and method == "GET":
            tool_src = request.query.get("tool", [""])[0]
            storage = request.query.get("storage", [""])[0]
            return (
                200,
                {"Content-Type": "text/html; charset=utf-8"},
                _course_page(tool_src, storage),
            )
        if path == "/storage-frame" and method == "GET":
            return 200, {"Content-Type": "text/html; charset=utf-8"}, STORAGE_FRAME_PAGE
        if path == "/deep_link_return" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
            self.validate_deep_linking_response(form.get("JWT", ""))
            return 200, {"Content-Type": "text/html"}, b"<p>Content added.</p>"
        match = re.fullmatch(r"/contexts/([^/]+)/(lineitems|memberships)(?:/(\d+))?(/\w+)?", path)
        if match:
            return self._service(request, *match.groups())
        raise PlatformRefusal(404, "not_found", path)

    def _service(
        self,
        request: RecordedRequest,
        context_id: str,
        kind: str,
        number: str | None,
        tail: str | None,
    ) -> tuple[int, dict[str, str], bytes]:
        method = request.method
        if kind == "memberships":
            if number or tail or method != "GET":
                raise PlatformRefusal(405, "method_not_allowed", method)
            self._authorize_service(request, SCOPE_NRPS)
            container = self.membership_container(context_id)
            role = request.query.get("role", [None])[0]
            if role:
                container["members"] = [m for m in container["members"] if role in m["roles"]]
            return _paged(request, container, "members", MEDIA_MEMBERSHIPS)
        if number is None:
            if method == "GET":
                self._authorize_service(request, SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY)
                with self._lock:
                    items = [i for i in self.line_items.values() if i.context_id == context_id]
                filters = {
                    "resource_link_id": "resource_link_id",
                    "resource_id": "resource_id",
                    "tag": "tag",
                }
                for query_name, attribute in filters.items():
                    wanted = request.query.get(query_name, [None])[0]
                    if wanted is not None:
                        items = [i for i in items if getattr(i, attribute) == wanted]
                return _paged(
                    request, {"items": [i.as_json() for i in items]}, "items", MEDIA_LINEITEMS
                )
            if method == "POST":
                self._authorize_service(request, SCOPE_LINEITEM)
                if request.headers.get("content-type", "").split(";")[0] != MEDIA_LINEITEM:
                    raise PlatformRefusal(415, "unsupported_media_type", MEDIA_LINEITEM)
                item = self._create_line_item(context_id, json.loads(request.body))
                return _json(201, item.as_json(), MEDIA_LINEITEM)
            raise PlatformRefusal(405, "method_not_allowed", method)
        item_id = f"{self.lineitems_url(context_id)}/{number}"
        with self._lock:
            item = self.line_items.get(item_id)  # type: ignore[assignment]
        if item is None:
            raise PlatformRefusal(404, "not_found", item_id)
        if tail == "/scores" and method == "POST":
            token = self._authorize_service(request, SCOPE_SCORE)
            with self._lock:
                failure = self.score_failures.pop(0) if self.score_failures else None
            if failure is not None:
                raise failure
            self._receive_score(item, request, token.client_id)
            with self._lock:
                lost = self.score_answers_lost > 0
                self.score_answers_lost -= int(lost)
            if lost:
                raise PlatformRefusal(504, "gateway_timeout", "the answer was lost")
            return 200, {}, b""
        if tail == "/results" and method == "GET":
            self._authorize_service(request, SCOPE_RESULT_READONLY)
            return _json(200, self.results(item), MEDIA_RESULTS)
        if tail is None and method == "GET":
            self._authorize_service(request, SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY)
            return _json(200, item.as_json(), MEDIA_LINEITEM)
        if tail is None and method == "PUT":
            self._authorize_service(request, SCOPE_LINEITEM)
            document = json.loads(request.body)
            replacement = self._create_line_item(context_id, document)
            with self._lock:
                del self.line_items[replacement.id]
                replacement.id = item.id
                self.line_items[item.id] = replacement
            return _json(200, replacement.as_json(), MEDIA_LINEITEM)
        if tail is None and method == "DELETE":
            self._authorize_service(request, SCOPE_LINEITEM)
            with self._lock:
                del self.line_items[item.id]
            return 204, {}, b""
        raise PlatformRefusal(405, "method_not_allowed", method)

    def _register(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        """LTI Dynamic Registration: the tool posts its OpenID client metadata with the
        registration token as bearer; the platform answers with the client_id and deployment."""
        token = request.bearer()
        with self._lock:
            if token not in self.registration_tokens:
                raise PlatformRefusal(401, "invalid_token", "registration token required")
            self.registration_tokens.discard(token)  # one use
        try:
            metadata = json.loads(request.body)
        except ValueError as error:
            raise PlatformRefusal(400, "invalid_client_metadata", "not JSON") from error
        problems = registration_metadata_problems(metadata)
        if problems:
            raise PlatformRefusal(400, "invalid_client_metadata", "; ".join(problems))
        configuration = metadata[TOOL_CONFIGURATION]
        self.tool_redirect_uris = list(metadata["redirect_uris"])
        self.tool_login_url = metadata["initiate_login_uri"]
        self.tool_launch_url = configuration["target_link_uri"]
        for message in configuration.get("messages", []):
            if message.get("type") == DEEP_LINKING_REQUEST and message.get("target_link_uri"):
                self.tool_deep_linking_url = message["target_link_uri"]
        jwks_uri = metadata["jwks_uri"]
        if self._tool_jwks is None:
            self._tool_jwks = lambda: _fetch_json(jwks_uri)
        with self._lock:
            self.registrations.append(metadata)
        answer = dict(metadata)
        answer["client_id"] = self.client_id
        answer[TOOL_CONFIGURATION] = {**configuration, "deployment_id": self.deployment_ids[0]}
        return _json(200, answer)


def registration_metadata_problems(metadata: Any) -> list[str]:
    """What makes a Dynamic Registration request unacceptable (LTI DR 1.0 §3.5)."""
    if not isinstance(metadata, dict):
        return ["the registration is not a JSON object"]
    problems = []
    expected = {
        "application_type": "web",
        "token_endpoint_auth_method": "private_key_jwt",
    }
    for name, value in expected.items():
        if metadata.get(name) != value:
            problems.append(f"{name} is {metadata.get(name)!r}, expected {value!r}")
    if metadata.get("response_types") != ["id_token"]:
        problems.append("response_types must be ['id_token']")
    grants = set(metadata.get("grant_types") or [])
    if not {"implicit", "client_credentials"} <= grants:
        problems.append("grant_types must include implicit and client_credentials")
    for name in ("initiate_login_uri", "jwks_uri", "client_name"):
        if not isinstance(metadata.get(name), str) or not metadata[name]:
            problems.append(f"{name} is required")
    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        problems.append("redirect_uris is required")
    configuration = metadata.get(TOOL_CONFIGURATION)
    if not isinstance(configuration, dict):
        problems.append(f"{TOOL_CONFIGURATION} is required")
    else:
        for name in ("domain", "target_link_uri"):
            if not isinstance(configuration.get(name), str) or not configuration[name]:
                problems.append(f"tool configuration {name} is required")
        if isinstance(uris, list) and configuration.get("target_link_uri") not in uris:
            problems.append("target_link_uri is not among the redirect_uris")
    return problems


# --- HTTP plumbing ---------------------------------------------------------------------------


class PlatformRequestHandler(BaseHTTPRequestHandler):
    """Hands every request to the owning :class:`TestPlatform`."""

    owner: TestPlatform
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the platform records requests itself."""

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            self.command,
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        try:
            status, headers, payload = self.owner.handle(request)
        except PlatformRefusal as refusal:
            status, headers, payload = _json(
                refusal.status,
                {"error": refusal.error, "error_description": refusal.description},
            )
            if refusal.status == 401:
                headers["WWW-Authenticate"] = f'Bearer error="{refusal.error}"'
        except Exception as error:  # a bug in the harness: say so loudly
            status, headers, payload = 500, {}, f"platform harness error: {error!r}".encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


def _json(
    status: int, document: Any, media_type: str = "application/json"
) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": media_type}, json.dumps(document).encode()


def _paged(
    request: RecordedRequest, container: dict[str, Any], key: str, media_type: str
) -> tuple[int, dict[str, str], bytes]:
    """Pages with ``limit``/``offset`` and a ``Link: <…>; rel="next"`` header, as LMSs do."""
    everything = container[key]
    limit = int(request.query.get("limit", ["0"])[0] or 0)
    offset = int(request.query.get("offset", ["0"])[0] or 0)
    headers = {"Content-Type": media_type}
    if limit > 0:
        container = {**container, key: everything[offset : offset + limit]}
        if offset + limit < len(everything):
            query = {k: v[0] for k, v in request.query.items()}
            query.update(limit=str(limit), offset=str(offset + limit))
            host = request.headers.get("host", "")
            headers["Link"] = f'<http://{host}{request.path}?{urlencode(query)}>; rel="next"'
    document: Any = container if key != "items" else container["items"]
    return 200, headers, json.dumps(document).encode()


def _member_json(user: PlatformUser) -> dict[str, Any]:
    member: dict[str, Any] = {"status": user.status, "user_id": user.sub, "roles": user.roles}
    for name in ("name", "given_name", "family_name", "email"):
        value = getattr(user, name)
        if value is not None:
            member[name] = value
    return member


def _parse_timestamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


def _auto_post(answer: AuthAnswer) -> bytes:
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in answer.form.items()
    )
    return (
        '<!doctype html><html><body onload="document.forms[0].submit()">'
        f'<form method="post" action="{escape(answer.action)}">{inputs}'
        "<button>Continue</button></form></body></html>"
    ).encode()


def _course_page(tool_src: str, storage_target: str) -> bytes:
    """The course page: the storage frame first (when offered), then the tool's frame."""
    storage = (
        f'<iframe name="{escape(storage_target)}" id="storage" src="/storage-frame" hidden>'
        "</iframe>"
        if storage_target
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test LMS</title>'
        "</head><body><h1>Burgerschap 2A</h1>"
        f"{storage}"
        '<iframe name="tool" id="tool" title="Course item" width="960" height="720"></iframe>'
        "<script>"
        f"var toolSrc = {json.dumps(tool_src)};"
        'var storage = document.getElementById("storage");'
        'function openTool() { document.getElementById("tool").src = toolSrc; }'
        "if (storage) { storage.addEventListener('load', openTool); } else { openTool(); }"
        "</script></body></html>"
    ).encode()


#: The platform's storage frame: answers LTI platform storage messages from any frame of the
#: page, keeping values per sender origin (origin-partitioned, as the spec asks); what it
#: received is in ``window.received`` for tests.
STORAGE_FRAME_PAGE = b"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>storage</title></head><body><script>
var store = {};
window.received = [];
window.addEventListener("message", function (event) {
  var data = event.data;
  if (!data || typeof data !== "object" || typeof data.subject !== "string") { return; }
  window.received.push({subject: data.subject, origin: event.origin, key: data.key || null});
  var reply = {subject: data.subject + ".response", message_id: data.message_id};
  var slot = event.origin + " " + data.key;
  if (data.subject === "lti.capabilities") {
    reply.supported_messages = [
      {subject: "lti.capabilities"},
      {subject: "lti.put_data", frame: window.name},
      {subject: "lti.get_data", frame: window.name}
    ];
  } else if (data.subject === "lti.put_data") {
    store[slot] = data.value;
    reply.key = data.key; reply.value = data.value;
  } else if (data.subject === "lti.get_data") {
    reply.key = data.key;
    if (Object.prototype.hasOwnProperty.call(store, slot)) { reply.value = store[slot]; }
    else { reply.error = {code: "not_found", message: "no value for this key"}; }
  } else {
    reply.error = {code: "unsupported_subject", message: "not supported"};
  }
  event.source.postMessage(reply, event.origin);
});
</script></body></html>"""


def _fetch_json(url: str, bearer: str | None = None) -> Any:
    """GET a JSON document (the platform reading the tool's JWKS, or a test reading the
    platform). Over plain urllib: these are loopback test servers."""
    from urllib.request import Request, urlopen

    request = Request(url, headers={"Authorization": f"Bearer {bearer}"} if bearer else {})
    with urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def http_request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One real HTTP request to the platform (for tests and self-tests); error statuses are
    returned, not raised."""
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    request = Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers.items()), response.read()
    except HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


class _FormParser(HTMLParser):
    """The forms of an HTML page: action, method and input values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {
                    "action": attributes.get("action", ""),
                    "method": attributes.get("method", "get").lower(),
                    "fields": {},
                }
            )
        elif tag in {"input", "textarea", "button"} and self.forms and attributes.get("name"):
            self.forms[-1]["fields"][attributes["name"]] = attributes.get("value", "")


def html_forms(page: str) -> list[dict[str, Any]]:
    """Every form of ``page`` (``action``, ``method``, ``fields``)."""
    parser = _FormParser()
    parser.feed(page)
    return parser.forms


# --- the browser on the tool's side ----------------------------------------------------------


@dataclass
class LaunchOutcome:
    """What one launch produced, step by step."""

    auth_request: AuthRequest
    answer: AuthAnswer
    response: Any  # the tool's answer to the form post (a Werkzeug TestResponse)
    page: Any | None = None  # the launched page, when the tool redirected to one

    @property
    def session_path(self) -> str | None:
        """The ``/lti/session/<id>`` path the tool redirected to, if it did."""
        location = self.response.headers.get("Location", "")
        path = urlsplit(location).path
        return path if path.startswith("/lti/session/") else None


class ToolBrowser:
    """A user agent (Werkzeug test client, cookies kept) that the platform sends to the tool.

    Requests to the tool go through ``client`` (over the tool's base URL); the platform's own
    endpoints are reached over real HTTP."""

    def __init__(
        self, client: Any, platform: TestPlatform, base_url: str, *, language: str = "en"
    ) -> None:
        self.client = client
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        #: Sent as ``Accept-Language`` with every request to the tool (and the launches' locale).
        self.headers = {"Accept-Language": language}
        #: The tool's answer to the last login initiation.
        self.last_login_response: Any = None

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET a tool path as this browser."""
        return self.client.get(path, base_url=self.base_url, headers=self.headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        """POST to a tool path as this browser."""
        return self.client.post(path, base_url=self.base_url, headers=self.headers, **kwargs)

    def tool_path(self, url: str) -> str:
        """The path (and query) of a tool URL, checking it is on the tool's origin."""
        assert url.startswith(self.base_url + "/"), f"{url} is not on {self.base_url}"
        return url[len(self.base_url) :]

    def initiate_login(
        self,
        launch: Launch,
        *,
        method: str = "GET",
        with_client_id: bool = True,
        storage_target: str | None = None,
    ) -> AuthRequest:
        """The platform sends the browser to the tool's login initiation URL (GET or POST);
        returns the auth request the tool redirected the browser to."""
        language = self.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip()
        if launch.locale is None and language:
            launch = replace(launch, locale=language)
        params = self.platform.initiation(
            launch, with_client_id=with_client_id, storage_target=storage_target
        )
        assert self.platform.tool_login_url is not None
        path = self.tool_path(self.platform.tool_login_url)
        if method == "GET":
            response = self.get(path, query_string=params)
        else:
            response = self.post(path, data=params)
        self.last_login_response = response
        return self.follow_to_platform(response)

    def follow_to_platform(self, response: Any, *, hops: int = 2) -> AuthRequest:
        """The auth request in the tool's login answer: a redirect to the platform's auth
        endpoint, a page whose form or link goes there, or a cookie-check page whose link
        continues the login at the tool (followed, as a browser with cookies would)."""
        auth_url = self.platform.auth_url
        if response.status_code in {301, 302, 303, 307}:
            location = response.headers["Location"]
            assert location.startswith(auth_url + "?"), (
                f"login initiation redirected to {location}, not to {auth_url}"
            )
            query = parse_qs(urlsplit(location).query, keep_blank_values=True)
            return AuthRequest({k: v[0] for k, v in query.items()}, "GET")
        page = response.get_data(as_text=True)
        assert response.status_code == 200, (
            f"login initiation answered {response.status_code}: {page[:500]}"
        )
        for form in html_forms(page):
            if form["action"].split("?")[0] == auth_url:
                return AuthRequest(dict(form["fields"]), form["method"].upper())
        links = [unescape(link) for link in re.findall(r'href="([^"]+)"', page)]
        for link in links:
            if link.startswith(auth_url + "?"):
                query = parse_qs(urlsplit(link).query, keep_blank_values=True)
                return AuthRequest({k: v[0] for k, v in query.items()}, "GET")
        assert self.platform.tool_login_url is not None
        login_path = self.tool_path(self.platform.tool_login_url)
        for link in links:
            if link.startswith("?"):
                link = login_path + link
            elif link.startswith(self.base_url + "/"):
                link = self.tool_path(link)
            if link.startswith(login_path + "?") and hops > 0:
                self.last_login_response = self.get(link)
                return self.follow_to_platform(self.last_login_response, hops=hops - 1)
        raise AssertionError(f"the login page leads nowhere near {auth_url}: {page[:500]}")

    def authorize(self, auth_request: AuthRequest) -> AuthAnswer:
        """The browser follows the auth request to the platform over HTTP; the platform checks
        it and answers with the auto-posting form (id_token and state)."""
        if auth_request.method == "POST":
            status, _, body = http_request(
                "POST",
                self.platform.auth_url,
                body=urlencode(auth_request.params).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        else:
            url = f"{self.platform.auth_url}?{urlencode(auth_request.params)}"
            status, _, body = http_request("GET", url)
        assert status == 200, f"the platform refused the auth request: {body.decode()}"
        forms = html_forms(body.decode())
        assert len(forms) == 1 and forms[0]["method"] == "post"
        fields = {k: v for k, v in forms[0]["fields"].items() if k in {"id_token", "state"}}
        answer = self.platform.answers[-1]
        assert fields == answer.form
        return AuthAnswer(forms[0]["action"], fields, answer.header, answer.claims)

    def post_launch(self, answer: AuthAnswer, *, follow: bool = True) -> LaunchOutcome:
        """Post the platform's form to the tool's redirect URI; follow the tool's redirect to
        the session page when ``follow``."""
        response = self.post(self.tool_path(answer.action), data=answer.form)
        outcome = LaunchOutcome(self.platform.auth_requests[-1], answer, response)
        if follow and outcome.session_path:
            outcome.page = self.get(outcome.session_path)
        return outcome

    def launch(self, launch: Launch, *, method: str = "GET", follow: bool = True) -> LaunchOutcome:
        """The whole round trip: login initiation → auth request → id_token → launch."""
        auth_request = self.initiate_login(launch, method=method)
        answer = self.authorize(auth_request)
        outcome = self.post_launch(answer, follow=follow)
        outcome.auth_request = auth_request
        return outcome


def with_claim(name: str, value: Any) -> ClaimsEdit:
    """An edit setting claim ``name`` to ``value``."""

    def edit(claims: dict[str, Any]) -> None:
        claims[name] = copy.deepcopy(value)

    return edit


def without(*names: str) -> ClaimsEdit:
    """An edit removing claims (or header fields) ``names``."""

    def edit(claims: dict[str, Any]) -> None:
        for name in names:
            claims.pop(name, None)

    return edit


def new_id() -> str:
    """A unique identifier for test data."""
    return uuid.uuid4().hex[:12]


def iter_scores(platform: TestPlatform, user_id: str) -> Iterator[dict[str, Any]]:
    """The scores the platform received for ``user_id``, in order."""
    for received in platform.scores:
        if received.score.get("userId") == user_id:
            yield received.score
