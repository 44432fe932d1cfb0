"""Every page in Dutch and English: the language choice, the translations, and dates."""

from __future__ import annotations

import gettext as gettext_module
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from lti_tool.i18n import compiled_translations_dir, safe_next_path
from tests.organiser_site import ADMIN, OrganiserSite, build_site, visible_text

REPO = Path(__file__).resolve().parents[1]
TRANSLATIONS = REPO / "lti_tool" / "translations"
PO_FILE = TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po"
#: The templates and modules whose every string must be translated.
TRANSLATED_TEMPLATES = ("admin", "auth")
PUBLIC_TEMPLATES = (
    "base.html",
    "_report.html",
    "credential.html",
    "error.html",
    "home.html",
    "issuer.html",
    "verify.html",
)
TRANSLATED_MODULES = ("app.py", "auth.py", "i18n.py", "oidc_login.py", "admin")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
#: Interface text on most pages: Dutch must word every one differently.
MUST_BE_DUTCH = (
    "Skip to content",
    "Verify a badge",
    "Log in",
    "Log out",
    "There is a problem",
    "Evidence waiting for review",
    "Signing keys",
    "Rows with a problem",
    "Badges to award",
    "Approve and award the badge",
    "Revoke this badge?",
    "How completion is confirmed",
    "Change your password",
    "This badge passed every check.",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrganiserSite]:
    built = build_site(tmp_path_factory.mktemp("i18n"))
    _fill(built)
    yield built
    built.service.engine.dispose()


def _fill(site: OrganiserSite) -> None:
    """One of everything the organiser pages show."""
    from core.awarding import AwardRequest
    from core.bulk_award import BulkAwards
    from core.catalogue import PlaylistStepSpec

    service = site.service
    catalogue = service.catalogue
    badge = catalogue.create_achievement(
        "utrecht",
        name="Buurtfotograaf",
        description="Fotografeerde de buurt.",
        criteria_narrative="Tien foto's.",
        skills=["digcomp-2.2:3.1"],
    )
    route = catalogue.create_achievement(
        "utrecht", name="Fotoroute", description="Route.", criteria_narrative="Alle stappen."
    )
    activity = catalogue.create_activity(
        "utrecht",
        title="Fotowandeling",
        description="Met de camera.",
        achievement_public_id=badge.public_id,
        city="Utrecht",
        completion_mode="evidence_organiser",
    )
    catalogue.create_playlist(
        "utrecht",
        title="Fotografie",
        description="Twee stappen.",
        achievement_public_id=route.public_id,
        steps=[
            PlaylistStepSpec.of_activity(activity.public_id),
            PlaylistStepSpec.of_external("moodle:1"),
        ],
    )
    learner = service.learners.find_or_create(email="sam@example.org", display_name="Sam")
    evidence = service.evidence.submit(learner.public_id, activity.public_id, text="Foto's.")
    other = service.learners.find_or_create(email="noor@example.org", display_name="Noor")
    service.awarding.award(AwardRequest(other.public_id, badge.public_id, "organiser", "i18n:1"))
    jobs = BulkAwards(service)
    csv = (
        f"email;name;achievement\nsam@example.org;Sam;{badge.public_id}\nfout;X;{badge.public_id}\n"
    )
    preview = jobs.create_job("utrecht", created_by=ADMIN, file_name="a.csv", data=csv.encode())
    done = jobs.create_job("utrecht", created_by=ADMIN, file_name="b.csv", data=csv.encode())
    jobs.start(done.public_id)
    jobs.run(done.public_id)
    site.app.config["I18N_TEST_IDS"] = {
        "badge": badge.public_id,
        "activity": activity.public_id,
        "playlist": catalogue.list_playlists("utrecht")[0].public_id,
        "evidence": evidence.public_id,
        "credential": service.learners.badges_of(other.public_id)[0].credential_id,
        "preview": preview.public_id,
        "done": done.public_id,
    }


def _po_files() -> list[Path]:
    """messages.po first, then the other Dutch .po files merged in beside it."""
    others = sorted(p for p in PO_FILE.parent.glob("*.po") if p != PO_FILE)
    return [PO_FILE, *others]


def _catalogue() -> dict[str, str | tuple[str, ...]]:
    merged: dict[str, str | tuple[str, ...]] = {}
    for path in _po_files():
        with path.open("rb") as handle:
            for m in read_po(handle, locale="nl"):
                if m.id:
                    merged.setdefault(m.id if isinstance(m.id, str) else m.id[0], m.string)
    return merged


# -- choosing the language ---------------------------------------------------------------------


