"""An issuer's catalogue: achievements (with skills grouped by framework, ESCO skills and the
EU micro-credential elements), activities (place, time, how completion is confirmed) and
playlists (ordered steps and the rule that earns the playlist badge).

Organisers of the issuer and administrators only; every achievement, activity and playlist
is checked to belong to the issuer in the address.
"""

from __future__ import annotations

import re
from typing import Any, cast

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from core import frameworks
from core.catalogue import (
    ACHIEVEMENT_TYPES,
    COMPLETION_MODES,
    PARTICIPATION_FORMS,
    STACKABILITY_KINDS,
    SUPERVISION_KINDS,
    AchievementView,
    ActivityView,
    Catalogue,
    PlaylistStepSpec,
    PlaylistView,
    generate_attendance_code,
)
from core.errors import BadgeBridgeError, NotFound
from lti_tool.admin.forms import (
    FormErrors,
    checkbox,
    lines,
    local_datetime_field,
    local_datetime_value,
    number_field,
    optional,
    text,
    whole_number_field,
)
from lti_tool.admin.issuer_scope import organisation
from lti_tool.auth import protect_blueprint, require_issuer_access
from lti_tool.i18n import N_, current_locale, ngettext
from lti_tool.i18n import gettext as _
from lti_tool.web import badge_service

blueprint = Blueprint("admin_catalogue", __name__, url_prefix="/admin/issuers/<slug>")
protect_blueprint(blueprint)

COMPLETION_MODE_LABELS = {
    "organiser_confirms": N_("The organiser confirms who took part"),
    "evidence_organiser": N_("Learners hand in evidence; the organiser reviews it"),
    "evidence_peer": N_("Learners hand in evidence; other learners review it"),
    "attendance_code": N_("Learners enter the attendance code given at the activity"),
    "lms_completion": N_("Completion in the learning platform (LMS)"),
}
PARTICIPATION_LABELS = {
    "online": N_("Online"),
    "onsite": N_("On site"),
    "blended": N_("Blended (online and on site)"),
    "volunteering": N_("Volunteering"),
    "work_experience": N_("Work experience"),
}
SUPERVISION_LABELS = {
    "unsupervised_no_identity_verification": N_("Unsupervised, identity not checked"),
    "supervised_no_identity_verification": N_("Supervised, identity not checked"),
    "supervised_online": N_("Supervised online, identity checked"),
    "onsite_identity_verification": N_("On site, identity checked"),
}
STACKABILITY_LABELS = {
    "stand_alone": N_("Stand-alone"),
    "stackable": N_("Can be combined into a larger credential"),
}
PLAYLIST_RULE_LABELS = {
    "all": N_("All steps"),
    "n_of_m": N_("A number of the steps"),
}
#: Empty step rows on a new playlist form (more with the "more steps" button).
PLAYLIST_STEP_ROWS = 6
#: Most step rows on a playlist form (a playlist has at most 100 steps).
MAX_PLAYLIST_STEP_ROWS = 100
MICROCREDENTIAL_TEXT_FIELDS = ("assessment_type", "quality_assurance", "prerequisites")


def _catalogue() -> Catalogue:
    return badge_service().catalogue


def _own_achievement(slug: str, public_id: str) -> AchievementView:
    try:
        achievement = _catalogue().get_achievement(public_id)
    except NotFound:
        abort(404)
    if achievement.issuer_slug != slug:
        abort(404)
    return achievement


def _own_activity(slug: str, public_id: str) -> ActivityView:
    try:
        activity = _catalogue().get_activity(public_id)
    except NotFound:
        abort(404)
    if activity.issuer_slug != slug:
        abort(404)
    return activity


def _own_playlist(slug: str, public_id: str) -> PlaylistView:
    try:
        playlist = _catalogue().get_playlist(public_id)
    except NotFound:
        abort(404)
    if playlist.issuer_slug != slug:
        abort(404)
    return playlist


def _options(
    labels: dict[str, str], values: tuple[str, ...], empty: bool = True
) -> list[tuple[str, str]]:
    options = [("", _("Not given"))] if empty else []
    return options + [(value, _(labels[value])) for value in values]


