"""Awarding, the one entry point: the full flow from evidence to a playlist badge and a
revocation; idempotency under concurrency; one active credential per achievement; bad input
changes nothing."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from core.awarding import AwardRequest, AwardResult
from core.errors import InvalidInput, NotFound
from core.service import BadgeService
from core.storage import AwardRecord, CredentialRecord, OutboxRecord
from core.workers import run_worker
from tests.badge_world import World, make_world

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def world(service: BadgeService) -> World:
    return make_world(service)


def count(service: BadgeService, table: type) -> int:
    with service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def credential(service: BadgeService, credential_id: str) -> dict[str, Any]:
    return dict(json.loads(service.get_credential(credential_id).text))


def test_full_flow_evidence_review_award_playlist_revoke(
    service: BadgeService, world: World
) -> None:
    learners = service.learners
    sam = learners.find_or_create(
        email="sam@example.org",
        email_verified=True,
        lms_platform="https://moodle.example.nl|c1",
        lms_user_id="42",
        display_name="Sam",
    )
    kim = learners.find_or_create(email="kim@example.org", display_name="Kim")

    # Evidence → review → award, for the organiser-reviewed activity.
    photos = service.evidence.submit(
        sam.public_id,
        world.activity,
        file_name="wijk.png",
        file_type="application/pdf",  # declared wrongly: the real type is sniffed
        file_data=PNG,
    )
    assert (photos.status, photos.file_type) == ("pending", "image/png")
    assert [e.public_id for e in service.evidence.pending_for_issuer(world.issuer)] == [
        photos.public_id
    ]
    approved = service.evidence.review(
        photos.public_id, approve=True, reviewer="organiser@rotterdam.nl", comment="Mooi werk!"
    )
    assert approved.status == "approved" and approved.credential_id is not None
    assert service.evidence.pending_for_issuer(world.issuer) == []

    first = service.get_credential(approved.credential_id)
    report = service.verify(first.text, recipient="sam@example.org")
    assert report.valid, report.as_dict()
    document = credential(service, approved.credential_id)
    assert document["credentialSubject"]["achievement"]["id"].endswith(world.photo)
    assert document["evidence"][0]["type"] == ["Evidence"]
    assert document["evidence"][0]["name"] == "Evidence for Fotografeer je wijk"
    with service.sessions() as session:
        award = session.scalar(select(AwardRecord))
        assert award is not None
        assert (award.source_kind, award.source_event_id) == ("evidence", photos.public_id)
        assert award.approved_by == "organiser@rotterdam.nl" and award.evidence_id is not None

    # A peer reviews the second step (a link); the playlist now has every step...
    walk = service.evidence.submit(sam.public_id, world.peer_activity, url="https://example.nl/w")
    service.evidence.review(walk.public_id, approve=True, reviewer="kim@example.org")
    assert kim.public_id != sam.public_id
    names = {b.achievement_public_id for b in learners.badges_of(sam.public_id)}
    assert names == {world.photo, world.walk}  # ...but its badge waits for the worker

    # Two awards' follow-ups (playlist check, notification), then the playlist award's own.
    assert run_worker(service, once=True) == 6
    badges = {b.achievement_public_id: b for b in learners.badges_of(sam.public_id)}
    assert set(badges) == {world.photo, world.walk, world.pathway}
    pathway = badges[world.pathway]
    assert pathway.source_kind == "playlist" and pathway.credential_id is not None
    assert service.verify(pathway.credential_id, recipient="sam@example.org").valid
    assert service.outbox.counts() == {"pending": 0, "done": 6, "failed": 0}

    # Revocation: the credential stops verifying on its status, the status list is re-signed.
    service.awarding.revoke(approved.credential_id, "The photos were not Sam's own.")
    revoked = service.verify(first.text)
    assert [c.id for c in revoked.failures] == ["status"]
    assert "revoked" in revoked.check("status").message.lower()
    run_worker(service, once=True)
    assert service.outbox.counts()["failed"] == 0
    assert {j.kind for j in service.outbox.jobs(state="pending")} == set()
    published = service.outbox.jobs(kind="status_publication")
    assert len(published) == 1 and published[0].state == "done"
    revoked_badges = [b for b in learners.badges_of(sam.public_id) if b.revoked]
    assert [b.credential_id for b in revoked_badges] == [approved.credential_id]


@pytest.mark.parametrize("different_events", [False, True], ids=["same-event", "same-badge"])
def test_20_concurrent_awards_produce_exactly_one_credential(
    service: BadgeService, world: World, different_events: bool
) -> None:
    sam = service.learners.find_or_create(email="sam@example.org", email_verified=True)
    service.outbox  # noqa: B018 (created before the threads race)
    barrier = threading.Barrier(20)
    results: list[AwardResult] = []
    errors: list[BaseException] = []

    def award(i: int) -> None:
        try:
            barrier.wait()
            event = f"completion-{i}" if different_events else "lms-completion-77"
            results.append(
                service.awarding.award(
                    AwardRequest(sam.public_id, world.walk, "lms", event, approved_by="moodle")
                )
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=award, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 20
    assert sum(r.created for r in results) == 1
    assert len({(r.award_id, r.credential_id) for r in results}) == 1
    assert count(service, CredentialRecord) == 1 and count(service, AwardRecord) == 1
    assert len(service.outbox.jobs(kind="notification")) == 1
    assert service.verify(results[0].credential_id).valid


def test_one_active_credential_per_achievement_unless_repeats_are_allowed(
    service: BadgeService, world: World
) -> None:
    sam = service.learners.find_or_create(email="sam@example.org").public_id
    award = service.awarding.award
    first = award(AwardRequest(sam, world.walk, "organiser", "o-1"))
    assert first.created
    assert award(AwardRequest(sam, world.walk, "organiser", "o-1")) == AwardResult(
        first.award_id, first.credential_id, False
    )
    # Another source, same badge: the learner already holds it.
    assert award(AwardRequest(sam, world.walk, "csv", "job-1:row-3")) == AwardResult(
        first.award_id, first.credential_id, False
    )
    # A badge that may be earned again (e.g. yearly): one credential per event.
    summer = [award(AwardRequest(sam, world.yearly, "attendance", f"2030-{y}")) for y in (1, 2)]
    assert all(r.created for r in summer) and summer[0].credential_id != summer[1].credential_id
    assert award(AwardRequest(sam, world.yearly, "attendance", "2030-1")).created is False

    # After revocation the learner may earn the badge again; revoking twice changes nothing.
    service.awarding.revoke(first.credential_id, "Awarded by mistake.")
    jobs = count(service, OutboxRecord)
    service.awarding.revoke(first.credential_id, "Awarded by mistake.")
    assert count(service, OutboxRecord) == jobs
    again = award(AwardRequest(sam, world.walk, "teacher", "t-1"))
    assert again.created and again.credential_id != first.credential_id
    assert count(service, CredentialRecord) == 4


def test_the_recipient_is_the_verified_email(service: BadgeService, world: World) -> None:
    learners = service.learners
    sam = learners.find_or_create(email="old@example.org")
    learners.add_identifier(sam.public_id, kind="email", value="sam@example.org", verified=True)
    result = service.awarding.award(AwardRequest(sam.public_id, world.walk, "teacher", "t-1"))
    text = service.get_credential(result.credential_id).text
    assert service.verify(text, recipient="sam@example.org").valid
    assert not service.verify(text, recipient="old@example.org").valid
    chosen = service.awarding.award(
        AwardRequest(
            sam.public_id, world.yearly, "teacher", "t-2", recipient_email="OLD@example.org"
        )
    )
    assert service.verify(
        service.get_credential(chosen.credential_id).text, recipient="old@example.org"
    ).valid


def test_a_learner_without_email_cannot_be_awarded_yet(service: BadgeService, world: World) -> None:
    lms_only = service.learners.find_or_create(lms_platform="https://lms.nl|c", lms_user_id="7")
    with pytest.raises(InvalidInput, match="no email address yet"):
        service.awarding.award(AwardRequest(lms_only.public_id, world.walk, "lms", "done-1"))
    assert count(service, AwardRecord) == count(service, CredentialRecord) == 0
    assert count(service, OutboxRecord) == 0


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"source_kind": "magic"}, InvalidInput, "Unknown award source"),
        ({"source_event_id": " "}, InvalidInput, "source event id"),
        ({"source_event_id": "x" * 301}, InvalidInput, "source event id"),
        ({"achievement_public_id": "no-such-badge"}, NotFound, "No achievement"),
        ({"learner_public_id": "no-such-learner"}, NotFound, "No learner"),
        ({"recipient_email": "someone@else.org"}, InvalidInput, "not an address of this"),
        ({"evidence_public_id": "no-such-evidence"}, NotFound, "No evidence"),
        ({"lms_context": ["not", "an", "object"]}, InvalidInput, "LMS context"),
    ],
)
def test_bad_award_requests_change_nothing(
    service: BadgeService,
    world: World,
    change: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    sam = service.learners.find_or_create(email="sam@example.org")
    fields: dict[str, Any] = {
        "learner_public_id": sam.public_id,
        "achievement_public_id": world.walk,
        "source_kind": "teacher",
        "source_event_id": "t-1",
        **change,
    }
    with pytest.raises(error, match=message):
        service.awarding.award(AwardRequest(**fields))
    assert count(service, AwardRecord) == count(service, CredentialRecord) == 0
    assert count(service, OutboxRecord) == 0


def test_a_replayed_event_asking_for_something_else_is_refused(
    service: BadgeService, world: World
) -> None:
    sam = service.learners.find_or_create(email="sam@example.org").public_id
    service.awarding.award(AwardRequest(sam, world.walk, "csv", "job-1:row-1"))
    with pytest.raises(InvalidInput, match="awards once"):
        service.awarding.award(AwardRequest(sam, world.photo, "csv", "job-1:row-1"))
    assert count(service, AwardRecord) == 1


def test_an_award_without_a_launch_queues_no_grade(service: BadgeService, world: World) -> None:
    """Grades go to the gradebook columns of launched course items (tests/test_lti_grades.py);
    an award to a learner who never launched one queues none, LMS context or not."""
    sam = service.learners.find_or_create(email="sam@example.org").public_id
    context = {"lineitem": "https://lms.example.nl/lineitems/5", "score_maximum": 1}
    service.awarding.award(AwardRequest(sam, world.yearly, "teacher", "t-1"))
    service.awarding.award(AwardRequest(sam, world.walk, "lms", "lms-done-1", lms_context=context))
    assert service.outbox.jobs(kind="lms_grade") == []


def test_an_n_of_m_playlist_is_awarded_when_enough_steps_are_done(
    service: BadgeService, world: World
) -> None:
    from core.catalogue import PlaylistStepSpec

    catalogue = service.catalogue
    badge = catalogue.create_achievement(
        world.issuer,
        name="Twee van drie",
        description="Any two of three Rotterdam badges.",
        criteria_narrative="Earn two of the three.",
    ).public_id
    catalogue.create_playlist(
        world.issuer,
        title="Twee van drie",
        description="Any two.",
        achievement_public_id=badge,
        steps=[
            PlaylistStepSpec.of_achievement(world.walk),
            PlaylistStepSpec.of_achievement(world.yearly),
            PlaylistStepSpec.of_external("https://other.example/achievements/x"),
        ],
        rule="n_of_m",
        required_count=2,
    )
    sam = service.learners.find_or_create(email="sam@example.org").public_id
    service.awarding.award(AwardRequest(sam, world.walk, "teacher", "t-1"))
    run_worker(service, once=True)
    assert badge not in {b.achievement_public_id for b in service.learners.badges_of(sam)}
    service.awarding.award(AwardRequest(sam, world.yearly, "teacher", "t-2"))
    run_worker(service, once=True)
    assert badge in {b.achievement_public_id for b in service.learners.badges_of(sam)}
