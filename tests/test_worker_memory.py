"""What a worker keeps for a few seconds: registrations, keys, and the catalogue content that
every launch of a course item shows. A change by this worker shows at once, one by another
worker within the memory's lifetime, never later."""

from __future__ import annotations

from typing import Any

import pytest

from core import worker_memory
from core.config import Settings
from core.errors import NotFound
from core.service import BadgeService
from core.worker_memory import WORKER_MEMORY_SECONDS, WorkerMemory
from tests.badge_world import make_world


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(worker_memory.time, "monotonic", clock)
    return clock


def test_a_value_is_kept_for_the_lifetime_then_read_again(clock: Clock) -> None:
    memory = WorkerMemory(seconds=5)
    reads: list[int] = []

    def read() -> str:
        reads.append(1)
        return f"value {len(reads)}"

    assert memory.remembered("k", str, read) == "value 1"
    clock.now += 4.9
    assert memory.remembered("k", str, read) == "value 1"
    clock.now += 0.2
    assert memory.remembered("k", str, read) == "value 2"
    memory.forget()
    assert memory.remembered("k", str, read) == "value 3"


def test_a_failed_read_is_not_kept(clock: Clock) -> None:
    memory = WorkerMemory()
    calls: list[int] = []

    def missing() -> str:
        calls.append(1)
        raise NotFound("gone")

    for _ in range(2):
        with pytest.raises(NotFound):
            memory.remembered("k", str, missing)
    assert len(calls) == 2


def test_a_full_memory_starts_over(clock: Clock) -> None:
    memory = WorkerMemory(max_entries=3)
    for key in range(3):
        memory.put(key, key)
    memory.put("one more", 4)
    assert memory.get(0) is None and memory.get("one more") == 4


@pytest.fixture
def two_workers(settings: Settings) -> Any:
    """Two web workers' services over one database (SQLite, or PostgreSQL when marked)."""
    first = BadgeService(settings)
    first.upgrade()
    second = BadgeService(settings)
    yield first, second
    first.engine.dispose()
    second.engine.dispose()


def test_a_course_items_content_shows_a_change_by_another_worker_within_the_lifetime(
    two_workers: tuple[BadgeService, BadgeService], clock: Clock
) -> None:
    first, second = two_workers
    world = make_world(first)
    assert first.catalogue.recent_activity(world.activity).title == "Fotografeer je wijk"
    assert first.catalogue.recent_achievement_json(world.photo)["name"] == "Stadsfotograaf"

    second.catalogue.update_activity(world.activity, title="Fotografeer je straat")
    second.catalogue.update_achievement(world.photo, name="Straatfotograaf")
    # The other worker's change is not seen yet (the first keeps what it read) ...
    assert first.catalogue.recent_activity(world.activity).title == "Fotografeer je wijk"
    # ... and it is once the memory's lifetime has passed.
    clock.now += WORKER_MEMORY_SECONDS + 0.1
    assert first.catalogue.recent_activity(world.activity).title == "Fotografeer je straat"
    assert first.catalogue.recent_achievement_json(world.photo)["name"] == "Straatfotograaf"


def test_a_change_by_this_worker_shows_at_once(
    two_workers: tuple[BadgeService, BadgeService], clock: Clock
) -> None:
    first, _ = two_workers
    world = make_world(first)
    assert first.catalogue.recent_playlist(world.playlist).title
    first.catalogue.update_playlist(world.playlist, title="Nieuwe route")
    assert first.catalogue.recent_playlist(world.playlist).title == "Nieuwe route"
    first.catalogue.update_activity(world.activity, title="Fotografeer je straat")
    assert first.catalogue.recent_activity(world.activity).title == "Fotografeer je straat"


def test_the_launch_caches_own_writes_keep_what_the_worker_read(
    two_workers: tuple[BadgeService, BadgeService], clock: Clock
) -> None:
    # Every launch writes to the database launch cache; that must not empty the memory.
    first, second = two_workers
    world = make_world(first)
    first.catalogue.recent_activity(world.activity)
    second.catalogue.update_activity(world.activity, title="Fotografeer je straat")
    cache = first.lti.launch_cache
    cache.put("state:abc", {"nonce": "n"}, 60)
    assert cache.take("state:abc") == {"nonce": "n"}
    assert first.catalogue.recent_activity(world.activity).title == "Fotografeer je wijk"
