"""Daily SLA figures and open-ticket counts (slas/figures.py, issue #6): what the dashboard and
`metrics/sla/` read for whole departments must equal the computation over the tickets.

Counts (tickets, measured, met, breached, reopen rate, backlog, workload, time-to-resolve bars)
are exact; median and p90 are interpolated within their bucket, so they may differ from
percentile_cont by less than 1 % (less than 1 second below 100 seconds), plus the API's
rounding to 0.01 minute.
"""

import importlib
import io
import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps as django_apps
from django.contrib.admin.sites import site as admin_site
from django.core.management import call_command
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from departments.models import Department
from servicedesk.celery import app as celery_app
from slas import escalation, figures, metrics, tasks, views
from slas.models import FigureLedgerEntry, FiguresBuild, PeriodFigures
from slas.policies import recompute_policy_tickets, save_policy
from tests.factories import ServiceFactory, UserFactory
from tickets import services
from tickets.models import OPEN_STATUSES, Status, Ticket

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 9, 15, 8, 0, tzinfo=SH)  # a Monday; the calendar knows 2025
END = START + timedelta(days=24)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def act(when: datetime, fn: Callable[..., Any], **kwargs: Any) -> Any:
    with time_machine.travel(when, tick=False):
        return fn(**kwargs)


# --- the bucket layout ---------------------------------------------------------------------------


def test_every_time_to_resolve_bar_ends_on_a_bucket_edge():
    for _key, _label, low, high in views.RESOLVE_BUCKETS:
        for edge in (low, high):
            assert edge is None or edge in figures.COARSE_LOW.values()


def test_buckets_are_at_most_one_percent_or_one_second_wide():
    edges = figures.FINE_EDGES
    assert edges[0] == 0 and edges[-1] == figures.LAST_EDGE
    for low, high in zip(edges, edges[1:], strict=False):
        assert high > low
        assert high - low <= max(0.01 * low, 1.0) + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_interpolated_percentiles_stay_within_one_percent_of_percentile_cont(seed):
    rng = random.Random(seed)
    size = rng.choice([1, 2, 3, 7, 40, 500])
    kinds = [
        lambda: rng.uniform(0, 90),  # seconds: the 1-second buckets
        lambda: rng.lognormvariate(8, 2),  # minutes to weeks
        lambda: 0.0,  # clock stopped outside business hours
        lambda: rng.choice([3600.0, 14400.0, 28800.0]),  # exactly on bar edges
    ]
    values = [rng.choice(kinds)() for _ in range(size)]
    tally = figures.ClockTally()
    for value in values:
        bucket = figures.fine_bucket(value)
        tally.timed += 1
        tally.coarse[figures.COARSE_OF[bucket]] += 1
        tally.fine[figures.COARSE_OF[bucket]][bucket] += 1
    estimated = tally.percentiles()
    ordered = sorted(values)
    for label, fraction in metrics.PERCENTILES.items():
        rank = fraction * (size - 1)
        low, high = ordered[int(rank)], ordered[min(int(rank) + 1, size - 1)]
        exact = low + (high - low) * (rank - int(rank))
        assert abs(estimated[label] - exact) <= max(0.01 * exact, 1.0), (label, values)


# --- a varied history, written through the services ----------------------------------------------


