"""What a student sees after launching a course item, driven through the test LTI platform
(real HTTP to the platform, the tool's test client as the browser): the activity, evidence
handed in (text, link, file) and its review, the earned badge with working links, playlist
progress, attendance codes, and every refusal readable."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from core.awarding import AwardRequest
from core.baking import extract_from_png
from core.limits import MAX_EVIDENCE_FILE_BYTES
from core.service import BadgeService
from core.storage import EvidenceRecord
from core.workers import run_worker
from lti_tool.lti.sessions import FORM_TOKEN_FIELD, form_token, load_session
from lti_tool.lti.student import MAX_ATTENDANCE_TRIES, SUBMISSION_FIELD
from tests.badge_world import World, make_world
from tests.lti.conftest import (
    TOOL_BASE_URL,
    LtiSite,
    assert_readable_refusal,
    connect,
    page_text,
    site_on,
)
from tests.lti_platform import (
    CLAIM_LAUNCH_PRESENTATION,
    CourseContext,
    Launch,
    PlatformUser,
    Role,
    TestPlatform,
    ToolBrowser,
    html_forms,
    new_id,
    student,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ORGANISER = "organiser@rotterdam.nl"
ATTENDANCE_CODE = "FOTO-2026"


# -- the site: the tool with a catalogue, registered with the test platform ------------------


@pytest.fixture(scope="module")
def shared_world(module_site: LtiSite) -> World:
    """Rotterdam's catalogue on the SQLite site that this module's tests share."""
    return make_world(module_site.service)


@pytest.fixture
def site(module_site: LtiSite) -> LtiSite:
    """The shared SQLite site (each test launches as a student of its own: :func:`me`)."""
    return module_site


@pytest.fixture
def world(shared_world: World) -> World:
    return shared_world


@pytest.fixture
def me() -> PlatformUser:
    """A student of this test's own (the SQLite site is shared by the module)."""
    person = student(f"student-{new_id()}")
    person.email = f"{person.sub}@school.example"
    return person


@pytest.fixture
def stored_site(tmp_path: Path, database_url: str, platform: TestPlatform) -> Iterator[LtiSite]:
    """The tool on SQLite and on PostgreSQL, registered with ``platform`` (email trusted)."""
    stored = site_on(tmp_path, platform, database_url, email_trusted=True)
    yield stored
    stored.service.engine.dispose()


@pytest.fixture
def stored_world(stored_site: LtiSite) -> World:
    return make_world(stored_site.service)


class Student:
    """A student's browser on a launched course item: the page, its forms, posting them."""

    def __init__(self, site: LtiSite, browser: ToolBrowser, session_path: str) -> None:
        self.site = site
        self.browser = browser
        self.session_path = session_path
        self.response: Any = browser.get(session_path)

    @property
    def html(self) -> str:
        return str(self.response.get_data(as_text=True))

    @property
    def text(self) -> str:
        return page_text(self.response)

    def reload(self) -> str:
        self.response = self.browser.get(self.session_path)
        assert self.response.status_code == 200, self.text
        return self.text

    def form(self, action_end: str, **fields: str) -> dict[str, Any]:
        """The page's form posting to ``…<action_end>`` whose hidden fields match ``fields``."""
        for form in html_forms(self.html):
            if form["action"].endswith(action_end) and all(
                form["fields"].get(k) == v for k, v in fields.items()
            ):
                return form
        raise AssertionError(f"no form to {action_end} with {fields} on: {self.text[:600]}")

    def send(
        self, action_end: str, values: dict[str, Any], *, follow: bool = True, **match: str
    ) -> Any:
        """Fill in and send a form of the page; follow the 303 back to the page."""
        form = self.form(action_end, **match)
        data = {k: v for k, v in form["fields"].items() if v or k in {"text", "url", "code"}}
        data.update(values)
        response = self.browser.post(unescape(form["action"]), data=data)
        if follow and response.status_code == 303:
            self.response = self.browser.get(tool_path(response.headers["Location"]))
            assert self.response.status_code == 200, self.text
        else:
            self.response = response
        return response

    def hand_in(self, activity: str, kind: str, value: Any, **kwargs: Any) -> Any:
        field = {"text": "text", "link": "url", "file": "file"}[kind]
        return self.send(
            "/student/evidence", {field: value}, activity=activity, kind=kind, **kwargs
        )


