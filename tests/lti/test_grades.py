"""Grades back to the LMS through the whole tool: a student launches from the test platform over
real HTTP, earns the badge (evidence approved later by an organiser on the admin pages, or
already held), and the platform's gradebook receives the score once, from the in-process
worker, from `badgebridge worker --rq`, and from a worker killed mid-delivery and replaced."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from core import workers
from core.awarding import AwardRequest
from core.cli import main
from core.lti_registry import ResourceLinkView
from core.service import BadgeService
from tests import lti_grade_block_handlers
from tests.badge_world import World, make_world
from tests.conftest import REPO
from tests.lti.conftest import (
    LAUNCH_URL,
    LOGIN_URL,
    TOOL_BASE_URL,
    LtiSite,
    lti_settings,
    make_tool_app,
    register,
    tool_jwks_of,
)
from tests.lti_platform import Launch, PlatformUser, TestPlatform, iter_scores, student
from tests.test_workers import worker_env as workers_env

REDIS_URL = os.environ.get("BADGEBRIDGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
ORGANISER = "chris@rotterdam.example"
PASSWORD = "vier losse woorden hier"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def school(tmp_path: Path, platform: TestPlatform) -> Iterator[tuple[LtiSite, World]]:
    """The tool registered with the platform (trusted to assert email addresses, so launched
    students can receive badges), with a catalogue and an organiser of its issuer."""
    app, service = make_tool_app(lti_settings(tmp_path))
    registration = register(service, platform, email_trusted=True)
    platform.set_tool(launch_url=LAUNCH_URL, login_url=LOGIN_URL, jwks=tool_jwks_of(app))
    world = make_world(service)
    service.accounts.create_user(ORGANISER, "Chris Bakker", PASSWORD, "organiser", world.issuer)
    yield LtiSite(app, service, platform, registration), world
    service.engine.dispose()


def pupil(sub: str) -> PlatformUser:
    return replace(student(sub), email=f"{sub}@school.example", name=sub.title())


def launch(site: LtiSite, user: PlatformUser, activity: str) -> tuple[str, ResourceLinkView]:
    """The student opens the course item; returns their learner and the course item."""
    outcome = site.browser().launch(Launch(user, custom={"activity": activity}))
    assert outcome.response.status_code == 303, outcome.response.get_data(as_text=True)[:500]
    assert outcome.page is not None and outcome.page.status_code == 200
    learner = site.service.learners.find(
        lms_platform=site.registration.learner_platform, lms_user_id=user.sub
    )
    assert learner is not None
    deployment = site.service.lti.find_deployment(
        site.platform.issuer, site.platform.client_id, site.platform.deployment_ids[0]
    )
    assert deployment is not None
    link = site.service.lti.get_resource_link(deployment, "resource-link-1")
    assert link is not None
    return learner.public_id, link


def organiser_browser(site: LtiSite) -> FlaskClient:
    """An organiser logged in to the admin pages (over https, as the tool is served)."""
    client = site.app.test_client()
    client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_HOST": "badges.test"})
    page = client.get("/login", base_url=TOOL_BASE_URL).get_data(as_text=True)
    token = _CSRF.search(page)
    assert token, page[:300]
    response = client.post(
        "/login",
        base_url=TOOL_BASE_URL,
        data={"csrf_token": token.group(1), "email": ORGANISER, "password": PASSWORD},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def approve_on_the_admin_pages(site: LtiSite, world: World, evidence: str) -> None:
    client = organiser_browser(site)
    path = f"/admin/issuers/{world.issuer}/review/{evidence}"
    page = client.get(path, base_url=TOOL_BASE_URL)
    assert page.status_code == 200
    token = _CSRF.search(page.get_data(as_text=True))
    assert token
    response = client.post(
        path,
        base_url=TOOL_BASE_URL,
        data={"csrf_token": token.group(1), "decision": "approve", "comment": ""},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:800]


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def assert_full_marks(scores: list[dict[str, Any]], user: PlatformUser) -> None:
    [score] = scores
    assert score["userId"] == user.sub
    assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
    assert score["scoreGiven"] == score["scoreMaximum"] == 100  # the column's maximum


def test_evidence_approved_later_by_the_organiser_lands_in_the_gradebook(
    school: tuple[LtiSite, World],
) -> None:
    site, world = school
    kim = pupil("kim")
    learner, link = launch(site, kim, world.activity)
    evidence = site.service.evidence.submit(learner, world.activity, text="Twaalf foto's")
    assert workers.run_worker(site.service, once=True) == 0  # nothing earned yet
    assert list(iter_scores(site.platform, kim.sub)) == []

    # Later (the launch long over) an organiser approves on the admin pages.
    approve_on_the_admin_pages(site, world, evidence.public_id)
    workers.run_worker(site.service, once=True)

    assert_full_marks(list(iter_scores(site.platform, kim.sub)), kim)
    status = site.service.lti_grades.status_of(link)[learner]
    assert (status.state, status.score_given, status.attempts) == ("sent", 100, 1)
    # The tool asked for a token with the score scope, with its signed assertion.
    assert any("lti-ags/scope/score" in r.get("scope", "") for r in site.platform.token_requests)
    workers.run_worker(site.service, once=True)
    assert len(list(iter_scores(site.platform, kim.sub))) == 1


def test_a_student_holding_the_badge_gets_the_score_when_launching(
    school: tuple[LtiSite, World],
) -> None:
    site, world = school
    sam = pupil("sam")
    learner = site.service.learners.find_or_create(
        email=sam.email, email_verified=True, display_name="Sam"
    ).public_id
    site.service.awarding.award(AwardRequest(learner, world.photo, "csv", "job-1:row-1"))
    workers.run_worker(site.service, once=True)
    assert site.platform.scores == []  # no course item launched yet

    _, link = launch(site, sam, world.activity)  # the platform asserts Sam's email
    workers.run_worker(site.service, once=True)
    assert_full_marks(list(iter_scores(site.platform, sam.sub)), sam)
    assert site.service.lti_grades.status_of(link)[learner].state == "sent"


def test_the_in_process_worker_sends_grades(
    school: tuple[LtiSite, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the web app runs in the embedded set-up (`start_outbox_delivery`, no Redis)."""
    monkeypatch.delenv(workers.REDIS_URL_ENV, raising=False)
    site, world = school
    ada = pupil("ada")
    learner, _ = launch(site, ada, world.activity)
    delivery = workers.start_outbox_delivery(site.service)
    try:
        assert isinstance(delivery, workers.InProcessWorker)
        site.service.awarding.award(AwardRequest(learner, world.photo, "teacher", "t-1"))
        assert wait_for(lambda: site.platform.scores != [])
    finally:
        delivery.stop()
    assert_full_marks(list(iter_scores(site.platform, ada.sub)), ada)


