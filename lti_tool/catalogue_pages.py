"""The catalogue's public pages: achievements (HTML, or the OB 3.0 Achievement as JSON-LD),
activities (search, filters, a map per city), one activity, and playlists.

Views of the ``pages`` blueprint (:mod:`lti_tool.web` imports this module to register them).
Archived achievements and activities keep their pages: credentials and links point at them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from flask import Response, render_template, request

from core import frameworks
from core.catalogue import ActivityView, MicroCredentialElements, PlaylistView
from core.errors import InvalidInput, NotFound
from core.service import OB3_CONTEXTS, BadgeService
from lti_tool.activity_map import city_maps
from lti_tool.badge_images import badge_png, badge_svg
from lti_tool.credential_display import levels, skill_groups, web_link
from lti_tool.i18n import DEFAULT_TIMEZONE, N_, current_locale, format_datetime
from lti_tool.i18n import gettext as _
from lti_tool.negotiation import HTML, JSON, JSON_LD, json_response, preferred
from lti_tool.web import badge_service, not_found, pages, signed_in_user

#: Most activities one search shows.
SEARCH_LIMIT: Final = 200
AMSTERDAM: Final = ZoneInfo(DEFAULT_TIMEZONE)

COMPLETION_MODE_LABELS: Final = {
    "organiser_confirms": N_("The organiser confirms that you took part."),
    "evidence_organiser": N_("You hand in evidence; the organiser reviews it."),
    "evidence_peer": N_("You hand in evidence; another participant reviews it."),
    "attendance_code": N_("You enter the attendance code given out at the activity."),
    "lms_completion": N_("You complete the course in your school's learning environment."),
}
PARTICIPATION_LABELS: Final = {
    "online": N_("Online"),
    "onsite": N_("On site"),
    "blended": N_("Blended (online and on site)"),
    "volunteering": N_("Volunteering"),
    "work_experience": N_("Work experience"),
}
SUPERVISION_LABELS: Final = {
    "unsupervised_no_identity_verification": N_("Unsupervised, identity not verified"),
    "supervised_no_identity_verification": N_("Supervised, identity not verified"),
    "supervised_online": N_("Supervised online"),
    "onsite_identity_verification": N_("On site, identity verified"),
}
STACKABILITY_LABELS: Final = {
    "stand_alone": N_("Stand-alone"),
    "stackable": N_("Can be combined with other credentials"),
}


# -- achievements -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """A labelled value in a list of facts."""

    label: str
    value: str


def microcredential_facts(elements: MicroCredentialElements | None) -> list[Fact]:
    """The EU micro-credential elements of an achievement, labelled in the page's language."""
    if elements is None:
        return []
    facts: list[Fact] = []

    def add(label: str, value: Any) -> None:
        if value is not None and value != "":
            facts.append(Fact(label, str(value)))

    def number(value: float | None) -> str | None:
        if value is None:
            return None
        return str(int(value)) if float(value).is_integer() else str(value)

    add(
        _("Workload"),
        _("%(hours)s hours", hours=number(elements.workload_hours))
        if elements.workload_hours is not None
        else None,
    )
    add(_("ECTS credits"), number(elements.ects))
    add(_("EQF level"), elements.eqf_level)
    if elements.nlqf_level == "entry":
        add(_("NLQF level"), _("Entry level"))
    else:
        add(_("NLQF level"), elements.nlqf_level)
    add(_("Type of assessment"), elements.assessment_type)
    if elements.participation_form:
        add(
            _("Form of participation"),
            _(PARTICIPATION_LABELS.get(elements.participation_form, elements.participation_form)),
        )
    add(_("Quality assurance"), elements.quality_assurance)
    add(_("Language"), elements.language)
    add(_("Prerequisites"), elements.prerequisites)
    if elements.supervision:
        add(
            _("Supervision and identity check"),
            _(SUPERVISION_LABELS.get(elements.supervision, elements.supervision)),
        )
    if elements.stackability:
        add(
            _("Stackability"),
            _(STACKABILITY_LABELS.get(elements.stackability, elements.stackability)),
        )
    return facts


def achievement_document(service: BadgeService, public_id: str) -> dict[str, Any]:
    """The OB 3.0 Achievement with a complete ``@context`` (the OB 3.0 contexts and any
    extension the achievement uses), as a JSON-LD document of its own."""
    document = service.catalogue.achievement_json(public_id)
    extra = document.pop("@context", [])
    contexts = [*OB3_CONTEXTS, *(c for c in extra if c not in OB3_CONTEXTS)]
    return {"@context": contexts, **document}


def _achievement_or_404(public_id: str) -> Any:
    try:
        return badge_service().catalogue.get_achievement(public_id)
    except NotFound:
        not_found(
            _("Badge not found"),
            _("There is no badge with this address in the catalogue."),
            "There is no badge with this address in the catalogue.",
        )


