"""Deep linking: the teacher's picker of activities and playlists, and the signed response
that adds the chosen ones to the course.

A teacher adding a course item in Moodle or Canvas arrives (after the hardened launch) on
``/lti/session/<launch_id>``, which shows :func:`picker_page`: the catalogue's activities and
playlists, filtered by words, skill (grouped by framework), city, online or on location and
dates, each with a preview (what, where, when, skills, which badge).

The filters and the choice are one form, posted to :func:`choose` with the launch's form token
(no cookie inside the LMS frame), so what the teacher ticked survives a change of filter with
or without JavaScript: *Search* (or *Untick*, *Show everything*) answers with a redirect to the
picker whose query string carries the filters and every item chosen so far (``choice``); the
picker lists them under "Chosen (n)", each with a way to untick it, also when the new filters
no longer show it (then it travels as a hidden ``kept`` field). *Add* checks the whole choice
and answers with a page that posts the signed ``LtiDeepLinkingResponse`` back to the platform
(by itself, or with its button without JavaScript). Signing lives in
:mod:`lti_tool.lti.deep_link_response`.

Who may add items is the platform's decision (it sends deep-linking requests only to people
who may change the course), so the picker checks no role of its own.

Nothing is sent to the platform unless every choice is valid: an empty choice, an unknown or
archived activity, more than one when the platform takes one, an expired launch — each is a
readable 4xx page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Final, cast
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from core import frameworks
from core.catalogue import ActivityView, PlaylistView
from core.errors import BadgeBridgeError, InvalidInput, NotFound
from core.service import BadgeService
from lti_tool.catalogue_pages import (
    SEARCH_LIMIT,
    ActivitySearch,
    _skill_options,
    run_search,
    skill_names,
)
from lti_tool.i18n import gettext as _
from lti_tool.lti.deep_link_response import (
    ChosenItem,
    DeepLinkingLaunch,
    restore_deep_linking,
    signed_response,
)
from lti_tool.lti.dynamic_registration import ToolUrls
from lti_tool.lti.framing import (
    allow_form_action,
    allow_static_scripts,
    frameable,
    refused,
    script_nonce,
)
from lti_tool.lti.hardened import LaunchRefused
from lti_tool.lti.sessions import (
    FORM_TOKEN_FIELD,
    LaunchSession,
    form_token,
    load_session,
    require_form_token,
)
from lti_tool.web import badge_service

blueprint = Blueprint("lti_deep_linking", __name__, url_prefix="/lti/session/<launch_id>/pick")
blueprint.after_request(frameable)
blueprint.errorhandler(BadgeBridgeError)(refused)

#: The form field of the choice (repeated: ``activity:<id>`` or ``playlist:<id>``); also the
#: query parameter that carries the choice through a change of filter.
CHOICE_FIELD: Final = "choice"
#: The hidden field of an item chosen earlier that the current filters do not show.
KEPT_FIELD: Final = "kept"
#: The button that says what the form is sent for (``search``, ``everything``; else: add).
STEP_FIELD: Final = "step"
#: The button that unticks one chosen item (its value: the item's ``kind:id``).
UNTICK_FIELD: Final = "untick"
#: What the kind filter can be: both, activities only, playlists only.
KINDS: Final = ("", "activity", "playlist")
#: Most items one response adds (a platform would choke on more, and no course needs them).
MAX_CHOICES: Final = 50
#: The query parameters of the activity filters and the :class:`ActivitySearch` fields they
#: fill (kept in the choice form too, so a refused choice shows the same list again).
_ACTIVITY_FILTERS: Final = (
    ("q", "text"),
    ("framework", "framework"),
    ("skill", "skill"),
    ("city", "city"),
    ("mode", "mode"),
    ("from", "date_from"),
    ("to", "date_to"),
)


class ChoiceRefused(InvalidInput):
    """The teacher's choice cannot be sent (said in words for the teacher)."""


