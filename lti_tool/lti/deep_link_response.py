"""The deep-linking side of a launch that is not a page: the platform's deep-linking settings
read from the restored launch, and the signed ``LtiDeepLinkingResponse`` JWT that carries the
teacher's choice back (LTI Deep Linking 2.0 §4.2).

The picker's views (:mod:`lti_tool.lti.deep_linking`) never build or sign a JWT: they hand the
chosen items to :func:`signed_response` and post what it returns.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import jwt

from core.lti_registry import CUSTOM_ACTIVITY, CUSTOM_PLAYLIST, DeploymentView, PlatformView
from core.service import BadgeService
from lti_tool.lti.hardened import (
    LTI_CLAIM,
    HardenedMessageLaunch,
    LaunchRefused,
    LtiRequest,
    RegistryToolConfig,
)

DEEP_LINKING_CLAIM: Final = "https://purl.imsglobal.org/spec/lti-dl/claim/"
SETTINGS_CLAIM: Final = DEEP_LINKING_CLAIM + "deep_linking_settings"
RESOURCE_LINK_TYPE: Final = "ltiResourceLink"
#: The response lives as long as the platform gives a teacher to be sent back (10 minutes).
RESPONSE_LIFETIME_SECONDS: Final = 600
#: Every gradebook column this tool asks for: a badge earned is full marks.
SCORE_MAXIMUM: Final = 100
#: The tag of our gradebook columns, so the tool (and a teacher) can tell them apart.
LINE_ITEM_TAG: Final = "badgebridge"
#: Sizes platforms store without complaint (Moodle's title column holds 255 characters).
TITLE_MAX: Final = 255
TEXT_MAX: Final = 1000


@dataclass(frozen=True)
class DeepLinkingSettings:
    """What the platform's ``deep_linking_settings`` claim allows and asks to be echoed."""

    return_url: str
    accept_types: tuple[str, ...]
    accept_multiple: bool
    #: False when the platform said it takes no line items (``accept_lineitem: false``).
    accept_line_item: bool
    #: ``data`` to send back unchanged, when the platform sent one.
    data: Any = None
    has_data: bool = False
    title: str | None = None
    text: str | None = None

    @property
    def accepts_resource_links(self) -> bool:
        """Whether the platform takes the only kind of item this tool makes."""
        return RESOURCE_LINK_TYPE in self.accept_types

    @property
    def return_origin(self) -> str:
        """``scheme://host[:port]`` of the return URL (what the page's CSP must allow)."""
        parts = urlsplit(self.return_url)
        return f"{parts.scheme}://{parts.netloc}"


