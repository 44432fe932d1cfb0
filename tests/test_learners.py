"""Learners: one durable identity behind emails, LMS ids and DIDs; conflicts never merge
silently; explicit merge; erasure of a learner's data."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from core.awarding import AwardRequest
from core.errors import InvalidInput, NotFound
from core.learners import IdentityConflict
from core.service import BadgeService
from core.storage import (
    AwardRecord,
    CredentialRecord,
    EvidenceRecord,
    LearnerIdentifierRecord,
    LearnerRecord,
)
from tests.badge_world import World, make_world

MOODLE = "https://moodle.example.nl|client-1"
CANVAS = "https://canvas.example.nl|client-9"


def rows(service: BadgeService, table: type) -> int:
    with service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
def world(service: BadgeService) -> World:
    return make_world(service)


def test_an_lms_launch_with_a_verified_email_links_to_the_learner_who_has_it(
    service: BadgeService,
) -> None:
    learners = service.learners
    sam = learners.find_or_create(email="Sam@Example.org", display_name="Sam")
    assert learners.find_or_create(email="sam@example.org ").public_id == sam.public_id

    launch = learners.find_or_create(
        email="sam@example.org", email_verified=True, lms_platform=MOODLE, lms_user_id="42"
    )
    assert launch.public_id == sam.public_id
    # The LMS id alone now finds Sam (e.g. a launch without email), on that platform only.
    assert learners.find_or_create(lms_platform=MOODLE, lms_user_id="42").public_id == sam.public_id
    assert learners.find(lms_platform=CANVAS, lms_user_id="42") is None
    sam = learners.get(sam.public_id)
    assert sam.emails == ["sam@example.org"]
    assert [i.verified for i in sam.identifiers if i.kind == "email"] == [True]
    assert learners.primary_email(sam) == "sam@example.org"


def test_an_unverified_email_does_not_prove_who_someone_is(service: BadgeService) -> None:
    learners = service.learners
    sam = learners.find_or_create(email="sam@example.org")
    stranger = learners.find_or_create(
        email="sam@example.org", email_verified=False, lms_platform=MOODLE, lms_user_id="7"
    )
    assert stranger.public_id != sam.public_id
    assert stranger.emails == []  # the email stays with Sam
    assert learners.get(sam.public_id).emails == ["sam@example.org"]


def test_conflicting_identifiers_never_merge_silently(service: BadgeService) -> None:
    learners = service.learners
    sam = learners.find_or_create(email="sam@example.org", email_verified=True)
    kim = learners.find_or_create(lms_platform=MOODLE, lms_user_id="42", display_name="Kim")
    before = rows(service, LearnerIdentifierRecord), rows(service, LearnerRecord)

    with pytest.raises(IdentityConflict) as raised:
        learners.find_or_create(
            email="sam@example.org", email_verified=True, lms_platform=MOODLE, lms_user_id="42"
        )
    assert set(raised.value.learner_public_ids) == {sam.public_id, kim.public_id}
    assert sam.public_id in raised.value.message and kim.public_id in raised.value.message
    with pytest.raises(IdentityConflict):
        learners.add_identifier(kim.public_id, kind="email", value="sam@example.org")
    assert (rows(service, LearnerIdentifierRecord), rows(service, LearnerRecord)) == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs an email"),
        ({"email": "not-an-email"}, "not an email"),
        ({"email": "a@b.nl", "lms_platform": MOODLE}, "platform"),
        ({"lms_platform": MOODLE, "lms_user_id": " "}, "1-500"),
        ({"did": "did:nope"}, "not a DID"),
        ({"email": "a@b.nl", "display_name": "x" * 201}, "200"),
    ],
)
def test_bad_identifiers_are_refused_and_change_nothing(
    sqlite_service: BadgeService, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        sqlite_service.learners.find_or_create(**kwargs)  # type: ignore[arg-type]
    assert rows(sqlite_service, LearnerRecord) == 0


def test_concurrent_first_launches_create_one_learner(service: BadgeService) -> None:
    barrier = threading.Barrier(8)
    found: list[str] = []
    errors: list[BaseException] = []

    def launch() -> None:
        try:
            barrier.wait()
            learner = service.learners.find_or_create(
                email="new@example.org", email_verified=True, lms_platform=MOODLE, lms_user_id="9"
            )
            found.append(learner.public_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=launch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(found)) == 1 and len(found) == 8
    assert rows(service, LearnerRecord) == 1


def test_merge_moves_everything_and_is_idempotent(service: BadgeService, world: World) -> None:
    learners = service.learners
    school = learners.find_or_create(email="sam@school.nl", lms_platform=MOODLE, lms_user_id="1")
    home = learners.find_or_create(email="sam@home.nl", did="did:web:sam.example")
    evidence = service.evidence.submit(home.public_id, world.activity, text="My photos.")
    # Both earned the same (non-repeatable) badge, and the school one also another badge.
    kept = service.awarding.award(AwardRequest(school.public_id, world.walk, "teacher", "t-1"))
    moved = service.awarding.award(AwardRequest(home.public_id, world.walk, "organiser", "o-1"))
    other = service.awarding.award(AwardRequest(home.public_id, world.yearly, "csv", "c-1"))

    merged = learners.merge(home.public_id, school.public_id)
    assert merged.public_id == school.public_id
    assert sorted(merged.emails) == ["sam@home.nl", "sam@school.nl"]
    assert {i.kind for i in merged.identifiers} == {"email", "lms", "did"}
    assert learners.get(home.public_id).public_id == school.public_id  # old id still answers
    assert learners.find(did="did:web:sam.example").public_id == school.public_id  # type: ignore[union-attr]
    assert learners.merge(home.public_id, school.public_id) == merged  # idempotent

    badges = learners.badges_of(school.public_id)
    assert {b.credential_id for b in badges} == {
        kept.credential_id,
        moved.credential_id,
        other.credential_id,
    }
    # Both copies of the same badge stay valid; only one is the "active" award.
    assert all(service.verify(b.credential_id).valid for b in badges if b.credential_id)
    with service.sessions() as session:
        keys = {
            e: k
            for e, k in session.execute(select(AwardRecord.source_event_id, AwardRecord.active_key))
        }
        assert keys["t-1"] is not None and keys["o-1"] is None  # the moved copy is not "active"
        assert keys["c-1"] is None  # a repeatable achievement never holds the slot
        owners = set(session.scalars(select(CredentialRecord.learner_id)))
        evidence_owners = set(session.scalars(select(EvidenceRecord.learner_id)))
    assert len(owners) == 1 and owners == evidence_owners
    assert [e.public_id for e in service.evidence.of_learner(school.public_id)] == [
        evidence.public_id
    ]
    again = service.awarding.award(AwardRequest(school.public_id, world.walk, "teacher", "t-2"))
    assert again.created is False and again.credential_id == kept.credential_id

    with pytest.raises(InvalidInput, match="themselves"):
        learners.merge(school.public_id, school.public_id)
    with pytest.raises(NotFound):
        learners.merge("no-such-learner", school.public_id)


def test_deleting_a_learners_data(service: BadgeService, world: World) -> None:
    learners = service.learners
    sam = learners.find_or_create(email="sam@example.org", display_name="Sam Jansen")
    service.evidence.submit(sam.public_id, world.activity, text="My twelve photos.")
    award = service.awarding.award(AwardRequest(sam.public_id, world.walk, "organiser", "o-1"))
    credential_text = service.get_credential(award.credential_id).text
    assert service.verify(credential_text).valid

    report = learners.delete_learner_data(sam.public_id)
    assert (report.identifiers_erased, report.evidence_erased) == (1, 1)
    assert report.credentials_revoked == [award.credential_id]
    assert report.awards_anonymised == 1

    # Personal data is gone: nobody finds Sam by email, the name and evidence are erased.
    assert learners.find(email="sam@example.org") is None
    gone = learners.get(sam.public_id)
    assert gone.deleted and gone.display_name is None and gone.identifiers == ()
    assert rows(service, EvidenceRecord) == 0
    # Credentials are revoked (copies stop verifying) and private; the award is anonymised.
    assert [c.id for c in service.verify(credential_text).failures] == ["status"]
    with service.sessions() as session:
        credential = session.scalar(select(CredentialRecord))
        assert credential is not None
        assert credential.recipient == "erased" and credential.visibility == "private"
        assert session.scalar(select(AwardRecord.active_key)) is None
    # An erased learner receives nothing and cannot be merged.
    with pytest.raises(InvalidInput, match="erased"):
        service.awarding.award(AwardRequest(sam.public_id, world.photo, "organiser", "o-2"))
    other = learners.find_or_create(email="other@example.org")
    with pytest.raises(InvalidInput, match="erased"):
        learners.merge(sam.public_id, other.public_id)
    # Erasing again changes nothing; the email is free for a new learner.
    assert learners.delete_learner_data(sam.public_id).credentials_revoked == []
    assert learners.find_or_create(email="sam@example.org").public_id != sam.public_id