def varied_history(company, count: int = 48, seed: int = 7) -> list[Ticket]:
    """Tickets filed at any hour over three weeks (nights, weekends, the October holidays) to IT
    (with an SLA) and to FIN (without), by HR and FIN employees, each following one of eight
    courses; then a sweep that flags the overdue ones."""
    rng = random.Random(seed)
    fin_employee = UserFactory(department=company.finance)
    requesters = [company.requester, company.other_employee, fin_employee]
    finance_service = ServiceFactory(department=company.finance, name=f"报销 {seed}")
    agents = {company.it.pk: [company.agent, company.agent2], company.finance.pk: []}
    agents[company.finance.pk] = [company.finance_agent]
    tickets = []
    for number in range(count):
        requester = requesters[number % 3]
        service = company.service if number % 5 else finance_service
        at = START + timedelta(minutes=rng.uniform(0, 21 * 24 * 60))
        ticket = act(
            at,
            services.file_ticket,
            requester=requester,
            service=service,
            title=f"请求 {number}",
            priority=rng.choice(["urgent", "high", "normal", "low"]),
            form_data={"model": "14寸"} if service == company.service else {},
        )
        team = agents[service.department_id]

        def later(fn: Callable[..., Any], ticket: Ticket = ticket, **kwargs: Any) -> Any:
            nonlocal at
            at += timedelta(minutes=rng.choice([3, 20, 45, 130, 600, 2000]) * rng.random() + 1)
            return act(at, fn, ticket=ticket, **kwargs)

        course = number % 8
        agent = team[number % len(team)]
        if course == 1:
            later(services.transition_ticket, actor=agent, status="assigned", assignee=agent)
        elif course == 2:
            later(services.transition_ticket, actor=agent, status="in_progress")
            later(services.transition_ticket, actor=agent, status="waiting")
        elif course == 3:
            later(services.transition_ticket, actor=agent, status="in_progress")
            later(services.transition_ticket, actor=agent, status="resolved")
        elif course == 4:
            later(services.transition_ticket, actor=agent, status="resolved")
            later(services.transition_ticket, actor=requester, status="closed")
        elif course == 5:
            later(services.transition_ticket, actor=agent, status="in_progress")
            later(services.transition_ticket, actor=agent, status="resolved")
            later(services.transition_ticket, actor=requester, status="in_progress")  # reopen
            if number % 16 == 5:
                later(services.transition_ticket, actor=agent, status="resolved")
        elif course == 6:
            later(services.transition_ticket, actor=requester, status="cancelled")
        elif course == 7:
            later(services.add_comment, author=agent, body="我们在处理")
            later(services.update_ticket, actor=agent, priority="urgent")
            later(services.update_ticket, actor=agent, assignee=team[-1])
            later(services.transition_ticket, actor=agent, status="waiting")
            later(services.add_comment, author=requester, body="补充信息")  # back in progress
        tickets.append(ticket)
    act(END, escalation.escalate_due_tickets, now=END, enqueue=lambda _id: None)
    return tickets


@pytest.fixture
def history(company, ladder_policy) -> list[Ticket]:
    return varied_history(company)


def scopes(company) -> list[metrics.MetricsScope]:
    return [
        metrics.MetricsScope(provider_department_id=company.it.pk),
        metrics.MetricsScope(provider_department_id=company.finance.pk),
        metrics.MetricsScope(consumer_department_id=company.hr.pk),
        metrics.MetricsScope(consumer_department_id=company.finance.pk),
    ]


PERIODS = [
    (sh(2025, 9, 1), sh(2025, 11, 1)),  # whole months
    (sh(2025, 9, 15), sh(2025, 10, 13)),  # whole days
    (sh(2025, 9, 16, 13, 17), sh(2025, 10, 2, 9, 45)),  # partial days at either end
    (sh(2025, 9, 20, 10, 0), sh(2025, 9, 20, 18, 30)),  # within one day
    (sh(2025, 8, 1), sh(2025, 9, 1)),  # nothing
]
BARS = [(low, high) for _key, _label, low, high in views.RESOLVE_BUCKETS]
# (group_by, group_percentiles): the dashboard asks for weeks without their percentiles
GROUPINGS = [(None, True), ("week", True), ("week", False), ("month", True)]


def assert_close(estimated: float | None, exact: float | None, what: str) -> None:
    if exact is None:
        assert estimated is None, what
        return
    assert estimated is not None, what
    # 1 % (or 1 s below 100 s) of the value, plus the 0.01-minute rounding of each
    assert abs(estimated - exact) <= max(0.01 * exact, 1 / 60) + 0.02, (what, estimated, exact)


def assert_clock_equal(served: metrics.ClockFigures, exact: metrics.ClockFigures, what: str):
    assert (served.measured, served.met, served.breached, served.compliance_percent) == (
        exact.measured,
        exact.met,
        exact.breached,
        exact.compliance_percent,
    ), what
    assert_close(served.median_minutes, exact.median_minutes, f"{what} median")
    assert_close(served.p90_minutes, exact.p90_minutes, f"{what} p90")


