"""The hand-written SQL twins of the reads served by the SLA figures (bench/run.py,
`figures_queries`) return what the application shows: `metrics/sla/` of IT over the last
quarter, and the dashboard of IT over 90 days, folded and with today changed since the fold.

One small data set is generated for the module with the real command; the tests read it inside
rolled-back transactions.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from bench import dataset
from bench.run import figures_params, figures_queries, last_quarter, people
from slas import figures, metrics
from slas.views import RESOLVE_BUCKETS
from tickets.models import Service
from tickets.services import file_ticket

CLOCKS = ("response", "resolution")
COUNTS = ("tickets", "reopened", "resolved_once")


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command(
            "generate_dataset",
            tickets=1500,
            departments=15,
            users=300,
            force=True,  # the test database's name need not contain "bench"
            stdout=open("/dev/null", "w"),  # noqa: SIM115 - progress output is not the subject
        )
        yield
        with connection.cursor() as cursor:
            dataset.reset(cursor)


pytestmark = [pytest.mark.usefixtures("loaded"), pytest.mark.django_db]


def run_twin(name: str, params: dict[str, Any]) -> list[list[tuple]]:
    """Each statement's rows."""
    out = []
    with connection.cursor() as cursor:
        for statement in figures_queries()[name]:
            cursor.execute(statement, params)
            out.append(cursor.fetchall())
    return out


def tallies(
    counts: list[tuple], histograms: list[tuple], stale: Sequence[tuple] = ()
) -> dict[str, figures.Tally]:
    """The twin's rows as the application's tallies, per side: the total counts (a weekly row,
    with a week, is skipped), the summed coarse buckets and the fine buckets read, and a stale
    day's tickets."""
    out: dict[str, figures.Tally] = defaultdict(figures.Tally)
    for side, *values in counts:
        if len(values) == 12:
            week, *values = values
            if week is not None:
                continue
        tally = out[side]
        tally.tickets, tally.reopened, tally.resolved_once = values[:3]
        for index, name in enumerate(CLOCKS):
            clock = tally.clocks[name]
            clock.measured, clock.met, clock.breached, clock.timed = values[
                3 + 4 * index : 7 + 4 * index
            ]
    for side, name, coarse, fine, count in histograms:
        clock = out[side].clocks[name]
        if fine is None:
            clock.coarse[coarse] += count
        else:
            clock.fine[coarse][fine] += count
    for side, tickets, reopened, resolved_once, *clocks in stale:
        tally = out[side]
        tally.tickets += tickets
        tally.reopened += reopened
        tally.resolved_once += resolved_once
        for name, (measured, met, breached, seconds) in zip(
            CLOCKS, (clocks[:4], clocks[4:]), strict=True
        ):
            clock = tally.clocks[name]
            clock.measured += measured
            clock.met += met
            clock.breached += breached
            for value in seconds or []:
                bucket = figures.fine_bucket(value)
                clock.timed += 1
                clock.coarse[figures.COARSE_OF[bucket]] += 1
                clock.fine[figures.COARSE_OF[bucket]][bucket] += 1
    return out


def figures_of(tally: figures.Tally, *, percentiles: bool = True) -> dict[str, Any]:
    """What the pages show of a tally: counts, compliance and (if asked) median and p90."""
    shown: dict[str, Any] = {"tickets": tally.tickets}
    for name, clock in tally.clocks.items():
        shown[name] = {
            "measured": clock.measured,
            "met": clock.met,
            "breached": clock.breached,
            "compliance_percent": round(100 * clock.met / clock.measured, 2)
            if clock.measured
            else None,
        }
        if percentiles:
            seconds = clock.percentiles()
            shown[name] |= {
                label: None if value is None else round(value / 60, 2)
                for label, value in seconds.items()
            }
    return shown


def figures_of_report(report: metrics.SlaMetrics, *, percentiles: bool = True) -> dict[str, Any]:
    shown: dict[str, Any] = {"tickets": report.tickets}
    for name in CLOCKS:
        clock = getattr(report, name)
        shown[name] = {
            "measured": clock.measured,
            "met": clock.met,
            "breached": clock.breached,
            "compliance_percent": clock.compliance_percent,
        }
        if percentiles:
            shown[name] |= {"median": clock.median_minutes, "p90": clock.p90_minutes}
    return shown


def open_tickets(ledger: list[tuple], side: str) -> dict[str, int]:
    """Open tickets per status of the side (the sum is the ledger's fourth column from the
    end)."""
    counts: dict[str, int] = defaultdict(int)
    for row in ledger:
        if row[0] == side and row[1]:
            counts[row[1]] += row[-4]
    return {status: count for status, count in counts.items() if count}


