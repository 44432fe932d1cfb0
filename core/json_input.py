"""Parsing untrusted JSON: size cap, depth cap, no NaN/Infinity, duplicate keys refused."""

from __future__ import annotations

import json
from typing import Any

from core.errors import InvalidInput
from core.limits import MAX_CREDENTIAL_BYTES, MAX_JSON_DEPTH


def _no_constants(name: str) -> Any:
    raise InvalidInput(f"Not valid JSON: {name} is not allowed.")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InvalidInput(f"Not valid JSON: the key {key!r} appears twice in one object.")
        out[key] = value
    return out


def json_depth_exceeds(text: str, limit: int) -> bool:
    """True when brackets nest deeper than ``limit`` (checked before parsing, so a
    hostile document cannot exhaust the recursion stack of the parser)."""
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def parse_json(data: str | bytes, *, max_bytes: int = MAX_CREDENTIAL_BYTES) -> Any:
    """Parse untrusted JSON text, raising :class:`InvalidInput` with a readable reason."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise InvalidInput(f"Document too large: {len(raw):,} bytes (limit {max_bytes:,}).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("Not valid JSON: the text is not UTF-8.") from exc
    if json_depth_exceeds(text, MAX_JSON_DEPTH):
        raise InvalidInput(f"Document nested too deeply (limit {MAX_JSON_DEPTH} levels).")
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from exc


def parse_json_object(
    data: str | bytes, *, max_bytes: int = MAX_CREDENTIAL_BYTES
) -> dict[str, Any]:
    """Parse untrusted JSON that must be an object."""
    value = parse_json(data, max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise InvalidInput("Expected a JSON object, got " + type(value).__name__ + ".")
    return value
