"""The `make run` demo: realistic, complete, and every badge in it verifies."""

from __future__ import annotations

from sqlalchemy import select

from core.demo import ACTIVITIES, seed_demo
from core.service import BadgeService
from core.storage import AwardRecord, CredentialRecord, LearnerRecord


def test_demo_is_complete_and_verifies(sqlite_service: BadgeService) -> None:
    service = sqlite_service
    assert seed_demo(service, only_if_empty=True) is True
    assert seed_demo(service, only_if_empty=True) is False  # make run twice: nothing doubles
    assert {i.slug for i in service.list_issuers()} == {"rotterdam", "utrecht"}
    mapped = [a for a in service.catalogue.search_activities() if a.latitude is not None]
    assert len(mapped) == len([a for a in ACTIVITIES if not a.online])
    assert len({a.location_name for a in mapped}) >= 6  # several neighbourhoods
    assert len(service.catalogue.list_playlists()) == 2
    with service.sessions() as session:
        credentials = session.scalars(select(CredentialRecord)).all()
        sources = session.scalars(select(AwardRecord.source_kind)).all()
        sam = session.scalar(
            select(LearnerRecord).where(LearnerRecord.display_name == "Sam de Vries")
        )
    assert "playlist" in sources  # Sam's two maker badges earned the pathway badge
    assert sam is not None
    assert all(service.verify(c.document).valid for c in credentials)
    assert len(service.evidence.pending_for_issuer("rotterdam")) == 1
    accounts = (service.settings.data_dir / "demo-accounts.txt").read_text()
    assert "admin@demo.citiesoflearning.nl" in accounts
