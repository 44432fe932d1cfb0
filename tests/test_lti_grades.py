"""Grades back to the LMS (core.lti_grades) on SQLite and PostgreSQL, against the test LTI
platform over real HTTP: placements recorded at launch, one score per launched line item for
an award by any path, the platform down (retried with backoff) or refusing (failed with its
words), strictly increasing timestamps, revocation, resend, and nothing for other courses or
platforms."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, select

from core.awarding import AwardRequest
from core.guarded_http import GuardedHttpClient
from core.lti_grades import GradeStatus
from core.lti_registry import LaunchPlacement, PlatformView, ResourceLinkView
from core.service import BadgeService
from core.storage import LtiGradeRecord, LtiPlacementRecord
from core.workers import run_worker
from lti_tool.lti.ags import line_item_service_url
from tests.badge_world import World, make_world
from tests.lti.conftest import LAUNCH_URL, LOGIN_URL, register
from tests.lti_platform import (
    CLAIM_AGS,
    CLAIM_CONTEXT,
    CLAIM_CUSTOM,
    CLAIM_DEPLOYMENT_ID,
    CLAIM_RESOURCE_LINK,
    CourseContext,
    Launch,
    PlatformRefusal,
    PlatformUser,
    TestPlatform,
    iter_scores,
    student,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Clock:
    """A clock the test moves by hand (for the outbox's backoff)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class School:
    """The badge service connected to one test platform, with a small catalogue."""

    service: BadgeService
    platform: TestPlatform
    registration: PlatformView
    world: World
    last_placement: LaunchPlacement | None = None

    def launch(
        self,
        user: PlatformUser,
        *,
        activity: str | None = None,
        playlist: str | None = None,
        link: str = "resource-link-1",
        course: CourseContext | None = None,
        platform: TestPlatform | None = None,
    ) -> tuple[str, ResourceLinkView]:
        """What a student's launch records (the claims the platform signs, recorded as the
        tool records them); returns the learner and the course item."""
        platform = platform or self.platform
        custom = {"activity": activity} if activity else {"playlist": playlist or ""}
        launch = Launch(
            user, resource_link_id=link, custom=custom, context=course or CourseContext()
        )
        _, claims = platform.id_token_parts(launch, nonce="nonce")
        deployment = self.service.lti.find_deployment(
            platform.issuer, platform.client_id, claims[CLAIM_DEPLOYMENT_ID]
        )
        assert deployment is not None
        placement = self.service.lti.record_launch(
            deployment,
            context=claims[CLAIM_CONTEXT],
            resource_link=claims[CLAIM_RESOURCE_LINK],
            custom=claims[CLAIM_CUSTOM],
            ags_endpoint=claims[CLAIM_AGS],
        )
        learner = self.learner(user, platform)
        self.service.lti_grades.record_placement(placement, learner, user.sub)
        self.last_placement = placement
        assert placement.resource_link is not None
        return learner, placement.resource_link

    def learner(self, user: PlatformUser, platform: TestPlatform | None = None) -> str:
        """The learner of ``user`` on ``platform``, as a launch finds or creates them."""
        platform = platform or self.platform
        return self.service.learners.find_or_create(
            lms_platform=f"{platform.issuer}|{platform.client_id}",
            lms_user_id=user.sub,
            email=user.email,
            email_verified=True,
            display_name=user.name,
        ).public_id

    def deliver(self) -> int:
        """Run the outbox until nothing is due (as `badgebridge worker --once`)."""
        return run_worker(self.service, once=True)

    def scores(
        self, user: PlatformUser, platform: TestPlatform | None = None
    ) -> list[dict[str, Any]]:
        return list(iter_scores(platform or self.platform, user.sub))

    def status(self, link: ResourceLinkView, learner: str) -> GradeStatus:
        return self.service.lti_grades.status_of(link)[learner]


def pupil(sub: str) -> PlatformUser:
    """A student with an email address of their own (one learner per student)."""
    return replace(student(sub), email=f"{sub}@school.example", name=sub.title())


def connect(service: BadgeService, platform: TestPlatform) -> PlatformView:
    """Register ``platform`` by hand and tell it where the tool's keys are."""
    registration = register(service, platform, email_trusted=True)
    platform.set_tool(launch_url=LAUNCH_URL, login_url=LOGIN_URL, jwks=service.lti.tool_jwks)
    return registration


@pytest.fixture
def platform() -> Iterator[TestPlatform]:
    with TestPlatform() as running:
        yield running


def open_school(service: BadgeService, platform: TestPlatform) -> School:
    # The test platform listens on 127.0.0.1.
    service.lti.use_http_client(GuardedHttpClient(service.settings, allow_private=True))
    registration = connect(service, platform)
    return School(service, platform, registration, make_world(service))


@pytest.fixture
def school(service: BadgeService, platform: TestPlatform) -> School:
    return open_school(service, platform)


@pytest.fixture
def sqlite_school(sqlite_service: BadgeService, platform: TestPlatform) -> School:
    """For what does not depend on the database."""
    return open_school(sqlite_service, platform)


def award(
    school: School, learner: str, achievement: str, event_id: str, kind: str = "teacher"
) -> int:
    result = school.service.awarding.award(
        AwardRequest(learner, achievement, kind, event_id, approved_by="t@school.example")
    )
    assert result.created
    return result.award_id


def assert_full_marks(score: dict[str, Any], user: PlatformUser, maximum: float = 100) -> None:
    assert score["userId"] == user.sub
    assert score["activityProgress"] == "Completed"
    assert score["gradingProgress"] == "FullyGraded"
    assert score["scoreGiven"] == score["scoreMaximum"] == maximum


def timestamps(scores: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(s["timestamp"]) for s in scores]


# -- an award by any path ---------------------------------------------------------------------


def test_evidence_approved_after_the_launch_sends_one_full_score(school: School) -> None:
    kim = pupil("kim")
    learner, link = school.launch(kim, activity=school.world.activity)
    assert school.service.lti_grades.status_of(link) == {}  # launched, nothing earned yet

    evidence = school.service.evidence.submit(learner, school.world.activity, text="Twaalf foto's")
    school.service.evidence.review(evidence.public_id, approve=True, reviewer="o@rotterdam.nl")
    assert school.status(link, learner).state == "pending"
    school.deliver()

    [score] = school.scores(kim)
    assert_full_marks(score, kim)
    status = school.status(link, learner)
    assert (status.state, status.score_given, status.score_maximum) == ("sent", 100, 100)
    assert status.attempts == 1 and status.last_error is None
    assert status.timestamp == datetime.fromisoformat(score["timestamp"])
    # Delivered once: running the workers again sends nothing more.
    assert school.deliver() == 0
    assert len(school.scores(kim)) == 1


@pytest.mark.parametrize("kind", ["teacher", "attendance", "csv", "organiser"])
def test_an_award_from_any_source_sends_the_score(sqlite_school: School, kind: str) -> None:
    school = sqlite_school
    sanne = pupil("sanne")
    learner, link = school.launch(sanne, activity=school.world.activity)
    award(school, learner, school.world.photo, f"{kind}-event-1", kind)
    school.deliver()
    [score] = school.scores(sanne)
    assert_full_marks(score, sanne)
    assert school.status(link, learner).state == "sent"


def test_a_playlist_item_gets_its_score_when_the_rule_awards_the_playlist_badge(
    school: School,
) -> None:
    world, noor = school.world, pupil("noor")
    learner, link = school.launch(noor, playlist=world.playlist, link="playlist-link")
    award(school, learner, world.photo, "step-1")
    school.deliver()
    assert school.scores(noor) == []  # one step of two: no playlist badge, no score
    award(school, learner, world.walk, "step-2")
    school.deliver()  # the playlist rule awards the pathway badge, whose job sends the score
    [score] = school.scores(noor)
    assert_full_marks(score, noor)
    assert school.status(link, learner).state == "sent"


def test_a_learner_who_holds_the_badge_gets_the_score_when_they_launch(school: School) -> None:
    lotte = pupil("lotte")
    learner = school.learner(lotte)
    award(school, learner, school.world.photo, "before-the-launch")
    school.deliver()
    assert school.scores(lotte) == []  # never launched: no column to send to

    _, link = school.launch(lotte, activity=school.world.activity)
    school.deliver()
    [score] = school.scores(lotte)
    assert_full_marks(score, lotte)
    # Launching again queues nothing new (the job is deduplicated with the award's).
    school.launch(lotte, activity=school.world.activity)
    assert school.deliver() == 0
    assert len(school.scores(lotte)) == 1
    assert school.status(link, learner).state == "sent"


def test_an_unknown_line_item_maximum_is_asked_from_the_platform(school: School) -> None:
    ravi = pupil("ravi")
    learner, _ = school.launch(ravi, activity=school.world.activity)
    [item] = school.platform.line_items.values()
    item.score_maximum = 10  # the teacher changed the column's maximum in the LMS
    award(school, learner, school.world.photo, "t-1")
    school.deliver()
    [score] = school.scores(ravi)
    assert_full_marks(score, ravi, maximum=10)
    [saved] = school.service.lti.line_items_of(
        school.service.lti.find_deployment(
            school.platform.issuer, school.platform.client_id, school.platform.deployment_ids[0]
        )
    )
    assert saved.score_maximum == 10


# -- delivery: retries, refusals, timestamps ------------------------------------------------


def test_a_platform_down_is_retried_with_backoff_and_scored_once(school: School) -> None:
    clock = Clock()
    school.service.outbox.clock = clock
    eva = pupil("eva")
    learner, link = school.launch(eva, activity=school.world.activity)
    school.platform.score_failures += [
        PlatformRefusal(503, "temporarily_unavailable", "maintenance"),
        PlatformRefusal(502, "bad_gateway", "upstream down"),
    ]
    award(school, learner, school.world.photo, "t-1")

    school.deliver()
    status = school.status(link, learner)
    assert (status.state, status.attempts) == ("retrying", 1)
    assert status.last_error is not None and "503" in status.last_error
    assert "maintenance" in status.last_error
    # Backing off: nothing is due until the wait is over.
    assert school.service.outbox.process_due("impatient") == 0
    clock.advance(2)  # 2^1 s at most
    school.deliver()
    status = school.status(link, learner)
    assert (status.state, status.attempts) == ("retrying", 2)
    assert status.last_error is not None and "502" in status.last_error
    clock.advance(4)
    school.deliver()

    [score] = school.scores(eva)
    assert_full_marks(score, eva)
    status = school.status(link, learner)
    assert (status.state, status.attempts, status.last_error) == ("sent", 3, None)
    clock.advance(3600)
    assert school.deliver() == 0 and len(school.scores(eva)) == 1


def test_a_refused_score_fails_with_the_platforms_message(school: School) -> None:
    mo = pupil("mo")
    learner, link = school.launch(mo, activity=school.world.activity)
    # The platform knows only another student in this course: it refuses Mo's score.
    school.platform.members[CourseContext().id] = [pupil("someone-else")]
    award(school, learner, school.world.photo, "t-1")
    school.deliver()

    status = school.status(link, learner)
    assert status.state == "failed" and status.attempts == 1
    assert status.last_error is not None
    assert "400" in status.last_error and "user 'mo' is not in the course" in status.last_error
    assert school.scores(mo) == []
    # Not retried: the LMS said no.
    [job] = school.service.outbox.jobs(kind="lms_grade")
    assert job.state == "done"


def test_two_scores_in_one_second_are_a_second_apart(school: School) -> None:
    ada = pupil("ada")
    learner, link = school.launch(ada, activity=school.world.activity)
    frozen = datetime(2026, 12, 2, 10, 0, 0, 400_000, tzinfo=UTC)
    school.service.lti_grades.clock = lambda: frozen  # both sends happen in the same second
    award(school, learner, school.world.photo, "t-1")
    school.deliver()
    assert school.service.lti_grades.resend(link, learner) == 1
    school.deliver()
    assert school.service.lti_grades.resend(link) == 1
    school.deliver()

    # The platform refuses a score that is not newer: all three were accepted.
    first, second, third = timestamps(school.scores(ada))
    assert second - first >= timedelta(seconds=1) and third - second >= timedelta(seconds=1)
    assert first == frozen.replace(microsecond=0)
    assert school.status(link, learner).timestamp == third


def test_resend_sends_a_new_score_to_those_who_earned_the_badge(school: School) -> None:
    lina, tom = pupil("lina"), pupil("tom")
    lina_id, link = school.launch(lina, activity=school.world.activity)
    tom_id, _ = school.launch(tom, activity=school.world.activity)
    award(school, lina_id, school.world.photo, "t-1")
    school.deliver()

    assert school.service.lti_grades.resend(link, tom_id) == 0  # Tom earned nothing
    assert school.service.lti_grades.resend(link) == 1
    assert school.status(link, lina_id).state == "pending"
    school.deliver()
    first, again = school.scores(lina)
    assert_full_marks(again, lina)
    assert again["timestamp"] > first["timestamp"]
    assert set(school.service.lti_grades.status_of(link)) == {lina_id}
    assert school.scores(tom) == []


def test_revocation_clears_the_grade_and_a_new_award_restores_it(school: School) -> None:
    ben = pupil("ben")
    learner, link = school.launch(ben, activity=school.world.activity)
    award(school, learner, school.world.photo, "t-1")
    school.deliver()
    [credential] = school.service.learners.badges_of(learner)
    school.service.awarding.revoke(credential.credential_id, "awarded to the wrong student")
    school.deliver()

    earned, cleared = school.scores(ben)
    assert "scoreGiven" not in cleared and "scoreMaximum" not in cleared
    assert (cleared["activityProgress"], cleared["gradingProgress"]) == ("Initialized", "NotReady")
    assert cleared["timestamp"] > earned["timestamp"]
    status = school.status(link, learner)
    assert (status.state, status.score_given) == ("sent", None)
    # Revoking again changes nothing; earning the badge again sends full marks again.
    school.service.awarding.revoke(credential.credential_id)
    assert school.deliver() == 0 and len(school.scores(ben)) == 2
    award(school, learner, school.world.photo, "t-2")
    school.deliver()
    assert_full_marks(school.scores(ben)[-1], ben)
    assert len(school.scores(ben)) == 3


def test_a_revocation_before_delivery_never_sends_full_marks(school: School) -> None:
    """The LMS is down when the badge is awarded and revoked: what reaches it at last is the
    truth (no grade), whatever order the jobs run in."""
    clock = Clock()
    school.service.outbox.clock = clock
    fay = pupil("fay")
    learner, link = school.launch(fay, activity=school.world.activity)
    school.platform.score_failures.append(PlatformRefusal(503, "down", "maintenance"))
    award(school, learner, school.world.photo, "t-1")
    school.deliver()
    [credential] = school.service.learners.badges_of(learner)
    school.service.awarding.revoke(credential.credential_id)
    clock.advance(3600)
    school.deliver()
    [score] = school.scores(fay)
    assert "scoreGiven" not in score and score["activityProgress"] == "Initialized"
    assert school.status(link, learner).state == "sent"


# -- scoping ----------------------------------------------------------------------------------


def test_other_courses_and_platforms_never_get_the_score(
    school: School, service: BadgeService
) -> None:
    world = school.world
    with TestPlatform(client_id="canvas-tool", key_index=1) as canvas:
        connect(service, canvas)
        kim, joe = pupil("kim"), pupil("joe")
        kim_id, kim_link = school.launch(kim, activity=world.activity)
        # Joe launches the same activity in another course, and on another platform.
        joe_id, _ = school.launch(
            joe, activity=world.activity, link="other-link", course=CourseContext(id="course-202")
        )
        school.launch(joe, activity=world.activity, platform=canvas)
        # Kim launches another activity's item in a second course.
        school.launch(
            kim, activity=world.peer_activity, link="walk-link", course=CourseContext(id="c-3")
        )

        award(school, kim_id, world.photo, "t-kim")
        school.deliver()
        [score] = school.scores(kim)
        assert_full_marks(score, kim)
        [kim_column] = [
            item.id
            for item in school.platform.line_items.values()
            if item.resource_link_id == "resource-link-1"
        ]
        assert [r.line_item_id for r in school.platform.scores] == [kim_column]
        assert canvas.scores == []
        assert set(service.lti_grades.status_of(kim_link)) == {kim_id}

        # Joe's award goes to both of his columns, each on its own platform, and Kim's stays.
        award(school, joe_id, world.photo, "t-joe")
        school.deliver()
        assert len(school.scores(joe)) == 1 and len(school.scores(joe, canvas)) == 1
        assert canvas.scores[0].score["userId"] == "joe"
        assert len(school.scores(kim)) == 1


# -- the award path's cost -------------------------------------------------------------------


def test_an_awards_sql_does_not_grow_with_placements(school: School) -> None:
    """The award path finds the learner's columns with one indexed query: the statements an
    award costs are the same with one other learner's launch or twenty."""
    service, world = school.service, school.world

    def statements_for_award(name: str, others: int) -> int:
        for index in range(others):
            school.launch(pupil(f"{name}-other-{index}"), activity=world.activity)
        learner, _ = school.launch(pupil(name), activity=world.activity)
        count = 0

        def counted(*args: Any) -> None:
            nonlocal count
            count += 1

        event.listen(service.engine, "before_cursor_execute", counted)
        try:
            award(school, learner, world.photo, f"t-{name}")
        finally:
            event.remove(service.engine, "before_cursor_execute", counted)
        return count

    statements_for_award("warm-up", 0)  # first-use costs (status list, key cache) paid here
    assert statements_for_award("few", 1) == statements_for_award("many", 20)


def test_a_score_whose_answer_was_lost_is_not_sent_again(school: School) -> None:
    """The platform recorded the score but its answer never came back (504): the retry asks the
    gradebook first, finds full marks, and does not send the score a second time."""
    clock = Clock()
    school.service.outbox.clock = clock
    iris = pupil("iris")
    learner, link = school.launch(iris, activity=school.world.activity)
    school.platform.score_answers_lost = 1
    award(school, learner, school.world.photo, "t-1")
    school.deliver()
    assert school.status(link, learner).state == "retrying"
    assert len(school.scores(iris)) == 1  # it did arrive

    clock.advance(3600)
    school.deliver()
    [score] = school.scores(iris)
    assert_full_marks(score, iris)
    status = school.status(link, learner)
    assert (status.state, status.score_given, status.attempts) == ("sent", 100, 2)
    scores_path = urlsplit(line_item_service_url(score_line_item(school), "scores")).path
    assert school.platform.count("POST", scores_path) == 1


def test_a_token_the_platform_dropped_is_fetched_again(school: School) -> None:
    jan = pupil("jan")
    learner, link = school.launch(jan, activity=school.world.activity)
    award(school, learner, school.world.photo, "t-1")
    school.deliver()
    tokens_fetched = len(school.platform.token_requests)
    school.platform.access_tokens.clear()  # e.g. the LMS restarted: our cached token is void
    assert school.service.lti_grades.resend(link) == 1
    school.deliver()
    assert len(school.scores(jan)) == 2
    assert len(school.platform.token_requests) == tokens_fetched + 1
    assert school.status(link, learner).state == "sent"


def test_a_switched_off_registration_gets_no_score(school: School) -> None:
    wim = pupil("wim")
    learner, link = school.launch(wim, activity=school.world.activity)
    school.service.lti.update_platform(school.registration.public_id, active=False)
    award(school, learner, school.world.photo, "t-1")
    school.deliver()
    status = school.status(link, learner)
    assert status.state == "failed"
    assert status.last_error is not None and "switched off" in status.last_error
    assert school.platform.scores == []


def score_line_item(school: School) -> str:
    [item] = school.platform.line_items.values()
    return item.id


def test_service_urls_keep_the_line_items_query() -> None:
    moodle = "https://moodle.example/mod/lti/services.php/2/lineitems/5/lineitem?type_id=1"
    assert line_item_service_url(moodle, "scores") == (
        "https://moodle.example/mod/lti/services.php/2/lineitems/5/lineitem/scores?type_id=1"
    )
    assert line_item_service_url(moodle, "results", user_id="a b") == (
        "https://moodle.example/mod/lti/services.php/2/lineitems/5/lineitem/results"
        "?type_id=1&user_id=a+b"
    )
    assert line_item_service_url(
        "https://canvas.example/api/lti/courses/1/line_items/7/", "scores"
    ) == ("https://canvas.example/api/lti/courses/1/line_items/7/scores")


def test_a_merged_learners_grade_answers_as_the_learner_they_joined(school: School) -> None:
    pim = pupil("pim")
    launched, link = school.launch(pim, activity=school.world.activity)
    award(school, launched, school.world.photo, "t-1")
    school.deliver()
    same_person = school.service.learners.find_or_create(
        email="pim.home@example.org", email_verified=True
    ).public_id
    school.service.learners.merge(launched, same_person)
    statuses = school.service.lti_grades.status_of(link)
    assert list(statuses) == [same_person]
    assert statuses[same_person].state == "sent"
    # A teacher re-sending to the learner as the class list shows them reaches the same column.
    assert school.service.lti_grades.resend(link, same_person) == 1
    school.deliver()
    _, again = school.scores(pim)
    assert_full_marks(again, pim)  # still full marks: the merge moved the badge, not away


def test_concurrent_launches_of_one_item_record_one_placement(school: School) -> None:
    """Two browser tabs launching at once: no launch fails, one placement, one score."""
    rosa = pupil("rosa")
    learner, link = school.launch(rosa, activity=school.world.activity)
    award(school, learner, school.world.photo, "t-1")
    school.deliver()
    vera = pupil("vera")
    vera_id = school.learner(vera)
    award(school, vera_id, school.world.photo, "t-2")  # Vera holds the badge: launch scores
    placement = school.last_placement
    assert placement is not None
    start, failures = threading.Barrier(4), []

    def launch_once() -> None:
        start.wait()
        try:
            school.service.lti_grades.record_placement(placement, vera_id, vera.sub)
        except Exception as problem:  # what the test is about
            failures.append(problem)

    threads = [threading.Thread(target=launch_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    school.deliver()
    assert len(school.scores(vera)) == 1
    assert set(school.service.lti_grades.status_of(link)) == {learner, vera_id}


@pytest.mark.parametrize(
    ("status", "state"), [(429, "retrying"), (408, "retrying"), (404, "failed"), (403, "failed")]
)
def test_too_many_requests_is_retried_and_other_4xx_fail(
    sqlite_school: School, status: int, state: str
) -> None:
    school = sqlite_school
    ida = pupil("ida")
    learner, link = school.launch(ida, activity=school.world.activity)
    school.platform.score_failures.append(PlatformRefusal(status, "nope", f"answered {status}"))
    award(school, learner, school.world.photo, "t-1")
    school.deliver()
    grade = school.status(link, learner)
    assert grade.state == state
    assert grade.last_error is not None and f"HTTP {status}" in grade.last_error


def test_erasure_clears_the_grade_then_forgets_the_lti_user(school: School) -> None:
    gijs, lieke = pupil("gijs"), pupil("lieke")
    learner, link = school.launch(gijs, activity=school.world.activity)
    bystander, _ = school.launch(lieke, activity=school.world.activity)  # launched, earned nothing
    award(school, learner, school.world.photo, "t-1")
    school.deliver()
    school.service.learners.delete_learner_data(learner)
    school.service.learners.delete_learner_data(bystander)
    school.deliver()

    earned, cleared = school.scores(gijs)
    assert "scoreGiven" not in cleared and cleared["timestamp"] > earned["timestamp"]
    assert school.scores(lieke) == []
    assert school.service.lti_grades.status_of(link) == {}
    with school.service.sessions() as session:
        kept = session.scalars(select(LtiPlacementRecord.user_id)).all()
        kept += session.scalars(select(LtiGradeRecord.user_id)).all()
    assert kept == []  # no LTI user id of an erased learner is kept
