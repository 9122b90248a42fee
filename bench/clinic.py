"""The clinic web app under load: every page of a clinic day, on SQLite and PostgreSQL.

The real app (``itp clinic serve``, 2 uvicorn workers) runs in a subprocess on a loopback port
over a fresh database seeded with ``seed_bulk``: a SQLite file in a temporary folder, or a
database on a throwaway PostgreSQL server (tests/support/postgres.py). Simulated clinicians,
each signed in with their own session, send requests back to back (no think time: the worst
case for latency), for a bounded number of requests or seconds per phase. The daily path:

- dashboard ``GET /``; patient list ``GET /patients?offset=…``; patient search
  ``GET /patients?q=…`` (an exact MRN or part of a surname, in turn);
- chart ``GET /patients/{id}`` (each read writes an audit entry) and its two charts
  ``reservoir.svg`` and ``doses.svg``;
- program editor ``GET …/program``; refill wizard ``GET …/refill``; its preview ``POST
  …/refills/preview``; refill save as the wizard does it (the refill it follows and the preview
  first, untimed, then the save, timed alone; one in 25 an INVESTIGATE co-signed, its
  password checked: those saves are a figure of their own, "refill save, co-signed");
- refill calendar ``GET /calendar`` (counts) and a day's list ``GET /calendar/{day}``;
- statistics ``GET /outcomes``; and, outside the daily path, the patient report PDF.

Configurations (issue 11, item 11): 20 users and 1 user on 10,000 patients / 300,000 refills;
1 user on 50,000 patients / 1,500,000 refills; 20 users on the 50-patient demo clinic (what the
size of the clinic costs, SQLite only). The practice PDF (``GET /outcomes/report.pdf``) is timed
alone, one request at a time, on the 10,000-patient clinic.

Goals (issue 11), printed beside each figure: every daily-path page p95 under 150 ms with 20
users on 10,000 patients, and under 50 ms for one user on 50,000 patients, on both databases;
the practice PDF under 2 s. Figures before this work (issue 11, measured one user at a time on
50,000 patients): calendar 433 ms (42,000 rows, 1.9 MB), patient search 50 ms, dashboard 81 ms,
chart SVGs 75-300 ms, patient PDF 0.5 s, practice PDF 1 s alone and 5-7 s under load.
Results are printed and written to bench/results/clinic.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy import func, insert, select

from intrathecal.store.db import open_database
from intrathecal.store.models import OutcomeSummary, Patient, Stage
from intrathecal.store.seed import seed_bulk, seed_demo
from intrathecal.web.app import WORKER_THREADS

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/clinic.py`: tests.support, bench.outcomes
    sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "clinic.json"
USERS = 20
GOAL_P95_MS = 150.0  # 20 users, 10,000 patients, daily path
GOAL_ALONE_P95_MS = 50.0  # 1 user, 50,000 patients, daily path
GOAL_PRACTICE_PDF_MS = 2000.0
PHASE_LIMIT_S = 8.0  # a phase stops after this long even if requests remain
# Requests per user in each phase with 20 users (x3 for one user alone).
PER_USER = {
    "dashboard": 30,
    "patient list": 20,
    "patient search": 20,
    "chart": 20,
    "reservoir chart": 20,
    "doses chart": 20,
    "editor": 16,
    "wizard": 16,
    "calendar": 20,
    "calendar day": 20,
    "statistics": 20,
    "patient pdf": 3,
    "refill preview": 16,
    "refill save": 16,
}
DAILY_PATH = [e for e in PER_USER if e != "patient pdf"]
# The refill saves (1 in 25) over INVESTIGATE co-signed by a physician, whose password is checked
# (argon2id): timed within the refill-save phase, reported apart, shown without the page goal.
COSIGNED = "refill save, co-signed"
USERNAME, PASSWORD = "nurse", "quiet-meadow-compass-27"  # a demo account (refills and charts)


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: bytes  # a page, JSON or a PDF

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One simulated user's connection to the app. The users share the machine's two cores with
    the app, so their client must cost little: aiohttp takes about 0.2 ms of CPU a request,
    httpx (which this bench used before) 1.5 ms, a share of the cores the app then lacked."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def get(self, path: str) -> Answer:
        async with self._session.get(path) as answer:
            return Answer(answer.status, await answer.read())

    async def post(self, path: str, json: Any) -> Answer:
        async with self._session.post(path, json=json) as answer:
            return Answer(answer.status, await answer.read())


@asynccontextmanager
async def connect(
    base: str, token: str | None = None, timeout: float = 60
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    limit = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(base, headers=headers, timeout=limit) as session:
        yield Client(session)


@dataclass(frozen=True)
class Timed:
    """A request whose own steps are timed, not the set-up before them (refill save)."""

    response: Answer
    seconds: float
    # Counted apart, as a figure of its own (a co-signed refill save: its password check).
    apart: str | None = None


Request = Callable[[Client, int], Awaitable[Answer | Timed]]


@dataclass(frozen=True)
class Phase:
    endpoint: str
    clinic: str
    users: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    max_ms: float


@dataclass(frozen=True)
class Seeded:
    patients: list[int]  # implanted patients (charts, refills)
    mrns: list[str]  # a sample, for exact-MRN searches
    surnames: list[str]  # a sample of name parts, for name searches
    total: int


def seed(url: str, large: bool, now: datetime, size: tuple[int, int]) -> Seeded:
    """Seed the clinic; its implanted patients and a sample of what is searched for."""
    engine, sessions = open_database(url)
    with sessions.begin() as session:
        if large:
            seed_bulk(session, patients=size[0], refills_total=size[1], now=now)
            # A registry as full as the clinic: every patient's questionnaires counted by the
            # statistics page and the practice PDF (bench/outcomes.py); the bulk seed has none.
            from bench.outcomes import summary_table_rows

            ids = session.execute(select(Patient.id).order_by(Patient.id)).scalars().all()
            start = (now - timedelta(days=900)).date()
            rows = summary_table_rows(ids, random.Random(len(ids)), start)
            session.execute(insert(OutcomeSummary), rows)
        else:
            seed_demo(session, patients=50, now=now)
    # Planner statistics and visibility map as a clinic's PostgreSQL has them: autovacuum
    # catches up after a burst of changes within minutes, and a bulk load outruns it. (SQLite
    # gathers none unless asked, and the app does not ask: measured as a clinic runs it.)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")  # not inside a transaction
    with sessions() as session:
        ids = list(
            session.execute(
                select(Patient.id).where(Patient.stage == Stage.IMPLANTED.value)
            ).scalars()
        )
        sample = session.execute(select(Patient.mrn, Patient.name).limit(500)).all()
        total = session.execute(select(func.count()).select_from(Patient)).scalar_one()
    engine.dispose()
    surnames = sorted({name.split()[-1][:5] for _, name in sample})
    return Seeded(ids, [mrn for mrn, _ in sample], surnames, int(total))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(url: str, workers: int) -> Iterator[str]:
    """The app served on ``url``'s database on a loopback port; stopped on exit."""
    port = free_port()
    # `itp clinic serve`: uvicorn, as a clinic would run it (see intrathecal/web/serve.py).
    command = [sys.executable, "-m", "intrathecal.cli.main", "clinic", "serve"]
    command += ["--database", url, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    env = dict(os.environ)
    env.pop("ITP_PUMP_HOST", None)  # values typed in; no pump server in the benchmark
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {server.returncode}")
            try:
                if httpx.get(f"{base}/sign-in", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not answer within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGINT)  # uvicorn's supervisor stops its workers on it
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def sign_in(base: str, users: int) -> list[str]:
    """One session per simulated user (Bearer tokens: pages and API accept them)."""
    tokens = []
    async with connect(base, timeout=30) as client:
        for _ in range(users):
            answer = await client.post(
                "/api/v1/auth/sign-in", json={"username": USERNAME, "password": PASSWORD}
            )
            if answer.status_code != 200:
                raise RuntimeError(f"sign-in: {answer.status_code} {answer.text[:200]}")
            tokens.append(answer.json()["token"])
    return tokens


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


async def run_phase(
    base: str,
    tokens: list[str],
    endpoint: str,
    clinic: str,
    request: Request,
    expected: int,
    per_user: int,
) -> list[Phase]:
    """The endpoint's phase, and one more for each kind of request timed apart in it."""
    latencies: dict[str, list[float]] = {endpoint: []}
    errors = 0
    # Every user connects with one request first (not measured): the clock starts when all are
    # connected, so the phase measures the steady state, not twenty connections opening at once.
    connected = asyncio.Barrier(len(tokens) + 1)
    deadline = float("inf")

    async def user(index: int) -> None:
        nonlocal errors
        async with connect(base, tokens[index]) as client:
            await request(client, index)
            await connected.wait()
            for _ in range(per_user):
                if time.perf_counter() > deadline:
                    return
                start = time.perf_counter()
                answer = await request(client, index)
                elapsed, kind = time.perf_counter() - start, endpoint
                if isinstance(answer, Timed):
                    elapsed, kind, answer = answer.seconds, answer.apart or kind, answer.response
                latencies.setdefault(kind, []).append(elapsed)
                if answer.status_code != expected:
                    errors += 1
                    if errors == 1:
                        print(f"  {endpoint}: {answer.status_code} {answer.text[:200]}")

    users = [asyncio.create_task(user(i)) for i in range(len(tokens))]
    await connected.wait()
    start = time.perf_counter()
    deadline = start + PHASE_LIMIT_S
    await asyncio.gather(*users)
    seconds = time.perf_counter() - start
    return [
        Phase(
            endpoint=kind,
            clinic=clinic,
            users=len(tokens),
            requests=len(timed),
            errors=errors if kind == endpoint else 0,
            seconds=seconds,
            rps=len(timed) / seconds,
            p50_ms=statistics.median(timed) * 1000,
            p95_ms=percentile(timed, 0.95) * 1000,
            max_ms=max(timed) * 1000,
        )
        for kind, timed in latencies.items()
        if timed
    ]


def requests_for(clinic: Seeded, seed: int, days: list[str]) -> dict[str, tuple[Request, int]]:
    """Each endpoint's request (with its expected status); ``days`` are the calendar's booked
    days (read from the calendar page at warm-up)."""
    rng = random.Random(seed)
    patients = clinic.patients
    # Refills go to patients in turn, so two users rarely refill the same patient at once.
    refill_order = iter(rng.sample(patients, len(patients)) * 100)
    searches = iter(
        [q for pair in zip(clinic.mrns, clinic.surnames * 100, strict=False) for q in pair] * 100
    )

    def get(path: Callable[[], str]) -> Request:
        async def request(client: Client, _: int) -> Answer:
            return await client.get(path())

        return request

    def patient() -> int:
        return rng.choice(patients)

    async def preview(client: Client, _: int) -> Answer:
        # The wizard's preview page: the expected residual and the reconciliation.
        return await client.post(
            f"/api/v1/patients/{next(refill_order)}/refills/preview",
            json={"fill": "20 mL", "withdrawn": "0 mL"},
        )

    async def refill(client: Client, _: int) -> Timed:
        # A refill as the wizard does it: the last refill (the one this follows) and the
        # preview (the expected residual) are the pages before; the save, timed alone, is the
        # page the nurse waits on after pressing Save. The residual withdrawn is within 0.1 mL
        # of the expected; one refill in 25 is 2.5 mL short (as in the demo seed), an
        # INVESTIGATE saved with a reason and a physician's co-signature (its password is
        # checked).
        pid = next(refill_order)
        last = await client.get(f"/api/v1/patients/{pid}/refills?limit=1")
        items = last.json()["items"] if last.status_code == 200 else []
        preview = await client.post(
            f"/api/v1/patients/{pid}/refills/preview", json={"fill": "20 mL", "withdrawn": "0 mL"}
        )
        rec = preview.json().get("reconciliation") if preview.status_code == 200 else None
        expected = float(rec["expected_ml"]) if rec else 5.0
        # Within the reservoir (the last fill: 20 or 40 mL): a patient refilled again a minute
        # later has about the last fill left.
        last_fill = float(rec["filled_ml"]) if rec else 20.0
        withdrawn = min(max(expected + rng.gauss(0, 0.05), 0.0), last_fill)
        body: dict[str, Any] = {
            "fill": "20 mL",
            "follows_refill_id": items[0]["id"] if items else None,
        }
        cosigned = rng.random() < 0.04
        if cosigned:
            withdrawn = max(expected - 2.5, 0.0)
            body |= {
                "investigate_reason": "benchmark: needle position confirmed",
                "cosigner": "physician",  # the demo physician co-signs
                "cosigner_password": "amber-harbor-lantern-51",
            }
        body["withdrawn"] = f"{withdrawn:.2f} mL"
        start = time.perf_counter()
        saved = await client.post(f"/api/v1/patients/{pid}/refills", json=body)
        # A co-signed save checks a password (argon2id, about 0.1 s of CPU by design, as a
        # sign-in does): its own figure, so the save's p95 is not the ordinary saves' p99.
        return Timed(saved, time.perf_counter() - start, COSIGNED if cosigned else None)

    pages = max(clinic.total // 50, 1)
    return {
        "dashboard": (get(lambda: "/"), 200),
        "patient list": (
            get(lambda: f"/patients?offset={50 * rng.randrange(min(pages, 200))}"),
            200,
        ),
        "patient search": (get(lambda: f"/patients?q={next(searches)}"), 200),
        "chart": (get(lambda: f"/patients/{patient()}"), 200),
        "reservoir chart": (get(lambda: f"/patients/{patient()}/reservoir.svg"), 200),
        "doses chart": (get(lambda: f"/patients/{patient()}/doses.svg"), 200),
        "editor": (get(lambda: f"/patients/{patient()}/program"), 200),
        "wizard": (get(lambda: f"/patients/{patient()}/refill"), 200),
        "calendar": (get(lambda: "/calendar"), 200),
        "calendar day": (get(lambda: f"/calendar/{rng.choice(days)}"), 200),
        "statistics": (get(lambda: "/outcomes"), 200),
        "patient pdf": (get(lambda: f"/patients/{patient()}/report.pdf"), 200),
        "refill preview": (preview, 200),
        "refill save": (refill, 201),
    }


async def booked_days(base: str, token: str) -> list[str]:
    """The calendar's days with refills booked (a day's list is what the bench asks for)."""
    async with connect(base, token) as client:
        page = await client.get("/calendar")
    found = re.findall(r'href="/calendar/(\d{4}-\d\d-\d\d)"', page.text)
    return found or ["urgent"]


async def practice_pdf(base: str, token: str, clinic: str, times: int = 3) -> Phase:
    """The practice PDF alone: ``times`` requests one after the other."""
    latencies = []
    errors = 0
    async with connect(base, token, timeout=120) as client:
        await client.get("/outcomes/report.pdf")  # warm: fonts, templates
        start = time.perf_counter()
        for _ in range(times):
            began = time.perf_counter()
            answer = await client.get("/outcomes/report.pdf")
            latencies.append(time.perf_counter() - began)
            errors += answer.status_code != 200
        seconds = time.perf_counter() - start
    return Phase(
        endpoint="practice pdf",
        clinic=clinic,
        users=1,
        requests=times,
        errors=errors,
        seconds=seconds,
        rps=times / seconds,
        p50_ms=statistics.median(latencies) * 1000,
        p95_ms=percentile(latencies, 0.95) * 1000,
        max_ms=max(latencies) * 1000,
    )


async def drive(
    base: str, clinic: str, seeded: Seeded, users_list: list[int], endpoints: list[str]
) -> list[Phase]:
    tokens = await sign_in(base, max(users_list))
    days = await booked_days(base, tokens[0])
    calls = requests_for(seeded, seed=20260105, days=days)
    # Warm-up: templates compiled, the library loaded, database pages cached.
    async with connect(base, tokens[0]) as client:
        for endpoint in endpoints:
            for _ in range(3):
                await calls[endpoint][0](client, 0)
    phases = []
    for users in users_list:
        for endpoint in endpoints:
            request, expected = calls[endpoint]
            per_user = PER_USER[endpoint] * (3 if users == 1 else 1)
            for phase in await run_phase(
                base, tokens[:users], endpoint, clinic, request, expected, per_user
            ):
                goal = goal_for(phase)
                print(
                    f"  {phase.endpoint:<15} {clinic:<28} {users:>2} users: "
                    f"{phase.requests:>4} requests, {phase.rps:7.1f}/s, "
                    f"p50 {phase.p50_ms:6.1f} ms, p95 {phase.p95_ms:6.1f} ms"
                    + (f" (goal {goal:.0f} ms)" if goal else "")
                    + (f", {phase.errors} ERRORS" if phase.errors else "")
                )
                phases.append(phase)
    return phases


def goal_for(phase: Phase) -> float | None:
    """The p95 goal this phase is held to (ms), or None."""
    if phase.endpoint == "practice pdf":
        return GOAL_PRACTICE_PDF_MS
    if phase.endpoint not in DAILY_PATH:
        return None
    if phase.users == USERS and phase.clinic.startswith(LARGE):
        return GOAL_P95_MS
    if phase.users == 1 and phase.clinic.startswith(LARGEST):
        return GOAL_ALONE_P95_MS
    return None


def machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "load_average_at_end": os.getloadavg(),  # other work on the machine during the run
        "cpus": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def find(phases: list[Phase], endpoint: str, clinic: str, users: int) -> Phase | None:
    return next(
        (p for p in phases if p.endpoint == endpoint and p.clinic == clinic and p.users == users),
        None,
    )


LARGE, LARGEST, SMALL = "10,000 / 300,000", "50,000 / 1,500,000", "50-patient demo"


def database(backend: str, folder: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / (name + '.db')}"
    from tests.support.postgres import postgres_url

    url = postgres_url()
    if url is None:
        raise SystemExit("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin)")
    return url


def run_backend(
    backend: str, args: argparse.Namespace, folder: Path
) -> tuple[list[Phase], dict[str, float]]:
    now = datetime.now(UTC)  # the served app reads the real clock; the seed is laid out to it
    phases: list[Phase] = []
    timings: dict[str, float] = {}
    sizes = {
        LARGE: (args.patients, args.refills),
        LARGEST: (args.largest_patients, args.largest_refills),
        SMALL: (50, 0),
    }
    plan = [(LARGE, [USERS, 1])]
    if args.largest_patients:
        plan.append((LARGEST, [1]))
    if backend == "sqlite" and not args.no_small:
        plan.append((SMALL, [USERS]))
    endpoints = args.endpoints or list(PER_USER)
    for size, users_list in plan:
        clinic = f"{size} {backend}"
        url = database(backend, folder, size.split()[0].replace(",", ""))
        start = time.perf_counter()
        seeded = seed(url, size != SMALL, now, sizes[size])
        timings[f"seed {clinic}"] = time.perf_counter() - start
        print(f"{clinic}: seeded {seeded.total} patients in {timings[f'seed {clinic}']:.1f} s")
        with serve(url, args.workers) as base:
            phases += asyncio.run(drive(base, clinic, seeded, users_list, endpoints))
            if size == LARGE:
                phase = asyncio.run(pdf_alone(base, clinic))
                print(f"  practice pdf alone: p50 {phase.p50_ms:.0f} ms, max {phase.max_ms:.0f} ms")
                phases.append(phase)
    return phases, timings


async def pdf_alone(base: str, clinic: str) -> Phase:
    (token,) = await sign_in(base, 1)
    return await practice_pdf(base, token, clinic)


def verdicts(phases: list[Phase]) -> list[dict[str, Any]]:
    rows = []
    for p in phases:
        goal = goal_for(p)
        if goal is not None:
            met = p.p95_ms < goal and p.errors == 0
            rows.append(
                {
                    "endpoint": p.endpoint,
                    "clinic": p.clinic,
                    "users": p.users,
                    "p95_ms": round(p.p95_ms, 1),
                    "goal_ms": goal,
                    "met": met,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    # A smaller clinic checks that the bench runs; its figures are not written.
    parser.add_argument("--patients", type=int, default=10_000, help="large clinic's patients")
    parser.add_argument("--refills", type=int, default=300_000, help="large clinic's refills")
    parser.add_argument("--largest-patients", type=int, default=50_000, help="0: no such phase")
    parser.add_argument("--largest-refills", type=int, default=1_500_000)
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--no-small", action="store_true", help="no 50-patient baseline")
    parser.add_argument("--endpoints", nargs="*", help="only these (default: all)")
    args = parser.parse_args()
    full = (args.patients, args.refills, args.largest_patients) == (10_000, 300_000, 50_000)
    full = full and not args.endpoints
    phases: list[Phase] = []
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="itp-bench-") as folder:
        for backend in args.backends.split(","):
            got, took = run_backend(backend.strip(), args, Path(folder))
            phases += got
            timings |= took
    ratios: dict[str, dict[str, float]] = {}
    for backend in args.backends.split(","):
        for endpoint in PER_USER:
            big = find(phases, endpoint, f"{LARGE} {backend}", USERS)
            alone = find(phases, endpoint, f"{LARGE} {backend}", 1)
            largest = find(phases, endpoint, f"{LARGEST} {backend}", 1)
            little = find(phases, endpoint, f"{SMALL} {backend}", USERS)
            r: dict[str, float] = {}
            if big and alone:
                r["p95_20_users_over_1_user"] = big.p95_ms / alone.p95_ms
                r["rps_20_users_over_1_user"] = big.rps / alone.rps
            if largest and alone:
                r["p95_50k_over_10k_alone"] = largest.p95_ms / alone.p95_ms
            if big and little:
                r["p95_large_over_small_clinic"] = big.p95_ms / little.p95_ms
            ratios[f"{endpoint} {backend}"] = r
    goals = verdicts(phases)
    print()
    print(
        f"{'endpoint':<15} {'clinic':<28} {'users':>5} {'rps':>7} {'p50 ms':>7} {'p95 ms':>7} goal"
    )
    for p in phases:
        goal = goal_for(p)
        mark = (
            ""
            if goal is None
            else f"{goal:.0f} {'met' if p.p95_ms < goal and not p.errors else 'NOT met'}"
        )
        print(
            f"{p.endpoint:<15} {p.clinic:<28} {p.users:>5} {p.rps:>7.1f} {p.p50_ms:>7.1f} "
            f"{p.p95_ms:>7.1f} {mark}"
        )
    missed = [g for g in goals if not g["met"]]
    print(f"\ngoals: {len(goals) - len(missed)} of {len(goals)} met ({args.workers} workers)")
    for g in missed:
        print(
            f"  NOT met: {g['endpoint']} {g['clinic']} {g['users']} users: "
            f"p95 {g['p95_ms']} ms, goal {g['goal_ms']:.0f} ms"
        )
    if not full:
        print("a reduced run: results not written")
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": machine(),
                "server": {
                    "command": "itp clinic serve",
                    "workers": args.workers,
                    "threads_per_worker": WORKER_THREADS,
                    "databases": args.backends,
                },
                "users": USERS,
                "think_time_s": 0,
                "phases": [asdict(p) for p in phases],
                "ratios": ratios,
                "goals": goals,
                "seconds": timings,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
