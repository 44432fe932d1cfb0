"""Launches the tool must refuse (1EdTech LTI Advantage certification guide and Security
Framework): every one answers 4xx with a readable page, never a 500, and launches nothing.

Each case changes one thing in an otherwise valid launch; the accepted launches in
``test_launch_accepted.py`` are the controls that show the unchanged launch works."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.lti.conftest import LtiSite, assert_readable_refusal, register
from tests.lti_platform import (
    CLAIM_DEPLOYMENT_ID,
    CLAIM_MESSAGE_TYPE,
    CLAIM_RESOURCE_LINK,
    CLAIM_ROLES,
    CLAIM_VERSION,
    LTI,
    AuthAnswer,
    Launch,
    Signing,
    TestPlatform,
    student,
    with_claim,
    without,
)


def _now() -> int:
    return int(time.time())


def _times(iat_offset: int, exp_offset: int) -> Callable[[dict[str, Any]], None]:
    def edit(claims: dict[str, Any]) -> None:
        claims["iat"] = _now() + iat_offset
        claims["exp"] = _now() + exp_offset

    return edit


def _only_jwt_claims(claims: dict[str, Any]) -> None:
    for name in [n for n in claims if n.startswith(LTI)]:
        del claims[name]


def _resource_link_without_id(claims: dict[str, Any]) -> None:
    claims[CLAIM_RESOURCE_LINK] = {"title": "Stadsfotograaf: Feijenoord"}


def _wrong_audience(*, with_azp: bool) -> Callable[[dict[str, Any]], None]:
    def edit(claims: dict[str, Any]) -> None:
        claims["aud"] = "another-tool"
        if with_azp:
            claims["azp"] = "another-tool"
        else:
            claims.pop("azp", None)

    return edit


def _aud_array(azp: str | None) -> Callable[[dict[str, Any]], None]:
    def edit(claims: dict[str, Any]) -> None:
        claims["aud"] = [claims["aud"], "another-tool"]
        if azp is None:
            claims.pop("azp", None)
        else:
            claims["azp"] = azp

    return edit


@dataclass(frozen=True)
class Forgery:
    """How one id_token differs from a valid one."""

    signing: Signing = "RS256"
    edit_claims: Callable[[dict[str, Any]], None] | None = None
    edit_header: Callable[[dict[str, Any]], None] | None = None
    raw_id_token: str | None = None
    nonce: str | None = None


TOKEN_CASES = {
    "no kid": Forgery(edit_header=without("kid")),
    "unknown kid": Forgery(edit_header=with_claim("kid", "no-such-key")),
    "bad signature": Forgery(signing="bad-signature"),
    "signed by another key under the platform's kid": Forgery(signing="foreign-key"),
    "alg none": Forgery(signing="none"),
    "HS256 keyed with the platform's public key": Forgery(signing="HS256-public-key"),
    "wrong LTI version": Forgery(edit_claims=with_claim(CLAIM_VERSION, "1.1.0")),
    "missing LTI version": Forgery(edit_claims=without(CLAIM_VERSION)),
    "not a JWT": Forgery(raw_id_token="this-is-not-a-jwt"),
    "three segments of rubbish": Forgery(raw_id_token="e30.bm90IGpzb24.c2ln"),
    "empty id_token": Forgery(raw_id_token=""),
    "missing LTI claims": Forgery(edit_claims=_only_jwt_claims),
    "expired": Forgery(edit_claims=_times(-600, -300)),
    "iat in the future": Forgery(edit_claims=_times(600, 660)),
    "no exp": Forgery(edit_claims=without("exp")),
    "no iat": Forgery(edit_claims=without("iat")),
    "wrong message_type": Forgery(edit_claims=with_claim(CLAIM_MESSAGE_TYPE, "LtiFooRequest")),
    "missing message_type": Forgery(edit_claims=without(CLAIM_MESSAGE_TYPE)),
    "missing roles claim": Forgery(edit_claims=without(CLAIM_ROLES)),
    "unknown deployment_id": Forgery(
        edit_claims=with_claim(CLAIM_DEPLOYMENT_ID, "deployment-unknown")
    ),
    "missing deployment_id": Forgery(edit_claims=without(CLAIM_DEPLOYMENT_ID)),
    "missing resource_link id": Forgery(edit_claims=_resource_link_without_id),
    "missing resource_link claim": Forgery(edit_claims=without(CLAIM_RESOURCE_LINK)),
    "missing sub": Forgery(edit_claims=without("sub")),
    "wrong aud": Forgery(edit_claims=_wrong_audience(with_azp=False)),
    "wrong aud and azp": Forgery(edit_claims=_wrong_audience(with_azp=True)),
    "aud and azp disagree": Forgery(edit_claims=with_claim("aud", "another-tool")),
    "wrong iss": Forgery(edit_claims=with_claim("iss", "https://evil.example")),
    "aud array with wrong azp": Forgery(edit_claims=_aud_array("another-tool")),
    "aud array without azp": Forgery(edit_claims=_aud_array(None)),
    "missing nonce": Forgery(edit_claims=without("nonce")),
    "unknown nonce": Forgery(nonce="nonce-never-issued-by-the-tool"),
}


@pytest.mark.parametrize("case", list(TOKEN_CASES))
def test_forged_or_broken_id_token_is_refused(module_site: LtiSite, case: str) -> None:
    forgery = TOKEN_CASES[case]
    launch = Launch(
        student(),
        signing=forgery.signing,
        edit_claims=forgery.edit_claims,
        edit_header=forgery.edit_header,
        raw_id_token=forgery.raw_id_token,
        nonce=forgery.nonce,
    )
    outcome = module_site.browser().launch(launch, follow=False)
    assert_readable_refusal(outcome.response)


def _successful_answer(site: LtiSite) -> tuple[Any, AuthAnswer]:
    browser = site.browser()
    answer = browser.authorize(browser.initiate_login(Launch(student())))
    return browser, answer


def test_unknown_state_is_refused(site: LtiSite) -> None:
    browser, answer = _successful_answer(site)
    forged = AuthAnswer(answer.action, {**answer.form, "state": "state-unknown"}, None, None)
    assert_readable_refusal(browser.post_launch(forged, follow=False).response)


def test_missing_state_is_refused(site: LtiSite) -> None:
    browser, answer = _successful_answer(site)
    forged = AuthAnswer(answer.action, {"id_token": answer.form["id_token"]}, None, None)
    assert_readable_refusal(browser.post_launch(forged, follow=False).response)


def test_id_token_posted_from_another_browser_is_refused(site: LtiSite) -> None:
    _, answer = _successful_answer(site)
    other_browser = site.browser()
    assert_readable_refusal(other_browser.post_launch(answer, follow=False).response)


def test_replayed_id_token_is_refused(site: LtiSite) -> None:
    browser, answer = _successful_answer(site)
    first = browser.post_launch(answer)
    assert first.session_path, first.response.get_data(as_text=True)
    assert_readable_refusal(browser.post_launch(answer, follow=False).response)


def test_nonce_of_an_earlier_launch_is_refused_in_a_new_one(site: LtiSite) -> None:
    browser = site.browser()
    first = browser.launch(Launch(student()))
    assert first.session_path and first.answer.claims is not None
    used_nonce = first.answer.claims["nonce"]
    again = browser.launch(Launch(student(), nonce=used_nonce), follow=False)
    assert again.answer.claims is not None and again.answer.claims["nonce"] == used_nonce
    assert_readable_refusal(again.response)


def test_launch_without_login_initiation_is_refused(site: LtiSite) -> None:
    """An id_token and state that never went through this browser's login initiation."""
    browser = site.browser()
    response = browser.client.post(
        "/lti/launch", data={"state": "state-x", "id_token": "x.y.z"}, base_url=browser.base_url
    )
    assert_readable_refusal(response)


def test_login_initiation_from_an_unregistered_platform_is_refused(site: LtiSite) -> None:
    browser = site.browser()
    params = site.platform.initiation(Launch(student()))
    params["iss"] = "https://unknown-lms.example"
    response = browser.client.get("/lti/login", query_string=params, base_url=browser.base_url)
    assert_readable_refusal(response)
    assert site.platform.auth_requests == []


def test_login_initiation_without_login_hint_is_refused(site: LtiSite) -> None:
    browser = site.browser()
    params = site.platform.initiation(Launch(student()))
    del params["login_hint"]
    response = browser.client.post("/lti/login", data=params, base_url=browser.base_url)
    assert_readable_refusal(response)


def test_a_platform_cannot_launch_in_the_name_of_another_registered_platform(
    site: LtiSite,
) -> None:
    with TestPlatform(key_index=7, client_id="other-client") as other:
        register(site.service, other)

        def claim_to_be_other(claims: dict[str, Any]) -> None:
            claims.update(iss=other.issuer, aud=other.client_id, azp=other.client_id)

        outcome = site.browser().launch(Launch(student(), edit_claims=claim_to_be_other))
        assert_readable_refusal(outcome.response)
