"""How the SLA sweep scales with the number of open tickets (DESIGN §2 SLAs: the sweeper reads an
index, not the whole table; STYLE: no cron job that re-scans every open ticket every run).

    .venv/bin/python -m bench.sla_sweep --open 10000 --open 200000 --due 1000

For each --open size the script fills a PostgreSQL database of its own (default
postgres://postgres@127.0.0.1:5432/sd_bench, created and migrated when missing; its tickets are
deleted first) with that many open tickets, of which --due have an SLA step due, and times
`slas.escalation.escalate_due_tickets`:

* with nothing due: the median of --repeat runs (after one warm-up run);
* with the --due tickets due: each fires exactly one step (the response warning); the median of
  --due-repeat runs, the escalations removed and the tickets made due again between runs.

It prints the EXPLAIN (ANALYZE, BUFFERS) of the sweep's selection query (first page and a keyset
page), which must use the partial index `ticket_sla_check_idx`, a table, the ratios largest/smallest
size, and writes everything to bench/results/sla_sweep.json. Deliveries are not measured: the
sweep's `enqueue` is a no-op here, so no broker is needed.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bench.dataset import ensure_database, log, setup_django

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sd_bench"
MAX_OPEN = 999_999  # references are <code>-<year>-<6 digits>
MAX_DUE = 100_000
SH = ZoneInfo("Asia/Shanghai")
# Wed 24 Sep 2025, an ordinary working day (Mon–Fri 09:00–12:00, 13:00–18:00). The due tickets
# were filed at 09:00 with "normal" priority (respond within 60 business minutes): their response
# warning (75 % = 45 min) came due at 09:45 and their breach (10:00) has not, so a sweep at 09:50
# fires exactly one step for each. Nothing is due before 09:45.
FILED_AT = datetime(2025, 9, 24, 9, 0, tzinfo=SH)
WARNING_AT = datetime(2025, 9, 24, 9, 45, tzinfo=SH)
SWEEP_AT = datetime(2025, 9, 24, 9, 50, tzinfo=SH)
NOTHING_DUE_AT = datetime(2025, 9, 24, 9, 40, tzinfo=SH)
INDEX = "ticket_sla_check_idx"
RESULTS = Path(__file__).resolve().parent / "results" / "sla_sweep.json"
TARGETS = {
    "urgent": {"response": 30, "resolution": 240},
    "high": {"response": 60, "resolution": 480},
    "normal": {"response": 60, "resolution": 480},
    "low": {"response": 480, "resolution": 2400},
}
LADDER = [
    {"at_percent": 100, "notify": "department_head"},
    {"at_percent": 150, "notify": "parent_department_head"},
]
OPEN_STATUSES = ("new", "assigned", "in_progress")  # statuses whose clocks run


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text.replace("_", "").replace(",", ""))
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:,} and {high:,}")
        return value

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sla_sweep", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--open",
        dest="sizes",
        action="append",
        type=bounded_int(1, MAX_OPEN),
        help="open tickets in the table (repeat for several sizes; default 10000 and 200000)",
    )
    parser.add_argument(
        "--due",
        type=bounded_int(0, MAX_DUE),
        default=1000,
        help="of which this many are due (default 1000)",
    )
    parser.add_argument(
        "--tied",
        action="store_true",
        help="file every due ticket at the same instant (all share one check time: the keyset's"
        " worst case with an index on next_sla_check_at alone)",
    )
    parser.add_argument("--repeat", type=bounded_int(1, 100), default=25, help="nothing-due runs")
    parser.add_argument("--due-repeat", type=bounded_int(1, 10), default=3, help="due runs")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database to fill (its name must contain 'bench'); default %(default)s",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    args.sizes = sorted(set(args.sizes or [10_000, 200_000]))
    if any(args.due > size for size in args.sizes):
        parser.error("--due must not exceed any --open size")
    database = urlsplit(args.database_url).path.lstrip("/")
    if (
        not args.database_url.startswith(("postgres://", "postgresql://"))
        or "bench" not in database
    ):
        parser.error("--database-url must be a PostgreSQL database whose name contains 'bench'")
    return args


# -- Data ----------------------------------------------------------------------------------------


@dataclass
class Seed:
    policy_id: int
    service_id: int
    provider_id: int
    consumer_id: int
    requester_id: int


def seed() -> Seed:
    """The calendar, policy, departments, service and people the tickets refer to (idempotent)."""
    from departments.models import Department, Membership, User
    from slas.calendars import import_china_years
    from slas.models import SlaPolicy
    from slas.policies import save_policy
    from tickets.models import Service

    calendar, _years = import_china_years(years=[2025])
    policy = SlaPolicy.objects.filter(name="基准 标准服务").first() or save_policy(
        name="基准 标准服务",
        calendar=calendar,
        targets=TARGETS,
        warning_percent=75,
        ladder=LADDER,
    )
    office, _ = Department.objects.get_or_create(code="GM", defaults={"name": "总经办"})
    it, _ = Department.objects.get_or_create(
        code="IT", defaults={"name": "信息技术部", "parent": office}
    )
    hr, _ = Department.objects.get_or_create(code="HR", defaults={"name": "人力资源部"})
    Department.objects.filter(pk=it.pk).update(default_sla_policy=policy, parent=office)
    service, _ = Service.objects.get_or_create(department=it, name="笔记本电脑申请")
    people = {}
    for username, department, role in (
        ("bench-requester", hr, None),
        ("bench-agent", it, Membership.Role.AGENT),
        ("bench-head", it, Membership.Role.HEAD),
        ("bench-gm", office, Membership.Role.HEAD),
    ):
        user, _ = User.objects.get_or_create(
            username=username, defaults={"department": department, "email": f"{username}@x.test"}
        )
        if role:
            Membership.objects.update_or_create(
                user=user, department=department, defaults={"role": role}
            )
        people[username] = user
    return Seed(policy.pk, service.pk, it.pk, hr.pk, people["bench-requester"].pk)


class DueClock:
    """SLA fields of a due ticket filed at a given instant, from the engine's own functions."""

    def __init__(self, data: Seed):
        from slas import clocks
        from slas.models import SlaPolicy

        self.policy = SlaPolicy.objects.select_related("calendar").get(pk=data.policy_id)
        self.cal = clocks.work_calendar(self.policy.calendar)
        self.data = data

    def fields(self, created_at: datetime) -> dict[str, Any]:
        from slas import clocks
        from tickets.models import Ticket

        probe = Ticket(priority="normal", status="new", created_at=created_at)
        first_step = clocks.due_steps(probe, policy=self.policy, cal=self.cal, fired=())[0]
        return {
            "response_due_at": clocks.step_instant(probe, self.cal, self.policy, "response", 100),
            "resolution_due_at": clocks.step_instant(
                probe, self.cal, self.policy, "resolution", 100
            ),
            "next_sla_check_at": first_step[2],
        }

    def check_against_filing(self) -> None:
        """The fields agree with what filing a ticket at FILED_AT sets, and with the hand count."""
        from slas import clocks
        from tickets.models import Service, Ticket

        service = Service.objects.select_related("department").get(pk=self.data.service_id)
        filed = Ticket(
            service=service,
            provider_department_id=self.data.provider_id,
            requester_id=self.data.requester_id,
            requester_department_id=self.data.consumer_id,
            priority="normal",
            created_at=FILED_AT,
        )
        clocks.start_clocks(filed, at=FILED_AT)  # the hook file_ticket calls
        # By hand: 60 business minutes from 09:00 → 10:00; 480 → 09–12 and 13–18 → 18:00.
        expected = {
            "response_due_at": datetime(2025, 9, 24, 10, 0, tzinfo=SH),
            "resolution_due_at": datetime(2025, 9, 24, 18, 0, tzinfo=SH),
            "next_sla_check_at": WARNING_AT,
        }
        assert {name: getattr(filed, name) for name in expected} == expected
        assert self.fields(FILED_AT) == expected


