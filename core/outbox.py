"""The transactional outbox: follow-ups of a committed change, delivered by a worker.

A follow-up (LMS grade write-back, notification, playlist re-evaluation, status list
publication) is written with :meth:`Outbox.enqueue` in the SAME transaction as the change that
causes it, so it exists exactly when the change does: a crash before the commit loses both, a
crash after it loses neither. ``dedupe_key`` is unique, so queuing the same follow-up twice is a
no-op.

Workers (:mod:`core.workers`) call :meth:`Outbox.process_due`. A job is claimed with a lease
(``locked_by``, ``locked_until``) by a conditional UPDATE (on PostgreSQL the candidates are
picked with ``FOR UPDATE SKIP LOCKED``), so two workers never run the same job at once. The
handler runs outside any database transaction; then the job is marked ``done``. A handler that
raises is retried with exponential backoff and jitter, and after ``max_attempts`` the job is
``failed`` with ``last_error`` kept. A worker that dies mid-job leaves its lease behind; when the
lease expires another worker redelivers. Delivery is therefore at least once, and every handler
must be idempotent: each handler's docstring says how it is.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.storage import OutboxRecord

if TYPE_CHECKING:
    from core.service import BadgeService

log = logging.getLogger(__name__)

#: How long a claimed job stays reserved for its worker before another may redeliver it.
DEFAULT_LEASE_SECONDS = 300.0
#: Attempts before a job is given up as ``failed`` (2^12 s is past the one-hour cap).
DEFAULT_MAX_ATTEMPTS = 12
#: The longest wait between two attempts.
MAX_BACKOFF_SECONDS = 3600.0
#: How many characters of a handler's error are kept in ``last_error``.
MAX_ERROR_CHARS = 4000
_SESSION_IDS_KEY = "badgebridge.outbox.new_ids"
_SESSION_LISTENING_KEY = "badgebridge.outbox.listening"


@dataclass(frozen=True)
class OutboxJob:
    """One delivery of a job to its handler. ``attempt`` counts from 1 and includes deliveries
    whose worker died; ``dedupe_key`` is stable across redeliveries, so handlers that call other
    systems send it as their idempotency key."""

    id: int
    kind: str
    payload: dict[str, Any]
    dedupe_key: str
    attempt: int
    worker_id: str
    #: the end of this worker's lease: after it another worker may deliver the job again
    locked_until: datetime


@dataclass(frozen=True)
class OutboxView:
    """A job's state, for admin pages and tests."""

    id: int
    kind: str
    payload: dict[str, Any]
    dedupe_key: str
    state: str
    attempts: int
    next_attempt_at: datetime
    locked_by: str | None
    locked_until: datetime | None
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


OutboxHandler = Callable[[OutboxJob], None]
CommitListener = Callable[[list[int]], None]


def backoff_seconds(attempts: int, *, rng: random.Random | None = None) -> float:
    """The wait before the next attempt after ``attempts`` failed ones: 2^attempts seconds,
    capped at one hour, with jitter (between half and all of it) so failed jobs spread out."""
    base = min(2.0 ** max(attempts, 0), MAX_BACKOFF_SECONDS)
    return base / 2 + (rng or random).uniform(0, base / 2)


