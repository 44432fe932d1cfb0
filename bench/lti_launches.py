"""Full LTI 1.3 launches per second against gunicorn, and the SQL statements one launch costs.

One launch is what a browser in the LMS does: OIDC login initiation (``GET /lti/login`` → 302 to
the platform) → the platform's authentication (it signs the id_token with RS256 for the nonce
the tool asked for) → ``POST /lti/launch`` (→ 303) → ``GET /lti/session/<id>`` (the launched
page). The platform is the test platform of ``tests/lti_platform.py``: it serves its JWKS over
HTTP (the tool fetches it once and keeps it in the launch cache) and its claims are the ones
the LTI test-suite sends; for the load, its authentication step runs inside the load
generator (the same claims, signed per launch with the platform's 2048-bit RSA key).

The tool runs as in production: ``gunicorn -w 2`` serving ``lti_tool.app:create_app()`` on
PostgreSQL with the launch cache in Redis, and on the embedded default (SQLite, launch cache in
the database). The load generator shares this machine's two cores, so the run also reports
where the CPU went: the tool's gunicorn workers (from ``/proc``), the load generator (the
clients and the platform's signing) and the rest (PostgreSQL, Redis, the kernel).

``python -m bench.lti_launches --help`` runs single configurations; ``make bench`` runs the
standard set.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import insert, select, text

from bench.awards import StatementCounter, database
from core.config import Settings
from core.keys import new_key_encryption_key
from core.service import BadgeService
from core.storage import (
    LearnerIdentifierRecord,
    LearnerRecord,
    LtiContextRecord,
    LtiDeploymentRecord,
    LtiPlatformRecord,
    LtiResourceLinkRecord,
    utcnow,
)

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("BADGEBRIDGE_BENCH_REDIS", "redis://127.0.0.1:6379/0")
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
BENCH_APPLICATION = "badgebridge-bench-lti"
STEPS = ("login", "platform auth", "launch POST", "page GET")
#: Registry sizes: (platforms with one deployment, contexts and resource links each, learners).
SMALL = (1, 1, 100)
LARGE = (1_000, 1_000, 100_000)
#: The people who launch in the load test (each a returning learner, or a teacher).
STUDENTS = 400
TEACHERS = 40
COURSES = 20


# -- the tool's data ------------------------------------------------------------------------


def tool_settings(database_url: str, folder: Path, base_url: str, kek: str) -> Settings:
    return Settings(
        data_dir=folder,
        database_url=database_url,
        base_url=base_url,
        key_encryption_key=kek,
        allow_private_fetch=True,  # the test platform's JWKS is on 127.0.0.1
        fetch_timeout_seconds=5,
    )


def fill_registry(service: BadgeService, platforms: int, links: int, learners: int) -> None:
    """Other schools' registrations, courses, course items and learners, inserted in bulk:
    a launch must not scan any of them."""
    now = utcnow()
    with service.transaction() as session:
        session.execute(
            insert(LtiPlatformRecord),
            [
                {
                    "public_id": str(uuid.uuid4()),
                    "name": f"School {n}",
                    "issuer": f"https://lms{n}.example.nl",
                    "client_id": f"client-{n}",
                    "auth_login_url": f"https://lms{n}.example.nl/auth",
                    "auth_token_url": f"https://lms{n}.example.nl/token",
                    "key_set_url": f"https://lms{n}.example.nl/jwks",
                    "email_trusted": False,
                    "registered_via": "manual",
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(platforms)
            ],
        )
        platform_ids = session.scalars(
            select(LtiPlatformRecord.id).where(LtiPlatformRecord.issuer.like("https://lms%"))
        ).all()
        session.execute(
            insert(LtiDeploymentRecord),
            [{"platform_id": p, "deployment_id": "1", "created_at": now} for p in platform_ids],
        )
        deployments = session.scalars(select(LtiDeploymentRecord.id)).all()
        session.execute(
            insert(LtiContextRecord),
            [
                {
                    "deployment_id": deployments[n % len(deployments)],
                    "context_id": f"course-{n}",
                    "title": f"Course {n}",
                    "types": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(links)
            ],
        )
        session.execute(
            insert(LtiResourceLinkRecord),
            [
                {
                    "deployment_id": deployments[n % len(deployments)],
                    "resource_link_id": f"link-{n}",
                    "title": f"Item {n}",
                    "custom": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(links)
            ],
        )
        public_ids = [str(uuid.uuid4()) for _ in range(learners)]
        for start in range(0, learners, 5000):
            session.execute(
                insert(LearnerRecord),
                [
                    {"public_id": p, "display_name": None, "created_at": now}
                    for p in public_ids[start : start + 5000]
                ],
            )
        ids = dict(session.execute(text("SELECT public_id, id FROM learners")).all())
        for start in range(0, learners, 5000):
            session.execute(
                insert(LearnerIdentifierRecord),
                [
                    {
                        "learner_id": ids[p],
                        "kind": "lms",
                        "platform": f"https://lms{n % max(platforms, 1)}.example.nl|client-1",
                        "value": f"user-{n}",
                        "verified": True,
                        "created_at": now,
                    }
                    for n, p in enumerate(public_ids[start : start + 5000], start)
                ],
            )


def demo_activities(service: BadgeService, count: int) -> list[str]:
    """The demo catalogue (issuers, achievements, activities, some awards); ``count`` of its
    activities' public ids."""
    from core.demo import seed_demo

    seed_demo(service, only_if_empty=False)
    return [a.public_id for a in service.catalogue.search_activities(limit=count)]


