"""A site with a catalogue in two cities, learners who hold badges and can log in, for the
tests of the public and learner pages (Flask test client, SQLite)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.security import generate_password_hash

from core.catalogue import PlaylistStepSpec
from core.service import BadgeService
from core.storage import UserRecord
from lti_tool.app import create_app
from tests.organiser_site import PASSWORD, log_in, site_settings

ORGANISER = "chris@rotterdam.example"
UTRECHT_ORGANISER = "anne@utrecht.example"
EXTERNAL_STEP = "https://lms.example/courses/7/modules/42"

_password_hash: str | None = None


def password_hash() -> str:
    """The hash of :data:`PASSWORD`, made once per test run (scrypt is slow on purpose)."""
    global _password_hash
    if _password_hash is None:
        _password_hash = generate_password_hash(PASSWORD, method="scrypt")
    return _password_hash


@dataclass
class BadgeSite:
    """The app over a service with Rotterdam (Quality Label) and Utrecht, their catalogues,
    and an organiser of each."""

    app: Flask
    service: BadgeService
    photo: str  # achievement: aligned to DigComp and SLO, with micro-credential elements
    walk: str  # achievement: aligned to EntreComp
    pathway: str  # achievement: the playlist's badge
    green: str  # Utrecht achievement: aligned to GreenComp
    online_maker: str  # Utrecht achievement for the online activity
    photo_activity: str  # Rotterdam, Delfshaven; evidence reviewed by the organiser
    walk_activity: str  # Rotterdam, Kralingen; evidence reviewed by a peer
    green_activity: str  # Utrecht, Overvecht
    online_activity: str  # online only
    playlist: str  # Ontdek Rotterdam: 2 of 3 steps (an activity, an achievement, an LMS module)

    def client(self, language: str = "en") -> FlaskClient:
        """A browser preferring ``language``."""
        client = self.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        client.environ_base["REMOTE_ADDR"] = "192.0.2.20"
        return client

    def logged_in(self, email: str, language: str = "en") -> FlaskClient:
        """A browser where ``email`` has logged in (with :data:`PASSWORD`)."""
        client = self.client(language)
        response = log_in(client, email, PASSWORD)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    def learner_with_badge(
        self, email: str, name: str, *, evidence_text: str = "Twelve photographs of my street."
    ) -> tuple[str, str]:
        """A learner who handed in evidence for the photo activity and got its badge approved:
        (learner public id, credential id)."""
        learner = self.service.learners.find_or_create(
            email=email, email_verified=True, display_name=name
        )
        evidence = self.service.evidence.submit(
            learner.public_id, self.photo_activity, text=evidence_text
        )
        reviewed = self.service.evidence.review(
            evidence.public_id, approve=True, reviewer=ORGANISER
        )
        assert reviewed.credential_id is not None
        return learner.public_id, reviewed.credential_id

    def learner_account(self, email: str, name: str, learner_public_id: str) -> int:
        """A log-in account (role ``learner``) for the learner; its password is
        :data:`PASSWORD`."""
        return self.service.accounts.create_learner_account(
            email, name, PASSWORD, learner_public_id=learner_public_id
        ).id


def _at(day: date, hour: int) -> datetime:
    # Amsterdam summer time is UTC+2.
    return datetime(day.year, day.month, day.day, hour - 2, tzinfo=UTC)


def build_site(folder: Path | None = None) -> BadgeSite:
    """Build the site in ``folder`` (a new temporary folder by default)."""
    folder = folder or Path(tempfile.mkdtemp(prefix="badgebridge-badge-site-"))
    service = BadgeService(site_settings(folder))
    app = create_app(service=service)
    service.create_issuer(
        "rotterdam",
        "Rotterdam City of Learning",
        url="https://rotterdam.example",
        description="Non-formal learning across Rotterdam's neighbourhoods.",
    )
    service.create_issuer("utrecht", "Utrecht City of Learning")
    catalogue = service.catalogue
    catalogue.set_quality_label("rotterdam", date(2024, 3, 1))
    service.accounts.create_user(ORGANISER, "Chris Bakker", None, "organiser", "rotterdam")
    service.accounts.create_user(UTRECHT_ORGANISER, "Anne Jansen", None, "organiser", "utrecht")
    with service.transaction() as session:
        session.execute(update(UserRecord).values(password_hash=password_hash()))

    def achievement(issuer: str, name: str, **extra: Any) -> str:
        return catalogue.create_achievement(
            issuer,
            name=name,
            description=f"{name}: a badge of the {issuer} catalogue.",
            criteria_narrative=f"Take part in an activity for {name} and show what you made.",
            **extra,
        ).public_id

    photo = achievement(
        "rotterdam",
        "Stadsfotograaf",
        skills=["digcomp-2.2:3.1", "slo-21:creatief-denken-en-handelen"],
        microcredential={"workload_hours": 12, "eqf_level": 3, "participation_form": "onsite"},
    )
    walk = achievement("rotterdam", "Wijkwandelaar", skills=["entrecomp:1.1"])
    pathway = achievement("rotterdam", "Rotterdam ontdekker")
    green = achievement("utrecht", "Groene Wijk", skills=["greencomp:1.1"])
    online_maker = achievement("utrecht", "Online Maker", skills=["digcomp-2.2:3.1"])
    photo_activity = catalogue.create_activity(
        "rotterdam",
        title="Fotografeer je wijk",
        description="Twelve photographs of your neighbourhood.",
        achievement_public_id=photo,
        city="Rotterdam",
        location_name="Delfshaven",
        latitude=51.9075,
        longitude=4.4475,
        starts_at=_at(date(2026, 5, 1), 10),
        ends_at=_at(date(2026, 5, 1), 12),
        skills=["digcomp-2.2:3.1"],
        completion_mode="evidence_organiser",
    ).public_id
    walk_activity = catalogue.create_activity(
        "rotterdam",
        title="Wijkwandeling",
        description="Walk the neighbourhood with a peer.",
        achievement_public_id=walk,
        city="Rotterdam",
        location_name="Kralingen",
        latitude=51.9225,
        longitude=4.5100,
        starts_at=_at(date(2026, 7, 4), 14),
        skills=["entrecomp:1.1"],
        completion_mode="evidence_peer",
    ).public_id
    green_activity = catalogue.create_activity(
        "utrecht",
        title="Samen vergroenen",
        description="Plant a green roof with your neighbours.",
        achievement_public_id=green,
        city="Utrecht",
        location_name="Overvecht",
        latitude=52.1150,
        longitude=5.1150,
        starts_at=_at(date(2026, 6, 10), 9),
        skills=["greencomp:1.1"],
    ).public_id
    online_activity = catalogue.create_activity(
        "utrecht",
        title="Online makersclub",
        description="Build a website together, from home.",
        achievement_public_id=online_maker,
        online=True,
        skills=["digcomp-2.2:3.1"],
    ).public_id
    playlist = catalogue.create_playlist(
        "rotterdam",
        title="Ontdek Rotterdam",
        description="Photograph, walk and learn online.",
        achievement_public_id=pathway,
        steps=[
            PlaylistStepSpec.of_activity(photo_activity),
            PlaylistStepSpec.of_achievement(walk),
            PlaylistStepSpec.of_external(EXTERNAL_STEP, title="Online module: your city"),
        ],
        rule="n_of_m",
        required_count=2,
    ).public_id
    return BadgeSite(
        app,
        service,
        photo,
        walk,
        pathway,
        green,
        online_maker,
        photo_activity,
        walk_activity,
        green_activity,
        online_activity,
        playlist,
    )


def token_of(credential_id: str) -> str:
    """The ``<token>`` of ``/credentials/<token>``."""
    return urlsplit(credential_id).path.rsplit("/", 1)[1]


__all__ = ["EXTERNAL_STEP", "ORGANISER", "UTRECHT_ORGANISER", "BadgeSite", "build_site", "token_of"]
