"""The public pages of the badge service in Dutch and English: credential pages (badge, skills,
issuer with its Quality Label, evidence, live report, downloads, baked PNG, LinkedIn, printable
certificate), private credentials, achievements (HTML and JSON-LD), activities with search
and map, activity and playlist pages, issuer profiles and the home page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from core.baking import PNG_SIGNATURE, extract_badge
from core.errors import FetchRefused
from core.fetching import FetchedDocument
from core.service import OB3_CONTEXTS
from core.storage import CredentialRecord
from lti_tool.badge_images import encode_png, generated_badge_png
from lti_tool.catalogue_pages import achievement_document
from tests.badge_site import EXTERNAL_STEP, ORGANISER, BadgeSite, build_site, token_of
from tests.organiser_site import csrf_token, visible_text

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "lti_tool" / "templates"
PO_FILE = REPO / "lti_tool" / "translations" / "nl" / "LC_MESSAGES" / "messages.po"
HOLDER = "sam@example.org"
HOLDER_LOGIN = "sam.login@example.org"


@dataclass
class World:
    site: BadgeSite
    learner: str
    credential_id: str

    @property
    def token(self) -> str:
        return token_of(self.credential_id)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Built once: signing credentials is the slow part. Tests that change a credential make
    their own."""
    site = build_site(tmp_path_factory.mktemp("public"))
    learner, credential_id = site.learner_with_badge(HOLDER, "Sam de Vries")
    site.learner_account(HOLDER_LOGIN, "Sam de Vries", learner)
    yield World(site, learner, credential_id)
    site.service.engine.dispose()


def main_text(page: str) -> str:
    """The words of the page's <main> (without header and footer)."""
    match = re.search(r"<main\b.*?</main>", page, flags=re.S)
    assert match, "no <main>"
    return visible_text(match.group(0))


def _href(page: str, element_id: str) -> str:
    match = re.search(rf'href="([^"]+)"[^>]*id="{element_id}"', page)
    assert match, f"no link #{element_id}"
    return match.group(1).replace("&amp;", "&")


# -- the credential page ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            {
                "quality": "Cities of Learning Quality Label since March 1, 2024",
                "slo": "Creative thinking and acting",
                "criteria": "What it takes to earn this badge",
                "linkedin": "Add to LinkedIn profile",
                "certificate": "Printable certificate",
                "valid": "Valid",
                "level": "EQF level 3",
            },
        ),
        (
            "nl",
            {
                "quality": "Cities of Learning-kwaliteitslabel sinds 1 maart 2024",
                "slo": "Creatief denken en handelen",
                "criteria": "Wat er nodig is om deze badge te verdienen",
                "linkedin": "Toevoegen aan LinkedIn-profiel",
                "certificate": "Certificaat om af te drukken",
                "valid": "Geldig",
                "level": "EQF-niveau 3",
            },
        ),
    ],
)
def test_credential_page_shows_badge_skills_issuer_evidence_report_and_downloads(
    world: World, language: str, words: dict[str, str]
) -> None:
    response = world.site.client(language).get(f"/credentials/{world.token}")
    page = response.get_data(as_text=True)
    text = main_text(page)
    assert response.status_code == 200
    assert f'<html lang="{language}">' in page
    assert "<h1>Stadsfotograaf</h1>" in page
    # the generated badge: an accessible SVG named after the badge
    assert re.search(r'<svg[^>]*role="img"[^>]*aria-labelledby="badge-art-title"', page)
    assert '<title id="badge-art-title">Stadsfotograaf</title>' in page
    # skills grouped by framework, named in the page's language
    assert "<h3>DigComp 2.2</h3>" in page
    assert "<h3>SLO 21e-eeuwse vaardigheden</h3>" in page
    assert words["slo"] in text
    assert "Developing digital content" in text
    assert words["level"] in text
    assert words["quality"] in text
    assert words["criteria"] in text
    # the approved evidence, as the credential states it
    assert "Twelve photographs of my street." in text
    assert re.search(r'class="verdict verdict-valid"', page)
    assert words["valid"] in text
    assert f'href="/credentials/{world.token}/download"' in page
    assert f'href="/credentials/{world.token}/badge.png"' in page
    assert f'href="/credentials/{world.token}/certificate"' in page
    assert words["linkedin"] in text and words["certificate"] in text
    assert f'href="/achievements/{world.site.photo}"' in page
    assert "<script" not in page


