"""did:key, did:web URL mapping and key resolution from controller documents."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from core.did import (
    ControllerDocumentResolver,
    did_key_for_ed25519,
    did_key_verification_method,
    did_web_from_url,
    did_web_url,
    public_key_from_multikey,
    resolve_did_key,
)
from core.errors import FetchRefused, KeyProblem
from core.fetching import FetchedDocument
from core.keys import IssuerSigningKey, controller_document, public_keys_equal
from core.multiformats import P256_PUB, multibase_decode, multibase_encode

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "standards" / "vectors"
OB30 = VECTORS / "1edtech-validator" / "ob30"
ISSUER = "https://badges.example.org/issuers/7"
DID_ISSUER = "did:web:badges.example.org:issuers:7"


class FakeFetcher:
    """Serves JSON documents from a dict and records each URL fetched."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.fetched: list[str] = []

    def fetch(self, url: str, *, accept: str = "*/*") -> FetchedDocument:
        return FetchedDocument(url, "application/json", json.dumps(self.fetch_json(url)).encode())

    def fetch_json(self, url: str, *, accept: str = "application/json") -> Any:
        self.fetched.append(url)
        if url not in self.documents:
            raise FetchRefused(f"{url} answered 404 Not Found.")
        return self.documents[url]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keys() -> dict[str, IssuerSigningKey]:
    return {
        "ed": IssuerSigningKey.generate("Ed25519", f"{ISSUER}#key-1"),
        "rsa": IssuerSigningKey.generate("RS256", f"{ISSUER}#key-2"),
        "ec": IssuerSigningKey.generate("ES256", f"{ISSUER}#key-3"),
    }


def _local(documents: dict[str, dict[str, Any]]) -> ControllerDocumentResolver:
    return ControllerDocumentResolver(local_documents=documents.get)


# ---------------------------------------------------------------- did:key


def test_did_key_matches_the_w3c_key_pair_vector() -> None:
    pair = json.loads((VECTORS / "vc-di-eddsa" / "keyPair.json").read_text())
    secret = multibase_decode(pair["privateKeyMultibase"])
    assert secret[:2] == b"\x80\x26"
    private_key = ed25519.Ed25519PrivateKey.from_private_bytes(secret[2:])

    did = did_key_for_ed25519(private_key.public_key())
    assert did == "did:key:" + pair["publicKeyMultibase"]
    method = did_key_verification_method(did)
    assert method == f"{did}#{pair['publicKeyMultibase']}"

    resolved = resolve_did_key(method)
    assert resolved.id == method
    assert resolved.controller == did
    assert resolved.type == "Multikey"
    assert "assertionMethod" in resolved.purposes
    assert public_keys_equal(resolved.public_key, private_key.public_key())
    # the bare DID resolves to the same key
    assert resolve_did_key(did).id == method


def test_did_key_from_raw_bytes_and_through_the_resolver() -> None:
    private_key = ed25519.Ed25519PrivateKey.generate()
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    did = did_key_for_ed25519(raw)
    resolved = ControllerDocumentResolver().resolve(did_key_verification_method(did))
    assert public_keys_equal(resolved.public_key, private_key.public_key())


def test_p256_did_key_resolves() -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    compressed = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    did = "did:key:" + multibase_encode(P256_PUB + compressed)
    assert did.startswith("did:key:zDn")
    assert public_keys_equal(resolve_did_key(did).public_key, private_key.public_key())


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi#key-1", "has only the key"),
        ("did:key:z6Mk0OIl", "Not a usable did:key"),
        ("did:key:" + multibase_encode(b"\xe7\x01" + b"\x02" * 33), "Not a usable did:key"),
        ("did:key:", "Malformed did:key"),
    ],
)
def test_bad_did_keys_fail_clearly(method: str, expected: str) -> None:
    with pytest.raises(KeyProblem, match=expected):
        resolve_did_key(method)