def register_test_platform(service: BadgeService, platform: Any, base_url: str) -> Any:
    """Register the test platform with the tool (as an administrator would) and tell the
    platform where the tool is."""
    registration = service.lti.register_platform(
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_login_url=platform.auth_url,
        auth_token_url=platform.token_url,
        key_set_url=platform.jwks_url,
        deployment_ids=platform.deployment_ids,
        name="Bench Moodle",
    )
    platform.set_tool(
        launch_url=f"{base_url}/lti/launch",
        login_url=f"{base_url}/lti/login",
        jwks=lambda: service.lti.tool_jwks(),
    )
    return registration


# -- the platform's side ----------------------------------------------------------------------


@dataclass
class Person:
    """Someone who launches: their login initiation and their id_token claims template."""

    initiation: dict[str, str]
    claims: dict[str, Any]


@dataclass
class PlatformSide:
    """The test platform's authentication step, lean: check the tool's auth request and sign
    the person's claims (the test platform's own, built once) with its current key."""

    platform: Any
    people: list[Person] = field(default_factory=list)

    def answer(self, auth_url: str, person: Person) -> dict[str, str]:
        from tests.lti_platform import encode_jwt

        parts = urlsplit(auth_url)
        if f"{parts.scheme}://{parts.netloc}{parts.path}" != self.platform.auth_url:
            raise RuntimeError(f"the login went to {auth_url}, not to the platform")
        request = {k: v[0] for k, v in parse_qs(parts.query).items()}
        for name, expected in (
            ("client_id", self.platform.client_id),
            ("response_type", "id_token"),
            ("login_hint", person.initiation["login_hint"]),
        ):
            if request.get(name) != expected:
                raise RuntimeError(f"the auth request's {name} is {request.get(name)!r}")
        now = int(time.time())
        claims = {**person.claims, "nonce": request["nonce"], "iat": now, "exp": now + 60}
        header = {"typ": "JWT", "alg": "RS256", "kid": self.platform.signing_key.kid}
        token = encode_jwt(header, claims, self.platform.signing_key)
        return {"id_token": token, "state": request["state"]}