def test_linkedin_link_fills_in_the_certification(world: World) -> None:
    page = world.site.client().get(f"/credentials/{world.token}").get_data(as_text=True)
    link = urlsplit(_href(page, "linkedin-link"))
    assert (link.scheme, link.netloc, link.path) == ("https", "www.linkedin.com", "/profile/add")
    query = parse_qs(link.query)
    document = json.loads(world.site.service.get_credential(world.credential_id).text)
    issued = document["validFrom"]
    assert query == {
        "startTask": ["CERTIFICATION_NAME"],
        "name": ["Stadsfotograaf"],
        "organizationName": ["Rotterdam City of Learning"],
        "issueYear": [str(int(issued[:4]))],
        "issueMonth": [str(int(issued[5:7]))],
        "certUrl": [world.credential_id],
        "certId": [world.token],
    }


def test_a_revoked_badge_is_reported_not_valid_and_not_offered_to_linkedin(world: World) -> None:
    _learner, credential_id = world.site.learner_with_badge(
        "revoked@example.org", "Rik", evidence_text="Photos."
    )
    world.site.service.awarding.revoke(credential_id, "Given by mistake.")
    page = world.site.client().get(f"/credentials/{token_of(credential_id)}").get_data(as_text=True)
    assert 'class="verdict verdict-invalid"' in page
    assert 'id="linkedin-link"' not in page
    certificate = world.site.client().get(f"/credentials/{token_of(credential_id)}/certificate")
    assert "This badge is no longer valid" in main_text(certificate.get_data(as_text=True))


