"""The teacher's deep-linking picker in Chromium, in Dutch and in English: the whole launch runs
in the browser (the test platform's login initiation → the tool → the platform's auth endpoint →
the auto-posted id_token → the picker), the teacher filters and chooses, and the signed response
is posted back to the platform, which validates it. Without JavaScript the same works with the
pages' buttons. Every tool page passes :func:`check_page`; screenshots are kept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_page, sent, shoot
from tests.browser.lti_served import LOCALES, ServedSite, dutch_with, page_in, served_tool
from tests.lti.test_deep_linking import Catalogue, build_catalogue, teacher_launch
from tests.lti_platform import CLAIM_DL_CONTENT_ITEMS, ToolBrowser


def words(language: str, message: str, *, count: int | None = None, plural: str = "") -> str:
    """What the pages show for the English ``message`` (``plural`` form for ``count``)."""
    if language == "en":
        text = plural if count is not None and count != 1 else message
    else:
        found = dutch_with("lti-picker.po")[(message, plural) if plural else message]
        text = (found[0] if count == 1 else found[1]) if plural else found
        assert text, f"no Dutch for {message!r}"
    return text % {"num": count} if count is not None else text


@dataclass
class PickerSite(ServedSite):
    """The tool served and registered with the test platform, with a catalogue to choose
    from."""

    catalogue: Catalogue


@pytest.fixture
def picker_site(tmp_path: Path) -> Iterator[PickerSite]:
    with served_tool(tmp_path) as (server, platform):
        yield PickerSite(server, platform, build_catalogue(server.service))


@pytest.fixture
def teacher_page(browser: Any, language: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a browser context of the test's language, with or without JavaScript."""
    javascript = "no_js" not in request.node.name
    with page_in(browser, language, java_script_enabled=javascript) as page:
        yield page


def launch_in_browser(page: Any, site: PickerSite, language: str, *, javascript: bool) -> None:
    """The platform sends the teacher's browser to the tool's login; the rest is the browser's:
    redirect to the platform, the auto-posted id_token (its button without JavaScript), the
    tool's redirect to the picker."""
    launch = teacher_launch(LOCALES[language])
    page.goto(f"{site.server.url}/lti/login?{urlencode(site.platform.initiation(launch))}")
    if not javascript:
        expect(page).to_have_url(re.compile(re.escape(site.platform.auth_url)))
        with sent(page):
            page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/lti/session/[^/?]+$"))


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_teacher_filters_chooses_and_the_choice_reaches_the_platform(
    teacher_page: Any, picker_site: PickerSite, language: str
) -> None:
    page, platform = teacher_page, picker_site.platform
    launch_in_browser(page, picker_site, language, javascript=True)
    check_page(page, language)
    expect(page.locator("h1")).to_have_text(words(language, "Add a Cities of Learning activity"))
    choices = page.locator(".picker-item label")
    expect(choices).to_have_count(5)
    shoot(page, f"lti-picker-{language}")

    # Filter: on location in Rotterdam.
    page.get_by_label(words(language, "City"), exact=True).select_option("Rotterdam")
    page.get_by_role("radio", name=words(language, "On location"), exact=True).check()
    with sent(page):
        page.get_by_role("button", name=words(language, "Search"), exact=True).click()
    check_page(page, language)
    expect(choices).to_have_text(["Fotografeer Feijenoord", "Stad in beeld"])
    activities = words(language, "%(num)d activity", count=1, plural="%(num)d activities")
    expect(page.get_by_role("heading", name=activities)).to_be_visible()

    # Choose both; the preview of each stays beside its checkbox.
    photo = page.get_by_role("checkbox", name="Fotografeer Feijenoord")
    photo.check()
    page.get_by_role("checkbox", name="Stad in beeld").check()
    preview = page.locator(".picker-item").filter(has=photo)
    expect(preview).to_contain_text("Stadsfotograaf")
    expect(preview).to_contain_text("Buurthuis De Put, Rotterdam")
    shoot(page, f"lti-picker-chosen-{language}")
    add = words(language, "Add the chosen items to the course")
    with page.expect_request(platform.deep_link_return_url):
        page.get_by_role("button", name=add).click()

    # The response page posted itself to the platform, which validated it.
    expect(page).to_have_url(platform.deep_link_return_url)
    expect(page.locator("body")).to_contain_text("Content added.")
    [response] = platform.deep_linking_responses
    items = response[CLAIM_DL_CONTENT_ITEMS]
    ids = picker_site.catalogue
    assert [item["custom"] for item in items] == [{"activity": ids.photo}, {"playlist": ids.route}]
    assert all(item["lineItem"]["tag"] == "badgebridge" for item in items)


