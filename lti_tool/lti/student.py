"""The course item as a student sees it: the activity or playlist, their progress, evidence
submission and the badge they earned (to be built; for now the launched page)."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.errors import BadgeBridgeError, NotFound
from core.service import BadgeService
from lti_tool.lti.framing import frameable, refused
from lti_tool.lti.sessions import LaunchSession

blueprint = Blueprint("lti_student", __name__, url_prefix="/lti/session/<launch_id>/student")
blueprint.after_request(frameable)
blueprint.errorhandler(BadgeBridgeError)(refused)


def course_item_page(service: BadgeService, session: LaunchSession) -> str:
    """The course item as a student (and anyone without a teaching role) sees it."""
    activity = playlist = None
    if session.activity_public_id:
        try:
            activity = service.catalogue.get_activity(session.activity_public_id)
        except NotFound:
            activity = None
    if session.playlist_public_id:
        try:
            playlist = service.catalogue.get_playlist(session.playlist_public_id)
        except NotFound:
            playlist = None
    return render_template(
        "lti/launched.html", session=session, activity=activity, playlist=playlist
    )


__all__ = ["blueprint", "course_item_page"]