def _skill_groups() -> list[dict[str, Any]]:
    """The skills picker: frameworks, their areas and competences, in the page's language."""
    language = current_locale()
    groups = []
    for framework in frameworks.frameworks():
        areas = []
        for area in framework.areas:
            area_name = area.name_nl if language == "nl" and area.name_nl else area.name_en
            skills = [
                {"id": s.id, "code": s.code, "name": s.name(language)}
                for s in framework.skills
                if s.area is not None and s.area.id == area.id
            ]
            if skills:
                areas.append({"name": area_name, "skills": skills})
        loose = [
            {"id": s.id, "code": s.code, "name": s.name(language)}
            for s in framework.skills
            if s.area is None
        ]
        if loose:
            areas.append({"name": "", "skills": loose})
        name = framework.name_nl if language == "nl" and framework.name_nl else framework.name_en
        groups.append(
            {"id": framework.id, "name": name, "label": framework.alignment_name, "areas": areas}
        )
    return groups


def _issuer_context(slug: str) -> dict[str, Any]:
    return {"issuer": organisation(slug)}


def _core_error(errors: FormErrors, problem: BadgeBridgeError) -> None:
    # Core explains what it refused in English; shown at the top of the form.
    errors.add("_core", problem.message)


# -- achievements -------------------------------------------------------------------------------------


@blueprint.get("/achievements")
def achievements(slug: str) -> str:
    """The issuer's achievements."""
    require_issuer_access(slug, "organiser")
    listed = _catalogue().list_achievements(slug, include_archived=True)
    return render_template("admin/achievements.html", achievements=listed, **_issuer_context(slug))


def _achievement_form_from(view: AchievementView | None) -> dict[str, Any]:
    if view is None:
        return {
            "name": "",
            "description": "",
            "criteria_narrative": "",
            "criteria_url": "",
            "image": "",
            "achievement_type": "Badge",
            "tags": "",
            "skills": [],
            "esco_skills": "",
            "allows_repeats": False,
            "micro": {},
        }
    micro = view.microcredential.to_record() if view.microcredential else {}
    return {
        "name": view.name,
        "description": view.description,
        "criteria_narrative": view.criteria_narrative or "",
        "criteria_url": view.criteria_url or "",
        "image": view.image or "",
        "achievement_type": view.achievement_type,
        "tags": ", ".join(view.tags),
        "skills": list(view.skill_ids),
        "esco_skills": "\n".join(view.esco_skills),
        "allows_repeats": view.allows_repeats,
        "micro": {key: "" if value is None else str(value) for key, value in micro.items()},
    }


def _read_achievement_form(errors: FormErrors) -> tuple[dict[str, Any], dict[str, Any]]:
    """The form as shown again (strings) and the values for the catalogue."""
    form: dict[str, Any] = {
        key: request.form.get(key, "").strip()
        for key in (
            "name",
            "description",
            "criteria_narrative",
            "criteria_url",
            "image",
            "achievement_type",
            "tags",
            "esco_skills",
        )
    }
    form["skills"] = request.form.getlist("skills")
    form["allows_repeats"] = checkbox("allows_repeats")
    form["micro"] = {key: request.form.get(f"mc_{key}", "").strip() for key in _MICRO_KEYS}

    text("name", errors, label=_("Name"), required=True, limit=300)
    text("description", errors, label=_("Description"), required=True, limit=10_000)
    text("criteria_narrative", errors, label=_("Criteria"), required=True, limit=10_000)
    for field in ("criteria_url", "image"):
        if form[field] and not form[field].startswith(("https://", "http://")):
            errors.add(field, _("Enter a web address that starts with https://."))
    if form["achievement_type"] not in ACHIEVEMENT_TYPES:
        errors.add("achievement_type", _("Choose the kind of achievement."))
    unknown_skills = [s for s in form["skills"] if not frameworks.is_skill_id(s)]
    if unknown_skills:
        errors.add("skills", _("Choose skills from the list."))
    esco = lines("esco_skills")
    wrong_esco = [uri for uri in esco if not frameworks.is_esco_skill_uri(uri)]
    if wrong_esco:
        errors.add(
            "esco_skills",
            _(
                "%(value)s is not an ESCO skill address (http://data.europa.eu/esco/skill/…).",
                value=wrong_esco[0],
            ),
        )
    micro: dict[str, Any] = {}
    workload = number_field(
        "mc_workload_hours", errors, label=_("Workload in hours"), minimum=0, maximum=10_000
    )
    ects = number_field("mc_ects", errors, label=_("ECTS credits"), minimum=0, maximum=300)
    eqf = whole_number_field("mc_eqf_level", errors, label=_("EQF level"), minimum=1, maximum=8)
    if workload is not None:
        micro["workload_hours"] = workload
    if ects is not None:
        micro["ects"] = ects
    if eqf is not None:
        micro["eqf_level"] = eqf
    nlqf = form["micro"]["nlqf_level"]
    if nlqf:
        micro["nlqf_level"] = "entry" if nlqf == "entry" else int(nlqf) if nlqf.isdigit() else nlqf
    for key, allowed in (
        ("participation_form", PARTICIPATION_FORMS),
        ("supervision", SUPERVISION_KINDS),
        ("stackability", STACKABILITY_KINDS),
    ):
        value = form["micro"][key]
        if value and value not in allowed:
            errors.add(f"mc_{key}", _("Choose one of the options."))
        elif value:
            micro[key] = value
    for key in (*MICROCREDENTIAL_TEXT_FIELDS, "language"):
        if form["micro"][key]:
            micro[key] = form["micro"][key][:1000]
    values = {
        "name": form["name"],
        "description": form["description"],
        "criteria_narrative": form["criteria_narrative"],
        "criteria_url": optional(form["criteria_url"]),
        "image": optional(form["image"]),
        "achievement_type": form["achievement_type"],
        "tags": [tag for tag in (t.strip() for t in form["tags"].split(",")) if tag][:20],
        "skills": form["skills"],
        "esco_skills": esco,
        "microcredential": micro or None,
        "allows_repeats": form["allows_repeats"],
    }
    return form, values


