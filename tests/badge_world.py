"""A small catalogue for awarding tests: an issuer, achievements, an evidence-reviewed activity
and a playlist whose badge needs two achievements."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from core.service import BadgeService
from core.storage import (
    AchievementRecord,
    ActivityRecord,
    PlaylistRecord,
    PlaylistStepRecord,
    utcnow,
)


@dataclass(frozen=True)
class World:
    issuer: str
    photo: str  # achievement awarded by the evidence-reviewed activity
    walk: str  # a second achievement (organiser confirms)
    yearly: str  # an achievement that allows repeats
    pathway: str  # the playlist's badge
    activity: str  # evidence-reviewed activity awarding `photo`
    peer_activity: str  # peer-reviewed activity awarding `walk`
    playlist: str


def _has_catalogue() -> bool:
    return "catalogue" in dir(BadgeService)


def make_world(service: BadgeService, issuer: str = "rotterdam") -> World:
    """Create the catalogue through ``service.catalogue`` (or rows, before it exists)."""
    service.create_issuer(issuer, "Rotterdam City of Learning", url="https://example.nl")
    if _has_catalogue():
        return _through_catalogue(service, issuer)
    return _through_rows(service, issuer)


def _through_catalogue(service: BadgeService, issuer: str) -> World:
    from core.catalogue import PlaylistStepSpec  # type: ignore[import-not-found]

    catalogue: Any = service.catalogue  # type: ignore[attr-defined]

    def achievement(name: str, **extra: Any) -> str:
        return str(
            catalogue.create_achievement(
                issuer,
                name=name,
                description=f"{name}: a Rotterdam badge.",
                criteria_narrative=f"Do what {name} asks.",
                **extra,
            ).public_id
        )

    photo = achievement("Stadsfotograaf")
    walk = achievement("Wijkwandelaar")
    yearly = achievement("Zomerschool", allows_repeats=True)
    pathway = achievement("Rotterdam ontdekker")
    activity = catalogue.create_activity(
        issuer,
        title="Fotografeer je wijk",
        description="Twelve photographs of your neighbourhood.",
        achievement_public_id=photo,
        city="Rotterdam",
        completion_mode="evidence_organiser",
    ).public_id
    peer = catalogue.create_activity(
        issuer,
        title="Wijkwandeling",
        description="Walk the neighbourhood with a peer.",
        achievement_public_id=walk,
        city="Rotterdam",
        completion_mode="evidence_peer",
    ).public_id
    playlist = catalogue.create_playlist(
        issuer,
        title="Ontdek Rotterdam",
        description="Photograph and walk your neighbourhood.",
        achievement_public_id=pathway,
        steps=[
            PlaylistStepSpec(activity_public_id=activity),
            PlaylistStepSpec(achievement_public_id=walk),
        ],
    ).public_id
    return World(issuer, photo, walk, yearly, pathway, activity, peer, playlist)


def _through_rows(service: BadgeService, issuer_slug: str) -> World:
    from core.storage import IssuerRecord

    with service.transaction() as session:
        from sqlalchemy import select

        issuer = session.scalar(select(IssuerRecord).where(IssuerRecord.slug == issuer_slug))
        assert issuer is not None

        def achievement(name: str, allows_repeats: bool = False) -> AchievementRecord:
            record = AchievementRecord(
                public_id=str(uuid.uuid4()),
                issuer_id=issuer.id,
                name=name,
                description=f"{name}: a Rotterdam badge.",
                criteria_narrative=f"Do what {name} asks.",
                allows_repeats=allows_repeats,
                created_at=utcnow(),
            )
            session.add(record)
            session.flush()
            return record

        def activity(title: str, awards: AchievementRecord, mode: str) -> ActivityRecord:
            record = ActivityRecord(
                public_id=str(uuid.uuid4()),
                issuer_id=issuer.id,
                achievement_id=awards.id,
                title=title,
                city="Rotterdam",
                completion_mode=mode,
                created_at=utcnow(),
            )
            session.add(record)
            session.flush()
            return record

        photo = achievement("Stadsfotograaf")
        walk = achievement("Wijkwandelaar")
        yearly = achievement("Zomerschool", allows_repeats=True)
        pathway = achievement("Rotterdam ontdekker")
        reviewed = activity("Fotografeer je wijk", photo, "evidence_organiser")
        peer = activity("Wijkwandeling", walk, "evidence_peer")
        playlist = PlaylistRecord(
            public_id=str(uuid.uuid4()),
            issuer_id=issuer.id,
            achievement_id=pathway.id,
            title="Ontdek Rotterdam",
            rule="all",
            created_at=utcnow(),
        )
        session.add(playlist)
        session.flush()
        session.add(
            PlaylistStepRecord(
                playlist_id=playlist.id, position=0, activity_id=reviewed.id, title=reviewed.title
            )
        )
        session.add(
            PlaylistStepRecord(
                playlist_id=playlist.id, position=1, achievement_id=walk.id, title=walk.name
            )
        )
        world = World(
            issuer_slug,
            photo.public_id,
            walk.public_id,
            yearly.public_id,
            pathway.public_id,
            reviewed.public_id,
            peer.public_id,
            playlist.public_id,
        )

    class RowCatalogue:
        """Stands in for Catalogue.achievement_json until the catalogue lands."""

        def achievement_json(self, record: AchievementRecord) -> dict[str, Any]:
            return {
                "id": f"{service.settings.base_url}/achievements/{record.public_id}",
                "type": ["Achievement"],
                "name": record.name,
                "description": record.description,
                "criteria": {"narrative": record.criteria_narrative},
            }

    service.__dict__["catalogue"] = RowCatalogue()
    return world