def ticket_rows(
    size: int, due: int, data: Seed, clock: DueClock, *, tied: bool
) -> Iterator[dict[str, Any]]:
    """`due` tickets filed between 09:00 and 09:05 (their warnings come due between 09:45 and
    09:50; with `tied`, all at 09:00), then open tickets whose next check lies after SWEEP_AT,
    spread over the following two weeks (synthetic instants: the sweep never reads these rows,
    it only has to skip them)."""
    common = {
        "service_id": data.service_id,
        "provider_department_id": data.provider_id,
        "requester_id": data.requester_id,
        "requester_department_id": data.consumer_id,
        "priority": "normal",
        "form_data": {"model": "14寸"},
        "source": "web",
        "sla_policy_id": data.policy_id,
    }
    spread = timedelta(0) if tied or not due else timedelta(minutes=5) / due
    for number in range(1, size + 1):
        row = {**common, "reference": f"IT-2025-{number:06d}", "title": f"基准工单 {number}"}
        if number <= due:
            created_at = FILED_AT + spread * (number - 1)
            row |= clock.fields(created_at) | {
                "status": "new",
                "created_at": created_at,
                "updated_at": created_at,
            }
        else:
            check_at = SWEEP_AT + timedelta(minutes=1 + (number * 7919) % 20_000)
            created_at = FILED_AT - timedelta(minutes=number % 5000)
            row |= {
                "status": OPEN_STATUSES[number % len(OPEN_STATUSES)],
                "created_at": created_at,
                "updated_at": created_at,
                "next_sla_check_at": check_at,
                "response_due_at": check_at + timedelta(minutes=15),
                "resolution_due_at": check_at + timedelta(hours=8),
            }
        yield row


