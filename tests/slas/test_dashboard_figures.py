"""The heads' dashboard served from the daily figures (issue #6): both sides read together,
tallies kept between views until the department (a period) or the day (a stale day) changes,
month rows less their stale days, the breach rows written in Python. What it shows must be
what a tally of every ticket of the period shows, folded or not, however the day was changed,
and whoever looks.

The reference is `figures.compute_tallies` over all the period's tickets: the same definitions
and buckets, so counts, bars and even the interpolated median and p90 must be equal, not close.
"""

import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.template import Context, Template
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from slas import figures, metrics, views
from tests.factories import UserFactory
from tests.slas.test_figures import BARS, END, SH, act, sh, varied_history
from tickets import services
from tickets.models import OPEN_STATUSES, Ticket

pytestmark = pytest.mark.django_db

SIDES = (figures.PROVIDER, figures.CONSUMER)


@pytest.fixture(autouse=True)
def _no_kept_tallies():
    """Tallies kept by another test's process state must not serve this one."""
    figures._kept.clear()
    yield
    figures._kept.clear()


@pytest.fixture
def built(company, ladder_policy) -> None:
    varied_history(company, count=40, seed=3)
    figures.rebuild()


def period_at(now: datetime, key: str = "90d") -> views.Period:
    with time_machine.travel(now, tick=False):
        return views._period({"period": key})


def reference(department_id: int, side: str, period: views.Period) -> metrics.SlaMetrics:
    """The dashboard's figures of one side as a tally of every ticket of the period."""
    tickets = Ticket.objects.filter(
        **{figures.SIDE_COLUMNS[side]: department_id},
        created_at__gte=period.start,
        created_at__lt=period.end,
    )
    group_start = figures.GROUP_STARTS[period.group_by]
    assert group_start is not None
    total, groups = figures.Tally(), defaultdict(figures.Tally)
    for (_department, _side, day), tally in figures.compute_tallies(tickets, sides=(side,)).items():
        total.add(tally)
        groups[group_start(day)].add(tally)
    return metrics._metrics_of_tallies(
        figures.PeriodTallies(total=total, groups=dict(groups)),
        scope=metrics.MetricsScope(),
        period_from=period.start,
        period_to=period.end,
        group_by=period.group_by,
        group_percentiles=False,
        resolution_buckets=BARS,
    )


def served(department_id: int, period: views.Period, now: datetime) -> dict[str, Any]:
    with time_machine.travel(now, tick=False):
        provider, consumer = views._reports(department_id, period)
    return {figures.PROVIDER: provider, figures.CONSUMER: consumer}


def assert_served_equals_reference(department_id: int, now: datetime, key: str = "90d") -> int:
    """Both sides' figures as served equal the reference exactly; backlog as the tickets say.
    Returns the number of tickets served."""
    period = period_at(now, key)
    reports = served(department_id, period, now)
    for side, report in reports.items():
        exact = reference(department_id, side, period)
        what = f"{side} of {department_id} at {now}"
        assert report.tickets == exact.tickets, what
        assert report.response == exact.response, what
        assert report.resolution == exact.resolution, what
        assert report.reopen_rate_percent == exact.reopen_rate_percent, what
        assert report.resolution_counts == exact.resolution_counts, what
        assert report.groups == exact.groups, what
        scope = (
            metrics.MetricsScope(provider_department_id=department_id)
            if side == figures.PROVIDER
            else metrics.MetricsScope(consumer_department_id=department_id)
        )
        live = metrics.sla_metrics(
            scope=scope,
            period_from=period.start,
            period_to=period.end,
            use_figures=False,
            assignee_backlog=side == figures.PROVIDER,
        )
        assert report.backlog_by_status == live.backlog_by_status, what
        assert report.backlog_by_priority == live.backlog_by_priority, what
        if side == figures.PROVIDER:
            assert report.backlog_by_assignee == live.backlog_by_assignee, what
    return reports[figures.PROVIDER].tickets + reports[figures.CONSUMER].tickets


def page(client: Client, url: str, now: datetime) -> str:
    with time_machine.travel(now, tick=False):
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    # Sign-out forms carry a new CSRF token, chart ids count the charts drawn; the median and
    # p90 of the tickets' path are percentile_cont, the figures' are interpolated within 1 %
    # buckets (test_figures.py).
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "csrf", html)
    html = re.sub(r"chart\d+", "chartN", html)
    return re.sub(r"(\(business minutes\): )[^<]*", r"\1…", html)