def assert_figures_equal_live(company) -> int:
    """Every scope, period and grouping: served from the figures == computed from the tickets.
    Returns the number of comparisons with tickets in them."""
    compared = 0
    for scope in scopes(company):
        for period_from, period_to in PERIODS:
            for group_by, group_percentiles in GROUPINGS:
                kwargs = {
                    "scope": scope,
                    "period_from": period_from,
                    "period_to": period_to,
                    "group_by": group_by,
                    "group_percentiles": group_percentiles,
                    "resolution_buckets": BARS,
                    "assignee_backlog": True,
                }
                exact = metrics.sla_metrics(use_figures=False, **kwargs)
                served = metrics.sla_metrics(use_figures=True, **kwargs)
                what = f"{scope} {period_from}–{period_to} {group_by}"
                assert served.tickets == exact.tickets, what
                assert served.reopen_rate_percent == exact.reopen_rate_percent, what
                assert served.backlog_by_status == exact.backlog_by_status, what
                assert served.backlog_by_priority == exact.backlog_by_priority, what
                if scope.provider_department_id is not None:  # the agents' workload, in order
                    assert served.backlog_by_assignee == exact.backlog_by_assignee, what
                assert served.resolution_counts == exact.resolution_counts, what
                assert_clock_equal(served.response, exact.response, f"{what} response")
                assert_clock_equal(served.resolution, exact.resolution, f"{what} resolution")
                assert [(g.key, g.label, g.tickets) for g in served.groups] == [
                    (g.key, g.label, g.tickets) for g in exact.groups
                ], what
                for mine, theirs in zip(served.groups, exact.groups, strict=True):
                    assert_clock_equal(mine.response, theirs.response, f"{what} {mine.key}")
                    assert_clock_equal(mine.resolution, theirs.resolution, f"{what} {mine.key}")
                compared += exact.tickets > 0
    return compared


def live_open_counts() -> Counter:
    counts: Counter = Counter()
    for ticket in Ticket.objects.filter(status__in=OPEN_STATUSES):
        counts[(ticket.provider_department_id, "provider", ticket.status, ticket.priority)] += 1
        if ticket.requester_department_id:
            key = (ticket.requester_department_id, "consumer", ticket.status, ticket.priority)
            counts[key] += 1
    return counts


def assert_open_counts_exact() -> None:
    served: Counter = Counter()
    for department in Department.objects.all():
        for side in ("provider", "consumer"):
            for (status, priority), n in figures.open_counts(
                department_id=department.pk, side=side
            ).items():
                if n:
                    served[(department.pk, side, status, priority)] = n
    assert served == live_open_counts()
    for department in Department.objects.all():
        live = Counter(
            Ticket.objects.filter(
                provider_department=department, status__in=OPEN_STATUSES
            ).values_list("assignee_id", flat=True)
        )
        assert {
            row["assignee_id"]: row["open_tickets"]
            for row in figures.open_by_assignee(department.pk)
        } == dict(live)


def stored_rows() -> dict:
    fields = ["department_id", "side", "span", "day", *figures.STORED_FIELDS]
    fields.remove("computed_at")
    return {
        (row["department_id"], row["side"], row["span"], row["day"]): row
        for row in PeriodFigures.objects.values(*fields)
    }


