"""The test platform itself: a harness that accepted anything would make every LTI test pass.

These tests need no tool: a stand-in tool key signs what the tool would sign."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tests.lti_platform import (
    CLAIM_AGS,
    CLAIM_CONTEXT,
    CLAIM_DEEP_LINKING,
    CLAIM_DEPLOYMENT_ID,
    CLAIM_DL_CONTENT_ITEMS,
    CLAIM_DL_DATA,
    CLAIM_MESSAGE_TYPE,
    CLAIM_NRPS,
    CLAIM_RESOURCE_LINK,
    CLAIM_ROLES,
    CLAIM_VERSION,
    CLIENT_ASSERTION_TYPE,
    DEEP_LINKING_REQUEST,
    DEEP_LINKING_RESPONSE,
    MEDIA_LINEITEM,
    MEDIA_SCORE,
    SCOPE_LINEITEM,
    SCOPE_NRPS,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    TOOL_CONFIGURATION,
    AuthRequest,
    Launch,
    PlatformRefusal,
    SigningKey,
    TestPlatform,
    b64url_decode,
    encode_jwt,
    html_forms,
    http_request,
    instructor,
    pooled_rsa_key,
    student,
    unverified_parts,
)

TOOL = "https://badges.test"
TOOL_KEY = SigningKey("tool-key-1", pooled_rsa_key(50))


@pytest.fixture
def platform() -> Iterator[TestPlatform]:
    with TestPlatform() as running:
        running.set_tool(
            launch_url=f"{TOOL}/lti/launch",
            login_url=f"{TOOL}/lti/login",
            jwks={"keys": [TOOL_KEY.public_jwk()]},
        )
        yield running


def auth_params(platform: TestPlatform, launch: Launch) -> dict[str, str]:
    """A correct auth request for ``launch``, as a tool builds it."""
    initiation = platform.initiation(launch)
    return {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": f"{TOOL}/lti/launch",
        "login_hint": initiation["login_hint"],
        "lti_message_hint": initiation["lti_message_hint"],
        "state": "state-" + uuid.uuid4().hex,
        "nonce": uuid.uuid4().hex,
    }


def get_json(url: str, **headers: str) -> tuple[int, Any]:
    status, _, body = http_request("GET", url, headers=headers)
    return status, json.loads(body)


def test_jwks_and_openid_configuration_are_served_over_http(platform: TestPlatform) -> None:
    status, jwks = get_json(platform.jwks_url)
    assert status == 200
    assert [k["kid"] for k in jwks["keys"]] == [platform.signing_key.kid]
    assert jwks["keys"][0]["alg"] == "RS256" and "d" not in jwks["keys"][0]
    status, configuration = get_json(platform.openid_configuration_url)
    assert status == 200
    assert configuration["issuer"] == platform.issuer
    assert configuration["jwks_uri"] == platform.jwks_url
    assert configuration["registration_endpoint"] == platform.registration_url


def test_a_valid_auth_request_gets_a_verifiable_id_token_with_its_nonce(
    platform: TestPlatform,
) -> None:
    params = auth_params(platform, Launch(instructor()))
    status, _, body = http_request("GET", f"{platform.auth_url}?{urlencode(params)}")
    assert status == 200
    (form,) = html_forms(body.decode())
    assert form["action"] == f"{TOOL}/lti/launch" and form["method"] == "post"
    assert form["fields"]["state"] == params["state"]
    _, jwks = get_json(platform.jwks_url)
    token = jwt.decode(
        form["fields"]["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"]
    )
    claims = token.claims
    assert claims["nonce"] == params["nonce"]
    assert claims["aud"] == platform.client_id and claims["iss"] == platform.issuer
    assert claims[CLAIM_VERSION] == "1.3.0"
    assert claims[CLAIM_DEPLOYMENT_ID] == platform.deployment_ids[0]
    assert claims[CLAIM_ROLES] == instructor().roles
    assert claims[CLAIM_RESOURCE_LINK]["id"] == "resource-link-1"
    assert claims[CLAIM_CONTEXT]["id"] == "course-101"
    assert claims[CLAIM_AGS]["lineitems"] == platform.lineitems_url("course-101")
    assert claims[CLAIM_AGS]["lineitem"] in platform.line_items
    assert claims[CLAIM_NRPS]["context_memberships_url"] == platform.memberships_url("course-101")
    assert claims["exp"] - claims["iat"] == 60
    assert token.header["kid"] == platform.signing_key.kid


def test_deep_linking_request_carries_settings_and_no_resource_link(
    platform: TestPlatform,
) -> None:
    launch = Launch(instructor(), message_type=DEEP_LINKING_REQUEST)
    answer = platform.answer_auth_request(AuthRequest(auth_params(platform, launch), "GET"))
    assert answer.claims is not None
    assert answer.claims[CLAIM_MESSAGE_TYPE] == DEEP_LINKING_REQUEST
    assert CLAIM_RESOURCE_LINK not in answer.claims
    settings = answer.claims[CLAIM_DEEP_LINKING]
    assert settings["deep_link_return_url"] == platform.deep_link_return_url
    assert settings["accept_types"] == ["ltiResourceLink"] and settings["data"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("scope", "openid profile"),
        ("response_type", "code"),
        ("response_mode", "query"),
        ("prompt", "login"),
        ("client_id", "someone-else"),
        ("redirect_uri", "https://evil.example/lti/launch"),
        ("login_hint", "login-another-user"),
        ("lti_message_hint", "msg-never-issued"),
        ("state", ""),
        ("nonce", ""),
    ],
)
def test_a_wrong_auth_request_is_refused_naming_the_parameter(
    platform: TestPlatform, name: str, value: str
) -> None:
    params = auth_params(platform, Launch(student()))
    params[name] = value
    status, _, body = http_request("GET", f"{platform.auth_url}?{urlencode(params)}")
    assert status == 400
    assert name in json.loads(body)["error_description"]
    assert platform.answers == []


def test_forged_signatures_are_well_formed_and_fail_verification(
    platform: TestPlatform,
) -> None:
    key = platform.signing_key
    public = KeySet.import_key_set(platform.jwks())
    claims = {"sub": "x", "iat": int(time.time())}
    header = {"alg": "RS256", "kid": key.kid}
    assert jwt.decode(encode_jwt(header, claims, key), public, algorithms=["RS256"]).claims == (
        claims
    )
    unsigned = encode_jwt(header, claims, key, "none")
    assert unsigned.endswith(".") and unverified_parts(unsigned)[0]["alg"] == "none"
    confused = encode_jwt(header, claims, key, "HS256-public-key")
    head, payload, signature = confused.split(".")
    expected = hmac.new(key.public_pem(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert b64url_decode(signature) == expected
    for signing in ("HS256-public-key", "bad-signature", "foreign-key", "none"):
        forged = encode_jwt(header, claims, key, signing, foreign_key=platform.attacker_key)
        with pytest.raises((JoseError, ValueError)):
            jwt.decode(forged, public, algorithms=["RS256"])


def test_key_rotation_publishes_the_new_key_and_drops_the_old(platform: TestPlatform) -> None:
    old = platform.signing_key.kid
    new = platform.rotate_key()
    _, jwks = get_json(platform.jwks_url)
    assert [k["kid"] for k in jwks["keys"]] == [new] and new != old
    newer = platform.rotate_key(keep_old=True)
    _, jwks = get_json(platform.jwks_url)
    assert [k["kid"] for k in jwks["keys"]] == [newer, new]
    assert platform.count("GET", "/jwks") == 2


# --- OAuth 2.0 client credentials, AGS and NRPS ------------------------------------------------


def client_assertion(platform: TestPlatform, key: SigningKey = TOOL_KEY, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.token_audience,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return encode_jwt({"alg": "RS256", "kid": key.kid}, claims, key)


def request_token(
    platform: TestPlatform, scope: str, assertion: str | None = None
) -> tuple[int, dict[str, Any]]:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion or client_assertion(platform),
        "scope": scope,
    }
    status, _, body = http_request(
        "POST",
        platform.token_url,
        body=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return status, json.loads(body)


def test_token_endpoint_grants_requested_lti_scopes_to_a_valid_assertion(
    platform: TestPlatform,
) -> None:
    status, answer = request_token(platform, f"{SCOPE_SCORE} {SCOPE_NRPS} https://other/scope")
    assert status == 200
    assert answer["token_type"] == "Bearer"
    assert set(answer["scope"].split()) == {SCOPE_SCORE, SCOPE_NRPS}


@pytest.mark.parametrize(
    "problem",
    ["foreign key", "wrong aud", "iss not client", "expired", "no jti", "replayed jti"],
)
def test_token_endpoint_refuses_a_bad_client_assertion(
    platform: TestPlatform, problem: str
) -> None:
    assertion = {
        "foreign key": lambda: client_assertion(
            platform, SigningKey(TOOL_KEY.kid, pooled_rsa_key(51))
        ),
        "wrong aud": lambda: client_assertion(platform, aud="https://elsewhere/token"),
        "iss not client": lambda: client_assertion(platform, iss="another-client"),
        "expired": lambda: client_assertion(platform, exp=int(time.time()) - 5),
        "no jti": lambda: client_assertion(platform, jti=None),
        "replayed jti": lambda: client_assertion(platform, jti="jti-once"),
    }[problem]()
    if problem == "replayed jti":
        assert request_token(platform, SCOPE_SCORE, assertion)[0] == 200
    status, answer = request_token(platform, SCOPE_SCORE, assertion)
    assert status == 401 and answer["error"] == "invalid_client"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_score(
    platform: TestPlatform, line_item: str, token: str, score: dict[str, Any]
) -> tuple[int, bytes]:
    status, _, body = http_request(
        "POST",
        line_item + "/scores",
        body=json.dumps(score).encode(),
        headers={**bearer(token), "Content-Type": MEDIA_SCORE},
    )
    return status, body


def completed(user_id: str, when: datetime, given: float = 100) -> dict[str, Any]:
    return {
        "userId": user_id,
        "scoreGiven": given,
        "scoreMaximum": 100,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": when.isoformat(),
    }


def test_ags_line_items_scores_and_results_with_scope_checks(platform: TestPlatform) -> None:
    platform.members["course-101"] = [student("s1"), student("s2")]
    _, token_answer = request_token(platform, f"{SCOPE_LINEITEM} {SCOPE_SCORE}")
    token = token_answer["access_token"]
    lineitems = platform.lineitems_url("course-101")
    document = {"label": "Stadsfotograaf", "scoreMaximum": 100, "resourceId": "act-7", "tag": "b"}
    status, _, body = http_request(
        "POST",
        lineitems,
        body=json.dumps(document).encode(),
        headers={**bearer(token), "Content-Type": MEDIA_LINEITEM},
    )
    assert status == 201
    line_item = json.loads(body)
    assert line_item["id"].startswith(lineitems + "/") and line_item["resourceId"] == "act-7"
    status, items = get_json(lineitems + "?resource_id=act-7", **bearer(token))
    assert status == 200 and [i["id"] for i in items] == [line_item["id"]]

    now = datetime.now(UTC)
    assert post_score(platform, line_item["id"], token, completed("s1", now))[0] == 200
    # Moodle refuses a second score with the same timestamp; a later one is fine.
    status, body = post_score(platform, line_item["id"], token, completed("s1", now, 90))
    assert status == 400 and b"timestamp" in body
    later = now + timedelta(milliseconds=1)
    assert post_score(platform, line_item["id"], token, completed("s1", later, 90))[0] == 200
    status, body = post_score(platform, line_item["id"], token, completed("stranger", later))
    assert status == 400 and b"not in the course" in body
    bad = completed("s2", now) | {"activityProgress": "Done"}
    assert post_score(platform, line_item["id"], token, bad)[0] == 400
    assert [s.score["scoreGiven"] for s in platform.scores] == [100, 90]

    # The token does not carry result.readonly: results are refused, then allowed.
    status, _ = get_json(line_item["id"] + "/results", **bearer(token))
    assert status == 403
    _, reader = request_token(platform, SCOPE_RESULT_READONLY)
    status, results = get_json(line_item["id"] + "/results", **bearer(reader["access_token"]))
    assert status == 200
    assert results == [
        {
            "id": line_item["id"] + "/results/s1",
            "scoreOf": line_item["id"],
            "userId": "s1",
            "resultScore": 90,
            "resultMaximum": 100,
        }
    ]
    assert get_json(lineitems, Authorization="Bearer forged")[0] == 401


def test_nrps_memberships_page_with_a_next_link(platform: TestPlatform) -> None:
    members = [instructor("t1"), *[student(f"s{i}") for i in range(5)]]
    platform.members["course-101"] = members
    _, token_answer = request_token(platform, SCOPE_NRPS)
    headers = bearer(token_answer["access_token"])
    url: str | None = platform.memberships_url("course-101") + "?limit=4"
    seen = []
    while url:
        status, response_headers, body = http_request("GET", url, headers=headers)
        assert status == 200
        container = json.loads(body)
        assert container["context"]["id"] == "course-101"
        seen += [m["user_id"] for m in container["members"]]
        link = response_headers.get("Link", "")
        url = link[1 : link.index(">")] if link else None
    assert seen == [m.sub for m in members]
    _, score_only = request_token(platform, SCOPE_SCORE)
    status, _ = get_json(
        platform.memberships_url("course-101"), **bearer(score_only["access_token"])
    )
    assert status == 403


# --- Dynamic Registration and deep linking responses -----------------------------------------


def tool_registration() -> dict[str, Any]:
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{TOOL}/lti/login",
        "redirect_uris": [f"{TOOL}/lti/launch"],
        "client_name": "BadgeBridge",
        "jwks_uri": f"{TOOL}/lti/jwks.json",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": f"{SCOPE_SCORE} {SCOPE_NRPS}",
        TOOL_CONFIGURATION: {
            "domain": "badges.test",
            "target_link_uri": f"{TOOL}/lti/launch",
            "claims": ["iss", "sub", "name", "email"],
            "messages": [{"type": DEEP_LINKING_REQUEST, "target_link_uri": f"{TOOL}/lti/launch"}],
        },
    }


def test_dynamic_registration_needs_the_token_once_and_returns_client_and_deployment() -> None:
    with TestPlatform(canvas_bearer_rule=True, client_id="10000000000042") as platform:
        token = platform.new_registration_token()
        assert get_json(platform.openid_configuration_url)[0] == 401
        status, configuration = get_json(
            platform.openid_configuration_url, Authorization=f"Bearer {token}"
        )
        assert status == 200

        def register(bearer_token: str | None, metadata: dict[str, Any]) -> tuple[int, Any]:
            headers = {"Content-Type": "application/json"}
            if bearer_token:
                headers["Authorization"] = f"Bearer {bearer_token}"
            status, _, body = http_request(
                "POST",
                configuration["registration_endpoint"],
                body=json.dumps(metadata).encode(),
                headers=headers,
            )
            return status, json.loads(body)

        assert register(None, tool_registration())[0] == 401
        broken = tool_registration() | {"token_endpoint_auth_method": "client_secret_basic"}
        status, answer = register(token, broken)
        assert status == 400 and "token_endpoint_auth_method" in answer["error_description"]
        token = platform.new_registration_token()
        status, answer = register(token, tool_registration())
        assert status == 200
        assert answer["client_id"] == "10000000000042"
        assert answer[TOOL_CONFIGURATION]["deployment_id"] == platform.deployment_ids[0]
        assert platform.tool_redirect_uris == [f"{TOOL}/lti/launch"]
        assert register(token, tool_registration())[0] == 401  # the token is spent


def deep_linking_response(platform: TestPlatform, data: str, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + 60,
        "nonce": uuid.uuid4().hex,
        CLAIM_MESSAGE_TYPE: DEEP_LINKING_RESPONSE,
        CLAIM_VERSION: "1.3.0",
        CLAIM_DEPLOYMENT_ID: platform.deployment_ids[0],
        CLAIM_DL_DATA: data,
        CLAIM_DL_CONTENT_ITEMS: [
            {
                "type": "ltiResourceLink",
                "title": "Stadsfotograaf",
                "custom": {"activity": "act-7"},
                "lineItem": {"scoreMaximum": 100, "label": "Stadsfotograaf"},
            }
        ],
    }
    claims.update(changes)
    return encode_jwt({"alg": "RS256", "kid": TOOL_KEY.kid}, claims, TOOL_KEY)


def test_deep_linking_responses_are_validated(platform: TestPlatform) -> None:
    launch = Launch(instructor(), message_type=DEEP_LINKING_REQUEST)
    answer = platform.answer_auth_request(AuthRequest(auth_params(platform, launch), "GET"))
    assert answer.claims is not None
    data = answer.claims[CLAIM_DEEP_LINKING]["data"]
    body = urlencode({"JWT": deep_linking_response(platform, data)}).encode()
    status, _, _ = http_request(
        "POST",
        platform.deep_link_return_url,
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert platform.deep_linking_responses[0][CLAIM_DL_CONTENT_ITEMS][0]["title"] == (
        "Stadsfotograaf"
    )
    for changes in (
        {CLAIM_DL_DATA: "forged"},
        {"aud": "https://elsewhere"},
        {CLAIM_MESSAGE_TYPE: "LtiResourceLinkRequest"},
        {CLAIM_DL_CONTENT_ITEMS: [{"type": "ltiResourceLink", "lineItem": {"label": "x"}}]},
    ):
        with pytest.raises(PlatformRefusal):
            platform.validate_deep_linking_response(
                deep_linking_response(platform, data, **changes)
            )
