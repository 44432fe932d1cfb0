"""The titles of the verification checks on the pages follow the page's language (core words
them in English); a check the pages do not know keeps core's title."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from core.ob2_verification import _TITLES as OB2_TITLES
from core.report import Check, CheckStatus
from lti_tool.presentation import CHECK_TITLE_VARIANTS, CHECK_TITLES, check_title
from tests.organiser_site import OrganiserSite, build_site

PO_FILE = Path(__file__).resolve().parents[1] / "lti_tool/translations/nl/LC_MESSAGES/messages.po"
ACHIEVEMENT = {
    "type": ["Achievement"],
    "name": "Stadsnatuur Onderzoeker",
    "description": "Mapped the wildlife of a city park.",
    "criteria": {"narrative": "Four visits."},
}
_CHECK_TITLE = re.compile(r'<span class="check-title">([^<]*)</span>')


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrganiserSite]:
    built = build_site(tmp_path_factory.mktemp("check-titles"))
    yield built
    built.service.engine.dispose()


def _dutch() -> dict[str, str]:
    with PO_FILE.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if isinstance(m.id, str) and m.string}


def test_every_check_title_has_a_dutch_translation() -> None:
    dutch = _dutch()
    titles = [*CHECK_TITLES.values(), *CHECK_TITLE_VARIANTS.values()]
    missing = [str(t) for t in titles if str(t) not in dutch]
    assert missing == []
    same = [str(t) for t in titles if dutch[str(t)] == str(t)]
    assert same == []


def test_every_open_badges_2_check_has_a_title() -> None:
    assert sorted(set(OB2_TITLES) - set(CHECK_TITLES)) == []


def test_an_unknown_check_keeps_the_title_core_gave_it() -> None:
    unknown = Check("future-check", "A check added later", CheckStatus.PASS, "Fine.")
    assert check_title(unknown) == "A check added later"
    jwt_proof = Check("proof", "Signature (VC-JWT)", CheckStatus.PASS, "Fine.")
    assert check_title(jwt_proof) == "Signature (VC-JWT)"
    other_proof = Check("proof", "Some other signature", CheckStatus.PASS, "Fine.")
    assert check_title(other_proof) == "Signature"


@pytest.mark.parametrize("proof_format", ["rdfc", "jwt"])
def test_a_dutch_credential_page_titles_every_check_in_dutch(
    site: OrganiserSite, proof_format: str
) -> None:
    service = site.service
    slug = f"titels-{proof_format}"
    service.create_issuer(slug, "Titels City of Learning", proof_format=proof_format)
    issued = service.issue(slug, ACHIEVEMENT, "sam@example.org")
    report = service.verify(issued.text)
    assert report.valid
    path = issued.credential_id.removeprefix(service.settings.base_url)

    dutch_page = site.client("nl").get(path).get_data(as_text=True)
    english_page = site.client("en").get(path).get_data(as_text=True)
    dutch_titles = _CHECK_TITLE.findall(dutch_page)
    english_titles = _CHECK_TITLE.findall(english_page)
    assert len(dutch_titles) == len(english_titles) == len(report.checks) > 3
    assert "Geldigheidsperiode" in dutch_titles and "Validity period" in english_titles
    assert "Sleutel hoort bij de uitgever" in dutch_titles
    signature = (
        "Handtekening (VC-JWT)" if proof_format == "jwt" else "Handtekening (Data Integrity-bewijs)"
    )
    assert signature in dutch_titles
    # Every title differs from the English one: none was left untranslated.
    assert [d for d, e in zip(dutch_titles, english_titles, strict=True) if d == e] == []