def test_no_js_the_buttons_do_what_the_scripts_do(
    teacher_page: Any, picker_site: PickerSite
) -> None:
    """Without JavaScript: the filters are a plain GET form, and the response page shows a
    button that posts the signed response."""
    page, platform = teacher_page, picker_site.platform
    launch_in_browser(page, picker_site, "en", javascript=False)
    check_page(page, "en")
    page.get_by_label("Show", exact=True).select_option(label="Activities only")
    page.get_by_role("radio", name="Online", exact=True).check()
    with sent(page):
        page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".picker-item label")).to_have_text(["Online debatclub"])
    page.get_by_role("checkbox", name="Online debatclub").check()
    with sent(page):
        page.get_by_role("button", name="Add the chosen items to the course").click()

    check_page(page, "en")
    expect(page.locator("h1")).to_have_text("Adding to your course")
    expect(page.locator("main")).to_contain_text("Online debatclub")
    shoot(page, "lti-picker-return-no-js-en")
    assert platform.deep_linking_responses == []
    with sent(page):
        page.get_by_role("button", name="Continue to the course").click()
    expect(page.locator("body")).to_contain_text("Content added.")
    [response] = platform.deep_linking_responses
    assert [i["title"] for i in response[CLAIM_DL_CONTENT_ITEMS]] == ["Online debatclub"]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_choice_of_nothing_is_explained_in_the_page(
    teacher_page: Any, picker_site: PickerSite, language: str
) -> None:
    page = teacher_page
    launch_in_browser(page, picker_site, language, javascript=True)
    with sent(page):
        page.get_by_role(
            "button", name=words(language, "Add the chosen items to the course")
        ).click()
    check_page(page, language)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(words(language, "Choose at least one activity or playlist."))
    shoot(page, f"lti-picker-nothing-chosen-{language}")
    assert picker_site.platform.deep_linking_responses == []


def test_the_picker_works_inside_the_lms_frame(teacher_page: Any, picker_site: PickerSite) -> None:
    """As Moodle shows it: the picker in an iframe of a course page on another site (the
    platform at ``localhost``, the tool at 127.0.0.1), where the tool has no cookies. The
    launch runs through the tool's own client; the frame then filters, chooses, and the
    response posts itself from the frame to the platform."""
    page, platform, server = teacher_page, picker_site.platform, picker_site.server
    browser = ToolBrowser(server.app.test_client(), platform, server.url, language="nl")
    outcome = browser.launch(teacher_launch("nl-NL"))
    assert outcome.session_path, outcome.response.get_data(as_text=True)[:500]
    port = urlsplit(platform.issuer).port
    course = f"http://localhost:{port}/course?" + urlencode(
        {"tool": server.url + outcome.session_path, "storage": ""}
    )
    page.set_viewport_size({"width": 1100, "height": 2500})  # the whole frame in view
    page.goto(course, wait_until="load")
    page.locator("#tool").evaluate("frame => { frame.height = 2400; frame.width = 1040; }")
    frame = page.locator("#tool").element_handle().content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    check_page(frame, "nl")

    frame.get_by_label(words("nl", "Words"), exact=True).fill("debat")
    with frame.expect_navigation(wait_until="load"):
        frame.get_by_role("button", name=words("nl", "Search"), exact=True).click()
    expect(frame.locator(".picker-item label")).to_have_text(
        ["Online debatclub", "Debatteren leer je online"]
    )
    frame.get_by_role("checkbox", name="Debatteren leer je online").check()
    frame.evaluate("window.scrollTo(0, 0)")
    shoot(page, "lti-picker-in-lms-frame-nl")
    with frame.expect_navigation(url=platform.deep_link_return_url):
        frame.get_by_role("button", name=words("nl", "Add the chosen items to the course")).click()
    expect(frame.locator("body")).to_contain_text("Content added.")
    [response] = platform.deep_linking_responses
    ids = picker_site.catalogue
    assert [i["custom"] for i in response[CLAIM_DL_CONTENT_ITEMS]] == [
        {"playlist": ids.online_route}
    ]


def chosen_heading(language: str, count: int) -> str:
    return f"{words(language, 'Chosen')} ({count})"


