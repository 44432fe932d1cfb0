"""The LTI 1.3 tool's registry: platforms (LMSs) and their deployments, the tool's own key
pairs, the courses (contexts), course items (resource links) and gradebook columns (line items)
launches told us about, and the short-lived launch cache (OIDC states and nonces, validated
launches, platform key sets, service tokens).

Scoping: a context, resource link or line item belongs to one deployment of one platform
registration, and every lookup takes that :class:`DeploymentView`; identical ids sent by two
platforms (or two deployments of one platform) are different records that never meet.

A platform registration is an ``(issuer, client_id)`` pair: many platforms, and many
registrations of one issuer (Canvas uses one issuer for every Canvas instance), live side by
side. Learners are keyed by :attr:`PlatformView.learner_platform` plus the LTI ``sub``.

The launch cache is the nonce and replay store: a value put with :meth:`LaunchCache.put` can be
taken once with :meth:`LaunchCache.take` (atomically, so two web workers never both take it),
and everything expires. It is a database table by default and Redis when
``BADGEBRIDGE_REDIS_URL`` is set, so several web workers serve one launch.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from sqlalchemy import and_, bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import BadgeBridgeError, FetchRefused, InvalidInput, KeyProblem, NotFound
from core.json_input import parse_json
from core.keys import (
    KeyEncryptionKey,
    decrypt_private_key,
    encrypt_private_key,
    generate_private_key,
    jwk_thumbprint,
    public_key_from_jwk,
    public_key_to_jwk,
)
from core.storage import (
    LtiContextRecord,
    LtiDeploymentRecord,
    LtiLaunchCacheRecord,
    LtiLineItemRecord,
    LtiPlatformRecord,
    LtiResourceLinkRecord,
    LtiToolKeyRecord,
    utcnow,
)
from core.worker_memory import WORKER_MEMORY_SECONDS, WorkerMemory

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from core.guarded_http import GuardedHttpClient
    from core.service import BadgeService

#: Custom parameters of a resource link that name what it shows (set by deep linking).
CUSTOM_ACTIVITY: Final = "activity"
CUSTOM_PLAYLIST: Final = "playlist"
#: The environment variable that switches the launch cache to Redis (shared with the workers).
REDIS_URL_ENV: Final = "BADGEBRIDGE_REDIS_URL"
#: A fetched platform key set is reused this long before it is fetched again.
KEY_SET_TTL_SECONDS: Final = 3600
#: After an unknown ``kid`` made us refetch a platform's keys, no other refetch for this long:
#: tokens with made-up key ids cannot make us hammer the platform.
KEY_SET_REFETCH_INTERVAL_SECONDS: Final = 10
#: Sizes: the learner identifier ``<issuer>|<client_id>`` fits its 500-character column.
MAX_ISSUER_LENGTH: Final = 300
MAX_CLIENT_ID_LENGTH: Final = 190
MAX_ID_LENGTH: Final = 255
MAX_URL_LENGTH: Final = 2000
#: Asymmetric JOSE algorithms a platform may sign with (LTI requires RS256; never HS*/none).
PLATFORM_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
_ALGORITHM_KEY_TYPES: Final = {"RS": "RSA", "ES": "EC", "PS": "RSA"}
_SWEEP_EVERY: Final = 200
#: Each web worker keeps registrations and the tool's active key in memory this long (a launch
#: reads both twice). A change made through this registry takes effect at once; one made by
#: another worker or process (the CLI) reaches every worker within this time.
REGISTRY_MEMORY_SECONDS: Final = WORKER_MEMORY_SECONDS
_TOOL_KEY_RECORD_PREFIX: Final = "lti-tool/"


class LtiRegistryError(InvalidInput):
    """A registration or launch record was refused (says which field and why)."""


# --------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformView:
    """A platform registration as other layers see it."""

    public_id: str
    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    auth_audience: str | None
    key_set_url: str | None
    key_set: dict[str, Any] | None
    email_trusted: bool
    product_family_code: str | None
    registered_via: str
    active: bool
    deployment_ids: tuple[str, ...]
    created_at: datetime

    @property
    def learner_platform(self) -> str:
        """The platform part of a learner's LMS identifier: ``<issuer>|<client_id>``."""
        return f"{self.issuer}|{self.client_id}"


@dataclass(frozen=True)
class DeploymentView:
    """One deployment of one platform registration: the scope of contexts, links and line
    items."""

    platform_public_id: str
    issuer: str
    client_id: str
    deployment_id: str


@dataclass(frozen=True)
class ContextView:
    """A course (LTI context) of a deployment."""

    deployment: DeploymentView
    context_id: str
    label: str | None
    title: str | None
    types: tuple[str, ...]


@dataclass(frozen=True)
class ResourceLinkView:
    """A course item that launches the tool, and the activity or playlist it shows."""

    deployment: DeploymentView
    resource_link_id: str
    context_id: str | None
    title: str | None
    description: str | None
    custom: dict[str, str]
    activity_public_id: str | None
    playlist_public_id: str | None


@dataclass(frozen=True)
class LineItemView:
    """A gradebook column the platform told us about (AGS)."""

    deployment: DeploymentView
    line_item_url: str
    context_id: str | None
    resource_link_id: str | None
    label: str | None
    score_maximum: float | None
    resource_id: str | None
    tag: str | None


@dataclass(frozen=True)
class LaunchPlacement:
    """Where a launch happened: its course, course item and gradebook column (each optional)."""

    deployment: DeploymentView
    context: ContextView | None
    resource_link: ResourceLinkView | None
    line_item: LineItemView | None


@dataclass(frozen=True)
class ToolKeyView:
    """One of the tool's key pairs (public facts only)."""

    kid: str
    state: str
    public_jwk: dict[str, str]
    created_at: datetime
    rotated_at: datetime | None
    retired_at: datetime | None


