"""End-to-end benchmarks at several data-set sizes (issue #6): HTTP through gunicorn, the raw SQL
lower bound of every read, the SLA sweep and a survey invitation.

    .venv/bin/python -m bench.run --sizes 10k 1m

For each size the data set is loaded by `generate_dataset` into a database of its own
(`sd_bench_<size>`; reused when it already holds that data set), gunicorn is started on
127.0.0.1 (a free port, DEBUG off, persistent connections, Redis cache and broker) with
`bench.settings` (the project's settings plus the framework-floor view), and every measurement
is a bounded loop (--requests per concurrency level), compared (×F) with the floor: for a read at
concurrency 1 measured in alternation with it, request by request; otherwise just before it at
the same concurrency. Prints a table, the targets (pass/fail) and writes
bench/results/run.json. See bench/README.md.
"""

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.dataset import (
    BENCH_PASSWORD,
    database_conninfo,
    dataset_info,
    ensure_database,
    is_bench_database,
    log,
    setup_django,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "run.json"
PYTHON = sys.executable
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sd_bench_{size}"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"
OPEN = "new,assigned,in_progress,waiting"
MEASUREMENT_BUDGET_S = 25.0  # a slow page gets fewer requests (never fewer than MIN_REQUESTS)
MIN_REQUESTS = 30

# (name, kind) in report order. kind: read (has a raw-SQL twin), write.
MEASUREMENTS = (
    ("floor", "floor"),
    ("api_list", "read"),
    ("api_list_open", "read"),
    ("api_list_breached", "read"),
    ("api_list_deep", "read"),
    ("api_list_search", "read"),
    ("api_list_search_rare", "read"),
    ("api_detail", "read"),
    ("api_events", "read"),
    ("api_metrics_quarter", "read"),
    ("page_queue", "read"),
    ("page_ticket", "read"),
    ("page_dashboard", "read"),
    ("page_dashboard_live", "read"),
    ("api_file", "write"),
    ("api_transition", "write"),
)
LIST_LIKE = (
    "api_list",
    "api_list_open",
    "api_list_breached",
    "api_list_deep",
    "api_list_search",
    "api_list_search_rare",
    "api_detail",
)
# `?search=`: a word in about one title in ten of the generated data, and a word in none
# (every visible ticket read, before the search's index).
COMMON_WORD = "临时需求"
RARE_WORD = "量子计算机"


def parse_size(text: str) -> int:
    text = text.lower()
    factor = {"k": 1000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["10k", "1m"], help="e.g. 10k 1m")
    parser.add_argument("--requests", type=int, default=200, help="per measurement and level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (as compose)")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="{size} is replaced")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--only", nargs="*", help="measure only these names (and the floor)")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-survey", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--one-size", help=argparse.SUPPRESS)  # internal: measure one database
    parser.add_argument("--one-output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 2000:
        parser.error("--requests must be between 1 and 2000")
    if any(not 1 <= c <= 32 for c in args.concurrency):
        parser.error("--concurrency levels must be between 1 and 32")
    return args


# -- Orchestration (one subprocess per size: Django binds one database per process) ---------------


def database_url(template: str, size: str) -> str:
    url = template.format(size=size.lower())
    name = urlsplit(url).path.lstrip("/")
    if not is_bench_database(name):
        raise SystemExit(f"refusing {name!r}: benchmark databases must have 'bench' in the name")
    return url


def manage(url: str, *arguments: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    subprocess.run([PYTHON, "manage.py", *arguments], cwd=ROOT, env=env, check=True)  # noqa: S603


def prepare(url: str, tickets: int) -> dict[str, Any]:
    """The data set of `tickets` tickets in its database, generated only when missing."""
    import psycopg

    ensure_database(url)
    manage(url, "migrate", "--noinput", "-v0")
    with psycopg.connect(database_conninfo(url)) as conn, conn.cursor() as cursor:
        info = dataset_info(cursor)
    if info and info["options"]["tickets"] == tickets:
        log(f"reusing the data set in {urlsplit(url).path[1:]} (generated {info['generated_at']})")
        return info
    log(f"generating {tickets:,} tickets into {urlsplit(url).path[1:]}")
    manage(url, "generate_dataset", "--tickets", str(tickets), "--reset")
    with psycopg.connect(database_conninfo(url)) as conn, conn.cursor() as cursor:
        return dataset_info(cursor) or {}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.one_size:
        return measure_one(args)
    results: dict[str, Any] = {}
    for size in args.sizes:
        url = database_url(args.database_url, size)
        info = prepare(url, parse_size(size))
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = Path(handle.name)
        command = [PYTHON, "-m", "bench.run", "--one-size", url, "--one-output", str(out)]
        command += ["--requests", str(args.requests), "--workers", str(args.workers)]
        command += ["--redis-url", args.redis_url, "--concurrency"]
        command += [str(c) for c in args.concurrency]
        if args.only:
            command += ["--only", *args.only]
        if args.skip_sweep:
            command.append("--skip-sweep")
        if args.skip_survey:
            command.append("--skip-survey")
        log(f"measuring {size}")
        subprocess.run(command, cwd=ROOT, check=True)  # noqa: S603 - our own arguments
        results[size] = json.loads(out.read_text()) | {"dataset": info}
        out.unlink()
    document = report(results, args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    log(f"wrote {args.output}")
    return 0


# -- HTTP -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One request per connection (gunicorn's sync workers close every connection)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers = {**headers, "Content-Type": "application/json"}
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(seconds: list[float], wall: float) -> dict[str, Any]:
    return {
        "n": len(seconds),
        "p50_ms": round(statistics.median(seconds) * 1000, 3),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 3),
        "mean_ms": round(statistics.fmean(seconds) * 1000, 3),
        "throughput_per_s": round(len(seconds) / wall, 1),
    }


def timed_loop(
    call: Callable[[int], None], count: int, concurrency: int, offset: int = 0
) -> dict[str, Any]:
    """`count` calls (indices offset..offset+count-1) by `concurrency` threads, each timed."""

    def one(index: int) -> float:
        started = time.perf_counter()
        call(index)
        return time.perf_counter() - started

    started = time.perf_counter()
    if concurrency == 1:
        seconds = [one(offset + i) for i in range(count)]
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            seconds = list(pool.map(one, range(offset, offset + count)))
    return summary(seconds, time.perf_counter() - started)


# -- One size -------------------------------------------------------------------------------------


class Server:
    def __init__(self, url: str, redis_url: str, workers: int) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DEBUG": "false",
            "CONN_MAX_AGE": "60",  # as docker-compose.yml
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": "sd-bench",
            "THROTTLE_WRITE": "1000000/min",  # the loops file hundreds of tickets a minute
            "LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "servicedesk.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--backlog",
                "256",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        client = Client(self.port)
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _body = client.request("GET", "/healthz", {})
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise SystemExit("gunicorn did not come up")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def people() -> dict[str, Any]:
    """Who the benchmark acts as: an agent and the head of IT (the busiest provider) and an
    employee of another department; tokens for the API and sessions for the pages."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from rest_framework.authtoken.models import Token

    from departments.models import Department, Membership, User
    from tickets.models import Service

    it = Department.objects.get(code="IT")
    head = User.objects.get(memberships__department=it, memberships__role=Membership.Role.HEAD)
    agent = (
        User.objects.filter(memberships__department=it, memberships__role=Membership.Role.AGENT)
        .order_by("pk")
        .first()
    )
    hr = Department.objects.get(code="HR")
    requester = (
        User.objects.filter(department=hr, memberships__role=Membership.Role.MEMBER)
        .order_by("pk")
        .first()
    )
    assert agent and requester and agent.check_password(BENCH_PASSWORD)

    def session(user: User) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return f"sessionid={store.session_key}"

    service = Service.objects.filter(department=it, is_active=True).order_by("pk").first()
    return {
        "it": it.pk,
        "agent": agent,
        "head": head,
        "requester": requester,
        "service": service.pk,
        "agent_token": Token.objects.get_or_create(user=agent)[0].key,
        "requester_token": Token.objects.get_or_create(user=requester)[0].key,
        "agent_cookie": session(agent),
        "head_cookie": session(head),
    }


def last_quarter(now: datetime) -> tuple[datetime, datetime]:
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    first_month = 3 * ((local.month - 1) // 3) + 1
    end = local.replace(month=first_month, day=1, hour=0, minute=0, second=0, microsecond=0)
    start_month = first_month - 3
    start = end.replace(
        year=end.year - (1 if start_month < 1 else 0), month=(start_month - 1) % 12 + 1
    )
    return start, end


def measure_one(args: argparse.Namespace) -> int:
    url = args.one_size
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["CACHE_KEY_PREFIX"] = "sd-bench"
    setup_django(url)
    import psycopg
    from django.db import connection

    from tickets.models import Ticket

    with connection.cursor() as cursor:
        info = dataset_info(cursor.cursor)
    generated_at = datetime.fromisoformat(info["generated_at"])
    # What beat does every minute in production: fold earlier runs' filings into the daily SLA
    # figures (a day with unfolded changes is computed from its tickets on every dashboard read).
    from slas.figures import fold_changes

    fold_changes()
    who = people()
    it = who["it"]
    agent_api = {"Authorization": f"Token {who['agent_token']}", "Accept": "application/json"}
    requester_api = {
        "Authorization": f"Token {who['requester_token']}",
        "Accept": "application/json",
    }
    agent_page = {"Cookie": who["agent_cookie"], "Accept-Language": "zh-hans"}
    head_page = {"Cookie": who["head_cookie"], "Accept-Language": "zh-hans"}
    # A ticket of IT with a full timeline: closed, commented, the newest such.
    sample = (
        Ticket.objects.filter(provider_department_id=it, status="closed")
        .order_by("-created_at", "-id")
        .values("id", "reference")
        .first()
    )
    quarter_from, quarter_to = last_quarter(generated_at)
    metrics_path = "/api/v1/metrics/sla/?" + urlencode(
        {"provider_department": it, "from": quarter_from.isoformat(), "to": quarter_to.isoformat()}
    )
    wanted = set(args.only or []) | {"floor"}

    def on(name: str) -> bool:
        return not args.only or name in wanted

    results: dict[str, Any] = {"http": {}, "sql": {}, "notes": {}}
    server = Server(url, args.redis_url, args.workers)
    client = Client(server.port)
    try:
        # The deep page: follow `next` 50 pages from the first.
        path = "/api/v1/tickets/"
        deep_last = None
        for _page in range(50):
            status, body = client.request("GET", path, agent_api)
            assert status == 200, (status, body[:300])
            page = json.loads(body)
            if not page["next"]:
                break
            deep_last = page["results"][-1]
            path = page["next"].split(f":{server.port}", 1)[-1]
        deep_path = path
        results["notes"]["deep_page"] = {"path": deep_path, "after": deep_last and deep_last["id"]}

        reads = {
            "floor": ("/api/v1/bench/floor/", agent_api),
            "api_list": ("/api/v1/tickets/", agent_api),
            "api_list_open": (
                f"/api/v1/tickets/?provider_department={it}&status={OPEN}",
                agent_api,
            ),
            "api_list_breached": ("/api/v1/tickets/?breached=true", agent_api),
            "api_list_deep": (deep_path, agent_api),
            "api_list_search": (
                "/api/v1/tickets/?" + urlencode({"search": COMMON_WORD}),
                agent_api,
            ),
            "api_list_search_rare": (
                "/api/v1/tickets/?" + urlencode({"search": RARE_WORD}),
                agent_api,
            ),
            "api_detail": (f"/api/v1/tickets/{sample['id']}/", agent_api),
            "api_events": (f"/api/v1/tickets/{sample['id']}/events/", agent_api),
            "api_metrics_quarter": (metrics_path, agent_api),
            "page_queue": ("/queue/", agent_page),
            "page_ticket": (f"/tickets/{sample['reference']}/", agent_page),
            "page_dashboard": (f"/dashboard/?department={it}&period=90d", head_page),
            # The same between two of beat's folds on a busy desk: today changed since the last.
            "page_dashboard_live": (f"/dashboard/?department={it}&period=90d", head_page),
        }
        for name, (path, headers) in reads.items():
            if not on(name):
                continue
            if name == "page_dashboard_live":
                change_today(who)

            def get(_index: int, path: str = path, headers: dict = headers) -> None:
                status, body = client.request("GET", path, headers)
                if status != 200:
                    raise AssertionError(f"{path}: HTTP {status} {body[:300]!r}")

            if name == "floor":
                floor_get = get
            results["http"][name] = run_levels(
                name, get, args, floor=None if name == "floor" else floor_get
            )

        # The lower bounds before the writes: on the data the reads saw (the filings add
        # hundreds of unfolded tickets to today's figures and the newest tickets).
        with psycopg.connect(database_conninfo(url), autocommit=True) as conn:
            results["sql"] = raw_sql(conn, who, sample, deep_last, quarter_from, quarter_to, on)
        if on("api_file") or on("api_transition"):
            results["http"].update(
                writes(client, who, requester_api, agent_api, args, results, floor_get)
            )
    finally:
        server.stop()
    if not args.skip_sweep:
        results["sweep"] = sweep()
    if not args.skip_survey:
        results["survey"] = survey(who)
    results["environment"] = {
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "gunicorn_workers": args.workers,
    }
    flush_broker(args.redis_url)
    args.one_output.write_text(json.dumps(results, default=str))
    return 0


def change_today(who: dict) -> None:
    """A ticket of IT filed now and not folded: its day (today) is counted from its tickets on
    every dashboard read, as it is in production until beat's next fold."""
    from tickets.models import Service
    from tickets.services import file_ticket

    file_ticket(
        requester=who["requester"],
        service=Service.objects.get(pk=who["service"]),
        title="基准：未合并的变更",
        priority="normal",
    )


# Requests of the floor measured just before each measurement (its own F: this machine's speed
# drifts by 2× within minutes, so a floor measured once per size made ratios of chance).
LOCAL_FLOOR_REQUESTS = 100


def local_floor(floor: Callable[[int], None] | None, count: int, concurrency: int) -> dict:
    """The floor's p50 at `concurrency`, measured now ({} without a floor to call)."""
    if floor is None:
        return {}
    cell = timed_loop(floor, min(count, LOCAL_FLOOR_REQUESTS), concurrency)
    return {"floor_p50_ms": cell["p50_ms"]}


def level(
    call: Callable[[int], None],
    floor: Callable[[int], None] | None,
    count: int,
    concurrency: int,
    offset: int = 0,
) -> dict[str, Any]:
    """A read measured at `concurrency` with the floor to compare it with. At concurrency 1 the
    two alternate request by request (each pair in turns of order): this machine's speed drifts
    within seconds, and a floor measured in a block of its own just before was up to a third
    off (bench/README.md). At higher concurrency, blocks: the throughput is the call's alone."""
    if floor is None or concurrency != 1:
        own_floor = local_floor(floor, count, concurrency)
        return timed_loop(call, count, concurrency, offset) | own_floor
    calls: list[float] = []
    floors: list[float] = []
    wall = 0.0
    for index in range(offset, offset + count):
        for measured in (floor, call) if index % 2 else (call, floor):
            started = time.perf_counter()
            measured(index)
            seconds = time.perf_counter() - started
            if measured is call:
                calls.append(seconds)
                wall += seconds
            else:
                floors.append(seconds)
    return summary(calls, wall) | {
        "floor_p50_ms": round(statistics.median(floors) * 1000, 3),
        "floor_interleaved": True,
    }


def run_levels(
    name: str,
    call: Callable[[int], None],
    args: argparse.Namespace,
    floor: Callable[[int], None] | None = None,
) -> dict:
    """Warm up (every worker), size the loop to the time budget, then measure each level (just
    after the floor at that level, when `floor` is given)."""
    warm = timed_loop(call, 6, 3)
    count = args.requests
    if warm["p50_ms"] / 1000 * count > MEASUREMENT_BUDGET_S:
        count = max(MIN_REQUESTS, int(MEASUREMENT_BUDGET_S / (warm["p50_ms"] / 1000)))
    levels = {}
    for concurrency in args.concurrency:
        levels[f"c{concurrency}"] = level(call, floor, count, concurrency)
        log(
            f"  {name:<22} c={concurrency}: p50 {levels[f'c{concurrency}']['p50_ms']:8.1f} ms"
            f"  p95 {levels[f'c{concurrency}']['p95_ms']:8.1f} ms  (n={count})"
        )
    return levels


def writes(
    client: Client,
    who: dict,
    requester_api: dict,
    agent_api: dict,
    args: argparse.Namespace,
    results: dict,
    floor: Callable[[int], None],
) -> dict[str, Any]:
    """File tickets (each verified saved), then move each of them new → in progress; each level
    just after the floor at that level."""
    from tickets.models import Ticket

    run = datetime.now(UTC).strftime("%H%M%S")
    filed: list[int] = []
    failures: list[str] = []

    def file(index: int) -> None:
        status, body = client.request(
            "POST",
            "/api/v1/tickets/",
            requester_api,
            {
                "service": who["service"],
                "title": f"基准 {run} #{index}",
                "description": "由基准测试提交。",
                "priority": "normal",
            },
        )
        if status != 201:
            failures.append(f"{status} {body[:200]!r}")
            return
        filed.append(json.loads(body)["id"])

    out: dict[str, Any] = {}
    file(-1)  # warm-up
    levels = {}
    offset = 0
    for concurrency in args.concurrency:
        before = len(filed)
        # Writes in blocks: the work a write leaves for after its response (its emails'
        # publish) would slow an alternating floor request and flatter the ratio.
        own_floor = local_floor(floor, args.requests, concurrency)
        levels[f"c{concurrency}"] = timed_loop(file, args.requests, concurrency, offset) | own_floor
        offset += args.requests
        ids = filed[before:]
        saved = Ticket.objects.filter(pk__in=ids, title__startswith=f"基准 {run} #").count()
        levels[f"c{concurrency}"]["saved"] = saved
        levels[f"c{concurrency}"]["failed"] = args.requests - len(ids)
        levels[f"c{concurrency}"]["verified"] = saved == args.requests == len(set(ids))
        log(
            f"  {'api_file':<22} c={concurrency}: p50 {levels[f'c{concurrency}']['p50_ms']:8.1f} ms"
            f"  p95 {levels[f'c{concurrency}']['p95_ms']:8.1f} ms  "
            f"{levels[f'c{concurrency}']['throughput_per_s']:.0f}/s, {saved}/{args.requests} saved"
        )
    if failures:
        results["notes"]["file_failures"] = failures[:5]
    out["api_file"] = levels

    targets = list(filed[1:])
    moved: list[int] = []

    def transition(index: int) -> None:
        ticket_id = targets[index]
        status, body = client.request(
            "POST",
            f"/api/v1/tickets/{ticket_id}/transitions/",
            agent_api,
            {"status": "in_progress"},
        )
        if status != 200:
            raise AssertionError(f"transition: HTTP {status} {body[:300]!r}")
        moved.append(ticket_id)

    levels = {}
    offset = 0
    per_level = min(args.requests, len(targets) // max(len(args.concurrency), 1))
    for concurrency in args.concurrency:
        own_floor = local_floor(floor, per_level, concurrency)
        levels[f"c{concurrency}"] = (
            timed_loop(transition, per_level, concurrency, offset) | own_floor
        )
        offset += per_level
        log(
            f"  {'api_transition':<22} c={concurrency}: "
            f"p50 {levels[f'c{concurrency}']['p50_ms']:8.1f} ms"
            f"  p95 {levels[f'c{concurrency}']['p95_ms']:8.1f} ms"
        )
    out["api_transition"] = levels
    return out


# -- Raw SQL lower bounds -------------------------------------------------------------------------

TICKET_ROW = """
    SELECT t.*, s.name AS service_name, pd.name AS provider_name, pd.code AS provider_code,
           rd.name AS requester_department_name, ru.username, ru.first_name, ru.last_name,
           au.username AS assignee_username, au.first_name AS af, au.last_name AS al
    FROM tickets_ticket t
    JOIN tickets_service s ON s.id = t.service_id
    JOIN departments_department pd ON pd.id = t.provider_department_id
    LEFT JOIN departments_department rd ON rd.id = t.requester_department_id
    JOIN departments_user ru ON ru.id = t.requester_id
    LEFT JOIN departments_user au ON au.id = t.assignee_id
"""
VISIBLE = "(t.requester_id = %(me)s OR t.provider_department_id = ANY(%(provided)s))"
MATCH = "(UPPER(t.reference) = UPPER(%({word})s) OR UPPER(t.title) LIKE UPPER(%({word}_like)s))"
INDEXED = (
    "(UPPER(t.reference) = UPPER(%({word})s)"
    " OR ticket_grams(t.title) @> ticket_term_grams(%({word})s))"
)
# The SLA figures `metrics/sla/` and the dashboard read (slas/figures.py, issue #6), for one
# department: the ledger (open tickets now per key and assignee, the days with unfolded changes)
# with the figures' build; the stored day and month rows; the coarse histograms summed, with the
# fine counts of the coarse buckets the median and p90 fall in; and, for a day not yet folded,
# its tickets. Written as a reader without the application's per-process tallies
# (`figures._kept`) reads them: the app, between two changes of a side, reads only the ledger.
FIGURES_LEDGER = """
    SELECT e.side, e.status, e.priority, {assignee}
           (e.ticket_created_at AT TIME ZONE %(zone)s)::date AS day, sum(e.count), count(*),
           b.id, b.folds
    FROM slas_figureledgerentry e {assignee_join}
    LEFT JOIN slas_figuresbuild b ON b.time_zone = %(zone)s AND b.layout = %(layout)s
    WHERE e.department_id = %(dept)s AND e.side IN ({sides})
    GROUP BY e.side, e.status, e.priority, {assignee} day, b.id, b.folds
"""
LEDGER_ASSIGNEE = "e.assignee_id, u.username, u.first_name, u.last_name,"
LEDGER_ASSIGNEE_JOIN = "LEFT JOIN departments_user u ON u.id = e.assignee_id"
# Counts of the rows, per side ({group}: and per week of their day), totals with GROUPING SETS.
FIGURES_COUNTS = """
    SELECT side, {group} sum(tickets), sum(reopened), sum(resolved_once),
           sum(response_measured), sum(response_met), sum(response_breached),
           sum(response_timed), sum(resolution_measured), sum(resolution_met),
           sum(resolution_breached), sum(resolution_timed)
    FROM slas_periodfigures
    WHERE department_id = %(dept)s AND side IN ({sides}) AND {rows}
    GROUP BY {grouping}
"""
WEEK = "day - extract(isodow FROM day)::int + 1 AS week,"  # its Monday
# Per side and clock the coarse buckets (fine bucket null) summed over the rows holding the
# period's histograms ({sign} -1: a stale day's row, taken off its month's), and the fine
# buckets of the coarse buckets holding the ranks the median and p90 interpolate between (the
# ranks among the stored rows: a stale day's tickets, read apart, can move them by a few).
FIGURES_HISTOGRAMS = """
    WITH held AS (
      SELECT id, side, response_coarse, resolution_coarse, {sign} AS sign
      FROM slas_periodfigures
      WHERE department_id = %(dept)s AND side IN ({sides}) AND ({rows})
    ), coarse AS (
      SELECT held.side, h.clock, h.bucket::int AS bucket, sum(held.sign * h.n::int) AS n
      FROM held CROSS JOIN LATERAL (
        SELECT 'response' AS clock, key AS bucket, value AS n
        FROM jsonb_each_text(held.response_coarse)
        UNION ALL
        SELECT 'resolution', key, value FROM jsonb_each_text(held.resolution_coarse)
      ) AS h
      GROUP BY 1, 2, 3
    ), ranked AS (
      SELECT side, clock, bucket, n,
             sum(n) OVER (PARTITION BY side, clock ORDER BY bucket) - n AS below,
             sum(n) OVER (PARTITION BY side, clock) AS timed
      FROM coarse WHERE n <> 0
    ), needed AS (
      SELECT DISTINCT side, clock, bucket
      FROM ranked CROSS JOIN (VALUES (0.5), (0.9)) AS percentile (fraction)
      WHERE below <= ceil(fraction * (timed - 1)) AND floor(fraction * (timed - 1)) < below + n
    )
    SELECT side, clock, bucket, NULL::int AS fine_bucket, n FROM coarse
    UNION ALL
    SELECT needed.side, needed.clock, needed.bucket, fine.key::int, sum(held.sign * fine.value::int)
    FROM needed
    JOIN held ON held.side = needed.side
    JOIN slas_periodfigures f ON f.id = held.id
    CROSS JOIN LATERAL jsonb_each_text(
      CASE needed.clock WHEN 'response' THEN f.response_fine ELSE f.resolution_fine END
      -> ('c' || needed.bucket)
    ) AS fine
    GROUP BY 1, 2, 3, 4
"""
# A day with unfolded changes from its tickets: the department's, per side, with each clock's
# business seconds (the stale day's share of the histograms and percentiles).
STALE_DAY = """
    SELECT s.side, count(*),
      count(*) FILTER (WHERE EXISTS (SELECT 1 FROM tickets_ticketevent e
                                     WHERE e.ticket_id = t.id AND e.kind = 'reopened')),
      count(*) FILTER (WHERE t.resolved_at IS NOT NULL
                       OR EXISTS (SELECT 1 FROM tickets_ticketevent e WHERE e.ticket_id = t.id
                                  AND e.kind IN ('resolved', 'reopened'))),
      count(*) FILTER (WHERE t.response_due_at IS NOT NULL
                       AND (t.first_response_at IS NOT NULL OR t.response_breached)),
      count(*) FILTER (WHERE t.response_due_at IS NOT NULL
                       AND (t.first_response_at IS NOT NULL OR t.response_breached)
                       AND t.first_response_at <= t.response_due_at),
      count(*) FILTER (WHERE t.response_due_at IS NOT NULL AND t.response_breached),
      array_agg(t.response_business_seconds) FILTER (
        WHERE t.response_business_seconds IS NOT NULL),
      count(*) FILTER (WHERE t.resolution_due_at IS NOT NULL
                       AND (t.resolved_at IS NOT NULL OR t.resolution_breached)),
      count(*) FILTER (WHERE t.resolution_due_at IS NOT NULL
                       AND (t.resolved_at IS NOT NULL OR t.resolution_breached)
                       AND t.resolved_at <= t.resolution_due_at),
      count(*) FILTER (WHERE t.resolution_due_at IS NOT NULL AND t.resolution_breached),
      array_agg(t.resolution_business_seconds) FILTER (
        WHERE t.resolution_business_seconds IS NOT NULL)
    FROM tickets_ticket t
    CROSS JOIN LATERAL (VALUES ('provider', t.provider_department_id),
                               ('consumer', t.requester_department_id)) AS s (side, department_id)
    WHERE (t.provider_department_id = %(dept)s OR t.requester_department_id = %(dept)s)
      AND t.created_at >= %(today_from)s AND t.created_at < %(today_to)s
      AND s.department_id = %(dept)s
    GROUP BY s.side
"""
# The dashboard's newest breached tickets of a side ({column}: its department's) that its head
# may see.
BREACHES = """
    SELECT t.reference, t.title, t.response_breached, t.resolution_breached, t.created_at,
           pd.name, rd.name
    FROM tickets_ticket t
    JOIN departments_department pd ON pd.id = t.provider_department_id
    LEFT JOIN departments_department rd ON rd.id = t.requester_department_id
    WHERE t.{column} = %(dept)s
      AND t.created_at >= %(period_from)s AND t.created_at < %(period_to)s
      AND (t.response_breached OR t.resolution_breached)
      AND (t.requester_id = %(head)s OR t.requester_department_id = ANY(%(headed)s)
           OR t.provider_department_id = ANY(%(head_provided)s))
    ORDER BY t.created_at DESC, t.id DESC LIMIT 20
"""
# The dashboard's satisfaction and recognition panels and its latest closed SERVQUAL campaign
# (feedback app).
DASHBOARD_FEEDBACK = [
    "SELECT score, end_score, best_moment, worst_moment, count(*) FROM feedback_ticketrating"
    " WHERE provider_department_id = %(dept)s"
    " AND created_at >= %(period_from)s AND created_at < %(period_to)s GROUP BY 1, 2, 3, 4",
    "SELECT k.agent_id, u.username, u.first_name, u.last_name, count(*) FROM feedback_kudos k"
    " JOIN departments_user u ON u.id = k.agent_id WHERE k.department_id = %(dept)s"
    " AND k.created_at >= %(period_from)s AND k.created_at < %(period_to)s"
    " GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 2",
    "SELECT * FROM feedback_survey WHERE provider_department_id = %(dept)s"
    " AND kind = 'servqual' AND state = 'closed' ORDER BY closes_at DESC, id DESC LIMIT 1",
]


DASHBOARD_DAYS = 90  # the dashboard's period=90d


def figures_params(who: dict, quarter_from: datetime, quarter_to: datetime) -> dict[str, Any]:
    """The values the figures' statements read: the quarter's months; the dashboard's 90 days
    to tomorrow (local midnights, as the page's period), the months whose rows hold its
    histograms (from the first whole one to today's, whose row holds no later day), today (not
    folded in `page_dashboard_live`); the head's visibility."""
    from django.conf import settings
    from django.utils import timezone

    from departments.selectors import headed_department_ids, provider_department_ids
    from slas.figures import LAYOUT, day_start, month_start, next_month

    today = timezone.localdate()
    end_day = today + timedelta(days=1)
    first_day = end_day - timedelta(days=DASHBOARD_DAYS)
    head = who["head"]
    return {
        "zone": settings.TIME_ZONE,
        "layout": LAYOUT,
        "quarter_first_day": timezone.localdate(quarter_from),
        "quarter_end_day": timezone.localdate(quarter_to),
        "first_day": first_day,
        "end_day": end_day,
        "months_from": first_day if first_day.day == 1 else next_month(first_day),
        "months_to": next_month(month_start(today)),
        "today": today,
        "period_from": day_start(first_day),
        "period_to": day_start(end_day),
        "today_from": day_start(today),
        "today_to": day_start(end_day),
        "head": head.pk,
        "headed": list(headed_department_ids(head)),
        "head_provided": list(provider_department_ids(head)),
    }


def figures_queries() -> dict[str, list[str]]:
    """The twins of the reads served by the SLA figures: `metrics/sla/` of IT as provider over
    the quarter (its month rows); the dashboard of IT over 90 days, both sides (day rows for the
    weekly trend; month rows and the first days' rows for the histograms), with its breaches and
    feedback panels; `page_dashboard_live` the same with today computed from its tickets."""
    provider, both = "'provider'", "'provider', 'consumer'"
    quarter = "span = 'month' AND day >= %(quarter_first_day)s AND day < %(quarter_end_day)s"
    days = "span = 'day' AND day >= %(first_day)s AND day < %(end_day)s"
    held = (
        "(span = 'month' AND day >= %(months_from)s AND day < %(months_to)s)"
        " OR (span = 'day' AND day >= %(first_day)s AND day < %(months_from)s)"
    )
    today = "span = 'day' AND day = %(today)s"
    weekly = "GROUPING SETS ((side), (side, week))"
    ledger = FIGURES_LEDGER.format(
        sides=both, assignee=LEDGER_ASSIGNEE, assignee_join=LEDGER_ASSIGNEE_JOIN
    )
    breaches = [
        BREACHES.format(column=column)
        for column in ("provider_department_id", "requester_department_id")
    ]
    return {
        "api_metrics_quarter": [
            FIGURES_LEDGER.format(sides=provider, assignee="", assignee_join=""),
            FIGURES_COUNTS.format(sides=provider, group="", rows=quarter, grouping="side"),
            FIGURES_HISTOGRAMS.format(sides=provider, rows=quarter, sign="1"),
        ],
        "page_dashboard": [
            ledger,
            FIGURES_COUNTS.format(sides=both, group=WEEK, rows=days, grouping=weekly),
            FIGURES_HISTOGRAMS.format(sides=both, rows=held, sign="1"),
            *breaches,
            *DASHBOARD_FEEDBACK,
        ],
        "page_dashboard_live": [
            ledger,
            FIGURES_COUNTS.format(
                sides=both, group=WEEK, rows=f"{days} AND day <> %(today)s", grouping=weekly
            ),
            FIGURES_HISTOGRAMS.format(
                sides=both,
                rows=f"{held} OR ({today})",
                sign=f"CASE WHEN {today} THEN -1 ELSE 1 END",
            ),
            STALE_DAY,
            *breaches,
            *DASHBOARD_FEEDBACK,
        ],
    }


def raw_sql(
    conn: Any,
    who: dict,
    sample: dict,
    deep_last: dict | None,
    quarter_from: datetime,
    quarter_to: datetime,
    on: Callable[[str], bool],
) -> dict[str, Any]:
    """The hand-written SQL each read needs (same rows, about the same columns), timed on one
    connection: the floor no ORM, serializer or template can go under. For metrics and the
    dashboard, the same tables the application reads (`figures_queries`)."""
    from departments.selectors import provider_department_ids

    agent = who["agent"]
    params = {
        "me": agent.pk,
        "provided": list(provider_department_ids(agent)),
        "dept": who["it"],
        "ticket": sample["id"],
        "reference": sample["reference"],
        "common": COMMON_WORD,
        "common_like": f"%{COMMON_WORD}%",
        "rare": RARE_WORD,
        "rare_like": f"%{RARE_WORD}%",
    }
    if deep_last:
        params["after_at"] = datetime.fromisoformat(deep_last["created_at"])
        params["after_id"] = deep_last["id"]
    params |= figures_params(who, quarter_from, quarter_to)
    order = " ORDER BY t.created_at DESC, t.id DESC LIMIT 51"
    queries: dict[str, list[str]] = {
        "api_list": [TICKET_ROW + " WHERE " + VISIBLE + order],
        "api_list_open": [
            TICKET_ROW
            + " WHERE "
            + VISIBLE
            + " AND t.provider_department_id = %(dept)s"
            + " AND t.status IN ('new', 'assigned', 'in_progress', 'waiting')"
            + order
        ],
        "api_list_breached": [
            TICKET_ROW
            + " WHERE "
            + VISIBLE
            + " AND (t.response_breached OR t.resolution_breached)"
            + order
        ],
        # The search's best hand-written plans: read in order until a page of matches (a
        # common word); the indexes (a word in no title).
        "api_list_search": [
            TICKET_ROW + " WHERE " + VISIBLE + " AND " + MATCH.format(word="common") + order
        ],
        "api_list_search_rare": [
            TICKET_ROW
            + " WHERE "
            + VISIBLE
            + " AND "
            + MATCH.format(word="rare")
            + " AND "
            + INDEXED.format(word="rare")
            + order
        ],
        "api_detail": [TICKET_ROW + " WHERE t.id = %(ticket)s AND " + VISIBLE],
        "api_events": [
            "SELECT t.id FROM tickets_ticket t WHERE t.id = %(ticket)s AND "  # noqa: S608
            + VISIBLE,
            "SELECT e.*, u.username FROM tickets_ticketevent e"
            " LEFT JOIN departments_user u ON u.id = e.actor_id"
            " WHERE e.ticket_id = %(ticket)s ORDER BY e.at, e.id LIMIT 101",
        ],
        "page_queue": [
            TICKET_ROW
            + " WHERE "
            + VISIBLE
            + " AND t.provider_department_id = %(dept)s"
            + " AND t.status IN ('new', 'assigned', 'in_progress', 'waiting')"
            + " ORDER BY t.resolution_due_at ASC NULLS LAST, t.id LIMIT 51"
        ],
        "page_ticket": [
            TICKET_ROW + " WHERE t.reference = %(reference)s AND " + VISIBLE,
            "SELECT e.*, u.username FROM tickets_ticketevent e"
            " LEFT JOIN departments_user u ON u.id = e.actor_id"
            " WHERE e.ticket_id = %(ticket)s ORDER BY e.at, e.id",
            "SELECT c.*, u.username FROM tickets_comment c"
            " LEFT JOIN departments_user u ON u.id = c.author_id"
            " WHERE c.ticket_id = %(ticket)s ORDER BY c.created_at, c.id",
        ],
    }
    queries |= figures_queries()
    if deep_last:
        queries["api_list_deep"] = [
            TICKET_ROW
            + " WHERE "
            + VISIBLE
            + " AND (t.created_at, t.id) < (%(after_at)s, %(after_id)s)"
            + order
        ]
    out: dict[str, Any] = {}
    with conn.cursor() as cursor:
        for name, statements in queries.items():
            if not on(name):
                continue
            rows = 0

            def run(statements: list[str] = statements) -> int:
                total = 0
                for statement in statements:
                    cursor.execute(statement, params)
                    total += len(cursor.fetchall())
                return total

            for _ in range(5):
                rows = run()
            count = 200
            seconds = []
            for _ in range(count):
                started = time.perf_counter()
                run()
                seconds.append(time.perf_counter() - started)
                if sum(seconds) > MEASUREMENT_BUDGET_S / 2 and len(seconds) >= MIN_REQUESTS:
                    break
            out[name] = summary(seconds, sum(seconds)) | {"rows": rows}
            log(f"  SQL {name:<18} p50 {out[name]['p50_ms']:8.2f} ms ({rows} rows)")
    return out


# -- In-process: the SLA sweep and a survey invitation --------------------------------------------


def sweep() -> dict[str, Any]:
    """`escalate_due_tickets` with nothing due and with 1,000 tickets due (reusing
    bench.sla_sweep's timing), on the generated open tickets: the instants are taken from the
    data (just before the earliest pending check; at the 1,000th), so the age of the data set
    does not matter. Everything a due run wrote is undone afterwards."""
    from django.db import connection

    from bench.sla_sweep import timed_sweep
    from tickets.models import Ticket

    checks = Ticket.objects.filter(next_sla_check_at__isnull=False).order_by(
        "next_sla_check_at", "id"
    )
    first = checks.values_list("next_sla_check_at", flat=True).first()
    if first is None:
        return {"error": "no open ticket has a pending SLA check"}
    quiet_at = first - timedelta(seconds=1)
    timed_sweep(quiet_at)
    runs = [timed_sweep(quiet_at) for _ in range(25)]
    assert all(fired == 0 for _s, fired, _q in runs)
    nothing = {
        "median_ms": round(statistics.median(s for s, _f, _q in runs) * 1000, 3),
        "queries": runs[0][2],
    }
    log(f"  sweep, nothing due: {nothing['median_ms']:.2f} ms, {nothing['queries']} queries")

    # 1,000 tickets due (fewer when the data set has fewer pending checks). Tickets filed out of
    # hours share their checks (the next morning's warning instant): the ones tied with the
    # 1,000th beyond it are moved a second later for the measurement, so exactly 1,000 are due.
    pending = checks.count()
    chosen = list(checks.values_list("id", "next_sla_check_at")[: min(1000, pending)])
    due_at = chosen[-1][1]
    chosen_ids = [ticket_id for ticket_id, _at in chosen]

    def set_aside_ties(cursor: Any) -> None:
        cursor.execute(
            "UPDATE tickets_ticket SET next_sla_check_at = %s + interval '1 second'"
            " WHERE next_sla_check_at <= %s AND NOT (id = ANY(%s))",
            [due_at, due_at, chosen_ids],
        )

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_sweep_saved")
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_sweep_saved AS SELECT id, next_sla_check_at,"
            " response_breached, resolution_breached, updated_at FROM tickets_ticket"
            " WHERE next_sla_check_at <= %s",
            [due_at],
        )
        set_aside_ties(cursor)
        cursor.execute(
            "SELECT count(*) FROM tickets_ticket WHERE next_sla_check_at <= %s", [due_at]
        )
        (due_tickets,) = cursor.fetchone()
        cursor.execute("SELECT coalesce(max(id), 0) FROM slas_escalation")
        (last_escalation,) = cursor.fetchone()
        cursor.execute("SELECT coalesce(max(id), 0) FROM tickets_ticketevent")
        (last_event,) = cursor.fetchone()
    due_runs = []
    for run_index in range(3):
        seconds, fired, queries = timed_sweep(due_at)
        due_runs.append((seconds, fired, queries))
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM slas_escalation WHERE id > %s", [last_escalation])
            cursor.execute("DELETE FROM tickets_ticketevent WHERE id > %s", [last_event])
            cursor.execute(
                "UPDATE tickets_ticket t SET next_sla_check_at = s.next_sla_check_at,"
                " response_breached = s.response_breached,"
                " resolution_breached = s.resolution_breached, updated_at = s.updated_at"
                " FROM bench_sweep_saved s WHERE t.id = s.id"
            )
            if run_index < 2:
                set_aside_ties(cursor)
        log(f"  sweep, {due_tickets} due: {seconds:.3f}s, {fired} steps fired, {queries} queries")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) tickets_ticket")
    return {
        "nothing_due": nothing,
        "due": {
            "tickets": due_tickets,
            "median_s": round(statistics.median(s for s, _f, _q in due_runs), 3),
            "fired": due_runs[0][1],
            "queries": due_runs[0][2],
        },
    }


def survey(who: dict) -> dict[str, Any]:
    """Opening a SERVQUAL campaign to every department (the whole company): invitations,
    in-app notifications and queued emails, timed in-process; then removed again."""
    try:
        from feedback import surveys
    except ImportError as error:
        return {"error": f"feedback.surveys is missing: {error}"}
    from departments.models import Department, User
    from feedback.models import Survey
    from tickets.models import Notification

    departments = list(Department.objects.values_list("pk", flat=True))
    audience = User.objects.filter(is_active=True, department__in=departments).count()
    now = datetime.now(UTC)
    runs = []
    for _run in range(2):
        campaign = surveys.create_survey(
            actor=who["head"],
            kind="servqual",
            title="基准 服务质量调查",
            provider_department=Department.objects.get(pk=who["it"]),
            audience_departments=departments,
            opens_at=now + timedelta(days=1),
            closes_at=now + timedelta(days=30),
        )
        started = time.perf_counter()
        invited = surveys.open_survey(survey_id=campaign.pk)
        seconds = time.perf_counter() - started
        runs.append(seconds)
        log(f"  survey invitation: {invited} invited in {seconds:.2f}s")
        Notification.objects.filter(source_key=f"survey-invite:{campaign.pk}").delete()
        _delete_outbox(campaign.pk)
        Survey.objects.filter(pk=campaign.pk).delete()
    return {"audience": audience, "invited": invited, "median_s": round(statistics.median(runs), 3)}


def _delete_outbox(survey_id: int) -> None:
    try:
        from feedback.models import OutboundEmail  # type: ignore[attr-defined]
    except ImportError:
        return
    OutboundEmail.objects.filter(key=f"survey-invite:{survey_id}").delete()


def flush_broker(redis_url: str) -> None:
    """Drop what the runs queued for Celery (nobody consumes it here): the bench's own Redis db."""
    parts = urlsplit(redis_url)
    db = parts.path.lstrip("/") or "0"
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 5) as sock:
        sock.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
        sock.recv(100)


