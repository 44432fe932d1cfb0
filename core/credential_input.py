"""Recognising what a person handed us: JSON credential, compact JWT, baked PNG/SVG, or a URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from core.errors import InvalidInput
from core.json_input import parse_json
from core.limits import MAX_CREDENTIAL_BYTES, MAX_IMAGE_BYTES

InputKind = Literal["json", "jwt", "url"]

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class CredentialInput:
    """A credential in one of three shapes, plus where it came from (for the report)."""

    kind: InputKind
    text: str
    document: Any = None
    source: str = "text"


def looks_like_image(data: bytes) -> bool:
    """PNG by signature, SVG by an XML/SVG start."""
    if data.startswith(PNG_SIGNATURE):
        return True
    head = data[:512].lstrip().lower()
    return head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head


def read_credential_input(data: bytes | str) -> CredentialInput:
    """Classify raw input; baked images are unpacked through :mod:`core.baking`.

    Raises :class:`InvalidInput` with a readable reason when the input is none of the above.
    """
    source = "text"
    if isinstance(data, bytes):
        if len(data) > MAX_IMAGE_BYTES:
            raise InvalidInput(f"Input too large: {len(data):,} bytes (limit {MAX_IMAGE_BYTES:,}).")
        if looks_like_image(data):
            from core.baking import extract_badge

            extracted = extract_badge(data)
            source = "png" if data.startswith(PNG_SIGNATURE) else "svg"
            text = extracted.payload
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise InvalidInput(
                    "Not a badge: the file is neither text (JSON or JWT) nor a PNG or SVG image."
                ) from exc
    else:
        text = data
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("Nothing to verify: the input is empty.")
    if len(stripped.encode("utf-8")) > MAX_CREDENTIAL_BYTES:
        raise InvalidInput(f"Credential too large (limit {MAX_CREDENTIAL_BYTES:,} bytes).")
    if stripped.startswith(("{", "[")):
        return CredentialInput("json", stripped, parse_json(stripped), source)
    if _JWT.match(stripped):
        return CredentialInput("jwt", stripped, None, source)
    if stripped.startswith(("https://", "http://")) and " " not in stripped:
        return CredentialInput("url", stripped, None, source)
    raise InvalidInput(
        "Not a badge: expected a JSON credential, a compact JWT, a URL, or a baked PNG/SVG image."
    )