_MICRO_KEYS = (
    "workload_hours",
    "ects",
    "eqf_level",
    "nlqf_level",
    "assessment_type",
    "participation_form",
    "quality_assurance",
    "language",
    "prerequisites",
    "supervision",
    "stackability",
)


def _achievement_page(
    slug: str, form: dict[str, Any], errors: FormErrors, achievement: AchievementView | None
) -> tuple[str, int]:
    page = render_template(
        "admin/achievement_form.html",
        form=form,
        errors=errors,
        achievement=achievement,
        achievement_types=[(t, t) for t in ACHIEVEMENT_TYPES],
        skill_groups=_skill_groups(),
        participation_forms=_options(PARTICIPATION_LABELS, PARTICIPATION_FORMS),
        supervision_kinds=_options(SUPERVISION_LABELS, SUPERVISION_KINDS),
        stackability_kinds=_options(STACKABILITY_LABELS, STACKABILITY_KINDS),
        eqf_levels=[("", _("Not given"))] + [(str(n), str(n)) for n in range(1, 9)],
        nlqf_levels=[("", _("Not given")), ("entry", _("Entry level"))]
        + [(str(n), str(n)) for n in range(1, 9)],
        **_issuer_context(slug),
    )
    return page, 400 if errors else 200


@blueprint.route("/achievements/new", methods=["GET", "POST"])
def new_achievement(slug: str) -> Response | str | tuple[str, int]:
    """Add an achievement to the catalogue."""
    require_issuer_access(slug, "organiser")
    errors = FormErrors()
    form = _achievement_form_from(None)
    if request.method == "POST":
        form, values = _read_achievement_form(errors)
        if not errors:
            try:
                created = _catalogue().create_achievement(slug, **values)
            except BadgeBridgeError as problem:
                _core_error(errors, problem)
            else:
                flash(_("The achievement %(name)s was added.", name=created.name), "success")
                return cast(Response, redirect(url_for(".achievements", slug=slug), code=303))
    return _achievement_page(slug, form, errors, None)


@blueprint.route("/achievements/<public_id>/edit", methods=["GET", "POST"])
def edit_achievement(slug: str, public_id: str) -> Response | str | tuple[str, int]:
    """Change an achievement (badges already issued keep what they say)."""
    require_issuer_access(slug, "organiser")
    achievement = _own_achievement(slug, public_id)
    errors = FormErrors()
    form = _achievement_form_from(achievement)
    if request.method == "POST":
        form, values = _read_achievement_form(errors)
        if not errors:
            try:
                _catalogue().update_achievement(public_id, **values)
            except BadgeBridgeError as problem:
                _core_error(errors, problem)
            else:
                flash(_("The achievement %(name)s was saved.", name=values["name"]), "success")
                return cast(Response, redirect(url_for(".achievements", slug=slug), code=303))
    return _achievement_page(slug, form, errors, achievement)


