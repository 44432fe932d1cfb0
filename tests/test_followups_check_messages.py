"""The sentences of the verification checks follow the page's language: core names each
sentence by a message id with its params, the pages say it by id; the APIs stay English
(issue 3 follow-ups)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from babel.messages.pofile import read_po

from core.report import Check, CheckStatus, VerificationReport
from core.service import BadgeService
from core.verification import CHECK_MESSAGES
from lti_tool.presentation import CHECK_MESSAGE_TEXTS, check_message
from tests.organiser_site import OrganiserSite, build_site
from tests.test_check_titles import ACHIEVEMENT, PO_FILE

_CHECK_MESSAGE = re.compile(r'<span class="check-message">([^<]*)</span>')


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrganiserSite]:
    built = build_site(tmp_path_factory.mktemp("check-messages"))
    yield built
    built.service.engine.dispose()


def _messages(page: str) -> list[str]:
    return [html.unescape(m) for m in _CHECK_MESSAGE.findall(page)]


def _assert_ids_say_the_message(report: VerificationReport) -> None:
    for check in report.checks:
        if check.message_id is not None:
            assert CHECK_MESSAGES[check.message_id] % check.params == check.message


def test_the_pages_mark_the_same_sentences_as_core() -> None:
    assert dict(CHECK_MESSAGES) == CHECK_MESSAGE_TEXTS


def test_every_check_sentence_has_a_dutch_translation() -> None:
    with PO_FILE.open("rb") as handle:
        dutch = {m.id: m.string for m in read_po(handle) if isinstance(m.id, str) and m.string}
    missing = [text for text in CHECK_MESSAGES.values() if text not in dutch]
    assert missing == []
    assert [text for text in CHECK_MESSAGES.values() if dutch[text] == text] == []


@pytest.mark.parametrize("proof_format", ["rdfc", "jcs", "jwt"])
def test_core_names_each_sentence_it_writes(
    sqlite_service: BadgeService, proof_format: str
) -> None:
    service = sqlite_service
    service.create_issuer("ids", "Ids City of Learning", proof_format=proof_format)
    valid = service.issue("ids", ACHIEVEMENT, "sam@example.org")
    for recipient in (None, "sam@example.org", "kim@example.org"):
        report = service.verify(valid.text, recipient=recipient)
        _assert_ids_say_the_message(report)
        named = [c.id for c in report.checks if c.message_id is not None]
        # every check of a credential issued here is said by id
        assert named == [c.id for c in report.checks], report.as_dict()["checks"]
    service.revoke(valid.credential_id)
    revoked = service.verify(valid.text)
    _assert_ids_say_the_message(revoked)
    status = revoked.check("status")
    assert status is not None and status.message_id == "status.revoked"
    not_shared = service.verify(service.credential_url("no-such-badge"))
    _assert_ids_say_the_message(not_shared)
    assert not_shared.checks[0].message_id == "input.not_shared"


def test_a_sentence_without_an_id_stays_in_core_english() -> None:
    free = Check("proof", "Signature", CheckStatus.FAIL, "The proof's purpose is odd.")
    assert check_message(free) == "The proof's purpose is odd."
    wrong_params = Check("validity", "Validity", CheckStatus.PASS, "Valid.", "validity.ok", {})
    assert check_message(wrong_params) == "Valid."


@pytest.mark.parametrize("proof_format", ["rdfc", "jwt"])
def test_a_dutch_credential_page_says_every_check_in_dutch(
    site: OrganiserSite, proof_format: str
) -> None:
    service = site.service
    slug = f"zinnen-{proof_format}"
    service.create_issuer(slug, "Zinnen City of Learning", proof_format=proof_format)
    issued = service.issue(slug, ACHIEVEMENT, "sam@example.org")
    path = issued.credential_id.removeprefix(service.settings.base_url)
    report = service.verify(issued.text)
    assert report.valid

    english = _messages(site.client("en").get(path).get_data(as_text=True))
    assert english == [c.message for c in report.checks]  # English pages: core's words
    dutch = _messages(site.client("nl").get(path).get_data(as_text=True))
    assert len(dutch) == len(report.checks) > 3
    assert [d for d, e in zip(dutch, english, strict=True) if d == e] == []
    assert "Voldoet aan het JSON-schema van Open Badges 3.0." in dutch
    assert any(m.startswith("Niet ingetrokken (Bitstring Status List ") for m in dutch)
    assert "Geen ontvanger opgegeven om mee te vergelijken." in dutch

    service.revoke(issued.credential_id)
    revoked = _messages(site.client("nl").get(path).get_data(as_text=True))
    status = next(m for m in revoked if "ingetrokken" in m)
    assert status.startswith("De uitgever heeft deze credential ingetrokken (Bitstring Status")
    assert not [m for m in revoked if m.startswith("The issuer has revoked")]


def test_the_apis_keep_the_english_sentences(site: OrganiserSite) -> None:
    service = site.service
    service.create_issuer("api-zinnen", "API City of Learning")
    issued = service.issue("api-zinnen", ACHIEVEMENT, "sam@example.org")
    client = site.client("nl")
    body = client.post("/credentials/verify", json={"verifiableCredential": issued.text})
    checks = body.get_json()["report"]["checks"]
    assert [c["message"] for c in checks] == [c.message for c in service.verify(issued.text).checks]
    assert "Matches the Open Badges 3.0 JSON Schema." in [c["message"] for c in checks]
