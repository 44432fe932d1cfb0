"""People's pages in a real browser: verify a badge, view a credential page."""

from __future__ import annotations

import json
from typing import Any

from tests.browser.conftest import LiveServer, shoot

ACHIEVEMENT = {
    "type": ["Achievement"],
    "name": "Stadsnatuur Onderzoeker",
    "description": "Mapped the wildlife of a city park over four visits.",
    "criteria": {"narrative": "Record observations on four visits and present them."},
}


def test_credential_page_shows_a_valid_badge(page: Any, live_server: LiveServer) -> None:
    service = live_server.service
    service.create_issuer("rotterdam", "Rotterdam City of Learning")
    issued = service.issue("rotterdam", ACHIEVEMENT, "sam@example.org")
    page.goto(issued.credential_id)
    assert "Stadsnatuur Onderzoeker" in page.inner_text("h1")
    assert "valid" in page.inner_text("main").lower()
    shoot(page, "credential-page-en")


def test_verify_page_pasting_a_badge(page: Any, live_server: LiveServer) -> None:
    service = live_server.service
    service.create_issuer("utrecht", "Utrecht City of Learning")
    issued = service.issue("utrecht", ACHIEVEMENT, "kim@example.org")
    page.goto(live_server.url + "/verify")
    page.get_by_label("Badge", exact=False).first.fill(issued.text)
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    text = page.inner_text("main")
    assert "Valid" in text
    shoot(page, "verify-valid-en")

    tampered = json.loads(issued.text)
    tampered["name"] = "Forged"
    page.goto(live_server.url + "/verify")
    page.get_by_label("Badge", exact=False).first.fill(json.dumps(tampered))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    assert "Not valid" in page.inner_text("main")
    shoot(page, "verify-tampered-en")