def test_baked_png_holds_the_same_credential_and_verifies(world: World) -> None:
    response = world.site.client().get(f"/credentials/{world.token}/badge.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert f"badge-{world.token}.png" in response.headers["Content-Disposition"]
    png = response.get_data()
    assert png.startswith(PNG_SIGNATURE)
    extracted = extract_badge(png)
    assert extracted.keyword == "openbadgecredential"
    assert extracted.payload == world.site.service.get_credential(world.credential_id).text
    report = world.site.service.verify(png, recipient=HOLDER)
    assert report.valid, [c.message for c in report.failures]


def test_baked_png_of_a_jwt_credential(world: World) -> None:
    issued = world.site.service.issue(
        "utrecht",
        {
            "type": ["Achievement"],
            "name": "Buurtcoach",
            "description": "Coached neighbours.",
            "criteria": {"narrative": "Coach three neighbours."},
        },
        "kim@example.org",
        proof_format="jwt",
    )
    png = world.site.client().get(f"/credentials/{token_of(issued.credential_id)}/badge.png")
    extracted = extract_badge(png.get_data())
    assert extracted.is_jwt and extracted.payload == issued.text
    assert world.site.service.verify(png.get_data()).valid


class _ImageServer:
    """A fetcher that serves one PNG image (and refuses everything else)."""

    def __init__(self, url: str, png: bytes) -> None:
        self.url, self.png, self.requests = url, png, 0

    def fetch(self, url: str, *, accept: str = "*/*") -> FetchedDocument:
        if url != self.url:
            raise FetchRefused(f"Not served here: {url}")
        self.requests += 1
        return FetchedDocument(url, "image/png", self.png)

    def fetch_json(self, url: str, *, accept: str = "") -> object:
        raise FetchRefused(f"Not served here: {url}")


def test_the_achievement_image_is_baked_when_it_is_a_png(world: World) -> None:
    site = world.site
    url = "https://images.example/wijkwandelaar.png"
    image = encode_png(2, 1, bytes([255, 0, 0, 255, 0, 0, 255, 255]))
    server = _ImageServer(url, image)
    site.service.catalogue.update_achievement(site.walk, image=url)
    learner = site.service.learners.find_or_create(email="walker@example.org", email_verified=True)
    evidence = site.service.evidence.submit(
        learner.public_id, site.walk_activity, text="We walked."
    )
    credential_id = site.service.evidence.review(
        evidence.public_id, approve=True, reviewer="peer@example.org"
    ).credential_id
    assert credential_id is not None
    site.service.fetcher = server
    try:
        client = site.client()
        baked = client.get(f"/credentials/{token_of(credential_id)}/badge.png").get_data()
        picture = client.get(f"/achievements/{site.walk}/image.png").get_data()
        page = client.get(f"/credentials/{token_of(credential_id)}").get_data(as_text=True)
    finally:
        site.service.fetcher = None
    assert picture == image
    assert extract_badge(baked).payload == site.service.get_credential(credential_id).text
    # the image's own pixels, not the generated badge
    assert image[image.index(b"IDAT") - 4 :] in baked
    assert server.requests == 1  # kept, not fetched for every request
    assert f'<img src="/credentials/{token_of(credential_id)}/badge.png"' in page


def test_the_generated_badge_is_a_png_with_the_badge_colour() -> None:
    png = generated_badge_png("Stadsfotograaf")
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"
    assert generated_badge_png("Stadsfotograaf") == png
    assert generated_badge_png("Wijkwandelaar") != png


@pytest.mark.parametrize(
    ("language", "title", "statement"),
    [
        ("en", "Certificate", "This badge was awarded by Rotterdam City of Learning on"),
        ("nl", "Certificaat", "Deze badge is toegekend door Rotterdam City of Learning op"),
    ],
)
def test_printable_certificate(world: World, language: str, title: str, statement: str) -> None:
    response = world.site.client(language).get(f"/credentials/{world.token}/certificate")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="/static/certificate.css"' in page
    assert '<h1 id="certificate-title">Stadsfotograaf</h1>' in page
    text = main_text(page)
    assert title in text and statement in text
    assert world.credential_id in text
    assert "Sam de Vries" not in text  # the holder's name only for the holder
    stylesheet = world.site.client().get("/static/certificate.css").get_data(as_text=True)
    assert "@page { size: A4 portrait" in stylesheet
    assert "@media print" in stylesheet


def test_the_holder_sees_their_name_on_the_certificate(world: World) -> None:
    client = world.site.logged_in(HOLDER_LOGIN)
    text = main_text(client.get(f"/credentials/{world.token}/certificate").get_data(as_text=True))
    assert "Sam de Vries earned this badge from Rotterdam City of Learning on" in text


# -- private credentials ---------------------------------------------------------------------------


@pytest.fixture
def private_badge(world: World) -> Iterator[str]:
    """A credential its holder made private (the holder logs in as HOLDER_LOGIN)."""
    site = world.site
    with site.service.transaction() as session:
        session.query(CredentialRecord).filter_by(credential_id=world.credential_id).update(
            {"visibility": "private"}
        )
    yield world.token
    with site.service.transaction() as session:
        session.query(CredentialRecord).filter_by(credential_id=world.credential_id).update(
            {"visibility": "public"}
        )


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "its holder has made it private"),
        ("nl", "de houder heeft hem privé gemaakt"),
    ],
)
def test_a_private_badge_is_not_shown_to_the_public(
    world: World, private_badge: str, language: str, message: str
) -> None:
    client = world.site.client(language)
    for path in ("", "/download", "/badge.png", "/certificate"):
        response = client.get(f"/credentials/{private_badge}{path}")
        assert response.status_code == 404, path
        assert message in response.get_data(as_text=True), path
        assert "Stadsfotograaf" not in response.get_data(as_text=True)
    problem = client.get(f"/credentials/{private_badge}", headers={"Accept": "application/json"})
    assert problem.status_code == 404
    assert problem.mimetype == "application/problem+json"
    # an unknown credential gets the same answer, so nobody learns which ones exist
    unknown = client.get("/credentials/00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404 and message in unknown.get_data(as_text=True)


def test_verifying_the_address_of_a_private_badge_shows_nothing_of_it(
    world: World, private_badge: str
) -> None:
    client = world.site.client()
    token = csrf_token(client, "/verify")
    response = client.post("/verify", data={"csrf_token": token, "badge": world.credential_id})
    assert response.status_code == 404
    assert "Stadsfotograaf" not in response.get_data(as_text=True)
    api = client.post("/verify", json={"credential": world.credential_id})
    assert api.status_code == 404


def test_a_private_badge_is_shown_to_its_holder_and_its_issuer(
    world: World, private_badge: str
) -> None:
    holder = world.site.logged_in(HOLDER_LOGIN)
    page = holder.get(f"/credentials/{private_badge}")
    assert page.status_code == 200
    assert "This badge is private: only you and its issuer can see this page." in main_text(
        page.get_data(as_text=True)
    )
    assert page.headers["Cache-Control"] == "private, no-store"
    as_json = holder.get(f"/credentials/{private_badge}", headers={"Accept": "application/json"})
    assert json.loads(as_json.get_data())["id"] == world.credential_id
    assert holder.get(f"/credentials/{private_badge}/badge.png").status_code == 200
    organiser = world.site.logged_in(ORGANISER)
    assert organiser.get(f"/credentials/{private_badge}").status_code == 200
    other_issuer = world.site.logged_in("anne@utrecht.example")
    assert other_issuer.get(f"/credentials/{private_badge}").status_code == 404


def test_evidence_files_only_for_the_holder_and_the_issuer(world: World) -> None:
    site = world.site
    learner = site.service.learners.find_or_create(email="filer@example.org", email_verified=True)
    site.learner_account("filer.login@example.org", "Fenna", learner.public_id)
    evidence = site.service.evidence.submit(
        learner.public_id,
        site.photo_activity,
        file_name="photos.pdf",
        file_data=b"%PDF-1.4 twelve photographs",
    )
    credential_id = site.service.evidence.review(
        evidence.public_id, approve=True, reviewer=ORGANISER
    ).credential_id
    assert credential_id is not None
    path = f"/credentials/{token_of(credential_id)}/evidence/{evidence.public_id}"
    public_page = (
        site.client().get(f"/credentials/{token_of(credential_id)}").get_data(as_text=True)
    )
    assert path not in public_page
    assert site.client().get(path).status_code == 404
    holder = site.logged_in("filer.login@example.org")
    assert f'href="{path}"' in holder.get(f"/credentials/{token_of(credential_id)}").get_data(
        as_text=True
    )
    download = holder.get(path)
    assert download.status_code == 200
    assert download.get_data() == b"%PDF-1.4 twelve photographs"
    assert "attachment" in download.headers["Content-Disposition"]
    assert site.logged_in(ORGANISER).get(path).status_code == 200


# -- achievements -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Micro-credential", "Workload", "12 hours", "On site", "Fotografeer je wijk"]),
        ("nl", ["Microcredential", "Studielast", "12 uur", "Op locatie", "Fotografeer je wijk"]),
    ],
)
def test_achievement_page(world: World, language: str, words: list[str]) -> None:
    site = world.site
    response = site.client(language).get(f"/achievements/{site.photo}")
    page = response.get_data(as_text=True)
    text = main_text(page)
    assert response.status_code == 200
    assert "<h1>Stadsfotograaf</h1>" in page
    assert "<h3>DigComp 2.2</h3>" in page
    for word in words:
        assert word in text, word
    assert f'href="/activities/{site.photo_activity}"' in page
    assert f'href="/playlists/{site.playlist}"' in page
    assert "Accept" in response.headers["Vary"]


