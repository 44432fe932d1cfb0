"""The teacher's page of a course item in Chromium, in Dutch and in English: the teacher's launch
runs in the browser (the test platform's login initiation → the tool → the platform's auth
endpoint → the auto-posted id_token → the page); students launched before through the same
platform (a test client on the same database). The teacher reads the class, refuses a rejection
without a comment, approves evidence and awards a badge with the page's forms. Every page passes
:func:`check_page`; screenshots are kept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_page, sent, shoot
from tests.browser.lti_served import ServedSite, dutch_with, in_language, page_in, served_tool
from tests.lti.test_teacher_pages import CLASS, COURSE, Catalogue, make_catalogue
from tests.lti_platform import Launch, PlatformUser, ToolBrowser, instructor

LINK = "item-photo"


def words(language: str, message: str, **variables: Any) -> str:
    """What the pages show for the English ``message`` in ``language``."""
    text = message if language == "en" else dutch_with("lti-teacher.po")[message]
    assert text, f"no Dutch for {message!r}"
    return text % variables if variables else text


def row_action(language: str, action: str, whose: str, name: str) -> str:
    """The accessible name of a button in ``name``'s row of the class: the action, then whose
    it is (``whose`` has ``%(name)s``)."""
    return words(language, action) + " " + words(language, whose, name=name)


@dataclass
class TeacherSite(ServedSite):
    """The tool served on 127.0.0.1 and registered with the test platform, a catalogue, and the
    course's class on the platform."""

    catalogue: Catalogue

    def launch(self, user: PlatformUser, language: str) -> Launch:
        """``user``'s launch of the course item showing the evidence activity."""
        return Launch(
            user,
            context=COURSE,
            resource_link_id=LINK,
            resource_link_title=self.catalogue.activity.title,
            custom={"activity": self.catalogue.activity.public_id},
            edit_claims=in_language(language),
        )

    def student_hands_in(self, user: PlatformUser, text: str) -> str:
        """``user`` opens the item (from another browser) and hands in evidence."""
        browser = ToolBrowser(self.server.app.test_client(), self.platform, self.server.url)
        outcome = browser.launch(self.launch(user, "en"))
        assert outcome.response.status_code == 303
        activity = self.catalogue.activity.public_id
        return self.service.evidence.submit(self.learner_of(user), activity, text=text).public_id

    def learner_of(self, user: PlatformUser) -> str:
        """The public id of the learner that ``user``'s launches made."""
        learner = self.service.learners.find(
            lms_platform=f"{self.platform.issuer}|{self.platform.client_id}",
            lms_user_id=user.sub,
        )
        assert learner is not None, f"{user.sub} has no learner"
        return learner.public_id


@pytest.fixture
def teacher_site(tmp_path: Path) -> Iterator[TeacherSite]:
    with served_tool(tmp_path) as (server, platform):
        platform.members[COURSE.id] = [instructor(), *CLASS]
        yield TeacherSite(server, platform, make_catalogue(server.service))


@pytest.fixture
def teacher_page(browser: Any, language: str) -> Iterator[Any]:
    """A page in a browser context of the test's language."""
    with page_in(browser, language) as page:
        yield page


def launch_in_browser(page: Any, site: TeacherSite, language: str) -> None:
    """The platform sends the teacher's browser to the tool's login; the browser does the rest
    and lands on the launched page."""
    initiation = site.platform.initiation(site.launch(instructor(), language))
    page.goto(f"{site.server.url}/lti/login?{urlencode(initiation)}")
    expect(page).to_have_url(re.compile(r"/lti/session/[^/?]+$"))


