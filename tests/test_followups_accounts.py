"""Learner accounts: an administrator makes one, the learner logs in to "my badges", lands there
by role, and the navigation shows what each role has (issue 3 follow-ups)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.accounts import LEARNER_ROLE, ROLES
from core.demo import DEMO_PASSWORD_FILE, seed_demo
from core.errors import InvalidInput
from core.service import BadgeService
from tests.badge_site import ORGANISER, BadgeSite, build_site
from tests.organiser_site import PASSWORD, csrf_token, log_in, visible_text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BadgeSite]:
    built = build_site(tmp_path_factory.mktemp("learner-accounts"))
    yield built
    built.service.engine.dispose()


def _nav(page: str) -> list[str]:
    match = re.search(r'<nav aria-label="(?:Main|Hoofdmenu)">(.*?)</nav>', page, flags=re.S)
    assert match, page[:2000]
    return [visible_text(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


# -- core ----------------------------------------------------------------------------------------


def test_a_learner_account_is_linked_to_the_learner_holding_its_address(
    service: BadgeService,
) -> None:
    assert LEARNER_ROLE in ROLES
    learner = service.learners.find_or_create(
        email="kim@example.org", email_verified=True, display_name="Kim"
    )
    account = service.accounts.create_learner_account("Kim@Example.org", "Kim Bos", PASSWORD)
    assert (account.role, account.email, account.issuer_slug) == (
        "learner",
        "kim@example.org",
        None,
    )
    assert account.is_learner and account.earns_badges and not account.is_admin
    assert service.learner_badges.learner_of_account(account.id) == learner.public_id
    assert service.accounts.authenticate("kim@example.org", PASSWORD) == account
    with pytest.raises(InvalidInput, match="already an account"):
        service.accounts.create_learner_account("kim@example.org", "Kim", PASSWORD)


def test_a_learner_account_for_a_new_address_makes_the_learner(service: BadgeService) -> None:
    account = service.accounts.create_user("new@example.org", "Nieuw", PASSWORD, "learner")
    learner_id = service.learner_badges.learner_of_account(account.id)
    assert learner_id is not None
    found = service.learners.find(email="new@example.org")
    assert found is not None and found.public_id == learner_id


def test_a_learner_account_acts_for_no_issuer_and_needs_a_password(service: BadgeService) -> None:
    service.create_issuer("utrecht", "Utrecht City of Learning")
    with pytest.raises(InvalidInput, match="no issuer"):
        service.accounts.create_user("a@example.org", "A", PASSWORD, "learner", "utrecht")
    with pytest.raises(InvalidInput, match="needs a password"):
        service.accounts.create_user("a@example.org", "A", None, "learner")
    assert service.accounts.find_user("a@example.org") is None
    assert service.learners.find(email="a@example.org") is None  # nothing half-written


def test_an_account_made_a_learner_is_linked_to_the_learner_of_its_address(
    service: BadgeService,
) -> None:
    service.create_issuer("utrecht", "Utrecht City of Learning")
    learner = service.learners.find_or_create(email="lex@example.org", email_verified=True)
    account = service.accounts.create_user(
        "lex@example.org", "Lex", PASSWORD, "reviewer", "utrecht"
    )
    assert not account.earns_badges
    changed = service.accounts.update_user(account.id, name="Lex", role="learner", issuer_slug=None)
    assert (changed.role, changed.issuer_slug, changed.earns_badges) == ("learner", None, True)
    assert service.learner_badges.learner_of_account(account.id) == learner.public_id


# -- landing and navigation ----------------------------------------------------------------------


def test_a_learner_lands_on_my_badges_and_sees_them_in_the_navigation(site: BadgeSite) -> None:
    public_id, _credential = site.learner_with_badge("ruben@example.org", "Ruben")
    site.service.accounts.create_learner_account(
        "ruben@login.example", "Ruben", PASSWORD, learner_public_id=public_id
    )
    client = site.client("nl")
    response = log_in(client, "ruben@login.example", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/me/badges"
    page = client.get("/me/badges").get_data(as_text=True)
    assert _nav(page) == ["Start", "Badge controleren", "Activiteiten", "Mijn badges"]
    assert "Stadsfotograaf" in page
    # The organisers' dashboard is no page for a learner: they are sent to their badges.
    dashboard = client.get("/admin/")
    assert (dashboard.status_code, dashboard.headers["Location"]) == (302, "/me/badges")
    # Already logged in, the log-in page sends them on to their badges too.
    assert client.get("/login").headers["Location"] == "/me/badges"


def test_organisers_land_on_the_dashboard_and_everyone_sees_activities(site: BadgeSite) -> None:
    client = site.client()
    response = log_in(client, ORGANISER, PASSWORD)
    assert response.headers["Location"] == "/admin/"
    organiser_nav = _nav(client.get("/admin/").get_data(as_text=True))
    assert organiser_nav == ["Home", "Verify a badge", "Activities", "Dashboard"]
    public_nav = _nav(site.client().get("/").get_data(as_text=True))
    assert public_nav == ["Home", "Verify a badge", "Activities"]


def test_an_administrator_creates_a_learner_account_that_logs_in(site: BadgeSite) -> None:
    site.service.accounts.create_user("beheer@example.org", "Beheer", PASSWORD, "admin")
    public_id, _credential = site.learner_with_badge("yara@example.org", "Yara")
    admin = site.logged_in("beheer@example.org")
    form = admin.get("/admin/users/new").get_data(as_text=True)
    assert 'value="learner"' in form
    response = admin.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf_token(admin, "/admin/users/new"),
            "email": "yara@example.org",
            "name": "Yara",
            "role": "learner",
            "issuer": "",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    learner = site.client()
    assert log_in(learner, "yara@example.org", PASSWORD).headers["Location"] == "/me/badges"
    page = learner.get("/me/badges").get_data(as_text=True)
    assert "Stadsfotograaf" in page  # the badge the learner earned before the account existed
    account = site.service.accounts.find_user("yara@example.org")
    assert account is not None
    assert site.service.learner_badges.learner_of_account(account.id) == public_id


# -- the demo --------------------------------------------------------------------------------------


def test_the_demo_seeds_a_learner_account_listed_with_its_password(tmp_path: Path) -> None:
    from tests.conftest import make_settings

    service = BadgeService(make_settings(tmp_path))
    try:
        service.upgrade()
        assert seed_demo(service, only_if_empty=True)
        listed = (service.settings.data_dir / DEMO_PASSWORD_FILE).read_text()
        line = next(line for line in listed.splitlines() if line.startswith("learner "))
        _role, email, password = line.split()
        account = service.accounts.authenticate(email, password)
        assert account is not None and account.role == "learner"
        learner = service.learner_badges.learner_of_account(account.id)
        assert learner is not None
        names = {b.achievement_name for b in service.learner_badges.credentials_of(learner)}
        assert len(names) >= 2  # the demo learner has badges to look at
    finally:
        service.engine.dispose()