def test_figures_equal_the_computation_over_the_tickets_before_and_after_later_changes(
    company, history, ladder_policy
):
    assert not figures.ready()  # tests start without a build: metrics come from the tickets
    assert_open_counts_exact()  # the ledger alone counts open tickets exactly
    rows = figures.rebuild()
    assert rows == PeriodFigures.objects.filter(span="day").count() > 0
    assert figures.ready()
    assert not FigureLedgerEntry.objects.filter(ticket_created_at__isnull=False).exists()
    assert assert_figures_equal_live(company) >= 20
    assert_open_counts_exact()

    # Changes after the build: old tickets resolved, reopened, cancelled, reassigned, breached.
    # Their days are stale until folded, and served from the tickets meanwhile.
    rng = random.Random(11)
    later = END + timedelta(hours=2)
    for ticket in rng.sample(history, 24):
        ticket.refresh_from_db()
        team = (
            [company.agent, company.agent2]
            if ticket.provider_department_id == company.it.pk
            else [company.finance_agent]
        )
        later += timedelta(minutes=37)
        if ticket.status in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING):
            move = rng.choice(["resolved", "cancel", "reassign"])
            if move == "resolved":
                act(later, services.transition_ticket, ticket=ticket, actor=team[0], status=move)
            elif move == "cancel":
                act(
                    later,
                    services.transition_ticket,
                    ticket=ticket,
                    actor=ticket.requester,
                    status="cancelled",
                )
            else:
                act(later, services.update_ticket, ticket=ticket, actor=team[0], assignee=team[-1])
        elif ticket.status == Status.RESOLVED:  # reopened by the provider (past the window)
            act(
                later,
                services.transition_ticket,
                ticket=ticket,
                actor=team[0],
                status="in_progress",
            )
    act(later, escalation.escalate_due_tickets, now=later + timedelta(days=3), enqueue=print)
    # A policy edit moves the due times of its open tickets (what beat's recompute task runs).
    targets = {p: {"response": 10, "resolution": 2000} for p in ("urgent", "high", "normal")}
    save_policy(policy=ladder_policy, targets={**targets, "low": targets["normal"]})
    act(later, recompute_policy_tickets, policy_id=ladder_policy.pk)
    assert FigureLedgerEntry.objects.filter(ticket_created_at__isnull=False).exists()
    assert_figures_equal_live(company)
    assert_open_counts_exact()

    folded = figures.fold_changes()
    assert folded > 0
    assert not FigureLedgerEntry.objects.filter(ticket_created_at__isnull=False).exists()
    assert figures.fold_changes() == 0  # nothing left: a second run does nothing
    assert_figures_equal_live(company)
    assert_open_counts_exact()
    # Folding kept the rows what a build from scratch makes of the same tickets.
    folded_rows = stored_rows()
    figures.rebuild()
    assert stored_rows() == folded_rows
    balances = FigureLedgerEntry.objects.filter(ticket_created_at__isnull=True)
    keys = {(e.department_id, e.side, e.status, e.priority, e.assignee_id) for e in balances}
    assert balances.count() == len(keys)  # one balance entry per key


