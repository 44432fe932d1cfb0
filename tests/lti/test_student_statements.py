"""A launched course item's page costs a few SQL statements, the same whatever the student
holds, and a class opening the same item reads its catalogue content once per worker (every
few seconds), not once per student."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.awarding import AwardRequest
from tests.badge_world import World, make_world
from tests.lti.conftest import LtiSite, site_on
from tests.lti.test_student_pages import launch
from tests.lti.test_teacher_statements import StatementCount
from tests.lti_platform import PlatformUser, TestPlatform, student

#: The page of a returning student: the launch session (from the database launch cache these
#: sites use), their learner (merges followed), their credentials and their evidence for the
#: item's activities. The catalogue content comes from the worker's memory.
STUDENT_PAGE_STATEMENTS = 4
#: The facts of the badges the page shows (the item's, each step's), read together.
SHOWN_BADGES_STATEMENTS = 3


@pytest.fixture
def stored_site(tmp_path: Path, database_url: str, platform: TestPlatform) -> Iterator[LtiSite]:
    stored = site_on(tmp_path, platform, database_url, email_trusted=True)
    yield stored
    stored.service.engine.dispose()


def pupil(name: str) -> PlatformUser:
    person = student(name)
    person.email = f"{name}@school.example"
    return person


def page_statements(site: LtiSite, world: World, user: PlatformUser, item: str) -> int:
    """Statements of one view of the launched page (launched first, then reloaded)."""
    page = launch(site, user=user, custom={item: getattr(world, item)})
    with StatementCount(site.service.engine) as count:
        page.reload()
    return count.count


@pytest.mark.parametrize("item", ["activity", "playlist"])
def test_the_page_costs_the_same_few_statements_whatever_the_student_holds(
    stored_site: LtiSite, item: str
) -> None:
    world = make_world(stored_site.service)
    assert page_statements(stored_site, world, pupil("newcomer"), item) == STUDENT_PAGE_STATEMENTS

    # A student who earned the badges the page shows (their cards cost a few statements more)
    veteran = pupil("veteran")
    page_statements(stored_site, world, veteran, item)
    platform = stored_site.platform
    learner = stored_site.service.learners.find(
        lms_platform=f"{platform.issuer}|{platform.client_id}", lms_user_id=veteran.sub
    )
    assert learner is not None

    def award(achievement: str, n: int) -> None:
        stored_site.service.awarding.award(
            AwardRequest(
                learner_public_id=learner.public_id,
                achievement_public_id=achievement,
                source_kind="teacher",
                source_event_id=f"statements-test-{n}",
            )
        )

    # (each badge the page shows: the item's, and each step's of a playlist)
    shown = (world.pathway, world.photo, world.walk) if item == "playlist" else (world.photo,)
    for n, achievement in enumerate(shown):
        award(achievement, n)
    earned = page_statements(stored_site, world, veteran, item)
    # The badges shown are read together (their credentials, holder and approved evidence),
    # however many the page shows; their achievements and issuers come from the memory.
    assert earned == STUDENT_PAGE_STATEMENTS + SHOWN_BADGES_STATEMENTS
    # ... and then more badges and evidence: the page costs the same.
    for n, achievement in enumerate((world.yearly, world.yearly, world.walk), 10):
        award(achievement, n)
    for n in range(5):
        stored_site.service.evidence.submit(
            learner.public_id, world.activity, text=f"Foto {n} van mijn wijk."
        )
    assert page_statements(stored_site, world, veteran, item) == earned


def test_a_class_opening_one_item_reads_its_content_once(stored_site: LtiSite) -> None:
    world = make_world(stored_site.service)
    first = pupil("first")
    launch(stored_site, user=first, custom={"activity": world.activity})
    # The first view read the activity, its issuer and badge; the class's next views do not.
    for name in ("second", "third"):
        assert (
            page_statements(stored_site, world, pupil(name), "activity") == STUDENT_PAGE_STATEMENTS
        )
