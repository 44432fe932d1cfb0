"""What the credential, achievement and certificate pages show about a badge, read from the
signed credential (or an achievement document): its achievement, skills grouped by framework,
qualification levels, evidence, and the "add to LinkedIn" link.

Display only, and defensive: a field of the wrong shape is left out, never an error. Links are
shown only for http(s) addresses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from core import frameworks
from core.errors import InvalidInput
from core.proofs.vc_jwt import peek_jwt_payload
from lti_tool.i18n import gettext
from lti_tool.presentation import MAX_SHOWN_CHARS

LINKEDIN_ADD_TO_PROFILE: Final = "https://www.linkedin.com/profile/add"
#: Alignment target types of qualification levels (shown as levels, not skills).
LEVEL_TARGET_TYPES: Final = (frameworks.TARGET_TYPE_EQF, frameworks.TARGET_TYPE_NLQF)


@dataclass(frozen=True)
class SkillShown:
    """One aligned skill: its name in the page's language, a link to its definition, and the
    competence area it belongs to."""

    name: str
    url: str | None
    area: str | None


@dataclass(frozen=True)
class SkillGroup:
    """The skills of one framework."""

    framework: str
    skills: tuple[SkillShown, ...]


@dataclass(frozen=True)
class EvidenceShown:
    """One evidence item as the credential states it."""

    name: str | None
    narrative: str | None
    url: str | None
    description: str | None
    genre: str | None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:MAX_SHOWN_CHARS]
    return None


def _long_text(value: Any, limit: int = 20_000) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    return None


def web_link(value: Any) -> str | None:
    """``value`` when it is an http(s) address, else None (never a ``javascript:`` link)."""
    text = _text(value)
    if text and text.lower().startswith(("https://", "http://")) and " " not in text:
        return text
    return None


def credential_json(text: str, proof_format: str) -> dict[str, Any]:
    """The credential as JSON: the document, or a JWT's payload (the VC itself, or ``vc``).
    An empty dict when it cannot be read."""
    if proof_format != "jwt":
        try:
            document = json.loads(text)
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}
    try:
        payload = peek_jwt_payload(text)
    except InvalidInput:
        return {}
    vc = payload.get("vc")
    return vc if isinstance(vc, dict) else payload


def achievement_of(credential: dict[str, Any]) -> dict[str, Any]:
    """The credential subject's achievement (an empty dict when there is none)."""
    subject = credential.get("credentialSubject")
    if isinstance(subject, list) and subject:
        subject = subject[0]
    if not isinstance(subject, dict):
        return {}
    achievement = subject.get("achievement")
    return achievement if isinstance(achievement, dict) else {}


def criteria_of(achievement: dict[str, Any]) -> tuple[str | None, str | None]:
    """The achievement's criteria: the narrative and the criteria page's address."""
    criteria = achievement.get("criteria")
    if not isinstance(criteria, dict):
        return None, None
    return _long_text(criteria.get("narrative")), web_link(criteria.get("id"))


def image_url_of(achievement: dict[str, Any]) -> str | None:
    """The achievement image's address (an Image object or a plain URL)."""
    image = achievement.get("image")
    if isinstance(image, dict):
        image = image.get("id")
    return web_link(image)


def _alignments(achievement: dict[str, Any]) -> list[dict[str, Any]]:
    alignment = achievement.get("alignment")
    if isinstance(alignment, dict):
        alignment = [alignment]
    if not isinstance(alignment, list):
        return []
    return [a for a in alignment if isinstance(a, dict)]


