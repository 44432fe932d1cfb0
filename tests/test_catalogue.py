"""The catalogue on SQLite and PostgreSQL: organisations and the Quality Label, achievements with
framework/ESCO alignments and EU micro-credential elements (signed, verifiable), activities and
their search, attendance codes, playlists and their progress, endorsements."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from core.catalogue import (
    MICROCREDENTIAL_CONTEXT,
    MICROCREDENTIAL_NAMESPACE,
    AchievementView,
    MicroCredentialElements,
    PlaylistStepSpec,
    playlist_progress_of,
)
from core.errors import InvalidInput, NotFound, UndefinedTerms
from core.jsonld import canonicalize, check_terms
from core.models.ob3 import parse_ob3_achievement
from core.schema_validation import validate_ob3_schema
from core.service import BadgeService
from core.storage import (
    AchievementRecord,
    ActivityRecord,
    EndorsementRecord,
    PlaylistRecord,
    utcnow,
)

ESCO = "http://data.europa.eu/esco/skill/0a1b2c3d-0000-4000-8000-000000000001"
AMS = timezone(timedelta(hours=2))
MICRO = {
    "workload_hours": 28,
    "ects": 1.0,
    "eqf_level": 4,
    "nlqf_level": "entry",
    "assessment_type": "Portfolio reviewed by the organiser",
    "participation_form": "blended",
    "quality_assurance": "Cities of Learning Quality Label",
    "language": "NL",
    "supervision": "onsite_identity_verification",
}


@pytest.fixture
def orgs(service: BadgeService) -> BadgeService:
    """Three issuers, one per proof format."""
    service.create_issuer(
        "rotterdam", "Rotterdam City of Learning", url="https://rotterdam.example"
    )
    service.create_issuer("utrecht", "Utrecht City of Learning", proof_format="jwt")
    service.create_issuer("denhaag", "Den Haag City of Learning", proof_format="jcs")
    return service


def achievement(service: BadgeService, issuer: str = "rotterdam", **extra: Any) -> AchievementView:
    values: dict[str, Any] = {
        "name": "Digitale vaardigheden",
        "description": "Finds, judges and shares information online.",
        "criteria_narrative": "Complete three online research tasks.",
    }
    values.update(extra)
    return service.catalogue.create_achievement(issuer, **values)


@contextmanager
def case(label: object) -> Iterator[None]:
    """Name the input of a table-driven check in its failure report."""
    try:
        yield
    except BaseException as failure:
        failure.add_note(f"case: {label!r}")
        raise


def count(service: BadgeService, model: type[Any]) -> int:
    with service.sessions() as session:
        return len(session.scalars(select(model)).all())


# -- organisations ------------------------------------------------------------------------------


def test_the_quality_label_is_set_shown_and_cleared(orgs: BadgeService) -> None:
    catalogue = orgs.catalogue
    assert catalogue.organisation("rotterdam").has_quality_label is False
    shown = catalogue.set_quality_label("rotterdam", date(2023, 9, 1))
    assert shown.quality_label_since == date(2023, 9, 1) and shown.has_quality_label
    assert catalogue.organisation("rotterdam").quality_label_since == date(2023, 9, 1)
    assert [o.quality_label_since for o in catalogue.organisations()] == [
        None,
        date(2023, 9, 1),
        None,
    ]
    # Activities show their organiser's label (the map marks labelled organisers).
    badge = achievement(orgs)
    activity = catalogue.create_activity(
        "rotterdam",
        title="Zoeken online",
        description="",
        achievement_public_id=badge.public_id,
        city="Rotterdam",
    )
    assert activity.issuer_quality_label_since == date(2023, 9, 1)
    assert catalogue.set_quality_label("rotterdam", None).has_quality_label is False


BAD_LABEL_DATES: list[tuple[Any, str]] = [
    (utcnow().date() + timedelta(days=2), "future"),
    (datetime(2023, 9, 1, tzinfo=UTC), "without a time"),
    ("2023-09-01", "date"),
    (date(1999, 1, 1), "after"),
]


def test_a_bad_quality_label_date_is_refused(orgs: BadgeService) -> None:
    orgs.catalogue.set_quality_label("rotterdam", date(2024, 1, 1))
    for since, message in BAD_LABEL_DATES:
        with case(since), pytest.raises(InvalidInput, match=message):
            orgs.catalogue.set_quality_label("rotterdam", since)
    assert orgs.catalogue.organisation("rotterdam").quality_label_since == date(2024, 1, 1)
    with pytest.raises(NotFound):
        orgs.catalogue.set_quality_label("nowhere", None)


# -- achievements -------------------------------------------------------------------------------


def test_an_achievement_is_created_read_listed_updated_and_archived(orgs: BadgeService) -> None:
    catalogue = orgs.catalogue
    made = achievement(
        orgs,
        skills=["digcomp-2.2:1.1", "slo-21:samenwerken", "digcomp-2.2:1.1"],
        esco_skills=[ESCO],
        tags=["digitaal", " digitaal "],
        image="https://rotterdam.example/badge.png",
        microcredential=MICRO,
    )
    assert made.id == f"http://badges.test/achievements/{made.public_id}"
    assert made.skill_ids == ("digcomp-2.2:1.1", "slo-21:samenwerken")
    assert made.tags == ("digitaal",)
    assert made.microcredential is not None
    assert made.microcredential.ects == 1 and made.microcredential.language == "nl"
    assert made.microcredential.nlqf_level == "entry"
    assert catalogue.get_achievement(made.id) == made  # by URL as well as public id
    other = achievement(orgs, "utrecht", name="Samenwerken")
    assert [a.name for a in catalogue.list_achievements()] == [
        "Digitale vaardigheden",
        "Samenwerken",
    ]
    assert [a.public_id for a in catalogue.list_achievements("utrecht")] == [other.public_id]

    changed = catalogue.update_achievement(
        made.public_id, name="Digitaal sterk", skills=["lifecomp:L1"]
    )
    assert changed.name == "Digitaal sterk" and changed.skill_ids == ("lifecomp:L1",)
    assert changed.esco_skills == (ESCO,) and changed.microcredential == made.microcredential

    assert catalogue.archive_achievement(made.public_id).archived is True
    assert [a.public_id for a in catalogue.list_achievements()] == [other.public_id]
    assert len(catalogue.list_achievements(include_archived=True)) == 2
    with pytest.raises(NotFound):
        catalogue.get_achievement("no-such-achievement")


BAD_ACHIEVEMENTS: list[tuple[dict[str, Any], str]] = [
    ({"skills": ["digcomp-2.2:1.1", "digcomp-2.2:7.7"]}, "digcomp-2.2:7.7"),
    ({"esco_skills": ["https://data.europa.eu/esco/skill/x"]}, "esco/skill/x"),
    ({"name": "  "}, "name is required"),
    ({"name": "x" * 301}, "at most 300"),
    ({"criteria_narrative": None}, "criteria"),
    ({"criteria_url": "ftp://example.org/criteria"}, "http"),
    ({"image": "javascript:alert(1)"}, "http"),
    ({"achievement_type": "Trophy"}, "Trophy"),
    ({"tags": "one,two"}, "list"),
    ({"microcredential": {"eqf_level": 9}}, "EQF level"),
    ({"microcredential": {"ects": -1}}, "ECTS"),
    ({"microcredential": {"workload_hours": float("nan")}}, "workload"),
    ({"microcredential": {"participation_form": "by post"}}, "form of participation"),
    ({"microcredential": {"language": "Dutch"}}, "language code"),
    ({"microcredential": {"hours": 3}}, "Unknown micro-credential element"),
    ({"allows_repeats": "yes"}, "true or false"),
]


def test_bad_achievement_input_is_refused_and_nothing_written(orgs: BadgeService) -> None:
    made = achievement(orgs)
    for changes, message in BAD_ACHIEVEMENTS:
        with case(changes), pytest.raises(InvalidInput, match=message):
            achievement(orgs, **changes)
        assert count(orgs, AchievementRecord) == 1
        with case(changes), pytest.raises(InvalidInput, match=message):
            orgs.catalogue.update_achievement(made.public_id, **changes)
        assert orgs.catalogue.get_achievement(made.public_id) == made


def test_updating_an_unknown_field_is_refused(orgs: BadgeService) -> None:
    made = achievement(orgs)
    with pytest.raises(InvalidInput, match="issuer_slug"):
        orgs.catalogue.update_achievement(made.public_id, issuer_slug="utrecht")
    with pytest.raises(NotFound):
        achievement(orgs, "nowhere")


def test_achievement_json_carries_alignments_and_microcredential_elements(
    orgs: BadgeService,
) -> None:
    made = achievement(
        orgs,
        achievement_type="MicroCredential",
        skills=["greencomp:1.1"],
        esco_skills=[ESCO],
        criteria_url="https://rotterdam.example/criteria",
        tags=["groen"],
        microcredential=MicroCredentialElements(workload_hours=12.5, eqf_level=3, language="en-gb"),
    )
    document = orgs.catalogue.achievement_json(made.public_id)
    parse_ob3_achievement({k: v for k, v in document.items() if k != "@context"})
    assert document["id"] == made.id
    assert document["achievementType"] == "MicroCredential"
    assert document["criteria"] == {
        "id": "https://rotterdam.example/criteria",
        "narrative": "Complete three online research tasks.",
    }
    assert document["tag"] == ["groen"]
    assert [(a["targetCode"], a["targetType"]) for a in document["alignment"]] == [
        ("greencomp:1.1", "ext:Competence"),
        ("0a1b2c3d-0000-4000-8000-000000000001", "ext:ESCOSkill"),
        ("3", "ext:EQFLevel"),
    ]
    assert document["inLanguage"] == "en-GB"
    assert "creditsAvailable" not in document  # no ECTS given
    assert document["microCredential"] == {
        "type": ["MicroCredentialElements"],
        "workloadHours": 12.5,
    }
    assert document["@context"] == [MICROCREDENTIAL_CONTEXT]
    plain = orgs.catalogue.achievement_json(achievement(orgs).public_id)
    assert "@context" not in plain and "microCredential" not in plain and "alignment" not in plain


def test_a_credential_for_a_catalogue_achievement_verifies_and_signs_the_elements(
    orgs: BadgeService,
) -> None:
    made = achievement(orgs, skills=["digcomp-2.2:1.1"], esco_skills=[ESCO], microcredential=MICRO)
    issued = {
        proof_format: orgs.issue(
            "rotterdam",
            orgs.catalogue.achievement_json(made.public_id),
            "leerling@example.nl",
            proof_format=proof_format,
        )
        for proof_format in ("rdfc", "jcs", "jwt")
    }
    for proof_format, credential in issued.items():
        report = orgs.verify(credential.text, recipient="leerling@example.nl")
        assert report.valid, (proof_format, report)
        assert MICROCREDENTIAL_CONTEXT in report.credential["@context"]
        assert validate_ob3_schema(report.credential) == []
        signed = report.credential["credentialSubject"]["achievement"]["microCredential"]
        assert signed["workloadHours"] == 28, proof_format
    document = issued["rdfc"].document
    assert isinstance(document, dict)
    quads = canonicalize({k: v for k, v in document.items() if k != "proof"})
    for term, value in [
        ("workloadHours", '"28"^^<http://www.w3.org/2001/XMLSchema#integer>'),
        ("ectsCredits", '"1"^^<http://www.w3.org/2001/XMLSchema#integer>'),
        ("participationForm", '"blended"'),
        ("assessmentType", '"Portfolio reviewed by the organiser"'),
        ("qualityAssurance", '"Cities of Learning Quality Label"'),
        ("supervision", '"onsite_identity_verification"'),
    ]:
        assert f"<{MICROCREDENTIAL_NAMESPACE}{term}> {value} ." in quads, term
    assert '<https://schema.org/inLanguage> "nl"' in quads
    assert "#creditsAvailable>" in quads
    # Changing a signed element breaks the signature.
    tampered = copy.deepcopy(document)
    tampered["credentialSubject"]["achievement"]["microCredential"]["workloadHours"] = 2
    assert not orgs.verify(json.dumps(tampered)).valid


def test_issuing_inside_a_unit_of_work_from_the_record(orgs: BadgeService) -> None:
    made = achievement(orgs, skills=["lifecomp:S2"], microcredential={"ects": 2.5})
    with orgs.transaction() as session:
        record = session.scalar(
            select(AchievementRecord).where(AchievementRecord.public_id == made.public_id)
        )
        assert record is not None
        issuer = orgs._issuer(session, "rotterdam")
        stored = orgs.issue_in_session(
            session,
            issuer,
            orgs.catalogue.achievement_json(record),
            recipient_email="leerling@example.nl",
            achievement_id=record.id,
        )
        text = stored.document
    report = orgs.verify(text)
    assert report.valid, report
    achievement_doc = report.credential["credentialSubject"]["achievement"]
    assert achievement_doc["creditsAvailable"] == 2.5
    assert achievement_doc["microCredential"]["ectsCredits"] == 2.5


def test_the_extension_context_defines_only_its_own_terms() -> None:
    credential: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
            MICROCREDENTIAL_CONTEXT,
        ],
        "id": "urn:uuid:6b1bb1b8-3f8f-4d5c-9a55-1f6f0e6b7c1a",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "https://example.org/issuer", "type": ["Profile"]},
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://example.org/a",
                "type": ["Achievement"],
                "name": "A",
                "description": "B",
                "criteria": {"narrative": "C"},
                "microCredential": {"type": ["MicroCredentialElements"], "workloadHours": 3},
            },
        },
    }
    check_terms(credential)
    # No @vocab: a misspelt element is refused, not signed as an issuer-dependent term.
    credential["credentialSubject"]["achievement"]["microCredential"]["workloadHour"] = 3
    with pytest.raises(UndefinedTerms, match="workloadHour"):
        check_terms(credential)


# -- endorsements -------------------------------------------------------------------------------


def test_endorsements_are_signed_verifiable_and_travel_with_the_achievement(
    orgs: BadgeService,
) -> None:
    catalogue = orgs.catalogue
    made = achievement(orgs, microcredential={"ects": 1})
    by_jwt = catalogue.endorse("utrecht", "achievement", made.public_id, "A well-run activity.")
    by_jcs = catalogue.endorse("denhaag", "achievement", made.id, "Recommended.")
    of_issuer = catalogue.endorse("utrecht", "issuer", "rotterdam", "Quality Label holder.")
    for endorsement in (by_jwt, by_jcs, of_issuer):
        report = orgs.verify(endorsement.text)
        assert report.valid, report
        assert validate_ob3_schema(report.credential) == []
        assert report.credential["type"] == ["VerifiableCredential", "EndorsementCredential"]
        assert report.credential["id"] == endorsement.credential_id
    assert by_jwt.proof_format == "jwt" and by_jcs.proof_format == "jcs"
    subject = report.credential["credentialSubject"]
    assert subject == {
        "id": "http://badges.test/issuers/rotterdam",
        "type": ["EndorsementSubject"],
        "endorsementComment": "Quality Label holder.",
    }
    listed = catalogue.endorsements_of("achievement", made.public_id)
    assert [(e.endorser_slug, e.comment) for e in listed] == [
        ("utrecht", "A well-run activity."),
        ("denhaag", "Recommended."),
    ]
    assert [e.credential_id for e in listed] == [by_jwt.credential_id, by_jcs.credential_id]
    assert [e.target_url for e in catalogue.endorsements_of("issuer", "rotterdam")] == [
        "http://badges.test/issuers/rotterdam"
    ]

    document = catalogue.achievement_json(made.public_id)
    assert document["endorsementJwt"] == [by_jwt.text]
    assert [e["id"] for e in document["endorsement"]] == [by_jcs.credential_id]
    issued = orgs.issue("rotterdam", document, "leerling@example.nl")
    report = orgs.verify(issued.text)
    assert report.valid, report
    assert validate_ob3_schema(report.credential) == []
    # Endorsements of the issuer are not endorsements of this achievement.
    other = catalogue.achievement_json(achievement(orgs).public_id)
    assert "endorsement" not in other and "endorsementJwt" not in other


BAD_ENDORSEMENTS: list[tuple[str, str, str, str, type[Exception], str]] = [
    ("rotterdam", "issuer", "rotterdam", "Me!", InvalidInput, "itself"),
    ("rotterdam", "achievement", "OWN", "Mine!", InvalidInput, "own achievements"),
    ("utrecht", "organiser", "rotterdam", "Hi", InvalidInput, "endorsement target"),
    ("utrecht", "issuer", "rotterdam", "   ", InvalidInput, "comment is required"),
    ("utrecht", "issuer", "rotterdam", "x" * 5001, InvalidInput, "at most 5000"),
    ("utrecht", "issuer", "nowhere", "Hi", NotFound, "nowhere"),
    ("utrecht", "achievement", "missing", "Hi", NotFound, "missing"),
    ("utrecht", "issuer", "denhaag", "Again", InvalidInput, "already endorses"),
]


def test_bad_endorsements_are_refused_and_nothing_written(orgs: BadgeService) -> None:
    own = achievement(orgs)
    orgs.catalogue.endorse("utrecht", "issuer", "denhaag", "First.")
    for endorser, kind, target, comment, error, message in BAD_ENDORSEMENTS:
        target = own.public_id if target == "OWN" else target
        with case((endorser, kind, target)), pytest.raises(error, match=message):
            orgs.catalogue.endorse(endorser, kind, target, comment)
    assert count(orgs, EndorsementRecord) == 1


# -- activities ---------------------------------------------------------------------------------


def test_an_activity_is_created_with_location_dates_and_skills(orgs: BadgeService) -> None:
    badge = achievement(orgs, skills=["digcomp-2.2:1.1"])
    catalogue = orgs.catalogue
    start = datetime(2025, 6, 1, 14, 0, 30, 123, tzinfo=AMS)
    made = catalogue.create_activity(
        "rotterdam",
        title="Fake news detectives",
        description="Check sources in the library.",
        achievement_public_id=badge.public_id,
        city="Rotterdam",
        location_name="Bibliotheek Rotterdam",
        latitude=51.9225,
        longitude=4.4792,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    assert made.starts_at == datetime(2025, 6, 1, 12, 0, 30, tzinfo=UTC)
    assert made.skills == ("digcomp-2.2:1.1",)  # from the achievement
    assert made.achievement_name == "Digitale vaardigheden"
    assert made.completion_mode == "organiser_confirms" and not made.has_attendance_code
    assert catalogue.get_activity(made.public_id) == made
    online = catalogue.create_activity(
        "rotterdam",
        title="Online quiz",
        description="",
        achievement_public_id=badge.public_id,
        online=True,
        skills=[ESCO, "lifecomp:L3"],
    )
    assert online.city is None and online.skills == (ESCO, "lifecomp:L3")
    moved = catalogue.update_activity(
        made.public_id, city="Schiedam", latitude=None, longitude=None
    )
    assert (moved.city, moved.latitude, moved.title) == ("Schiedam", None, made.title)
    with pytest.raises(NotFound):
        catalogue.get_activity("nothing")


BAD_ACTIVITIES: list[tuple[dict[str, Any], str]] = [
    ({"latitude": 91.0, "longitude": 4.4}, "latitude"),
    ({"latitude": 51.9, "longitude": -180.5}, "longitude"),
    ({"latitude": 51.9}, "both latitude and longitude"),
    ({"latitude": True, "longitude": 4.4}, "latitude"),
    ({"starts_at": datetime(2025, 6, 1, 14, 0)}, "time zone"),
    ({"starts_at": date(2025, 6, 1)}, "date and time"),
    (
        {
            "starts_at": datetime(2025, 6, 1, 14, tzinfo=UTC),
            "ends_at": datetime(2025, 6, 1, 13, tzinfo=UTC),
        },
        "end before it starts",
    ),
    ({"city": None}, "needs a city"),
    ({"city": "x" * 101}, "at most 100"),
    ({"title": ""}, "title is required"),
    ({"completion_mode": "vibes"}, "completion mode"),
    ({"completion_mode": "attendance_code"}, "needs an attendance code"),
    ({"attendance_code": "ABCD1234"}, "only applies"),
    ({"completion_mode": "attendance_code", "attendance_code": "AB"}, "4-128"),
    ({"skills": ["digcomp-2.2:1.1", "nope"]}, "nope"),
    ({"online": "no"}, "true or false"),
]


def test_bad_activity_input_is_refused_and_nothing_written(orgs: BadgeService) -> None:
    badge = achievement(orgs)
    values: dict[str, Any] = {
        "title": "Workshop",
        "description": "",
        "achievement_public_id": badge.public_id,
        "city": "Rotterdam",
    }
    made = orgs.catalogue.create_activity("rotterdam", **values)
    for changes, message in BAD_ACTIVITIES:
        with case(changes), pytest.raises(InvalidInput, match=message):
            orgs.catalogue.create_activity("rotterdam", **{**values, **changes})
        assert count(orgs, ActivityRecord) == 1
        with case(changes), pytest.raises(InvalidInput, match=message):
            orgs.catalogue.update_activity(made.public_id, **changes)
        assert orgs.catalogue.get_activity(made.public_id) == made


def test_an_activity_awards_an_active_achievement_of_its_own_organiser(orgs: BadgeService) -> None:
    theirs = achievement(orgs, "utrecht")
    archived = achievement(orgs)
    orgs.catalogue.archive_achievement(archived.public_id)
    for ref, message in [(theirs.public_id, "another issuer"), (archived.public_id, "archived")]:
        with pytest.raises(InvalidInput, match=message):
            orgs.catalogue.create_activity(
                "rotterdam", title="W", description="", achievement_public_id=ref, online=True
            )
    with pytest.raises(NotFound):
        orgs.catalogue.create_activity(
            "rotterdam", title="W", description="", achievement_public_id="missing", online=True
        )
    assert count(orgs, ActivityRecord) == 0


def test_attendance_codes_are_stored_hashed_and_checked(orgs: BadgeService) -> None:
    badge = achievement(orgs)
    catalogue = orgs.catalogue
    made = catalogue.create_activity(
        "rotterdam",
        title="Open dag",
        description="",
        achievement_public_id=badge.public_id,
        city="Rotterdam",
        completion_mode="attendance_code",
        attendance_code="KRAL-7Q2X",
    )
    assert made.has_attendance_code
    with orgs.sessions() as session:
        stored = session.scalar(
            select(ActivityRecord.attendance_code_hash).where(
                ActivityRecord.public_id == made.public_id
            )
        )
    assert stored is not None and "KRAL" not in stored.upper() and "7Q2X" not in stored.upper()
    assert catalogue.check_attendance_code(made.public_id, "KRAL-7Q2X")
    assert catalogue.check_attendance_code(made.public_id, " kral 7q2x ")
    assert not catalogue.check_attendance_code(made.public_id, "KRAL-7Q2Y")
    assert not catalogue.check_attendance_code(made.public_id, "")
    # Other changes keep the code; a new code replaces it.
    catalogue.update_activity(made.public_id, title="Open dag 2025")
    assert catalogue.check_attendance_code(made.public_id, "KRAL7Q2X")
    catalogue.update_activity(made.public_id, attendance_code="NEWCODE1")
    assert not catalogue.check_attendance_code(made.public_id, "KRAL7Q2X")
    assert catalogue.check_attendance_code(made.public_id, "newcode1")
    # Another completion mode drops the code; archived activities accept none.
    switched = catalogue.update_activity(made.public_id, completion_mode="organiser_confirms")
    assert not switched.has_attendance_code
    assert not catalogue.check_attendance_code(made.public_id, "NEWCODE1")
    catalogue.update_activity(
        made.public_id, completion_mode="attendance_code", attendance_code="AGAIN"
    )
    catalogue.update_activity(made.public_id, archived=True)
    assert not catalogue.check_attendance_code(made.public_id, "AGAIN")
    with pytest.raises(NotFound):
        catalogue.check_attendance_code("missing", "AGAIN")


def test_activities_are_searched_by_text_skill_framework_place_mode_and_period(
    orgs: BadgeService,
) -> None:
    catalogue = orgs.catalogue
    badge = achievement(orgs).public_id
    utrecht_badge = achievement(orgs, "utrecht").public_id
    june = datetime(2025, 6, 10, 10, tzinfo=UTC)

    def activity(issuer: str, title: str, **extra: Any) -> str:
        return catalogue.create_activity(
            issuer,
            title=title,
            description=extra.pop("description", ""),
            achievement_public_id=utrecht_badge if issuer == "utrecht" else badge,
            **extra,
        ).public_id

    quiz = activity("rotterdam", "Online privacy quiz", online=True, skills=["digcomp-2.2:4.2"])
    garden = activity(
        "rotterdam",
        "Stadstuin Zuid",
        city="Rotterdam",
        skills=["greencomp:1.1", ESCO],
        description="Tuinieren met buren (100% biologisch)",
        starts_at=june,
        ends_at=june + timedelta(hours=3),
    )
    coding = activity(
        "utrecht",
        "Code club",
        city="Utrecht",
        skills=["digcomp-2.2:3.4", "entrecomp:1.1"],
        starts_at=june + timedelta(days=30),
    )
    archived = activity("rotterdam", "Old privacy course", online=True, skills=["digcomp-2.2:4.2"])
    catalogue.update_activity(archived, archived=True)

    def ids(**filters: Any) -> list[str]:
        return [a.public_id for a in catalogue.search_activities(**filters)]

    assert ids() == [garden, coding, quiz]  # soonest first, undated last, archived hidden
    assert ids(text="PRIVACY") == [quiz]
    assert ids(text="buren tuin") == [garden]
    assert ids(text="100%") == [garden]
    assert ids(text="%") == [garden]  # a literal percent sign, not a wildcard
    assert ids(skill="digcomp-2.2:4.2") == [quiz]
    assert ids(skill=ESCO) == [garden]
    assert ids(framework="digcomp-2.2") == [coding, quiz]
    assert ids(framework="esco") == [garden]
    assert ids(city="rotterdam") == [garden]
    assert ids(online=True) == [quiz]
    assert ids(online=False) == [garden, coding]
    assert ids(issuer_slug="utrecht") == [coding]
    # A period finds what overlaps it; undated (always open) activities match any period.
    assert ids(date_from=june + timedelta(hours=2), date_to=june + timedelta(days=1)) == [
        garden,
        quiz,
    ]
    assert ids(date_from=june + timedelta(days=1)) == [coding, quiz]
    assert ids(date_to=june - timedelta(days=1)) == [quiz]
    assert ids(framework="digcomp-2.2", online=False, city="Utrecht") == [coding]
    assert ids(text="privacy", limit=1) == [quiz]
    assert ids(text="privacy", include_archived=True) == [archived, quiz]  # by title

    for filters, message in [
        ({"skill": "digcomp-2.2:9.9"}, "digcomp-2.2:9.9"),
        ({"framework": "digcomp"}, "digcomp"),
        ({"date_from": datetime(2025, 6, 1)}, "time zone"),
        ({"date_from": june, "date_to": june - timedelta(days=1)}, "before its start"),
        ({"online": "yes"}, "true or false"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            catalogue.search_activities(**filters)


# -- playlists ----------------------------------------------------------------------------------


@pytest.fixture
def pathway(orgs: BadgeService) -> dict[str, str]:
    """A Rotterdam playlist: an activity, a Utrecht achievement (by URL), an external badge."""
    catalogue = orgs.catalogue
    photo = achievement(orgs, name="Stadsfotograaf").public_id
    walk = achievement(orgs, "utrecht", name="Wijkwandelaar")
    badge = achievement(orgs, name="Ontdek Rotterdam").public_id
    activity = catalogue.create_activity(
        "rotterdam",
        title="Fotografeer je wijk",
        description="",
        achievement_public_id=photo,
        city="Rotterdam",
    ).public_id
    external = "https://badges.example.edu/achievements/ai-basics"
    playlist = catalogue.create_playlist(
        "rotterdam",
        title="Ontdek Rotterdam",
        description="Three ways to explore.",
        achievement_public_id=badge,
        steps=[
            PlaylistStepSpec.of_activity(activity),
            PlaylistStepSpec.of_external(walk.id),  # one of ours, given by URL
            PlaylistStepSpec.of_external(external, title="AI basics (university)"),
        ],
        rule="n_of_m",
        required_count=2,
    )
    return {
        "playlist": playlist.public_id,
        "photo": photo,
        "walk": walk.public_id,
        "walk_url": walk.id,
        "badge": badge,
        "activity": activity,
        "external": external,
    }


def test_a_playlist_keeps_its_ordered_steps_and_rule(
    orgs: BadgeService, pathway: dict[str, str]
) -> None:
    view = orgs.catalogue.get_playlist(pathway["playlist"])
    assert (view.rule, view.required_count, view.achievement_public_id) == (
        "n_of_m",
        2,
        pathway["badge"],
    )
    assert [(s.position, s.kind, s.title) for s in view.steps] == [
        (1, "activity", "Fotografeer je wijk"),
        (2, "achievement", "Wijkwandelaar"),
        (3, "external", "AI basics (university)"),
    ]
    assert view.steps[0].achievement_public_id == pathway["photo"]
    assert view.steps[1].achievement_url == pathway["walk_url"]
    assert [p.public_id for p in orgs.catalogue.list_playlists("rotterdam")] == [view.public_id]
    assert orgs.catalogue.list_playlists("utrecht") == []


def test_playlist_progress_follows_the_rule(orgs: BadgeService, pathway: dict[str, str]) -> None:
    catalogue = orgs.catalogue
    nothing = catalogue.playlist_progress(pathway["playlist"], set())
    assert (nothing.completed_count, nothing.met, nothing.remaining) == (0, False, 2)
    one = catalogue.playlist_progress(pathway["playlist"], {pathway["photo"], "unrelated"})
    assert [s.done for s in one.steps] == [True, False, False] and not one.met
    # Held achievements may be named by public id, URL or external id.
    two = catalogue.playlist_progress(
        pathway["playlist"],
        {f"http://badges.test/achievements/{pathway['photo']}", pathway["external"]},
    )
    assert [s.done for s in two.steps] == [True, False, True]
    assert two.met and two.remaining == 0 and two.achievement_public_id == pathway["badge"]
    # The rule "all" needs every step; the pure function needs no database.
    view = catalogue.get_playlist(pathway["playlist"])
    every = replace(view, rule="all", required_count=3)
    orgs.engine.dispose()
    assert not playlist_progress_of(every, {pathway["photo"], pathway["external"]}).met
    assert playlist_progress_of(every, {pathway["photo"], pathway["walk"], pathway["external"]}).met


def test_playlists_containing_an_achievement(orgs: BadgeService, pathway: dict[str, str]) -> None:
    catalogue = orgs.catalogue
    playlist = pathway["playlist"]

    def found(ref: str) -> list[str]:
        return [p.public_id for p in catalogue.playlists_containing_achievement(ref)]

    assert found(pathway["photo"]) == [playlist]  # through the activity that awards it
    assert found(pathway["walk"]) == [playlist]
    assert found(pathway["walk_url"]) == [playlist]
    assert found(pathway["external"]) == [playlist]
    assert found(pathway["badge"]) == []  # the playlist's own badge is not a step
    assert found("https://elsewhere.example/unknown") == []
    catalogue.archive_playlist(playlist)
    assert found(pathway["photo"]) == []


BAD_PLAYLISTS: list[tuple[dict[str, Any], str]] = [
    ({"rule": "n_of_m", "required_count": 0}, "from 1 to 2"),
    ({"rule": "n_of_m", "required_count": 3}, "from 1 to 2"),
    ({"rule": "n_of_m", "required_count": True}, "from 1 to 2"),
    ({"rule": "n_of_m"}, "from 1 to 2"),
    ({"rule": "all", "required_count": 2}, "only applies"),
    ({"rule": "most"}, "playlist rule"),
    ({"steps": []}, "at least one step"),
    ({"steps": [{"achievement_public_id": "x"}]}, "PlaylistStepSpec"),
    ({"steps": [PlaylistStepSpec()]}, "exactly one"),
    ({"steps": [PlaylistStepSpec("A", "B")]}, "exactly one"),
    ({"steps": ["BADGE"]}, "own badge"),
    ({"steps": ["BADGE_URL"]}, "own badge"),
    ({"steps": ["OTHER", "OTHER"]}, "same achievement"),
    ({"steps": ["ACTIVITY", "OTHER"]}, "same achievement"),
    ({"steps": [PlaylistStepSpec.of_external("has spaces in it")]}, "spaces"),
    ({"steps": [PlaylistStepSpec.of_activity("missing")]}, "missing"),
    ({"achievement_public_id": "THEIRS"}, "own achievements"),
    ({"title": " "}, "title is required"),
]


def test_bad_playlists_are_refused_and_nothing_written(orgs: BadgeService) -> None:
    catalogue = orgs.catalogue
    badge = achievement(orgs, name="Badge")
    other = achievement(orgs, name="Other")
    theirs = achievement(orgs, "utrecht")
    activity = catalogue.create_activity(
        "rotterdam", title="A", description="", achievement_public_id=other.public_id, online=True
    )
    named = {
        "OTHER": PlaylistStepSpec.of_achievement(other.public_id),
        "BADGE": PlaylistStepSpec.of_achievement(badge.public_id),
        "BADGE_URL": PlaylistStepSpec.of_external(badge.id),
        "ACTIVITY": PlaylistStepSpec.of_activity(activity.public_id),
    }
    base: dict[str, Any] = {
        "title": "Pathway",
        "description": "",
        "achievement_public_id": badge.public_id,
        "steps": [named["OTHER"], PlaylistStepSpec.of_external("lms:course-7:module-2")],
    }
    for changes, message in BAD_PLAYLISTS:
        values = {**base, **changes}
        values["steps"] = [named.get(s, s) if isinstance(s, str) else s for s in values["steps"]]
        if values["achievement_public_id"] == "THEIRS":
            values["achievement_public_id"] = theirs.public_id
        with case(changes), pytest.raises((InvalidInput, NotFound), match=message):
            catalogue.create_playlist("rotterdam", **values)
        assert count(orgs, PlaylistRecord) == 0
    # The same playlist with good input is accepted; a long external id names its step.
    assert len(catalogue.create_playlist("rotterdam", **base).steps) == 2
    long_id = "https://lms.example/modules/" + "m" * 600
    made = catalogue.create_playlist(
        "rotterdam", **{**base, "steps": [PlaylistStepSpec.of_external(long_id)]}
    )
    assert made.steps[0].external_achievement_id == long_id
    assert made.steps[0].title == long_id[:300]