def test_dutch_is_the_default_for_a_browser_without_a_preference(site: OrganiserSite) -> None:
    client = site.app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="nl">' in page
    assert "<h1>Open Badges voor Cities of Learning</h1>" in page
    assert "Badge controleren" in page


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [("en-GB,en;q=0.9", "en"), ("de-DE, en;q=0.5", "en"), ("nl-BE", "nl"), ("fr, de", "nl")],
)
def test_the_browser_preference_chooses_among_dutch_and_english(
    site: OrganiserSite, accept_language: str, expected: str
) -> None:
    page = site.client(accept_language).get("/verify").get_data(as_text=True)
    assert f'<html lang="{expected}">' in page
    heading = "Verify a badge" if expected == "en" else "Badge controleren"
    assert f"<h1>{heading}</h1>" in page


def test_the_language_switch_is_remembered_over_the_browser_preference(
    site: OrganiserSite,
) -> None:
    client = site.client("nl")
    page = client.get("/verify").get_data(as_text=True)
    assert 'href="/language/en?next=/verify" lang="en" hreflang="en">English</a>' in page

    switched = client.get("/language/en?next=/verify")
    assert switched.status_code == 303
    assert switched.headers["Location"] == "/verify"
    after = client.get("/verify").get_data(as_text=True)
    assert '<html lang="en">' in after
    assert 'lang="en" hreflang="en" aria-current="true">English</a>' in after

    client.get("/language/nl?next=/")
    assert '<html lang="nl">' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_the_language_switch_never_sends_visitors_to_another_site(
    site: OrganiserSite, target: str
) -> None:
    response = site.client().get("/language/en", query_string={"next": target})
    assert response.headers["Location"] == "/"
    assert safe_next_path("/admin/?x=1") == "/admin/?x=1"


def test_an_unknown_language_changes_nothing(site: OrganiserSite) -> None:
    client = site.client("en")
    client.get("/language/de?next=/")
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_pages_say_they_vary_by_language(site: OrganiserSite) -> None:
    response = site.client().get("/")
    assert "Accept-Language" in response.headers["Vary"]
    assert "Cookie" in response.headers["Vary"]


# -- translations --------------------------------------------------------------------------------


def _pages(site: OrganiserSite, language: str) -> dict[str, str]:
    admin = site.logged_in(ADMIN, language)
    anonymous = site.client(language)
    paths_for_admin = [
        "/admin/",
        "/admin/issuers/",
        "/admin/issuers/utrecht",
        "/admin/issuers/utrecht/edit",
        "/admin/issuers/utrecht/keys",
        "/admin/issuers/utrecht/keys/rotate?algorithm=Ed25519",
        "/admin/issuers/new",
        "/admin/users",
        "/admin/users/new",
        "/admin/account/password",
        "/admin/issuers/utrecht/achievements",
        "/admin/issuers/utrecht/achievements/new",
        "/admin/issuers/utrecht/achievements/{badge}/edit",
        "/admin/issuers/utrecht/achievements/{badge}/archive",
        "/admin/issuers/utrecht/activities",
        "/admin/issuers/utrecht/activities/new",
        "/admin/issuers/utrecht/activities/{activity}/edit",
        "/admin/issuers/utrecht/playlists",
        "/admin/issuers/utrecht/playlists/new",
        "/admin/issuers/utrecht/playlists/{playlist}",
        "/admin/issuers/utrecht/review/",
        "/admin/issuers/utrecht/review/{evidence}",
        "/admin/issuers/utrecht/credentials/",
        "/admin/issuers/utrecht/credentials/revoke?credential={credential}",
        "/admin/issuers/utrecht/bulk/",
        "/admin/issuers/utrecht/bulk/{preview}",
        "/admin/issuers/utrecht/bulk/{done}",
    ]
    ids = site.app.config["I18N_TEST_IDS"]
    paths_for_admin = [path.format(**ids) for path in paths_for_admin]
    pages = {}
    for path in paths_for_admin:
        response = admin.get(path)
        assert response.status_code == 200, path
        pages[path] = response.get_data(as_text=True)
    for path in ("/", "/verify", "/issuers/utrecht", "/login", "/no/such/page"):
        pages[path] = anonymous.get(path).get_data(as_text=True)
    failed_login = anonymous.post("/login", data={"email": "", "password": ""})
    pages["/login (expired form)"] = failed_login.get_data(as_text=True)
    return pages


def test_dutch_pages_show_no_english_interface_text(site: OrganiserSite) -> None:
    """Every interface sentence of the catalogue that Dutch words differently must not appear in
    English on any Dutch page (names and data of the site are not in the catalogue)."""
    catalogue = _catalogue()
    for sentence in MUST_BE_DUTCH:
        assert catalogue[sentence] not in ("", sentence), sentence
    english_only = [
        msgid
        for msgid, translation in catalogue.items()
        if not PLACEHOLDER.search(msgid)
        and "<" not in msgid
        and len(msgid.split()) >= 2
        and (translation != msgid or msgid in MUST_BE_DUTCH)
    ]
    assert len(english_only) > 100
    for path, page in _pages(site, "nl").items():
        assert '<html lang="nl">' in page, path
        text = visible_text(page)
        leftovers = [msgid for msgid in english_only if msgid in text]
        assert leftovers == [], f"{path} shows English: {leftovers}"


