"""Workers that deliver outbox jobs (:mod:`core.outbox`): one job code, two ways to run it.

**Embedded (SQLite, one machine).** The web app calls :func:`start_outbox_delivery` (or
:func:`start_in_process_worker`): a daemon thread calls :meth:`Outbox.process_due` whenever a
transaction that queued jobs commits, and every ``poll_seconds`` anyway. ``badgebridge worker``
runs the same loop in its own process (``--once`` drains what is due and exits).

**Scale-out (PostgreSQL, several gunicorn web workers).** Set ``BADGEBRIDGE_REDIS_URL``: after
each commit that queued jobs the web process pushes an RQ job :func:`process_outbox` carrying the
new job ids, and runs no delivery thread itself. ``badgebridge worker --rq`` (as many as wanted)
runs RQ workers that execute it — the same :meth:`Outbox.process_due` — plus a periodic sweep
that delivers whatever an announcement missed (Redis down at commit time, a retry coming due,
a dead worker's lease expiring). Redis holds only wake-up calls: the outbox table is the truth,
so losing Redis loses nothing.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.service import BadgeService

log = logging.getLogger(__name__)

#: The Redis URL that switches the web app from the in-process worker to RQ announcements.
REDIS_URL_ENV = "BADGEBRIDGE_REDIS_URL"
#: The RQ queue name (default :data:`DEFAULT_RQ_QUEUE`).
RQ_QUEUE_ENV = "BADGEBRIDGE_RQ_QUEUE"
DEFAULT_RQ_QUEUE = "badgebridge-outbox"
DEFAULT_BATCH = 20
DEFAULT_POLL_SECONDS = 5.0
DEFAULT_SWEEP_SECONDS = 30.0
#: An RQ job that runs longer is stopped by RQ; the outbox lease (5 min) outlives it.
RQ_JOB_TIMEOUT_SECONDS = 240


class DeliveryHandle(Protocol):
    """What :func:`start_outbox_delivery` returns: something to stop at shutdown."""

    def stop(self, timeout: float = 10.0) -> None: ...


def default_worker_id(prefix: str = "worker") -> str:
    """A worker id unique across machines and processes: ``prefix@host:pid:random``."""
    return f"{prefix}@{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def load_handler_modules(service: BadgeService, module_names: Iterable[str]) -> None:
    """Import each module and call its ``register_outbox_handlers(outbox)``: how a deployment
    adds job kinds core does not know (``lms_grade`` from the LTI tool, test handlers)."""
    from core.errors import InvalidInput

    for name in module_names:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise InvalidInput(f"cannot import {name}: {exc}") from exc
        register = getattr(module, "register_outbox_handlers", None)
        if not callable(register):
            raise InvalidInput(f"{name} has no register_outbox_handlers(outbox) function.")
        register(service.outbox)


# -- the loop (in-process thread and `badgebridge worker`) --------------------------------------


def run_worker(
    service: BadgeService,
    *,
    once: bool = False,
    worker_id: str | None = None,
    batch: int = DEFAULT_BATCH,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    stop: threading.Event | None = None,
    wake: threading.Event | None = None,
) -> int:
    """Deliver due jobs until ``stop`` is set (or, with ``once``, until none is due); returns
    how many were delivered. Between empty passes it sleeps ``poll_seconds`` or until ``wake``
    is set."""
    worker_id = worker_id or default_worker_id()
    stop = stop or threading.Event()
    wake = wake or threading.Event()
    total = 0
    while not stop.is_set():
        wake.clear()  # before the pass: a wake-up during the pass triggers the next one
        try:
            delivered = service.outbox.process_due(worker_id, batch)
        except Exception:  # the database may be briefly away; the next pass retries
            log.exception("outbox worker %s: pass failed", worker_id)
            delivered = 0
            if once:
                raise
        total += delivered
        if delivered:
            continue
        if once:
            break
        wake.wait(poll_seconds)
    return total


class InProcessWorker:
    """A daemon thread delivering outbox jobs inside the web process (embedded set-up)."""

    def __init__(
        self,
        service: BadgeService,
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        batch: int = DEFAULT_BATCH,
        worker_id: str | None = None,
    ) -> None:
        self._service = service
        self.worker_id = worker_id or default_worker_id("web")
        self._poll_seconds = poll_seconds
        self._batch = batch
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"outbox-{self.worker_id}", daemon=True
        )

    def start(self) -> InProcessWorker:
        """Start the thread and listen for commits that queue jobs."""
        self._service.outbox.add_commit_listener(self.wake)
        self._thread.start()
        return self

    def wake(self, job_ids: Sequence[int] | None = None) -> None:
        """Run a pass now (called after a commit that queued jobs)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current job and stop (a job cut off later is redelivered)."""
        self._service.outbox.remove_commit_listener(self.wake)
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread.is_alive()

    def _run(self) -> None:
        run_worker(
            self._service,
            worker_id=self.worker_id,
            batch=self._batch,
            poll_seconds=self._poll_seconds,
            stop=self._stop,
            wake=self._wake,
        )


def start_in_process_worker(
    service: BadgeService,
    *,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    batch: int = DEFAULT_BATCH,
) -> InProcessWorker:
    """Start delivering outbox jobs in a daemon thread of this process; returns the handle
    (``stop()`` at shutdown)."""
    return InProcessWorker(service, poll_seconds=poll_seconds, batch=batch).start()


# -- RQ (scale-out) -----------------------------------------------------------------------------

_job_service: BadgeService | None = None
_job_service_lock = threading.Lock()
_rq_worker_id: str | None = None


def set_job_service(service: BadgeService | None) -> None:
    """The service :func:`process_outbox` uses in this process (``badgebridge worker --rq``
    sets it; without it one is built from the environment)."""
    global _job_service
    with _job_service_lock:
        _job_service = service


def _service_for_jobs() -> BadgeService:
    global _job_service
    with _job_service_lock:
        if _job_service is None:
            from core.config import Settings
            from core.service import BadgeService

            _job_service = BadgeService(Settings.from_env())
        return _job_service


def process_outbox(job_ids: list[int] | None = None) -> int:
    """The RQ job: deliver the announced outbox jobs (all due ones when ``job_ids`` is None)
    with :meth:`Outbox.process_due`. Jobs already delivered or taken by another worker are
    skipped, so duplicate announcements are harmless. Returns how many were delivered."""
    global _rq_worker_id
    if _rq_worker_id is None:
        _rq_worker_id = default_worker_id("rq")
    service = _service_for_jobs()
    limit = max(len(job_ids), 1) if job_ids else DEFAULT_BATCH
    return service.outbox.process_due(_rq_worker_id, limit, ids=job_ids)


class RQAnnouncer:
    """A commit listener that pushes :func:`process_outbox` for newly queued outbox jobs."""

    def __init__(self, service: BadgeService, redis_url: str, queue_name: str) -> None:
        from redis import Redis
        from rq import Queue

        self._service = service
        # Short timeouts: this runs inside a web request after its commit; if Redis is slow
        # the request must not hang (the sweep delivers the jobs anyway).
        connection = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        self.queue = Queue(queue_name, connection=connection)

    def __call__(self, job_ids: list[int]) -> None:
        self.queue.enqueue_call(
            process_outbox,
            args=(list(job_ids),),
            timeout=RQ_JOB_TIMEOUT_SECONDS,
            result_ttl=0,
            failure_ttl=24 * 3600,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop announcing (jobs keep waiting in the table for the sweep)."""
        self._service.outbox.remove_commit_listener(self)


