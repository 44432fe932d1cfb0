"""The credential page and the verify page in Dutch and in English, in a real browser: the
language switch in the header, ``<html lang>``, and the interface text (verdict, check titles,
buttons) in the chosen language."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, check_page, sent, shoot

ACHIEVEMENT = {
    "type": ["Achievement"],
    "name": "Stadsnatuur Onderzoeker",
    "description": "Mapped the wildlife of a city park over four visits.",
    "criteria": {"narrative": "Record observations on four visits and present them."},
}
#: The words a person sees, written out per language (not looked up in the catalogue).
WORDS = {
    "nl": {
        "language link": "Nederlands",
        "valid": "Geldig",
        "not valid": "Niet geldig",
        "passed": "Deze badge doorstond elke controle.",
        "failed": "Deze badge haalde 1 controle niet. Hieronder staat waarom.",
        "checks": "Controles",
        "pass": "Voldoende",
        "take it along": "Neem deze badge mee",
        "verify heading": "Badge controleren",
        "badge field": "Badgetekst of link",
        "verify button": "Controleren",
        "validity": "Geldigheidsperiode",
        "issuer key": "Sleutel hoort bij de uitgever",
        "signature json": "Handtekening (Data Integrity-bewijs)",
        "signature jwt": "Handtekening (VC-JWT)",
    },
    "en": {
        "language link": "English",
        "valid": "Valid",
        "not valid": "Not valid",
        "passed": "This badge passed every check.",
        "failed": "This badge failed 1 check. See below why.",
        "checks": "Checks",
        "pass": "Pass",
        "take it along": "Take this badge with you",
        "verify heading": "Verify a badge",
        "badge field": "Badge text or link",
        "verify button": "Verify",
        "validity": "Validity period",
        "issuer key": "Key belongs to the issuer",
        "signature json": "Signature (Data Integrity proof)",
        "signature jwt": "Signature (VC-JWT)",
    },
}


def _check_titles(page: Any) -> list[str]:
    return [title.strip() for title in page.locator(".check-title").all_inner_texts()]


def _switch_language(page: Any, language: str) -> None:
    """Follow the header's link to ``language``: the same page comes back in it."""
    here = page.url
    switch = page.get_by_role("navigation", name="Language").or_(
        page.get_by_role("navigation", name="Taal")
    )
    with sent(page):
        switch.get_by_role("link", name=WORDS[language]["language link"]).click()
    assert page.url == here
    check_page(page, language)


def test_the_credential_page_in_dutch_then_english(page: Any, live_server: LiveServer) -> None:
    service = live_server.service
    service.create_issuer("rotterdam", "Rotterdam City of Learning")
    issued = service.issue("rotterdam", ACHIEVEMENT, "sam@example.org")
    path = issued.credential_id.removeprefix(live_server.url)
    page.goto(f"{live_server.url}/language/nl?next={path}")
    assert page.url == issued.credential_id
    for language in ("nl", "en"):
        if language == "en":
            _switch_language(page, "en")
        words = WORDS[language]
        check_page(page, language)
        expect(page.locator("h1")).to_have_text("Stadsnatuur Onderzoeker")
        expect(page.locator(".verdict h2")).to_have_text(words["valid"])
        expect(page.locator(".verdict")).to_contain_text(words["passed"])
        expect(page.get_by_role("heading", name=words["checks"], exact=True)).to_be_visible()
        expect(page.get_by_role("heading", name=words["take it along"])).to_be_visible()
        titles = _check_titles(page)
        for title in (words["validity"], words["issuer key"], words["signature json"]):
            assert title in titles, (language, titles)
        statuses = page.locator(".check-pass .check-status").all_inner_texts()
        assert statuses and {s.strip() for s in statuses} == {words["pass"]}
        shoot(page, f"credential-page-{language}")
    # The choice is remembered: the next visit is in English too.
    page.goto(issued.credential_id)
    check_page(page, "en")


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_verify_page(page: Any, live_server: LiveServer, language: str) -> None:
    service = live_server.service
    service.create_issuer("utrecht", "Utrecht City of Learning", proof_format="jwt")
    issued = service.issue("utrecht", ACHIEVEMENT, "kim@example.org")
    words = WORDS[language]
    page.goto(f"{live_server.url}/language/{language}?next=/verify")
    check_page(page, language)
    expect(page.locator("h1")).to_have_text(words["verify heading"])

    page.get_by_label(words["badge field"]).fill(issued.text)
    with sent(page):
        page.get_by_role("button", name=words["verify button"], exact=True).click()
    check_page(page, language)
    expect(page.locator(".verdict h2")).to_have_text(words["valid"])
    expect(page.locator(".verdict")).to_contain_text(words["passed"])
    assert words["signature jwt"] in _check_titles(page)
    shoot(page, f"verify-valid-jwt-{language}")

    # The same badge with one claim changed: its signature no longer matches.
    header, payload, signature = issued.text.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["name"] = "Vervalst"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    page.get_by_label(words["badge field"]).fill(f"{header}.{forged}.{signature}")
    with sent(page):
        page.get_by_role("button", name=words["verify button"], exact=True).click()
    check_page(page, language)
    expect(page.locator(".verdict h2")).to_have_text(words["not valid"])
    expect(page.locator(".verdict")).to_contain_text(words["failed"])
    failed = page.locator(".check-fail .check-title").all_inner_texts()
    assert [title.strip() for title in failed] == [words["signature jwt"]]
    shoot(page, f"verify-forged-jwt-{language}")


@pytest.mark.parametrize(
    ("html", "problem"),
    [
        ('<html lang="en"><body><h1>Hi</h1><input id="a"></body></html>', "without a name"),
        ('<html lang="en"><body><h1>Hi</h1><select></select></body></html>', "without a name"),
        (
            '<html lang="en"><body><h1>Hi</h1><details><summary>More</summary>'
            "<input type=checkbox></details></body></html>",
            "without a name",
        ),
        ('<html lang="en"><body><h2>No h1</h2></body></html>', "count"),
        ('<html lang="nl"><body><h1>Hallo</h1></body></html>', "lang"),
    ],
)
def test_the_page_check_finds_what_it_looks_for(page: Any, html: str, problem: str) -> None:
    page.set_content(html)
    with pytest.raises(AssertionError, match=problem):
        check_page(page, "en", timeout=500)
    page.set_content(
        '<html lang="en"><body><h1>Hi</h1><label for="a">Name</label><input id="a">'
        '<details><summary>More</summary><input type=checkbox aria-label="Tick">'
        "</details><button>Send</button></body></html>"
    )
    check_page(page, "en")
    assert page.locator("details").get_attribute("open") is None  # folded again


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_public_pages_of_the_demo_pass_the_page_check(
    page: Any, live_server: LiveServer, language: str
) -> None:
    from core.demo import seed_demo

    service = live_server.service
    seed_demo(service, only_if_empty=False)
    catalogue = service.catalogue
    activity = catalogue.search_activities()[0]
    playlist = catalogue.list_playlists()[0]
    achievement = catalogue.list_achievements()[0]
    page.goto(f"{live_server.url}/language/{language}?next=/")
    check_page(page, language)
    for path in (
        "/activities",
        f"/activities/{activity.public_id}",
        f"/achievements/{achievement.public_id}",
        f"/playlists/{playlist.public_id}",
        f"/issuers/{activity.issuer_slug}",
        "/verify",
        "/login",
    ):
        page.goto(live_server.url + path)
        check_page(page, language)
        if path == "/activities":
            shoot(page, f"demo-activities-{language}")
