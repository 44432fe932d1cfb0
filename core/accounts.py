"""Accounts of the people who log in: administrators, organisers and reviewers, who run badges,
and learners, who see their own badges ("my badges").

A learner account is made by an administrator (:meth:`Accounts.create_learner_account`, or the
accounts page with the role learner): it is linked to the learner who holds the account's email
address, a new learner when nobody does yet. The administrator vouches for the address, as they
do when they create any account, so it is linked as a verified email.

Passwords are hashed with scrypt (werkzeug's ``generate_password_hash(method="scrypt")``:
N=2^15, r=8, p=1, a random salt per hash). A password has at least
:data:`MIN_PASSWORD_LENGTH` characters and is not one of the commonly used ones.

Failed log-ins are counted per account and network address in the database (table
``login_throttle``), so every web worker enforces the same limit: after
:data:`LOGIN_FAILURE_LIMIT` failures within :data:`LOGIN_WINDOW` that account cannot log in from
that address until the window has passed. Other addresses are not affected, so an attacker
cannot lock a person out of their account from elsewhere.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core.errors import InvalidInput, NotFound
from core.storage import IssuerRecord, LoginThrottleRecord, UserRecord, utcnow

if TYPE_CHECKING:
    from core.service import BadgeService

ROLES = ("admin", "organiser", "reviewer", "learner")
#: Roles that act for one issuer (an administrator acts for all).
ISSUER_ROLES = ("organiser", "reviewer")
#: Roles of the people who run badges (learners only see their own).
STAFF_ROLES = ("admin", "organiser", "reviewer")
#: The role of an account that exists only for a person to see their own badges.
LEARNER_ROLE = "learner"
MIN_PASSWORD_LENGTH = 12
#: Longer input is refused before hashing (scrypt would accept it, but nobody types this much).
MAX_PASSWORD_LENGTH = 1024
LOGIN_FAILURE_LIMIT = 5
LOGIN_WINDOW = timedelta(minutes=15)
PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 (an algorithm name, not a password)
#: The prefix of hashes made with today's parameters; older hashes are replaced at log-in.
_CURRENT_HASH_PREFIX = "scrypt:32768:8:1$"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_OIDC_SUBJECT_MAX = 300

#: Passwords of 12+ characters that appear near the top of leaked-password lists, in English
#: and Dutch. A short list on purpose: the length rule does most of the work.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "111111111111",
        "000000000000",
        "123123123123",
        "qwertyuiopas",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwerty123456",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "azertyuiop12",
        "asdfghjkl123",
        "zxcvbnm12345",
        "passwordpassword",
        "password1234",
        "password12345",
        "password123456",
        "passw0rd1234",
        "p@ssw0rd1234",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "administrator",
        "administrator1",
        "changeme1234",
        "trustno11234",
        "football1234",
        "baseball1234",
        "sunshine1234",
        "princess1234",
        "superman1234",
        "starwars1234",
        "monkey123456",
        "dragon123456",
        "master123456",
        "whatever1234",
        "wachtwoord12",
        "wachtwoord123",
        "wachtwoord1234",
        "welkom123456",
        "welkomwelkom",
        "geheim123456",
        "voetbal12345",
        "feyenoord1908",
        "ajaxamsterdam",
        "rotterdam010",
        "rotterdam123",
        "amsterdam020",
        "amsterdam123",
        "utrecht12345",
        "nederland123",
        "hallo1234567",
        "badgebridge1",
        "badgebridge123",
        "openbadges123",
        "citiesoflearning",
    }
)
#: Words that, followed only by digits or punctuation, make a guessable password.
COMMON_PASSWORD_WORDS = frozenset(
    {
        "password",
        "passw0rd",
        "p@ssw0rd",
        "wachtwoord",
        "welkom",
        "welcome",
        "qwerty",
        "qwertyuiop",
        "azerty",
        "letmein",
        "iloveyou",
        "admin",
        "administrator",
        "changeme",
        "geheim",
        "secret",
        "badgebridge",
        "openbadges",
        "citiesoflearning",
    }
)
_TRAILING_DIGITS_OR_PUNCTUATION = re.compile(r"[\d\W_]+$")


class WeakPassword(InvalidInput):
    """The password is too short, too long or too easy to guess. ``reason`` says which:
    ``too_short``, ``too_long``, ``common`` or ``personal`` (it contains the email address)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class UserView:
    """A person who logs in: their role and the issuer they act for (None for admins)."""

    id: int
    email: str
    name: str
    role: str
    issuer_slug: str | None
    has_password: bool
    oidc_linked: bool
    #: changes whenever the password changes: sessions holding an older stamp are ended
    session_stamp: str
    #: whether the account is linked to a learner (it has badges of its own to see)
    earns_badges: bool = False

    @property
    def is_admin(self) -> bool:
        """True for administrators, who act for every issuer."""
        return self.role == "admin"

    @property
    def is_learner(self) -> bool:
        """True for learner accounts, which only see their own badges."""
        return self.role == LEARNER_ROLE

    def can_act_for(self, issuer_slug: str) -> bool:
        """True when this person may manage ``issuer_slug``'s data."""
        return self.is_admin or (self.issuer_slug is not None and self.issuer_slug == issuer_slug)


