"""Award many badges at once from a spreadsheet (CSV).

An organiser uploads a CSV with the columns ``email``, ``name``, ``achievement`` (the
achievement's public id or URL) and, optionally, ``evidence_url`` and ``evidence_text``. Column
names may be Dutch or English (``e-mail``, ``naam``, ``prestatie``, ``bewijs``...). The file may
be UTF-8 with or without a byte order mark (Excel's "CSV UTF-8"), or Windows-1252 (Excel's
plain "CSV"); fields are separated by ``;`` (what Dutch Excel writes), ``,`` or a tab.

Nothing is issued at upload: :meth:`BulkAwards.create_job` checks every row and keeps the good
ones with a list of the bad ones (invalid email address, unknown achievement, duplicate row,
bad evidence link) for the organiser to see. :meth:`BulkAwards.start` queues the job — as an
outbox job (:data:`BULK_AWARD_JOB`) written in the same transaction, so it survives the web
process — and the worker awards it (:meth:`BulkAwards.deliver`) in batches of
:data:`BULK_AWARD_BATCH` rows, each batch its own outbox job. :meth:`BulkAwards.run` awards
row after row through :meth:`core.awarding.Awarding.award` with the source event
``<job id>:<row number>``: running a job again — after a crash, or twice at once — never awards
a row twice. A running job holds a lease it renews as it goes; a job whose lease lapsed (its
process died) is resumed by the outbox's redelivery from the first row not yet counted.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.errors import BadgeBridgeError, InvalidInput, NotFound
from core.storage import AchievementRecord, BulkAwardJobRecord, IssuerRecord, utcnow

if TYPE_CHECKING:
    from core.outbox import OutboxJob
    from core.service import BadgeService

log = logging.getLogger(__name__)

#: Largest CSV file accepted, in bytes.
MAX_CSV_BYTES = 2_000_000
#: Most rows (not counting the header) in one upload.
MAX_CSV_ROWS = 5_000
MAX_NAME_CHARS = 200
MAX_EVIDENCE_TEXT_CHARS = 10_000
MAX_EVIDENCE_URL_CHARS = 2_000
#: How long a running job's claim lasts without renewal.
LEASE = timedelta(seconds=60)
JOB_STATES = ("preview", "queued", "running", "done", "cancelled")
SOURCE_KIND = "csv"
#: The outbox job kind that awards a batch of a bulk award's rows.
BULK_AWARD_JOB = "bulk_award"
#: Rows awarded per delivery of a :data:`BULK_AWARD_JOB` (then the next batch is queued).
BULK_AWARD_BATCH = 100

#: Accepted column names (lower-case, spaces, dashes and underscores removed) per column.
COLUMN_NAMES = {
    "email": ("email", "emailaddress", "mail", "emailadres"),
    "name": ("name", "naam", "fullname", "volledigenaam", "displayname"),
    "achievement": (
        "achievement",
        "achievementid",
        "badge",
        "badgeid",
        "prestatie",
        "prestatieid",
    ),
    "evidence_url": ("evidenceurl", "evidencelink", "bewijsurl", "bewijslink", "link"),
    "evidence_text": ("evidencetext", "evidence", "bewijs", "bewijstekst", "toelichting"),
}
REQUIRED_COLUMNS = ("email", "name", "achievement")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_URL = re.compile(r"^https?://[^\s/]+\S*$")

#: Why a row was refused at upload (``RowProblem.reason``).
ROW_PROBLEMS = (
    "invalid_email",
    "missing_name",
    "name_too_long",
    "unknown_achievement",
    "duplicate",
    "invalid_evidence_url",
    "evidence_too_long",
)


class BulkAwardBusy(BadgeBridgeError):
    """Another run holds the job's lease: the outbox delivers the batch again later (when
    that run finished it, the redelivery has nothing left to do)."""


class CsvProblem(InvalidInput):
    """The file as a whole cannot be used (too large, not a CSV, missing columns, too many
    rows); ``reason`` names which, ``detail`` adds the specifics (e.g. the missing columns)."""

    def __init__(self, message: str, reason: str, detail: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class CsvRow:
    """One row to award (``row`` is its line in the spreadsheet, the header being line 1)."""

    row: int
    email: str
    name: str
    achievement_public_id: str
    achievement_name: str
    evidence_url: str | None
    evidence_text: str | None

    def as_record(self) -> dict[str, Any]:
        """The row as stored in the job."""
        return {
            "row": self.row,
            "email": self.email,
            "name": self.name,
            "achievement": self.achievement_public_id,
            "achievement_name": self.achievement_name,
            "evidence_url": self.evidence_url,
            "evidence_text": self.evidence_text,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> CsvRow:
        """A row as stored in the job."""
        return cls(
            row=int(data["row"]),
            email=str(data["email"]),
            name=str(data["name"]),
            achievement_public_id=str(data["achievement"]),
            achievement_name=str(data.get("achievement_name") or ""),
            evidence_url=data.get("evidence_url"),
            evidence_text=data.get("evidence_text"),
        )

    def evidence(self) -> list[dict[str, Any]]:
        """The row's evidence as OB 3.0 ``Evidence`` objects (empty when it has none)."""
        if not self.evidence_url and not self.evidence_text:
            return []
        item: dict[str, Any] = {"type": ["Evidence"]}
        if self.evidence_url:
            item["id"] = self.evidence_url
        if self.evidence_text:
            item["narrative"] = self.evidence_text
        return [item]


