"""The student's course item page in Chromium, in Dutch and English, framed as an LMS frames it.

The launch runs through the test LTI platform (real HTTP to the platform) with the tool's test
client against the served app's database; Chromium then opens the launched page inside a
course page's iframe (no cookies needed: the page and its forms carry the launch) and hands in
evidence through the forms. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import expect

from core.catalogue import PlaylistStepSpec
from core.limits import MAX_EVIDENCE_FILE_BYTES
from core.service import BadgeService
from tests.browser.conftest import LiveServer, check_page, shoot
from tests.browser.lti_served import dutch_with, in_language, page_in, served_tool
from tests.lti_platform import (
    Launch,
    PlatformUser,
    Role,
    TestPlatform,
    ToolBrowser,
    student,
)

ORGANISER = "organiser@rotterdam.nl"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LANGUAGES = ["nl", "en"]


def say(language: str, message: str, **variables: Any) -> str:
    """``message`` as the page shows it in ``language``."""
    if language == "nl":
        translated = dutch_with("lti-student.po").get(message)
        assert isinstance(translated, str) and translated, f"no Dutch for {message!r}"
        message = translated
    return message % variables if variables else message


class Catalogue:
    """Rotterdam's activity with skills and a badge, and a playlist starting with it."""

    def __init__(self, service: BadgeService) -> None:
        service.create_issuer("rotterdam", "Rotterdam City of Learning", url="https://r.example")
        catalogue = service.catalogue
        self.badge = catalogue.create_achievement(
            "rotterdam",
            name="Stadsfotograaf",
            description="Fotografeerde de wijk.",
            criteria_narrative="Twaalf foto's.",
            skills=["digcomp-2.2:3.1"],
        ).public_id
        walk = catalogue.create_achievement(
            "rotterdam", name="Wijkwandelaar", description="Liep.", criteria_narrative="Lopen."
        ).public_id
        pathway = catalogue.create_achievement(
            "rotterdam",
            name="Rotterdam ontdekker",
            description="Alles.",
            criteria_narrative="Alles.",
        ).public_id
        start = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
        self.activity = catalogue.create_activity(
            "rotterdam",
            title="Fotografeer je wijk",
            description="Maak twaalf foto's van je wijk en vertel wat ze laten zien.",
            achievement_public_id=self.badge,
            city="Rotterdam",
            location_name="Bibliotheek Feijenoord",
            starts_at=start,
            ends_at=start + timedelta(hours=3),
            completion_mode="evidence_organiser",
        ).public_id
        self.playlist = catalogue.create_playlist(
            "rotterdam",
            title="Ontdek Rotterdam",
            description="Fotografeer en wandel door je wijk.",
            achievement_public_id=pathway,
            steps=[
                PlaylistStepSpec.of_activity(self.activity),
                PlaylistStepSpec.of_achievement(walk),
            ],
        ).public_id


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LiveServer, TestPlatform]]:
    """The tool served, registered with the test platform trusting its e-mail addresses."""
    with served_tool(tmp_path, email_trusted=True) as (server, platform):
        yield server, platform


def launched_path(
    server: LiveServer,
    platform: TestPlatform,
    language: str,
    custom: dict[str, str],
    user: PlatformUser | None = None,
) -> str:
    """Launch the course item (the platform over HTTP, the tool through its test client on
    the served app's database); the launched page's path."""
    browser = ToolBrowser(server.app.test_client(), platform, server.url, language=language)
    launch = Launch(user or student(), custom=custom, edit_claims=in_language(language))
    outcome = browser.launch(launch)
    assert outcome.session_path is not None, outcome.response.get_data(as_text=True)[:500]
    return outcome.session_path


