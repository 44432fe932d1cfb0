"""The badge core's service API: what the CLI, the web pages, the LTI tool and the connectors call.

It owns the wiring: database sessions, the key-encryption key, key resolution that answers our
own issuers from the database (no HTTP to ourselves), and the guarded fetcher for everyone else.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from core.config import Settings
from core.did import ControllerDocumentResolver
from core.errors import BadgeBridgeError, InvalidInput, KeyProblem, NotFound
from core.fetching import Fetcher
from core.held_credentials import HeldCredentials
from core.json_input import parse_json_object
from core.keys import (
    IssuerSigningKey,
    KeyEncryptionKey,
    VerificationKey,
    controller_document,
    new_key_encryption_key,
    public_key_from_jwk,
)
from core.recipient import hash_identity, new_salt
from core.report import VerificationReport
from core.schema_validation import validate_ob3_schema
from core.status_list import (
    MIN_BITSTRING_BITS,
    Bitstring,
    StatusListCache,
    status_entry,
    status_list_credential,
)
from core.storage import (
    CredentialRecord,
    IssuerKeyRecord,
    IssuerRecord,
    StatusListRecord,
    make_engine,
    read_engine,
    upgrade_database,
    utcnow,
    write_engine,
)
from core.verification import (
    StatusListDocument,
    VerificationOptions,
    credential_not_found_report,
    verify_credential,
)
from core.worker_memory import WorkerMemory

if TYPE_CHECKING:
    from core.accounts import Accounts
    from core.awarding import Awarding
    from core.catalogue import Catalogue
    from core.evidence import EvidenceReview
    from core.learner_badges import LearnerBadges
    from core.learners import LearnerDirectory
    from core.lti_grades import LtiGrades
    from core.lti_registry import LtiRegistry
    from core.outbox import Outbox

ProofFormat = Literal["rdfc", "jcs", "jwt"]
PROOF_FORMATS: tuple[ProofFormat, ...] = ("rdfc", "jcs", "jwt")
CRYPTOSUITES = {"rdfc": "eddsa-rdfc-2022", "jcs": "eddsa-jcs-2022"}
KEY_ALGORITHMS = ("Ed25519", "RS256", "ES256")
JWT_KEY_PREFERENCE = ("RS256", "ES256", "Ed25519")
STATUS_PURPOSES = ("revocation", "suspension")
OB3_CONTEXTS = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
KEK_FILE_NAME = "key-encryption-key"


@dataclass(frozen=True)
class IssuerView:
    """An issuer as shown to people and other layers."""

    slug: str
    name: str
    profile_id: str
    url: str | None
    email: str | None
    description: str | None
    proof_format: str


@dataclass(frozen=True)
class KeyView:
    """A key's public facts (never the private part)."""

    key_id: str
    verification_method: str
    algorithm: str
    state: str
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class IssuedCredential:
    """A signed credential: a JSON document or a compact JWT."""

    credential_id: str
    proof_format: str
    text: str

    @property
    def document(self) -> dict[str, Any] | str:
        """The JSON object, or the JWT text."""
        return self.text if self.proof_format == "jwt" else dict(json.loads(self.text))