def fill(size: int, due: int, data: Seed, clock: DueClock, *, tied: bool) -> float:
    """Replace every ticket with `size` new ones (COPY), then VACUUM ANALYZE; returns seconds."""
    from django.db import connection
    from django.db.models import JSONField

    from tickets.models import Ticket

    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Every table pointing at tickets (events, escalations, notifications…) goes too.
        cursor.execute("TRUNCATE tickets_ticket RESTART IDENTITY CASCADE")
    fields = [f for f in Ticket._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)

    def value(field: Any, row: dict[str, Any]) -> Any:
        raw = row[field.attname] if field.attname in row else field.get_default()
        return json.dumps(raw, ensure_ascii=False) if isinstance(field, JSONField) else raw

    copy_sql = f"COPY tickets_ticket ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
        for count, row in enumerate(ticket_rows(size, due, data, clock, tied=tied), start=1):
            copy.write_row([value(f, row) for f in fields])
            if count % 50_000 == 0:
                log(f"  {count:,} / {size:,} tickets copied")
    with connection.cursor() as cursor:
        # What the due tickets look like before a sweep, to make them due again between runs.
        cursor.execute("DROP TABLE IF EXISTS bench_due_checks")
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_due_checks AS SELECT id, next_sla_check_at "
            "FROM tickets_ticket WHERE next_sla_check_at <= %s",
            [SWEEP_AT],
        )
    vacuum()
    return time.perf_counter() - started


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) tickets_ticket")