def people_of(
    platform: Any, students: int, teachers: int, courses: int, activities: list[str]
) -> list[Person]:
    """Students and teachers of ``courses`` courses, each with one course item showing one of
    ``activities`` (as deep linking leaves them)."""
    from tests.lti_platform import CourseContext, Launch, instructor, student

    people = []
    for n in range(students + teachers):
        user = student(f"student-{n}") if n < students else instructor(f"teacher-{n}")
        user.email = f"{user.sub}@school.example"  # everyone their own address
        course = n % courses
        launch = Launch(
            user,
            context=CourseContext(id=f"course-{course}", title=f"Burgerschap {course}"),
            resource_link_id=f"item-{course}",
            custom={"activity": activities[course % len(activities)]},
        )
        _, claims = platform.id_token_parts(launch, nonce="")
        initiation = platform.initiation(launch)
        people.append(Person(initiation, claims))
    return people


# -- one launch, over any transport -----------------------------------------------------------

Request = Callable[[str, str, dict[str, str], bytes | None], tuple[int, dict[str, str], bytes]]


class LaunchFailed(RuntimeError):
    """A step did not answer as a launch should."""


def launch_once(request: Request, side: PlatformSide, person: Person) -> list[float]:
    """One full launch; returns the seconds of each of :data:`STEPS`."""
    marks = [time.perf_counter()]
    status, headers, body = request("GET", "/lti/login?" + urlencode(person.initiation), {}, None)
    if status != 302:
        raise LaunchFailed(f"login answered {status}: {body[:300]!r}")
    cookie = headers["set-cookie"].split(";", 1)[0]
    marks.append(time.perf_counter())
    form = side.answer(headers["location"], person)
    marks.append(time.perf_counter())
    status, headers, body = request(
        "POST",
        "/lti/launch",
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        urlencode(form).encode(),
    )
    if status != 303:
        raise LaunchFailed(f"launch answered {status}: {body[:300]!r}")
    marks.append(time.perf_counter())
    status, _, body = request("GET", urlsplit(headers["location"]).path, {}, None)
    if status != 200 or b"<h1" not in body:
        raise LaunchFailed(f"the launched page answered {status}: {body[:300]!r}")
    marks.append(time.perf_counter())
    return [b - a for a, b in itertools.pairwise(marks)]


