"""Accounts and logging in: password rules and hashing, the log-in and log-out pages, session
handling, throttling, roles, the CLI, and OpenID Connect against a local identity provider."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from core.accounts import (
    LOGIN_FAILURE_LIMIT,
    Accounts,
    WeakPassword,
    check_password_strength,
)
from core.errors import InvalidInput
from lti_tool.app import create_app
from tests.organiser_site import (
    ADMIN,
    PASSWORD,
    UTRECHT_ORGANISER,
    UTRECHT_REVIEWER,
    OrganiserSite,
    build_site,
    csrf_token,
    log_in,
    post_form,
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[OrganiserSite]:
    built = build_site(tmp_path)
    yield built
    built.service.engine.dispose()


# -- passwords ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("kort", "too_short"),
        ("elf tekens!", "too_short"),
        ("password1234", "common"),
        ("Wachtwoord2024!", "common"),
        ("aaaaaaaaaaaaaaaa", "common"),
        ("123456789012345", "common"),
        ("x" * 1025, "too_long"),
        ("anne.jansen-geheim-2025", "personal"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_password_strength(password, email="anne.jansen@utrecht.example")
    assert refused.value.reason == reason
    assert isinstance(refused.value, InvalidInput)


def test_passwords_are_stored_as_scrypt_hashes(site: OrganiserSite) -> None:
    from sqlalchemy import select

    from core.storage import UserRecord

    with site.service.sessions() as session:
        stored = session.scalar(select(UserRecord.password_hash).where(UserRecord.email == ADMIN))
    assert stored is not None and stored.startswith("scrypt:32768:8:1$")
    assert PASSWORD not in stored


def test_authenticate_accepts_the_password_only(site: OrganiserSite) -> None:
    accounts = site.service.accounts
    user = accounts.authenticate(" Anne@Utrecht.example ", PASSWORD)
    assert user is not None and user.email == UTRECHT_ORGANISER
    assert user.role == "organiser" and user.issuer_slug == "utrecht"
    assert accounts.authenticate(UTRECHT_ORGANISER, PASSWORD + "x") is None
    assert accounts.authenticate("nobody@example.org", PASSWORD) is None


def test_unknown_addresses_cost_a_password_check_too(
    site: OrganiserSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So the time taken does not reveal which addresses have accounts."""
    import core.accounts

    checked: list[str] = []
    real = core.accounts.check_password_hash

    def counting(stored: str, password: str) -> bool:
        checked.append(stored.split("$", 1)[0])
        return real(stored, password)

    monkeypatch.setattr(core.accounts, "check_password_hash", counting)
    assert site.service.accounts.authenticate("nobody@example.org", PASSWORD) is None
    assert site.service.accounts.authenticate(UTRECHT_ORGANISER, "wrong password!") is None
    assert checked == ["scrypt:32768:8:1", "scrypt:32768:8:1"]


def test_old_hash_parameters_are_upgraded_at_log_in(site: OrganiserSite) -> None:
    from sqlalchemy import update
    from werkzeug.security import generate_password_hash

    from core.storage import UserRecord

    with site.service.transaction() as session:
        session.execute(
            update(UserRecord)
            .where(UserRecord.email == UTRECHT_REVIEWER)
            .values(password_hash=generate_password_hash(PASSWORD, method="scrypt:16384:8:1"))
        )
    assert site.service.accounts.authenticate(UTRECHT_REVIEWER, PASSWORD) is not None
    from sqlalchemy import select

    with site.service.sessions() as session:
        stored = session.scalar(
            select(UserRecord.password_hash).where(UserRecord.email == UTRECHT_REVIEWER)
        )
    assert stored is not None and stored.startswith("scrypt:32768:8:1$")


def test_accounts_refuse_bad_input(site: OrganiserSite) -> None:
    accounts = site.service.accounts
    with pytest.raises(InvalidInput, match="already an account"):
        accounts.create_user(ADMIN, "Again", PASSWORD, "admin")
    with pytest.raises(InvalidInput, match="act for one issuer"):
        accounts.create_user("new@example.org", "New", PASSWORD, "organiser")
    with pytest.raises(InvalidInput, match="Unknown role"):
        accounts.create_user("new@example.org", "New", PASSWORD, "owner", "utrecht")
    with pytest.raises(InvalidInput, match="every issuer"):
        accounts.create_user("new@example.org", "New", PASSWORD, "admin", "utrecht")
    with pytest.raises(InvalidInput, match="not an email address"):
        accounts.create_user("not-an-address", "New", PASSWORD, "admin")