@dataclass(frozen=True)
class RowProblem:
    """A row refused at upload: ``reason`` is one of :data:`ROW_PROBLEMS`; ``value`` is what
    was wrong (the address, the achievement id) and ``other_row`` the earlier row a duplicate
    repeats."""

    row: int
    reason: str
    value: str = ""
    other_row: int | None = None


@dataclass(frozen=True)
class RowFailure:
    """A row whose award failed while the job ran, and why (a readable message)."""

    row: int
    email: str
    reason: str


@dataclass(frozen=True)
class BulkAwardJobView:
    """A CSV upload and how far its awarding got."""

    public_id: str
    issuer_slug: str
    created_by: str
    file_name: str
    state: str
    rows: tuple[CsvRow, ...]
    problems: tuple[RowProblem, ...]
    failures: tuple[RowFailure, ...]
    done_count: int
    failed_count: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_until: datetime | None

    @property
    def total(self) -> int:
        """Rows to award (the good rows of the upload)."""
        return len(self.rows)

    @property
    def handled(self) -> int:
        """Rows awarded or failed so far."""
        return self.done_count + self.failed_count

    @property
    def finished(self) -> bool:
        """True once nothing more will happen (done or cancelled)."""
        return self.state in ("done", "cancelled")

    def needs_a_worker(self, now: datetime | None = None) -> bool:
        """True when the job is waiting to run, or ran in a process that stopped renewing its
        lease (so a new run should resume it)."""
        if self.state == "queued":
            return self.lease_until is None or self.lease_until <= (now or utcnow())
        if self.state == "running":
            return self.lease_until is None or self.lease_until <= (now or utcnow())
        return False


# -- reading the file ---------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Excel's plain "CSV" on Windows writes Windows-1252.
        return data.decode("cp1252", errors="replace")


def _column_key(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name.strip().lower())