@pytest.mark.parametrize("accept", ["application/ld+json", "application/json"])
def test_achievement_as_json_ld_when_asked(world: World, accept: str) -> None:
    site = world.site
    response = site.client().get(f"/achievements/{site.photo}", headers={"Accept": accept})
    assert response.mimetype == accept
    document = json.loads(response.get_data())
    assert document["id"] == f"http://badges.test/achievements/{site.photo}"
    assert document["type"] == ["Achievement"]
    assert document["@context"][:2] == OB3_CONTEXTS
    # the micro-credential elements need the extension context
    assert len(document["@context"]) == 3 and "microCredential" in document
    assert {a["targetCode"] for a in document["alignment"]} >= {
        "digcomp-2.2:3.1",
        "slo-21:creatief-denken-en-handelen",
    }
    assert document == achievement_document(site.service, site.photo)


def test_unknown_achievement_is_a_404(world: World) -> None:
    response = world.site.client("nl").get("/achievements/nothing-here")
    assert response.status_code == 404
    assert "Badge niet gevonden" in response.get_data(as_text=True)


# -- activities ------------------------------------------------------------------------------------


def _listed(page: str) -> list[str]:
    """The titles of the activities in the result list, in order."""
    return re.findall(r'<h3 id="activity-[^"]+"><a href="[^"]+">([^<]+)</a></h3>', page)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["Fotografeer je wijk", "Samen vergroenen", "Wijkwandeling", "Online makersclub"]),
        ({"framework": "digcomp-2.2"}, ["Fotografeer je wijk", "Online makersclub"]),
        ({"framework": "greencomp"}, ["Samen vergroenen"]),
        ({"skill": "entrecomp:1.1"}, ["Wijkwandeling"]),
        ({"city": "Utrecht"}, ["Samen vergroenen"]),
        ({"mode": "online"}, ["Online makersclub"]),
        ({"mode": "offline", "city": "Rotterdam"}, ["Fotografeer je wijk", "Wijkwandeling"]),
        # an undated activity is always open, so it matches every period
        ({"from": "2026-06-01", "to": "2026-06-30"}, ["Samen vergroenen", "Online makersclub"]),
        ({"q": "neighbours"}, ["Samen vergroenen"]),
        ({"q": "Kralingen"}, ["Wijkwandeling"]),
    ],
)
def test_activity_search_filters(world: World, query: dict[str, str], expected: list[str]) -> None:
    response = world.site.client().get("/activities", query_string=query)
    assert response.status_code == 200
    assert _listed(response.get_data(as_text=True)) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-13-01"}, "Enter the first date as a date"),
        ({"from": "2026-06-30", "to": "2026-06-01"}, "The last date is before the first date."),
        ({"skill": "madeup:1"}, "This skill is not in any of the frameworks."),
        ({"mode": "underwater"}, "Choose online, on location or both."),
    ],
)
def test_activity_search_explains_a_filter_it_cannot_use(
    world: World, query: dict[str, str], message: str
) -> None:
    response = world.site.client().get("/activities", query_string=query)
    assert response.status_code == 400
    assert message in main_text(response.get_data(as_text=True))