def http_transport(port: int) -> Request:
    """Requests over one keep-alive connection (reopened when the server closes it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(
        method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    return request


def flask_transport(app: Any) -> Request:
    """Requests through the Flask test client (in-process: SQL counting, profiling)."""
    client = app.test_client(use_cookies=False)

    def request(
        method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        response = client.open(path, method=method, headers=headers, data=body)
        return response.status_code, {k.lower(): v for k, v in response.headers}, response.data

    return request


# -- load generation --------------------------------------------------------------------------


@dataclass
class ClientReport:
    """What one load-generator process measured inside the timed window."""

    launches: list[list[float]]
    errors: list[str]
    cpu_seconds: float


def _client_process(
    port: int,
    side: PlatformSide,
    threads: int,
    window: tuple[float, float],
    seed: int,
    results: Any,
) -> None:
    import threading

    start, end = window
    launches: list[list[float]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def browse(number: int) -> None:
        pick = random.Random(seed * 1000 + number)
        request = http_transport(port)
        while (now := time.monotonic()) < end:
            person = pick.choice(side.people)
            try:
                steps = launch_once(request, side, person)
            except Exception as problem:
                with lock:
                    errors.append(repr(problem)[:300])
                request = http_transport(port)
                continue
            if now >= start and time.monotonic() <= end:
                with lock:
                    launches.append(steps)

    workers = [threading.Thread(target=browse, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(max(0.0, start - time.monotonic()))
    cpu_start = _own_cpu()
    time.sleep(max(0.0, end - time.monotonic()))
    cpu = _own_cpu() - cpu_start
    for worker in workers:
        worker.join()
    results.put(ClientReport(launches, errors[:20], cpu))


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from ``/proc/stat``."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / _TICK, total / _TICK


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def background_load(ours: list[int], seconds: float = 1.0) -> float:
    """Cores busy with other processes than ``ours`` right now (a shared machine makes every
    figure lower)."""
    before, _ = machine_busy()
    ours_before = sum(process_cpu(p) for p in ours)
    time.sleep(seconds)
    after, _ = machine_busy()
    return max(0.0, after - before - (sum(process_cpu(p) for p in ours) - ours_before)) / seconds


def postgres_backends() -> list[int]:
    """The PostgreSQL server processes serving the tool under test."""
    from bench.awards import POSTGRES_URL
    from core.storage import make_engine

    engine = make_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            return list(
                connection.scalars(
                    text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": BENCH_APPLICATION},
                )
            )
    finally:
        engine.dispose()


def pids_named(*names: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in names:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


# -- gunicorn ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


TOOL_APP = "lti_tool.app:create_app()"
FLOOR_APP = "bench.launch_floor:create_app()"


def gunicorn_command(port: int, worker_class: str, threads: int, app: str = TOOL_APP) -> list[str]:
    """The command the bench serves the tool with (the one the admin guide documents)."""
    command = [GUNICORN, "-w", "2", "-k", worker_class]
    if worker_class == "gthread":
        command += ["--threads", str(threads)]
    return [*command, "-b", f"127.0.0.1:{port}", app]


@contextmanager
def gunicorn(
    env: dict[str, str],
    port: int,
    worker_class: str,
    threads: int,
    log_path: Path,
    app: str = TOOL_APP,
) -> Iterator[tuple[subprocess.Popen[bytes], list[int]]]:
    """The tool (or ``app``) under gunicorn (its log in ``log_path``); yields the master
    process and the workers' pids."""
    command = gunicorn_command(port, worker_class, threads, app)
    log = log_path.open("w+b")
    master = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/lti/jwks.json")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if master.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"gunicorn did not start: {log.read()[-3000:].decode()}")
            time.sleep(0.2)
        yield master, children_of(master.pid)
    finally:
        master.send_signal(signal.SIGTERM)
        try:
            master.wait(timeout=20)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()
        log.close()


# -- the load test ----------------------------------------------------------------------------


@dataclass
class LoadResult:
    database: str
    cache: str
    worker_class: str
    clients: int
    seconds: float
    launches: list[list[float]]
    errors: list[str]
    client_cpu: float
    server_cpu: float
    backing_cpu: float
    machine_cpu: float
    #: Cores busy with other work on the machine just before the run (other processes).
    background_cores: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.launches) / self.seconds

    def percentile(self, q: float, step: int | None = None) -> float:
        values = sorted(sum(s) if step is None else s[step] for s in self.launches)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(q * (len(values) - 1)))] * 1000


