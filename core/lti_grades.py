"""Grades back to the LMS (LTI Assignment and Grade Services): who launched which course item,
and the score each learner's gradebook column gets when they earn the item's badge.

Contract used by the teacher pages: :meth:`LtiGrades.status_of` (the grade state of every
learner of a course item) and :meth:`LtiGrades.resend`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from core.lti_registry import ResourceLinkView
    from core.service import BadgeService

#: ``pending``: queued, not tried yet; ``retrying``: the LMS could not be reached or answered
#: 5xx, another attempt is scheduled; ``sent``: the LMS accepted the score; ``failed``: the LMS
#: refused it (4xx, its message in ``last_error``) or every attempt failed.
GradeState = Literal["pending", "sent", "failed", "retrying"]


@dataclass(frozen=True)
class GradeStatus:
    """The grade of one learner on one course item's gradebook column."""

    state: GradeState
    score_given: float | None
    score_maximum: float | None
    #: the timestamp of the last score sent (or being sent) to the LMS
    timestamp: datetime | None
    #: delivery attempts of the current score
    attempts: int
    last_error: str | None
    updated_at: datetime


class LtiGrades:
    """Placements (learner ↔ course item ↔ LTI user id ↔ line item) and scores to the LMS."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    def status_of(self, resource_link: ResourceLinkView) -> dict[str, GradeStatus]:
        """The grade state of every learner of ``resource_link`` that has one, keyed by the
        learner's public id (learners who launched but earned nothing yet are absent)."""
        raise NotImplementedError  # filled in by the next commit

    def resend(self, resource_link: ResourceLinkView, learner_public_id: str | None = None) -> int:
        """Queue the score again for every learner of ``resource_link`` who holds its badge
        (only ``learner_public_id`` when given), with a newer timestamp; returns how many jobs
        were queued."""
        raise NotImplementedError  # filled in by the next commit


__all__ = ["GradeState", "GradeStatus", "LtiGrades"]
