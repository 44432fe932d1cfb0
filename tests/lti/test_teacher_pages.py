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
from lti_tool.lti import teacher_class
from lti_tool.lti.sessions import FORM_TOKEN_FIELD
from tests.lti.conftest import (
    LtiSite,
    assert_readable_refusal,
    page_text,
    site_on,
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
    iter_scores,
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


@pytest.fixture
def classroom(tmp_path: Path, platform: TestPlatform) -> Iterator[Classroom]:
    """On SQLite."""
    site = site_on(tmp_path, platform)
    platform.members[COURSE.id] = [instructor(), *CLASS]
    yield Classroom(site, make_catalogue(site.service))
    site.service.engine.dispose()


@pytest.fixture
def any_db_classroom(
    tmp_path: Path, platform: TestPlatform, database_url: str
) -> Iterator[Classroom]:
    """On SQLite and on PostgreSQL."""
    site = site_on(tmp_path, platform, database_url)
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


# -- evidence review ----------------------------------------------------------------------------


def test_approving_evidence_awards_a_badge_that_verifies(any_db_classroom: Classroom) -> None:
    classroom = any_db_classroom
    service = classroom.service
    evidence_id = classroom.hand_in(CLASS[0], "Mijn fotoserie over de markt.")
    browser, _path, page = classroom.launch(instructor())

    form = form_for(page, f"/teacher/evidence/{evidence_id}")
    page = after(browser, send(browser, form, decision="approve", comment="Mooi werk!"))

    assert "The evidence of Anna de Vries was approved and the badge awarded." in page_text(page)
    assert "Badge earned" in class_rows(page)["Anna de Vries"]
    assert "No evidence is waiting for review." in page_text(page)
    [badge] = service.learners.badges_of(classroom.learner_of(CLASS[0]))
    assert badge.achievement_public_id == classroom.catalogue.badge.public_id
    assert badge.source_kind == "evidence"
    assert badge.credential_id is not None
    assert service.evidence.get(evidence_id).reviewer == instructor().email
    assert service.verify(service.get_credential(badge.credential_id).text).valid


def test_a_rejection_needs_a_comment_and_the_student_sees_it(classroom: Classroom) -> None:
    service = classroom.service
    evidence_id = classroom.hand_in(CLASS[1], "Een foto.")
    browser, _path, page = classroom.launch(instructor())
    form = form_for(page, f"/teacher/evidence/{evidence_id}")

    refused = send(browser, form, decision="reject", comment="   ")
    assert refused.status_code == 400
    assert "Write a comment telling Bram Visser why." in page_text(refused)
    # The comment field that was refused says so, and points at the explanation.
    assert re.search(
        r'<textarea[^>]*aria-describedby="comment-hint-1 problem"[^>]*aria-invalid="true"',
        refused.get_data(as_text=True),
    )
    assert service.evidence.get(evidence_id).status == "pending"

    page = after(browser, send(browser, form, decision="reject", comment="Maak er vijf."))
    assert "Evidence rejected" in class_rows(page)["Bram Visser"]
    assert "Maak er vijf." in class_rows(page)["Bram Visser"]
    reviewed = service.evidence.get(evidence_id)
    assert (reviewed.status, reviewed.review_comment) == ("rejected", "Maak er vijf.")
    assert service.learners.badges_of(classroom.learner_of(CLASS[1])) == []


def test_approving_twice_awards_once(classroom: Classroom) -> None:
    evidence_id = classroom.hand_in(CLASS[0], "Foto's van de markt.")
    browser, _path, page = classroom.launch(instructor())
    form = form_for(page, f"/teacher/evidence/{evidence_id}")

    first = send(browser, form, decision="approve")
    second = send(browser, form, decision="approve")

    assert (first.status_code, second.status_code) == (303, 303)
    assert len(classroom.service.learners.badges_of(classroom.learner_of(CLASS[0]))) == 1


# -- award and revoke ---------------------------------------------------------------------------


def test_a_teacher_awards_the_badge_once_however_often_they_click(
    any_db_classroom: Classroom,
) -> None:
    classroom = any_db_classroom
    service = classroom.service
    classroom.launch(CLASS[1])
    browser, _path, page = classroom.launch(instructor())
    form = form_for(page, "/teacher/award", student=row_key(page, "Bram Visser"))

    responses = [send(browser, form) for _ in range(3)]

    assert [r.status_code for r in responses] == [303, 303, 303]
    page = browser.get(responses[0].headers["Location"])
    assert "The badge was awarded to Bram Visser." in page_text(page)
    assert "Badge earned" in class_rows(page)["Bram Visser"]
    again = browser.get(responses[-1].headers["Location"])
    assert "Bram Visser already holds this badge: nothing new was issued." in page_text(again)
    [badge] = service.learners.badges_of(classroom.learner_of(CLASS[1]))
    assert badge.source_kind == "teacher"
    assert badge.credential_id is not None
    credential = service.get_credential(badge.credential_id)
    assert service.verify(credential.text).valid


def test_a_revoked_badge_fails_verification_on_its_status(any_db_classroom: Classroom) -> None:
    classroom = any_db_classroom
    service = classroom.service
    classroom.launch(CLASS[2])
    browser, _path, page = classroom.launch(instructor())
    key = row_key(page, "Chloé Smit")
    page = after(browser, send(browser, form_for(page, "/teacher/award", student=key)))
    [badge] = service.learners.badges_of(classroom.learner_of(CLASS[2]))
    assert badge.credential_id is not None
    revoke = form_for(page, "/teacher/revoke", student=key)

    no_reason = send(browser, revoke, reason="")
    assert no_reason.status_code == 400
    assert "Give a reason for revoking the badge of Chloé Smit." in page_text(no_reason)
    assert '<details class="revoke" open>' in no_reason.get_data(as_text=True)
    assert service.verify(service.get_credential(badge.credential_id).text).valid

    page = after(browser, send(browser, revoke, reason="Awarded to the wrong student."))
    assert "The badge of Chloé Smit was revoked." in page_text(page)
    assert "Badge revoked" in class_rows(page)["Chloé Smit"]
    report = service.verify(service.get_credential(badge.credential_id).text)
    assert not report.valid
    failed = [c.id for c in report.checks if c.status == "fail"]
    assert any("status" in check for check in failed), failed

    # After a revocation the teacher may award again: a new round, a new credential.
    page = after(browser, send(browser, form_for(page, "/teacher/award", student=key)))
    assert "Badge earned" in class_rows(page)["Chloé Smit"]
    assert len(service.learners.badges_of(classroom.learner_of(CLASS[2]))) == 2


def test_awarding_a_student_who_never_opened_the_item_makes_their_learner(
    classroom: Classroom,
) -> None:
    """The teacher's award is the one reason to create a learner for a class member: the badge
    needs a holder. The student's first launch later finds the same learner."""
    service = classroom.service
    browser, _path, page = classroom.launch(instructor())
    page = after(browser, send(browser, form_for(page, "/teacher/award", student="u:s-anna")))
    assert "Badge earned" in class_rows(page)["Anna de Vries"]
    learner = classroom.learner_of(CLASS[0])
    assert service.learners.primary_email(learner) == "s-anna@school.example"
    classroom.launch(CLASS[0])
    assert classroom.learner_of(CLASS[0]) == learner
    assert len(service.learners.badges_of(learner)) == 1


# -- the walls ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "0" * 64], ids=["missing", "empty", "wrong"])
def test_a_form_without_the_launchs_token_is_refused(
    classroom: Classroom, token: str | None
) -> None:
    service = classroom.service
    evidence_id = classroom.hand_in(CLASS[0], "Foto's.")
    browser, _path, page = classroom.launch(instructor())
    posts = [
        (form_for(page, f"/teacher/evidence/{evidence_id}"), {"decision": "approve"}),
        (form_for(page, "/teacher/award", student="u:s-bram"), {}),
    ]
    for form, extra in posts:
        fields = {
            k: v for k, v in form["fields"].items() if k not in {FORM_TOKEN_FIELD, "decision"}
        }
        if token is not None:
            fields[FORM_TOKEN_FIELD] = token
        response = browser.post(form["action"], data={**fields, **extra})
        assert response.status_code == 400
        assert_readable_refusal(response)
        assert "This form was not sent from this course item's page." in page_text(response)
    assert service.evidence.get(evidence_id).status == "pending"
    assert service.learners.badges_of(classroom.learner_of(CLASS[0])) == []


def test_a_token_of_another_launch_is_refused(classroom: Classroom) -> None:
    """Each launch's forms carry its own token: one teacher's page cannot post into another
    teacher's launch."""
    classroom.launch(CLASS[1])
    browser, _path, page = classroom.launch(instructor())
    _other_browser, other_path, _other = classroom.launch(instructor("teacher-2"))
    form = form_for(page, "/teacher/award", student=row_key(page, "Bram Visser"))
    other_launch = other_path.rsplit("/", 1)[-1]
    action = form["action"].replace(_launch_id_of(form["action"]), other_launch)
    response = browser.post(action, data=form["fields"])
    assert_readable_refusal(response)
    assert response.status_code == 400
    assert classroom.service.learners.badges_of(classroom.learner_of(CLASS[1])) == []


def _launch_id_of(url: str) -> str:
    found = re.search(r"/lti/session/([^/]+)/teacher/", url)
    assert found, url
    return found.group(1)


def test_a_student_cannot_reach_the_teachers_pages(classroom: Classroom) -> None:
    service = classroom.service
    evidence_id = classroom.hand_in(CLASS[1], "Mijn eigen foto's.")
    _teacher_browser, _path, teacher_page = classroom.launch(instructor())
    award_form = form_for(teacher_page, "/teacher/award", student="u:s-bram")
    student_browser, student_path, student_page = classroom.launch(CLASS[1])
    assert student_page.status_code == 200
    assert "Your class" not in page_text(student_page)
    launch_id = student_path.rsplit("/", 1)[-1]
    # The student's own launch, with its own (valid) form token.
    from lti_tool.lti.sessions import form_token, load_session

    with classroom.site.app.test_request_context():
        token = form_token(load_session(service, launch_id))
    base = f"/lti/session/{launch_id}/teacher"
    attempts = [
        student_browser.post(
            f"{base}/award", data={FORM_TOKEN_FIELD: token, "student": "u:s-bram", "round": "0"}
        ),
        student_browser.post(
            f"{base}/evidence/{evidence_id}",
            data={FORM_TOKEN_FIELD: token, "decision": "approve"},
        ),
        student_browser.post(
            f"{base}/revoke", data={FORM_TOKEN_FIELD: token, "student": "u:s-bram", "reason": "x"}
        ),
        student_browser.post(f"{base}/grades", data={FORM_TOKEN_FIELD: token}),
        student_browser.get(f"{base}/evidence/{evidence_id}/file"),
    ]
    for response in attempts:
        assert response.status_code == 403, page_text(response)
        assert_readable_refusal(response)
        assert "Only teachers of this course can use this page." in page_text(response)
    assert service.evidence.get(evidence_id).status == "pending"
    assert service.learners.badges_of(classroom.learner_of(CLASS[1])) == []
    assert award_form["fields"][FORM_TOKEN_FIELD] != token


def test_a_teacher_of_another_course_sees_and_touches_nothing_of_this_one(
    any_db_classroom: Classroom,
) -> None:
    classroom = any_db_classroom
    service = classroom.service
    platform = classroom.platform
    platform.members[OTHER_COURSE.id] = [
        instructor("teacher-bio"),
        pupil("s-dewi", "Dewi Bakker"),
    ]
    evidence_id = classroom.hand_in(CLASS[1], "Foto's uit Feijenoord.")
    # The same activity, added to the other course as its own course item.
    browser, _path, page = classroom.launch(
        instructor("teacher-bio"), context=OTHER_COURSE, link="item-bio"
    )

    text = page_text(page)
    assert list(class_rows(page)) == ["Dewi Bakker"]
    for name in ("Anna de Vries", "Bram Visser", "Chloé Smit", "Foto's uit Feijenoord."):
        assert name not in text
    assert evidence_id not in page.get_data(as_text=True)

    token = form_for(page, "/teacher/award", student="u:s-dewi")["fields"][FORM_TOKEN_FIELD]
    base = _launch_id_of(form_for(page, "/teacher/award")["action"])
    prefix = f"/lti/session/{base}/teacher"
    attempts = [
        browser.post(
            f"{prefix}/evidence/{evidence_id}",
            data={FORM_TOKEN_FIELD: token, "decision": "approve"},
        ),
        browser.post(
            f"{prefix}/award", data={FORM_TOKEN_FIELD: token, "student": "u:s-bram", "round": "0"}
        ),
        browser.post(
            f"{prefix}/award",
            data={
                FORM_TOKEN_FIELD: token,
                "student": "l:" + classroom.learner_of(CLASS[1]),
                "round": "0",
            },
        ),
        browser.get(f"{prefix}/evidence/{evidence_id}/file"),
    ]
    messages = [
        "That evidence was not handed in by a student of this course.",
        "That student is not in the class of this course.",
        "That student is not in the class of this course.",
        "That evidence was not handed in by a student of this course.",
    ]
    for response, message in zip(attempts, messages, strict=True):
        assert response.status_code == 404, page_text(response)
        assert_readable_refusal(response)
        assert message in page_text(response)
    assert service.evidence.get(evidence_id).status == "pending"
    assert service.learners.badges_of(classroom.learner_of(CLASS[1])) == []


# -- when the platform's class list is missing ---------------------------------------------------


def test_when_the_platform_is_down_the_page_shows_the_students_known_from_launches(
    classroom: Classroom,
) -> None:
    evidence_id = classroom.hand_in(CLASS[1], "Foto's van de markt.")
    # Chloé opened another item of the same course; Anna never opened anything.
    classroom.launch(CLASS[2], link="item-debate", activity=classroom.catalogue.other_activity)
    browser, path, _page = classroom.launch(instructor(), follow=False)
    classroom.platform.close()

    page = browser.get(path)

    assert page.status_code == 200, page_text(page)
    text = page_text(page)
    assert (
        "Test Moodle could not be reached for the class list. Shown are the students who "
        "opened an item of this course." in text
    )
    rows = class_rows(page)
    assert list(rows) == ["Bram Visser", "Chloé Smit"]
    assert "Evidence waiting for review" in rows["Bram Visser"]
    assert "Not started" in rows["Chloé Smit"]
    # The teacher can still review.
    form = form_for(page, f"/teacher/evidence/{evidence_id}")
    page = after(browser, send(browser, form, decision="approve"))
    assert "Badge earned" in class_rows(page)["Bram Visser"]


def test_when_the_platform_is_down_the_last_class_list_read_stands_in(
    classroom: Classroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    classroom.hand_in(CLASS[1], "Foto's van de markt.")
    browser, path, page = classroom.launch(instructor())
    assert list(class_rows(page)) == ["Anna de Vries", "Bram Visser", "Chloé Smit"]
    # The list read is no longer fresh, and the platform is gone.
    monkeypatch.setattr(teacher_class, "CLASS_LIST_FRESH_SECONDS", 0)
    classroom.platform.close()

    page = browser.get(path)

    assert page.status_code == 200, page_text(page)
    assert "Test Moodle could not be reached for the class list. This is the list read at" in (
        page_text(page)
    )
    rows = class_rows(page)
    assert list(rows) == ["Anna de Vries", "Bram Visser", "Chloé Smit"]
    assert "Evidence waiting for review" in rows["Bram Visser"]


def test_a_platform_that_does_not_share_the_class_list_gets_the_students_known_from_launches(
    classroom: Classroom,
) -> None:
    classroom.launch(CLASS[0])
    # A student of another course on the same platform and deployment stays out of this class.
    classroom.launch(pupil("s-dewi", "Dewi Bakker"), context=OTHER_COURSE, link="item-bio")
    _browser, _path, page = classroom.launch(instructor(), with_nrps=False)
    assert page.status_code == 200, page_text(page)
    assert (
        "Test Moodle does not share the class list with this tool. Shown are the students "
        "who opened an item of this course." in page_text(page)
    )
    assert list(class_rows(page)) == ["Anna de Vries"]
    assert not any(r.path.endswith("/memberships") for r in classroom.platform.requests)


def test_the_page_speaks_dutch_when_the_course_does(classroom: Classroom) -> None:
    classroom.hand_in(CLASS[1], "Foto's.")
    _browser, _path, page = classroom.launch(instructor(), language="nl")
    html = page.get_data(as_text=True)
    assert '<html lang="nl">' in html
    text = page_text(page)
    for dutch in (
        "Je klas",
        "Bewijs dat op beoordeling wacht",
        "Niet begonnen",
        "21e-eeuwse vaardigheden in deze cursus",
        "Rol Docent",
    ):
        assert dutch in text
    assert "Not started" not in text and "Your class" not in text


# -- grades -------------------------------------------------------------------------------------


def test_the_grade_column_shows_what_the_gradebook_got_and_grades_can_be_sent_again(
    classroom: Classroom,
) -> None:
    from core.workers import run_worker

    service = classroom.service
    classroom.launch(CLASS[1])  # Bram's launch names the item's gradebook column
    browser, path, page = classroom.launch(instructor())
    assert "No grade yet" in class_rows(page)["Bram Visser"]
    page = after(
        browser, send(browser, form_for(page, "/teacher/award", student=row_key(page, "Bram")))
    )
    assert "Waiting to be sent" in class_rows(page)["Bram Visser"]

    run_worker(service, once=True)
    page = browser.get(path)
    row = class_rows(page)["Bram Visser"]
    assert "Sent" in row and "100 / 100" in row
    assert [s["scoreGiven"] for s in iter_scores(classroom.platform, "s-bram")] == [100]

    page = after(browser, send(browser, form_for(page, "/teacher/grades")))
    assert "1 grade is on its way to the gradebook again." in page_text(page)
    run_worker(service, once=True)
    scores = list(iter_scores(classroom.platform, "s-bram"))
    assert len(scores) == 2
    assert scores[1]["timestamp"] > scores[0]["timestamp"]
    # Students without the badge have no grade to send.
    assert "No grade yet" in class_rows(page)["Anna de Vries"]


# -- the class's learners, read in bulk ----------------------------------------------------------


def test_a_class_lists_learners_in_a_few_queries_following_merges(service: BadgeService) -> None:
    """The page reads a class's learners and badges in a constant number of queries; a learner
    merged into another answers as that one; users without a learner are left out."""
    from sqlalchemy import event

    from core.awarding import AwardRequest

    learners = service.learners
    platform = "https://lms.example|tool"
    made = [
        learners.find_or_create(
            lms_platform=platform, lms_user_id=f"u{i}", email=f"u{i}@school.example"
        )
        for i in range(12)
    ]
    kept = learners.find_or_create(email="kept@school.example", display_name="Kept")
    learners.merge(made[0].public_id, kept.public_id)
    service.create_issuer(ISSUER, "Rotterdam City of Learning")
    badge = service.catalogue.create_achievement(
        ISSUER, name="Debat", description="Debat.", criteria_narrative="Debat."
    )
    service.awarding.award(AwardRequest(made[3].public_id, badge.public_id, "teacher", "bulk:1"))

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(service.engine, "before_cursor_execute", count)
    found = learners.find_lms_users(platform, [f"u{i}" for i in range(12)] + ["nobody"])
    held = learners.badges_of_many([m.public_id for m in made])
    event.remove(service.engine, "before_cursor_execute", count)

    assert len(statements) <= 8, statements
    assert set(found) == {f"u{i}" for i in range(12)}
    assert found["u0"].public_id == kept.public_id
    assert found["u5"].emails == ["u5@school.example"]
    assert [b.achievement_public_id for b in held[made[3].public_id]] == [badge.public_id]
    assert held[made[4].public_id] == []
    assert held[made[0].public_id] == learners.badges_of(kept.public_id)


# -- skills coverage, playlists, files ---------------------------------------------------------


def skills_section(page: Any) -> str:
    html = page.get_data(as_text=True)
    found = re.search(r'<section aria-labelledby="skills-heading">(.*?)</section>', html, re.S)
    assert found, "no skills section"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_the_skills_coverage_counts_every_item_of_this_course_and_no_other(
    classroom: Classroom,
) -> None:
    catalogue = classroom.catalogue
    service = classroom.service
    # Two items in this course (the photo walk, the debate), one in another course.
    classroom.launch(CLASS[0], link="item-debate", activity=catalogue.other_activity)
    greens = service.catalogue.create_achievement(
        ISSUER,
        name="Groene buurt",
        description="Vergroent de buurt.",
        criteria_narrative="Plantte een geveltuin.",
        skills=["greencomp:2.1", "slo-21:samenwerken"],
    )
    green_activity = service.catalogue.create_activity(
        ISSUER,
        title="Geveltuinen",
        description="Geveltuinen aanleggen.",
        achievement_public_id=greens.public_id,
        city="Rotterdam",
    )
    classroom.launch(
        instructor("teacher-bio"), context=OTHER_COURSE, link="item-green", activity=green_activity
    )
    # Anna earns the debate badge.
    from core.awarding import AwardRequest

    service.awarding.award(
        AwardRequest(
            classroom.learner_of(CLASS[0]), catalogue.other_badge.public_id, "organiser", "debat-1"
        )
    )

    _browser, _path, page = classroom.launch(instructor())
    section = skills_section(page)

    assert "The 2 Cities of Learning items of this course cover these skills." in section
    assert section.index("21st-century skills (SLO") < section.index("Digital Competence")
    assert "4 of 11 skills covered." in section
    assert "Communication Other 21st-century skills Jongerendebat 1 of 3" in section
    assert "Media literacy Digital literacy Stadsfotograaf: Feijenoord 0 of 3" in section
    assert "Collaboration Other 21st-century skills Not covered yet" in section
    assert "DigComp 2.2: The Digital Competence Framework for Citizens" in section
    assert "Developing digital content" in section
    assert "Geveltuinen" not in section and "GreenComp" not in section


def test_a_playlist_item_shows_each_students_progress(classroom: Classroom) -> None:
    from core.awarding import AwardRequest
    from core.catalogue import PlaylistStepSpec

    service = classroom.service
    catalogue = classroom.catalogue
    route_badge = service.catalogue.create_achievement(
        ISSUER, name="Stadsroute", description="Route.", criteria_narrative="Beide stappen."
    )
    route = service.catalogue.create_playlist(
        ISSUER,
        title="Ontdek Rotterdam",
        description="Twee activiteiten.",
        achievement_public_id=route_badge.public_id,
        steps=[
            PlaylistStepSpec.of_activity(catalogue.activity.public_id),
            PlaylistStepSpec.of_activity(catalogue.other_activity.public_id),
        ],
    )

    def open_route(user: PlatformUser) -> Any:
        browser = classroom.site.browser()
        outcome = browser.launch(
            Launch(
                user,
                context=COURSE,
                resource_link_id="item-route",
                custom={"playlist": route.public_id},
                edit_claims=lambda c: c[CLAIM_LAUNCH_PRESENTATION].update(locale="en"),
            )
        )
        return outcome.page

    open_route(CLASS[0])
    anna = classroom.learner_of(CLASS[0])
    service.awarding.award(
        AwardRequest(anna, catalogue.other_badge.public_id, "organiser", "debat-anna")
    )
    open_route(CLASS[1])
    evidence = service.evidence.submit(
        classroom.learner_of(CLASS[1]), catalogue.activity.public_id, text="Foto's."
    )

    page = open_route(instructor())
    text = page_text(page)
    assert "Ontdek Rotterdam" in text and "All 2 steps" in text
    rows = class_rows(page)
    assert "Under way" in rows["Anna de Vries"] and "1 of 2 steps done" in rows["Anna de Vries"]
    assert "Evidence waiting for review" in rows["Bram Visser"]
    assert "Not started" in rows["Chloé Smit"]
    # The evidence of a step's activity is reviewed from the playlist's page too.
    assert evidence.public_id in page.get_data(as_text=True)


def test_a_handed_in_file_downloads_for_the_teacher_of_the_class_only(
    classroom: Classroom,
) -> None:
    service = classroom.service
    classroom.launch(CLASS[1])
    evidence = service.evidence.submit(
        classroom.learner_of(CLASS[1]),
        classroom.catalogue.activity.public_id,
        file_name="markt.pdf",
        file_data=b"%PDF-1.4 photos of the market",
    )
    browser, _path, page = classroom.launch(instructor())
    link = re.search(r'href="([^"]+/file)" download', page.get_data(as_text=True))
    assert link, "no download link"
    download = browser.get(link.group(1))
    assert download.status_code == 200
    assert download.data == b"%PDF-1.4 photos of the market"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"].startswith("sandbox")

    other, other_path, _other_page = classroom.launch(
        instructor("teacher-bio"), context=OTHER_COURSE, link="item-bio"
    )
    refused = other.get(f"{other_path}/teacher/evidence/{evidence.public_id}/file")
    assert refused.status_code == 404
    assert_readable_refusal(refused)


def test_an_item_without_an_activity_still_opens_for_the_teacher(classroom: Classroom) -> None:
    browser = classroom.site.browser()
    outcome = browser.launch(
        Launch(
            instructor(),
            context=COURSE,
            resource_link_id="item-empty",
            edit_claims=lambda c: c[CLAIM_LAUNCH_PRESENTATION].update(locale="en"),
        )
    )
    assert outcome.page is not None and outcome.page.status_code == 200
    text = page_text(outcome.page)
    assert "This course item does not show an activity yet." in text
    assert list(class_rows(outcome.page)) == ["Anna de Vries", "Bram Visser", "Chloé Smit"]
    # Nothing to award: the item earns no badge.
    assert "/teacher/award" not in outcome.page.get_data(as_text=True)


def test_two_simultaneous_award_clicks_issue_one_credential(any_db_classroom: Classroom) -> None:
    """Two web requests for the same award at the same moment (a double click that reached
    two workers): one credential."""
    import threading

    from tests.lti.conftest import TOOL_BASE_URL

    classroom = any_db_classroom
    browser, _path, page = classroom.launch(instructor())
    form = form_for(page, "/teacher/award", student="u:s-anna")  # never opened the item
    start = threading.Barrier(2)
    statuses: list[int] = []

    def click() -> None:
        client = classroom.site.app.test_client()
        start.wait()
        response = client.post(form["action"], data=form["fields"], base_url=TOOL_BASE_URL)
        statuses.append(response.status_code)

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()

    assert statuses == [303, 303]
    badges = classroom.service.learners.badges_of(classroom.learner_of(CLASS[0]))
    assert len(badges) == 1
    assert "Badge earned" in class_rows(browser.get(_path))["Anna de Vries"]


def test_a_grade_the_gradebook_refused_is_shown_with_its_reason_and_can_be_sent_again(
    classroom: Classroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.workers import run_worker

    service, platform = classroom.service, classroom.platform
    monkeypatch.setattr(teacher_class, "CLASS_LIST_FRESH_SECONDS", 0)
    classroom.launch(CLASS[1])
    browser, path, page = classroom.launch(instructor())
    after(browser, send(browser, form_for(page, "/teacher/award", student="u:s-bram")))
    # The LMS no longer counts Bram in the course when the score arrives: it refuses it.
    members = platform.members[COURSE.id]
    platform.members[COURSE.id] = [m for m in members if m.sub != "s-bram"]
    run_worker(service, once=True)
    platform.members[COURSE.id] = members

    page = browser.get(path)
    row = class_rows(page)["Bram Visser"]
    assert "Badge earned" in row
    assert "Not accepted" in row and "Attempts: 1" in row and "400" in row, row
    page = after(browser, send(browser, form_for(page, "/teacher/grades", student="u:s-bram")))
    assert "1 grade is on its way to the gradebook again." in page_text(page)
    run_worker(service, once=True)
    row = class_rows(browser.get(path))["Bram Visser"]
    assert "Sent" in row and "100 / 100" in row, row
    assert [s["scoreGiven"] for s in iter_scores(platform, "s-bram")] == [100]


def test_inactive_students_are_marked_and_removed_ones_left_out(classroom: Classroom) -> None:
    platform = classroom.platform
    inactive = pupil("s-dewi", "Dewi Bakker")
    inactive.status = "Inactive"
    deleted = pupil("s-evi", "Evi Mulder")
    deleted.status = "Deleted"
    platform.members[COURSE.id] = [*platform.members[COURSE.id], inactive, deleted]
    _browser, _path, page = classroom.launch(instructor())
    rows = class_rows(page)
    assert "inactive in the course" in rows["Dewi Bakker"]
    assert "Evi Mulder" not in rows
    assert "inactive" not in rows["Anna de Vries"]
