"""Deep linking, the teacher's side: a deep-linking launch opens the picker, the filters narrow
what it shows, the chosen activities and playlists go back to the platform as a signed
``LtiDeepLinkingResponse`` that the test platform validates (signature with the tool's JWKS,
claims, items with their gradebook column and custom parameters), and a launch of a link made
from it opens that activity or playlist. Every bad choice is a readable 4xx and sends nothing."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from core.catalogue import PlaylistStepSpec
from core.service import BadgeService
from lti_tool.lti.deep_link_response import (
    ChosenItem,
    DeepLinkingLaunch,
    response_claims,
    settings_of,
)
from lti_tool.lti.hardened import LaunchRefused
from tests.lti.conftest import (
    LAUNCH_URL,
    LtiSite,
    assert_readable_refusal,
    connect,
    lti_settings,
    make_tool_app,
    page_text,
    site_on,
)
from tests.lti_platform import (
    CLAIM_DEEP_LINKING,
    CLAIM_DEPLOYMENT_ID,
    CLAIM_DL_CONTENT_ITEMS,
    CLAIM_DL_DATA,
    CLAIM_LAUNCH_PRESENTATION,
    DEEP_LINKING_REQUEST,
    Launch,
    TestPlatform,
    html_forms,
    http_request,
    instructor,
    new_id,
    student,
    unverified_parts,
)

CHOOSE_PATH = re.compile(r"^/lti/session/[^/]+/pick/$")
REDIS_URL = os.environ.get("BADGEBRIDGE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class Catalogue:
    """The public ids of the catalogue the picker shows."""

    photo: str  # Rotterdam, on location, May, DigComp 3.1
    debate: str  # online, June, SLO critical thinking
    roofs: str  # Utrecht, on location, May, GreenComp
    archived: str  # archived: never offered
    route: str  # playlist: photo + roofs
    online_route: str  # playlist: debate only


def build_catalogue(service: BadgeService) -> Catalogue:
    """Two cities' activities and playlists, through the catalogue service."""
    service.create_issuer("rotterdam", "Rotterdam City of Learning", url="https://example.nl")
    catalogue = service.catalogue

    def badge(name: str, skills: list[str]) -> str:
        return catalogue.create_achievement(
            "rotterdam",
            name=name,
            description=f"{name}: a badge.",
            criteria_narrative="Take part.",
            skills=skills,
        ).public_id

    def moment(month: int, day: int, hour: int) -> datetime:
        return datetime(2026, month, day, hour, tzinfo=UTC)

    photo = catalogue.create_activity(
        "rotterdam",
        title="Fotografeer Feijenoord",
        description="Photograph your neighbourhood with a photographer.",
        achievement_public_id=badge("Stadsfotograaf", ["digcomp-2.2:3.1"]),
        city="Rotterdam",
        location_name="Buurthuis De Put",
        starts_at=moment(5, 10, 12),
        ends_at=moment(5, 10, 15),
    ).public_id
    debate = catalogue.create_activity(
        "rotterdam",
        title="Online debatclub",
        description="Debate a city question with students of other schools.",
        achievement_public_id=badge("Debater", ["slo-21:kritisch-denken"]),
        online=True,
        starts_at=moment(6, 15, 14),
        ends_at=moment(6, 15, 16),
    ).public_id
    roofs = catalogue.create_activity(
        "rotterdam",
        title="Groene daken tellen",
        description="Count the green roofs of Utrecht from the Dom tower.",
        achievement_public_id=badge("Dakenteller", ["greencomp:1.1"]),
        city="Utrecht",
        starts_at=moment(5, 20, 9),
        ends_at=moment(5, 20, 12),
    ).public_id
    archived = catalogue.create_activity(
        "rotterdam",
        title="Oude havenwandeling",
        description="A walk that is no longer offered.",
        achievement_public_id=badge("Havenkenner", []),
        city="Rotterdam",
    ).public_id
    catalogue.update_activity(archived, archived=True)
    route = catalogue.create_playlist(
        "rotterdam",
        title="Stad in beeld",
        description="See two cities through a lens.",
        achievement_public_id=badge("Stadskijker", []),
        steps=[PlaylistStepSpec.of_activity(photo), PlaylistStepSpec.of_activity(roofs)],
    ).public_id
    online_route = catalogue.create_playlist(
        "rotterdam",
        title="Debatteren leer je online",
        description="A pathway of online debates.",
        achievement_public_id=badge("Debatroute", []),
        steps=[PlaylistStepSpec.of_activity(debate)],
    ).public_id
    return Catalogue(photo, debate, roofs, archived, route, online_route)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LtiSite, Catalogue]]:
    """One tool, platform and catalogue for the tests that only read it."""
    with TestPlatform() as running:
        lti_site = site_on(tmp_path_factory.mktemp("picker"), running)
        yield lti_site, build_catalogue(lti_site.service)
        lti_site.service.engine.dispose()


