"""One flow, one path, on SQLite and PostgreSQL: ``badgebridge revoke`` revokes as every other
caller does (through ``Awarding.revoke``: the LMS grade is cleared, the active slot freed, the
learner told why), and a learner merge takes the merged-away learner's gradebook columns along
(later awards and revocations reach them, scores due there are sent, none is lost)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.cli import EXIT_OK, EXIT_USAGE, main
from core.service import BadgeService
from core.storage import AwardRecord, LtiPlacementRecord, OutboxRecord
from tests.lti_platform import PlatformRefusal, TestPlatform
from tests.test_lti_grades import School, assert_full_marks, award, open_school, pupil


@pytest.fixture
def platform() -> Iterator[TestPlatform]:
    with TestPlatform() as running:
        yield running


@pytest.fixture
def school(service: BadgeService, platform: TestPlatform) -> School:
    return open_school(service, platform)


@pytest.fixture
def cli_env(service: BadgeService, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI, run in this process, opens the test's database with the test's keys."""
    settings = service.settings
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BADGEBRIDGE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BADGEBRIDGE_BASE_URL", settings.base_url)
    monkeypatch.setenv("BADGEBRIDGE_KEY_ENCRYPTION_KEY", str(settings.key_encryption_key))


# -- badgebridge revoke ---------------------------------------------------------------------


def test_cli_revoke_clears_the_lms_grade_frees_the_slot_and_tells_the_learner(
    school: School, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    ben = pupil("ben")
    learner, link = school.launch(ben, activity=school.world.activity)
    award_id = award(school, learner, school.world.photo, "t-1")
    school.deliver()
    [badge] = school.service.learners.badges_of(learner)
    credential_id = badge.credential_id
    assert credential_id is not None

    reason = "Awarded to the wrong student."
    assert main(["revoke", credential_id, "--reason", reason]) == EXIT_OK
    assert f"Revoked: {credential_id}" in capsys.readouterr().out
    with school.service.sessions() as session:
        slot = session.get(AwardRecord, award_id)
        assert slot is not None and slot.active_key is None
        told = session.scalar(
            select(OutboxRecord.payload).where(
                OutboxRecord.dedupe_key == f"notification:revoke:{credential_id}"
            )
        )
    assert told is not None and reason in told["message"]
    assert school.status(link, learner).state == "pending"  # the clear is queued
    school.deliver()

    earned, cleared = school.scores(ben)
    assert_full_marks(earned, ben)
    assert "scoreGiven" not in cleared and cleared["activityProgress"] == "Initialized"
    assert (school.status(link, learner).state, school.status(link, learner).score_given) == (
        "sent",
        None,
    )
    # Revoking again from the CLI changes nothing and sends nothing.
    assert main(["revoke", credential_id]) == EXIT_OK
    assert school.deliver() == 0 and len(school.scores(ben)) == 2


def test_cli_reason_goes_with_a_revocation_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["revoke", "urn:uuid:x", "--suspend", "--reason", "why"]) == EXIT_USAGE
    assert "--reason goes with a revocation" in capsys.readouterr().err


# -- learner merge ----------------------------------------------------------------------------


def merge(school: School, source: str, into: str) -> None:
    school.service.learners.merge(source, into)


def test_after_a_merge_an_award_reaches_the_columns_the_merged_away_learner_launched(
    school: School,
) -> None:
    """Mila had two LMS accounts (two learners): both opened the course item, and only her
    old account opened a second one. Merged, her next badge scores in every column she
    opened, each once, and its revocation clears them all."""
    mila, old_mila = pupil("mila"), pupil("oldmila")
    kept, link = school.launch(mila, activity=school.world.activity)
    merged_away, _ = school.launch(old_mila, activity=school.world.activity)
    school.launch(old_mila, activity=school.world.activity, link="resource-link-2")
    merge(school, merged_away, kept)
    with school.service.sessions() as session:
        placements = session.scalars(select(LtiPlacementRecord)).all()
    # All hers now, one per course item: where both accounts launched it, the kept learner's.
    assert len({p.learner_id for p in placements}) == 1
    assert sorted(p.user_id for p in placements) == sorted([mila.sub, old_mila.sub])

    award(school, kept, school.world.photo, "t-1")
    school.deliver()
    [score] = school.scores(mila)
    [old_score] = school.scores(old_mila)  # the column only her old account opened
    assert_full_marks(score, mila)
    assert_full_marks(old_score, old_mila)
    assert list(school.service.lti_grades.status_of(link)) == [kept]

    [badge] = school.service.learners.badges_of(kept)
    assert badge.credential_id is not None
    school.service.awarding.revoke(badge.credential_id, "Given by mistake.")
    school.deliver()
    assert "scoreGiven" not in school.scores(mila)[-1]
    assert "scoreGiven" not in school.scores(old_mila)[-1]


def test_a_merge_sends_the_score_now_due_in_a_column_the_merged_away_learner_launched(
    school: School,
) -> None:
    """Jip already held the badge; his school account (another learner) had opened the course
    item. Once merged, the column shows his badge, as his next launch would."""
    jip = pupil("jip")
    at_school, link = school.launch(jip, activity=school.world.activity)
    at_home = school.service.learners.find_or_create(
        email="jip@home.example", email_verified=True
    ).public_id
    award(school, at_home, school.world.photo, "t-1")
    school.deliver()
    assert school.scores(jip) == []  # his school account held nothing

    merge(school, at_school, at_home)
    school.deliver()
    [score] = school.scores(jip)
    assert_full_marks(score, jip)
    assert school.status(link, at_home).state == "sent"
    merge(school, at_school, at_home)  # merging again queues nothing
    assert school.deliver() == 0


def test_a_score_still_pending_at_the_merge_is_delivered_for_the_merged_learner(
    school: School,
) -> None:
    """The LMS is down when Noa's badge is awarded; she is merged before the retry. The score
    still reaches her column once the LMS is back."""
    noa = pupil("noa")
    at_school, link = school.launch(noa, activity=school.world.activity)
    school.platform.score_failures.append(PlatformRefusal(503, "down", "maintenance"))
    award(school, at_school, school.world.photo, "t-1")
    school.deliver()
    assert school.scores(noa) == []
    at_home = school.service.learners.find_or_create(
        email="noa@home.example", email_verified=True
    ).public_id

    merge(school, at_school, at_home)
    school.deliver()
    [score] = school.scores(noa)
    assert_full_marks(score, noa)
    status = school.status(link, at_home)
    assert (status.state, status.score_given) == ("sent", 100)
