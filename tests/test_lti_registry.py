"""The LTI registry: platform registrations, deployments, the tool's keys, courses, links and
line items scoped to their deployment, and the shared launch cache (database and Redis)."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from core.errors import InvalidInput, KeyProblem, NotFound
from core.guarded_http import GuardedHttpClient
from core.keys import jwk_thumbprint, new_key_encryption_key, public_key_from_jwk
from core.lti_registry import (
    DatabaseLaunchCache,
    DeploymentView,
    LtiRegistry,
    RedisLaunchCache,
    parse_key_set,
)
from core.service import BadgeService
from core.storage import LtiToolKeyRecord

MOODLE = "https://moodle.school.example"
CANVAS = "https://canvas.instructure.com"
REDIS_URL = os.environ.get("BADGEBRIDGE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def platform_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()

    def b64(value: int) -> str:
        import base64

        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e), "kid": kid, "alg": "RS256"}


@pytest.fixture(scope="module")
def static_key() -> dict[str, Any]:
    return {"keys": [public_jwk(platform_key(), "platform-1")]}


def register(
    registry: LtiRegistry,
    issuer: str,
    client_id: str,
    deployments: tuple[str, ...],
    key_set: dict[str, Any],
    **extra: Any,
) -> Any:
    return registry.register_platform(
        issuer=issuer,
        client_id=client_id,
        auth_login_url=f"{issuer}/mod/lti/auth.php",
        auth_token_url=f"{issuer}/mod/lti/token.php",
        key_set=key_set,
        deployment_ids=deployments,
        **extra,
    )


def test_platforms_are_registered_listed_and_found(
    service: BadgeService, static_key: dict[str, Any]
) -> None:
    registry = service.lti
    moodle = register(registry, MOODLE, "moodle-client", ("1", "2"), static_key, name="Moodle")
    canvas = registry.register_platform(
        issuer=CANVAS,
        client_id="10000000000042",
        auth_login_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
        auth_token_url="https://sso.canvaslms.com/login/oauth2/token",
        key_set_url="https://sso.canvaslms.com/api/lti/security/jwks",
        deployment_ids=["7:abc"],
        email_trusted=True,
    )
    assert moodle.deployment_ids == ("1", "2")
    assert moodle.learner_platform == f"{MOODLE}|moodle-client"
    assert canvas.name == "canvas.instructure.com" and canvas.email_trusted
    assert [p.issuer for p in registry.list_platforms()] == [CANVAS, MOODLE]
    assert registry.find_platform(MOODLE, "moodle-client") == moodle
    assert registry.find_platform(MOODLE, "someone-else") is None
    assert registry.get_platform(canvas.public_id).key_set_url.endswith("/jwks")
    found = registry.find_deployment(MOODLE, "moodle-client", "2")
    assert found == DeploymentView(moodle.public_id, MOODLE, "moodle-client", "2")
    assert registry.find_deployment(MOODLE, "moodle-client", "7:abc") is None
    assert registry.find_deployment(CANVAS, "10000000000042", "1") is None


def test_one_issuer_may_have_many_client_ids_but_not_the_same_one_twice(
    service: BadgeService, static_key: dict[str, Any]
) -> None:
    registry = service.lti
    register(registry, CANVAS, "school-a", ("1",), static_key)
    register(registry, CANVAS, "school-b", ("1",), static_key)
    assert [p.client_id for p in registry.platforms_of_issuer(CANVAS)] == ["school-a", "school-b"]
    with pytest.raises(InvalidInput, match="already registered"):
        register(registry, CANVAS, "school-a", ("2",), static_key)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer": "moodle.school.example"}, "issuer must be a web address"),
        ({"issuer": "ftp://moodle.school.example"}, "issuer must be a web address"),
        ({"client_id": "  "}, "client id is required"),
        ({"auth_login_url": "https://user:pw@moodle.example/auth"}, "user name or password"),
        ({"auth_token_url": "https://moodle.example/token#frag"}, "fragment"),
        ({"key_set": None}, "key set URL or a public key"),
        ({"key_set": {"keys": []}}, "no keys"),
        ({"key_set": "not json"}, "JSON"),
        ({"deployment_ids": ["x" * 300]}, "at most 255"),
        ({"client_id": "c" * 191}, "at most 190"),
    ],
)
def test_bad_registrations_are_refused_with_a_reason(
    sqlite_service: BadgeService,
    static_key: dict[str, Any],
    changes: dict[str, Any],
    message: str,
) -> None:
    values: dict[str, Any] = {
        "issuer": MOODLE,
        "client_id": "c1",
        "auth_login_url": f"{MOODLE}/auth",
        "auth_token_url": f"{MOODLE}/token",
        "key_set": static_key,
        "deployment_ids": ["1"],
    }
    values.update(changes)
    with pytest.raises(InvalidInput, match=message):
        sqlite_service.lti.register_platform(**values)
    assert sqlite_service.lti.list_platforms() == []


def test_static_keys_may_be_a_pem_a_jwk_or_a_jwks() -> None:
    key = platform_key()
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    from_pem = parse_key_set(pem)
    assert from_pem["keys"][0]["kid"] == jwk_thumbprint(key.public_key())
    jwk = public_jwk(key, "k1")
    assert parse_key_set(jwk)["keys"][0]["kid"] == "k1"
    assert parse_key_set(json.dumps({"keys": [jwk]}))["keys"][0]["alg"] == "RS256"
    with pytest.raises(InvalidInput, match="private key material"):
        parse_key_set({**jwk, "d": "AAAA"})
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(InvalidInput, match="too short"):
        parse_key_set(public_jwk(small, "weak"))


def test_registrations_can_be_updated_deployments_added_and_removed(
    sqlite_service: BadgeService, static_key: dict[str, Any]
) -> None:
    registry = sqlite_service.lti
    moodle = register(registry, MOODLE, "c1", ("1",), static_key)
    registry.add_deployment(moodle.public_id, "2")
    registry.add_deployment(moodle.public_id, "2")  # idempotent
    updated = registry.update_platform(
        moodle.public_id, name="Moodle of the school", email_trusted=True, active=False
    )
    assert updated.deployment_ids == ("1", "2")
    assert (updated.name, updated.email_trusted, updated.active) == (
        "Moodle of the school",
        True,
        False,
    )
    with pytest.raises(InvalidInput, match="cannot be changed: issuer"):
        registry.update_platform(moodle.public_id, issuer=CANVAS)
    with pytest.raises(InvalidInput, match="key set URL or a public key"):
        registry.update_platform(moodle.public_id, key_set=None)
    registry.remove_deployment(moodle.public_id, "1")
    assert registry.get_platform(moodle.public_id).deployment_ids == ("2",)
    with pytest.raises(NotFound):
        registry.remove_deployment(moodle.public_id, "1")


CONTEXT = {"id": "course-1", "label": "BIO1", "title": "Biologie", "type": ["CourseOffering"]}


def test_courses_links_and_line_items_are_scoped_to_their_deployment(
    service: BadgeService, static_key: dict[str, Any]
) -> None:
    """The same context and resource link ids from two deployments of one platform and from
    another platform are different records, and no lookup crosses over."""
    registry = service.lti
    moodle = register(registry, MOODLE, "c1", ("1", "2"), static_key)
    other = register(registry, "https://moodle.other.example", "c1", ("1",), static_key)
    first = registry.find_deployment(MOODLE, "c1", "1")
    second = registry.find_deployment(MOODLE, "c1", "2")
    elsewhere = registry.find_deployment("https://moodle.other.example", "c1", "1")
    assert first and second and elsewhere
    placements = {}
    for deployment, activity in ((first, "act-1"), (second, "act-2"), (elsewhere, "act-3")):
        placements[deployment] = registry.record_launch(
            deployment,
            context=CONTEXT,
            resource_link={"id": "link-1", "title": f"Item {activity}"},
            custom={"activity": activity},
            ags_endpoint={"lineitem": f"{deployment.issuer}/lineitems/{activity}"},
        )
    for deployment, activity in ((first, "act-1"), (second, "act-2"), (elsewhere, "act-3")):
        link = registry.get_resource_link(deployment, "link-1")
        assert link is not None and link.activity_public_id == activity
        assert link.context_id == "course-1" and link.deployment == deployment
        [line_item] = registry.line_items_of(deployment, "link-1")
        assert line_item.line_item_url.endswith(activity)
        assert [c.title for c in registry.contexts_of(deployment)] == ["Biologie"]
    # A deployment view naming another platform's public id finds nothing.
    forged = replace(first, platform_public_id=other.public_id)
    with pytest.raises(NotFound):
        registry.get_resource_link(forged, "link-1")
    assert registry.get_context(second, "course-2") is None
    assert registry.get_resource_link(first, "link-2") is None
    assert placements[first].resource_link and placements[first].line_item
    assert moodle.public_id != other.public_id


def test_a_relaunch_updates_what_changed(
    sqlite_service: BadgeService, static_key: dict[str, Any]
) -> None:
    registry = sqlite_service.lti
    register(registry, MOODLE, "c1", ("1",), static_key)
    deployment = registry.find_deployment(MOODLE, "c1", "1")
    assert deployment is not None
    registry.record_launch(
        deployment, context=CONTEXT, resource_link={"id": "r"}, custom={"activity": "a1"}
    )
    placement = registry.record_launch(
        deployment,
        context={**CONTEXT, "title": "Biologie 2"},
        resource_link={"id": "r", "title": "Stadswandeling"},
        custom={"playlist": "p1", "activity": "$Canvas.unknown"},
    )
    assert placement.context and placement.context.title == "Biologie 2"
    link = placement.resource_link
    assert link and link.title == "Stadswandeling"
    assert (link.activity_public_id, link.playlist_public_id) == (None, "p1")
    without_context = registry.record_launch(deployment, resource_link={"id": "r2"})
    assert without_context.context is None
    assert without_context.resource_link and without_context.resource_link.context_id is None
    with pytest.raises(InvalidInput, match="resource link id"):
        registry.record_launch(deployment, resource_link={"id": ["not", "text"]})


def test_line_items_from_deep_linking_are_kept_with_their_link(
    sqlite_service: BadgeService, static_key: dict[str, Any]
) -> None:
    registry = sqlite_service.lti
    register(registry, MOODLE, "c1", ("1",), static_key)
    deployment = registry.find_deployment(MOODLE, "c1", "1")
    assert deployment is not None
    registry.record_launch(deployment, context=CONTEXT, resource_link={"id": "r"})
    saved = registry.save_line_item(
        deployment,
        line_item_url=f"{MOODLE}/mod/lti/services.php/2/lineitems/9/lineitem",
        context_id="course-1",
        resource_link_id="r",
        label="Stadswandeling",
        score_maximum=100,
        resource_id="activity-1",
        tag="badgebridge",
    )
    assert (saved.resource_link_id, saved.context_id, saved.score_maximum) == (
        "r",
        "course-1",
        100.0,
    )
    assert registry.line_items_of(deployment, "r") == [saved]
    with pytest.raises(NotFound):
        registry.save_line_item(deployment, line_item_url=f"{MOODLE}/li", resource_link_id="x")
    with pytest.raises(InvalidInput, match="positive"):
        registry.save_line_item(deployment, line_item_url=f"{MOODLE}/li", score_maximum=0)


def test_deleting_a_platform_removes_everything_it_holds(
    sqlite_service: BadgeService, static_key: dict[str, Any]
) -> None:
    registry = sqlite_service.lti
    moodle = register(registry, MOODLE, "c1", ("1",), static_key)
    deployment = registry.find_deployment(MOODLE, "c1", "1")
    assert deployment is not None
    registry.record_launch(
        deployment,
        context=CONTEXT,
        resource_link={"id": "r"},
        ags_endpoint={"lineitem": f"{MOODLE}/li/1"},
    )
    registry.delete_platform(moodle.public_id)
    assert registry.list_platforms() == []
    assert registry.find_deployment(MOODLE, "c1", "1") is None
    with pytest.raises(NotFound):
        registry.line_items_of(deployment)


# -- the tool's keys -----------------------------------------------------------------------------


def test_tool_keys_are_rsa_2048_encrypted_at_rest_and_named_by_thumbprint(
    service: BadgeService,
) -> None:
    registry = service.lti
    key = registry.tool_signing_key()
    public = key.public_jwk()
    assert public["kty"] == "RSA" and public["alg"] == "RS256" and public["use"] == "sig"
    assert key.kid == jwk_thumbprint(public_key_from_jwk(public))
    assert public_key_from_jwk(public).key_size == 2048  # type: ignore[union-attr]
    assert registry.tool_signing_key().kid == key.kid  # not a new key each time
    assert registry.tool_jwks() == {"keys": [public]}
    with service.sessions() as session:
        stored = session.scalar(select(LtiToolKeyRecord))
    assert stored is not None
    assert "PRIVATE KEY" not in stored.encrypted_private_key
    assert stored.encrypted_private_key.startswith("v1.")
    assert "PRIVATE" not in repr(key)
    # A service with another key-encryption key cannot use the stored key.
    other = BadgeService(replace(service.settings, key_encryption_key=new_key_encryption_key()))
    with pytest.raises(KeyProblem, match="different key-encryption key"):
        other.lti.tool_signing_key()
    other.engine.dispose()


def test_tool_key_rotation_keeps_the_old_key_published_until_retired(
    sqlite_service: BadgeService,
) -> None:
    registry = sqlite_service.lti
    old = registry.tool_signing_key()
    new = registry.rotate_tool_key()
    assert registry.tool_signing_key().kid == new.kid != old.kid
    assert [k["kid"] for k in registry.tool_jwks()["keys"]] == [new.kid, old.kid]
    assert [k.state for k in registry.list_tool_keys()] == ["active", "verifying"]
    with pytest.raises(InvalidInput, match="cannot be retired"):
        registry.retire_tool_key(new.kid)
    assert registry.retire_tool_key(old.kid).state == "retired"
    assert [k["kid"] for k in registry.tool_jwks()["keys"]] == [new.kid]
    with pytest.raises(NotFound):
        registry.retire_tool_key("nope")


# -- the launch cache ----------------------------------------------------------------------------


@pytest.fixture(params=["database", "redis"])
def cache(request: pytest.FixtureRequest, service: BadgeService) -> Iterator[Any]:
    if request.param == "database":
        yield DatabaseLaunchCache(service)
        return
    redis_cache = RedisLaunchCache(REDIS_URL)
    redis_cache.PREFIX = f"badgebridge-test:{uuid.uuid4().hex}:"  # type: ignore[misc]
    yield redis_cache


def test_launch_cache_values_expire_and_are_taken_once(cache: Any) -> None:
    cache.put("state:1", {"nonce": "n1"}, 60)
    assert cache.get("state:1") == {"nonce": "n1"}
    assert cache.take("state:1") == {"nonce": "n1"}
    assert cache.take("state:1") is None and cache.get("state:1") is None
    cache.put("old", "x", -1)  # already expired
    assert cache.get("old") is None and cache.take("old") is None
    assert cache.add("marker", True, 60)
    assert not cache.add("marker", True, 60)
    cache.put("marker-old", True, -1)
    assert cache.add("marker-old", True, 60)  # an expired value does not block
    cache.delete("marker")
    assert cache.get("marker") is None


def _take_concurrently(cache: Any, key: str, takers: int) -> list[Any]:
    results: list[Any] = []
    barrier = threading.Barrier(takers)

    def take() -> None:
        barrier.wait()
        results.append(cache.take(key))

    threads = [threading.Thread(target=take) for _ in range(takers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_workers_taking_one_value_get_it_once(cache: Any) -> None:
    for round_number in range(5):
        key = f"nonce:{round_number}"
        cache.put(key, round_number, 60)
        results = _take_concurrently(cache, key, 4)
        assert sorted(results, key=lambda r: r is None) == [round_number, None, None, None]


def test_the_database_cache_sweeps_expired_entries(sqlite_service: BadgeService) -> None:
    cache = DatabaseLaunchCache(sqlite_service)
    for number in range(3):
        cache.put(f"gone:{number}", number, -1)
    cache.put("kept", 1, 60)
    assert cache.sweep() == 3
    assert cache.get("kept") == 1


def test_the_launch_cache_is_redis_when_configured(
    sqlite_service: BadgeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BADGEBRIDGE_REDIS_URL", REDIS_URL)
    assert isinstance(LtiRegistry(sqlite_service).launch_cache, RedisLaunchCache)
    monkeypatch.delenv("BADGEBRIDGE_REDIS_URL")
    assert isinstance(LtiRegistry(sqlite_service).launch_cache, DatabaseLaunchCache)


# -- platform key sets ---------------------------------------------------------------------------


class _KeySetServer(BaseHTTPRequestHandler):
    documents: list[dict[str, Any]] = []
    served = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps(type(self).documents[-1]).encode()
        type(self).served += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_platform_keys_are_fetched_cached_and_refetched_at_most_once_per_interval(
    sqlite_service: BadgeService,
) -> None:
    first, second = public_jwk(platform_key(), "k1"), public_jwk(platform_key(), "k2")
    _KeySetServer.documents = [{"keys": [first]}]
    _KeySetServer.served = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeySetServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        registry = sqlite_service.lti
        registry.use_http_client(GuardedHttpClient(sqlite_service.settings, allow_private=True))
        platform = registry.register_platform(
            issuer=MOODLE,
            client_id="c1",
            auth_login_url=f"{MOODLE}/auth",
            auth_token_url=f"{MOODLE}/token",
            key_set_url=f"http://127.0.0.1:{server.server_port}/jwks",
        )
        assert registry.platform_key_set(platform) == {"keys": [first]}
        assert registry.platform_key_set(platform) == {"keys": [first]}
        assert _KeySetServer.served == 1  # the second read came from the cache
        _KeySetServer.documents.append({"keys": [second]})  # the platform rotates
        assert registry.refetch_platform_key_set(platform) == {"keys": [second]}
        assert registry.platform_key_set(platform) == {"keys": [second]}
        assert registry.refetch_platform_key_set(platform) is None  # rate-limited
        assert _KeySetServer.served == 2
    finally:
        server.shutdown()
        server.server_close()


def test_a_static_key_set_is_used_without_fetching(
    sqlite_service: BadgeService, static_key: dict[str, Any]
) -> None:
    platform = register(sqlite_service.lti, MOODLE, "c1", ("1",), static_key)
    assert sqlite_service.lti.platform_key_set(platform) == static_key
    assert sqlite_service.lti.refetch_platform_key_set(platform) is None
