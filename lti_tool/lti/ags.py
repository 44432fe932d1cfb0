"""The HTTP side of grades back to the LMS (LTI Assignment and Grade Services), for the outbox
worker: no Flask request needed.

Access tokens come from the platform's token endpoint by the client-credentials grant with the
tool's signed JWT assertion, through :class:`~lti_tool.lti.hardened.KeyedServiceConnector`
(tokens cached in the shared launch cache per issuer, client id and scopes). Requests go through
the guarded HTTP client's session with a timeout. The platform's answers are sorted for the
outbox: 4xx (but 408 and 429) is a refusal for good (:class:`AgsRefused`, with the platform's
words), anything else that fails is worth retrying (:class:`AgsUnavailable`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from core.errors import FetchRefused
from core.lti_grades import AgsRefused, AgsUnavailable
from core.lti_registry import LtiRegistry, PlatformView
from lti_tool.lti.hardened import (
    KeyedServiceConnector,
    PlatformRegistration,
    service_requests_session,
)

SCOPE_SCORE: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_LINEITEM_READONLY: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
MEDIA_SCORE: Final = "application/vnd.ims.lis.v1.score+json"
MEDIA_LINEITEM: Final = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_RESULTS: Final = "application/vnd.ims.lis.v2.resultcontainer+json"
#: Statuses that say "not now" rather than "no": request timeout, too many requests.
RETRYABLE_4XX: Final = frozenset({408, 429})
#: How much of a platform's answer goes into a refusal's message.
MAX_ANSWER_CHARS: Final = 500


def line_item_service_url(line_item_url: str, service: str, **query: str) -> str:
    """``<lineitem>/scores`` or ``/results``, keeping the line item URL's query (Moodle puts
    ``type_id`` there) and adding ``query``."""
    parts = urlsplit(line_item_url)
    extra = urlencode(query)
    joined = "&".join(part for part in (parts.query, extra) if part)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + service, query=joined))


class _Connector(KeyedServiceConnector):
    """The keyed service connector, able to drop a cached token the platform no longer
    accepts."""

    def forget_access_token(self, scopes: Iterable[str]) -> None:
        """Drop the cached token for ``scopes`` (the next request fetches a new one)."""
        self._cache.delete(f"token:{self._scope_key(sorted(scopes))}")

    def send(self, method: str, url: str, **options: Any) -> requests.Response:
        """One request through the connector's guarded session (with its timeout)."""
        response: requests.Response = self._requests_session.request(method, url, **options)
        return response


class AgsClient:
    """AGS requests to each registered platform (implements
    :class:`core.lti_grades.ScoreClient`)."""

    def __init__(self, registry: LtiRegistry) -> None:
        self._registry = registry

    def _connector(self, platform: PlatformView) -> _Connector:
        return _Connector(
            PlatformRegistration(platform, self._registry),
            service_requests_session(self._registry),
        )

    def post_score(
        self, platform: PlatformView, line_item_url: str, score: Mapping[str, Any]
    ) -> None:
        """POST ``score`` to the line item's ``/scores``."""
        self._request(
            platform,
            "POST",
            line_item_service_url(line_item_url, "scores"),
            [SCOPE_SCORE],
            body=json.dumps(dict(score)).encode("utf-8"),
            headers={"Content-Type": MEDIA_SCORE},
        )

    def latest_result(
        self, platform: PlatformView, line_item_url: str, user_id: str
    ) -> Mapping[str, Any] | None:
        """The line item's result for ``user_id`` (None when the platform has none)."""
        response = self._request(
            platform,
            "GET",
            line_item_service_url(line_item_url, "results", user_id=user_id),
            [SCOPE_RESULT_READONLY],
            headers={"Accept": MEDIA_RESULTS},
        )
        try:
            document = response.json()
        except ValueError as problem:
            raise AgsUnavailable(
                f"{platform.name} answered results that are not JSON."
            ) from problem
        results = document if isinstance(document, list) else []
        mine = [r for r in results if isinstance(r, dict) and r.get("userId") == user_id]
        return mine[-1] if mine else None

    def line_item_maximum(self, platform: PlatformView, line_item_url: str) -> float | None:
        """The line item's ``scoreMaximum`` (None when the platform refuses to say)."""
        try:
            response = self._request(
                platform,
                "GET",
                line_item_url,
                [SCOPE_LINEITEM_READONLY],
                headers={"Accept": MEDIA_LINEITEM},
            )
            document = response.json()
        except (AgsRefused, ValueError):
            return None
        maximum = document.get("scoreMaximum") if isinstance(document, dict) else None
        if isinstance(maximum, bool) or not isinstance(maximum, int | float) or maximum <= 0:
            return None
        return float(maximum)

    def _request(
        self,
        platform: PlatformView,
        method: str,
        url: str,
        scopes: Sequence[str],
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        connector = self._connector(platform)
        for attempt in (1, 2):
            token = self._access_token(connector, platform, scopes)
            sent = {**(headers or {}), "Authorization": f"Bearer {token}"}
            try:
                response = connector.send(
                    method, url, data=body, headers=sent, allow_redirects=False
                )
            except (requests.RequestException, FetchRefused) as problem:
                raise AgsUnavailable(
                    f"{platform.name} could not be reached: {problem}"
                ) from problem
            if response.status_code == 401 and attempt == 1:
                # Our cached token was revoked or expired early: fetch a new one, once.
                connector.forget_access_token(scopes)
                continue
            _raise_for_status(platform, response, what=f"{method} {url}")
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _access_token(connector: _Connector, platform: PlatformView, scopes: Sequence[str]) -> str:
        try:
            return str(connector.get_access_token(list(scopes)))
        except (requests.RequestException, FetchRefused) as problem:
            raise AgsUnavailable(
                f"The token endpoint of {platform.name} could not be reached: {problem}"
            ) from problem
        except KeyError as problem:  # a 2xx answer without an access_token
            raise AgsUnavailable(
                f"The token endpoint of {platform.name} answered without an access token."
            ) from problem
        except Exception as problem:
            # pylti1p3's LtiServiceException carries the token endpoint's answer.
            response = getattr(problem, "response", None)
            if not isinstance(response, requests.Response):
                raise
            _raise_for_status(platform, response, what="the access token request")
            raise


def _raise_for_status(platform: PlatformView, response: requests.Response, *, what: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    said = _platform_words(response)
    message = f"{platform.name} answered HTTP {status} to {what}" + (f": {said}" if said else ".")
    if 300 <= status < 500 and status not in RETRYABLE_4XX:
        raise AgsRefused(message)
    raise AgsUnavailable(message)


def _platform_words(response: requests.Response) -> str:
    """What the platform said: an OAuth/AGS error object's ``error`` and description, else the
    start of its answer."""
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict):
        parts = [
            str(document[key])
            for key in ("error", "error_description", "message", "reason")
            if isinstance(document.get(key), str | int) and str(document[key]).strip()
        ]
        if parts:
            return ": ".join(parts)[:MAX_ANSWER_CHARS]
    return response.text.strip()[:MAX_ANSWER_CHARS]


__all__ = ["AgsClient", "line_item_service_url"]
