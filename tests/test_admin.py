"""The organiser pages: dashboard, issuers and keys, and who may see and change what."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from core.issuer_admin import IssuerAdministration
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
    details = IssuerAdministration(site.service).details("utrecht")
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
    assert IssuerAdministration(site.service).details("rotterdam").quality_label_since == date(
        2023, 5, 1
    )
    future = {**fields, "quality_label_since": "2999-01-01"}
    refused = post_form(admin, "/admin/issuers/rotterdam/edit", future)
    assert refused.status_code == 400
    assert "cannot be in the future" in refused.get_data(as_text=True)
    withdrawn = {"name": "Rotterdam City of Learning", "quality_label_since": "2023-05-01"}
    assert post_form(admin, "/admin/issuers/rotterdam/edit", withdrawn).status_code == 303
    assert IssuerAdministration(site.service).details("rotterdam").quality_label_since is None


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
