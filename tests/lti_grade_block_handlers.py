"""A worker's ``lms_grade`` handler that sends the grade as usual and then (when
BADGEBRIDGE_TEST_GRADE_BLOCK is set) hangs before the outbox marks the job done, so a test can
kill the worker mid-delivery.

Loaded with ``badgebridge worker --handlers tests.lti_grade_block_handlers``.
"""

from __future__ import annotations

import os
import threading

from core.config import Settings
from core.lti_grades import LMS_GRADE_KIND
from core.outbox import Outbox, OutboxJob
from core.service import BadgeService

BLOCK_ENV = "BADGEBRIDGE_TEST_GRADE_BLOCK"


def register_outbox_handlers(outbox: Outbox) -> None:
    """Replace this worker's ``lms_grade`` handler by the real one followed by a hang."""
    grades = BadgeService(Settings.from_env()).lti_grades  # the worker's database

    def deliver_then_hang(job: OutboxJob) -> None:
        grades.deliver(job)
        if os.environ.get(BLOCK_ENV):
            threading.Event().wait()  # sent, never marked done: the test kills us here

    outbox.register(LMS_GRADE_KIND, deliver_then_hang, replace=True)