def make_due_again() -> None:
    """Undo a due run: the fired steps and their events go, the tickets are due again."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tickets_ticket SET next_sla_check_at = due.next_sla_check_at "
            "FROM bench_due_checks due WHERE tickets_ticket.id = due.id"
        )
        cursor.execute("DELETE FROM tickets_ticketevent WHERE kind = 'sla_warning'")
        cursor.execute("DELETE FROM slas_escalation")
    vacuum()


# -- Measurements --------------------------------------------------------------------------------


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def timed_sweep(now: datetime) -> tuple[float, int, int]:
    """(seconds, steps fired, queries) of one sweep at `now`."""
    from django.db import connection

    from slas.escalation import escalate_due_tickets

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        fired = escalate_due_tickets(now=now, enqueue=lambda _id: None)
        elapsed = time.perf_counter() - started
    return elapsed, fired, counter.count


def selection(now: datetime, after: tuple[datetime, int] | None = None) -> Any:
    """The sweep's selection query, as slas.escalation builds it (checked against what it runs)."""
    from django.conf import settings
    from django.db.models import Q

    BATCH_SIZE = settings.SLA_SWEEP_BATCH_SIZE
    from tickets.models import Ticket

    due = Ticket.objects.filter(next_sla_check_at__lte=now)
    if after is not None:
        due = due.filter(
            Q(next_sla_check_at__gt=after[0]) | Q(next_sla_check_at=after[0], pk__gt=after[1])
        )
    return due.order_by("next_sla_check_at", "pk").values_list("next_sla_check_at", "pk")[
        :BATCH_SIZE
    ]


def check_selection_is_the_sweeps() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from slas.escalation import escalate_due_tickets

    with CaptureQueriesContext(connection) as captured:
        escalate_due_tickets(now=NOTHING_DUE_AT, enqueue=lambda _id: None)
    ran = [q["sql"] for q in captured.captured_queries]
    with CaptureQueriesContext(connection) as captured:
        list(selection(NOTHING_DUE_AT))
    built = [q["sql"] for q in captured.captured_queries]
    if ran != built:
        raise SystemExit(f"the sweep's query changed; update bench.sla_sweep.selection:\n{ran}")


def explain(queryset: Any) -> str:
    return queryset.explain(analyze=True, buffers=True)


def measure(size: int, args: argparse.Namespace, data: Seed, clock: DueClock) -> dict[str, Any]:
    log(f"{size:,} open tickets ({args.due:,} due): filling")
    fill_seconds = fill(size, args.due, data, clock, tied=args.tied)
    log(f"  filled in {fill_seconds:.1f}s")
    check_selection_is_the_sweeps()

    timed_sweep(NOTHING_DUE_AT)  # warm-up: connection, caches, plan
    runs = [timed_sweep(NOTHING_DUE_AT) for _ in range(args.repeat)]
    assert all(fired == 0 for _s, fired, _q in runs)
    nothing_due = {
        "median_ms": statistics.median(s for s, _f, _q in runs) * 1000,
        "min_ms": min(s for s, _f, _q in runs) * 1000,
        "runs_ms": [round(s * 1000, 3) for s, _f, _q in runs],
        "queries": runs[0][2],
        "fired": 0,
    }
    log(f"  nothing due: median {nothing_due['median_ms']:.2f} ms, {runs[0][2]} queries")

    plans = {"nothing_due": explain(selection(NOTHING_DUE_AT))}
    if args.due:
        plans["due_first_page"] = explain(selection(SWEEP_AT))
        first_page = list(selection(SWEEP_AT))
        if args.due > len(first_page):  # a second page: the keyset condition comes in
            plans["due_keyset_page"] = explain(selection(SWEEP_AT, after=first_page[-1]))
    index_used = {name: INDEX in plan for name, plan in plans.items()}

    due_result = None
    if args.due:
        due_runs = []
        for run in range(args.due_repeat):
            if run:
                make_due_again()
            seconds, fired, queries = timed_sweep(SWEEP_AT)
            if fired != args.due:
                raise SystemExit(f"expected {args.due} steps fired, got {fired}")
            due_runs.append((seconds, queries))
            log(f"  {args.due:,} due, run {run + 1}: {seconds:.2f}s, {fired} fired, {queries} q")
        median = statistics.median(s for s, _q in due_runs)
        due_result = {
            "median_s": median,
            "min_s": min(s for s, _q in due_runs),
            "runs_s": [round(s, 3) for s, _q in due_runs],
            "fired": args.due,
            "queries": due_runs[0][1],
            "per_ticket_ms": median / args.due * 1000,
        }
        make_due_again()
    return {
        "open": size,
        "due": args.due,
        "fill_seconds": round(fill_seconds, 2),
        "nothing_due": nothing_due,
        "due_run": due_result,
        "index_used": index_used,
        "plans": plans,
    }


