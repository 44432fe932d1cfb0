"""What a validated launch leaves behind: the course, course item and gradebook column in the
registry, the durable learner behind the LTI identity, and a launch session (who, which role
class, where) in the shared launch cache that the launched pages read.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import asdict, dataclass
from typing import Any

from flask import current_app

from core.errors import InvalidInput
from core.learners import IdentityConflict, normalise_email
from core.lti_registry import LaunchCache
from core.service import BadgeService
from lti_tool.i18n import launch_locale, use_launch_locale
from lti_tool.lti.hardened import (
    LAUNCH_TTL_SECONDS,
    HardenedMessageLaunch,
    LaunchRefused,
    RoleClass,
    is_student,
    role_class,
)

log = logging.getLogger(__name__)

AGS_ENDPOINT_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"


@dataclass(frozen=True)
class LaunchSession:
    """A launch as the launched pages see it."""

    launch_id: str
    message_type: str
    platform_public_id: str
    platform_name: str
    deployment_id: str
    user_id: str
    name: str | None
    email: str | None
    role_class: RoleClass
    roles: tuple[str, ...]
    learner_public_id: str | None
    context_id: str | None
    context_title: str | None
    resource_link_id: str | None
    resource_link_title: str | None
    activity_public_id: str | None
    playlist_public_id: str | None
    line_item_url: str | None
    #: The language of the launch's pages (``nl``/``en``, from launch_presentation.locale).
    locale: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LaunchSession:
        """The session as stored in the cache."""
        values = dict(data)
        values["roles"] = tuple(values.get("roles") or ())
        return cls(**values)


def _text(value: Any, limit: int) -> str | None:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def display_name(claims: dict[str, Any]) -> str | None:
    """The user's name from ``name``, else ``given_name`` + ``family_name``."""
    name = _text(claims.get("name"), 200)
    if name:
        return name
    parts = [_text(claims.get(k), 100) for k in ("given_name", "family_name")]
    joined = " ".join(p for p in parts if p)
    return joined or None


def start_session(service: BadgeService, launch: HardenedMessageLaunch) -> LaunchSession:
    """Record where the validated ``launch`` came from, find or create its learner, and keep
    the launch session for :data:`LAUNCH_TTL_SECONDS`."""
    deployment = launch.deployment
    if deployment is None:  # validate() sets it
        raise LaunchRefused("The launch was not validated.", reason="not-validated")
    claims = launch.claims
    platform = launch.platform
    placement = service.lti.record_launch(
        deployment,
        context=launch.claim("context"),
        resource_link=launch.claim("resource_link"),
        custom=launch.claim("custom"),
        ags_endpoint=claims.get(AGS_ENDPOINT_CLAIM),
    )
    roles = launch.claim("roles") or []
    role = role_class(roles)
    name = display_name(claims)
    email = _text(claims.get("email"), 320)
    if email is not None and "@" not in email:
        email = None
    learner_public_id = None
    # Only students become learners: unknown, mentor-only or role-less launches just look.
    if role == "learner" and is_student(r for r in roles if isinstance(r, str)):
        learner_public_id = _learner(
            service, platform.learner_platform, claims["sub"], name, email, platform.email_trusted
        )
        # Grades go to this item's gradebook column when the learner earns its badge.
        service.lti_grades.record_placement(placement, learner_public_id, str(claims["sub"]))
    link = placement.resource_link
    session = LaunchSession(
        launch_id=launch.get_launch_id(),
        message_type=str(launch.claim("message_type")),
        platform_public_id=platform.public_id,
        platform_name=platform.name,
        deployment_id=deployment.deployment_id,
        user_id=str(claims["sub"]),
        name=name,
        email=email,
        role_class=role,
        roles=tuple(r for r in roles if isinstance(r, str))[:20],
        learner_public_id=learner_public_id,
        context_id=None if placement.context is None else placement.context.context_id,
        context_title=None if placement.context is None else placement.context.title,
        resource_link_id=None if link is None else link.resource_link_id,
        resource_link_title=None if link is None else link.title,
        activity_public_id=None if link is None else link.activity_public_id,
        playlist_public_id=None if link is None else link.playlist_public_id,
        line_item_url=None if placement.line_item is None else placement.line_item.line_item_url,
        locale=launch_locale(launch.presentation_locale),
    )
    _cache(service).put(f"session:{session.launch_id}", asdict(session), LAUNCH_TTL_SECONDS)
    return session


