"""The verification report's status column fits its longest word in Dutch ("Overgeslagen",
"Waarschuwing"): no status runs into the check's title (issue 3 follow-ups)."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import LiveServer, shoot
from tests.browser.test_public_pages import ACHIEVEMENT


def test_dutch_status_words_do_not_overlap_the_check_titles(
    browser: Any, live_server: LiveServer
) -> None:
    service = live_server.service
    service.create_issuer("rotterdam", "Rotterdam City of Learning")
    issued = service.issue("rotterdam", ACHIEVEMENT, "sam@example.org")
    context = browser.new_context(locale="nl-NL", viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.goto(issued.credential_id)
        assert page.locator("html").get_attribute("lang") == "nl"
        statuses = page.locator(".check-status")
        titles = page.locator(".check-title")
        words = statuses.all_inner_texts()
        assert "Overgeslagen" in words  # no recipient given: that check is skipped
        status_boxes = [box for box in (s.bounding_box() for s in statuses.all()) if box]
        title_boxes = [box for box in (t.bounding_box() for t in titles.all()) if box]
        assert len(status_boxes) == len(title_boxes) == len(words) > 3
        for word, status, title in zip(words, status_boxes, title_boxes, strict=True):
            assert status["x"] + status["width"] <= title["x"], word  # the word fits its column
        overflowing = statuses.evaluate_all(
            "items => items.filter(i => i.scrollWidth > i.clientWidth).map(i => i.innerText)"
        )
        assert overflowing == []  # no word sticks out of its column
        assert len({round(box["x"]) for box in title_boxes}) == 1  # titles line up
        shoot(page, "report-status-column-nl")
    finally:
        context.close()