class ToolSigningKey:
    """The tool's active private key, for signing client assertions and deep linking
    responses. ``repr`` shows the kid only; the object refuses to be pickled."""

    __slots__ = ("_private_key", "_private_pem", "_public_pem", "kid")

    def __init__(self, kid: str, private_key: rsa.RSAPrivateKey) -> None:
        self.kid = kid
        self._private_key = private_key
        # Every launch hands pylti1p3 both PEMs: serialised once per process, kept no longer
        # than the key object itself (neither is ever logged, pickled or shown).
        self._private_pem: str | None = None
        self._public_pem: str | None = None

    def private_pem(self) -> str:
        """The private key as unencrypted PKCS#8 PEM (what pylti1p3 signs with)."""
        if self._private_pem is None:
            from cryptography.hazmat.primitives import serialization

            self._private_pem = self._private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")
        return self._private_pem

    def public_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM."""
        if self._public_pem is None:
            from cryptography.hazmat.primitives import serialization

            self._public_pem = (
                self._private_key.public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode("ascii")
            )
        return self._public_pem

    def public_jwk(self) -> dict[str, str]:
        """The public JWK with ``kid``, ``alg: RS256`` and ``use: sig``."""
        return _tool_jwk(self._private_key.public_key(), self.kid)

    def __repr__(self) -> str:
        return f"ToolSigningKey(kid={self.kid!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("A tool signing key cannot be pickled.")


def _tool_jwk(public_key: Any, kid: str) -> dict[str, str]:
    jwk = public_key_to_jwk(public_key)
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return jwk


# --------------------------------------------------------------------------------------------
# Launch cache
# --------------------------------------------------------------------------------------------


class LaunchCache(Protocol):
    """Short-lived shared values with expiry; :meth:`take` returns a value at most once."""

    def put(self, key: str, value: Any, ttl_seconds: float) -> None:
        """Store ``value`` (JSON-able) under ``key`` for ``ttl_seconds``."""

    def add(self, key: str, value: Any, ttl_seconds: float) -> bool:
        """Store only when ``key`` holds nothing (or only an expired value); True if stored."""

    def get(self, key: str) -> Any | None:
        """The live value under ``key``, else None."""

    def take(self, key: str) -> Any | None:
        """Remove and return the live value under ``key`` (None when absent or expired); of
        two concurrent takes, one gets the value."""

    def delete(self, key: str) -> None:
        """Forget ``key``."""


def _check_cache_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > 250:
        raise InvalidInput("A launch cache key is 1-250 characters.")
    return key


_CACHE_TABLE: Any = LtiLaunchCacheRecord.__table__
# The launch cache's statements, built once: a launch makes about eight of them, and building
# a statement costs more than running it.
_CACHE_GET: Final = select(_CACHE_TABLE.c.value).where(
    _CACHE_TABLE.c.key == bindparam("cache_key"), _CACHE_TABLE.c.expires_at > bindparam("now")
)
_CACHE_TAKE: Final = (
    delete(_CACHE_TABLE)
    .where(_CACHE_TABLE.c.key == bindparam("cache_key"))
    .returning(_CACHE_TABLE.c.value, _CACHE_TABLE.c.expires_at)
)


@functools.cache
def _cache_upsert(dialect: str, only_if_expired: bool) -> Any:
    """Insert or replace a launch cache entry (only an expired one with ``only_if_expired``),
    returning its key when a row was written."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        insert: Any = pg_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        insert = sqlite_insert
    else:  # pragma: no cover - the two supported databases
        raise BadgeBridgeError(f"The launch cache does not support {dialect}.")
    statement = insert(_CACHE_TABLE).values(
        key=bindparam("cache_key"),
        value=bindparam("cache_value"),
        expires_at=bindparam("expires"),
    )
    statement = statement.on_conflict_do_update(
        index_elements=[_CACHE_TABLE.c.key],
        set_={"value": statement.excluded.value, "expires_at": statement.excluded.expires_at},
        where=(_CACHE_TABLE.c.expires_at <= bindparam("now")) if only_if_expired else None,
    )
    return statement.returning(_CACHE_TABLE.c.key)


class DatabaseLaunchCache:
    """The launch cache in the ``lti_launch_cache`` table (the embedded default)."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service
        self._writes = itertools.count(1)

    def _upsert(self, key: str, text: str, expires_at: float, *, only_if_expired: bool) -> bool:
        statement = _cache_upsert(self._service.engine.dialect.name, only_if_expired)
        # RETURNING says whether a row was written (rowcount is not reported for INSERTs).
        with self._service.transaction() as session:
            row = session.execute(
                statement,
                {"cache_key": key, "cache_value": text, "expires": expires_at, "now": time.time()},
            ).first()
        if next(self._writes) % _SWEEP_EVERY == 0:
            self.sweep()
        return row is not None

    def put(self, key: str, value: Any, ttl_seconds: float) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``."""
        self._upsert(
            _check_cache_key(key),
            json.dumps(value),
            time.time() + ttl_seconds,
            only_if_expired=False,
        )

    def add(self, key: str, value: Any, ttl_seconds: float) -> bool:
        """Store only when nothing live is under ``key``; True if stored."""
        return self._upsert(
            _check_cache_key(key),
            json.dumps(value),
            time.time() + ttl_seconds,
            only_if_expired=True,
        )

    def get(self, key: str) -> Any | None:
        """The live value under ``key``, else None."""
        with self._service.sessions() as session:
            text = session.scalar(
                _CACHE_GET, {"cache_key": _check_cache_key(key), "now": time.time()}
            )
        return None if text is None else json.loads(text)

    def take(self, key: str) -> Any | None:
        """Remove and return the live value under ``key`` (one concurrent taker wins)."""
        with self._service.transaction() as session:
            row = session.execute(_CACHE_TAKE, {"cache_key": _check_cache_key(key)}).first()
        if row is None or row.expires_at <= time.time():
            return None
        return json.loads(row.value)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        with self._service.transaction() as session:
            session.execute(delete(LtiLaunchCacheRecord).where(LtiLaunchCacheRecord.key == key))

    def sweep(self) -> int:
        """Delete expired entries; returns how many."""
        with self._service.transaction() as session:
            result = session.execute(
                delete(LtiLaunchCacheRecord).where(LtiLaunchCacheRecord.expires_at <= time.time())
            )
            return int(getattr(result, "rowcount", 0) or 0)


class RedisLaunchCache:
    """The launch cache in Redis (production with several web workers)."""

    PREFIX: Final = "badgebridge:lti:"

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    @staticmethod
    def _ms(ttl_seconds: float) -> int:
        return max(1, math.ceil(ttl_seconds * 1000))

    def put(self, key: str, value: Any, ttl_seconds: float) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``."""
        if ttl_seconds <= 0:  # already expired: Redis wants a positive lifetime
            self.delete(key)
            return
        self._redis.set(
            self.PREFIX + _check_cache_key(key), json.dumps(value), px=self._ms(ttl_seconds)
        )

    def add(self, key: str, value: Any, ttl_seconds: float) -> bool:
        """Store only when nothing is under ``key``; True if stored."""
        if ttl_seconds <= 0:
            return False
        stored = self._redis.set(
            self.PREFIX + _check_cache_key(key),
            json.dumps(value),
            px=self._ms(ttl_seconds),
            nx=True,
        )
        return bool(stored)

    def get(self, key: str) -> Any | None:
        """The live value under ``key``, else None."""
        raw = self._redis.get(self.PREFIX + _check_cache_key(key))
        return None if raw is None else json.loads(raw)

    def take(self, key: str) -> Any | None:
        """Remove and return the value under ``key`` (GETDEL: one concurrent taker wins)."""
        raw = self._redis.getdel(self.PREFIX + _check_cache_key(key))
        return None if raw is None else json.loads(raw)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._redis.delete(self.PREFIX + _check_cache_key(key))


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _required_text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LtiRegistryError(f"The {field} is required.")
    text: str = value.strip()
    if len(text) > limit:
        raise LtiRegistryError(f"The {field} is at most {limit} characters.")
    return text


def _optional_text(value: Any, field: str, limit: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _required_text(value, field, limit)


def _url(value: Any, field: str) -> str:
    """An http(s) URL with a host and no credentials or fragment."""
    text = _required_text(value, field, MAX_URL_LENGTH)
    try:
        parts = urlsplit(text)
        _ = parts.port
    except ValueError as exc:
        raise LtiRegistryError(f"The {field} {text!r} is not a valid web address.") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise LtiRegistryError(
            f"The {field} must be a web address starting with https:// (got {text!r})."
        )
    if parts.username is not None or parts.password is not None:
        raise LtiRegistryError(f"The {field} must not contain a user name or password.")
    if parts.fragment:
        raise LtiRegistryError(f"The {field} must not contain a #fragment.")
    return text


def _optional_url(value: Any, field: str) -> str | None:
    text = _optional_text(value, field, MAX_URL_LENGTH)
    return None if text is None else _url(text, field)


def _issuer(value: Any) -> str:
    issuer = _required_text(value, "issuer", MAX_ISSUER_LENGTH)
    _url(issuer, "issuer")
    if urlsplit(issuer).query:
        raise LtiRegistryError("The issuer must not contain a ?query.")
    return issuer


def parse_key_set(value: Any) -> dict[str, Any]:
    """A platform's static public keys as a JWKS ``{"keys": [...]}``.

    Accepts a JWKS object or JSON text, one JWK, or a PEM public key. Every key must be a
    public RSA (2048+ bits) or EC P-256 key; keys without ``kid`` get their JWK thumbprint."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("-----BEGIN"):
            return {"keys": [_jwk_from_pem(text)]}
        value = parse_json(text)
    if not isinstance(value, Mapping):
        raise LtiRegistryError("The platform key must be a JWKS, a JWK or a PEM public key.")
    entries = value.get("keys") if "keys" in value else [value]
    if not isinstance(entries, list) or not entries:
        raise LtiRegistryError("The platform key set has no keys.")
    keys = []
    for entry in entries:
        try:
            public_key = public_key_from_jwk(entry)
        except KeyProblem as problem:
            raise LtiRegistryError(f"A platform key is not usable: {problem.message}") from problem
        jwk: dict[str, Any] = dict(public_key_to_jwk(public_key))
        jwk["kid"] = str(entry.get("kid") or jwk_thumbprint(public_key))
        if isinstance(entry.get("alg"), str):
            jwk["alg"] = entry["alg"]
        keys.append(jwk)
    return {"keys": keys}


