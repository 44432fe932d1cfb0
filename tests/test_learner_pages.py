"""The learner's pages in Dutch and English: my badges with a share setting per badge, the
export of everything as a zip, and the deletion of their data."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from core.baking import extract_badge
from core.report import CheckStatus
from lti_tool import learner as learner_module
from tests.badge_site import ORGANISER, BadgeSite, build_site, token_of
from tests.organiser_site import PASSWORD, csrf_token, log_in, visible_text

OTHER_BADGE = {
    "type": ["Achievement"],
    "name": "Buurtcoach",
    "description": "Coached three neighbours.",
    "criteria": {"narrative": "Coach three neighbours."},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BadgeSite]:
    built = build_site(tmp_path_factory.mktemp("learner"))
    yield built
    built.service.engine.dispose()


@dataclass
class Learner:
    """A learner with one badge and an account to log in with."""

    public_id: str
    credential_id: str
    login: str
    user_id: int

    @property
    def token(self) -> str:
        return token_of(self.credential_id)


_count = 0


@pytest.fixture
def learner(site: BadgeSite) -> Learner:
    """A new learner for each test (tests change their badges and erase them)."""
    global _count
    _count += 1
    email = f"learner{_count}@example.org"
    public_id, credential_id = site.learner_with_badge(email, f"Lotte {_count}")
    login = f"lotte{_count}@login.example"
    user_id = site.learner_account(login, f"Lotte {_count}", public_id)
    return Learner(public_id, credential_id, login, user_id)


def _main(page: str) -> str:
    match = re.search(r"<main\b.*?</main>", page, flags=re.S)
    assert match
    return visible_text(match.group(0))


def _share(client: FlaskClient, credential_id: str, visibility: str) -> int:
    token = csrf_token(client, "/me/badges")
    response = client.post(
        "/me/badges/share",
        data={"csrf_token": token, "credential": credential_id, "visibility": visibility},
    )
    return response.status_code


# -- my badges ------------------------------------------------------------------------------------


def test_my_badges_needs_a_log_in(site: BadgeSite) -> None:
    response = site.client().get("/me/badges")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/me/badges")


def test_a_learner_lands_on_their_badges_after_logging_in(
    site: BadgeSite, learner: Learner
) -> None:
    client = site.client()
    response = log_in(client, learner.login, PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/me/badges"
    assert client.get("/me/badges").status_code == 200


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            [
                "My badges",
                "Stadsfotograaf",
                "Valid",
                "Public",
                "Make private",
                "Download everything (zip)",
            ],
        ),
        (
            "nl",
            [
                "Mijn badges",
                "Stadsfotograaf",
                "Geldig",
                "Openbaar",
                "Privé maken",
                "Alles downloaden (zip)",
            ],
        ),
    ],
)
def test_my_badges_lists_each_badge_with_its_share_setting(
    site: BadgeSite, learner: Learner, language: str, words: list[str]
) -> None:
    response = site.logged_in(learner.login, language).get("/me/badges")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<html lang="{language}">' in page
    text = _main(page)
    for word in words:
        assert word in text, word
    assert f'href="/credentials/{learner.token}"' in page
    assert f'value="{learner.credential_id}"' in page
    assert response.headers["Cache-Control"] == "private, no-store"


def test_sharing_a_badge_publicly_or_privately(site: BadgeSite, learner: Learner) -> None:
    holder = site.logged_in(learner.login)
    public = site.client()
    assert public.get(f"/credentials/{learner.token}").status_code == 200

    assert _share(holder, learner.credential_id, "private") == 303
    page = holder.get("/me/badges").get_data(as_text=True)
    assert "The badge is private now: only you and its issuer can see it." in page
    assert "Make public" in _main(page)
    assert public.get(f"/credentials/{learner.token}").status_code == 404
    assert holder.get(f"/credentials/{learner.token}").status_code == 200

    assert _share(holder, learner.credential_id, "public") == 303
    assert public.get(f"/credentials/{learner.token}").status_code == 200


def test_sharing_needs_the_form_token_and_ones_own_badge(site: BadgeSite, learner: Learner) -> None:
    holder = site.logged_in(learner.login)
    forged = holder.post(
        "/me/badges/share", data={"credential": learner.credential_id, "visibility": "private"}
    )
    assert forged.status_code == 400
    other = site.learner_with_badge("someone.else@example.org", "Someone")[1]
    assert _share(holder, other, "private") == 404
    assert _share(holder, learner.credential_id, "hidden") == 400
    assert site.client().get(f"/credentials/{token_of(other)}").status_code == 200
    assert site.client().get(f"/credentials/{learner.token}").status_code == 200


def test_an_account_without_badges_is_told_so(site: BadgeSite) -> None:
    organiser = site.logged_in(ORGANISER, "nl")
    page = organiser.get("/me/badges").get_data(as_text=True)
    assert "Dit account is niet gekoppeld aan badges." in _main(page)
    assert organiser.get("/admin/").status_code == 200  # organisers keep their dashboard


# -- export -----------------------------------------------------------------------------------------


def _export(client: FlaskClient) -> zipfile.ZipFile:
    response = client.get("/me/export")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.is_streamed
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def test_export_holds_every_badge_its_baked_image_evidence_and_a_readme(
    site: BadgeSite, learner: Learner
) -> None:
    site.service.evidence.submit(
        learner.public_id, site.walk_activity, file_name="route.txt", file_data=b"My walk route."
    )
    kept = site.service.issue("utrecht", OTHER_BADGE, "lotte@elsewhere.example")
    site.service.held_credentials.upsert(learner.user_id, kept.text)
    holder = site.logged_in(learner.login)
    archive = _export(holder)
    names = archive.namelist()
    assert archive.testzip() is None
    folder = "badges/001-stadsfotograaf"
    assert f"{folder}/credential.json" in names and f"{folder}/badge.png" in names
    stored = site.service.get_credential(learner.credential_id).text
    assert archive.read(f"{folder}/credential.json").decode() == stored
    baked = archive.read(f"{folder}/badge.png")
    assert extract_badge(baked).payload == stored
    assert site.service.verify(baked).valid

    evidence = json.loads(archive.read("evidence/evidence.json"))
    assert {e["kind"] for e in evidence} == {"text", "file"}
    file_entry = next(e for e in evidence if e["kind"] == "file")
    assert archive.read(file_entry["file"]) == b"My walk route."
    assert archive.read("backpack/001.json").decode() == kept.text
    about = json.loads(archive.read("about-you.json"))
    assert about["learner"] == learner.public_id
    assert {i["value"] for i in about["identifiers"]} == {f"learner{_count}@example.org"}

    readme = archive.read("README.txt").decode()
    assert "Stadsfotograaf (Rotterdam City of Learning" in readme
    assert "badge.png is the badge image with that credential baked in" in readme
    assert "incomplete" not in readme


def test_export_in_dutch_has_a_dutch_readme(site: BadgeSite, learner: Learner) -> None:
    readme = _export(site.logged_in(learner.login, "nl")).read("README.txt").decode()
    assert "Uw badges van badgebridge" in readme


def test_export_stops_at_its_size_limit_and_says_so(
    site: BadgeSite, learner: Learner, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = site.service.get_credential(learner.credential_id).text
    monkeypatch.setattr(learner_module, "MAX_EXPORT_BYTES", len(text.encode()) + 10)
    archive = _export(site.logged_in(learner.login))
    names = archive.namelist()
    assert "badges/001-stadsfotograaf/credential.json" in names
    assert "badges/001-stadsfotograaf/badge.png" not in names
    readme = archive.read("README.txt").decode()
    assert "This export is incomplete" in readme
    assert "- badges/001-stadsfotograaf/badge.png" in readme


# -- deleting one's data -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            [
                "Delete your data",
                "is revoked",
                "no longer verifies anywhere",
                "Your log-in account is deleted too",
                "cannot be undone",
            ],
        ),
        (
            "nl",
            [
                "Uw gegevens verwijderen",
                "wordt ingetrokken",
                "nergens meer geldig",
                "Uw inlogaccount wordt ook verwijderd",
                "niet ongedaan worden gemaakt",
            ],
        ),
    ],
)
def test_the_confirmation_page_says_what_deletion_does(
    site: BadgeSite, learner: Learner, language: str, words: list[str]
) -> None:
    page = site.logged_in(learner.login, language).get("/me/delete").get_data(as_text=True)
    text = _main(page)
    for word in words:
        assert word in text, word
    assert f"learner{_count}@example.org" in text
    assert 'name="confirm"' in page and 'name="csrf_token"' in page


def test_deletion_needs_the_confirmation(site: BadgeSite, learner: Learner) -> None:
    holder = site.logged_in(learner.login)
    token = csrf_token(holder, "/me/delete")
    response = holder.post("/me/delete", data={"csrf_token": token})
    assert response.status_code == 400
    assert "Nothing was deleted" in _main(response.get_data(as_text=True))
    assert not site.service.learners.get(learner.public_id).deleted
    assert holder.post("/me/delete", data={"confirm": "yes"}).status_code == 400  # no form token
    assert not site.service.learners.get(learner.public_id).deleted


def test_deletion_erases_the_learner_revokes_their_badges_and_logs_them_out(
    site: BadgeSite, learner: Learner
) -> None:
    kept = site.service.issue("utrecht", OTHER_BADGE, "lotte@elsewhere.example")
    site.service.held_credentials.upsert(learner.user_id, kept.text)
    holder = site.logged_in(learner.login)
    exported = _export(holder).read("badges/001-stadsfotograaf/credential.json").decode()
    token = csrf_token(holder, "/me/delete")
    response = holder.post("/me/delete", data={"csrf_token": token, "confirm": "yes"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    home = holder.get("/").get_data(as_text=True)
    assert "Your data has been deleted and 1 badge was revoked. You are logged out." in home
    assert holder.get("/me/badges").status_code == 302  # logged out

    assert site.service.learners.get(learner.public_id).deleted
    assert site.service.accounts.find_user(learner.login) is None
    assert site.service.held_credentials.page(learner.user_id).total == 0
    failed = log_in(site.client(), learner.login, PASSWORD)
    assert failed.status_code == 401
    # the copy taken before deleting no longer verifies: its status says revoked
    report = site.service.verify(exported)
    assert not report.valid
    status = [c for c in report.checks if c.id == "status"]
    assert status and status[0].status is CheckStatus.FAIL
    assert "revoked" in status[0].message.lower()
    assert site.client().get(f"/credentials/{learner.token}").status_code == 404


def test_an_organiser_who_also_earns_badges_keeps_their_account(site: BadgeSite) -> None:
    public_id, credential_id = site.learner_with_badge("chris.private@example.org", "Chris")
    organiser = site.service.accounts.find_user(ORGANISER)
    assert organiser is not None
    from sqlalchemy import select, update

    from core.storage import LearnerRecord, UserRecord

    with site.service.transaction() as session:
        learner_id = session.scalar(
            select(LearnerRecord.id).where(LearnerRecord.public_id == public_id)
        )
        session.execute(
            update(UserRecord).where(UserRecord.id == organiser.id).values(learner_id=learner_id)
        )
    client = site.logged_in(ORGANISER)
    confirmation = _main(client.get("/me/delete").get_data(as_text=True))
    assert "Your log-in account stays" in confirmation
    token = csrf_token(client, "/me/delete")
    assert (
        client.post("/me/delete", data={"csrf_token": token, "confirm": "yes"}).status_code == 303
    )
    assert site.service.accounts.find_user(ORGANISER) is not None
    assert site.service.learners.get(public_id).deleted
    assert not site.service.verify(site.service.get_credential(credential_id).text).valid
    assert site.logged_in(ORGANISER).get("/admin/").status_code == 200
