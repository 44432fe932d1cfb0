"""The transactional outbox: queued with the change, delivered once per lease, retried with
backoff, given up after N attempts, redelivered after a dead worker's lease expires."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.errors import InvalidInput, NotFound
from core.outbox import MAX_BACKOFF_SECONDS, OutboxJob, backoff_seconds
from core.service import BadgeService
from core.storage import OutboxRecord


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(service: BadgeService) -> Clock:
    fake = Clock()
    service.outbox.clock = fake
    return fake


def enqueue(service: BadgeService, kind: str, key: str, **payload: object) -> bool:
    with service.transaction() as session:
        return service.outbox.enqueue(session, kind, dict(payload), key)


def count_rows(service: BadgeService) -> int:
    with service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxRecord)) or 0)


def test_enqueue_twice_is_a_no_op_and_a_rollback_queues_nothing(service: BadgeService) -> None:
    assert enqueue(service, "notification", "k-1", message="hello") is True
    assert enqueue(service, "notification", "k-1", message="other") is False
    assert service.outbox.get("k-1").payload == {"message": "hello"}

    with pytest.raises(RuntimeError), service.transaction() as session:
        service.outbox.enqueue(session, "notification", {"message": "lost"}, "k-2")
        raise RuntimeError("the change failed")
    with pytest.raises(NotFound):
        service.outbox.get("k-2")
    assert count_rows(service) == 1


def test_bad_jobs_are_refused(service: BadgeService) -> None:
    with service.transaction() as session:
        with pytest.raises(InvalidInput, match="plain JSON"):
            service.outbox.enqueue(session, "notification", {"when": datetime.now(UTC)}, "k")
        with pytest.raises(InvalidInput, match="dedupe key"):
            service.outbox.enqueue(session, "notification", {}, "")
        with pytest.raises(InvalidInput, match="kind"):
            service.outbox.enqueue(session, "", {}, "k")
    assert count_rows(service) == 0


def test_a_job_is_delivered_once_and_marked_done(service: BadgeService, clock: Clock) -> None:
    seen: list[OutboxJob] = []
    service.outbox.register("test_record", seen.append)
    enqueue(service, "test_record", "job-1", n=1)
    assert service.outbox.process_due("w1", 10) == 1
    assert service.outbox.process_due("w1", 10) == 0
    assert [(j.payload, j.attempt, j.dedupe_key) for j in seen] == [({"n": 1}, 1, "job-1")]
    job = service.outbox.get("job-1")
    assert job.state == "done" and job.done_at is not None and job.locked_until is None


def test_failures_back_off_then_fail_with_the_error_kept(
    service: BadgeService, clock: Clock
) -> None:
    calls: list[int] = []

    def flaky(job: OutboxJob) -> None:
        calls.append(job.attempt)
        raise ConnectionError("LMS unreachable")

    service.outbox.register("test_flaky", flaky)
    service.outbox.max_attempts = 3
    enqueue(service, "test_flaky", "flaky-1")

    assert service.outbox.process_due("w1") == 1
    job = service.outbox.get("flaky-1")
    assert (job.state, job.attempts) == ("pending", 1)
    assert job.last_error == "ConnectionError: LMS unreachable"
    wait = (job.next_attempt_at - clock.now).total_seconds()
    assert 1.0 <= wait <= 2.0  # 2^1 s with jitter
    assert service.outbox.process_due("w1") == 0  # not due yet

    clock.advance(2)
    assert service.outbox.process_due("w1") == 1
    job = service.outbox.get("flaky-1")
    assert job.state == "pending" and 2.0 <= (job.next_attempt_at - clock.now).total_seconds() <= 4

    clock.advance(4)
    assert service.outbox.process_due("w1") == 1
    job = service.outbox.get("flaky-1")
    assert (job.state, job.attempts, calls) == ("failed", 3, [1, 2, 3])
    assert "LMS unreachable" in (job.last_error or "")
    clock.advance(10_000)
    assert service.outbox.process_due("w1") == 0  # failed jobs stay failed

    assert service.outbox.retry(["flaky-1"]) == 1
    assert service.outbox.get("flaky-1").state == "pending"


def test_backoff_grows_and_is_capped() -> None:
    assert 0.5 <= backoff_seconds(0) <= 1
    assert 512 <= backoff_seconds(10) <= 1024
    assert MAX_BACKOFF_SECONDS / 2 <= backoff_seconds(40) <= MAX_BACKOFF_SECONDS


def test_a_live_lease_keeps_other_workers_off_and_an_expired_one_redelivers(
    service: BadgeService, clock: Clock
) -> None:
    delivered: list[tuple[str, int]] = []
    service.outbox.register(
        "test_lease", lambda job: delivered.append((job.worker_id, job.attempt))
    )
    service.outbox.lease_seconds = 60
    enqueue(service, "test_lease", "lease-1")

    # Worker A claims the job and dies before running it (as a SIGKILL would leave it).
    claimed = service.outbox._claim("worker-a", 10, None)
    assert [j.dedupe_key for j in claimed] == ["lease-1"]
    job = service.outbox.get("lease-1")
    assert job.locked_by == "worker-a" and job.state == "pending"

    clock.advance(59)
    assert service.outbox.process_due("worker-b") == 0  # A's lease still holds
    clock.advance(2)
    assert service.outbox.process_due("worker-b") == 1  # expired: B redelivers
    assert delivered == [("worker-b", 2)]
    job = service.outbox.get("lease-1")
    assert (job.state, job.attempts, job.locked_by) == ("done", 2, "worker-b")


def test_a_worker_whose_lease_was_taken_over_does_not_mark_the_job(
    service: BadgeService, clock: Clock
) -> None:
    taken_over: list[OutboxJob] = []

    def slow(job: OutboxJob) -> None:
        if job.worker_id == "worker-a":  # A is so slow that its lease runs out meanwhile
            clock.advance(11)
            taken_over.extend(service.outbox._claim("worker-b", 1, None))

    service.outbox.register("test_slow", slow)
    service.outbox.lease_seconds = 10
    enqueue(service, "test_slow", "slow-1")
    assert service.outbox.process_due("worker-a") == 1
    job = service.outbox.get("slow-1")
    assert (job.state, job.locked_by) == ("pending", "worker-b")  # A did not mark it
    service.outbox._run(taken_over[0])
    assert service.outbox.get("slow-1").state == "done"


def test_a_batch_that_outlives_its_lease_leaves_the_rest_for_redelivery(
    service: BadgeService, clock: Clock
) -> None:
    ran: list[str] = []

    def slow(job: OutboxJob) -> None:
        ran.append(job.dedupe_key)
        clock.advance(11)

    service.outbox.register("test_slow", slow)
    service.outbox.lease_seconds = 10
    enqueue(service, "test_slow", "batch-1")
    enqueue(service, "test_slow", "batch-2")
    assert service.outbox.process_due("worker-a", 10) == 1
    assert ran == ["batch-1"]  # batch-2's lease ran out before it started: not run
    assert service.outbox.get("batch-2").state == "pending"
    assert service.outbox.process_due("worker-b", 10) == 1
    assert ran == ["batch-1", "batch-2"]
    assert service.outbox.counts() == {"pending": 0, "done": 2, "failed": 0}


def test_kinds_without_a_handler_wait(service: BadgeService) -> None:
    enqueue(service, "hr_sync", "hr-1", employee=1)
    assert service.outbox.process_due("w1") == 0
    assert service.outbox.get("hr-1").state == "pending"
    assert service.outbox.get("hr-1").attempts == 0


def test_concurrent_workers_deliver_each_job_exactly_once(service: BadgeService) -> None:
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def record(job: OutboxJob) -> None:
        with lock:
            runs[job.dedupe_key] += 1

    service.outbox.register("test_count", record)
    with service.transaction() as session:
        for i in range(40):
            service.outbox.enqueue(session, "test_count", {"i": i}, f"count-{i}")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            barrier.wait()
            while service.outbox.process_due(name, 3):
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(runs) == 40 and set(runs.values()) == {1}
    assert service.outbox.counts() == {"pending": 0, "done": 40, "failed": 0}


def test_commit_listeners_hear_committed_jobs_only(service: BadgeService) -> None:
    heard: list[list[int]] = []
    service.outbox.add_commit_listener(heard.append)
    enqueue(service, "notification", "n-1")
    enqueue(service, "notification", "n-1")  # a duplicate queues nothing, announces nothing
    with pytest.raises(RuntimeError), service.transaction() as session:
        service.outbox.enqueue(session, "notification", {}, "n-2")
        raise RuntimeError
    with service.transaction() as session:
        service.outbox.enqueue(session, "notification", {}, "n-3")
        service.outbox.enqueue(session, "notification", {}, "n-4")
    ids = {v.dedupe_key: v.id for v in service.outbox.jobs()}
    assert heard == [[ids["n-1"]], [ids["n-3"], ids["n-4"]]]


def test_a_failing_listener_does_not_undo_the_commit(service: BadgeService) -> None:
    def broken(ids: list[int]) -> None:
        raise ConnectionError("Redis is down")

    service.outbox.add_commit_listener(broken)
    enqueue(service, "notification", "n-1")
    assert service.outbox.get("n-1").state == "pending"