@pages.get("/achievements/<public_id>")
def achievement(public_id: str) -> Response:
    """An achievement (badge class): a page for people, the OB 3.0 Achievement as JSON-LD for
    programs (the address is the achievement's id in every credential)."""
    view = _achievement_or_404(public_id)
    kind = preferred(HTML, JSON_LD, JSON)
    if kind != HTML:
        return json_response(achievement_document(badge_service(), view.public_id), mimetype=kind)
    service = badge_service()
    catalogue = service.catalogue
    document = catalogue.achievement_json(view.public_id, include_endorsements=False)
    awarded_by = [
        a
        for a in catalogue.search_activities(issuer_slug=view.issuer_slug, limit=SEARCH_LIMIT)
        if a.achievement_public_id == view.public_id
    ]
    earned_through = [
        p
        for p in catalogue.list_playlists(view.issuer_slug)
        if p.achievement_public_id == view.public_id
    ]
    part_of = catalogue.playlists_containing_achievement(view.public_id)
    response = Response(
        render_template(
            "achievement.html",
            achievement=view,
            organisation=catalogue.organisation(view.issuer_slug),
            badge_svg=badge_svg(view.name, element_id="badge-art"),
            skill_groups=skill_groups(document, current_locale()),
            levels=levels(document),
            microcredential=microcredential_facts(view.microcredential),
            endorsements=catalogue.endorsements_of("achievement", view.public_id),
            activities=awarded_by,
            earned_through=earned_through,
            part_of=part_of,
            criteria_url=web_link(view.criteria_url),
        )
    )
    response.vary.add("Accept")
    return response