def _flag(value: Any, default: bool) -> bool:
    """A boolean setting; platforms send ``true``/``false`` or the strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return default


def _return_url(value: Any) -> str:
    """The return URL, checked: an absolute http(s) URL with nothing that could break out of
    the form's ``action`` or the page's Content-Security-Policy."""
    refused = LaunchRefused(
        "The learning environment sent no usable address to send the choice back to "
        "(deep_link_return_url).",
        reason="bad-return-url",
    )
    if not isinstance(value, str) or not value or len(value) > 2000:
        raise refused
    if any(c.isspace() or c in ";,'\"<>\\" for c in value):
        raise refused
    try:
        parts = urlsplit(value)
    except ValueError:
        raise refused from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise refused
    return value


def _display(value: Any) -> str | None:
    return value.strip()[:TEXT_MAX] if isinstance(value, str) and value.strip() else None


def settings_of(claims: Mapping[str, Any]) -> DeepLinkingSettings:
    """The deep-linking settings of a launch's claims (:class:`LaunchRefused` when there are
    none, or no return URL)."""
    raw = claims.get(SETTINGS_CLAIM)
    if not isinstance(raw, Mapping):
        raise LaunchRefused(
            "The learning environment did not say how to add items (deep_linking_settings).",
            reason="no-deep-linking-settings",
        )
    accept_types = raw.get("accept_types")
    types = (
        tuple(t for t in accept_types if isinstance(t, str))
        if isinstance(accept_types, list)
        else ()
    )
    return DeepLinkingSettings(
        return_url=_return_url(raw.get("deep_link_return_url")),
        accept_types=types,
        accept_multiple=_flag(raw.get("accept_multiple"), True),
        accept_line_item=_flag(raw.get("accept_lineitem"), True),
        data=raw.get("data"),
        has_data="data" in raw and raw.get("data") is not None,
        title=_display(raw.get("title")),
        text=_display(raw.get("text")),
    )


@dataclass(frozen=True)
class DeepLinkingLaunch:
    """A deep-linking launch restored from the shared launch cache: who sent it and what it
    allows."""

    launch_id: str
    platform: PlatformView
    deployment: DeploymentView
    settings: DeepLinkingSettings


def restore_deep_linking(service: BadgeService, launch_id: str) -> DeepLinkingLaunch:
    """The deep-linking launch ``launch_id`` (any web worker validated it); refused (4xx) when
    it expired, is not a deep-linking request, or its platform or deployment is gone."""
    launch = HardenedMessageLaunch.restore(launch_id, LtiRequest(), RegistryToolConfig(service.lti))
    if launch.claim("message_type") != "LtiDeepLinkingRequest":
        raise LaunchRefused(
            "This course item was not opened to add activities to a course.",
            reason="not-deep-linking",
        )
    if launch.deployment is None:
        raise LaunchRefused(
            "The deployment of this launch is no longer registered with this tool.",
            reason="deployment-gone",
            status=404,
        )
    return DeepLinkingLaunch(
        launch_id, launch.platform, launch.deployment, settings_of(launch.claims)
    )


@dataclass(frozen=True)
class ChosenItem:
    """An activity or playlist the teacher chose, as the course item it becomes."""

    #: ``"activity"`` or ``"playlist"``
    kind: str
    public_id: str
    title: str
    text: str
    custom: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, kind: str, public_id: str, title: str, text: str) -> ChosenItem:
        """The item for an activity or playlist; its custom parameter names it (the launch of
        the link reads the same names, :data:`core.lti_registry.CUSTOM_ACTIVITY`)."""
        name = {"activity": CUSTOM_ACTIVITY, "playlist": CUSTOM_PLAYLIST}[kind]
        return cls(kind, public_id, title, text, {name: public_id})

    @property
    def resource_id(self) -> str:
        """The line item's ``resourceId``: ``activity:<id>`` or ``playlist:<id>``."""
        return f"{self.kind}:{self.public_id}"

    def content_item(self, launch_url: str, *, with_line_item: bool) -> dict[str, Any]:
        """The ``ltiResourceLink`` content item (with a gradebook column when allowed)."""
        title = self.title.strip()[:TITLE_MAX]
        item: dict[str, Any] = {
            "type": RESOURCE_LINK_TYPE,
            "title": title,
            "url": launch_url,
            "custom": dict(self.custom),
        }
        text = self.text.strip()[:TEXT_MAX]
        if text:
            item["text"] = text
        if with_line_item:
            item["lineItem"] = {
                "scoreMaximum": SCORE_MAXIMUM,
                "label": title,
                "resourceId": self.resource_id,
                "tag": LINE_ITEM_TAG,
            }
        return item


def response_claims(
    launch: DeepLinkingLaunch,
    items: list[ChosenItem],
    launch_url: str,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of the ``LtiDeepLinkingResponse`` for ``items``: from the tool (``iss`` is
    our client id) to the platform (``aud`` its issuer), for the launch's deployment, echoing
    the platform's ``data``."""
    issued = int(time.time() if now is None else now)
    settings = launch.settings
    claims: dict[str, Any] = {
        "iss": launch.platform.client_id,
        "aud": launch.platform.issuer,
        "iat": issued,
        "exp": issued + RESPONSE_LIFETIME_SECONDS,
        "nonce": secrets.token_urlsafe(24),
        LTI_CLAIM + "deployment_id": launch.deployment.deployment_id,
        LTI_CLAIM + "message_type": "LtiDeepLinkingResponse",
        LTI_CLAIM + "version": "1.3.0",
        DEEP_LINKING_CLAIM + "content_items": [
            item.content_item(launch_url, with_line_item=settings.accept_line_item)
            for item in items
        ],
    }
    if settings.has_data:
        claims[DEEP_LINKING_CLAIM + "data"] = settings.data
    return claims


def signed_response(
    service: BadgeService, launch: DeepLinkingLaunch, items: list[ChosenItem], launch_url: str
) -> str:
    """The ``LtiDeepLinkingResponse`` JWT for ``items``, signed RS256 with the tool's active
    key (its ``kid`` in the header, published in the tool's JWKS)."""
    key = service.lti.tool_signing_key()
    return jwt.encode(
        response_claims(launch, items, launch_url),
        key.private_pem(),
        algorithm="RS256",
        headers={"kid": key.kid, "typ": "JWT"},
    )


__all__ = [
    "LINE_ITEM_TAG",
    "RESOURCE_LINK_TYPE",
    "SCORE_MAXIMUM",
    "ChosenItem",
    "DeepLinkingLaunch",
    "DeepLinkingSettings",
    "response_claims",
    "restore_deep_linking",
    "settings_of",
    "signed_response",
]