def load_test(
    database_kind: str,
    cache: str,
    *,
    worker_class: str = "sync",
    threads: int = 4,
    processes: int = 2,
    clients: int = 8,
    seconds: float = 10.0,
    warmup: float = 3.0,
    registry: tuple[int, int, int] = LARGE,
) -> LoadResult:
    """Launches per second with ``clients`` concurrent browsers (in ``processes`` load
    generator processes) against ``gunicorn -w 2``."""
    from tests.lti_platform import TestPlatform

    with tempfile.TemporaryDirectory() as tmp, TestPlatform() as platform:
        folder = Path(tmp)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        kek = new_key_encryption_key()
        with database(database_kind, folder) as url:
            if database_kind == "postgresql":  # names our backends among the server's others
                url += f"&application_name={BENCH_APPLICATION}"
            service = BadgeService(tool_settings(url, folder, base_url, kek))
            service.upgrade()
            fill_registry(service, *registry)
            registration = register_test_platform(service, platform, base_url)
            service.lti.tool_signing_key()  # the first key pair, before two workers race for it
            activities = demo_activities(service, COURSES)
            side = PlatformSide(
                platform, people_of(platform, STUDENTS, TEACHERS, COURSES, activities)
            )
            for person in side.people[:STUDENTS]:  # returning learners
                service.learners.find_or_create(
                    lms_platform=f"{registration.issuer}|{registration.client_id}",
                    lms_user_id=person.claims["sub"],
                    email=person.claims.get("email"),
                    display_name=person.claims.get("name"),
                )
            service.engine.dispose()
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "BADGEBRIDGE_DATA_DIR": str(folder),
                "BADGEBRIDGE_BASE_URL": base_url,
                "BADGEBRIDGE_KEY_ENCRYPTION_KEY": kek,
                "BADGEBRIDGE_FETCH_ALLOW_PRIVATE": "1",
                "PYTHONPATH": str(REPO),
            }
            env.pop("BADGEBRIDGE_REDIS_URL", None)
            if cache == "redis":
                env["BADGEBRIDGE_REDIS_URL"] = REDIS_URL
            log_path = folder / "gunicorn.log"
            with gunicorn(env, port, worker_class, threads, log_path) as (_, workers):
                result = _drive(port, side, workers, processes, clients, seconds, warmup, cache)
            if result.errors:
                log = log_path.read_text(errors="replace")
                first = log.find("Traceback")
                if first >= 0:
                    result.errors.insert(0, log[first : first + 4000])
            return replace(result, database=database_kind, cache=cache, worker_class=worker_class)


def floor_test(
    *,
    worker_class: str = "sync",
    threads: int = 4,
    processes: int = 2,
    clients: int = 8,
    seconds: float = 10.0,
    warmup: float = 3.0,
) -> LoadResult:
    """The same load against :mod:`bench.launch_floor` (the launch's three requests answered
    with no work): the most launches per second gunicorn, Flask and this load generator allow
    on this machine, before any LTI work."""
    from tests.lti_platform import TestPlatform

    with tempfile.TemporaryDirectory() as tmp, TestPlatform() as platform:
        port = free_port()
        platform.set_tool(
            launch_url=f"http://127.0.0.1:{port}/lti/launch",
            login_url=f"http://127.0.0.1:{port}/lti/login",
            jwks=lambda: {"keys": []},
        )
        activities = [f"activity-{n}" for n in range(COURSES)]
        side = PlatformSide(platform, people_of(platform, STUDENTS, TEACHERS, COURSES, activities))
        env = {
            **os.environ,
            "BADGEBRIDGE_FLOOR_AUTH_URL": platform.auth_url,
            "PYTHONPATH": str(REPO),
        }
        log_path = Path(tmp) / "gunicorn.log"
        with gunicorn(env, port, worker_class, threads, log_path, FLOOR_APP) as (_, workers):
            result = _drive(port, side, workers, processes, clients, seconds, warmup, "none")
        return replace(result, database="floor", cache="none", worker_class=worker_class)


def _drive(
    port: int,
    side: PlatformSide,
    workers: list[int],
    processes: int,
    clients: int,
    seconds: float,
    warmup: float,
    cache: str,
) -> LoadResult:
    time.sleep(2.0)  # both workers have booted
    background = background_load(workers)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start = time.monotonic() + warmup + 1.0
    window = (start, start + seconds)
    per_process = [
        clients // processes + (1 if n < clients % processes else 0) for n in range(processes)
    ]
    children = [
        context.Process(
            target=_client_process, args=(port, side, count, window, n, results), daemon=True
        )
        for n, count in enumerate(per_process)
        if count
    ]
    for child in children:
        child.start()
    time.sleep(max(0.0, start - time.monotonic()))
    # Our PostgreSQL backends (by application name) and Redis (shared with anyone else's use).
    backing = postgres_backends() + (pids_named("redis-server") if cache == "redis" else [])
    server_before = sum(process_cpu(p) for p in workers)
    backing_before = {p: process_cpu(p) for p in backing}
    busy_before, _ = machine_busy()
    time.sleep(max(0.0, window[1] - time.monotonic()))
    server_cpu = sum(process_cpu(p) for p in workers) - server_before
    backing_cpu = sum(process_cpu(p) - before for p, before in backing_before.items())
    busy_after, _ = machine_busy()
    reports = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join()
    return LoadResult(
        database="",
        cache="",
        worker_class="",
        clients=clients,
        seconds=seconds,
        launches=[steps for r in reports for steps in r.launches],
        errors=[e for r in reports for e in r.errors],
        client_cpu=sum(r.cpu_seconds for r in reports),
        server_cpu=server_cpu,
        backing_cpu=backing_cpu,
        machine_cpu=busy_after - busy_before,
        background_cores=background,
    )