def dashboard_reports(params: dict[str, Any]) -> dict[str, metrics.SlaMetrics]:
    """The dashboard's figures of IT (as `slas.views._reports` asks them once built)."""
    return metrics.department_sla_metrics(
        department_id=params["dept"],
        sides=(figures.PROVIDER, figures.CONSUMER),
        period_from=params["period_from"],
        period_to=params["period_to"],
        group_by="week",
        group_percentiles=False,
        resolution_buckets=[(low, high) for _key, _label, low, high in RESOLVE_BUCKETS],
        assignee_backlog=(figures.PROVIDER,),
    )


def check_dashboard(
    rows: list[list[tuple]], reports: dict[str, metrics.SlaMetrics], *, stale: bool
) -> None:
    ledger, counts, histograms = rows[:3]
    twin = tallies(counts, histograms, rows[3] if stale else [])
    for side, report in reports.items():
        # The stale day's tickets are not among the ranks that choose the fine buckets read.
        assert figures_of(twin[side], percentiles=not stale) == figures_of_report(
            report, percentiles=not stale
        )
        bars = [
            twin[side].clocks["resolution"].count_between(low, high)
            for _key, _label, low, high in RESOLVE_BUCKETS
        ]
        assert bars == report.resolution_counts
        weekly = {row[1]: row[2] for row in counts if row[0] == side and row[1] is not None}
        if stale:
            monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
            weekly[monday] = weekly.get(monday, 0) + sum(r[1] for r in rows[3] if r[0] == side)
        assert {
            "{}-W{:02d}".format(*monday.isocalendar()[:2]): tickets
            for monday, tickets in weekly.items()
            if tickets
        } == {group.key: group.tickets for group in report.groups}
        expected_open = {k: v for k, v in report.backlog_by_status.items() if v}
        assert open_tickets(ledger, side) == expected_open
    workload: dict[str, int] = defaultdict(int)
    for row in ledger:  # side, status, priority, assignee id, username, ..., sum, ...
        if row[0] == figures.PROVIDER and row[1]:
            workload[row[4]] += row[-4]
    assert {name: n for name, n in workload.items() if n} == {
        row["assignee__username"]: row["open_tickets"]
        for row in reports[figures.PROVIDER].backlog_by_assignee
    }


def test_metrics_twin_returns_the_quarters_figures_and_backlog():
    who = people()
    quarter_from, quarter_to = last_quarter(timezone.now())
    params = {"dept": who["it"]} | figures_params(who, quarter_from, quarter_to)
    ledger, counts, histograms = run_twin("api_metrics_quarter", params)
    report = metrics.sla_metrics(
        scope=metrics.MetricsScope(provider_department_id=who["it"]),
        period_from=quarter_from,
        period_to=quarter_to,
    )
    twin = tallies(counts, histograms)[figures.PROVIDER]
    assert report.tickets > 0
    assert figures_of(twin) == figures_of_report(report)
    assert open_tickets(ledger, figures.PROVIDER) == {
        status: count for status, count in report.backlog_by_status.items() if count
    }


def test_dashboard_twin_returns_the_pages_figures_after_a_fold():
    who = people()
    quarter_from, quarter_to = last_quarter(timezone.now())
    params = {"dept": who["it"]} | figures_params(who, quarter_from, quarter_to)
    rows = run_twin("page_dashboard", params)
    check_dashboard(rows, dashboard_reports(params), stale=False)
    breaches = rows[3] + rows[4]
    assert breaches and all(row[2] or row[3] for row in breaches)


def test_live_dashboard_twin_counts_today_from_its_tickets():
    who = people()
    service = Service.objects.get(pk=who["service"])
    for number in range(3):
        file_ticket(requester=who["requester"], service=service, title=f"今天 {number}")
    quarter_from, quarter_to = last_quarter(timezone.now())
    params = {"dept": who["it"]} | figures_params(who, quarter_from, quarter_to)
    rows = run_twin("page_dashboard_live", params)
    reports = dashboard_reports(params)
    assert sum(row[1] for row in rows[3] if row[0] == figures.PROVIDER) >= 3
    check_dashboard(rows, reports, stale=True)


def test_the_rare_search_twin_is_answered_by_the_title_index():
    """The hand-written plan of a word in no title reads the search's index (migration 0014),
    as the application's does: over a scan it would not be the lower bound it stands for."""
    from bench.run import INDEXED

    sql = "SELECT t.id FROM tickets_ticket t WHERE " + INDEXED.format(word="rare")  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a small table is read whole
        cursor.execute("EXPLAIN " + sql, {"rare": "量子计算机"})
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ticket_title_grams_idx" in plan and "ticket_reference_upper_idx" in plan