# -- driving the picker ------------------------------------------------------------------------


@dataclass
class Picker:
    """A teacher's browser on the picker of one deep-linking launch."""

    site: LtiSite
    browser: Any
    session_path: str
    launch: Launch

    def show(self, **filters: str) -> Any:
        """The picker with ``filters`` (its GET form's fields)."""
        return self.browser.get(self.session_path, query_string=filters)

    def choice_form(self, page: Any) -> dict[str, Any]:
        [form] = [f for f in html_forms(page.get_data(as_text=True)) if f["method"] == "post"]
        assert CHOOSE_PATH.match(form["action"]), form["action"]
        # Only the launch's token: the choices are the test's to make (the filters and the
        # buttons of the same form are left out too: sent without them, it adds).
        form["fields"] = {"launch_token": form["fields"]["launch_token"]}
        return form

    def choose(self, *values: str, token: str | None = None) -> Any:
        """Send the choice form of the picker with ``values`` ticked."""
        form = self.choice_form(self.show())
        fields = dict(form["fields"])
        if token is not None:
            fields["launch_token"] = token
        data = [*fields.items(), *(("choice", v) for v in values)]
        return self.browser.post(
            form["action"],
            data=urlencode(data),
            content_type="application/x-www-form-urlencoded",
        )


def in_english(claims: dict[str, Any]) -> None:
    """Ask the tool's pages in English (platforms say which language in the launch)."""
    claims[CLAIM_LAUNCH_PRESENTATION]["locale"] = "en-GB"


def teacher_launch(language: str = "en-GB", **settings: Any) -> Launch:
    """A teacher's deep-linking launch whose pages are asked in ``language``
    (``launch_presentation.locale``), with ``settings`` changed in its deep-linking settings."""

    def edit(claims: dict[str, Any]) -> None:
        claims[CLAIM_LAUNCH_PRESENTATION]["locale"] = language
        claims[CLAIM_DEEP_LINKING].update(settings)

    return Launch(instructor(), message_type=DEEP_LINKING_REQUEST, edit_claims=edit)


def open_picker(site: LtiSite, launch: Launch | None = None, language: str = "en") -> Picker:
    """A teacher's deep-linking launch, landed on the picker."""
    launch = launch or teacher_launch()
    browser = site.browser()
    browser.headers["Accept-Language"] = language
    outcome = browser.launch(launch)
    assert outcome.response.status_code == 303, outcome.response.get_data(as_text=True)[:500]
    assert outcome.session_path
    return Picker(site, browser, outcome.session_path, launch)


def shown_titles(page: Any) -> set[str]:
    """The titles the picker offers (the labels of its choices)."""
    body = page.get_data(as_text=True)
    return set(re.findall(r'<label for="choice-[^"]+">([^<]+)</label>', body))


def returned_form(response: Any) -> dict[str, Any]:
    """The auto-posting form of the response page (to the platform)."""
    forms = [f for f in html_forms(response.get_data(as_text=True)) if "JWT" in f["fields"]]
    assert len(forms) == 1, response.get_data(as_text=True)[:1500]
    return forms[0]


def assert_nothing_sent(response: Any, platform: TestPlatform, before: int) -> None:
    assert 400 <= response.status_code < 500, response.status_code
    assert "JWT" not in response.get_data(as_text=True)
    assert len(platform.deep_linking_responses) == before


# -- the round trip ----------------------------------------------------------------------------


