"""The teacher's page of a course item, driven through real launches from the test platform: the
class from NRPS with each student's state, evidence review, award (once, however often the
button is pressed), revoke, the skills coverage, and the walls around it (form token, role,
course, platform down)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.service import BadgeService
from tests.lti.conftest import (
    LAUNCH_URL,
    LOGIN_URL,
    LtiSite,
    lti_settings,
    make_tool_app,
    page_text,
    register,
    tool_jwks_of,
)
from tests.lti_platform import (
    CLAIM_LAUNCH_PRESENTATION,
    CourseContext,
    Launch,
    PlatformUser,
    Role,
    TestPlatform,
    ToolBrowser,
    html_forms,
    instructor,
)

ISSUER = "rotterdam"
COURSE = CourseContext()
OTHER_COURSE = CourseContext(id="course-202", label="BIO-3", title="Biologie 3")


def pupil(sub: str, name: str) -> PlatformUser:
    """A student of the test platform with their own name and school email."""
    given, family = name.split(" ", 1)
    return PlatformUser(
        sub,
        [Role.LEARNER, Role.INSTITUTION_STUDENT],
        name=name,
        given_name=given,
        family_name=family,
        email=f"{sub}@school.example",
    )


@dataclass
class Catalogue:
    """What the course items show: an activity completed by evidence, and another one."""

    badge: Any
    activity: Any
    other_badge: Any
    other_activity: Any


def make_catalogue(service: BadgeService) -> Catalogue:
    service.create_issuer(ISSUER, "Rotterdam City of Learning", url="https://rotterdam.example")
    catalogue = service.catalogue
    badge = catalogue.create_achievement(
        ISSUER,
        name="Stadsfotograaf",
        description="Photographs a neighbourhood and tells its story.",
        criteria_narrative="A photo series with a story, reviewed by the organiser.",
        skills=["slo-21:mediawijsheid", "slo-21:creatief-denken-en-handelen", "digcomp-2.2:3.1"],
    )
    activity = catalogue.create_activity(
        ISSUER,
        title="Stadsfotograaf: Feijenoord",
        description="Walk through Feijenoord and photograph what makes it home.",
        achievement_public_id=badge.public_id,
        city="Rotterdam",
        location_name="Afrikaanderplein",
        completion_mode="evidence_organiser",
    )
    other_badge = catalogue.create_achievement(
        ISSUER,
        name="Debatteren",
        description="Takes part in a debate.",
        criteria_narrative="Took part in the debate.",
        skills=["slo-21:communiceren", "slo-21:kritisch-denken"],
    )
    other_activity = catalogue.create_activity(
        ISSUER,
        title="Jongerendebat",
        description="A debate at the city hall.",
        achievement_public_id=other_badge.public_id,
        city="Rotterdam",
        completion_mode="organiser_confirms",
    )
    return Catalogue(badge, activity, other_badge, other_activity)


CLASS = [
    pupil("s-anna", "Anna de Vries"),
    pupil("s-bram", "Bram Visser"),
    pupil("s-chloe", "Chloé Smit"),
]


@dataclass
class Classroom:
    """A tool with a catalogue, a course whose item shows the evidence activity, and the
    platform serving the class list."""

    site: LtiSite
    catalogue: Catalogue

    @property
    def service(self) -> BadgeService:
        return self.site.service

    @property
    def platform(self) -> TestPlatform:
        return self.site.platform

    def launch(
        self,
        user: PlatformUser,
        *,
        context: CourseContext = COURSE,
        link: str = "item-photo",
        activity: Any = None,
        follow: bool = True,
        language: str = "en",
        **options: Any,
    ) -> tuple[ToolBrowser, str, Any]:
        """``user`` opens the course item ``link`` (showing ``activity``) with the pages in
        ``language``; returns their browser, the launched page's path and the page."""
        browser = self.site.browser()
        browser.headers["Accept-Language"] = language

        def in_language(claims: dict[str, Any]) -> None:
            claims[CLAIM_LAUNCH_PRESENTATION]["locale"] = language

        options.setdefault("edit_claims", in_language)
        shown = activity or self.catalogue.activity
        outcome = browser.launch(
            Launch(
                user,
                context=context,
                resource_link_id=link,
                resource_link_title=shown.title,
                custom={"activity": shown.public_id},
                **options,
            ),
            follow=follow,
        )
        assert outcome.response.status_code == 303, outcome.response.get_data(as_text=True)
        assert outcome.session_path is not None
        return browser, outcome.session_path, outcome.page

    def learner_of(self, user: PlatformUser) -> str:
        found = self.service.learners.find(
            lms_platform=self.site.registration.learner_platform, lms_user_id=user.sub
        )
        assert found is not None, f"{user.sub} has no learner"
        return found.public_id

    def hand_in(self, user: PlatformUser, text: str) -> str:
        """``user`` opens the item (their learner is made) and hands in evidence."""
        self.launch(user)
        evidence = self.service.evidence.submit(
            self.learner_of(user), self.catalogue.activity.public_id, text=text
        )
        return evidence.public_id


