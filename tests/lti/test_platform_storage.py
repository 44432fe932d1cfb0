"""Launches in browsers that do not keep the tool's cookie inside the LMS frame (Safari, Chrome
without third-party cookies), through the test platform over real HTTP:

* LTI Client Side postMessage storage: a login initiation naming ``lti_storage_target`` gets a
  page that stores the state and nonce in the platform's storage; the launch, missing its
  cookie, gets a page that reads them back and posts them to ``/lti/launch/verify``, and the
  launch goes on only when they are this launch's own (once);
* neither cookie nor storage: the refusal's "open in a new window" link logs in again in a
  browser window of its own (a fresh cookie jar here) and launches;
* the launch's language (``launch_presentation.locale``) and the pages' script policy.

The platform's storage is played by :class:`PlatformStorage`: it keeps what the login page
asks to store and answers what the launch page asks for, as the platform's storage frame does
(``tests/browser/test_lti_storage.py`` runs the real scripts in Chromium)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import Client

from lti_tool.lti.hardened import web_origin
from tests.lti.conftest import (
    TOOL_BASE_URL,
    LtiSite,
    assert_readable_refusal,
    page_text,
)
from tests.lti.test_key_rotation import WorkerSwitch, two_workers  # noqa: F401 (a fixture)
from tests.lti_platform import (
    AuthAnswer,
    Launch,
    TestPlatform,
    ToolBrowser,
    html_forms,
    student,
)

STORAGE_FRAME = "post_message_forwarding"


def data_attributes(response: Any) -> dict[str, str]:
    """The ``data-*`` attributes of the page's ``#lti-storage`` element."""
    page = response.get_data(as_text=True)
    match = re.search(r'<(?:div|form)[^>]*id="lti-storage"[^>]*>', page, re.S)
    assert match, f"no #lti-storage element: {page[:600]}"
    return {
        name: unescape(value)
        for name, value in re.findall(r'data-([a-z-]+)="([^"]*)"', match.group(0))
    }


@dataclass
class PlatformStorage:
    """The platform's storage as one browser's platform page holds it (per tool origin)."""

    values: dict[str, str] = field(default_factory=dict)

    def store_from(self, login_page: Any) -> dict[str, str]:
        """Do what the login page's script does: store the state and the nonce."""
        data = data_attributes(login_page)
        assert data["action"] == "put"
        self.values[data["state-key"]] = data["state"]
        self.values[data["nonce-key"]] = data["nonce"]
        return data

    def answer(self, launch_page: Any, **override: str) -> dict[str, str]:
        """The form the launch page's script sends: the stored state and nonce it asked for
        (``override`` replaces fields, to forge)."""
        data = data_attributes(launch_page)
        assert data["action"] == "get"
        [form] = [f for f in html_forms(launch_page.get_data(as_text=True)) if f["fields"]]
        assert form["action"] == "/lti/launch/verify" and form["method"] == "post"
        fields = dict(form["fields"])
        fields["stored_state"] = self.values.get(data["state-key"], "")
        fields["stored_nonce"] = self.values.get(data["nonce-key"], "")
        fields.update(override)
        return fields


def cookieless(site: LtiSite, language: str = "en") -> ToolBrowser:
    """A browser that keeps no cookie of the tool (third-party cookies blocked)."""
    return ToolBrowser(
        site.app.test_client(use_cookies=False), site.platform, TOOL_BASE_URL, language=language
    )


@dataclass
class StorageLaunch:
    """A launch up to the tool's page asking the platform's storage."""

    browser: ToolBrowser
    storage: PlatformStorage
    login_page: Any
    answer: AuthAnswer
    launch_page: Any

    def verify(self, **override: str) -> Any:
        """Send what the launch page's script sends."""
        return self.browser.post(
            "/lti/launch/verify", data=self.storage.answer(self.launch_page, **override)
        )


def storage_launch(
    site: LtiSite, launch: Launch | None = None, language: str = "en"
) -> StorageLaunch:
    """Login with ``lti_storage_target`` and launch, in a browser without cookies."""
    browser = cookieless(site, language)
    storage = PlatformStorage()
    auth_request = browser.initiate_login(launch or Launch(student()), storage_target=STORAGE_FRAME)
    login_page = browser.last_login_response
    storage.store_from(login_page)
    answer = browser.authorize(auth_request)
    launch_page = browser.post_launch(answer, follow=False).response
    assert launch_page.status_code == 200, page_text(launch_page)
    return StorageLaunch(browser, storage, login_page, answer, launch_page)


def assert_launched_page(browser: ToolBrowser, response: Any) -> str:
    """A 303 to the launch's page, which shows; its text."""
    assert response.status_code == 303, page_text(response)
    location = urlsplit(response.headers["Location"]).path
    assert location.startswith("/lti/session/"), location
    page = browser.get(location)
    assert page.status_code == 200, page_text(page)
    return page_text(page)


