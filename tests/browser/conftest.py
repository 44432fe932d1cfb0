"""Browser tests: Playwright driving Debian's Chromium against the app served on 127.0.0.1.

Screenshots are kept in ``test-artifacts/screenshots/`` (CI keeps that folder as artifacts).
Chromium missing is a failure, not a skip: ``make test`` installs it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from core.service import BadgeService
from lti_tool.app import create_app
from tests.conftest import REPO, make_settings

CHROMIUM = os.environ.get("BADGEBRIDGE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
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