def class_row(page: Any, name: str) -> Any:
    """The class table's row of ``name``."""
    return page.locator("table.class-table tbody tr").filter(
        has=page.get_by_role("rowheader", name=re.compile(re.escape(name)))
    )


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_teacher_reviews_and_awards_from_the_class_page(
    teacher_page: Any, teacher_site: TeacherSite, language: str
) -> None:
    page, service = teacher_page, teacher_site.service
    bram, chloe = CLASS[1], CLASS[2]
    evidence_id = teacher_site.student_hands_in(bram, "Mijn fotoserie over de markt.")
    teacher_site.student_hands_in(chloe, "Twee foto's.")

    launch_in_browser(page, teacher_site, language)
    check_page(page, language)
    expect(page.locator("h1")).to_have_text("Stadsfotograaf: Feijenoord")
    expect(page.get_by_role("heading", name=words(language, "Your class"))).to_be_visible()
    expect(page.locator("table.class-table tbody tr")).to_have_count(3)
    waiting = words(language, "Evidence waiting for review")
    expect(class_row(page, "Bram Visser")).to_contain_text(waiting)
    expect(class_row(page, "Anna de Vries")).to_contain_text(words(language, "Not started"))
    skills = page.get_by_role("heading", name=words(language, "21st-century skills in this course"))
    expect(skills).to_be_visible()
    shoot(page, f"lti-teacher-class-{language}")

    # A rejection without a comment is explained in the page; nothing changes.
    reject = page.get_by_role(
        "button", name=row_action(language, "Reject", "the evidence of %(name)s", "Bram Visser")
    )
    with sent(page):
        reject.click()
    check_page(page, language)
    expect(page.get_by_role("alert")).to_contain_text(
        words(language, "Write a comment telling %(name)s why.", name="Bram Visser")
    )
    shoot(page, f"lti-teacher-reject-needs-comment-{language}")
    assert service.evidence.get(evidence_id).status == "pending"

    # Approve Bram's evidence with a comment.
    page.get_by_label(words(language, "Comment for %(name)s", name="Bram Visser")).fill("Mooi!")
    approve = row_action(language, "Approve and award the badge", "to %(name)s", "Bram Visser")
    with sent(page):
        page.get_by_role("button", name=approve).click()
    check_page(page, language)
    expect(page.get_by_role("status").filter(has_text="Bram Visser").first).to_contain_text(
        words(
            language,
            "The evidence of %(name)s was approved and the badge awarded.",
            name="Bram Visser",
        )
    )
    expect(class_row(page, "Bram Visser")).to_contain_text(words(language, "Badge earned"))
    assert service.evidence.get(evidence_id).status == "approved"

    # Award Anna the badge with the button in her row.
    award = row_action(language, "Award the badge", "to %(name)s", "Anna de Vries")
    with sent(page):
        page.get_by_role("button", name=award).click()
    check_page(page, language)
    expect(class_row(page, "Anna de Vries")).to_contain_text(words(language, "Badge earned"))
    shoot(page, f"lti-teacher-awarded-{language}")
    earned = [
        b
        for user in (bram, CLASS[0])
        for b in service.learners.badges_of(teacher_site.learner_of(user))
    ]
    assert sorted(b.source_kind for b in earned) == ["evidence", "teacher"]
    for badge in earned:
        assert badge.credential_id is not None
        assert service.verify(service.get_credential(badge.credential_id).text).valid

    # Revoke Anna's badge with a reason: it no longer verifies.
    anna = class_row(page, "Anna de Vries")
    anna.locator("summary").click()
    reason = words(language, "Why is the badge of %(name)s revoked?", name="Anna de Vries")
    page.get_by_label(reason).fill("Per ongeluk toegekend.")
    revoke = row_action(language, "Revoke the badge", "of %(name)s", "Anna de Vries")
    with sent(page):
        page.get_by_role("button", name=revoke).click()
    check_page(page, language)
    expect(class_row(page, "Anna de Vries")).to_contain_text(words(language, "Badge revoked"))
    shoot(page, f"lti-teacher-revoked-{language}")
    [teacher_award] = [b for b in earned if b.source_kind == "teacher"]
    assert teacher_award.credential_id is not None
    report = service.verify(service.get_credential(teacher_award.credential_id).text)
    assert not report.valid