def test_filters_narrow_what_the_picker_offers(shop: tuple[LtiSite, Catalogue]) -> None:
    site, _ = shop
    picker = open_picker(site)
    everything = picker.show()
    assert everything.status_code == 200
    assert shown_titles(everything) == {
        "Fotografeer Feijenoord",
        "Online debatclub",
        "Groene daken tellen",
        "Stad in beeld",
        "Debatteren leer je online",
    }, "archived activities are never offered"
    text = page_text(everything)
    assert "Add a Cities of Learning activity" in text
    assert "Burgerschap 2A" in text  # the course it adds to

    cases = {
        "words": ({"q": "debate"}, {"Online debatclub", "Debatteren leer je online"}),
        "city": ({"city": "Utrecht"}, {"Groene daken tellen", "Stad in beeld"}),
        "skill": (
            {"skill": "digcomp-2.2:3.1"},
            {"Fotografeer Feijenoord", "Stad in beeld"},
        ),
        "framework": ({"framework": "greencomp"}, {"Groene daken tellen", "Stad in beeld"}),
        "online": ({"mode": "online"}, {"Online debatclub", "Debatteren leer je online"}),
        "on location": (
            {"mode": "offline"},
            {"Fotografeer Feijenoord", "Groene daken tellen", "Stad in beeld"},
        ),
        "dates": (
            {"from": "2026-06-01", "to": "2026-06-30"},
            {"Online debatclub", "Debatteren leer je online"},
        ),
        "playlists only": ({"kind": "playlist"}, {"Stad in beeld", "Debatteren leer je online"}),
        "activities in Rotterdam": (
            {"kind": "activity", "city": "Rotterdam"},
            {"Fotografeer Feijenoord"},
        ),
    }
    for name, (filters, expected) in cases.items():
        page = picker.show(**filters)
        assert page.status_code == 200, name
        assert shown_titles(page) == expected, name


def test_the_preview_says_what_where_when_which_skills_and_badge(
    shop: tuple[LtiSite, Catalogue],
) -> None:
    site, _ = shop
    picker = open_picker(site)
    text = page_text(picker.show(q="Feijenoord", kind="activity"))
    for shown in (
        "Fotografeer Feijenoord",
        "Buurthuis De Put, Rotterdam",  # where
        "10 May 2026, 14:00 \u2013 17:00",  # when (Amsterdam time)
        "Organised by Rotterdam City of Learning",
        "DigComp 2.2",  # the skill's framework
        "Badge: Stadsfotograaf",
    ):
        assert shown in text, (shown, text)
    playlist = page_text(picker.show(q="lens", kind="playlist"))
    assert "Playlist of 2 steps" in playlist
    assert "Fotografeer Feijenoord → Groene daken tellen" in playlist
    assert "Badge: Stadskijker" in playlist


def test_a_bad_filter_is_explained_not_an_error(shop: tuple[LtiSite, Catalogue]) -> None:
    site, _ = shop
    picker = open_picker(site)
    for filters in ({"skill": "nonsense"}, {"from": "yesterday"}, {"kind": "videos"}):
        page = picker.show(**filters)
        assert page.status_code == 400, filters
        assert "This search could not be done" in page_text(page)


