"""The one way core reaches the network: a :class:`Fetcher`. The guarded implementation lives in
:mod:`core.guarded_http` and imports its HTTP library only when it is first used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class FetchedDocument:
    """A fetched resource: the final URL after redirects, its media type and body."""

    url: str
    content_type: str
    body: bytes


class Fetcher(Protocol):
    """Fetches public documents (hosted badges, issuer profiles, DID documents, status lists)."""

    def fetch(self, url: str, *, accept: str = "*/*") -> FetchedDocument:
        """Fetch ``url`` or raise :class:`core.errors.FetchRefused` with a readable reason."""
        ...

    def fetch_json(self, url: str, *, accept: str = "application/ld+json, application/json") -> Any:
        """Fetch and parse JSON (size and depth capped) or raise ``FetchRefused``/``InvalidInput``."""
        ...
