"""An organiser in a real browser, in Dutch and in English: builds a catalogue (an achievement
with skills from the picker, an activity with a place on the map whose evidence they review, a
playlist, then edits it), and reviews evidence (approve: the badge's public page says it is
valid; reject: the learner is told why). Every page visited passes :func:`check_page`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ISSUER_SLUG, BrowsingOrganiser, check_page, sent, shoot, ui_text

ADMIN = f"/admin/issuers/{ISSUER_SLUG}"
EXTERNAL_STEP = "moodle:course-12:module-3"


def field(organiser: BrowsingOrganiser, message: str, within: Any = None) -> Any:
    """The form control labelled ``message`` (in the browser's language), optional or not."""
    label = re.escape(organiser.text(message))
    optional = re.escape(organiser.text("(optional)"))
    return (within or organiser.page).get_by_label(re.compile(rf"^{label}( {optional})?$"))


def button(organiser: BrowsingOrganiser, message: str, **variables: Any) -> Any:
    return organiser.page.get_by_role("button", name=organiser.text(message, **variables))


def flash_says(organiser: BrowsingOrganiser, message: str, **variables: Any) -> None:
    expect(organiser.page.locator(".flash-messages")).to_contain_text(
        organiser.text(message, **variables)
    )


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_organiser_builds_a_catalogue(organiser: BrowsingOrganiser, language: str) -> None:
    page, catalogue = organiser.page, organiser.service.catalogue
    # The playlist's own badge exists already: this flow makes the step it builds on.
    route_badge = catalogue.create_achievement(
        ISSUER_SLUG,
        name="Utrecht Fotoroute",
        description="Finished the photo route.",
        criteria_narrative="Complete the steps of the route.",
    )
    organiser.shoot("dashboard")

    # An achievement, with two skills chosen in the picker (frameworks fold open).
    organiser.visit(f"{ADMIN}/achievements/new")
    field(organiser, "Name").fill("Stadsfotograaf")
    field(organiser, "Description").fill("Photographs a neighbourhood and tells its story.")
    field(organiser, "Criteria").fill("Hand in five photos with captions.")
    digcomp = page.locator("details", has=page.locator("summary", has_text="DigComp 2.2"))
    digcomp.locator("summary").click()
    digcomp.get_by_role("checkbox", name=re.compile(r"^3\.1 ")).check()
    slo = page.locator("details", has=page.locator("summary", has_text="SLO"))
    slo.locator("summary").click()
    slo.get_by_role("checkbox", name=re.compile(r"^creatief-denken-en-handelen ")).check()
    organiser.shoot("achievement-form")
    with sent(page):
        button(organiser, "Save").click()
    organiser.check()
    flash_says(organiser, "The achievement %(name)s was added.", name="Stadsfotograaf")
    [photo] = [a for a in catalogue.list_achievements(ISSUER_SLUG) if a.name == "Stadsfotograaf"]
    assert set(photo.skill_ids) == {"digcomp-2.2:3.1", "slo-21:creatief-denken-en-handelen"}

    # An activity in a place on the map; learners hand in evidence that the organiser reviews.
    organiser.visit(f"{ADMIN}/activities/new")
    field(organiser, "Title").fill("Fotografeer Lombok")
    field(organiser, "Description").fill("Two afternoons with a camera in Lombok.")
    field(organiser, "Badge it awards").select_option(label="Stadsfotograaf")
    field(organiser, "City").fill("Utrecht")
    field(organiser, "Place").fill("Buurthuis De Speeltuin, Lombok")
    field(organiser, "Latitude").fill("52,0918")  # a Dutch decimal comma
    field(organiser, "Longitude").fill("5.0973")
    page.get_by_role(
        "radio", name=organiser.text("Learners hand in evidence; the organiser reviews it")
    ).check()
    organiser.shoot("activity-form")
    with sent(page):
        button(organiser, "Save").click()
    organiser.check()
    flash_says(organiser, "The activity %(title)s was added.", title="Fotografeer Lombok")
    [activity] = catalogue.search_activities(issuer_slug=ISSUER_SLUG)
    assert (activity.city, activity.location_name, activity.completion_mode) == (
        "Utrecht",
        "Buurthuis De Speeltuin, Lombok",
        "evidence_organiser",
    )
    assert (activity.latitude, activity.longitude) == (52.0918, 5.0973)
    assert activity.achievement_public_id == photo.public_id

    # A playlist: the activity and a module in the learning platform, one of them needed.
    organiser.visit(f"{ADMIN}/playlists/new")
    field(organiser, "Title").fill("Fotoroute Utrecht")
    field(organiser, "Badge for completing the playlist").select_option(label=route_badge.name)
    page.get_by_role("radio", name=organiser.text("A number of the steps")).check()
    field(organiser, "Steps needed").fill("1")
    first = page.get_by_role("group", name=organiser.text("Step %(num)d", num=1))
    field(organiser, "Activity or badge", first).select_option(label="Fotografeer Lombok")
    second = page.get_by_role("group", name=organiser.text("Step %(num)d", num=2))
    field(organiser, "Or an achievement known elsewhere", second).fill(EXTERNAL_STEP)
    field(organiser, "Title shown to learners", second).fill("Moodle: beeldrecht")
    organiser.shoot("playlist-form")
    with sent(page):
        button(organiser, "Create the playlist").click()
    organiser.check()
    flash_says(organiser, "The playlist %(title)s was added.", title="Fotoroute Utrecht")
    expect(page.locator("main")).to_contain_text(
        organiser.text("%(needed)d of %(steps)d steps", needed=1, steps=2)
    )
    organiser.shoot("playlist")

    # Edit it: the module becomes the first step and both are needed.
    with sent(page):
        page.get_by_role(
            "link", name=organiser.text("Edit %(name)s", name="Fotoroute Utrecht")
        ).click()
    organiser.check()
    field(organiser, "Title").fill("Fotoroute Lombok")
    page.get_by_role("radio", name=organiser.text("All steps")).check()
    field(organiser, "Steps needed").fill("")
    field(organiser, "Position", second).fill("0")
    organiser.shoot("playlist-edit")
    with sent(page):
        button(organiser, "Save").click()
    organiser.check()
    flash_says(organiser, "The playlist %(title)s was saved.", title="Fotoroute Lombok")
    [playlist] = catalogue.list_playlists(ISSUER_SLUG)
    assert (playlist.title, playlist.rule, playlist.required_count) == (
        "Fotoroute Lombok",
        "all",
        2,
    )
    assert [(s.kind, s.title) for s in playlist.steps] == [
        ("external", "Moodle: beeldrecht"),
        ("activity", "Fotografeer Lombok"),
    ]

    # The public pages show what was built.
    organiser.visit(f"/activities/{activity.public_id}")
    expect(page.locator("h1")).to_have_text("Fotografeer Lombok")
    expect(page.locator("main")).to_contain_text("Buurthuis De Speeltuin, Lombok")
    organiser.shoot("public-activity")
    organiser.visit(f"/playlists/{playlist.public_id}")
    expect(page.locator("h1")).to_have_text("Fotoroute Lombok")
    expect(page.locator("main")).to_contain_text("Moodle: beeldrecht")


def _evidence_waiting(organiser: BrowsingOrganiser) -> dict[str, str]:
    """An activity reviewed by the organiser, and evidence of Sam and of Kim waiting."""
    service = organiser.service
    badge = service.catalogue.create_achievement(
        ISSUER_SLUG,
        name="Buurtreporter",
        description="Reported on a neighbourhood event.",
        criteria_narrative="Write a report of an event in your neighbourhood.",
        skills=["digcomp-2.2:3.1"],
    )
    activity = service.catalogue.create_activity(
        ISSUER_SLUG,
        title="Schrijf voor de wijkkrant",
        description="",
        achievement_public_id=badge.public_id,
        city="Utrecht",
        completion_mode="evidence_organiser",
    )
    sam = service.learners.find_or_create(email="sam@example.org", display_name="Sam de Wit")
    kim = service.learners.find_or_create(email="kim@example.org", display_name="Kim Bos")
    sams = service.evidence.submit(
        sam.public_id, activity.public_id, text="My report on the Lombok street party."
    )
    kims = service.evidence.submit(kim.public_id, activity.public_id, url="https://example.org/x")
    return {"badge": badge.name, "sam": sams.public_id, "kim": kims.public_id}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_organiser_reviews_evidence(
    organiser: BrowsingOrganiser, language: str, browser: Any
) -> None:
    page, service = organiser.page, organiser.service
    waiting = _evidence_waiting(organiser)
    queue = f"{ADMIN}/review/"
    organiser.visit(queue)
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    organiser.shoot("review-queue")

    # Approve Sam's report with a comment: the badge is awarded.
    review_link = organiser.text(
        "Review the evidence for %(activity)s", activity="Schrijf voor de wijkkrant"
    )
    with sent(page):
        rows.filter(has_text="Sam de Wit").get_by_role("link", name=review_link).click()
    organiser.check()
    expect(page.locator("main")).to_contain_text("My report on the Lombok street party.")
    field(organiser, "Comment for the learner").fill("Mooi verslag, goed gedaan!")
    organiser.shoot("review-approve")
    with sent(page):
        button(organiser, "Approve and award the badge").click()
    organiser.check()
    assert page.url.endswith(queue)
    flash_says(organiser, "Approved: the badge was awarded.")
    expect(rows).to_have_count(1)
    approved = service.evidence.get(waiting["sam"])
    assert approved.status == "approved" and approved.review_comment == "Mooi verslag, goed gedaan!"
    assert approved.credential_id is not None

    # Anyone may see the badge's page: valid.
    visitor_context = browser.new_context(locale="en-GB")
    try:
        visitor = visitor_context.new_page()
        visitor.goto(f"{organiser.server.url}/language/{language}?next=/")
        visitor.goto(approved.credential_id)
        check_page(visitor, language)
        expect(visitor.locator("h1")).to_have_text(waiting["badge"])
        expect(visitor.locator(".verdict h2")).to_have_text(ui_text(language, "Valid"))
        expect(visitor.locator(".verdict")).to_contain_text(
            ui_text(language, "This badge passed every check.")
        )
        shoot(visitor, f"review-approved-credential-{language}")
    finally:
        visitor_context.close()

    # Reject Kim's link: a comment is required, then the queue says the learner is told.
    with sent(page):
        rows.filter(has_text="Kim Bos").get_by_role("link", name=review_link).click()
    with sent(page):
        button(organiser, "Reject").click()
    organiser.check()
    expect(page.locator(".error-summary")).to_contain_text(
        organiser.text("Tell the learner why the evidence is rejected.")
    )
    assert service.evidence.get(waiting["kim"]).status == "pending"
    organiser.shoot("review-reject-needs-comment")
    field(organiser, "Comment for the learner").fill("De link werkt niet; stuur je verslag mee.")
    with sent(page):
        button(organiser, "Reject").click()
    organiser.check()
    flash_says(organiser, "Rejected: the learner sees your comment.")
    expect(page.locator("main")).to_contain_text(
        organiser.text("No evidence is waiting for review.")
    )
    organiser.shoot("review-rejected")
    rejected = service.evidence.get(waiting["kim"])
    assert (rejected.status, rejected.review_comment, rejected.credential_id) == (
        "rejected",
        "De link werkt niet; stuur je verslag mee.",
        None,
    )
    assert (
        service.learners.badges_of(service.learners.find(email="kim@example.org").public_id) == []
    )
