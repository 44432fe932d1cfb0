"""The platform rotates its signing key mid-session, and several web workers share launches."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client

from tests.lti.conftest import (
    TOOL_BASE_URL,
    LtiSite,
    assert_readable_refusal,
    connect,
    lti_settings,
    make_tool_app,
)
from tests.lti_platform import Launch, TestPlatform, ToolBrowser, student

REDIS_URL = os.environ.get("BADGEBRIDGE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def assert_launched(outcome: Any) -> None:
    assert outcome.session_path, (
        f"{outcome.response.status_code}: {outcome.response.get_data(as_text=True)[:800]}"
    )
    assert outcome.page is not None and outcome.page.status_code == 200


def jwks_fetches(platform: TestPlatform) -> int:
    return platform.count("GET", "/jwks")


def test_the_next_launch_after_a_key_rotation_works_with_one_refetch(site: LtiSite) -> None:
    browser = site.browser()
    assert_launched(browser.launch(Launch(student())))
    assert jwks_fetches(site.platform) == 1
    assert_launched(browser.launch(Launch(student())))
    assert jwks_fetches(site.platform) == 1  # the key set is cached

    old_key = site.platform.signing_key
    new_kid = site.platform.rotate_key()
    rotated = browser.launch(Launch(student()))
    assert rotated.answer.header is not None and rotated.answer.header["kid"] == new_kid
    assert_launched(rotated)
    assert jwks_fetches(site.platform) == 2  # refetched once for the unknown kid

    assert_launched(browser.launch(Launch(student())))
    assert jwks_fetches(site.platform) == 2
    # The old key is no longer published: a token still signed with it is refused.
    stale = browser.launch(Launch(student(), key=old_key), follow=False)
    assert_readable_refusal(stale.response)


def test_during_an_overlap_both_keys_are_accepted(site: LtiSite) -> None:
    browser = site.browser()
    old_key = site.platform.signing_key
    assert_launched(browser.launch(Launch(student())))
    site.platform.rotate_key(keep_old=True)
    assert_launched(browser.launch(Launch(student())))
    assert_launched(browser.launch(Launch(student(), key=old_key)))


def test_made_up_key_ids_do_not_make_the_tool_hammer_the_platform(site: LtiSite) -> None:
    browser = site.browser()
    assert_launched(browser.launch(Launch(student())))
    for attempt in range(3):
        forged = browser.launch(Launch(student(), kid=f"made-up-{attempt}"), follow=False)
        assert_readable_refusal(forged.response)
    assert jwks_fetches(site.platform) <= 2


# --- two web workers ---------------------------------------------------------------------------


class WorkerSwitch:
    """A load balancer in front of several web workers: requests go to ``current``."""

    def __init__(self, *apps: Flask) -> None:
        self.apps = apps
        self.current = 0

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.apps[self.current](environ, start_response)


@pytest.fixture(params=["database", "redis"])
def two_workers(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database_url: str,
    platform: TestPlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[WorkerSwitch, TestPlatform, list[Any]]]:
    """Two separate apps (and services) over one database (SQLite, or PostgreSQL when marked);
    with ``redis`` the launch cache is the Redis at 127.0.0.1:6379 (under a key prefix of this
    test)."""
    prefix = f"badgebridge-test:{uuid.uuid4().hex}:"
    if request.param == "redis":
        monkeypatch.setenv("BADGEBRIDGE_REDIS_URL", REDIS_URL)
    settings = lti_settings(tmp_path, database_url)
    app_a, service_a = make_tool_app(settings)
    app_b, service_b = make_tool_app(settings)
    caches = [service_a.lti.launch_cache, service_b.lti.launch_cache]
    if request.param == "redis":
        for cache in caches:
            assert type(cache).__name__ == "RedisLaunchCache"
            # One prefix per test, shared by both workers.
            cache.PREFIX = prefix  # type: ignore[attr-defined]
    connect(app_a, service_a, platform)
    yield WorkerSwitch(app_a, app_b), platform, caches
    if request.param == "redis":
        import redis

        connection = redis.Redis.from_url(REDIS_URL)
        keys = list(connection.scan_iter(match=prefix + "*"))
        if keys:
            connection.delete(*keys)
        connection.close()
    service_a.engine.dispose()
    service_b.engine.dispose()


def test_login_on_one_worker_launch_on_another_page_on_the_first(
    two_workers: tuple[WorkerSwitch, TestPlatform, list[Any]],
) -> None:
    switch, platform, _ = two_workers
    browser = ToolBrowser(Client(switch), platform, TOOL_BASE_URL)

    switch.current = 0
    auth_request = browser.initiate_login(Launch(student()))
    answer = browser.authorize(auth_request)
    switch.current = 1
    outcome = browser.post_launch(answer, follow=False)
    assert outcome.session_path, outcome.response.get_data(as_text=True)[:800]
    switch.current = 0
    page = browser.client.get(outcome.session_path, base_url=TOOL_BASE_URL)
    assert page.status_code == 200, page.get_data(as_text=True)[:800]

    # The launch was taken once: replaying it on the other worker is refused.
    switch.current = 1
    assert_readable_refusal(browser.post_launch(answer, follow=False).response)


def test_the_redis_launch_cache_holds_the_login_state(
    tmp_path: Path, platform: TestPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With BADGEBRIDGE_REDIS_URL the states and nonces are in Redis, not in one process."""
    import redis

    monkeypatch.setenv("BADGEBRIDGE_REDIS_URL", REDIS_URL)
    app, service = make_tool_app(lti_settings(tmp_path))
    prefix = f"badgebridge-test:{uuid.uuid4().hex}:"
    service.lti.launch_cache.PREFIX = prefix  # type: ignore[attr-defined]
    connect(app, service, platform)
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        browser = ToolBrowser(app.test_client(), platform, TOOL_BASE_URL)
        browser.initiate_login(Launch(student()))
        assert list(connection.scan_iter(match=prefix + "*")), "nothing was put in Redis"
    finally:
        keys = list(connection.scan_iter(match=prefix + "*"))
        if keys:
            connection.delete(*keys)
        connection.close()
        service.engine.dispose()


def test_a_key_rotation_refetched_by_one_worker_is_seen_by_the_other(
    two_workers: tuple[WorkerSwitch, TestPlatform, list[Any]],
) -> None:
    # Each worker keeps the platform's keys in memory for a few seconds. When the other worker
    # has just refetched them (and the refetch is rate-limited), the first one must read the
    # shared copy instead of refusing the rotated key.
    switch, platform, _ = two_workers
    browser = ToolBrowser(Client(switch), platform, TOOL_BASE_URL)
    for worker in (0, 1):
        switch.current = worker
        assert_launched(browser.launch(Launch(student())))
    platform.rotate_key()
    switch.current = 1
    assert_launched(browser.launch(Launch(student())))
    fetches = jwks_fetches(platform)
    switch.current = 0
    assert_launched(browser.launch(Launch(student())))
    assert jwks_fetches(platform) == fetches  # worker 0 used the keys worker 1 fetched