# -- searching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickerSearch:
    """The picker's filters as sent (strings, shown again in the form): the activity filters of
    the public activities page, and which kind of item."""

    filters: ActivitySearch
    kind: str = ""

    @classmethod
    def from_values(cls, values: Mapping[str, str]) -> PickerSearch:
        """The filters in ``values`` (query string or form), missing ones empty."""
        names = [name for name, _attr in _ACTIVITY_FILTERS] + ["kind"]
        sent = {name: str(values.get(name, "")).strip()[:300] for name in names}
        return cls(
            ActivitySearch(**{attr: sent[name] for name, attr in _ACTIVITY_FILTERS}), sent["kind"]
        )

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return self.filters.active or bool(self.kind)

    def fields(self) -> list[tuple[str, str]]:
        """The filters as (query parameter, value), the empty ones left out."""
        sent = [(name, getattr(self.filters, attr)) for name, attr in _ACTIVITY_FILTERS]
        return [(name, value) for name, value in [*sent, ("kind", self.kind)] if value]


@dataclass(frozen=True)
class PlaylistCard:
    """A playlist in the picker with what its activities tell: where, skills, how many steps."""

    playlist: PlaylistView
    activities: tuple[ActivityView, ...]

    @property
    def skills(self) -> tuple[str, ...]:
        """The skills of its activities, each once, in order."""
        return tuple(dict.fromkeys(s for a in self.activities for s in a.skills))

    @property
    def places(self) -> tuple[str, ...]:
        """Its activities' cities (and "online"), each once."""
        places = [_("Online") if a.online else (a.city or "") for a in self.activities]
        return tuple(p for p in dict.fromkeys(places) if p)


@dataclass(frozen=True)
class PickerResults:
    """What a search found."""

    activities: list[ActivityView]
    playlists: list[PlaylistCard]
    error: str | None = None


@dataclass(frozen=True)
class ChosenEntry:
    """An item the teacher has chosen so far, as the "Chosen" list shows it."""

    value: str  # ``activity:<id>`` or ``playlist:<id>``
    kind: str
    title: str


def _words_in(text: str, words: Iterable[str]) -> bool:
    haystack = text.casefold()
    return all(word in haystack for word in words)


def search_catalogue(
    service: BadgeService, search: PickerSearch, every: list[ActivityView] | None = None
) -> PickerResults:
    """The activities and playlists (not archived) matching ``search``. A playlist matches the
    words by its title, description or step titles, and the other filters (skill, city, online,
    dates) when one of its activities does. ``every``: the catalogue's activities, when the
    caller has read them already."""
    if search.kind not in KINDS:
        return PickerResults([], [], _("Choose activities, playlists or both."))
    want_activities = search.kind in ("", "activity")
    place_filters = replace(search.filters, text="")
    try:
        # Every filter but the words; checked (in words for the teacher) whatever is shown.
        near = run_search(place_filters)
        if not want_activities:
            activities: list[ActivityView] = []
        elif search.filters.text:
            activities = run_search(search.filters)
        else:
            activities = near
    except InvalidInput as problem:
        return PickerResults([], [], problem.message)
    playlists: list[PlaylistCard] = []
    if search.kind in ("", "playlist"):
        catalogue = service.catalogue
        if every is None:
            every = catalogue.search_activities(limit=SEARCH_LIMIT)
        known = {a.public_id: a for a in every}
        matching = {a.public_id for a in near} if place_filters.active else None
        words = search.filters.text.casefold().split()
        for playlist in catalogue.list_playlists():
            step_ids = [s.activity_public_id for s in playlist.steps if s.activity_public_id]
            text = " ".join(
                [playlist.title, playlist.description, *(s.title for s in playlist.steps)]
            )
            if not _words_in(text, words):
                continue
            if matching is not None and not matching.intersection(step_ids):
                continue
            steps = tuple(known[i] for i in step_ids if i in known)
            playlists.append(PlaylistCard(playlist, steps))
    return PickerResults(activities, playlists)


# -- the picker page ---------------------------------------------------------------------------


def _launch_url() -> str:
    return ToolUrls(badge_service().settings.base_url).launch