@dataclass(frozen=True)
class LoginBlocked:
    """Too many failed log-ins for one account from one address: wait until ``until``."""

    until: datetime

    def minutes_left(self, now: datetime | None = None) -> int:
        """Whole minutes until log-in is allowed again (at least 1)."""
        seconds = (self.until - (now or utcnow())).total_seconds()
        return max(1, int(seconds + 59) // 60)


def normalise_email(email: str) -> str:
    """The email address as stored: trimmed and lower-case. :class:`InvalidInput` if it is not
    an email address."""
    value = (email or "").strip().lower()
    if len(value) > 320 or not _EMAIL.match(value):
        raise InvalidInput(f"{email!r} is not an email address.")
    return value


def check_password_strength(password: str, *, email: str | None = None) -> None:
    """Raise :class:`WeakPassword` unless ``password`` is long enough and not a common one."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", "too_short"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"A password has at most {MAX_PASSWORD_LENGTH} characters.", "too_long")
    folded = password.strip().casefold()
    stem = _TRAILING_DIGITS_OR_PUNCTUATION.sub("", folded)
    if (
        folded in COMMON_PASSWORDS
        or stem in COMMON_PASSWORD_WORDS
        or len(set(folded)) <= 2
        or folded in "01234567890123456789"
        or folded in "abcdefghijklmnopqrstuvwxyz"
    ):
        raise WeakPassword(
            "This password is one of the most commonly used ones; choose another.", "common"
        )
    if email:
        local_part = email.strip().casefold().partition("@")[0]
        if len(local_part) >= 4 and local_part in folded:
            raise WeakPassword("A password must not contain your email address.", "personal")


def _session_stamp(password_hash: str | None) -> str:
    # A one-way digest of the salted hash: it reveals nothing and changes with the password.
    return hashlib.sha256((password_hash or "no-password").encode()).hexdigest()[:16]


def _throttle_key(email: str, address: str) -> str:
    # Hashed: the table never holds the addresses or the (possibly mistyped) account names.
    return hashlib.sha256(f"{email.strip().lower()}\n{address}".encode()).hexdigest()


class Accounts:
    """Create accounts, check passwords, link OpenID Connect logins, and throttle log-ins."""

    _dummy_hash: str | None = None
    _dummy_lock = threading.Lock()

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    # -- views --------------------------------------------------------------------------------

    @staticmethod
    def _view(session: Session, user: UserRecord) -> UserView:
        slug = None
        if user.issuer_id is not None:
            slug = session.scalar(
                select(IssuerRecord.slug).where(IssuerRecord.id == user.issuer_id)
            )
        return UserView(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            issuer_slug=slug,
            has_password=user.password_hash is not None,
            oidc_linked=user.oidc_subject is not None,
            session_stamp=_session_stamp(user.password_hash),
            earns_badges=user.learner_id is not None,
        )

    def get_user(self, user_id: int) -> UserView:
        """The account with this id; :class:`NotFound` if there is none."""
        with self._service.sessions() as session:
            user = session.get(UserRecord, user_id)
            if user is None:
                raise NotFound(f"No user {user_id}.")
            return self._view(session, user)

    def find_user(self, email: str) -> UserView | None:
        """The account with this email address, if any."""
        with self._service.sessions() as session:
            user = session.scalar(
                select(UserRecord).where(UserRecord.email == email.strip().lower())
            )
            return None if user is None else self._view(session, user)

    def list_users(self, issuer_slug: str | None = None) -> list[UserView]:
        """Every account (or those acting for ``issuer_slug``), by name."""
        with self._service.sessions() as session:
            query = select(UserRecord).order_by(UserRecord.name, UserRecord.id)
            if issuer_slug is not None:
                query = query.join(IssuerRecord, IssuerRecord.id == UserRecord.issuer_id).where(
                    IssuerRecord.slug == issuer_slug
                )
            return [self._view(session, u) for u in session.scalars(query)]

    # -- creating and changing accounts -------------------------------------------------------

    def _issuer_id_for(self, session: Session, role: str, issuer_slug: str | None) -> int | None:
        if role not in ROLES:
            raise InvalidInput(f"Unknown role {role!r}: use admin, organiser, reviewer or learner.")
        if role == "admin":
            if issuer_slug:
                raise InvalidInput("An administrator acts for every issuer: give no issuer.")
            return None
        if role == LEARNER_ROLE:
            if issuer_slug:
                raise InvalidInput("A learner does not act for an issuer: give no issuer.")
            return None
        if not issuer_slug:
            return None  # an account waiting for an administrator to give it an issuer
        issuer_id = session.scalar(select(IssuerRecord.id).where(IssuerRecord.slug == issuer_slug))
        if issuer_id is None:
            raise NotFound(f"No issuer with the slug {issuer_slug!r}.")
        return issuer_id

    def create_user(
        self,
        email: str,
        name: str,
        password: str | None,
        role: str,
        issuer_slug: str | None = None,
    ) -> UserView:
        """A new account. ``password`` None makes an account that logs in only through OpenID
        Connect. Organisers and reviewers act for ``issuer_slug``; administrators for all.
        The role ``learner`` makes a learner account (:meth:`create_learner_account`)."""
        if role == LEARNER_ROLE:
            if issuer_slug:
                raise InvalidInput("A learner does not act for an issuer: give no issuer.")
            if password is None:
                raise InvalidInput("A learner account needs a password to log in with.")
            return self.create_learner_account(email, name, password)
        address = normalise_email(email)
        if not name or not name.strip():
            raise InvalidInput("An account needs a name.")
        if role in ISSUER_ROLES and not issuer_slug:
            raise InvalidInput("Organisers and reviewers act for one issuer: name it.")
        password_hash = self._new_password_hash(password, address)
        with self._service.transaction() as session:
            issuer_id = self._issuer_id_for(session, role, issuer_slug)
            user = self._add_user(session, address, name, password_hash, role)
            user.issuer_id = issuer_id
            session.flush()
            return self._view(session, user)

    def create_learner_account(
        self,
        email: str,
        name: str,
        password: str,
        *,
        learner_public_id: str | None = None,
    ) -> UserView:
        """A learner account (role ``learner``) that logs in to see "my badges".

        It is linked to ``learner_public_id`` when given, else to the learner holding the
        email address (created when nobody does). The address is linked as verified: the
        administrator creating the account vouches for it. :class:`InvalidInput` when the
        address already has an account, :class:`core.learners.IdentityConflict` when it
        cannot be tied to one learner, :class:`NotFound` for an unknown learner; nothing is
        written then."""
        address = normalise_email(email)
        if not name or not name.strip():
            raise InvalidInput("An account needs a name.")
        password_hash = self._new_password_hash(password, address)
        learners = self._service.learners
        with self._service.transaction() as session:
            user = self._add_user(session, address, name, password_hash, LEARNER_ROLE)
            if learner_public_id is not None:
                learner = learners.learner_in_session(session, learner_public_id)
            else:
                learner = learners.find_or_create_in_session(
                    session, email=address, email_verified=True, display_name=name.strip()
                )
            user.learner_id = learner.id
            session.flush()
            return self._view(session, user)

    @staticmethod
    def _new_password_hash(password: str | None, address: str) -> str | None:
        if password is None:
            return None
        check_password_strength(password, email=address)
        return generate_password_hash(password, method=PASSWORD_HASH_METHOD)

    @staticmethod
    def _add_user(
        session: Session, address: str, name: str, password_hash: str | None, role: str
    ) -> UserRecord:
        if session.scalar(select(UserRecord.id).where(UserRecord.email == address)):
            raise InvalidInput(f"There is already an account for {address}.")
        user = UserRecord(
            email=address,
            name=name.strip()[:200],
            password_hash=password_hash,
            role=role,
            created_at=utcnow(),
        )
        session.add(user)
        return user

    def update_user(
        self, user_id: int, *, name: str, role: str, issuer_slug: str | None
    ) -> UserView:
        """Change an account's name, role and issuer. An account made a learner is linked to
        the learner holding its email address (as :meth:`create_learner_account` links)."""
        if not name or not name.strip():
            raise InvalidInput("An account needs a name.")
        with self._service.transaction() as session:
            user = session.get(UserRecord, user_id)
            if user is None:
                raise NotFound(f"No user {user_id}.")
            user.issuer_id = self._issuer_id_for(session, role, issuer_slug)
            if role == LEARNER_ROLE and user.learner_id is None:
                user.learner_id = self._service.learners.find_or_create_in_session(
                    session, email=user.email, email_verified=True, display_name=user.name
                ).id
            user.role = role
            user.name = name.strip()[:200]
            return self._view(session, user)

    def set_password(self, email: str, password: str) -> UserView:
        """Give the account a new password (sessions started with the old one end)."""
        address = email.strip().lower()
        check_password_strength(password, email=address)
        password_hash = generate_password_hash(password, method=PASSWORD_HASH_METHOD)
        with self._service.transaction() as session:
            user = session.scalar(select(UserRecord).where(UserRecord.email == address))
            if user is None:
                raise NotFound(f"There is no account for {address}.")
            user.password_hash = password_hash
            return self._view(session, user)

    # -- logging in -----------------------------------------------------------------------------

    @classmethod
    def _hash_for_unknown_users(cls) -> str:
        with cls._dummy_lock:
            if cls._dummy_hash is None:
                cls._dummy_hash = generate_password_hash(
                    "no account has this password", method=PASSWORD_HASH_METHOD
                )
            return cls._dummy_hash

    def authenticate(self, email: str, password: str) -> UserView | None:
        """The account when ``password`` is its password, else None.

        An unknown address costs the same scrypt work as a wrong password, so the time taken
        does not tell which addresses have accounts."""
        address = (email or "").strip().lower()
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            password = ""
        with self._service.sessions() as session:
            user = session.scalar(select(UserRecord).where(UserRecord.email == address))
            stored = user.password_hash if user is not None else None
        if stored is None:
            check_password_hash(self._hash_for_unknown_users(), password)
            return None
        if not check_password_hash(stored, password):
            return None
        with self._service.transaction() as session:
            user = session.scalar(select(UserRecord).where(UserRecord.email == address))
            if user is None or user.password_hash != stored:
                return None  # deleted or changed while we checked
            if not stored.startswith(_CURRENT_HASH_PREFIX):
                # Made with older parameters: upgrade now that we know the password.
                user.password_hash = generate_password_hash(password, method=PASSWORD_HASH_METHOD)
            return self._view(session, user)

    def find_or_create_oidc_user(
        self,
        *,
        provider: str,
        subject: str,
        email: str | None,
        email_verified: bool,
        name: str | None,
    ) -> UserView:
        """The account of an OpenID Connect login.

        Found by the provider's subject; else an account with the same *verified* email is
        linked to it; else a new account is created without any rights (role reviewer, no
        issuer) until an administrator gives it an issuer. An unverified email never links
        to, or takes over, an existing account."""
        if not subject:
            raise InvalidInput("The identity provider sent no subject.")
        key = f"{provider}#{subject}"
        if len(key) > _OIDC_SUBJECT_MAX:
            key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
        with self._service.transaction() as session:
            user = session.scalar(select(UserRecord).where(UserRecord.oidc_subject == key))
            if user is not None:
                return self._view(session, user)
            if not email:
                raise InvalidInput("The identity provider sent no email address for this login.")
            address = normalise_email(email)
            existing = session.scalar(select(UserRecord).where(UserRecord.email == address))
            if existing is not None:
                if not email_verified:
                    raise InvalidInput(
                        f"The identity provider has not verified {address}, so this login "
                        "cannot be linked to the account with that address."
                    )
                if existing.oidc_subject is not None:
                    raise InvalidInput(
                        f"The account for {address} is already linked to another login."
                    )
                existing.oidc_subject = key
                return self._view(session, existing)
            user = UserRecord(
                email=address,
                name=(name or address).strip()[:200],
                password_hash=None,
                role="reviewer",
                issuer_id=None,
                oidc_subject=key,
                created_at=utcnow(),
            )
            session.add(user)
            session.flush()
            return self._view(session, user)

    # -- log-in throttling -----------------------------------------------------------------------

    def login_blocked(self, email: str, address: str) -> LoginBlocked | None:
        """Why this account may not log in from ``address`` now (None: it may)."""
        now = utcnow()
        with self._service.sessions() as session:
            record = session.scalar(
                select(LoginThrottleRecord).where(
                    LoginThrottleRecord.key == _throttle_key(email, address)
                )
            )
            if record is None or record.blocked_until is None or record.blocked_until <= now:
                return None
            return LoginBlocked(record.blocked_until)

    def record_login_failure(self, email: str, address: str) -> LoginBlocked | None:
        """Count a failed log-in; returns the block when this failure reached the limit."""
        key = _throttle_key(email, address)
        for _attempt in range(2):  # a concurrent first failure may insert the row first
            try:
                return self._count_failure(key)
            except IntegrityError:
                continue
        return self._count_failure(key)

    def _count_failure(self, key: str) -> LoginBlocked | None:
        now = utcnow()
        with self._service.transaction() as session:
            # Forget other accounts' failures once they no longer matter.
            session.execute(
                delete(LoginThrottleRecord).where(
                    LoginThrottleRecord.window_started_at < now - 4 * LOGIN_WINDOW,
                    LoginThrottleRecord.key != key,
                )
            )
            record = session.scalar(
                select(LoginThrottleRecord).where(LoginThrottleRecord.key == key).with_for_update()
            )
            if record is None:
                record = LoginThrottleRecord(key=key, failures=0, window_started_at=now)
                session.add(record)
            elif record.window_started_at <= now - LOGIN_WINDOW:
                record.failures = 0
                record.window_started_at = now
                record.blocked_until = None
            record.failures += 1
            if record.failures >= LOGIN_FAILURE_LIMIT:
                record.blocked_until = now + LOGIN_WINDOW
                session.flush()
                return LoginBlocked(record.blocked_until)
            session.flush()
            return None

    def record_login_success(self, email: str, address: str) -> None:
        """Forget the failed log-ins of this account from this address."""
        with self._service.transaction() as session:
            session.execute(
                delete(LoginThrottleRecord).where(
                    LoginThrottleRecord.key == _throttle_key(email, address)
                )
            )


__all__ = [
    "COMMON_PASSWORDS",
    "ISSUER_ROLES",
    "LEARNER_ROLE",
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_WINDOW",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "STAFF_ROLES",
    "Accounts",
    "LoginBlocked",
    "UserView",
    "WeakPassword",
    "check_password_strength",
    "normalise_email",
]
