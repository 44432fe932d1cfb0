"""Demo data for ``make run``: a Rotterdam and a Utrecht City of Learning with achievements aligned
to skills frameworks, activities in several neighbourhoods (and one online), two playlists,
learners with earned badges, evidence waiting for review, an endorsement and demo accounts, so a
newcomer sees the real thing at once. Everything goes through the same service API as real use.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core.service import BadgeService

DEMO_PASSWORD_FILE = "demo-accounts.txt"  # noqa: S105 (a file name)


@dataclass(frozen=True)
class DemoActivity:
    issuer: str
    achievement: str
    title: str
    description: str
    city: str
    location: str
    latitude: float | None
    longitude: float | None
    skills: tuple[str, ...]
    completion_mode: str
    days_from_now: int
    online: bool = False


ISSUERS: list[dict[str, Any]] = [
    {
        "slug": "rotterdam",
        "name": "Rotterdam City of Learning",
        "url": "https://rotterdam.citiesoflearning.nl",
        "email": "badges@rotterdam.citiesoflearning.nl",
        "description": "Non-formal learning across Rotterdam's neighbourhoods.",
    },
    {
        "slug": "utrecht",
        "name": "Utrecht City of Learning",
        "url": "https://utrecht.citiesoflearning.nl",
        "email": "badges@utrecht.citiesoflearning.nl",
        "description": "Leren in de stad: activiteiten in heel Utrecht.",
        "proof_format": "jcs",
    },
]

ACHIEVEMENTS: dict[str, dict[str, Any]] = {
    "coderen": {
        "issuer": "rotterdam",
        "name": "Digitale Makers: Coderen",
        "description": "Built and presented a small game in a six-week coding club.",
        "criteria_narrative": "Attend five of six sessions and present a working game.",
        "skills": ["slo-21:computational-thinking", "digcomp-2.2:3.4", "slo-21:samenwerken"],
        "microcredential": {
            "workload_hours": 18,
            "eqf_level": 2,
            "assessment_type": "Presentation of a working game to the group",
            "participation_form": "onsite",
            "language": "nl",
        },
    },
    "podcast": {
        "issuer": "rotterdam",
        "name": "Stadsreporter: Podcast",
        "description": "Made a podcast episode about a person from the neighbourhood.",
        "criteria_narrative": "Publish one episode of at least ten minutes.",
        "skills": ["slo-21:mediawijsheid", "slo-21:communiceren", "digcomp-2.2:3.1"],
    },
    "ondernemen": {
        "issuer": "rotterdam",
        "name": "Jonge Ondernemer op Zuid",
        "description": "Developed a business idea and pitched it to local entrepreneurs.",
        "criteria_narrative": "Pitch a business idea with a one-page plan.",
        "skills": ["entrecomp:1.1", "entrecomp:1.2", "entrecomp:3.2"],
    },
    "maker-rotterdam": {
        "issuer": "rotterdam",
        "name": "Rotterdamse Maker (leerroute)",
        "description": "Completed the maker learning pathway: coding, media and enterprise.",
        "criteria_narrative": "Earn two of the three badges in the Rotterdamse Maker playlist.",
        "skills": ["slo-21:creatief-denken-en-handelen", "entrecomp:1.2"],
    },
    "vergroenen": {
        "issuer": "utrecht",
        "name": "Groene Wijk: Samen Vergroenen",
        "description": "Planned and ran a greening action with neighbours.",
        "criteria_narrative": "Organise one greening action with at least five neighbours.",
        "skills": ["greencomp:1.3", "greencomp:4.2", "slo-21:samenwerken"],
    },
    "moestuin": {
        "issuer": "utrecht",
        "name": "Stadsmoestuinier",
        "description": "Looked after a plot in a community garden for a growing season.",
        "criteria_narrative": "Keep a plot for one season and share a harvest log.",
        "skills": ["greencomp:1.1", "lifecomp:P3", "lifecomp:S3"],
    },
    "digitaal-veilig": {
        "issuer": "utrecht",
        "name": "Digitaal Veilig",
        "description": "Learned to protect devices, accounts and privacy online.",
        "criteria_narrative": "Complete the online course and its final quiz.",
        "skills": ["digcomp-2.2:4.1", "digcomp-2.2:4.2", "slo-21:ict-basisvaardigheden"],
        "microcredential": {
            "workload_hours": 8,
            "assessment_type": "Online quiz",
            "participation_form": "online",
            "language": "nl",
        },
    },
    "duurzaam-utrecht": {
        "issuer": "utrecht",
        "name": "Duurzaam Utrecht (leerroute)",
        "description": "Completed every step of the sustainable Utrecht pathway.",
        "criteria_narrative": "Earn all badges of the Duurzaam Utrecht playlist.",
        "skills": ["greencomp:2.1", "greencomp:4.2"],
    },
}

ACTIVITIES: list[DemoActivity] = [
    DemoActivity(
        "rotterdam",
        "coderen",
        "Codeclub Delfshaven",
        "Six Wednesday afternoons of game programming in the library.",
        "Rotterdam",
        "Bibliotheek Delfshaven",
        51.9097,
        4.4445,
        ("slo-21:computational-thinking",),
        "organiser_confirms",
        14,
    ),
    DemoActivity(
        "rotterdam",
        "podcast",
        "Podcastlab Feijenoord",
        "Record and edit a podcast in the neighbourhood studio.",
        "Rotterdam",
        "Huis van de Wijk Feijenoord",
        51.8986,
        4.4993,
        ("slo-21:mediawijsheid",),
        "evidence_organiser",
        21,
    ),
    DemoActivity(
        "rotterdam",
        "ondernemen",
        "Pitchavond Charlois",
        "Pitch your idea to entrepreneurs from Rotterdam-Zuid.",
        "Rotterdam",
        "Wijkcentrum Charlois",
        51.8826,
        4.4829,
        ("entrecomp:1.1",),
        "attendance_code",
        30,
    ),
    DemoActivity(
        "rotterdam",
        "coderen",
        "Codeclub Kralingen",
        "The coding club, now also on Saturdays in Kralingen.",
        "Rotterdam",
        "Kralingen Makerspace",
        51.9226,
        4.5037,
        ("slo-21:computational-thinking",),
        "organiser_confirms",
        35,
    ),
    DemoActivity(
        "utrecht",
        "vergroenen",
        "Geveltuinen in Lombok",
        "Plant facade gardens together with neighbours in Lombok.",
        "Utrecht",
        "Buurthuis Lombok",
        52.0917,
        5.1033,
        ("greencomp:1.3",),
        "evidence_peer",
        10,
    ),
    DemoActivity(
        "utrecht",
        "moestuin",
        "Moestuin Overvecht",
        "A plot of your own in the Overvecht community garden.",
        "Utrecht",
        "Volkstuin Overvecht",
        52.1170,
        5.1100,
        ("greencomp:1.1",),
        "organiser_confirms",
        7,
    ),
    DemoActivity(
        "utrecht",
        "vergroenen",
        "Tegelwippen Kanaleneiland",
        "Swap paving stones for plants on the street.",
        "Utrecht",
        "Plein Kanaleneiland",
        52.0740,
        5.0990,
        ("greencomp:4.2",),
        "organiser_confirms",
        18,
    ),
    DemoActivity(
        "utrecht",
        "digitaal-veilig",
        "Digitaal Veilig (online)",
        "An online course with short videos and a final quiz.",
        "Utrecht",
        "Online",
        None,
        None,
        ("digcomp-2.2:4.1",),
        "organiser_confirms",
        0,
        online=True,
    ),
]

LEARNERS = [
    ("Sam de Vries", "sam.devries@example.org"),
    ("Noor El Amrani", "noor.elamrani@example.org"),
    ("Daan Jansen", "daan.jansen@example.org"),
    ("Fatima Yilmaz", "fatima.yilmaz@example.org"),
]


def seed_demo(service: BadgeService, *, only_if_empty: bool) -> bool:
    """Create the demo; returns False when skipped because data exists. Demo account passwords
    are written once to ``<data dir>/demo-accounts.txt`` (mode 0600) and printed by the CLI."""
    from core.awarding import AwardRequest
    from core.catalogue import PlaylistStepSpec

    if only_if_empty and service.list_issuers():
        return False
    existing = {issuer.slug for issuer in service.list_issuers()}
    for spec in ISSUERS:
        if spec["slug"] not in existing:
            service.create_issuer(**spec)
    catalogue = service.catalogue
    catalogue.set_quality_label("rotterdam", date(2021, 3, 1))
    catalogue.set_quality_label("utrecht", date(2022, 9, 15))

    achievements: dict[str, str] = {}
    for key, spec in ACHIEVEMENTS.items():
        fields = {k: v for k, v in spec.items() if k != "issuer"}
        achievements[key] = catalogue.create_achievement(spec["issuer"], **fields).public_id

    today = datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0)
    activities: dict[str, str] = {}
    for demo in ACTIVITIES:
        starts = None if demo.online else today + timedelta(days=demo.days_from_now)
        activity = catalogue.create_activity(
            demo.issuer,
            title=demo.title,
            description=demo.description,
            achievement_public_id=achievements[demo.achievement],
            city=demo.city,
            location_name=demo.location,
            latitude=demo.latitude,
            longitude=demo.longitude,
            online=demo.online,
            starts_at=starts,
            ends_at=None if starts is None else starts + timedelta(hours=2),
            skills=demo.skills,
            completion_mode=demo.completion_mode,
            attendance_code="PITCH-ZUID" if demo.completion_mode == "attendance_code" else None,
        )
        activities[demo.title] = activity.public_id

    catalogue.create_playlist(
        "rotterdam",
        title="Rotterdamse Maker",
        description="Code, tell stories and start something: two of these three.",
        achievement_public_id=achievements["maker-rotterdam"],
        steps=[
            PlaylistStepSpec.of_achievement(achievements["coderen"]),
            PlaylistStepSpec.of_achievement(achievements["podcast"]),
            PlaylistStepSpec.of_achievement(achievements["ondernemen"]),
        ],
        rule="n_of_m",
        required_count=2,
    )
    catalogue.create_playlist(
        "utrecht",
        title="Duurzaam Utrecht",
        description="Green your street, grow your food and stay safe online.",
        achievement_public_id=achievements["duurzaam-utrecht"],
        steps=[
            PlaylistStepSpec.of_activity(activities["Geveltuinen in Lombok"]),
            PlaylistStepSpec.of_achievement(achievements["moestuin"]),
            PlaylistStepSpec.of_achievement(achievements["digitaal-veilig"]),
        ],
    )
    catalogue.endorse(
        "utrecht", "achievement", achievements["coderen"], "A strong, well-assessed coding club."
    )

    learners = {
        email: service.learners.find_or_create(
            email=email, email_verified=True, display_name=name
        ).public_id
        for name, email in LEARNERS
    }

    def award(email: str, key: str) -> None:
        service.awarding.award(
            AwardRequest(
                learner_public_id=learners[email],
                achievement_public_id=achievements[key],
                source_kind="organiser",
                source_event_id=f"demo:{key}:{email}",
                approved_by="demo organiser",
            )
        )

    award("sam.devries@example.org", "coderen")
    award("sam.devries@example.org", "podcast")
    award("noor.elamrani@example.org", "vergroenen")
    award("noor.elamrani@example.org", "moestuin")
    award("daan.jansen@example.org", "digitaal-veilig")
    service.evidence.submit(
        learners["fatima.yilmaz@example.org"],
        activities["Podcastlab Feijenoord"],
        url="https://podcasts.example.org/feijenoord/aflevering-1",
    )
    service.evidence.submit(
        learners["daan.jansen@example.org"],
        activities["Geveltuinen in Lombok"],
        text="We planted twelve facade gardens on the Kanaalstraat with eight neighbours.",
    )
    # Playlist badges follow from the outbox (here delivered at once, as a worker would).
    service.outbox.process_due("demo-seed", limit=100)

    _create_demo_accounts(service)
    return True


def _demo_password() -> str:
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


def _create_demo_accounts(service: BadgeService) -> None:
    accounts = [
        ("admin@demo.citiesoflearning.nl", "Demo Administrator", "admin", None),
        (
            "organiser@rotterdam.citiesoflearning.nl",
            "Demo Organiser Rotterdam",
            "organiser",
            "rotterdam",
        ),
        ("reviewer@utrecht.citiesoflearning.nl", "Demo Reviewer Utrecht", "reviewer", "utrecht"),
    ]
    lines = ["badgebridge demo accounts (generated; change or delete them before real use)", ""]
    for email, name, role, issuer in accounts:
        password = _demo_password()
        service.accounts.create_user(email, name, password, role, issuer_slug=issuer)
        lines.append(f"{role:10} {email:42} {password}")
    # A learner who logs in to "my badges": Sam, who holds badges and a playlist badge.
    learner_name, learner_email = LEARNERS[0]
    password = _demo_password()
    service.accounts.create_learner_account(learner_email, learner_name, password)
    lines.append(f"{'learner':10} {learner_email:42} {password}")
    path = service.settings.data_dir / DEMO_PASSWORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