# -- logging in and out -----------------------------------------------------------------------------


def test_logging_in_starts_a_new_session_and_lands_on_the_dashboard(site: OrganiserSite) -> None:
    client = site.client()
    before = csrf_token(client)
    cookie_before = client.get_cookie("session")
    response = log_in(client, UTRECHT_ORGANISER, PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "You are logged in as Anne Jansen." in dashboard
    assert '<h2 id="issuer-utrecht">' in dashboard
    after = csrf_token(client, "/admin/account/password")
    assert after != before  # the session from before the log-in is gone
    assert cookie_before is not None
    stranger = site.client()
    stranger.set_cookie("session", cookie_before.value)
    assert stranger.get("/admin/").status_code == 302  # the old cookie is not logged in


def test_wrong_password_shows_an_error_linked_to_the_field(site: OrganiserSite) -> None:
    client = site.client()
    response = log_in(client, UTRECHT_ORGANISER, "not the password")
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert '<div class="error-summary" role="alert"' in page
    assert '<a href="#email">The email address or the password is not right.</a>' in page
    assert 'aria-describedby="email-error" aria-invalid="true"' in page
    assert 'value="anne@utrecht.example"' in page
    assert client.get("/admin/").status_code == 302


def test_empty_fields_are_named_in_the_error_summary(site: OrganiserSite) -> None:
    client = site.client("nl")
    page = log_in(client, "", "").get_data(as_text=True)
    assert '<a href="#email">Vul uw e-mailadres in.</a>' in page
    assert '<a href="#password">Vul uw wachtwoord in.</a>' in page


def test_pages_need_a_log_in_and_come_back_after_it(site: OrganiserSite) -> None:
    client = site.client()
    response = client.get("/admin/issuers/utrecht/keys")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/admin/issuers/utrecht/keys"
    back = log_in(client, UTRECHT_ORGANISER, PASSWORD, next="/admin/issuers/utrecht/keys")
    assert back.headers["Location"] == "/admin/issuers/utrecht/keys"


def test_log_in_never_sends_people_to_another_site(site: OrganiserSite) -> None:
    client = site.client()
    response = log_in(client, UTRECHT_ORGANISER, PASSWORD, next="https://evil.example/")
    assert response.headers["Location"] == "/admin/"


def test_log_in_needs_the_form_token(site: OrganiserSite) -> None:
    client = site.client()
    response = client.post("/login", data={"email": UTRECHT_ORGANISER, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_log_out_is_a_post_with_the_form_token(site: OrganiserSite) -> None:
    client = site.logged_in(UTRECHT_ORGANISER)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/admin/").status_code == 200
    response = post_form(client, "/logout", {}, form_page="/")
    assert response.status_code == 303
    assert "You are logged out." in client.get("/").get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_changing_the_password_ends_other_sessions(site: OrganiserSite) -> None:
    laptop = site.logged_in(UTRECHT_ORGANISER)
    phone = site.logged_in(UTRECHT_ORGANISER)
    response = post_form(
        laptop,
        "/admin/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "een heel nieuw wachtwoord",
            "new_password_again": "een heel nieuw wachtwoord",
        },
    )
    assert response.status_code == 303
    assert laptop.get("/admin/").status_code == 200
    assert phone.get("/admin/").status_code == 302
    assert site.service.accounts.authenticate(UTRECHT_ORGANISER, "een heel nieuw wachtwoord")


def test_a_weak_new_password_is_refused_on_the_page(site: OrganiserSite) -> None:
    client = site.logged_in(UTRECHT_ORGANISER, "nl")
    response = post_form(
        client,
        "/admin/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "welkom123456",
            "new_password_again": "welkom123456",
        },
    )
    assert response.status_code == 400
    assert "Dit wachtwoord is een van de meest gebruikte; kies een ander." in response.get_data(
        as_text=True
    )


def test_sessions_end_after_their_lifetime(site: OrganiserSite) -> None:
    from lti_tool.auth import SESSION_LIFETIME, SESSION_LOGIN_AT

    client = site.logged_in(UTRECHT_ORGANISER)
    with client.session_transaction() as session:
        session[SESSION_LOGIN_AT] = int(time.time() - SESSION_LIFETIME.total_seconds() - 1)
    assert client.get("/admin/").status_code == 302


# -- throttling ---------------------------------------------------------------------------------------


def test_repeated_failures_block_that_account_from_that_address(site: OrganiserSite) -> None:
    attacker = site.client(address="198.51.100.7")
    for _attempt in range(LOGIN_FAILURE_LIMIT - 1):
        assert log_in(attacker, UTRECHT_ORGANISER, "guess guess guess").status_code == 401
    blocked = log_in(attacker, UTRECHT_ORGANISER, "guess guess guess")
    assert blocked.status_code == 429
    assert "Too many failed attempts to log in. Try again in 15 minutes." in blocked.get_data(
        as_text=True
    )
    # Even the right password is refused from there now...
    assert log_in(attacker, UTRECHT_ORGANISER, PASSWORD).status_code == 429
    # ...but the owner logs in from elsewhere, and other accounts are not affected.
    assert (
        log_in(site.client(address="203.0.113.5"), UTRECHT_ORGANISER, PASSWORD).status_code == 302
    )
    assert log_in(attacker, ADMIN, PASSWORD).status_code == 302


def test_a_block_ends_when_the_window_has_passed(site: OrganiserSite) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from core.accounts import LOGIN_WINDOW
    from core.storage import LoginThrottleRecord, utcnow

    accounts: Accounts = site.service.accounts
    for _attempt in range(LOGIN_FAILURE_LIMIT):
        accounts.record_login_failure(UTRECHT_ORGANISER, "198.51.100.8")
    assert accounts.login_blocked(UTRECHT_ORGANISER, "198.51.100.8") is not None
    with site.service.transaction() as session:
        session.execute(
            update(LoginThrottleRecord).values(
                blocked_until=utcnow() - timedelta(seconds=1),
                window_started_at=utcnow() - LOGIN_WINDOW - timedelta(seconds=1),
            )
        )
    assert accounts.login_blocked(UTRECHT_ORGANISER, "198.51.100.8") is None
    assert accounts.record_login_failure(UTRECHT_ORGANISER, "198.51.100.8") is None


def test_a_successful_log_in_clears_the_count(site: OrganiserSite) -> None:
    accounts = site.service.accounts
    address = "198.51.100.9"
    for _attempt in range(LOGIN_FAILURE_LIMIT - 1):
        assert accounts.record_login_failure(UTRECHT_ORGANISER, address) is None
    assert log_in(site.client(address=address), UTRECHT_ORGANISER, PASSWORD).status_code == 302
    for _attempt in range(LOGIN_FAILURE_LIMIT - 1):
        assert accounts.record_login_failure(UTRECHT_ORGANISER, address) is None
    assert accounts.record_login_failure(UTRECHT_ORGANISER, address) is not None


# -- roles ------------------------------------------------------------------------------------------


def test_only_administrators_manage_accounts(site: OrganiserSite) -> None:
    assert site.logged_in(UTRECHT_ORGANISER).get("/admin/users").status_code == 403
    admin = site.logged_in(ADMIN)
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "anne@utrecht.example" in page and "Organiser" in page
    response = post_form(
        admin,
        "/admin/users/new",
        {
            "email": "eva@utrecht.example",
            "name": "Eva Smit",
            "role": "reviewer",
            "issuer": "utrecht",
            "password": "drie vrolijke kikkers",
        },
    )
    assert response.status_code == 303
    created = site.service.accounts.authenticate("eva@utrecht.example", "drie vrolijke kikkers")
    assert created is not None and created.role == "reviewer" and created.issuer_slug == "utrecht"


def test_an_account_form_names_its_problems(site: OrganiserSite) -> None:
    admin = site.logged_in(ADMIN)
    response = post_form(
        admin,
        "/admin/users/new",
        {"email": "", "name": "", "role": "organiser", "issuer": "", "password": "kort"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<a href="#email">Enter email address.</a>' in page
    assert '<a href="#issuer">Choose the issuer this person acts for.</a>' in page


def test_reviewers_cannot_manage_keys(site: OrganiserSite) -> None:
    reviewer = site.logged_in(UTRECHT_REVIEWER)
    assert reviewer.get("/admin/issuers/utrecht").status_code == 200
    assert reviewer.get("/admin/issuers/utrecht/keys").status_code == 403
    assert reviewer.get("/admin/issuers/utrecht/edit").status_code == 403


# -- the command line -------------------------------------------------------------------------------


def test_cli_creates_accounts_with_a_password_from_standard_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli import main
    from core.config import Settings
    from core.service import BadgeService

    monkeypatch.setenv("BADGEBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert (
        main(
            [
                "user",
                "create",
                "root@example.org",
                "--name",
                "Root",
                "--role",
                "admin",
                "--password-stdin",
            ]
        )
        == 0
    )
    assert "Created admin root@example.org (every issuer)." in capsys.readouterr().out

    monkeypatch.setattr("sys.stdin", io.StringIO("kort\n"))
    code = main(
        ["user", "create", "x@example.org", "--name", "X", "--role", "admin", "--password-stdin"]
    )
    assert code == 1
    assert "at least 12 characters" in capsys.readouterr().err

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    learner_args = ["user", "create", "sam@example.org", "--name", "Sam", "--role", "learner"]
    assert main([*learner_args, "--password-stdin"]) == 0
    assert "Created learner sam@example.org (logs in to their badges)." in capsys.readouterr().out

    service = BadgeService(Settings.from_env())
    assert service.accounts.authenticate("root@example.org", PASSWORD) is not None
    learner_account = service.accounts.authenticate("sam@example.org", PASSWORD)
    assert learner_account is not None and learner_account.role == "learner"
    assert service.learners.find(email="sam@example.org") is not None
    service.engine.dispose()


def test_cli_asks_for_the_password_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli import main

    monkeypatch.setenv("BADGEBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["user", "create", "root@example.org", "--name", "Root", "--role", "admin"]) == 2
    assert "The two passwords differ." in capsys.readouterr().err


# -- OpenID Connect -----------------------------------------------------------------------------------


CLIENT_ID = "badgebridge-test"
CLIENT_SECRET = "a-client-secret-for-tests"


_KEYS: dict[str, RSAKey] = {}


def _provider_key(name: str = "idp-key-1") -> RSAKey:
    """An RSA key made once per test run (making one takes a while)."""
    if name not in _KEYS:
        _KEYS[name] = RSAKey.generate_key(2048, parameters={"kid": "idp-key-1"})
    return _KEYS[name]


class LocalIdentityProvider:
    """A tiny OpenID Connect provider on 127.0.0.1: discovery, keys and a token endpoint that
    answers with the ID token the test prepared (signed with joserfc), after checking the
    client's secret and PKCE verifier."""

    def __init__(self) -> None:
        self.key = _provider_key()
        self.server = make_server("127.0.0.1", 0, self._wsgi)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.claims: dict[str, Any] = {}
        self.signing_key = self.key
        self.challenge = ""
        self.token_requests: list[dict[str, str]] = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalIdentityProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join()

    def id_token(self) -> str:
        header = {"alg": "RS256", "kid": self.signing_key.kid}
        return jwt.encode(header, self.claims, self.signing_key)

    @Request.application  # type: ignore[misc]
    def _wsgi(self, request: Request) -> Response:
        if request.path == "/.well-known/openid-configuration":
            document = {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
            return Response(json.dumps(document), mimetype="application/json")
        if request.path == "/jwks":
            keys = {"keys": [self.key.as_dict(private=False)]}
            return Response(json.dumps(keys), mimetype="application/json")
        if request.path == "/token" and request.method == "POST":
            form = dict(request.form)
            self.token_requests.append(form)
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            authorised = request.authorization
            secret_ok = (
                authorised is not None
                and authorised.username == CLIENT_ID
                and authorised.password == CLIENT_SECRET
            ) or (form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET)
            if expected != self.challenge or not secret_ok or form.get("code") != "the-code":
                return Response(
                    '{"error": "invalid_grant"}', status=400, mimetype="application/json"
                )
            token = {
                "access_token": "access-1",
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(),
            }
            return Response(json.dumps(token), mimetype="application/json")
        return Response("not found", status=404)


@pytest.fixture
def provider() -> Iterator[LocalIdentityProvider]:
    with LocalIdentityProvider() as running:
        yield running


@pytest.fixture
def oidc_site(
    tmp_path: Path, provider: LocalIdentityProvider, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OrganiserSite]:
    monkeypatch.setenv("BADGEBRIDGE_OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("BADGEBRIDGE_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("BADGEBRIDGE_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("BADGEBRIDGE_OIDC_NAME", "Gemeente Utrecht")
    built = build_site(tmp_path)
    yield built
    built.service.engine.dispose()


def _start_oidc(
    site: OrganiserSite, provider: LocalIdentityProvider, **claims: Any
) -> tuple[Any, dict[str, str]]:
    client = site.client()
    assert "Log in with Gemeente Utrecht" in client.get("/login").get_data(as_text=True)
    response = client.get("/login/oidc")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{provider.issuer}/authorize"
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert query["redirect_uri"] == "http://badges.test/login/oidc/callback"
    assert query["code_challenge_method"] == "S256"
    provider.challenge = query["code_challenge"]
    now = int(time.time())
    provider.claims = {
        "iss": provider.issuer,
        "sub": "user-42",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": query["nonce"],
        "email": "femke@utrecht.example",
        "email_verified": True,
        "name": "Femke Visser",
        **claims,
    }
    return client, query


def _callback(client: Any, query: dict[str, str]) -> Any:
    return client.get(
        "/login/oidc/callback", query_string={"code": "the-code", "state": query["state"]}
    )


def test_oidc_log_in_creates_an_account_without_rights(
    oidc_site: OrganiserSite, provider: LocalIdentityProvider
) -> None:
    client, query = _start_oidc(oidc_site, provider)
    response = _callback(client, query)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert provider.token_requests and provider.token_requests[0]["code_verifier"]
    page = client.get("/admin/").get_data(as_text=True)
    assert "You are logged in as Femke Visser." in page
    assert "does not act for an issuer yet" in page
    user = oidc_site.service.accounts.find_user("femke@utrecht.example")
    assert user is not None and user.oidc_linked and user.role == "reviewer"
    assert user.issuer_slug is None
    assert client.get("/admin/issuers/utrecht").status_code == 403


def test_oidc_log_in_links_an_account_with_the_same_verified_address(
    oidc_site: OrganiserSite, provider: LocalIdentityProvider
) -> None:
    client, query = _start_oidc(oidc_site, provider, email=UTRECHT_ORGANISER, sub="anne-1")
    assert _callback(client, query).status_code == 302
    assert client.get("/admin/issuers/utrecht/keys").status_code == 200
    user = oidc_site.service.accounts.find_user(UTRECHT_ORGANISER)
    assert user is not None and user.oidc_linked


def _refused(client: Any, query: dict[str, str]) -> None:
    response = _callback(client, query)
    assert response.status_code == 400
    assert "Logging in through Gemeente Utrecht did not work." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p, q: p.claims.update(nonce="another-nonce"),
        lambda p, q: p.claims.update(aud="another-client"),
        lambda p, q: p.claims.update(iss="https://other-provider.example"),
        lambda p, q: p.claims.update(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        lambda p, q: setattr(
            p, "signing_key", RSAKey.generate_key(2048, parameters={"kid": "idp-key-1"})
        ),
        lambda p, q: q.update(state="a-state-we-never-sent"),
        lambda p, q: setattr(p, "challenge", "not-the-challenge"),
    ],
    ids=["nonce", "audience", "issuer", "expired", "forged-signature", "state", "pkce"],
)
def test_oidc_answers_that_fail_a_check_are_refused(
    oidc_site: OrganiserSite,
    provider: LocalIdentityProvider,
    tamper: Callable[[LocalIdentityProvider, dict[str, str]], None],
) -> None:
    client, query = _start_oidc(oidc_site, provider)
    tamper(provider, query)
    _refused(client, query)


def test_an_unverified_address_does_not_take_over_an_account(
    oidc_site: OrganiserSite, provider: LocalIdentityProvider
) -> None:
    client, query = _start_oidc(oidc_site, provider, email=ADMIN, email_verified=False)
    _refused(client, query)
    admin = oidc_site.service.accounts.find_user(ADMIN)
    assert admin is not None and not admin.oidc_linked


def test_without_oidc_settings_there_is_no_provider_log_in(site: OrganiserSite) -> None:
    client = site.client()
    assert "Log in with" not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/oidc").status_code == 404
    assert create_app is not None


def test_the_current_password_check_is_throttled_too(site: OrganiserSite) -> None:
    client = site.logged_in(UTRECHT_ORGANISER)
    for _attempt in range(LOGIN_FAILURE_LIMIT):
        site.service.accounts.record_login_failure(UTRECHT_ORGANISER, "192.0.2.10")
    response = post_form(
        client,
        "/admin/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "een heel nieuw wachtwoord",
            "new_password_again": "een heel nieuw wachtwoord",
        },
    )
    assert response.status_code == 400
    assert "Too many wrong passwords. Try again later." in response.get_data(as_text=True)
    assert site.service.accounts.authenticate(UTRECHT_ORGANISER, PASSWORD) is not None


def test_an_unreachable_provider_gives_a_readable_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("BADGEBRIDGE_OIDC_ISSUER", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("BADGEBRIDGE_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("BADGEBRIDGE_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    built = build_site(tmp_path)
    try:
        response = built.client().get("/login/oidc")
        assert response.status_code == 400
        assert "did not work" in response.get_data(as_text=True)
    finally:
        built.service.engine.dispose()
