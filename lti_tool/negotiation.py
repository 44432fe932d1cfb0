"""Content negotiation: one URL serves people (HTML) and machines (JSON, JSON-LD, JWT).

Ties go to the first type offered, so a browser or a client that sends ``*/*`` gets the page.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from werkzeug.http import HTTP_STATUS_CODES

HTML = "text/html"
JSON = "application/json"
JSON_LD = "application/ld+json"
VC_JSON_LD = "application/vc+ld+json"
VC_JWT = "application/vc+jwt"
JWT = "application/jwt"
PROBLEM_JSON = "application/problem+json"

#: Types that mean "a program is asking": error responses become problem+json for them.
MACHINE_TYPES = (JSON, JSON_LD, VC_JSON_LD, PROBLEM_JSON)


def preferred(*offered: str) -> str:
    """The offered media type the client prefers (the first offered when it has no preference)."""
    return request.accept_mimetypes.best_match(offered, default=offered[0]) or offered[0]


def wants_machine_readable() -> bool:
    """True when the client prefers JSON (of any flavour) to an HTML page."""
    return preferred(HTML, *MACHINE_TYPES) != HTML


def json_response(
    document: Any, *, mimetype: str = JSON, status: int = 200, vary: bool = True
) -> Response:
    """``document`` as pretty JSON text; ``Vary: Accept`` when the URL also serves HTML."""
    body = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    response = Response(body, status=status, mimetype=mimetype)
    if vary:
        response.vary.add("Accept")
    return response


def problem_response(status: int, detail: str) -> Response:
    """An RFC 9457 problem document. ``type`` is ``about:blank``, so ``title`` is the status
    phrase and ``detail`` says what went wrong for this request."""
    problem = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    return json_response(problem, mimetype=PROBLEM_JSON, status=status)
