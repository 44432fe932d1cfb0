"""Browser tests: Playwright driving Debian's Chromium against the app served on 127.0.0.1.

Screenshots are kept in ``test-artifacts/screenshots/`` (CI keeps that folder as artifacts).
Chromium missing is a failure, not a skip: ``make test`` installs it.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import expect
from werkzeug.serving import make_server

from core.service import BadgeService
from lti_tool.app import create_app
from tests.conftest import REPO, make_settings

CHROMIUM = os.environ.get("BADGEBRIDGE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
#: Longest wait for an element or a page (Playwright's default is 30 s).
PAGE_TIMEOUT_MS = 10_000
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: run `make browser`"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class LiveServer:
    """The real app served by werkzeug on a free loopback port, in a thread."""

    def __init__(self, service: BadgeService, port: int) -> None:
        self.service = service
        self.app = create_app(service.settings, service)
        self.server = make_server("127.0.0.1", port, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


@pytest.fixture
def live_service(tmp_path: Path) -> Iterator[BadgeService]:
    """A service whose base URL is filled in once the port is known (credential ids use it)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(tmp_path)
    settings = settings.__class__(**{**settings.__dict__, "base_url": f"http://127.0.0.1:{port}"})
    service = BadgeService(settings)
    service.upgrade()
    service._browser_port = port  # type: ignore[attr-defined]
    yield service
    service.engine.dispose()


@pytest.fixture
def live_server(live_service: BadgeService) -> Iterator[LiveServer]:
    port = live_service._browser_port  # type: ignore[attr-defined]
    with LiveServer(live_service, port) as server:
        yield server


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB")
    # Pages here answer in well under a second: a missing element fails fast.
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    page.screenshot(path=str(SCREENSHOTS / f"{name}-final.png"), full_page=True)
    context.close()