def file_today(company, now: datetime, title: str = "今天的请求") -> Ticket:
    return act(
        now,
        services.file_ticket,
        requester=company.requester,
        service=company.service,
        title=title,
        form_data={"model": "14寸"},
    )


def test_figures_equal_a_tally_of_every_ticket_folded_live_and_across_midnight(
    company, built, monkeypatch
):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(company.it_head)
    url = f"/dashboard/?department={company.it.pk}&period=90d"
    now = END

    def check(at: datetime) -> None:
        assert assert_served_equals_reference(company.it.pk, at) > 0
        assert_served_equals_reference(company.hr.pk, at)
        assert_served_equals_reference(company.it.pk, at, key="365d")  # by month
        from_figures = page(client, url, at)
        with monkeypatch.context() as patch:
            patch.setattr(figures, "ready", lambda: False)
            assert page(client, url, at) == from_figures  # the page from the tickets

    check(now)  # folded
    filed = file_today(company, now)  # today stale
    check(now)
    check(now)  # again, from the kept tally
    now += timedelta(minutes=20)
    act(now, services.transition_ticket, ticket=filed, actor=company.agent, status="resolved")
    check(now)
    # A day of a whole month changed (its month row less its stored day row, plus its tickets).
    old = (
        Ticket.objects.filter(provider_department=company.it, status__in=OPEN_STATUSES)
        .filter(created_at__gte=sh(2025, 9, 1), created_at__lt=sh(2025, 10, 1))
        .earliest("pk")
    )
    act(now, services.update_ticket, ticket=old, actor=company.agent, priority="low")
    check(now)
    # Midnight: today's stale day becomes yesterday, and the period moves on by a day.
    midnight = datetime.combine(now.astimezone(SH).date() + timedelta(days=1), datetime.min.time())
    check(midnight.replace(tzinfo=SH) + timedelta(seconds=30))
    figures.fold_changes()
    check(now)
    check(midnight.replace(tzinfo=SH) + timedelta(seconds=30))


def test_a_kept_tally_of_a_stale_day_never_outlives_a_change(company, built):
    """A day's tally is kept under the build, the folds since and the day's unfolded entries:
    a fold then a new change leave as many entries as before, yet the tally is counted again."""
    now = END
    period = period_at(now)

    def provider_tickets() -> int:
        return served(company.it.pk, period, now)[figures.PROVIDER].tickets

    before = provider_tickets()
    file_today(company, now, "第一个")
    assert provider_tickets() == before + 1
    figures.fold_changes()  # today is clean again: its day row
    assert provider_tickets() == before + 1
    file_today(company, now, "第二个")  # today stale again with one entry, as before the fold
    assert provider_tickets() == before + 2
    # A partial fold (the ledger's older entries only) changes the key as well.
    third = file_today(company, now, "第三个")
    act(now, services.transition_ticket, ticket=third, actor=company.agent, status="resolved")
    with transaction.atomic():
        assert figures._fold_batch(1) == 1  # as `fold_changes` batches a long ledger
    assert_served_equals_reference(company.it.pk, now)
    figures.rebuild()  # a new build: nothing kept before it serves
    assert_served_equals_reference(company.it.pk, now)


def dashboard_queries(client: Client, now: datetime) -> list[str]:
    with CaptureQueriesContext(connection) as captured, time_machine.travel(now, tick=False):
        assert client.get("/dashboard/?period=90d").status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_figures_are_read_once_per_change_of_the_department(company, built):
    client = Client()
    client.force_login(company.it_head)
    now = END
    first = dashboard_queries(client, now)
    # The session, the user and roles, the departments; whether built; the ledger, the rows
    # and the fine counts of both sides; each side's breaches; the feedback panels (3).
    assert len(first) <= 14
    assert sum("slas_periodfigures" in sql for sql in first) == 2
    kept = dashboard_queries(client, now)  # nothing changed: the ledger says so, no rows read
    assert len(kept) == len(first) - 2
    assert not any("slas_periodfigures" in sql for sql in kept)
    file_today(company, now)
    assert len(dashboard_queries(client, now)) == len(first) + 1  # and today's tickets
    assert len(dashboard_queries(client, now)) == len(kept)
    act(now, services.update_ticket, ticket=Ticket.objects.latest("pk"), actor=company.agent,
        priority="urgent")  # fmt: skip
    assert len(dashboard_queries(client, now)) == len(first) + 1  # changed: counted again
    # An older day changed: its side is read again, today's tally is still the one kept.
    older = Ticket.objects.filter(provider_department=company.it, status="new").earliest("pk")
    act(now, services.update_ticket, ticket=older, actor=company.agent, priority="low")
    assert len(dashboard_queries(client, now)) == len(first) + 1  # the older day's tickets
    assert len(dashboard_queries(client, now)) == len(kept)