def test_the_map_plots_the_activities_of_each_city(world: World) -> None:
    site = world.site
    page = site.client().get("/activities").get_data(as_text=True)
    maps = re.findall(r"<svg[^>]*class=\"map\".*?</svg>", page, flags=re.S)
    assert len(maps) == 2  # Rotterdam and Utrecht; the online activity has no place
    rotterdam = next(m for m in maps if "Map of activities in Rotterdam" in m)
    utrecht = next(m for m in maps if "Map of activities in Utrecht" in m)
    assert 'aria-label="1. Fotografeer je wijk (Delfshaven)"' in rotterdam
    assert 'aria-label="3. Wijkwandeling (Kralingen)"' in rotterdam
    assert f'href="/activities/{site.photo_activity}"' in rotterdam
    assert 'aria-label="2. Samen vergroenen (Overvecht)"' in utrecht
    assert "Online makersclub" not in rotterdam + utrecht
    # Kralingen lies east of Delfshaven, and north: further right and higher up
    delfshaven = re.search(
        r'aria-label="1\.[^"]*">\s*<circle cx="([\d.]+)" cy="([\d.]+)"', rotterdam
    )
    kralingen = re.search(
        r'aria-label="3\.[^"]*">\s*<circle cx="([\d.]+)" cy="([\d.]+)"', rotterdam
    )
    assert delfshaven and kralingen
    assert float(kralingen.group(1)) > float(delfshaven.group(1))
    assert float(kralingen.group(2)) < float(delfshaven.group(2))
    # the numbers match the list
    assert '<li value="4">' in page and "Online makersclub" in main_text(page)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Activities", "Skills framework", "On location", "Map of activities in Rotterdam"]),
        (
            "nl",
            [
                "Activiteiten",
                "Vaardighedenraamwerk",
                "Op locatie",
                "Kaart met activiteiten in Rotterdam",
            ],
        ),
    ],
)
def test_activities_page_in_both_languages(world: World, language: str, words: list[str]) -> None:
    page = world.site.client(language).get("/activities").get_data(as_text=True)
    assert f'<html lang="{language}">' in page
    for word in words:
        assert word in page, word


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            [
                "1 May 2026, 10:00 \u2013 12:00",
                "Delfshaven, Rotterdam",
                "You hand in evidence; the organiser reviews it.",
            ],
        ),
        (
            "nl",
            [
                "1 mei 2026, 10:00 \u2013 12:00",
                "Delfshaven, Rotterdam",
                "U levert bewijs in; de organisator beoordeelt het.",
            ],
        ),
    ],
)
def test_activity_page(world: World, language: str, words: list[str]) -> None:
    site = world.site
    response = site.client(language).get(f"/activities/{site.photo_activity}")
    page = response.get_data(as_text=True)
    text = main_text(page)
    assert response.status_code == 200
    assert "<h1>Fotografeer je wijk</h1>" in page
    for word in words:
        assert word in text, word
    assert f'href="/achievements/{site.photo}"' in page
    assert "Developing digital content" in text
    assert 'class="map"' in page
    assert site.client().get("/activities/nothing-here").status_code == 404