def skill_groups(achievement: dict[str, Any], language: str) -> list[SkillGroup]:
    """The achievement's aligned skills grouped by framework, in the bundled frameworks' order
    (then others by name). Competences of bundled frameworks are named in ``language``;
    qualification levels are left out (see :func:`levels`)."""
    groups: dict[str, list[SkillShown]] = {}
    order: dict[str, tuple[int, str]] = {}
    framework_order = {f.id: index for index, f in enumerate(frameworks.frameworks())}
    for alignment in _alignments(achievement):
        if alignment.get("targetType") in LEVEL_TARGET_TYPES:
            continue
        code = alignment.get("targetCode")
        if isinstance(code, str) and frameworks.is_skill_id(code):
            skill = frameworks.skill(code)
            framework = frameworks.framework(skill.framework_id)
            heading = framework.alignment_name
            shown = SkillShown(
                name=skill.name(language),
                url=web_link(alignment.get("targetUrl")) or web_link(skill.source_url),
                area=(
                    (skill.area.name_nl if language == "nl" and skill.area.name_nl else None)
                    or skill.area.name_en
                )
                if skill.area is not None
                else None,
            )
            order.setdefault(heading, (framework_order.get(skill.framework_id, 99), heading))
        else:
            name = _text(alignment.get("targetName"))
            if name is None:
                continue
            heading = _text(alignment.get("targetFramework")) or ""
            shown = SkillShown(name=name, url=web_link(alignment.get("targetUrl")), area=None)
            order.setdefault(heading, (100, heading))
        if shown not in groups.setdefault(heading, []):
            groups[heading].append(shown)
    return [
        SkillGroup(heading, tuple(groups[heading]))
        for heading in sorted(groups, key=lambda h: order[h])
    ]


def _level_name(alignment: dict[str, Any]) -> str | None:
    """A qualification level in the page's language (the credential's own words otherwise)."""
    code = _text(alignment.get("targetCode"))
    kind = alignment.get("targetType")
    if code is not None and kind == frameworks.TARGET_TYPE_EQF:
        return gettext("EQF level %(level)s", level=code)
    if code == frameworks.NLQF_ENTRY_LEVEL and kind == frameworks.TARGET_TYPE_NLQF:
        return gettext("NLQF entry level")
    if code is not None and kind == frameworks.TARGET_TYPE_NLQF:
        return gettext("NLQF level %(level)s", level=code)
    return _text(alignment.get("targetName"))


def levels(achievement: dict[str, Any]) -> list[SkillShown]:
    """The qualification levels (EQF, NLQF) the achievement is aligned to, named in the
    page's language."""
    return [
        SkillShown(name=name, url=web_link(a.get("targetUrl")), area=None)
        for a in _alignments(achievement)
        if a.get("targetType") in LEVEL_TARGET_TYPES and (name := _level_name(a))
    ]


def evidence_of(credential: dict[str, Any]) -> list[EvidenceShown]:
    """The evidence the credential states (narratives, links, descriptions of files)."""
    evidence = credential.get("evidence")
    if isinstance(evidence, dict):
        evidence = [evidence]
    if not isinstance(evidence, list):
        return []
    shown = []
    for item in evidence:
        if not isinstance(item, dict):
            continue
        genre = item.get("genre")
        shown.append(
            EvidenceShown(
                name=_text(item.get("name")),
                narrative=_long_text(item.get("narrative")),
                url=web_link(item.get("id")),
                description=_text(item.get("description")),
                genre=_text(genre),
            )
        )
    return [e for e in shown if e.name or e.narrative or e.url or e.description]


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp from a credential (``validFrom``), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def linkedin_url(
    *,
    name: str,
    organisation: str,
    issued: datetime,
    credential_url: str,
    credential_token: str,
    expires: datetime | None = None,
) -> str:
    """LinkedIn's "add to profile" address for a certification, filled in: the badge name,
    the issuing organisation, the month it was issued (and expires), the credential's page as
    the credential URL and its identifier as the credential id."""
    parameters: list[tuple[str, str]] = [
        ("startTask", "CERTIFICATION_NAME"),
        ("name", name),
        ("organizationName", organisation),
        ("issueYear", str(issued.year)),
        ("issueMonth", str(issued.month)),
    ]
    if expires is not None:
        parameters += [
            ("expirationYear", str(expires.year)),
            ("expirationMonth", str(expires.month)),
        ]
    parameters += [("certUrl", credential_url), ("certId", credential_token)]
    return f"{LINKEDIN_ADD_TO_PROFILE}?{urlencode(parameters)}"


__all__ = [
    "EvidenceShown",
    "SkillGroup",
    "SkillShown",
    "achievement_of",
    "credential_json",
    "criteria_of",
    "evidence_of",
    "image_url_of",
    "levels",
    "linkedin_url",
    "parse_timestamp",
    "skill_groups",
    "web_link",
]