def script_sources(response: Any) -> list[str]:
    """The sources of the page's ``script-src`` (Content-Security-Policy)."""
    policy: str = response.headers["Content-Security-Policy"]
    [directive] = [d.strip() for d in policy.split(";") if d.strip().startswith("script-src")]
    return directive.split()[1:]


# -- the login page with platform storage ---------------------------------------------------------


def test_the_login_stores_state_and_nonce_in_the_platform_storage_then_goes_on(
    module_site: LtiSite,
) -> None:
    browser = cookieless(module_site)
    auth_request = browser.initiate_login(Launch(student()), storage_target=STORAGE_FRAME)
    page = browser.last_login_response
    assert page.status_code == 200 and page.mimetype == "text/html"
    data = data_attributes(page)
    # Only the platform's origin (of its registered authentication URL) gets the values.
    assert data["origin"] == web_origin(module_site.platform.auth_url)
    assert data["origin"] == module_site.platform.issuer  # http://127.0.0.1:<port>
    assert data["target"] == STORAGE_FRAME
    assert data["state"] == auth_request["state"] and data["nonce"] == auth_request["nonce"]
    assert data["state-key"] != data["nonce-key"]
    continue_query = parse_qs(urlsplit(data["continue"]).query)
    assert data["continue"].startswith(module_site.platform.auth_url + "?")
    assert continue_query["state"] == [auth_request["state"]]
    assert module_site.platform.auth_request_problems(auth_request) == []
    # The script is a file of ours, allowed by 'self' and carrying the nonce; nothing inline.
    html = page.get_data(as_text=True)
    [(src, nonce)] = re.findall(r'<script src="([^"]+)" nonce="([^"]+)"', html)
    sources = script_sources(page)
    assert "'self'" in sources and f"'nonce-{nonce}'" in sources
    assert "'unsafe-inline'" not in sources and "*" not in sources
    script = browser.get(src)
    assert script.status_code == 200 and "lti.put_data" in script.get_data(as_text=True)
    # The state cookie is set too, for the browsers that keep it.
    assert any(c.startswith("lti1p3-state-") for c in page.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("target", ["", "<script>", "a" * 101, "frame name"])
def test_an_unusable_storage_target_leaves_the_plain_login(
    module_site: LtiSite, target: str
) -> None:
    browser = module_site.browser()
    params = module_site.platform.initiation(Launch(student()), storage_target=target)
    response = browser.get("/lti/login", query_string=params)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(module_site.platform.auth_url + "?")


def test_the_cookie_check_gives_way_to_the_platform_storage(
    module_site: LtiSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BADGEBRIDGE_LTI_COOKIE_CHECK", "1")
    launched = storage_launch(module_site)
    assert "lti1p3_new_window" not in launched.login_page.get_data(as_text=True)
    assert "Daan Jansen" in assert_launched_page(launched.browser, launched.verify())


# -- the launch without cookie, checked against the platform storage -----------------------------


def test_without_cookie_the_launch_goes_on_when_the_platform_storage_has_its_state(
    module_site: LtiSite,
) -> None:
    launched = storage_launch(module_site)
    page = launched.launch_page
    data = data_attributes(page)
    login = data_attributes(launched.login_page)
    # The launch page asks for the keys the login stored, at the same origin and frame.
    assert (data["state-key"], data["nonce-key"]) == (login["state-key"], login["nonce-key"])
    assert (data["origin"], data["target"]) == (login["origin"], login["target"])
    assert "'self'" in script_sources(page) and "'unsafe-inline'" not in script_sources(page)
    assert page.headers["Cache-Control"] == "no-store"
    # Nothing is launched before the platform's storage answered.
    assert "/lti/session/" not in page.get_data(as_text=True)
    text = assert_launched_page(launched.browser, launched.verify())
    assert "Daan Jansen" in text and "Burgerschap 2A" in text


def test_with_the_cookie_kept_the_launch_needs_no_storage_round_trip(module_site: LtiSite) -> None:
    browser = module_site.browser()  # keeps cookies
    auth_request = browser.initiate_login(Launch(student()), storage_target=STORAGE_FRAME)
    assert browser.last_login_response.status_code == 200  # the storage page all the same
    outcome = browser.post_launch(browser.authorize(auth_request))
    assert outcome.response.status_code == 303 and outcome.session_path


@pytest.mark.parametrize(
    ("forged", "why"),
    [
        ({"stored_state": "state-somebody-elses"}, "another state"),
        ({"stored_state": ""}, "storage has no state"),
        ({"stored_nonce": "another-nonce"}, "another nonce"),
        ({"stored_nonce": ""}, "storage has no nonce"),
    ],
)
def test_a_state_the_platform_storage_does_not_confirm_is_refused(
    module_site: LtiSite, forged: dict[str, str], why: str
) -> None:
    launched = storage_launch(module_site)
    response = launched.verify(**forged)
    assert_readable_refusal(response)
    assert response.status_code == 403, why
    assert "did not confirm" in page_text(response)
    # The way out: the login again in a new window, where the cookie is first-party.
    assert re.search(r'href="/lti/login\?[^"]*lti1p3_new_window=1', response.get_data(as_text=True))
    # The launch was used up by the failed check: the right values come too late.
    again = launched.verify()
    assert_readable_refusal(again)
    assert "already used" in page_text(again)


def test_the_state_of_another_launch_in_the_same_storage_is_refused(module_site: LtiSite) -> None:
    first = storage_launch(module_site)
    second = storage_launch(module_site)
    other_state = data_attributes(second.login_page)["state"]
    response = first.verify(stored_state=other_state)
    assert response.status_code == 403
    assert_readable_refusal(response)
    # The other launch is untouched and goes on.
    assert "Daan Jansen" in assert_launched_page(second.browser, second.verify())


def test_a_checked_launch_is_used_once(module_site: LtiSite) -> None:
    launched = storage_launch(module_site)
    assert_launched_page(launched.browser, launched.verify())
    replay = launched.verify()
    assert_readable_refusal(replay)
    assert replay.status_code == 400 and "already used" in page_text(replay)
    # Posting the id_token again does not start another check: its state is used up.
    again = launched.browser.post_launch(launched.answer, follow=False).response
    assert_readable_refusal(again)
    assert "unknown state" in page_text(again)


@pytest.mark.parametrize("reference", ["", "made-up", "x" * 300])
def test_an_unknown_launch_reference_is_refused(module_site: LtiSite, reference: str) -> None:
    browser = cookieless(module_site)
    response = browser.post(
        "/lti/launch/verify",
        data={"launch_ref": reference, "stored_state": "state-x", "stored_nonce": "n"},
    )
    assert_readable_refusal(response)
    assert response.status_code == 400


def test_the_id_token_is_still_validated_after_the_storage_check(module_site: LtiSite) -> None:
    launched = storage_launch(module_site, Launch(student(), signing="bad-signature"))
    # Nothing was validated yet: the page only asks the platform's storage.
    assert data_attributes(launched.launch_page)["action"] == "get"
    response = launched.verify()
    assert_readable_refusal(response)
    assert "signature is not valid" in page_text(response)


def test_on_the_storage_path_the_nonce_must_be_the_logins_own_and_unused(
    module_site: LtiSite,
) -> None:
    """An id_token carrying the nonce of a launch already made (not its login's) is refused."""
    first = storage_launch(module_site)
    used_nonce = data_attributes(first.login_page)["nonce"]
    assert_launched_page(first.browser, first.verify())
    # The second login's state record expects its own nonce; the token carries the used one.
    second = storage_launch(module_site, Launch(student(), nonce=used_nonce))
    response = second.verify()
    assert_readable_refusal(response)
    assert "nonce" in page_text(response)


def test_a_launch_from_another_browser_gets_nothing_from_this_storage(
    module_site: LtiSite,
) -> None:
    """The id_token posted to another browser (login CSRF): that browser's platform storage
    has no value for the state, so its page sends none, and the launch is refused."""
    attacker = cookieless(module_site)
    attackers_storage = PlatformStorage()
    auth_request = attacker.initiate_login(Launch(student()), storage_target=STORAGE_FRAME)
    attackers_storage.store_from(attacker.last_login_response)
    answer = attacker.authorize(auth_request)  # not posted by the attacker's browser, but:
    victim = cookieless(module_site)
    page = victim.post_launch(answer, follow=False).response
    assert page.status_code == 200  # the page asking the victim's platform storage
    victims_storage = PlatformStorage()  # holds nothing of the attacker's login
    response = victim.post("/lti/launch/verify", data=victims_storage.answer(page))
    assert response.status_code == 403
    assert_readable_refusal(response)


# -- neither cookie nor storage: a new window ------------------------------------------------------


def test_without_cookie_and_storage_the_new_window_link_launches_in_a_fresh_browser(
    module_site: LtiSite,
) -> None:
    framed = cookieless(module_site)
    answer = framed.authorize(framed.initiate_login(Launch(student())))
    refusal = framed.post_launch(answer, follow=False).response
    assert_readable_refusal(refusal)
    assert refusal.status_code == 403
    html = refusal.get_data(as_text=True)
    [link] = re.findall(r'<a class="button" href="(/lti/login\?[^"]+)" target="_blank"', html)
    # The new window: a top-level window whose cookies are first-party (a fresh jar here).
    window = module_site.browser()
    login = window.get(unescape(link))
    assert login.status_code == 302  # no cookie check in the new window, straight on
    auth_request = window.follow_to_platform(login)
    assert module_site.platform.auth_request_problems(auth_request) == []
    outcome = window.post_launch(window.authorize(auth_request))
    assert outcome.response.status_code == 303 and outcome.page is not None
    assert "Daan Jansen" in page_text(outcome.page)


def test_the_cookie_check_page_offers_a_new_window_that_launches(
    module_site: LtiSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BADGEBRIDGE_LTI_COOKIE_CHECK", "1")
    framed = cookieless(module_site)
    params = module_site.platform.initiation(Launch(student()))
    check = framed.get("/lti/login", query_string=params)
    assert check.status_code == 200
    html = check.get_data(as_text=True)
    assert len(re.findall(r"<h1\b", html)) == 1
    assert "'unsafe-inline'" not in script_sources(check)
    [link] = re.findall(r'id="lti1p3-new-tab-link"[^>]*href="([^"]+)"', html)
    window = module_site.browser()
    login = window.get("/lti/login" + unescape(link))
    outcome = window.post_launch(window.authorize(window.follow_to_platform(login)))
    assert outcome.response.status_code == 303 and outcome.page is not None
    assert "Daan Jansen" in page_text(outcome.page)


# -- the launch's language ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "browser_language", "expected"),
    [
        ("en", "nl", "Role"),
        ("en-GB", "nl", "Role"),
        ("nl-NL", "en", "Rol"),
        ("nl_BE", "en", "Rol"),
        ("de-DE", "nl", "Rol"),  # not offered: the browser's language
        ("de-DE", "en", "Role"),
    ],
)
def test_the_launch_locale_chooses_the_language_of_its_pages(
    module_site: LtiSite, locale: str, browser_language: str, expected: str
) -> None:
    browser = module_site.browser()
    browser.headers["Accept-Language"] = browser_language
    outcome = browser.launch(Launch(student(), locale=locale))
    assert outcome.page is not None and outcome.page.status_code == 200
    text = page_text(outcome.page)
    assert f"{expected} Student" in text or f"{expected} Leerling" in text, text
    lang = "en" if expected == "Role" else "nl"
    assert f'<html lang="{lang}"' in outcome.page.get_data(as_text=True)


def test_a_language_the_user_chose_wins_over_the_launch_locale(module_site: LtiSite) -> None:
    browser = module_site.browser()
    browser.client.set_cookie("badgebridge_lang", "en", domain="badges.test")
    outcome = browser.launch(Launch(student(), locale="nl-NL"))
    assert outcome.page is not None
    assert "Role Student" in page_text(outcome.page)


def test_the_storage_path_keeps_the_launch_locale(module_site: LtiSite) -> None:
    launched = storage_launch(module_site, Launch(student(), locale="nl-NL"), language="en")
    assert "Rol Leerling" in assert_launched_page(launched.browser, launched.verify())


# -- the platform's origin ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        (
            "https://school.instructure.com/api/lti/authorize_redirect",
            "https://school.instructure.com",
        ),
        ("https://sso.canvaslms.com:443/api/lti/authorize", "https://sso.canvaslms.com"),
        ("https://Moodle.School.nl/mod/lti/auth.php", "https://moodle.school.nl"),
        ("http://127.0.0.1:8080/auth", "http://127.0.0.1:8080"),
        ("http://lms.example:80/auth", "http://lms.example"),
        ("https://[::1]:8443/auth", "https://[::1]:8443"),
        ("ftp://lms.example/auth", None),
        ("/auth", None),
        ("https://lms.example:99999/auth", None),
    ],
)
def test_the_platform_origin_is_that_of_its_authentication_url(
    url: str, origin: str | None
) -> None:
    assert web_origin(url) == origin


def test_two_web_workers_share_the_storage_check(
    two_workers: tuple[WorkerSwitch, TestPlatform, list[Any]],  # noqa: F811 (the fixture)
) -> None:
    """Login, launch page and check each on another web worker (launch cache in the database,
    SQLite or PostgreSQL, or in Redis)."""
    switch, platform, _ = two_workers
    browser = ToolBrowser(Client(switch, use_cookies=False), platform, TOOL_BASE_URL)
    storage = PlatformStorage()
    switch.current = 0
    auth_request = browser.initiate_login(Launch(student()), storage_target=STORAGE_FRAME)
    storage.store_from(browser.last_login_response)
    switch.current = 1
    launch_page = browser.post_launch(browser.authorize(auth_request), follow=False).response
    switch.current = 0
    response = browser.post("/lti/launch/verify", data=storage.answer(launch_page))
    switch.current = 1
    assert "Daan Jansen" in assert_launched_page(browser, response)
    # Checked once: the same answer on the other worker is refused.
    switch.current = 0
    assert_readable_refusal(browser.post("/lti/launch/verify", data=storage.answer(launch_page)))
