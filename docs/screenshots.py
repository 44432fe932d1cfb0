"""Regenerates the screenshots of docs/admin-guide-lti.md (``docs/images/*.png``).

    .venv/bin/python docs/screenshots.py

They show badgebridge's side only (real Moodle and Canvas cannot run here): the app is served
on 127.0.0.1 with the demo catalogue, the test LMS of ``tests/lti_platform.py`` registers it
through LTI Dynamic Registration and launches a course item, and Debian's Chromium (through
Playwright) takes the pictures in English.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from werkzeug.serving import make_server  # noqa: E402

from core.demo import seed_demo  # noqa: E402
from core.service import BadgeService  # noqa: E402
from lti_tool.app import create_app  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.lti_platform import (  # noqa: E402
    CLAIM_LAUNCH_PRESENTATION,
    CourseContext,
    Launch,
    PlatformUser,
    Role,
    TestPlatform,
    instructor,
    student,
)

IMAGES = REPO / "docs" / "images"
CHROMIUM = os.environ.get("BADGEBRIDGE_CHROMIUM", "/usr/bin/chromium")
ADMIN_EMAIL = "beheer@school.example"
ADMIN_PASSWORD = "screenshots for the admin guide"  # noqa: S105 (a throwaway demo account)
VIEWPORT = {"width": 1100, "height": 760}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shoot(page: Any, name: str, *, full_page: bool = True) -> None:
    path = IMAGES / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"{path.relative_to(REPO)}  {path.stat().st_size // 1024} kB")


def in_english(claims: dict[str, Any]) -> None:
    claims[CLAIM_LAUNCH_PRESENTATION]["locale"] = "en-GB"


def main() -> None:
    import logging

    from playwright.sync_api import sync_playwright

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request log

    IMAGES.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        settings = replace(
            make_settings(Path(tmp)),
            base_url=f"http://127.0.0.1:{port}",
            allow_private_fetch=True,  # the test LMS listens on 127.0.0.1
        )
        service = BadgeService(settings)
        service.upgrade()
        seed_demo(service, only_if_empty=False)
        service.accounts.create_user(ADMIN_EMAIL, "Sanne Beheer", ADMIN_PASSWORD, "admin")
        app = create_app(settings, service)
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        tool = f"http://127.0.0.1:{port}"
        activity = service.catalogue.search_activities(limit=1)[0]
        try:
            with TestPlatform(product_family_code="moodle") as lms, sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"]
                )
                context = browser.new_context(locale="en-GB", viewport=VIEWPORT)
                page = context.new_page()

                # Dynamic registration, as Moodle opens our registration URL.
                token = lms.new_registration_token()
                page.goto(f"{tool}/lti/register?{urlencode(lms.dynamic_registration_query(token))}")
                page.get_by_role("heading", level=1).wait_for()
                shoot(page, "dynamic-registration-done")
                registered = service.lti.find_platform(lms.issuer, lms.client_id)
                assert registered is not None, "the dynamic registration did not register"
                # What an administrator does next: give it a recognisable name.
                service.lti.update_platform(registered.public_id, name="Moodle (test LMS)")

                # The administrator's pages.
                page.goto(f"{tool}/language/en?next=/login")
                page.get_by_label("Email address").fill(ADMIN_EMAIL)
                page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(f"{tool}/admin/")
                page.goto(f"{tool}/admin/lti/")
                shoot(page, "admin-lti-platforms")
                page.goto(f"{tool}/admin/lti/new")
                shoot(page, "admin-lti-register-by-hand")

                # What a Canvas administrator pastes into a developer key.
                page.goto(f"{tool}/lti/config.json")
                shoot(page, "canvas-developer-key-json", full_page=False)

                # A student and a teacher open a course item that shows the activity; the LMS's
                # class list (NRPS) has three students.
                lms.members["course-101"] = [
                    instructor(),
                    student(),
                    PlatformUser(
                        "student-2",
                        [Role.LEARNER],
                        name="Noor el Amrani",
                        email="noor@school.example",
                    ),
                    PlatformUser(
                        "student-3",
                        [Role.LEARNER],
                        name="Finn de Vries",
                        email="finn@school.example",
                    ),
                ]
                for who, person in (("student", student()), ("teacher", instructor())):
                    launch = Launch(
                        person,
                        context=CourseContext(title="Burgerschap 2A"),
                        custom={"activity": activity.public_id},
                        edit_claims=in_english,
                    )
                    visit = context.new_page()
                    visit.goto(f"{tool}/lti/login?{urlencode(lms.initiation(launch))}")
                    visit.wait_for_url(f"{tool}/lti/session/**")
                    visit.get_by_role("heading", level=1).wait_for()
                    if who == "teacher":  # its top: the activity and the class
                        visit.set_viewport_size({"width": 1100, "height": 1050})
                    shoot(visit, f"launched-{who}", full_page=who == "student")
                    visit.close()
                browser.close()
        finally:
            server.shutdown()
            service.engine.dispose()


if __name__ == "__main__":
    main()
