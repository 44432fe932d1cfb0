"""The Cities of Learning catalogue: organisations and their quality label, achievements (badge
classes) aligned to competence frameworks and ESCO with EU micro-credential elements, activities
on the map, playlists (learning pathways) and endorsements.

Everything here is reached as ``service.catalogue``. Writes run in one ``service.transaction()``
each and validate first: bad input raises :class:`InvalidInput` (unknown records
:class:`NotFound`) and nothing is written. Callers get frozen views, never ORM rows.

EU micro-credential elements go where Open Badges 3.0 has a field (ECTS in ``creditsAvailable``,
the language in ``inLanguage``, EQF/NLQF levels as ``alignment`` entries) and the rest into
``microCredential``, defined by this project's JSON-LD context :data:`MICROCREDENTIAL_CONTEXT`
(bundled in ``core/contexts/badgebridge/``; protected terms, no ``@vocab``, every term an IRI under
:data:`MICROCREDENTIAL_NAMESPACE`), so those values are signed like every other claim.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from sqlalchemy import String, cast, delete, func, or_, select
from sqlalchemy.orm import Session, aliased, object_session
from sqlalchemy.sql.elements import ColumnElement

from core import frameworks
from core.errors import InvalidInput, NotFound
from core.frameworks import SkillView
from core.schema_validation import validate_ob3_schema
from core.service import JWT_KEY_PREFERENCE, OB3_CONTEXTS
from core.storage import (
    AchievementRecord,
    ActivityRecord,
    EndorsementRecord,
    IssuerRecord,
    PlaylistRecord,
    PlaylistStepRecord,
    utcnow,
)

if TYPE_CHECKING:
    from core.service import BadgeService

MICROCREDENTIAL_CONTEXT: Final = (
    "https://badgebridge.citiesoflearning.nl/contexts/microcredential-v1.jsonld"
)
MICROCREDENTIAL_NAMESPACE: Final = "https://badgebridge.citiesoflearning.nl/ns/microcredential#"

#: OB 3.0 AchievementType values; others must be ``ext:`` + letters, digits, ``.`` or ``_``.
ACHIEVEMENT_TYPES: Final = (
    "Achievement",
    "ApprenticeshipCertificate",
    "Assessment",
    "Assignment",
    "AssociateDegree",
    "Award",
    "Badge",
    "BachelorDegree",
    "Certificate",
    "CertificateOfCompletion",
    "Certification",
    "CommunityService",
    "Competency",
    "Course",
    "CoCurricular",
    "Degree",
    "Diploma",
    "DoctoralDegree",
    "Fieldwork",
    "GeneralEducationDevelopment",
    "JourneymanCertificate",
    "LearningProgram",
    "License",
    "Membership",
    "ProfessionalDoctorate",
    "QualityAssuranceCredential",
    "MasterCertificate",
    "MasterDegree",
    "MicroCredential",
    "ResearchDoctorate",
    "SecondarySchoolDiploma",
)
_EXT_TERM: Final = re.compile(r"^ext:[A-Za-z0-9._]{1,60}$")
#: How completion of an activity is confirmed.
COMPLETION_MODES: Final = (
    "organiser_confirms",
    "evidence_organiser",
    "evidence_peer",
    "attendance_code",
    "lms_completion",
)
#: Annex I "form of participation": online, onsite or blended, volunteering, work experience.
PARTICIPATION_FORMS: Final = ("online", "onsite", "blended", "volunteering", "work_experience")
#: Annex I (optional) "supervision and identity verification during assessment".
SUPERVISION_KINDS: Final = (
    "unsupervised_no_identity_verification",
    "supervised_no_identity_verification",
    "supervised_online",
    "onsite_identity_verification",
)
#: Annex I (optional) "integration/stackability options".
STACKABILITY_KINDS: Final = ("stand_alone", "stackable")
PLAYLIST_RULES: Final = ("all", "n_of_m")
ENDORSEMENT_TARGETS: Final = ("achievement", "issuer")

NAME_MAX: Final = 300
TEXT_MAX: Final = 10_000
SHORT_TEXT_MAX: Final = 1_000
COMMENT_MAX: Final = 5_000
URL_MAX: Final = 2_000
CITY_MAX: Final = 100
TAG_MAX: Final = 60
TAGS_MAX: Final = 20
SKILLS_MAX: Final = 50
STEPS_MAX: Final = 100
EXTERNAL_ID_MAX: Final = 2_000
WORKLOAD_HOURS_MAX: Final = 10_000
ECTS_MAX: Final = 300
ATTENDANCE_CODE_MIN: Final = 4
ATTENDANCE_CODE_MAX: Final = 128
#: PBKDF2 rounds for attendance codes: short codes gain little from more, and they are
#: checked on every scan.
_ATTENDANCE_ROUNDS: Final = 50_000
_ATTENDANCE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
_LANGUAGE: Final = re.compile(r"^[a-z]{2,4}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EARLIEST_LABEL: Final = date(2000, 1, 1)


# --------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationView:
    """An issuing organisation as the catalogue shows it, with its Quality Label."""

    slug: str
    name: str
    profile_id: str
    url: str | None
    email: str | None
    description: str | None
    image: str | None
    proof_format: str
    #: Cities of Learning Quality Label held since this date; None when not held
    quality_label_since: date | None

    @property
    def has_quality_label(self) -> bool:
        """Whether the organisation holds the Cities of Learning Quality Label."""
        return self.quality_label_since is not None


@dataclass(frozen=True)
class MicroCredentialElements:
    """The EU standard elements of a micro-credential (Council Recommendation 2022/C 243/02,
    Annex I) that describe the achievement rather than the learner or the issuing.

    Pass an instance (or a mapping with these keys) as ``microcredential``; values are checked
    and normalised when the achievement is saved.
    """

    #: notional workload in hours
    workload_hours: float | None = None
    #: ECTS credits (written to ``creditsAvailable`` and, with its unit, ``ectsCredits``)
    ects: float | None = None
    #: EQF level 1-8
    eqf_level: int | None = None
    #: NLQF level 1-8, or "entry" (Entreeniveau)
    nlqf_level: int | str | None = None
    #: type of assessment, in words
    assessment_type: str | None = None
    #: one of :data:`PARTICIPATION_FORMS`
    participation_form: str | None = None
    #: type of quality assurance underpinning the micro-credential, in words
    quality_assurance: str | None = None
    #: BCP 47 language code of the learning activity ("nl", "en-GB")
    language: str | None = None
    #: prerequisites to enrol, in words
    prerequisites: str | None = None
    #: one of :data:`SUPERVISION_KINDS`
    supervision: str | None = None
    #: one of :data:`STACKABILITY_KINDS`
    stackability: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> MicroCredentialElements:
        """Build from a mapping with the field names as keys (unknown keys are refused)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in names)
        if unknown:
            raise InvalidInput(
                f"Unknown micro-credential element(s): {', '.join(unknown)}; "
                f"known: {', '.join(sorted(names))}."
            )
        return cls(**{k: v for k, v in data.items() if v is not None and v != ""})

    def to_record(self) -> dict[str, Any]:
        """The set values as stored (field name -> value)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class AchievementView:
    """A badge class in the catalogue."""

    public_id: str
    #: the achievement's id in credentials: ``{base_url}/achievements/{public_id}``
    id: str
    issuer_slug: str
    issuer_name: str
    name: str
    description: str
    criteria_narrative: str | None
    criteria_url: str | None
    image: str | None
    achievement_type: str
    tags: tuple[str, ...]
    skills: tuple[SkillView, ...]
    esco_skills: tuple[str, ...]
    microcredential: MicroCredentialElements | None
    allows_repeats: bool
    archived: bool
    created_at: datetime

    @property
    def skill_ids(self) -> tuple[str, ...]:
        """The stable ids of the aligned competences."""
        return tuple(s.id for s in self.skills)


@dataclass(frozen=True)
class ActivityView:
    """A learning opportunity: where, when, which skills, which badge and how completion is
    confirmed."""

    public_id: str
    issuer_slug: str
    issuer_name: str
    issuer_quality_label_since: date | None
    achievement_public_id: str | None
    achievement_name: str | None
    title: str
    description: str
    city: str | None
    location_name: str | None
    latitude: float | None
    longitude: float | None
    online: bool
    starts_at: datetime | None
    ends_at: datetime | None
    #: stable framework skill ids and ESCO skill URIs
    skills: tuple[str, ...]
    completion_mode: str
    has_attendance_code: bool
    archived: bool
    created_at: datetime


@dataclass(frozen=True)
class PlaylistStepSpec:
    """One step of a new playlist: exactly one of an activity, a catalogue achievement, or an
    external achievement id (another issuer's achievement URI, an LMS module id)."""

    activity_public_id: str | None = None
    achievement_public_id: str | None = None
    external_achievement_id: str | None = None
    #: shown to learners; defaults to the activity's title or the achievement's name
    title: str | None = None

    @classmethod
    def of_activity(cls, public_id: str, title: str | None = None) -> PlaylistStepSpec:
        """A step completed by earning the activity's badge."""
        return cls(activity_public_id=public_id, title=title)

    @classmethod
    def of_achievement(cls, public_id: str, title: str | None = None) -> PlaylistStepSpec:
        """A step completed by holding a catalogue achievement (public id or URL)."""
        return cls(achievement_public_id=public_id, title=title)

    @classmethod
    def of_external(cls, achievement_id: str, title: str | None = None) -> PlaylistStepSpec:
        """A step completed by holding an achievement known only by its id elsewhere."""
        return cls(external_achievement_id=achievement_id, title=title)


@dataclass(frozen=True)
class PlaylistStepView:
    """One step of a playlist and what completes it."""

    position: int
    #: "activity" | "achievement" | "external"
    kind: str
    title: str
    activity_public_id: str | None
    #: the catalogue achievement that completes the step (an activity's badge, or the step's)
    achievement_public_id: str | None
    achievement_url: str | None
    external_achievement_id: str | None

    def completed_by(self, held: Iterable[str]) -> bool:
        """Whether holding the achievements ``held`` (public ids or URIs) completes the step."""
        wanted = {
            v
            for v in (
                self.achievement_public_id,
                self.achievement_url,
                self.external_achievement_id,
            )
            if v
        }
        return any(isinstance(h, str) and h.strip() in wanted for h in held)


@dataclass(frozen=True)
class PlaylistView:
    """A learning pathway: ordered steps and the rule that earns its badge."""

    public_id: str
    issuer_slug: str
    issuer_name: str
    title: str
    description: str
    achievement_public_id: str
    achievement_url: str
    achievement_name: str
    #: "all" or "n_of_m"
    rule: str
    #: steps needed: all of them, or N for "n_of_m"
    required_count: int
    steps: tuple[PlaylistStepView, ...]
    archived: bool
    created_at: datetime


@dataclass(frozen=True)
class StepProgress:
    """Whether one step is done."""

    position: int
    title: str
    done: bool


@dataclass(frozen=True)
class PlaylistProgress:
    """A learner's progress on a playlist: which steps are done and whether the rule is met."""

    playlist_public_id: str
    #: the playlist badge to award when ``met``
    achievement_public_id: str
    rule: str
    required_count: int
    completed_count: int
    steps: tuple[StepProgress, ...]
    met: bool

    @property
    def remaining(self) -> int:
        """Steps still needed to meet the rule (0 once met)."""
        return max(0, self.required_count - self.completed_count)


@dataclass(frozen=True)
class EndorsementView:
    """A signed EndorsementCredential by one organisation about an achievement or another."""

    id: int
    credential_id: str
    endorser_slug: str
    endorser_name: str
    #: "achievement" | "issuer"
    target_kind: str
    #: the achievement's public id or the issuer's slug
    target_ref: str
    #: the endorsed achievement's or profile's id (the credentialSubject id)
    target_url: str
    comment: str
    #: "jwt", or the Data Integrity format ("rdfc"/"jcs") of a JSON credential
    proof_format: str
    #: the signed credential: JSON text or a compact JWT
    text: str
    created_at: datetime

    @property
    def credential(self) -> dict[str, Any] | str:
        """The signed credential as a JSON object, or the JWT text."""
        return self.text if self.proof_format == "jwt" else dict(json.loads(self.text))


def playlist_progress_of(playlist: PlaylistView, held: Iterable[str]) -> PlaylistProgress:
    """Progress on ``playlist`` for someone holding ``held`` (achievement public ids, their
    URLs, or external achievement ids). Pure: no database, no side effects."""
    held_set = frozenset(h.strip() for h in held if isinstance(h, str))
    steps = tuple(
        StepProgress(step.position, step.title, step.completed_by(held_set))
        for step in playlist.steps
    )
    completed = sum(1 for s in steps if s.done)
    return PlaylistProgress(
        playlist_public_id=playlist.public_id,
        achievement_public_id=playlist.achievement_public_id,
        rule=playlist.rule,
        required_count=playlist.required_count,
        completed_count=completed,
        steps=steps,
        met=completed >= playlist.required_count,
    )


def generate_attendance_code(length: int = 8) -> str:
    """A random attendance code people can type (no 0/O or 1/I)."""
    if not ATTENDANCE_CODE_MIN <= length <= 32:
        raise InvalidInput(f"An attendance code has {ATTENDANCE_CODE_MIN}-32 characters.")
    return "".join(secrets.choice(_ATTENDANCE_ALPHABET) for _ in range(length))


# --------------------------------------------------------------------------------------------
# Input checks (each returns the normalised value or raises InvalidInput)
# --------------------------------------------------------------------------------------------


def _text(
    value: object, what: str, *, maximum: int, required: bool = False, single_line: bool = False
) -> str | None:
    if value is None:
        if required:
            raise InvalidInput(f"The {what} is required.")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be text.")
    value = value.strip()
    if not value:
        if required:
            raise InvalidInput(f"The {what} is required.")
        return None
    if len(value) > maximum:
        raise InvalidInput(f"The {what} is {len(value)} characters long; at most {maximum}.")
    if _CONTROL.search(value) or (single_line and ("\n" in value or "\r" in value)):
        raise InvalidInput(f"The {what} contains control characters.")
    return value


def _required_text(value: object, what: str, *, maximum: int, single_line: bool = False) -> str:
    text = _text(value, what, maximum=maximum, required=True, single_line=single_line)
    assert text is not None  # required=True never returns None
    return text


def _url(value: object, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be a URL.")
    value = value.strip()
    if len(value) > URL_MAX:
        raise InvalidInput(f"The {what} is longer than {URL_MAX} characters.")
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in value)
        or _CONTROL.search(value)
    ):
        raise InvalidInput(f"The {what} must be an http(s) URL, e.g. https://example.org/page.")
    return value


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be true or false.")
    return value


