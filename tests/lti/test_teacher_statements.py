"""The teacher's page costs the same number of SQL statements whatever the size of the class:
a class of 3 and a class of 30, read from the test platform's class list (NRPS), each student
with evidence waiting, approved (badge earned, grade queued) or rejected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from core.service import BadgeService
from lti_tool.lti import teacher_class
from tests.lti.conftest import page_text, site_on
from tests.lti.test_teacher_pages import ISSUER, Classroom, class_rows, make_catalogue, pupil
from tests.lti_platform import CourseContext, PlatformUser, TestPlatform, instructor

SMALL_COURSE = CourseContext(id="course-small", label="CKV-1", title="CKV klein")
LARGE_COURSE = CourseContext(id="course-large", label="CKV-2", title="CKV groot")
#: What each student did, in turn: evidence waiting, evidence approved, evidence rejected.
ROUND = ("pending", "approved", "rejected")
PDF = b"%PDF-1.4\n% a photo series\n"


class StatementCount:
    """SQL statements sent to a database while counting (SQLite's explicit ``BEGIN`` left out,
    as PostgreSQL's driver sends its own implicitly), as ``bench/lti_launches.py`` counts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            self.count += 1

    def __enter__(self) -> StatementCount:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


def class_of(size: int, prefix: str) -> list[PlatformUser]:
    return [pupil(f"{prefix}-{i:02d}", f"Leerling {prefix.upper()}{i:02d}") for i in range(size)]


@pytest.fixture
def classroom(
    tmp_path: Path, platform: TestPlatform, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Classroom]:
    """On SQLite and on PostgreSQL; every teacher page reads the class list from the platform
    (none is reused from an earlier page), so both pages do the same work."""
    monkeypatch.setattr(teacher_class, "CLASS_LIST_FRESH_SECONDS", 0)
    site = site_on(tmp_path, platform, database_url)
    yield Classroom(site, make_catalogue(site.service))
    site.service.engine.dispose()


def fill(classroom: Classroom, course: CourseContext, students: list[PlatformUser]) -> None:
    """The class of ``course`` on the platform; each student opens the item and hands in
    evidence, which waits, is approved or is rejected (in turn)."""
    classroom.platform.members[course.id] = [instructor(), *students]
    evidence = classroom.service.evidence
    activity = classroom.catalogue.activity.public_id
    for index, student in enumerate(students):
        classroom.launch(student, context=course, link=f"item-{course.id}")
        handed_in = evidence.submit(
            classroom.learner_of(student), activity, file_name="fotos.pdf", file_data=PDF
        )
        outcome = ROUND[index % len(ROUND)]
        if outcome != "pending":
            evidence.review(
                handed_in.public_id,
                approve=outcome == "approved",
                reviewer="organiser@rotterdam.example",
                comment="" if outcome == "approved" else "Maak er vijf.",
            )


def statements_of_teacher_pages(
    classroom: Classroom, course: CourseContext, **options: Any
) -> tuple[int, int, Any]:
    """SQL statements of the teacher's launch of the course's item and of a reload of the
    page; and the page."""
    engine = classroom.service.engine
    link = f"item-{course.id}"
    with StatementCount(engine) as launch:
        browser, path, page = classroom.launch(instructor(), context=course, link=link, **options)
    assert page.status_code == 200, page_text(page)
    with StatementCount(engine) as reload:
        again = browser.get(path)
    assert again.status_code == 200, page_text(again)
    return launch.count, reload.count, again


def test_a_teacher_page_costs_the_same_statements_for_3_and_for_30_students(
    classroom: Classroom,
) -> None:
    small, large = class_of(3, "k"), class_of(30, "g")
    fill(classroom, SMALL_COURSE, small)
    fill(classroom, LARGE_COURSE, large)
    for course in (SMALL_COURSE, LARGE_COURSE):  # the platform's keys and the courses are known
        classroom.launch(instructor(), context=course, link=f"item-{course.id}")

    small_launch, small_reload, small_page = statements_of_teacher_pages(classroom, SMALL_COURSE)
    large_launch, large_reload, large_page = statements_of_teacher_pages(classroom, LARGE_COURSE)

    # Both pages show their whole class, each student in their state, and the evidence waiting.
    for page, students in ((small_page, small), (large_page, large)):
        rows = class_rows(page)
        assert list(rows) == [s.name for s in students]
        for index, student in enumerate(students):
            expected = {
                "pending": "Evidence waiting for review",
                "approved": "Badge earned",
                "rejected": "Evidence rejected",
            }[ROUND[index % len(ROUND)]]
            assert expected in rows[student.name], rows[student.name]
        waiting = len(students) // len(ROUND)
        assert f"Evidence to review: {waiting}" in page_text(page)
        assert page.get_data(as_text=True).count("Download fotos.pdf") == waiting
        assert "Waiting to be sent" in page_text(page)
    assert (large_launch, large_reload) == (small_launch, small_reload)


def test_without_the_platforms_class_list_the_page_costs_the_same_for_3_and_30_students(
    classroom: Classroom,
) -> None:
    # The platform does not share its class list (no NRPS claim): the class is who launched.
    small, large = class_of(3, "k"), class_of(30, "g")
    fill(classroom, SMALL_COURSE, small)
    fill(classroom, LARGE_COURSE, large)
    for course in (SMALL_COURSE, LARGE_COURSE):
        classroom.launch(instructor(), context=course, link=f"item-{course.id}", with_nrps=False)
    small_launch, small_reload, small_page = statements_of_teacher_pages(
        classroom, SMALL_COURSE, with_nrps=False
    )
    large_launch, large_reload, large_page = statements_of_teacher_pages(
        classroom, LARGE_COURSE, with_nrps=False
    )
    assert len(class_rows(small_page)) == 3 and len(class_rows(large_page)) == 30
    assert (large_launch, large_reload) == (small_launch, small_reload)


def test_a_class_evidence_read_at_once_is_what_each_student_handed_in_for_the_item(
    service: BadgeService,
) -> None:
    """:meth:`EvidenceReview.of_learners` gives each learner what :meth:`of_learner` gives,
    kept to the item's activities (here a playlist's two): texts, links and files with their
    size, reviews, the credential an approval awarded; a merged learner's id answers with the
    learner they were merged into, unknown ids are left out."""
    catalogue = make_catalogue(service)
    second_step = service.catalogue.create_activity(
        ISSUER,
        title="Stadsfotograaf: Delfshaven",
        description="Photograph Delfshaven.",
        achievement_public_id=catalogue.badge.public_id,
        city="Rotterdam",
        completion_mode="evidence_peer",
    )
    learners, evidence = service.learners, service.evidence
    anna, bram, chloe, dewi = (
        learners.find_or_create(email=f"{name}@school.example", email_verified=True).public_id
        for name in ("anna", "bram", "chloe", "dewi")
    )
    first = catalogue.activity.public_id
    approved = evidence.submit(anna, first, file_name="fotos.pdf", file_data=PDF)
    evidence.review(approved.public_id, approve=True, reviewer="organiser@rotterdam.example")
    evidence.submit(anna, second_step.public_id, url="https://photos.example/anna")
    rejected = evidence.submit(bram, second_step.public_id, text="Een foto.")
    evidence.review(
        rejected.public_id, approve=False, reviewer="peer@school.example", comment="Meer!"
    )
    evidence.submit(bram, first, text="Vijf foto's.")
    evidence.submit(dewi, first, text="Dewi's foto's.")
    learners.merge(dewi, chloe)  # Dewi and Chloé are one person: Chloé
    item = {first, second_step.public_id}

    found = evidence.of_learners([anna, bram, chloe, dewi, "no-such-learner"], item)

    expected = {
        learner: [e for e in evidence.of_learner(learner) if e.activity_public_id in item]
        for learner in (anna, bram, chloe, dewi)
    }
    assert found == expected
    assert [len(found[who]) for who in (anna, bram, chloe, dewi)] == [2, 2, 1, 1]
    [anna_file] = [e for e in found[anna] if e.kind == "file"]
    assert anna_file.file_size == len(PDF) and anna_file.credential_id is not None
    assert found[dewi][0].learner_public_id == chloe
    # Only the item's activities count; nobody asked, nothing read.
    assert evidence.of_learners([anna], [second_step.public_id]) == {anna: found[anna][:1]}
    assert evidence.of_learners([], item) == {} == evidence.of_learners([anna], [])
