"""LTI launches in Chromium when the tool's cookies are blocked inside the LMS frame.

The test platform's course page (``http://localhost:<port>/course``) frames the tool
(``https://127.0.0.1:<port>``, a self-signed certificate): the tool is a cross-site frame, as
in Moodle or Canvas. Next to it, when the platform offers storage, a hidden frame answers the
LTI platform storage messages (``lti.capabilities``, ``lti.put_data``, ``lti.get_data``).

Blocking the cookies: Chromium keeps ``Partitioned`` (CHIPS) cookies in cross-site frames even
with third-party cookies blocked, so its own setting does not take the tool's state cookie
away (the last test shows it; Safari's blocking would). The other tests therefore act as such
a browser: every request of a framed
tool page goes through :class:`CookieBlocker`, which forwards it without cookies and drops the
``Set-Cookie`` of the answer; top-level windows (the "new window") keep their cookies, as
first-party cookies are kept. Everything else — the scripts, the postMessage exchange with the
platform's frame, the form posts and redirects — is Chromium's own.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPRedirectHandler, HTTPSHandler, Request, build_opener

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from werkzeug.serving import make_server

from core.service import BadgeService
from lti_tool.app import create_app
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PAGE_TIMEOUT_MS, check_page, shoot
from tests.browser.lti_served import free_port
from tests.conftest import make_settings
from tests.lti_platform import Launch, TestPlatform, student

STORAGE_FRAME = "lti_storage"
#: The words of the pages, written out per language (not looked up in the catalogue).
WORDS = {
    "nl": {
        "role": "Rol",
        "student": "Leerling",
        "new window": "Open dit cursusonderdeel in een nieuw venster",
    },
    "en": {
        "role": "Role",
        "student": "Student",
        "new window": "Open this course item in a new window",
    },
}


class _NoRedirects(HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the browser follows redirects itself


@dataclass
class CookieBlocker:
    """Forwards the framed tool's requests without cookies and drops the cookies its answers
    set (a browser blocking third-party cookies, partitioned ones too)."""

    tool_url: str
    blocked_cookies: list[str] = field(default_factory=list)
    framed_paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the tool's self-signed test certificate
        self._opener = build_opener(HTTPSHandler(context=context), _NoRedirects())

    def handle(self, route: Any) -> None:
        request = route.request
        try:
            framed = request.frame.parent_frame is not None
        except PlaywrightError:  # the first request of a new window, before its frame exists
            framed = False
        if not framed:  # a top-level window: first-party cookies work
            route.continue_()
            return
        self.framed_paths.append(f"{request.method} {request.url[len(self.tool_url) :]}")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "cookie"}
        forwarded = Request(
            request.url, data=request.post_data_buffer, method=request.method, headers=headers
        )
        try:
            with self._opener.open(forwarded, timeout=10) as answer:
                status, answer_headers, body = answer.status, answer.headers, answer.read()
        except HTTPError as answer:  # 3xx (not followed) and 4xx answers
            status, answer_headers, body = answer.code, answer.headers, answer.read()
        kept: dict[str, str] = {}
        for name, value in answer_headers.items():
            if name.lower() == "set-cookie":
                self.blocked_cookies.append(value.split("=", 1)[0])
            elif name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                kept[name] = value
        route.fulfill(status=status, headers=kept, body=body)


@dataclass
class LtiWorld:
    """The tool over https on 127.0.0.1 and the test platform, registered with each other."""

    service: BadgeService
    platform: TestPlatform
    tool_url: str

    def course_page(self, launch: Launch, storage_target: str | None) -> str:
        """The platform's course page framing the tool's login for ``launch``."""
        return self.platform.course_page_url(
            launch, host="localhost", storage_target=storage_target
        )


@pytest.fixture
def lti_world(tmp_path: Path) -> Iterator[LtiWorld]:
    port = free_port()
    tool_url = f"https://127.0.0.1:{port}"
    settings = replace(make_settings(tmp_path), base_url=tool_url, allow_private_fetch=True)
    service = BadgeService(settings)
    service.upgrade()
    app = create_app(settings, service)
    server = make_server("127.0.0.1", port, app, threaded=True, ssl_context="adhoc")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with TestPlatform() as platform:
        platform_port = platform.issuer.rsplit(":", 1)[1]
        service.lti.register_platform(
            issuer=platform.issuer,
            client_id=platform.client_id,
            # The browser meets the platform at localhost: its origin is that of this URL.
            auth_login_url=f"http://localhost:{platform_port}/auth",
            auth_token_url=platform.token_url,
            key_set_url=platform.jwks_url,
            deployment_ids=platform.deployment_ids,
            name="Moodle of the school",
            product_family_code=platform.product_family_code,
        )
        platform.set_tool(
            launch_url=f"{tool_url}/lti/launch",
            login_url=f"{tool_url}/lti/login",
            jwks=service.lti.tool_jwks(),
        )
        yield LtiWorld(service, platform, tool_url)
    server.shutdown()
    service.engine.dispose()


@pytest.fixture
def blocking(
    browser: Any, lti_world: LtiWorld, request: pytest.FixtureRequest
) -> Iterator[tuple[Any, CookieBlocker]]:
    """A page whose framed tool pages keep no cookie."""
    context = browser.new_context(
        locale="en-GB", ignore_https_errors=True, permissions=["local-network-access"]
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    blocker = CookieBlocker(lti_world.tool_url)
    context.route(f"{lti_world.tool_url}/**", blocker.handle)
    page = context.new_page()
    yield page, blocker
    context.close()


def tool_frame(page: Any) -> Any:
    frame = page.frame(name="tool")
    assert frame is not None, "the course page has no tool frame"
    return frame


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_platform_storage_launches_without_cookies(
    blocking: tuple[Any, CookieBlocker], lti_world: LtiWorld, language: str
) -> None:
    page, blocker = blocking
    page.goto(lti_world.course_page(Launch(student(), locale=language), STORAGE_FRAME))
    frame = tool_frame(page)
    frame.wait_for_url("**/lti/session/**")
    words = WORDS[language]
    expect(frame.locator("main")).to_contain_text(f"{words['role']}\n{words['student']}")
    expect(frame.locator("main")).to_contain_text("Daan Jansen")
    check_page(frame, language)
    shoot(page, f"lti-storage-launch-{language}")
    # The cookie was blocked, and the platform's storage stood in for it.
    assert any(name.startswith("lti1p3-state-") for name in blocker.blocked_cookies)
    assert "POST /lti/launch/verify" in blocker.framed_paths
    storage = page.frame(name=STORAGE_FRAME)
    received = storage.evaluate("window.received")
    subjects = [message["subject"] for message in received]
    assert subjects.count("lti.put_data") == 2 and subjects.count("lti.get_data") == 2
    assert "lti.capabilities" in subjects
    assert {message["origin"] for message in received} == {lti_world.tool_url}


def test_without_storage_the_new_window_launches(
    blocking: tuple[Any, CookieBlocker], lti_world: LtiWorld
) -> None:
    page, blocker = blocking
    page.goto(lti_world.course_page(Launch(student(), locale="en"), None))
    frame = tool_frame(page)
    link = frame.get_by_role("link", name=WORDS["en"]["new window"])
    expect(link).to_be_visible()
    check_page(frame, "en")
    shoot(page, "lti-no-cookie-no-storage-en")
    assert "POST /lti/launch" in blocker.framed_paths
    with page.context.expect_page() as opened:
        link.click()
    window = opened.value
    window.wait_for_url("**/lti/session/**")
    expect(window.locator("main")).to_contain_text("Daan Jansen")
    check_page(window, "en")
    shoot(window, "lti-new-window-launched-en")


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("nowhere", id="no such frame"),
        # The tool's own frame: not at the platform's origin, so the browser does not deliver
        # the messages, and every question ends in its timeout.
        pytest.param("tool", id="a frame of another origin"),
    ],
)
def test_a_platform_that_does_not_answer_leads_to_the_new_window(
    blocking: tuple[Any, CookieBlocker], lti_world: LtiWorld, target: str
) -> None:
    """``lti_storage_target`` names a frame that does not answer: the login goes on (after
    the timeouts), the launch cannot be confirmed, and the refusal offers the new window."""
    page, blocker = blocking
    platform = lti_world.platform
    tool_src = f"{lti_world.tool_url}/lti/login?" + urlencode(
        platform.initiation(Launch(student(), locale="en"), storage_target=target)
    )
    port = platform.issuer.rsplit(":", 1)[1]
    page.goto(f"http://localhost:{port}/course?" + urlencode({"tool": tool_src, "storage": ""}))
    frame = tool_frame(page)
    link = frame.get_by_role("link", name=WORDS["en"]["new window"])
    expect(link).to_be_visible(timeout=3 * PAGE_TIMEOUT_MS)
    expect(frame.locator("main")).to_contain_text("did not confirm")
    assert "POST /lti/launch/verify" in blocker.framed_paths
    shoot(page, f"lti-storage-unanswered-{target}-en")
    with page.context.expect_page() as opened:
        link.click()
    window = opened.value
    window.wait_for_url("**/lti/session/**")
    expect(window.locator("main")).to_contain_text("Daan Jansen")


@pytest.fixture
def chromium_blocking_third_party_cookies(browser: Any) -> Iterator[Any]:
    """Chromium with its own third-party cookie blocking on (beside the session's browser)."""
    instance = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--test-third-party-cookie-phaseout"]
    )
    yield instance
    instance.close()


