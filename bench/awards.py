"""Awards end to end (event → signed credential stored), on SQLite and PostgreSQL, and the SQL
statements one award costs at 100 and at 100,000 learners (it must not grow with either)."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text

from core.config import Settings
from core.keys import new_key_encryption_key
from core.service import BadgeService
from core.storage import LearnerIdentifierRecord, LearnerRecord, make_engine, utcnow

POSTGRES_URL = os.environ.get(
    "BADGEBRIDGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
AWARDS_PER_ROUND = 60


class StatementCounter:
    """Counts SQL statements sent to the database (SQLAlchemy cursor events)."""

    def __init__(self, engine: Any) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args: Any) -> None:
        self.count += 1


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def build(database_url: str, folder: Path, learners: int) -> tuple[BadgeService, list[str], str]:
    settings = Settings(
        data_dir=folder,
        database_url=database_url,
        base_url="https://badges.example.nl",
        key_encryption_key=new_key_encryption_key(),
        allow_private_fetch=False,
        fetch_timeout_seconds=5,
    )
    service = BadgeService(settings)
    service.upgrade()
    service.create_issuer("rotterdam", "Rotterdam City of Learning")
    achievement = service.catalogue.create_achievement(
        "rotterdam",
        name="Buurtverbinder",
        description="Connected neighbours through a community event.",
        criteria_narrative="Organise one community event.",
        skills=["slo-21:sociale-en-culturele-vaardigheden"],
    )
    # Many learners, inserted in bulk (the award path must not scan them).
    now = utcnow()
    public_ids = [str(uuid.uuid4()) for _ in range(learners)]
    with service.transaction() as session:
        for start in range(0, learners, 5000):
            chunk = public_ids[start : start + 5000]
            session.execute(
                insert(LearnerRecord),
                [{"public_id": p, "display_name": None, "created_at": now} for p in chunk],
            )
        ids = dict(session.execute(text("SELECT public_id, id FROM learners")).all())
        for start in range(0, learners, 5000):
            chunk = public_ids[start : start + 5000]
            session.execute(
                insert(LearnerIdentifierRecord),
                [
                    {
                        "learner_id": ids[p],
                        "kind": "email",
                        "platform": "",
                        "value": f"learner-{p}@example.org",
                        "verified": True,
                        "created_at": now,
                    }
                    for p in chunk
                ],
            )
    # A bulk load leaves the planner's statistics stale until autovacuum catches up (then the
    # learner lookups scan); production runs with fresh statistics, so the bench does too.
    with service.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return service, public_ids, achievement.public_id


def award_rate(service: BadgeService, learners: list[str], achievement: str) -> tuple[float, float]:
    """Awards per second over fresh learners, and SQL statements per award."""
    from core.awarding import AwardRequest

    counter = StatementCounter(service.engine)
    rates, statements = [], []
    cursor = 0
    for _ in range(3):
        batch = learners[cursor : cursor + AWARDS_PER_ROUND]
        cursor += AWARDS_PER_ROUND
        before = counter.count
        start = time.perf_counter()
        for learner in batch:
            service.awarding.award(
                AwardRequest(
                    learner_public_id=learner,
                    achievement_public_id=achievement,
                    source_kind="organiser",
                    source_event_id=f"bench-{learner}",
                    approved_by="bench",
                )
            )
        rates.append(len(batch) / (time.perf_counter() - start))
        statements.append((counter.count - before) / len(batch))
    return statistics.median(rates), statistics.median(statements)


def main() -> None:
    print("\nAwards end to end (event → signed eddsa-rdfc-2022 credential stored, outbox queued)")
    header = f"{'database':12} {'learners':>9} {'awards/s':>9} {'SQL statements/award':>22}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in ("sqlite", "postgresql"):
            for learners in (100 + 3 * AWARDS_PER_ROUND, 100_000):
                with database(kind, folder) as url:
                    service, ids, achievement = build(url, folder, learners)
                    rate, statements = award_rate(service, ids, achievement)
                    # The first size is 100 learners plus the 180 awarded in the rounds.
                    print(f"{kind:12} {learners:9,} {rate:9.0f} {statements:22.1f}")
                    service.engine.dispose()


__all__ = ["main", "replace"]