# -- Report ---------------------------------------------------------------------------------------


def report(results: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    sizes = list(results)
    smallest, largest = sizes[0], sizes[-1]
    levels = [f"c{c}" for c in args.concurrency]
    rows: dict[str, dict[str, Any]] = {}
    for size in sizes:
        http = results[size]["http"]
        floor = http["floor"]
        for name, _kind in MEASUREMENTS:
            if name not in http:
                continue
            row = rows.setdefault(name, {})
            figures: dict[str, Any] = {}
            for level in levels:
                if level not in http[name]:
                    continue
                cell = http[name][level]
                figures[level] = cell | {
                    "x_floor_p50": round(
                        cell["p50_ms"] / cell.get("floor_p50_ms", floor[level]["p50_ms"]), 2
                    )
                }
            sql = results[size]["sql"].get(name)
            if sql:
                figures["sql"] = sql | {
                    "x_sql_p50": round(http[name]["c1"]["p50_ms"] / sql["p50_ms"], 1)
                    if "c1" in http[name]
                    else None
                }
            row[size] = figures
    for row in rows.values():
        if smallest in row and largest in row and smallest != largest:
            row["ratio"] = {
                level: round(row[largest][level]["p50_ms"] / row[smallest][level]["p50_ms"], 2)
                for level in levels
                if level in row[largest] and level in row[smallest]
            }
            # The same as multiples of the floor measured next to each: the machine's speed
            # drifts between the two sizes' runs (the floor moved 1.4 → 2.5 ms within one).
            row["ratio_x_floor"] = {
                level: round(
                    row[largest][level]["x_floor_p50"] / row[smallest][level]["x_floor_p50"], 2
                )
                for level in levels
                if level in row[largest] and level in row[smallest]
            }

    header = (
        f"{'measurement':<22}{'size':>6} │"
        + "".join(f" {level + ' p50':>10} {level + ' p95':>10} {'×F':>6} │" for level in levels)
        + f" {'SQL p50':>9} {'×SQL':>7} │ {'big/small':>9}"
    )
    print()
    print(header)
    print("─" * len(header))
    for name, _kind in MEASUREMENTS:
        if name not in rows:
            continue
        for size in sizes:
            figures = rows[name].get(size)
            if not figures:
                continue
            cells = ""
            for level in levels:
                cell = figures.get(level)
                cells += (
                    f" {cell['p50_ms']:>8.1f}ms {cell['p95_ms']:>8.1f}ms"
                    f" {cell['x_floor_p50']:>6.1f} │"
                    if cell
                    else f" {'-':>10} {'-':>10} {'-':>6} │"
                )
            sql = figures.get("sql")
            sql_cells = (
                f" {sql['p50_ms']:>7.2f}ms {sql['x_sql_p50']:>7.1f}"
                if sql and sql.get("x_sql_p50")
                else f" {'-':>9} {'-':>7}"
            )
            ratio = rows[name].get("ratio", {}).get("c1") if size == largest else None
            print(
                f"{name:<22}{size:>6} │{cells}{sql_cells} │ "
                + (f"{ratio:>8.2f}×" if ratio else f"{'':>9}")
            )
    for size in sizes:
        file_c8 = results[size]["http"].get("api_file", {}).get("c8")
        if file_c8:
            print(
                f"filing at c=8, {size}: {file_c8['throughput_per_s']:.0f} tickets/s, "
                f"{file_c8['saved']}/{file_c8['n']} verified saved"
            )
        if results[size].get("sweep"):
            sw = results[size]["sweep"]
            if "error" in sw:
                print(f"sweep {size}: {sw['error']}")
            else:
                print(
                    f"sweep {size}: nothing due {sw['nothing_due']['median_ms']:.2f} ms; "
                    f"{sw['due']['tickets']} due {sw['due']['median_s']:.3f}s "
                    f"({sw['due']['fired']} steps)"
                )
        if results[size].get("survey"):
            sv = results[size]["survey"]
            print(
                f"survey {size}: "
                + (
                    sv["error"]
                    if "error" in sv
                    else f"{sv['invited']:,} invited in {sv['median_s']:.2f}s"
                )
            )

    checks = targets(results, rows, largest, smallest)
    print()
    for check in checks:
        print(f"{'PASS' if check['pass'] else 'FAIL'}  {check['target']}: {check['value']}")
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": measured_commit(),
        "command": "python -m bench.run " + " ".join(sys.argv[1:]),
        "sizes": sizes,
        "rows": rows,
        "targets": checks,
        "results": results,
    }


