"""A site with two issuers and their people, for the tests of the organiser pages, log-in and
languages (Flask test client)."""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.security import generate_password_hash

from core.config import Settings
from core.keys import new_key_encryption_key
from core.service import BadgeService
from core.storage import UserRecord
from lti_tool.app import create_app

BASE_URL = "http://badges.test"
PASSWORD = "vier losse woorden hier"
ADMIN = "beheer@citiesoflearning.example"
UTRECHT_ORGANISER = "anne@utrecht.example"
UTRECHT_REVIEWER = "bram@utrecht.example"
ROTTERDAM_ORGANISER = "chris@rotterdam.example"


def site_settings(folder: Path, database_url: str | None = None) -> Settings:
    """Settings for a test site in ``folder``."""
    return Settings(
        data_dir=folder,
        database_url=database_url or f"sqlite:///{folder / 'site.db'}",
        base_url=BASE_URL,
        key_encryption_key=new_key_encryption_key(),
        allow_private_fetch=False,
        fetch_timeout_seconds=5.0,
    )


@dataclass
class OrganiserSite:
    """The app, its service, and who works there."""

    app: Flask
    service: BadgeService

    def client(self, language: str = "en", address: str = "192.0.2.10") -> FlaskClient:
        """A browser preferring ``language``, connecting from ``address``."""
        client = self.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        client.environ_base["REMOTE_ADDR"] = address
        return client

    def logged_in(self, email: str, language: str = "en") -> FlaskClient:
        """A browser where ``email`` has logged in."""
        client = self.client(language)
        response = log_in(client, email, PASSWORD)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client


_template: tuple[Path, Settings] | None = None
_password_hash: str | None = None


def _people(service: BadgeService) -> None:
    """The accounts, all with :data:`PASSWORD` (hashed once per test run: scrypt is slow on
    purpose)."""
    global _password_hash
    if _password_hash is None:
        _password_hash = generate_password_hash(PASSWORD, method="scrypt")
    accounts = service.accounts
    accounts.create_user(ADMIN, "Dana Beheer", None, "admin")
    accounts.create_user(UTRECHT_ORGANISER, "Anne Jansen", None, "organiser", "utrecht")
    accounts.create_user(UTRECHT_REVIEWER, "Bram de Vries", None, "reviewer", "utrecht")
    accounts.create_user(ROTTERDAM_ORGANISER, "Chris Bakker", None, "organiser", "rotterdam")
    with service.transaction() as session:
        session.execute(update(UserRecord).values(password_hash=_password_hash))


def _populate(service: BadgeService) -> None:
    service.create_issuer("utrecht", "Utrecht City of Learning", url="https://utrecht.example")
    service.create_issuer("rotterdam", "Rotterdam City of Learning")
    _people(service)


def build_site(folder: Path, database_url: str | None = None) -> OrganiserSite:
    """Utrecht and Rotterdam, an administrator, an organiser of each, a reviewer of Utrecht.

    On SQLite the first site is built once and copied for every later one (signing keys and
    password hashes take a while to make)."""
    global _template
    if database_url is not None:
        service = BadgeService(site_settings(folder, database_url))
        app = create_app(service=service)
        _populate(service)
        return OrganiserSite(app, service)
    if _template is None:
        template_folder = Path(tempfile.mkdtemp(prefix="badgebridge-organiser-site-"))
        atexit.register(shutil.rmtree, template_folder, ignore_errors=True)
        template_settings = site_settings(template_folder)
        template_service = BadgeService(template_settings)
        template_service.upgrade()
        _populate(template_service)
        template_service.engine.dispose()
        _template = (template_folder, template_settings)
    template_folder, template_settings = _template
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template_folder / "site.db", folder / "site.db")
    settings = replace(
        template_settings, data_dir=folder, database_url=f"sqlite:///{folder / 'site.db'}"
    )
    service = BadgeService(settings)
    return OrganiserSite(create_app(service=service), service)


_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of ``client``'s session, read from a form page."""
    page = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, f"no form on {path}"
    return match.group(1)


def log_in(client: FlaskClient, email: str, password: str, **extra: str):  # type: ignore[no-untyped-def]
    """Send the log-in form."""
    data = {"csrf_token": csrf_token(client), "email": email, "password": password, **extra}
    return client.post("/login", data=data)


def post_form(
    client: FlaskClient, path: str, data: dict[str, str], *, form_page: str | None = None
):  # type: ignore[no-untyped-def]
    """Post ``data`` to ``path`` with the session's CSRF token."""
    token = csrf_token(client, form_page or path)
    return client.post(path, data={"csrf_token": token, **data})


def visible_text(page: str) -> str:
    """The words a person reads (and hears: labels of landmarks), without markup."""
    labels = " ".join(re.findall(r'aria-label="([^"]*)"', page))
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", f"{body} {labels}").strip()