def test_multikey_with_unknown_codec_is_refused() -> None:
    with pytest.raises(KeyProblem, match="not an Ed25519 or P-256 Multikey"):
        public_key_from_multikey(multibase_encode(b"\x12\x00" + b"\x01" * 32))


# ---------------------------------------------------------------- did:web


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
        ("did:web:Example.COM%3a8443", "https://example.com:8443/.well-known/did.json"),
        ("did:web:example.com:issuers:a%20b", "https://example.com/issuers/a%20b/did.json"),
    ],
)
def test_did_web_url_follows_the_method_spec(did: str, url: str) -> None:
    assert did_web_url(did) == url


@pytest.mark.parametrize(
    ("did", "expected"),
    [
        ("did:web:", "valid domain name"),
        ("did:web:127.0.0.1", "IP address"),
        ("did:web:example.com#key-1", "is a DID URL"),
        ("did:web:example.com%3A99999", "invalid port"),
        ("did:web:example.com::alice", "invalid path segment"),
        ("did:web:exa mple.com", "valid domain name"),
        ("did:key:z6Mk", "Not a did:web"),
    ],
)
def test_bad_did_webs_fail_clearly(did: str, expected: str) -> None:
    with pytest.raises(KeyProblem, match=expected):
        did_web_url(did)


@pytest.mark.parametrize(
    ("base_url", "did", "document_url"),
    [
        (
            "https://badges.example.org",
            "did:web:badges.example.org",
            "https://badges.example.org/.well-known/did.json",
        ),
        (
            "https://badges.example.org/",
            "did:web:badges.example.org",
            "https://badges.example.org/.well-known/did.json",
        ),
        (
            "https://badges.example.org:8443/issuers/7",
            "did:web:badges.example.org%3A8443:issuers:7",
            "https://badges.example.org:8443/issuers/7/did.json",
        ),
        (
            "http://localhost:5000/issuers/7",
            "did:web:localhost%3A5000:issuers:7",
            "https://localhost:5000/issuers/7/did.json",
        ),
    ],
)
def test_did_web_from_base_url_round_trips(base_url: str, did: str, document_url: str) -> None:
    assert did_web_from_url(base_url) == did
    assert did_web_url(did) == document_url
    assert did_web_from_url(document_url) == did


def test_did_web_from_url_refuses_what_did_web_cannot_express() -> None:
    with pytest.raises(KeyProblem, match="IP address"):
        did_web_from_url("http://127.0.0.1:5000")
    with pytest.raises(KeyProblem, match="query, fragment"):
        did_web_from_url("https://example.org/?x=1")
    with pytest.raises(KeyProblem, match="Not an http"):
        did_web_from_url("ftp://example.org")


# ---------------------------------------------------------------- controller documents


def test_controller_document_round_trip_through_the_resolver(
    keys: dict[str, IssuerSigningKey],
) -> None:
    document = controller_document(ISSUER, keys.values())
    resolver = _local({ISSUER: document})
    for key in keys.values():
        resolved = resolver.resolve(key.verification_method)
        assert resolved.id == key.verification_method
        assert resolved.controller == ISSUER
        assert resolved.purposes == frozenset({"assertionMethod"})
        assert public_keys_equal(resolved.public_key, key.public_key)
    assert resolver.resolve(keys["ed"].verification_method).type == "Multikey"
    assert resolver.resolve(keys["rsa"].verification_method).type == "JsonWebKey"
    listed = resolver.keys_of_controller(ISSUER)
    assert [k.id for k in listed] == [k.verification_method for k in keys.values()]


def test_retired_key_is_absent_and_fails_to_resolve(keys: dict[str, IssuerSigningKey]) -> None:
    # key-1 retired: the caller passes only non-retired keys
    document = controller_document(ISSUER, [keys["rsa"], keys["ec"]])
    resolver = _local({ISSUER: document})
    with pytest.raises(KeyProblem, match="does not list the verification method"):
        resolver.resolve(keys["ed"].verification_method)
    assert resolver.resolve(keys["rsa"].verification_method).controller == ISSUER