def test_heads_see_only_their_department_and_viewers_their_own_breaches(company, built):
    now = END
    it_url = f"/dashboard/?department={company.it.pk}&period=90d"
    it_head = Client(HTTP_ACCEPT_LANGUAGE="en")
    it_head.force_login(company.it_head)
    file_today(company, now)
    it_page = page(it_head, it_url, now)
    breached = Ticket.objects.filter(provider_department=company.it).filter(response_breached=True)
    assert breached.exists() and breached.first().reference in it_page

    hr_head = Client(HTTP_ACCEPT_LANGUAGE="en")
    hr_head.force_login(company.hr_head)
    with time_machine.travel(now, tick=False):
        assert hr_head.get(it_url).status_code == 403
    assert_served_equals_reference(company.hr.pk, now)  # IT's kept tallies are IT's alone
    # An admin picks IT: the same figures, but only the breached tickets the admin may see.
    admin = Client(HTTP_ACCEPT_LANGUAGE="en")
    admin.force_login(UserFactory(username="admin2", is_staff=True, department=company.finance))
    admin_page = page(admin, it_url, now)
    assert breached.first().reference not in admin_page

    def kpis_and_trend(html: str) -> str:
        start = html.index(">As provider</h2>")
        return html[start : html.index("<h3>Breaches</h3>", start)]

    assert kpis_and_trend(admin_page) == kpis_and_trend(it_page)


# The breaches table's loop as templates/slas/_side.html had it, over ticket objects.
OLD_BREACH_LOOP = (
    '{% load i18n %}{% translate "response" as response_badge %}'
    '{% translate "resolution" as resolution_badge %}'
    '{% for t in breaches %}<tr><td><a href="{{ t.detail_url }}">{{ t.reference }}</a></td>'
    "<td>{{ t.title }}</td><td>{% if provider %}{{ t.requester_department.name }}{% else %}"
    "{{ t.provider_department.name }}{% endif %}</td>\n      <td>{% if t.response_breached %}"
    '<span class="badge breach">{{ response_badge }}</span>{% endif %}'
    '{% if t.resolution_breached %}<span class="badge breach">{{ resolution_badge }}</span>'
    '{% endif %}</td><td>{{ t.created_at|date:"SHORT_DATETIME_FORMAT" }}</td></tr>{% endfor %}'
)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_breach_rows_are_what_the_template_loop_wrote(company, ladder_policy, language):
    at = sh(2025, 9, 16, 9, 5)
    titles = ["<script>alert(\"x\")</script> & '引号'", "显示器坏了", "a < b > c"]
    for title in titles:
        last = act(at, services.file_ticket, requester=company.requester,
                   service=company.service, title=title, form_data={"model": "14寸"})  # fmt: skip
        at += timedelta(hours=5, minutes=7)
    stray = act(at, services.file_ticket, requester=company.hr_head, service=company.service,
                title="无部门", form_data={"model": "14寸"})  # fmt: skip
    Ticket.objects.filter(pk=stray.pk).update(requester_department=None)
    Ticket.objects.filter(pk=last.pk).update(response_breached=True, resolution_breached=True)
    Ticket.objects.exclude(pk=last.pk).update(resolution_breached=True)
    period = views._period({"from": "2025-09-01", "to": "2025-09-30"})
    with translation.override(language):
        for provider, column, department in (
            (True, "provider_department_id", company.it),
            (False, "requester_department_id", company.hr),
        ):
            rows = views._breaches(
                company.it_head, column=column, department_id=department.pk, period=period
            )
            assert len(rows) == (4 if provider else 3)
            objects = list(
                Ticket.objects.filter(reference__in=[row["reference"] for row in rows])
                .select_related("provider_department", "requester_department")
                .order_by("-created_at", "-id")
            )
            for ticket, row in zip(objects, rows, strict=True):
                ticket.detail_url = row["detail_url"]
            old = Template(OLD_BREACH_LOOP).render(
                Context({"breaches": objects, "provider": provider})
            )
            assert views._breach_rows(rows, provider=provider) == old
            assert "&lt;script&gt;" in old or not provider
