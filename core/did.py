"""DIDs and controller documents: ``did:key`` (offline), ``did:web`` URL mapping, and a
:class:`core.key_resolution.KeyResolver` that finds a verification method's public key in its
controller document (``did:key``, ``did:web:…#frag``, ``https://…#frag``).

A key is returned only when its controller document lists it. In particular a fragment that
merely *looks like* a public key (``https://example.edu/issuers/1#z6Mk…``, as some 1EdTech
samples use) is never trusted on its own.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable
from urllib.parse import urlsplit

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from core.errors import BadgeBridgeError, InvalidInput, KeyProblem
from core.fetching import Fetcher
from core.key_resolution import KeyResolver, PublicKey, ResolvedKey
from core.keys import public_key_from_jwk
from core.multiformats import ED25519_PUB, P256_PUB, ed25519_public_multikey, multibase_decode

#: Verification relationships a controller document can list a method under.
RELATIONSHIPS: Final[tuple[str, ...]] = (
    "assertionMethod",
    "authentication",
    "capabilityInvocation",
    "capabilityDelegation",
    "keyAgreement",
)

#: The relationships a ``did:key`` DID document gives its (signature) key.
_DID_KEY_PURPOSES: Final = frozenset(
    {"assertionMethod", "authentication", "capabilityInvocation", "capabilityDelegation"}
)

_MAX_URI_CHARS: Final = 2048
_MAX_METHODS: Final = 200
_HOST_LABEL: Final = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_IPV4: Final = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_DID_WEB_SEGMENT: Final = re.compile(r"^(?:[A-Za-z0-9._~!$&'()*+,;=@-]|%[0-9A-Fa-f]{2})+$")
_PORT_ENCODED: Final = re.compile(r"%3a", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Multikey decoding
# --------------------------------------------------------------------------------------------


def public_key_from_multikey(value: Any) -> PublicKey:
    """The public key in a Multikey ``publicKeyMultibase`` (Ed25519 ``z6Mk…`` or P-256
    ``zDn…``); raises :class:`KeyProblem`."""
    if not isinstance(value, str) or not value:
        raise KeyProblem("publicKeyMultibase is missing or not text.")
    try:
        data = multibase_decode(value)
    except InvalidInput as exc:
        raise KeyProblem(f"publicKeyMultibase {value[:60]!r} is not valid: {exc.message}") from exc
    try:
        if data.startswith(ED25519_PUB) and len(data) == 34:
            return ed25519.Ed25519PublicKey.from_public_bytes(data[2:])
        if data.startswith(P256_PUB) and len(data) in (35, 67):
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data[2:])
    except ValueError as exc:
        raise KeyProblem(f"publicKeyMultibase {value[:60]!r} is not a valid public key.") from exc
    raise KeyProblem(
        f"publicKeyMultibase {value[:60]!r} is not an Ed25519 or P-256 Multikey "
        "(unsupported multicodec or wrong length)."
    )


def _ed25519_raw(public_key: ed25519.Ed25519PublicKey | bytes) -> bytes:
    if isinstance(public_key, bytes):
        if len(public_key) != 32:
            raise KeyProblem("An Ed25519 public key is 32 bytes.")
        return public_key
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --------------------------------------------------------------------------------------------
# did:key
# --------------------------------------------------------------------------------------------


def did_key_for_ed25519(public_key: ed25519.Ed25519PublicKey | bytes) -> str:
    """The ``did:key`` of an Ed25519 public key (``did:key:z6Mk…``)."""
    return "did:key:" + ed25519_public_multikey(_ed25519_raw(public_key))


def did_key_verification_method(did: str) -> str:
    """The verification method id of a ``did:key``: ``did:key:z6Mk…#z6Mk…``."""
    if not isinstance(did, str) or not did.startswith("did:key:") or "#" in did:
        raise KeyProblem(f"Not a did:key DID: {str(did)[:80]!r}.")
    return f"{did}#{did.removeprefix('did:key:')}"


