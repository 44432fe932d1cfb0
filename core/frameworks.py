"""Competence frameworks shipped as package data (``core/frameworks/*.json``): SLO 21st-century
skills, DigComp 2.2, EntreComp, LifeComp and GreenComp, plus ESCO skill URIs and the EQF/NLQF
levels used by EU micro-credentials.

A skill is named by its stable id ``"<framework id>:<competence id>"`` (``"digcomp-2.2:1.1"``,
``"slo-21:kritisch-denken"``); that id is what achievements and activities store and what a
credential's alignment carries as ``targetCode``. The files are read once per process (the award
path builds alignments for every credential); every public function returns immutable views or
fresh dictionaries, so callers cannot change the cached data.

Alignment ``targetType``: the OB 3.0 AlignmentTargetType enumeration defines ``ceasn:Competency``
as "an alignment to a CTDL-ASN/CTDL competency published by Credential Engine" and the CASE terms
for CASE frameworks. None of these frameworks is published there, so the spec's extension form
(``ext:`` + name) is used: ``ext:Competence`` for framework competences, ``ext:ESCOSkill`` for
ESCO, ``ext:EQFLevel`` / ``ext:NLQFLevel`` for qualification levels.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

from core.errors import InvalidInput, NotFound

#: The bundled framework files, in the order they are listed to people.
FRAMEWORK_FILES: Final = (
    "slo-21e-eeuwse-vaardigheden.json",
    "digcomp-2.2.json",
    "entrecomp.json",
    "lifecomp.json",
    "greencomp.json",
)
MICROCREDENTIAL_ELEMENTS_FILE: Final = "eu-microcredential-elements.json"

#: The pseudo-framework id of ESCO skills (searching activities by ``framework="esco"``).
ESCO_FRAMEWORK_ID: Final = "esco"
ESCO_SKILL_PREFIX: Final = "http://data.europa.eu/esco/skill/"
_ESCO_SKILL_URI: Final = re.compile(
    r"^http://data\.europa\.eu/esco/skill/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)

TARGET_TYPE_COMPETENCE: Final = "ext:Competence"
TARGET_TYPE_ESCO: Final = "ext:ESCOSkill"
TARGET_TYPE_EQF: Final = "ext:EQFLevel"
TARGET_TYPE_NLQF: Final = "ext:NLQFLevel"

EQF_FRAMEWORK_NAME: Final = "European Qualifications Framework (EQF)"
EQF_LEVELS_URL: Final = "https://europass.europa.eu/en/description-eight-eqf-levels"
NLQF_FRAMEWORK_NAME: Final = "Dutch Qualifications Framework (NLQF)"
NLQF_LEVELS_URL: Final = "https://www.nlqf.nl/nlqf-niveaus"
#: NLQF has an entry level ("Entreeniveau") below level 1.
NLQF_ENTRY_LEVEL: Final = "entry"


@dataclass(frozen=True)
class AreaView:
    """A competence area (DigComp "Safety", LifeComp "Personal", SLO's groups)."""

    id: str
    code: str
    name_en: str
    name_nl: str | None


@dataclass(frozen=True)
class SkillView:
    """One competence of a framework, by its stable id."""

    id: str
    framework_id: str
    framework_name: str
    code: str
    name_en: str
    name_nl: str | None
    area: AreaView | None
    source_url: str

    def name(self, language: str = "en") -> str:
        """The name in ``language`` ("nl" or "en"), falling back to English."""
        if language.startswith("nl") and self.name_nl:
            return self.name_nl
        return self.name_en


@dataclass(frozen=True)
class FrameworkView:
    """A competence framework with its areas and competences, and where it comes from."""

    id: str
    short_name: str
    version: str
    name_en: str
    name_nl: str | None
    publisher: str
    citation: str | None
    source_url: str
    licence: str
    areas: tuple[AreaView, ...]
    skills: tuple[SkillView, ...]

    @property
    def alignment_name(self) -> str:
        """The framework as named in an alignment's ``targetFramework`` ("DigComp 2.2")."""
        return _framework_label(self.short_name, self.version)


@dataclass(frozen=True)
class MicroCredentialElement:
    """A standard element of an EU micro-credential (Council Recommendation 2022/C 243/02)."""

    id: str
    name_en: str
    mandatory: bool
    ob3_hint: str


@dataclass(frozen=True)
class _Catalogue:
    frameworks: tuple[FrameworkView, ...]
    by_framework: dict[str, FrameworkView]
    by_skill: dict[str, SkillView]
    alignments: dict[str, tuple[tuple[str, Any], ...]]
    search_text: dict[str, str]


def _framework_label(short_name: str, version: str) -> str:
    # A short version ("2.2", "2016") completes the name; SLO's is a description.
    if version and " " not in version and version not in short_name:
        return f"{short_name} {version}"
    return short_name


def _read(filename: str) -> Any:
    text = resources.files("core").joinpath("frameworks", filename).read_text("utf-8")
    return json.loads(text)


def _folded(text: str) -> str:
    """Case- and accent-insensitive form for searching ("Créatif" finds "creatief")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _catalogue() -> _Catalogue:
    """Read every framework file once per process."""
    frameworks: list[FrameworkView] = []
    by_skill: dict[str, SkillView] = {}
    alignments: dict[str, tuple[tuple[str, Any], ...]] = {}
    search_text: dict[str, str] = {}
    for filename in FRAMEWORK_FILES:
        data = _read(filename)
        meta = data["framework"]
        areas = {
            a["id"]: AreaView(a["id"], str(a["code"]), a["name_en"], a.get("name_nl"))
            for a in data["areas"]
        }
        name = str(meta.get("short_name") or meta["id"])
        version = str(meta.get("version") or "")
        skills: list[SkillView] = []
        for item in data["competences"]:
            skill = SkillView(
                id=item["id"],
                framework_id=meta["id"],
                framework_name=_framework_label(name, version),
                code=str(item["code"]),
                name_en=item["name_en"],
                name_nl=item.get("name_nl"),
                area=areas.get(item.get("area_id", "")),
                source_url=item.get("source_url") or meta["source_url"],
            )
            skills.append(skill)
        framework = FrameworkView(
            id=meta["id"],
            short_name=name,
            version=version,
            name_en=meta["name_en"],
            name_nl=meta.get("name_nl"),
            publisher=meta.get("publisher", ""),
            citation=meta.get("citation"),
            source_url=meta["source_url"],
            licence=meta.get("licence", ""),
            areas=tuple(areas.values()),
            skills=tuple(skills),
        )
        frameworks.append(framework)
        for skill in skills:
            by_skill[skill.id] = skill
            alignments[skill.id] = (
                ("targetName", skill.name_en),
                ("targetUrl", skill.source_url),
                ("targetCode", skill.id),
                ("targetFramework", framework.alignment_name),
                ("targetType", TARGET_TYPE_COMPETENCE),
            )
            words = [skill.id, skill.code, skill.name_en, skill.name_nl or "", name, framework.id]
            if skill.area is not None:
                words += [skill.area.name_en, skill.area.name_nl or ""]
            search_text[skill.id] = _folded(" ".join(words))
    return _Catalogue(
        frameworks=tuple(frameworks),
        by_framework={f.id: f for f in frameworks},
        by_skill=by_skill,
        alignments=alignments,
        search_text=search_text,
    )


# --------------------------------------------------------------------------------------------
# Lookup
# --------------------------------------------------------------------------------------------


def frameworks() -> list[FrameworkView]:
    """Every bundled framework, in display order."""
    return list(_catalogue().frameworks)


def framework(framework_id: str) -> FrameworkView:
    """One framework by id (``"digcomp-2.2"``); :class:`NotFound` if it is not bundled."""
    found = _catalogue().by_framework.get(framework_id)
    if found is None:
        known = ", ".join(sorted(_catalogue().by_framework))
        raise NotFound(f"Unknown competence framework {framework_id!r}; known: {known}.")
    return found


def framework_ids() -> frozenset[str]:
    """The ids of the bundled frameworks (ESCO not included)."""
    return frozenset(_catalogue().by_framework)


def skill(skill_id: str) -> SkillView:
    """One competence by its stable id; :class:`NotFound` if no bundled framework has it."""
    found = _catalogue().by_skill.get(skill_id) if isinstance(skill_id, str) else None
    if found is None:
        raise NotFound(f"Unknown skill id {skill_id!r} (expected e.g. 'digcomp-2.2:1.1').")
    return found


def is_skill_id(value: object) -> bool:
    """True when ``value`` is the stable id of a bundled competence."""
    return isinstance(value, str) and value in _catalogue().by_skill


def skills(framework_id: str | None = None) -> list[SkillView]:
    """Every competence, or those of one framework."""
    if framework_id is not None:
        return list(framework(framework_id).skills)
    return [s for f in _catalogue().frameworks for s in f.skills]


def search_skills(
    text: str, *, framework_id: str | None = None, limit: int = 50
) -> list[SkillView]:
    """Competences whose id, code, name (English or Dutch) or area contain every word of
    ``text``, ignoring case and accents; in framework order, at most ``limit``."""
    if not isinstance(text, str):
        raise InvalidInput("Search for skills with text.")
    words = _folded(text).split()
    catalogue = _catalogue()
    candidates = skills(framework_id)
    found = [s for s in candidates if all(w in catalogue.search_text[s.id] for w in words)]
    return found[: max(0, limit)]


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def is_esco_skill_uri(value: object) -> bool:
    """True for an ESCO skill URI: ``http://data.europa.eu/esco/skill/<lower-case uuid>``."""
    return isinstance(value, str) and bool(_ESCO_SKILL_URI.match(value))


def validate_skill_ids(
    values: Iterable[object], *, allow_esco: bool = False, what: str = "skill"
) -> tuple[str, ...]:
    """``values`` as a tuple of distinct stable skill ids (first occurrence kept), or
    :class:`InvalidInput` naming every value that is not one (ESCO URIs too if ``allow_esco``)."""
    if isinstance(values, str | bytes):
        raise InvalidInput(f"Give the {what}s as a list of ids, not one string.")
    result: list[str] = []
    unknown: list[str] = []
    for value in values:
        if is_skill_id(value) or (allow_esco and is_esco_skill_uri(value)):
            if value not in result:
                result.append(str(value))
        else:
            unknown.append(repr(value))
    if unknown:
        hint = " or ESCO skill URIs" if allow_esco else ""
        raise InvalidInput(
            f"Unknown {what} id(s): {', '.join(unknown[:10])}. Use the frameworks' ids "
            f"(e.g. 'digcomp-2.2:1.1', 'slo-21:samenwerken'){hint}."
        )
    return tuple(result)


def validate_esco_skill_uris(values: Iterable[object]) -> tuple[str, ...]:
    """Distinct ESCO skill URIs, or :class:`InvalidInput` naming every malformed one."""
    if isinstance(values, str | bytes):
        raise InvalidInput("Give the ESCO skills as a list of URIs, not one string.")
    result: list[str] = []
    bad: list[str] = []
    for value in values:
        if is_esco_skill_uri(value):
            if value not in result:
                result.append(str(value))
        else:
            bad.append(repr(value))
    if bad:
        raise InvalidInput(
            f"Not ESCO skill URIs: {', '.join(bad[:10])}. An ESCO skill URI looks like "
            f"{ESCO_SKILL_PREFIX}<uuid> (lower-case, as ESCO publishes it)."
        )
    return tuple(result)


# --------------------------------------------------------------------------------------------
# Open Badges 3.0 alignments
# --------------------------------------------------------------------------------------------


def skill_alignment(skill_id: str) -> dict[str, Any]:
    """The OB 3.0 ``Alignment`` for a competence (a fresh dict, safe to change)."""
    items = _catalogue().alignments.get(skill_id)
    if items is None:
        raise NotFound(f"Unknown skill id {skill_id!r}.")
    alignment: dict[str, Any] = {"type": ["Alignment"]}
    alignment.update(items)
    return alignment


def esco_alignment(uri: str) -> dict[str, Any]:
    """The OB 3.0 ``Alignment`` for an ESCO skill URI. No ESCO labels are bundled, so the
    name says it is an ESCO skill and the URI (which ESCO resolves) identifies it."""
    if not is_esco_skill_uri(uri):
        raise InvalidInput(f"Not an ESCO skill URI: {uri!r}.")
    code = uri[len(ESCO_SKILL_PREFIX) :]
    return {
        "type": ["Alignment"],
        "targetName": f"ESCO skill {code}",
        "targetUrl": uri,
        "targetCode": code,
        "targetFramework": "ESCO (European Skills, Competences, Qualifications and Occupations)",
        "targetType": TARGET_TYPE_ESCO,
    }


def eqf_level_alignment(level: int) -> dict[str, Any]:
    """The OB 3.0 ``Alignment`` to an EQF level (1-8)."""
    return {
        "type": ["Alignment"],
        "targetName": f"EQF level {level}",
        "targetUrl": EQF_LEVELS_URL,
        "targetCode": str(level),
        "targetFramework": EQF_FRAMEWORK_NAME,
        "targetType": TARGET_TYPE_EQF,
    }


def nlqf_level_alignment(level: int | str) -> dict[str, Any]:
    """The OB 3.0 ``Alignment`` to an NLQF level (1-8, or ``"entry"``: Entreeniveau)."""
    name = "NLQF entry level" if level == NLQF_ENTRY_LEVEL else f"NLQF level {level}"
    return {
        "type": ["Alignment"],
        "targetName": name,
        "targetUrl": NLQF_LEVELS_URL,
        "targetCode": str(level),
        "targetFramework": NLQF_FRAMEWORK_NAME,
        "targetType": TARGET_TYPE_NLQF,
    }


# --------------------------------------------------------------------------------------------
# EU micro-credential elements
# --------------------------------------------------------------------------------------------


@cache
def _elements() -> tuple[MicroCredentialElement, ...]:
    data = _read(MICROCREDENTIAL_ELEMENTS_FILE)
    return tuple(
        MicroCredentialElement(e["id"], e["name_en"], bool(e["mandatory"]), e.get("ob3_hint", ""))
        for e in data["elements"]
    )


def microcredential_elements() -> list[MicroCredentialElement]:
    """The EU standard elements of a micro-credential (Annex I), mandatory ones first."""
    return list(_elements())


__all__ = [
    "ESCO_FRAMEWORK_ID",
    "ESCO_SKILL_PREFIX",
    "NLQF_ENTRY_LEVEL",
    "AreaView",
    "FrameworkView",
    "MicroCredentialElement",
    "SkillView",
    "eqf_level_alignment",
    "esco_alignment",
    "framework",
    "framework_ids",
    "frameworks",
    "is_esco_skill_uri",
    "is_skill_id",
    "microcredential_elements",
    "nlqf_level_alignment",
    "search_skills",
    "skill",
    "skill_alignment",
    "skills",
    "validate_esco_skill_uris",
    "validate_skill_ids",
]