def launch(
    site: LtiSite,
    *,
    user: PlatformUser | None = None,
    custom: dict[str, str] | None = None,
    context: CourseContext | None = None,
    resource_link_id: str = "resource-link-1",
    language: str = "en",
) -> Student:
    """Launch a course item as ``user`` (a student by default) and open the page, in
    ``language`` (the launch's locale and the browser's)."""
    browser = ToolBrowser(site.app.test_client(), site.platform, TOOL_BASE_URL, language=language)

    def in_language(claims: dict[str, Any]) -> None:
        claims[CLAIM_LAUNCH_PRESENTATION]["locale"] = language

    outcome = browser.launch(
        Launch(
            user or student(),
            custom=custom or {},
            context=context or CourseContext(),
            resource_link_id=resource_link_id,
            edit_claims=in_language,
        )
    )
    assert outcome.response.status_code == 303, outcome.response.get_data(as_text=True)[:500]
    assert outcome.session_path is not None
    page = Student(site, browser, outcome.session_path)
    assert page.response.status_code == 200, page.text
    return page


def tool_path(location: str) -> str:
    """The path and query a redirect sends the browser to (the fragment stays in the browser)."""
    parts = urlsplit(location)
    assert parts.netloc in ("", urlsplit(TOOL_BASE_URL).netloc), location
    return parts.path + (f"?{parts.query}" if parts.query else "")


def evidence_of(service: BadgeService, learner: str) -> list[Any]:
    return service.evidence.of_learner(learner)


def learner_of(site: LtiSite, sub: str = "student-1") -> str:
    learner = site.service.learners.find(
        lms_platform=site.registration.learner_platform, lms_user_id=sub
    )
    assert learner is not None
    return learner.public_id