def test_english_pages_are_in_english(site: OrganiserSite) -> None:
    pages = _pages(site, "en")
    assert (
        "<h1>Signing keys of Utrecht City of Learning</h1>" in pages["/admin/issuers/utrecht/keys"]
    )
    assert "Ondertekeningssleutels" not in visible_text(pages["/admin/issuers/utrecht/keys"])
    assert (
        "<h1>Ondertekeningssleutels van Utrecht City of Learning</h1>"
        in _pages(site, "nl")["/admin/issuers/utrecht/keys"]
    )


@pytest.mark.parametrize("po_path", _po_files(), ids=lambda path: path.name)
def test_the_dutch_catalogue_has_no_empty_translations(po_path: Path) -> None:
    with po_path.open("rb") as handle:
        catalogue = read_po(handle, locale="nl")
    empty = [
        m.id
        for m in catalogue
        if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert empty == []
    assert fuzzy == []


def test_other_po_files_beside_messages_po_are_merged_in(tmp_path: Path) -> None:
    """A part of the site can keep its Dutch in its own .po file; messages.po wins on a tie."""
    folder = tmp_path / "nl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Open"\nmsgstr "Open (main)"\n',
        encoding="utf-8",
    )
    (folder / "picker.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Open"\nmsgstr "Open (picker)"\n\nmsgid "Choose"\nmsgstr "Kies"\n',
        encoding="utf-8",
    )
    compiled = compiled_translations_dir(tmp_path)
    with (compiled / "nl" / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        translations = gettext_module.GNUTranslations(handle)
    assert translations.gettext("Choose") == "Kies"
    assert translations.gettext("Open") == "Open (main)"


def test_translations_keep_every_placeholder() -> None:
    """A translation that drops or renames ``%(name)s`` would fail when the page is shown."""
    for msgid, translation in _catalogue().items():
        translations = translation if isinstance(translation, tuple) else (translation,)
        for text in translations:
            assert set(PLACEHOLDER.findall(text)) <= set(PLACEHOLDER.findall(msgid)) | {"num"}, (
                msgid
            )
            assert set(PLACEHOLDER.findall(msgid)) - {"num"} <= set(PLACEHOLDER.findall(text)), (
                msgid
            )


KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}


def _strings_of(path: Path) -> set[str]:
    method = "jinja2" if path.suffix == ".html" else "python"
    return {
        message if isinstance(message, str) else message[0]
        for _line, message, _comments, _context in extract_from_file(
            method, str(path), keywords=KEYWORDS
        )
    }


def test_every_string_of_the_pages_is_in_the_dutch_catalogue() -> None:
    templates = REPO / "lti_tool" / "templates"
    files = [templates / name for name in PUBLIC_TEMPLATES]
    for folder in TRANSLATED_TEMPLATES:
        files += sorted((templates / folder).rglob("*.html"))
    for name in TRANSLATED_MODULES:
        path = REPO / "lti_tool" / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    strings = set().union(*(_strings_of(path) for path in files))
    assert len(strings) > 150
    assert sorted(strings - set(_catalogue())) == []


def test_catalogues_compile_without_the_fuzzy_entries(tmp_path: Path) -> None:
    source = tmp_path / "translations"
    (source / "nl" / "LC_MESSAGES").mkdir(parents=True)
    (source / "nl" / "LC_MESSAGES" / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Save"\nmsgstr "Opslaan"\n\n#, fuzzy\nmsgid "Cancel"\nmsgstr "Afbreken"\n',
        encoding="utf-8",
    )
    from babel.support import Translations

    compiled = compiled_translations_dir(source)
    translations = Translations.load(str(compiled), ["nl"])
    assert translations.gettext("Save") == "Opslaan"
    assert translations.gettext("Cancel") == "Cancel"


# -- dates and numbers -------------------------------------------------------------------------------


def test_dates_follow_the_language(site: OrganiserSite) -> None:
    created = site.service.list_keys("utrecht")[0].created_at
    local = created.astimezone(ZoneInfo("Europe/Amsterdam"))
    dutch = site.client("nl").get("/issuers/utrecht").get_data(as_text=True)
    english = site.client("en").get("/issuers/utrecht").get_data(as_text=True)
    assert f"<td>{format_date(local, 'medium', locale='nl')}</td>" in dutch
    assert f"<td>{format_date(local, 'medium', locale='en')}</td>" in english
    assert format_date(datetime(2025, 3, 4), "medium", locale="nl") == "4 mrt 2025"
