"""The LTI tool served for browser tests: the app on a free port of 127.0.0.1 (fetching from
loopback allowed, for the platform's keys), registered by hand with a running test platform
on another port of 127.0.0.1 (the same site for cookies: ports do not count), and browser
contexts in a language."""

from __future__ import annotations

import functools
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from core.service import BadgeService
from tests.browser.conftest import PAGE_TIMEOUT_MS, PO_FILE, LiveServer
from tests.conftest import make_settings
from tests.lti.conftest import register
from tests.lti_platform import CLAIM_LAUNCH_PRESENTATION, ClaimsEdit, TestPlatform

#: The browser locale (and the launches' ``launch_presentation.locale``) of each language.
LOCALES = {"nl": "nl-NL", "en": "en-GB"}


def free_port() -> int:
    """A port of 127.0.0.1 free now (the tool's base URL must be known before it is served)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServedSite:
    """The served tool and the test platform it is registered with."""

    server: LiveServer
    platform: TestPlatform

    @property
    def service(self) -> BadgeService:
        return self.server.service


@contextmanager
def served_tool(tmp_path: Path, **registration: Any) -> Iterator[tuple[LiveServer, TestPlatform]]:
    """The tool served and registered with a running test platform (stopped afterwards);
    ``registration`` adds to the registration (e.g. ``email_trusted=True``)."""
    port = free_port()
    settings = replace(
        make_settings(tmp_path), base_url=f"http://127.0.0.1:{port}", allow_private_fetch=True
    )
    service = BadgeService(settings)
    service.upgrade()
    try:
        with TestPlatform() as platform, LiveServer(service, port) as server:
            register(service, platform, **registration)
            platform.set_tool(
                launch_url=f"{server.url}/lti/launch",
                login_url=f"{server.url}/lti/login",
                jwks=service.lti.tool_jwks,
            )
            yield server, platform
    finally:
        service.engine.dispose()


@contextmanager
def page_in(browser: Any, language: str, **options: Any) -> Iterator[Any]:
    """A tab of a new browser context in ``language`` (``options`` for the context, e.g.
    ``java_script_enabled=False``)."""
    context = browser.new_context(locale=LOCALES[language], **options)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def in_language(language: str) -> ClaimsEdit:
    """A launch's claims edit asking for the pages in ``language``
    (``launch_presentation.locale``)."""

    def edit(claims: dict[str, Any]) -> None:
        claims[CLAIM_LAUNCH_PRESENTATION]["locale"] = LOCALES[language]

    return edit


@functools.cache
def dutch_with(po_name: str) -> dict[Any, Any]:
    """The Dutch the pages use: messages.po with an area's own ``po_name`` merged in (as at
    runtime, messages.po wins), by message id (a (singular, plural) tuple for plurals)."""
    merged: dict[Any, Any] = {}
    for path in (PO_FILE, PO_FILE.with_name(po_name)):
        with path.open("rb") as handle:
            for message in read_po(handle, locale="nl"):
                merged.setdefault(message.id, message.string)
    return merged