def links(html: str) -> dict[str, str]:
    """Link text → address of the page's links."""
    found = {}
    for href, inner in re.findall(r'<a\b[^>]*href="([^"]+)"[^>]*>(.*?)</a>', html, re.S):
        found[re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", inner))).strip()] = unescape(href)
    return found


# -- the activity and evidence ------------------------------------------------------------------


def test_student_sees_the_activity_hands_in_a_text_and_gets_the_badge_once_approved(
    stored_site: LtiSite, stored_world: World
) -> None:
    site, world = stored_site, stored_world
    page = launch(site, custom={"activity": world.activity})
    text = page.text
    assert "Fotografeer je wijk" in text
    assert "Twelve photographs of your neighbourhood." in text
    assert "Rotterdam" in text and "Stadsfotograaf" in text
    assert "You hand in evidence; the organiser reviews it." in text
    assert "Role Student" in text and "Daan Jansen" in text

    page.hand_in(world.activity, "text", "Ik heb twaalf foto's van de Afrikaanderwijk gemaakt.")
    assert "Your evidence was handed in. It now waits for review." in page.text
    assert "Waiting for review" in page.text
    assert "twaalf foto's van de Afrikaanderwijk" in page.text
    learner = learner_of(site)
    [handed] = evidence_of(site.service, learner)
    assert (handed.kind, handed.status) == ("text", "pending")

    site.service.evidence.review(handed.public_id, approve=True, reviewer=ORGANISER)
    text = page.reload()
    assert "Earned" in text and "You earned the badge Stadsfotograaf" in text
    assert "Hand in the text" not in text  # nothing left to hand in
    found = links(page.html)

    # The badge's public page is the credential's and shows it verified.
    credential_page = found["Open your badge's page"]
    assert credential_page.startswith("/credentials/")
    token = credential_page.rsplit("/", 1)[-1]
    shown = page.browser.get(credential_page)
    assert shown.status_code == 200
    facts = site.service.learner_badges.credential_facts(site.service.credential_url(token))
    assert facts.learner_public_id == learner
    assert site.service.verify(facts.text).valid

    # The PNG has the credential baked in, and it verifies.
    png = page.browser.get(found["Download the badge image (PNG, with the badge inside)"])
    assert png.status_code == 200 and png.mimetype == "image/png"
    baked = extract_from_png(png.data)
    assert baked.payload == facts.text
    assert site.service.verify(baked.payload).valid

    # LinkedIn gets the badge's name and its page.
    linkedin = urlsplit(found["Add to LinkedIn"])
    query = parse_qs(linkedin.query)
    assert linkedin.netloc == "www.linkedin.com"
    assert query["name"] == ["Stadsfotograaf"] and query["certUrl"] == [facts.credential_id]
    assert found["All your badges"] == "/me/badges"


def test_link_and_file_evidence_are_kept_as_handed_in(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    page = launch(site, user=me, custom={"activity": world.activity})
    page.hand_in(world.activity, "link", "https://video.example.nl/wijk")
    assert "https://video.example.nl/wijk" in page.text
    page.hand_in(world.activity, "file", (io.BytesIO(PNG), "wijk.png", "application/pdf"))
    assert "File: wijk.png" in page.text
    kinds = {
        (e.kind, e.url, e.file_name, e.file_type)
        for e in evidence_of(site.service, learner_of(site, me.sub))
    }
    assert kinds == {
        ("link", "https://video.example.nl/wijk", None, None),
        ("file", None, "wijk.png", "image/png"),  # sniffed, not declared
    }


def test_a_rejection_shows_the_reviewers_comment_and_the_forms_again(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    page = launch(site, user=me, custom={"activity": world.activity})
    page.hand_in(world.activity, "text", "Een foto.")
    [handed] = evidence_of(site.service, learner_of(site, me.sub))
    site.service.evidence.review(
        handed.public_id, approve=False, reviewer=ORGANISER, comment="Twaalf foto's graag."
    )
    text = page.reload()
    assert "Not approved" in text and "Reviewer's comment: Twaalf foto's graag." in text
    assert "Hand in the text" in text
    assert ORGANISER not in text  # the reviewer's account stays private


def test_a_double_submit_hands_in_once(stored_site: LtiSite, stored_world: World) -> None:
    site, world = stored_site, stored_world
    page = launch(site, custom={"activity": world.activity})
    form = page.form("/student/evidence", activity=world.activity, kind="text")
    data = {**form["fields"], "text": "Dubbel geklikt."}
    first = page.browser.post(form["action"], data=data)
    second = page.browser.post(form["action"], data=data)
    assert first.status_code == second.status_code == 303
    assert len(evidence_of(site.service, learner_of(site))) == 1
    again = page.browser.get(tool_path(second.headers["Location"]))
    assert "This evidence was already handed in; it was not sent twice." in page_text(again)
    # The next rendering of the page hands in again (a new piece of evidence).
    page.reload()
    page.hand_in(world.activity, "text", "Nog een.")
    assert len(evidence_of(site.service, learner_of(site))) == 2


def test_the_same_form_sent_four_times_at_once_hands_in_once(
    stored_site: LtiSite, stored_world: World
) -> None:
    site, world = stored_site, stored_world
    page = launch(site, custom={"activity": world.activity})
    form = page.form("/student/evidence", activity=world.activity, kind="text")
    data = {**form["fields"], "text": "Vier keer tegelijk."}
    start = threading.Barrier(4)

    def send(_: int) -> int:
        # Each its own user agent: the form needs no cookie, only what it carries.
        agent = ToolBrowser(site.app.test_client(), site.platform, TOOL_BASE_URL)
        start.wait()
        return int(agent.post(form["action"], data=data).status_code)

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(send, range(4)))
    assert statuses == [303] * 4
    assert [e.text for e in evidence_of(site.service, learner_of(site))] == ["Vier keer tegelijk."]


def test_a_refused_submission_can_be_corrected_and_sent_from_the_same_page(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    page = launch(site, user=me, custom={"activity": world.activity})
    form = page.form("/student/evidence", activity=world.activity, kind="link")
    refused = page.browser.post(form["action"], data={**form["fields"], "url": "ftp://x.nl/a"})
    assert refused.status_code == 400
    assert "Enter a web address starting with http:// or https://." in page_text(refused)
    assert 'value="ftp://x.nl/a"' in refused.get_data(as_text=True)  # kept for correcting
    fixed = page.browser.post(form["action"], data={**form["fields"], "url": "https://x.nl/a"})
    assert fixed.status_code == 303
    assert [e.url for e in evidence_of(site.service, learner_of(site, me.sub))] == [
        "https://x.nl/a"
    ]


# -- refusals -------------------------------------------------------------------------------


def test_an_oversized_file_is_refused_readably_and_nothing_is_stored(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    page = launch(site, user=me, custom={"activity": world.activity})
    too_big = PNG + b"\x00" * (MAX_EVIDENCE_FILE_BYTES + 1 - len(PNG))
    page.hand_in(world.activity, "file", (io.BytesIO(too_big), "groot.png"), follow=False)
    assert page.response.status_code == 413
    assert_readable_refusal(page.response)
    assert "This file is too large. Files of at most 10 MB can be handed in." in page.text
    assert page.response.headers["Content-Security-Policy"].endswith("frame-ancestors *")
    # Over the site's request limit: Werkzeug stops reading; the page still says why.
    way_too_big = b"\x00" * (site.app.config["MAX_CONTENT_LENGTH"] + 10)
    page.hand_in(world.activity, "file", (io.BytesIO(way_too_big), "enorm.png"), follow=False)
    assert page.response.status_code == 413
    assert_readable_refusal(page.response)
    assert "This file is too large." in page.text
    assert "frame-ancestors *" in page.response.headers["Content-Security-Policy"]
    assert evidence_of(site.service, learner_of(site, me.sub)) == []


@pytest.mark.parametrize(
    "name, data",
    [
        ("tekening.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>'),
        ("pagina.html", b"<!doctype html><script>alert(1)</script>"),
        ("programma.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"),
    ],
)
def test_a_forbidden_file_type_is_refused_readably_and_nothing_is_stored(
    site: LtiSite, world: World, me: PlatformUser, name: str, data: bytes
) -> None:
    page = launch(site, user=me, custom={"activity": world.activity})
    page.hand_in(world.activity, "file", (io.BytesIO(data), name, "image/png"), follow=False)
    assert page.response.status_code == 415
    assert_readable_refusal(page.response)
    assert "This type of file cannot be handed in." in page.text
    assert evidence_of(site.service, learner_of(site, me.sub)) == []


@pytest.mark.parametrize("token", [None, "", "0" * 64], ids=["missing", "empty", "wrong"])
def test_a_form_without_the_launchs_token_is_refused_with_400(
    site: LtiSite, world: World, me: PlatformUser, token: str | None
) -> None:
    page = launch(site, user=me, custom={"activity": world.activity})
    form = page.form("/student/evidence", activity=world.activity, kind="text")
    data = {**form["fields"], "text": "Zonder token."}
    if token is None:
        del data[FORM_TOKEN_FIELD]
    else:
        data[FORM_TOKEN_FIELD] = token
    response = page.browser.post(form["action"], data=data)
    assert response.status_code == 400
    assert_readable_refusal(response)
    assert evidence_of(site.service, learner_of(site, me.sub)) == []


def test_a_form_of_another_launch_is_refused(site: LtiSite, world: World, me: PlatformUser) -> None:
    first = launch(site, user=me, custom={"activity": world.activity})
    second = launch(site, user=me, custom={"activity": world.activity})
    theirs = first.form("/student/evidence", activity=world.activity, kind="text")
    mine = second.form("/student/evidence", activity=world.activity, kind="text")
    data = {**mine["fields"], FORM_TOKEN_FIELD: theirs["fields"][FORM_TOKEN_FIELD], "text": "x"}
    response = second.browser.post(mine["action"], data=data)
    assert response.status_code == 400
    assert evidence_of(site.service, learner_of(site, me.sub)) == []


def test_a_form_without_a_submission_key_is_refused(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    page = launch(site, user=me, custom={"activity": world.activity})
    form = page.form("/student/evidence", activity=world.activity, kind="text")
    data = {**form["fields"], "text": "x"}
    del data[SUBMISSION_FIELD]
    response = page.browser.post(form["action"], data=data)
    assert response.status_code == 400
    assert_readable_refusal(response)


def test_evidence_for_an_activity_outside_the_course_item_is_refused(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    page = launch(site, user=me, custom={"activity": world.activity})
    form = page.form("/student/evidence", activity=world.activity, kind="text")
    response = page.browser.post(
        form["action"], data={**form["fields"], "activity": world.peer_activity, "text": "x"}
    )
    assert response.status_code == 400
    assert "This activity is not part of this course item." in page_text(response)
    assert evidence_of(site.service, learner_of(site, me.sub)) == []


def test_an_expired_launch_gets_a_readable_404(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    page = launch(site, user=me, custom={"activity": world.activity})
    form = page.form("/student/evidence", activity=world.activity, kind="text")
    launch_id = page.session_path.rsplit("/", 1)[-1]
    site.service.lti.launch_cache.delete(f"session:{launch_id}")  # as after its lifetime
    for response in (
        page.browser.get(page.session_path),
        page.browser.post(form["action"], data={**form["fields"], "text": "Te laat."}),
        page.browser.get(f"/lti/session/{launch_id}/student/badges/abc.png"),
    ):
        assert response.status_code == 404
        assert_readable_refusal(response)
        assert "This launch has expired or is unknown." in page_text(response)
    assert evidence_of(site.service, learner_of(site, me.sub)) == []


# -- who is who -------------------------------------------------------------------------------


def test_the_same_person_in_two_courses_and_two_platforms_is_one_learner(
    stored_site: LtiSite, stored_world: World
) -> None:
    site, world = stored_site, stored_world
    in_course_a = launch(site, custom={"activity": world.activity})
    in_course_a.hand_in(world.activity, "text", "Gemaakt in cursus A.")
    in_course_b = launch(
        site,
        custom={"activity": world.activity},
        context=CourseContext(id="course-202", label="CKV-3", title="CKV 3"),
        resource_link_id="resource-link-9",
    )
    assert "Gemaakt in cursus A." in in_course_b.text
    with TestPlatform(client_id="canvas-tool") as canvas:
        other = connect(site.app, site.service, canvas, email_trusted=True)
        # Another platform, another user id; the same (trusted) school email address.
        on_canvas = launch(
            other, user=student("canvas-user-77"), custom={"activity": world.activity}
        )
    assert "Gemaakt in cursus A." in on_canvas.text
    assert learner_of(other, "canvas-user-77") == learner_of(site)
    # A platform not trusted to assert emails does not link by email: someone else there.
    with TestPlatform(client_id="untrusted-tool") as untrusted:
        elsewhere = connect(site.app, site.service, untrusted, email_trusted=False)
        stranger = launch(elsewhere, user=student("x-1"), custom={"activity": world.activity})
    assert "Gemaakt in cursus A." not in stranger.text
    assert learner_of(elsewhere, "x-1") != learner_of(site)


def test_a_student_never_sees_another_students_evidence_or_badge(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    daan = launch(site, user=me, custom={"activity": world.activity})
    daan.hand_in(world.activity, "text", "Daans geheime tekst.")
    [handed] = evidence_of(site.service, learner_of(site, me.sub))
    site.service.evidence.review(handed.public_id, approve=True, reviewer=ORGANISER)
    daan.reload()
    png_path = links(daan.html)["Download the badge image (PNG, with the badge inside)"]
    token = png_path.rsplit("/", 1)[-1]
    lisa = PlatformUser(
        f"lisa-{new_id()}", [Role.LEARNER], name="Lisa de Boer", email="l.deboer@school.example"
    )
    other = launch(site, user=lisa, custom={"activity": world.activity})
    assert "Daans geheime tekst." not in other.text
    assert "You earned" not in other.text and "Hand in the text" in other.text
    launch_id = other.session_path.rsplit("/", 1)[-1]
    stolen = other.browser.get(f"/lti/session/{launch_id}/student/badges/{token}")
    assert stolen.status_code == 404
    assert_readable_refusal(stolen)


LOOKERS = {
    "unknown role": [Role.UNKNOWN],
    "empty roles": [],
    "mentor only": [Role.MENTOR],
    "institution staff only": [Role.INSTITUTION_FACULTY],
}


@pytest.mark.parametrize("case", list(LOOKERS))
def test_unknown_or_empty_roles_see_the_activity_but_no_forms(
    site: LtiSite, world: World, me: PlatformUser, case: str
) -> None:
    looker = PlatformUser(f"looker-{new_id()}", LOOKERS[case], name="Kees", email="k@x.example")
    page = launch(site, user=looker, custom={"activity": world.activity})
    text = page.text
    assert "Fotografeer je wijk" in text and "Stadsfotograaf" in text
    assert "without the role of a student" in text
    assert "Role Student (view only)" in text
    assert "<form" not in page.html
    # A form sent anyway (a student's form, with the looker's launch and its own token).
    student_page = launch(site, user=me, custom={"activity": world.activity})
    form = student_page.form("/student/evidence", activity=world.activity, kind="text")
    launch_id = page.session_path.rsplit("/", 1)[-1]
    with site.app.test_request_context():
        token = form_token(load_session(site.service, launch_id))
    stored_before = evidence_count(site.service)
    response = page.browser.post(
        f"/lti/session/{launch_id}/student/evidence",
        data={**form["fields"], FORM_TOKEN_FIELD: token, "text": "Mag dit?"},
    )
    assert response.status_code == 403
    assert_readable_refusal(response)
    assert evidence_count(site.service) == stored_before


def evidence_count(service: BadgeService) -> int:
    """All evidence stored, whoever handed it in."""
    with service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(EvidenceRecord)) or 0)


def test_a_course_item_without_an_activity_says_so(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    page = launch(site, user=me)
    assert "This course item does not show an activity yet." in page.text
    gone = launch(site, user=me, custom={"activity": "8b1f0c9e-0000-4000-8000-000000000000"})
    assert "The activity of this course item is no longer available." in gone.text


# -- playlists and attendance codes --------------------------------------------------------------


def test_playlist_progress_follows_the_awards(stored_site: LtiSite, stored_world: World) -> None:
    site, world = stored_site, stored_world
    page = launch(site, custom={"playlist": world.playlist})
    text = page.text
    assert "Ontdek Rotterdam" in text and "Complete all 2 steps, in any order." in text
    assert "0 of the 2 steps needed are done." in text
    assert text.count("Not done yet") == 2

    # The first step is an activity: evidence for it is handed in from the playlist's page.
    page.hand_in(world.activity, "text", "Foto's voor de playlist.")
    assert "Waiting for review" in page.text
    [handed] = evidence_of(site.service, learner_of(site))
    site.service.evidence.review(handed.public_id, approve=True, reviewer=ORGANISER)
    text = page.reload()
    assert "1 of the 2 steps needed are done." in text
    assert "You have done 1 step of this playlist; 1 more to go." in text

    # The second step is a badge awarded elsewhere; the playlist's badge follows (worker).
    site.service.awarding.award(
        AwardRequest(
            learner_public_id=learner_of(site),
            achievement_public_id=world.walk,
            source_kind="organiser",
            source_event_id="walk-1",
            approved_by=ORGANISER,
        )
    )
    text = page.reload()
    assert "2 of the 2 steps needed are done." in text
    assert "Your badge is being issued" in text
    run_worker(site.service, once=True)
    text = page.reload()
    assert "You earned the badge Rotterdam ontdekker" in text
    png = page.browser.get(
        links(page.html)["Download the badge image (PNG, with the badge inside)"]
    )
    assert site.service.verify(extract_from_png(png.data).payload).valid


def _attendance_activity(site: LtiSite, world: World) -> str:
    return site.service.catalogue.create_activity(
        world.issuer,
        title="Fotowandeling Kop van Zuid",
        description="Samen fotograferen.",
        achievement_public_id=world.yearly,
        city="Rotterdam",
        completion_mode="attendance_code",
        attendance_code=ATTENDANCE_CODE,
    ).public_id


def test_the_right_attendance_code_earns_the_badge_once(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    activity = _attendance_activity(site, world)
    page = launch(site, user=me, custom={"activity": activity})
    assert "Attendance code" in page.text
    page.send("/student/attendance", {"code": "WRONG-123"}, follow=False, activity=activity)
    assert page.response.status_code == 400
    assert "This is not the attendance code of this activity." in page.text
    assert 'value="WRONG-123"' in page.html
    form = page.form("/student/attendance", activity=activity)
    page.send("/student/attendance", {"code": "foto 2026"}, activity=activity)
    assert "The attendance code is right: the badge is yours." in page.text
    assert "You earned the badge Zomerschool" in page.text
    # Sent again (another tab): still one badge, even for an achievement allowing repeats.
    again = page.browser.post(form["action"], data={**form["fields"], "code": ATTENDANCE_CODE})
    assert again.status_code == 303
    fresh = launch(site, user=me, custom={"activity": activity})
    assert "Attendance code" not in fresh.text
    badges = site.service.learner_badges.credentials_of(learner_of(site, me.sub))
    assert [b.achievement_public_id for b in badges] == [world.yearly]


def test_guessing_attendance_codes_is_stopped(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    activity = _attendance_activity(site, world)
    page = launch(site, user=me, custom={"activity": activity})
    form = page.form("/student/attendance", activity=activity)
    for attempt in range(MAX_ATTENDANCE_TRIES):
        response = page.browser.post(form["action"], data={**form["fields"], "code": f"X{attempt}"})
        assert response.status_code == 400
    response = page.browser.post(form["action"], data={**form["fields"], "code": ATTENDANCE_CODE})
    assert response.status_code == 429
    assert "Too many wrong codes." in page_text(response)
    assert site.service.learner_badges.credentials_of(learner_of(site, me.sub)) == []


# -- the page in the frame ----------------------------------------------------------------------


def test_links_leave_the_frame_and_forms_stay_in_it(
    site: LtiSite, world: World, me: PlatformUser
) -> None:
    page = launch(site, user=me, custom={"activity": world.activity})
    html = page.html
    assert '<base target="_blank">' in html
    for tag in re.findall(r"<a\b[^>]*>", html):
        if 'href="#' in tag:
            continue
        assert "noopener" in tag, tag
    forms = re.findall(r"<form\b[^>]*>", html)
    assert forms and all('target="_self"' in f for f in forms)
    assert re.findall(r"<h1\b", html) == ["<h1"]
    assert '<html lang="en">' in html
    dutch = launch(site, user=me, custom={"activity": world.activity}, language="nl")
    assert '<html lang="nl">' in dutch.html
    assert "Lever bewijs in" in dutch.text
    assert "PDF, PNG, JPEG, WebP, MP4, platte tekst; hoogstens 10 MB." in dutch.text
    assert "Je hebt de badge Stadsfotograaf nog niet behaald." in dutch.text
    assert "Hoe je deze badge verdient" in dutch.text