def _learner(
    service: BadgeService,
    platform: str,
    user_id: str,
    name: str | None,
    email: str | None,
    email_trusted: bool,
) -> str:
    """The durable learner of ``user_id`` on ``platform``, linked by email when the platform
    is trusted to assert it. When the email belongs to another learner than the LMS identity,
    the launch goes on with the LMS identity alone (the conflict is logged for an
    administrator to merge)."""
    learners = service.learners
    known = _known_learner(service, platform, user_id, name, email, email_trusted)
    if known is not None:
        return known
    try:
        return learners.find_or_create(
            lms_platform=platform,
            lms_user_id=user_id,
            email=email,
            email_verified=email_trusted,
            display_name=name,
        ).public_id
    except IdentityConflict as problem:
        if email is None:
            raise
        log.warning("LTI launch: %s; continuing with the LMS identity only.", problem.message)
        return learners.find_or_create(
            lms_platform=platform, lms_user_id=user_id, display_name=name
        ).public_id


def _known_learner(
    service: BadgeService,
    platform: str,
    user_id: str,
    name: str | None,
    email: str | None,
    email_trusted: bool,
) -> str | None:
    """A returning learner whose record already holds all this launch says (the usual case):
    read only, so most launches open no write transaction. None when ``find_or_create``
    would add or change something."""
    learner = service.learners.find(lms_platform=platform, lms_user_id=user_id)
    if learner is None or learner.deleted or (name and not learner.display_name):
        return None
    if email is not None:
        try:
            address = normalise_email(email)
        except InvalidInput:
            return None
        if not any(
            i.kind == "email" and i.value == address and (i.verified or not email_trusted)
            for i in learner.identifiers
        ):
            return None
    return learner.public_id


def load_session(service: BadgeService, launch_id: str) -> LaunchSession:
    """The launch session ``launch_id`` (a 404 :class:`LaunchRefused` when it expired)."""
    data = _cache(service).get(f"session:{launch_id}") if len(launch_id) <= 100 else None
    if not isinstance(data, dict):
        raise LaunchRefused(
            "This launch has expired or is unknown. Open the item from your course again.",
            reason="launch-expired",
            status=404,
        )
    session = LaunchSession.from_dict(data)
    use_launch_locale(session.locale)
    return session


#: The hidden field of the forms on launched pages.
FORM_TOKEN_FIELD = "launch_token"  # noqa: S105 (a field name)


def form_token(session: LaunchSession) -> str:
    """The token the forms of ``session``'s pages carry. Inside the LMS frame the site's
    cookies may not be sent (third-party cookies), so these forms are bound to the launch,
    not to a cookie session: an HMAC of the launch id under the app's secret key."""
    secret = str(current_app.secret_key or "").encode()
    return hmac.new(secret, f"lti-form:{session.launch_id}".encode(), hashlib.sha256).hexdigest()


def require_form_token(session: LaunchSession, sent: str | None) -> None:
    """Refuse (400, readable) a form post on ``session``'s pages without its token."""
    if not sent or not hmac.compare_digest(form_token(session).encode(), sent.encode()):
        raise LaunchRefused(
            "This form was not sent from this course item's page. Open the item from your "
            "course again.",
            reason="form-token",
            status=400,
        )


def _cache(service: BadgeService) -> LaunchCache:
    return service.lti.launch_cache


__all__ = [
    "FORM_TOKEN_FIELD",
    "LaunchSession",
    "display_name",
    "form_token",
    "load_session",
    "require_form_token",
    "start_session",
]
