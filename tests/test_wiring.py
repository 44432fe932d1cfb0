"""Pieces wired across modules: CSV evidence reaches the credential; an app built the
production way delivers follow-ups on its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from core.bulk_award import BulkAwards
from core.service import BadgeService
from tests.conftest import make_settings


def _achievement(service: BadgeService) -> str:
    service.create_issuer("leiden", "Leiden City of Learning")
    return service.catalogue.create_achievement(
        "leiden",
        name="Vrijwilliger",
        description="Volunteered at a neighbourhood event.",
        criteria_narrative="Volunteer for one full day.",
    ).public_id


def test_csv_row_evidence_is_in_the_credential(sqlite_service: BadgeService) -> None:
    achievement = _achievement(sqlite_service)
    csv = (
        "email;name;achievement;evidence_url;evidence_text\n"
        f"ada@example.org;Ada;{achievement};https://photos.example.org/ada;Helped all day\n"
    ).encode()
    bulk = BulkAwards(sqlite_service)
    job = bulk.create_job("leiden", created_by="org@example.org", file_name="a.csv", data=csv)
    bulk.start(job.public_id)
    done = bulk.run(job.public_id)
    assert done.state == "done", done
    learner = sqlite_service.learners.find_or_create(email="ada@example.org")
    badges = sqlite_service.learners.badges_of(learner.public_id)
    credential = json.loads(sqlite_service.get_credential(badges[0].credential_id).text)
    assert credential["evidence"] == [
        {
            "type": ["Evidence"],
            "id": "https://photos.example.org/ada",
            "narrative": "Helped all day",
        }
    ]
    assert sqlite_service.verify(json.dumps(credential)).valid


def test_app_built_from_settings_delivers_follow_ups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.awarding import AwardRequest
    from core.catalogue import PlaylistStepSpec
    from lti_tool.app import create_app

    settings = make_settings(tmp_path)
    for name, value in {
        "BADGEBRIDGE_DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.database_url,
        "BADGEBRIDGE_BASE_URL": settings.base_url,
        "BADGEBRIDGE_KEY_ENCRYPTION_KEY": settings.key_encryption_key or "",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BADGEBRIDGE_REDIS_URL", raising=False)
    app = create_app()  # the production path: builds its own service and delivery thread
    service = app.extensions["badgebridge.service"]
    step = _achievement(service)
    pathway = service.catalogue.create_achievement(
        "leiden", name="Pathway", description="All steps.", criteria_narrative="Do it all."
    ).public_id
    service.catalogue.create_playlist(
        "leiden",
        title="Pad",
        description="One step.",
        achievement_public_id=pathway,
        steps=[PlaylistStepSpec.of_achievement(step)],
    )
    learner = service.learners.find_or_create(email="bo@example.org", email_verified=True)
    service.awarding.award(
        AwardRequest(learner.public_id, step, "organiser", "wiring-1", approved_by="test")
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if len(service.learners.badges_of(learner.public_id)) == 2:
            break
        time.sleep(0.1)
    assert len(service.learners.badges_of(learner.public_id)) == 2  # the playlist badge came