def print_load(result: LoadResult) -> None:
    n = max(1, len(result.launches))
    per = 1000 / n  # ms per launch from seconds
    cores = os.cpu_count() or 1
    tool_and_data = result.server_cpu + result.backing_cpu
    backing_name = "PostgreSQL+Redis" if result.database == "postgresql" else "Redis"
    if result.cache != "redis" and result.database != "postgresql":
        backing_name = "no database server (SQLite runs in the workers)"
    if result.database == "floor":
        backing_name = "no database or cache (the floor)"
    print(
        f"{result.database:10} {result.cache:8} {result.worker_class:7} {result.clients:3} "
        f"{result.rate:9.0f} {result.percentile(0.5):7.1f} {result.percentile(0.99):7.1f}   "
        + "  ".join(
            f"{result.percentile(0.5, i):5.1f}/{result.percentile(0.99, i):5.1f}"
            for i in range(len(STEPS))
        )
    )
    print(
        f"{'':4}CPU ms per launch: tool (gunicorn workers) {result.server_cpu * per:.2f}, "
        f"load generator (clients + platform signing) {result.client_cpu * per:.2f}, "
        f"{backing_name} "
        f"{result.backing_cpu * per:.2f}; whole machine incl. other processes "
        f"{result.machine_cpu * per:.2f}"
    )
    print(
        f"{'':4}machine {result.machine_cpu / result.seconds / cores:.0%} busy during the run; "
        f"{result.background_cores:.2f} of {cores} cores busy with other work before it; "
        f"the tool and its data stores alone would serve ≈ "
        f"{cores / max(tool_and_data / n, 1e-9):,.0f} launches/s on {cores} cores"
        + (f"\n    {len(result.errors)} errors, e.g. {result.errors[0]}" if result.errors else "")
    )


LOAD_HEADER = (
    f"{'database':10} {'cache':8} {'workers':7} {'cl':>3} {'launch/s':>9} {'p50 ms':>7} "
    f"{'p99 ms':>7}   " + "  ".join(f"{s[:11]:>11}" for s in STEPS)
)


# -- SQL statements per launch ----------------------------------------------------------------


class QueryCounter(StatementCounter):
    """SQL statements without SQLite's explicit ``BEGIN`` (PostgreSQL's is implicit in the
    driver), so both databases are counted alike."""

    def _count(self, *args: Any) -> None:
        if not str(args[2]).lstrip().upper().startswith("BEGIN"):
            self.count += 1


@dataclass
class StatementFigures:
    new_learner: float
    returning: float
    teacher: float


@contextmanager
def in_process_tool(
    database_kind: str, cache: str, registry: tuple[int, int, int]
) -> Iterator[tuple[BadgeService, Any, Any]]:
    """The tool in this process with the registry filled and the test platform registered:
    yields its service, its Flask app and the platform."""
    from lti_tool.app import create_app
    from tests.lti_platform import TestPlatform

    base_url = "https://badges.bench"
    with tempfile.TemporaryDirectory() as tmp, TestPlatform() as platform:
        folder = Path(tmp)
        with database(database_kind, folder) as url:
            service = BadgeService(tool_settings(url, folder, base_url, new_key_encryption_key()))
            service.upgrade()
            fill_registry(service, *registry)
            register_test_platform(service, platform, base_url)
            if cache == "redis":
                from core.lti_registry import RedisLaunchCache

                service.lti.use_launch_cache(RedisLaunchCache(REDIS_URL))
            try:
                yield service, create_app(service=service), platform
            finally:
                service.engine.dispose()


