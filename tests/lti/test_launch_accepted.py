"""Valid launches the tool must accept: the auth request it sends is what the platform expects,
and teachers, students and everyone else land on a page fit for their role."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.lti.conftest import LAUNCH_URL, TOOL_BASE_URL, LtiSite, page_text
from tests.lti_platform import (
    CLAIM_AGS,
    CLAIM_NRPS,
    CLIENT_ASSERTION_TYPE,
    DEEP_LINKING_REQUEST,
    CourseContext,
    Launch,
    LaunchOutcome,
    PlatformUser,
    Role,
    instructor,
    student,
)


def assert_launched(outcome: LaunchOutcome) -> str:
    """The tool answered the form post with a redirect to its session page, which shows; returns
    the page's text."""
    response = outcome.response
    assert response.status_code == 303, (
        f"{response.status_code}: {response.get_data(as_text=True)[:800]}"
    )
    assert outcome.session_path, response.headers.get("Location")
    assert outcome.page is not None
    assert outcome.page.status_code == 200, outcome.page.get_data(as_text=True)[:800]
    assert outcome.page.mimetype == "text/html"
    return page_text(outcome.page)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_login_initiation_sends_the_auth_request_the_platform_expects(
    site: LtiSite, method: str
) -> None:
    browser = site.browser()
    launch = Launch(student())
    initiation_hints = site.platform.initiation(launch)  # what the platform will send
    outcome = browser.launch(launch, method=method)
    assert_launched(outcome)
    request = outcome.auth_request
    assert request["scope"] == "openid"
    assert request["response_type"] == "id_token"
    assert request["response_mode"] == "form_post"
    assert request["prompt"] == "none"
    assert request["client_id"] == site.platform.client_id
    assert request["redirect_uri"] == LAUNCH_URL
    assert request["login_hint"] == initiation_hints["login_hint"]
    assert request["lti_message_hint"].startswith("msg-")
    assert len(request["state"]) >= 16 and len(request["nonce"]) >= 16
    assert site.platform.auth_request_problems(request) == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_with_the_cookie_check_on_the_login_goes_through_the_check_page(
    site: LtiSite, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BADGEBRIDGE_LTI_COOKIE_CHECK", "1")
    browser = site.browser()
    outcome = browser.launch(Launch(student()), method=method)
    assert_launched(outcome)
    check_page = browser.last_login_response.request
    assert check_page.args.get("lti1p3_new_window") == "1"  # the check page's continue link


def test_the_login_cookie_survives_inside_the_lms_iframe(site: LtiSite) -> None:
    """The state cookie is set for a cross-site iframe: Secure, SameSite=None, Partitioned."""
    browser = site.browser()
    browser.initiate_login(Launch(student()))
    cookies = browser.last_login_response.headers.getlist("Set-Cookie")
    assert cookies, "login initiation set no cookie"
    for cookie in cookies:
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "samesite", "partitioned", "httponly"} <= attributes, cookie
        assert "samesite=none" in cookie.lower().replace(" ", ""), cookie


def test_a_deep_linking_request_opens_the_teachers_picker(site: LtiSite) -> None:
    launch = Launch(instructor(), message_type=DEEP_LINKING_REQUEST)
    text = assert_launched(site.browser().launch(launch))
    assert "Add a Cities of Learning activity" in text
    assert_view(site, text, "teacher")


def test_every_login_gets_its_own_state_and_nonce(site: LtiSite) -> None:
    browser = site.browser()
    first = browser.initiate_login(Launch(student()))
    second = browser.initiate_login(Launch(student()))
    assert first["state"] != second["state"]
    assert first["nonce"] != second["nonce"]


def user(roles: list[str], *, personal: bool = True) -> PlatformUser:
    person = PlatformUser(
        "user-" + "-".join(r.rsplit("#", 1)[-1] for r in roles).lower()[:40] or "user-none",
        roles,
        name="Sanne de Wit",
        given_name="Sanne",
        family_name="de Wit",
        email="s.dewit@school.example",
    )
    return person if personal else person.without_personal_data()


ROLE_CASES: dict[str, tuple[PlatformUser, str]] = {
    "instructor": (instructor(), "teacher"),
    "student": (student(), "student"),
    "content developer": (user([Role.CONTENT_DEVELOPER]), "teacher"),
    "course administrator": (user([Role.ADMINISTRATOR]), "teacher"),
    "multiple roles, one of them instructor": (
        user([Role.LEARNER, Role.INSTRUCTOR, Role.INSTITUTION_FACULTY]),
        "teacher",
    ),
    "multiple learner roles": (
        user([Role.LEARNER, Role.MENTOR, Role.INSTITUTION_STUDENT]),
        "student",
    ),
    "short role Instructor": (user([Role.SHORT_INSTRUCTOR]), "teacher"),
    "short role Learner": (user([Role.SHORT_LEARNER]), "student"),
    "unknown role": (user([Role.UNKNOWN]), "least privilege"),
    "institution role only": (user([Role.INSTITUTION_FACULTY]), "least privilege"),
    "empty roles": (user([]), "least privilege"),
}


