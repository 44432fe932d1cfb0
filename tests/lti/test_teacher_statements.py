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

from lti_tool.lti import teacher_class
from tests.lti.conftest import page_text, site_on
from tests.lti.test_teacher_pages import Classroom, class_rows, make_catalogue, pupil
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
    classroom: Classroom, course: CourseContext
) -> tuple[int, int, Any]:
    """SQL statements of the teacher's launch of the course's item and of a reload of the
    page; and the page."""
    engine = classroom.service.engine
    link = f"item-{course.id}"
    with StatementCount(engine) as launch:
        browser, path, page = classroom.launch(instructor(), context=course, link=link)
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
