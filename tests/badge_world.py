"""A small catalogue for awarding tests: an issuer, achievements, an evidence-reviewed activity
and a playlist whose badge needs two achievements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.catalogue import PlaylistStepSpec
from core.service import BadgeService


@dataclass(frozen=True)
class World:
    issuer: str
    photo: str  # achievement awarded by the evidence-reviewed activity
    walk: str  # a second achievement (awarded by the peer-reviewed activity)
    yearly: str  # an achievement that allows repeats
    pathway: str  # the playlist's badge
    activity: str  # evidence-reviewed activity awarding `photo`
    peer_activity: str  # peer-reviewed activity awarding `walk`
    playlist: str


def make_world(service: BadgeService, issuer: str = "rotterdam") -> World:
    """Create the issuer and its catalogue through ``service.catalogue``."""
    service.create_issuer(issuer, "Rotterdam City of Learning", url="https://example.nl")
    catalogue = service.catalogue

    def achievement(name: str, **extra: Any) -> str:
        return catalogue.create_achievement(
            issuer,
            name=name,
            description=f"{name}: a Rotterdam badge.",
            criteria_narrative=f"Do what {name} asks.",
            **extra,
        ).public_id

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
        steps=[PlaylistStepSpec.of_activity(activity), PlaylistStepSpec.of_achievement(walk)],
    ).public_id
    return World(issuer, photo, walk, yearly, pathway, activity, peer, playlist)