def test_open_counts_follow_every_kind_of_write(company, ladder_policy):
    """Filing, assignment, reassignment, priority, waiting, the requester's reply, resolution,
    reopening, closing, cancelling, the sweep, folds in between, and deleting in the admin."""
    figures.rebuild()
    at = sh(2025, 9, 22, 9, 30)
    hr_ticket = act(
        at,
        services.file_ticket,
        requester=company.requester,
        service=company.service,
        title="显示器坏了",
        form_data={"model": "14寸"},
    )
    assert_open_counts_exact()
    steps: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (services.transition_ticket, {"actor": company.agent, "status": "assigned"}),
        (services.update_ticket, {"actor": company.agent, "assignee": company.agent2}),
        (services.update_ticket, {"actor": company.agent, "priority": "urgent"}),
        (services.transition_ticket, {"actor": company.agent2, "status": "in_progress"}),
        (services.transition_ticket, {"actor": company.agent2, "status": "waiting"}),
        (services.add_comment, {"author": company.requester, "body": "补充"}),
        (services.update_ticket, {"actor": company.agent, "unassign": True}),
        (services.transition_ticket, {"actor": company.agent, "status": "resolved"}),
        (services.transition_ticket, {"actor": company.requester, "status": "in_progress"}),
        (services.transition_ticket, {"actor": company.agent, "status": "resolved"}),
        (services.transition_ticket, {"actor": company.requester, "status": "closed"}),
    ]
    for number, (step, kwargs) in enumerate(steps):
        at += timedelta(minutes=50)
        act(at, step, ticket=hr_ticket, **kwargs)
        assert_open_counts_exact()
        if number % 3 == 0:
            figures.fold_changes()
            assert_open_counts_exact()
    cancelled = act(
        at,
        services.file_ticket,
        requester=company.other_employee,
        service=company.service,
        title="打印机",
        form_data={"model": "16寸"},
    )
    act(at, services.transition_ticket, ticket=cancelled, actor=company.other_employee,
        status="cancelled")  # fmt: skip
    overdue = act(
        at,
        services.file_ticket,
        requester=company.requester,
        service=company.service,
        title="网络断了",
        form_data={"model": "14寸"},
    )
    act(at, escalation.escalate_due_tickets, now=at + timedelta(days=5), enqueue=print)
    overdue.refresh_from_db()
    assert overdue.response_breached  # the sweep changed figures, not the open counts
    assert_open_counts_exact()
    assert_figures_equal_live(company)

    # An admin deleting tickets (open or not) takes them out of the counts and the figures.
    request = RequestFactory().post("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    ticket_admin = admin_site._registry[Ticket]
    ticket_admin.delete_queryset(request, Ticket.objects.filter(pk__in=[overdue.pk, hr_ticket.pk]))
    assert_open_counts_exact()
    assert_figures_equal_live(company)
    figures.fold_changes()
    assert_open_counts_exact()
    assert_figures_equal_live(company)


@pytest.mark.django_db(transaction=True)
def test_concurrent_filings_transitions_and_folds_keep_the_counts_exact(company):
    """Eight employees file to IT at once while agents move tickets and folds run beside them."""
    figures.rebuild()
    employees = [UserFactory(department=company.hr) for _ in range(8)]
    errors: list[BaseException] = []
    stop = threading.Event()
    barrier = threading.Barrier(len(employees) + 1, timeout=30)

    def employee(person) -> None:
        try:
            barrier.wait()
            for number in range(6):
                ticket = services.file_ticket(
                    requester=person,
                    service=company.service,
                    title=f"并发 {number}",
                    form_data={"model": "14寸"},
                )
                agent = (company.agent, company.agent2)[number % 2]
                if number % 3:
                    services.transition_ticket(ticket=ticket, actor=agent, status="in_progress")
                if number % 3 == 2:
                    services.transition_ticket(ticket=ticket, actor=agent, status="resolved")
                if number == 5:
                    services.transition_ticket(ticket=ticket, actor=person, status="in_progress")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    def folder() -> None:
        try:
            barrier.wait()
            while not stop.is_set():
                figures.fold_changes(batch_size=7)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    writers = [threading.Thread(target=employee, args=(person,)) for person in employees]
    fold_thread = threading.Thread(target=folder)
    for thread in [*writers, fold_thread]:
        thread.start()
    for thread in writers:
        thread.join(timeout=120)
    stop.set()
    fold_thread.join(timeout=60)
    assert not errors, errors
    assert Ticket.objects.count() == 48
    assert_open_counts_exact()
    today = timezone.localdate()
    period = {
        "period_from": datetime.combine(today, datetime.min.time(), tzinfo=SH),
        "period_to": datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=SH),
    }
    for scope in scopes(company)[::2]:
        exact = metrics.sla_metrics(scope=scope, use_figures=False, **period)
        served = metrics.sla_metrics(scope=scope, use_figures=True, **period)
        assert (served.tickets, served.reopen_rate_percent, served.backlog_by_status) == (
            exact.tickets,
            exact.reopen_rate_percent,
            exact.backlog_by_status,
        )
    figures.fold_changes()
    assert_open_counts_exact()


# --- the dashboard and the API -------------------------------------------------------------------


def dashboard_sides(client: Client) -> list[dict[str, Any]]:
    with time_machine.travel(END, tick=False):
        response = client.get("/dashboard/?period=90d")
    assert response.status_code == 200
    sides = []
    for side in response.context["sides"]:
        report = side["report"]
        sides.append(
            {
                "tickets": report.tickets,
                "response": (report.response.measured, report.response.met),
                "resolution": (report.resolution.measured, report.resolution.breached),
                "reopen": report.reopen_rate_percent,
                "trend": [
                    (g.label, g.tickets, g.response.compliance_percent) for g in report.groups
                ],
                "breaches": [t["reference"] for t in side["breaches"]],
                "backlog": (side["backlog_status"], side["backlog_priority"]),
                "histogram": side["histogram"],
                "workload": side["workload"],
            }
        )
    return sides


