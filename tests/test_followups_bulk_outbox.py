"""Bulk CSV awards run as outbox jobs: queued with the organiser's confirmation, awarded by the
worker in batches, and resumed after a process died mid-batch without awarding a row twice
(issue 3 follow-ups)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from core import bulk_award as bulk_module
from core.bulk_award import BULK_AWARD_JOB, BulkAwards
from core.service import BadgeService
from core.storage import BulkAwardJobRecord, CredentialRecord

ROWS = 5


class ProcessDied(BaseException):
    """Stands for the worker process being killed: nothing after it runs in that process."""


def _credentials(service: BadgeService) -> int:
    with service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(CredentialRecord)) or 0)


def _run_worker(service: BadgeService) -> None:
    while service.outbox.process_due("test-worker", 50):
        pass


@pytest.fixture
def job(service: BadgeService) -> str:
    """A checked upload of five good rows, not yet confirmed."""
    service.create_issuer("utrecht", "Utrecht City of Learning")
    badge = service.catalogue.create_achievement(
        "utrecht", name="Vrijwilliger", description="Helped out.", criteria_narrative="Help."
    ).public_id
    lines = ["email;naam;prestatie"] + [
        f"p{n}@example.org;Persoon {n};{badge}" for n in range(ROWS)
    ]
    return (
        BulkAwards(service)
        .create_job(
            "utrecht",
            created_by="anne@utrecht.example",
            file_name="x.csv",
            data="\n".join(lines).encode(),
        )
        .public_id
    )


def test_confirming_queues_an_outbox_job_the_worker_awards(service: BadgeService, job: str) -> None:
    jobs = BulkAwards(service)
    started = jobs.start(job)
    assert started.state == "queued"
    assert [j.state for j in service.outbox.jobs(kind=BULK_AWARD_JOB)] == ["pending"]
    assert _credentials(service) == 0  # the web request awards nothing itself
    _run_worker(service)
    done = jobs.get_job(job)
    assert (done.state, done.done_count, done.failed_count) == ("done", ROWS, 0)
    assert _credentials(service) == ROWS
    jobs.start(job)  # confirming again queues nothing new
    _run_worker(service)
    assert _credentials(service) == ROWS


def test_the_worker_awards_in_batches_each_its_own_job(
    service: BadgeService, job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_module, "BULK_AWARD_BATCH", 2)
    jobs = BulkAwards(service)
    jobs.start(job)
    assert service.outbox.process_due("test-worker", 1) == 1  # one batch
    assert jobs.get_job(job).done_count == 2
    _run_worker(service)
    outbox_jobs = service.outbox.jobs(kind=BULK_AWARD_JOB)
    assert [j.payload["from_index"] for j in outbox_jobs] == [0, 2, 4]
    assert {j.state for j in outbox_jobs} == {"done"}
    assert jobs.get_job(job).state == "done"
    assert _credentials(service) == ROWS


def test_a_job_whose_worker_died_mid_batch_is_resumed_without_awarding_twice(
    service: BadgeService, job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = BulkAwards(service)
    jobs.start(job)
    award = service.awarding.award
    calls = {"n": 0}

    def award_then_die_on_the_third(request: Any) -> Any:
        result = award(request)
        calls["n"] += 1
        if calls["n"] == 3:  # the third row is awarded, its progress never written
            raise ProcessDied
        return result

    monkeypatch.setattr(service.awarding, "award", award_then_die_on_the_third)
    with pytest.raises(ProcessDied):
        service.outbox.process_due("doomed-worker", 1)
    monkeypatch.setattr(service.awarding, "award", award)
    assert jobs.get_job(job).done_count == 2
    assert _credentials(service) == 3
    _run_worker(service)  # the job's outbox lease has not run out: nobody takes it yet
    assert jobs.get_job(job).state == "running"

    # Time passes: the dead worker's leases (the outbox job's and the bulk job's) run out.
    later = service.outbox.clock() + timedelta(minutes=6)
    monkeypatch.setattr(service.outbox, "clock", lambda: later)
    lapsed = jobs.get_job(job).lease_until
    assert lapsed is not None
    with service.transaction() as session:
        session.execute(
            update(BulkAwardJobRecord)
            .where(BulkAwardJobRecord.public_id == job)
            .values(lease_until=lapsed - timedelta(minutes=6))
        )
    _run_worker(service)
    resumed = jobs.get_job(job)
    assert (resumed.state, resumed.done_count, resumed.failed_count) == ("done", ROWS, 0)
    assert _credentials(service) == ROWS  # the third row was not awarded twice
