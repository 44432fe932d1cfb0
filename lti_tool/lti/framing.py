"""Headers for the pages shown inside the LMS.

The LMS shows the launched pages in an iframe (and opens registration in one): any site may
frame them, and the opener stays reachable for the registration's close message. The few
scripts these pages have run with a per-response nonce (never ``'unsafe-inline'``); a page
that loads a script file of ours (``static/``) says so with :func:`allow_static_scripts`.
Every LTI blueprint installs :func:`frameable` as its ``after_request``.
"""

from __future__ import annotations

import secrets
from typing import cast

from flask import Response, g, render_template

from core.errors import BadgeBridgeError, FetchRefused, NotFound
from lti_tool.i18n import gettext as _
from lti_tool.lti.dynamic_registration import RegistrationRefused
from lti_tool.lti.hardened import LaunchRefused
from lti_tool.negotiation import problem_response, wants_machine_readable


def script_nonce() -> str:
    """This response's nonce for inline scripts (named in its Content-Security-Policy)."""
    if "lti_script_nonce" not in g:
        g.lti_script_nonce = secrets.token_urlsafe(16)
    return cast(str, g.lti_script_nonce)


def allow_form_action(url: str) -> None:
    """Let this response's forms post to ``url``'s origin too (e.g. the deep-linking return
    URL of the platform, which the picker's response form auto-posts to)."""
    origins: list[str] = g.setdefault("lti_form_action_urls", [])
    origins.append(url)


def allow_static_scripts() -> None:
    """Let this response load script files from this site (``lti_tool/static``) too."""
    g.lti_static_scripts = True


def frameable(response: Response) -> Response:
    """Set the framing, script and form headers of an LTI page on ``response``."""
    nonce = g.get("lti_script_nonce")
    script_sources = [f"'nonce-{nonce}'"] if nonce else []
    if g.get("lti_static_scripts"):
        script_sources.append("'self'")
    scripts = " ".join(script_sources) or "'none'"
    form_targets = " ".join(["'self'", *g.get("lti_form_action_urls", [])])
    response.headers["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"script-src {scripts}",
            f"form-action {form_targets}",
            "base-uri 'none'",
            "frame-ancestors *",
        ]
    )
    # X-Frame-Options has no "any site" value: frame-ancestors above is the rule.
    response.headers.pop("X-Frame-Options", None)
    response.headers["Cross-Origin-Opener-Policy"] = "unsafe-none"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def refused(problem: BadgeBridgeError) -> Response:
    """The readable 4xx page (or problem+json for machines) for a refused LTI request; every
    LTI blueprint installs it as its error handler."""
    if isinstance(problem, LaunchRefused):
        status = problem.status
    elif isinstance(problem, NotFound):
        status = 404
    else:
        status = 400
    if wants_machine_readable():
        return problem_response(status, problem.message)
    reopen_url = problem.reopen_url if isinstance(problem, LaunchRefused) else None
    page = render_template(
        "lti/error.html",
        status=status,
        title=_error_title(problem),
        message=problem.message,
        reopen_url=reopen_url,
    )
    return Response(page, status=status, mimetype="text/html")


def _error_title(problem: BadgeBridgeError) -> str:
    if isinstance(problem, RegistrationRefused | FetchRefused):
        return _("The registration did not work")
    if isinstance(problem, LaunchRefused) and problem.reason == "launch-expired":
        return _("This page has expired")
    return _("This course item could not be opened")


__all__ = ["allow_form_action", "allow_static_scripts", "frameable", "refused", "script_nonce"]