def test_dashboard_shows_the_same_from_the_figures_and_reflects_a_resolution_at_once(
    company, history
):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(company.it_head)
    from_tickets = dashboard_sides(client)
    figures.rebuild()
    assert dashboard_sides(client) == from_tickets
    assert from_tickets[0]["tickets"] > 20 and any(from_tickets[0]["histogram"])

    # Resolved a second ago (no fold since): the provider side counts it at once.
    open_ticket = Ticket.objects.filter(provider_department=company.it, status="new").first()
    assert open_ticket is not None
    act(END, services.transition_ticket, ticket=open_ticket, actor=company.agent, status="resolved")
    after = dashboard_sides(client)

    def resolved_in_bars(side: dict[str, Any]) -> int:
        return sum(bar["count"] for bar in side["histogram"])

    def open_now(side: dict[str, Any]) -> int:
        return sum(count for _label, count in side["backlog"][0])

    assert resolved_in_bars(after[0]) == resolved_in_bars(from_tickets[0]) + 1
    assert open_now(after[0]) == open_now(from_tickets[0]) - 1
    FiguresBuild.objects.all().delete()  # served from the tickets again: the same
    assert dashboard_sides(client) == after


def test_a_period_into_the_future_takes_its_last_month_from_the_month_row_unless_later_tickets(
    company, history
):
    """The dashboard's periods end tomorrow: the histograms of the current month's days come
    from its month row, unless the month has tickets after the period (a clock set ahead)."""
    figures.rebuild()
    kwargs: dict[str, Any] = {
        "scope": metrics.MetricsScope(provider_department_id=company.it.pk),
        "period_from": sh(2025, 9, 3),
        "period_to": sh(2025, 10, 10),  # END is 9 October: the period ends in the future
        "group_by": "week",
        "group_percentiles": False,
        "resolution_buckets": BARS,
    }

    def served_and_exact() -> tuple[metrics.SlaMetrics, metrics.SlaMetrics, int]:
        with time_machine.travel(END, tick=False):
            with CaptureQueriesContext(connection) as captured:
                served = metrics.sla_metrics(use_figures=True, **kwargs)
            return served, metrics.sla_metrics(use_figures=False, **kwargs), len(captured)

    def assert_same(served: metrics.SlaMetrics, exact: metrics.SlaMetrics) -> None:
        assert served.tickets == exact.tickets > 0
        assert served.resolution_counts == exact.resolution_counts
        assert any(exact.resolution_counts or [])
        assert_clock_equal(served.response, exact.response, "response")
        assert_clock_equal(served.resolution, exact.resolution, "resolution")
        assert [(g.key, g.tickets) for g in served.groups] == [
            (g.key, g.tickets) for g in exact.groups
        ]

    served, exact, queries = served_and_exact()
    assert_same(served, exact)
    later = act(
        sh(2025, 10, 20, 10),
        services.file_ticket,
        requester=company.requester,
        service=company.service,
        title="以后的请求",
        form_data={"model": "14寸"},
    )
    act(sh(2025, 10, 20, 11), services.transition_ticket, ticket=later, actor=company.agent,
        status="resolved")  # fmt: skip
    figures.fold_changes()  # October's month row now holds a ticket after the period
    served, exact_after, queries_after = served_and_exact()
    assert exact_after.tickets == exact.tickets
    assert_same(served, exact_after)
    assert queries_after == queries + 1  # October's days' histograms after all


def test_one_ledger_query_tells_the_stale_days_the_backlog_and_the_workload(
    company, history, django_assert_num_queries
):
    figures.rebuild()
    changed = Ticket.objects.filter(provider_department=company.it, status="new").first()
    assert changed is not None
    act(END, services.transition_ticket, ticket=changed, actor=company.agent, status="assigned",
        assignee=company.agent2)  # fmt: skip
    first, end = START.date(), END.date() + timedelta(days=1)
    with django_assert_num_queries(1):
        read = figures.read_ledger(
            department_id=company.it.pk,
            side="provider",
            stale_from=first,
            stale_to=end,
            by_assignee=True,
        )
    # The changed ticket's day (local), and no other: the build folded the rest.
    assert read.stale == {changed.created_at.astimezone(SH).date()}
    assert read.open_counts == figures.open_counts(department_id=company.it.pk, side="provider")
    open_it = Ticket.objects.filter(provider_department=company.it, status__in=OPEN_STATUSES)
    assert sum(read.open_counts.values()) == open_it.count()
    live = Counter(open_it.values_list("assignee_id", flat=True))
    assert read.open_by_assignee is not None
    workload = [(row["assignee_id"], row["open_tickets"]) for row in read.open_by_assignee]
    assert dict(workload) == dict(live) and len(workload) == len(live) > 1
    assert [n for _assignee, n in workload] == sorted(live.values(), reverse=True)
    # Outside the span asked, the change makes no day stale; the counts stay.
    later = figures.read_ledger(
        department_id=company.it.pk, side="provider", stale_from=end, stale_to=end + timedelta(7)
    )
    assert later.stale == set() and later.open_counts == read.open_counts


