"""Workers: the in-process thread, `badgebridge worker`, a worker killed mid-delivery (a real
subprocess, SIGKILL) whose job is redelivered exactly once, and an RQ round trip on Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core import workers
from core.cli import main
from core.outbox import OutboxJob
from core.service import BadgeService
from tests import outbox_sink_handlers
from tests.conftest import REPO

REDIS_URL = os.environ.get("BADGEBRIDGE_TEST_REDIS", "redis://127.0.0.1:6379/0")


class Sink:
    """A receiver on 127.0.0.1 that logs every delivery and applies each idempotency key once."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, dict[str, object]]] = []
        self.applied: dict[str, int] = {}
        self.received = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                key = self.headers.get("Idempotency-Key", "")
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sink.deliveries.append((key, body))
                sink.applied.setdefault(key, len(sink.applied) + 1)
                self.send_response(204)
                self.end_headers()
                sink.received.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/deliveries"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    receiver = Sink()
    yield receiver
    receiver.close()


def worker_env(service: BadgeService, **extra: str) -> dict[str, str]:
    settings = service.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGEBRIDGE_")}
    env.update(
        DATABASE_URL=settings.database_url,
        BADGEBRIDGE_DATA_DIR=str(settings.data_dir),
        BADGEBRIDGE_BASE_URL=settings.base_url,
        BADGEBRIDGE_KEY_ENCRYPTION_KEY=settings.key_encryption_key or "",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


def start_worker(service: BadgeService, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core.cli",
            "worker",
            "--once",
            "--lease-seconds",
            "2",
            "--handlers",
            "tests.outbox_sink_handlers",
        ],
        cwd=REPO,
        env=worker_env(service, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_worker_killed_mid_delivery_is_redelivered_exactly_once(
    service: BadgeService, sink: Sink
) -> None:
    with service.transaction() as session:
        service.outbox.enqueue(
            session, outbox_sink_handlers.KIND, {"url": sink.url, "grade": 0.9}, "grade:award:1"
        )

    # Worker A delivers, then hangs before marking the job done; we kill it there.
    first = start_worker(service, **{outbox_sink_handlers.BLOCK_ENV: "1"})
    try:
        assert sink.received.wait(30), first.stderr.read().decode() if first.stderr else ""
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    held = service.outbox.get("grade:award:1")
    assert (held.state, held.attempts) == ("pending", 1)
    assert held.locked_by is not None and f":{first.pid}:" in held.locked_by
    assert held.locked_until is not None

    # Nothing is lost: once A's lease expires, worker B redelivers and finishes the job.
    time.sleep(max(0.0, (held.locked_until - datetime.now(UTC)).total_seconds()) + 0.2)
    second = start_worker(service)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err.decode()
    assert "Delivered 1 outbox job(s)." in out.decode()

    done = service.outbox.get("grade:award:1")
    assert (done.state, done.attempts) == ("done", 2)
    assert done.locked_by is not None and f":{second.pid}:" in done.locked_by
    # Delivered twice with one idempotency key: the receiver applied it once.
    assert [key for key, _ in sink.deliveries] == ["grade:award:1", "grade:award:1"]
    assert [body["attempt"] for _, body in sink.deliveries] == [1, 2]
    assert sink.applied == {"grade:award:1": 1}
    # Nothing is done twice more: another pass finds nothing to deliver.
    outbox_sink_handlers.register_outbox_handlers(service.outbox)
    assert service.outbox.process_due("after", 10) == 0
    assert len(sink.deliveries) == 2


def test_the_in_process_worker_wakes_on_commit(service: BadgeService) -> None:
    delivered = threading.Event()
    seen: list[str] = []

    def handler(job: OutboxJob) -> None:
        seen.append(job.dedupe_key)
        delivered.set()

    service.outbox.register("test_wake", handler)
    worker = workers.start_in_process_worker(service, poll_seconds=3600)
    try:
        assert worker.running
        with service.transaction() as session:
            service.outbox.enqueue(session, "test_wake", {}, "wake-1")
        # The poll interval is an hour: only the commit's wake-up can deliver it.
        assert delivered.wait(30)
    finally:
        worker.stop()
    assert not worker.running
    assert seen == ["wake-1"]
    deadline = time.monotonic() + 30
    while service.outbox.get("wake-1").state != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.outbox.get("wake-1").state == "done"


def test_badgebridge_worker_once_drains_the_outbox(
    service: BadgeService,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sink: Sink,
) -> None:
    for name, value in worker_env(service).items():
        if name.startswith(("BADGEBRIDGE_", "DATABASE_URL")):
            monkeypatch.setenv(name, value)
    with service.transaction() as session:
        for i in range(3):
            service.outbox.enqueue(
                session, outbox_sink_handlers.KIND, {"url": sink.url, "i": i}, f"cli-{i}"
            )
    assert main(["worker", "--once", "--handlers", "tests.outbox_sink_handlers"]) == 0
    assert "Delivered 3 outbox job(s)." in capsys.readouterr().out
    assert service.outbox.counts() == {"pending": 0, "done": 3, "failed": 0}
    assert sorted(key for key, _ in sink.deliveries) == ["cli-0", "cli-1", "cli-2"]
    assert main(["worker", "--once", "--handlers", "no_such_module_here"]) == 1
    assert "cannot import no_such_module_here" in capsys.readouterr().err


def test_a_handler_module_without_register_is_refused(sqlite_service: BadgeService) -> None:
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="register_outbox_handlers"):
        workers.load_handler_modules(sqlite_service, ["tests.conftest"])


def test_rq_round_trip_on_redis(service: BadgeService) -> None:
    import redis

    queue_name = f"badgebridge-test-{uuid.uuid4().hex[:10]}"
    seen: list[OutboxJob] = []
    service.outbox.register("test_rq", seen.append)
    announcer = workers.announce_via_rq(service, REDIS_URL, queue_name)
    try:
        with service.transaction() as session:
            service.outbox.enqueue(session, "test_rq", {"n": 1}, "rq-1")
            service.outbox.enqueue(session, "test_rq", {"n": 2}, "rq-2")
        # One RQ job announces both outbox rows; nothing ran yet.
        assert announcer.queue.count == 1
        rq_job = announcer.queue.jobs[0]
        ids = sorted(v.id for v in service.outbox.jobs())
        assert rq_job.func_name == "core.workers.process_outbox" and rq_job.args == (ids,)
        assert service.outbox.counts()["pending"] == 2

        assert workers.run_rq_worker(service, REDIS_URL, queue_name, burst=True) is True
        assert announcer.queue.count == 0
        assert sorted(j.dedupe_key for j in seen) == ["rq-1", "rq-2"]
        assert service.outbox.counts() == {"pending": 0, "done": 2, "failed": 0}
        # A duplicate announcement is harmless: the jobs are done, nothing runs again.
        announcer(ids)
        assert workers.run_rq_worker(service, REDIS_URL, queue_name, burst=True) is True
        assert len(seen) == 2
    finally:
        announcer.stop()
        announcer.queue.delete(delete_jobs=True)
        workers.set_job_service(None)
        redis.Redis.from_url(REDIS_URL).close()


def test_badgebridge_worker_rq_runs_the_announced_jobs(
    service: BadgeService,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sink: Sink,
) -> None:
    for name, value in worker_env(service).items():
        if name.startswith(("BADGEBRIDGE_", "DATABASE_URL")):
            monkeypatch.setenv(name, value)
    queue_name = f"badgebridge-test-{uuid.uuid4().hex[:10]}"
    announcer = workers.announce_via_rq(service, REDIS_URL, queue_name)
    try:
        with service.transaction() as session:
            service.outbox.enqueue(
                session, outbox_sink_handlers.KIND, {"url": sink.url}, "rq-cli-1"
            )
        assert announcer.queue.count == 1
        argv = ["worker", "--rq", "--once", "--redis-url", REDIS_URL, "--queue", queue_name]
        assert main([*argv, "--handlers", "tests.outbox_sink_handlers"]) == 0
        assert service.outbox.get("rq-cli-1").state == "done"
        assert [key for key, _ in sink.deliveries] == ["rq-cli-1"]
        assert announcer.queue.count == 0
    finally:
        announcer.stop()
        announcer.queue.delete(delete_jobs=True)
        workers.set_job_service(None)


def test_delivery_is_chosen_by_the_environment(
    sqlite_service: BadgeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(workers.REDIS_URL_ENV, REDIS_URL)
    announcing = workers.start_outbox_delivery(sqlite_service)
    assert isinstance(announcing, workers.RQAnnouncer)
    announcing.stop()
    monkeypatch.delenv(workers.REDIS_URL_ENV)
    thread = workers.start_outbox_delivery(sqlite_service)
    assert isinstance(thread, workers.InProcessWorker) and thread.running
    thread.stop()