def statements_per_launch(
    database_kind: str, cache: str, registry: tuple[int, int, int]
) -> StatementFigures:
    """SQL statements of one launch (all four steps), in process, with the registry filled."""
    with in_process_tool(database_kind, cache, registry) as (service, app, platform):
        side = PlatformSide(platform, people_of(platform, 6, 2, 2, demo_activities(service, 2)))
        request = flask_transport(app)
        counter = QueryCounter(service.engine)

        def count(person: Person) -> int:
            before = counter.count
            launch_once(request, side, person)
            return counter.count - before

        for teacher in side.people[6:8]:  # the courses exist, the platform's keys are read
            launch_once(request, side, teacher)
        first = [count(p) for p in side.people[:4]]
        again = [count(p) for p in side.people[:4]]
        teachers = [count(p) for p in side.people[6:8]]
        return StatementFigures(
            statistics.median(first), statistics.median(again), statistics.median(teachers)
        )


def print_statements() -> None:
    print(
        "\nSQL statements per full LTI launch (login → launch → page), in process; registry "
        "= other platforms / courses and items / learners"
    )
    header = (
        f"{'database':10} {'launch cache':12} {'registry':>23} {'new learner':>11} "
        f"{'returning':>9} {'teacher':>7}"
    )
    print(header)
    print("-" * len(header))
    for kind, cache in (
        ("sqlite", "database"),
        ("postgresql", "database"),
        ("postgresql", "redis"),
    ):
        for size in (SMALL, LARGE):
            figures = statements_per_launch(kind, cache, size)
            registry = f"{size[0]:,} / {size[1]:,} / {size[2]:,}"
            print(
                f"{kind:10} {cache:12} {registry:>23} {figures.new_learner:11.0f} "
                f"{figures.returning:9.0f} {figures.teacher:7.0f}"
            )


# -- where a launch's CPU goes ----------------------------------------------------------------

#: The parts of a launch timed by :func:`cpu_per_part`: (module, attribute, what it does).
LAUNCH_PARTS = (
    ("lti_tool.lti.hardened", "HardenedOIDCLogin.redirect", "login: state kept, redirect"),
    (
        "lti_tool.lti.hardened",
        "HardenedMessageLaunch.validate",
        "launch: id_token validated (pylti1p3 with our checks)",
    ),
    (
        "lti_tool.lti.views",
        "start_session",
        "launch: course, item, learner, placement recorded; session kept",
    ),
    ("lti_tool.lti.views", "load_session", "page: launch session read"),
    ("lti_tool.lti.student", "item_page", "page: the learner's state and the item's content"),
    ("lti_tool.lti.student", "render_template", "page: template rendered (Jinja, translations)"),
)


@contextmanager
def _timing_parts() -> Iterator[dict[str, float]]:
    """Process CPU seconds spent in each of :data:`LAUNCH_PARTS` while inside."""
    import functools
    import importlib

    spent: dict[str, float] = {}
    restore = []
    for module_name, path, label in LAUNCH_PARTS:
        owner: Any = importlib.import_module(module_name)
        *owners, name = path.split(".")
        for part in owners:
            owner = getattr(owner, part)
        original = getattr(owner, name)

        def timed(*args: Any, _original: Any = original, _label: str = label, **kw: Any) -> Any:
            start = time.process_time()
            try:
                return _original(*args, **kw)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.process_time() - start

        setattr(owner, name, functools.wraps(original)(timed))
        restore.append((owner, name, original))
    try:
        yield spent
    finally:
        for owner, name, original in restore:
            setattr(owner, name, original)


