"""Evidence: texts, links and files with caps on size and sniffed types; review with a
comment; approval awards in the same transaction as the review."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.errors import InvalidInput, NotFound
from core.evidence import sniff_file_type
from core.limits import MAX_EVIDENCE_FILE_BYTES, MAX_EVIDENCE_TEXT_CHARS
from core.service import BadgeService
from core.storage import AwardRecord, CredentialRecord, EvidenceRecord, OutboxRecord
from tests.badge_world import World, make_world

SAMPLES = {
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00",
    "text": "Twaalf foto's van de Afrikaanderwijk, met bijschriften — één wijk.\n".encode(),
}
REFUSED = {
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "html": b"\n <!DOCTYPE html><html><script>alert(1)</script></html>",
    "exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",
    "zip": b"PK\x03\x04\x14\x00\x00\x00",
    "heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00",
    "binary-text": b"almost text\x00with a NUL",
    "latin-1": "café".encode("latin-1"),
}


@pytest.fixture
def world(service: BadgeService) -> World:
    return make_world(service)


@pytest.fixture
def sam(service: BadgeService) -> str:
    return service.learners.find_or_create(email="sam@example.org", email_verified=True).public_id


def count(service: BadgeService, table: type) -> int:
    with service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("pdf", "application/pdf"),
        ("png", "image/png"),
        ("jpeg", "image/jpeg"),
        ("webp", "image/webp"),
        ("mp4", "video/mp4"),
        ("text", "text/plain"),
    ],
)
def test_allowed_types_are_recognised_by_their_bytes(name: str, media_type: str) -> None:
    assert sniff_file_type(SAMPLES[name]) == media_type


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_other_types_are_refused(name: str) -> None:
    assert sniff_file_type(REFUSED[name]) is None


def test_a_file_is_stored_with_its_real_type_and_a_safe_name(
    service: BadgeService, world: World, sam: str
) -> None:
    handed_in = service.evidence.submit(
        sam,
        world.activity,
        file_name="../../etc/foto's\x00.pdf",
        file_type="image/png",  # the browser's claim is ignored
        file_data=SAMPLES["pdf"],
    )
    assert handed_in.file_type == "application/pdf"
    assert handed_in.file_name == "foto's.pdf"
    assert handed_in.file_size == len(SAMPLES["pdf"])
    stored = service.evidence.file(handed_in.public_id)
    assert (stored.media_type, stored.data) == ("application/pdf", SAMPLES["pdf"])
    with pytest.raises(NotFound):
        service.evidence.file(
            service.evidence.submit(sam, world.activity, text="Some words").public_id
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"text": "words", "url": "https://example.nl"}, "exactly one"),
        ({"text": "   "}, "empty"),
        ({"text": "x" * (MAX_EVIDENCE_TEXT_CHARS + 1)}, "at most"),
        ({"url": "javascript:alert(1)"}, "http"),
        ({"url": "ftp://example.nl/photos"}, "http"),
        ({"url": "data:text/html,hi"}, "http"),
        ({"url": "https://"}, "http"),
        ({"url": "https://user:secret@example.nl/"}, "password"),
        ({"url": "https://example.nl/a b"}, "one web address"),
        ({"file_data": b""}, "empty"),
        ({"file_data": REFUSED["svg"], "file_type": "image/svg+xml"}, "not accepted"),
        ({"file_data": REFUSED["exe"], "file_type": "application/pdf"}, "not accepted"),
        ({"file_data": b"%PDF-" + b"0" * MAX_EVIDENCE_FILE_BYTES}, "too large"),
    ],
)
def test_bad_evidence_is_refused_and_changes_nothing(
    service: BadgeService, world: World, sam: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        service.evidence.submit(sam, world.activity, **kwargs)  # type: ignore[arg-type]
    assert count(service, EvidenceRecord) == 0


def test_evidence_only_for_activities_confirmed_by_review(
    service: BadgeService, world: World, sam: str
) -> None:
    organiser_confirms = service.catalogue.create_activity(
        world.issuer,
        title="Buurtfeest",
        description="The organiser confirms who came.",
        online=True,
        achievement_public_id=world.walk,
    ).public_id
    with pytest.raises(InvalidInput, match="not completed by handing in evidence"):
        service.evidence.submit(sam, organiser_confirms, text="I was there.")
    with pytest.raises(NotFound):
        service.evidence.submit(sam, "no-such-activity", text="I was there.")
    with pytest.raises(NotFound):
        service.evidence.submit("no-such-learner", world.activity, text="I was there.")
    assert count(service, EvidenceRecord) == 0


def test_rejection_needs_a_comment_and_awards_nothing(
    service: BadgeService, world: World, sam: str
) -> None:
    handed_in = service.evidence.submit(sam, world.activity, url="https://example.nl/album")
    with pytest.raises(InvalidInput, match="needs a comment"):
        service.evidence.review(handed_in.public_id, approve=False, reviewer="org@rotterdam.nl")
    rejected = service.evidence.review(
        handed_in.public_id,
        approve=False,
        reviewer="org@rotterdam.nl",
        comment="The album is private; please share it.",
    )
    assert (rejected.status, rejected.review_comment) == (
        "rejected",
        "The album is private; please share it.",
    )
    assert rejected.reviewed_at is not None and rejected.credential_id is None
    assert count(service, AwardRecord) == 0
    # Same decision again: unchanged; the opposite decision: refused.
    again = service.evidence.review(
        handed_in.public_id, approve=False, reviewer="other@rotterdam.nl", comment="No."
    )
    assert again == rejected
    with pytest.raises(InvalidInput, match="already rejected"):
        service.evidence.review(handed_in.public_id, approve=True, reviewer="org@rotterdam.nl")
    assert [e.status for e in service.evidence.of_learner(sam)] == ["rejected"]


def test_approval_awards_with_the_evidence_in_the_credential(
    service: BadgeService, world: World, sam: str
) -> None:
    text = "Twaalf foto's van de Afrikaanderwijk, met bijschriften."
    handed_in = service.evidence.submit(sam, world.activity, text=text)
    approved = service.evidence.review(
        handed_in.public_id, approve=True, reviewer="org@rotterdam.nl", comment="Prachtig."
    )
    assert approved.credential_id is not None
    document = json.loads(service.get_credential(approved.credential_id).text)
    assert document["evidence"] == [
        {
            "type": ["Evidence"],
            "name": "Evidence for Fotografeer je wijk",
            "narrative": text,
            "genre": "Text",
            "description": f"Approved on {approved.reviewed_at:%Y-%m-%d}.",
        }
    ]
    assert service.verify(json.dumps(document)).valid
    # Approving again is a no-op: still one award, one credential.
    assert (
        service.evidence.review(handed_in.public_id, approve=True, reviewer="org@rotterdam.nl")
        == approved
    )
    assert count(service, AwardRecord) == count(service, CredentialRecord) == 1


def test_a_failed_award_leaves_the_review_undone(service: BadgeService, world: World) -> None:
    lms_only = service.learners.find_or_create(
        lms_platform="https://moodle.example.nl|c1", lms_user_id="42"
    ).public_id
    handed_in = service.evidence.submit(lms_only, world.activity, text="My photos.")
    with pytest.raises(InvalidInput, match="no email address yet"):
        service.evidence.review(handed_in.public_id, approve=True, reviewer="org@rotterdam.nl")
    still = service.evidence.get(handed_in.public_id)
    assert (still.status, still.reviewer, still.reviewed_at) == ("pending", None, None)
    assert count(service, AwardRecord) == count(service, OutboxRecord) == 0


def test_learners_cannot_review_their_own_evidence(
    service: BadgeService, world: World, sam: str
) -> None:
    handed_in = service.evidence.submit(sam, world.peer_activity, text="We walked 5 km.")
    for me in ("Sam@Example.org", sam):
        with pytest.raises(InvalidInput, match="their own"):
            service.evidence.review(handed_in.public_id, approve=True, reviewer=me)
    with pytest.raises(InvalidInput, match="reviewer"):
        service.evidence.review(handed_in.public_id, approve=True, reviewer=" ")
    assert service.evidence.get(handed_in.public_id).status == "pending"


def test_pending_evidence_is_listed_per_issuer(
    service: BadgeService, world: World, sam: str
) -> None:
    service.create_issuer("utrecht", "Utrecht City of Learning")
    first = service.evidence.submit(sam, world.activity, text="One.")
    second = service.evidence.submit(sam, world.peer_activity, text="Two.")
    assert [e.public_id for e in service.evidence.pending_for_issuer(world.issuer)] == [
        first.public_id,
        second.public_id,
    ]
    assert service.evidence.pending_for_issuer("utrecht") == []
    with pytest.raises(NotFound):
        service.evidence.pending_for_issuer("nowhere")
