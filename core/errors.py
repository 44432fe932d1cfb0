"""Errors raised by the badge core.

Every error carries a message a person can read; callers (CLI, web, connectors) show it as is.
Raising one of these means nothing was written.
"""

from __future__ import annotations


class BadgeBridgeError(Exception):
    """Base class: a problem the caller can explain to a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(BadgeBridgeError):
    """The input is malformed: not JSON, wrong types, too large, too deep, or not a badge."""


class UnknownContext(BadgeBridgeError):
    """A JSON-LD context URL is not bundled; it is never fetched from the network."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"Unknown JSON-LD context {url!r}: only bundled contexts are used, none is fetched."
        )
        self.url = url


class UndefinedTerms(BadgeBridgeError):
    """Terms the JSON-LD contexts do not define: they would be left unsigned, so we refuse."""

    def __init__(self, terms: list[str]) -> None:
        shown = ", ".join(sorted(set(terms))[:10])
        super().__init__(
            f"Terms not defined by the credential's JSON-LD contexts (they would not be signed): "
            f"{shown}"
        )
        self.terms = sorted(set(terms))


class KeyProblem(BadgeBridgeError):
    """A key cannot be created, decrypted, resolved or used."""


class ProofProblem(BadgeBridgeError):
    """A proof cannot be created or is malformed."""


class FetchRefused(BadgeBridgeError):
    """The guarded HTTP client refused or failed a fetch (address, size, time, status)."""


class NotFound(BadgeBridgeError):
    """A requested record does not exist."""