# -- Report --------------------------------------------------------------------------------------


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    print()
    header = (
        f"{'open tickets':>12} {'due':>6} │ {'nothing due: median':>19} {'min':>8} {'queries':>7}"
        f" │ {'due: median':>11} {'per ticket':>10} {'fired':>6} {'queries':>8} │ index"
    )
    print(header)
    print("─" * len(header))
    for result in results:
        nothing, due = result["nothing_due"], result["due_run"]
        due_cells = (
            f"{due['median_s']:>10.2f}s {due['per_ticket_ms']:>8.2f}ms {due['fired']:>6,}"
            f" {due['queries']:>8,}"
            if due
            else f"{'-':>11} {'-':>10} {'-':>6} {'-':>8}"
        )
        used = "yes" if all(result["index_used"].values()) else "NO"
        print(
            f"{result['open']:>12,} {result['due']:>6,} │ {nothing['median_ms']:>17.2f}ms"
            f" {nothing['min_ms']:>6.2f}ms {nothing['queries']:>7} │ {due_cells} │ {used}"
        )
    ratios: dict[str, Any] = {}
    if len(results) >= 2:
        small, large = results[0], results[-1]
        ratios = {
            "sizes": f"{large['open']}/{small['open']}",
            "open_tickets": large["open"] / small["open"],
            "nothing_due": large["nothing_due"]["median_ms"] / small["nothing_due"]["median_ms"],
        }
        if small["due_run"] and large["due_run"]:
            ratios["due"] = large["due_run"]["median_s"] / small["due_run"]["median_s"]
        print()
        print(
            f"ratio {large['open']:,} / {small['open']:,} open tickets "
            f"(×{ratios['open_tickets']:.0f} rows): nothing due ×{ratios['nothing_due']:.2f}"
            + (f", {args.due:,} due ×{ratios['due']:.2f}" if "due" in ratios else "")
        )
    for result in results:
        for name, plan in result["plans"].items():
            print(f"\nEXPLAIN (ANALYZE, BUFFERS) — {result['open']:,} open, {name}:")
            print("    " + plan.replace("\n", "\n    "))
    return ratios


def environment(url: str) -> dict[str, Any]:
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    parts = urlsplit(url)
    return {
        "database": f"{parts.hostname}:{parts.port or 5432}/{parts.path.lstrip('/')}",
        "postgres": version,
        "python": platform.python_version(),
        "django": django.get_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.conf import settings
    from django.core.management import call_command

    BATCH_SIZE = settings.SLA_SWEEP_BATCH_SIZE

    log("migrating")
    call_command("migrate", interactive=False, verbosity=0)
    data = seed()
    clock = DueClock(data)
    clock.check_against_filing()
    results = [measure(size, args, data, clock) for size in args.sizes]
    ratios = report(results, args)
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.sla_sweep " + " ".join(sys.argv[1:] if argv is None else argv),
        "environment": environment(args.database_url),
        "config": {
            "due": args.due,
            "tied": args.tied,
            "repeat": args.repeat,
            "due_repeat": args.due_repeat,
            "batch_size": BATCH_SIZE,
            "filed_at": FILED_AT.isoformat(),
            "sweep_at": SWEEP_AT.isoformat(),
            "nothing_due_at": NOTHING_DUE_AT.isoformat(),
            "index": INDEX,
        },
        "results": results,
        "ratios": ratios,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    log(f"wrote {args.output}")
    return 0 if all(all(r["index_used"].values()) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