def dashboard_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured, time_machine.travel(END, tick=False):
        assert client.get("/dashboard/?period=90d").status_code == 200
    return len(captured)


def test_dashboard_queries_do_not_grow_with_tickets_when_served_from_the_figures(
    company, ladder_policy
):
    client = Client()
    client.force_login(company.it_head)
    varied_history(company, count=8, seed=1)
    figures.rebuild()
    few = dashboard_queries(client)
    varied_history(company, count=40, seed=2)
    figures.fold_changes()
    many = dashboard_queries(client)
    assert few == many
    # Both sides at once: the ledger (stale days, backlog, the provider's workload), the rows,
    # the fine counts; per side its breaches; whether built; the session, user, roles and
    # departments; the feedback panels (3). Measured 13.
    assert many <= 14
    # Stale days add one query (computed from their tickets, both sides at once), no more.
    act(END, services.transition_ticket, ticket=Ticket.objects.filter(
        provider_department=company.it, status="new").first(), actor=company.agent,
        status="in_progress")  # fmt: skip
    assert dashboard_queries(client) <= many + 1


def test_api_serves_whole_departments_from_the_figures(api, company, history):
    figures.rebuild()
    params = {"provider_department": company.it.pk, "from": "2025-09-15", "to": "2025-10-13"}
    with CaptureQueriesContext(connection) as captured:
        served = api(company.it_head).get("/api/v1/metrics/sla/", params).json()
    assert any("slas_periodfigures" in q["sql"] for q in captured.captured_queries)
    FiguresBuild.objects.all().delete()
    exact = api(company.it_head).get("/api/v1/metrics/sla/", params).json()
    for clock in ("response", "resolution"):
        for field in ("median_minutes", "p90_minutes"):
            assert_close(served[clock].pop(field), exact[clock].pop(field), f"{clock} {field}")
    assert served == exact  # same shape, same counts


# --- operations ----------------------------------------------------------------------------------


def test_rebuild_command_prints_progress_and_marks_the_build(company, history):
    out = io.StringIO()
    call_command("rebuild_sla_figures", stdout=out)
    text = out.getvalue()
    assert "2025-09 done" in text and "2025-10 done" in text and "built" in text
    assert figures.ready()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.conf.settings.TIME_ZONE", "Europe/Berlin")
        assert not figures.ready()  # days cut in another zone: not served until rebuilt


def test_fold_task_is_scheduled_every_minute_and_folds(company, ladder_policy):
    migration = importlib.import_module("slas.migrations.0004_sla_figures")
    from django_celery_beat.models import PeriodicTask

    migration.create_schedule_and_build(django_apps, None)
    task = PeriodicTask.objects.get(task="slas.tasks.fold_figure_changes")
    assert (task.enabled, task.interval.every, task.interval.period) == (True, 60, "seconds")
    assert task.task in celery_app.tasks
    assert figures.ready()  # no tickets yet: built at once
    act(
        sh(2025, 9, 22, 10),
        services.file_ticket,
        requester=company.requester,
        service=company.service,
        title="键盘",
        form_data={"model": "14寸"},
    )
    assert tasks.fold_figure_changes() == 2  # the provider's and the consumer's entry
    assert tasks.fold_figure_changes() == 0
    assert PeriodFigures.objects.filter(day=sh(2025, 9, 22).date()).count() == 2
    assert PeriodFigures.objects.filter(span="month", day=sh(2025, 9, 1).date()).count() == 2