def test_two_chosen_items_go_back_signed_and_a_launch_of_the_link_opens_them(
    shop: tuple[LtiSite, Catalogue],
) -> None:
    site, ids = shop
    platform = site.platform
    picker = open_picker(site)
    answer = picker.choose(f"activity:{ids.photo}", f"playlist:{ids.route}")
    assert answer.status_code == 200, page_text(answer)

    # The page posts the response to the platform's return URL, by script or by its button.
    form = returned_form(answer)
    assert form["method"] == "post"
    assert form["action"] == platform.deep_link_return_url
    policy = answer.headers["Content-Security-Policy"]
    assert f"form-action 'self' {platform.issuer}" in policy
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy)
    assert nonce and f'<script nonce="{nonce.group(1)}">' in answer.get_data(as_text=True)
    assert "Continue to the course" in page_text(answer)

    # The platform receives it over HTTP and validates it (signature with the tool's JWKS).
    token = form["fields"]["JWT"]
    status, _, body = http_request(
        "POST",
        form["action"],
        body=urlencode({"JWT": token}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, body.decode()
    claims = platform.deep_linking_responses[-1]
    header, _ = unverified_parts(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == site.service.lti.tool_signing_key().kid
    assert claims["iss"] == platform.client_id
    assert claims["aud"] == platform.issuer
    assert claims[CLAIM_DEPLOYMENT_ID] == platform.deployment_ids[0]
    sent_settings = (platform.answers[-1].claims or {})[CLAIM_DEEP_LINKING]
    assert claims[CLAIM_DL_DATA] == sent_settings["data"]

    activity_item, playlist_item = claims[CLAIM_DL_CONTENT_ITEMS]
    assert activity_item == {
        "type": "ltiResourceLink",
        "title": "Fotografeer Feijenoord",
        "text": "Photograph your neighbourhood with a photographer.",
        "url": LAUNCH_URL,
        "custom": {"activity": ids.photo},
        "lineItem": {
            "scoreMaximum": 100,
            "label": "Fotografeer Feijenoord",
            "resourceId": f"activity:{ids.photo}",
            "tag": "badgebridge",
        },
    }
    assert playlist_item["title"] == "Stad in beeld"
    assert playlist_item["custom"] == {"playlist": ids.route}
    assert playlist_item["lineItem"]["resourceId"] == f"playlist:{ids.route}"

    # The platform makes course items of them; a student's launch of each opens its content.
    for item, shown in (
        (activity_item, "Fotografeer Feijenoord"),
        (playlist_item, "Stad in beeld"),
    ):
        launch = Launch(
            student(),
            resource_link_id="link-" + new_id(),
            resource_link_title=item["title"],
            custom=item["custom"],
            target_link_uri=item["url"],
            edit_claims=in_english,
        )
        outcome = site.browser().launch(launch)
        assert outcome.page is not None and outcome.page.status_code == 200
        text = page_text(outcome.page)
        assert f"{shown} " in text and "no longer available" not in text, text


def test_the_response_page_works_without_javascript(shop: tuple[LtiSite, Catalogue]) -> None:
    """A visible button posts the same form; the language follows the browser."""
    site, ids = shop
    picker = open_picker(site, teacher_launch("nl-NL"), language="nl")
    answer = picker.choose(f"activity:{ids.debate}")
    body = answer.get_data(as_text=True)
    assert '<html lang="nl">' in body
    assert re.search(r'<button type="submit">[^<]+</button>', body)
    assert "Online debatclub" in page_text(answer)


# -- refusals: readable, and nothing goes to the platform ----------------------------------------


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ((), "Choose at least one activity or playlist."),
        (("activity:no-such-activity",), "not in the catalogue"),
        (("playlist:no-such-playlist",), "not in the catalogue"),
        (("video:123",), "not an activity or playlist"),
        (("activity:",), "not an activity or playlist"),
        (tuple(f"activity:a{i}" for i in range(51)), "Choose at most 50 items at a time."),
    ],
    ids=[
        "nothing chosen",
        "unknown activity",
        "unknown playlist",
        "unknown kind",
        "no id",
        "too many",
    ],
)
def test_a_bad_choice_is_explained_and_nothing_is_sent(
    shop: tuple[LtiSite, Catalogue], values: tuple[str, ...], says: str
) -> None:
    site, _ = shop
    before = len(site.platform.deep_linking_responses)
    answer = open_picker(site).choose(*values)
    assert_nothing_sent(answer, site.platform, before)
    text = page_text(answer)
    assert "Nothing was added yet" in text and says in text, text
    assert shown_titles(answer), "the picker is shown again to choose from"


def test_an_archived_activity_cannot_be_chosen(shop: tuple[LtiSite, Catalogue]) -> None:
    site, ids = shop
    before = len(site.platform.deep_linking_responses)
    answer = open_picker(site).choose(f"activity:{ids.photo}", f"activity:{ids.archived}")
    assert_nothing_sent(answer, site.platform, before)
    assert "Oude havenwandeling is no longer offered" in page_text(answer)


def test_one_item_only_when_the_platform_takes_one(shop: tuple[LtiSite, Catalogue]) -> None:
    site, ids = shop
    launch = teacher_launch(accept_multiple=False)
    picker = open_picker(site, launch)
    page = picker.show()
    body = page.get_data(as_text=True)
    assert 'type="radio" id="choice-' in body and 'type="checkbox"' not in body
    before = len(site.platform.deep_linking_responses)
    two = picker.choose(f"activity:{ids.photo}", f"activity:{ids.roofs}")
    assert_nothing_sent(two, site.platform, before)
    assert "choose only one" in page_text(two)
    one = picker.choose(f"activity:{ids.roofs}")
    assert one.status_code == 200
    assert (
        len(
            site.platform.validate_deep_linking_response(returned_form(one)["fields"]["JWT"])[
                CLAIM_DL_CONTENT_ITEMS
            ]
        )
        == 1
    )


def test_no_line_item_when_the_platform_takes_none(shop: tuple[LtiSite, Catalogue]) -> None:
    site, ids = shop
    launch = teacher_launch(accept_lineitem=False)
    answer = open_picker(site, launch).choose(f"activity:{ids.photo}")
    claims = site.platform.validate_deep_linking_response(returned_form(answer)["fields"]["JWT"])
    [item] = claims[CLAIM_DL_CONTENT_ITEMS]
    assert "lineItem" not in item and item["custom"] == {"activity": ids.photo}


def test_a_platform_that_takes_no_resource_links_gets_a_readable_refusal(
    shop: tuple[LtiSite, Catalogue],
) -> None:
    site, _ = shop
    launch = teacher_launch(accept_types=["file", "html"])
    outcome = site.browser().launch(launch)
    assert_readable_refusal(outcome.response)
    assert "resource link" in page_text(outcome.response)


def test_the_choice_needs_the_launch_form_token(shop: tuple[LtiSite, Catalogue]) -> None:
    site, ids = shop
    before = len(site.platform.deep_linking_responses)
    picker = open_picker(site)
    answer = picker.choose(f"activity:{ids.photo}", token="forged")
    assert_readable_refusal(answer)
    assert_nothing_sent(answer, site.platform, before)
    other = open_picker(site)  # the token of another launch does not fit
    token = other.choice_form(other.show())["fields"]["launch_token"]
    assert_readable_refusal(picker.choose(f"activity:{ids.photo}", token=token))


def test_an_expired_launch_is_refused_readably(shop: tuple[LtiSite, Catalogue]) -> None:
    site, ids = shop
    before = len(site.platform.deep_linking_responses)
    picker = open_picker(site)
    form = picker.choice_form(picker.show())
    launch_id = urlsplit(picker.session_path).path.rsplit("/", 1)[-1]
    cache = site.service.lti.launch_cache
    cache.delete(f"session:{launch_id}")
    cache.delete(f"launch:{launch_id}")
    data = {**form["fields"], "choice": f"activity:{ids.photo}"}
    answer = picker.browser.post(form["action"], data=data)
    assert answer.status_code == 404
    assert_readable_refusal(answer)
    assert_nothing_sent(answer, site.platform, before)
    assert_readable_refusal(picker.show())


def test_a_resource_launch_has_no_picker_to_post_to(shop: tuple[LtiSite, Catalogue]) -> None:
    site, ids = shop
    browser = site.browser()
    outcome = browser.launch(Launch(instructor(), resource_link_id="link-" + new_id()))
    assert outcome.session_path and outcome.page is not None
    path = outcome.session_path + "/pick/"
    answer = browser.post(path, data={"choice": f"activity:{ids.photo}"})
    assert_readable_refusal(answer)


# -- on PostgreSQL too (the launch is restored from the shared cache in the database) -----------


@pytest.mark.parametrize("cache", ["database", "redis"])
def test_another_web_worker_answers_the_choice(
    tmp_path: Path, database_url: str, cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The launch is validated by one web worker; another (same database, same launch cache:
    the database's or Redis) shows the picker and signs the choice."""
    if cache == "redis":
        monkeypatch.setenv("BADGEBRIDGE_REDIS_URL", REDIS_URL)
    prefix = f"badgebridge-test:{uuid.uuid4().hex}:"
    settings = lti_settings(tmp_path, database_url)
    with TestPlatform() as platform:
        app, service = make_tool_app(settings)
        other_app, other_service = make_tool_app(settings)
        try:
            if cache == "redis":
                for worker in (service, other_service):
                    assert type(worker.lti.launch_cache).__name__ == "RedisLaunchCache"
                    worker.lti.launch_cache.PREFIX = prefix  # type: ignore[attr-defined]
            connected = connect(app, service, platform)
            ids = build_catalogue(service)
            picker = open_picker(connected)
            picker.browser.client = other_app.test_client()
            assert shown_titles(picker.show(city="Rotterdam")) == {
                "Fotografeer Feijenoord",
                "Stad in beeld",
            }
            # Ticked, then another search (the choice travels through the redirect), ticked.
            form = PickerForm(picker, picker.show(city="Rotterdam"))
            form = form.send(tick=(f"activity:{ids.photo}",), q="debat", button=SEARCH)
            assert form.kept() == [f"activity:{ids.photo}"]
            answer = form.send(tick=(f"playlist:{ids.online_route}",))
            assert answer.status_code == 200, page_text(answer)
            claims = platform.validate_deep_linking_response(returned_form(answer)["fields"]["JWT"])
            assert [i["custom"] for i in claims[CLAIM_DL_CONTENT_ITEMS]] == [
                {"activity": ids.photo},
                {"playlist": ids.online_route},
            ]
        finally:
            service.engine.dispose()
            other_service.engine.dispose()
            if cache == "redis":
                _forget_redis_keys(prefix)


def _forget_redis_keys(prefix: str) -> None:
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(match=prefix + "*"))
    if keys:
        connection.delete(*keys)
    connection.close()


# -- the platform's settings, read strictly ------------------------------------------------------


def test_a_return_url_that_could_break_out_of_the_page_is_refused(
    shop: tuple[LtiSite, Catalogue],
) -> None:
    """The return URL goes into the form's action and the page's Content-Security-Policy: a
    value with spaces, semicolons or quotes (or not http/https) is refused, nothing sent."""
    site, _ = shop
    for bad in (
        "https://lms.example/return; script-src *",
        "https://lms.example/return 'unsafe-inline'",
        'https://lms.example/"><script>',
        "javascript:alert(1)",
    ):
        page = open_picker(site, teacher_launch(deep_link_return_url=bad)).show()
        assert_readable_refusal(page)
        assert "deep_link_return_url" in page_text(page), bad


def _settings(**changes: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "deep_link_return_url": "https://lms.example/return",
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe"],
    }
    settings.update(changes)
    return {CLAIM_DEEP_LINKING: settings}


def test_settings_are_read_as_platforms_send_them() -> None:
    defaults = settings_of(_settings())
    assert defaults.accept_multiple and defaults.accept_line_item and not defaults.has_data
    assert defaults.return_origin == "https://lms.example"
    as_text = settings_of(_settings(accept_multiple="false", accept_lineitem="FALSE", data="x"))
    assert not as_text.accept_multiple and not as_text.accept_line_item
    assert as_text.has_data and as_text.data == "x"
    assert not settings_of(_settings(accept_types=["link"])).accepts_resource_links
    with pytest.raises(LaunchRefused):
        settings_of({})


def test_the_response_echoes_data_only_when_the_platform_sent_some() -> None:
    platform = SimpleNamespace(client_id="tool-1", issuer="https://lms.example")
    deployment = SimpleNamespace(deployment_id="dep-1")
    item = ChosenItem.of("playlist", "p-1", "Stad in beeld", "See two cities.")

    def claims(**changes: Any) -> dict[str, Any]:
        launch = DeepLinkingLaunch(
            "launch-1",
            platform,  # type: ignore[arg-type]
            deployment,  # type: ignore[arg-type]
            settings_of(_settings(**changes)),
        )
        return response_claims(launch, [item], LAUNCH_URL, now=1_800_000_000)

    without = claims()
    assert CLAIM_DL_DATA not in without
    assert without["exp"] - without["iat"] == 600
    assert claims(data={"course": 7})[CLAIM_DL_DATA] == {"course": 7}
    [content] = without[CLAIM_DL_CONTENT_ITEMS]
    assert content["lineItem"]["resourceId"] == "playlist:p-1"
    assert content["custom"] == {"playlist": "p-1"}


def test_items_can_be_added_outside_a_course(shop: tuple[LtiSite, Catalogue]) -> None:
    """Canvas lets an administrator add items to an account, not a course: no context claim."""
    site, ids = shop
    launch = teacher_launch()
    launch.context = None
    picker = open_picker(site, launch)
    assert "(no course)" in page_text(picker.show())
    answer = picker.choose(f"activity:{ids.roofs}")
    claims = site.platform.validate_deep_linking_response(returned_form(answer)["fields"]["JWT"])
    assert [i["custom"] for i in claims[CLAIM_DL_CONTENT_ITEMS]] == [{"activity": ids.roofs}]


# -- the choice kept across changes of filter ----------------------------------------------------


class _PickerFormParser(HTMLParser):
    """The picker form's controls as a browser sees them: every input with its type, name,
    value and whether it is ticked."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            self.inputs.append(dict(attrs))


@dataclass
class PickerForm:
    """The picker page's one form, filled in and sent as a browser without JavaScript does:
    its hidden fields, the boxes ticked (those the page ticked and the test's), the filters
    the test sets and the button pressed."""

    picker: Picker
    page: Any

    def inputs(self) -> list[dict[str, str | None]]:
        parser = _PickerFormParser()
        parser.feed(self.page.get_data(as_text=True))
        return parser.inputs

    def kept(self) -> list[str]:
        """The items chosen earlier that travel as hidden fields."""
        return [str(i["value"]) for i in self.inputs() if i.get("name") == "kept"]

    def ticked(self) -> list[str]:
        """The boxes the page shows ticked."""
        return [
            str(i["value"]) for i in self.inputs() if i.get("name") == "choice" and "checked" in i
        ]

    def send(
        self,
        *,
        tick: tuple[str, ...] = (),
        untick: tuple[str, ...] = (),
        button: tuple[str, str] | None = None,
        **filters: str,
    ) -> PickerForm | Any:
        """Tick and untick boxes, set ``filters``, press ``button`` (name, value; none: the
        add button). A search comes back as the picker again (after its redirect); an add as
        the tool's answer."""
        fields = [
            (str(i["name"]), str(i["value"]))
            for i in self.inputs()
            if i.get("type") == "hidden" and i.get("name")
        ]
        offered = {str(i["value"]) for i in self.inputs() if i.get("name") == "choice"}
        assert set(tick) <= offered, (tick, offered)
        boxes = [v for v in dict.fromkeys([*self.ticked(), *tick]) if v not in untick]
        fields += [("choice", value) for value in boxes]
        fields += list(filters.items())
        if button:
            fields.append(button)
        action = self.picker.session_path + "/pick/"
        answer = self.picker.browser.post(
            action, data=urlencode(fields), content_type="application/x-www-form-urlencoded"
        )
        if button is None:
            return answer
        assert answer.status_code == 303, page_text(answer)
        location = urlsplit(answer.headers["Location"])
        assert location.path == self.picker.session_path
        page = self.picker.browser.get(location.path, query_string=location.query)
        assert page.status_code == 200, page_text(page)
        return PickerForm(self.picker, page)


def chosen_list(page: Any) -> list[str]:
    """The titles under "Chosen (n)", with n."""
    body = page.get_data(as_text=True)
    count = re.search(r'<span class="picker-count">(\d+)</span>', body)
    assert count
    titles = re.findall(r'<span class="picker-chosen-title">([^<]+)</span>', body)
    assert int(count.group(1)) == len(titles)
    return titles


SEARCH = ("step", "search")


def test_what_was_ticked_stays_chosen_through_searches_and_all_of_it_is_sent(
    shop: tuple[LtiSite, Catalogue],
) -> None:
    """A teacher ticks two items, searches for a third and ticks it: the platform gets all
    three, once each, also when an earlier choice shows up again in a later search."""
    site, ids = shop
    platform = site.platform
    picker = open_picker(site)
    form = PickerForm(picker, picker.show())
    assert chosen_list(form.page) == []

    # Ticked on the whole list, then a search for roofs: neither ticked item is shown, both
    # stay chosen (listed, carried as hidden fields).
    form = form.send(
        tick=(f"activity:{ids.photo}", f"activity:{ids.debate}"), q="daken", button=SEARCH
    )
    assert shown_titles(form.page) == {"Groene daken tellen", "Stad in beeld"}
    assert chosen_list(form.page) == ["Fotografeer Feijenoord", "Online debatclub"]
    assert form.kept() == [f"activity:{ids.photo}", f"activity:{ids.debate}"]
    assert re.search(r"Chosen \(\s*2\s*\)", page_text(form.page))

    # Tick the roofs, then search on location: the photo walk is shown again, ticked (and not
    # carried twice); the debate (online) stays kept.
    form = form.send(tick=(f"activity:{ids.roofs}",), mode="offline", button=SEARCH)
    assert shown_titles(form.page) == {
        "Fotografeer Feijenoord",
        "Groene daken tellen",
        "Stad in beeld",
    }
    assert set(form.ticked()) == {f"activity:{ids.photo}", f"activity:{ids.roofs}"}
    assert form.kept() == [f"activity:{ids.debate}"]
    assert sorted(chosen_list(form.page)) == [
        "Fotografeer Feijenoord",
        "Groene daken tellen",
        "Online debatclub",
    ]

    # Add a playlist too; the platform validates the signed response: every choice, once.
    before = len(platform.deep_linking_responses)
    answer = form.send(tick=(f"playlist:{ids.route}",))
    assert answer.status_code == 200, page_text(answer)
    claims = platform.validate_deep_linking_response(returned_form(answer)["fields"]["JWT"])
    sent_items = [item["custom"] for item in claims[CLAIM_DL_CONTENT_ITEMS]]
    assert sorted(sent_items, key=str) == sorted(
        [
            {"activity": ids.photo},
            {"activity": ids.roofs},
            {"activity": ids.debate},
            {"playlist": ids.route},
        ],
        key=str,
    )
    assert len(platform.deep_linking_responses) == before + 1  # one response holds them all


def test_an_item_can_be_unticked_where_the_search_does_not_show_it(
    shop: tuple[LtiSite, Catalogue],
) -> None:
    """Without JavaScript the chosen list's *Untick* sends the form: the item is no longer
    chosen, the others and the filters stay; "Show everything" keeps the choice too."""
    site, ids = shop
    picker = open_picker(site, teacher_launch("nl-NL"), language="nl")
    form = PickerForm(picker, picker.show())
    form = form.send(
        tick=(f"activity:{ids.photo}", f"playlist:{ids.online_route}"),
        city="Utrecht",
        button=SEARCH,
    )
    text = page_text(form.page)
    assert re.search(r"Gekozen \(\s*2\s*\)", text) and "Vinkje weghalen" in text, text
    form = form.send(button=("untick", f"activity:{ids.photo}"), city="Utrecht")
    assert chosen_list(form.page) == ["Debatteren leer je online"]
    assert shown_titles(form.page) == {"Groene daken tellen", "Stad in beeld"}
    form = form.send(button=("step", "everything"), city="Utrecht")
    assert len(shown_titles(form.page)) == 5
    assert form.ticked() == [f"playlist:{ids.online_route}"] and form.kept() == []
    answer = form.send()
    claims = site.platform.validate_deep_linking_response(returned_form(answer)["fields"]["JWT"])
    assert [i["custom"] for i in claims[CLAIM_DL_CONTENT_ITEMS]] == [{"playlist": ids.online_route}]


def test_a_search_needs_the_launch_form_token(shop: tuple[LtiSite, Catalogue]) -> None:
    site, ids = shop
    picker = open_picker(site)
    answer = picker.browser.post(
        picker.session_path + "/pick/",
        data={"step": "search", "choice": f"activity:{ids.photo}", "launch_token": "forged"},
    )
    assert_readable_refusal(answer)


def test_a_choice_in_the_address_that_names_nothing_is_left_out(
    shop: tuple[LtiSite, Catalogue],
) -> None:
    site, ids = shop
    picker = open_picker(site)
    page = picker.browser.get(
        picker.session_path,
        query_string=[
            ("choice", "activity:no-such-thing"),
            ("choice", "video:1"),
            ("choice", f"activity:{ids.debate}"),
            ("choice", f"activity:{ids.debate}"),
            ("q", "daken"),
        ],
    )
    assert page.status_code == 200
    assert chosen_list(page) == ["Online debatclub"]
    assert PickerForm(picker, page).kept() == [f"activity:{ids.debate}"]