@pytest.fixture
def lms_page(browser: Any, language: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Chromium tab in ``language``, on a course page of the LMS."""
    with page_in(browser, language, viewport={"width": 1100, "height": 2700}) as page:
        yield page


def open_in_frame(page: Any, platform: TestPlatform, url: str) -> Any:
    """Show ``url`` in the iframe of a course page of the platform (at ``localhost``, so the
    tool on 127.0.0.1 is a cross-site frame, as in an LMS); the frame, loaded."""
    port = urlsplit(platform.issuer).port
    course = f"http://localhost:{port}/course?" + urlencode({"tool": url, "storage": ""})
    page.goto(course, wait_until="load")
    # Tall enough for a full-page screenshot of the item.
    page.locator("#tool").evaluate("frame => { frame.height = 2600; frame.width = 1040; }")
    frame = page.locator("#tool").element_handle().content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    return frame


def send(frame: Any, button: Any) -> Any:
    """Click a form's button in the frame and wait for the page it brings; the response."""
    with frame.expect_navigation(wait_until="load") as navigation:
        button.click()
    return navigation.value


@pytest.mark.parametrize("language", LANGUAGES)
def test_student_hands_in_evidence_and_sees_the_badge_in_the_lms_frame(
    served: tuple[LiveServer, TestPlatform], lms_page: Any, language: str, tmp_path: Path
) -> None:
    live_server, lms = served
    service = live_server.service
    catalogue = Catalogue(service)
    path = launched_path(live_server, lms, language, {"activity": catalogue.activity})
    frame = open_in_frame(lms_page, lms, live_server.url + path)
    check_page(frame, language)
    expect(frame.locator("h1")).to_have_text("Fotografeer je wijk")
    expect(frame.get_by_text("Bibliotheek Feijenoord, Rotterdam")).to_be_visible()
    shoot(lms_page, f"lti-student-activity-{language}")

    # A skill's definition opens in a new tab (links leave the frame, under the frame's CSP).
    skill_link = frame.locator("#skills-heading ~ ul a").first
    with lms_page.context.expect_page() as opened:
        skill_link.click()
    opened.value.close()

    # A text.
    frame.get_by_label(say(language, "Write about what you did")).fill(
        "Twaalf foto's van de Hillevliet, van de markt tot de moskee."
    )
    response = send(frame, frame.get_by_role("button", name=say(language, "Hand in the text")))
    assert response.status == 200 and "done=evidence" in frame.url
    check_page(frame, language)
    expect(frame.get_by_role("status")).to_contain_text(
        say(language, "Your evidence was handed in. It now waits for review.")
    )
    expect(frame.get_by_text(say(language, "Waiting for review")).first).to_be_visible()

    # A file too large: a readable 413 in the frame, nothing stored.
    big = tmp_path / "groot.png"
    big.write_bytes(PNG + b"\x00" * (MAX_EVIDENCE_FILE_BYTES + 1 - len(PNG)))
    frame.get_by_label(say(language, "File with your work")).set_input_files(str(big))
    response = send(frame, frame.get_by_role("button", name=say(language, "Hand in the file")))
    assert response.status == 413
    check_page(frame, language)
    expect(frame.get_by_role("alert")).to_contain_text(
        say(language, "This file is too large. Files of at most %(mb)d MB can be handed in.", mb=10)
    )
    shoot(lms_page, f"lti-student-file-too-large-{language}")

    # A photo.
    photo = tmp_path / "hillevliet.png"
    photo.write_bytes(PNG)
    frame.get_by_label(say(language, "File with your work")).set_input_files(str(photo))
    send(frame, frame.get_by_role("button", name=say(language, "Hand in the file")))
    check_page(frame, language)
    expect(frame.get_by_text("hillevliet.png")).to_be_visible()
    shoot(lms_page, f"lti-student-evidence-pending-{language}")
    learner = service.learners.find(email="d.jansen@school.example")
    assert learner is not None
    handed = service.evidence.of_learner(learner.public_id)
    assert sorted(e.kind for e in handed) == ["file", "text"]

    # The organiser approves the text: the page shows the badge, and its links work.
    text_evidence = next(e for e in handed if e.kind == "text")
    service.evidence.review(
        text_evidence.public_id, approve=True, reviewer=ORGANISER, comment="Mooi!"
    )
    frame.goto(live_server.url + path, wait_until="load")
    check_page(frame, language)
    expect(frame.get_by_text(say(language, "Earned"), exact=True)).to_be_visible()
    expect(frame.get_by_text("Mooi!")).to_be_visible()
    shoot(lms_page, f"lti-student-badge-earned-{language}")
    with lms_page.context.expect_page() as opened:
        frame.get_by_role("link", name=say(language, "Open your badge's page")).click()
    credential_page = opened.value
    credential_page.wait_for_load_state("load")
    assert re.search(r"/credentials/[^/]+$", credential_page.url), credential_page.url
    check_page(credential_page, language)
    credential_page.close()
    linkedin = frame.get_by_role("link", name=say(language, "Add to LinkedIn"))
    expect(linkedin).to_have_attribute("target", "_blank")
    assert linkedin.get_attribute("href").startswith("https://www.linkedin.com/profile/add?")


@pytest.mark.parametrize("language", LANGUAGES)
def test_playlist_progress_and_a_view_only_launch_in_the_lms_frame(
    served: tuple[LiveServer, TestPlatform], lms_page: Any, language: str
) -> None:
    live_server, lms = served
    service = live_server.service
    catalogue = Catalogue(service)
    path = launched_path(live_server, lms, language, {"playlist": catalogue.playlist})
    frame = open_in_frame(lms_page, lms, live_server.url + path)
    check_page(frame, language)
    expect(frame.locator("progress")).to_have_attribute("value", "0")
    frame.get_by_label(say(language, "Write about what you did")).fill("Foto's voor de playlist.")
    send(
        frame,
        frame.get_by_role("button", name=re.compile(re.escape(say(language, "Hand in the text")))),
    )
    check_page(frame, language)
    learner = service.learners.find(email="d.jansen@school.example")
    assert learner is not None
    [handed] = service.evidence.of_learner(learner.public_id)
    service.evidence.review(handed.public_id, approve=True, reviewer=ORGANISER)
    frame.goto(live_server.url + path, wait_until="load")
    check_page(frame, language)
    expect(frame.locator("progress")).to_have_attribute("value", "1")
    expect(
        frame.get_by_text(
            say(language, "%(done)d of the %(needed)d steps needed are done.", done=1, needed=2)
        )
    ).to_be_visible()
    shoot(lms_page, f"lti-student-playlist-{language}")

    # Someone without a student role sees the item, an explanation, and no forms.
    looker = PlatformUser("guest-1", [Role.UNKNOWN], name="Kees Gast")
    path = launched_path(live_server, lms, language, {"activity": catalogue.activity}, looker)
    frame = open_in_frame(lms_page, lms, live_server.url + path)
    check_page(frame, language)
    expect(frame.get_by_role("note").first).to_be_visible()
    expect(frame.locator("form")).to_have_count(0)
    shoot(lms_page, f"lti-student-view-only-{language}")