@pages.get("/achievements/<public_id>/image.png")
def achievement_image(public_id: str) -> Response:
    """The achievement's picture as a PNG: its own image (fetched by the server, as the
    pages allow images from this site only), else the generated badge."""
    view = _achievement_or_404(public_id)
    response = Response(badge_png(badge_service(), view.name, view.image), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=600"
    return response


# -- activities -------------------------------------------------------------------------------

#: Date and time of an activity (day, month name, year, 24-hour clock, in Amsterdam time).
WHEN_PATTERN: Final = "d MMMM y, HH:mm"


def when_text(activity: ActivityView) -> str:
    """When an activity takes place, in the page's language ("1 mei 2026, 10:00 - 12:00", with an en dash);
    empty for an activity without dates."""
    if activity.starts_at is None:
        return ""
    start = format_datetime(activity.starts_at, WHEN_PATTERN)
    if activity.ends_at is None:
        return start
    same_day = (
        activity.starts_at.astimezone(AMSTERDAM).date()
        == activity.ends_at.astimezone(AMSTERDAM).date()
    )
    end = format_datetime(activity.ends_at, "HH:mm" if same_day else WHEN_PATTERN)
    return f"{start} \u2013 {end}"


@pages.app_context_processor
def _catalogue_helpers() -> dict[str, Any]:
    return {"when_text": when_text}


@dataclass(frozen=True)
class ActivitySearch:
    """The activity filters as the form sent them (strings, shown again in the form)."""

    text: str = ""
    framework: str = ""
    skill: str = ""
    city: str = ""
    mode: str = ""
    date_from: str = ""
    date_to: str = ""

    @classmethod
    def from_request(cls) -> ActivitySearch:
        """The filters in the query string (missing ones empty)."""
        args = request.args

        def value(name: str) -> str:
            return args.get(name, "").strip()[:300]

        return cls(
            text=value("q"),
            framework=value("framework"),
            skill=value("skill"),
            city=value("city"),
            mode=value("mode"),
            date_from=value("from"),
            date_to=value("to"),
        )

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(
            (
                self.text,
                self.framework,
                self.skill,
                self.city,
                self.mode,
                self.date_from,
                self.date_to,
            )
        )


def _day(value: str, what: str, *, end: bool) -> datetime | None:
    """A date from the form as the start (or end) of that day in Amsterdam."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(what) from None
    moment = datetime.combine(day, time.min, tzinfo=AMSTERDAM)
    return moment + timedelta(days=1, microseconds=-1) if end else moment


def run_search(search: ActivitySearch) -> list[ActivityView]:
    """The activities matching ``search``; :class:`InvalidInput` (with words for people) for a
    filter that cannot be used."""
    online = {"online": True, "offline": False}.get(search.mode)
    if search.mode and online is None:
        raise InvalidInput(_("Choose online, on location or both."))
    if search.skill and not (
        frameworks.is_skill_id(search.skill) or frameworks.is_esco_skill_uri(search.skill)
    ):
        raise InvalidInput(_("This skill is not in any of the frameworks."))
    known_frameworks = frameworks.framework_ids() | {frameworks.ESCO_FRAMEWORK_ID}
    if search.framework and search.framework not in known_frameworks:
        raise InvalidInput(_("This skills framework is not known here."))
    start = _day(search.date_from, _("Enter the first date as a date, e.g. 2026-05-01."), end=False)
    end = _day(search.date_to, _("Enter the last date as a date, e.g. 2026-05-31."), end=True)
    if start is not None and end is not None and end < start:
        raise InvalidInput(_("The last date is before the first date."))
    return badge_service().catalogue.search_activities(
        text=search.text or None,
        skill=search.skill or None,
        framework=search.framework or None,
        city=search.city or None,
        online=online,
        date_from=start,
        date_to=end,
        limit=SEARCH_LIMIT,
    )


def skill_names(skill_ids: tuple[str, ...]) -> list[tuple[str, str]]:
    """(skill id, name in the page's language) for the skills of an activity; ESCO skills by
    their code (no ESCO labels are bundled)."""
    names = []
    for skill_id in skill_ids:
        if frameworks.is_skill_id(skill_id):
            skill = frameworks.skill(skill_id)
            framework = frameworks.framework(skill.framework_id)
            names.append((skill_id, f"{skill.name(current_locale())} ({framework.alignment_name})"))
        elif frameworks.is_esco_skill_uri(skill_id):
            names.append((skill_id, _("ESCO skill %(code)s", code=skill_id.rsplit("/", 1)[-1][:8])))
    return names


def _skill_options() -> list[tuple[str, list[tuple[str, str]]]]:
    language = current_locale()
    return [
        (f.alignment_name, [(s.id, s.name(language)) for s in f.skills])
        for f in frameworks.frameworks()
    ]


@pages.get("/activities")
def activities() -> tuple[str, int]:
    """Activities to earn badges with: search by words, skills framework, skill, city,
    online or on location, and dates; a map per city, and the list."""
    search = ActivitySearch.from_request()
    error = None
    status = 200
    try:
        found = run_search(search)
    except InvalidInput as problem:
        found, error, status = [], problem.message, 400
    every = badge_service().catalogue.search_activities(limit=SEARCH_LIMIT)
    cities = sorted({a.city for a in every if a.city}, key=str.casefold)
    numbers = {a.public_id: index for index, a in enumerate(found, start=1)}
    page = render_template(
        "activities.html",
        search=search,
        error=error,
        activities=found,
        maps=city_maps(found, numbers),
        numbers=numbers,
        cities=cities,
        frameworks=frameworks.frameworks(),
        skill_options=_skill_options(),
        skill_names=skill_names,
        skill_filter_name=dict(skill_names((search.skill,))).get(search.skill)
        if search.skill
        else None,
        truncated=len(found) >= SEARCH_LIMIT,
    )
    return page, status


@pages.get("/activities/<public_id>")
def activity(public_id: str) -> str:
    """One activity: what, where, when, which skills, which badge and how completion is
    confirmed."""
    try:
        view = badge_service().catalogue.get_activity(public_id)
    except NotFound:
        not_found(
            _("Activity not found"),
            _("There is no activity with this address."),
            "There is no activity with this address.",
        )
    playlists = []
    if view.achievement_public_id is not None:
        playlists = badge_service().catalogue.playlists_containing_achievement(
            view.achievement_public_id
        )
    return render_template(
        "activity.html",
        activity=view,
        maps=city_maps([view]),
        skills=skill_names(view.skills),
        completion=_(COMPLETION_MODE_LABELS.get(view.completion_mode, view.completion_mode)),
        playlists=playlists,
    )


# -- playlists --------------------------------------------------------------------------------


def held_achievements() -> set[str] | None:
    """The achievements the logged-in learner holds (None when nobody who earns badges is
    logged in): public ids and URLs of achievements of credentials not revoked."""
    user = signed_in_user()
    if user is None:
        return None
    service = badge_service()
    learner = service.learner_badges.learner_of_account(user.id)
    if learner is None:
        return None
    held: set[str] = set()
    for badge in service.learner_badges.credentials_of(learner):
        if badge.revoked or badge.achievement_public_id is None:
            continue
        held.add(badge.achievement_public_id)
        held.add(service.catalogue.achievement_url(badge.achievement_public_id))
    return held


@pages.get("/playlists/<public_id>")
def playlist(public_id: str) -> str:
    """A learning pathway: its steps in order, the rule that earns its badge and, for a
    learner who is logged in, the steps they have done."""
    catalogue = badge_service().catalogue
    try:
        view: PlaylistView = catalogue.get_playlist(public_id)
    except NotFound:
        not_found(
            _("Playlist not found"),
            _("There is no playlist with this address."),
            "There is no playlist with this address.",
        )
    held = held_achievements()
    progress = catalogue.playlist_progress(view, held) if held is not None else None
    done = {step.position for step in progress.steps if step.done} if progress else set()
    return render_template(
        "playlist.html",
        playlist=view,
        organisation=catalogue.organisation(view.issuer_slug),
        progress=progress,
        done=done,
        external_link=web_link,
    )


__all__ = [
    "ActivitySearch",
    "Fact",
    "achievement_document",
    "held_achievements",
    "microcredential_facts",
    "run_search",
    "skill_names",
]