@pytest.mark.parametrize("case", list(ROLE_CASES))
def test_launch_by_role(module_site: LtiSite, case: str) -> None:
    person, view = ROLE_CASES[case]
    text = assert_launched(module_site.browser().launch(Launch(person)))
    assert_view(module_site, text, view)


@pytest.mark.parametrize(
    "case", [case for case, (_, view) in ROLE_CASES.items() if view != "teacher"]
)
def test_only_students_become_learners(module_site: LtiSite, case: str) -> None:
    """Least privilege: a launch without a student role (unknown, institution-only, empty)
    only looks, so it leaves no learner record behind; a student's launch makes one."""
    person, view = ROLE_CASES[case]
    assert_launched(module_site.browser().launch(Launch(person)))
    platform = module_site.service.lti.get_platform(module_site.registration.public_id)
    found = module_site.service.learners.find_lms_users(platform.learner_platform, [person.sub])
    assert (person.sub in found) == (view == "student"), found


def assert_view(site: LtiSite, text: str, view: str) -> None:
    """Teachers get the teacher's view; students and everyone else the least privilege: the
    student's view."""
    shown = "Role Teacher" if view == "teacher" else "Role Student"
    assert shown in text, text


@pytest.mark.parametrize("personal", [True, False], ids=["with personal data", "without"])
def test_launch_with_and_without_personal_data(site: LtiSite, personal: bool) -> None:
    person = student("student-private") if personal else student().without_personal_data()
    text = assert_launched(site.browser().launch(Launch(person)))
    assert ("Daan Jansen" in text) == personal


@pytest.mark.parametrize("with_context", [True, False], ids=["in a course", "no course"])
def test_launch_with_and_without_course_context(site: LtiSite, with_context: bool) -> None:
    context = CourseContext() if with_context else None
    launch = Launch(student(), context=context)
    text = assert_launched(site.browser().launch(launch))
    assert ("Burgerschap 2A" in text) == with_context


def test_two_people_in_one_browser_each_get_their_own_session(site: LtiSite) -> None:
    browser = site.browser()
    teacher = browser.launch(Launch(instructor()))
    learner = browser.launch(Launch(student()))
    assert_launched(teacher)
    assert_launched(learner)
    assert teacher.session_path != learner.session_path
    again: Any = browser.get(teacher.session_path)
    assert again.status_code == 200


def test_a_restored_launch_reaches_ags_and_nrps_with_the_tools_client_assertion(
    site: LtiSite,
) -> None:
    """Any worker can take a validated launch from the shared cache and post a score and read
    the class list: the platform checks the tool's signed client assertion against the tool's
    JWKS, and one access token serves both scores (cached per client)."""
    from pylti1p3.grade import Grade

    from lti_tool.lti.hardened import HardenedMessageLaunch, LtiRequest, RegistryToolConfig

    platform = site.platform
    learner = student("student-ags")
    platform.members["course-101"] = [instructor("teacher-ags"), learner, student("student-2")]

    def paged_memberships(claims: dict[str, Any]) -> None:
        claims[CLAIM_NRPS]["context_memberships_url"] += "?limit=2"

    outcome = site.browser().launch(Launch(learner, edit_claims=paged_memberships))
    assert_launched(outcome)
    assert outcome.session_path is not None
    launch_id = outcome.session_path.rsplit("/", 1)[-1]

    with site.app.test_request_context("/lti/session/" + launch_id, base_url=TOOL_BASE_URL):
        launch = HardenedMessageLaunch.restore(
            launch_id, LtiRequest(secure=True), RegistryToolConfig(site.service.lti)
        )
        ags = launch.get_ags()
        for given, second in ((0.5, "00"), (1.0, "01")):
            grade = (
                Grade()
                .set_score_given(given)
                .set_score_maximum(1)
                .set_timestamp(f"2030-01-01T10:00:{second}+00:00")
                .set_activity_progress("Completed")
                .set_grading_progress("FullyGraded")
                .set_user_id(learner.sub)
            )
            ags.put_grade(grade)
        members = launch.get_nrps().get_members()

    assert [s.score["scoreGiven"] for s in platform.scores] == [0.5, 1.0]
    assert outcome.answer.claims is not None
    line_item = outcome.answer.claims[CLAIM_AGS]["lineitem"]
    assert {s.line_item_id for s in platform.scores} == {line_item}
    assert sorted(m["user_id"] for m in members) == ["student-2", "student-ags", "teacher-ags"]
    token_requests = platform.token_requests
    assert {r["client_assertion_type"] for r in token_requests} == {CLIENT_ASSERTION_TYPE}
    score_tokens = [r for r in token_requests if "score" in r["scope"]]
    assert len(score_tokens) == 1, "the second score did not reuse the cached token"


@pytest.mark.parametrize(
    ("iat_offset", "exp_offset"),
    [(30, 90), (-90, -30)],
    ids=["platform clock 30 s ahead", "60 s Moodle token posted 30 s after it expired"],
)
def test_small_clock_differences_are_tolerated(
    module_site: LtiSite, iat_offset: int, exp_offset: int
) -> None:
    def skew(claims: dict[str, Any]) -> None:
        now = int(time.time())
        claims["iat"], claims["exp"] = now + iat_offset, now + exp_offset

    assert_launched(module_site.browser().launch(Launch(student(), edit_claims=skew)))
