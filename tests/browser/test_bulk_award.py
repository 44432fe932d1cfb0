"""Awarding badges from a spreadsheet in a real browser: the preview names every bad row before
anything is issued; once confirmed, the progress page (it refreshes itself) reaches "done" and
every good row holds a credential that verifies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from core.storage import CredentialRecord
from tests.browser.conftest import ISSUER_SLUG, BrowsingOrganiser, sent, ui_plural

#: Longest wait for the awarding to finish (it takes well under a second).
PROGRESS_DEADLINE_SECONDS = 30


@pytest.fixture(autouse=True)
def outbox_worker(organiser: BrowsingOrganiser) -> Iterator[None]:
    """The worker that awards confirmed uploads (they are outbox jobs), as the app runs it."""
    from core.workers import start_in_process_worker

    worker = start_in_process_worker(organiser.service, poll_seconds=0.5)
    yield
    worker.stop()


def _credential_count(organiser: BrowsingOrganiser) -> int:
    with organiser.service.sessions() as session:
        return session.scalar(select(func.count(CredentialRecord.id))) or 0


@pytest.mark.parametrize("language", ["nl"])
def test_a_csv_is_previewed_then_awarded(organiser: BrowsingOrganiser, language: str) -> None:
    page, service = organiser.page, organiser.service
    badge = service.catalogue.create_achievement(
        ISSUER_SLUG,
        name="Vrijwilliger Stadsfestival",
        description="Volunteered at the city festival.",
        criteria_narrative="Two shifts at the festival.",
    )
    # What Dutch Excel writes: semicolons, Dutch column names.
    csv_text = "\n".join(
        [
            "e-mail;naam;prestatie;bewijslink",
            f"sam@example.org;Sam de Wit;{badge.public_id};https://example.org/sam",
            f"kim@example.org;Kim Bos;{badge.public_id};",
            f"not-an-address;Noor Smit;{badge.public_id};",
            "lex@example.org;Lex Vos;no-such-badge;",
            f"sam@example.org;Sam de Wit;{badge.public_id};",
            f"ada@example.org;Ada Kok;{badge.id};",
            f"eva@example.org;Eva Roos;{badge.public_id};ftp://example.org/eva",
        ]
    )
    organiser.visit(f"/admin/issuers/{ISSUER_SLUG}/bulk/")
    page.get_by_label(organiser.text("CSV file")).set_input_files(
        files=[{"name": "vrijwilligers.csv", "mimeType": "text/csv", "buffer": csv_text.encode()}]
    )
    organiser.shoot("bulk-upload")
    with sent(page):
        page.get_by_role("button", name=organiser.text("Check the file")).click()
    organiser.check()

    # The preview: four bad rows named with their line and reason; nothing issued yet.
    expect(page.locator("h1")).to_have_text(organiser.text("Check before awarding"))
    problems = page.locator("#problems-heading + ul > li")
    expected_problems = [
        organiser.text(
            "Row %(row)d: %(reason)s",
            row=4,
            reason=organiser.text("%(value)s is not an email address.", value="not-an-address"),
        ),
        organiser.text(
            "Row %(row)d: %(reason)s",
            row=5,
            reason=organiser.text(
                "%(value)s is not one of this issuer's achievements.", value="no-such-badge"
            ),
        ),
        organiser.text(
            "Row %(row)d: %(reason)s",
            row=6,
            reason=organiser.text("The same person and achievement as row %(row)s.", row=2),
        ),
        organiser.text(
            "Row %(row)d: %(reason)s",
            row=8,
            reason=organiser.text(
                "The evidence link %(value)s does not start with https://.",
                value="ftp://example.org/eva",
            ),
        ),
    ]
    expect(problems).to_have_text(expected_problems)
    expect(page.locator("table tbody tr")).to_have_count(3)
    organiser.shoot("bulk-preview")
    assert _credential_count(organiser) == 0
    assert service.learners.find(email="sam@example.org") is None

    # Confirm; the progress page refreshes itself until it says done.
    with sent(page):
        page.get_by_role(
            "button",
            name=ui_plural(language, "Award %(num)d badge", "Award %(num)d badges", 3),
        ).click()
    organiser.check()
    organiser.shoot("bulk-progress")
    # The page reloads itself every few seconds: the heading is read again on each load
    # until it says done (bounded by the deadline).
    expect(page.locator("h1")).to_have_text(
        organiser.text("Badges awarded"), timeout=PROGRESS_DEADLINE_SECONDS * 1000
    )
    organiser.check()
    expect(page.locator(".progress")).to_contain_text(
        organiser.text(
            "%(done)d of %(total)d awarded, %(failed)d failed.", done=3, total=3, failed=0
        )
    )
    organiser.shoot("bulk-done")

    # Each good row holds one credential, and it verifies.
    assert _credential_count(organiser) == 3
    for email in ("sam@example.org", "kim@example.org", "ada@example.org"):
        learner = service.learners.find(email=email)
        assert learner is not None, email
        [held] = service.learners.badges_of(learner.public_id)
        assert held.achievement_public_id == badge.public_id and held.credential_id
        issued = service.get_credential(held.credential_id)
        report = service.verify(issued.text)
        assert report.valid, (email, [c.message for c in report.failures])
        assert ("https://example.org/sam" in issued.text) == (email == "sam@example.org")
    assert service.learners.find(email="lex@example.org") is None
    assert service.learners.find(email="eva@example.org") is None