def test_chromium_blocking_third_party_cookies_keeps_the_partitioned_state_cookie(
    chromium_blocking_third_party_cookies: Any, lti_world: LtiWorld
) -> None:
    """Chromium's own blocking (this Chromium blocks third-party cookies even without the
    flag): an unpartitioned cookie of the framed tool is refused, the ``Partitioned`` state
    cookie is kept, so the launch needs no storage round trip."""
    context = chromium_blocking_third_party_cookies.new_context(
        locale="en-GB", ignore_https_errors=True, permissions=["local-network-access"]
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    posted: list[str] = []
    context.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    page = context.new_page()
    page.goto(lti_world.course_page(Launch(student(), locale="en"), STORAGE_FRAME))
    frame = tool_frame(page)
    frame.wait_for_url("**/lti/session/**")
    expect(frame.locator("main")).to_contain_text("Daan Jansen")
    assert f"{lti_world.tool_url}/lti/launch" in posted
    assert not any(url.endswith("/lti/launch/verify") for url in posted)
    kept = frame.evaluate(
        """() => {
            document.cookie = "probe_plain=1; path=/; SameSite=None; Secure";
            document.cookie = "probe_partitioned=1; path=/; SameSite=None; Secure; Partitioned";
            return document.cookie;
        }"""
    )
    assert "probe_partitioned=1" in kept and "probe_plain" not in kept, kept
    context.close()
