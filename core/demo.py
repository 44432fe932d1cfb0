"""Demo data for ``make run``: two Cities of Learning issuers and a few badges, so a newcomer
sees real, verifiable credentials at once. Later issues grow this into a full catalogue."""

from __future__ import annotations

from typing import Any

from core.service import BadgeService

DEMO_ISSUERS: list[dict[str, Any]] = [
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

DEMO_ACHIEVEMENTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "rotterdam",
        {
            "type": ["Achievement"],
            "name": "Digitale Makers: Coderen in Delfshaven",
            "description": "Built and presented a small game in a six-week coding club.",
            "criteria": {"narrative": "Attend five of six sessions and present a working game."},
            "achievementType": "Badge",
        },
        "sam.devries@example.org",
    ),
    (
        "utrecht",
        {
            "type": ["Achievement"],
            "name": "Groene Wijk: Samen Vergroenen",
            "description": "Planned and ran a greening action with neighbours in Overvecht.",
            "criteria": {
                "narrative": "Organise one greening action with at least five neighbours."
            },
            "achievementType": "Badge",
        },
        "noor.el-amrani@example.org",
    ),
]


def seed_demo(service: BadgeService, *, only_if_empty: bool) -> bool:
    """Create the demo issuers and badges; returns False when skipped because data exists."""
    if only_if_empty and service.list_issuers():
        return False
    existing = {issuer.slug for issuer in service.list_issuers()}
    for spec in DEMO_ISSUERS:
        if spec["slug"] not in existing:
            service.create_issuer(**spec)
    for slug, achievement, recipient in DEMO_ACHIEVEMENTS:
        service.issue(slug, achievement, recipient)
    return True
