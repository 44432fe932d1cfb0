"""Deep linking: the teacher's picker of activities and playlists, and the signed response
that adds the chosen ones to the course (to be built; for now the launched page)."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.errors import BadgeBridgeError
from core.service import BadgeService
from lti_tool.lti.framing import frameable, refused
from lti_tool.lti.sessions import LaunchSession

blueprint = Blueprint("lti_deep_linking", __name__, url_prefix="/lti/session/<launch_id>/pick")
blueprint.after_request(frameable)
blueprint.errorhandler(BadgeBridgeError)(refused)


def picker_page(service: BadgeService, session: LaunchSession) -> str:
    """The page a deep-linking request opens."""
    return render_template("lti/launched.html", session=session, activity=None, playlist=None)


__all__ = ["blueprint", "picker_page"]