def _separator(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_csv(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV file as ``(line number, {column: value})`` with the columns named as
    in :data:`COLUMN_NAMES`; empty rows are skipped. :class:`CsvProblem` if the file is too
    large, has too many rows, or lacks a required column."""
    if len(data) > MAX_CSV_BYTES:
        raise CsvProblem(f"The file is larger than {MAX_CSV_BYTES // 1_000_000} MB.", "too_large")
    text = _decode(data)
    if "\x00" in text:
        raise CsvProblem("This is not a CSV file.", "not_csv")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise CsvProblem("The file is empty.", "empty")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(lines[0]))
    try:
        header = next(reader)
    except csv.Error as problem:
        raise CsvProblem(f"The file cannot be read as CSV: {problem}", "not_csv") from None
    columns: dict[int, str] = {}
    for index, raw in enumerate(header):
        key = _column_key(raw)
        for column, names in COLUMN_NAMES.items():
            if key in names and column not in columns.values():
                columns[index] = column
    missing = [c for c in REQUIRED_COLUMNS if c not in columns.values()]
    if missing:
        raise CsvProblem(
            f"The first row must name the columns; missing: {', '.join(missing)}.",
            "missing_columns",
            ", ".join(missing),
        )
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_CSV_ROWS:
                raise CsvProblem(
                    f"The file has more than {MAX_CSV_ROWS} rows; split it.", "too_many_rows"
                )
            record = {column: "" for column in COLUMN_NAMES}
            for index, column in columns.items():
                if index < len(values):
                    record[column] = values[index].strip()
            rows.append((reader.line_num, record))
    except csv.Error as problem:
        raise CsvProblem(f"The file cannot be read as CSV: {problem}", "not_csv") from None
    if not rows:
        raise CsvProblem("The file has no rows below the column names.", "empty")
    return rows


# -- jobs -------------------------------------------------------------------------------------------


class BulkAwards:
    """Check CSV uploads, then award their rows in jobs that survive restarts."""

    def __init__(self, service: BadgeService) -> None:
        self._service = service

    def _achievement_ref(self, value: str) -> str:
        prefix = f"{self._service.settings.base_url}/achievements/"
        value = value.strip()
        return value[len(prefix) :] if value.startswith(prefix) else value

    def check_rows(
        self, session: Session, issuer: IssuerRecord, rows: list[tuple[int, dict[str, str]]]
    ) -> tuple[list[CsvRow], list[RowProblem]]:
        """The good rows and the problems of the others (an achievement must be one of the
        issuer's, not archived)."""
        achievements = {
            record.public_id: record.name
            for record in session.scalars(
                select(AchievementRecord).where(
                    AchievementRecord.issuer_id == issuer.id,
                    AchievementRecord.archived.is_(False),
                )
            )
        }
        good: list[CsvRow] = []
        problems: list[RowProblem] = []
        seen: dict[tuple[str, str], int] = {}
        for line, values in rows:
            email = values["email"].strip().lower()
            name = " ".join(values["name"].split())
            achievement = self._achievement_ref(values["achievement"])
            url = values["evidence_url"].strip() or None
            text = values["evidence_text"].strip() or None
            if len(email) > 320 or not _EMAIL.match(email):
                problems.append(RowProblem(line, "invalid_email", values["email"][:320]))
                continue
            if not name:
                problems.append(RowProblem(line, "missing_name"))
                continue
            if len(name) > MAX_NAME_CHARS:
                problems.append(RowProblem(line, "name_too_long"))
                continue
            if achievement not in achievements:
                problems.append(RowProblem(line, "unknown_achievement", achievement[:200]))
                continue
            if url is not None and (len(url) > MAX_EVIDENCE_URL_CHARS or not _URL.match(url)):
                problems.append(RowProblem(line, "invalid_evidence_url", url[:200]))
                continue
            if text is not None and len(text) > MAX_EVIDENCE_TEXT_CHARS:
                problems.append(RowProblem(line, "evidence_too_long"))
                continue
            key = (email, achievement)
            if key in seen:
                problems.append(RowProblem(line, "duplicate", email, other_row=seen[key]))
                continue
            seen[key] = line
            good.append(
                CsvRow(line, email, name, achievement, achievements[achievement], url, text)
            )
        return good, problems

    def create_job(
        self, issuer_slug: str, *, created_by: str, file_name: str, data: bytes
    ) -> BulkAwardJobView:
        """Check an upload and keep it for the organiser's preview (nothing is issued).
        :class:`CsvProblem` if the file as a whole cannot be used."""
        rows = read_csv(data)
        with self._service.transaction() as session:
            issuer = self._issuer(session, issuer_slug)
            good, problems = self.check_rows(session, issuer, rows)
            record = BulkAwardJobRecord(
                public_id=str(uuid.uuid4()),
                issuer_id=issuer.id,
                created_by=created_by[:320],
                file_name=(file_name or "")[:300],
                state="preview",
                rows=[row.as_record() for row in good],
                problems=[
                    {"row": p.row, "reason": p.reason, "value": p.value, "other_row": p.other_row}
                    for p in problems
                ],
                failures=[],
                done_count=0,
                failed_count=0,
                next_row_index=0,
                created_at=utcnow(),
            )
            session.add(record)
            session.flush()
            return self._view(record, issuer.slug)

    @staticmethod
    def _issuer(session: Session, slug: str) -> IssuerRecord:
        issuer = session.scalar(select(IssuerRecord).where(IssuerRecord.slug == slug))
        if issuer is None:
            raise NotFound(f"No issuer with the slug {slug!r}.")
        return issuer

    @staticmethod
    def _view(record: BulkAwardJobRecord, issuer_slug: str) -> BulkAwardJobView:
        return BulkAwardJobView(
            public_id=record.public_id,
            issuer_slug=issuer_slug,
            created_by=record.created_by,
            file_name=record.file_name,
            state=record.state,
            rows=tuple(CsvRow.from_record(r) for r in record.rows or ()),
            problems=tuple(
                RowProblem(
                    int(p["row"]), str(p["reason"]), str(p.get("value") or ""), p.get("other_row")
                )
                for p in record.problems or ()
            ),
            failures=tuple(
                RowFailure(int(f["row"]), str(f.get("email") or ""), str(f["reason"]))
                for f in record.failures or ()
            ),
            done_count=record.done_count,
            failed_count=record.failed_count,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            lease_until=record.lease_until,
        )

    def _job(self, session: Session, public_id: str) -> tuple[BulkAwardJobRecord, str]:
        row = session.execute(
            select(BulkAwardJobRecord, IssuerRecord.slug)
            .join(IssuerRecord, IssuerRecord.id == BulkAwardJobRecord.issuer_id)
            .where(BulkAwardJobRecord.public_id == public_id)
        ).first()
        if row is None:
            raise NotFound(f"No bulk award {public_id!r}.")
        return row[0], row[1]

    def get_job(self, public_id: str) -> BulkAwardJobView:
        """A job by its id; :class:`NotFound` if unknown."""
        with self._service.sessions() as session:
            record, slug = self._job(session, public_id)
            return self._view(record, slug)

    def jobs_of(self, issuer_slug: str, limit: int = 20) -> list[BulkAwardJobView]:
        """The issuer's latest jobs, newest first."""
        with self._service.sessions() as session:
            issuer = self._issuer(session, issuer_slug)
            records = session.scalars(
                select(BulkAwardJobRecord)
                .where(BulkAwardJobRecord.issuer_id == issuer.id)
                .order_by(BulkAwardJobRecord.id.desc())
                .limit(limit)
            )
            return [self._view(r, issuer.slug) for r in records]

    def start(self, public_id: str) -> BulkAwardJobView:
        """Queue a previewed job for awarding by the worker (again: no effect)."""
        with self._service.transaction() as session:
            record, slug = self._job(session, public_id)
            if record.state == "cancelled":
                raise InvalidInput("This upload was cancelled; upload the file again.")
            if record.state == "preview":
                if not record.rows:
                    raise InvalidInput("This upload has no rows that can be awarded.")
                record.state = "queued"
                self._queue_batch(session, public_id, 0)
            return self._view(record, slug)

    def _queue_batch(self, session: Session, public_id: str, from_index: int) -> str:
        """Queue the outbox job that awards the rows from ``from_index`` on (a no-op when it
        is queued already); returns its dedupe key."""
        key = f"{BULK_AWARD_JOB}:{public_id}:{from_index}"
        payload = {"job": public_id, "from_index": from_index}
        self._service.outbox.enqueue(session, BULK_AWARD_JOB, payload, key)
        return key

    def ensure_queued(self, public_id: str) -> None:
        """Make sure a worker will award the job: queue the batch from its first row not yet
        counted (for a job started before awarding went through the outbox, or whose batch
        failed for good). No effect on a job that is waiting for its check, done or
        cancelled, or whose batch is queued already."""
        with self._service.transaction() as session:
            record, _slug = self._job(session, public_id)
            if record.state not in ("queued", "running"):
                return
            key = self._queue_batch(session, public_id, record.next_row_index)
        self._service.outbox.retry([key])

    def deliver(self, job: OutboxJob) -> None:
        """The outbox handler: award one batch of rows, then queue the next batch. Idempotent:
        a row's award is keyed by its source event, and the next batch's job by its first
        row. :class:`BulkAwardBusy` (the outbox retries later) while another run holds the
        job's lease."""
        public_id = str(job.payload["job"])
        try:
            claimed, view = self._run(public_id, job.worker_id, BULK_AWARD_BATCH)
        except NotFound:
            log.info("bulk award %s is gone", public_id)
            return
        if not claimed and view.state in ("queued", "running"):
            raise BulkAwardBusy(f"Bulk award {public_id} is being awarded by another run.")

    def cancel(self, public_id: str) -> BulkAwardJobView:
        """Drop a job that has not started."""
        with self._service.transaction() as session:
            record, slug = self._job(session, public_id)
            if record.state not in ("preview", "cancelled"):
                raise InvalidInput("Awarding has started: it can no longer be cancelled.")
            record.state = "cancelled"
            return self._view(record, slug)

    def _claim(self, public_id: str, worker: str) -> bool:
        """Take the job's lease when it is queued, or running under a lapsed lease."""
        now = utcnow()
        with self._service.transaction() as session:
            claimed = session.execute(
                update(BulkAwardJobRecord)
                .where(
                    BulkAwardJobRecord.public_id == public_id,
                    BulkAwardJobRecord.state.in_(("queued", "running")),
                    or_(
                        BulkAwardJobRecord.lease_until.is_(None),
                        BulkAwardJobRecord.lease_until <= now,
                    ),
                )
                .values(state="running", lease_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return False
            record, _slug = self._job(session, public_id)
            if record.started_at is None:
                record.started_at = now
            log.info("bulk award %s claimed by %s", public_id, worker)
            return True

    def run(
        self, public_id: str, *, worker: str = "web", max_rows: int | None = None
    ) -> BulkAwardJobView:
        """Award the job's rows not yet handled (at most ``max_rows`` of them: then the lease
        is given up and the next batch queued, in one transaction); returns the job as it
        stands afterwards.

        Does nothing when another run holds the job's lease. Each row is one award (its own
        transaction) followed by the job's progress; a row whose award fails is recorded with
        its reason and the job goes on."""
        return self._run(public_id, worker, max_rows)[1]

    def _run(
        self, public_id: str, worker: str, max_rows: int | None
    ) -> tuple[bool, BulkAwardJobView]:
        """:meth:`run`, and whether it held the job's lease."""
        from core.awarding import AwardRequest

        if not self._claim(public_id, worker):
            return False, self.get_job(public_id)
        job = self.get_job(public_id)
        with self._service.sessions() as session:
            record, _slug = self._job(session, public_id)
            start_index = record.next_row_index
        learners = self._service.learners
        awarding = self._service.awarding
        end_index = len(job.rows)
        if max_rows is not None:
            end_index = min(end_index, start_index + max(max_rows, 1))
        for index in range(start_index, end_index):
            row = job.rows[index]
            failure: str | None = None
            try:
                learner = learners.find_or_create(email=row.email, display_name=row.name)
                awarding.award(
                    AwardRequest(
                        learner_public_id=learner.public_id,
                        achievement_public_id=row.achievement_public_id,
                        source_kind=SOURCE_KIND,
                        source_event_id=f"{public_id}:{row.row}",
                        approved_by=job.created_by,
                        recipient_email=row.email,
                        evidence_items=tuple(row.evidence()),
                    )
                )
            except BadgeBridgeError as problem:
                failure = problem.message
            except Exception:  # one bad row must not stop the others
                log.exception("bulk award %s row %s failed", public_id, row.row)
                failure = "An unexpected error occurred; the row was not awarded."
            if not self._record_progress(public_id, index, row, failure):
                return True, self.get_job(public_id)  # the lease was lost to another run
        if end_index < len(job.rows):
            self._hand_over(public_id, end_index)
            return True, self.get_job(public_id)
        with self._service.transaction() as session:
            record, _slug = self._job(session, public_id)
            if record.state == "running" and record.next_row_index >= len(job.rows):
                record.state = "done"
                record.finished_at = utcnow()
                record.lease_until = None
        return True, self.get_job(public_id)

    def _hand_over(self, public_id: str, next_index: int) -> None:
        """Give up the lease and queue the batch from ``next_index`` (when this run still
        holds the job there)."""
        with self._service.transaction() as session:
            record, _slug = self._job(session, public_id)
            if record.state != "running" or record.next_row_index != next_index:
                return
            record.lease_until = None
            self._queue_batch(session, public_id, next_index)

    def _record_progress(
        self, public_id: str, index: int, row: CsvRow, failure: str | None
    ) -> bool:
        """Count row ``index`` as handled and renew the lease; False when another run has
        already counted it (then this run stops)."""
        with self._service.transaction() as session:
            record, _slug = self._job(session, public_id)
            if record.next_row_index != index or record.state != "running":
                return False
            record.next_row_index = index + 1
            if failure is None:
                record.done_count += 1
            else:
                record.failed_count += 1
                record.failures = [
                    *(record.failures or []),
                    {"row": row.row, "email": row.email, "reason": failure[:500]},
                ]
            record.lease_until = utcnow() + LEASE
            return True


__all__ = [
    "BULK_AWARD_BATCH",
    "BULK_AWARD_JOB",
    "JOB_STATES",
    "MAX_CSV_BYTES",
    "MAX_CSV_ROWS",
    "ROW_PROBLEMS",
    "BulkAwardBusy",
    "BulkAwardJobView",
    "BulkAwards",
    "CsvProblem",
    "CsvRow",
    "RowFailure",
    "RowProblem",
    "read_csv",
]