def load_key_encryption_key(settings: Settings, *, create: bool) -> KeyEncryptionKey:
    """The configured KEK, else the one in the data folder (created there when ``create``).

    The file fallback serves the embedded single-machine set-up; production sets
    ``BADGEBRIDGE_KEY_ENCRYPTION_KEY`` from its secret store.
    """
    if settings.key_encryption_key:
        return KeyEncryptionKey.from_text(settings.key_encryption_key)
    path = settings.data_dir / KEK_FILE_NAME
    if path.exists():
        return KeyEncryptionKey.from_text(path.read_text().strip())
    if not create:
        raise KeyProblem(
            "No key-encryption key: set BADGEBRIDGE_KEY_ENCRYPTION_KEY "
            f"(or create one with `badgebridge keys new` in the embedded set-up at {path})."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    text = new_key_encryption_key()
    fd = _create_private_file(path)
    with open(fd, "w") as handle:
        handle.write(text + "\n")
    return KeyEncryptionKey.from_text(text)


def _create_private_file(path: Path) -> int:
    import os

    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


#: The tables whose rows :attr:`BadgeService.recent_reads` may hold (catalogue content).
CATALOGUE_TABLES: Final = frozenset(
    {"issuers", "achievements", "activities", "playlists", "playlist_steps", "endorsements"}
)
_CATALOGUE_CHANGED: Final = "catalogue_changed"


def _note_catalogue_flush(session: Session, _context: Any) -> None:
    """Mark a unit of work that added, changed or deleted catalogue rows."""
    for instance in itertools.chain(session.new, session.dirty, session.deleted):
        if getattr(instance, "__tablename__", None) in CATALOGUE_TABLES:
            session.info[_CATALOGUE_CHANGED] = True
            return


def _note_catalogue_statement(state: ORMExecuteState) -> None:
    """Mark a unit of work whose bulk INSERT, UPDATE or DELETE touches catalogue tables."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in CATALOGUE_TABLES:
            state.session.info[_CATALOGUE_CHANGED] = True


class BadgeService:
    """Issuers, keys, issuing, revocation, status lists and verification over one database."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        fetcher: Fetcher | None = None,
        create_kek: bool = False,
    ) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.sessions = sessionmaker(read_engine(self.engine), expire_on_commit=False)
        self._write_sessions = sessionmaker(write_engine(self.engine), expire_on_commit=False)
        self.fetcher = fetcher
        self._create_kek = create_kek
        self._kek: KeyEncryptionKey | None = None
        self._signing_keys: dict[tuple[int, str], IssuerSigningKey] = {}
        self._lock = threading.Lock()
        # Other issuers' status lists, kept a few minutes (the spec's ttl default is 5 min).
        self._remote_status_lists = StatusListCache(ttl_seconds=300, max_entries=256)
        # Signed status list credentials by list id, re-signed only when the list changes.
        self._status_cache: dict[int, tuple[int, dict[str, Any]]] = {}
        self.resolver = ControllerDocumentResolver(
            local_documents=self.local_controller_document, fetcher=fetcher
        )
        #: Catalogue content this worker read for launched course items (every launch of a
        #: class reads the same); a write to the catalogue by this process forgets it.
        self.recent_reads = WorkerMemory()
        event.listen(self._write_sessions, "after_flush", _note_catalogue_flush)
        event.listen(self._write_sessions, "do_orm_execute", _note_catalogue_statement)

    # -- set-up ---------------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Create or migrate the database schema."""
        upgrade_database(self.engine)

    @property
    def kek(self) -> KeyEncryptionKey:
        if self._kek is None:
            self._kek = load_key_encryption_key(self.settings, create=self._create_kek)
        return self._kek

    @functools.cached_property
    def accounts(self) -> Accounts:
        """Log-in accounts of administrators, organisers and reviewers."""
        from core.accounts import Accounts

        return Accounts(self)

    @functools.cached_property
    def catalogue(self) -> Catalogue:
        """Organisations, achievements, activities, playlists and endorsements."""
        from core.catalogue import Catalogue

        return Catalogue(self)

    @functools.cached_property
    def learners(self) -> LearnerDirectory:
        """Learners and their identifiers (emails, LMS user ids, DIDs)."""
        from core.learners import LearnerDirectory

        return LearnerDirectory(self)

    @functools.cached_property
    def evidence(self) -> EvidenceReview:
        """Evidence learners hand in, and its review."""
        from core.evidence import EvidenceReview

        return EvidenceReview(self)

    @functools.cached_property
    def awarding(self) -> Awarding:
        """The one entry point for awards, and revocation of awards."""
        from core.awarding import Awarding

        return Awarding(self)

    @functools.cached_property
    def learner_badges(self) -> LearnerBadges:
        """Credentials as their holders and the public see them: share settings, evidence,
        a learner's own badges and erasure with their account."""
        from core.learner_badges import LearnerBadges

        return LearnerBadges(self)

    @functools.cached_property
    def lti(self) -> LtiRegistry:
        """The LTI tool's platform registrations, keys, courses, links and launch cache."""
        from core.lti_registry import LtiRegistry

        return LtiRegistry(self)

    @functools.cached_property
    def lti_grades(self) -> LtiGrades:
        """Who launched which LTI course item, and their scores back to the LMS (AGS)."""
        from core.lti_grades import LtiGrades

        return LtiGrades(self)

    @functools.cached_property
    def outbox(self) -> Outbox:
        """Follow-ups of committed changes, delivered by workers (core.workers)."""
        from core.outbox import Outbox

        return Outbox(self)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One read-write unit of work: all or nothing. When it wrote to the catalogue's
        tables, this worker forgets its :attr:`recent_reads` (the change shows at once)."""
        session: Session | None = None
        try:
            with self._write_sessions.begin() as session:
                yield session
        finally:
            if session is not None and session.info.get(_CATALOGUE_CHANGED):
                self.recent_reads.forget()

    # -- URLs -----------------------------------------------------------------------------------

    def issuer_profile_id(self, slug: str) -> str:
        return f"{self.settings.base_url}/issuers/{slug}"

    def status_list_url(self, list_id: int) -> str:
        return f"{self.settings.base_url}/status/{list_id}"

    def credential_url(self, token: str) -> str:
        return f"{self.settings.base_url}/credentials/{token}"

    # -- issuers --------------------------------------------------------------------------------

    def create_issuer(
        self,
        slug: str,
        name: str,
        *,
        url: str | None = None,
        email: str | None = None,
        description: str | None = None,
        proof_format: str = "rdfc",
        key_algorithm: str | None = None,
    ) -> IssuerView:
        """Create an issuer with its first signing key (Ed25519 unless the format is JWT)."""
        if not _SLUG.match(slug or ""):
            raise InvalidInput(
                "An issuer slug is 1-80 lower-case letters, digits and dashes, e.g. 'rotterdam'."
            )
        if not name or not name.strip():
            raise InvalidInput("An issuer needs a name.")
        if proof_format not in PROOF_FORMATS:
            raise InvalidInput(f"Unknown proof format {proof_format!r}: use rdfc, jcs or jwt.")
        algorithm = key_algorithm or "Ed25519"
        with self.transaction() as session:
            if session.scalar(select(IssuerRecord).where(IssuerRecord.slug == slug)):
                raise InvalidInput(f"An issuer with the slug {slug!r} already exists.")
            issuer = IssuerRecord(
                slug=slug,
                name=name.strip(),
                url=url,
                email=email,
                description=description,
                proof_format=proof_format,
                created_at=utcnow(),
            )
            session.add(issuer)
            session.flush()
            self._add_key(session, issuer, algorithm)
            return self._issuer_view(issuer)

    def get_issuer(self, slug: str) -> IssuerView:
        with self.sessions() as session:
            return self._issuer_view(self._issuer(session, slug))

    def list_issuers(self) -> list[IssuerView]:
        with self.sessions() as session:
            rows = session.scalars(select(IssuerRecord).order_by(IssuerRecord.name))
            return [self._issuer_view(r) for r in rows]

    def _issuer(self, session: Session, slug: str) -> IssuerRecord:
        issuer = session.scalar(select(IssuerRecord).where(IssuerRecord.slug == slug))
        if issuer is None:
            raise NotFound(f"No issuer with the slug {slug!r}.")
        return issuer

    def _issuer_view(self, issuer: IssuerRecord) -> IssuerView:
        return IssuerView(
            slug=issuer.slug,
            name=issuer.name,
            profile_id=self.issuer_profile_id(issuer.slug),
            url=issuer.url,
            email=issuer.email,
            description=issuer.description,
            proof_format=issuer.proof_format,
        )

    def issuer_profile(self, slug: str) -> dict[str, Any]:
        """The issuer's public profile: an OB 3.0 Profile that is also its controller document
        (keys under ``verificationMethod``/``assertionMethod``), served at its id."""
        with self.sessions() as session:
            issuer = self._issuer(session, slug)
            document = self._controller_document(session, issuer)
            profile: dict[str, Any] = {
                "@context": [*OB3_CONTEXTS, *document["@context"]],
                "id": document["id"],
                "type": ["Profile"],
                "name": issuer.name,
            }
            for key in ("url", "email", "description", "image"):
                value = getattr(issuer, key)
                if value:
                    profile[key] = value
            profile["verificationMethod"] = document["verificationMethod"]
            profile["assertionMethod"] = document["assertionMethod"]
            return profile

    def _controller_document(self, session: Session, issuer: IssuerRecord) -> dict[str, Any]:
        keys = session.scalars(
            select(IssuerKeyRecord)
            .where(IssuerKeyRecord.issuer_id == issuer.id, IssuerKeyRecord.state != "retired")
            .order_by(IssuerKeyRecord.id)
        )
        profile_id = self.issuer_profile_id(issuer.slug)
        verification = [
            VerificationKey.from_public_key(
                f"{profile_id}#{k.key_id}", public_key_from_jwk(k.public_jwk)
            )
            for k in keys
        ]
        return controller_document(profile_id, verification)

    def local_controller_document(self, controller_id: str) -> dict[str, Any] | None:
        """Our own issuers' controller documents, straight from the database."""
        prefix = f"{self.settings.base_url}/issuers/"
        if not controller_id.startswith(prefix):
            return None
        slug = controller_id[len(prefix) :]
        with self.sessions() as session:
            issuer = session.scalar(select(IssuerRecord).where(IssuerRecord.slug == slug))
            return None if issuer is None else self._controller_document(session, issuer)

    # -- published keys (for the web app's did.json and jwks.json) -----------------------------

    def issuer_verification_keys(self, slug: str) -> list[VerificationKey]:
        """The public keys an issuer publishes: every key not retired, oldest first, each named
        ``{profile id}#{key id}`` (no private key is decrypted). :class:`NotFound` if unknown."""
        with self.sessions() as session:
            issuer = self._issuer(session, slug)
            records = session.scalars(
                select(IssuerKeyRecord)
                .where(IssuerKeyRecord.issuer_id == issuer.id, IssuerKeyRecord.state != "retired")
                .order_by(IssuerKeyRecord.id)
            )
            profile_id = self.issuer_profile_id(issuer.slug)
            return [
                VerificationKey.from_public_key(
                    f"{profile_id}#{r.key_id}", public_key_from_jwk(r.public_jwk)
                )
                for r in records
            ]

    # -- keys -----------------------------------------------------------------------------------

    def _add_key(self, session: Session, issuer: IssuerRecord, algorithm: str) -> IssuerKeyRecord:
        if algorithm not in KEY_ALGORITHMS:
            raise InvalidInput(f"Unknown key algorithm {algorithm!r}: use Ed25519, RS256 or ES256.")
        count = session.scalar(
            select(func.count())
            .select_from(IssuerKeyRecord)
            .where(IssuerKeyRecord.issuer_id == issuer.id)
        )
        key_id = f"key-{(count or 0) + 1}"
        vm = f"{self.issuer_profile_id(issuer.slug)}#{key_id}"
        signing = IssuerSigningKey.generate(algorithm, vm)
        record_key = f"{issuer.slug}/{key_id}"
        record = IssuerKeyRecord(
            issuer_id=issuer.id,
            key_id=key_id,
            algorithm=algorithm,
            state="active",
            public_jwk=signing.public_jwk(),
            encrypted_private_key=signing.encrypt(key_id=record_key, kek=self.kek),
            created_at=utcnow(),
        )
        session.add(record)
        session.flush()
        return record

    def list_keys(self, slug: str) -> list[KeyView]:
        with self.sessions() as session:
            issuer = self._issuer(session, slug)
            rows = session.scalars(
                select(IssuerKeyRecord)
                .where(IssuerKeyRecord.issuer_id == issuer.id)
                .order_by(IssuerKeyRecord.id)
            )
            return [self._key_view(issuer, r) for r in rows]

    def _key_view(self, issuer: IssuerRecord, record: IssuerKeyRecord) -> KeyView:
        return KeyView(
            key_id=record.key_id,
            verification_method=f"{self.issuer_profile_id(issuer.slug)}#{record.key_id}",
            algorithm=record.algorithm,
            state=record.state,
            created_at=record.created_at,
            retired_at=record.retired_at,
        )

    def new_key(self, slug: str, algorithm: str) -> KeyView:
        """Add a signing key for an algorithm the issuer has no active key for yet."""
        with self.transaction() as session:
            issuer = self._issuer(session, slug)
            if self._active_key_record(session, issuer, (algorithm,)) is not None:
                raise InvalidInput(
                    f"{slug} already has an active {algorithm} key; use `keys rotate` to replace it."
                )
            return self._key_view(issuer, self._add_key(session, issuer, algorithm))

    def rotate_key(self, slug: str, algorithm: str = "Ed25519") -> KeyView:
        """A new key of ``algorithm`` signs from now on; the old one keeps verifying what it
        signed until it is retired."""
        with self.transaction() as session:
            issuer = self._issuer(session, slug)
            active = session.scalars(
                select(IssuerKeyRecord).where(
                    IssuerKeyRecord.issuer_id == issuer.id,
                    IssuerKeyRecord.state == "active",
                    IssuerKeyRecord.algorithm == algorithm,
                )
            ).all()
            now = utcnow()
            for old in active:
                old.state = "verifying"
                old.rotated_at = now
            record = self._add_key(session, issuer, algorithm)
            return self._key_view(issuer, record)

    def retire_key(self, slug: str, key_id: str) -> KeyView:
        """Remove a key from the issuer's documents: what it signed no longer verifies."""
        with self.transaction() as session:
            issuer = self._issuer(session, slug)
            record = session.scalar(
                select(IssuerKeyRecord).where(
                    IssuerKeyRecord.issuer_id == issuer.id, IssuerKeyRecord.key_id == key_id
                )
            )
            if record is None:
                raise NotFound(f"The issuer {slug!r} has no key {key_id!r}.")
            if record.state == "active":
                raise InvalidInput(
                    f"{key_id} is the key that signs now; rotate first, then retire it."
                )
            record.state = "retired"
            record.retired_at = utcnow()
            return self._key_view(issuer, record)

    @staticmethod
    def _active_key_record(
        session: Session, issuer: IssuerRecord, algorithms: tuple[str, ...]
    ) -> IssuerKeyRecord | None:
        """The issuer's active key for the first of ``algorithms`` it has one for."""
        records = session.scalars(
            select(IssuerKeyRecord).where(
                IssuerKeyRecord.issuer_id == issuer.id, IssuerKeyRecord.state == "active"
            )
        ).all()
        by_algorithm = {r.algorithm: r for r in records}
        return next((by_algorithm[a] for a in algorithms if a in by_algorithm), None)

    def _active_signing_key(
        self, session: Session, issuer: IssuerRecord, algorithms: tuple[str, ...] = ("Ed25519",)
    ) -> IssuerSigningKey:
        record = self._active_key_record(session, issuer, algorithms)
        if record is None:
            wanted = " or ".join(algorithms)
            raise KeyProblem(
                f"The issuer {issuer.slug!r} has no active {wanted} key: add one with "
                f"`badgebridge keys new --issuer {issuer.slug} --algorithm {algorithms[0]}`."
            )
        cache_key = (record.id, record.key_id)
        cached = self._signing_keys.get(cache_key)
        if cached is not None:
            return cached
        signing = IssuerSigningKey.from_encrypted(
            record.encrypted_private_key,
            key_id=f"{issuer.slug}/{record.key_id}",
            kek=self.kek,
            verification_method=f"{self.issuer_profile_id(issuer.slug)}#{record.key_id}",
        )
        with self._lock:
            self._signing_keys[cache_key] = signing
        return signing

    # -- issuing --------------------------------------------------------------------------------

    def issue(
        self,
        slug: str,
        achievement: dict[str, Any],
        recipient_email: str,
        *,
        proof_format: str | None = None,
        valid_until: datetime | None = None,
        name: str | None = None,
        status_purpose: str = "revocation",
    ) -> IssuedCredential:
        """Sign an OpenBadgeCredential for ``recipient_email`` (hashed in the credential) and
        store it with a fresh status list slot.

        ``status_purpose`` is ``revocation`` (permanent, the default) or ``suspension``
        (reversible): OB 3.0 allows one ``credentialStatus`` entry per credential.
        """
        if not isinstance(achievement, dict):
            raise InvalidInput("The achievement must be a JSON object.")
        achievement = copy.deepcopy(achievement)
        achievement.setdefault("id", f"{self.settings.base_url}/achievements/{uuid.uuid4()}")
        achievement.setdefault("type", ["Achievement"])
        if not isinstance(achievement.get("name"), str) or not achievement["name"].strip():
            raise InvalidInput("The achievement needs a name.")
        if "criteria" not in achievement:
            raise InvalidInput("The achievement needs criteria (e.g. {'narrative': '...'}).")
        if not isinstance(achievement.get("description"), str) or not achievement["description"]:
            raise InvalidInput("The achievement needs a description (Open Badges 3.0 requires it).")
        if not recipient_email or "@" not in recipient_email:
            raise InvalidInput("The recipient must be an email address.")
        if status_purpose not in STATUS_PURPOSES:
            raise InvalidInput("The status purpose is revocation or suspension.")
        with self.transaction() as session:
            issuer = self._issuer(session, slug)
            record = self.issue_in_session(
                session,
                issuer,
                achievement,
                recipient_email=recipient_email,
                proof_format=proof_format,
                valid_until=valid_until,
                name=name,
                status_purpose=status_purpose,
            )
            return IssuedCredential(record.credential_id, record.proof_format, record.document)

    def issue_in_session(
        self,
        session: Session,
        issuer: IssuerRecord,
        achievement: dict[str, Any],
        *,
        recipient_email: str,
        proof_format: str | None = None,
        valid_until: datetime | None = None,
        name: str | None = None,
        status_purpose: str = "revocation",
        learner_id: int | None = None,
        achievement_id: int | None = None,
        evidence: list[dict[str, Any]] | None = None,
    ) -> CredentialRecord:
        """Sign and store a credential inside the caller's transaction (awarding uses this, so
        the award, the credential and its follow-ups commit together or not at all)."""
        achievement = copy.deepcopy(achievement)
        salt = new_salt()
        fmt = proof_format or issuer.proof_format
        if fmt not in PROOF_FORMATS:
            raise InvalidInput(f"Unknown proof format {fmt!r}: use rdfc, jcs or jwt.")
        # Data Integrity eddsa proofs need Ed25519; JWTs prefer RSA (widest verifier support).
        algorithms = JWT_KEY_PREFERENCE if fmt == "jwt" else ("Ed25519",)
        signing = self._active_signing_key(session, issuer, algorithms)
        status_list, index = self._allocate_status(session, issuer, status_purpose)
        now = utcnow()
        credential_id = self.credential_url(str(uuid.uuid4()))
        issuer_obj: dict[str, Any] = {
            "id": self.issuer_profile_id(issuer.slug),
            "type": ["Profile"],
            "name": issuer.name,
        }
        if issuer.url:
            issuer_obj["url"] = issuer.url
        if issuer.email:
            issuer_obj["email"] = issuer.email
        credential: dict[str, Any] = {
            "@context": list(OB3_CONTEXTS),
            "id": credential_id,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": name or achievement["name"],
            "issuer": issuer_obj,
            "validFrom": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if valid_until is not None:
            credential["validUntil"] = valid_until.strftime("%Y-%m-%dT%H:%M:%SZ")
        credential["credentialSubject"] = {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": hash_identity(recipient_email, salt),
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": salt,
                }
            ],
            "achievement": achievement,
        }
        if evidence:
            credential["evidence"] = evidence
        credential["credentialStatus"] = status_entry(
            self.status_list_url(status_list.id), index, status_purpose
        )
        # Extension contexts the achievement needs (e.g. EU micro-credential terms).
        for context in achievement.pop("@context", []) if isinstance(achievement, dict) else []:
            if context not in credential["@context"]:
                credential["@context"].append(context)
        problems = validate_ob3_schema(credential)
        if problems:
            raise InvalidInput(
                "The credential would not be a valid Open Badge: "
                + "; ".join(str(p) for p in problems[:5])
            )
        text = self._sign(credential, signing, fmt)
        record = CredentialRecord(
            credential_id=credential_id,
            issuer_id=issuer.id,
            recipient=recipient_email.strip().lower(),
            achievement_name=str(achievement["name"])[:300],
            proof_format=fmt,
            document=text,
            status_purpose=status_purpose,
            status_list_id=status_list.id,
            status_index=index,
            issued_at=now,
            learner_id=learner_id,
            achievement_id=achievement_id,
        )
        session.add(record)
        session.flush()
        return record

    @staticmethod
    def _sign(credential: dict[str, Any], signing: IssuerSigningKey, fmt: str) -> str:
        if fmt == "jwt":
            from core.proofs.vc_jwt import encode_vc_jwt

            # kid for verifiers that resolve our profile, jwk for those (like the 1EdTech
            # validator) that expect the key itself; ours confirms one against the other.
            return encode_vc_jwt(credential, signing, key_reference="kid+jwk")
        from core.proofs.data_integrity import create_proof

        signed = create_proof(credential, signing, cryptosuite=CRYPTOSUITES[fmt])
        return json.dumps(signed, ensure_ascii=False, indent=2)

    def _allocate_status(
        self, session: Session, issuer: IssuerRecord, purpose: str
    ) -> tuple[StatusListRecord, int]:
        """The next free index in the issuer's current list for ``purpose``.

        The issuer row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite write transactions
        are ``BEGIN IMMEDIATE``) so concurrent awards never share an index nor both open a new
        list. A full list is followed by a new one.
        """
        session.execute(
            select(IssuerRecord.id).where(IssuerRecord.id == issuer.id).with_for_update()
        )
        current = session.scalar(
            select(StatusListRecord)
            .where(StatusListRecord.issuer_id == issuer.id, StatusListRecord.purpose == purpose)
            .order_by(StatusListRecord.id.desc())
            .limit(1)
            .with_for_update()
        )
        if current is None or current.next_index >= current.size_bits:
            current = self._new_status_list(session, issuer, purpose)
        index = current.next_index
        current.next_index = index + 1
        return current, index

    @staticmethod
    def _new_status_list(session: Session, issuer: IssuerRecord, purpose: str) -> StatusListRecord:
        record = StatusListRecord(
            issuer_id=issuer.id,
            purpose=purpose,
            size_bits=MIN_BITSTRING_BITS,
            next_index=0,
            bits=bytes(MIN_BITSTRING_BITS // 8),
            version=0,
            updated_at=utcnow(),
        )
        session.add(record)
        session.flush()
        return record

    def get_credential(self, credential_id: str) -> IssuedCredential:
        with self.sessions() as session:
            record = self._credential(session, credential_id)
            return IssuedCredential(record.credential_id, record.proof_format, record.document)

    @staticmethod
    def _credential(session: Session, credential_id: str) -> CredentialRecord:
        record = session.scalar(
            select(CredentialRecord).where(CredentialRecord.credential_id == credential_id)
        )
        if record is None:
            raise NotFound(f"No credential {credential_id!r} was issued here.")
        return record

    # -- revocation and suspension --------------------------------------------------------------

    def set_status(self, credential_id: str, purpose: str, value: bool) -> None:
        """Revoke (permanent), suspend or unsuspend a credential; idempotent."""
        if purpose not in STATUS_PURPOSES:
            raise InvalidInput("The status purpose is revocation or suspension.")
        if purpose == "revocation" and not value:
            raise InvalidInput("A revocation is permanent and cannot be undone.")
        with self.transaction() as session:
            record = self._credential(session, credential_id)
            if record.status_purpose != purpose:
                action = "revoked" if purpose == "revocation" else "suspended"
                raise InvalidInput(
                    f"This credential was issued as {record.status_purpose}-only: it cannot be "
                    f"{action}. Choose the status purpose when issuing."
                )
            status_list = session.scalar(
                select(StatusListRecord)
                .where(StatusListRecord.id == record.status_list_id)
                .with_for_update()
            )
            if status_list is None:  # pragma: no cover - foreign key guarantees it
                raise NotFound("The credential's status list is missing.")
            bits = Bitstring.from_bytes(status_list.bits)
            if bits.get(record.status_index) == value:
                return
            bits.set(record.status_index, value)
            status_list.bits = bits.to_bytes()
            status_list.version += 1
            status_list.updated_at = utcnow()
            if purpose == "revocation":
                record.revoked_at = utcnow()
            else:
                record.suspended_at = utcnow() if value else None

    def revoke(self, credential_id: str) -> None:
        """Revoke a credential for good."""
        self.set_status(credential_id, "revocation", True)

    def status_list_document(self, list_id: int) -> dict[str, Any]:
        """The signed BitstringStatusListCredential published at :meth:`status_list_url`."""
        with self.sessions() as session:
            record = session.get(StatusListRecord, list_id)
            if record is None:
                raise NotFound(f"No status list {list_id}.")
            issuer = session.get(IssuerRecord, record.issuer_id)
            if issuer is None:  # pragma: no cover - foreign key guarantees it
                raise NotFound("The status list's issuer is missing.")
            cached = self._status_cache.get(list_id)
            if cached is not None and cached[0] == record.version:
                return cached[1]
            unsigned = status_list_credential(
                self.status_list_url(record.id),
                self.issuer_profile_id(issuer.slug),
                record.purpose,
                Bitstring.from_bytes(record.bits),
                record.updated_at,
            )
            signing = self._active_signing_key(session, issuer)
            from core.proofs.data_integrity import create_proof

            signed = create_proof(unsigned, signing, cryptosuite="eddsa-rdfc-2022")
            self._status_cache[list_id] = (record.version, signed)
            return signed

    # -- verification ---------------------------------------------------------------------------

    def status_list_source(self) -> Callable[[str], StatusListDocument]:
        """Status lists: ours from the database, others through the guarded fetcher."""
        prefix = f"{self.settings.base_url}/status/"

        def source(url: str) -> StatusListDocument:
            if url.startswith(prefix) and url[len(prefix) :].isdigit():
                # Our own list, read from the database: trusted as our keys are.
                return StatusListDocument(self.status_list_document(int(url[len(prefix) :])), True)
            if self.fetcher is None:
                raise BadgeBridgeError(
                    f"Cannot fetch the status list {url}: network access is off."
                )
            cached = self._remote_status_lists.get(url)
            if cached is None:
                fetched = self.fetcher.fetch(
                    url, accept="application/vc+ld+json, application/vc+jwt, application/json"
                )
                text = fetched.body.decode("utf-8", errors="replace").strip()
                content = parse_json_object(text) if text.startswith("{") else text
                cached = {"content": content}
                self._remote_status_lists.put(url, cached)
            # Cached or not, a remote list's proof is verified again on every use.
            return StatusListDocument(cached["content"], False)

        return source

    def verify(
        self,
        data: bytes | str,
        *,
        recipient: str | None = None,
        now: datetime | None = None,
    ) -> VerificationReport:
        """Verify any badge (JSON, JWT, baked image, URL) and return the full report.

        A URL of a credential issued here is read from the database, not fetched over HTTP,
        and only when its holder shares it: a private credential is not found by its URL,
        exactly as an unknown one (verifying it would show what its holder keeps private).
        The credential itself, when the caller passes it, is verified whatever its setting.
        """
        if isinstance(data, str) and data.strip().startswith(self.credential_url("")):
            address = data.strip()
            shared = self.learner_badges.shared_credential_text(address)
            if shared is None:
                return credential_not_found_report(address)
            data = shared
        options = VerificationOptions(
            resolver=self.resolver,
            fetcher=self.fetcher,
            status_list_source=self.status_list_source(),
            recipient=recipient,
            now=now,
        )
        return verify_credential(data, options)

    @functools.cached_property
    def held_credentials(self) -> HeldCredentials:
        """Credentials users keep here through the Open Badges API (the backpack)."""
        return HeldCredentials(self)


def parse_achievement(text: str) -> dict[str, Any]:
    """An achievement from JSON text (the CLI's ``issue`` input)."""
    return parse_json_object(text)


__all__ = [
    "BadgeService",
    "IssuedCredential",
    "IssuerView",
    "KeyView",
    "load_key_encryption_key",
    "parse_achievement",
]
