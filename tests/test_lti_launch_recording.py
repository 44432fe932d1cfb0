"""What a launch records, from several web workers: a returning launch reads once and writes
nothing (its course item and the student's placement on it), the first launches of a new course racing in two workers both succeed, and a change
to a registration made through the registry counts at once even though launches keep
registrations in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select

from core.service import BadgeService
from core.storage import LtiContextRecord, LtiPlacementRecord, LtiResourceLinkRecord
from tests.lti_platform import TestPlatform
from tests.test_lti_grades import School, award, open_school, pupil
from tests.test_lti_registry import MOODLE, platform_key, public_jwk, register

CONTEXT = {"id": "course-7", "label": "BURG", "title": "Burgerschap", "type": []}
LINK = {"id": "item-7", "title": "Stadsfotograaf"}


@pytest.fixture(scope="module")
def static_key() -> dict[str, Any]:
    return {"keys": [public_jwk(platform_key(), "platform-1")]}


AGS = {"lineitem": f"{MOODLE}/mod/lti/services.php/7/lineitems/70/lineitem"}


def statements_of(service: BadgeService, action: Any) -> list[str]:
    """The SQL statements ``action()`` sends (SQLite's explicit BEGIN left out)."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        verb = statement.split(None, 1)[0].upper()
        if verb != "BEGIN":
            sent.append(verb)

    event.listen(service.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(service.engine, "before_cursor_execute", record)
    return sent


def test_a_returning_launch_reads_once_and_writes_nothing(
    service: BadgeService, static_key: dict[str, Any]
) -> None:
    registry = service.lti
    register(registry, MOODLE, "c1", ("1",), static_key)
    deployment = registry.find_deployment(MOODLE, "c1", "1")
    assert deployment is not None

    def launch(title: str = "Stadsfotograaf") -> Any:
        return registry.record_launch(
            deployment,
            context=CONTEXT,
            resource_link={**LINK, "title": title},
            custom={"activity": "a-1"},
            ags_endpoint=AGS,
        )

    first = launch()
    again: list[Any] = []
    assert statements_of(service, lambda: again.append(launch())) == ["SELECT"]
    assert again[0] == first
    renamed = statements_of(service, lambda: launch("Stadsfotograaf Noord"))
    assert "UPDATE" in renamed
    link = registry.get_resource_link(deployment, "item-7")
    assert link is not None and link.title == "Stadsfotograaf Noord"


def test_first_launches_of_a_new_course_in_two_workers_both_succeed(
    settings: Any, static_key: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker B looked for the course before worker A inserted it: B's insert meets A's row
    and B goes on with it instead of failing the launch."""
    worker_a, worker_b = BadgeService(settings), BadgeService(settings)
    try:
        worker_a.upgrade()
        register(worker_a.lti, MOODLE, "c1", ("1",), static_key)
        deployment = worker_b.lti.find_deployment(MOODLE, "c1", "1")
        assert deployment is not None
        registry_b = worker_b.lti
        missed: list[str] = []

        def not_there_yet(name: str) -> Any:
            original = getattr(registry_b, name)

            def look(*args: Any, **kwargs: Any) -> Any:
                if name not in missed:  # B's first look, before A's commit
                    missed.append(name)
                    return None
                return original(*args, **kwargs)

            return look

        for name in ("_recorded_placement", "_scoped_context"):
            monkeypatch.setattr(registry_b, name, not_there_yet(name))
        worker_a.lti.record_launch(deployment, context=CONTEXT, resource_link=LINK)
        placement = worker_b.lti.record_launch(deployment, context=CONTEXT, resource_link=LINK)
        assert missed == ["_recorded_placement", "_scoped_context"]
        assert placement.context is not None and placement.context.title == "Burgerschap"
        with worker_a.sessions() as session:
            assert session.scalar(select(func.count()).select_from(LtiContextRecord)) == 1
            assert session.scalar(select(func.count()).select_from(LtiResourceLinkRecord)) == 1
    finally:
        worker_a.engine.dispose()
        worker_b.engine.dispose()


def test_registry_changes_count_at_once_in_the_worker_that_made_them(
    service: BadgeService, static_key: dict[str, Any]
) -> None:
    registry = service.lti
    moodle = register(registry, MOODLE, "c1", ("1", "2"), static_key)
    assert registry.find_platform(MOODLE, "c1") == moodle  # now kept in memory
    registry.update_platform(moodle.public_id, active=False)
    found = registry.find_platform(MOODLE, "c1")
    assert found is not None and not found.active
    registry.remove_deployment(moodle.public_id, "2")
    found = registry.find_platform(MOODLE, "c1")
    assert found is not None and found.deployment_ids == ("1",)
    registry.add_deployment(moodle.public_id, "3")
    found = registry.find_platform(MOODLE, "c1")
    assert found is not None and found.deployment_ids == ("1", "3")
    registry.delete_platform(moodle.public_id)
    assert registry.find_platform(MOODLE, "c1") is None
    key = registry.tool_signing_key()
    rotated = registry.rotate_tool_key()
    assert registry.tool_signing_key().kid == rotated.kid != key.kid


@pytest.fixture
def school(service: BadgeService) -> Iterator[School]:
    with TestPlatform() as platform:
        yield open_school(service, platform)


def test_a_returning_student_launch_records_its_placement_without_writing(school: School) -> None:
    """A student opening an item they opened before: the placement is read once and nothing is
    written; a badge they hold is scored once, and a launch that changes the placement still
    records the change."""
    lotte = pupil("lotte")
    learner, link = school.launch(lotte, activity=school.world.activity)
    placement = school.last_placement
    assert placement is not None
    grades = school.service.lti_grades

    def launch_again(user_id: str = lotte.sub) -> list[str]:
        return statements_of(
            school.service, lambda: grades.record_placement(placement, learner, user_id)
        )

    assert launch_again() == ["SELECT"]
    award(school, learner, school.world.photo, "after-the-launch")
    # Holding the badge: the award queued the score already; the launch only checks that.
    assert launch_again() == ["SELECT", "SELECT"]
    school.deliver()
    assert len(school.scores(lotte)) == 1
    assert school.status(link, learner).state == "sent"
    assert launch_again() == ["SELECT", "SELECT"]
    assert school.deliver() == 0
    # The platform now names the learner by another LTI user id: the placement follows it.
    assert "UPDATE" in launch_again("lotte-renamed")
    with school.service.sessions() as session:
        assert session.scalars(select(LtiPlacementRecord.user_id)).all() == ["lotte-renamed"]
    assert launch_again("lotte-renamed") == ["SELECT", "SELECT"]


def test_a_returning_learner_is_found_in_one_read_and_merges_and_erasures_count(
    service: BadgeService,
) -> None:
    """The launch finds the learner by their LMS identity in one statement; the launched
    page's check of the launch's learner follows a later merge and sees an erasure."""
    learners = service.learners
    sam = learners.find_or_create(
        lms_platform=MOODLE, lms_user_id="sam", email="sam@school.example", email_verified=True
    )
    found: list[Any] = []
    assert statements_of(
        service, lambda: found.append(learners.find(lms_platform=MOODLE, lms_user_id="sam"))
    ) == ["SELECT"]
    assert found == [learners.get(sam.public_id)]
    assert [i.value for i in found[0].identifiers] == ["sam@school.example", "sam"]
    assert statements_of(service, lambda: learners.live_public_id(sam.public_id)) == ["SELECT"]

    other = learners.find_or_create(lms_platform=MOODLE, lms_user_id="sam-2")
    learners.merge(sam.public_id, other.public_id)
    assert learners.live_public_id(sam.public_id) == other.public_id
    merged = learners.find(lms_platform=MOODLE, lms_user_id="sam")
    assert merged is not None and merged.public_id == other.public_id
    assert {i.value for i in merged.identifiers} == {"sam@school.example", "sam", "sam-2"}

    learners.delete_learner_data(other.public_id)
    assert learners.live_public_id(sam.public_id) is None
    assert learners.live_public_id("no-such-learner") is None