def announce_via_rq(
    service: BadgeService, redis_url: str, queue_name: str = DEFAULT_RQ_QUEUE
) -> RQAnnouncer:
    """After every commit that queues outbox jobs, push an RQ job for them."""
    announcer = RQAnnouncer(service, redis_url, queue_name)
    service.outbox.add_commit_listener(announcer)
    return announcer


def start_outbox_delivery(service: BadgeService) -> DeliveryHandle:
    """What the web app factory calls: with ``BADGEBRIDGE_REDIS_URL`` set, announce jobs to RQ
    workers (``badgebridge worker --rq``); otherwise deliver in a daemon thread here."""
    redis_url = os.environ.get(REDIS_URL_ENV, "").strip()
    if redis_url:
        queue = os.environ.get(RQ_QUEUE_ENV, "").strip() or DEFAULT_RQ_QUEUE
        return announce_via_rq(service, redis_url, queue)
    return start_in_process_worker(service)


def run_rq_worker(
    service: BadgeService,
    redis_url: str,
    queue_name: str = DEFAULT_RQ_QUEUE,
    *,
    burst: bool = False,
    sweep_seconds: float = DEFAULT_SWEEP_SECONDS,
) -> bool:
    """Run an RQ worker for ``queue_name`` executing :func:`process_outbox` in this process
    (``SimpleWorker``: no fork per job, the database pool is reused), with a sweep thread that
    delivers due jobs every ``sweep_seconds``. ``burst`` stops when the queue is empty.
    Returns whether any RQ job ran."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    set_job_service(service)
    connection = Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=connection)
    stop = threading.Event()
    sweeper = None
    if not burst and sweep_seconds > 0:
        sweeper = threading.Thread(
            target=_sweep,
            args=(service, sweep_seconds, stop),
            name="outbox-sweep",
            daemon=True,
        )
        sweeper.start()
    try:
        worker = SimpleWorker([queue], connection=connection)
        return bool(worker.work(burst=burst))
    finally:
        stop.set()
        if sweeper is not None:
            sweeper.join(5)


def _sweep(service: BadgeService, every_seconds: float, stop: threading.Event) -> None:
    worker_id = default_worker_id("sweep")
    while not stop.wait(every_seconds):
        try:
            while service.outbox.process_due(worker_id, DEFAULT_BATCH):
                if stop.is_set():
                    return
        except Exception:
            log.exception("outbox sweep failed; retrying in %s s", every_seconds)


__all__ = [
    "DEFAULT_RQ_QUEUE",
    "REDIS_URL_ENV",
    "DeliveryHandle",
    "InProcessWorker",
    "RQAnnouncer",
    "announce_via_rq",
    "default_worker_id",
    "load_handler_modules",
    "process_outbox",
    "run_rq_worker",
    "run_worker",
    "set_job_service",
    "start_in_process_worker",
    "start_outbox_delivery",
]