def _number(value: object, what: str, *, maximum: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"The {what} must be a number.")
    if not math.isfinite(value) or not 0 < value <= maximum:
        raise InvalidInput(f"The {what} must be more than 0 and at most {maximum:g}.")
    # 28.0 is stored and signed as 28 (an xsd:integer, not a double).
    return int(value) if float(value).is_integer() else float(value)


def _coordinate(value: object, what: str, limit: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"The {what} must be a number.")
    if not -limit <= value <= limit:
        raise InvalidInput(f"The {what} must be between -{limit:g} and {limit:g}.")
    return float(value)


def _aware(value: object, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInput(f"The {what} must be a date and time.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"The {what} must include a time zone (e.g. 2025-05-01T14:00+02:00).")
    return value.astimezone(UTC).replace(microsecond=0)


def _choice(value: object, what: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInput(f"Unknown {what} {value!r}; use one of: {', '.join(allowed)}.")
    return value


def _language(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("The language must be a language code such as 'nl' or 'en-GB'.")
    # Normalise the usual casing (NL-nl -> nl-NL, en-latn -> en-Latn) before checking.
    parts = value.strip().replace("_", "-").split("-")
    normalised = [parts[0].lower()]
    for part in parts[1:]:
        normalised.append(part.title() if len(part) == 4 else part.upper())
    code = "-".join(normalised)
    if not _LANGUAGE.match(code):
        raise InvalidInput(
            f"{value!r} is not a language code Open Badges accepts (BCP 47: 'nl', 'en-GB')."
        )
    return code


def _level(value: object, what: str, *, entry: bool) -> int | str | None:
    if value is None or value == "":
        return None
    if entry and isinstance(value, str) and value.strip().lower() in ("entry", "entree"):
        return frameworks.NLQF_ENTRY_LEVEL
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 8:
        extra = " or 'entry'" if entry else ""
        raise InvalidInput(f"The {what} must be a level from 1 to 8{extra}.")
    return value


def _playlist_steps(steps: object) -> Sequence[PlaylistStepSpec]:
    """A playlist's steps, checked for shape: a non-empty list of at most ``STEPS_MAX`` specs."""
    if isinstance(steps, str) or not isinstance(steps, Sequence):
        raise InvalidInput("Give the playlist's steps as a list.")
    if not steps:
        raise InvalidInput("A playlist needs at least one step.")
    if len(steps) > STEPS_MAX:
        raise InvalidInput(f"A playlist has at most {STEPS_MAX} steps.")
    for spec in steps:
        if not isinstance(spec, PlaylistStepSpec):
            raise InvalidInput("Each playlist step must be a PlaylistStepSpec.")
    return steps


def _required_count(rule: str, required_count: object, step_count: int) -> int | None:
    """The number of steps the rule needs as stored: None for ``all``, 1..``step_count`` for
    ``n_of_m``."""
    if rule == "all":
        if required_count is not None:
            raise InvalidInput("A number of required steps only applies to the 'n_of_m' rule.")
        return None
    if (
        isinstance(required_count, bool)
        or not isinstance(required_count, int)
        or not 1 <= required_count <= step_count
    ):
        raise InvalidInput(
            f"The 'n_of_m' rule needs a number of required steps from 1 to {step_count}."
        )
    return required_count


def _microcredential(value: object) -> MicroCredentialElements | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = MicroCredentialElements.from_mapping(value)
    if not isinstance(value, MicroCredentialElements):
        raise InvalidInput("The micro-credential elements must be given as a mapping.")
    eqf = _level(value.eqf_level, "EQF level", entry=False)
    checked = MicroCredentialElements(
        workload_hours=_number(value.workload_hours, "workload", maximum=WORKLOAD_HOURS_MAX),
        ects=_number(value.ects, "number of ECTS credits", maximum=ECTS_MAX),
        eqf_level=eqf if isinstance(eqf, int) else None,
        nlqf_level=_level(value.nlqf_level, "NLQF level", entry=True),
        assessment_type=_text(value.assessment_type, "type of assessment", maximum=SHORT_TEXT_MAX),
        participation_form=(
            None
            if value.participation_form in (None, "")
            else _choice(value.participation_form, "form of participation", PARTICIPATION_FORMS)
        ),
        quality_assurance=_text(
            value.quality_assurance, "quality assurance", maximum=SHORT_TEXT_MAX
        ),
        language=_language(value.language),
        prerequisites=_text(value.prerequisites, "prerequisites", maximum=SHORT_TEXT_MAX),
        supervision=(
            None
            if value.supervision in (None, "")
            else _choice(value.supervision, "supervision", SUPERVISION_KINDS)
        ),
        stackability=(
            None
            if value.stackability in (None, "")
            else _choice(value.stackability, "stackability", STACKABILITY_KINDS)
        ),
    )
    return checked if checked.to_record() else None


def _tags(values: object) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInput("Give the tags as a list of words.")
    tags: list[str] = []
    for value in values:
        tag = _required_text(value, "tag", maximum=TAG_MAX, single_line=True)
        if tag not in tags:
            tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise InvalidInput(f"At most {TAGS_MAX} tags.")
    return tags


def _achievement_type(value: object) -> str:
    if isinstance(value, str) and (value in ACHIEVEMENT_TYPES or _EXT_TERM.match(value)):
        return value
    raise InvalidInput(
        f"Unknown achievement type {value!r}: use an Open Badges 3.0 type (Badge, Course, "
        "MicroCredential, Competency, ...) or 'ext:' followed by a name."
    )


def _skill_list(values: object, *, allow_esco: bool) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInput("Give the skills as a list of skill ids.")
    checked = list(frameworks.validate_skill_ids(values, allow_esco=allow_esco))
    if len(checked) > SKILLS_MAX:
        raise InvalidInput(f"At most {SKILLS_MAX} skills.")
    return checked


def _esco_list(values: object) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInput("Give the ESCO skills as a list of URIs.")
    checked = list(frameworks.validate_esco_skill_uris(values))
    if len(checked) > SKILLS_MAX:
        raise InvalidInput(f"At most {SKILLS_MAX} ESCO skills.")
    return checked


def _normalised_code(code: str) -> str:
    # Codes are read aloud and typed from a screen: case, spaces and dashes do not matter.
    return re.sub(r"[\s-]+", "", code).upper()


def _hash_attendance_code(code: object) -> str:
    if not isinstance(code, str):
        raise InvalidInput("The attendance code must be text.")
    normalised = _normalised_code(code)
    if not ATTENDANCE_CODE_MIN <= len(normalised) <= ATTENDANCE_CODE_MAX or _CONTROL.search(
        normalised
    ):
        raise InvalidInput(
            f"An attendance code has {ATTENDANCE_CODE_MIN}-{ATTENDANCE_CODE_MAX} characters "
            "(spaces and dashes are ignored)."
        )
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", normalised.encode(), salt, _ATTENDANCE_ROUNDS)
    encode = base64.urlsafe_b64encode
    return f"pbkdf2_sha256${_ATTENDANCE_ROUNDS}${encode(salt).decode()}${encode(digest).decode()}"


def _attendance_code_matches(stored: str, code: str) -> bool:
    try:
        scheme, rounds, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.pbkdf2_hmac(
            "sha256", _normalised_code(code).encode(), base64.urlsafe_b64decode(salt), int(rounds)
        )
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


def _like_fragment(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _format_of(text: str) -> str:
    if not text.lstrip().startswith("{"):
        return "jwt"
    proof = json.loads(text).get("proof")
    suite = proof.get("cryptosuite") if isinstance(proof, dict) else None
    return "jcs" if suite == "eddsa-jcs-2022" else "rdfc"


_ACHIEVEMENT_FIELDS: Final = (
    "name",
    "description",
    "criteria_narrative",
    "criteria_url",
    "image",
    "achievement_type",
    "tags",
    "skills",
    "esco_skills",
    "microcredential",
    "allows_repeats",
)
_ACTIVITY_FIELDS: Final = (
    "title",
    "description",
    "achievement_public_id",
    "city",
    "location_name",
    "latitude",
    "longitude",
    "online",
    "starts_at",
    "ends_at",
    "skills",
    "completion_mode",
    "attendance_code",
    "archived",
)


def _achievement_values(given: Mapping[str, Any]) -> dict[str, Any]:
    """Column values for an achievement from the full set of fields, checked."""
    narrative = _text(given.get("criteria_narrative"), "criteria", maximum=TEXT_MAX)
    criteria_url = _url(given.get("criteria_url"), "criteria URL")
    if narrative is None and criteria_url is None:
        raise InvalidInput(
            "An achievement needs criteria: say how it is earned, or link a page that does."
        )
    microcredential = _microcredential(given.get("microcredential"))
    return {
        "name": _required_text(given.get("name"), "name", maximum=NAME_MAX, single_line=True),
        "description": _required_text(given.get("description"), "description", maximum=TEXT_MAX),
        "criteria_narrative": narrative,
        "criteria_url": criteria_url,
        "image": _url(given.get("image"), "image URL"),
        "achievement_type": _achievement_type(given.get("achievement_type", "Badge")),
        "tags": _tags(given.get("tags", ())),
        "skills": _skill_list(given.get("skills", ()), allow_esco=False),
        "esco_skills": _esco_list(given.get("esco_skills", ())),
        "microcredential": {} if microcredential is None else microcredential.to_record(),
        "allows_repeats": _bool(given.get("allows_repeats", False), "allows_repeats"),
    }


def _unknown_changes(changes: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(k for k in changes if k not in allowed)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(unknown)}; changeable: {', '.join(allowed)}.")


# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------


def check_quality_label_date(since: date) -> None:
    """Refuse (:class:`InvalidInput`) a Quality Label date that is not a plain date, lies in
    the future or before the label existed. Forms call it before they write anything."""
    if isinstance(since, datetime) or not isinstance(since, date):
        raise InvalidInput("The Quality Label date must be a date (without a time).")
    if since > utcnow().date():
        raise InvalidInput("The Quality Label date cannot be in the future.")
    if since < _EARLIEST_LABEL:
        raise InvalidInput(f"The Quality Label date must be after {_EARLIEST_LABEL}.")


class Catalogue:
    """Organisations, achievements, activities, playlists and endorsements (``service.catalogue``)."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    # -- URLs -----------------------------------------------------------------------------------

    def achievement_url(self, public_id: str) -> str:
        """The achievement's id in credentials (and its public page)."""
        return f"{self._service.settings.base_url}/achievements/{public_id}"

    def _public_id_of(self, ref: str) -> str:
        """A public id from a public id or an achievement URL."""
        prefix = self.achievement_url("")
        ref = ref.strip()
        return ref[len(prefix) :] if ref.startswith(prefix) else ref

    # -- organisations --------------------------------------------------------------------------

    def _organisation_view(self, issuer: IssuerRecord) -> OrganisationView:
        return OrganisationView(
            slug=issuer.slug,
            name=issuer.name,
            profile_id=self._service.issuer_profile_id(issuer.slug),
            url=issuer.url,
            email=issuer.email,
            description=issuer.description,
            image=issuer.image,
            proof_format=issuer.proof_format,
            quality_label_since=issuer.quality_label_since,
        )

    def organisation(self, issuer_slug: str) -> OrganisationView:
        """An issuer with its Quality Label; :class:`NotFound` if unknown."""
        with self._service.sessions() as session:
            return self._organisation_view(self._service._issuer(session, issuer_slug))

    def organisations(self) -> list[OrganisationView]:
        """Every issuer, by name."""
        with self._service.sessions() as session:
            rows = session.scalars(select(IssuerRecord).order_by(IssuerRecord.name))
            return [self._organisation_view(r) for r in rows]

    def set_quality_label(self, issuer_slug: str, since: date | None) -> OrganisationView:
        """Record that the issuer holds the Cities of Learning Quality Label since ``since``
        (a date, not in the future), or no longer holds it (None)."""
        if since is not None:
            check_quality_label_date(since)
        with self._service.transaction() as session:
            issuer = self._service._issuer(session, issuer_slug)
            issuer.quality_label_since = since
            return self._organisation_view(issuer)

    # -- achievements ---------------------------------------------------------------------------

    def create_achievement(
        self,
        issuer_slug: str,
        *,
        name: str,
        description: str,
        criteria_narrative: str | None,
        criteria_url: str | None = None,
        image: str | None = None,
        achievement_type: str = "Badge",
        tags: Sequence[str] = (),
        skills: Sequence[str] = (),
        esco_skills: Sequence[str] = (),
        microcredential: MicroCredentialElements | Mapping[str, Any] | None = None,
        allows_repeats: bool = False,
    ) -> AchievementView:
        """Add a badge class. ``skills`` are stable framework ids (checked against the bundled
        frameworks), ``esco_skills`` ESCO skill URIs."""
        values = _achievement_values(
            {
                "name": name,
                "description": description,
                "criteria_narrative": criteria_narrative,
                "criteria_url": criteria_url,
                "image": image,
                "achievement_type": achievement_type,
                "tags": tags,
                "skills": skills,
                "esco_skills": esco_skills,
                "microcredential": microcredential,
                "allows_repeats": allows_repeats,
            }
        )
        with self._service.transaction() as session:
            issuer = self._service._issuer(session, issuer_slug)
            record = AchievementRecord(
                public_id=str(uuid.uuid4()),
                issuer_id=issuer.id,
                archived=False,
                created_at=utcnow(),
                **values,
            )
            session.add(record)
            session.flush()
            return self._achievement_view(record, issuer)

    def update_achievement(self, public_id: str, **changes: Any) -> AchievementView:
        """Change fields of an achievement (the keyword names of :meth:`create_achievement`).
        Credentials already issued keep what they say; new ones carry the change."""
        _unknown_changes(changes, _ACHIEVEMENT_FIELDS)
        with self._service.transaction() as session:
            record = self._achievement_record(session, public_id)
            current: dict[str, Any] = {k: getattr(record, k) for k in _ACHIEVEMENT_FIELDS}
            current["microcredential"] = record.microcredential or None
            current.update(changes)
            for key, value in _achievement_values(current).items():
                if getattr(record, key) != value:
                    setattr(record, key, value)
            issuer = session.get(IssuerRecord, record.issuer_id)
            assert issuer is not None  # foreign key
            return self._achievement_view(record, issuer)

    def archive_achievement(self, public_id: str) -> AchievementView:
        """Take an achievement out of the catalogue (issued credentials stay valid)."""
        with self._service.transaction() as session:
            record = self._achievement_record(session, public_id)
            record.archived = True
            issuer = session.get(IssuerRecord, record.issuer_id)
            assert issuer is not None  # foreign key
            return self._achievement_view(record, issuer)

    def get_achievement(self, public_id: str) -> AchievementView:
        """One achievement by public id or URL; :class:`NotFound` if unknown."""
        with self._service.sessions() as session:
            record = self._achievement_record(session, public_id)
            issuer = session.get(IssuerRecord, record.issuer_id)
            assert issuer is not None  # foreign key
            return self._achievement_view(record, issuer)

    def list_achievements(
        self, issuer_slug: str | None = None, *, include_archived: bool = False
    ) -> list[AchievementView]:
        """Achievements by name, of one issuer or all."""
        with self._service.sessions() as session:
            stmt = select(AchievementRecord, IssuerRecord).join(
                IssuerRecord, AchievementRecord.issuer_id == IssuerRecord.id
            )
            if issuer_slug is not None:
                self._service._issuer(session, issuer_slug)
                stmt = stmt.where(IssuerRecord.slug == issuer_slug)
            if not include_archived:
                stmt = stmt.where(AchievementRecord.archived.is_(False))
            stmt = stmt.order_by(AchievementRecord.name, AchievementRecord.id)
            return [self._achievement_view(a, i) for a, i in session.execute(stmt)]

    def _achievement_record(self, session: Session, ref: str) -> AchievementRecord:
        if not isinstance(ref, str):
            raise InvalidInput("An achievement is named by its public id or URL.")
        public_id = self._public_id_of(ref)
        record = session.scalar(
            select(AchievementRecord).where(AchievementRecord.public_id == public_id)
        )
        if record is None:
            raise NotFound(f"No achievement {ref!r} in the catalogue.")
        return record

    def _achievement_view(self, record: AchievementRecord, issuer: IssuerRecord) -> AchievementView:
        skills = tuple(
            frameworks.skill(s) for s in record.skills or () if frameworks.is_skill_id(s)
        )
        known = {f.name for f in fields(MicroCredentialElements)}
        micro = {k: v for k, v in (record.microcredential or {}).items() if k in known}
        return AchievementView(
            public_id=record.public_id,
            id=self.achievement_url(record.public_id),
            issuer_slug=issuer.slug,
            issuer_name=issuer.name,
            name=record.name,
            description=record.description,
            criteria_narrative=record.criteria_narrative,
            criteria_url=record.criteria_url,
            image=record.image,
            achievement_type=record.achievement_type,
            tags=tuple(record.tags or ()),
            skills=skills,
            esco_skills=tuple(record.esco_skills or ()),
            microcredential=MicroCredentialElements(**micro) if micro else None,
            allows_repeats=record.allows_repeats,
            archived=record.archived,
            created_at=record.created_at,
        )

    def achievement_json(
        self, public_id_or_record: str | AchievementRecord, *, include_endorsements: bool = True
    ) -> dict[str, Any]:
        """The OB 3.0 ``Achievement`` for a credential about this catalogue achievement.

        Alignments for the framework skills, ESCO skills and EQF/NLQF levels; ECTS in
        ``creditsAvailable``, the language in ``inLanguage``; the other EU micro-credential
        elements under ``microCredential``; the signed endorsements of the achievement in
        ``endorsement`` / ``endorsementJwt``. An ``"@context"`` key lists the extra contexts the
        credential must carry (``issue_in_session`` moves it into the credential's @context).

        Given a record, its own session is used (no new connection inside the caller's unit of
        work). Framework data is cached per process, so this costs one query for endorsements.
        """
        if isinstance(public_id_or_record, AchievementRecord):
            record = public_id_or_record
            session = object_session(record)
            if session is not None:
                return self._achievement_document(record, session, include_endorsements)
            with self._service.sessions() as own:
                return self._achievement_document(record, own, include_endorsements)
        with self._service.sessions() as own:
            record = self._achievement_record(own, public_id_or_record)
            return self._achievement_document(record, own, include_endorsements)

    def _achievement_document(
        self, record: AchievementRecord, session: Session, include_endorsements: bool
    ) -> dict[str, Any]:
        criteria: dict[str, Any] = {}
        if record.criteria_url:
            criteria["id"] = record.criteria_url
        if record.criteria_narrative:
            criteria["narrative"] = record.criteria_narrative
        document: dict[str, Any] = {
            "id": self.achievement_url(record.public_id),
            "type": ["Achievement"],
            "achievementType": record.achievement_type,
            "name": record.name,
            "description": record.description,
            "criteria": criteria,
        }
        if record.image:
            document["image"] = {"id": record.image, "type": "Image"}
        if record.tags:
            document["tag"] = list(record.tags)
        alignment = [frameworks.skill_alignment(s) for s in record.skills or ()]
        alignment += [frameworks.esco_alignment(u) for u in record.esco_skills or ()]
        micro = record.microcredential or {}
        if micro.get("eqf_level") is not None:
            alignment.append(frameworks.eqf_level_alignment(micro["eqf_level"]))
        if micro.get("nlqf_level") is not None:
            alignment.append(frameworks.nlqf_level_alignment(micro["nlqf_level"]))
        if alignment:
            document["alignment"] = alignment
        if micro.get("ects") is not None:
            document["creditsAvailable"] = micro["ects"]
        if micro.get("language"):
            document["inLanguage"] = micro["language"]
        extension = self._microcredential_extension(micro)
        if extension:
            document["microCredential"] = extension
            document["@context"] = [MICROCREDENTIAL_CONTEXT]
        if include_endorsements:
            texts = session.scalars(
                select(EndorsementRecord.document)
                .where(
                    EndorsementRecord.target_kind == "achievement",
                    EndorsementRecord.target_id == record.id,
                )
                .order_by(EndorsementRecord.id)
            ).all()
            embedded = [json.loads(t) for t in texts if t.lstrip().startswith("{")]
            jwts = [t for t in texts if not t.lstrip().startswith("{")]
            if embedded:
                document["endorsement"] = embedded
            if jwts:
                document["endorsementJwt"] = jwts
        return document

    @staticmethod
    def _microcredential_extension(micro: Mapping[str, Any]) -> dict[str, Any]:
        """The elements Open Badges 3.0 has no field for, in this project's extension terms."""
        terms = {
            "workload_hours": "workloadHours",
            "ects": "ectsCredits",
            "assessment_type": "assessmentType",
            "participation_form": "participationForm",
            "quality_assurance": "qualityAssurance",
            "prerequisites": "prerequisites",
            "supervision": "supervision",
            "stackability": "stackability",
        }
        values = {term: micro[key] for key, term in terms.items() if micro.get(key) is not None}
        if not values:
            return {}
        return {"type": ["MicroCredentialElements"], **values}

    # -- activities -----------------------------------------------------------------------------

    def create_activity(
        self,
        issuer_slug: str,
        *,
        title: str,
        description: str,
        achievement_public_id: str,
        city: str | None = None,
        location_name: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        online: bool = False,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        skills: Sequence[str] = (),
        completion_mode: str = "organiser_confirms",
        attendance_code: str | None = None,
    ) -> ActivityView:
        """Add a learning opportunity that awards one of the organiser's achievements.

        Offline activities need a city; coordinates come as a pair; times are aware and the end
        is not before the start. ``skills`` (framework ids or ESCO URIs) default to the
        achievement's. ``attendance_code`` is required for the ``attendance_code`` mode and
        stored only hashed.
        """
        given = {
            "title": title,
            "description": description,
            "achievement_public_id": achievement_public_id,
            "city": city,
            "location_name": location_name,
            "latitude": latitude,
            "longitude": longitude,
            "online": online,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "skills": skills,
            "completion_mode": completion_mode,
            "attendance_code": attendance_code,
            "archived": False,
        }
        values, code_hash = self._activity_values(given, has_code=False)
        values["attendance_code_hash"] = code_hash
        with self._service.transaction() as session:
            issuer = self._service._issuer(session, issuer_slug)
            achievement = self._activity_achievement(session, issuer, achievement_public_id)
            if not values["skills"]:
                values["skills"] = list(achievement.skills or ())
            record = ActivityRecord(
                public_id=str(uuid.uuid4()),
                issuer_id=issuer.id,
                achievement_id=achievement.id,
                created_at=utcnow(),
                **values,
            )
            session.add(record)
            session.flush()
            return self._activity_view(record, issuer, achievement)

    def update_activity(self, public_id: str, **changes: Any) -> ActivityView:
        """Change fields of an activity (the keyword names of :meth:`create_activity`, plus
        ``archived``). A new ``attendance_code`` replaces the old one."""
        _unknown_changes(changes, _ACTIVITY_FIELDS)
        with self._service.transaction() as session:
            record = self._activity_record(session, public_id)
            issuer = session.get(IssuerRecord, record.issuer_id)
            assert issuer is not None  # foreign key
            current_achievement = (
                session.get(AchievementRecord, record.achievement_id)
                if record.achievement_id is not None
                else None
            )
            current: dict[str, Any] = {
                k: getattr(record, k)
                for k in _ACTIVITY_FIELDS
                if k not in ("achievement_public_id", "attendance_code")
            }
            current["achievement_public_id"] = (
                current_achievement.public_id if current_achievement else None
            )
            current["attendance_code"] = None
            current.update(changes)
            values, code_hash = self._activity_values(
                current, has_code=record.attendance_code_hash is not None
            )
            achievement = current_achievement
            if "achievement_public_id" in changes:
                achievement = self._activity_achievement(
                    session, issuer, changes["achievement_public_id"]
                )
                record.achievement_id = achievement.id
            if code_hash is None and values["completion_mode"] == "attendance_code":
                code_hash = record.attendance_code_hash  # kept unless replaced
            values["attendance_code_hash"] = code_hash
            for key, value in values.items():
                if getattr(record, key) != value:
                    setattr(record, key, value)
            return self._activity_view(record, issuer, achievement)

    @staticmethod
    def _activity_values(
        given: Mapping[str, Any], *, has_code: bool
    ) -> tuple[dict[str, Any], str | None]:
        """Column values for an activity, checked (the achievement is resolved separately),
        and the hash of a new attendance code if one is given."""
        online = _bool(given.get("online", False), "online")
        city = _text(given.get("city"), "city", maximum=CITY_MAX, single_line=True)
        if not online and city is None:
            raise InvalidInput("An activity that is not online needs a city.")
        latitude = _coordinate(given.get("latitude"), "latitude", 90)
        longitude = _coordinate(given.get("longitude"), "longitude", 180)
        if (latitude is None) != (longitude is None):
            raise InvalidInput("Give both latitude and longitude, or neither.")
        starts_at = _aware(given.get("starts_at"), "start")
        ends_at = _aware(given.get("ends_at"), "end")
        if starts_at is not None and ends_at is not None and ends_at < starts_at:
            raise InvalidInput("The activity cannot end before it starts.")
        mode = _choice(given.get("completion_mode"), "completion mode", COMPLETION_MODES)
        code = given.get("attendance_code")
        code_hash: str | None = None
        if code is not None and code != "":
            if mode != "attendance_code":
                raise InvalidInput(
                    "An attendance code only applies to the 'attendance_code' completion mode."
                )
            code_hash = _hash_attendance_code(code)
        elif mode == "attendance_code" and not has_code:
            raise InvalidInput("The 'attendance_code' completion mode needs an attendance code.")
        if not isinstance(given.get("achievement_public_id"), str):
            raise InvalidInput("An activity awards an achievement: give its public id.")
        values: dict[str, Any] = {
            "title": _required_text(
                given.get("title"), "title", maximum=NAME_MAX, single_line=True
            ),
            "description": _text(given.get("description"), "description", maximum=TEXT_MAX) or "",
            "city": city,
            "location_name": _text(
                given.get("location_name"), "location name", maximum=NAME_MAX, single_line=True
            ),
            "latitude": latitude,
            "longitude": longitude,
            "online": online,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "skills": _skill_list(given.get("skills", ()), allow_esco=True),
            "completion_mode": mode,
            "archived": _bool(given.get("archived", False), "archived"),
        }
        return values, code_hash

    def _activity_achievement(
        self, session: Session, issuer: IssuerRecord, ref: object
    ) -> AchievementRecord:
        if not isinstance(ref, str):
            raise InvalidInput("An activity awards an achievement: give its public id.")
        achievement = self._achievement_record(session, ref)
        if achievement.issuer_id != issuer.id:
            raise InvalidInput(
                "An activity awards one of its organiser's own achievements "
                f"({ref!r} belongs to another issuer)."
            )
        if achievement.archived:
            raise InvalidInput(f"The achievement {achievement.name!r} is archived.")
        return achievement

    def get_activity(self, public_id: str) -> ActivityView:
        """One activity; :class:`NotFound` if unknown."""
        with self._service.sessions() as session:
            record = self._activity_record(session, public_id)
            issuer = session.get(IssuerRecord, record.issuer_id)
            assert issuer is not None  # foreign key
            achievement = (
                session.get(AchievementRecord, record.achievement_id)
                if record.achievement_id is not None
                else None
            )
            return self._activity_view(record, issuer, achievement)

    # -- what launched course items show, kept a few seconds by each worker ------------------

    def recent_activity(self, public_id: str) -> ActivityView:
        """:meth:`get_activity` as this worker read it at most a few seconds ago (a class
        launching one course item reads the same activity; a change made elsewhere shows
        within :data:`~core.worker_memory.WORKER_MEMORY_SECONDS`)."""
        return self._service.recent_reads.remembered(
            ("activity", public_id), ActivityView, lambda: self.get_activity(public_id)
        )

    def recent_playlist(self, public_id: str) -> PlaylistView:
        """:meth:`get_playlist`, kept as :meth:`recent_activity` is."""
        return self._service.recent_reads.remembered(
            ("playlist", public_id), PlaylistView, lambda: self.get_playlist(public_id)
        )

    def recent_achievement(self, public_id: str) -> AchievementView:
        """:meth:`get_achievement`, kept as :meth:`recent_activity` is."""
        return self._service.recent_reads.remembered(
            ("achievement", public_id), AchievementView, lambda: self.get_achievement(public_id)
        )

    def recent_organisation(self, issuer_slug: str) -> OrganisationView:
        """:meth:`organisation`, kept as :meth:`recent_activity` is."""
        return self._service.recent_reads.remembered(
            ("organisation", issuer_slug), OrganisationView, lambda: self.organisation(issuer_slug)
        )

    def recent_achievement_json(self, public_id: str) -> dict[str, Any]:
        """:meth:`achievement_json` without endorsements, kept as :meth:`recent_activity` is
        (shared: read it, do not change it)."""
        return self._service.recent_reads.remembered(
            ("achievement-json", public_id),
            dict,
            lambda: self.achievement_json(public_id, include_endorsements=False),
        )

    def _activity_record(self, session: Session, public_id: str) -> ActivityRecord:
        record = session.scalar(select(ActivityRecord).where(ActivityRecord.public_id == public_id))
        if record is None:
            raise NotFound(f"No activity {public_id!r} in the catalogue.")
        return record

    def _activity_view(
        self, record: ActivityRecord, issuer: IssuerRecord, achievement: AchievementRecord | None
    ) -> ActivityView:
        return ActivityView(
            public_id=record.public_id,
            issuer_slug=issuer.slug,
            issuer_name=issuer.name,
            issuer_quality_label_since=issuer.quality_label_since,
            achievement_public_id=achievement.public_id if achievement else None,
            achievement_name=achievement.name if achievement else None,
            title=record.title,
            description=record.description,
            city=record.city,
            location_name=record.location_name,
            latitude=record.latitude,
            longitude=record.longitude,
            online=record.online,
            starts_at=record.starts_at,
            ends_at=record.ends_at,
            skills=tuple(record.skills or ()),
            completion_mode=record.completion_mode,
            has_attendance_code=record.attendance_code_hash is not None,
            archived=record.archived,
            created_at=record.created_at,
        )

    def search_activities(
        self,
        *,
        text: str | None = None,
        skill: str | None = None,
        framework: str | None = None,
        city: str | None = None,
        online: bool | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        issuer_slug: str | None = None,
        limit: int = 500,
        include_archived: bool = False,
    ) -> list[ActivityView]:
        """Activities that match every filter given, soonest first (undated ones last);
        archived ones only with ``include_archived`` (organisers' own lists).

        ``text``: every word in the title, description, place or city (case-insensitive).
        ``skill``: a framework skill id or ESCO URI; ``framework``: a framework id or ``"esco"``.
        ``date_from``/``date_to``: activities overlapping that period; undated activities
        (always open) match any period.
        """
        words = self._search_words(text)
        if skill is not None and not (
            frameworks.is_skill_id(skill) or frameworks.is_esco_skill_uri(skill)
        ):
            raise InvalidInput(f"Unknown skill id {skill!r}.")
        prefix = self._framework_prefix(framework)
        wanted_city = (
            _text(city, "city", maximum=CITY_MAX, single_line=True) if city is not None else None
        )
        if online is not None:
            _bool(online, "online")
        start = _aware(date_from, "start of the period")
        end = _aware(date_to, "end of the period")
        if start is not None and end is not None and end < start:
            raise InvalidInput("The end of the period is before its start.")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput("The limit must be a positive number.")

        achievement = aliased(AchievementRecord)
        stmt = (
            select(ActivityRecord, IssuerRecord, achievement)
            .join(IssuerRecord, ActivityRecord.issuer_id == IssuerRecord.id)
            .outerjoin(achievement, ActivityRecord.achievement_id == achievement.id)
        )
        if not _bool(include_archived, "include_archived"):
            stmt = stmt.where(ActivityRecord.archived.is_(False))
        skills_text = cast(ActivityRecord.skills, String)
        if skill is not None:
            stmt = stmt.where(skills_text.like(f'%"{_like_fragment(skill)}"%', escape="\\"))
        if prefix is not None:
            stmt = stmt.where(skills_text.like(f'%"{_like_fragment(prefix)}%', escape="\\"))
        if wanted_city is not None and wanted_city.isascii():
            stmt = stmt.where(func.lower(ActivityRecord.city) == wanted_city.lower())
        if online is not None:
            stmt = stmt.where(ActivityRecord.online.is_(online))
        if issuer_slug is not None:
            stmt = stmt.where(IssuerRecord.slug == issuer_slug)
        if start is not None:
            stmt = stmt.where(
                or_(
                    func.coalesce(ActivityRecord.ends_at, ActivityRecord.starts_at).is_(None),
                    func.coalesce(ActivityRecord.ends_at, ActivityRecord.starts_at) >= start,
                )
            )
        if end is not None:
            stmt = stmt.where(
                or_(ActivityRecord.starts_at.is_(None), ActivityRecord.starts_at <= end)
            )
        for word in words:
            if word.isascii():
                stmt = stmt.where(self._text_condition(word))
        stmt = stmt.order_by(
            ActivityRecord.starts_at.is_(None),
            ActivityRecord.starts_at,
            ActivityRecord.title,
            ActivityRecord.id,
        )
        results: list[ActivityView] = []
        with self._service.sessions() as session:
            for record, issuer, awarded in session.execute(stmt):
                # The SQL filters are a coarse pre-selection; these checks are exact.
                skills = record.skills or []
                if skill is not None and skill not in skills:
                    continue
                if prefix is not None and not any(s.startswith(prefix) for s in skills):
                    continue
                if wanted_city is not None and (record.city or "").casefold() != (
                    wanted_city.casefold()
                ):
                    continue
                haystack = " ".join(
                    (
                        record.title,
                        record.description,
                        record.location_name or "",
                        record.city or "",
                    )
                ).casefold()
                if not all(w in haystack for w in words):
                    continue
                results.append(self._activity_view(record, issuer, awarded))
                if len(results) >= limit:
                    break
        return results

    @staticmethod
    def _search_words(text: str | None) -> list[str]:
        if text is None:
            return []
        if not isinstance(text, str):
            raise InvalidInput("Search for activities with text.")
        if len(text) > NAME_MAX:
            raise InvalidInput(f"The search text is longer than {NAME_MAX} characters.")
        return text.casefold().split()

    @staticmethod
    def _framework_prefix(framework: str | None) -> str | None:
        if framework is None:
            return None
        if framework == frameworks.ESCO_FRAMEWORK_ID:
            return frameworks.ESCO_SKILL_PREFIX
        if framework not in frameworks.framework_ids():
            known = ", ".join(sorted(frameworks.framework_ids()))
            raise InvalidInput(f"Unknown framework {framework!r}; known: {known}, esco.")
        return f"{framework}:"

    @staticmethod
    def _text_condition(word: str) -> ColumnElement[bool]:
        pattern = f"%{_like_fragment(word)}%"
        return or_(
            func.lower(ActivityRecord.title).like(pattern, escape="\\"),
            func.lower(ActivityRecord.description).like(pattern, escape="\\"),
            func.lower(func.coalesce(ActivityRecord.location_name, "")).like(pattern, escape="\\"),
            func.lower(func.coalesce(ActivityRecord.city, "")).like(pattern, escape="\\"),
        )

    def check_attendance_code(self, public_id: str, code: str) -> bool:
        """Whether ``code`` is the activity's attendance code (constant-time comparison of
        hashes; case, spaces and dashes ignored). False for archived activities and activities
        not confirmed by attendance code. Awards nothing."""
        with self._service.sessions() as session:
            record = self._activity_record(session, public_id)
            stored = record.attendance_code_hash
            usable = record.completion_mode == "attendance_code" and not record.archived
        if not isinstance(code, str) or stored is None:
            return False
        matches = _attendance_code_matches(stored, code)
        return matches and usable

    # -- playlists ------------------------------------------------------------------------------

    def create_playlist(
        self,
        issuer_slug: str,
        *,
        title: str,
        description: str,
        achievement_public_id: str,
        steps: Sequence[PlaylistStepSpec],
        rule: str = "all",
        required_count: int | None = None,
    ) -> PlaylistView:
        """Add a learning pathway whose badge (one of the issuer's achievements) is earned by
        completing all steps, or N of them (``rule="n_of_m"``, ``required_count=N``).

        Steps are activities and achievements of any issuer, or external achievement ids; an
        external id that is one of our achievement URLs becomes an achievement step. No two
        steps may be completed by the same achievement, nor by the playlist's own badge.
        """
        title_text = _required_text(title, "title", maximum=NAME_MAX, single_line=True)
        description_text = _text(description, "description", maximum=TEXT_MAX) or ""
        rule = _choice(rule, "playlist rule", PLAYLIST_RULES)
        steps = _playlist_steps(steps)
        required_count = _required_count(rule, required_count, len(steps))
        with self._service.transaction() as session:
            issuer = self._service._issuer(session, issuer_slug)
            badge = self._achievement_record(session, achievement_public_id)
            if badge.issuer_id != issuer.id:
                raise InvalidInput("A playlist awards one of its issuer's own achievements.")
            if badge.archived:
                raise InvalidInput(f"The achievement {badge.name!r} is archived.")
            playlist = PlaylistRecord(
                public_id=str(uuid.uuid4()),
                issuer_id=issuer.id,
                achievement_id=badge.id,
                title=title_text,
                description=description_text,
                rule=rule,
                required_count=required_count,
                archived=False,
                created_at=utcnow(),
            )
            session.add(playlist)
            session.flush()
            self._add_steps(session, playlist, badge, steps)
            return self._playlist_views(session, [(playlist, issuer, badge)])[0]

    def update_playlist(
        self,
        public_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        steps: Sequence[PlaylistStepSpec] | None = None,
        rule: str | None = None,
        required_count: int | None = None,
    ) -> PlaylistView:
        """Change a playlist; what is left ``None`` stays as it is. Checked as
        :meth:`create_playlist` checks a new one.

        ``steps`` replaces every step: positions are rewritten from 1 in the order given, in
        one transaction (a refused step leaves the playlist unchanged). Changing the rule to
        ``"all"`` drops the number of required steps; ``"n_of_m"`` needs one, given here or
        kept from before, from 1 to the number of steps. Archived playlists cannot be changed.
        A change of steps or rule queues, in the same transaction, the re-evaluation of every
        learner holding a step's achievement (:data:`core.awarding.PLAYLIST_REEVALUATION`,
        run by the worker in batches): who meets the rule now gets the playlist's badge.
        """
        title_text = (
            None
            if title is None
            else _required_text(title, "title", maximum=NAME_MAX, single_line=True)
        )
        description_text = (
            None
            if description is None
            else _text(description, "description", maximum=TEXT_MAX) or ""
        )
        new_rule = None if rule is None else _choice(rule, "playlist rule", PLAYLIST_RULES)
        new_steps = None if steps is None else _playlist_steps(steps)
        rule_changed = new_steps is not None or new_rule is not None or required_count is not None
        with self._service.transaction() as session:
            row = session.execute(
                self._playlist_query()
                .where(PlaylistRecord.public_id == public_id)
                .with_for_update(of=PlaylistRecord)
            ).first()
            if row is None:
                raise NotFound(f"No playlist {public_id!r}.")
            playlist, issuer, badge = row
            if playlist.archived:
                raise InvalidInput(f"The playlist {playlist.title!r} is archived.")
            step_count = (
                len(new_steps)
                if new_steps is not None
                else session.scalar(
                    select(func.count(PlaylistStepRecord.id)).where(
                        PlaylistStepRecord.playlist_id == playlist.id
                    )
                )
                or 0
            )
            rule_now = new_rule if new_rule is not None else playlist.rule
            if required_count is None and rule_now == "n_of_m" and playlist.rule == "n_of_m":
                required_count = playlist.required_count
            playlist.required_count = _required_count(rule_now, required_count, step_count)
            playlist.rule = rule_now
            if title_text is not None:
                playlist.title = title_text
            if description_text is not None:
                playlist.description = description_text
            if new_steps is not None:
                # Deleted before the new rows go in: positions are unique per playlist.
                session.execute(
                    delete(PlaylistStepRecord).where(PlaylistStepRecord.playlist_id == playlist.id)
                )
                self._add_steps(session, playlist, badge, new_steps)
            session.flush()
            if rule_changed:
                self._queue_reevaluation(session, playlist.public_id)
            return self._playlist_views(session, [(playlist, issuer, badge)])[0]

    def _queue_reevaluation(self, session: Session, playlist_public_id: str) -> None:
        """Queue the re-evaluation of everyone who may meet the changed rule (each edit its
        own job: an edit after a re-evaluation ran is evaluated again)."""
        from core.awarding import PLAYLIST_REEVALUATION

        edit = uuid.uuid4().hex
        self._service.outbox.enqueue(
            session,
            PLAYLIST_REEVALUATION,
            {"playlist_public_id": playlist_public_id, "edit": edit, "after_learner": 0},
            f"{PLAYLIST_REEVALUATION}:{edit}:0",
        )

    def _add_steps(
        self,
        session: Session,
        playlist: PlaylistRecord,
        badge: AchievementRecord,
        steps: Sequence[PlaylistStepSpec],
    ) -> None:
        """Insert ``steps`` at positions 1..n; no two may be completed by one achievement."""
        seen: dict[object, int] = {}
        for position, spec in enumerate(steps, start=1):
            step = self._step_record(session, spec, position, badge)
            step.playlist_id = playlist.id
            key: object = step.external_achievement_id or step.achievement_id
            if step.activity_id is not None:
                activity = session.get(ActivityRecord, step.activity_id)
                key = activity.achievement_id if activity else step.activity_id
            if key in seen:
                raise InvalidInput(
                    f"Steps {seen[key]} and {position} are completed by the same achievement."
                )
            seen[key] = position
            session.add(step)
        session.flush()

    def _step_record(
        self,
        session: Session,
        spec: PlaylistStepSpec,
        position: int,
        badge: AchievementRecord,
    ) -> PlaylistStepRecord:
        given = [
            v
            for v in (
                spec.activity_public_id,
                spec.achievement_public_id,
                spec.external_achievement_id,
            )
            if v is not None
        ]
        if len(given) != 1:
            raise InvalidInput(
                f"Step {position} must name exactly one of an activity, an achievement or an "
                "external achievement id."
            )
        title = _text(spec.title, f"title of step {position}", maximum=NAME_MAX, single_line=True)
        own_prefix = self.achievement_url("")
        external = spec.external_achievement_id
        if external is not None:
            external = _required_text(
                external,
                f"achievement id of step {position}",
                maximum=EXTERNAL_ID_MAX,
                single_line=True,
            )
            if any(c.isspace() for c in external):
                raise InvalidInput(f"The achievement id of step {position} contains spaces.")
            if not external.startswith(own_prefix):
                return PlaylistStepRecord(
                    position=position,
                    external_achievement_id=external,
                    title=title or external[:NAME_MAX],
                )
        if spec.activity_public_id is not None:
            if not isinstance(spec.activity_public_id, str):
                raise InvalidInput(f"Step {position}: an activity is named by its public id.")
            activity = self._activity_record(session, spec.activity_public_id)
            if activity.archived:
                raise InvalidInput(f"Step {position}: the activity {activity.title!r} is archived.")
            if activity.achievement_id is None:
                raise InvalidInput(f"Step {position}: the activity awards no badge.")
            if activity.achievement_id == badge.id:
                raise InvalidInput(
                    f"Step {position}: the activity awards the playlist's own badge."
                )
            return PlaylistStepRecord(
                position=position, activity_id=activity.id, title=title or activity.title
            )
        reference = external if external is not None else spec.achievement_public_id
        if not isinstance(reference, str):
            raise InvalidInput(f"Step {position}: an achievement is named by its public id.")
        achievement = self._achievement_record(session, reference)
        if achievement.id == badge.id:
            raise InvalidInput("A playlist cannot contain its own badge.")
        return PlaylistStepRecord(
            position=position, achievement_id=achievement.id, title=title or achievement.name
        )

    def get_playlist(self, public_id: str) -> PlaylistView:
        """One playlist with its steps; :class:`NotFound` if unknown."""
        with self._service.sessions() as session:
            row = session.execute(
                self._playlist_query().where(PlaylistRecord.public_id == public_id)
            ).first()
            if row is None:
                raise NotFound(f"No playlist {public_id!r}.")
            playlist, issuer, badge = row
            return self._playlist_views(session, [(playlist, issuer, badge)])[0]

    def list_playlists(
        self, issuer_slug: str | None = None, *, include_archived: bool = False
    ) -> list[PlaylistView]:
        """Playlists by title, of one issuer or all."""
        with self._service.sessions() as session:
            stmt = self._playlist_query()
            if issuer_slug is not None:
                self._service._issuer(session, issuer_slug)
                stmt = stmt.where(IssuerRecord.slug == issuer_slug)
            if not include_archived:
                stmt = stmt.where(PlaylistRecord.archived.is_(False))
            rows = session.execute(stmt.order_by(PlaylistRecord.title, PlaylistRecord.id))
            return self._playlist_views(session, [(p, i, a) for p, i, a in rows])

    def archive_playlist(self, public_id: str) -> PlaylistView:
        """Stop a playlist (its badge is no longer awarded through it)."""
        with self._service.transaction() as session:
            row = session.execute(
                self._playlist_query().where(PlaylistRecord.public_id == public_id)
            ).first()
            if row is None:
                raise NotFound(f"No playlist {public_id!r}.")
            playlist, issuer, badge = row
            playlist.archived = True
            return self._playlist_views(session, [(playlist, issuer, badge)])[0]

    def playlists_containing_achievement(self, achievement_id: str) -> list[PlaylistView]:
        """Playlists (not archived) with a step completed by ``achievement_id``: a catalogue
        achievement's public id or URL (as a step itself or as an activity's badge), or an
        external achievement id. The awarding side re-evaluates these after an award."""
        if not isinstance(achievement_id, str) or not achievement_id.strip():
            raise InvalidInput("Name the achievement by its public id, URL or external id.")
        ref = achievement_id.strip()
        with self._service.sessions() as session:
            conditions: list[ColumnElement[bool]] = [
                PlaylistStepRecord.external_achievement_id == ref
            ]
            own = session.scalar(
                select(AchievementRecord.id).where(
                    AchievementRecord.public_id == self._public_id_of(ref)
                )
            )
            if own is not None:
                conditions.append(PlaylistStepRecord.achievement_id == own)
                conditions.append(
                    PlaylistStepRecord.activity_id.in_(
                        select(ActivityRecord.id).where(ActivityRecord.achievement_id == own)
                    )
                )
            playlist_ids = select(PlaylistStepRecord.playlist_id).where(or_(*conditions))
            stmt = (
                self._playlist_query()
                .where(PlaylistRecord.id.in_(playlist_ids), PlaylistRecord.archived.is_(False))
                .order_by(PlaylistRecord.id)
            )
            rows = session.execute(stmt)
            return self._playlist_views(session, [(p, i, a) for p, i, a in rows])

    def playlist_progress(
        self, playlist: str | PlaylistView, held: Iterable[str]
    ) -> PlaylistProgress:
        """Which steps of a playlist someone holding ``held`` (achievement public ids, URLs or
        external ids) has done, and whether its rule is met. Reads only; awards nothing."""
        view = playlist if isinstance(playlist, PlaylistView) else self.get_playlist(playlist)
        return playlist_progress_of(view, held)

    @staticmethod
    def _playlist_query() -> Any:
        return (
            select(PlaylistRecord, IssuerRecord, AchievementRecord)
            .join(IssuerRecord, PlaylistRecord.issuer_id == IssuerRecord.id)
            .join(AchievementRecord, PlaylistRecord.achievement_id == AchievementRecord.id)
        )

    def _playlist_views(
        self,
        session: Session,
        rows: Sequence[tuple[PlaylistRecord, IssuerRecord, AchievementRecord]],
    ) -> list[PlaylistView]:
        """Views for playlists, with all their steps read in one query."""
        if not rows:
            return []
        step_achievement = aliased(AchievementRecord)
        activity_achievement = aliased(AchievementRecord)
        step_rows = session.execute(
            select(PlaylistStepRecord, ActivityRecord, step_achievement, activity_achievement)
            .outerjoin(ActivityRecord, PlaylistStepRecord.activity_id == ActivityRecord.id)
            .outerjoin(step_achievement, PlaylistStepRecord.achievement_id == step_achievement.id)
            .outerjoin(
                activity_achievement, ActivityRecord.achievement_id == activity_achievement.id
            )
            .where(PlaylistStepRecord.playlist_id.in_([p.id for p, _, _ in rows]))
            .order_by(PlaylistStepRecord.playlist_id, PlaylistStepRecord.position)
        )
        steps: dict[int, list[PlaylistStepView]] = {}
        for step, activity, own, awarded in step_rows:
            completing = own if own is not None else awarded
            kind = (
                "activity"
                if step.activity_id is not None
                else "achievement"
                if step.achievement_id is not None
                else "external"
            )
            steps.setdefault(step.playlist_id, []).append(
                PlaylistStepView(
                    position=step.position,
                    kind=kind,
                    title=step.title,
                    activity_public_id=activity.public_id if activity is not None else None,
                    achievement_public_id=completing.public_id if completing else None,
                    achievement_url=(
                        self.achievement_url(completing.public_id) if completing else None
                    ),
                    external_achievement_id=step.external_achievement_id,
                )
            )
        views: list[PlaylistView] = []
        for playlist, issuer, badge in rows:
            own_steps = tuple(steps.get(playlist.id, ()))
            views.append(
                PlaylistView(
                    public_id=playlist.public_id,
                    issuer_slug=issuer.slug,
                    issuer_name=issuer.name,
                    title=playlist.title,
                    description=playlist.description,
                    achievement_public_id=badge.public_id,
                    achievement_url=self.achievement_url(badge.public_id),
                    achievement_name=badge.name,
                    rule=playlist.rule,
                    required_count=(
                        playlist.required_count
                        if playlist.rule == "n_of_m" and playlist.required_count
                        else len(own_steps)
                    ),
                    steps=own_steps,
                    archived=playlist.archived,
                    created_at=playlist.created_at,
                )
            )
        return views

    # -- endorsements ---------------------------------------------------------------------------

    def endorse(
        self,
        endorser_issuer_slug: str,
        target_kind: str,
        target_public_id_or_slug: str,
        comment: str,
    ) -> EndorsementView:
        """Sign an OB 3.0 EndorsementCredential by one organisation about an achievement (public
        id or URL) or another organisation (slug), with the endorser's current key and proof
        format. Organisations do not endorse themselves or their own achievements, nor the same
        thing twice. Endorsements of an achievement travel in its credentials from then on."""
        target_kind = _choice(target_kind, "endorsement target", ENDORSEMENT_TARGETS)
        text = _required_text(comment, "endorsement comment", maximum=COMMENT_MAX)
        if not isinstance(target_public_id_or_slug, str):
            raise InvalidInput("Name what is endorsed by its public id or slug.")
        service = self._service
        with service.transaction() as session:
            endorser = service._issuer(session, endorser_issuer_slug)
            if target_kind == "achievement":
                achievement = self._achievement_record(session, target_public_id_or_slug)
                target_id, target_ref = achievement.id, achievement.public_id
                target_url, target_name = (
                    self.achievement_url(achievement.public_id),
                    achievement.name,
                )
                owner_id = achievement.issuer_id
            else:
                issuer = service._issuer(session, target_public_id_or_slug)
                target_id, target_ref = issuer.id, issuer.slug
                target_url, target_name = service.issuer_profile_id(issuer.slug), issuer.name
                owner_id = issuer.id
            if owner_id == endorser.id:
                raise InvalidInput("An organisation cannot endorse itself or its own achievements.")
            duplicate = session.scalar(
                select(EndorsementRecord.id).where(
                    EndorsementRecord.endorser_issuer_id == endorser.id,
                    EndorsementRecord.target_kind == target_kind,
                    EndorsementRecord.target_id == target_id,
                )
            )
            if duplicate is not None:
                raise InvalidInput(f"{endorser.name} already endorses {target_name}.")
            now = utcnow()
            issuer_obj: dict[str, Any] = {
                "id": service.issuer_profile_id(endorser.slug),
                "type": ["Profile"],
                "name": endorser.name,
            }
            if endorser.url:
                issuer_obj["url"] = endorser.url
            if endorser.email:
                issuer_obj["email"] = endorser.email
            credential_id = f"urn:uuid:{uuid.uuid4()}"
            credential: dict[str, Any] = {
                "@context": list(OB3_CONTEXTS),
                "id": credential_id,
                "type": ["VerifiableCredential", "EndorsementCredential"],
                "name": f"{endorser.name} endorses {target_name}"[:NAME_MAX],
                "issuer": issuer_obj,
                "validFrom": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "credentialSubject": {
                    "id": target_url,
                    "type": ["EndorsementSubject"],
                    "endorsementComment": text,
                },
            }
            problems = validate_ob3_schema(credential)
            if problems:
                raise InvalidInput(
                    "The endorsement would not be valid: " + "; ".join(map(str, problems[:5]))
                )
            fmt = endorser.proof_format
            algorithms = JWT_KEY_PREFERENCE if fmt == "jwt" else ("Ed25519",)
            signing = service._active_signing_key(session, endorser, algorithms)
            signed = service._sign(credential, signing, fmt)
            record = EndorsementRecord(
                endorser_issuer_id=endorser.id,
                target_kind=target_kind,
                target_id=target_id,
                comment=text,
                document=signed,
                created_at=now,
            )
            session.add(record)
            session.flush()
            return self._endorsement_view(record, endorser, target_ref, target_url, credential_id)

    def endorsements_of(
        self, target_kind: str, target_public_id_or_slug: str
    ) -> list[EndorsementView]:
        """The endorsements of an achievement (public id or URL) or an organisation (slug),
        oldest first."""
        target_kind = _choice(target_kind, "endorsement target", ENDORSEMENT_TARGETS)
        with self._service.sessions() as session:
            if target_kind == "achievement":
                achievement = self._achievement_record(session, target_public_id_or_slug)
                target_id, target_ref = achievement.id, achievement.public_id
                target_url = self.achievement_url(achievement.public_id)
            else:
                issuer = self._service._issuer(session, target_public_id_or_slug)
                target_id, target_ref = issuer.id, issuer.slug
                target_url = self._service.issuer_profile_id(issuer.slug)
            rows = session.execute(
                select(EndorsementRecord, IssuerRecord)
                .join(IssuerRecord, EndorsementRecord.endorser_issuer_id == IssuerRecord.id)
                .where(
                    EndorsementRecord.target_kind == target_kind,
                    EndorsementRecord.target_id == target_id,
                )
                .order_by(EndorsementRecord.id)
            )
            return [
                self._endorsement_view(record, endorser, target_ref, target_url, None)
                for record, endorser in rows
            ]

    def _endorsement_view(
        self,
        record: EndorsementRecord,
        endorser: IssuerRecord,
        target_ref: str,
        target_url: str,
        credential_id: str | None,
    ) -> EndorsementView:
        fmt = _format_of(record.document)
        if credential_id is None:
            if fmt == "jwt":
                # Our own stored token: its claims are read, not verified.
                payload = record.document.split(".")[1]
                claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                credential_id = str(claims.get("jti", ""))
            else:
                credential_id = str(json.loads(record.document).get("id", ""))
        return EndorsementView(
            id=record.id,
            credential_id=credential_id,
            endorser_slug=endorser.slug,
            endorser_name=endorser.name,
            target_kind=record.target_kind,
            target_ref=target_ref,
            target_url=target_url,
            comment=record.comment,
            proof_format=fmt,
            text=record.document,
            created_at=record.created_at,
        )


__all__ = [
    "ACHIEVEMENT_TYPES",
    "COMPLETION_MODES",
    "MICROCREDENTIAL_CONTEXT",
    "MICROCREDENTIAL_NAMESPACE",
    "PARTICIPATION_FORMS",
    "STACKABILITY_KINDS",
    "SUPERVISION_KINDS",
    "AchievementView",
    "ActivityView",
    "Catalogue",
    "EndorsementView",
    "MicroCredentialElements",
    "OrganisationView",
    "PlaylistProgress",
    "PlaylistStepSpec",
    "PlaylistStepView",
    "PlaylistView",
    "StepProgress",
    "check_quality_label_date",
    "generate_attendance_code",
    "playlist_progress_of",
]
