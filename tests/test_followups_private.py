"""A badge its holder keeps private is not found by its address anywhere: not on its public
page, not through the VC-API, not on the verify page; the credential itself, handed over by
whoever holds it, still verifies (issue 3 follow-ups)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.badge_site import BadgeSite, build_site, token_of
from tests.organiser_site import PASSWORD, csrf_token, log_in

UNKNOWN_TOKEN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BadgeSite]:
    built = build_site(tmp_path_factory.mktemp("private"))
    yield built
    built.service.engine.dispose()


@dataclass
class PrivateBadge:
    learner_public_id: str
    credential_id: str
    login: str

    @property
    def token(self) -> str:
        return token_of(self.credential_id)


_count = 0


@pytest.fixture
def badge(site: BadgeSite) -> PrivateBadge:
    """A badge its holder has just made private (a new one for each test)."""
    global _count
    _count += 1
    public_id, credential_id = site.learner_with_badge(f"p{_count}@example.org", f"Pim {_count}")
    login = f"pim{_count}@login.example"
    site.learner_account(login, f"Pim {_count}", public_id)
    site.service.learner_badges.set_visibility(public_id, credential_id, "private")
    return PrivateBadge(public_id, credential_id, login)


def _vc_verify(site: BadgeSite, credential: object) -> dict[str, object]:
    response = site.client().post("/credentials/verify", json={"verifiableCredential": credential})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict)
    return body


def test_core_treats_a_private_address_as_not_found(site: BadgeSite, badge: PrivateBadge) -> None:
    service = site.service
    report = service.verify(badge.credential_id)
    assert not report.valid
    assert report.credential is None  # nothing of the badge is in the report
    unknown = service.verify(service.credential_url(UNKNOWN_TOKEN))
    assert [c.message.replace(UNKNOWN_TOKEN, badge.token) for c in unknown.checks] == [
        c.message for c in report.checks
    ]  # private and unknown look the same
    # The credential itself, handed over by its holder, verifies whatever its setting.
    assert service.verify(service.get_credential(badge.credential_id).text).valid
    service.learner_badges.set_visibility(badge.learner_public_id, badge.credential_id, "public")
    assert service.verify(badge.credential_id).valid


def test_the_public_page_of_a_private_badge_is_not_found(
    site: BadgeSite, badge: PrivateBadge
) -> None:
    page = site.client().get(f"/credentials/{badge.token}")
    assert page.status_code == 404
    assert "Stadsfotograaf" not in page.get_data(as_text=True)


def test_the_vc_api_does_not_verify_a_private_badge_by_its_address(
    site: BadgeSite, badge: PrivateBadge
) -> None:
    by_address = _vc_verify(site, badge.credential_id)
    assert by_address["verified"] is False
    assert by_address["credential"] is None
    assert "Stadsfotograaf" not in str(by_address)
    errors = by_address["errors"]
    assert isinstance(errors, list) and "No badge is shared at" in errors[0]
    unknown = _vc_verify(site, site.service.credential_url(UNKNOWN_TOKEN))
    unknown_text = json.dumps(unknown).replace(UNKNOWN_TOKEN, badge.token)
    assert json.loads(unknown_text) == by_address  # private and unknown look the same
    # The holder hands over the credential itself: it verifies.
    document = site.service.get_credential(badge.credential_id).text
    assert _vc_verify(site, json.loads(document))["verified"] is True


def test_the_verify_page_does_not_verify_a_private_badge_by_its_address(
    site: BadgeSite, badge: PrivateBadge
) -> None:
    public = site.client()
    token = csrf_token(public, "/verify")
    response = public.post("/verify", data={"csrf_token": token, "badge": badge.credential_id})
    assert response.status_code == 404
    assert "Stadsfotograaf" not in response.get_data(as_text=True)
    # Even its holder, logged in, verifies it by handing it over, not by its address.
    holder = site.client()
    log_in(holder, badge.login, PASSWORD)
    token = csrf_token(holder, "/verify")
    page = holder.post("/verify", data={"csrf_token": token, "badge": badge.credential_id})
    text = page.get_data(as_text=True)
    assert "Not valid" in text and "Stadsfotograaf" not in text
    document = site.service.get_credential(badge.credential_id).text
    pasted = holder.post("/verify", data={"csrf_token": token, "badge": document})
    assert "This badge passed every check." in pasted.get_data(as_text=True)