def _site(data_dir: Path, platform: TestPlatform, database_url: str | None = None) -> LtiSite:
    app, service = make_tool_app(lti_settings(data_dir, database_url))
    registration = register(service, platform)
    platform.set_tool(launch_url=LAUNCH_URL, login_url=LOGIN_URL, jwks=tool_jwks_of(app))
    return LtiSite(app, service, platform, registration)


@pytest.fixture
def classroom(tmp_path: Path, platform: TestPlatform) -> Iterator[Classroom]:
    """On SQLite."""
    site = _site(tmp_path, platform)
    platform.members[COURSE.id] = [instructor(), *CLASS]
    yield Classroom(site, make_catalogue(site.service))
    site.service.engine.dispose()


@pytest.fixture
def any_db_classroom(
    tmp_path: Path, platform: TestPlatform, database_url: str
) -> Iterator[Classroom]:
    """On SQLite and on PostgreSQL."""
    site = _site(tmp_path, platform, database_url)
    platform.members[COURSE.id] = [instructor(), *CLASS]
    yield Classroom(site, make_catalogue(site.service))
    site.service.engine.dispose()


# -- reading the page ---------------------------------------------------------------------------


def class_rows(page: Any) -> dict[str, str]:
    """The class table: student name → the text of their row."""
    html = page.get_data(as_text=True)
    table = re.search(r'<table class="class-table">(.*?)</table>', html, re.S)
    assert table, "the page has no class table"
    rows = {}
    for row in re.findall(r"<tr id=\"student-\d+\">(.*?)</tr>", table.group(1), re.S):
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
        name = re.search(r'<th scope="row">\s*([^<]+?)\s*<', row)
        assert name, row
        rows[name.group(1)] = text
    return rows


def form_for(page: Any, action_end: str, **match: str) -> dict[str, Any]:
    """The page's form posting to a URL ending in ``action_end`` whose fields include
    ``match``."""
    forms = [
        f
        for f in html_forms(page.get_data(as_text=True))
        if f["action"].endswith(action_end)
        and all(f["fields"].get(k) == v for k, v in match.items())
    ]
    assert forms, f"no form for {action_end} {match}"
    return forms[0]


def send(browser: ToolBrowser, form: dict[str, Any], **fields: str) -> Any:
    """Post ``form`` with its fields (buttons left out) and ``fields``."""
    data = {k: v for k, v in form["fields"].items() if k != "decision"}
    data.update(fields)
    return browser.post(form["action"], data=data)


def after(browser: ToolBrowser, response: Any) -> Any:
    """Follow a form's 303 to the page."""
    assert response.status_code == 303, page_text(response)
    return browser.get(response.headers["Location"])


def row_key(page: Any, name: str) -> str:
    """The form key of ``name``'s row (from their award or revoke form)."""
    html = page.get_data(as_text=True)
    rows = re.findall(r"<tr id=\"student-\d+\">(.*?)</tr>", html, re.S)
    for row in rows:
        if name in row:
            key = re.search(r'name="student" value="([^"]+)"', row)
            assert key, row
            return key.group(1)
    raise AssertionError(f"no row for {name}")


# -- the class ----------------------------------------------------------------------------------


def test_the_class_comes_from_nrps_with_each_students_state(classroom: Classroom) -> None:
    service = classroom.service
    evidence_id = classroom.hand_in(CLASS[1], "Mijn fotoserie over de markt.")
    classroom.launch(CLASS[2])
    chloe = classroom.learner_of(CLASS[2])
    service.evidence.review(
        service.evidence.submit(
            chloe, classroom.catalogue.activity.public_id, text="Foto's"
        ).public_id,
        approve=True,
        reviewer="organiser@rotterdam.example",
    )

    _browser, _path, page = classroom.launch(instructor())

    assert page.status_code == 200, page_text(page)
    text = page_text(page)
    assert "Stadsfotograaf: Feijenoord" in text and "Stadsfotograaf" in text
    rows = class_rows(page)
    assert list(rows) == ["Anna de Vries", "Bram Visser", "Chloé Smit"], rows
    assert "Not started" in rows["Anna de Vries"]
    assert "Evidence waiting for review" in rows["Bram Visser"]
    assert "Badge earned" in rows["Chloé Smit"]
    assert "Femke Bakker" not in rows, "the teacher is not a student of the class"
    assert "Mijn fotoserie over de markt." in text
    assert evidence_id in page.get_data(as_text=True)
    assert "Role Teacher" in text
    # Reading the class made no learner for the student who never opened the item.
    assert (
        service.learners.find(
            lms_platform=classroom.site.registration.learner_platform, lms_user_id="s-anna"
        )
        is None
    )
