"""The floor under the launch benchmark: a Flask app that answers the three requests of an LTI
launch exactly as the tool does on the wire (302 with a state cookie, 303, a small HTML page)
and does no work at all: no id_token check, no database, no launch cache.

Served by the same ``gunicorn -w 2`` and driven by the same load generator, it measures what
gunicorn, Flask, the kernel's TCP and the load generator (with the platform's RS256 signing)
cost before the tool does anything; no LTI tool on this stack can launch faster.
"""

from __future__ import annotations

import os
import secrets
from urllib.parse import urlencode

from flask import Flask, Response, redirect, request


def create_app() -> Flask:
    """The do-nothing launch endpoints (``/lti/login``, ``/lti/launch``, ``/lti/session/<id>``)."""
    app = Flask(__name__)
    auth_url = os.environ["BADGEBRIDGE_FLOOR_AUTH_URL"]  # the platform's, as a registration has it

    @app.get("/lti/jwks.json")
    def jwks() -> dict[str, list[object]]:
        return {"keys": []}

    @app.get("/lti/login")
    def login() -> Response:
        state = secrets.token_urlsafe(24)
        query = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": request.args["client_id"],
            "redirect_uri": request.args["target_link_uri"],
            "login_hint": request.args["login_hint"],
            "lti_message_hint": request.args.get("lti_message_hint", ""),
            "state": state,
            "nonce": secrets.token_urlsafe(24),
        }
        response = redirect(f"{auth_url}?{urlencode(query)}", 302)
        response.set_cookie("lti1p3-state", state, secure=True, samesite="None")
        return response

    @app.post("/lti/launch")
    def launch() -> Response:
        if not request.form.get("id_token") or not request.cookies.get("lti1p3-state"):
            return Response("no launch", 400)
        return redirect(f"/lti/session/{secrets.token_urlsafe(16)}", 303)

    @app.get("/lti/session/<session_id>")
    def page(session_id: str) -> str:
        return f"<!doctype html><title>Launched</title><h1>Launch {session_id}</h1>"

    return app
