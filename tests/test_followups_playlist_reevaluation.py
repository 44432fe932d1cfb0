"""Editing a playlist re-evaluates the learners who may now meet its rule: the edit queues an
outbox job, the worker awards the playlist's badge in batches of learners, exactly once
(issue 3 follow-ups)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from core import awarding as awarding_module
from core.awarding import PLAYLIST_REEVALUATION, AwardRequest
from core.catalogue import PlaylistStepSpec
from core.service import BadgeService
from core.storage import AchievementRecord, AwardRecord


@dataclass
class Pathway:
    playlist: str
    steps: list[str]
    badge: str


def _achievement(service: BadgeService, name: str) -> str:
    return service.catalogue.create_achievement(
        "rotterdam", name=name, description=f"{name}.", criteria_narrative="Take part."
    ).public_id


@pytest.fixture
def pathway(service: BadgeService) -> Pathway:
    """A playlist of three badges, all three needed."""
    service.create_issuer("rotterdam", "Rotterdam City of Learning")
    steps = [_achievement(service, name) for name in ("Fotograaf", "Wandelaar", "Havenkenner")]
    badge = _achievement(service, "Ontdek Rotterdam")
    playlist = service.catalogue.create_playlist(
        "rotterdam",
        title="Ontdek Rotterdam",
        description="Three ways to explore.",
        achievement_public_id=badge,
        steps=[PlaylistStepSpec.of_achievement(step) for step in steps],
        rule="all",
    )
    return Pathway(playlist.public_id, steps, badge)


def _learner_holding(service: BadgeService, email: str, achievements: list[str]) -> str:
    learner = service.learners.find_or_create(email=email, email_verified=True)
    for achievement in achievements:
        service.awarding.award(
            AwardRequest(
                learner_public_id=learner.public_id,
                achievement_public_id=achievement,
                source_kind="organiser",
                source_event_id=f"test:{email}:{achievement}",
            )
        )
    return learner.public_id


def _run_worker(service: BadgeService) -> int:
    delivered = 0
    while ran := service.outbox.process_due("test-worker", 50):
        delivered += ran
    return delivered


def _awards_of(service: BadgeService, achievement: str) -> int:
    with service.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AwardRecord)
                .join(AchievementRecord, AchievementRecord.id == AwardRecord.achievement_id)
                .where(AchievementRecord.public_id == achievement)
            )
            or 0
        )


def test_lowering_the_rule_awards_the_playlist_badge_once_the_worker_runs(
    service: BadgeService, pathway: Pathway
) -> None:
    first, second, _third = pathway.steps
    holder = _learner_holding(service, "sam@example.org", [first, second])
    _learner_holding(service, "kim@example.org", [first])  # one step: not enough either way
    _run_worker(service)
    assert _awards_of(service, pathway.badge) == 0  # two of three steps: not yet

    service.catalogue.update_playlist(pathway.playlist, rule="n_of_m", required_count=2)
    queued = service.outbox.jobs(kind=PLAYLIST_REEVALUATION, state="pending")
    assert len(queued) == 1  # queued with the edit, in its transaction
    assert _awards_of(service, pathway.badge) == 0  # nothing awarded before the worker runs

    _run_worker(service)
    assert _awards_of(service, pathway.badge) == 1
    names = [b.achievement_name for b in service.learners.badges_of(holder)]
    assert names.count("Ontdek Rotterdam") == 1
    # A redelivery, a second run or another edit awards nothing twice.
    service.awarding.reevaluate_playlist(pathway.playlist)
    service.catalogue.update_playlist(pathway.playlist, required_count=2)
    _run_worker(service)
    assert _awards_of(service, pathway.badge) == 1


def test_a_title_change_queues_no_reevaluation(service: BadgeService, pathway: Pathway) -> None:
    service.catalogue.update_playlist(pathway.playlist, title="Ontdek heel Rotterdam")
    assert service.outbox.jobs(kind=PLAYLIST_REEVALUATION) == []


def test_learners_are_reevaluated_in_batches_each_its_own_job(
    service: BadgeService, pathway: Pathway, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = pathway.steps
    qualifying = [
        _learner_holding(service, f"learner{n}@example.org", [first, third]) for n in range(5)
    ]
    _learner_holding(service, "only-one@example.org", [second])
    _run_worker(service)
    monkeypatch.setattr(awarding_module, "PLAYLIST_REEVALUATION_BATCH", 2)

    service.catalogue.update_playlist(pathway.playlist, rule="n_of_m", required_count=2)
    _run_worker(service)
    jobs = service.outbox.jobs(kind=PLAYLIST_REEVALUATION)
    assert len(jobs) == 4  # 6 holders of a step, 2 a batch: the edit's job and 3 more
    assert {job.state for job in jobs} == {"done"}
    assert _awards_of(service, pathway.badge) == len(qualifying)
