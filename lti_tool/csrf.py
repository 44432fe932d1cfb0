"""CSRF protection for our forms: a random token per session, sent back in a hidden field.

Only requests a page on another site could make without a CORS preflight need the token, i.e.
bodies of the three "simple" form content types. A JSON or image body cannot be sent
cross-site without a preflight that this app never answers, so API clients need no token.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session
from werkzeug.exceptions import BadRequest

SESSION_KEY = "csrf_token"
FIELD_NAME = "csrf_token"
_SIMPLE_FORM_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)


class CsrfTokenInvalid(BadRequest):
    """The form's CSRF token is missing or is not this session's."""

    description = (
        "This form has expired or was not sent from this site. "
        "Reload the page and submit the form again."
    )


def csrf_token() -> str:
    """This session's token (created on first use); templates put it in a hidden field."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def is_simple_form_request() -> bool:
    """True for bodies a cross-site page could post without a preflight (or with no type)."""
    return (request.mimetype or "") in _SIMPLE_FORM_TYPES or not request.mimetype


def require_csrf_token() -> None:
    """Raise :class:`CsrfTokenInvalid` unless the posted token matches the session's."""
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FIELD_NAME, "")
    if not isinstance(expected, str) or not expected or not sent:
        raise CsrfTokenInvalid()
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfTokenInvalid()