def cpu_per_part(launches: int = 300, rounds: int = 3) -> tuple[float, dict[str, float]]:
    """CPU ms of one returning student's launch in process (PostgreSQL, launch cache in
    Redis), in all and per part of :data:`LAUNCH_PARTS`; the best of ``rounds``. "In all"
    includes the Flask test client and the platform's signing."""
    with in_process_tool("postgresql", "redis", SMALL) as (service, app, platform):
        side = PlatformSide(platform, people_of(platform, 40, 4, 4, demo_activities(service, 4)))
        request = flask_transport(app)
        students = side.people[:40]
        for person in side.people * 2:  # learners, courses and keys known; caches warm
            launch_once(request, side, person)
        best: tuple[float, dict[str, float]] | None = None
        for _ in range(rounds):
            with _timing_parts() as spent:
                start = time.process_time()
                for n in range(launches):
                    launch_once(request, side, students[n % len(students)])
                total = (time.process_time() - start) / launches * 1000
            parts = {k: v / launches * 1000 for k, v in spent.items()}
            if best is None or total < best[0]:
                best = (total, parts)
    assert best is not None
    return best


def print_parts() -> None:
    total, parts = cpu_per_part()
    print(
        f"\nCPU per returning student's launch, in process (PostgreSQL + Redis): {total:.2f} ms "
        "in all (with the Flask test client and the platform's signing)"
    )
    for label, spent in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"  {spent:5.2f} ms  {label}")


# -- make bench ----------------------------------------------------------------------------


def main() -> None:
    """The standard set: PostgreSQL + Redis and SQLite + database cache under gunicorn, then
    the SQL statement counts."""
    print(
        "\nFull LTI 1.3 launches (login → platform auth → POST launch → 303 → launched page), "
        f"gunicorn -w 2 on {os.cpu_count()} cores, registry of {LARGE[0]:,} platforms and "
        f"{LARGE[2]:,} learners; latencies in ms, steps p50/p99"
    )
    print(LOAD_HEADER)
    print("-" * len(LOAD_HEADER))
    for kind, cache in (("postgresql", "redis"), ("sqlite", "database")):
        # sync workers (the guide's choice) and gthread workers, to show why
        for worker_class in ("sync", "gthread"):
            print_load(load_test(kind, cache, worker_class=worker_class))
    print(
        "\nThe floor: the same load against a Flask app answering the three requests with no "
        "work (bench/launch_floor.py)"
    )
    for worker_class in ("sync", "gthread"):
        print_load(floor_test(worker_class=worker_class))
    print_parts()
    print_statements()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--cache", choices=["redis", "database"], default="redis")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument("--clients", type=int, default=8, help="concurrent browsers")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--small", action="store_true", help="a registry of one of each")
    parser.add_argument("--statements", action="store_true", help="only the SQL counts")
    parser.add_argument("--parts", action="store_true", help="CPU per part of a launch, in process")
    parser.add_argument(
        "--floor", action="store_true", help="a do-nothing app instead of the tool (the floor)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    if arguments.statements:
        print_statements()
    elif arguments.parts:
        print_parts()
    elif arguments.floor:
        print(LOAD_HEADER)
        print_load(
            floor_test(
                worker_class=arguments.worker_class,
                threads=arguments.threads,
                processes=arguments.processes,
                clients=arguments.clients,
                seconds=arguments.seconds,
            )
        )
    else:
        print(LOAD_HEADER)
        print_load(
            load_test(
                arguments.database,
                arguments.cache,
                worker_class=arguments.worker_class,
                threads=arguments.threads,
                processes=arguments.processes,
                clients=arguments.clients,
                seconds=arguments.seconds,
                registry=SMALL if arguments.small else LARGE,
            )
        )