def chosen_entries(service: BadgeService, values: Iterable[str]) -> list[ChosenEntry]:
    """The items chosen so far, each once, in order, with their titles; a value that names no
    activity or playlist of the catalogue is left out (the teacher cannot have ticked it)."""
    entries: list[ChosenEntry] = []
    seen: set[str] = set()
    for value in list(values)[: MAX_CHOICES + 1]:
        kind, _sep, public_id = value.strip().partition(":")
        value = f"{kind}:{public_id}"
        if kind not in ("activity", "playlist") or not public_id or len(public_id) > 36:
            continue
        if value in seen:
            continue
        seen.add(value)
        try:
            found: ActivityView | PlaylistView = (
                service.catalogue.get_activity(public_id)
                if kind == "activity"
                else service.catalogue.get_playlist(public_id)
            )
        except NotFound:
            continue
        entries.append(ChosenEntry(value, kind, found.title))
    return entries


def _render_picker(
    service: BadgeService,
    session: LaunchSession,
    launch: DeepLinkingLaunch,
    search: PickerSearch,
    *,
    chosen: Iterable[str] = (),
    choice_error: str | None = None,
) -> Response:
    every_activity = service.catalogue.search_activities(limit=SEARCH_LIMIT)
    results = search_catalogue(service, search, every_activity)
    cities = sorted({a.city for a in every_activity if a.city}, key=str.casefold)
    status = 400 if results.error or choice_error else 200
    entries = chosen_entries(service, chosen)
    # Each chosen item has one control: its box in the results, else a hidden field.
    shown = {f"activity:{a.public_id}" for a in results.activities} | {
        f"playlist:{card.playlist.public_id}" for card in results.playlists
    }
    allow_static_scripts()  # picker.js keeps the "Chosen" list in step with the ticks
    page = render_template(
        "lti/picker.html",
        session=session,
        settings=launch.settings,
        search=search,
        results=results,
        cities=cities,
        frameworks=frameworks.frameworks(),
        skill_options=_skill_options(),
        skill_names=skill_names,
        search_limit=SEARCH_LIMIT,
        chosen={entry.value for entry in entries},
        chosen_entries=entries,
        shown=shown,
        choice_error=choice_error,
        choice_field=CHOICE_FIELD,
        kept_field=KEPT_FIELD,
        step_field=STEP_FIELD,
        untick_field=UNTICK_FIELD,
        script_nonce=script_nonce(),
        token_field=FORM_TOKEN_FIELD,
        token=form_token(session),
        picker_url=url_for("lti.session_page", launch_id=session.launch_id),
        choose_url=url_for("lti_deep_linking.choose", launch_id=session.launch_id),
    )
    return Response(page, status=status, mimetype="text/html")


def _deep_linking_launch(service: BadgeService, session: LaunchSession) -> DeepLinkingLaunch:
    """The restored launch, refused when the platform takes nothing this tool makes."""
    launch = restore_deep_linking(service, session.launch_id)
    if not launch.settings.accepts_resource_links:
        raise LaunchRefused(
            "Your learning environment does not accept links to activities here "
            "(ltiResourceLink is not among its accepted types).",
            reason="no-resource-links",
        )
    return launch


def picker_page(service: BadgeService, session: LaunchSession) -> Response:
    """The page a deep-linking request opens: the catalogue to choose from, filtered by the
    query string, with the items chosen so far (its ``choice`` parameters) ticked."""
    launch = _deep_linking_launch(service, session)
    return _render_picker(
        service,
        session,
        launch,
        PickerSearch.from_values(request.args),
        chosen=request.args.getlist(CHOICE_FIELD),
    )


# -- the choice --------------------------------------------------------------------------------


def chosen_values(values: Iterable[str]) -> list[tuple[str, str]]:
    """The (kind, public id) pairs of the choice fields, each once, in order; a value that is
    not ``activity:<id>`` or ``playlist:<id>`` is refused."""
    pairs: list[tuple[str, str]] = []
    for value in values:
        kind, _sep, public_id = value.strip().partition(":")
        if kind not in ("activity", "playlist") or not public_id or len(public_id) > 36:
            raise ChoiceRefused(_("This choice is not an activity or playlist of the catalogue."))
        if (kind, public_id) not in pairs:
            pairs.append((kind, public_id))
    return pairs