def resolve_did_key(verification_method: str) -> ResolvedKey:
    """Resolve ``did:key:<mb>`` or ``did:key:<mb>#<mb>`` offline (Ed25519, and P-256)."""
    did, _, fragment = verification_method.partition("#")
    identifier = did.removeprefix("did:key:")
    if not did.startswith("did:key:") or not identifier or ":" in identifier:
        raise KeyProblem(f"Malformed did:key {verification_method[:100]!r}.")
    if fragment and fragment != identifier:
        raise KeyProblem(
            f"The did:key {did[:80]!r} has only the key #{identifier[:20]}…, not #{fragment[:40]}."
        )
    try:
        public_key = public_key_from_multikey(identifier)
    except KeyProblem as exc:
        raise KeyProblem(f"Not a usable did:key ({did[:80]!r}): {exc.message}") from exc
    return ResolvedKey(
        id=f"{did}#{identifier}",
        controller=did,
        type="Multikey",
        public_key=public_key,
        purposes=_DID_KEY_PURPOSES,
    )


# --------------------------------------------------------------------------------------------
# did:web
# --------------------------------------------------------------------------------------------


def _check_host(host: str, shown: str) -> None:
    if _IPV4.match(host) or host.startswith("["):
        raise KeyProblem(f"{shown} uses an IP address; did:web requires a domain name.")
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise KeyProblem(f"{shown} does not contain a valid domain name.")


def did_web_url(did: str) -> str:
    """The HTTPS URL of a ``did:web`` DID document, per the did:web method spec.

    ``did:web:example.com`` → ``https://example.com/.well-known/did.json``;
    ``did:web:example.com%3A8443:issuers:1`` → ``https://example.com:8443/issuers/1/did.json``.
    """
    if not isinstance(did, str) or not did.startswith("did:web:"):
        raise KeyProblem(f"Not a did:web DID: {str(did)[:80]!r}.")
    if len(did) > _MAX_URI_CHARS:
        raise KeyProblem("The did:web DID is too long.")
    if "#" in did or "?" in did or "/" in did:
        raise KeyProblem(
            f"{did[:80]!r} is a DID URL, not a DID (remove the path, query or #fragment)."
        )
    segments = did.removeprefix("did:web:").split(":")
    domain, path = segments[0], segments[1:]
    host, port = domain, None
    port_match = _PORT_ENCODED.search(domain)
    if port_match:
        host, port = domain[: port_match.start()], domain[port_match.end() :]
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise KeyProblem(f"{did[:80]!r} has an invalid port.")
    _check_host(host, repr(did[:80]))
    for segment in path:
        if not _DID_WEB_SEGMENT.match(segment):
            raise KeyProblem(f"{did[:80]!r} has an empty or invalid path segment.")
    authority = host.lower() + (f":{int(port)}" if port else "")
    if path:
        return f"https://{authority}/{'/'.join(path)}/did.json"
    return f"https://{authority}/.well-known/did.json"