# -- playlists -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "rule"),
    [("en", "Complete 2 of the 3 steps."), ("nl", "Rond 2 van de 3 stappen af.")],
)
def test_playlist_page_lists_the_steps_and_the_rule(world: World, language: str, rule: str) -> None:
    site = world.site
    page = site.client(language).get(f"/playlists/{site.playlist}").get_data(as_text=True)
    text = main_text(page)
    assert "<h1>Ontdek Rotterdam</h1>" in page
    assert rule in text
    steps = re.findall(r'<ol class="steps">(.*?)</ol>', page, flags=re.S)[0]
    assert (
        steps.index(f'href="/activities/{site.photo_activity}"')
        < steps.index(f'href="/achievements/{site.walk}"')
        < steps.index(f'href="{EXTERNAL_STEP}"')
    )
    assert f'href="/achievements/{site.pathway}"' in page


def test_playlist_shows_a_learners_progress(world: World) -> None:
    client = world.site.logged_in(HOLDER_LOGIN)
    page = client.get(f"/playlists/{world.site.playlist}").get_data(as_text=True)
    assert "You have done 1 step; 1 more to go." in main_text(page)
    assert page.count('class="step-done"') == 1


# -- issuer and home -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Cities of Learning Quality Label since March 1, 2024", "Badges", "Activities"]),
        ("nl", ["Cities of Learning-kwaliteitslabel sinds 1 maart 2024", "Badges", "Activiteiten"]),
    ],
)
def test_issuer_page_shows_quality_label_achievements_activities_and_playlists(
    world: World, language: str, words: list[str]
) -> None:
    site = world.site
    page = site.client(language).get("/issuers/rotterdam").get_data(as_text=True)
    text = main_text(page)
    for word in words:
        assert word in text, word
    assert f'href="/achievements/{site.photo}"' in page
    assert f'href="/activities/{site.walk_activity}"' in page
    assert f'href="/playlists/{site.playlist}"' in page
    utrecht = site.client().get("/issuers/utrecht").get_data(as_text=True)
    assert "Quality Label" not in main_text(utrecht)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Learn in your city", "Find activities"]),
        ("nl", ["Leren in uw stad", "Activiteiten zoeken"]),
    ],
)
def test_home_leads_to_activities(world: World, language: str, words: list[str]) -> None:
    page = world.site.client(language).get("/").get_data(as_text=True)
    for word in words:
        assert word in main_text(page)
    assert 'href="/activities"' in page
    assert 'href="/me/badges"' not in page
    assert 'href="/me/badges"' in world.site.logged_in(HOLDER_LOGIN).get("/").get_data(as_text=True)