def shoot(page: Any, name: str) -> Path:
    """Keep a screenshot as a test artifact and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# -- pages in a language, checked for the basics of accessibility -----------------------------------

PO_FILE = REPO / "lti_tool" / "translations" / "nl" / "LC_MESSAGES" / "messages.po"
#: Roles of form controls in an ARIA snapshot (a file input is a button).
CONTROL_ROLES = (
    "textbox",
    "searchbox",
    "combobox",
    "listbox",
    "checkbox",
    "radio",
    "button",
    "spinbutton",
    "slider",
    "switch",
)
_CONTROL_LINE = re.compile(rf"^\s*- ({'|'.join(CONTROL_ROLES)})\b(.*)$", re.M)
_FORM_CONTROLS = "input:not([type=hidden]), select, textarea, button"


@functools.cache
def _dutch_catalogue() -> dict[str, Any]:
    with PO_FILE.open("rb") as handle:
        return {message.id: message.string for message in read_po(handle, locale="nl")}


def ui_text(language: str, message: str, **variables: Any) -> str:
    """What the pages show for the English ``message`` in ``language`` (the Dutch from the
    translation catalogue, which must have it)."""
    if language == "nl":
        translated = _dutch_catalogue().get(message)
        assert isinstance(translated, str) and translated, f"no Dutch for {message!r}"
        message = translated
    return message % variables if variables else message


def ui_plural(language: str, singular: str, plural: str, count: int, **variables: Any) -> str:
    """The singular or plural form for ``count`` (``%(num)d``) in ``language``."""
    english = singular if count == 1 else plural
    if language == "nl":
        forms = _dutch_catalogue().get((singular, plural))
        assert isinstance(forms, tuple) and all(forms), f"no Dutch for {singular!r}"
        english = forms[0] if count == 1 else forms[1]
    return english % {"num": count, **variables}


def check_page(page: Any, language: str, *, timeout: float | None = None) -> None:
    """The accessibility smoke test of the page shown: one ``<h1>``, ``<html lang>`` saying
    the language, and an accessible name for every form control (all ``<details>`` opened, so
    controls inside them count). ``timeout`` (ms) bounds the wait for the first two."""
    expect(page.locator("html")).to_have_attribute("lang", language, timeout=timeout)
    expect(page.locator("h1")).to_have_count(1, timeout=timeout)
    assert page.locator("h1").inner_text().strip(), f"empty <h1> on {page.url}"
    # Fold open what is folded, then fold it again: the page is left as the visitor has it.
    folded = page.locator("details:not([open])")
    folded.evaluate_all("els => els.forEach(el => { el.open = true; el.dataset.folded = 1; })")
    snapshot = page.locator("body").aria_snapshot()
    controls = _CONTROL_LINE.findall(snapshot)
    unnamed = [role + rest for role, rest in controls if not rest.lstrip().startswith('"')]
    assert unnamed == [], f"form controls without a name on {page.url}: {unnamed}"
    # Every control in the page is in the snapshot (none has a role it would hide under).
    rendered = page.locator(_FORM_CONTROLS).evaluate_all(
        "els => els.filter(el => el.getClientRects().length > 0).length"
    )
    page.locator("details[data-folded]").evaluate_all(
        "els => els.forEach(el => { el.open = false; delete el.dataset.folded; })"
    )
    assert len(controls) == rendered, f"{rendered} controls, {len(controls)} named on {page.url}"


@contextmanager
def sent(page: Any) -> Iterator[None]:
    """Wait for the page that a form sent inside the block (or a link followed) brings."""
    with page.expect_navigation(wait_until="load"):
        yield


@dataclass
class BrowsingOrganiser:
    """A logged-in organiser's browser, in one language: ``visit`` opens a page of the site
    and checks it (:func:`check_page`); ``text`` is interface text in the language."""

    page: Any
    server: LiveServer
    language: str
    email: str

    @property
    def service(self) -> BadgeService:
        return self.server.service

    def visit(self, path: str) -> None:
        """Open ``path`` (on this site) and check the page."""
        self.page.goto(self.server.url + path)
        self.check()

    def check(self) -> None:
        """Check the page shown (after following a link or sending a form)."""
        check_page(self.page, self.language)

    def text(self, message: str, **variables: Any) -> str:
        """``message`` as the pages show it in this browser's language."""
        return ui_text(self.language, message, **variables)

    def shoot(self, name: str) -> Path:
        """Keep a screenshot named after the step and the language."""
        return shoot(self.page, f"{name}-{self.language}")


ORGANISER_EMAIL = "anne@utrecht.example"
ORGANISER_PASSWORD = "vier losse woorden hier"
ISSUER_SLUG = "utrecht"


def log_in(page: Any, server: LiveServer, email: str, password: str, language: str) -> None:
    """Choose the language, then log in through the log-in form."""
    page.goto(f"{server.url}/language/{language}?next=/login")
    check_page(page, language)
    page.get_by_label(ui_text(language, "Email address")).fill(email)
    page.get_by_label(ui_text(language, "Password"), exact=True).fill(password)
    with sent(page):
        page.get_by_role("button", name=ui_text(language, "Log in")).click()
    assert page.url == f"{server.url}/admin/", page.url


@pytest.fixture
def language() -> str:
    """The language of the browser (tests parametrize it)."""
    return "en"


@pytest.fixture
def organiser(page: Any, live_server: LiveServer, language: str) -> BrowsingOrganiser:
    """Utrecht City of Learning, and its organiser logged in with ``language`` chosen."""
    service = live_server.service
    service.create_issuer(ISSUER_SLUG, "Utrecht City of Learning", url="https://utrecht.example")
    service.accounts.create_user(
        ORGANISER_EMAIL, "Anne Jansen", ORGANISER_PASSWORD, "organiser", ISSUER_SLUG
    )
    log_in(page, live_server, ORGANISER_EMAIL, ORGANISER_PASSWORD, language)
    return BrowsingOrganiser(page, live_server, language, ORGANISER_EMAIL)