def worker_env(service: BadgeService, **extra: str) -> dict[str, str]:
    """The environment of a `badgebridge worker` on ``service``'s database, allowed to reach the
    platform on 127.0.0.1."""
    return workers_env(service, BADGEBRIDGE_FETCH_ALLOW_PRIVATE="1", **extra)


def test_badgebridge_worker_rq_sends_grades(
    school: tuple[LtiSite, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scale-out worker has the handler too, without any --handlers option."""
    site, world = school
    noor = pupil("noor")
    learner, _ = launch(site, noor, world.activity)
    for name, value in worker_env(site.service).items():
        if name.startswith(("BADGEBRIDGE_", "DATABASE_URL")):
            monkeypatch.setenv(name, value)
    queue = f"badgebridge-test-{uuid.uuid4().hex[:10]}"
    announcer = workers.announce_via_rq(site.service, REDIS_URL, queue)
    try:
        site.service.awarding.award(AwardRequest(learner, world.photo, "teacher", "t-1"))
        argv = ["worker", "--rq", "--once", "--redis-url", REDIS_URL, "--queue", queue]
        assert main(argv) == 0
    finally:
        announcer.stop()
        announcer.queue.delete(delete_jobs=True)
        workers.set_job_service(None)
    assert_full_marks(list(iter_scores(site.platform, noor.sub)), noor)


def start_worker(service: BadgeService, **extra: str) -> subprocess.Popen[bytes]:
    """`badgebridge worker --once` in a subprocess, whose grade handler hangs after sending
    when ``extra`` sets the block variable."""
    command = "worker --once --lease-seconds 2 --handlers tests.lti_grade_block_handlers"
    return subprocess.Popen(
        [sys.executable, "-m", "core.cli", *command.split()],
        cwd=REPO,
        env=worker_env(service, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_worker_killed_mid_delivery_does_not_score_twice(school: tuple[LtiSite, World]) -> None:
    site, world = school
    eva = pupil("eva")
    learner, link = launch(site, eva, world.activity)
    site.service.awarding.award(AwardRequest(learner, world.photo, "teacher", "t-1"))
    [job] = site.service.outbox.jobs(kind="lms_grade")

    # Worker A sends the score, then hangs before marking the job done; we kill it there.
    first = start_worker(site.service, **{lti_grade_block_handlers.BLOCK_ENV: "1"})
    try:
        assert wait_for(lambda: site.platform.scores != []), (
            first.stderr.read().decode() if first.stderr else ""
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    held = site.service.outbox.get(job.dedupe_key)
    assert (held.state, held.attempts) == ("pending", 1)
    assert held.locked_until is not None

    # Worker B takes the job over once A's lease expires: done, and not sent again.
    time.sleep(max(0.0, (held.locked_until - datetime.now(UTC)).total_seconds()) + 0.2)
    second = start_worker(site.service)
    _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err.decode()
    done = site.service.outbox.get(job.dedupe_key)
    assert (done.state, done.attempts) == ("done", 2)
    assert done.locked_by is not None and f":{second.pid}:" in done.locked_by
    assert_full_marks(list(iter_scores(site.platform, eva.sub)), eva)
    assert site.service.lti_grades.status_of(link)[learner].state == "sent"
