"""The organiser pages: dashboard, issuers and keys, and who may see and change what."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.organiser_site import (
    ADMIN,
    ROTTERDAM_ORGANISER,
    UTRECHT_ORGANISER,
    UTRECHT_REVIEWER,
    OrganiserSite,
    build_site,
    csrf_token,
    post_form,
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[OrganiserSite]:
    built = build_site(tmp_path)
    yield built
    built.service.engine.dispose()


# -- who may do what ------------------------------------------------------------------------------

#: Every issuer page (method, path); ``{slug}`` is the issuer.
ISSUER_PAGES = [
    ("GET", "/admin/issuers/{slug}/edit"),
    ("POST", "/admin/issuers/{slug}/edit"),
    ("GET", "/admin/issuers/{slug}/keys"),
    ("GET", "/admin/issuers/{slug}/keys/rotate?algorithm=Ed25519"),
    ("POST", "/admin/issuers/{slug}/keys/rotate?algorithm=Ed25519"),
    ("GET", "/admin/issuers/{slug}/keys/new?algorithm=ES256"),
    ("POST", "/admin/issuers/{slug}/keys/new?algorithm=ES256"),
    ("GET", "/admin/issuers/{slug}/keys/key-1/retire"),
    ("POST", "/admin/issuers/{slug}/keys/key-1/retire"),
]


def _send(client, method: str, path: str, token: str):  # type: ignore[no-untyped-def]
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": token, "name": "Overgenomen"})


@pytest.mark.parametrize(("method", "path"), [*ISSUER_PAGES, ("GET", "/admin/issuers/{slug}")])
def test_an_organiser_of_utrecht_cannot_touch_rotterdam(
    site: OrganiserSite, method: str, path: str
) -> None:
    client = site.logged_in(UTRECHT_ORGANISER)
    token = csrf_token(client, "/admin/account/password")
    response = _send(client, method, path.format(slug="rotterdam"), token)
    assert response.status_code == 403
    assert "Your account may not see or change this." in response.get_data(as_text=True)
    rotterdam = site.service.get_issuer("rotterdam")
    assert rotterdam.name == "Rotterdam City of Learning"
    assert [k.key_id for k in site.service.list_keys("rotterdam")] == ["key-1"]


@pytest.mark.parametrize(("method", "path"), ISSUER_PAGES)
def test_a_reviewer_cannot_manage_their_own_issuer(
    site: OrganiserSite, method: str, path: str
) -> None:
    client = site.logged_in(UTRECHT_REVIEWER)
    token = csrf_token(client, "/admin/account/password")
    assert _send(client, method, path.format(slug="utrecht"), token).status_code == 403


def test_the_dashboard_shows_only_the_organisers_issuer(site: OrganiserSite) -> None:
    page = site.logged_in(ROTTERDAM_ORGANISER).get("/admin/").get_data(as_text=True)
    assert "Rotterdam City of Learning" in page
    assert "Utrecht City of Learning" not in page
    everything = site.logged_in(ADMIN).get("/admin/").get_data(as_text=True)
    assert "Rotterdam City of Learning" in everything and "Utrecht City of Learning" in everything


def test_administrators_find_the_lti_platforms_from_the_dashboard(site: OrganiserSite) -> None:
    assert 'href="/admin/lti/"' in site.logged_in(ADMIN).get("/admin/").get_data(as_text=True)
    organiser_page = site.logged_in(ROTTERDAM_ORGANISER).get("/admin/").get_data(as_text=True)
    assert 'href="/admin/lti/"' not in organiser_page


def test_only_administrators_create_issuers(site: OrganiserSite) -> None:
    organiser = site.logged_in(UTRECHT_ORGANISER)
    assert organiser.get("/admin/issuers/new").status_code == 403
    admin = site.logged_in(ADMIN)
    response = post_form(
        admin,
        "/admin/issuers/new",
        {
            "slug": "amsterdam",
            "name": "Amsterdam City of Learning",
            "url": "https://amsterdam.example",
            "email": "badges@amsterdam.example",
            "description": "Leren in de hele stad.",
            "image": "https://amsterdam.example/logo.png",
            "proof_format": "jcs",
            "quality_label": "on",
            "quality_label_since": "2024-09-01",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/issuers/amsterdam"
    page = admin.get("/admin/issuers/amsterdam").get_data(as_text=True)
    assert "Held since Sep 1, 2024" in page
    assert "Data Integrity proof, eddsa-jcs-2022" in page
    profile = site.service.issuer_profile("amsterdam")
    assert profile["image"] == "https://amsterdam.example/logo.png"
    assert site.service.list_keys("amsterdam")[0].state == "active"


def test_an_issuer_with_a_label_date_before_the_label_existed_is_not_created(
    site: OrganiserSite,
) -> None:
    """Core's rule for the label date is checked before the issuer is written: a refused form
    leaves no issuer behind (the form used to create it, then fail on the label)."""
    response = post_form(
        site.logged_in(ADMIN),
        "/admin/issuers/new",
        {
            "slug": "zwolle",
            "name": "Zwolle City of Learning",
            "proof_format": "rdfc",
            "quality_label": "on",
            "quality_label_since": "1999-12-31",
        },
    )
    assert response.status_code == 400
    assert "must be in the year 2000 or later" in response.get_data(as_text=True)
    assert "zwolle" not in [issuer.slug for issuer in site.service.list_issuers()]


def test_an_issuer_form_names_every_problem(site: OrganiserSite) -> None:
    admin = site.logged_in(ADMIN, "nl")
    response = post_form(
        admin,
        "/admin/issuers/new",
        {
            "slug": "",
            "name": "",
            "url": "ftp://example.org",
            "proof_format": "rdfc",
            "quality_label": "on",
            "quality_label_since": "",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    summary = page[
        page.index('<div class="error-summary"') : page.index(
            "</div>", page.index('<div class="error-summary"')
        )
    ]
    links = re.findall(r'<a href="#([\w-]+)">', summary)
    assert links == ["slug", "name", "url", "quality_label_since"]
    assert "Vul een webadres in dat begint met https://." in summary
    assert 'id="url-error"' in page
    assert 'aria-describedby="url-hint url-error" aria-invalid="true"' in page


def test_a_duplicate_issuer_is_refused_on_the_form(site: OrganiserSite) -> None:
    admin = site.logged_in(ADMIN)
    response = post_form(
        admin,
        "/admin/issuers/new",
        {"slug": "utrecht", "name": "Tweede Utrecht", "proof_format": "rdfc"},
    )
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


def test_an_organiser_edits_the_profile_but_not_the_quality_label(site: OrganiserSite) -> None:
    organiser = site.logged_in(UTRECHT_ORGANISER)
    form = organiser.get("/admin/issuers/utrecht/edit").get_data(as_text=True)
    assert "quality_label" not in form
    response = post_form(
        organiser,
        "/admin/issuers/utrecht/edit",
        {
            "name": "Utrecht Leert",
            "url": "https://utrechtleert.example",
            "email": "",
            "description": "Badges in Utrecht.",
            "image": "",
            "quality_label": "on",
            "quality_label_since": "2020-01-01",
        },
    )
    assert response.status_code == 303
    details = site.service.catalogue.organisation("utrecht")
    assert details.name == "Utrecht Leert" and details.url == "https://utrechtleert.example"
    assert details.quality_label_since is None


def test_an_administrator_grants_and_withdraws_the_quality_label(site: OrganiserSite) -> None:
    admin = site.logged_in(ADMIN)
    fields = {
        "name": "Rotterdam City of Learning",
        "quality_label": "on",
        "quality_label_since": "2023-05-01",
    }
    assert post_form(admin, "/admin/issuers/rotterdam/edit", fields).status_code == 303
    assert site.service.catalogue.organisation("rotterdam").quality_label_since == date(2023, 5, 1)
    future = {**fields, "quality_label_since": "2999-01-01"}
    refused = post_form(admin, "/admin/issuers/rotterdam/edit", future)
    assert refused.status_code == 400
    assert "cannot be in the future" in refused.get_data(as_text=True)
    withdrawn = {"name": "Rotterdam City of Learning", "quality_label_since": "2023-05-01"}
    assert post_form(admin, "/admin/issuers/rotterdam/edit", withdrawn).status_code == 303
    assert site.service.catalogue.organisation("rotterdam").quality_label_since is None


def test_forms_need_the_session_token(site: OrganiserSite) -> None:
    organiser = site.logged_in(UTRECHT_ORGANISER)
    response = organiser.post("/admin/issuers/utrecht/edit", data={"name": "Gekaapt"})
    assert response.status_code == 400
    assert site.service.get_issuer("utrecht").name == "Utrecht City of Learning"


# -- keys --------------------------------------------------------------------------------------------


def test_rotating_a_key_asks_first_then_the_old_key_keeps_verifying(site: OrganiserSite) -> None:
    organiser = site.logged_in(UTRECHT_ORGANISER)
    issued = site.service.issue(
        "utrecht",
        {
            "type": ["Achievement"],
            "name": "Buurtfotograaf",
            "description": "Fotografeerde de buurt.",
            "criteria": {"narrative": "Een fotoserie gemaakt."},
        },
        "sam@example.org",
    )
    confirm = organiser.get("/admin/issuers/utrecht/keys/rotate?algorithm=Ed25519")
    assert confirm.status_code == 200
    assert "Rotate the Ed25519 key?" in confirm.get_data(as_text=True)
    assert [k.key_id for k in site.service.list_keys("utrecht")] == ["key-1"]

    done = post_form(organiser, "/admin/issuers/utrecht/keys/rotate", {"algorithm": "Ed25519"})
    assert done.status_code == 303
    states = {k.key_id: k.state for k in site.service.list_keys("utrecht")}
    assert states == {"key-1": "verifying", "key-2": "active"}
    keys_page = organiser.get("/admin/issuers/utrecht/keys").get_data(as_text=True)
    assert "A new Ed25519 key (key-2) now signs new badges." in keys_page
    assert site.service.verify(issued.text).valid

    ask = organiser.get("/admin/issuers/utrecht/keys/key-1/retire").get_data(as_text=True)
    assert "Every badge signed with this key will stop verifying" in ask
    retired = post_form(
        organiser,
        "/admin/issuers/utrecht/keys/key-1/retire",
        {},
        form_page="/admin/issuers/utrecht/keys/key-1/retire",
    )
    assert retired.status_code == 303
    assert {k.key_id: k.state for k in site.service.list_keys("utrecht")}["key-1"] == "retired"
    assert not site.service.verify(issued.text).valid


def test_the_signing_key_cannot_be_retired(site: OrganiserSite) -> None:
    organiser = site.logged_in(UTRECHT_ORGANISER)
    response = organiser.get("/admin/issuers/utrecht/keys/key-1/retire")
    assert response.status_code == 303
    page = organiser.get("/admin/issuers/utrecht/keys").get_data(as_text=True)
    assert "key-1 signs new badges: rotate it first, then retire it." in page
    assert site.service.list_keys("utrecht")[0].state == "active"


def test_adding_a_key_for_another_algorithm(site: OrganiserSite) -> None:
    organiser = site.logged_in(UTRECHT_ORGANISER)
    page = organiser.get("/admin/issuers/utrecht/keys").get_data(as_text=True)
    assert 'href="/admin/issuers/utrecht/keys/new?algorithm=RS256"' in page
    assert (
        post_form(
            organiser,
            "/admin/issuers/utrecht/keys/new",
            {"algorithm": "RS256"},
            form_page="/admin/issuers/utrecht/keys/new?algorithm=RS256",
        ).status_code
        == 303
    )
    assert {k.algorithm for k in site.service.list_keys("utrecht")} == {"Ed25519", "RS256"}
    assert organiser.get("/admin/issuers/utrecht/keys/rotate?algorithm=MD5").status_code == 400


# -- the catalogue -----------------------------------------------------------------------------------


def _achievement(site: OrganiserSite, slug: str = "utrecht", name: str = "Buurtfotograaf") -> str:
    return site.service.catalogue.create_achievement(
        slug,
        name=name,
        description="Fotografeerde de eigen buurt.",
        criteria_narrative="Een fotoserie van tien foto's gemaakt en tentoongesteld.",
        skills=["digcomp-2.2:3.1"],
    ).public_id


def _activity(
    site: OrganiserSite, achievement: str, slug: str = "utrecht", mode: str = "evidence_organiser"
) -> str:
    return site.service.catalogue.create_activity(
        slug,
        title="Fotowandeling Kanaleneiland",
        description="Samen de wijk in met een camera.",
        achievement_public_id=achievement,
        city="Utrecht",
        completion_mode=mode,
    ).public_id


ACHIEVEMENT_FORM = {
    "name": "Digitale Maker",
    "description": "Bouwde een eigen spel.",
    "criteria_narrative": "Vijf van de zes sessies bijgewoond en een spel gepresenteerd.",
    "criteria_url": "https://utrecht.example/digitale-maker",
    "image": "",
    "achievement_type": "MicroCredential",
    "tags": "coderen, games",
    "esco_skills": "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d",
    "mc_workload_hours": "12,5",
    "mc_ects": "0.5",
    "mc_eqf_level": "2",
    "mc_nlqf_level": "entry",
    "mc_assessment_type": "Presentatie van een werkend spel",
    "mc_participation_form": "onsite",
    "mc_language": "nl",
}


def test_an_organiser_adds_an_achievement_with_skills_and_micro_credential_fields(
    site: OrganiserSite,
) -> None:
    organiser = site.logged_in(UTRECHT_ORGANISER, "nl")
    form = organiser.get("/admin/issuers/utrecht/achievements/new").get_data(as_text=True)
    assert "<summary>DigComp 2.2: " in form  # skills grouped by framework
    assert 'name="skills" value="digcomp-2.2:3.1"' in form
    data = {**ACHIEVEMENT_FORM}
    token = csrf_token(organiser, "/admin/issuers/utrecht/achievements/new")
    response = organiser.post(
        "/admin/issuers/utrecht/achievements/new",
        data={"csrf_token": token, **data, "skills": ["digcomp-2.2:3.1", "entrecomp:1.1"]},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    [created] = site.service.catalogue.list_achievements("utrecht")
    assert created.name == "Digitale Maker"
    assert created.skill_ids == ("digcomp-2.2:3.1", "entrecomp:1.1")
    assert created.esco_skills == (ACHIEVEMENT_FORM["esco_skills"],)
    assert created.tags == ("coderen", "games")
    assert created.microcredential is not None
    assert created.microcredential.workload_hours == 12.5
    assert created.microcredential.eqf_level == 2
    assert created.microcredential.nlqf_level == "entry"
    listing = organiser.get("/admin/issuers/utrecht/achievements").get_data(as_text=True)
    assert "De prestatie Digitale Maker is toegevoegd." in listing

    edit = organiser.get(f"/admin/issuers/utrecht/achievements/{created.public_id}/edit").get_data(
        as_text=True
    )
    assert 'value="digcomp-2.2:3.1" checked' in edit
    assert '<details class="skill-framework" open>' in edit
    changed = post_form(
        organiser,
        f"/admin/issuers/utrecht/achievements/{created.public_id}/edit",
        {**data, "name": "Digitale Maker (junior)", "esco_skills": ""},
    )
    assert changed.status_code == 303
    after = site.service.catalogue.get_achievement(created.public_id)
    assert after.name == "Digitale Maker (junior)" and after.skill_ids == ()


def test_an_achievement_form_names_its_problems(site: OrganiserSite) -> None:
    organiser = site.logged_in(UTRECHT_ORGANISER)
    response = post_form(
        organiser,
        "/admin/issuers/utrecht/achievements/new",
        {
            **ACHIEVEMENT_FORM,
            "name": "",
            "esco_skills": "https://example.org/not-esco",
            "mc_eqf_level": "9",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<a href="#name">Enter name.</a>' in page
    assert (
        '<a href="#esco_skills">https://example.org/not-esco is not an ESCO skill address' in page
    )
    assert '<a href="#mc_eqf_level">EQF level must be a whole number from 1 to 8.</a>' in page
    assert site.service.catalogue.list_achievements("utrecht") == []


def test_archiving_an_achievement_asks_first(site: OrganiserSite) -> None:
    achievement = _achievement(site)
    organiser = site.logged_in(UTRECHT_ORGANISER)
    path = f"/admin/issuers/utrecht/achievements/{achievement}/archive"
    assert "Archive Buurtfotograaf?" in organiser.get(path).get_data(as_text=True)
    assert not site.service.catalogue.get_achievement(achievement).archived
    assert post_form(organiser, path, {}).status_code == 303
    assert site.service.catalogue.get_achievement(achievement).archived


def test_an_organiser_adds_an_activity_on_the_map_with_an_attendance_code(
    site: OrganiserSite,
) -> None:
    achievement = _achievement(site)
    organiser = site.logged_in(UTRECHT_ORGANISER)
    response = post_form(
        organiser,
        "/admin/issuers/utrecht/activities/new",
        {
            "title": "Fotowandeling Lombok",
            "description": "Met de camera door Lombok.",
            "achievement": achievement,
            "city": "Utrecht",
            "location_name": "Buurthuis De Boog",
            "latitude": "52,0894",
            "longitude": "5.0994",
            "starts_at": "2030-06-01T14:00",
            "ends_at": "2030-06-01T17:00",
            "completion_mode": "attendance_code",
            "attendance_code": "",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    [activity] = site.service.catalogue.search_activities(issuer_slug="utrecht")
    assert (activity.latitude, activity.longitude) == (52.0894, 5.0994)
    assert (
        activity.starts_at is not None
        and activity.starts_at.isoformat() == "2030-06-01T12:00:00+00:00"
    )
    assert activity.skills == ("digcomp-2.2:3.1",)  # the badge's skills
    page = organiser.get("/admin/issuers/utrecht/activities").get_data(as_text=True)
    code = re.search(r"The attendance code is (\w+)\.", page)
    assert code is not None
    assert site.service.catalogue.check_attendance_code(activity.public_id, code.group(1))


def test_an_activity_form_names_its_problems(site: OrganiserSite) -> None:
    achievement = _achievement(site)
    rotterdam_badge = _achievement(site, "rotterdam", "Havenkenner")
    organiser = site.logged_in(UTRECHT_ORGANISER)
    response = post_form(
        organiser,
        "/admin/issuers/utrecht/activities/new",
        {
            "title": "Ergens",
            "achievement": rotterdam_badge,
            "latitude": "52.1",
            "starts_at": "2030-06-01T14:00",
            "ends_at": "2030-05-01T14:00",
            "completion_mode": "organiser_confirms",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    for field in ("achievement", "city", "longitude", "ends_at"):
        assert f'<a href="#{field}">' in page
    assert achievement  # the issuer's own badge was offered instead
    assert f'<option value="{achievement}"' in page and rotterdam_badge not in page


def test_an_organiser_builds_a_playlist_in_the_order_given(site: OrganiserSite) -> None:
    first = _achievement(site, name="Stap een")
    second = _achievement(site, name="Stap twee")
    finale = _achievement(site, name="Fotografie-route")
    activity = _activity(site, first)
    rotterdam = _achievement(site, "rotterdam", "Havenkenner")
    organiser = site.logged_in(UTRECHT_ORGANISER)
    more = post_form(
        organiser, "/admin/issuers/utrecht/playlists/new", {"step_rows": "6", "more_steps": "1"}
    )
    assert more.status_code == 200 and 'name="step_9_choice"' in more.get_data(as_text=True)
    response = post_form(
        organiser,
        "/admin/issuers/utrecht/playlists/new",
        {
            "step_rows": "6",
            "title": "Fotografie in Utrecht",
            "description": "Drie stappen naar de route-badge.",
            "achievement": finale,
            "rule": "n_of_m",
            "required_count": "2",
            "step_0_order": "3",
            "step_0_choice": f"achievement:{second}",
            "step_1_order": "1",
            "step_1_choice": f"activity:{activity}",
            "step_2_order": "2",
            "step_2_choice": f"achievement:{rotterdam}",
            "step_3_order": "4",
            "step_3_external": "moodle:course-12:module-3",
            "step_3_title": "Moodle-module Beeldrecht",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    [playlist] = site.service.catalogue.list_playlists("utrecht")
    assert [step.kind for step in playlist.steps] == [
        "activity",
        "achievement",
        "achievement",
        "external",
    ]
    assert playlist.steps[2].achievement_public_id == second
    assert playlist.steps[1].achievement_public_id == rotterdam
    assert playlist.rule == "n_of_m" and playlist.required_count == 2
    page = organiser.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 of 4 steps" in page and "Moodle-module Beeldrecht" in page


def test_a_playlist_needs_steps_and_a_sensible_rule(site: OrganiserSite) -> None:
    finale = _achievement(site, name="Route")
    organiser = site.logged_in(UTRECHT_ORGANISER)
    response = post_form(
        organiser,
        "/admin/issuers/utrecht/playlists/new",
        {
            "step_rows": "6",
            "title": "Leeg",
            "achievement": finale,
            "rule": "n_of_m",
            "required_count": "3",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<a href="#step_0_choice">Add at least one step.</a>' in page
    assert '<a href="#required_count">More steps are needed than the playlist has.</a>' in page


# -- evidence review ------------------------------------------------------------------------------------


def _evidence(site: OrganiserSite, slug: str = "utrecht") -> tuple[str, str]:
    achievement = _achievement(site, slug)
    activity = _activity(site, achievement, slug)
    learner = site.service.learners.find_or_create(
        email="sam@example.org", display_name="Sam de Wit"
    )
    evidence = site.service.evidence.submit(
        learner.public_id, activity, text="Mijn tien foto's hangen in de bibliotheek."
    )
    return evidence.public_id, learner.public_id


def test_a_reviewer_approves_evidence_and_the_badge_is_awarded(site: OrganiserSite) -> None:
    evidence, learner = _evidence(site)
    reviewer = site.logged_in(UTRECHT_REVIEWER)
    queue = reviewer.get("/admin/issuers/utrecht/review/").get_data(as_text=True)
    assert "Sam de Wit" in queue and "Fotowandeling Kanaleneiland" in queue
    page = reviewer.get(f"/admin/issuers/utrecht/review/{evidence}").get_data(as_text=True)
    assert "Mijn tien foto&#39;s hangen in de bibliotheek." in page
    response = post_form(
        reviewer,
        f"/admin/issuers/utrecht/review/{evidence}",
        {"decision": "approve", "comment": "Mooi!"},
    )
    assert response.status_code == 303
    assert "Approved: the badge was awarded." in reviewer.get(
        "/admin/issuers/utrecht/review/"
    ).get_data(as_text=True)
    reviewed = site.service.evidence.get(evidence)
    assert reviewed.status == "approved" and reviewed.reviewer == UTRECHT_REVIEWER
    assert reviewed.credential_id is not None
    assert site.service.verify(site.service.get_credential(reviewed.credential_id).text).valid
    assert [b.achievement_name for b in site.service.learners.badges_of(learner)] == [
        "Buurtfotograaf"
    ]


def test_a_rejection_needs_a_comment(site: OrganiserSite) -> None:
    evidence, _learner = _evidence(site)
    organiser = site.logged_in(UTRECHT_ORGANISER, "nl")
    response = post_form(
        organiser,
        f"/admin/issuers/utrecht/review/{evidence}",
        {"decision": "reject", "comment": ""},
    )
    assert response.status_code == 400
    assert (
        '<a href="#comment">Vertel de lerende waarom het bewijs is afgewezen.</a>'
        in response.get_data(as_text=True)
    )
    assert site.service.evidence.get(evidence).status == "pending"
    done = post_form(
        organiser,
        f"/admin/issuers/utrecht/review/{evidence}",
        {"decision": "reject", "comment": "Er ontbreken foto's."},
    )
    assert done.status_code == 303
    rejected = site.service.evidence.get(evidence)
    assert rejected.status == "rejected" and rejected.review_comment == "Er ontbreken foto's."
    assert rejected.credential_id is None


def test_evidence_of_another_issuer_is_out_of_reach(site: OrganiserSite) -> None:
    evidence, _learner = _evidence(site, "rotterdam")
    organiser = site.logged_in(UTRECHT_ORGANISER)
    assert organiser.get("/admin/issuers/rotterdam/review/").status_code == 403
    assert organiser.get(f"/admin/issuers/rotterdam/review/{evidence}").status_code == 403
    assert organiser.get(f"/admin/issuers/utrecht/review/{evidence}").status_code == 404
    token = csrf_token(organiser, "/admin/account/password")
    sneaky = organiser.post(
        f"/admin/issuers/utrecht/review/{evidence}",
        data={"csrf_token": token, "decision": "approve"},
    )
    assert sneaky.status_code == 404
    assert site.service.evidence.get(evidence).status == "pending"


# -- revoking and suspending ---------------------------------------------------------------------------


def _awarded(site: OrganiserSite, slug: str = "utrecht") -> str:
    from core.awarding import AwardRequest

    achievement = _achievement(site, slug)
    learner = site.service.learners.find_or_create(email="noor@example.org", display_name="Noor")
    return site.service.awarding.award(
        AwardRequest(
            learner.public_id,
            achievement,
            "organiser",
            f"test:{slug}",
            recipient_email="noor@example.org",
        )
    ).credential_id


def test_revoking_a_badge_asks_first_and_then_it_fails_verification(site: OrganiserSite) -> None:
    credential = _awarded(site)
    organiser = site.logged_in(UTRECHT_ORGANISER)
    listing = organiser.get("/admin/issuers/utrecht/credentials/?q=noor").get_data(as_text=True)
    assert "noor@example.org" in listing and "Valid" in listing
    assert "Suspend" not in listing  # awarded badges are revocable only
    ask = organiser.get(
        "/admin/issuers/utrecht/credentials/revoke", query_string={"credential": credential}
    )
    assert "Revoke this badge?" in ask.get_data(as_text=True)
    assert site.service.verify(site.service.get_credential(credential).text).valid
    response = post_form(
        organiser,
        "/admin/issuers/utrecht/credentials/revoke",
        {"credential": credential, "comment": "Per ongeluk toegekend."},
        form_page=f"/admin/issuers/utrecht/credentials/revoke?credential={credential}",
    )
    assert response.status_code == 303
    report = site.service.verify(site.service.get_credential(credential).text)
    assert not report.valid
    assert "Revoked" in organiser.get("/admin/issuers/utrecht/credentials/").get_data(as_text=True)


def test_a_suspendable_badge_is_suspended_and_restored(site: OrganiserSite) -> None:
    issued = site.service.issue(
        "utrecht",
        {
            "type": ["Achievement"],
            "name": "Vrijwilliger",
            "description": "Hielp mee.",
            "criteria": {"narrative": "Hielp."},
        },
        "lotte@example.org",
        status_purpose="suspension",
    )
    organiser = site.logged_in(UTRECHT_ORGANISER)
    path = "/admin/issuers/utrecht/credentials/suspend"
    suspend = post_form(
        organiser,
        path,
        {"credential": issued.credential_id},
        form_page=f"{path}?credential={issued.credential_id}",
    )
    assert suspend.status_code == 303
    assert not site.service.verify(issued.text).valid
    lift = post_form(
        organiser,
        path,
        {"credential": issued.credential_id, "action": "lift"},
        form_page=f"{path}?credential={issued.credential_id}&action=lift",
    )
    assert lift.status_code == 303
    assert site.service.verify(issued.text).valid


def test_badges_of_another_issuer_cannot_be_revoked(site: OrganiserSite) -> None:
    credential = _awarded(site, "rotterdam")
    organiser = site.logged_in(UTRECHT_ORGANISER)
    token = csrf_token(organiser, "/admin/account/password")
    for slug, status in (("rotterdam", 403), ("utrecht", 404)):
        response = organiser.post(
            f"/admin/issuers/{slug}/credentials/revoke",
            data={"csrf_token": token, "credential": credential},
        )
        assert response.status_code == status
    assert site.service.verify(site.service.get_credential(credential).text).valid


@pytest.mark.parametrize(
    "path",
    [
        "/admin/issuers/rotterdam/achievements",
        "/admin/issuers/rotterdam/achievements/new",
        "/admin/issuers/rotterdam/activities",
        "/admin/issuers/rotterdam/activities/new",
        "/admin/issuers/rotterdam/playlists",
        "/admin/issuers/rotterdam/playlists/new",
        "/admin/issuers/rotterdam/credentials/",
        "/admin/issuers/rotterdam/bulk/",
    ],
)
def test_catalogue_pages_of_another_issuer_are_forbidden(site: OrganiserSite, path: str) -> None:
    organiser = site.logged_in(UTRECHT_ORGANISER)
    assert organiser.get(path).status_code == 403
    if path.endswith(("/new", "/bulk/")):
        token = csrf_token(organiser, "/admin/account/password")
        sent = organiser.post(path, data={"csrf_token": token, "name": "x", "title": "x"})
        assert sent.status_code == 403
    assert site.service.catalogue.list_achievements("rotterdam") == []


def test_another_issuers_achievement_cannot_be_edited_through_ones_own_address(
    site: OrganiserSite,
) -> None:
    rotterdam = _achievement(site, "rotterdam", "Havenkenner")
    organiser = site.logged_in(UTRECHT_ORGANISER)
    assert organiser.get(f"/admin/issuers/utrecht/achievements/{rotterdam}/edit").status_code == 404
    response = post_form(
        organiser,
        f"/admin/issuers/utrecht/achievements/{rotterdam}/archive",
        {},
        form_page="/admin/account/password",
    )
    assert response.status_code == 404
    assert not site.service.catalogue.get_achievement(rotterdam).archived


# -- bulk award from CSV ------------------------------------------------------------------------------


def _wait_for_jobs(site: OrganiserSite) -> None:
    """Run the worker until no outbox job is due (bulk awards are outbox jobs)."""
    while site.service.outbox.process_due("test-worker", 50):
        pass


def _upload(client, slug: str, content: bytes, name: str = "deelnemers.csv"):  # type: ignore[no-untyped-def]
    import io

    token = csrf_token(client, f"/admin/issuers/{slug}/bulk/")
    return client.post(
        f"/admin/issuers/{slug}/bulk/",
        data={"csrf_token": token, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def _credential_count(site: OrganiserSite) -> int:
    from sqlalchemy import func, select

    from core.storage import CredentialRecord

    with site.service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(CredentialRecord)) or 0)


def test_read_csv_understands_dutch_excel() -> None:
    from core.bulk_award import read_csv

    dutch = "\ufeffE-mail;Naam;Prestatie;Bewijs URL\r\nsam@example.org;Sam de Wit;abc;https://x.example/1\r\n;;;\r\n".encode()
    assert read_csv(dutch) == [
        (
            2,
            {
                "email": "sam@example.org",
                "name": "Sam de Wit",
                "achievement": "abc",
                "evidence_url": "https://x.example/1",
                "evidence_text": "",
            },
        )
    ]
    legacy = 'email,name,achievement,evidence\nzoë@example.org,Zoë Çelik,abc,"Hielp, heel goed"\n'.encode(
        "cp1252"
    )
    [(_line, row)] = read_csv(legacy)
    assert row["name"] == "Zoë Çelik" and row["evidence_text"] == "Hielp, heel goed"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"email;name\nsam@example.org;Sam\n", "missing_columns"),
        (b"email;name;achievement\n", "empty"),
        (b"", "empty"),
        (b"email;name;achievement\n" + b"a@b.nl;A;x\n" * 5001, "too_many_rows"),
        (b"x" * 2_000_001, "too_large"),
    ],
)
def test_read_csv_refuses_unusable_files(content: bytes, reason: str) -> None:
    from core.bulk_award import CsvProblem, read_csv

    with pytest.raises(CsvProblem) as refused:
        read_csv(content)
    assert refused.value.reason == reason


def _csv_site(site: OrganiserSite) -> tuple[str, str, bytes]:
    first = _achievement(site, name="Buurtfotograaf")
    second = _achievement(site, name="Verhalenverteller")
    rotterdam = _achievement(site, "rotterdam", "Havenkenner")
    content = (
        "\ufeffemail;name;achievement;evidence_url;evidence_text\r\n"
        f"sam@example.org;Sam de Wit;{first};https://foto.example/sam;Tien foto's\r\n"
        f"noor@example.org;Noor Bakker;http://badges.test/achievements/{second};;\r\n"
        f"niet-een-adres;Iemand;{first};;\r\n"
        f"lotte@example.org;Lotte;{rotterdam};;\r\n"
        f"SAM@example.org;Sam de Wit;{first};;\r\n"
        f"jip@example.org;Jip;{first};ftp://oud.example/x;\r\n"
        f"jip@example.org;Jip;{second};;\r\n"
    ).encode()
    return first, second, content


def test_bulk_award_previews_bad_rows_then_awards_the_rest(site: OrganiserSite) -> None:
    _first, _second, content = _csv_site(site)
    organiser = site.logged_in(UTRECHT_ORGANISER)
    uploaded = _upload(organiser, "utrecht", content)
    assert uploaded.status_code == 303, uploaded.get_data(as_text=True)
    preview = organiser.get(uploaded.headers["Location"]).get_data(as_text=True)
    assert "3 rows can be awarded." in preview
    assert "4 rows have a problem and will be skipped." in preview
    assert "Row 4: niet-een-adres is not an email address." in preview
    assert "is not one of this issuer&#39;s achievements." in preview and "Row 5:" in preview
    assert "Row 6: The same person and achievement as row 2." in preview
    assert "Row 7: The evidence link ftp://oud.example/x does not start with https://." in preview
    assert "Award 3 badges" in preview
    assert _credential_count(site) == 0  # nothing is issued before the organiser says so

    job_path = uploaded.headers["Location"]
    started = post_form(organiser, f"{job_path}/start", {}, form_page=job_path)
    assert started.status_code == 303
    _wait_for_jobs(site)
    result = organiser.get(job_path).get_data(as_text=True)
    assert "3 of 3 awarded, 0 failed." in result
    assert 'http-equiv="refresh"' not in result
    assert _credential_count(site) == 3
    badges = site.service.learners.badges_of(
        site.service.learners.find_or_create(email="jip@example.org").public_id
    )
    assert [b.achievement_name for b in badges] == ["Verhalenverteller"]


def test_a_bulk_award_run_again_awards_nothing_twice(site: OrganiserSite) -> None:
    from sqlalchemy import update

    from core.bulk_award import BulkAwards
    from core.storage import BulkAwardJobRecord

    _first, _second, content = _csv_site(site)
    jobs = BulkAwards(site.service)
    job = jobs.create_job("utrecht", created_by=UTRECHT_ORGANISER, file_name="x.csv", data=content)
    jobs.start(job.public_id)
    assert jobs.run(job.public_id).done_count == 3
    assert _credential_count(site) == 3
    # A crash after the second award, before its progress was written: the row runs again.
    with site.service.transaction() as session:
        session.execute(
            update(BulkAwardJobRecord).values(
                state="running", next_row_index=1, done_count=1, lease_until=None
            )
        )
    again = jobs.run(job.public_id)
    assert (again.state, again.done_count, again.failed_count) == ("done", 3, 0)
    assert _credential_count(site) == 3
    assert jobs.run(job.public_id).done_count == 3  # a finished job stays finished


def test_rows_that_fail_while_awarding_are_listed_with_the_reason(site: OrganiserSite) -> None:
    from core.bulk_award import BulkAwards

    _first, second, content = _csv_site(site)
    jobs = BulkAwards(site.service)
    job = jobs.create_job("utrecht", created_by=UTRECHT_ORGANISER, file_name="x.csv", data=content)
    site.service.catalogue.archive_achievement(second)  # between the preview and the award
    jobs.start(job.public_id)
    finished = jobs.run(job.public_id)
    assert (finished.done_count, finished.failed_count) == (1, 2)
    organiser = site.logged_in(UTRECHT_ORGANISER)
    page = organiser.get(f"/admin/issuers/utrecht/bulk/{job.public_id}").get_data(as_text=True)
    assert "1 of 3 awarded, 2 failed." in page
    assert (
        "Row 3 (noor@example.org): The achievement &#39;Verhalenverteller&#39; is archived." in page
    )


def test_the_progress_page_refreshes_itself_while_awarding(site: OrganiserSite) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from core.bulk_award import BulkAwards
    from core.storage import BulkAwardJobRecord, utcnow

    _first, _second, content = _csv_site(site)
    jobs = BulkAwards(site.service)
    job = jobs.create_job("utrecht", created_by=UTRECHT_ORGANISER, file_name="x.csv", data=content)
    with site.service.transaction() as session:
        session.execute(
            update(BulkAwardJobRecord).values(
                state="running",
                next_row_index=1,
                done_count=1,
                lease_until=utcnow() + timedelta(minutes=5),
            )
        )
    organiser = site.logged_in(UTRECHT_ORGANISER, "nl")
    page = organiser.get(f"/admin/issuers/utrecht/bulk/{job.public_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "1 van 3 toegekend, 0 mislukt." in page
    assert '<progress max="3" value="1"' in page


def test_a_job_left_behind_by_a_stopped_process_is_resumed(site: OrganiserSite) -> None:
    from sqlalchemy import update

    from core.bulk_award import BulkAwards
    from core.storage import BulkAwardJobRecord, utcnow

    _first, _second, content = _csv_site(site)
    jobs = BulkAwards(site.service)
    job = jobs.create_job("utrecht", created_by=UTRECHT_ORGANISER, file_name="x.csv", data=content)
    with site.service.transaction() as session:
        session.execute(update(BulkAwardJobRecord).values(state="running", lease_until=utcnow()))
    organiser = site.logged_in(UTRECHT_ORGANISER)
    organiser.get(f"/admin/issuers/utrecht/bulk/{job.public_id}")
    _wait_for_jobs(site)
    assert jobs.get_job(job.public_id).state == "done"
    assert _credential_count(site) == 3


def test_an_unusable_file_is_named_on_the_upload_form(site: OrganiserSite) -> None:
    organiser = site.logged_in(UTRECHT_ORGANISER, "nl")
    response = _upload(organiser, "utrecht", b"email;naam\nsam@example.org;Sam\n")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert (
        '<a href="#file">De eerste rij moet de kolommen email, name en achievement noemen; ontbrekend: achievement.</a>'
        in page
    )


def test_a_previewed_upload_can_be_cancelled(site: OrganiserSite) -> None:
    _first, _second, content = _csv_site(site)
    organiser = site.logged_in(UTRECHT_ORGANISER)
    job_path = _upload(organiser, "utrecht", content).headers["Location"]
    assert post_form(organiser, f"{job_path}/cancel", {}, form_page=job_path).status_code == 303
    assert post_form(organiser, f"{job_path}/start", {}, form_page=job_path).status_code == 303
    _wait_for_jobs(site)
    assert _credential_count(site) == 0
    assert "Upload cancelled" in organiser.get(job_path).get_data(as_text=True)


def test_another_issuers_upload_is_out_of_reach(site: OrganiserSite) -> None:
    from core.bulk_award import BulkAwards

    rotterdam = _achievement(site, "rotterdam", "Havenkenner")
    job = BulkAwards(site.service).create_job(
        "rotterdam",
        created_by=ROTTERDAM_ORGANISER,
        file_name="r.csv",
        data=f"email,name,achievement\na@example.org,A,{rotterdam}\n".encode(),
    )
    organiser = site.logged_in(UTRECHT_ORGANISER)
    assert organiser.get(f"/admin/issuers/rotterdam/bulk/{job.public_id}").status_code == 403
    assert organiser.get(f"/admin/issuers/utrecht/bulk/{job.public_id}").status_code == 404
    token = csrf_token(organiser, "/admin/account/password")
    assert (
        organiser.post(
            f"/admin/issuers/utrecht/bulk/{job.public_id}/start", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert _credential_count(site) == 0


def test_the_csv_flow_on_each_database(tmp_path: Path, database_url: str) -> None:
    """Upload, preview, award and re-run on SQLite and on PostgreSQL."""
    from core.bulk_award import BulkAwards

    built = build_site(tmp_path, database_url)
    try:
        _first, _second, content = _csv_site(built)
        organiser = built.logged_in(UTRECHT_ORGANISER)
        job_path = _upload(organiser, "utrecht", content).headers["Location"]
        assert "3 rows can be awarded." in organiser.get(job_path).get_data(as_text=True)
        post_form(organiser, f"{job_path}/start", {}, form_page=job_path)
        _wait_for_jobs(built)
        assert "3 of 3 awarded, 0 failed." in organiser.get(job_path).get_data(as_text=True)
        BulkAwards(built.service).run(job_path.rsplit("/", 1)[1])
        assert _credential_count(built) == 3
    finally:
        built.service.engine.dispose()


def test_the_organiser_confirms_who_took_part(site: OrganiserSite) -> None:
    achievement = _achievement(site)
    activity = _activity(site, achievement, mode="organiser_confirms")
    organiser = site.logged_in(UTRECHT_ORGANISER)
    path = f"/admin/issuers/utrecht/activities/{activity}/confirm"
    wrong = post_form(
        organiser, path, {"participants": "sam@example.org, Sam\nniet-een-adres, Iemand"}
    )
    assert wrong.status_code == 400
    assert "Line 2: niet-een-adres is not an email address." in wrong.get_data(as_text=True)
    assert _credential_count(site) == 0  # nothing is awarded while a line is wrong
    people = "sam@example.org, Sam de Wit\nnoor@example.org;Noor\n"
    assert post_form(organiser, path, {"participants": people}).status_code == 303
    again = post_form(organiser, path, {"participants": "Sam@example.org"})
    assert again.status_code == 303
    page = organiser.get("/admin/issuers/utrecht/activities").get_data(as_text=True)
    assert "0 badges awarded. 1 person already had this badge." in page
    assert _credential_count(site) == 2
    sam = site.service.learners.find_or_create(email="sam@example.org")
    assert sam.display_name == "Sam de Wit"