def test_purposes_come_from_the_relationships(keys: dict[str, IssuerSigningKey]) -> None:
    document = controller_document(ISSUER, [keys["ed"], keys["ec"]])
    document["assertionMethod"] = [keys["ed"].verification_method]
    document["authentication"] = ["#key-3", keys["ed"].verification_method]
    resolver = _local({ISSUER: document})
    assert resolver.resolve(keys["ed"].verification_method).purposes == frozenset(
        {"assertionMethod", "authentication"}
    )
    assert resolver.resolve(keys["ec"].verification_method).purposes == frozenset(
        {"authentication"}
    )


def test_relative_ids_and_methods_embedded_in_relationships(
    keys: dict[str, IssuerSigningKey],
) -> None:
    document = controller_document(ISSUER, [keys["ed"]])
    method = document.pop("verificationMethod")[0]
    method["id"] = "#key-1"
    document["assertionMethod"] = [method]
    resolved = _local({ISSUER: document}).resolve(f"{ISSUER}#key-1")
    assert resolved.purposes == frozenset({"assertionMethod"})
    assert public_keys_equal(resolved.public_key, keys["ed"].public_key)


def test_fragment_that_looks_like_a_key_is_not_trusted_unless_listed() -> None:
    # 1EdTech samples: https://example.edu/issuers/565049#z6MkjZ… with no reachable profile
    guide_key = json.loads((VECTORS / "ob3-impl-guide-eddsa-rdfc-2022" / "key.json").read_text())
    method = guide_key["id"]
    controller = guide_key["controller"]
    offline = ControllerDocumentResolver()
    with pytest.raises(KeyProblem, match="offline"):
        offline.resolve(method)
    unrelated = {"@context": [], "id": controller, "verificationMethod": []}
    with pytest.raises(KeyProblem, match="does not list"):
        _local({controller: unrelated}).resolve(method)

    listed = {
        "id": controller,
        "verificationMethod": [
            {
                "id": method,
                "type": "Ed25519VerificationKey2020",
                "controller": controller,
                "publicKeyMultibase": guide_key["publicKeyMultibase"],
            }
        ],
        "assertionMethod": [method],
    }
    resolved = _local({controller: listed}).resolve(method)
    assert resolved.type == "Ed25519VerificationKey2020"
    assert isinstance(resolved.public_key, ed25519.Ed25519PublicKey)
    raw = resolved.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert raw.hex() == guide_key["publicKeyHex"]


def test_controller_and_document_id_must_match(keys: dict[str, IssuerSigningKey]) -> None:
    document = controller_document(ISSUER, [keys["ed"]])
    wrong_controller = json.loads(json.dumps(document))
    wrong_controller["verificationMethod"][0]["controller"] = "https://evil.example/issuer"
    with pytest.raises(
        KeyProblem, match=re.escape("names 'https://evil.example/issuer' as its controller")
    ):
        _local({ISSUER: wrong_controller}).resolve(keys["ed"].verification_method)

    wrong_id = {**document, "id": "https://badges.example.org/issuers/8"}
    with pytest.raises(KeyProblem, match="they must match"):
        _local({ISSUER: wrong_id}).resolve(keys["ed"].verification_method)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"type": "EcdsaSecp256k1VerificationKey2019"}, "not supported"),
        ({"publicKeyMultibase": "z6MkBAD0"}, "is unusable"),
        (
            {
                "type": "JsonWebKey",
                "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"},
            },
            "private key material",
        ),
    ],
)
def test_unusable_methods_fail_clearly(
    change: dict[str, Any], expected: str, keys: dict[str, IssuerSigningKey]
) -> None:
    document = controller_document(ISSUER, [keys["ed"]])
    document["verificationMethod"][0].update(change)
    with pytest.raises(KeyProblem, match=expected):
        _local({ISSUER: document}).resolve(keys["ed"].verification_method)