# -- translations ----------------------------------------------------------------------------------

MY_TEMPLATES = (
    "credential.html",
    "certificate.html",
    "issuer.html",
    "home.html",
    "achievement.html",
    "activities.html",
    "activity.html",
    "playlist.html",
    "_activity_card.html",
    "_activity_map.html",
    "_activity_when_where.html",
    "_quality_label.html",
    "_skills.html",
    "learner/badges.html",
    "learner/delete.html",
    "learner/no_badges.html",
)
MY_MODULES = ("web.py", "catalogue_pages.py", "learner.py", "credential_display.py")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}


def _catalogue() -> dict[str, object]:
    with PO_FILE.open("rb") as handle:
        return {
            (m.id if isinstance(m.id, str) else m.id[0]): m.string
            for m in read_po(handle, locale="nl")
            if m.id
        }


def test_every_string_of_these_pages_has_a_dutch_translation() -> None:
    files = [TEMPLATES / name for name in MY_TEMPLATES]
    files += [REPO / "lti_tool" / name for name in MY_MODULES]
    strings: set[str] = set()
    for path in files:
        method = "jinja2" if path.suffix == ".html" else "python"
        for _line, message, _comments, _context in extract_from_file(
            method, str(path), keywords=KEYWORDS
        ):
            strings.add(message if isinstance(message, str) else message[0])
    catalogue = _catalogue()
    assert len(strings) > 150
    assert sorted(strings - set(catalogue)) == []
    assert [s for s in strings if not catalogue[s]] == []


def test_dutch_pages_show_no_english_interface_text(world: World) -> None:
    site = world.site
    catalogue = _catalogue()
    english_only = [
        msgid
        for msgid, translation in catalogue.items()
        if "%" not in msgid
        and "<" not in msgid
        and len(msgid.split()) >= 2
        and translation != msgid
    ]
    holder = site.logged_in(HOLDER_LOGIN, "nl")
    anonymous = site.client("nl")
    pages = {
        path: anonymous.get(path).get_data(as_text=True)
        for path in (
            "/",
            f"/credentials/{world.token}",
            f"/credentials/{world.token}/certificate",
            f"/achievements/{site.photo}",
            "/activities",
            "/activities?from=nonsense",
            f"/activities/{site.photo_activity}",
            f"/playlists/{site.playlist}",
            "/issuers/rotterdam",
            "/credentials/unknown",
        )
    }
    for path in ("/me/badges", "/me/delete", f"/playlists/{site.playlist}"):
        pages[f"{path} (holder)"] = holder.get(path).get_data(as_text=True)
    for path, page in pages.items():
        assert '<html lang="nl">' in page, path
        # The verification report's checks are worded by core, in English (see _report.html).
        page = re.sub(r'<ol class="checks">.*?</ol>', "", page, flags=re.S)
        text = visible_text(page)
        leftovers = [msgid for msgid in english_only if msgid in text]
        assert leftovers == [], f"{path} shows English: {leftovers}"