def chosen_items(
    service: BadgeService, pairs: list[tuple[str, str]], *, multiple: bool
) -> list[ChosenItem]:
    """The course items for the chosen activities and playlists, all checked first: none,
    several when the platform takes one, unknown or archived ones are refused."""
    if not pairs:
        raise ChoiceRefused(_("Choose at least one activity or playlist."))
    if len(pairs) > 1 and not multiple:
        raise ChoiceRefused(
            _("Your learning environment adds one item at a time here: choose only one.")
        )
    if len(pairs) > MAX_CHOICES:
        raise ChoiceRefused(_("Choose at most %(count)d items at a time.", count=MAX_CHOICES))
    catalogue = service.catalogue
    items = []
    for kind, public_id in pairs:
        try:
            found: ActivityView | PlaylistView = (
                catalogue.get_activity(public_id)
                if kind == "activity"
                else catalogue.get_playlist(public_id)
            )
        except NotFound:
            raise ChoiceRefused(
                _("This activity or playlist is not in the catalogue (any more).")
            ) from None
        if found.archived:
            raise ChoiceRefused(
                _("%(title)s is no longer offered and cannot be added.", title=found.title)
            )
        items.append(ChosenItem.of(kind, public_id, found.title, found.description))
    return items


def carried_choice(form: MultiDict[str, str], *, multiple: bool) -> list[str]:
    """The values of everything the sent picker form has chosen: the items chosen earlier
    that the results did not show (``kept``), then the boxes ticked in the results, less the
    one whose *Untick* was pressed. Where the platform takes one item, a newly ticked one
    replaces the one kept."""
    ticked = form.getlist(CHOICE_FIELD)
    kept = form.getlist(KEPT_FIELD)
    values = [*kept, *ticked] if multiple or not ticked else ticked
    untick = form.get(UNTICK_FIELD)
    return [value for value in values if value != untick][: MAX_CHOICES + 1]


def _picker_again(session: LaunchSession, search: PickerSearch, values: list[str]) -> Response:
    """303 to the picker with ``search``'s filters and the choice ``values`` in its query
    string (POST → redirect → GET: a reload asks nothing)."""
    fields = [*search.fields(), *((CHOICE_FIELD, value) for value in dict.fromkeys(values))]
    url = url_for("lti.session_page", launch_id=session.launch_id)
    return cast(Response, redirect(f"{url}?{urlencode(fields)}" if fields else url, code=303))


@blueprint.post("/")
def choose(launch_id: str) -> Response:
    """The picker form: with *Search*, *Show everything* or an *Untick*, the picker again
    with the new filters and the choice so far; else the choice, checked, then the page that
    posts the signed deep-linking response back to the platform; with a problem, the picker
    again saying what it is."""
    service = badge_service()
    session = load_session(service, launch_id)
    require_form_token(session, request.form.get(FORM_TOKEN_FIELD))
    launch = _deep_linking_launch(service, session)
    values = carried_choice(request.form, multiple=launch.settings.accept_multiple)
    search = PickerSearch.from_values(request.form)
    step = request.form.get(STEP_FIELD, "")
    if step == "everything":
        return _picker_again(session, PickerSearch.from_values({}), values)
    if step == "search" or UNTICK_FIELD in request.form:
        return _picker_again(session, search, values)
    try:
        items = chosen_items(
            service, chosen_values(values), multiple=launch.settings.accept_multiple
        )
    except ChoiceRefused as problem:
        return _render_picker(
            service, session, launch, search, chosen=values, choice_error=problem.message
        )
    token = signed_response(service, launch, items, _launch_url())
    allow_form_action(launch.settings.return_origin)
    page = render_template(
        "lti/picker_return.html",
        session=session,
        items=items,
        return_url=launch.settings.return_url,
        response_jwt=token,
        script_nonce=script_nonce(),
    )
    return Response(page, mimetype="text/html")


__all__ = [
    "CHOICE_FIELD",
    "KEPT_FIELD",
    "STEP_FIELD",
    "UNTICK_FIELD",
    "ChoiceRefused",
    "ChosenEntry",
    "PickerSearch",
    "blueprint",
    "carried_choice",
    "chosen_entries",
    "chosen_items",
    "chosen_values",
    "picker_page",
    "search_catalogue",
]