def _sample_method(name: str) -> str:
    proof = json.loads((OB30 / name).read_text())["proof"]
    proof = proof[0] if isinstance(proof, list) else proof
    return str(proof["verificationMethod"])


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (_sample_method("simple-err-proof-method-no-scheme.json"), "not a URI"),
        (_sample_method("simple-err-proof-method-unknown-scheme.json"), "scheme 'xxx'"),
        (_sample_method("simple-err-proof-method-unknown-did-method.json"), "DID method 'example'"),
        (_sample_method("simple-err-proof-method.json"), "offline"),
        ("https://example.org/issuers/1", "no #fragment"),
        ("did:web:example.org", "no #fragment"),
        ("https://example.org/issuers/1 #key-1", "whitespace"),
        ("", "missing"),
        ("https://#key-1", "no host"),
    ],
)
def test_malformed_verification_methods_fail_clearly(method: str, expected: str) -> None:
    with pytest.raises(KeyProblem, match=expected):
        ControllerDocumentResolver().resolve(method)


# ---------------------------------------------------------------- fetching and caching


def test_did_web_document_is_fetched_from_its_url(keys: dict[str, IssuerSigningKey]) -> None:
    key = IssuerSigningKey(keys["ec"]._private_key, f"{DID_ISSUER}#key-3")
    url = "https://badges.example.org/issuers/7/did.json"
    fetcher = FakeFetcher({url: controller_document(DID_ISSUER, [key])})
    resolved = ControllerDocumentResolver(fetcher=fetcher).resolve(key.verification_method)
    assert fetcher.fetched == [url]
    assert public_keys_equal(resolved.public_key, key.public_key)


def test_local_documents_answer_before_fetching(keys: dict[str, IssuerSigningKey]) -> None:
    fetcher = FakeFetcher({})
    document = controller_document(ISSUER, [keys["ed"]])
    resolver = ControllerDocumentResolver(local_documents={ISSUER: document}.get, fetcher=fetcher)
    resolver.resolve(keys["ed"].verification_method)
    assert fetcher.fetched == []
    with pytest.raises(KeyProblem, match="404 Not Found"):
        resolver.resolve("https://other.example/issuers/1#key-1")
    assert fetcher.fetched == ["https://other.example/issuers/1"]


def test_fetched_documents_are_cached_for_a_while(keys: dict[str, IssuerSigningKey]) -> None:
    fetcher = FakeFetcher({ISSUER: controller_document(ISSUER, keys.values())})
    clock = FakeClock()
    resolver = ControllerDocumentResolver(fetcher=fetcher, cache_seconds=300, clock=clock)
    resolver.resolve(keys["ed"].verification_method)
    resolver.resolve(keys["rsa"].verification_method)
    assert fetcher.fetched == [ISSUER]
    clock.now += 301
    resolver.resolve(keys["ec"].verification_method)
    assert fetcher.fetched == [ISSUER, ISSUER]


def test_cache_is_bounded() -> None:
    documents = {}
    for n in range(3):
        controller = f"https://issuer{n}.example/profile"
        key = IssuerSigningKey.generate("Ed25519", f"{controller}#k")
        documents[controller] = controller_document(controller, [key])
    fetcher = FakeFetcher(documents)
    resolver = ControllerDocumentResolver(fetcher=fetcher, cache_size=2, clock=FakeClock())
    for controller in documents:
        resolver.resolve(f"{controller}#k")
    resolver.resolve("https://issuer0.example/profile#k")  # evicted: fetched again
    resolver.resolve("https://issuer2.example/profile#k")  # still cached
    assert fetcher.fetched.count("https://issuer0.example/profile") == 2
    assert fetcher.fetched.count("https://issuer2.example/profile") == 1


def test_plain_http_and_non_object_documents_are_refused() -> None:
    fetcher = FakeFetcher({"https://list.example/issuer": ["not", "an", "object"]})
    resolver = ControllerDocumentResolver(fetcher=fetcher)
    with pytest.raises(KeyProblem, match="plain http"):
        resolver.resolve("http://insecure.example/issuer#key-1")
    with pytest.raises(KeyProblem, match="not a JSON object"):
        resolver.resolve("https://list.example/issuer#key-1")