def measured_commit() -> str:
    """The commit measured, with "+changes" when the working tree differs from it."""

    def git(*arguments: str) -> str:
        return subprocess.run(  # noqa: S603 - fixed arguments
            ["git", *arguments],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    head = git("rev-parse", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def targets(
    results: dict[str, Any], rows: dict[str, Any], largest: str, smallest: str
) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []

    def check(target: str, value: float | None, limit: float, above: bool = False) -> None:
        if value is None:
            return
        ok = value >= limit if above else value <= limit
        checks.append({"target": target, "value": round(value, 3), "pass": ok})

    def x_floor(name: str, level: str = "c1") -> float | None:
        return rows.get(name, {}).get(largest, {}).get(level, {}).get("x_floor_p50")

    for name in (*LIST_LIKE, "api_events"):
        check(f"{name} p50 ≤ 3F at {largest}", x_floor(name), 3)
    for name in ("page_ticket", "page_queue"):
        check(f"{name} p50 ≤ 5F at {largest}", x_floor(name), 5)
    for name in ("page_dashboard", "page_dashboard_live"):
        check(f"{name} p50 ≤ 20F at {largest}", x_floor(name), 20)
    check(f"api_file p50 ≤ 5F at {largest}", x_floor("api_file"), 5)
    file_c8 = results[largest]["http"].get("api_file", {}).get("c8")
    if file_c8:
        check(f"filing ≥ 100 tickets/s at c=8, {largest}", file_c8["throughput_per_s"], 100, True)
        check(f"filing: every ticket saved at c=8 ({largest})", float(file_c8["verified"]), 1, True)
    if largest != smallest:
        for name, kind in MEASUREMENTS:
            if kind == "read" and "ratio" in rows.get(name, {}):
                check(f"{name} at {largest} ≤ 1.5× {smallest}", rows[name]["ratio"].get("c1"), 1.5)
                check(
                    f"{name} at {largest} ≤ 1.5× {smallest}, as × F (drift-corrected)",
                    rows[name]["ratio_x_floor"].get("c1"),
                    1.5,
                )
    sw = results[largest].get("sweep")
    if sw and "error" not in sw:
        check(f"sweep, {sw['due']['tickets']} due ≤ 1 s ({largest})", sw["due"]["median_s"], 1)
        check(f"sweep, nothing due ≤ 20 ms ({largest})", sw["nothing_due"]["median_ms"], 20)
        small = results[smallest].get("sweep")
        if largest != smallest and small and "error" not in small:
            # Per due ticket: a small data set may have fewer than 1,000 checks pending.
            check(
                f"sweep, per due ticket, at {largest} ≤ 1.5× {smallest}",
                (sw["due"]["median_s"] / sw["due"]["tickets"])
                / (small["due"]["median_s"] / small["due"]["tickets"]),
                1.5,
            )
            check(
                f"sweep, nothing due, at {largest} ≤ 1.5× {smallest}",
                sw["nothing_due"]["median_ms"] / small["nothing_due"]["median_ms"],
                1.5,
            )
    return checks


if __name__ == "__main__":
    sys.exit(main())