@pytest.mark.parametrize("language", ["nl", "en"])
def test_ticks_stay_chosen_when_the_teacher_searches_again(
    teacher_page: Any, picker_site: PickerSite, language: str
) -> None:
    """Two activities ticked, a search for a third, ticked too: the "Chosen" list follows
    every tick as it happens, keeps the first two while the search hides them, and the
    platform gets all three, once each. An item is unticked from the list."""
    page, platform, ids = teacher_page, picker_site.platform, picker_site.catalogue
    launch_in_browser(page, picker_site, language, javascript=True)
    heading = page.locator("#chosen-heading")
    chosen = page.locator(".picker-chosen-title")
    expect(heading).to_have_text(chosen_heading(language, 0))
    page.get_by_role("checkbox", name="Fotografeer Feijenoord").check()
    page.get_by_role("checkbox", name="Online debatclub").check()
    expect(heading).to_have_text(chosen_heading(language, 2))
    expect(chosen).to_have_text(["Fotografeer Feijenoord", "Online debatclub"])

    # A search that shows neither: both stay chosen (listed, and sent with the form).
    page.get_by_label(words(language, "Words"), exact=True).fill("daken")
    with sent(page):
        page.get_by_role("button", name=words(language, "Search"), exact=True).click()
    check_page(page, language)
    expect(page.locator(".picker-item label")).to_have_text(
        ["Groene daken tellen", "Stad in beeld"]
    )
    expect(heading).to_have_text(chosen_heading(language, 2))
    expect(chosen).to_have_text(["Fotografeer Feijenoord", "Online debatclub"])
    expect(page.locator(".picker-chosen")).to_contain_text(words(language, "not in this search"))

    # Tick two more, then untick the playlist from the chosen list: its box is unticked too.
    page.get_by_role("checkbox", name="Groene daken tellen").check()
    route = page.get_by_role("checkbox", name="Stad in beeld")
    route.check()
    expect(heading).to_have_text(chosen_heading(language, 4))
    shoot(page, f"lti-picker-chosen-across-searches-{language}")
    untick = words(language, "Untick %(title)s").replace("%(title)s", "Stad in beeld")
    page.get_by_role("button", name=untick).click()
    expect(route).not_to_be_checked()
    expect(heading).to_have_text(chosen_heading(language, 3))
    expect(heading).to_be_focused()
    expect(chosen).to_have_text(
        ["Fotografeer Feijenoord", "Online debatclub", "Groene daken tellen"]
    )

    with page.expect_request(platform.deep_link_return_url):
        page.get_by_role(
            "button", name=words(language, "Add the chosen items to the course")
        ).click()
    expect(page).to_have_url(platform.deep_link_return_url)
    expect(page.locator("body")).to_contain_text("Content added.")
    [response] = platform.deep_linking_responses
    items = [item["custom"] for item in response[CLAIM_DL_CONTENT_ITEMS]]
    assert items == [{"activity": ids.photo}, {"activity": ids.debate}, {"activity": ids.roofs}]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_no_js_ticks_stay_chosen_when_the_teacher_searches_again(
    teacher_page: Any, picker_site: PickerSite, language: str
) -> None:
    """Without JavaScript the search sends the ticks along: the picker comes back with them
    listed, an item unticks with its button, and all that is left reaches the platform."""
    page, platform, ids = teacher_page, picker_site.platform, picker_site.catalogue
    launch_in_browser(page, picker_site, language, javascript=False)
    page.get_by_role("checkbox", name="Fotografeer Feijenoord").check()
    page.get_by_role("checkbox", name="Debatteren leer je online").check()
    page.get_by_label(words(language, "City"), exact=True).select_option("Utrecht")
    with sent(page):
        page.get_by_role("button", name=words(language, "Search"), exact=True).click()
    check_page(page, language)
    expect(page.locator(".picker-item label")).to_have_text(
        ["Groene daken tellen", "Stad in beeld"]
    )
    expect(page.locator("#chosen-heading")).to_have_text(chosen_heading(language, 2))
    expect(page.locator(".picker-chosen-title")).to_have_text(
        ["Fotografeer Feijenoord", "Debatteren leer je online"]
    )

    # Tick one more; untick the playlist (a round trip keeps the new tick and the filter).
    page.get_by_role("checkbox", name="Groene daken tellen").check()
    untick = words(language, "Untick %(title)s").replace("%(title)s", "Debatteren leer je online")
    with sent(page):
        page.get_by_role("button", name=untick).click()
    check_page(page, language)
    expect(page.locator(".picker-item label")).to_have_text(
        ["Groene daken tellen", "Stad in beeld"]
    )
    expect(page.get_by_role("checkbox", name="Groene daken tellen")).to_be_checked()
    expect(page.locator(".picker-chosen-title")).to_have_text(
        ["Fotografeer Feijenoord", "Groene daken tellen"]
    )
    shoot(page, f"lti-picker-chosen-no-js-{language}")

    with sent(page):
        page.get_by_role(
            "button", name=words(language, "Add the chosen items to the course")
        ).click()
    with sent(page):
        page.get_by_role("button", name=words(language, "Continue to the course")).click()
    expect(page.locator("body")).to_contain_text("Content added.")
    [response] = platform.deep_linking_responses
    items = [item["custom"] for item in response[CLAIM_DL_CONTENT_ITEMS]]
    assert items == [{"activity": ids.photo}, {"activity": ids.roofs}]