def did_web_from_url(base_url: str) -> str:
    """The ``did:web`` DID for a base URL (the reverse of :func:`did_web_url`, without the
    ``did.json`` suffix): ``https://example.com:8443/issuers/1`` →
    ``did:web:example.com%3A8443:issuers:1``. The scheme is not part of a did:web (resolvers
    always use https)."""
    if not isinstance(base_url, str):
        raise KeyProblem("The base URL is not text.")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise KeyProblem(f"Not an http(s) URL: {base_url[:80]!r}.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise KeyProblem(f"{base_url[:80]!r} must not have a query, fragment or credentials.")
    host = parts.hostname
    _check_host(host, repr(base_url[:80]))
    domain = host + (f"%3A{parts.port}" if parts.port else "")
    path = [segment for segment in parts.path.split("/") if segment]
    for segment in path:
        if not _DID_WEB_SEGMENT.match(segment) or ":" in segment:
            raise KeyProblem(f"{base_url[:80]!r} has a path segment did:web cannot express.")
    if path and path[-1] == "did.json":
        path = path[:-1]
    if path == [".well-known"]:
        path = []
    return ":".join(["did:web", domain, *path])


# --------------------------------------------------------------------------------------------
# Controller documents
# --------------------------------------------------------------------------------------------


@runtime_checkable
class ControllerKeyLister(Protocol):
    """A resolver that can also list every key in a controller's document (used to check that
    a key embedded in a JWT header belongs to the issuer)."""

    def keys_of_controller(self, controller_id: str) -> list[ResolvedKey]:
        """Every usable verification method in ``controller_id``'s document."""
        ...


def _absolute(ref: str, controller_id: str) -> str:
    return controller_id + ref if ref.startswith("#") else ref


def _method_objects(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Verification method objects: from ``verificationMethod`` and embedded in relationships."""
    sources: list[Any] = [document.get("verificationMethod")]
    sources.extend(document.get(name) for name in RELATIONSHIPS)
    count = 0
    for source in sources:
        items = source if isinstance(source, list) else [source]
        for item in items:
            if isinstance(item, Mapping):
                count += 1
                if count > _MAX_METHODS:
                    raise KeyProblem("The controller document lists too many verification methods.")
                yield item


def _purposes_of(document: Mapping[str, Any], method_id: str, controller_id: str) -> frozenset[str]:
    purposes = set()
    for name in RELATIONSHIPS:
        value = document.get(name)
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            ref = entry.get("id") if isinstance(entry, Mapping) else entry
            if isinstance(ref, str) and _absolute(ref, controller_id) == method_id:
                purposes.add(name)
    return frozenset(purposes)


def _public_key_of_method(method: Mapping[str, Any], method_id: str) -> tuple[str, PublicKey]:
    method_type = method.get("type")
    if isinstance(method_type, list) and len(method_type) == 1:
        method_type = method_type[0]
    try:
        if method_type in ("Multikey", "Ed25519VerificationKey2020"):
            public_key = public_key_from_multikey(method.get("publicKeyMultibase"))
            if method_type == "Ed25519VerificationKey2020" and not isinstance(
                public_key, ed25519.Ed25519PublicKey
            ):
                raise KeyProblem("an Ed25519VerificationKey2020 must hold an Ed25519 key.")
            return method_type, public_key
        if method_type == "Ed25519VerificationKey2018":
            encoded = method.get("publicKeyBase58")
            if not isinstance(encoded, str):
                raise KeyProblem("publicKeyBase58 is missing.")
            try:
                raw = bytes(base58.b58decode(encoded))
            except ValueError as exc:
                raise KeyProblem("publicKeyBase58 is not base58 text.") from exc
            return method_type, ed25519.Ed25519PublicKey.from_public_bytes(_ed25519_raw(raw))
        if method_type in ("JsonWebKey", "JsonWebKey2020"):
            return method_type, public_key_from_jwk(method.get("publicKeyJwk"))
    except KeyProblem as exc:
        raise KeyProblem(
            f"The verification method {method_id[:120]!r} is unusable: {exc.message}"
        ) from exc
    raise KeyProblem(
        f"The verification method {method_id[:120]!r} has type {str(method_type)[:60]!r}, which "
        "is not supported (Multikey, JsonWebKey, JsonWebKey2020, Ed25519VerificationKey2020/2018)."
    )


def _key_from_document(
    document: Mapping[str, Any], method: Mapping[str, Any], method_id: str, controller_id: str
) -> ResolvedKey:
    declared = method.get("controller", controller_id)
    if declared != controller_id:
        raise KeyProblem(
            f"The verification method {method_id[:120]!r} names {str(declared)[:120]!r} as its "
            f"controller, but it is published by {controller_id[:120]!r}."
        )
    method_type, public_key = _public_key_of_method(method, method_id)
    return ResolvedKey(
        id=method_id,
        controller=controller_id,
        type=method_type,
        public_key=public_key,
        purposes=_purposes_of(document, method_id, controller_id),
    )


def find_verification_method(
    document: Mapping[str, Any], controller_id: str, verification_method: str
) -> ResolvedKey:
    """The key of ``verification_method`` in ``controller_id``'s controller document;
    :class:`KeyProblem` when the document does not list it or it is unusable."""
    if document.get("id") != controller_id:
        raise KeyProblem(
            f"The controller document for {controller_id[:120]!r} has the id "
            f"{str(document.get('id'))[:120]!r}; they must match."
        )
    for method in _method_objects(document):
        ref = method.get("id")
        if isinstance(ref, str) and _absolute(ref, controller_id) == verification_method:
            return _key_from_document(document, method, verification_method, controller_id)
    raise KeyProblem(
        f"The controller document of {controller_id[:120]!r} does not list the verification "
        f"method {verification_method[:160]!r}, so its key cannot be trusted."
    )


def _split_method(verification_method: Any) -> tuple[str, str, str]:
    """(kind, controller id, absolute method id); kind is ``did:key``, ``did:web`` or ``https``."""
    if not isinstance(verification_method, str) or not verification_method:
        raise KeyProblem("The verification method is missing or not text.")
    shown = verification_method[:160]
    if len(verification_method) > _MAX_URI_CHARS:
        raise KeyProblem(f"The verification method {verification_method[:60]!r}… is too long.")
    if any(ch.isspace() or ord(ch) < 32 for ch in verification_method):
        raise KeyProblem(f"Malformed verification method {shown!r}: it contains whitespace.")
    scheme, colon, rest = verification_method.partition(":")
    if not colon or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", scheme):
        raise KeyProblem(f"Malformed verification method {shown!r}: it is not a URI (no scheme).")
    scheme = scheme.lower()
    controller_id, _, fragment = verification_method.partition("#")
    if scheme == "did":
        method_name = rest.split(":", 1)[0]
        if method_name == "key":
            return "did:key", controller_id, verification_method
        if method_name == "web":
            if not fragment:
                raise KeyProblem(
                    f"The verification method {shown!r} has no #fragment naming a key in the "
                    "DID document."
                )
            return "did:web", controller_id, verification_method
        raise KeyProblem(
            f"The DID method {method_name[:40]!r} of {shown!r} is not supported "
            "(did:key and did:web are)."
        )
    if scheme in ("https", "http"):
        parts = urlsplit(controller_id)
        if not parts.hostname:
            raise KeyProblem(f"Malformed verification method {shown!r}: no host.")
        if not fragment:
            raise KeyProblem(
                f"The verification method {shown!r} has no #fragment naming a key in the "
                "issuer's controller document."
            )
        return "https", controller_id, verification_method
    raise KeyProblem(
        f"The verification method {shown!r} uses the scheme {scheme[:20]!r}, which is not "
        "supported (did:key, did:web and https are)."
    )


class ControllerDocumentResolver:
    """Resolves ``did:key``, ``did:web:…#frag`` and ``https://…#frag`` verification methods.

    Controller documents come first from ``local_documents(controller_id)`` (our own issuers,
    answered from the database, never cached so key rotation shows at once), else from
    ``fetcher`` (plain http is refused). Fetched documents are cached for ``cache_seconds``
    in a small LRU cache. Without a fetcher, anything remote fails with "cannot resolve
    offline".
    """

    def __init__(
        self,
        *,
        local_documents: Callable[[str], dict[str, Any] | None] | None = None,
        fetcher: Fetcher | None = None,
        cache_seconds: float = 300.0,
        cache_size: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._local_documents = local_documents
        self._fetcher = fetcher
        self._cache_seconds = cache_seconds
        self._cache_size = max(0, cache_size)
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(self, verification_method: str) -> ResolvedKey:
        """The key of ``verification_method``, or :class:`KeyProblem` with a readable reason."""
        kind, controller_id, method_id = _split_method(verification_method)
        if kind == "did:key":
            return resolve_did_key(method_id)
        document = self.controller_document(controller_id)
        return find_verification_method(document, controller_id, method_id)

    def keys_of_controller(self, controller_id: str) -> list[ResolvedKey]:
        """Every usable key in ``controller_id``'s document (unusable entries are skipped)."""
        if not isinstance(controller_id, str) or not controller_id:
            raise KeyProblem("The controller id is missing or not text.")
        if controller_id.startswith("did:key:"):
            return [resolve_did_key(controller_id)]
        document = self.controller_document(controller_id)
        if document.get("id") != controller_id:
            raise KeyProblem(
                f"The controller document for {controller_id[:120]!r} has a different id."
            )
        keys: list[ResolvedKey] = []
        for method in _method_objects(document):
            ref = method.get("id")
            if not isinstance(ref, str):
                continue
            method_id = _absolute(ref, controller_id)
            try:
                key = _key_from_document(document, method, method_id, controller_id)
            except KeyProblem:
                continue
            if all(existing.id != key.id for existing in keys):
                keys.append(key)
        return keys

    def controller_document(self, controller_id: str) -> dict[str, Any]:
        """The controller document of a ``did:web`` DID or an https controller id."""
        if "#" in controller_id:
            raise KeyProblem(f"{controller_id[:120]!r} is a key id, not a controller id.")
        if self._local_documents is not None:
            local = self._local_documents(controller_id)
            if local is not None:
                if not isinstance(local, dict):
                    raise KeyProblem(
                        f"The stored controller document of {controller_id!r} is not an object."
                    )
                return local
        if controller_id.startswith("did:web:"):
            url = did_web_url(controller_id)
        elif controller_id.startswith("https://"):
            url = controller_id
        elif controller_id.startswith("http://"):
            raise KeyProblem(
                f"The controller document {controller_id[:120]!r} is on plain http; keys are "
                "only fetched over https."
            )
        else:
            raise KeyProblem(f"Cannot find a controller document for {controller_id[:120]!r}.")
        cached = self._cached(controller_id)
        if cached is not None:
            return cached
        if self._fetcher is None:
            raise KeyProblem(
                f"Cannot resolve keys of {controller_id[:120]!r} offline: its controller document "
                f"({url[:160]}) would have to be fetched."
            )
        try:
            fetched = self._fetcher.fetch_json(
                url, accept="application/did+json, application/ld+json, application/json"
            )
        except BadgeBridgeError as exc:
            raise KeyProblem(
                f"Could not fetch the controller document {url[:160]}: {exc.message}"
            ) from exc
        if not isinstance(fetched, dict):
            raise KeyProblem(f"The controller document at {url[:160]} is not a JSON object.")
        self._store(controller_id, fetched)
        return fetched

    def _cached(self, controller_id: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._cache.get(controller_id)
            if entry is None:
                return None
            expires, document = entry
            if self._clock() >= expires:
                del self._cache[controller_id]
                return None
            self._cache.move_to_end(controller_id)
            return document

    def _store(self, controller_id: str, document: dict[str, Any]) -> None:
        if self._cache_size == 0 or self._cache_seconds <= 0:
            return
        with self._lock:
            self._cache[controller_id] = (self._clock() + self._cache_seconds, document)
            self._cache.move_to_end(controller_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        """Forget every fetched controller document."""
        with self._lock:
            self._cache.clear()


if TYPE_CHECKING:
    # Checked by mypy: the resolver satisfies both protocols the verifiers rely on.
    def _implements_key_resolver(resolver: ControllerDocumentResolver) -> KeyResolver:
        return resolver

    def _implements_key_lister(resolver: ControllerDocumentResolver) -> ControllerKeyLister:
        return resolver