def _jwk_from_pem(text: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization

    try:
        public_key = serialization.load_pem_public_key(text.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise LtiRegistryError("The PEM text is not a readable public key.") from exc
    try:
        jwk: dict[str, Any] = dict(public_key_to_jwk(public_key))  # type: ignore[arg-type]
        jwk["kid"] = jwk_thumbprint(public_key)  # type: ignore[arg-type]
    except KeyProblem as problem:
        raise LtiRegistryError(f"The platform key is not usable: {problem.message}") from problem
    return jwk


def _deployment_ids(values: Iterable[Any]) -> list[str]:
    found: list[str] = []
    for value in values:
        text = _required_text(value, "deployment id", MAX_ID_LENGTH)
        if text not in found:
            found.append(text)
    return found


def _claim_text(value: Any, limit: int) -> str | None:
    """A display value from a launch claim, shortened to fit (never refused: it is only shown)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def _claim_id(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise LtiRegistryError(f"The launch has no {what}.")
    if len(value) > MAX_ID_LENGTH:
        raise LtiRegistryError(f"The launch's {what} is longer than {MAX_ID_LENGTH} characters.")
    return value


def custom_parameters(value: Any) -> dict[str, str]:
    """The custom claim as text values (numbers and booleans as text; other values dropped)."""
    if not isinstance(value, Mapping):
        return {}
    custom: dict[str, str] = {}
    for name, item in list(value.items())[:100]:
        if not isinstance(name, str) or len(name) > 100:
            continue
        if isinstance(item, bool):
            custom[name] = "true" if item else "false"
        elif isinstance(item, int | float | str):
            custom[name] = str(item)[:1000]
    return custom


def _named_public_id(custom: Mapping[str, str], name: str) -> str | None:
    value = custom.get(name, "").strip()
    # Canvas leaves unknown substitution variables as "$Name": not an id.
    if not value or value.startswith("$") or len(value) > 36:
        return None
    return value


@dataclass(frozen=True)
class _ContextClaim:
    context_id: str
    label: str | None
    title: str | None
    types: list[str]


def _context_claim(claim: Mapping[str, Any]) -> _ContextClaim:
    raw_types = claim.get("type")
    return _ContextClaim(
        context_id=_claim_id(claim.get("id"), "context id"),
        label=_claim_text(claim.get("label"), 300),
        title=_claim_text(claim.get("title"), 500),
        types=(
            [t[:300] for t in raw_types if isinstance(t, str)][:10]
            if isinstance(raw_types, list)
            else []
        ),
    )


def _context_unchanged(record: LtiContextRecord, claim: _ContextClaim) -> bool:
    return (record.label, record.title, list(record.types or [])) == (
        claim.label,
        claim.title,
        claim.types,
    )


def _link_values(
    claim: Mapping[str, Any], context: LtiContextRecord | None, custom: dict[str, str]
) -> dict[str, Any]:
    return {
        "context_id": None if context is None else context.id,
        "title": _claim_text(claim.get("title"), 500),
        "description": _claim_text(claim.get("description"), 5000),
        "custom": custom,
        "activity_public_id": _named_public_id(custom, CUSTOM_ACTIVITY),
        "playlist_public_id": _named_public_id(custom, CUSTOM_PLAYLIST),
    }


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------


class LtiRegistry:
    """Platform registrations, deployments, tool keys, contexts, resource links, line items
    and the launch cache, over the badge service's database."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service
        self._lock = threading.Lock()
        self._signing_keys: dict[str, ToolSigningKey] = {}
        self._memory = WorkerMemory(REGISTRY_MEMORY_SECONDS)
        self._launch_cache: LaunchCache | None = None
        self._http: GuardedHttpClient | None = None

    # -- infrastructure -----------------------------------------------------------------------

    @property
    def launch_cache(self) -> LaunchCache:
        """Redis when ``BADGEBRIDGE_REDIS_URL`` is set, else the database."""
        if self._launch_cache is None:
            url = os.environ.get(REDIS_URL_ENV, "").strip()
            self._launch_cache = (
                RedisLaunchCache(url) if url else DatabaseLaunchCache(self._service)
            )
        return self._launch_cache

    def use_launch_cache(self, cache: LaunchCache) -> None:
        """Use ``cache`` from now on (tests, embedding)."""
        self._launch_cache = cache

    @property
    def http(self) -> GuardedHttpClient:
        """The guarded HTTP client for platform key sets and registration (created lazily)."""
        if self._http is None:
            from core.guarded_http import GuardedHttpClient

            fetcher = self._service.fetcher
            self._http = (
                fetcher
                if isinstance(fetcher, GuardedHttpClient)
                else GuardedHttpClient(self._service.settings)
            )
        return self._http

    def use_http_client(self, client: GuardedHttpClient) -> None:
        """Fetch through ``client`` from now on (tests: one allowed to reach a local platform)."""
        self._http = client

    # -- platforms ----------------------------------------------------------------------------

    def register_platform(
        self,
        *,
        issuer: str,
        client_id: str,
        auth_login_url: str,
        auth_token_url: str,
        key_set_url: str | None = None,
        key_set: Any = None,
        auth_audience: str | None = None,
        deployment_ids: Iterable[str] = (),
        name: str | None = None,
        email_trusted: bool = False,
        product_family_code: str | None = None,
        registered_via: str = "manual",
    ) -> PlatformView:
        """Register a platform: our ``client_id`` at its ``issuer``, its URLs and keys (a key
        set URL, or a static key set / JWK / PEM), and its deployment ids."""
        issuer = _issuer(issuer)
        client_id = _required_text(client_id, "client id", MAX_CLIENT_ID_LENGTH)
        login_url = _url(auth_login_url, "authentication (OIDC login) URL")
        token_url = _url(auth_token_url, "access token URL")
        jwks_url = _optional_url(key_set_url, "key set URL")
        static_keys = parse_key_set(key_set) if key_set not in (None, "") else None
        if jwks_url is None and static_keys is None:
            raise LtiRegistryError("The platform needs a key set URL or a public key.")
        audience = _optional_text(auth_audience, "token audience", MAX_URL_LENGTH)
        if registered_via not in ("manual", "dynamic"):
            raise LtiRegistryError("A platform is registered manually or dynamically.")
        display = _optional_text(name, "name", 200) or urlsplit(issuer).hostname or issuer
        family = _optional_text(product_family_code, "product family code", 100)
        deployments = _deployment_ids(deployment_ids)
        with self._service.transaction() as session:
            if self._platform_record(session, issuer, client_id) is not None:
                raise LtiRegistryError(
                    f"The client id {client_id!r} of {issuer} is already registered."
                )
            now = utcnow()
            record = LtiPlatformRecord(
                public_id=str(uuid.uuid4()),
                name=display,
                issuer=issuer,
                client_id=client_id,
                auth_login_url=login_url,
                auth_token_url=token_url,
                auth_audience=audience,
                key_set_url=jwks_url,
                key_set=static_keys,
                email_trusted=bool(email_trusted),
                product_family_code=family,
                registered_via=registered_via,
                active=True,
                created_at=now,
                updated_at=now,
            )
            session.add(record)
            session.flush()
            for deployment_id in deployments:
                session.add(
                    LtiDeploymentRecord(
                        platform_id=record.id, deployment_id=deployment_id, created_at=now
                    )
                )
            session.flush()
            view = self._platform_view(session, record)
        self._memory.forget()
        return view

    def update_platform(self, public_id: str, **changes: Any) -> PlatformView:
        """Change a registration's name, URLs, keys, token audience, email trust or active
        flag (issuer and client id identify it and do not change)."""
        allowed = {
            "name",
            "auth_login_url",
            "auth_token_url",
            "key_set_url",
            "key_set",
            "auth_audience",
            "email_trusted",
            "active",
            "product_family_code",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise LtiRegistryError(f"These cannot be changed: {', '.join(sorted(unknown))}.")
        with self._service.transaction() as session:
            record = self._platform_by_public_id(session, public_id)
            if "name" in changes:
                record.name = _required_text(changes["name"], "name", 200)
            if "auth_login_url" in changes:
                record.auth_login_url = _url(
                    changes["auth_login_url"], "authentication (OIDC login) URL"
                )
            if "auth_token_url" in changes:
                record.auth_token_url = _url(changes["auth_token_url"], "access token URL")
            if "key_set_url" in changes:
                record.key_set_url = _optional_url(changes["key_set_url"], "key set URL")
            if "key_set" in changes:
                value = changes["key_set"]
                record.key_set = parse_key_set(value) if value not in (None, "") else None
            if record.key_set_url is None and record.key_set is None:
                raise LtiRegistryError("The platform needs a key set URL or a public key.")
            if "auth_audience" in changes:
                record.auth_audience = _optional_text(
                    changes["auth_audience"], "token audience", MAX_URL_LENGTH
                )
            if "product_family_code" in changes:
                record.product_family_code = _optional_text(
                    changes["product_family_code"], "product family code", 100
                )
            if "email_trusted" in changes:
                record.email_trusted = bool(changes["email_trusted"])
            if "active" in changes:
                record.active = bool(changes["active"])
            record.updated_at = utcnow()
            session.flush()
            view = self._platform_view(session, record)
        self._memory.forget()
        self.launch_cache.delete(self._key_set_cache_key(view))
        return view

    def delete_platform(self, public_id: str) -> None:
        """Remove a registration with its deployments, contexts, links and line items."""
        with self._service.transaction() as session:
            record = self._platform_by_public_id(session, public_id)
            deployments = select(LtiDeploymentRecord.id).where(
                LtiDeploymentRecord.platform_id == record.id
            )
            for table in (LtiLineItemRecord, LtiResourceLinkRecord, LtiContextRecord):
                session.execute(delete(table).where(table.deployment_id.in_(deployments)))
            session.execute(
                delete(LtiDeploymentRecord).where(LtiDeploymentRecord.platform_id == record.id)
            )
            session.delete(record)
        self._memory.forget()

    def get_platform(self, public_id: str) -> PlatformView:
        """The registration with this public id (NotFound otherwise)."""
        with self._service.sessions() as session:
            return self._platform_view(session, self._platform_by_public_id(session, public_id))

    def list_platforms(self) -> list[PlatformView]:
        """Every registration, by issuer then client id."""
        with self._service.sessions() as session:
            records = session.scalars(
                select(LtiPlatformRecord).order_by(
                    LtiPlatformRecord.issuer, LtiPlatformRecord.client_id
                )
            ).all()
            deployments = self._deployments_by_platform(session, [r.id for r in records])
            return [self._platform_view(session, r, deployments.get(r.id, ())) for r in records]

    def find_platform(self, issuer: str, client_id: str) -> PlatformView | None:
        """The registration of ``client_id`` at ``issuer`` (active or not), else None.
        Registrations found are kept in memory for :data:`REGISTRY_MEMORY_SECONDS`."""
        if not isinstance(issuer, str) or not isinstance(client_id, str):
            return None
        remembered = self._memory.get(("platform", issuer, client_id))
        if isinstance(remembered, PlatformView):
            return remembered
        with self._service.sessions() as session:
            record = self._platform_record(session, issuer, client_id)
            view = None if record is None else self._platform_view(session, record)
        if view is not None:
            self._memory.put(("platform", issuer, client_id), view)
        return view

    def platforms_of_issuer(self, issuer: str) -> list[PlatformView]:
        """Every registration at ``issuer`` (one per client id)."""
        if not isinstance(issuer, str):
            return []
        with self._service.sessions() as session:
            records = session.scalars(
                select(LtiPlatformRecord)
                .where(LtiPlatformRecord.issuer == issuer)
                .order_by(LtiPlatformRecord.id)
            ).all()
            deployments = self._deployments_by_platform(session, [r.id for r in records])
            return [self._platform_view(session, r, deployments.get(r.id, ())) for r in records]

    # -- deployments --------------------------------------------------------------------------

    def add_deployment(self, platform_public_id: str, deployment_id: str) -> DeploymentView:
        """Add a deployment id to a registration (nothing happens when it is there already)."""
        deployment_id = _required_text(deployment_id, "deployment id", MAX_ID_LENGTH)
        with self._service.transaction() as session:
            platform = self._platform_by_public_id(session, platform_public_id)
            existing = session.scalar(
                select(LtiDeploymentRecord).where(
                    LtiDeploymentRecord.platform_id == platform.id,
                    LtiDeploymentRecord.deployment_id == deployment_id,
                )
            )
            if existing is None:
                session.add(
                    LtiDeploymentRecord(
                        platform_id=platform.id, deployment_id=deployment_id, created_at=utcnow()
                    )
                )
            view = _deployment_view(platform, deployment_id)
        self._memory.forget()
        return view

    def remove_deployment(self, platform_public_id: str, deployment_id: str) -> None:
        """Remove a deployment with its contexts, links and line items."""
        with self._service.transaction() as session:
            platform = self._platform_by_public_id(session, platform_public_id)
            record = session.scalar(
                select(LtiDeploymentRecord).where(
                    LtiDeploymentRecord.platform_id == platform.id,
                    LtiDeploymentRecord.deployment_id == deployment_id,
                )
            )
            if record is None:
                raise NotFound(f"No deployment {deployment_id!r} on {platform.name}.")
            for table in (LtiLineItemRecord, LtiResourceLinkRecord, LtiContextRecord):
                session.execute(delete(table).where(table.deployment_id == record.id))
            session.delete(record)
        self._memory.forget()

    def find_deployment(
        self, issuer: str, client_id: str, deployment_id: str
    ) -> DeploymentView | None:
        """The deployment ``deployment_id`` of the registration ``(issuer, client_id)``."""
        if not all(isinstance(v, str) for v in (issuer, client_id, deployment_id)):
            return None
        with self._service.sessions() as session:
            found = session.execute(
                select(LtiPlatformRecord, LtiDeploymentRecord.deployment_id)
                .join(LtiDeploymentRecord, LtiDeploymentRecord.platform_id == LtiPlatformRecord.id)
                .where(
                    LtiPlatformRecord.issuer == issuer,
                    LtiPlatformRecord.client_id == client_id,
                    LtiDeploymentRecord.deployment_id == deployment_id,
                )
            ).first()
            if found is None:
                return None
            return _deployment_view(found[0], found[1])

    # -- contexts, resource links, line items -------------------------------------------------

    def record_launch(
        self,
        deployment: DeploymentView,
        *,
        context: Mapping[str, Any] | None = None,
        resource_link: Mapping[str, Any] | None = None,
        custom: Mapping[str, Any] | None = None,
        ags_endpoint: Mapping[str, Any] | None = None,
    ) -> LaunchPlacement:
        """Remember the course, course item and gradebook column a launch came from (the
        ``context``, ``resource_link``, ``custom`` and AGS ``endpoint`` claims), in one
        transaction, and return them.

        Most launches repeat what is recorded: one read finds all three, and only a launch
        that adds or changes something opens a write transaction."""
        parameters = custom_parameters(custom)
        context_claim = (
            _context_claim(context)
            if isinstance(context, Mapping) and context.get("id") not in (None, "")
            else None
        )
        link_claim = (
            resource_link
            if isinstance(resource_link, Mapping) and resource_link.get("id") not in (None, "")
            else None
        )
        link_id = (
            None if link_claim is None else _claim_id(link_claim.get("id"), "resource link id")
        )
        raw_url = ags_endpoint.get("lineitem") if isinstance(ags_endpoint, Mapping) else None
        line_item_url = (
            _url(raw_url.strip(), "line item URL")
            if isinstance(raw_url, str) and raw_url.strip()
            else None
        )
        with self._service.sessions() as session:
            recorded = self._recorded_placement(
                session, deployment, context_claim, link_claim, link_id, parameters, line_item_url
            )
        if recorded is not None:
            return recorded

        def write() -> LaunchPlacement:
            with self._service.transaction() as session:
                deployment_record = self._deployment_record(session, deployment)
                context_record = None
                if context_claim is not None:
                    context_record = self._upsert_context(session, deployment_record, context_claim)
                link_record = None
                if link_claim is not None and link_id is not None:
                    link_record = self._upsert_resource_link(
                        session,
                        deployment_record,
                        link_id,
                        _link_values(link_claim, context_record, parameters),
                    )
                line_item_record = None
                if line_item_url is not None:
                    line_item_record = self._upsert_line_item(
                        session, deployment_record, context_record, link_record, url=line_item_url
                    )
                return _placement(deployment, context_record, link_record, line_item_record)

        try:
            return write()
        except IntegrityError:
            # The first launches of a new course often come at once: another worker inserted
            # the same course or item a moment ago; the second pass finds and updates it.
            return write()

    def _recorded_placement(
        self,
        session: Session,
        deployment: DeploymentView,
        context_claim: _ContextClaim | None,
        link_claim: Mapping[str, Any] | None,
        link_id: str | None,
        custom: dict[str, str],
        line_item_url: str | None,
    ) -> LaunchPlacement | None:
        """The placement as recorded when the records exist and the launch changes nothing
        in them (one query), else None."""
        shape = (context_claim is not None, link_id is not None, line_item_url is not None)
        row = session.execute(
            _placement_query(shape),
            {
                "platform_public_id": deployment.platform_public_id,
                "issuer": deployment.issuer,
                "client_id": deployment.client_id,
                "deployment_id": deployment.deployment_id,
                "context_id": None if context_claim is None else context_claim.context_id,
                "resource_link_id": link_id,
                "line_item_url": line_item_url,
            },
        ).first()
        if row is None:
            return None
        found = list(row)[1:]
        context = found.pop(0) if context_claim is not None else None
        link = found.pop(0) if link_id is not None else None
        line_item = found.pop(0) if line_item_url is not None else None
        if context_claim is not None and (
            context is None or not _context_unchanged(context, context_claim)
        ):
            return None
        if link_claim is not None:
            values = _link_values(link_claim, context, custom)
            if link is None or any(getattr(link, k) != v for k, v in values.items()):
                return None
        if line_item_url is not None and (
            line_item is None
            or (context is not None and line_item.context_id != context.id)
            or (link is not None and line_item.resource_link_id != link.id)
        ):
            return None
        return _placement(deployment, context, link, line_item)

    def _upsert_context(
        self, session: Session, deployment: LtiDeploymentRecord, claim: _ContextClaim
    ) -> LtiContextRecord:
        record = self._scoped_context(session, deployment, claim.context_id)
        now = utcnow()
        if record is None:
            record = LtiContextRecord(
                deployment_id=deployment.id,
                context_id=claim.context_id,
                label=claim.label,
                title=claim.title,
                types=claim.types,
                created_at=now,
                updated_at=now,
            )
            session.add(record)
            session.flush()
        elif not _context_unchanged(record, claim):
            record.label, record.title, record.types = claim.label, claim.title, claim.types
            record.updated_at = now
        return record

    def _upsert_resource_link(
        self,
        session: Session,
        deployment: LtiDeploymentRecord,
        link_id: str,
        values: dict[str, Any],
    ) -> LtiResourceLinkRecord:
        record = self._scoped_link(session, deployment, link_id)
        now = utcnow()
        if record is None:
            record = LtiResourceLinkRecord(
                deployment_id=deployment.id,
                resource_link_id=link_id,
                created_at=now,
                updated_at=now,
                **values,
            )
            session.add(record)
            session.flush()
        elif any(getattr(record, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(record, name, value)
            record.updated_at = now
        return record

    def _upsert_line_item(
        self,
        session: Session,
        deployment: LtiDeploymentRecord,
        context: LtiContextRecord | None,
        link: LtiResourceLinkRecord | None,
        *,
        url: str,
        label: str | None = None,
        score_maximum: float | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> LtiLineItemRecord:
        url = _url(url, "line item URL")
        record = session.scalar(
            select(LtiLineItemRecord).where(
                LtiLineItemRecord.deployment_id == deployment.id,
                LtiLineItemRecord.line_item_url == url,
            )
        )
        now = utcnow()
        if record is None:
            record = LtiLineItemRecord(
                deployment_id=deployment.id,
                context_id=None if context is None else context.id,
                resource_link_id=None if link is None else link.id,
                line_item_url=url,
                label=label,
                score_maximum=score_maximum,
                resource_id=resource_id,
                tag=tag,
                created_at=now,
                updated_at=now,
            )
            session.add(record)
            session.flush()
            return record
        changes = {
            "context_id": record.context_id if context is None else context.id,
            "resource_link_id": record.resource_link_id if link is None else link.id,
            "label": label if label is not None else record.label,
            "score_maximum": score_maximum if score_maximum is not None else record.score_maximum,
            "resource_id": resource_id if resource_id is not None else record.resource_id,
            "tag": tag if tag is not None else record.tag,
        }
        if any(getattr(record, name) != value for name, value in changes.items()):
            for name, value in changes.items():
                setattr(record, name, value)
            record.updated_at = now
        return record

    def save_line_item(
        self,
        deployment: DeploymentView,
        *,
        line_item_url: str,
        context_id: str | None = None,
        resource_link_id: str | None = None,
        label: str | None = None,
        score_maximum: float | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> LineItemView:
        """Remember a gradebook column of ``deployment`` (created by deep linking or AGS),
        optionally tied to one of its contexts and resource links."""
        if score_maximum is not None and (
            not isinstance(score_maximum, int | float)
            or not math.isfinite(score_maximum)
            or score_maximum <= 0
        ):
            raise LtiRegistryError("The maximum score must be a positive number.")
        with self._service.transaction() as session:
            deployment_record = self._deployment_record(session, deployment)
            context = None
            if context_id is not None:
                context = self._scoped_context(session, deployment_record, context_id)
                if context is None:
                    raise NotFound(f"No context {context_id!r} in this deployment.")
            link = None
            if resource_link_id is not None:
                link = self._scoped_link(session, deployment_record, resource_link_id)
                if link is None:
                    raise NotFound(f"No resource link {resource_link_id!r} in this deployment.")
            record = self._upsert_line_item(
                session,
                deployment_record,
                context,
                link,
                url=line_item_url,
                label=_optional_text(label, "line item label", 300),
                score_maximum=None if score_maximum is None else float(score_maximum),
                resource_id=_optional_text(resource_id, "resource id", 300),
                tag=_optional_text(tag, "tag", 300),
            )
            context = context or (
                session.get(LtiContextRecord, record.context_id) if record.context_id else None
            )
            link = link or (
                session.get(LtiResourceLinkRecord, record.resource_link_id)
                if record.resource_link_id
                else None
            )
            return _line_item_view(deployment, record, context, link)

    def get_context(self, deployment: DeploymentView, context_id: str) -> ContextView | None:
        """The course ``context_id`` of ``deployment`` (None when that deployment has none)."""
        with self._service.sessions() as session:
            deployment_record = self._deployment_record(session, deployment)
            record = self._scoped_context(session, deployment_record, context_id)
            return None if record is None else _context_view(deployment, record)

    def contexts_of(self, deployment: DeploymentView) -> list[ContextView]:
        """The courses of ``deployment`` that have launched the tool."""
        with self._service.sessions() as session:
            deployment_record = self._deployment_record(session, deployment)
            records = session.scalars(
                select(LtiContextRecord)
                .where(LtiContextRecord.deployment_id == deployment_record.id)
                .order_by(LtiContextRecord.id)
            )
            return [_context_view(deployment, r) for r in records]

    def get_resource_link(
        self, deployment: DeploymentView, resource_link_id: str
    ) -> ResourceLinkView | None:
        """The course item ``resource_link_id`` of ``deployment`` (None when it has none)."""
        with self._service.sessions() as session:
            deployment_record = self._deployment_record(session, deployment)
            record = self._scoped_link(session, deployment_record, resource_link_id)
            if record is None:
                return None
            context = (
                session.get(LtiContextRecord, record.context_id) if record.context_id else None
            )
            return _resource_link_view(deployment, record, context)

    def resource_links_of(
        self, deployment: DeploymentView, context_id: str | None = None
    ) -> list[ResourceLinkView]:
        """The course items of ``deployment`` (of one of its courses when ``context_id``)."""
        with self._service.sessions() as session:
            deployment_record = self._deployment_record(session, deployment)
            query = select(LtiResourceLinkRecord).where(
                LtiResourceLinkRecord.deployment_id == deployment_record.id
            )
            if context_id is not None:
                context = self._scoped_context(session, deployment_record, context_id)
                if context is None:
                    return []
                query = query.where(LtiResourceLinkRecord.context_id == context.id)
            records = session.scalars(query.order_by(LtiResourceLinkRecord.id)).all()
            contexts = {
                c.id: c
                for c in session.scalars(
                    select(LtiContextRecord).where(
                        LtiContextRecord.id.in_({r.context_id for r in records if r.context_id})
                    )
                )
            }
            return [
                _resource_link_view(deployment, r, contexts.get(r.context_id or 0)) for r in records
            ]

    def line_items_of(
        self, deployment: DeploymentView, resource_link_id: str | None = None
    ) -> list[LineItemView]:
        """The gradebook columns of ``deployment`` (of one course item when given)."""
        with self._service.sessions() as session:
            deployment_record = self._deployment_record(session, deployment)
            query = select(LtiLineItemRecord).where(
                LtiLineItemRecord.deployment_id == deployment_record.id
            )
            if resource_link_id is not None:
                link = self._scoped_link(session, deployment_record, resource_link_id)
                if link is None:
                    return []
                query = query.where(LtiLineItemRecord.resource_link_id == link.id)
            views = []
            for record in session.scalars(query.order_by(LtiLineItemRecord.id)).all():
                context = (
                    session.get(LtiContextRecord, record.context_id) if record.context_id else None
                )
                link_record = (
                    session.get(LtiResourceLinkRecord, record.resource_link_id)
                    if record.resource_link_id
                    else None
                )
                views.append(_line_item_view(deployment, record, context, link_record))
            return views

    # -- the tool's keys ----------------------------------------------------------------------

    def tool_signing_key(self) -> ToolSigningKey:
        """The tool's active key pair (created on first use), kept in memory for
        :data:`REGISTRY_MEMORY_SECONDS`: after a rotation by another worker this one may sign
        with the previous key that long, which platforms still accept (it stays published)."""
        remembered = self._memory.get("tool-key")
        if isinstance(remembered, ToolSigningKey):
            return remembered
        with self._service.sessions() as session:
            record = self._active_tool_key(session)
            key = None if record is None else self._load_tool_key(record)
        if key is None:
            with self._service.transaction() as session:
                record = self._active_tool_key(session)
                if record is None:
                    record = self._new_tool_key(session)
                key = self._load_tool_key(record)
        self._memory.put("tool-key", key)
        return key

    def rotate_tool_key(self) -> ToolKeyView:
        """A new key pair signs from now on; the old one stays published (``verifying``) so
        platforms that cached it still accept what it signed."""
        with self._service.transaction() as session:
            now = utcnow()
            for old in session.scalars(
                select(LtiToolKeyRecord).where(LtiToolKeyRecord.state == "active")
            ):
                old.state, old.rotated_at = "verifying", now
            session.flush()
            view = _tool_key_view(self._new_tool_key(session))
        self._memory.forget()
        return view

    def retire_tool_key(self, kid: str) -> ToolKeyView:
        """Stop publishing a rotated-out key (the active key cannot be retired)."""
        with self._service.transaction() as session:
            record = session.scalar(select(LtiToolKeyRecord).where(LtiToolKeyRecord.kid == kid))
            if record is None:
                raise NotFound(f"No tool key {kid!r}.")
            if record.state == "active":
                raise LtiRegistryError("The active key cannot be retired: rotate it first.")
            if record.state != "retired":
                record.state, record.retired_at = "retired", utcnow()
            view = _tool_key_view(record)
        self._memory.forget()
        return view

    def list_tool_keys(self) -> list[ToolKeyView]:
        """Every tool key, newest first."""
        with self._service.sessions() as session:
            records = session.scalars(select(LtiToolKeyRecord).order_by(LtiToolKeyRecord.id.desc()))
            return [_tool_key_view(r) for r in records]

    def tool_jwks(self) -> dict[str, Any]:
        """The tool's published public keys (active and verifying) as a JWKS; creates the
        first key pair when there is none."""
        with self._service.sessions() as session:
            records = session.scalars(
                select(LtiToolKeyRecord)
                .where(LtiToolKeyRecord.state != "retired")
                .order_by(LtiToolKeyRecord.id.desc())
            ).all()
            if records:
                return {"keys": [dict(r.public_jwk) for r in records]}
        self.tool_signing_key()
        return self.tool_jwks()

    def _active_tool_key(self, session: Session) -> LtiToolKeyRecord | None:
        return session.scalar(
            select(LtiToolKeyRecord)
            .where(LtiToolKeyRecord.state == "active")
            .order_by(LtiToolKeyRecord.id.desc())
            .limit(1)
        )

    def _new_tool_key(self, session: Session) -> LtiToolKeyRecord:
        private_key = generate_private_key("RS256")
        public_key = private_key.public_key()
        kid = jwk_thumbprint(public_key)
        record = LtiToolKeyRecord(
            kid=kid,
            state="active",
            public_jwk=_tool_jwk(public_key, kid),
            encrypted_private_key=encrypt_private_key(
                private_key, key_id=_TOOL_KEY_RECORD_PREFIX + kid, kek=self._kek
            ),
            created_at=utcnow(),
        )
        session.add(record)
        session.flush()
        return record

    def _load_tool_key(self, record: LtiToolKeyRecord) -> ToolSigningKey:
        with self._lock:
            cached = self._signing_keys.get(record.kid)
        if cached is not None:
            return cached
        from cryptography.hazmat.primitives.asymmetric import rsa

        private_key = decrypt_private_key(
            record.encrypted_private_key,
            key_id=_TOOL_KEY_RECORD_PREFIX + record.kid,
            kek=self._kek,
        )
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise KeyProblem("The tool's stored key is not an RSA key.")
        loaded = ToolSigningKey(record.kid, private_key)
        with self._lock:
            self._signing_keys[record.kid] = loaded
        return loaded

    @property
    def _kek(self) -> KeyEncryptionKey:
        return self._service.kek

    # -- platform keys ------------------------------------------------------------------------

    @staticmethod
    def _key_set_cache_key(platform: PlatformView) -> str:
        return f"jwks:{platform.public_id}"

    def platform_key_set(self, platform: PlatformView, *, shared: bool = False) -> dict[str, Any]:
        """The platform's public keys: its static key set, else its key set URL's document
        (fetched through the guarded client, reused for an hour, shared by the workers).
        Each worker keeps them a few seconds too (every launch needs them); ``shared`` reads
        the workers' shared copy, which another worker may have refetched since."""
        if platform.key_set is not None and not platform.key_set_url:
            return platform.key_set
        remembered = None if shared else self._memory.get(("key-set", platform.public_id))
        if isinstance(remembered, dict):
            return remembered
        cached = self.launch_cache.get(self._key_set_cache_key(platform))
        if isinstance(cached, dict):
            self._memory.put(("key-set", platform.public_id), cached)
            return cached
        return self._fetch_key_set(platform)

    def refetch_platform_key_set(self, platform: PlatformView) -> dict[str, Any] | None:
        """Fetch the platform's keys again after a token named a key id we do not know (the
        platform may have rotated its key). At most once per
        :data:`KEY_SET_REFETCH_INTERVAL_SECONDS` per platform, across workers; None when a
        refetch is not allowed now (or the platform has only static keys)."""
        if not platform.key_set_url:
            return None
        marker = f"jwks-refetch:{platform.public_id}"
        if not self.launch_cache.add(marker, True, KEY_SET_REFETCH_INTERVAL_SECONDS):
            return None
        return self._fetch_key_set(platform)

    def _fetch_key_set(self, platform: PlatformView) -> dict[str, Any]:
        assert platform.key_set_url is not None
        try:
            document = self.http.fetch_json(
                platform.key_set_url, accept="application/json, application/jwk-set+json"
            )
        except (FetchRefused, InvalidInput) as problem:
            raise FetchRefused(
                f"The keys of {platform.name} could not be read: {problem.message}"
            ) from problem
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise FetchRefused(
                f"The key set of {platform.name} at {platform.key_set_url} is not a JWKS."
            )
        keys = [k for k in document["keys"] if isinstance(k, dict)]
        key_set = {"keys": keys}
        self.launch_cache.put(self._key_set_cache_key(platform), key_set, KEY_SET_TTL_SECONDS)
        self._memory.put(("key-set", platform.public_id), key_set)
        return key_set

    # -- records ------------------------------------------------------------------------------

    @staticmethod
    def _platform_record(session: Session, issuer: str, client_id: str) -> LtiPlatformRecord | None:
        return session.scalar(
            select(LtiPlatformRecord).where(
                LtiPlatformRecord.issuer == issuer, LtiPlatformRecord.client_id == client_id
            )
        )

    @staticmethod
    def _platform_by_public_id(session: Session, public_id: str) -> LtiPlatformRecord:
        record = session.scalar(
            select(LtiPlatformRecord).where(LtiPlatformRecord.public_id == public_id)
        )
        if record is None:
            raise NotFound(f"No LTI platform registration {public_id!r}.")
        return record

    @staticmethod
    def _deployments_by_platform(
        session: Session, platform_ids: list[int]
    ) -> dict[int, tuple[str, ...]]:
        found: dict[int, list[str]] = {}
        if platform_ids:
            for platform_id, deployment_id in session.execute(
                select(LtiDeploymentRecord.platform_id, LtiDeploymentRecord.deployment_id)
                .where(LtiDeploymentRecord.platform_id.in_(platform_ids))
                .order_by(LtiDeploymentRecord.id)
            ):
                found.setdefault(platform_id, []).append(deployment_id)
        return {key: tuple(values) for key, values in found.items()}

    def _platform_view(
        self,
        session: Session,
        record: LtiPlatformRecord,
        deployment_ids: tuple[str, ...] | None = None,
    ) -> PlatformView:
        if deployment_ids is None:
            deployment_ids = self._deployments_by_platform(session, [record.id]).get(record.id, ())
        return PlatformView(
            public_id=record.public_id,
            name=record.name,
            issuer=record.issuer,
            client_id=record.client_id,
            auth_login_url=record.auth_login_url,
            auth_token_url=record.auth_token_url,
            auth_audience=record.auth_audience,
            key_set_url=record.key_set_url,
            key_set=dict(record.key_set) if record.key_set else None,
            email_trusted=record.email_trusted,
            product_family_code=record.product_family_code,
            registered_via=record.registered_via,
            active=record.active,
            deployment_ids=deployment_ids,
            created_at=record.created_at,
        )

    @staticmethod
    def _deployment_record(session: Session, deployment: DeploymentView) -> LtiDeploymentRecord:
        record = session.scalar(
            select(LtiDeploymentRecord)
            .join(LtiPlatformRecord, LtiDeploymentRecord.platform_id == LtiPlatformRecord.id)
            .where(
                LtiPlatformRecord.public_id == deployment.platform_public_id,
                LtiPlatformRecord.issuer == deployment.issuer,
                LtiPlatformRecord.client_id == deployment.client_id,
                LtiDeploymentRecord.deployment_id == deployment.deployment_id,
            )
        )
        if record is None:
            raise NotFound(
                f"No deployment {deployment.deployment_id!r} of {deployment.issuer} "
                f"(client {deployment.client_id!r})."
            )
        return record

    @staticmethod
    def _scoped_context(
        session: Session, deployment: LtiDeploymentRecord, context_id: str
    ) -> LtiContextRecord | None:
        return session.scalar(
            select(LtiContextRecord).where(
                LtiContextRecord.deployment_id == deployment.id,
                LtiContextRecord.context_id == context_id,
            )
        )

    @staticmethod
    def _scoped_link(
        session: Session, deployment: LtiDeploymentRecord, resource_link_id: str
    ) -> LtiResourceLinkRecord | None:
        return session.scalar(
            select(LtiResourceLinkRecord).where(
                LtiResourceLinkRecord.deployment_id == deployment.id,
                LtiResourceLinkRecord.resource_link_id == resource_link_id,
            )
        )


def _deployment_view(platform: LtiPlatformRecord, deployment_id: str) -> DeploymentView:
    return DeploymentView(
        platform_public_id=platform.public_id,
        issuer=platform.issuer,
        client_id=platform.client_id,
        deployment_id=deployment_id,
    )


def _context_view(deployment: DeploymentView, record: LtiContextRecord) -> ContextView:
    return ContextView(
        deployment=deployment,
        context_id=record.context_id,
        label=record.label,
        title=record.title,
        types=tuple(record.types or ()),
    )


def _resource_link_view(
    deployment: DeploymentView,
    record: LtiResourceLinkRecord,
    context: LtiContextRecord | None,
) -> ResourceLinkView:
    return ResourceLinkView(
        deployment=deployment,
        resource_link_id=record.resource_link_id,
        context_id=None if context is None else context.context_id,
        title=record.title,
        description=record.description,
        custom=dict(record.custom or {}),
        activity_public_id=record.activity_public_id,
        playlist_public_id=record.playlist_public_id,
    )


def _line_item_view(
    deployment: DeploymentView,
    record: LtiLineItemRecord,
    context: LtiContextRecord | None,
    link: LtiResourceLinkRecord | None,
) -> LineItemView:
    return LineItemView(
        deployment=deployment,
        line_item_url=record.line_item_url,
        context_id=None if context is None else context.context_id,
        resource_link_id=None if link is None else link.resource_link_id,
        label=record.label,
        score_maximum=record.score_maximum,
        resource_id=record.resource_id,
        tag=record.tag,
    )


@functools.cache
def _placement_query(shape: tuple[bool, bool, bool]) -> Any:
    """The one query of a returning launch: its deployment and the course, course item and
    gradebook column it names (``shape`` says which), each scoped to the deployment and outer
    joined (absent ones come back as None). Built once per shape: building a statement costs
    more than running it."""
    wanted: list[tuple[Any, Any]] = []
    if shape[0]:
        wanted.append((LtiContextRecord, LtiContextRecord.context_id == bindparam("context_id")))
    if shape[1]:
        wanted.append(
            (
                LtiResourceLinkRecord,
                LtiResourceLinkRecord.resource_link_id == bindparam("resource_link_id"),
            )
        )
    if shape[2]:
        wanted.append(
            (LtiLineItemRecord, LtiLineItemRecord.line_item_url == bindparam("line_item_url"))
        )
    query = select(LtiDeploymentRecord.id, *(entity for entity, _ in wanted)).join(
        LtiPlatformRecord, LtiDeploymentRecord.platform_id == LtiPlatformRecord.id
    )
    for entity, condition in wanted:
        query = query.outerjoin(
            entity, and_(entity.deployment_id == LtiDeploymentRecord.id, condition)
        )
    return query.where(
        LtiPlatformRecord.public_id == bindparam("platform_public_id"),
        LtiPlatformRecord.issuer == bindparam("issuer"),
        LtiPlatformRecord.client_id == bindparam("client_id"),
        LtiDeploymentRecord.deployment_id == bindparam("deployment_id"),
    )


def _placement(
    deployment: DeploymentView,
    context: LtiContextRecord | None,
    link: LtiResourceLinkRecord | None,
    line_item: LtiLineItemRecord | None,
) -> LaunchPlacement:
    return LaunchPlacement(
        deployment,
        None if context is None else _context_view(deployment, context),
        None if link is None else _resource_link_view(deployment, link, context),
        None if line_item is None else _line_item_view(deployment, line_item, context, link),
    )


def _tool_key_view(record: LtiToolKeyRecord) -> ToolKeyView:
    return ToolKeyView(
        kid=record.kid,
        state=record.state,
        public_jwk=dict(record.public_jwk),
        created_at=record.created_at,
        rotated_at=record.rotated_at,
        retired_at=record.retired_at,
    )


def key_type_for_algorithm(algorithm: str) -> str | None:
    """The JWK ``kty`` a JOSE algorithm needs (``RSA`` for RS256, ``EC`` for ES256), or None
    for algorithms platforms may not use (``none``, ``HS256``, …)."""
    if algorithm not in PLATFORM_ALGORITHMS:
        return None
    return _ALGORITHM_KEY_TYPES.get(algorithm[:2])


__all__ = [
    "CUSTOM_ACTIVITY",
    "CUSTOM_PLAYLIST",
    "ContextView",
    "DatabaseLaunchCache",
    "DeploymentView",
    "LaunchCache",
    "LaunchPlacement",
    "LineItemView",
    "LtiRegistry",
    "LtiRegistryError",
    "PlatformView",
    "RedisLaunchCache",
    "ResourceLinkView",
    "ToolKeyView",
    "ToolSigningKey",
    "custom_parameters",
    "key_type_for_algorithm",
    "parse_key_set",
]