@blueprint.route("/achievements/<public_id>/archive", methods=["GET", "POST"])
def archive_achievement(slug: str, public_id: str) -> Response | str:
    """Confirm, then take an achievement out of the catalogue."""
    require_issuer_access(slug, "organiser")
    achievement = _own_achievement(slug, public_id)
    if request.method == "POST":
        _catalogue().archive_achievement(public_id)
        flash(_("The achievement %(name)s was archived.", name=achievement.name), "success")
        return cast(Response, redirect(url_for(".achievements", slug=slug), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Archive %(name)s?", name=achievement.name),
        explanation=_(
            "The achievement leaves the catalogue and can no longer be awarded. Badges already "
            "issued stay valid."
        ),
        action=url_for(".archive_achievement", slug=slug, public_id=public_id),
        fields={},
        confirm_label=_("Archive the achievement"),
        cancel_url=url_for(".achievements", slug=slug),
        danger=True,
    )


# -- activities ----------------------------------------------------------------------------------------


@blueprint.get("/activities")
def activities(slug: str) -> str:
    """The issuer's activities, soonest first."""
    require_issuer_access(slug, "organiser")
    listed = _catalogue().search_activities(issuer_slug=slug, include_archived=True)
    return render_template(
        "admin/activities.html",
        activities=listed,
        completion_labels=COMPLETION_MODE_LABELS,
        **_issuer_context(slug),
    )


def _activity_form_from(view: ActivityView | None) -> dict[str, Any]:
    if view is None:
        return {
            "title": "",
            "description": "",
            "achievement": "",
            "city": "",
            "location_name": "",
            "latitude": "",
            "longitude": "",
            "online": False,
            "starts_at": "",
            "ends_at": "",
            "skills": [],
            "completion_mode": "organiser_confirms",
            "attendance_code": "",
        }
    return {
        "title": view.title,
        "description": view.description,
        "achievement": view.achievement_public_id or "",
        "city": view.city or "",
        "location_name": view.location_name or "",
        "latitude": "" if view.latitude is None else str(view.latitude),
        "longitude": "" if view.longitude is None else str(view.longitude),
        "online": view.online,
        "starts_at": local_datetime_value(view.starts_at),
        "ends_at": local_datetime_value(view.ends_at),
        "skills": [s for s in view.skills if frameworks.is_skill_id(s)],
        "completion_mode": view.completion_mode,
        "attendance_code": "",
    }


def _read_activity_form(
    errors: FormErrors, slug: str, *, has_code: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    form: dict[str, Any] = {
        key: request.form.get(key, "").strip()
        for key in (
            "title",
            "description",
            "achievement",
            "city",
            "location_name",
            "latitude",
            "longitude",
            "starts_at",
            "ends_at",
            "completion_mode",
            "attendance_code",
        )
    }
    form["online"] = checkbox("online")
    form["skills"] = request.form.getlist("skills")
    text("title", errors, label=_("Title"), required=True, limit=300)
    text("description", errors, label=_("Description"), limit=10_000)
    own = {a.public_id for a in _catalogue().list_achievements(slug)}
    if form["achievement"] not in own:
        errors.add("achievement", _("Choose the badge this activity awards."))
    if not form["online"] and not form["city"]:
        errors.add("city", _("Enter the city, or tick that the activity is online."))
    latitude = number_field("latitude", errors, label=_("Latitude"), minimum=-90, maximum=90)
    longitude = number_field("longitude", errors, label=_("Longitude"), minimum=-180, maximum=180)
    if (
        (latitude is None) != (longitude is None)
        and "latitude" not in errors
        and "longitude" not in errors
    ):
        errors.add(
            "latitude" if latitude is None else "longitude",
            _("Give both the latitude and the longitude, or neither."),
        )
    starts = local_datetime_field("starts_at", errors, label=_("Starts"))
    ends = local_datetime_field("ends_at", errors, label=_("Ends"))
    if starts and ends and ends < starts:
        errors.add("ends_at", _("The end is before the start."))
    if form["completion_mode"] not in COMPLETION_MODES:
        errors.add("completion_mode", _("Choose how completion is confirmed."))
    if [s for s in form["skills"] if not frameworks.is_skill_id(s)]:
        errors.add("skills", _("Choose skills from the list."))
    code = form["attendance_code"] or None
    if code is not None and not 4 <= len(code) <= 128:
        errors.add("attendance_code", _("An attendance code has 4 to 128 characters."))
    values: dict[str, Any] = {
        "title": form["title"],
        "description": form["description"],
        "achievement_public_id": form["achievement"],
        "city": optional(form["city"]),
        "location_name": optional(form["location_name"]),
        "latitude": latitude,
        "longitude": longitude,
        "online": form["online"],
        "starts_at": starts,
        "ends_at": ends,
        "skills": form["skills"],
        "completion_mode": form["completion_mode"],
    }
    if form["completion_mode"] == "attendance_code" and code is None and not has_code:
        code = generate_attendance_code()
        values["generated_code"] = code
    if code is not None:
        values["attendance_code"] = code
    return form, values


def _announce_generated_code(values: dict[str, Any]) -> None:
    code = values.pop("generated_code", None)
    if code:
        flash(
            _(
                "The attendance code is %(code)s. Give it to the people who take part; it is "
                "not shown again.",
                code=code,
            ),
            "success",
        )


def _activity_page(
    slug: str, form: dict[str, Any], errors: FormErrors, activity: ActivityView | None
) -> tuple[str, int]:
    own = _catalogue().list_achievements(slug)
    page = render_template(
        "admin/activity_form.html",
        form=form,
        errors=errors,
        activity=activity,
        achievements=[("", _("Choose a badge"))] + [(a.public_id, a.name) for a in own],
        completion_modes=[(mode, _(COMPLETION_MODE_LABELS[mode])) for mode in COMPLETION_MODES],
        skill_groups=_skill_groups(),
        **_issuer_context(slug),
    )
    return page, 400 if errors else 200


@blueprint.route("/activities/new", methods=["GET", "POST"])
def new_activity(slug: str) -> Response | str | tuple[str, int]:
    """Add an activity that awards one of the issuer's achievements."""
    require_issuer_access(slug, "organiser")
    errors = FormErrors()
    form = _activity_form_from(None)
    if request.method == "POST":
        form, values = _read_activity_form(errors, slug, has_code=False)
        generated = {"generated_code": values.pop("generated_code", None)}
        if not errors:
            try:
                created = _catalogue().create_activity(slug, **values)
            except BadgeBridgeError as problem:
                _core_error(errors, problem)
            else:
                flash(_("The activity %(title)s was added.", title=created.title), "success")
                _announce_generated_code(generated)
                return cast(Response, redirect(url_for(".activities", slug=slug), code=303))
    return _activity_page(slug, form, errors, None)


@blueprint.route("/activities/<public_id>/edit", methods=["GET", "POST"])
def edit_activity(slug: str, public_id: str) -> Response | str | tuple[str, int]:
    """Change an activity (leave the attendance code empty to keep it)."""
    require_issuer_access(slug, "organiser")
    activity = _own_activity(slug, public_id)
    errors = FormErrors()
    form = _activity_form_from(activity)
    if request.method == "POST":
        form, values = _read_activity_form(errors, slug, has_code=activity.has_attendance_code)
        generated = {"generated_code": values.pop("generated_code", None)}
        if not errors:
            try:
                _catalogue().update_activity(public_id, **values)
            except BadgeBridgeError as problem:
                _core_error(errors, problem)
            else:
                flash(_("The activity %(title)s was saved.", title=values["title"]), "success")
                _announce_generated_code(generated)
                return cast(Response, redirect(url_for(".activities", slug=slug), code=303))
    return _activity_page(slug, form, errors, activity)


@blueprint.route("/activities/<public_id>/archive", methods=["GET", "POST"])
def archive_activity(slug: str, public_id: str) -> Response | str:
    """Confirm, then take an activity off the map."""
    require_issuer_access(slug, "organiser")
    activity = _own_activity(slug, public_id)
    if request.method == "POST":
        _catalogue().update_activity(public_id, archived=True)
        flash(_("The activity %(title)s was archived.", title=activity.title), "success")
        return cast(Response, redirect(url_for(".activities", slug=slug), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Archive %(name)s?", name=activity.title),
        explanation=_(
            "The activity is no longer shown to learners. Badges already issued stay valid."
        ),
        action=url_for(".archive_activity", slug=slug, public_id=public_id),
        fields={},
        confirm_label=_("Archive the activity"),
        cancel_url=url_for(".activities", slug=slug),
        danger=True,
    )


#: Most participants confirmed in one go (larger groups: the CSV upload).
MAX_CONFIRMED_PARTICIPANTS = 50
_PARTICIPANT_SEPARATORS = re.compile(r"[;,\t]")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _participants(raw: str, errors: FormErrors) -> list[tuple[str, str | None]]:
    """``email, name`` per line (the name may be left out)."""
    people: list[tuple[str, str | None]] = []
    lines_given = [line.strip() for line in raw.splitlines() if line.strip()]
    if not lines_given:
        errors.add("participants", _("Enter at least one person."))
    if len(lines_given) > MAX_CONFIRMED_PARTICIPANTS:
        errors.add(
            "participants",
            _(
                "At most %(num)d people at a time; use the spreadsheet upload for more.",
                num=MAX_CONFIRMED_PARTICIPANTS,
            ),
        )
        return []
    for number, line in enumerate(lines_given, start=1):
        parts = _PARTICIPANT_SEPARATORS.split(line, maxsplit=1)
        email = parts[0].strip()
        name = parts[1].strip()[:200] if len(parts) > 1 else ""
        people.append((email.lower(), name or None))
        if not _EMAIL.match(email):
            errors.add(
                "participants",
                _("Line %(num)d: %(value)s is not an email address.", num=number, value=email),
            )
    return people


@blueprint.route("/activities/<public_id>/confirm", methods=["GET", "POST"])
def confirm_participants(slug: str, public_id: str) -> Response | str | tuple[str, int]:
    """The organiser confirms who took part: each person gets the activity's badge (once,
    however often they are confirmed)."""
    user = require_issuer_access(slug, "organiser")
    activity = _own_activity(slug, public_id)
    errors = FormErrors()
    raw = ""
    if activity.archived or activity.achievement_public_id is None:
        abort(404)
    if request.method == "POST":
        raw = request.form.get("participants", "")
        people = _participants(raw, errors)
        if not errors:
            from core.awarding import AwardRequest

            service = badge_service()
            awarded = already = 0
            for email, name in people:
                try:
                    learner = service.learners.find_or_create(email=email, display_name=name)
                    result = service.awarding.award(
                        AwardRequest(
                            learner_public_id=learner.public_id,
                            achievement_public_id=activity.achievement_public_id,
                            source_kind="organiser",
                            source_event_id=f"{activity.public_id}:{email}",
                            approved_by=user.email,
                            recipient_email=email,
                        )
                    )
                except BadgeBridgeError as problem:
                    errors.add(f"_award_{email}", f"{email}: {problem.message}")
                    continue
                if result.created:
                    awarded += 1
                else:
                    already += 1
            message = ngettext("%(num)d badge awarded.", "%(num)d badges awarded.", awarded)
            if already:
                message += " " + ngettext(
                    "%(num)d person already had this badge.",
                    "%(num)d people already had this badge.",
                    already,
                )
            flash(message, "success")
            if not errors:
                return cast(Response, redirect(url_for(".activities", slug=slug), code=303))
    page = render_template(
        "admin/confirm_participants.html",
        activity=activity,
        errors=errors,
        participants=raw,
        max_people=MAX_CONFIRMED_PARTICIPANTS,
        **_issuer_context(slug),
    )
    return page, 400 if errors else 200


# -- playlists -----------------------------------------------------------------------------------------


@blueprint.get("/playlists")
def playlists(slug: str) -> str:
    """The issuer's playlists."""
    require_issuer_access(slug, "organiser")
    listed = _catalogue().list_playlists(slug, include_archived=True)
    return render_template(
        "admin/playlists.html",
        playlists=listed,
        rule_labels=PLAYLIST_RULE_LABELS,
        **_issuer_context(slug),
    )


@blueprint.get("/playlists/<public_id>")
def playlist(slug: str, public_id: str) -> str:
    """A playlist's steps in order and its rule."""
    require_issuer_access(slug, "organiser")
    return render_template(
        "admin/playlist.html",
        playlist=_own_playlist(slug, public_id),
        rule_labels=PLAYLIST_RULE_LABELS,
        **_issuer_context(slug),
    )


def _step_choices(
    slug: str, rows: list[dict[str, str]] | None = None
) -> dict[str, list[tuple[str, str]]]:
    """The activities and badges a step may be; a step of the playlist being edited that is
    no longer offered (a past activity, an archived badge) stays a choice, so saving the form
    does not drop it unnoticed."""
    catalogue = _catalogue()
    choices = {
        "activities": [
            (f"activity:{a.public_id}", a.title)
            for a in catalogue.search_activities(issuer_slug=slug)
        ],
        "achievements": [
            (f"achievement:{a.public_id}", f"{a.name} ({a.issuer_name})")
            for a in catalogue.list_achievements()
        ],
    }
    offered = {value for values in choices.values() for value, _label in values}
    for row in rows or ():
        value = row.get("choice", "")
        kind, _sep, _id = value.partition(":")
        if value and value not in offered and kind in ("activity", "achievement"):
            group = "activities" if kind == "activity" else "achievements"
            choices[group].append((value, row.get("label") or row.get("title") or value))
            offered.add(value)
    return choices


def _playlist_rows(playlist: PlaylistView) -> list[dict[str, str]]:
    """The form rows of a playlist's steps, in order, and two empty rows to add steps."""
    rows = []
    for step in playlist.steps:
        if step.kind == "activity" and step.activity_public_id:
            choice, external = f"activity:{step.activity_public_id}", ""
        elif step.kind == "achievement" and step.achievement_public_id:
            choice, external = f"achievement:{step.achievement_public_id}", ""
        else:
            choice, external = "", step.external_achievement_id or ""
        rows.append(
            {
                "order": str(step.position),
                "choice": choice,
                "external": external,
                "title": step.title,
                "label": step.title,
            }
        )
    count = len(rows)
    rows += [
        {"order": str(count + i + 1), "choice": "", "external": "", "title": ""}
        for i in range(min(2, MAX_PLAYLIST_STEP_ROWS - count))
    ]
    return rows


def _read_steps(
    errors: FormErrors, row_count: int
) -> tuple[list[dict[str, str]], list[PlaylistStepSpec]]:
    rows = []
    for index in range(row_count):
        rows.append(
            {
                "order": request.form.get(f"step_{index}_order", "").strip(),
                "choice": request.form.get(f"step_{index}_choice", "").strip(),
                "external": request.form.get(f"step_{index}_external", "").strip(),
                "title": request.form.get(f"step_{index}_title", "").strip(),
            }
        )
    chosen: list[tuple[float, int, PlaylistStepSpec]] = []
    for index, row in enumerate(rows):
        if not row["choice"] and not row["external"]:
            continue
        if row["choice"] and row["external"]:
            errors.add(
                f"step_{index}_external",
                _(
                    "Step %(num)d: choose from the list or give an external id, not both.",
                    num=index + 1,
                ),
            )
            continue
        try:
            order = float(row["order"].replace(",", ".")) if row["order"] else float(index + 1)
        except ValueError:
            errors.add(
                f"step_{index}_order",
                _("Step %(num)d: the position must be a number.", num=index + 1),
            )
            continue
        title = row["title"] or None
        kind, _sep, value = row["choice"].partition(":")
        if row["external"]:
            spec = PlaylistStepSpec.of_external(row["external"], title)
        elif kind == "activity":
            spec = PlaylistStepSpec.of_activity(value, title)
        elif kind == "achievement":
            spec = PlaylistStepSpec.of_achievement(value, title)
        else:
            errors.add(
                f"step_{index}_choice", _("Step %(num)d: choose from the list.", num=index + 1)
            )
            continue
        chosen.append((order, index, spec))
    chosen.sort(key=lambda item: (item[0], item[1]))
    return rows, [spec for _order, _index, spec in chosen]


@blueprint.route("/playlists/new", methods=["GET", "POST"])
def new_playlist(slug: str) -> Response | str | tuple[str, int]:
    """Add a playlist: its badge, its steps in order (the position numbers decide the order),
    and the rule: all steps, or N of them."""
    require_issuer_access(slug, "organiser")
    return _playlist_form(slug, None)


@blueprint.route("/playlists/<public_id>/edit", methods=["GET", "POST"])
def edit_playlist(slug: str, public_id: str) -> Response | str | tuple[str, int]:
    """Change a playlist's title, description, steps (all replaced by the form's, in the
    order of their position numbers) and rule; its badge stays the same."""
    require_issuer_access(slug, "organiser")
    playlist = _own_playlist(slug, public_id)
    if playlist.archived:
        abort(404)
    return _playlist_form(slug, playlist)


def _playlist_form(slug: str, playlist: PlaylistView | None) -> Response | tuple[str, int]:
    """The new-playlist form, or the edit form of ``playlist`` (the same fields, but the badge
    cannot change), shown, shown again with more step rows, or sent."""
    errors = FormErrors()
    if playlist is None:
        form: dict[str, Any] = {
            "title": "",
            "description": "",
            "achievement": "",
            "rule": "all",
            "required_count": "",
        }
        rows = [
            {"order": str(i + 1), "choice": "", "external": "", "title": ""}
            for i in range(PLAYLIST_STEP_ROWS)
        ]
    else:
        form = {
            "title": playlist.title,
            "description": playlist.description,
            "achievement": playlist.achievement_public_id,
            "rule": playlist.rule,
            "required_count": str(playlist.required_count) if playlist.rule == "n_of_m" else "",
        }
        rows = _playlist_rows(playlist)
    if request.method == "POST":
        try:
            row_count = int(request.form.get("step_rows", PLAYLIST_STEP_ROWS) or 0)
        except ValueError:
            row_count = PLAYLIST_STEP_ROWS
        row_count = min(max(row_count, 1), MAX_PLAYLIST_STEP_ROWS)
        form = {key: request.form.get(key, "").strip() for key in form}
        if playlist is not None:
            form["achievement"] = playlist.achievement_public_id
        labels = {row["choice"]: row.get("label", "") for row in rows if row["choice"]}
        rows, steps = _read_steps(errors, row_count)
        for row in rows:
            row["label"] = labels.get(row["choice"], "")
        if "more_steps" in request.form:
            errors.clear()
            rows += [
                {"order": str(row_count + i + 1), "choice": "", "external": "", "title": ""}
                for i in range(min(4, MAX_PLAYLIST_STEP_ROWS - row_count))
            ]
            return _playlist_page(slug, form, rows, errors, status=200, playlist=playlist)
        text("title", errors, label=_("Title"), required=True, limit=300)
        if playlist is None:
            own = {a.public_id for a in _catalogue().list_achievements(slug)}
            if form["achievement"] not in own:
                errors.add("achievement", _("Choose the badge the playlist awards."))
        if not steps and not any(key.startswith("step_") for key in errors):
            errors.add("step_0_choice", _("Add at least one step."))
        required = None
        if form["rule"] == "n_of_m":
            required = whole_number_field(
                "required_count", errors, label=_("Steps needed"), minimum=1, maximum=100
            )
            if required is None and "required_count" not in errors:
                errors.add("required_count", _("Enter how many steps are needed."))
            elif required is not None and required > len(steps):
                errors.add("required_count", _("More steps are needed than the playlist has."))
        elif form["rule"] != "all":
            errors.add("rule", _("Choose the rule."))
        if not errors:
            try:
                if playlist is None:
                    saved = _catalogue().create_playlist(
                        slug,
                        title=form["title"],
                        description=form["description"],
                        achievement_public_id=form["achievement"],
                        steps=steps,
                        rule=form["rule"],
                        required_count=required,
                    )
                    message = _("The playlist %(title)s was added.", title=saved.title)
                else:
                    saved = _catalogue().update_playlist(
                        playlist.public_id,
                        title=form["title"],
                        description=form["description"],
                        steps=steps,
                        rule=form["rule"],
                        required_count=required,
                    )
                    message = _("The playlist %(title)s was saved.", title=saved.title)
            except BadgeBridgeError as problem:
                _core_error(errors, problem)
            else:
                flash(message, "success")
                return cast(
                    Response,
                    redirect(url_for(".playlist", slug=slug, public_id=saved.public_id), code=303),
                )
    return _playlist_page(
        slug, form, rows, errors, status=400 if errors else 200, playlist=playlist
    )


def _playlist_page(
    slug: str,
    form: dict[str, Any],
    rows: list[dict[str, str]],
    errors: FormErrors,
    *,
    status: int,
    playlist: PlaylistView | None = None,
) -> tuple[str, int]:
    own = _catalogue().list_achievements(slug)
    page = render_template(
        "admin/playlist_form.html",
        form=form,
        rows=rows,
        errors=errors,
        playlist=playlist,
        achievements=[("", _("Choose a badge"))] + [(a.public_id, a.name) for a in own],
        rules=[(rule, _(label)) for rule, label in PLAYLIST_RULE_LABELS.items()],
        step_choices=_step_choices(slug, rows),
        **_issuer_context(slug),
    )
    return page, status


@blueprint.route("/playlists/<public_id>/archive", methods=["GET", "POST"])
def archive_playlist(slug: str, public_id: str) -> Response | str:
    """Confirm, then stop a playlist."""
    require_issuer_access(slug, "organiser")
    found = _own_playlist(slug, public_id)
    if request.method == "POST":
        _catalogue().archive_playlist(public_id)
        flash(_("The playlist %(title)s was archived.", title=found.title), "success")
        return cast(Response, redirect(url_for(".playlists", slug=slug), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Archive %(name)s?", name=found.title),
        explanation=_(
            "Its badge is no longer awarded through this playlist. Badges already issued stay valid."
        ),
        action=url_for(".archive_playlist", slug=slug, public_id=public_id),
        fields={},
        confirm_label=_("Archive the playlist"),
        cancel_url=url_for(".playlists", slug=slug),
        danger=True,
    )


__all__ = ["blueprint"]