class Outbox:
    """Enqueue follow-ups inside a transaction; claim, run and retire them in workers."""

    def __init__(
        self,
        service: BadgeService,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        clock: Callable[[], datetime] | None = None,
        register_builtin: bool = True,
    ) -> None:
        self._service = service
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        #: the current time (replaceable in tests); whole microseconds, unlike ``utcnow``
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._handlers: dict[str, OutboxHandler] = {}
        self._commit_listeners: list[CommitListener] = []
        if register_builtin:
            from core.awarding import builtin_outbox_handlers

            for kind, handler in builtin_outbox_handlers(service).items():
                self.register(kind, handler)

    # -- registration ---------------------------------------------------------------------------

    def register(self, kind: str, handler: OutboxHandler, *, replace: bool = False) -> None:
        """Deliver jobs of ``kind`` to ``handler``. A worker only claims kinds it has a handler
        for, so a job waits (instead of failing) until a worker that knows it runs."""
        if not kind or len(kind) > 40:
            raise InvalidInput("An outbox job kind is 1-40 characters.")
        if kind in self._handlers and not replace:
            raise InvalidInput(f"A handler for {kind!r} is already registered.")
        self._handlers[kind] = handler

    @property
    def kinds(self) -> list[str]:
        """The job kinds this process can deliver."""
        return sorted(self._handlers)

    def add_commit_listener(self, listener: CommitListener) -> None:
        """Call ``listener(job ids)`` after every commit that enqueued jobs (to wake an
        in-process worker or to push an RQ job). A failing listener is logged and ignored: the
        jobs are safe in the table and the periodic sweep delivers them."""
        self._commit_listeners.append(listener)

    def remove_commit_listener(self, listener: CommitListener) -> None:
        """Stop calling ``listener`` (no-op if it was not added)."""
        if listener in self._commit_listeners:
            self._commit_listeners.remove(listener)

    # -- enqueueing -----------------------------------------------------------------------------

    def enqueue(
        self,
        session: Session,
        kind: str,
        payload: dict[str, Any],
        dedupe_key: str,
        *,
        delay_seconds: float = 0.0,
    ) -> bool:
        """Queue a job in the caller's transaction; True if queued, False if a job with this
        ``dedupe_key`` already exists (then nothing changes)."""
        if not kind or len(kind) > 40:
            raise InvalidInput("An outbox job kind is 1-40 characters.")
        if not dedupe_key or len(dedupe_key) > 300:
            raise InvalidInput("An outbox dedupe key is 1-300 characters.")
        if not isinstance(payload, dict):
            raise InvalidInput("An outbox payload is a JSON object.")
        try:
            json.dumps(payload, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"The outbox payload is not plain JSON: {exc}") from exc
        now = self.clock()
        values = {
            "kind": kind,
            "payload": payload,
            "dedupe_key": dedupe_key,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now + timedelta(seconds=delay_seconds),
            "created_at": now,
        }
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement: Any = pg_insert(OutboxRecord).values(**values)
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(OutboxRecord).values(**values)
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise InvalidInput(f"Unsupported database {dialect!r}.")
        # ON CONFLICT DO NOTHING keeps the caller's transaction usable (a failed INSERT would
        # abort it on PostgreSQL) and makes a second enqueue a no-op.
        statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(
            OutboxRecord.id
        )
        new_id = session.execute(statement).scalar_one_or_none()
        if new_id is None:
            return False
        self._remember_for_commit(session, int(new_id))
        return True

    def _remember_for_commit(self, session: Session, job_id: int) -> None:
        session.info.setdefault(_SESSION_IDS_KEY, []).append(job_id)
        if not session.info.get(_SESSION_LISTENING_KEY):
            session.info[_SESSION_LISTENING_KEY] = True
            sa_event.listen(session, "after_commit", self._after_commit)
            sa_event.listen(session, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        ids = session.info.pop(_SESSION_IDS_KEY, [])
        if not ids:
            return
        for listener in list(self._commit_listeners):
            try:
                listener(list(ids))
            except Exception:  # the sweep delivers what a listener could not announce
                log.exception("outbox commit listener failed; the periodic sweep will deliver")

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(_SESSION_IDS_KEY, None)

    # -- delivery -------------------------------------------------------------------------------

    def process_due(
        self, worker_id: str, limit: int = 20, *, ids: Sequence[int] | None = None
    ) -> int:
        """Claim up to ``limit`` due jobs (only ``ids`` if given) of kinds this process handles,
        run each handler, and mark it done or schedule its retry. Returns how many ran."""
        if not worker_id or len(worker_id) > 100:
            raise InvalidInput("A worker id is 1-100 characters.")
        if limit < 1:
            return 0
        return sum(self._run(job) for job in self._claim(worker_id, limit, ids))

    def _claimable(self, now: datetime) -> Any:
        return and_(
            OutboxRecord.state == "pending",
            OutboxRecord.next_attempt_at <= now,
            or_(OutboxRecord.locked_until.is_(None), OutboxRecord.locked_until < now),
            OutboxRecord.kind.in_(self.kinds),
        )

    def _claim(self, worker_id: str, limit: int, ids: Sequence[int] | None) -> list[OutboxJob]:
        if not self._handlers:
            return []
        now = self.clock()
        lease_end = now + timedelta(seconds=self.lease_seconds)
        claimable = self._claimable(now)
        with self._service.transaction() as session:
            query = select(OutboxRecord.id).where(claimable)
            if ids is not None:
                query = query.where(OutboxRecord.id.in_(list(ids)))
            # SKIP LOCKED: concurrent PostgreSQL workers each take different rows instead of
            # queueing behind one another (SQLite write transactions are serial anyway).
            candidates = session.scalars(
                query.order_by(OutboxRecord.next_attempt_at, OutboxRecord.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not candidates:
                return []
            # The WHERE repeats the claim condition: a row another worker claimed in between
            # is not taken (rowcount tells), so no job runs twice at once.
            claimed = session.execute(
                update(OutboxRecord)
                .where(OutboxRecord.id.in_(candidates), claimable)
                .values(
                    locked_by=worker_id,
                    locked_until=lease_end,
                    attempts=OutboxRecord.attempts + 1,
                )
                .returning(
                    OutboxRecord.id,
                    OutboxRecord.kind,
                    OutboxRecord.payload,
                    OutboxRecord.dedupe_key,
                    OutboxRecord.attempts,
                ),
                execution_options={"synchronize_session": False},
            ).all()
        jobs = [
            OutboxJob(
                id=row.id,
                kind=row.kind,
                payload=dict(row.payload),
                dedupe_key=row.dedupe_key,
                attempt=row.attempts,
                worker_id=worker_id,
                locked_until=lease_end,
            )
            for row in claimed
        ]
        return sorted(jobs, key=lambda j: j.id)

    def _run(self, job: OutboxJob) -> bool:
        """Deliver one claimed job; False if its lease ran out before it could start."""
        if self.clock() >= job.locked_until:
            # Earlier jobs of the batch took the whole lease: another worker may have this one
            # now, so leave it to whoever holds it (or to the next claim).
            log.warning(
                "outbox job %s: lease ran out before it started; left for redelivery", job.id
            )
            return False
        handler = self._handlers[job.kind]
        try:
            handler(job)
        except Exception as exc:
            self._record_failure(job, exc)
            return True
        now = self.clock()
        with self._service.transaction() as session:
            # Only the lease holder retires the job; if our lease expired and another worker
            # took the job over, that worker retires it (its delivery is a duplicate the
            # handler's idempotency absorbs).
            session.execute(
                update(OutboxRecord)
                .where(
                    OutboxRecord.id == job.id,
                    OutboxRecord.locked_by == job.worker_id,
                    OutboxRecord.state == "pending",
                )
                .values(state="done", done_at=now, locked_until=None, last_error=None),
                execution_options={"synchronize_session": False},
            )
        return True

    def _record_failure(self, job: OutboxJob, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:MAX_ERROR_CHARS]
        give_up = job.attempt >= self.max_attempts
        now = self.clock()
        if give_up:
            log.error("outbox job %s (%s) failed for good: %s", job.id, job.kind, message)
        else:
            log.warning(
                "outbox job %s (%s) attempt %s failed: %s", job.id, job.kind, job.attempt, message
            )
        with self._service.transaction() as session:
            session.execute(
                update(OutboxRecord)
                .where(
                    OutboxRecord.id == job.id,
                    OutboxRecord.locked_by == job.worker_id,
                    OutboxRecord.state == "pending",
                )
                .values(
                    state="failed" if give_up else "pending",
                    next_attempt_at=now + timedelta(seconds=backoff_seconds(job.attempt)),
                    locked_until=None,
                    locked_by=None,
                    last_error=message,
                ),
                execution_options={"synchronize_session": False},
            )

    # -- inspection and administration ----------------------------------------------------------

    def get(self, dedupe_key: str) -> OutboxView:
        """The job queued under ``dedupe_key``; :class:`NotFound` if there is none."""
        with self._service.sessions() as session:
            record = session.scalar(
                select(OutboxRecord).where(OutboxRecord.dedupe_key == dedupe_key)
            )
            if record is None:
                raise NotFound(f"No outbox job {dedupe_key!r}.")
            return _view(record)

    def jobs(self, *, state: str | None = None, kind: str | None = None) -> list[OutboxView]:
        """Jobs, oldest first, optionally only one state (pending, done, failed) or kind."""
        with self._service.sessions() as session:
            query = select(OutboxRecord).order_by(OutboxRecord.id)
            if state is not None:
                query = query.where(OutboxRecord.state == state)
            if kind is not None:
                query = query.where(OutboxRecord.kind == kind)
            return [_view(r) for r in session.scalars(query)]

    def counts(self) -> dict[str, int]:
        """How many jobs are pending, done and failed."""
        with self._service.sessions() as session:
            rows = session.execute(
                select(OutboxRecord.state, func.count()).group_by(OutboxRecord.state)
            ).all()
        counts = {"pending": 0, "done": 0, "failed": 0}
        counts.update({state: int(n) for state, n in rows})
        return counts

    def retry(self, dedupe_keys: Iterable[str]) -> int:
        """Put failed jobs back in the queue (after the cause was fixed); returns how many."""
        keys = list(dedupe_keys)
        if not keys:
            return 0
        with self._service.transaction() as session:
            result = session.execute(
                update(OutboxRecord)
                .where(OutboxRecord.dedupe_key.in_(keys), OutboxRecord.state == "failed")
                .values(state="pending", attempts=0, next_attempt_at=self.clock()),
                execution_options={"synchronize_session": False},
            )
            return int(getattr(result, "rowcount", 0) or 0)


def _view(record: OutboxRecord) -> OutboxView:
    return OutboxView(
        id=record.id,
        kind=record.kind,
        payload=dict(record.payload),
        dedupe_key=record.dedupe_key,
        state=record.state,
        attempts=record.attempts,
        next_attempt_at=record.next_attempt_at,
        locked_by=record.locked_by,
        locked_until=record.locked_until,
        last_error=record.last_error,
        created_at=record.created_at,
        done_at=record.done_at,
    )


__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_MAX_ATTEMPTS",
    "Outbox",
    "OutboxHandler",
    "OutboxJob",
    "OutboxView",
    "backoff_seconds",
]
